// sample.c — batched sampling from the policy with a KV cache (see sample.h): prefill of the prompts in
// packed chunks, then one decode step per new token for every active sequence, each drawing its token with
// token_sampler.c. Both phases run the transformer block of layers.c; only their attention differs.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sample.h"
#include "check.h"          // CHECK, xmalloc
#include "layers.h"         // kernels, LayerTensors, BlockBufs, block_forward
#include "sample_cache.h"
#include "token_sampler.h"  // token_sample, SortPair

// model_sample prefills the prompts in chunks of up to this many packed positions: enough rows for the
// GEMMs to run near their peak, few enough that the scratch stays small next to the KV cache.
#define PREFILL_ROWS 1024

// KV cache and per-step buffers of model_sample, for up to cap_n sequences. One float allocation.
struct SampleCache {
    int cap_n;         // sequences
    int cap_threads;   // per-thread scratch (probs, scores, patt, pws, pairs) for this many threads
    int cap_pre;       // R, rows of a prefill chunk
    int vocab;         // V
    size_t floats;     // size of mem
    float *mem;
    float *kcache;     // room for (L,cap_n,maxT,C); a call lays out (L,n,tcap,C) (kv_layout)
    float *vcache;     // the same
    float *x;          // (cap_n,C) residual stream of the active rows
    float *xn;         // (cap_n,C)
    float *qkv;        // (cap_n,3C)
    float *y;          // (cap_n,C)
    float *h;          // (cap_n,4C)
    float *logits;     // (cap_n,V)
    float *probs;      // (threads,V)
    float *scores;     // (threads,NH,maxT) decode attention scores, one slice per thread
    float *uni;        // (cap_n) the uniforms of one round of draws, drawn in order before the parallel sampling
    // prefill of a chunk of R packed prompt positions
    float *px;         // (R,C) residual stream
    float *pxn;        // (R,C) LayerNorm output, then attention output (free again once qkv is computed)
    float *pbig;       // (R,4C) qkv (R,3C), then the MLP hidden (R,4C)
    float *patt;       // (threads,ATT_BLOCK,maxT) attention scores of one row block
    float *pws;        // (threads,attention_scratch_floats(maxT,hs)) the prefill attention's packed K, V
    int *ints;         // pos, done, act, srow: (cap_n) each; srow: a prefill chunk's rows, then each sequence's
                       // source prompt (find_sources) while it decodes
    SortPair *pairs;   // (threads,V)
    double *rate;      // (threads) each thread's decode speed, rows per second, smoothed; 0 before a measure
    const float *wpack; // this call's packed weights (the model's buffer, layers.h pack_weights)
    size_t seq_stride, layer_stride;  // this call's K/V layout (kv_layout)
};
#define NUM_CACHE_BUFS 16

SampleCache *sample_cache_grow(SampleCache *c, const ModelConfig *cfg, int n_seq, int threads) {
    if (c && n_seq <= c->cap_n && threads <= c->cap_threads) return c;
    if (c) {
        n_seq = n_seq > c->cap_n ? n_seq : c->cap_n;
        threads = threads > c->cap_threads ? threads : c->cap_threads;
    }
    sample_cache_free(c);
    size_t L = cfg->n_layer, C = cfg->d_model, V = cfg->vocab, maxT = cfg->max_t, P = threads, NH = cfg->n_head;
    size_t N = n_seq, R = N * maxT < PREFILL_ROWS ? N * maxT : PREFILL_ROWS;
    size_t sz[NUM_CACHE_BUFS] = {L * N * maxT * C, L * N * maxT * C, N * C, N * C, N * 3 * C, N * C,
                                 N * 4 * C, N * V, P * V, P * NH * maxT, N, R * C, R * C, R * 4 * C,
                                 P * ATT_BLOCK * maxT, P * attention_scratch_floats((int)maxT, (int)(C / NH))};
    c = xcalloc(1, sizeof *c);
    float **ptrs[NUM_CACHE_BUFS] = {&c->kcache, &c->vcache, &c->x, &c->xn, &c->qkv, &c->y, &c->h,
                                    &c->logits, &c->probs, &c->scores, &c->uni, &c->px, &c->pxn, &c->pbig,
                                    &c->patt, &c->pws};
    size_t total = 0;
    for (int i = 0; i < NUM_CACHE_BUFS; i++) total += sz[i];
    c->mem = xmalloc_big(total * sizeof(float)); // huge pages: the decode streams the K/V (kv_layout)
    c->ints = xmalloc(4 * N * sizeof(int));
    c->pairs = xmalloc(P * V * sizeof(SortPair));
    c->rate = xcalloc(P, sizeof(double));
    c->floats = total;
    float *base = c->mem;
    for (int i = 0; i < NUM_CACHE_BUFS; i++) { *ptrs[i] = base; base += sz[i]; }
    c->cap_n = n_seq;
    c->cap_threads = threads;
    c->cap_pre = (int)R;
    c->vocab = (int)V;
    return c;
}

void sample_cache_free(SampleCache *c) {
    if (!c) return;
    free(c->mem); free(c->ints); free(c->pairs); free(c->rate);
    free(c);
}

size_t sample_cache_bytes(const SampleCache *c) {
    if (!c) return 0;
    return c->floats * sizeof(float) + (size_t)4 * c->cap_n * sizeof(int) +
           (size_t)c->cap_threads * c->vocab * sizeof(SortPair);
}

// This call's K/V layout, (L, n, tcap, C) with tcap the longest prompt + max_new: packed to the call's
// sequences and lengths, so the used part is one dense block per layer and, on huge pages (which cut the decode
// time by about 6% at d_model 256), no untouched room past it becomes resident.
static void kv_layout(SampleCache *c, const ModelConfig *cfg, const int *plen, int n, int max_new) {
    int tcap = 0;
    for (int i = 0; i < n; i++) tcap = plen[i] + max_new > tcap ? plen[i] + max_new : tcap;
    c->seq_stride = (size_t)tcap * cfg->d_model;
    c->layer_stride = (size_t)n * c->seq_stride;
}

// The prefill's attention for one layer: the chunk's rows are segments (sequence seg_seq[k], positions
// [seg_t0[k], +seg_len[k])) packed back to back. Each segment's K and V go into its sequence's cache first, so
// a prompt split across two chunks still sees its earlier positions; then the (segment, head) pairs run in
// parallel, each thread scoring in its own slice of patt.
typedef struct {
    float *kc, *vc;           // this layer's cache, (n,tcap,C) each (kv_layout)
    size_t seq_stride;        // tcap*C (kv_layout)
    const int *seg_seq, *seg_t0, *seg_len;
    int nseg;
    float *patt;              // (threads,ATT_BLOCK,maxT) scratch: a row block's scores
    float *pws;               // (threads,attention_scratch_floats(maxT,hs)) scratch: the packed K, V
    int maxT;
    int C, NH;
} PrefillAttention;

static void prefill_attend(void *ctx, float *atty, const float *qkv) {
    const PrefillAttention *pa = ctx;
    int C = pa->C, C3 = 3 * C, NH = pa->NH, hs = C / NH;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int k = 0; k < pa->nseg; k++) {
            int r = 0;
            for (int q = 0; q < k; q++) r += pa->seg_len[q];
            int i = pa->seg_seq[k], t0 = pa->seg_t0[k];
            float *krow = pa->kc + i * pa->seq_stride, *vrow = pa->vc + i * pa->seq_stride;
            for (int j = 0; j < pa->seg_len[k]; j++) {
                const float *qr = qkv + (size_t)(r + j) * C3;
                memcpy(krow + (size_t)(t0 + j) * C, qr + C, C * sizeof(float));
                memcpy(vrow + (size_t)(t0 + j) * C, qr + 2 * C, C * sizeof(float));
            }
        }
        float *sc = pa->patt + (size_t)nn_thread() * ATT_BLOCK * pa->maxT;
        float *ws = pa->pws + nn_thread() * attention_scratch_floats(pa->maxT, hs);
#pragma omp for schedule(static)
        for (int kh = 0; kh < pa->nseg * NH; kh++) {
            int k = kh / NH, h = kh % NH, r = 0;
            for (int q = 0; q < k; q++) r += pa->seg_len[q];
            int i = pa->seg_seq[k];
            AttnHead a = {qkv + (size_t)r * C3 + h * hs, pa->kc + i * pa->seq_stride + h * hs,
                          pa->vc + i * pa->seq_stride + h * hs, atty + (size_t)r * C + h * hs, C3, C, C};
            attention_head(&a, sc, pa->maxT, 0, pa->seg_t0[k], pa->seg_len[k], hs, ws);
        }
    }
}

// Positions per block of decode_attention_row: each block's K (then V) rows are read once for all heads, in
// order, while they sit in L1, instead of one strided pass over the cache per head.
#define DECODE_POS_BLOCK 16

// The blocks of positions [0, n) that decode_attention_row visits: at most DECODE_POS_BLOCK long, split at L,
// the end of the prompt positions read from the source prompt's cache.
static int pos_block_end(int j0, int L, int n) {
    int lim = j0 < L ? L : n;
    return j0 + DECODE_POS_BLOCK < lim ? j0 + DECODE_POS_BLOCK : lim;
}

// One decode query against its sequence's cache, every head at once: y_h = softmax(scale q_h K_h^T) V_h over
// positions [0, n). Positions [0, L) come from kp, vp (the cache of the sequence whose prompt this one repeats:
// G completions of a GRPO group read one copy of their prompt's K/V, which stays in cache between them),
// [L, n) from the sequence's own kc, vc. K and V rows are C apart, head h in columns [h hs, (h+1) hs).
// attn_scores/attn_mix replace two BLAS GEMVs per head, whose set-up and per-position reductions cost more than
// their work at these sizes. sc (NH, n) scratch.
static void decode_attention_row(float *y, const float *q, const float *kp, const float *vp, int L, const float *kc,
                                 const float *vc, float *sc, int n, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int j0 = 0, j1; j0 < n; j0 = j1) {
        j1 = pos_block_end(j0, L, n);
        const float *k = j0 < L ? kp : kc;
        for (int h = 0; h < NH; h++) attn_scores(sc + h * n, q + h * hs, k + h * hs, C, j0, j1, hs, scale);
    }
    for (int h = 0; h < NH; h++) {
        float *s = sc + h * n;
        float inv = 1.0f / vexp_sum(s, s, vmax(s, n), n);
        for (int j = 0; j < n; j++) s[j] *= inv;
    }
    memset(y, 0, (size_t)C * sizeof(float));
    for (int j0 = 0, j1; j0 < n; j0 = j1) {
        j1 = pos_block_end(j0, L, n);
        const float *v = j0 < L ? vp : vc;
        for (int h = 0; h < NH; h++) attn_mix(y + h * hs, sc + h * n, v + h * hs, C, j0, j1, hs);
    }
}

// The decode step's attention for one layer: active row r is sequence act[r] at position pos[act[r]]; its
// K and V join the cache, then its one query attends over positions [0, pos] (decode_attention_row), its prompt
// positions in the cache of its source src[i]. The rows run in parallel, each thread scoring in its own slice
// of scores.
typedef struct {
    float *kc, *vc;           // this layer's cache, (n,tcap,C) each (kv_layout)
    size_t seq_stride;        // tcap*C (kv_layout)
    const int *act, *pos;
    const int *src, *plen;    // each sequence's source prompt (itself, or the first of its run of equal prompts)
    int na;
    float *scores;            // (threads,NH,maxT) scratch, or one thread's (NH,maxT) slice when called per thread
    int max_t;
    int C, NH;
} DecodeAttention;

static void decode_attend(void *ctx, float *atty, const float *qkv) {
    const DecodeAttention *da = ctx;
    int C = da->C, C3 = 3 * C;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < da->na; r++) {
        int i = da->act[r], t = da->pos[i];
        const float *qr = qkv + (size_t)r * C3;
        float *krow = da->kc + i * da->seq_stride, *vrow = da->vc + i * da->seq_stride;
        memcpy(krow + (size_t)t * C, qr + C, C * sizeof(float));
        memcpy(vrow + (size_t)t * C, qr + 2 * C, C * sizeof(float));
        // scores is this call's scratch base: per op, one slice per thread; per thread (decode_step's split,
        // where this loop runs nested on one thread, nn_thread() 0), the caller's own slice
        float *sc = da->scores + (size_t)nn_thread() * da->NH * da->max_t;
        int s = da->src[i], L = da->plen[i]; // split at the prompt for sources too: the same bits either way
        const float *kp = da->kc + s * da->seq_stride, *vp = da->vc + s * da->seq_stride;
        decode_attention_row(atty + (size_t)r * C, qr, kp, vp, L, krow, vrow, sc, t + 1, C, da->NH);
    }
}

// ----------------------------------------------------------------------------------------------------------
// Prefill

// The prompts as model_sample gets them: sequence i's prompt is tok + i*stride, of length len[i].
typedef struct { const int *tok; int stride; const int *len; int n; } Prompts;

static const int *prompt_of(const Prompts *pr, int i) { return pr->tok + (size_t)i * pr->stride; }

// src[i] = the first of a run of adjacent equal prompts that i belongs to (i itself when it differs from
// i-1). GRPO lays out G copies of each prompt side by side; only sources are prefilled.
static void find_sources(const Prompts *pr, int *src) {
    for (int i = 0; i < pr->n; i++) {
        src[i] = i > 0 && pr->len[i] == pr->len[i - 1] &&
                 memcmp(prompt_of(pr, i), prompt_of(pr, i - 1), (size_t)pr->len[i] * sizeof(int)) == 0 ? src[i - 1]
                                                                                                      : i;
    }
}

// A chunk of packed prompt positions: segments (seq[k], positions [t0[k], t0[k]+len[k])), rows in total.
typedef struct { int *seq, *t0, *len; int nseg, rows; } Chunk;

// Packs up to R positions from the cursor (*ci, *ct) (the next source prompt and position) into ch, with
// their embeddings in px (R,C), and advances the cursor.
static void pack_chunk(Chunk *ch, float *px, int R, const Prompts *pr, const int *src, const ParamTensors *p, int C,
                       int *ci, int *ct) {
    ch->nseg = 0; ch->rows = 0;
    while (*ci < pr->n && ch->rows < R) {
        int i = *ci, t0 = *ct, pl = pr->len[i], take = pl - t0 < R - ch->rows ? pl - t0 : R - ch->rows;
        ch->seq[ch->nseg] = i; ch->t0[ch->nseg] = t0; ch->len[ch->nseg] = take; ch->nseg++;
        for (int t = t0; t < t0 + take; t++)
            embed_row(px + (size_t)(ch->rows + t - t0) * C, p->wte, p->wpe, prompt_of(pr, i)[t], t, C);
        ch->rows += take; *ct += take;
        if (*ct == pl) {
            *ct = 0;
            do (*ci)++; while (*ci < pr->n && src[*ci] != *ci);
        }
    }
}

// Runs the source prompts through the model in chunks of up to cap_pre positions, with GEMMs over all of a
// chunk's rows, filling the KV cache; a prompt's last position leaves its final LayerNorm output in xn row i
// (the LM head runs once for all prompts after). A prompt may straddle two chunks: attention reads K and V
// from the cache. The cache's ints hold the chunk's segments here; they get their decode meaning after.
static void prefill(SampleCache *c, const ModelConfig *cfg, const ParamTensors *p, const Prompts *pr,
                    const int *src) {
    int L = cfg->n_layer, C = cfg->d_model, NH = cfg->n_head;
    size_t seq_stride = c->seq_stride, layer_stride = c->layer_stride;
    int *done = c->ints + c->cap_n, *act = done + c->cap_n, *srow = act + c->cap_n; // (cap_n) each; src is ints
    Chunk ch = {act, srow, done, 0, 0};
    BlockBufs b = {.in = c->px, .ln1 = c->pxn, .qkv = c->pbig, .atty = c->pxn, .res2 = c->px, .ln2 = c->pxn,
                   .fch = c->pbig, .fch_gelu = c->pbig, .out = c->px};
    int ci = 0, ct = 0; // the next prompt position to prefill (prompt 0 is always a source)
    while (ci < pr->n) {
        pack_chunk(&ch, c->px, c->cap_pre, pr, src, p, C, &ci, &ct);
        for (int l = 0; l < L; l++) {
            LayerTensors w = layer_tensors(p, l, C);
            PackedLayer pk = packed_layer(c->wpack, cfg, l);
            PrefillAttention pa = {c->kcache + l * layer_stride, c->vcache + l * layer_stride, seq_stride,
                                   ch.seq, ch.t0, ch.len, ch.nseg, c->patt, c->pws, cfg->max_t, C, NH};
            block_forward(&w, &pk, &b, ch.rows, C, prefill_attend, &pa);
        }
        for (int k = 0, r = 0; k < ch.nseg; r += ch.len[k], k++) {
            int i = ch.seq[k];
            if (ch.t0[k] + ch.len[k] == pr->len[i])
                layernorm_forward(c->xn + (size_t)i * C, NULL, NULL, c->px + (size_t)(r + ch.len[k] - 1) * C,
                                  p->lnfw, p->lnfb, 1, C);
        }
    }
}

// A prompt that was not prefilled takes its source's final hidden state; its prompt positions' K and V stay in
// the source's cache, where decode_attention_row reads them (so they are neither copied nor read G times).
static void copy_duplicates(SampleCache *c, const ModelConfig *cfg, const Prompts *pr, const int *src) {
    int C = cfg->d_model;
    for (int i = 0; i < pr->n; i++)
        if (src[i] != i) memcpy(c->xn + (size_t)i * C, c->xn + (size_t)src[i] * C, C * sizeof(float));
}

// ----------------------------------------------------------------------------------------------------------
// Decode

// Where the sampled tokens go: out_tok, out_logp (n,max_new), out_len (n), as model_sample documents.
typedef struct { int *tok; float *logp; int *len; int max_new; } SampleOut;

// Draws the token of rows [r0, r1) of c->logits (sequence seq[r], or r when seq is NULL; its token index is
// pos[i] + 1 - plen[i], or 0 when pos is NULL) into o, with the uniforms c->uni[r] drawn before, one per row in
// row order: so rows can run on any thread (each with its own probs and pairs) and draw the same tokens.
static void sample_rows(SampleCache *c, int V, const SampleParams *sp, const int *seq, int r0, int r1,
                        const int *pos, const int *plen, SampleOut *o) {
    int t = nn_thread();
    for (int r = r0; r < r1; r++) {
        int i = seq ? seq[r] : r, g = pos ? pos[i] + 1 - plen[i] : 0;
        float lp;
        int tk = token_sample(c->logits + (size_t)r * V, V, sp, c->uni[r], c->probs + (size_t)t * V,
                              c->pairs + (size_t)t * V, &lp);
        o->tok[(size_t)i * o->max_new + g] = tk;
        o->logp[(size_t)i * o->max_new + g] = lp;
    }
}

static void draw_uniforms(SampleCache *c, Rng *rng, int n) {
    for (int r = 0; r < n; r++) c->uni[r] = rng_uniformf(rng);
}

// The first tokens: rows 0..n-1 of c->logits are sequences 0..n-1.
static void draw_first_tokens(SampleCache *c, int V, const SampleParams *sp, Rng *rng, int n, SampleOut *o) {
    draw_uniforms(c, rng, n);
#pragma omp parallel
    {
        int lo, hi;
        nn_part_here(n, 1, &lo, &hi);
        sample_rows(c, V, sp, NULL, lo, hi, NULL, NULL, o);
    }
}

// The decode step over active rows [r0, r1): embed each row's last sample at its position, run the blocks,
// the final LayerNorm and the LM head, and draw the rows' tokens (uniforms already in c->uni). scores is this
// call's slice of the attention scratch.
static void decode_rows(SampleCache *c, const ModelConfig *cfg, const ParamTensors *p, const Prompts *pr,
                        const SampleParams *sp, int r0, int r1, float *scores, SampleOut *o) {
    int L = cfg->n_layer, C = cfg->d_model, NH = cfg->n_head, V = cfg->vocab, max_new = sp->max_new, n = r1 - r0;
    int *pos = c->ints, *done = pos + c->cap_n, *act = done + c->cap_n, *srow = act + c->cap_n;
    size_t seq_stride = c->seq_stride, layer_stride = c->layer_stride;
    for (int r = r0; r < r1; r++) {
        int i = act[r], t = pos[i];
        embed_row(c->x + (size_t)r * C, p->wte, p->wpe, o->tok[(size_t)i * max_new + t - pr->len[i]], t, C);
    }
    float *x = c->x + (size_t)r0 * C, *xn = c->xn + (size_t)r0 * C;
    BlockBufs b = {.in = x, .ln1 = xn, .qkv = c->qkv + (size_t)r0 * 3 * C, .atty = c->y + (size_t)r0 * C, .res2 = x,
                   .ln2 = xn, .fch = c->h + (size_t)r0 * 4 * C, .fch_gelu = c->h + (size_t)r0 * 4 * C, .out = x};
    for (int l = 0; l < L; l++) {
        LayerTensors w = layer_tensors(p, l, C);
        PackedLayer pk = packed_layer(c->wpack, cfg, l);
        DecodeAttention da = {c->kcache + l * layer_stride, c->vcache + l * layer_stride, seq_stride, act + r0, pos,
                              srow, pr->len, n, scores, cfg->max_t, C, NH};
        block_forward(&w, &pk, &b, n, C, decode_attend, &da);
    }
    layernorm_forward(xn, NULL, NULL, x, p->lnfw, p->lnfb, n, C);
    lm_head_forward(c->logits + (size_t)r0 * V, xn, packed_wte(c->wpack, cfg), n, C, V);
    sample_rows(c, V, sp, act, r0, r1, pos, pr->len, o);
}

// A thread's share of a decode step is its own slice of the sequences when each gets at least this many rows:
// one fork/join per step instead of several per layer (the GEMMs stay large enough), which matters most when
// the cores are shared. With fewer rows the threads split each operation instead.
#define DECODE_ROWS_PER_THREAD 8

// Thread t's rows [lo, hi) of na, in proportion to the threads' measured speeds (c->rate), in whole units of
// `unit` rows; an even split until every thread has been measured. The cores of a rank are not equally fast (a
// core shared with another tenant or an SMT sibling): on the 2-core dev box one core ran the decode 1.1-1.4x
// slower than the other, and an even split waited for it every step. No thread gets under a quarter of the
// fastest one's share, so each keeps being measured. The split does not change the bits: rows are
// independent, and their uniforms were drawn before.
static void decode_split(const double *rate, int nt, int na, int unit, int t, int *lo, int *hi) {
    double mx = 0.0, total = 0.0, before = 0.0;
    for (int k = 0; k < nt; k++) mx = rate[k] > mx ? rate[k] : mx;
    for (int k = 0; k < nt; k++) {
        if (rate[k] <= 0.0) { nn_part(na, unit, t, nt, lo, hi); return; }
        double r = rate[k] > 0.25 * mx ? rate[k] : 0.25 * mx;
        total += r;
        if (k < t) before += r;
    }
    double r = rate[t] > 0.25 * mx ? rate[t] : 0.25 * mx;
    long units = (na + unit - 1) / unit;
    long u0 = lround(units * before / total), u1 = t == nt - 1 ? units : lround(units * (before + r) / total);
    *lo = u0 * unit < na ? (int)(u0 * unit) : na;
    *hi = u1 * unit < na ? (int)(u1 * unit) : na;
}

// One decode step: every active sequence (act, na of them) feeds its last sample at its own position pos[i],
// and draws its next token. Sequences that drew EOS or reached max_new are marked done.
static void decode_step(SampleCache *c, const ModelConfig *cfg, const ParamTensors *p, const Prompts *pr,
                        const SampleParams *sp, Rng *rng, int na, SampleOut *o) {
    int max_new = sp->max_new, nt = nn_team();
    int *pos = c->ints, *done = pos + c->cap_n, *act = done + c->cap_n;
    draw_uniforms(c, rng, na);
    if (nt > 1 && na >= nt * DECODE_ROWS_PER_THREAD) {
#pragma omp parallel num_threads(nt)
        {
            int lo, hi, t = nn_thread();
            decode_split(c->rate, nt, na, 4, t, &lo, &hi);
            float *sc = c->scores + (size_t)t * cfg->n_head * cfg->max_t;
            double t0 = nn_clock();
            if (hi > lo) decode_rows(c, cfg, p, pr, sp, lo, hi, sc, o);
            double dt = nn_clock() - t0, rows_per_s = dt > 0.0 ? (hi - lo) / dt : 0.0;
#pragma omp barrier
            // (after every thread has read the rates for its split: else two threads may split by other rates)
            if (rows_per_s > 0.0) c->rate[t] = c->rate[t] > 0.0 ? 0.5 * (c->rate[t] + rows_per_s) : rows_per_s;
        }
    } else {
        decode_rows(c, cfg, p, pr, sp, 0, na, c->scores, o);
    }
    for (int r = 0; r < na; r++) {
        int i = act[r], g = pos[i] + 1 - pr->len[i]; // index of the token drawn now
        int tk = o->tok[(size_t)i * max_new + g];
        if (tk == sp->eos || g + 1 == max_new) { done[i] = 1; o->len[i] = g + 1; }
        pos[i]++;
    }
}

// ----------------------------------------------------------------------------------------------------------
// model_sample

static void check_sample_args(const ModelConfig *cfg, const Prompts *pr, const SampleParams *sp) {
    int n = pr->n, max_new = sp->max_new;
    CHECK(n >= 0 && max_new >= 0 && sp->temperature > 0.0f && sp->top_p > 0.0f,
          "model_sample: n=%d max_new=%d temperature=%g top_p=%g", n, max_new, sp->temperature, sp->top_p);
    for (int i = 0; i < n; i++) {
        CHECK(pr->len[i] >= 1 && pr->len[i] + max_new <= cfg->max_t,
              "model_sample: prompt %d has length %d (+%d new > max_t %d?)", i, pr->len[i], max_new, cfg->max_t);
        for (int t = 0; t < pr->len[i]; t++)
            CHECK(prompt_of(pr, i)[t] >= 0 && prompt_of(pr, i)[t] < cfg->vocab,
                  "model_sample: prompt token out of vocab");
    }
}

void model_sample(Model *m, const int *prompt_tok, int prompt_stride, const int *prompt_len, int n,
                  const SampleParams *sp, Rng *rng, int *out_tok, float *out_logp, int *out_len) {
    const ModelConfig *cfg = model_config(m);
    const ParamTensors p = model_param_tensors(m);
    int V = cfg->vocab, max_new = sp->max_new;
    Prompts pr = {prompt_tok, prompt_stride, prompt_len, n};
    check_sample_args(cfg, &pr, sp);
    for (size_t i = 0; i < (size_t)n * max_new; i++) { out_tok[i] = sp->eos; out_logp[i] = 0.0f; }
    for (int i = 0; i < n; i++) out_len[i] = 0;
    if (n == 0 || max_new == 0) return;
    SampleCache *c = model_sample_cache(m, n);
    NnThreads saved = nn_enter(model_threads(m));
    int *pos = c->ints, *done = pos + c->cap_n, *act = done + c->cap_n;
    int *src = pos; // during prefill pos holds each sequence's source prompt
    find_sources(&pr, src);
    kv_layout(c, cfg, prompt_len, n, max_new);
    c->wpack = model_packed_weights(m);
    prefill(c, cfg, &p, &pr, src);
    copy_duplicates(c, cfg, &pr, src);
    memcpy(act + c->cap_n, src, n * sizeof(int)); // srow: the sources, for the decode's attention
    lm_head_forward(c->logits, c->xn, packed_wte(c->wpack, cfg), n, cfg->d_model, V);
    SampleOut o = {out_tok, out_logp, out_len, max_new};
    draw_first_tokens(c, V, sp, rng, n, &o); // first tokens in sequence order, then decode steps
    for (int i = 0; i < n; i++) {
        int tk = out_tok[(size_t)i * max_new];
        pos[i] = prompt_len[i];
        done[i] = tk == sp->eos || max_new == 1;
        if (done[i]) out_len[i] = 1;
    }
    for (;;) {
        int na = 0;
        for (int i = 0; i < n; i++) if (!done[i]) act[na++] = i;
        if (na == 0) break;
        decode_step(c, cfg, &p, &pr, sp, rng, na, &o);
    }
    nn_leave(saved);
}
