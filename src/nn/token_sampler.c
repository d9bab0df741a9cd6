// token_sampler.c — one token from a row of logits under temperature, top-k and top-p (see token_sampler.h).
#include <math.h>
#include "token_sampler.h"
#include "layers.h"         // vmax, vexp_sum, vsum, exp_fast

// top_p alone: the first number of best candidates tried for the nucleus (then 4x, 16x, ... up to V).
#define NUCLEUS_FIRST 64

// The candidates' total order: the higher logit first, the lower index on ties.
static inline int pair_before(const SortPair *a, const SortPair *b) {
    return a->v > b->v || (a->v == b->v && a->i < b->i);
}

// Heap whose root ranks lowest (the worst candidate kept). Comparisons with a NaN are false, so NaN logits
// cannot run it off the array.
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

// x[0..k) = the k best logits of z (V), best first. One pass keeps a heap of the k best so far and replaces its
// root (the worst) when a logit beats it: a later logit beats it only with a higher value (on a tie the root's
// index is lower), so most logits cost one comparison, O(V + k log k) in all, where sorting all V cost
// O(V log V) per token. The set is the k best under pair_before, as selecting from all V gives; popping the
// roots to the back then orders it.
static void best_first(const float *z, int V, int k, SortPair *x) {
    for (int v = 0; v < k; v++) { x[v].v = z[v]; x[v].i = v; }
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(x, i, k);
    for (int v = k; v < V; v++)
        if (z[v] > x[0].v) { x[0].v = z[v]; x[0].i = v; sift_down(x, 0, k); }
    for (int end = k - 1; end > 0; end--) {
        SortPair tmp = x[0]; x[0] = x[end]; x[end] = tmp;
        sift_down(x, 0, end);
    }
}

// The first j of [0, n) whose cumulative sum of p exceeds target; n-1 when rounding leaves none.
static int draw(const float *p, int n, float target) {
    float c = 0.0f;
    for (int j = 0; j < n; j++) {
        c += p[j];
        if (c > target) return j;
    }
    return n - 1;
}

// The filtered draw over the best k candidates, probs[j] their probabilities at the temperature (unnormalised,
// added best first). top_p alone: the nucleus reaches top_p of all (the whole vocabulary's mass); it lies
// among the best k as soon as their mass reaches it, so k grows from NUCLEUS_FIRST instead of ranking all V (50257
// for GPT-2) for every token.
static int filtered_draw(const float *z, int V, const SampleParams *sp, float u, float mx, float all, float *probs,
                         SortPair *pairs) {
    float inv_t = 1.0f / sp->temperature;
    int topk = sp->top_k > 0 && sp->top_k < V;
    int k = topk ? sp->top_k : (V < NUCLEUS_FIRST ? V : NUCLEUS_FIRST);
    for (;;) {
        best_first(z, V, k, pairs);
        float total = 0.0f;
        for (int j = 0; j < k; j++) { probs[j] = exp_fast((pairs[j].v - mx) * inv_t); total += probs[j]; }
        if (sp->top_p >= 1.0f) return pairs[draw(probs, k, u * total)].i;
        float need = sp->top_p * (topk ? total : all), c = 0.0f;
        for (int j = 0; j < k; j++) { // the smallest prefix whose mass reaches need (at least one token)
            c += probs[j];
            if (c >= need) return pairs[draw(probs, j + 1, u * c)].i;
        }
        if (topk || k == V) return pairs[draw(probs, k, u * total)].i; // rounding kept need out of reach
        k = k > V / 4 ? V : 4 * k;
    }
}

int token_sample(const float *z, int V, const SampleParams *sp, float u, float *probs, SortPair *pairs,
                 float *logp1) {
    float mx = vmax(z, V);
    float all = vexp_sum(probs, z, mx, V); // probs = exp(z - mx): temperature 1, unnormalised
    float lse1 = mx + logf(all);
    int topk = sp->top_k > 0 && sp->top_k < V;
    if (!topk && sp->temperature != 1.0f) { // every token's probability at the temperature, and their sum
        float inv_t = 1.0f / sp->temperature;
        for (int v = 0; v < V; v++) probs[v] = exp_fast((z[v] - mx) * inv_t);
        all = vsum(probs, V);
    }
    int tok = !topk && sp->top_p >= 1.0f ? draw(probs, V, u * all)
                                         : filtered_draw(z, V, sp, u, mx, all, probs, pairs);
    *logp1 = z[tok] - lse1;
    return tok;
}
