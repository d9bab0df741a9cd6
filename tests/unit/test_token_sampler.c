// test_token_sampler.c — the token sampler (src/nn/token_sampler.c) against the definition it replaced: rank the
// whole vocabulary (qsort, higher logit first, lower index on ties), keep top_k, then the smallest prefix whose
// probability reaches top_p (of the kept mass with top_k, of the whole vocabulary's without), and draw from it.
// Token and log-prob must agree bit for bit over vocabularies up to GPT-2's, many ties, flat and peaked rows,
// every temperature/top-k/top-p combination; and NaN logits must stay inside the arrays (ASan run).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "rng.h"
#include "../../src/nn/token_sampler.h"
#include "../../src/nn/layers.h"      // vmax, vexp_sum, vsum, exp_fast: the same arithmetic as the sampler

static int cmp_pair(const void *a, const void *b) {
    const SortPair *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

// The reference: ranks all V for every filtered draw.
static int ref_sample(const float *z, int V, const SampleParams *sp, float u, float *probs, SortPair *pairs,
                      float *logp1) {
    float mx = vmax(z, V), all = vexp_sum(probs, z, mx, V), lse1 = mx + logf(all), inv_t = 1.0f / sp->temperature;
    int topk = sp->top_k > 0 && sp->top_k < V, tok = V - 1;
    if (!topk && sp->temperature != 1.0f) {
        for (int v = 0; v < V; v++) probs[v] = exp_fast((z[v] - mx) * inv_t);
        all = vsum(probs, V);
    }
    if (!topk && sp->top_p >= 1.0f) {
        float c = 0.0f, target = u * all;
        for (int v = 0; v < V; v++) if ((c += probs[v]) > target) { tok = v; break; }
        *logp1 = z[tok] - lse1;
        return tok;
    }
    for (int v = 0; v < V; v++) { pairs[v].v = z[v]; pairs[v].i = v; }
    qsort(pairs, V, sizeof *pairs, cmp_pair);
    int keep = topk ? sp->top_k : V;
    float total = 0.0f;
    for (int j = 0; j < keep; j++) { probs[j] = exp_fast((pairs[j].v - mx) * inv_t); total += probs[j]; }
    if (sp->top_p < 1.0f) {
        float c = 0.0f, need = sp->top_p * (topk ? total : all);
        for (int j = 0; j < keep; j++)
            if ((c += probs[j]) >= need) { keep = j + 1; total = c; break; }
    }
    float c = 0.0f, target = u * total;
    tok = pairs[keep - 1].i;
    for (int j = 0; j < keep; j++) if ((c += probs[j]) > target) { tok = pairs[j].i; break; }
    *logp1 = z[tok] - lse1;
    return tok;
}

// Row kinds: 0 normal logits, 1 few distinct values (ties everywhere), 2 peaked (one token dominates), 3 flat.
static void fill_row(float *z, int V, int kind, Rng *r) {
    for (int v = 0; v < V; v++) {
        float g = (float)rng_normal(r);
        z[v] = kind == 0 ? 3.0f * g : kind == 1 ? (float)(int)(2.0f * g) : kind == 2 ? g : 0.0f;
    }
    if (kind == 2) z[rng_below(r, V)] = 30.0f;
}

static void test_matches_full_ranking(void) {
    const int vocab[] = {1, 2, 7, 37, 64, 65, 300, 5000, 50257};
    const int topk[] = {0, 1, 5, 50, -1, -2}; // -1: V-1, -2: V
    const float topp[] = {1.0f, 0.95f, 0.5f, 0.1f, 1e-6f}, temp[] = {1.0f, 0.7f, 1.3f};
    float *z = malloc(50257 * sizeof(float)), *probs = malloc(50257 * sizeof(float));
    float *rprobs = malloc(50257 * sizeof(float));
    SortPair *pairs = malloc(50257 * sizeof(SortPair)), *rpairs = malloc(50257 * sizeof(SortPair));
    Rng r;
    rng_seed(&r, 7, RNG_TEST, 0, 0);
    long draws = 0, bad = 0;
    for (size_t a = 0; a < sizeof vocab / sizeof *vocab; a++)
        for (int kind = 0; kind < 4; kind++)
            for (size_t b = 0; b < sizeof topk / sizeof *topk; b++)
                for (size_t c = 0; c < sizeof topp / sizeof *topp; c++)
                    for (size_t d = 0; d < sizeof temp / sizeof *temp; d++) {
                        int V = vocab[a], k = topk[b] == -1 ? V - 1 : topk[b] == -2 ? V : topk[b];
                        if (V > 5000 && d > 0) continue; // (the reference sorts 50257 per draw)
                        SampleParams sp = {.temperature = temp[d], .top_k = k, .top_p = topp[c], .max_new = 1,
                                           .eos = -1};
                        fill_row(z, V, kind, &r);
                        for (int rep = 0; rep < (V > 5000 ? 1 : 3); rep++) {
                            float u = rng_uniformf(&r), lp, rlp;
                            int t = token_sample(z, V, &sp, u, probs, pairs, &lp);
                            int rt = ref_sample(z, V, &sp, u, rprobs, rpairs, &rlp);
                            draws++;
                            if (t != rt || memcmp(&lp, &rlp, sizeof lp) != 0) {
                                if (bad++ < 5)
                                    printf("# V=%d kind=%d top_k=%d top_p=%g T=%g u=%g: token %d vs %d\n", V, kind, k,
                                           topp[c], temp[d], u, t, rt);
                            }
                        }
                    }
    printf("# %ld draws, %ld differ from ranking the whole vocabulary\n", draws, bad);
    T_ASSERT(bad == 0, "%ld of %ld draws differ", bad, draws);
    T_ASSERT(draws > 1000, "only %ld draws", draws);
    free(z); free(probs); free(rprobs); free(pairs); free(rpairs);
}

// NaN logits (a corrupted model) give some token in [0, V), never a read or write past the scratch.
static void test_nan_logits_stay_in_bounds(void) {
    enum { V = 300 };
    float z[V], probs[V], lp;
    SortPair pairs[V];
    Rng r;
    rng_seed(&r, 8, RNG_TEST, 0, 0);
    volatile float nan_in = NAN;
    float e = exp_fast(nan_in);
    T_ASSERT(e != e, "exp_fast(NaN) = %g, not NaN", e); // (and no undefined conversion: the UBSan run)
    for (int kind = 0; kind < 3; kind++) {
        for (int v = 0; v < V; v++) z[v] = kind == 2 || v % (kind + 2) == 0 ? NAN : (float)rng_normal(&r);
        SampleParams f[3] = {{.temperature = 1.0f, .top_k = 50, .top_p = 0.9f, .max_new = 1, .eos = -1},
                             {.temperature = 0.7f, .top_k = 0, .top_p = 0.5f, .max_new = 1, .eos = -1},
                             {.temperature = 1.0f, .top_k = 1, .top_p = 1.0f, .max_new = 1, .eos = -1}};
        for (int s = 0; s < 3; s++) {
            int t = token_sample(z, V, &f[s], 0.5f, probs, pairs, &lp);
            T_ASSERT(t >= 0 && t < V, "NaN row %d, params %d: token %d", kind, s, t);
        }
    }
}

int main(void) {
    T_RUN(test_matches_full_ranking);
    T_RUN(test_nan_logits_stay_in_bounds);
    T_EXIT();
}
