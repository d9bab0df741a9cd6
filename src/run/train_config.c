// train_config.c — the training run's typed configuration and group assignment (see train_config.h).
#include "train_config.h"
#include <string.h>
#include "check.h"
#include "store.h"

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

// Reads /user_group (n ints) and the optional n_groups attribute of train.groups_file.
static void read_groups_file(const Deck *d, const char *path, int n, int *user_group, int *n_groups) {
    if (!*path) deck_fail(d, "train.groups_file", "name an HDF5 file with /user_group", "train.groups = file needs a file");
    char err[1024];
    StoreReader *r = store_open(path, NULL, err, sizeof err);
    if (!r) deck_fail(d, "train.groups_file", "write it with `pgrpo`'s schema (see README, Group files)", "%s", err);
    int nd;
    size_t dims[STORE_MAX_DIMS];
    if (store_dims(r, "user_group", &nd, dims) || nd != 1 || (int)dims[0] != n)
        deck_fail(d, "train.groups_file", "the file must hold /user_group with one int32 per training user",
                  "'%s' has no /user_group of length %d", path, n);
    if (store_get(r, "user_group", STORE_I32, user_group, (size_t)n))
        deck_fail(d, "train.groups_file", "store /user_group as int32 (postproc/groups_file.py writes it so)", "'%s': %s",
                  path, store_reader_error(r) ? store_reader_error(r) : "cannot read /user_group");
    long ng = 0;
    if (!store_get_attr_int(r, "/", "n_groups", &ng) && ng > 0 && ng <= TASK_MAX_GROUPS) *n_groups = (int)ng;
    store_close(r);
    for (int u = 0; u < n; u++)
        if (user_group[u] < 0 || user_group[u] >= *n_groups)
            deck_fail(d, "train.groups_file", "group ids must be in [0, n_groups)", "'%s': user %d has group %d", path,
                      u, user_group[u]);
}

void train_groups_build(const App *a, const TrainConfig *c, const Task *t, int *user_group, int *n_groups) {
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
        read_groups_file(a->deck, c->groups_file, n, user_group, n_groups);
    }
}
