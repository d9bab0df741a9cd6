// bench_token_sampler.c — the token draw (src/nn/token_sampler.c) against ranking the whole vocabulary, the way
// pgrpo drew until 2026-11-28 (quickselect of top_k over V pairs, or a heap sort of all V for top-p alone, then
// the same prefix and draw), in the same run, on vocabularies of the bench models (512), the GPT-2-small bench
// shape (8192) and GPT-2 (50257). Logits N(0, 3^2), temperature 0.8. Prints `key value` lines: microseconds per
// token for each (best of `reps` batches), their ratio, and of 128 draws with the same uniforms how many differ.
// usage: bench_token_sampler [reps]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "rng.h"
#include "../../src/nn/token_sampler.h"
#include "../../src/nn/layers.h"      // vmax, vexp_sum, vsum, exp_fast
#include "best_time.h"

// ---- the peer: ranking the whole vocabulary (pgrpo's sampler before token_sampler.c) -------------------------
static int before(const SortPair *a, const SortPair *b) { return a->v > b->v || (a->v == b->v && a->i < b->i); }

static void select_top(SortPair *x, int n, int k) { // quickselect: x[0..k) the k best, in some order
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        SortPair pivot = x[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (i <= hi && before(&x[i], &pivot)) i++;
            while (j >= lo && before(&pivot, &x[j])) j--;
            if (i <= j) { SortPair t = x[i]; x[i] = x[j]; x[j] = t; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

static void sift(SortPair *x, int root, int n) {
    for (int c; (c = 2 * root + 1) < n; root = c) {
        if (c + 1 < n && before(&x[c], &x[c + 1])) c++;
        if (!before(&x[root], &x[c])) return;
        SortPair t = x[root]; x[root] = x[c]; x[c] = t;
    }
}

static int rank_all_sample(const float *z, int V, const SampleParams *sp, float u, float *probs, SortPair *pairs) {
    float mx = vmax(z, V), inv_t = 1.0f / sp->temperature;
    vexp_sum(probs, z, mx, V); // the temperature-1 log-normaliser, as the sampler computes it
    for (int v = 0; v < V; v++) { pairs[v].v = z[v]; pairs[v].i = v; }
    int keep = sp->top_k > 0 && sp->top_k < V ? sp->top_k : V;
    if (keep < V) select_top(pairs, V, keep);
    for (int i = keep / 2 - 1; i >= 0; i--) sift(pairs, i, keep);
    for (int end = keep - 1; end > 0; end--) {
        SortPair t = pairs[0]; pairs[0] = pairs[end]; pairs[end] = t;
        sift(pairs, 0, end);
    }
    float total = 0.0f;
    for (int j = 0; j < keep; j++) { probs[j] = exp_fast((pairs[j].v - mx) * inv_t); total += probs[j]; }
    if (sp->top_p < 1.0f) {
        float c = 0.0f, need = sp->top_p * total;
        for (int j = 0; j < keep; j++) if ((c += probs[j]) >= need) { keep = j + 1; total = c; break; }
    }
    float c = 0.0f, target = u * total;
    for (int j = 0; j < keep; j++) if ((c += probs[j]) > target) return pairs[j].i;
    return pairs[keep - 1].i;
}

// ---- timing ----------------------------------------------------------------------------------------------------
enum { ROWS = 16 };

typedef struct { int own, V; const float *z; const SampleParams *sp; float *probs; SortPair *pairs; } Draw;

static void draw_call(void *ctx, int d) {
    const Draw *w = ctx;
    const float *row = w->z + (size_t)(d % ROWS) * w->V;
    float u = (float)(d % 97) / 97.0f, lp;
    volatile int tok = w->own ? token_sample(row, w->V, w->sp, u, w->probs, w->pairs, &lp)
                              : rank_all_sample(row, w->V, w->sp, u, w->probs, w->pairs);
    (void)tok;
}

// Best-of-reps seconds per draw over ROWS rows (each rep enough draws to last ~20 ms).
static double time_draws(int own, const float *z, int V, const SampleParams *sp, float *probs, SortPair *pairs,
                         int reps) {
    Draw w = {own, V, z, sp, probs, pairs};
    return best_seconds_per_call(draw_call, &w, reps, 2e-2);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int vocab[] = {512, 8192, 50257};
    const struct { const char *tag; int k; float p; } filt[] = {{"topk50_topp095", 50, 0.95f}, {"greedy", 1, 1.0f},
                                                               {"topp095", 0, 0.95f}};
    float *z = malloc(sizeof(float) * ROWS * 50257), *probs = malloc(sizeof(float) * 50257);
    SortPair *pairs = malloc(sizeof(SortPair) * 50257);
    Rng r;
    rng_seed(&r, 3, RNG_TEST, 0, 0);
    for (int i = 0; i < ROWS * 50257; i++) z[i] = 3.0f * (float)rng_normal(&r);
    for (size_t a = 0; a < sizeof vocab / sizeof *vocab; a++)
        for (size_t f = 0; f < sizeof filt / sizeof *filt; f++) {
            int V = vocab[a];
            SampleParams sp = {.temperature = 0.8f, .top_k = filt[f].k, .top_p = filt[f].p, .max_new = 1, .eos = -1};
            double peer = time_draws(0, z, V, &sp, probs, pairs, reps);
            double own = time_draws(1, z, V, &sp, probs, pairs, reps);
            int differ = 0; // top-p alone may differ: its threshold is now top_p of the vocabulary's mass added
            for (int d = 0; d < 8 * ROWS; d++) { // in lanes, no longer in one running float over the ranking
                float lp, u = (float)(d % 97) / 97.0f;
                const float *row = z + (size_t)(d % ROWS) * V;
                int own_tok = token_sample(row, V, &sp, u, probs, pairs, &lp);
                differ += own_tok != rank_all_sample(row, V, &sp, u, probs, pairs);
            }
            printf("v%d_%s.rank_all_us %.2f\n", V, filt[f].tag, peer * 1e6);
            printf("v%d_%s.own_us %.2f\n", V, filt[f].tag, own * 1e6);
            printf("v%d_%s.speedup %.2f\n", V, filt[f].tag, peer / own);
            printf("v%d_%s.tokens_differ_of_%d %d\n", V, filt[f].tag, 8 * ROWS, differ);
        }
    free(z); free(probs); free(pairs);
    return 0;
}
