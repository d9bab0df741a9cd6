// train_config.h — the training run's view of the typed Config (config.h: every key read and validated once, each
// rule naming its own key), plus the user -> preference group assignment (train.groups).
#ifndef PGRPO_TRAIN_CONFIG_H
#define PGRPO_TRAIN_CONFIG_H
#include <stdint.h>
#include "advantage.h"
#include "app.h"
#include "config.h"
#include "loss.h"
#include "model.h"
#include "optim.h"

typedef struct {
    uint64_t seed;                 // run.seed
    int steps, P, G, Tc;           // train.steps, prompts, group_size; Tc = max new tokens (train.max_new or the task's)
    int mu, n_mb, micro;           // train.mu, minibatches, micro_batch
    int async, drop_tied, beta_on; // train.async, train.drop_tied, train.beta > 0
    int rollout_ranks;             // train.rollout_ranks
    AdvConfig acfg;                // train.advantage + [pgrpo]
    LossConfig lcfg;               // train.eps_low, eps_high, beta, loss_agg
    AdamWConfig opt;               // train.lr, weight_decay, grad_clip, schedule, warmup
    SampleParams sp;               // train.temperature, top_k, top_p, max_new
    double max_wall;               // run.max_walltime (s, 0 = none)
    unsigned step_timeout;         // run.step_timeout (s, 0 = none)
    int ckpt_every, keep_last, keep_every, log_every;
    GroupSource groups;            // train.groups
    const char *groups_file, *base;// train.groups_file, train.base (deck-owned strings)
} TrainConfig;

// The trainer's view of a->cfg (the deck read and checked once by config_from_deck), after the rules that need the
// rank count (config_check_world: exit 2 naming the key).
void train_config_load(const App *a, const Task *t, TrainConfig *c);

// user_group (n_users of the training split) and *n_groups from train.groups: the task's truth, a seeded random
// permutation of it (same group sizes), train.groups_file, or discovery (groups_run.h; collective over the job's
// ranks) — except on a resume (resume_ckpt = the checkpoint to load, else NULL), where discover takes the map stored
// in the checkpoint instead of rediscovering. Exits with the key named on a bad file.
void train_groups_build(const App *a, const TrainConfig *c, const Task *t, const char *resume_ckpt, int *user_group,
                        int *n_groups);

#endif
