// train_config.c — the training run's typed configuration and group assignment (see train_config.h).
#include "train_config.h"
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "groups_file.h"
#include "groups_run.h"
#include "rng.h"

static AdamWConfig train_optimizer(const TrainSection *t) {
    return (AdamWConfig){
        .lr = (float)t->lr, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = (float)t->weight_decay,
        .grad_clip = (float)t->grad_clip, .schedule = t->schedule, .warmup_steps = t->warmup,
        .total_steps = t->steps * t->mu * t->minibatches, .min_lr_frac = 0.1f,
    };
}

// Every rule lives in config.c (config_from_deck ran in main); here only the one that needs the rank count.
void train_config_load(const App *a, const Task *t, TrainConfig *c) {
    const Config *g = &a->cfg;
    const TrainSection *tr = &g->train;
    char err[2048];
    if (config_check_world(g, a->deck, a->size, err, sizeof err)) die_user(EXIT_USAGE, NULL, "%s", err);
    memset(c, 0, sizeof *c);
    c->seed = g->run.seed;
    c->steps = tr->steps, c->P = tr->prompts, c->G = tr->group_size;
    c->mu = tr->mu, c->n_mb = tr->minibatches, c->micro = tr->micro_batch;
    c->async = tr->async, c->drop_tied = tr->drop_tied, c->rollout_ranks = tr->rollout_ranks;
    c->acfg = g->adv;
    c->lcfg = g->loss;
    c->beta_on = c->lcfg.beta > 0;
    c->opt = train_optimizer(tr);
    c->sp = app_sample_params(a, t);
    c->Tc = c->sp.max_new;
    c->max_wall = g->run.max_walltime;
    c->step_timeout = (unsigned)g->run.step_timeout;
    c->ckpt_every = g->checkpoint.every, c->keep_last = g->checkpoint.keep_last, c->keep_every = g->checkpoint.keep_every;
    c->log_every = g->run.log_every;
    c->groups = tr->groups;
    c->groups_file = tr->groups_file;
    c->base = tr->base;
}

// train.groups = discover: the [groups] pipeline on the job's ranks, or on a resume the map the run started with
// (the checkpoint's /groups/user_group): a resume never rediscovers, so it cannot drift.
static void groups_discovered(const App *a, const Task *t, const char *resume_ckpt, int *user_group, int *n_groups) {
    int n = task_n_users(t, SPLIT_TRAIN);
    if (resume_ckpt) {
        char err[1024];
        if (groups_file_read(resume_ckpt, n, user_group, n_groups, err, sizeof err))
            die_user(EXIT_RUNTIME, "resume from another checkpoint (--resume PATH) or start a new run", "train.groups = "
                     "discover: the discovered groups of '%s' cannot be read: %s", resume_ckpt, err);
        app_log(a, "train: groups discovered by the run's first job, %d groups (from %s)\n", *n_groups, resume_ckpt);
        return;
    }
    GroupsMap m;
    groups_discover(a, t, n, &m);
    memcpy(user_group, m.user_group, sizeof(int) * (size_t)n);
    *n_groups = m.n_groups;
    free(m.user_group);
}

void train_groups_build(const App *a, const TrainConfig *c, const Task *t, const char *resume_ckpt, int *user_group,
                        int *n_groups) {
    if (c->groups == GROUPS_DISCOVER) { groups_discovered(a, t, resume_ckpt, user_group, n_groups); return; }
    int n = task_n_users(t, SPLIT_TRAIN);
    *n_groups = task_n_groups(t);
    for (int u = 0; u < n; u++) user_group[u] = task_user_group(t, SPLIT_TRAIN, u);
    if (c->groups == GROUPS_RANDOM) {
        // The paper's ablation: the same group sizes, users assigned at random (a seeded Fisher-Yates shuffle).
        Rng r;
        rng_seed(&r, c->seed, RNG_GROUPS, 0, 0);
        for (int u = n - 1; u > 0; u--) {
            int j = (int)rng_below(&r, (uint32_t)(u + 1)), tmp = user_group[u];
            user_group[u] = user_group[j];
            user_group[j] = tmp;
        }
    } else if (c->groups == GROUPS_FILE) {
        // Plain HDF5, any integer type, range-checked, read in a bounded child (groups_file.h); never a fallback.
        char err[1024];
        if (groups_file_read(c->groups_file, n, user_group, n_groups, err, sizeof err))
            deck_fail(a->deck, "train.groups_file", "write /user_group as a 1-D integer dataset, one group id per training "
                      "user (README, Groups files; postproc/groups_file.py writes one)", "%s", err);
    }
}
