// policy.c — policy files and loading weights from policies or checkpoints (see policy.h).
#include "policy.h"
#include <string.h>
#include "check.h"
#include "store.h"

#define STAGE_POLICY "policy"

// The vocabulary as one token per line, in id order (n bytes, no terminator).
static char *vocab_text(const Task *t, size_t *n) {
    size_t nb = 0;
    for (int i = 0; i < task_vocab_size(t); i++) nb += strlen(task_token_str(t, i)) + 1;
    char *words = xmalloc(nb + 1), *q = words;   // + 1: snprintf's terminator after the last line
    for (int i = 0; i < task_vocab_size(t); i++) q += snprintf(q, nb + 1 - (size_t)(q - words), "%s\n", task_token_str(t, i));
    *n = nb;
    return words;
}

// The model's shape as root attributes, in one table for writing and reading.
typedef struct { const char *name; size_t field; } ShapeAttr;
static const ShapeAttr SHAPE_ATTRS[] = {
    {"n_layer", offsetof(ModelConfig, n_layer)}, {"n_head", offsetof(ModelConfig, n_head)},
    {"d_model", offsetof(ModelConfig, d_model)}, {"max_t", offsetof(ModelConfig, max_t)},
    {"vocab", offsetof(ModelConfig, vocab)},
};
enum { N_SHAPE = sizeof SHAPE_ATTRS / sizeof SHAPE_ATTRS[0] };
static int *shape_field(ModelConfig *c, int i) { return (int *)((char *)c + SHAPE_ATTRS[i].field); }

void policy_save(const App *a, const char *path, Model *m, const Task *t, long step, const char *stage) {
    char err[1024], dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) { *slash = 0; app_mkdirs(dir); }
    StoreWriter *w = store_writer_create(path, STAGE_POLICY, deck_text(a->deck), err, sizeof err);
    if (!w) die_user(EXIT_RUNTIME, "check that the output folder exists and is writable", "%s", err);
    ModelConfig c = *model_config(m);
    size_t n = model_num_params(m);
    int rc = store_put(w, "model/params", STORE_F32, model_params(m), 1, &n);
    // The vocabulary travels with the weights, so post-processing can decode trajectories without pgrpo.
    size_t nb;
    char *words = vocab_text(t, &nb);
    rc |= store_put(w, "tokenizer/words", STORE_U8, words, 1, &nb);
    rc |= store_put_attr_str(w, "tokenizer/words", "description", "the vocabulary, one token per line, in id order");
    free(words);
    for (int i = 0; i < N_SHAPE; i++) rc |= store_put_attr_int(w, "/", SHAPE_ATTRS[i].name, *shape_field(&c, i));
    rc |= store_put_attr_int(w, "/", "step", step);
    rc |= store_put_attr_str(w, "/", "task", task_name(t));
    rc |= store_put_attr_str(w, "/", "stage", stage);
    if (rc) { store_abort(w); die_user(EXIT_RUNTIME, "check disk space and permissions", "writing '%s' failed", path); }
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check disk space and permissions", "%s", err);
}

static void shape_mismatch(const char *path, const ModelConfig *got, const ModelConfig *want) {
    die_user(EXIT_USAGE, "use the deck the policy was trained with, or retrain the SFT base",
             "'%s' holds a model L=%d H=%d C=%d T=%d V=%d but the deck asks for L=%d H=%d C=%d T=%d V=%d", path,
             got->n_layer, got->n_head, got->d_model, got->max_t, got->vocab, want->n_layer, want->n_head,
             want->d_model, want->max_t, want->vocab);
}

// A policy file states its shape; it must be the deck's.
static void check_policy_shape(StoreReader *r, const char *path, const ModelConfig *want) {
    ModelConfig got = *want;
    for (int i = 0; i < N_SHAPE; i++) {
        long v;
        if (store_get_attr_int(r, "/", SHAPE_ATTRS[i].name, &v))
            die_user(EXIT_RUNTIME, "the file is not a pgrpo policy", "'%s': missing attribute %s", path, SHAPE_ATTRS[i].name);
        *shape_field(&got, i) = (int)v;
    }
    if (memcmp(&got, want, sizeof got)) shape_mismatch(path, &got, want);
}

// A checkpoint records the run's deck but not the shape as attributes: its weight count must match the deck's.
static void check_checkpoint_shape(StoreReader *r, const char *path, size_t n_params) {
    int nd;
    size_t dims[STORE_MAX_DIMS];
    if (store_dims(r, "model/params", &nd, dims) || nd != 1)
        die_user(EXIT_RUNTIME, "the checkpoint is damaged; use another one", "'%s': no /model/params", path);
    if (dims[0] != n_params)
        die_user(EXIT_USAGE, "use the deck of the run that wrote the checkpoint",
                 "'%s' holds %zu weights but the deck's model has %zu", path, dims[0], n_params);
}

Model *policy_load(const App *a, const char *path, const Task *t, Rng *init_rng) {
    char err[1024];
    StoreReader *r = store_open(path, NULL, err, sizeof err);
    if (!r) die_user(EXIT_USAGE, "run `pgrpo sft DECK` first, or point to a valid policy file", "%s", err);
    const char *kind = store_reader_kind(r);
    int is_ckpt = kind && !strcmp(kind, STORE_KIND_CKPT);
    if (!is_ckpt && !(kind && !strcmp(kind, STAGE_POLICY)))
        die_user(EXIT_USAGE, "give a policy file (sft_base.h5, final.h5) or a checkpoint (checkpoints/ckpt_*.h5)",
                 "'%s' is a pgrpo %s file, not a policy", path, kind ? kind : "(unknown)");
    ModelConfig want = app_model_config(a, t);
    Model *m = model_create(&want, init_rng);
    if (is_ckpt) check_checkpoint_shape(r, path, model_num_params(m));
    else check_policy_shape(r, path, &want);
    if (store_get(r, "model/params", STORE_F32, model_params(m), model_num_params(m)))
        die_user(EXIT_RUNTIME, "the file is damaged; rebuild it", "'%s': cannot read model/params", path);
    store_close(r);
    return m;
}
