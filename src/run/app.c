// app.c — shared plumbing of the subcommands (see app.h).
#include "app.h"
#include "check.h"
#include "store.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void app_log(const App *a, const char *fmt, ...) {
    if (a->rank != 0 || a->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

Task *app_task(const App *a) {
    const Deck *d = a->deck;
    TaskConfig tc;
    memset(&tc, 0, sizeof tc);
    tc.name = deck_str(d, "task.name");
    tc.seed = (uint64_t)deck_int(d, "task.seed");
    tc.n_users = (int)deck_int(d, "task.n_users");
    tc.n_eval_users = (int)deck_int(d, "task.n_eval_users");
    tc.n_items = (int)deck_int(d, "task.n_items");
    const char *shares = deck_str(d, "task.shares");
    if (*shares) {
        char buf[1024], *save = NULL;
        snprintf(buf, sizeof buf, "%s", shares);
        int g = 0;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *end;
            double x = strtod(tok, &end);
            if (end == tok || x < 0 || g >= TASK_MAX_GROUPS)
                deck_fail(d, "task.shares", "give comma-separated non-negative shares, one per group, summing to 1",
                          "cannot read share '%s'", tok);
            tc.group_shares[g++] = x;
        }
    }
    char err[512] = "";
    Task *t = task_create(&tc, err, sizeof err);
    if (!t) deck_fail(d, *shares ? "task.shares" : "task.name", "check the [task] section against `pgrpo --help-deck`", "%s", err);
    return t;
}

ModelConfig app_model_config(const App *a, const Task *t) {
    const Deck *d = a->deck;
    ModelConfig c = {
        .n_layer = (int)deck_int(d, "model.n_layer"),
        .n_head = (int)deck_int(d, "model.n_head"),
        .d_model = (int)deck_int(d, "model.d_model"),
        .max_t = (int)deck_int(d, "model.context"),
        .vocab = task_vocab_size(t),
    };
    const char *e = model_config_error(&c);
    if (e) deck_fail(d, "model.d_model", "d_model must be a multiple of n_head", "%s", e);
    return c;
}

SampleParams app_sample_params(const App *a, const Task *t) {
    const Deck *d = a->deck;
    int max_new = (int)deck_int(d, "train.max_new");
    return (SampleParams){.temperature = (float)deck_float(d, "train.temperature"),
                          .top_k = (int)deck_int(d, "train.top_k"), .top_p = (float)deck_float(d, "train.top_p"),
                          .max_new = max_new > 0 ? max_new : task_max_new(t), .eos = TOK_EOS};
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
    const char *dir = deck_str(a->deck, "run.out_dir");
    if (a->rank == 0 && app_mkdirs(dir))
        deck_fail(a->deck, "run.out_dir", "choose a writable folder", "cannot create folder: %s", strerror(errno ? errno : ENOTDIR));
    snprintf(buf, n, "%s/%s", dir, name);
}

void app_sft_path(const App *a, char *buf, size_t n) {
    const char *p = deck_str(a->deck, "sft.out");
    if (*p) snprintf(buf, n, "%s", p);
    else app_out_path(a, "sft_base.h5", buf, n);
}

int app_copy_file(const char *src, const char *dst, char *err, size_t errlen) {
    // One writer per destination: a fixed temporary name, so a copy cut short is overwritten by the next one.
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    int in = open(src, O_RDONLY), out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = in < 0 || out < 0 ? -1 : 0;
    static const size_t CHUNK = (size_t)1 << 20;
    char *buf = rc ? NULL : xmalloc(CHUNK);
    while (!rc) {
        ssize_t n = read(in, buf, CHUNK);
        if (n < 0) { rc = -1; break; }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) { rc = -1; break; }
            off += w;
        }
    }
    if (!rc && fsync(out)) rc = -1;
    int saved = errno;
    free(buf);
    if (in >= 0) close(in);
    if (out >= 0 && close(out)) rc = -1;
    if (!rc && rename(tmp, dst)) rc = -1;
    if (rc) {
        snprintf(err, errlen, "cannot copy '%s' to '%s': %s", src, dst, strerror(saved ? saved : errno));
        unlink(tmp);
        return -1;
    }
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", dst);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
}

void app_save_policy(const App *a, const char *path, Model *m, const Task *t, long step, const char *stage) {
    char err[1024], dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) { *slash = 0; app_mkdirs(dir); }
    StoreWriter *w = store_writer_create(path, "policy", deck_text(a->deck), err, sizeof err);
    if (!w) die_user(EXIT_RUNTIME, "check that the output folder exists and is writable", "%s", err);
    const ModelConfig *c = model_config(m);
    size_t n = model_num_params(m);
    int rc = store_put(w, "model/params", STORE_F32, model_params(m), 1, &n);
    // The vocabulary travels with the weights, so post-processing can decode trajectories without pgrpo.
    size_t nb = 0;
    for (int i = 0; i < task_vocab_size(t); i++) nb += strlen(task_token_str(t, i)) + 1;
    char *words = xmalloc(nb), *q = words;
    for (int i = 0; i < task_vocab_size(t); i++) q += sprintf(q, "%s\n", task_token_str(t, i));
    rc |= store_put(w, "tokenizer/words", STORE_U8, words, 1, &nb);
    rc |= store_put_attr_str(w, "tokenizer/words", "description", "the vocabulary, one token per line, in id order");
    free(words);
    rc |= store_put_attr_int(w, "/", "n_layer", c->n_layer);
    rc |= store_put_attr_int(w, "/", "n_head", c->n_head);
    rc |= store_put_attr_int(w, "/", "d_model", c->d_model);
    rc |= store_put_attr_int(w, "/", "max_t", c->max_t);
    rc |= store_put_attr_int(w, "/", "vocab", c->vocab);
    rc |= store_put_attr_int(w, "/", "step", step);
    rc |= store_put_attr_str(w, "/", "task", task_name(t));
    rc |= store_put_attr_str(w, "/", "stage", stage);
    if (rc) { store_abort(w); die_user(EXIT_RUNTIME, "check disk space and permissions", "writing '%s' failed", path); }
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check disk space and permissions", "%s", err);
}

Model *app_load_policy(const App *a, const char *path, const Task *t, Rng *init_rng) {
    char err[1024];
    StoreReader *r = store_open(path, "policy", err, sizeof err);
    if (!r) die_user(EXIT_USAGE, "run `pgrpo sft DECK` first, or point to a valid policy file", "%s", err);
    ModelConfig want = app_model_config(a, t), got;
    long v[5];
    const char *names[5] = {"n_layer", "n_head", "d_model", "max_t", "vocab"};
    for (int i = 0; i < 5; i++)
        if (store_get_attr_int(r, "/", names[i], &v[i]))
            die_user(EXIT_RUNTIME, "the file is not a pgrpo policy", "'%s': missing attribute %s", path, names[i]);
    got = (ModelConfig){(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4]};
    if (memcmp(&got, &want, sizeof got))
        die_user(EXIT_USAGE, "use the deck the policy was trained with, or retrain the SFT base",
                 "'%s' holds a model L=%d H=%d C=%d T=%d V=%d but the deck asks for L=%d H=%d C=%d T=%d V=%d", path,
                 got.n_layer, got.n_head, got.d_model, got.max_t, got.vocab, want.n_layer, want.n_head, want.d_model,
                 want.max_t, want.vocab);
    Model *m = model_create(&want, init_rng);
    if (store_get(r, "model/params", STORE_F32, model_params(m), model_num_params(m)))
        die_user(EXIT_RUNTIME, "the file is damaged; rebuild it", "'%s': cannot read model/params", path);
    store_close(r);
    return m;
}
