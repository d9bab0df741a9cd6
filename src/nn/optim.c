// optim.c — AdamW (PyTorch semantics), global grad-norm clipping, LR schedules (see optim.h).
#include <cblas.h>   // openblas_get_num_threads: run.threads, as the command layer set it (as model_create reads it)
#include <math.h>
#include <stdlib.h>
#include "optim.h"
#include "check.h"   // CHECK, xcalloc

void adamw_init(AdamW *o, const AdamWConfig *cfg, size_t n) {
    o->cfg = *cfg;
    o->n = n;
    o->m = xcalloc_big(2 * (n ? n : 1), sizeof(float)); // m and v share one block
    o->v = o->m + n;
    o->t = 0;
    int nt = openblas_get_num_threads();
    o->threads = nt > 1 ? nt : 1;
    o->partial = xcalloc(n / NORM_BLOCK + 1, sizeof(double));
}

void adamw_free(AdamW *o) {
    free(o->m);
    free(o->partial);
    o->m = o->v = NULL;
    o->partial = NULL;
    o->n = 0;
}

void adamw_set_threads(AdamW *o, int threads) {
    CHECK(threads >= 1, "adamw_set_threads(%d)", threads);
    o->threads = threads;
}

// Linear warmup (step+1)/warmup, so the first update already moves (llm.c's convention), then constant or
// cosine from lr down to min_lr_frac*lr at total_steps, and flat after that.
float adamw_lr(const AdamWConfig *cfg, long step) {
    if (step < cfg->warmup_steps) return cfg->lr * (float)(step + 1) / (float)cfg->warmup_steps;
    if (cfg->schedule == SCHED_CONSTANT) return cfg->lr;
    float min_lr = cfg->min_lr_frac * cfg->lr;
    long span = cfg->total_steps - cfg->warmup_steps;
    if (span <= 0 || step >= cfg->total_steps) return min_lr;
    double ratio = (double)(step - cfg->warmup_steps) / (double)span;
    double coeff = 0.5 * (1.0 + cos(M_PI * ratio));
    return (float)(min_lr + coeff * (cfg->lr - min_lr));
}

// Sum of squares of g[0..n) in double, four lanes.
static double block_sumsq(const float *g, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) acc[k] += (double)g[i + k] * g[i + k];
    for (; i < n; i++) acc[0] += (double)g[i] * g[i];
    return acc[0] + acc[1] + acc[2] + acc[3];
}

// sqrt of the sum of squares: block b's sum (into part[b], blocks split over nt threads), then the blocks in order.
// part may be NULL when nt == 1.
static double blocked_norm(const float *g, size_t n, double *part, int nt) {
    long nb = (long)((n + NORM_BLOCK - 1) / NORM_BLOCK);
    double s = 0.0;
    if (nt <= 1 || nb <= 1 || !part) {
        for (long b = 0; b < nb; b++) {
            size_t lo = (size_t)b * NORM_BLOCK;
            s += block_sumsq(g + lo, n - lo < NORM_BLOCK ? n - lo : NORM_BLOCK);
        }
        return sqrt(s);
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long b = 0; b < nb; b++) {
        size_t lo = (size_t)b * NORM_BLOCK;
        part[b] = block_sumsq(g + lo, n - lo < NORM_BLOCK ? n - lo : NORM_BLOCK);
    }
    for (long b = 0; b < nb; b++) s += part[b];
    return sqrt(s);
}

double grad_global_norm(const float *g, size_t n) { return blocked_norm(g, n, NULL, 1); }

float adamw_step(AdamW *o, float *params, float *grads, const unsigned char *decay_mask) {
    const AdamWConfig *c = &o->cfg;
    int nt = o->threads > 1 && o->n >= 2 * NORM_BLOCK ? o->threads : 1;
    double norm = blocked_norm(grads, o->n, o->partial, nt);
    // A non-finite norm would poison the moments for good: leave params, moments and t untouched and let
    // the caller see the norm (it logs/aborts).
    if (!isfinite(norm)) return (float)norm;
    float s = c->grad_clip > 0.0f && norm > c->grad_clip ? (float)(c->grad_clip / norm) : 1.0f;
    float lr = adamw_lr(c, o->t);
    o->t++;
    float b1 = c->beta1, b2 = c->beta2;
    float bc1 = (float)(1.0 - pow(b1, (double)o->t)), bc2 = (float)(1.0 - pow(b2, (double)o->t));
    float step_size = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2), decay = lr * c->weight_decay;
    float *m = o->m, *v = o->v;
    // One pass: clip, decay, moments, update (elementwise, so the thread count cannot change a bit).
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < o->n; i++) {
        float g = grads[i] * s;   // s == 1 leaves g exact
        grads[i] = g;
        float p = params[i];
        if (!decay_mask || decay_mask[i]) p -= decay * p; // decoupled: p *= 1 - lr*wd before the Adam update
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] = p - step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + c->eps);
    }
    return (float)norm;
}
