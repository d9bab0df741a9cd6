// gpt2_hf.c — Hugging Face GPT-2 (config.json + safetensors) to pgrpo's parameter block and back (gpt2_io.h).
#include "check.h"
#include "gpt2_io.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "safetensors.h"

// pgrpo tensor indices (model.h order).
enum { T_WTE, T_WPE, T_LN1W, T_LN1B, T_QKVW, T_QKVB, T_APW, T_APB, T_LN2W, T_LN2B, T_FCW, T_FCB, T_FCPW, T_FCPB,
       T_LNFW, T_LNFB };

// Per-layer HF names; `transpose`: a Conv1D weight stored (in,out) where pgrpo keeps (out,in).
static const struct { const char *suffix; int tensor, transpose; } LAYER_MAP[] = {
    {"ln_1.weight", T_LN1W, 0},        {"ln_1.bias", T_LN1B, 0},       {"attn.c_attn.weight", T_QKVW, 1},
    {"attn.c_attn.bias", T_QKVB, 0},   {"attn.c_proj.weight", T_APW, 1}, {"attn.c_proj.bias", T_APB, 0},
    {"ln_2.weight", T_LN2W, 0},        {"ln_2.bias", T_LN2B, 0},       {"mlp.c_fc.weight", T_FCW, 1},
    {"mlp.c_fc.bias", T_FCB, 0},       {"mlp.c_proj.weight", T_FCPW, 1}, {"mlp.c_proj.bias", T_FCPB, 0}};
enum { N_LAYER_MAP = sizeof LAYER_MAP / sizeof LAYER_MAP[0] };

// One expected HF tensor: where it goes in the block and its HF shape.
typedef struct {
    char name[64];
    int tensor, layer, transpose;
    int ndim;
    uint64_t shape[2];   // HF shape
    int seen;
} Want;

static int per_layer(int k) { return k >= T_LN1W && k <= T_FCPB; }

// pgrpo (rows, cols) of one layer's slice of tensor k (cols 0: a vector).
static void layer_shape(const ModelConfig *c, int k, uint64_t *rows, uint64_t *cols) {
    uint64_t C = (uint64_t)c->d_model;
    *cols = 0;
    switch (k) {
    case T_QKVW: *rows = 3 * C; *cols = C; break;
    case T_APW: *rows = C; *cols = C; break;
    case T_FCW: *rows = 4 * C; *cols = C; break;
    case T_FCPW: *rows = C; *cols = 4 * C; break;
    case T_QKVB: *rows = 3 * C; break;
    case T_FCB: *rows = 4 * C; break;
    default: *rows = C; break;
    }
}

static Want *want_table(const ModelConfig *c, int n_positions, int *n_out) {
    int n = 4 + N_LAYER_MAP * c->n_layer, i = 0;
    Want *w = calloc((size_t)n, sizeof *w);
    if (!w) return NULL;
    uint64_t V = (uint64_t)c->vocab, C = (uint64_t)c->d_model;
    w[i++] = (Want){"wte.weight", T_WTE, 0, 0, 2, {V, C}, 0};
    w[i++] = (Want){"wpe.weight", T_WPE, 0, 0, 2, {(uint64_t)n_positions, C}, 0};
    w[i++] = (Want){"ln_f.weight", T_LNFW, 0, 0, 1, {C, 0}, 0};
    w[i++] = (Want){"ln_f.bias", T_LNFB, 0, 0, 1, {C, 0}, 0};
    for (int l = 0; l < c->n_layer; l++)
        for (int j = 0; j < N_LAYER_MAP; j++, i++) {
            Want *x = &w[i];
            snprintf(x->name, sizeof x->name, "h.%d.%s", l, LAYER_MAP[j].suffix);
            x->tensor = LAYER_MAP[j].tensor;
            x->layer = l;
            x->transpose = LAYER_MAP[j].transpose;
            uint64_t r, cc;
            layer_shape(c, x->tensor, &r, &cc);
            x->ndim = cc ? 2 : 1;
            x->shape[0] = x->transpose ? cc : r;   // Conv1D: (in, out)
            x->shape[1] = x->transpose ? r : cc;
        }
    *n_out = n;
    return w;
}

// ---- config.json ----

// Integer key (with its alias) into *out; required unless dflt >= 0.
static int cfg_int(json_t *root, const char *key, const char *alias, long dflt, long *out, const char *path,
                   char *err, size_t errlen) {
    json_t *v = json_object_get(root, key);
    if (!v && alias) v = json_object_get(root, alias);
    if (!v || json_is_null(v)) {
        if (dflt >= 0) { *out = dflt; return 0; }
        return check_errf(err, errlen, "%s: key '%s' missing (expected a positive integer)", path, key);
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1000000000)
        return check_errf(err, errlen, "%s: key '%s' must be a positive integer", path, key);
    *out = (long)json_integer_value(v);
    return 0;
}

// A boolean key that must be absent or equal to `want`.
static int cfg_bool(json_t *root, const char *key, int want, const char *path, char *err, size_t errlen) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v) || json_is_true(v) != want)
        return check_errf(err, errlen, "%s: key '%s' must be %s for a GPT-2 pgrpo can run", path, key, want ? "true" : "false");
    return 0;
}

static int cfg_model(json_t *root, const char *path, ModelConfig *c, int *n_positions, char *err, size_t errlen) {
    json_t *v = json_object_get(root, "model_type");
    if (!json_is_string(v) || strcmp(json_string_value(v), "gpt2"))
        return check_errf(err, errlen, "%s: model_type is %s, expected \"gpt2\"", path,
                    json_is_string(v) ? json_string_value(v) : "missing or not a string");
    v = json_object_get(root, "activation_function");
    const char *act = v ? json_string_value(v) : "gelu_new";
    if (!act || (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh")))
        return check_errf(err, errlen, "%s: activation_function is \"%s\", expected \"gelu_new\" or \"gelu_pytorch_tanh\" (pgrpo's GELU is the tanh form)",
                    path, act ? act : "(not a string)");
    v = json_object_get(root, "layer_norm_epsilon");
    if (v && (!json_is_number(v) || json_number_value(v) != 1e-5))
        return check_errf(err, errlen, "%s: layer_norm_epsilon is %g, expected 1e-05 (pgrpo's LayerNorm)", path,
                    json_is_number(v) ? json_number_value(v) : NAN);
    long L, H, C, V, P, inner;
    if (cfg_int(root, "n_layer", "num_hidden_layers", -1, &L, path, err, errlen) ||
        cfg_int(root, "n_head", "num_attention_heads", -1, &H, path, err, errlen) ||
        cfg_int(root, "n_embd", "hidden_size", -1, &C, path, err, errlen) ||
        cfg_int(root, "vocab_size", NULL, -1, &V, path, err, errlen) ||
        cfg_int(root, "n_positions", "max_position_embeddings", 0, &P, path, err, errlen))
        return -1;
    if (!P && cfg_int(root, "n_ctx", NULL, -1, &P, path, err, errlen)) return -1;
    if (cfg_int(root, "n_inner", NULL, 0, &inner, path, err, errlen)) return -1;
    if (inner && inner != 4 * C)
        return check_errf(err, errlen, "%s: n_inner is %ld, expected null or 4*n_embd = %ld (pgrpo's MLP width)", path, inner, 4 * C);
    if (C % H) return check_errf(err, errlen, "%s: n_embd %ld is not divisible by n_head %ld", path, C, H);
    // Before any size arithmetic: a parameter count beyond 2^40 is a broken file, and would overflow below.
    double np = (double)V * C + (double)P * C + (double)L * (12.0 * C * C + 13.0 * C) + 2.0 * C;
    if (np > 1099511627776.0)
        return check_errf(err, errlen, "%s: n_layer %ld, n_embd %ld, vocab_size %ld, n_positions %ld make %.3g parameters (expected < 2^40)",
                    path, L, C, V, P, np);
    if (cfg_bool(root, "scale_attn_by_inverse_layer_idx", 0, path, err, errlen) ||
        cfg_bool(root, "add_cross_attention", 0, path, err, errlen) ||
        cfg_bool(root, "scale_attn_weights", 1, path, err, errlen) ||
        cfg_bool(root, "tie_word_embeddings", 1, path, err, errlen))
        return -1;
    *c = (ModelConfig){.n_layer = (int)L, .n_head = (int)H, .d_model = (int)C, .max_t = (int)P, .vocab = (int)V};
    *n_positions = (int)P;
    return 0;
}

static int read_config(const char *dir, Gpt2Weights *w, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return check_errf(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
    int rc = json_is_object(root) ? cfg_model(root, path, &w->cfg, &w->n_positions, err, errlen)
                                  : check_errf(err, errlen, "%s: not a JSON object", path);
    json_t *e = json_object_get(root, "eos_token_id");
    w->eos_id = json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) < w->cfg.vocab
                    ? (int)json_integer_value(e) : -1;
    json_decref(root);
    return rc;
}

// ---- tensors ----

static int is_buffer(const char *name, int n_layer) {
    int l, end = 0;
    if (sscanf(name, "h.%d.attn.%n", &l, &end) != 1 || !end || l < 0 || l >= n_layer) return 0;
    char canon[64];
    snprintf(canon, sizeof canon, "h.%d.attn.", l);
    if (strncmp(name, canon, strlen(canon))) return 0;
    return !strcmp(name + end, "bias") || !strcmp(name + end, "masked_bias");
}

// dst (cols,rows) = src (rows,cols) transposed, in 32x32 tiles: the plain double loop strides through memory on
// every write and was half of a 124M import.
static void transpose(const float *src, size_t rows, size_t cols, float *dst) {
    enum { TILE = 32 };
    for (size_t i0 = 0; i0 < rows; i0 += TILE)
        for (size_t j0 = 0; j0 < cols; j0 += TILE) {
            size_t i1 = i0 + TILE < rows ? i0 + TILE : rows, j1 = j0 + TILE < cols ? j0 + TILE : cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++) dst[j * rows + i] = src[i * cols + j];
        }
}

static void shape_str(char *buf, size_t n, int ndim, const uint64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

// Copies one HF tensor into its place in the block (transposed / truncated as needed); tmp holds >= its size.
static int load_one(const StFile *f, const StTensor *t, const Want *x, const size_t *sizes, const size_t *offs,
                    const ModelConfig *c, float *params, float *tmp, char *err, size_t errlen) {
    if (t->ndim != x->ndim || t->shape[0] != x->shape[0] || (x->ndim == 2 && t->shape[1] != x->shape[1])) {
        char got[96], want[96];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, x->ndim, x->shape);
        return check_errf(err, errlen, "%s: tensor '%s': shape %s, expected %s from config.json", t->file, t->name, got, want);
    }
    size_t per = per_layer(x->tensor) ? sizes[x->tensor] / (size_t)c->n_layer : sizes[x->tensor];
    float *dst = params + offs[x->tensor] + (size_t)x->layer * per;
    if (x->tensor == T_WPE) {   // keep the first max_t positions
        if (st_read_f32(f, t, tmp, t->n_elems, err, errlen)) return -1;
        memcpy(dst, tmp, per * sizeof *dst);
        return 0;
    }
    if (!x->transpose) return st_read_f32(f, t, dst, per, err, errlen);
    if (st_read_f32(f, t, tmp, per, err, errlen)) return -1;
    transpose(tmp, (size_t)x->shape[0], (size_t)x->shape[1], dst);
    return 0;
}

// lm_head.weight must be wte bit for bit (a tied head); an untied head is not pgrpo's model.
static int check_lm_head(const StFile *f, const StTensor *t, const float *wte, const ModelConfig *c, float *tmp,
                         char *err, size_t errlen) {
    uint64_t V = (uint64_t)c->vocab, C = (uint64_t)c->d_model;
    if (t->ndim != 2 || t->shape[0] != V || t->shape[1] != C)
        return check_errf(err, errlen, "%s: tensor 'lm_head.weight': shape differs from wte [%llu, %llu]", t->file,
                    (unsigned long long)V, (unsigned long long)C);
    if (st_read_f32(f, t, tmp, (size_t)(V * C), err, errlen)) return -1;
    for (size_t i = 0; i < V * C; i++)
        if (memcmp(&tmp[i], &wte[i], sizeof(float)))
            return check_errf(err, errlen, "%s: tensor 'lm_head.weight' differs from wte at element %zu (%g vs %g): an untied head is not supported",
                        t->file, i, tmp[i], wte[i]);
    return 0;
}

// Classifies every file tensor (expected, buffer, lm_head, or an error), then loads the expected ones.
static int load_tensors(const StFile *f, Want *wt, int nw, Gpt2Weights *w, char *err, size_t errlen) {
    const char *prefix = st_find(f, "transformer.wte.weight") ? "transformer." : "";
    size_t pl = strlen(prefix), sizes[MODEL_NUM_TENSORS], offs[MODEL_NUM_TENSORS], total, biggest = 0;
    model_param_sizes(&w->cfg, sizes, &total);
    offs[0] = 0;
    for (int k = 1; k < MODEL_NUM_TENSORS; k++) offs[k] = offs[k - 1] + sizes[k - 1];
    for (int i = 0; i < nw; i++) {
        size_t n = (size_t)wt[i].shape[0] * (wt[i].ndim == 2 ? (size_t)wt[i].shape[1] : 1);
        if (n > biggest) biggest = n;
    }
    const StTensor *head = NULL;
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_tensor(f, i);
        if (!strcmp(t->name, "lm_head.weight")) { head = t; continue; }
        if (strncmp(t->name, prefix, pl))
            return check_errf(err, errlen, "%s: tensor '%s': unexpected name (the file's other tensors carry the prefix '%s')", t->file, t->name, prefix);
        const char *nm = t->name + pl;
        if (is_buffer(nm, w->cfg.n_layer)) continue;   // causal-mask buffers: skipped by name, whatever their dtype
        Want *x = NULL;
        for (int j = 0; j < nw && !x; j++)
            if (!strcmp(wt[j].name, nm)) x = &wt[j];
        if (!x) return check_errf(err, errlen, "%s: tensor '%s': not a GPT-2 tensor for n_layer=%d (unexpected extra tensor)", t->file, t->name, w->cfg.n_layer);
        x->seen = 1;
    }
    for (int j = 0; j < nw; j++)
        if (!wt[j].seen) return check_errf(err, errlen, "%s: tensor '%s%s' missing (expected by config.json n_layer=%d)",
                                     f && st_count(f) ? st_tensor(f, 0)->file : "model.safetensors", prefix, wt[j].name, w->cfg.n_layer);
    float *tmp = malloc(biggest * sizeof *tmp);
    if (!tmp) return check_errf(err, errlen, "out of memory (%zu floats)", biggest);
    int rc = 0;
    char full[128];
    for (int j = 0; j < nw && !rc; j++) {
        snprintf(full, sizeof full, "%s%s", prefix, wt[j].name);
        rc = load_one(f, st_find(f, full), &wt[j], sizes, offs, &w->cfg, w->params, tmp, err, errlen);
    }
    if (!rc && head) rc = check_lm_head(f, head, w->params, &w->cfg, tmp, err, errlen);
    free(tmp);
    return rc;
}

int gpt2_hf_read(const char *dir, int context, Gpt2Weights *w, char *err, size_t errlen) {
    memset(w, 0, sizeof *w);
    if (read_config(dir, w, err, errlen)) return -1;
    if (context < 0 || context > w->n_positions)
        return check_errf(err, errlen, "%s/config.json: n_positions is %d but a context of %d was asked for (expected <= n_positions)",
                    dir, w->n_positions, context);
    w->cfg.max_t = context ? context : w->n_positions;
    const char *e = model_config_error(&w->cfg);
    if (e) return check_errf(err, errlen, "%s/config.json: %s", dir, e);
    StFile *f = st_open_dir(dir, err, errlen);
    if (!f) return -1;
    int nw;
    Want *wt = want_table(&w->cfg, w->n_positions, &nw);
    size_t sizes[MODEL_NUM_TENSORS];
    model_param_sizes(&w->cfg, sizes, &w->n_params);
    w->params = malloc(w->n_params * sizeof *w->params);
    int rc = !wt || !w->params ? check_errf(err, errlen, "%s: out of memory for %zu parameters", dir, w->n_params)
                               : load_tensors(f, wt, nw, w, err, errlen);
    free(wt);
    st_close(f);
    if (rc) gpt2_weights_free(w);
    return rc;
}

void gpt2_weights_free(Gpt2Weights *w) {
    free(w->params);
    w->params = NULL;
}

// ---- export ----

static int write_config(const char *dir, const ModelConfig *c, int eos_id, char *err, size_t errlen) {
    json_t *r = json_object();
    json_t *arch = json_array();
    json_array_append_new(arch, json_string("GPT2LMHeadModel"));
    json_object_set_new(r, "architectures", arch);
    json_object_set_new(r, "model_type", json_string("gpt2"));
    json_object_set_new(r, "vocab_size", json_integer(c->vocab));
    json_object_set_new(r, "n_positions", json_integer(c->max_t));
    json_object_set_new(r, "n_ctx", json_integer(c->max_t));
    json_object_set_new(r, "n_embd", json_integer(c->d_model));
    json_object_set_new(r, "n_layer", json_integer(c->n_layer));
    json_object_set_new(r, "n_head", json_integer(c->n_head));
    json_object_set_new(r, "n_inner", json_null());
    json_object_set_new(r, "activation_function", json_string("gelu_new"));
    json_object_set_new(r, "layer_norm_epsilon", json_real(1e-5));
    json_object_set_new(r, "scale_attn_weights", json_true());
    json_object_set_new(r, "scale_attn_by_inverse_layer_idx", json_false());
    json_object_set_new(r, "reorder_and_upcast_attn", json_false());
    json_object_set_new(r, "tie_word_embeddings", json_true());
    json_object_set_new(r, "resid_pdrop", json_real(0.0));
    json_object_set_new(r, "embd_pdrop", json_real(0.0));
    json_object_set_new(r, "attn_pdrop", json_real(0.0));
    if (eos_id >= 0) {
        json_object_set_new(r, "bos_token_id", json_integer(eos_id));
        json_object_set_new(r, "eos_token_id", json_integer(eos_id));
    }
    json_object_set_new(r, "torch_dtype", json_string("float32"));
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = json_dump_file(r, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(r);
    return rc ? check_errf(err, errlen, "%s: cannot write", path) : 0;
}

int gpt2_hf_write(const char *dir, const ModelConfig *c, const float *params, int eos_id, char *err, size_t errlen) {
    size_t sizes[MODEL_NUM_TENSORS], offs[MODEL_NUM_TENSORS], total;
    model_param_sizes(c, sizes, &total);
    offs[0] = 0;
    for (int k = 1; k < MODEL_NUM_TENSORS; k++) offs[k] = offs[k - 1] + sizes[k - 1];
    int nw;
    Want *wt = want_table(c, c->max_t, &nw);
    size_t n_tr = sizes[T_QKVW] + sizes[T_APW] + sizes[T_FCW] + sizes[T_FCPW];
    float *tr = malloc(n_tr * sizeof *tr), *q = tr;   // the Conv1D weights in HF's (in,out) layout
    StWriteTensor *st = malloc((size_t)nw * sizeof *st);
    if (!wt || !tr || !st) { free(wt); free(tr); free(st); return check_errf(err, errlen, "%s: out of memory", dir); }
    for (int j = 0; j < nw; j++) {
        const Want *x = &wt[j];
        size_t per = per_layer(x->tensor) ? sizes[x->tensor] / (size_t)c->n_layer : sizes[x->tensor];
        const float *src = params + offs[x->tensor] + (size_t)x->layer * per;
        st[j] = (StWriteTensor){.name = x->name, .ndim = x->ndim, .shape = {x->shape[0], x->shape[1]}, .data = src};
        if (!x->transpose) continue;
        size_t in = (size_t)x->shape[0], out = (size_t)x->shape[1];
        transpose(src, out, in, q);   // pgrpo (out,in) -> HF (in,out)
        st[j].data = q;
        q += in * out;
    }
    static const char *const keys[] = {"format"}, *const values[] = {"pt"};
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = st_write_f32(path, st, nw, keys, values, 1, err, errlen);
    free(wt);
    free(tr);
    free(st);
    return rc ? rc : write_config(dir, c, eos_id, err, errlen);
}
