// learner.h — the learner stage of a step: advantages from the step's per-group reward statistics (merged over
// learners in rank order), then mu epochs x minibatches of the clipped surrogate + KL, gradient allreduce and
// AdamW. Every learner of the step calls learner_update (collective over roles->learners).
#ifndef PGRPO_LEARNER_H
#define PGRPO_LEARNER_H
#include "rollout.h"
#include "stats.h"

typedef struct {
    const TrainConfig *c;
    const Roles *roles;
    Model *policy;              // borrowed
    Model *ref;                 // owned; colocated runs with train.beta > 0, else NULL (rollout ranks send it)
    AdamW opt;
    unsigned char *decay;       // (n_params) 1 where AdamW decays (matrices)
    GroupHistory hist;
    const int *user_group;      // (n_users) group used for advantages
    int n_groups;
    SeqScratch scratch;
    float *logp, *dlogp;        // (np*G, Tc)
    float *adv_seq;             // (np*G) advantage per sequence (0 for dropped)
    int *len_eff;               // (np*G) completion length counted by the loss (0 when dropped)
    unsigned char *tied;        // (np) prompts whose rewards all tie (drop_tied)
    Welford *gathered;          // (n_learners, n_groups) per-group stats of every learner
    long k0;                    // this learner's first completion within the step (p0 * G), for messages
    long step;                  // the step being updated, for messages
    char err[256];              // learner_update's message after -1
} Learner;

// For np prompts per step on this learner, the step's prompts [p0, p0+np); ref may be NULL.
void learner_init(Learner *l, const TrainConfig *c, const Roles *roles, Model *policy, Model *ref, const int *user_group,
                  int n_groups, long p0, long np, int micro, int T_max);
void learner_free(Learner *l);
// One update on b (b->group and b->adv are written); st gets this learner's statistics, tm the fwd/bwd,
// allreduce and reference times. Returns 0, or -1 with l->err = one line naming the step, the quantity and where
// ("step 12: advantage of completion 37 is nan") when a reward, advantage, log-prob, loss, the gradient norm or a
// weight after the optimizer step is NaN/inf. The caller must then end the run (die_user: MPI_Abort) before anything
// of the step is written, so the last checkpoint stays the newest; the other learners may be inside a collective.
int learner_update(Learner *l, long step, Batch *b, StepStats *st, Timers *tm);

#endif
