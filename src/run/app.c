// app.c — shared plumbing of the subcommands (see app.h).
#include "app.h"
#include "check.h"
#include "policy.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

void app_log(const App *a, const char *fmt, ...) {
    if (a->rank != 0 || a->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

// The deck key a task_create message is about (the families name the key's field in their messages).
static const char *task_error_key(const TaskSection *c, const char *err) {
    if (c->n_shares || strstr(err, "shares")) return "task.shares";
    if (strstr(err, "n_eval_users")) return "task.n_eval_users";
    if (strstr(err, "ml_groups")) return "task.ml_groups";
    if (strstr(err, "tokenizer")) return "task.tokenizer";
    if (c->kind == TASK_KIND_MOVIELENS || c->kind == TASK_KIND_FILE) return "task.path";
    return "task.name";
}

// task.tokenizer: a GPT-2 tokenizer folder (bpe_load_dir) or a policy file with BPE tables (an imported base, a
// text task's final.h5); NULL when the key is empty. Every rank loads it (a few MiB for GPT-2's 50257 tokens).
static Bpe *app_tokenizer(const App *a) {
    const char *path = a->cfg.task.tokenizer;
    if (!path || !*path) return NULL;
    struct stat st;
    if (stat(path, &st))
        deck_fail(a->deck, "task.tokenizer", "name a GPT-2 tokenizer folder (vocab.json + merges.txt) or an imported "
                  "policy (.h5)", "cannot read '%s': %s", path, strerror(errno));
    char err[1024];
    Bpe *b;
    if (S_ISDIR(st.st_mode)) b = bpe_load_dir(path, err, sizeof err);
    else {
        Gpt2Tokenizer g;
        if (policy_read_tokenizer(path, &g, err, sizeof err))
            die_user(EXIT_USAGE, "task.tokenizer names a GPT-2 tokenizer folder or a policy from `pgrpo import`", "%s", err);
        if (!g.n_tokens)
            deck_fail(a->deck, "task.tokenizer", "give a policy from `pgrpo import` (or a tokenizer folder)",
                      "'%s' carries the word tokenizer, not GPT-2's BPE", path);
        b = bpe_from_tables((const char *const *)g.tokens, g.n_tokens, (const char *const *)g.merges, g.n_merges,
                            err, sizeof err);
        gpt2_tok_free(&g);
    }
    if (!b) {   // the tokenizer's message may carry its own hint: say it once
        const char *hint = "fix or replace the tokenizer files named by task.tokenizer";
        char *h = strstr(err, " (HINT: ");
        if (h && h[strlen(h) - 1] == ')') { h[strlen(h) - 1] = 0; *h = 0; hint = h + 8; }
        int missing = strstr(err, "no tokenizer files") || strstr(err, "cannot open") || strstr(err, "without ");
        die_user(missing ? EXIT_USAGE : EXIT_RUNTIME, hint, "task.tokenizer = %s: %s", path, err);
    }
    return b;
}

Task *app_task(const App *a) {
    const TaskSection *c = &a->cfg.task;
    TaskConfig tc;
    memset(&tc, 0, sizeof tc);
    tc.name = c->name;
    tc.seed = c->seed;
    tc.n_users = c->n_users;
    tc.n_eval_users = c->n_eval_users;
    tc.n_items = c->n_items;
    tc.path = c->path;
    tc.ml_groups = c->ml_groups;
    tc.bpe = app_tokenizer(a);   // owned by the task from here
    for (int g = 0; g < c->n_shares; g++) tc.group_shares[g] = c->shares[g];
    char err[1024] = "";
    Task *t = task_create(&tc, err, sizeof err);
    if (!t) {
        // Messages carry their own hint: split it off so it is said once. Rules about deck values ("task ..."):
        // a deck error naming the key; a data file's own error (path:line: ...): that line, exit 3 (2 when the
        // file cannot be read at all).
        char *h = strstr(err, " (HINT: ");
        const char *hint = "check the [task] section against `pgrpo --help-deck`";
        if (h && h[strlen(h) - 1] == ')') { h[strlen(h) - 1] = 0; *h = 0; hint = h + 8; }
        if (!strncmp(err, "task ", 5) || !strncmp(err, "unknown task", 12))
            deck_fail(a->deck, task_error_key(c, err), hint, "%s", err);
        die_user(!strncmp(err, "cannot read ", 12) ? EXIT_USAGE : EXIT_RUNTIME, hint, "%s", err);
    }
    // Data tasks: their populations come from the data, so the deck's n_users means nothing; said once, not silently.
    if (*task_summary(t))
        app_log(a, "task: %s (task.n_users is not used: the data decides)\n", task_summary(t));
    return t;
}

ModelConfig app_model_config(const App *a, const Task *t) {
    const ModelSection *m = &a->cfg.model;
    ModelConfig c = {.n_layer = m->n_layer, .n_head = m->n_head, .d_model = m->d_model, .max_t = m->context,
                     .vocab = task_vocab_size(t)};
    const char *e = model_config_error(&c);
    if (e) {   // the validator's message starts with the field it rejects: blame that key
        static const struct { const char *field, *key; } keys[] = {
            {"n_layer", "model.n_layer"}, {"n_head", "model.n_head"}, {"d_model", "model.d_model"},
            {"max_t", "model.context"}, {"vocab", "task.name"}};
        const char *key = "model.d_model";
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (!strncmp(e, keys[i].field, strlen(keys[i].field))) { key = keys[i].key; break; }
        deck_fail(a->deck, key, "see `pgrpo --help-deck` for the [model] keys", "%s", e);
    }
    return c;
}

SampleParams app_sample_params(const App *a, const Task *t) {
    const TrainSection *c = &a->cfg.train;
    return (SampleParams){.temperature = (float)c->temperature, .top_k = c->top_k, .top_p = (float)c->top_p,
                          .max_new = c->max_new > 0 ? c->max_new : task_max_new(t), .eos = task_eos(t)};
}

void app_print_memory(const App *a, Model *m, int with_optimizer) {
    size_t n = model_num_params(m);
    double mib = 1.0 / (1024.0 * 1024.0);
    double p = (double)n * 4 * mib, act = (double)model_activation_bytes(m) * mib;
    app_log(a, "memory per rank: params %.2f MiB (%zu), grads %.2f MiB, adamw %.2f MiB, activations+kv %.2f MiB, total %.2f MiB\n",
            p, n, p, with_optimizer ? 2 * p : 0.0, act, p * (with_optimizer ? 4 : 2) + act);
}

int app_mkdirs(const char *dir) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(tmp, 0775); *p = '/'; }
    if (mkdir(tmp, 0775) && errno != EEXIST) return -1;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

void app_out_path(const App *a, const char *name, char *buf, size_t n) {
    const char *dir = a->cfg.run.out_dir;
    if (a->rank == 0 && app_mkdirs(dir))
        deck_fail(a->deck, "run.out_dir", "choose a writable folder", "cannot create folder: %s", strerror(errno ? errno : ENOTDIR));
    snprintf(buf, n, "%s/%s", dir, name);
}

void app_sft_path(const App *a, char *buf, size_t n) {
    const char *p = a->cfg.sft.out;
    if (*p) snprintf(buf, n, "%s", p);
    else app_out_path(a, "sft_base.h5", buf, n);
}
