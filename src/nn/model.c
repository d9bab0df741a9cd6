// model.c — the policy: a GPT-2-style decoder-only transformer in fp32 (see model.h).
// Layer functions are free functions over raw float arrays, forward and backward side by side, llm.c style.
// Every dense product goes through cblas_sgemm; the elementwise loops are written so GCC vectorises them
// without -ffast-math (fixed 8-lane accumulators, a branch-free exp), so the non-GEMM work stays small.
#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>          // cblas_sgemm: every dense product
#include "model.h"
#include "check.h"          // CHECK, xmalloc, xcalloc

const char *const MODEL_TENSOR_NAMES[MODEL_NUM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

#define LN_EPS 1e-5f
#define GELU_K 0.7978845608028654f  // sqrt(2/pi)
#define GELU_C 0.044715f
// Causal attention is computed in row blocks: rows [i0,i1) only see keys [0,i1), so the GEMMs skip the
// strictly-upper blocks (about half the T*T work for long T) while each call stays large enough for BLAS.
#define ATT_BLOCK 32
#define LANES 8
// model_sample prefills the prompts in chunks of up to this many packed positions: enough rows for the
// GEMMs to run near their peak, few enough that the scratch stays small next to the KV cache.
#define PREFILL_ROWS 1024

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
    float *dlogits;    // (B,T,V) backward scratch; also exp scratch in forward
    float *dresidual;  // (B,T,C)
    float *dbuf_a;     // (B,T,4C)
    float *dbuf_b;     // (B,T,4C)
    float *datt;       // (T,T) one (b,h) at a time
} Acts;
#define NUM_ACTS 24

// KV cache and per-step buffers of model_sample, for up to n_seq sequences.
typedef struct {
    float *kcache;     // (L,n_seq,maxT,C)
    float *vcache;     // (L,n_seq,maxT,C)
    float *x;          // (n_seq,C) residual stream of the active rows
    float *xn;         // (n_seq,C)
    float *qkv;        // (n_seq,3C)
    float *y;          // (n_seq,C)
    float *h;          // (n_seq,4C)
    float *logits;     // (n_seq,V)
    float *probs;      // (V)
    float *scores;     // (maxT)
    // prefill of a chunk of R packed prompt positions, R = cap_pre
    float *px;         // (R,C) residual stream
    float *pxn;        // (R,C) LayerNorm output, then attention output (free again once qkv is computed)
    float *pbig;       // (R,4C) qkv (R,3C), then the MLP hidden (R,4C)
    float *patt;       // (ATT_BLOCK,maxT) attention scores of one row block
} SampleBufs;
#define NUM_SAMPLE_BUFS 14

typedef struct { float v; int i; } SortPair;

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
    // sampling, reserved for up to cap_n sequences
    int cap_n;
    int cap_pre;       // rows of a prefill chunk
    float *smp_mem;
    int *smp_int;      // pos, done, active, sample_rows: (n_seq) each
    SortPair *pairs;   // (V)
    size_t smp_floats;
    SampleBufs s;
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
    m->params = xmalloc(m->n_params * sizeof(float));
    m->grads = xcalloc(m->n_params, sizeof(float));
    m->p = point_tensors(m->params, m->sizes);
    m->g = point_tensors(m->grads, m->sizes);
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
    free(m->params); free(m->grads);
    free(m->act_mem); free(m->act_tok);
    free(m->smp_mem); free(m->smp_int); free(m->pairs);
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

void model_reserve(Model *m, int B, int T, int n_seq) {
    CHECK(B >= 0 && T >= 0 && n_seq >= 0 && T <= m->cfg.max_t, "model_reserve(%d,%d,%d)", B, T, n_seq);
    size_t L = m->cfg.n_layer, C = m->cfg.d_model, NH = m->cfg.n_head, V = m->cfg.vocab, maxT = m->cfg.max_t;
    int nb = B > m->cap_b ? B : m->cap_b, nt = T > m->cap_t ? T : m->cap_t;
    if ((nb != m->cap_b || nt != m->cap_t) && nb > 0 && nt > 0) {
        size_t BT = (size_t)nb * nt, TT = (size_t)nt * nt;
        size_t sz[NUM_ACTS] = {BT * C, L * BT * C, L * BT, L * BT, L * BT * 3 * C, L * BT * C, L * nb * NH * TT,
                               L * BT * C, L * BT * C, L * BT, L * BT, L * BT * 4 * C, L * BT * 4 * C, L * BT * C,
                               BT * C, BT, BT, BT * V, BT, BT * V, BT * C, BT * 4 * C, BT * 4 * C, TT};
        Acts *a = &m->a;
        float **ptrs[NUM_ACTS] = {&a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->att,
                                  &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu,
                                  &a->residual3, &a->lnf, &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->lse,
                                  &a->dlogits, &a->dresidual, &a->dbuf_a, &a->dbuf_b, &a->datt};
        size_t total = 0;
        for (int i = 0; i < NUM_ACTS; i++) total += sz[i];
        free(m->act_mem); free(m->act_tok);
        m->act_mem = xmalloc(total * sizeof(float));
        m->act_tok = xmalloc(2 * BT * sizeof(int));
        m->act_floats = total;
        float *base = m->act_mem;
        for (int i = 0; i < NUM_ACTS; i++) { *ptrs[i] = base; base += sz[i]; }
        m->cap_b = nb; m->cap_t = nt;
        m->B = m->T = 0; // the last forward's activations are gone
    }
    if (n_seq > m->cap_n) {
        size_t N = n_seq, R = N * maxT < PREFILL_ROWS ? N * maxT : PREFILL_ROWS;
        size_t sz[NUM_SAMPLE_BUFS] = {L * N * maxT * C, L * N * maxT * C, N * C, N * C, N * 3 * C, N * C,
                                      N * 4 * C, N * V, V, maxT, R * C, R * C, R * 4 * C, ATT_BLOCK * maxT};
        SampleBufs *s = &m->s;
        float **ptrs[NUM_SAMPLE_BUFS] = {&s->kcache, &s->vcache, &s->x, &s->xn, &s->qkv, &s->y, &s->h,
                                         &s->logits, &s->probs, &s->scores, &s->px, &s->pxn, &s->pbig,
                                         &s->patt};
        size_t total = 0;
        for (int i = 0; i < NUM_SAMPLE_BUFS; i++) total += sz[i];
        free(m->smp_mem); free(m->smp_int); free(m->pairs);
        m->smp_mem = xmalloc(total * sizeof(float));
        m->smp_int = xmalloc(4 * N * sizeof(int));
        m->pairs = xmalloc(V * sizeof(SortPair));
        m->smp_floats = total;
        float *base = m->smp_mem;
        for (int i = 0; i < NUM_SAMPLE_BUFS; i++) { *ptrs[i] = base; base += sz[i]; }
        m->cap_n = n_seq;
        m->cap_pre = (int)R;
    }
}

size_t model_activation_bytes(const Model *m) {
    return m->act_floats * sizeof(float) + (size_t)2 * m->cap_b * m->cap_t * sizeof(int) +
           m->smp_floats * sizeof(float) + (size_t)4 * m->cap_n * sizeof(int) +
           (m->cap_n ? (size_t)m->cfg.vocab * sizeof(SortPair) : 0);
}

// ----------------------------------------------------------------------------------------------------------
// Vectorisable primitives. Float reductions only vectorise without -ffast-math when the lanes are explicit.

static inline float vsum(const float *x, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

static inline float vdot(const float *x, const float *y, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[i + k] * y[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += x[i] * y[i];
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

static inline float vmax(const float *x, int n) {
    float acc[LANES];
    int i = 0;
    for (int k = 0; k < LANES; k++) acc[k] = -INFINITY;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
    float mx = -INFINITY;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int k = 0; k < LANES; k++) mx = acc[k] > mx ? acc[k] : mx;
    return mx;
}

// expf to ~2 ulp (Cephes polynomial), branch-free so loops over it vectorise; arguments are clamped to
// [-87, 88], where 2^n is still a normal float.
static inline float exp_fast(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; // round to nearest via 1.5*2^23
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

// out[i] = exp(x[i] - shift)
static inline void vexp(float *out, const float *x, float shift, int n) {
    for (int i = 0; i < n; i++) out[i] = exp_fast(x[i] - shift);
}

static inline float tanh_fast(float u) { return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f); }

// ----------------------------------------------------------------------------------------------------------
// Layers

// out (B,T,C) = wte[tokens] + wpe[t]
static void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *we = wte + (size_t)tokens[b * T + t] * C, *pe = wpe + (size_t)t * C;
            for (int i = 0; i < C; i++) o[i] = we[i] + pe[i];
        }
}

static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *dwe = dwte + (size_t)tokens[b * T + t] * C, *dpe = dwpe + (size_t)t * C;
            for (int i = 0; i < C; i++) { dwe[i] += d[i]; dpe[i] += d[i]; }
        }
}

// out (N,C) = LayerNorm(inp (N,C)) * w + b; mean, rstd (N) may be NULL (sampling keeps no statistics).
static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float mu = vsum(x, C) / C;
        for (int i = 0; i < C; i++) o[i] = x[i] - mu; // two passes: the variance without cancellation
        float s = 1.0f / sqrtf(vdot(o, o, C) / C + LN_EPS);
        for (int i = 0; i < C; i++) o[i] = o[i] * s * w[i] + b[i];
        if (mean) { mean[n] = mu; rstd[n] = s; }
    }
}

// dinp (N,C) += d LayerNorm; dw, db (C) +=. xhat is recomputed from inp rather than stored.
static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float mu = mean[n], s = rstd[n];
        float acc_a[LANES] = {0}, acc_b[LANES] = {0};
        int i = 0;
        for (; i + LANES <= C; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float xh = (x[i + k] - mu) * s, dn = w[i + k] * dy[i + k];
                acc_a[k] += dn;
                acc_b[k] += dn * xh;
            }
        float sa = 0.0f, sb = 0.0f;
        for (; i < C; i++) {
            float xh = (x[i] - mu) * s, dn = w[i] * dy[i];
            sa += dn; sb += dn * xh;
        }
        for (int k = 0; k < LANES; k++) { sa += acc_a[k]; sb += acc_b[k]; }
        sa /= C; sb /= C;
        for (i = 0; i < C; i++) {
            float xh = (x[i] - mu) * s;
            db[i] += dy[i];
            dw[i] += xh * dy[i];
            dx[i] += (w[i] * dy[i] - sa - xh * sb) * s;
        }
    }
}

// out (N,OC) = add (N,OC) + inp (N,IC) W^T + bias, W (OC,IC); add and bias may be NULL.
// Folding the residual add into the GEMM's accumulator saves a pass over the stream.
static void matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *add,
                           int N, int IC, int OC) {
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
        const float *a = add ? add + (size_t)n * OC : NULL;
        if (a && bias) for (int j = 0; j < OC; j++) o[j] = a[j] + bias[j];
        else if (a) memcpy(o, a, OC * sizeof(float));
        else if (bias) memcpy(o, bias, OC * sizeof(float));
        else memset(o, 0, OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, 1.0f, out, OC);
}

// dinp (N,IC) = dout W (overwritten); dw (OC,IC) += dout^T inp; dbias (OC) += column sums of dout.
static void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                            const float *w, int N, int IC, int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (dbias)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int j = 0; j < OC; j++) dbias[j] += d[j];
        }
}

// Causal self-attention. qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) keeps the probabilities for backward.
static void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *A = att + ((size_t)b * NH + h) * T * T;
            float *y = out + (size_t)b * T * C + h * hs;
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0, i1, hs, scale, q + (size_t)i0 * C3,
                            C3, k, C3, 0.0f, A + (size_t)i0 * T, T);
            }
            for (int i = 0; i < T; i++) {
                float *row = A + (size_t)i * T;
                float mx = vmax(row, i + 1);
                vexp(row, row, mx, i + 1);
                float inv = 1.0f / vsum(row, i + 1);
                for (int j = 0; j <= i; j++) row[j] *= inv;
                memset(row + i + 1, 0, (size_t)(T - i - 1) * sizeof(float)); // masked: never exponentiated
            }
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0, hs, i1, 1.0f, A + (size_t)i0 * T, T,
                            v, C3, 0.0f, y + (size_t)i0 * C, C);
            }
        }
}

// dqkv (B,T,3C) = d attention (overwritten); dS is built in the (T,T) scratch one (b,h) at a time.
static void attention_backward(float *dqkv, float *dS, const float *dout, const float *qkv, const float *att,
                               int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    memset(dqkv, 0, (size_t)B * T * C3 * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            const float *A = att + ((size_t)b * NH + h) * T * T;
            const float *dy = dout + (size_t)b * T * C + h * hs;
            float *dq = dqkv + (size_t)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
                // dP = dY V^T, and dV += P^T dY, over the lower block-triangle only
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, i1, hs, 1.0f, dy + (size_t)i0 * C, C, v, C3,
                            0.0f, dS + (size_t)i0 * T, T);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1, hs, ni, 1.0f, A + (size_t)i0 * T, T,
                            dy + (size_t)i0 * C, C, 1.0f, dv, C3);
            }
            for (int i = 0; i < T; i++) {
                // softmax backward: dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik), with the 1/sqrt(hs) folded in
                const float *p = A + (size_t)i * T;
                float *d = dS + (size_t)i * T;
                float dot = vdot(p, d, i + 1);
                for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - dot) * scale;
                memset(d + i + 1, 0, (size_t)(T - i - 1) * sizeof(float));
            }
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, hs, i1, 1.0f, dS + (size_t)i0 * T, T, k,
                            C3, 0.0f, dq + (size_t)i0 * C3, C3);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1, hs, ni, 1.0f, dS + (size_t)i0 * T, T,
                            q + (size_t)i0 * C3, C3, 1.0f, dk, C3);
            }
        }
}

// GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
static void gelu_forward(float *out, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanh_fast(GELU_K * (x + GELU_C * x * x * x));
        out[i] = 0.5f * x * (1.0f + t);
    }
}

// d (N): dout in, dinp out (in place); inp is the GELU input.
static void gelu_backward(float *d, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanh_fast(GELU_K * (x + GELU_C * x * x * x));
        float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * x * x);
        d[i] *= grad;
    }
}

// ----------------------------------------------------------------------------------------------------------
// Forward / backward

void model_forward(Model *m, const int *tokens, const int *targets, int B, int T, float *logp, float *entropy) {
    const ModelConfig *cfg = &m->cfg;
    int L = cfg->n_layer, C = cfg->d_model, NH = cfg->n_head, V = cfg->vocab;
    CHECK(B >= 1 && T >= 1 && T <= cfg->max_t, "model_forward: B=%d T=%d (max_t %d)", B, T, cfg->max_t);
    if (B > m->cap_b || T > m->cap_t) model_reserve(m, B, T, m->cap_n);
    int BT = B * T;
    size_t lbt = (size_t)m->cap_b * m->cap_t; // rows between layer slices
    size_t latt = (size_t)m->cap_b * NH * m->cap_t * m->cap_t;
    int *tok = m->act_tok, *tgt = m->act_tok + BT;
    for (int i = 0; i < BT; i++) {
        CHECK(tokens[i] >= 0 && tokens[i] < V && targets[i] >= 0 && targets[i] < V,
              "model_forward: token %d / target %d out of vocab %d", tokens[i], targets[i], V);
        tok[i] = tokens[i]; tgt[i] = targets[i];
    }
    m->B = B; m->T = T;
    Acts *a = &m->a;
    const ParamTensors *p = &m->p;
    encoder_forward(a->encoded, tok, p->wte, p->wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        const float *res_in = l == 0 ? a->encoded : a->residual3 + (l - 1) * lbt * C;
        float *ln1 = a->ln1 + l * lbt * C, *qkv = a->qkv + l * lbt * 3 * C, *atty = a->atty + l * lbt * C;
        float *res2 = a->residual2 + l * lbt * C, *ln2 = a->ln2 + l * lbt * C;
        float *fch = a->fch + l * lbt * 4 * C, *fchg = a->fch_gelu + l * lbt * 4 * C;
        float *res3 = a->residual3 + l * lbt * C;
        layernorm_forward(ln1, a->ln1_mean + l * lbt, a->ln1_rstd + l * lbt, res_in, p->ln1w + l * C,
                          p->ln1b + l * C, BT, C);
        matmul_forward(qkv, ln1, p->qkvw + (size_t)l * 3 * C * C, p->qkvb + l * 3 * C, NULL, BT, C, 3 * C);
        attention_forward(atty, a->att + l * latt, qkv, B, T, C, NH);
        matmul_forward(res2, atty, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, res_in, BT, C, C);
        layernorm_forward(ln2, a->ln2_mean + l * lbt, a->ln2_rstd + l * lbt, res2, p->ln2w + l * C,
                          p->ln2b + l * C, BT, C);
        matmul_forward(fch, ln2, p->fcw + (size_t)l * 4 * C * C, p->fcb + l * 4 * C, NULL, BT, C, 4 * C);
        gelu_forward(fchg, fch, (size_t)BT * 4 * C);
        matmul_forward(res3, fchg, p->fcprojw + (size_t)l * 4 * C * C, p->fcprojb + l * C, res2, BT, 4 * C, C);
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->residual3 + (L - 1) * lbt * C, p->lnfw, p->lnfb, BT, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, V, C, 1.0f, a->lnf, C, p->wte, C, 0.0f, a->logits, V);
    for (int r = 0; r < BT; r++) {
        const float *z = a->logits + (size_t)r * V;
        float *e = a->dlogits + (size_t)r * V; // free until backward
        float mx = vmax(z, V);
        vexp(e, z, mx, V);
        float sum = vsum(e, V);
        float lse = mx + logf(sum);
        a->lse[r] = lse;
        if (logp) logp[r] = z[tgt[r]] - lse;
        if (entropy) entropy[r] = lse - vdot(e, z, V) / sum; // H = lse - E_p[z]
    }
}

void model_backward(Model *m, const float *dlogp) {
    CHECK(m->B > 0, "model_backward without a forward");
    const ModelConfig *cfg = &m->cfg;
    int L = cfg->n_layer, C = cfg->d_model, NH = cfg->n_head, V = cfg->vocab;
    int B = m->B, T = m->T, BT = B * T;
    size_t lbt = (size_t)m->cap_b * m->cap_t;
    size_t latt = (size_t)m->cap_b * NH * m->cap_t * m->cap_t;
    const int *tok = m->act_tok, *tgt = m->act_tok + BT;
    Acts *a = &m->a;
    const ParamTensors *p = &m->p;
    const ParamTensors *g = &m->g;
    // log-softmax: dlogits[v] = dlogp * (1[v == target] - softmax[v])
    for (int r = 0; r < BT; r++) {
        float *dl = a->dlogits + (size_t)r * V;
        float d = dlogp[r];
        if (d == 0.0f) { memset(dl, 0, (size_t)V * sizeof(float)); continue; }
        vexp(dl, a->logits + (size_t)r * V, a->lse[r], V);
        for (int v = 0; v < V; v++) dl[v] *= -d;
        dl[tgt[r]] += d;
    }
    // tied LM head: dlnf = dlogits wte; dwte += dlogits^T lnf
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, V, 1.0f, a->dlogits, V, p->wte, C, 0.0f,
                a->dbuf_a, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, BT, 1.0f, a->dlogits, V, a->lnf, C, 1.0f, g->wte, C);
    memset(a->dresidual, 0, (size_t)BT * C * sizeof(float));
    layernorm_backward(a->dresidual, g->lnfw, g->lnfb, a->dbuf_a, a->residual3 + (L - 1) * lbt * C, p->lnfw,
                       a->lnf_mean, a->lnf_rstd, BT, C);
    for (int l = L - 1; l >= 0; l--) {
        const float *res_in = l == 0 ? a->encoded : a->residual3 + (l - 1) * lbt * C;
        const float *ln1 = a->ln1 + l * lbt * C, *qkv = a->qkv + l * lbt * 3 * C, *atty = a->atty + l * lbt * C;
        const float *res2 = a->residual2 + l * lbt * C, *ln2 = a->ln2 + l * lbt * C;
        const float *fch = a->fch + l * lbt * 4 * C, *fchg = a->fch_gelu + l * lbt * 4 * C;
        float *da = a->dbuf_a, *db = a->dbuf_b, *dres = a->dresidual;
        // residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))): dres flows through unchanged
        matmul_backward(da, g->fcprojw + (size_t)l * 4 * C * C, g->fcprojb + l * C, dres, fchg,
                        p->fcprojw + (size_t)l * 4 * C * C, BT, 4 * C, C);
        gelu_backward(da, fch, (size_t)BT * 4 * C);
        matmul_backward(db, g->fcw + (size_t)l * 4 * C * C, g->fcb + l * 4 * C, da, ln2,
                        p->fcw + (size_t)l * 4 * C * C, BT, C, 4 * C);
        layernorm_backward(dres, g->ln2w + l * C, g->ln2b + l * C, db, res2, p->ln2w + l * C,
                           a->ln2_mean + l * lbt, a->ln2_rstd + l * lbt, BT, C);
        // residual2 = res_in + attproj(attention(qkv(ln1(res_in))))
        matmul_backward(da, g->attprojw + (size_t)l * C * C, g->attprojb + l * C, dres, atty,
                        p->attprojw + (size_t)l * C * C, BT, C, C);
        attention_backward(db, a->datt, da, qkv, a->att + l * latt, B, T, C, NH);
        matmul_backward(da, g->qkvw + (size_t)l * 3 * C * C, g->qkvb + l * 3 * C, db, ln1,
                        p->qkvw + (size_t)l * 3 * C * C, BT, C, 3 * C);
        layernorm_backward(dres, g->ln1w + l * C, g->ln1b + l * C, da, res_in, p->ln1w + l * C,
                           a->ln1_mean + l * lbt, a->ln1_rstd + l * lbt, BT, C);
    }
    encoder_backward(g->wte, g->wpe, a->dresidual, tok, B, T, C);
}

// ----------------------------------------------------------------------------------------------------------
// Sampling

static inline int pair_before(const SortPair *a, const SortPair *b) {
    return a->v > b->v || (a->v == b->v && a->i < b->i);
}

// Quickselect: afterwards x[0..k) are the k largest (in some order). O(n), deterministic (the order is
// total: ties break on the index). The bound checks keep NaN logits from running off the array.
static void select_top(SortPair *x, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        SortPair pivot = x[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (i <= hi && pair_before(&x[i], &pivot)) i++;
            while (j >= lo && pair_before(&pivot, &x[j])) j--;
            if (i <= j) { SortPair tmp = x[i]; x[i] = x[j]; x[j] = tmp; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

// Heap whose root ranks lowest; popping roots to the back leaves x best-first. In place (glibc's qsort may
// malloc), O(n log n) whatever the logits.
static void sift_down(SortPair *x, int root, int n) {
    for (;;) {
        int c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && pair_before(&x[c], &x[c + 1])) c++;
        if (!pair_before(&x[root], &x[c])) return;
        SortPair tmp = x[root]; x[root] = x[c]; x[c] = tmp;
        root = c;
    }
}

static void sort_best_first(SortPair *x, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(x, i, n);
    for (int end = n - 1; end > 0; end--) {
        SortPair tmp = x[0]; x[0] = x[end]; x[end] = tmp;
        sift_down(x, 0, end);
    }
}

// Draws one token from logits z (V) under temperature/top-k/top-p; *logp1 gets its log-prob at temperature 1.
// Exactly one uniform is drawn per token, so the stream stays aligned whatever the filters do.
static int sample_token(const float *z, int V, const SampleParams *sp, Rng *rng, float *probs, SortPair *pairs,
                        float *logp1) {
    float mx = vmax(z, V);
    vexp(probs, z, mx, V);
    float lse1 = mx + logf(vsum(probs, V));
    float u = rng_uniformf(rng);
    int tok = V - 1;
    int filtered = (sp->top_k > 0 && sp->top_k < V) || sp->top_p < 1.0f;
    float inv_t = 1.0f / sp->temperature;
    if (!filtered) {
        if (sp->temperature != 1.0f)
            for (int v = 0; v < V; v++) probs[v] = exp_fast((z[v] - mx) * inv_t);
        float target = u * vsum(probs, V), c = 0.0f;
        for (int v = 0; v < V; v++) {
            c += probs[v];
            if (c > target) { tok = v; break; }
        }
    } else {
        for (int v = 0; v < V; v++) { pairs[v].v = z[v]; pairs[v].i = v; }
        // temperature is monotone, so ranking the raw logits serves every temperature
        int keep = sp->top_k > 0 && sp->top_k < V ? sp->top_k : V;
        if (keep < V) select_top(pairs, V, keep);
        sort_best_first(pairs, keep);
        float total = 0.0f;
        for (int j = 0; j < keep; j++) { probs[j] = exp_fast((pairs[j].v - mx) * inv_t); total += probs[j]; }
        if (sp->top_p < 1.0f) { // smallest prefix whose mass reaches top_p (at least one token)
            float c = 0.0f, need = sp->top_p * total;
            for (int j = 0; j < keep; j++) {
                c += probs[j];
                if (c >= need) { keep = j + 1; total = c; break; }
            }
        }
        float target = u * total, c = 0.0f;
        tok = pairs[keep - 1].i;
        for (int j = 0; j < keep; j++) {
            c += probs[j];
            if (c > target) { tok = pairs[j].i; break; }
        }
    }
    *logp1 = z[tok] - lse1;
    return tok;
}

// Causal attention of one prefill segment: rows at positions [t0, t0+nr) of one sequence, whose keys and
// values for positions [0, t0+nr) are already in its cache kc, vc (maxT,C). q comes from qkv (nr,3C),
// y (nr,C) is written. Row blocks of ATT_BLOCK only score the keys they can see; sc is (ATT_BLOCK,maxT).
static void prefill_attention(float *y, const float *qkv, const float *kc, const float *vc, float *sc, int t0,
                              int nr, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < NH; h++)
        for (int r0 = 0; r0 < nr; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < nr ? r0 + ATT_BLOCK : nr, nk = t0 + r1;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, nk, hs, scale, qkv + (size_t)r0 * C3 + h * hs,
                        C3, kc + h * hs, C, 0.0f, sc, nk);
            for (int j = 0; j < r1 - r0; j++) {
                float *row = sc + (size_t)j * nk;
                int see = t0 + r0 + j + 1; // causal: keys [0, own position]
                float mx = vmax(row, see);
                vexp(row, row, mx, see);
                float inv = 1.0f / vsum(row, see);
                for (int c = 0; c < see; c++) row[c] *= inv;
                memset(row + see, 0, (size_t)(nk - see) * sizeof(float));
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, nk, 1.0f, sc, nk, vc + h * hs, C, 0.0f,
                        y + (size_t)r0 * C + h * hs, C);
        }
}

void model_sample(Model *m, const int *prompt_tok, int prompt_stride, const int *prompt_len, int n,
                  const SampleParams *sp, Rng *rng, int *out_tok, float *out_logp, int *out_len) {
    const ModelConfig *cfg = &m->cfg;
    int L = cfg->n_layer, C = cfg->d_model, NH = cfg->n_head, V = cfg->vocab, maxT = cfg->max_t;
    int hs = C / NH, C3 = 3 * C, max_new = sp->max_new;
    float scale = 1.0f / sqrtf((float)hs);
    CHECK(n >= 0 && max_new >= 0 && sp->temperature > 0.0f && sp->top_p > 0.0f,
          "model_sample: n=%d max_new=%d temperature=%g top_p=%g", n, max_new, sp->temperature, sp->top_p);
    for (int i = 0; i < n; i++) {
        CHECK(prompt_len[i] >= 1 && prompt_len[i] + max_new <= maxT,
              "model_sample: prompt %d has length %d (+%d new > max_t %d?)", i, prompt_len[i], max_new, maxT);
        for (int t = 0; t < prompt_len[i]; t++)
            CHECK(prompt_tok[(size_t)i * prompt_stride + t] >= 0 && prompt_tok[(size_t)i * prompt_stride + t] < V,
                  "model_sample: prompt token out of vocab");
    }
    for (size_t i = 0; i < (size_t)n * max_new; i++) { out_tok[i] = sp->eos; out_logp[i] = 0.0f; }
    for (int i = 0; i < n; i++) out_len[i] = 0;
    if (n == 0 || max_new == 0) return;
    if (n > m->cap_n) model_reserve(m, 0, 0, n);
    SampleBufs *s = &m->s;
    const ParamTensors *p = &m->p;
    int *pos = m->smp_int, *done = pos + m->cap_n, *act = done + m->cap_n, *srow = act + m->cap_n;
    size_t seq_stride = (size_t)maxT * C, layer_stride = (size_t)m->cap_n * seq_stride;
    // Prefill: the prompts, packed back to back (no padding), go through the model in chunks of up to cap_pre
    // positions with GEMMs over all of a chunk's rows. A chunk holds segments (sequence, positions [t0,t0+len));
    // a prompt may straddle two chunks, which is fine because attention reads K and V from the cache.
    // A prompt equal to the one before it (GRPO lays out G copies of each prompt side by side) is not computed
    // again: it takes its source's cache rows and final hidden state afterwards, so prefill costs one pass per
    // distinct prompt. During prefill pos holds each sequence's source and act/srow/done the segments
    // (sequence, t0, len); they get their decode meaning after.
    int *src = pos, *seg_seq = act, *seg_t0 = srow, *seg_len = done;
    for (int i = 0; i < n; i++) {
        src[i] = i > 0 && prompt_len[i] == prompt_len[i - 1] &&
                 memcmp(prompt_tok + (size_t)i * prompt_stride, prompt_tok + (size_t)(i - 1) * prompt_stride,
                        (size_t)prompt_len[i] * sizeof(int)) == 0 ? src[i - 1] : i;
    }
    int R = m->cap_pre, ci = 0, ct = 0; // (ci, ct): the next prompt position to prefill
    while (ci < n && src[ci] != ci) ci++;
    while (ci < n) {
        int nseg = 0, rows = 0;
        while (ci < n && rows < R) {
            int pl = prompt_len[ci], take = pl - ct < R - rows ? pl - ct : R - rows;
            seg_seq[nseg] = ci; seg_t0[nseg] = ct; seg_len[nseg] = take; nseg++;
            for (int t = ct; t < ct + take; t++) {
                const float *we = p->wte + (size_t)prompt_tok[(size_t)ci * prompt_stride + t] * C;
                const float *pe = p->wpe + (size_t)t * C;
                float *x = s->px + (size_t)(rows + t - ct) * C;
                for (int c = 0; c < C; c++) x[c] = we[c] + pe[c];
            }
            rows += take; ct += take;
            if (ct == pl) {
                ct = 0;
                do ci++; while (ci < n && src[ci] != ci);
            }
        }
        for (int l = 0; l < L; l++) {
            float *kc = s->kcache + l * layer_stride, *vc = s->vcache + l * layer_stride;
            layernorm_forward(s->pxn, NULL, NULL, s->px, p->ln1w + l * C, p->ln1b + l * C, rows, C);
            matmul_forward(s->pbig, s->pxn, p->qkvw + (size_t)l * C3 * C, p->qkvb + l * C3, NULL, rows, C, C3);
            for (int k = 0, r = 0; k < nseg; r += seg_len[k], k++) {
                int i = seg_seq[k], t0 = seg_t0[k], len = seg_len[k];
                float *krow = kc + i * seq_stride, *vrow = vc + i * seq_stride;
                for (int j = 0; j < len; j++) {
                    const float *qr = s->pbig + (size_t)(r + j) * C3;
                    memcpy(krow + (size_t)(t0 + j) * C, qr + C, C * sizeof(float));
                    memcpy(vrow + (size_t)(t0 + j) * C, qr + 2 * C, C * sizeof(float));
                }
                // attention output into pxn, free since the qkv GEMM
                prefill_attention(s->pxn + (size_t)r * C, s->pbig + (size_t)r * C3, krow, vrow, s->patt, t0, len,
                                  C, NH);
            }
            matmul_forward(s->px, s->pxn, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, s->px, rows, C, C);
            layernorm_forward(s->pxn, NULL, NULL, s->px, p->ln2w + l * C, p->ln2b + l * C, rows, C);
            matmul_forward(s->pbig, s->pxn, p->fcw + (size_t)l * 4 * C * C, p->fcb + l * 4 * C, NULL, rows, C,
                           4 * C);
            gelu_forward(s->pbig, s->pbig, (size_t)rows * 4 * C);
            matmul_forward(s->px, s->pbig, p->fcprojw + (size_t)l * 4 * C * C, p->fcprojb + l * C, s->px, rows,
                           4 * C, C);
        }
        // a prompt's last position gives its first token: final LayerNorm into xn row i, the LM head below
        for (int k = 0, r = 0; k < nseg; r += seg_len[k], k++) {
            int i = seg_seq[k];
            if (seg_t0[k] + seg_len[k] == prompt_len[i])
                layernorm_forward(s->xn + (size_t)i * C, NULL, NULL, s->px + (size_t)(r + seg_len[k] - 1) * C,
                                  p->lnfw, p->lnfb, 1, C);
        }
    }
    for (int i = 0; i < n; i++) {
        int j = src[i];
        if (j == i) continue;
        for (int l = 0; l < L; l++) {
            size_t di = l * layer_stride + i * seq_stride, dj = l * layer_stride + j * seq_stride;
            memcpy(s->kcache + di, s->kcache + dj, (size_t)prompt_len[i] * C * sizeof(float));
            memcpy(s->vcache + di, s->vcache + dj, (size_t)prompt_len[i] * C * sizeof(float));
        }
        memcpy(s->xn + (size_t)i * C, s->xn + (size_t)j * C, C * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, s->xn, C, p->wte, C, 0.0f, s->logits, V);
    for (int i = 0; i < n; i++) { // first tokens in sequence order, then decode steps: one draw order per Rng
        float lp;
        int tk = sample_token(s->logits + (size_t)i * V, V, sp, rng, s->probs, m->pairs, &lp);
        out_tok[(size_t)i * max_new] = tk;
        out_logp[(size_t)i * max_new] = lp;
        pos[i] = prompt_len[i];
        done[i] = tk == sp->eos || max_new == 1;
        if (done[i]) out_len[i] = 1;
    }
    // Decode: every active sequence feeds its last sample at its own position and draws the next token.
    for (;;) {
        int na = 0;
        for (int i = 0; i < n; i++) if (!done[i]) act[na++] = i;
        if (na == 0) break;
        for (int r = 0; r < na; r++) {
            int i = act[r], t = pos[i];
            int tk = out_tok[(size_t)i * max_new + t - prompt_len[i]];
            const float *we = p->wte + (size_t)tk * C, *pe = p->wpe + (size_t)t * C;
            float *x = s->x + (size_t)r * C;
            for (int c = 0; c < C; c++) x[c] = we[c] + pe[c];
        }
        for (int l = 0; l < L; l++) {
            float *kc = s->kcache + l * layer_stride, *vc = s->vcache + l * layer_stride;
            layernorm_forward(s->xn, NULL, NULL, s->x, p->ln1w + l * C, p->ln1b + l * C, na, C);
            matmul_forward(s->qkv, s->xn, p->qkvw + (size_t)l * C3 * C, p->qkvb + l * C3, NULL, na, C, C3);
            for (int r = 0; r < na; r++) {
                int i = act[r], t = pos[i];
                const float *qr = s->qkv + (size_t)r * C3;
                float *krow = kc + i * seq_stride, *vrow = vc + i * seq_stride;
                memcpy(krow + (size_t)t * C, qr + C, C * sizeof(float));
                memcpy(vrow + (size_t)t * C, qr + 2 * C, C * sizeof(float));
                float *y = s->y + (size_t)r * C;
                for (int h = 0; h < NH; h++) {
                    // one query against this sequence's own cache: two GEMVs over positions [0, t]
                    float *sc = s->scores;
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, t + 1, hs, scale, krow + h * hs, C, qr + h * hs, 1,
                                0.0f, sc, 1);
                    float mx = vmax(sc, t + 1);
                    vexp(sc, sc, mx, t + 1);
                    float inv = 1.0f / vsum(sc, t + 1);
                    cblas_sgemv(CblasRowMajor, CblasTrans, t + 1, hs, inv, vrow + h * hs, C, sc, 1, 0.0f,
                                y + h * hs, 1);
                }
            }
            matmul_forward(s->x, s->y, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, s->x, na, C, C);
            layernorm_forward(s->xn, NULL, NULL, s->x, p->ln2w + l * C, p->ln2b + l * C, na, C);
            matmul_forward(s->h, s->xn, p->fcw + (size_t)l * 4 * C * C, p->fcb + l * 4 * C, NULL, na, C, 4 * C);
            gelu_forward(s->h, s->h, (size_t)na * 4 * C);
            matmul_forward(s->x, s->h, p->fcprojw + (size_t)l * 4 * C * C, p->fcprojb + l * C, s->x, na, 4 * C, C);
        }
        layernorm_forward(s->xn, NULL, NULL, s->x, p->lnfw, p->lnfb, na, C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, na, V, C, 1.0f, s->xn, C, p->wte, C, 0.0f,
                    s->logits, V);
        for (int r = 0; r < na; r++) {
            int i = act[r], g = pos[i] + 1 - prompt_len[i]; // index of the token drawn now
            float lp;
            int tk = sample_token(s->logits + (size_t)r * V, V, sp, rng, s->probs, m->pairs, &lp);
            out_tok[(size_t)i * max_new + g] = tk;
            out_logp[(size_t)i * max_new + g] = lp;
            if (tk == sp->eos || g + 1 == max_new) { done[i] = 1; out_len[i] = g + 1; }
            pos[i]++;
        }
    }
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
