// rollout.h — the rollout stage: draw the step's prompts, sample G completions each with the current policy,
// score them, and (on rollout-only ranks) the frozen reference's log-probs. Also the forward-pass scratch and the
// reference pass the learner shares.
#ifndef PGRPO_ROLLOUT_H
#define PGRPO_ROLLOUT_H
#include "batch.h"
#include "train_config.h"
#include "model.h"
#include "transfer.h"
#include "reward.h"

// Token/target/log-prob rows for forward (and backward) passes over micro-batches of sequences, sized once.
typedef struct {
    int micro, T_max;
    int *tok, *tgt;                          // (micro, T_max)
    float *logp_full, *ent_full, *dlogp_full;// (micro, T_max); ent/dlogp only with_grad
} SeqScratch;
void seq_scratch_alloc(SeqScratch *s, int micro, int T_max, int with_grad);
void seq_scratch_free(SeqScratch *s);

// b->ref_logp = log-probs of b's completions under ref, micro-batch by micro-batch (once per step).
void reference_logp(Model *ref, SeqScratch *s, Batch *b);

typedef struct {
    const TrainConfig *c;
    const Deck *deck;       // for the error naming model.context
    const Task *task;
    Model *policy;          // borrowed: the weights it samples with
    Model *ref;             // owned; rollout-only ranks with train.beta > 0, else NULL
    int rank;               // rollout rank: the sampling stream
    long p0;                // first prompt of this rank within the step's P
    Batch batch;            // (np prompts)
    int *ptok, *plen;       // (np*G, TASK_MAX_PROMPT), (np*G) sampler inputs
    SeqScratch scratch;     // reference pass
    long nan_step;          // test hook: the step whose first reward is NaN (-1 = none; see rollout_init)
    RewardSource *reward;   // owned: the [reward] section's source (built-in, plugin or process)
    char err[1536];         // why rollout_step failed
} Rollout;

// np prompts starting at p0; ref may be NULL (then no reference pass here). Opens the [reward] section's source
// (plugin loaded, process started); a failure there ends the run naming reward.plugin / reward.command (exit 2).
void rollout_init(Rollout *r, const TrainConfig *c, const Deck *deck, const Task *task, Model *policy, Model *ref,
                  int rank, long p0, long np, int micro, int T_max);
void rollout_free(Rollout *r);
// The deck's [reward] source for task (what rollout_init opens; eval and sample use it too): a plugin that cannot be
// loaded or initialised, or a process that does not start and say "ready", ends the run naming the key (exit 2).
RewardSource *rollout_reward_open(const Deck *deck, const Task *task);
// Step `step` with policy version `version`: prompts -> completions -> rewards (-> reference log-probs). Fills
// h's phase times (h->stop = 0: the caller says whether it saw a stop signal). 0, or -1 when the reward source
// failed (crashed or hung process, NaN/inf/out-of-range/missing reward...): r->err names the source, the step and
// the item, and the batch's rewards must not be used.
int rollout_step(Rollout *r, long step, long version, TransferHeader *h);

#endif
