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

static int put_bpe(StoreWriter *w, const Gpt2Tokenizer *tok);

// A text task's tokenizer as tables (the strings borrowed from the Bpe: free only the two arrays).
static Gpt2Tokenizer task_tables(const Bpe *b) {
    Gpt2Tokenizer g = {.n_tokens = bpe_vocab_size(b), .n_merges = bpe_n_merges(b), .eos_id = bpe_eos_id(b)};
    g.tokens = xmalloc(sizeof(char *) * (size_t)g.n_tokens);
    g.merges = xmalloc(sizeof(char *) * (size_t)(g.n_merges ? g.n_merges : 1));
    for (int i = 0; i < g.n_tokens; i++) g.tokens[i] = (char *)bpe_token(b, i);
    for (int i = 0; i < g.n_merges; i++) g.merges[i] = (char *)bpe_merge(b, i);
    return g;
}

// The vocabulary travels with the weights, so post-processing can decode trajectories without pgrpo.
static int put_vocab(StoreWriter *w, const Task *t) {
    if (task_bpe(t)) {
        Gpt2Tokenizer g = task_tables(task_bpe(t));
        int rc = put_bpe(w, &g);
        free(g.tokens);
        free(g.merges);
        return rc;
    }
    size_t nb;
    char *words = vocab_text(t, &nb);
    int rc = store_put(w, "tokenizer/words", STORE_U8, words, 1, &nb);
    rc |= store_put_attr_str(w, "tokenizer/words", "description", "the vocabulary, one token per line, in id order");
    free(words);
    return rc;
}

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
    rc |= put_vocab(w, t);
    for (int i = 0; i < N_SHAPE; i++) rc |= store_put_attr_int(w, "/", SHAPE_ATTRS[i].name, *shape_field(&c, i));
    rc |= store_put_attr_int(w, "/", "step", step);
    rc |= store_put_attr_str(w, "/", "task", task_name(t));
    rc |= store_put_attr_str(w, "/", "stage", stage);
    if (rc) { store_abort(w); die_user(EXIT_RUNTIME, "check disk space and permissions", "writing '%s' failed", path); }
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check disk space and permissions", "%s", err);
}

// The model's shape comes from the deck: a file of another shape is refused, naming the keys that would match it.
static void shape_mismatch(const char *path, const ModelConfig *got, const ModelConfig *want) {
    char hint[256];
    snprintf(hint, sizeof hint, "use the deck the policy was made with, e.g. --set model.n_layer=%d --set model.n_head=%d "
             "--set model.d_model=%d --set model.context=%d%s", got->n_layer, got->n_head, got->d_model, got->max_t,
             got->vocab != want->vocab ? " and a task with its vocabulary" : "");
    die_user(EXIT_USAGE, hint,
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

// Reads a NUL-separated u8 string table of n strings.
static int get_strings(StoreReader *r, const char *path, const char *name, int n, char ***out, char *err, size_t errlen) {
    int nd;
    size_t dims[STORE_MAX_DIMS];
    if (store_dims(r, name, &nd, dims) || nd != 1) { snprintf(err, errlen, "%s: no dataset /%s", path, name); return -1; }
    char *blob = xmalloc(dims[0] ? dims[0] : 1);
    int rc = store_get(r, name, STORE_U8, blob, dims[0]);
    if (rc) snprintf(err, errlen, "%s", store_reader_error(r));
    else if (gpt2_tok_unblob(blob, dims[0], n, out, err, errlen)) {
        char e2[512];
        snprintf(e2, sizeof e2, "%s", err);
        snprintf(err, errlen, "%s: /%s %s", path, name, e2);
        rc = -1;
    }
    free(blob);
    return rc;
}

// The BPE tables of a policy file (tok->n_tokens 0 when the file has the word tokenizer).
static int read_bpe(StoreReader *r, const char *path, Gpt2Tokenizer *tok, char *err, size_t errlen) {
    memset(tok, 0, sizeof *tok);
    tok->eos_id = -1;
    char kind[32] = "";
    if (!store_has(r, "tokenizer/tokens")) return 0;
    long nt, nm, eos;
    if (store_get_attr_str(r, "tokenizer", "kind", kind, sizeof kind) || strcmp(kind, "bpe") ||
        store_get_attr_int(r, "tokenizer", "n_tokens", &nt) || store_get_attr_int(r, "tokenizer", "n_merges", &nm) ||
        store_get_attr_int(r, "tokenizer", "eos_id", &eos) || nt <= 0 || nm < 0 || nt > 100000000 || nm > 100000000) {
        snprintf(err, errlen, "%s: /tokenizer lacks kind=\"bpe\", n_tokens, n_merges or eos_id", path);
        return -1;
    }
    if (get_strings(r, path, "tokenizer/tokens", (int)nt, &tok->tokens, err, errlen)) return -1;
    tok->n_tokens = (int)nt;
    if (get_strings(r, path, "tokenizer/merges", (int)nm, &tok->merges, err, errlen)) { gpt2_tok_free(tok); return -1; }
    tok->n_merges = (int)nm;
    tok->eos_id = (int)eos;
    return 0;
}

// A BPE policy runs only on a task whose vocabulary is the same token list (a text task); the built-in tasks'
// word vocabularies are refused by name rather than as a bare shape mismatch.
static void check_tokenizer(StoreReader *r, const char *path, const Task *t) {
    char err[1024];
    Gpt2Tokenizer tok;
    if (read_bpe(r, path, &tok, err, sizeof err)) die_user(EXIT_RUNTIME, "the file is damaged; import it again", "%s", err);
    if (!tok.n_tokens) {
        if (task_bpe(t))
            die_user(EXIT_USAGE, "give a policy made with task.tokenizer (an imported base or its training runs)",
                     "vocabulary mismatch: '%s' carries a word vocabulary but task.tokenizer gives a BPE of %d tokens",
                     path, task_vocab_size(t));
        return;
    }
    int bad = -1;
    if (task_vocab_size(t) == tok.n_tokens)
        for (int i = 0; i < tok.n_tokens && bad < 0; i++)
            if (strcmp(task_token_str(t, i), tok.tokens[i])) bad = i;
    const Bpe *b = task_bpe(t);
    if (bad < 0 && b && (bpe_n_merges(b) != tok.n_merges || bpe_eos_id(b) != tok.eos_id)) bad = tok.n_tokens;
    for (int i = 0; bad < 0 && b && i < tok.n_merges; i++)
        if (strcmp(bpe_merge(b, i), tok.merges[i])) bad = tok.n_tokens;
    if (bad == tok.n_tokens) {
        gpt2_tok_free(&tok);
        die_user(EXIT_USAGE, "set task.tokenizer to the policy's own tokenizer (e.g. the imported base)",
                 "tokenizer mismatch: '%s' has the task's tokens but other BPE merges or end-of-text id", path);
    }
    if (task_vocab_size(t) != tok.n_tokens || bad >= 0) {
        int nt = tok.n_tokens;
        gpt2_tok_free(&tok);
        if (bad >= 0)
            die_user(EXIT_USAGE, "use a text task with the policy's tokenizer",
                     "vocabulary mismatch: '%s' carries a BPE tokenizer whose token %d differs from task '%s''s", path,
                     bad, task_name(t));
        die_user(EXIT_USAGE, "use a text task with the policy's tokenizer (the built-in tasks have their own word vocabulary)",
                 "vocabulary mismatch: '%s' carries a BPE tokenizer of %d tokens but task '%s' has a word vocabulary of %d",
                 path, nt, task_name(t), task_vocab_size(t));
    }
    gpt2_tok_free(&tok);
}

Model *policy_load(const App *a, const char *path, const Task *t) {
    char err[1024];
    StoreReader *r = store_open(path, NULL, err, sizeof err);
    if (!r) die_user(EXIT_USAGE, "run `pgrpo sft DECK` first, or point to a valid policy file", "%s", err);
    const char *kind = store_reader_kind(r);
    int is_ckpt = kind && !strcmp(kind, STORE_KIND_CKPT);
    if (!is_ckpt && !(kind && !strcmp(kind, STAGE_POLICY)))
        die_user(EXIT_USAGE, "give a policy file (sft_base.h5, final.h5) or a checkpoint (checkpoints/ckpt_*.h5)",
                 "'%s' is a pgrpo %s file, not a policy", path, kind ? kind : "(unknown)");
    if (!is_ckpt) check_tokenizer(r, path, t);
    ModelConfig want = app_model_config(a, t);
    Model *m = model_create(&want, NULL);   // every parameter comes from the file
    if (is_ckpt) check_checkpoint_shape(r, path, model_num_params(m));
    else check_policy_shape(r, path, &want);
    if (store_get(r, "model/params", STORE_F32, model_params(m), model_num_params(m)))
        die_user(EXIT_RUNTIME, "the file is damaged; rebuild it", "'%s': cannot read model/params", path);
    store_close(r);
    return m;
}

int policy_write_bpe(const char *path, const ModelConfig *cfg, const float *params, const Gpt2Tokenizer *tok,
                     const char *source, char *err, size_t errlen) {
    char deck[1200];
    snprintf(deck, sizeof deck, "# imported by pgrpo import from %s (no deck)\n", source);
    StoreWriter *w = store_writer_create(path, STAGE_POLICY, deck, err, errlen);
    if (!w) return -1;
    size_t sizes[MODEL_NUM_TENSORS], n;
    model_param_sizes(cfg, sizes, &n);
    int rc = store_put(w, "model/params", STORE_F32, params, 1, &n);
    rc |= put_bpe(w, tok);
    ModelConfig c = *cfg;
    for (int i = 0; i < N_SHAPE; i++) rc |= store_put_attr_int(w, "/", SHAPE_ATTRS[i].name, *shape_field(&c, i));
    rc |= store_put_attr_int(w, "/", "step", 0);
    rc |= store_put_attr_str(w, "/", "task", "none");
    rc |= store_put_attr_str(w, "/", "stage", "import");
    rc |= store_put_attr_str(w, "/", "source", source);
    if (rc) {
        snprintf(err, errlen, "writing '%s' failed: %s", path, store_writer_error(w) ? store_writer_error(w) : "out of memory");
        store_abort(w);
        return -1;
    }
    return store_commit(w, err, errlen);
}

// /tokenizer/tokens, /tokenizer/merges and the /tokenizer attributes (policy.h); nonzero on failure.
static int put_bpe(StoreWriter *w, const Gpt2Tokenizer *tok) {
    size_t nt, nm;
    int rc = 0;
    char *tb = gpt2_tok_blob(tok->tokens, tok->n_tokens, &nt), *mb = gpt2_tok_blob(tok->merges, tok->n_merges, &nm);
    if (!tb || !mb) rc = -1;
    else {
        rc |= store_put(w, "tokenizer/tokens", STORE_U8, tb, 1, &nt);
        rc |= store_put(w, "tokenizer/merges", STORE_U8, mb, 1, &nm);
        rc |= store_put_attr_str(w, "tokenizer", "kind", "bpe");
        rc |= store_put_attr_int(w, "tokenizer", "n_tokens", tok->n_tokens);
        rc |= store_put_attr_int(w, "tokenizer", "n_merges", tok->n_merges);
        rc |= store_put_attr_int(w, "tokenizer", "eos_id", tok->eos_id);
        rc |= store_put_attr_str(w, "tokenizer/tokens", "description",
                                 "GPT-2 byte-level BPE vocabulary: token strings as in vocab.json, id order, each NUL-terminated");
        rc |= store_put_attr_str(w, "tokenizer/merges", "description", "BPE merges \"a b\" in rank order, each NUL-terminated");
    }
    free(tb);
    free(mb);
    return rc;
}

static int read_words(StoreReader *r, const char *path, PolicyFile *p, char *err, size_t errlen) {
    int nd;
    size_t dims[STORE_MAX_DIMS];
    if (!store_has(r, "tokenizer/words")) return 0;
    if (store_dims(r, "tokenizer/words", &nd, dims) || nd != 1) { snprintf(err, errlen, "%s: bad /tokenizer/words", path); return -1; }
    p->words = xmalloc(dims[0] + 1);
    p->words[dims[0]] = 0;
    if (store_get(r, "tokenizer/words", STORE_U8, p->words, dims[0])) { snprintf(err, errlen, "%s", store_reader_error(r)); return -1; }
    return 0;
}

int policy_read_file(const char *path, PolicyFile *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->bpe.eos_id = -1;
    StoreReader *r = store_open(path, NULL, err, errlen);
    if (!r) return -1;
    const char *kind = store_reader_kind(r);
    int rc = 0;
    if (!kind || strcmp(kind, STAGE_POLICY)) {
        snprintf(err, errlen, "'%s' is a pgrpo %s file, not a policy (give final.h5, an SFT base or an imported file)",
                 path, kind ? kind : "(unknown)");
        rc = -1;
    }
    for (int i = 0; i < N_SHAPE && !rc; i++) {
        long v;
        if (store_get_attr_int(r, "/", SHAPE_ATTRS[i].name, &v) || v <= 0 || v > 1000000000) {
            snprintf(err, errlen, "'%s': missing or bad attribute %s", path, SHAPE_ATTRS[i].name);
            rc = -1;
        } else *shape_field(&p->cfg, i) = (int)v;
    }
    const char *ce = rc ? NULL : model_config_error(&p->cfg);
    if (ce) { snprintf(err, errlen, "'%s': %s", path, ce); rc = -1; }
    if (!rc) {
        size_t sizes[MODEL_NUM_TENSORS];
        model_param_sizes(&p->cfg, sizes, &p->n_params);
        p->params = xmalloc(p->n_params * sizeof *p->params);
        if (store_get(r, "model/params", STORE_F32, p->params, p->n_params)) { snprintf(err, errlen, "%s", store_reader_error(r)); rc = -1; }
    }
    if (!rc && store_get_attr_int(r, "/", "step", &p->step)) p->step = 0;
    if (!rc) rc = read_bpe(r, path, &p->bpe, err, errlen);
    if (!rc && !p->bpe.n_tokens) rc = read_words(r, path, p, err, errlen);
    store_close(r);
    if (rc) policy_file_free(p);
    return rc;
}

void policy_file_free(PolicyFile *p) {
    free(p->params);
    free(p->words);
    gpt2_tok_free(&p->bpe);
    memset(p, 0, sizeof *p);
}

int policy_read_tokenizer(const char *path, Gpt2Tokenizer *tok, char *err, size_t errlen) {
    memset(tok, 0, sizeof *tok);
    tok->eos_id = -1;
    StoreReader *r = store_open(path, NULL, err, errlen);
    if (!r) return -1;
    const char *kind = store_reader_kind(r);
    int rc = 0;
    if (!kind || strcmp(kind, STAGE_POLICY)) {
        snprintf(err, errlen, "'%s' is a pgrpo %s file, not a policy", path, kind ? kind : "(unknown)");
        rc = -1;
    }
    if (!rc) rc = read_bpe(r, path, tok, err, errlen);
    store_close(r);
    return rc;
}
