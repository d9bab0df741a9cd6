// config.h — the typed run configuration: the deck read once into one struct per deck section, with C enums for the
// choice keys and every cross-key rule checked here, each error naming its own key.
//
//   Deck *d = deck_parse(path, n_sets, sets, err, sizeof err);       // syntax, types, ranges (deck.h)
//   Config c;
//   if (config_from_deck(d, &c, err, sizeof err)) -> exit 2 with err // cross-key rules
//   if (config_check_world(&c, d, nranks, err, sizeof err)) -> exit 2 // rules that need the number of MPI ranks
//
// Defaults live only in the deck schema (deck.c); nothing here has a default of its own. Strings point into the
// Deck, so the Deck must outlive the Config. Rules that need the task or a file (a prompt longer than the context,
// the groups file's contents, shares against the task's group count) stay with the code that has them.
#ifndef PGRPO_CONFIG_H
#define PGRPO_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "advantage.h"
#include "deck.h"
#include "loss.h"
#include "optim.h"
#include "task.h"

typedef enum { TASK_KIND_PERSONAS = 0, TASK_KIND_RECSYS = 1, TASK_KIND_REVIEWS = 2, TASK_KIND_MOVIELENS = 3,
               TASK_KIND_FILE = 4 } TaskKind;  // task.name
typedef enum { GROUPS_TRUTH = 0, GROUPS_RANDOM = 1, GROUPS_FILE = 2, GROUPS_DISCOVER = 3 } GroupSource; // train.groups
typedef enum { FEEDBACK_FROM_TASK = 0, FEEDBACK_FROM_FILE = 1 } FeedbackSource;  // groups.feedback
typedef enum { DISCOVER_PCA = 0, DISCOVER_SPECTRAL = 1 } DiscoverMethod;        // groups.method
typedef enum { KCRIT_SILHOUETTE = 0, KCRIT_BIC = 1, KCRIT_EIGENGAP = 2 } KCriterion; // groups.criterion
typedef enum { SOLVER_KRYLOV = 0, SOLVER_DENSE = 1, SOLVER_SHIFT_INVERT = 2 } SpectralSolver; // = spectral.h's

typedef struct {
    uint64_t seed;          // run.seed
    const char *out_dir;    // run.out_dir: not empty, not the root or a system folder (deck.c)
    int log_every;          // run.log_every
    int threads;            // run.threads
    double max_walltime;    // run.max_walltime, s (0 = no limit)
    double step_timeout;    // run.step_timeout, s (0 = off)
} RunSection;

typedef struct { int n_layer, n_head, d_model, context; } ModelSection;  // d_model % n_head == 0

typedef struct {
    TaskKind kind;          // task.name
    const char *name;       // task.name as text (TaskConfig.name)
    uint64_t seed;          // task.seed
    int n_users, n_eval_users, n_items;
    int n_shares;           // task.shares parsed: 0 = the task's default
    double shares[TASK_MAX_GROUPS];
    const char *path;       // task.path (movielens, file: required)
    const char *ml_groups;  // task.ml_groups
    const char *tokenizer;  // task.tokenizer: "" = the word tokenizer; file only: a GPT-2 tokenizer folder or a
                            // policy file with BPE tables (app_task loads it)
} TaskSection;

typedef struct {
    int steps, batch, warmup;
    double lr, weight_decay, grad_clip;
    LrSchedule schedule;
    const char *out;        // sft.out ("" = <run.out_dir>/sft_base.h5)
} SftSection;

typedef struct {
    const char *base;       // train.base ("" = <run.out_dir>/sft_base.h5)
    int steps, prompts, group_size, mu, micro_batch, minibatches, warmup, rollout_ranks, top_k, max_new;
    int drop_tied, async;   // booleans
    double lr, weight_decay, grad_clip, temperature, top_p;
    LrSchedule schedule;
    GroupSource groups;
    const char *groups_file;
} TrainSection;

typedef struct {
    int every, keep_last, keep_every;
} CheckpointSection;

// [groups]: preference-group discovery (README "Groups"). Rules: dims <= probes (task feedback), k <= k_max is not
// required (k fixed ignores k_max), k_max >= 2; the rules that need the data (dims < users, K <= users) are checked
// by the pipeline with the key named.
typedef struct {
    FeedbackSource feedback;       // groups.feedback
    const char *feedback_file;     // groups.feedback_file
    int probes;                    // groups.probes
    double observed, noise;        // groups.observed, groups.noise
    DiscoverMethod method;         // groups.method
    int dims, k, k_max;            // groups.dims, groups.k (0 = choose), groups.k_max
    int whiten;                    // groups.whiten
    KCriterion criterion;          // groups.criterion
    SpectralSolver solver;         // groups.spectral_solver
    int n_init, max_iter, sample, block;
    double tol, gamma;
    const char *out;               // groups.out ("" = <run.out_dir>/groups.h5)
} GroupsSection;

typedef struct {
    int prompts, samples;
} EvalSection;

// [reward]: where rewards come from (README "Reward plugins and reward processes"). At most one of plugin and command.
typedef enum { REWARD_BUILTIN = 0, REWARD_PLUGIN = 1, REWARD_PROCESS = 2 } RewardKind;
typedef struct {
    RewardKind kind;        // builtin (the task's own) unless reward.plugin or reward.command is set
    const char *plugin;     // reward.plugin: path of a shared object implementing include/pgrpo_reward.h
    const char *command;    // reward.command: argv of a reward process (words; '...' and "..." quote, \ escapes)
    const char *config;     // reward.config: passed to the plugin's init / the process's header line
    double timeout;         // reward.timeout: seconds a reward process may take per batch (> 0)
    int batch;              // reward.batch: items per plugin call / process batch (0 = all of a rank's completions)
} RewardSection;

typedef struct {
    RunSection run;
    ModelSection model;
    TaskSection task;
    SftSection sft;
    TrainSection train;          // [train] without the advantage and loss keys, which are in adv / loss
    CheckpointSection checkpoint;
    EvalSection eval;
    GroupsSection groups;
    RewardSection reward;
    AdvConfig adv;               // train.advantage + the whole [pgrpo] section
    LossConfig loss;             // train.eps_low, train.eps_high, train.beta, train.loss_agg
} Config;

// Fills c from the deck and checks every cross-key rule. 0, or -1 with a one-line message in err naming the key
// and where it was set: "<file:line|--set|source (default)>: <key> = <value>: <what> (HINT: <what to do>)".
int config_from_deck(const Deck *d, Config *c, char *err, size_t errlen);

// Rules that need the world size: train.rollout_ranks < nranks, train.prompts >= the rollout and the learner ranks,
// sft.batch >= nranks. Same return and message convention.
int config_check_world(const Config *c, const Deck *d, int nranks, char *err, size_t errlen);

// The [reward] section alone (also part of config_from_deck), for code that holds the Deck but not the Config.
int config_reward(const Deck *d, RewardSection *r, char *err, size_t errlen);

const char *config_task_name(TaskKind k);     // "personas" | "recsys" | "reviews" | "movielens" | "file"
const char *config_groups_name(GroupSource g); // "truth" | "random" | "file" | "discover"
const char *config_method_name(DiscoverMethod m);  // "pca" | "spectral"
const char *config_criterion_name(KCriterion k);   // "silhouette" | "bic" | "eigengap"

#endif
