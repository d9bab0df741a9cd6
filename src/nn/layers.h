// layers.h — private to src/nn: the transformer's kernels and its block, shared by the learner (model.c) and
// the sampler (sample.c). Free functions over raw float arrays, forward and backward side by side, llm.c style.
// Shapes: N rows (B*T positions, or packed/active sequences when sampling), C d_model, NH heads, V vocab.
// The dense products (Linear layers, LM head, the learner's and the prefill's attention; forward and backward)
// run gemm.h's kernel on packed panels; the elementwise loops are written so GCC vectorises them without
// -ffast-math (fixed 8-lane accumulators, a branch-free exp), and -std=c11 keeps FP contraction off, so the same
// inputs give the same bits whichever of model.c or sample.c calls a kernel.
#ifndef PGRPO_NN_LAYERS_H
#define PGRPO_NN_LAYERS_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "model.h"          // ParamTensors

#define LN_EPS 1e-5f
#define GELU_K 0.7978845608028654f  // sqrt(2/pi)
#define GELU_C 0.044715f
// Causal attention is computed in row blocks: rows [i0,i1) only see keys [0,i1), so the GEMMs skip the
// strictly-upper blocks (about half the T*T work for long T) while each call stays large enough for BLAS.
#define ATT_BLOCK 32
#define LANES 8

// ----------------------------------------------------------------------------------------------------------
// Vectorisable primitives (inline: they sit in hot loops). Float reductions only vectorise without
// -ffast-math when the lanes are explicit.

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
// [-87, 88], where 2^n is still a normal float; NaN gives NaN.
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
    // A NaN x leaves n NaN, whose conversion to int is undefined (UBSan: "left shift of negative value"): convert
    // 0 instead; p is NaN then, so the result stays NaN.
    int32_t e = ((int32_t)(n == n ? n : 0.0f) + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

// out[i] = exp(x[i] - shift)
// out (n) = exp(x - shift) (out may be x), returning its sum in vsum's lane order: the bits of filling out and
// then vsum(out), in one pass.
static inline float vexp_sum(float *out, const float *x, float shift, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            out[i + k] = exp_fast(x[i + k] - shift);
            acc[k] += out[i + k];
        }
    float s = 0.0f;
    for (; i < n; i++) {
        out[i] = exp_fast(x[i] - shift);
        s += out[i];
    }
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

// The sum of exp(x[i] - shift), and into *dot the sum of exp(x[i] - shift) x[i], accumulated in vsum's and
// vdot's lane order, so the bits equal exponentials stored in a buffer followed by vsum and vdot; nothing is
// stored, so a row is read once instead of three times.
static inline float vexp_sum_dot(const float *x, float shift, int n, float *dot) {
    float acc[LANES] = {0}, dacc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float e = exp_fast(x[i + k] - shift);
            acc[k] += e;
            dacc[k] += e * x[i + k];
        }
    float s = 0.0f, d = 0.0f;
    for (; i < n; i++) {
        float e = exp_fast(x[i] - shift);
        s += e;
        d += e * x[i];
    }
    for (int k = 0; k < LANES; k++) { s += acc[k]; d += dacc[k]; }
    *dot = d;
    return s;
}

static inline float tanh_fast(float u) { return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f); }

// x (C) = wte[tok] + wpe[t]: one position's input to the first block.
static inline void embed_row(float *x, const float *wte, const float *wpe, int tok, int t, int C) {
    const float *we = wte + (size_t)tok * C, *pe = wpe + (size_t)t * C;
    for (int c = 0; c < C; c++) x[c] = we[c] + pe[c];
}

// ----------------------------------------------------------------------------------------------------------
// Threads. A model runs on model_threads(m) threads (run.threads): the entry points (model_forward,
// model_backward, model_sample) open with nn_enter and close with nn_leave, which run OpenBLAS on one thread
// meanwhile and set the OpenMP team, so the two never oversubscribe the cores: the kernels below split their
// work over the team themselves (rows, panels, (sequence, head) pairs). No float sum is split across threads
// (column sums are cut into column ranges, each summed over the rows in row order; a product's element is one
// chain: gemm.h), so neither the split nor the thread count changes the bits, on any run (the decode step even
// splits its rows by the threads' measured speeds: sample.c decode_split).
typedef struct { int blas, omp, levels; } NnThreads;
NnThreads nn_enter(int threads);
void nn_leave(NnThreads saved);
int nn_team(void);           // the team size the kernels use now (1 without OpenMP, or inside a parallel region)
int nn_thread(void);         // this thread's index in the team (0 outside a parallel region)
int nn_threads_here(void);   // the size of the team running this code (1 outside a parallel region)
double nn_clock(void);       // seconds, monotonic wall clock: what balancing threads' shares measures

// [*lo, *hi): part tid of nt of [0, n), cut at multiples of align (the last part takes the rest).
static inline void nn_part(int n, int align, int tid, int nt, int *lo, int *hi) {
    long units = (n + align - 1) / align;
    long u0 = units * tid / nt, u1 = units * (tid + 1) / nt;
    *lo = u0 * align < n ? (int)(u0 * align) : n;
    *hi = u1 * align < n ? (int)(u1 * align) : n;
}
// This thread's part of [0, n) in the team running this code.
static inline void nn_part_here(int n, int align, int *lo, int *hi) {
    nn_part(n, align, nn_thread(), nn_threads_here(), lo, hi);
}


// ----------------------------------------------------------------------------------------------------------
// Kernels (layers.c)

// out (B,T,C) = wte[tokens] + wpe[t]; backward accumulates into dwte (V,C) and dwpe (maxT,C) (tokens < V).
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C, int V);
// out (N,C) = LayerNorm(inp (N,C)) * w + b; mean, rstd (N) may be NULL (sampling keeps no statistics).
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C);
// dinp (N,C) += d LayerNorm; dw, db (C) +=. xhat is recomputed from inp rather than stored.
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);
// out (N,OC) = add (N,OC) + inp (N,IC) W^T + bias, W (OC,IC) given packed (wp: gemm_pack, e.g. pack_weights);
// add and bias may be NULL; out may be add.
void matmul_forward(float *out, const float *inp, const float *wp, const float *bias, const float *add, int N,
                    int IC, int OC);
// dinp (N,IC) = dout W (overwritten); dw (OC,IC) += dout^T inp; dbias (OC) += column sums of dout.
// pack: scratch of nn_pack_scratch_floats (it packs W^T, then inp^T).
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     float *pack, int N, int IC, int OC);
// Floats of the backward's packing scratch for N rows (B*T) of a model of width C and vocabulary V.
size_t nn_pack_scratch_floats(int N, int C, int V);
// One query q (hs) against rows of keys: sc[j] = scale q . k_j for positions j in [j0, n), k_j = k + j*ldk.
void attn_scores(float *sc, const float *q, const float *k, size_t ldk, int j0, int n, int hs, float scale);
// y (hs) += sum_j p[j] v_j over positions [j0, j1), v_j = v + j*ldv.
void attn_mix(float *y, const float *p, const float *v, size_t ldv, int j0, int j1, int hs);
// Causal self-attention over whole sequences: qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) keeps the
// probabilities for backward. Backward: dqkv (B,T,3C) overwritten; dS (nn_team(),T,T) scratch. ws
// (nn_team(), attention_scratch_floats(T, C/NH)) scratch. Both run the (sequence, head) pairs in parallel.
void attention_forward(float *out, float *att, const float *qkv, float *ws, int B, int T, int C, int NH);
void attention_backward(float *dqkv, float *dS, const float *dout, const float *qkv, const float *att, float *ws,
                        int B, int T, int C, int NH);
// Floats of one thread's ws slice (attention_forward/backward pack K, V and blocks of dY, Q there).
size_t attention_scratch_floats(int T, int hs);
// One head of causal attention for the rows at positions [t0, t0+nr) of a sequence, against its keys and values
// at positions [0, t0+nr): the learner's (t0 = 0, whole sequences) and the prefill's (a prompt segment whose
// earlier positions are in the KV cache). Pointers at the head's columns; rows ld* floats apart.
typedef struct {
    const float *q;          // (nr, hs) queries, ldq apart
    const float *k, *v;      // (t0+nr, hs) keys, values, ldkv apart
    float *y;                // (nr, hs) output, ldy apart
    int ldq, ldkv, ldy;
} AttnHead;
// A (nr, lda >= t0+nr) gets the probabilities when keep (zero past each row's keys), else A is one row block's
// scratch (ATT_BLOCK, lda), reused. ws: attention_scratch_floats(t0 + nr, hs). Scale 1/sqrt(hs).
void attention_head(const AttnHead *a, float *A, int lda, int keep, int t0, int nr, int hs, float *ws);
// GELU (tanh approximation, GPT-2's) over N values; out may be inp. Backward in place on d, inp = GELU input.
void gelu_forward(float *out, const float *inp, size_t N);
void gelu_backward(float *d, const float *inp, size_t N);
// logits (N,V) = x (N,C) wte^T: the LM head, tied to the token embedding; wtep: wte packed (packed_wte).
void lm_head_forward(float *logits, const float *x, const float *wtep, int N, int C, int V);
// Its backward: dx (N,C) = dlogits (N,V) wte (overwritten); dwte (V,C) += dlogits^T x. pack: as matmul_backward.
void lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x, const float *wte, float *pack,
                      int N, int C, int V);

// ----------------------------------------------------------------------------------------------------------
// The transformer block, written once. Its attention is the caller's: the learner attends over whole
// sequences, the sampler's prefill over packed prompt segments and its decode over the KV cache.

// One layer's slices of the parameter (or gradient) tensors, named once: llm.c's `l_ln1w = params.ln1w + l*C`.
typedef struct {
    float *ln1w, *ln1b;         // (C), (C)
    float *qkvw, *qkvb;         // (3C,C), (3C)
    float *attprojw, *attprojb; // (C,C), (C)
    float *ln2w, *ln2b;         // (C), (C)
    float *fcw, *fcb;           // (4C,C), (4C)
    float *fcprojw, *fcprojb;   // (C,4C), (C)
} LayerTensors;
LayerTensors layer_tensors(const ParamTensors *t, int l, int C);

// A layer's four weight matrices packed by gemm_pack: the forward's (learner's and sampler's) copy of them.
typedef struct { const float *qkvw, *attprojw, *fcw, *fcprojw; } PackedLayer;

// The packed copy of all the weight matrices (per layer qkvw, attprojw, fcw, fcprojw; then wte): its size, the
// packing (by the team; after every change of the weights, so each forward and each model_sample packs), and
// the views into it.
size_t packed_weights_floats(const ModelConfig *cfg);
void pack_weights(float *wpack, const ModelConfig *cfg, const ParamTensors *p);
PackedLayer packed_layer(const float *wpack, const ModelConfig *cfg, int l);
const float *packed_wte(const float *wpack, const ModelConfig *cfg);

// Where one pass of the block over N rows reads and writes. The learner keeps every buffer, per layer, for
// backward; the sampler reuses three (stream, narrow, wide) as noted, so the aliasing below is allowed.
typedef struct {
    const float *in;               // (N,C)  residual stream in
    float *ln1;                    // (N,C)
    float *ln1_mean, *ln1_rstd;    // (N), (N); may be NULL
    float *qkv;                    // (N,3C)
    float *atty;                   // (N,C)  attention output; may be ln1 (free once qkv is computed)
    float *res2;                   // (N,C)  in + attention projection; may be in
    float *ln2;                    // (N,C)  may be atty
    float *ln2_mean, *ln2_rstd;    // (N), (N); may be NULL
    float *fch;                    // (N,4C) MLP hidden before GELU; may be qkv
    float *fch_gelu;               // (N,4C) after GELU; may be fch
    float *out;                    // (N,C)  res2 + MLP projection: the stream out; may be res2
} BlockBufs;

// Writes atty (N,C) from qkv (N,3C) for the rows of one block pass; ctx is the caller's (its layer, caches).
typedef void (*AttendFn)(void *ctx, float *atty, const float *qkv);

// out = res2 + MLP(LN2(res2)), res2 = in + Attention(LN1(in)): pre-LayerNorm, residual adds folded into the
// projections' GEMMs. pk: the layer's packed weights.
void block_forward(const LayerTensors *w, const PackedLayer *pk, const BlockBufs *b, int N, int C, AttendFn attend,
                   void *ctx);

#endif
