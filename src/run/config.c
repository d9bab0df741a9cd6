// config.c — the deck read once into a typed Config; cross-key rules, each naming its key (see config.h).
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const TASK_NAMES[] = {"personas", "recsys", "reviews", "movielens", "file"};
#define N_TASK_NAMES 5
static const char *const GROUP_NAMES[] = {"truth", "random", "file", "discover"};
static const char *const FEEDBACK_NAMES[] = {"task", "file"};
static const char *const METHOD_NAMES[] = {"pca", "spectral"};
static const char *const CRIT_NAMES[] = {"silhouette", "bic", "eigengap"};
static const char *const SOLVER_NAMES[] = {"krylov", "dense", "shift_invert"};   // indexed like spectral.h
static const char *const SCHED_NAMES[] = {"constant", "cosine"};

static int lookup(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++) if (!strcmp(s, names[i])) return i;
    return -1;
}

const char *config_task_name(TaskKind k) { return (unsigned)k < N_TASK_NAMES ? TASK_NAMES[k] : "?"; }
const char *config_groups_name(GroupSource g) { return (unsigned)g < 4 ? GROUP_NAMES[g] : "?"; }
const char *config_method_name(DiscoverMethod m) { return (unsigned)m < 2 ? METHOD_NAMES[m] : "?"; }
const char *config_criterion_name(KCriterion k) { return (unsigned)k < 3 ? CRIT_NAMES[k] : "?"; }

// An enum key: its index in the deck text's choices, or -1 and a message (the deck schema makes this a bug, but a
// library still reports it rather than aborting).
static int enum_key(const Deck *d, const char *key, int v, int *out, char *err, size_t errlen) {
    if (v < 0) return deck_error(d, key, "see `pgrpo --help-deck`", err, errlen, "unknown value");
    *out = v;
    return 0;
}
#define ENUM(key, v, field) do { int e_ = 0; if (enum_key(d, key, v, &e_, err, errlen)) return -1; field = e_; } while (0)

// task.shares: comma-separated finite numbers >= 0, at most TASK_MAX_GROUPS (the task checks the count and sum).
static int parse_shares(const Deck *d, TaskSection *t, char *err, size_t errlen) {
    const char *s = deck_str(d, "task.shares"), *hint =
        "give comma-separated non-negative shares, one per group, summing to 1";
    t->n_shares = 0;
    memset(t->shares, 0, sizeof t->shares);
    if (!*s) return 0;
    for (const char *p = s;;) {
        char *end;
        double x = strtod(p, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (end == p || (*end && *end != ',') || !isfinite(x) || x < 0)
            return deck_error(d, "task.shares", hint, err, errlen, "cannot read share %d", t->n_shares + 1);
        if (t->n_shares == TASK_MAX_GROUPS)
            return deck_error(d, "task.shares", hint, err, errlen, "more than %d shares", TASK_MAX_GROUPS);
        t->shares[t->n_shares++] = x;
        if (!*end) return 0;
        p = end + 1;
    }
}

static void read_plain(const Deck *d, Config *c) {
    c->run = (RunSection){(uint64_t)deck_int(d, "run.seed"), deck_str(d, "run.out_dir"), (int)deck_int(d, "run.log_every"),
                          (int)deck_int(d, "run.threads"), deck_float(d, "run.max_walltime"),
                          deck_float(d, "run.step_timeout")};
    c->model = (ModelSection){(int)deck_int(d, "model.n_layer"), (int)deck_int(d, "model.n_head"),
                              (int)deck_int(d, "model.d_model"), (int)deck_int(d, "model.context")};
    c->task.name = deck_str(d, "task.name");
    c->task.seed = (uint64_t)deck_int(d, "task.seed");
    c->task.n_users = (int)deck_int(d, "task.n_users");
    c->task.n_eval_users = (int)deck_int(d, "task.n_eval_users");
    c->task.n_items = (int)deck_int(d, "task.n_items");
    c->task.path = deck_str(d, "task.path");
    c->task.ml_groups = deck_str(d, "task.ml_groups");
    c->task.tokenizer = deck_str(d, "task.tokenizer");
    SftSection *s = &c->sft;
    s->steps = (int)deck_int(d, "sft.steps"), s->batch = (int)deck_int(d, "sft.batch");
    s->warmup = (int)deck_int(d, "sft.warmup"), s->lr = deck_float(d, "sft.lr");
    s->weight_decay = deck_float(d, "sft.weight_decay"), s->grad_clip = deck_float(d, "sft.grad_clip");
    s->out = deck_str(d, "sft.out");
    TrainSection *t = &c->train;
    t->base = deck_str(d, "train.base");
    t->steps = (int)deck_int(d, "train.steps"), t->prompts = (int)deck_int(d, "train.prompts");
    t->group_size = (int)deck_int(d, "train.group_size"), t->mu = (int)deck_int(d, "train.mu");
    t->micro_batch = (int)deck_int(d, "train.micro_batch"), t->minibatches = (int)deck_int(d, "train.minibatches");
    t->warmup = (int)deck_int(d, "train.warmup"), t->rollout_ranks = (int)deck_int(d, "train.rollout_ranks");
    t->top_k = (int)deck_int(d, "train.top_k"), t->max_new = (int)deck_int(d, "train.max_new");
    t->drop_tied = deck_bool(d, "train.drop_tied"), t->async = deck_bool(d, "train.async");
    t->lr = deck_float(d, "train.lr"), t->weight_decay = deck_float(d, "train.weight_decay");
    t->grad_clip = deck_float(d, "train.grad_clip"), t->temperature = deck_float(d, "train.temperature");
    t->top_p = deck_float(d, "train.top_p");
    t->groups_file = deck_str(d, "train.groups_file");
    c->checkpoint = (CheckpointSection){(int)deck_int(d, "checkpoint.every"), (int)deck_int(d, "checkpoint.keep_last"),
                                        (int)deck_int(d, "checkpoint.keep_every")};
    c->eval = (EvalSection){(int)deck_int(d, "eval.prompts"), (int)deck_int(d, "eval.samples")};
    c->adv.ema_decay = deck_float(d, "pgrpo.decay");
    c->adv.window = (int)deck_int(d, "pgrpo.window");
    c->adv.min_count = (double)deck_int(d, "pgrpo.min_count");
    c->adv.eps = deck_float(d, "pgrpo.eps");
    c->loss.eps_low = (float)deck_float(d, "train.eps_low");
    c->loss.eps_high = (float)deck_float(d, "train.eps_high");
    c->loss.beta = (float)deck_float(d, "train.beta");
}

static void read_groups(const Deck *d, GroupsSection *g) {
    g->feedback_file = deck_str(d, "groups.feedback_file");
    g->probes = (int)deck_int(d, "groups.probes");
    g->observed = deck_float(d, "groups.observed"), g->noise = deck_float(d, "groups.noise");
    g->dims = (int)deck_int(d, "groups.dims"), g->k = (int)deck_int(d, "groups.k");
    g->k_max = (int)deck_int(d, "groups.k_max"), g->whiten = deck_bool(d, "groups.whiten");
    g->n_init = (int)deck_int(d, "groups.n_init"), g->max_iter = (int)deck_int(d, "groups.max_iter");
    g->sample = (int)deck_int(d, "groups.sample"), g->block = (int)deck_int(d, "groups.block");
    g->tol = deck_float(d, "groups.tol"), g->gamma = deck_float(d, "groups.gamma");
    g->out = deck_str(d, "groups.out");
}

static int read_enums(const Deck *d, Config *c, char *err, size_t errlen) {
    ENUM("task.name", lookup(deck_str(d, "task.name"), TASK_NAMES, N_TASK_NAMES), c->task.kind);
    ENUM("sft.schedule", lookup(deck_str(d, "sft.schedule"), SCHED_NAMES, 2), c->sft.schedule);
    ENUM("train.schedule", lookup(deck_str(d, "train.schedule"), SCHED_NAMES, 2), c->train.schedule);
    ENUM("train.groups", lookup(deck_str(d, "train.groups"), GROUP_NAMES, 4), c->train.groups);
    ENUM("groups.feedback", lookup(deck_str(d, "groups.feedback"), FEEDBACK_NAMES, 2), c->groups.feedback);
    ENUM("groups.method", lookup(deck_str(d, "groups.method"), METHOD_NAMES, 2), c->groups.method);
    ENUM("groups.criterion", lookup(deck_str(d, "groups.criterion"), CRIT_NAMES, 3), c->groups.criterion);
    ENUM("groups.spectral_solver", lookup(deck_str(d, "groups.spectral_solver"), SOLVER_NAMES, 3), c->groups.solver);
    ENUM("train.advantage", adv_kind_from_str(deck_str(d, "train.advantage")), c->adv.kind);
    ENUM("train.loss_agg", loss_agg_from_str(deck_str(d, "train.loss_agg")), c->loss.agg);
    ENUM("pgrpo.history", adv_hist_from_str(deck_str(d, "pgrpo.history")), c->adv.hist);
    ENUM("pgrpo.order", adv_order_from_str(deck_str(d, "pgrpo.order")), c->adv.update_order);
    ENUM("pgrpo.cold_start", adv_cold_from_str(deck_str(d, "pgrpo.cold_start")), c->adv.cold);
    ENUM("pgrpo.variance", adv_var_from_str(deck_str(d, "pgrpo.variance")), c->adv.var);
    return 0;
}

// The rules between keys, in the order the trainer used to check them; each names the key to change.
static int cross_rules(const Deck *d, const Config *c, char *err, size_t errlen) {
    const char *key = NULL, *msg;
    if (c->model.d_model % c->model.n_head)
        return deck_error(d, "model.d_model", "d_model must be a multiple of n_head", err, errlen,
                          "d_model must be a multiple of n_head (%d)", c->model.n_head);
    if (c->train.async && c->train.rollout_ranks == 0)
        return deck_error(d, "train.async", "set train.rollout_ranks >= 1 (rollouts overlap learning on separate ranks)",
                          err, errlen, "asynchronous mode needs rollout-only ranks");
    if ((msg = adv_config_check(&c->adv, &key)))
        return deck_error(d, key, "see `pgrpo --help-deck` for the [pgrpo] keys", err, errlen, "%s", msg);
    if (c->train.group_size < 2 && c->adv.kind != ADV_PGRPO)
        return deck_error(d, "train.group_size", "use group_size >= 2 (a per-prompt mean of one completion is the completion)",
                          err, errlen, "%s normalises over the G completions of a prompt", adv_kind_name(c->adv.kind));
    if ((msg = loss_config_check(&c->loss, &key)))
        return deck_error(d, key, "see `pgrpo --help-deck`", err, errlen, "%s", msg);
    if ((c->task.kind == TASK_KIND_MOVIELENS || c->task.kind == TASK_KIND_FILE) && !*c->task.path)
        return deck_error(d, "task.path", c->task.kind == TASK_KIND_MOVIELENS ?
                          "name the MovieLens-1M folder (ratings.dat, movies.dat, users.dat)" :
                          "name the folder with users.jsonl, prompts.jsonl and sft.jsonl (README \"Your own data\")",
                          err, errlen, "task.name = %s reads its data from task.path", c->task.name);
    if (c->task.kind != TASK_KIND_FILE && *c->task.tokenizer)
        return deck_error(d, "task.tokenizer", "leave task.tokenizer empty, or use task.name = file with your own text",
                          err, errlen, "task.name = %s has its own word vocabulary: a tokenizer applies to task.name = "
                          "file only", c->task.name);
    if (c->task.kind == TASK_KIND_FILE && c->train.groups == GROUPS_DISCOVER && c->groups.feedback == FEEDBACK_FROM_TASK)
        return deck_error(d, "groups.feedback", "use groups.feedback = file with a feedback.h5 of your users (README, Groups)",
                          err, errlen, "task.name = file has no built-in reward to probe the users with");
    if (c->train.groups == GROUPS_FILE && !*c->train.groups_file)
        return deck_error(d, "train.groups_file", "name an HDF5 file with /user_group", err, errlen,
                          "train.groups = file needs a file");
    if (c->groups.feedback == FEEDBACK_FROM_FILE && !*c->groups.feedback_file)
        return deck_error(d, "groups.feedback_file", "name a feedback.h5 with /feedback/value (README, Groups)", err,
                          errlen, "groups.feedback = file needs a file");
    if (c->groups.feedback == FEEDBACK_FROM_TASK && c->groups.dims > c->groups.probes)
        return deck_error(d, "groups.dims", "keep groups.dims <= groups.probes", err, errlen,
                          "%d dimensions from %d probes", c->groups.dims, c->groups.probes);
    // A prompt is at least BOS and SEP: max_new + 2 tokens must fit the context.
    if (c->train.max_new > 0 && c->train.max_new + 2 > c->model.context)
        return deck_error(d, "train.max_new", "raise model.context or lower train.max_new", err, errlen,
                          "%d new tokens leave no room for a prompt in a context of %d", c->train.max_new,
                          c->model.context);
    return 0;
}

int config_reward(const Deck *d, RewardSection *r, char *err, size_t errlen) {
    *r = (RewardSection){.plugin = deck_str(d, "reward.plugin"), .command = deck_str(d, "reward.command"),
                         .config = deck_str(d, "reward.config"), .timeout = deck_float(d, "reward.timeout"),
                         .batch = (int)deck_int(d, "reward.batch")};
    if (*r->plugin && *r->command)
        return deck_error(d, "reward.command", "set either reward.plugin or reward.command, not both", err, errlen,
                          "a reward plugin (%s) and a reward process are both set", deck_where(d, "reward.plugin"));
    const char *blank = " \t";
    if (*r->command && !r->command[strspn(r->command, blank)])
        return deck_error(d, "reward.command", "name the program to run, e.g. /usr/bin/python3 my_reward.py", err,
                          errlen, "no program named");
    r->kind = *r->plugin ? REWARD_PLUGIN : *r->command ? REWARD_PROCESS : REWARD_BUILTIN;
    return 0;
}

int config_from_deck(const Deck *d, Config *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    read_plain(d, c);
    read_groups(d, &c->groups);
    if (read_enums(d, c, err, errlen) || parse_shares(d, &c->task, err, errlen)) return -1;
    if (config_reward(d, &c->reward, err, errlen)) return -1;
    return cross_rules(d, c, err, errlen);
}

int config_check_world(const Config *c, const Deck *d, int nranks, char *err, size_t errlen) {
    int R = c->train.rollout_ranks;
    if (R >= nranks)
        return deck_error(d, "train.rollout_ranks", "leave at least one learner rank, or use 0 to give every rank both roles",
                          err, errlen, "%d rollout ranks need more than %d MPI ranks", R, nranks);
    int n_roll = R ? R : nranks, n_learn = nranks - R;
    if (c->train.prompts < n_roll || c->train.prompts < n_learn)
        return deck_error(d, "train.prompts", "use at least one prompt per rollout rank and per learner rank", err, errlen,
                          "%d prompts for %d rollout and %d learner ranks", c->train.prompts, n_roll, n_learn);
    if (c->sft.batch < nranks)
        return deck_error(d, "sft.batch", "use at least one sequence per rank", err, errlen, "batch %d < %d ranks",
                          c->sft.batch, nranks);
    return 0;
}
