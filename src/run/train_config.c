// train_config.c — the training run's typed configuration and group assignment (see train_config.h).
#include "train_config.h"
#include <string.h>
#include "check.h"
#include "store.h"

static int enum_or_fail(const Deck *d, const char *key, int v) {
    if (v < 0) deck_fail(d, key, "see `pgrpo --help-deck`", "unknown value");
    return v;
}

// A validator's message starts with the field it rejects; this maps the field to its deck key (the default
// key when the message is not recognised).
typedef struct { const char *prefix, *key; } BlameKey;
static const char *blame(const BlameKey *t, const char *msg, const char *fallback) {
    for (; t->prefix; t++)
        if (!strncmp(msg, t->prefix, strlen(t->prefix))) return t->key;
    return fallback;
}
static const BlameKey ADV_KEYS[] = {
    {"advantage", "train.advantage"}, {"history", "pgrpo.history"}, {"ema_decay", "pgrpo.decay"},
    {"window", "pgrpo.window"}, {"update_order", "pgrpo.order"}, {"cold", "pgrpo.cold_start"},
    {"min_count", "pgrpo.min_count"}, {"eps", "pgrpo.eps"}, {"variance", "pgrpo.variance"}, {NULL, NULL}};
static const BlameKey LOSS_KEYS[] = {
    {"eps_low", "train.eps_low"}, {"eps_high", "train.eps_high"}, {"beta", "train.beta"},
    {"aggregation", "train.loss_agg"}, {NULL, NULL}};

static void load_advantage(const Deck *d, AdvConfig *c) {
    adv_config_default(c);
    c->kind = enum_or_fail(d, "train.advantage", adv_kind_from_str(deck_str(d, "train.advantage")));
    c->hist = enum_or_fail(d, "pgrpo.history", adv_hist_from_str(deck_str(d, "pgrpo.history")));
    c->ema_decay = deck_float(d, "pgrpo.decay");
    c->window = (int)deck_int(d, "pgrpo.window");
    c->update_order = enum_or_fail(d, "pgrpo.order", adv_order_from_str(deck_str(d, "pgrpo.order")));
    c->cold = enum_or_fail(d, "pgrpo.cold_start", adv_cold_from_str(deck_str(d, "pgrpo.cold_start")));
    c->min_count = (double)deck_int(d, "pgrpo.min_count");
    c->eps = deck_float(d, "pgrpo.eps");
    c->var = enum_or_fail(d, "pgrpo.variance", adv_var_from_str(deck_str(d, "pgrpo.variance")));
    const char *bad = adv_config_invalid(c);
    if (bad) deck_fail(d, blame(ADV_KEYS, bad, "train.advantage"), "see `pgrpo --help-deck` for the [pgrpo] keys", "%s", bad);
}

static void load_loss(const Deck *d, LossConfig *c) {
    loss_config_default(c);
    c->eps_low = (float)deck_float(d, "train.eps_low");
    c->eps_high = (float)deck_float(d, "train.eps_high");
    c->beta = (float)deck_float(d, "train.beta");
    c->agg = enum_or_fail(d, "train.loss_agg", loss_agg_from_str(deck_str(d, "train.loss_agg")));
    const char *bad = loss_config_invalid(c);
    if (bad) deck_fail(d, blame(LOSS_KEYS, bad, "train.eps_low"), "see `pgrpo --help-deck`", "%s", bad);
}

static void load_schedule(const Deck *d, const TrainConfig *c, AdamWConfig *o) {
    *o = (AdamWConfig){
        .lr = (float)deck_float(d, "train.lr"), .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
        .weight_decay = (float)deck_float(d, "train.weight_decay"), .grad_clip = (float)deck_float(d, "train.grad_clip"),
        .schedule = strcmp(deck_str(d, "train.schedule"), "cosine") ? SCHED_CONSTANT : SCHED_COSINE,
        .warmup_steps = (int)deck_int(d, "train.warmup"), .total_steps = c->steps * c->mu * c->n_mb,
        .min_lr_frac = 0.1f,
    };
}

// Checks that need the rank layout: roles and prompts per rank.
static void check_layout(const Deck *d, const TrainConfig *c, int world_size) {
    int R = c->rollout_ranks;
    if (R >= world_size)
        deck_fail(d, "train.rollout_ranks", "leave at least one learner rank, or use 0 to give every rank both roles",
                  "%d rollout ranks need more than %d MPI ranks", R, world_size);
    if (c->async && R == 0)
        deck_fail(d, "train.async", "set train.rollout_ranks >= 1 (rollouts overlap learning on separate ranks)",
                  "asynchronous mode needs rollout-only ranks");
    int n_roll = R ? R : world_size, n_learn = world_size - R;
    if (c->P < n_roll || c->P < n_learn)
        deck_fail(d, "train.prompts", "use at least one prompt per rollout rank and per learner rank",
                  "%d prompts for %d rollout and %d learner ranks", c->P, n_roll, n_learn);
}

void train_config_load(const App *a, const Task *t, TrainConfig *c) {
    const Deck *d = a->deck;
    memset(c, 0, sizeof *c);
    c->seed = (uint64_t)deck_int(d, "run.seed");
    c->steps = (int)deck_int(d, "train.steps");
    c->P = (int)deck_int(d, "train.prompts");
    c->G = (int)deck_int(d, "train.group_size");
    c->mu = (int)deck_int(d, "train.mu");
    c->n_mb = (int)deck_int(d, "train.minibatches");
    c->micro = (int)deck_int(d, "train.micro_batch");
    c->async = deck_bool(d, "train.async");
    c->drop_tied = deck_bool(d, "train.drop_tied");
    c->rollout_ranks = (int)deck_int(d, "train.rollout_ranks");
    check_layout(d, c, a->size);
    load_advantage(d, &c->acfg);
    if (c->G < 2 && c->acfg.kind != ADV_PGRPO)
        deck_fail(d, "train.group_size", "use group_size >= 2 (a per-prompt mean of one completion is the completion)",
                  "%s normalises over the G completions of a prompt", adv_kind_name(c->acfg.kind));
    load_loss(d, &c->lcfg);
    c->beta_on = c->lcfg.beta > 0;
    load_schedule(d, c, &c->opt);
    c->sp = app_sample_params(a, t);
    c->Tc = c->sp.max_new;
    c->max_wall = deck_float(d, "run.max_walltime");
    c->step_timeout = (unsigned)deck_float(d, "run.step_timeout");
    c->ckpt_every = (int)deck_int(d, "checkpoint.every");
    c->keep_last = (int)deck_int(d, "checkpoint.keep_last");
    c->keep_every = (int)deck_int(d, "checkpoint.keep_every");
    c->log_every = (int)deck_int(d, "run.log_every");
    c->groups = deck_str(d, "train.groups");
    c->groups_file = deck_str(d, "train.groups_file");
    c->base = deck_str(d, "train.base");
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
    if (!strcmp(c->groups, "random")) {
        // The paper's ablation: the same group sizes, users assigned at random (a seeded Fisher-Yates shuffle).
        Rng r;
        rng_seed(&r, c->seed, RNG_GROUPS, 0, 0);
        for (int u = n - 1; u > 0; u--) {
            int j = (int)rng_below(&r, (uint32_t)(u + 1)), tmp = user_group[u];
            user_group[u] = user_group[j];
            user_group[j] = tmp;
        }
    } else if (!strcmp(c->groups, "file")) {
        read_groups_file(a->deck, c->groups_file, n, user_group, n_groups);
    }
}
