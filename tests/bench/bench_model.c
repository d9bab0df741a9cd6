// bench_model.c — learner step and KV-cache sampling throughput, each phase against the roofline of the very
// GEMM/GEMV shapes it issues (timed alone with OpenBLAS in the same run), and for the GPT-2-small shape the
// peak memory and the checkpoint write/read speed. Prints one `key value` line per figure (medians).
// Usage: bench_model [reps] [threads] [configs]
//   reps     timed repetitions after one warm-up (default 5); the figures are their medians
//   threads  threads per rank (model_set_threads; default 1). OpenBLAS runs on one thread inside the model.
//   configs  comma list of c256, c128, gpt2s (default c256,c128). gpt2s is d_model 768, 12 layers, 12 heads,
//            context 256, vocabulary 8192; with it the run also writes and reads a checkpoint-sized store file
//            (params + AdamW moments, fsync included) in $BENCH_CKPT_DIR (default build/bench/out).
// Times are process CPU time unless BENCH_WALL is set (wall clock: needed when threads > 1). The roofline shape
// timings always run on one thread; they are what a 1-thread phase is compared against.
// BENCH_THREAD_PAIRS=1 (threads > 1, BENCH_WALL=1): only the paired thread-scaling figures (bench_thread_pairs).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <cblas.h>          // cblas_sgemm/sgemv: the roofline figures
#include "model.h"
#include "../../src/nn/gemm.h" // gemm_pack, gemm_packed: the weight products, for the roofs
#include "optim.h"
#include "rng.h"
#include "store.h"          // the checkpoint container, for the write/read figure

static int g_wall;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(g_wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n) {
    qsort(x, n, sizeof(double), cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static double sgemm_gflops(int n, int reps) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) { a[i] = (float)(i % 13) * 0.01f; b[i] = (float)(i % 7) * 0.02f; }
    double t[64];
    for (int r = 0; r <= reps; r++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        if (r > 0) t[r - 1] = now_s() - t0; // the first call warms caches and OpenBLAS's buffers
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * n / median(t, reps) * 1e-9;
}

// ----------------------------------------------------------------------------------------------------------
// Roofline: the BLAS calls a phase issues (mirroring src/nn/layers.c, model.c and sample.c at one thread),
// each distinct shape timed alone; the phase's roof is the time those calls alone take.

// packed: a weight product out += X W^T that the phase runs with gemm_packed (the sampler), timed as such
// for the roof, or as cblas_sgemm for the OpenBLAS roof.
typedef struct { int gemv, ta, tb, M, N, K, lda, ldb, ldc, packed; double count; } Shape;
typedef struct { Shape s[4096]; int n; } Shapes;

static void add_packed(Shapes *p, int ta, int M, int N, int K, double count) {
    for (int i = 0; i < p->n; i++) {
        Shape *s = &p->s[i];
        if (s->packed && s->ta == ta && s->M == M && s->N == N && s->K == K) { s->count += count; return; }
    }
    if (p->n < 4096) p->s[p->n++] = (Shape){0, ta, 1, M, N, K, ta ? M : K, K, N, 1, count};
}

// y = op(A) x with A (M,N) row-major, leading dimension lda
static void add_gemv(Shapes *p, int ta, int M, int N, int lda, double count) {
    for (int i = 0; i < p->n; i++) {
        Shape *s = &p->s[i];
        if (s->gemv && s->ta == ta && s->M == M && s->N == N && s->lda == lda) { s->count += count; return; }
    }
    if (p->n < 4096) p->s[p->n++] = (Shape){1, ta, 0, M, N, 0, lda, 0, 0, 0, count};
}

static size_t span(int trans, int rows, int cols, int ld) { // floats an operand (rows,cols) of op() spans
    return trans ? (size_t)cols * ld : (size_t)rows * ld;
}

// Seconds one call of shape s takes: the best of 5 batches (the roof, not the noise), each of enough calls to
// last ~2 ms. openblas: a packed shape is timed as the cblas_sgemm that would do the same product.
static double time_shape(const Shape *s, int openblas) {
    size_t na, nb, nc;
    if (s->gemv) { na = (size_t)s->M * s->lda; nb = s->ta ? s->M : s->N; nc = s->ta ? s->N : s->M; }
    else { na = span(s->ta, s->M, s->K, s->lda); nb = span(s->tb, s->K, s->N, s->ldb); nc = (size_t)s->M * s->ldc; }
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *wp = NULL;
    for (size_t i = 0; i < na; i++) a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < nb; i++) b[i] = (float)(i % 7) * 0.02f;
    for (size_t i = 0; i < nc; i++) c[i] = 0.0f;
    int packed = s->packed && !openblas;
    if (packed) {
        wp = malloc(gemm_packed_floats(s->N, s->K) * sizeof(float));
        gemm_pack(wp, b, s->K, s->N, s->K);
    }
    double best = 1e30;
    int calls = 1;
    for (int rep = -1; rep < 5; rep++) {
        double t0 = now_s();
        for (int k = 0; k < calls; k++) {
            if (packed)
                gemm_packed(c, s->ldc, a, s->lda, s->ta, wp, s->M, s->K, 0, s->N, NULL);
            else if (s->gemv)
                cblas_sgemv(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->M, s->N, 1.0f, a, s->lda, b, 1, 0.0f,
                            c, 1);
            else
                cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M,
                            s->N, s->K, 1.0f, a, s->lda, b, s->ldb, 0.0f, c, s->ldc);
        }
        double dt = now_s() - t0;
        if (rep < 0) { calls = dt > 2e-3 ? 1 : (int)(2e-3 / (dt > 1e-7 ? dt : 1e-7)) + 1; continue; } // warm-up
        if (dt / calls < best) best = dt / calls;
    }
    free(a); free(b); free(c); free(wp);
    return best;
}

// The roof's seconds for all the calls in p, and their FLOPs; *blas_sec (may be NULL): the same with the packed
// products done by cblas_sgemm instead, the roof had the phase kept OpenBLAS.
static double roof_seconds(const Shapes *p, double *flops, double *blas_sec) {
    double sec = 0.0, bsec = 0.0, f = 0.0;
    for (int i = 0; i < p->n; i++) {
        const Shape *s = &p->s[i];
        double t = time_shape(s, 0);
        sec += s->count * t;
        bsec += s->count * (s->packed && blas_sec ? time_shape(s, 1) : t);
        f += s->count * (s->gemv ? 2.0 * s->M * s->N : 2.0 * s->M * s->N * s->K);
    }
    if (flops) *flops = f;
    if (blas_sec) *blas_sec = bsec;
    return sec;
}

#define ATT_BLOCK 32 // src/nn/layers.h

// Causal attention of one (sequence, head) over T positions: layers.c's attention_head/attention_head_backward
// row blocks, on the packed kernel (K, V and blocks of dY, Q packed per head).
static void attention_shapes(Shapes *p, int T, int hs, double count, int backward) {
    for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
        int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
        if (!backward) {
            add_packed(p, 0, ni, i1, hs, count);   // S = Q K^T
            add_packed(p, 0, ni, hs, i1, count);   // Y = P V
        } else {
            add_packed(p, 0, ni, i1, hs, count);   // dP = dY V^T
            add_packed(p, 1, i1, hs, ni, count);   // dV += P^T dY
            add_packed(p, 0, ni, hs, i1, count);   // dQ = dS K
            add_packed(p, 1, i1, hs, ni, count);   // dK += dS^T Q
        }
    }
}

// The four weight GEMMs of a block over N rows (forward: out = in W^T), on the packed weights.
static void block_weight_shapes(Shapes *p, int N, int C, double L) {
    int io[4][2] = {{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}}; // (IC, OC) of qkv, attproj, fc, fcproj
    for (int k = 0; k < 4; k++) {
        int IC = io[k][0], OC = io[k][1];
        add_packed(p, 0, N, OC, IC, L);
    }
}

static void learner_shapes(Shapes *fw, Shapes *bw, const ModelConfig *cfg, int B, int T) {
    int C = cfg->d_model, L = cfg->n_layer, NH = cfg->n_head, V = cfg->vocab, N = B * T, hs = C / NH;
    block_weight_shapes(fw, N, C, L);
    attention_shapes(fw, T, hs, (double)L * B * NH, 0);
    add_packed(fw, 0, N, V, C, 1);
    add_packed(bw, 0, N, C, V, 1);        // tied LM head: d x = dlogits wte, d wte = dlogits^T x
    add_packed(bw, 1, V, C, N, 1);
    int io[4][2] = {{4 * C, C}, {C, 4 * C}, {C, C}, {C, 3 * C}}; // (IC, OC) of fcproj, fc, attproj, qkv
    for (int k = 0; k < 4; k++) {
        int IC = io[k][0], OC = io[k][1];
        add_packed(bw, 0, N, IC, OC, L);  // d input = dout W
        add_packed(bw, 1, OC, IC, N, L);  // d weight = dout^T input
    }
    attention_shapes(bw, T, hs, (double)L * B * NH, 1);
}

// Prefill of n distinct prompts of length P packed in one chunk (n*P <= 1024 rows), then the LM head and the
// decode steps: na = n rows at positions P .. P+new-2, one query against the cache per head. sample.c runs that
// attention as its own kernel (decode_attention_row); the roof keeps the BLAS way of doing the same FLOPs, two
// GEMVs per (row, head), as the decode issued them until 2026-11-28.
static void sample_shapes(Shapes *pre, Shapes *dec, const ModelConfig *cfg, int n, int P, int new_tokens) {
    int C = cfg->d_model, L = cfg->n_layer, NH = cfg->n_head, V = cfg->vocab, hs = C / NH;
    block_weight_shapes(pre, n * P, C, L);
    attention_shapes(pre, P, hs, (double)L * n * NH, 0); // each prompt one segment: the learner's forward kernel
    add_packed(pre, 0, n, V, C, 1);
    for (int s = 0; s + 1 < new_tokens; s++) {
        int t = P + s;
        block_weight_shapes(dec, n, C, L);
        add_gemv(dec, 0, t + 1, hs, C, (double)L * n * NH);
        add_gemv(dec, 1, t + 1, hs, C, (double)L * n * NH);
        add_packed(dec, 0, n, V, C, 1);
    }
}

// ----------------------------------------------------------------------------------------------------------
// The benchmark of one configuration

typedef struct {
    const char *tag;
    int C, L, NH, T, B, V;
    int nseq, prompt, new_tokens;   // sampling: sequences, prompt length, new tokens each
} BenchConfig;

static const BenchConfig CONFIGS[] = {
    {"c256", 256, 4, 4, 128, 16, 512, 64, 16, 64},
    {"c128", 128, 2, 4, 64, 16, 512, 64, 16, 64},
    {"gpt2s", 768, 12, 12, 256, 4, 8192, 32, 16, 32},
};

static Model *make_model(const BenchConfig *bc, int threads, Rng *r) {
    ModelConfig cfg = {.n_layer = bc->L, .n_head = bc->NH, .d_model = bc->C,
                       .max_t = bc->T > bc->prompt + bc->new_tokens ? bc->T : bc->prompt + bc->new_tokens,
                       .vocab = bc->V};
    rng_seed(r, 1, RNG_TEST, 0, 0);
    Model *m = model_create(&cfg, r);
    model_set_threads(m, threads);
    model_reserve(m, bc->B, bc->T, bc->nseq);
    return m;
}

// Learner steps: forward, backward, clip+AdamW; prints the medians and the roofline figures.
static void bench_learner(const BenchConfig *bc, Model *m, AdamW *opt, Rng *r, int reps, double sgemm) {
    const char *tag = bc->tag;
    int B = bc->B, T = bc->T, V = bc->V, BT = B * T;
    unsigned char *mask = malloc(model_num_params(m));
    model_decay_mask(m, mask);
    int *tok = malloc(sizeof(int) * BT), *tgt = malloc(sizeof(int) * BT);
    float *logp = malloc(sizeof(float) * BT), *ent = malloc(sizeof(float) * BT), *dlogp = malloc(sizeof(float) * BT);
    for (int i = 0; i < BT; i++) { tok[i] = (int)rng_below(r, V); tgt[i] = (int)rng_below(r, V); }
    for (int i = 0; i < BT; i++) dlogp[i] = -1.0f / BT;
    double ts[64], tf[64], tb[64], to[64];
    for (int k = 0; k <= reps; k++) {
        double t0 = now_s();
        model_zero_grad(m);
        model_forward(m, tok, tgt, B, T, logp, ent);
        double t1 = now_s();
        model_backward(m, dlogp);
        double t2 = now_s();
        adamw_step(opt, model_params(m), model_grads(m), mask);
        double t3 = now_s();
        if (k > 0) { ts[k - 1] = t3 - t0; tf[k - 1] = t1 - t0; tb[k - 1] = t2 - t1; to[k - 1] = t3 - t2; }
    }
    double step = median(ts, reps), fwd = median(tf, reps), bwd = median(tb, reps);
    double flops = model_train_flops(model_config(m), B, T);
    printf("%s.learner_step_ms %.3f\n", tag, step * 1e3);
    printf("%s.learner_forward_ms %.3f\n", tag, fwd * 1e3);
    printf("%s.learner_backward_ms %.3f\n", tag, bwd * 1e3);
    printf("%s.learner_adamw_ms %.3f\n", tag, median(to, reps) * 1e3);
    printf("%s.learner_tokens_per_s %.1f\n", tag, BT / step);
    printf("%s.learner_gflops %.2f\n", tag, flops / step * 1e-9);
    printf("%s.learner_pct_of_sgemm %.1f\n", tag, 100.0 * flops / step * 1e-9 / sgemm);
    static Shapes fw, bw;
    fw.n = bw.n = 0;
    learner_shapes(&fw, &bw, model_config(m), B, T);
    double ff, fb, bf, bb, rf = roof_seconds(&fw, &ff, &bf), rb = roof_seconds(&bw, &fb, &bb);
    printf("%s.forward_roof_gflops %.2f\n", tag, ff / rf * 1e-9);
    printf("%s.forward_gflops %.2f\n", tag, ff / fwd * 1e-9);
    printf("%s.forward_pct_of_roof %.1f\n", tag, 100.0 * rf / fwd);
    printf("%s.backward_roof_gflops %.2f\n", tag, fb / rb * 1e-9);
    printf("%s.backward_gflops %.2f\n", tag, fb / bwd * 1e-9);
    printf("%s.backward_pct_of_roof %.1f\n", tag, 100.0 * rb / bwd);
    printf("%s.learner_pct_of_roof %.1f\n", tag, 100.0 * (rf + rb) / (fwd + bwd));
    printf("%s.forward_pct_of_openblas_roof %.1f\n", tag, 100.0 * bf / fwd);
    printf("%s.backward_pct_of_openblas_roof %.1f\n", tag, 100.0 * bb / bwd);
    printf("%s.learner_pct_of_openblas_roof %.1f\n", tag, 100.0 * (bf + bb) / (fwd + bwd));
    free(tok); free(tgt); free(logp); free(ent); free(dlogp); free(mask);
}

// Sampling as a GRPO rollout lays it out: the nseq sequences are nseq/8 prompts, each repeated 8 times side
// by side (prefilled once; the 8 completions read one copy of the prompt's K/V). prompt (nseq, P) is scratch.
static void bench_sample_grouped(const BenchConfig *bc, Model *m, Rng *r, int reps, int *prompt, int *out,
                                 float *out_lp, int *out_len) {
    enum { G = 8 };
    int n = bc->nseq, P = bc->prompt, NEW = bc->new_tokens;
    int *plen = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) plen[i] = P;
    for (int i = 0; i < n; i++)
        if (i % G) memcpy(prompt + (size_t)i * P, prompt + (size_t)(i - i % G) * P, sizeof(int) * P);
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = NEW, .eos = -1};
    double t[64];
    for (int k = 0; k <= reps; k++) {
        rng_seed(r, 2, RNG_SAMPLE, 0, k);
        double t0 = now_s();
        model_sample(m, prompt, P, plen, n, &sp, r, out, out_lp, out_len);
        if (k > 0) t[k - 1] = now_s() - t0;
    }
    printf("%s.sample_grpo%d_tokens_per_s %.1f\n", bc->tag, G, n * NEW / median(t, reps));
    free(plen);
}

// Sampling: nseq sequences of prompt tokens, new_tokens each, no EOS stop; plain and top-k/top-p. The prefill
// alone is timed as a max_new = 1 call (prefill, LM head, first draw); decode = the rest.
static void bench_sample(const BenchConfig *bc, Model *m, Rng *r, int reps) {
    const char *tag = bc->tag;
    int n = bc->nseq, P = bc->prompt, NEW = bc->new_tokens, V = bc->V;
    int *prompt = malloc(sizeof(int) * n * P), *plen = malloc(sizeof(int) * n), *out_len = malloc(sizeof(int) * n);
    int *out = malloc(sizeof(int) * n * NEW);
    float *out_lp = malloc(sizeof(float) * n * NEW);
    for (int i = 0; i < n * P; i++) prompt[i] = (int)rng_below(r, V);
    for (int i = 0; i < n; i++) plen[i] = P;
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = NEW, .eos = -1};
    SampleParams spf = {.temperature = 0.8f, .top_k = 50, .top_p = 0.95f, .max_new = NEW, .eos = -1};
    SampleParams sp1 = sp;
    sp1.max_new = 1;
    double med[3];
    for (int variant = 0; variant < 3; variant++) {
        double t[64];
        const SampleParams *p = variant == 0 ? &sp : variant == 1 ? &spf : &sp1;
        for (int k = 0; k <= reps; k++) {
            rng_seed(r, 2, RNG_SAMPLE, 0, k);
            double t0 = now_s();
            model_sample(m, prompt, P, plen, n, p, r, out, out_lp, out_len);
            if (k > 0) t[k - 1] = now_s() - t0;
        }
        med[variant] = median(t, reps);
    }
    printf("%s.sample_tokens_per_s %.1f\n", tag, n * NEW / med[0]);
    bench_sample_grouped(bc, m, r, reps, prompt, out, out_lp, out_len);
    printf("%s.sample_topk50_topp095_tokens_per_s %.1f\n", tag, n * NEW / med[1]);
    double pre = med[2], dec = med[0] - med[2];
    static Shapes ps, ds;
    ps.n = ds.n = 0;
    sample_shapes(&ps, &ds, model_config(m), n, P, NEW);
    double fp, fd, bp, bd, rp = roof_seconds(&ps, &fp, &bp), rd = roof_seconds(&ds, &fd, &bd);
    printf("%s.prefill_ms %.3f\n", tag, pre * 1e3);
    printf("%s.decode_ms %.3f\n", tag, dec * 1e3);
    printf("%s.prefill_roof_gflops %.2f\n", tag, fp / rp * 1e-9);
    printf("%s.prefill_gflops %.2f\n", tag, fp / pre * 1e-9);
    printf("%s.prefill_pct_of_roof %.1f\n", tag, 100.0 * rp / pre);
    printf("%s.decode_roof_gflops %.2f\n", tag, fd / rd * 1e-9);
    printf("%s.decode_gflops %.2f\n", tag, fd / dec * 1e-9);
    printf("%s.decode_pct_of_roof %.1f\n", tag, 100.0 * rd / dec);
    printf("%s.prefill_pct_of_openblas_roof %.1f\n", tag, 100.0 * bp / pre);
    printf("%s.decode_pct_of_openblas_roof %.1f\n", tag, 100.0 * bd / dec);
    free(prompt); free(plen); free(out_len); free(out); free(out_lp);
}

// Thread scaling, paired (BENCH_THREAD_PAIRS=1, with threads > 1 and BENCH_WALL): reps rounds, each one
// learner step (forward, backward, AdamW) and one sampling call at 1 thread, then the same at `threads`. On a
// shared machine both sides of a round see the same load, so the median of the rounds' ratios is steadier than
// a ratio of medians taken from separate processes minutes apart. Same model and inputs on both sides.
static double pair_learner_step(Model *m, AdamW *opt, const unsigned char *mask, const int *tok, const int *tgt,
                                int B, int T, float *logp, float *dlogp) {
    double t0 = now_s();
    model_zero_grad(m);
    model_forward(m, tok, tgt, B, T, logp, NULL);
    model_backward(m, dlogp);
    adamw_step(opt, model_params(m), model_grads(m), mask);
    return now_s() - t0;
}

static void bench_thread_pairs(const BenchConfig *bc, Model *m, AdamW *opt, Rng *r, int reps, int threads) {
    int B = bc->B, T = bc->T, V = bc->V, BT = B * T, n = bc->nseq, P = bc->prompt, NEW = bc->new_tokens;
    unsigned char *mask = malloc(model_num_params(m));
    model_decay_mask(m, mask);
    int *tok = malloc(sizeof(int) * BT), *tgt = malloc(sizeof(int) * BT), *prompt = malloc(sizeof(int) * n * P);
    int *plen = malloc(sizeof(int) * n), *out_len = malloc(sizeof(int) * n), *out = malloc(sizeof(int) * n * NEW);
    float *logp = malloc(sizeof(float) * BT), *dlogp = malloc(sizeof(float) * BT);
    float *out_lp = malloc(sizeof(float) * n * NEW);
    for (int i = 0; i < BT; i++) { tok[i] = (int)rng_below(r, V); tgt[i] = (int)rng_below(r, V); dlogp[i] = -1.0f / BT; }
    for (int i = 0; i < n * P; i++) prompt[i] = (int)rng_below(r, V);
    for (int i = 0; i < n; i++) plen[i] = P;
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = NEW, .eos = -1};
    double tl[2][64], tsm[2][64], rl[64], rs[64];
    for (int k = 0; k <= reps; k++) {           // round 0 warms both thread counts
        for (int side = 0; side < 2; side++) {
            int nt = side ? threads : 1;
            model_set_threads(m, nt);
            adamw_set_threads(opt, nt);
            double a = pair_learner_step(m, opt, mask, tok, tgt, B, T, logp, dlogp);
            rng_seed(r, 2, RNG_SAMPLE, 0, k);
            double t0 = now_s();
            model_sample(m, prompt, P, plen, n, &sp, r, out, out_lp, out_len);
            if (k > 0) { tl[side][k - 1] = a; tsm[side][k - 1] = now_s() - t0; }
        }
        if (k > 0) { rl[k - 1] = tl[0][k - 1] / tl[1][k - 1]; rs[k - 1] = tsm[0][k - 1] / tsm[1][k - 1]; }
    }
    const char *tag = bc->tag;
    printf("%s.pair_learner_tokens_per_s_1 %.1f\n", tag, BT / median(tl[0], reps));
    printf("%s.pair_learner_tokens_per_s_%d %.1f\n", tag, threads, BT / median(tl[1], reps));
    printf("%s.pair_learner_speedup %.3f\n", tag, median(rl, reps));
    printf("%s.pair_sample_tokens_per_s_1 %.1f\n", tag, n * NEW / median(tsm[0], reps));
    printf("%s.pair_sample_tokens_per_s_%d %.1f\n", tag, threads, n * NEW / median(tsm[1], reps));
    printf("%s.pair_sample_speedup %.3f\n", tag, median(rs, reps));
    model_set_threads(m, threads);
    adamw_set_threads(opt, threads);
    free(mask); free(tok); free(tgt); free(prompt); free(plen); free(out_len); free(out); free(logp); free(dlogp);
    free(out_lp);
}

// The checkpoint's bulk as ckpt_write stores it (model/params, optim/m, optim/v through the store container,
// commit = close + CRC frame + fsync + rename + directory fsync). MB/s over the three arrays' bytes, wall clock;
// written twice (the first file removed), the faster kept: on this para-virtualised machine page-cache pages the
// guest has not used lately cost a host fault each, and run.sh gives dd's write the same two tries.
// The read is timed by bench_checkpoint_read in a fresh process, as a resume reads it.
static void bench_checkpoint(const char *tag, Model *m, const AdamW *opt) {
    const char *dir = getenv("BENCH_CKPT_DIR") ? getenv("BENCH_CKPT_DIR") : "build/bench/out";
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/bench_ckpt_%d.h5", dir, (int)getpid());
    size_t n = model_num_params(m);
    double mb = 3.0 * n * sizeof(float) / 1e6, best = 0.0, best_put = 0.0, best_commit = 0.0;
    for (int k = 0; k < 2; k++) {
        if (k) unlink(path);
        double t0 = wall_s();
        StoreWriter *w = store_writer_create(path, "checkpoint", "", err, sizeof err);
        if (!w) { fprintf(stderr, "bench_model: %s\n", err); return; }
        store_put(w, "model/params", STORE_F32, model_params(m), 1, &n);
        store_put(w, "optim/m", STORE_F32, opt->m, 1, &n);
        store_put(w, "optim/v", STORE_F32, opt->v, 1, &n);
        double tp = wall_s();
        if (store_commit(w, err, sizeof err)) { fprintf(stderr, "bench_model: %s\n", err); return; }
        double t1 = wall_s();
        if (mb / (t1 - t0) > best) { best = mb / (t1 - t0); best_put = tp - t0; best_commit = t1 - tp; }
    }
    printf("%s.ckpt_put_s %.3f\n%s.ckpt_commit_s %.3f\n", tag, best_put, tag, best_commit); // commit: CRC + fsync
    printf("%s.ckpt_mb %.1f\n", tag, mb);
    printf("%s.ckpt_write_mb_per_s %.1f\n", tag, best);
    printf("%s.ckpt_path %s\n", tag, path); // run.sh reads it back (BENCH_CKPT_READ), copies it with dd, removes it
}

// BENCH_CKPT_READ=FILE: what a resume does with FILE, in this fresh process: the model and the optimizer exist
// (parameters initialised, moments zeroed), FILE leaves the page cache (as for a resume in a new job; run.sh does
// the same to dd's copy), then store_open (frame check) and store_get of the three arrays (each checksummed).
static void bench_checkpoint_read(const char *tag, Model *m, AdamW *opt, const char *path) {
    size_t n = model_num_params(m);
    char err[1024];
    int fd = open(path, O_RDONLY);
    // BENCH_CKPT_HOT=1 leaves the file in the page cache: the CPU side of the read alone (profiling)
    if (fd >= 0) { if (!getenv("BENCH_CKPT_HOT")) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); close(fd); }
    double t0 = wall_s();
    StoreReader *rd = store_open(path, "checkpoint", err, sizeof err);
    double to = wall_s();
    int ok = rd != NULL;
    const char *names[3] = {"model/params", "optim/m", "optim/v"};
    float *dst[3] = {model_params(m), opt->m, opt->v};
    for (int i = 0; ok && i < 3; i++) ok = store_get(rd, names[i], STORE_F32, dst[i], n) == 0;
    if (!ok) fprintf(stderr, "bench_model: reading %s failed: %s\n", path, rd ? store_reader_error(rd) : err);
    if (rd) store_close(rd);
    double t1 = wall_s();
    if (!ok) return;
    printf("%s.ckpt_open_s %.3f\n%s.ckpt_get_s %.3f\n", tag, to - t0, tag, t1 - to); // open: the frame's CRC
    printf("%s.ckpt_read_mb_per_s %.1f\n", tag, 3.0 * n * sizeof(float) / 1e6 / (t1 - t0));
}

static void bench_config(const BenchConfig *bc, int reps, int threads, double sgemm) {
    Rng r;
    Model *m = make_model(bc, threads, &r);
    AdamWConfig oc = {.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                      .grad_clip = 1.0f, .schedule = SCHED_CONSTANT, .warmup_steps = 0, .total_steps = 1,
                      .min_lr_frac = 0.1f};
    AdamW opt;
    adamw_init(&opt, &oc, model_num_params(m));
    adamw_set_threads(&opt, threads);
    if (getenv("BENCH_CKPT_READ")) {
        bench_checkpoint_read(bc->tag, m, &opt, getenv("BENCH_CKPT_READ"));
        adamw_free(&opt);
        model_free(m);
        return;
    }
    printf("%s.sgemm512_gflops %.2f\n", bc->tag, sgemm);
    printf("%s.params_m %.2f\n", bc->tag, model_num_params(m) / 1e6);
    if (getenv("BENCH_THREAD_PAIRS") && threads > 1) {
        bench_thread_pairs(bc, m, &opt, &r, reps, threads);
    } else if (!getenv("BENCH_CKPT_ONLY")) { // BENCH_CKPT_ONLY=1: the checkpoint figure alone (quick checks)
        if (!getenv("BENCH_SAMPLE_ONLY")) bench_learner(bc, m, &opt, &r, reps, sgemm); // (profiling the sampler)
        if (!getenv("BENCH_LEARNER_ONLY")) bench_sample(bc, m, &r, reps); // (profiling the learner)
    } else { // one update, so the moments are resident as after training (calloc'd pages are not)
        unsigned char *mask = calloc(model_num_params(m), 1);
        adamw_step(&opt, model_params(m), model_grads(m), mask);
        free(mask);
    }
    printf("%s.activation_mib %.1f\n", bc->tag, model_activation_bytes(m) / 1048576.0);
    if (!strcmp(bc->tag, "gpt2s") && !getenv("BENCH_NO_CKPT")) bench_checkpoint(bc->tag, m, &opt);
    adamw_free(&opt);
    model_free(m);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5, threads = argc > 2 ? atoi(argv[2]) : 1;
    const char *configs = argc > 3 ? argv[3] : "c256,c128";
    if (reps < 1) reps = 1;
    if (reps > 63) reps = 63;
    if (threads < 1) threads = 1;
    g_wall = getenv("BENCH_WALL") != NULL;
    const char *thr = getenv("OPENBLAS_NUM_THREADS");
    if (!thr || strcmp(thr, "1") != 0) fprintf(stderr, "bench_model: warning: set OPENBLAS_NUM_THREADS=1\n");
    if (threads > 1 && !g_wall) fprintf(stderr, "bench_model: warning: %d threads timed in CPU time; set BENCH_WALL=1\n", threads);
    // The vector ISA this build's own code was compiled for (ARCH in the Makefile), beside the CPU's: an
    // -march=haswell build on an AVX-512 machine runs the AVX2 code an AVX2-only machine gets.
#if defined(__AVX512F__)
    printf("code_isa AVX-512\n");
#elif defined(__AVX2__)
    printf("code_isa AVX2\n");
#else
    printf("code_isa SSE\n");
#endif
    if (!strcmp(configs, "none")) return 0;   // the probe: ISA lines only
    double sg = getenv("BENCH_CKPT_READ") ? 0.0 : sgemm_gflops(512, reps);
    printf("threads %d\n", threads);
    printf("sgemm512_gflops %.2f\n", sg);
    for (size_t i = 0; i < sizeof CONFIGS / sizeof CONFIGS[0]; i++) {
        const char *p = strstr(configs, CONFIGS[i].tag);
        size_t k = strlen(CONFIGS[i].tag);
        if (p && (p == configs || p[-1] == ',') && (p[k] == 0 || p[k] == ',')) bench_config(&CONFIGS[i], reps, threads, sg);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mib %.1f\n", ru.ru_maxrss / 1024.0);
    return 0;
}
