// bench_model.c — learner step and KV-cache sampling throughput, against single-thread sgemm measured in the
// same run. Prints one `key value` line per figure (medians). Run with OPENBLAS_NUM_THREADS=1.
// Usage: bench_model [reps]   (default 5)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>          // cblas_sgemm: the reference figure
#include "model.h"
#include "optim.h"
#include "rng.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(getenv("BENCH_WALL") ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
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

static void bench_config(const char *tag, int C, int L, int NH, int T, int B, int V, int reps, double sgemm) {
    ModelConfig cfg = {.n_layer = L, .n_head = NH, .d_model = C, .max_t = T > 80 ? T : 80, .vocab = V};
    Rng r;
    rng_seed(&r, 1, RNG_TEST, 0, 0);
    Model *m = model_create(&cfg, &r);
    enum { NSEQ = 64, PROMPT = 16, NEW = 64 };
    model_reserve(m, B, T, NSEQ);
    AdamWConfig oc = {.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                      .grad_clip = 1.0f, .schedule = SCHED_CONSTANT, .warmup_steps = 0, .total_steps = 1,
                      .min_lr_frac = 0.1f};
    AdamW opt;
    adamw_init(&opt, &oc, model_num_params(m));
    unsigned char *mask = malloc(model_num_params(m));
    model_decay_mask(m, mask);
    int *tok = malloc(sizeof(int) * B * T), *tgt = malloc(sizeof(int) * B * T);
    float *logp = malloc(sizeof(float) * B * T), *ent = malloc(sizeof(float) * B * T);
    float *dlogp = malloc(sizeof(float) * B * T);
    for (int i = 0; i < B * T; i++) { tok[i] = (int)rng_below(&r, V); tgt[i] = (int)rng_below(&r, V); }
    for (int i = 0; i < B * T; i++) dlogp[i] = -1.0f / (B * T);
    double ts[64], tf[64], tb[64], to[64];
    for (int k = 0; k <= reps; k++) {
        double t0 = now_s();
        model_zero_grad(m);
        model_forward(m, tok, tgt, B, T, logp, ent);
        double t1 = now_s();
        model_backward(m, dlogp);
        double t2 = now_s();
        adamw_step(&opt, model_params(m), model_grads(m), mask);
        double t3 = now_s();
        if (k > 0) { ts[k - 1] = t3 - t0; tf[k - 1] = t1 - t0; tb[k - 1] = t2 - t1; to[k - 1] = t3 - t2; }
    }
    double step = median(ts, reps), flops = model_train_flops(&cfg, B, T);
    // the box may be shared: take the sgemm reference again right after the learner, keep the better one
    double sg2 = sgemm_gflops(512, reps);
    if (sg2 > sgemm) sgemm = sg2;
    printf("%s.sgemm512_gflops %.2f\n", tag, sgemm);
    printf("%s.learner_step_ms %.3f\n", tag, step * 1e3);
    printf("%s.learner_forward_ms %.3f\n", tag, median(tf, reps) * 1e3);
    printf("%s.learner_backward_ms %.3f\n", tag, median(tb, reps) * 1e3);
    printf("%s.learner_adamw_ms %.3f\n", tag, median(to, reps) * 1e3);
    printf("%s.learner_tokens_per_s %.1f\n", tag, B * T / step);
    printf("%s.learner_gflops %.2f\n", tag, flops / step * 1e-9);
    printf("%s.learner_pct_of_sgemm %.1f\n", tag, 100.0 * flops / step * 1e-9 / sgemm);
    // sampling: 64 sequences, 16-token prompts, 64 new tokens each, no EOS stop
    int *prompt = malloc(sizeof(int) * NSEQ * PROMPT), plen[NSEQ], out_len[NSEQ];
    int *out = malloc(sizeof(int) * NSEQ * NEW);
    float *out_lp = malloc(sizeof(float) * NSEQ * NEW);
    for (int i = 0; i < NSEQ * PROMPT; i++) prompt[i] = (int)rng_below(&r, V);
    for (int i = 0; i < NSEQ; i++) plen[i] = PROMPT;
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = NEW, .eos = -1};
    SampleParams spf = {.temperature = 0.8f, .top_k = 50, .top_p = 0.95f, .max_new = NEW, .eos = -1};
    for (int variant = 0; variant < 2; variant++) {
        double t[64];
        for (int k = 0; k <= reps; k++) {
            rng_seed(&r, 2, RNG_SAMPLE, 0, k);
            double t0 = now_s();
            model_sample(m, prompt, PROMPT, plen, NSEQ, variant ? &spf : &sp, &r, out, out_lp, out_len);
            if (k > 0) t[k - 1] = now_s() - t0;
        }
        printf("%s.sample%s_tokens_per_s %.1f\n", tag, variant ? "_topk50_topp095" : "", NSEQ * NEW / median(t, reps));
    }
    printf("%s.activation_mib %.1f\n", tag, model_activation_bytes(m) / 1048576.0);
    free(prompt); free(out); free(out_lp);
    free(tok); free(tgt); free(logp); free(ent); free(dlogp); free(mask);
    adamw_free(&opt);
    model_free(m);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    if (reps > 63) reps = 63;
    const char *thr = getenv("OPENBLAS_NUM_THREADS");
    if (!thr || strcmp(thr, "1") != 0) fprintf(stderr, "bench_model: warning: set OPENBLAS_NUM_THREADS=1\n");
    double sg = sgemm_gflops(512, reps);
    printf("sgemm512_gflops %.2f\n", sg);
    bench_config("c256", 256, 4, 4, 128, 16, 512, reps, sg);
    bench_config("c128", 128, 2, 4, 64, 16, 512, reps, sg);
    return 0;
}
