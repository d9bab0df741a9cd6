// test_threads.c — threads per rank (model_set_threads): the learner's forward and backward and the sampler
// give the same bits run after run and whatever the thread count (static splits, no split float sums, and the
// weight products' bits do not depend on the row or panel split: gemm.h; README "Performance"); the OpenBLAS
// thread count the caller set survives the model's calls, and the model takes its default thread count from
// OpenBLAS's.
#include <stdlib.h>
#include <string.h>
#include <cblas.h>          // openblas_{get,set}_num_threads
#include "test.h"
#include "model.h"
#include "rng.h"

// NS: enough sequences that 2 and 3 threads each take their own slice of a decode step (8 rows per thread).
enum { L = 2, NH = 4, C = 64, V = 97, B = 4, T = 64, MAXT = 80, NS = 27, PL = 9, NEW = 20 };

// Large enough that every GEMM split path runs (rows, columns) and attention has several (sequence, head) pairs.
static Model *make(int threads) {
    ModelConfig cfg = {.n_layer = L, .n_head = NH, .d_model = C, .max_t = MAXT, .vocab = V};
    Rng r;
    rng_seed(&r, 5, RNG_TEST, 0, 0);
    Model *m = model_create(&cfg, &r);
    float *p = model_params(m);
    for (size_t i = 0; i < model_num_params(m); i++) p[i] += (float)(rng_normal(&r) * 0.05);
    model_set_threads(m, threads);
    return m;
}

typedef struct {
    float logp[B * T], ent[B * T];
    float *grads;
    int tok[2][NS * NEW], len[2][NS];
    float lp[2][NS * NEW];
} Run;

static void run_all(int threads, Run *out) {
    Model *m = make(threads);
    T_ASSERT(model_threads(m) == threads, "model_threads %d", model_threads(m));
    Rng r;
    rng_seed(&r, 9, RNG_TEST, 0, 0);
    int tok[B * T], tgt[B * T];
    float dlogp[B * T];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int)rng_below(&r, V); tgt[i] = (int)rng_below(&r, V);
        dlogp[i] = (float)rng_normal(&r);
    }
    model_zero_grad(m);
    model_forward(m, tok, tgt, B, T, out->logp, out->ent);
    model_backward(m, dlogp);
    out->grads = malloc(model_num_params(m) * sizeof(float));
    memcpy(out->grads, model_grads(m), model_num_params(m) * sizeof(float));
    // prompts of several lengths, with runs of equal prompts (the prefill's duplicate path)
    int prompt[NS * PL], plen[NS];
    for (int i = 0; i < NS; i++) {
        plen[i] = 3 + (i / 3) % 5;
        for (int t = 0; t < PL; t++) prompt[i * PL + t] = i % 3 == 0 ? (int)rng_below(&r, V) : prompt[(i - 1) * PL + t];
        if (i % 3) plen[i] = plen[i - 1];
    }
    SampleParams sp[2] = {{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = NEW, .eos = 3},
                          {.temperature = 0.7f, .top_k = 20, .top_p = 0.9f, .max_new = NEW, .eos = -1}};
    for (int k = 0; k < 2; k++) {
        rng_seed(&r, 17 + k, RNG_SAMPLE, 0, 0);
        model_sample(m, prompt, PL, plen, NS, &sp[k], &r, out->tok[k], out->lp[k], out->len[k]);
    }
    model_free(m);
}

static int same_bits(const Run *a, const Run *b, size_t np) {
    return !memcmp(a->logp, b->logp, sizeof a->logp) && !memcmp(a->ent, b->ent, sizeof a->ent) &&
           !memcmp(a->grads, b->grads, np * sizeof(float)) && !memcmp(a->tok, b->tok, sizeof a->tok) &&
           !memcmp(a->lp, b->lp, sizeof a->lp) && !memcmp(a->len, b->len, sizeof a->len);
}

static size_t num_params(void) {
    ModelConfig cfg = {.n_layer = L, .n_head = NH, .d_model = C, .max_t = MAXT, .vocab = V};
    size_t sizes[MODEL_NUM_TENSORS], np;
    model_param_sizes(&cfg, sizes, &np);
    return np;
}

// Twice on each thread count, and against one thread: the same bits (the differences are printed first, so a
// failure shows how far apart the runs are).
static void test_threads_same_bits(void) {
    static Run one, a, b;
    size_t np = num_params();
    run_all(1, &one);
    for (int threads = 1; threads <= 3; threads++) {
        run_all(threads, &a);
        run_all(threads, &b);
        T_ASSERT(same_bits(&a, &b, np), "two runs on %d threads differ", threads);
        double dl = 0, dg = 0, gmax = 0;
        for (int i = 0; i < B * T; i++) dl = fmax(dl, fabs((double)a.logp[i] - one.logp[i]));
        for (size_t i = 0; i < np; i++) {
            dg = fmax(dg, fabs((double)a.grads[i] - one.grads[i]));
            gmax = fmax(gmax, fabs((double)one.grads[i]));
        }
        // sampling: the same uniforms in the same order; how far the tokens agree, and their log-probs
        int same = 0, total = 0;
        double dsl = 0;
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < NS; i++)
                for (int g = 0; g < NEW; g++) {
                    int j = i * NEW + g;
                    total++;
                    if (a.tok[k][j] != one.tok[k][j]) break;
                    same++;
                    dsl = fmax(dsl, fabs((double)a.lp[k][j] - one.lp[k][j]));
                }
        printf("# %d threads vs 1: max |dlogp| %.3g, max |dgrad| %.3g (max |grad| %.3g); sampled: %d of %d tokens "
               "agree, max |dlogp| %.3g\n", threads, dl, dg, gmax, same, total, dsl);
        T_ASSERT(same_bits(&a, &one, np), "%d threads: bits differ from 1 thread (logp by %g, grads by %g; %d of %d "
                 "sampled tokens agree, their logp by %g)", threads, dl, dg, same, total, dsl);
        free(a.grads); free(b.grads);
    }
    free(one.grads);
}

// The model runs OpenBLAS on one thread inside its calls and gives the caller's setting back.
static void test_blas_threads_restored(void) {
    int before = openblas_get_num_threads();
    openblas_set_num_threads(2);
    Model *m = make(2);
    Rng r;
    rng_seed(&r, 1, RNG_TEST, 0, 0);
    int tok[T], tgt[T];
    for (int i = 0; i < T; i++) { tok[i] = (int)rng_below(&r, V); tgt[i] = (int)rng_below(&r, V); }
    model_forward(m, tok, tgt, 1, T, NULL, NULL);
    T_ASSERT(openblas_get_num_threads() == 2, "OpenBLAS threads after forward: %d", openblas_get_num_threads());
    model_free(m);
    openblas_set_num_threads(1);
    ModelConfig cfg = {.n_layer = 1, .n_head = 1, .d_model = 8, .max_t = 4, .vocab = 5};
    Model *d = model_create(&cfg, &r);
    T_ASSERT(model_threads(d) == 1, "default threads %d with OpenBLAS at 1", model_threads(d));
    model_free(d);
    openblas_set_num_threads(before);
}

int main(void) {
    T_RUN(test_threads_same_bits);
    T_RUN(test_blas_threads_restored);
    T_EXIT();
}
