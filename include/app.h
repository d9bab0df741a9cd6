// app.h — what the subcommands share: the run context, task/model construction from the deck, output paths,
// and the rank-0 logger. Policy files: policy.h.
#ifndef PGRPO_APP_H
#define PGRPO_APP_H
#include <mpi.h>
#include <stdio.h>
#include "config.h"
#include "deck.h"
#include "model.h"
#include "task.h"

#define PGRPO_VERSION "0.1.0"

typedef struct {
    MPI_Comm world;
    int rank, size;
    Deck *deck;
    Config cfg;               // the deck read once (config_from_deck in main); strings point into deck
    const char *checkpoint;   // --checkpoint FILE (eval, sample)
    const char *resume;       // --resume auto|PATH (train)
    int quiet;
} App;

// Rank-0 log line to stdout (flushed), nothing on other ranks.
void app_log(const App *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Task from the config's [task] section (exits 2 with the deck's words on a bad config).
Task *app_task(const App *a);
// Model config from [model] and the task's vocabulary; validates with deck_fail on a bad shape.
ModelConfig app_model_config(const App *a, const Task *t);
// Sampling settings from [train]: temperature, top_k, top_p, and max_new (0 there = the task's budget).
SampleParams app_sample_params(const App *a, const Task *t);
// Prints parameter/gradient/optimizer/activation memory for the config (rank 0).
void app_print_memory(const App *a, Model *m, int with_optimizer);

// mkdir -p; 0 when dir exists as a folder afterwards.
int app_mkdirs(const char *dir);
// "<run.out_dir>/<name>" (creates run.out_dir on rank 0).
void app_out_path(const App *a, const char *name, char *buf, size_t n);
// Default SFT base path: sft.out or <out_dir>/sft_base.h5
void app_sft_path(const App *a, char *buf, size_t n);

// Held-out NLL (nats/token) of the policy on the first n eval-split corpus examples; scratch buffers
// tok/tgt (TASK_MAX_SEQ) and logp (max_t). Every rank computes the same value.
double sft_heldout_nll(Model *m, const Task *t, uint64_t seed, int n, int *tok, int *tgt, float *logp);

int cmd_sft(App *a);
int cmd_train(App *a);
int cmd_eval(App *a);
int cmd_sample(App *a);
int cmd_groups(App *a);   // groups.c: discovery alone (groups_run.h)
int cmd_import(int argc, char **argv);   // import.c: serial, before MPI (no App: the model comes from the file)
int cmd_export(int argc, char **argv);   // export.c: serial, before MPI

#endif
