// model.c — the policy: a GPT-2-style decoder-only transformer in fp32 (see model.h). This file holds the
// parameters, the learner's activations and its forward/backward; the block and its kernels are in layers.c,
// sampling with the KV cache in sample.c.
#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>          // openblas_get_num_threads (the default threads), cblas_sgemm (the sgemm roof)
#include "model.h"
#include "check.h"          // CHECK, xmalloc, xcalloc
#include "layers.h"         // kernels, LayerTensors, BlockBufs, block_forward
#include "sample_cache.h"   // the KV cache this model owns

const char *const MODEL_TENSOR_NAMES[MODEL_NUM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

// ----------------------------------------------------------------------------------------------------------
// Activations of the last forward, and the scratch its backward needs. One float allocation, named pointers.
typedef struct {
    float *encoded;    // (B,T,C)
    float *ln1;        // (L,B,T,C)
    float *ln1_mean;   // (L,B,T)
    float *ln1_rstd;   // (L,B,T)
    float *qkv;        // (L,B,T,3C)
    float *atty;       // (L,B,T,C)
    float *att;        // (L,B,NH,T,T) attention probabilities, zero above the diagonal
    float *residual2;  // (L,B,T,C)
    float *ln2;        // (L,B,T,C)
    float *ln2_mean;   // (L,B,T)
    float *ln2_rstd;   // (L,B,T)
    float *fch;        // (L,B,T,4C) before GELU
    float *fch_gelu;   // (L,B,T,4C)
    float *residual3;  // (L,B,T,C)
    float *lnf;        // (B,T,C)
    float *lnf_mean;   // (B,T)
    float *lnf_rstd;   // (B,T)
    float *logits;     // (B,T,V)
    float *lse;        // (B,T) log-sum-exp of each logits row
    float *dlogits;    // (B,T,V) backward scratch
    float *dresidual;  // (B,T,C)
    float *dbuf_a;     // (B,T,4C)
    float *dbuf_b;     // (B,T,4C)
    float *datt;       // (threads,T,T) one (b,h) at a time per thread
    float *pack;       // (nn_pack_scratch_floats) the backward's packed W^T or input^T
    float *attws;      // (threads, attention_scratch_floats) attention's packed K, V, blocks
} Acts;
#define NUM_ACTS 26

struct Model {
    ModelConfig cfg;
    size_t sizes[MODEL_NUM_TENSORS];
    size_t n_params;
    float *params;     // (n_params)
    float *grads;      // (n_params)
    ParamTensors p, g;
    // activations, reserved for up to (cap_b, cap_t); per-layer slices are cap_b*cap_t rows apart
    int cap_b, cap_t;
    float *act_mem;
    int *act_tok;      // (B,T) tokens, then (B,T) targets of the last forward
    size_t act_floats;
    Acts a;
    int B, T;          // shape of the last forward (0: none yet)
    int threads;       // threads per rank (model_set_threads); cap_threads: what datt and the cache are sized for
    int cap_threads;
    SampleCache *cache; // KV cache and decode buffers of model_sample (sample.c); NULL until reserved
    float *wpack;      // (packed_weights_floats) the weight matrices packed for the forward's GEMMs: packed
                       // by each model_forward and model_sample (layers.h pack_weights), once while held
    int held;          // model_hold_weights: the caller does not change the parameters
    int packed_held;   // wpack holds the parameters as they are while held
};


// ----------------------------------------------------------------------------------------------------------
// Parameters

void model_param_sizes(const ModelConfig *cfg, size_t sizes[MODEL_NUM_TENSORS], size_t *total) {
    size_t L = cfg->n_layer, C = cfg->d_model, V = cfg->vocab, maxT = cfg->max_t;
    size_t s[MODEL_NUM_TENSORS] = {V * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
                                   L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C};
    size_t n = 0;
    for (int i = 0; i < MODEL_NUM_TENSORS; i++) { sizes[i] = s[i]; n += s[i]; }
    if (total) *total = n;
}

const char *model_config_error(const ModelConfig *cfg) {
    if (cfg->n_layer < 1) return "n_layer must be >= 1";
    if (cfg->n_head < 1) return "n_head must be >= 1";
    if (cfg->d_model < 1) return "d_model must be >= 1";
    if (cfg->d_model % cfg->n_head != 0) return "d_model must be a multiple of n_head";
    if (cfg->max_t < 2) return "max_t (context length) must be >= 2";
    if (cfg->vocab < 2) return "vocab must be >= 2";
    return NULL;
}

static ParamTensors point_tensors(float *base, const size_t sizes[MODEL_NUM_TENSORS]) {
    ParamTensors t;
    float **ptrs[MODEL_NUM_TENSORS] = {&t.wte, &t.wpe, &t.ln1w, &t.ln1b, &t.qkvw, &t.qkvb, &t.attprojw,
                                       &t.attprojb, &t.ln2w, &t.ln2b, &t.fcw, &t.fcb, &t.fcprojw, &t.fcprojb,
                                       &t.lnfw, &t.lnfb};
    for (int i = 0; i < MODEL_NUM_TENSORS; i++) { *ptrs[i] = base; base += sizes[i]; }
    return t;
}

static void fill_normal(float *x, size_t n, float std, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(r) * std);
}

Model *model_create(const ModelConfig *cfg, Rng *init_rng) {
    const char *err = model_config_error(cfg);
    CHECK(err == NULL, "model_create: invalid config: %s", err ? err : "");
    Model *m = xcalloc(1, sizeof(Model));
    m->cfg = *cfg;
    model_param_sizes(cfg, m->sizes, &m->n_params);
    m->params = xmalloc_big(m->n_params * sizeof(float));
    m->grads = xcalloc_big(m->n_params, sizeof(float));
    m->wpack = xmalloc_big(packed_weights_floats(cfg) * sizeof(float));
    m->p = point_tensors(m->params, m->sizes);
    m->g = point_tensors(m->grads, m->sizes);
    m->threads = openblas_get_num_threads(); // run.threads, as the command layer set it
    if (m->threads < 1) m->threads = 1;
    if (!init_rng) return m;   // the caller loads the parameters
    // GPT-2 init; the projections back into the residual stream are scaled by 1/sqrt(2L) so the stream's
    // variance does not grow with depth. Tensors are drawn in header order so a seed fixes every weight.
    float std = 0.02f, res_std = 0.02f / sqrtf(2.0f * cfg->n_layer);
    ParamTensors *p = &m->p;
    const size_t *s = m->sizes;
    fill_normal(p->wte, s[0], std, init_rng);
    fill_normal(p->wpe, s[1], std, init_rng);
    for (size_t i = 0; i < s[2]; i++) { p->ln1w[i] = 1.0f; p->ln1b[i] = 0.0f; }
    fill_normal(p->qkvw, s[4], std, init_rng);
    memset(p->qkvb, 0, s[5] * sizeof(float));
    fill_normal(p->attprojw, s[6], res_std, init_rng);
    memset(p->attprojb, 0, s[7] * sizeof(float));
    for (size_t i = 0; i < s[8]; i++) { p->ln2w[i] = 1.0f; p->ln2b[i] = 0.0f; }
    fill_normal(p->fcw, s[10], std, init_rng);
    memset(p->fcb, 0, s[11] * sizeof(float));
    fill_normal(p->fcprojw, s[12], res_std, init_rng);
    memset(p->fcprojb, 0, s[13] * sizeof(float));
    for (size_t i = 0; i < s[14]; i++) { p->lnfw[i] = 1.0f; p->lnfb[i] = 0.0f; }
    return m;
}

void model_free(Model *m) {
    if (!m) return;
    free(m->params); free(m->grads); free(m->wpack);
    free(m->act_mem); free(m->act_tok);
    sample_cache_free(m->cache);
    free(m);
}

const ModelConfig *model_config(const Model *m) { return &m->cfg; }
float *model_params(Model *m) { return m->params; }
float *model_grads(Model *m) { return m->grads; }
size_t model_num_params(const Model *m) { return m->n_params; }
ParamTensors model_param_tensors(Model *m) { return m->p; }
ParamTensors model_grad_tensors(Model *m) { return m->g; }
void model_zero_grad(Model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }
const float *model_logits(const Model *m) { return m->a.logits; }

void model_decay_mask(const Model *m, unsigned char *mask) {
    // Decay the matrices (embeddings and linear weights), not biases or LayerNorm gains (nanoGPT's rule).
    static const unsigned char decay[MODEL_NUM_TENSORS] = {1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0};
    size_t off = 0;
    for (int i = 0; i < MODEL_NUM_TENSORS; i++) {
        memset(mask + off, decay[i], m->sizes[i]);
        off += m->sizes[i];
    }
}

// ----------------------------------------------------------------------------------------------------------
// Reservation (all allocation happens here)

static void reserve_acts(Model *m, int nb, int nt) {
    size_t L = m->cfg.n_layer, C = m->cfg.d_model, NH = m->cfg.n_head, V = m->cfg.vocab;
    size_t BT = (size_t)nb * nt, TT = (size_t)nt * nt;
    size_t sz[NUM_ACTS] = {BT * C, L * BT * C, L * BT, L * BT, L * BT * 3 * C, L * BT * C, L * nb * NH * TT,
                           L * BT * C, L * BT * C, L * BT, L * BT, L * BT * 4 * C, L * BT * 4 * C, L * BT * C,
                           BT * C, BT, BT, BT * V, BT, BT * V, BT * C, BT * 4 * C, BT * 4 * C,
                           TT * m->threads, nn_pack_scratch_floats((int)BT, (int)C, (int)V),
                           attention_scratch_floats(nt, (int)(C / NH)) * m->threads};
    Acts *a = &m->a;
    float **ptrs[NUM_ACTS] = {&a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->att,
                              &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu,
                              &a->residual3, &a->lnf, &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->lse,
                              &a->dlogits, &a->dresidual, &a->dbuf_a, &a->dbuf_b, &a->datt, &a->pack, &a->attws};
    size_t total = 0;
    for (int i = 0; i < NUM_ACTS; i++) total += sz[i];
    free(m->act_mem); free(m->act_tok);
    m->act_mem = xmalloc_big(total * sizeof(float));
    m->act_tok = xmalloc(2 * BT * sizeof(int));
    m->act_floats = total;
    float *base = m->act_mem;
    for (int i = 0; i < NUM_ACTS; i++) { *ptrs[i] = base; base += sz[i]; }
    m->cap_b = nb; m->cap_t = nt;
    m->cap_threads = m->threads;
    m->B = m->T = 0; // the last forward's activations are gone
}

void model_reserve(Model *m, int B, int T, int n_seq) {
    CHECK(B >= 0 && T >= 0 && n_seq >= 0 && T <= m->cfg.max_t, "model_reserve(%d,%d,%d)", B, T, n_seq);
    int nb = B > m->cap_b ? B : m->cap_b, nt = T > m->cap_t ? T : m->cap_t;
    if ((nb != m->cap_b || nt != m->cap_t || m->threads > m->cap_threads) && nb > 0 && nt > 0)
        reserve_acts(m, nb, nt);
    if (n_seq > 0) m->cache = sample_cache_grow(m->cache, &m->cfg, n_seq, m->threads);
}

SampleCache *model_sample_cache(Model *m, int n_seq) {
    model_reserve(m, 0, 0, n_seq);
    return m->cache;
}

const float *model_packed_weights(Model *m) {
    if (!(m->held && m->packed_held)) pack_weights(m->wpack, &m->cfg, &m->p);
    m->packed_held = m->held;
    return m->wpack;
}

void model_hold_weights(Model *m, int held) {
    m->held = held;
    m->packed_held = 0;   // a hold starts from the parameters as they are now
}

void model_set_threads(Model *m, int threads) {
    CHECK(threads >= 1, "model_set_threads(%d)", threads);
    m->threads = threads;
    if (threads > m->cap_threads && m->cap_b > 0) reserve_acts(m, m->cap_b, m->cap_t);
    if (m->cache) m->cache = sample_cache_grow(m->cache, &m->cfg, 1, threads);
}

int model_threads(const Model *m) { return m->threads; }

size_t model_activation_bytes(const Model *m) {
    return (m->act_floats + packed_weights_floats(&m->cfg)) * sizeof(float) +
           (size_t)2 * m->cap_b * m->cap_t * sizeof(int) + sample_cache_bytes(m->cache);
}

// ----------------------------------------------------------------------------------------------------------
// Forward / backward

// Layer l's activations of the last forward (B*T rows; slices are cap_b*cap_t rows apart), named once for
// block_forward and layer_backward.
static BlockBufs layer_acts(const Model *m, int l) {
    const Acts *a = &m->a;
    size_t C = m->cfg.d_model, lbt = (size_t)m->cap_b * m->cap_t, row = l * lbt;
    BlockBufs b = {
        .in = l == 0 ? a->encoded : a->residual3 + (row - lbt) * C,
        .ln1 = a->ln1 + row * C, .ln1_mean = a->ln1_mean + row, .ln1_rstd = a->ln1_rstd + row,
        .qkv = a->qkv + row * 3 * C,
        .atty = a->atty + row * C,
        .res2 = a->residual2 + row * C,
        .ln2 = a->ln2 + row * C, .ln2_mean = a->ln2_mean + row, .ln2_rstd = a->ln2_rstd + row,
        .fch = a->fch + row * 4 * C, .fch_gelu = a->fch_gelu + row * 4 * C,
        .out = a->residual3 + row * C,
    };
    return b;
}

// The learner's attention: whole sequences (B,T), probabilities kept in att (B,NH,T,T) for backward.
typedef struct { float *att, *ws; int B, T, C, NH; } LearnerAttention;

static void learner_attend(void *ctx, float *atty, const float *qkv) {
    const LearnerAttention *la = ctx;
    attention_forward(atty, la->att, qkv, la->ws, la->B, la->T, la->C, la->NH);
}

// Copies tokens and targets (B*T each) into the model for backward, checking they are in the vocabulary.
static void keep_batch(Model *m, const int *tokens, const int *targets, int BT) {
    int V = m->cfg.vocab, *tok = m->act_tok, *tgt = m->act_tok + BT;
    for (int i = 0; i < BT; i++) {
        CHECK(tokens[i] >= 0 && tokens[i] < V && targets[i] >= 0 && targets[i] < V,
              "model_forward: token %d / target %d out of vocab %d", tokens[i], targets[i], V);
        tok[i] = tokens[i]; tgt[i] = targets[i];
    }
}

// Per row r of logits (BT,V): lse[r], and logp[r] of tgt[r] and the entropy[r] (either may be NULL).
// Two reads of each row: its max, then the exponentials' sum and p-weighted logit sum in one pass.
static void logits_to_logp(const float *logits, float *lse, const int *tgt, int BT, int V, float *logp,
                           float *entropy) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < BT; r++) {
        const float *z = logits + (size_t)r * V;
        float mx = vmax(z, V), ez;
        float sum = vexp_sum_dot(z, mx, V, &ez);
        float l = mx + logf(sum);
        lse[r] = l;
        if (logp) logp[r] = z[tgt[r]] - l;
        if (entropy) entropy[r] = l - ez / sum; // H = lse - E_p[z]
    }
}

void model_forward(Model *m, const int *tokens, const int *targets, int B, int T, float *logp, float *entropy) {
    const ModelConfig *cfg = &m->cfg;
    int L = cfg->n_layer, C = cfg->d_model, NH = cfg->n_head, V = cfg->vocab;
    CHECK(B >= 1 && T >= 1 && T <= cfg->max_t, "model_forward: B=%d T=%d (max_t %d)", B, T, cfg->max_t);
    if (B > m->cap_b || T > m->cap_t || m->threads > m->cap_threads) model_reserve(m, B, T, 0);
    int BT = B * T;
    NnThreads saved = nn_enter(m->threads);
    keep_batch(m, tokens, targets, BT);
    m->B = B; m->T = T;
    Acts *a = &m->a;
    const ParamTensors *p = &m->p;
    size_t latt = (size_t)m->cap_b * NH * m->cap_t * m->cap_t; // floats between layer slices of att
    const float *wpack = model_packed_weights(m);
    encoder_forward(a->encoded, m->act_tok, p->wte, p->wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        LayerTensors w = layer_tensors(p, l, C);
        PackedLayer pk = packed_layer(wpack, cfg, l);
        BlockBufs b = layer_acts(m, l);
        LearnerAttention la = {a->att + l * latt, a->attws, B, T, C, NH};
        block_forward(&w, &pk, &b, BT, C, learner_attend, &la);
    }
    const float *res_out = layer_acts(m, L - 1).out; // (B,T,C)
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, res_out, p->lnfw, p->lnfb, BT, C);
    lm_head_forward(a->logits, a->lnf, packed_wte(wpack, cfg), BT, C, V);
    logits_to_logp(a->logits, a->lse, m->act_tok + BT, BT, V, logp, entropy);
    nn_leave(saved);
}

// Backward of one block (layer l) of the last forward: dres (B*T,C) is d(block output) on entry and d(block
// input) on exit; dbuf_a, dbuf_b are scratch.
static void layer_backward(Model *m, int l) {
    int C = m->cfg.d_model, NH = m->cfg.n_head, B = m->B, T = m->T, BT = B * T;
    Acts *a = &m->a;
    LayerTensors w = layer_tensors(&m->p, l, C), g = layer_tensors(&m->g, l, C);
    BlockBufs b = layer_acts(m, l);
    const float *att = a->att + l * ((size_t)m->cap_b * NH * m->cap_t * m->cap_t);
    float *da = a->dbuf_a, *db = a->dbuf_b, *dres = a->dresidual, *pk = a->pack;
    // out = res2 + fcproj(gelu(fc(ln2(res2)))): dres flows through unchanged
    matmul_backward(da, g.fcprojw, g.fcprojb, dres, b.fch_gelu, w.fcprojw, pk, BT, 4 * C, C);
    gelu_backward(da, b.fch, (size_t)BT * 4 * C);
    matmul_backward(db, g.fcw, g.fcb, da, b.ln2, w.fcw, pk, BT, C, 4 * C);
    layernorm_backward(dres, g.ln2w, g.ln2b, db, b.res2, w.ln2w, b.ln2_mean, b.ln2_rstd, BT, C);
    // res2 = in + attproj(attention(qkv(ln1(in))))
    matmul_backward(da, g.attprojw, g.attprojb, dres, b.atty, w.attprojw, pk, BT, C, C);
    attention_backward(db, a->datt, da, b.qkv, att, a->attws, B, T, C, NH);
    matmul_backward(da, g.qkvw, g.qkvb, db, b.ln1, w.qkvw, pk, BT, C, 3 * C);
    layernorm_backward(dres, g.ln1w, g.ln1b, da, b.in, w.ln1w, b.ln1_mean, b.ln1_rstd, BT, C);
}

void model_backward(Model *m, const float *dlogp) {
    CHECK(m->B > 0, "model_backward without a forward");
    const ModelConfig *cfg = &m->cfg;
    int L = cfg->n_layer, C = cfg->d_model, V = cfg->vocab;
    int B = m->B, T = m->T, BT = B * T;
    const int *tok = m->act_tok, *tgt = m->act_tok + BT;
    Acts *a = &m->a;
    const ParamTensors *p = &m->p;
    const ParamTensors *g = &m->g;
    NnThreads saved = nn_enter(m->threads);
    // log-softmax: dlogits[v] = dlogp * (1[v == target] - softmax[v])
#pragma omp parallel for schedule(static)
    for (int r = 0; r < BT; r++) {
        float *dl = a->dlogits + (size_t)r * V;
        float d = dlogp[r];
        if (d == 0.0f) { memset(dl, 0, (size_t)V * sizeof(float)); continue; }
        const float *z = a->logits + (size_t)r * V;
        float l = a->lse[r];
        for (int v = 0; v < V; v++) dl[v] = exp_fast(z[v] - l) * -d; // one pass
        dl[tgt[r]] += d;
    }
    // tied LM head: dlnf = dlogits wte; dwte += dlogits^T lnf
    lm_head_backward(a->dbuf_a, g->wte, a->dlogits, a->lnf, p->wte, a->pack, BT, C, V);
    memset(a->dresidual, 0, (size_t)BT * C * sizeof(float));
    layernorm_backward(a->dresidual, g->lnfw, g->lnfb, a->dbuf_a, layer_acts(m, L - 1).out, p->lnfw,
                       a->lnf_mean, a->lnf_rstd, BT, C);
    for (int l = L - 1; l >= 0; l--) layer_backward(m, l);
    encoder_backward(g->wte, g->wpe, a->dresidual, tok, B, T, C, V);
    nn_leave(saved);
}

// FLOPs of one forward+backward over (B,T), nanoGPT/PaLM convention: 6 N per token for the weights (N = all
// parameters except wpe; wte counts because it is the LM head) plus 12 L T C per token for attention
// (QK^T and AV, forward 2x and backward 4x, counted over the full T*T although causality skips about half).
double model_train_flops(const ModelConfig *cfg, int B, int T) {
    size_t sizes[MODEL_NUM_TENSORS], total;
    model_param_sizes(cfg, sizes, &total);
    double N = (double)(total - sizes[1]);
    double tokens = (double)B * T;
    return 6.0 * N * tokens + 12.0 * cfg->n_layer * (double)cfg->d_model * T * tokens;
}

double model_sgemm_gflops(int n) {
    float *a = xmalloc(sizeof(float) * (size_t)n * n * 3), *b = a + (size_t)n * n, *c = b + (size_t)n * n;
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int rep = 0; rep < 4; rep++) {   // the best of a few: the roof, not the noise
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        double g = 2.0 * n * (double)n * n / (s > 0 ? s : 1e-9) * 1e-9;
        if (rep > 0 && g > best) best = g;   // rep 0 warms the caches and OpenBLAS's buffers
    }
    free(a);
    return best;
}
