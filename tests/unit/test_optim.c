// test_optim.c — AdamW against hand-computed values, clipping, schedules.
#include <stdlib.h>
#include "test.h"
#include "optim.h"

static AdamWConfig base_cfg(void) {
    AdamWConfig c = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.5f,
                     .grad_clip = 0.0f, .schedule = SCHED_CONSTANT, .warmup_steps = 0, .total_steps = 100,
                     .min_lr_frac = 0.1f};
    return c;
}

// Two steps worked by hand (PyTorch AdamW): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
static void test_adamw_two_steps_by_hand(void) {
    AdamWConfig c = base_cfg();
    AdamW o;
    adamw_init(&o, &c, 3);
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, -0.25f, 0.0f};
    unsigned char mask[3] = {1, 0, 1};
    float norm = adamw_step(&o, p, g, mask);
    T_NEAR(norm, sqrt(0.25 + 0.0625), 1e-6);
    // step 1: m_hat = g, v_hat = g^2, so the Adam part is lr * g/(|g|+eps) = lr * sign(g)
    T_NEAR(p[0], 1.0 * (1 - 0.05) - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6);
    T_NEAR(p[1], -2.0 + 0.1 * 0.25 / (0.25 + 1e-8), 1e-6); // mask 0: no decay
    T_NEAR(p[2], 0.5 * (1 - 0.05), 1e-7);                  // zero grad: decay only
    T_ASSERT(o.t == 1, "t = %ld", o.t);
    // step 2 on element 0 with g = -1
    float g2[3] = {-1.0f, 0.0f, 0.0f};
    double p0 = p[0];
    adamw_step(&o, p, g2, mask);
    double m = 0.9 * (0.1 * 0.5) + 0.1 * -1.0, v = 0.99 * (0.01 * 0.25) + 0.01 * 1.0;
    double mh = m / (1 - 0.81), vh = v / (1 - 0.9801);
    double want = p0 * (1 - 0.05) - 0.1 * mh / (sqrt(vh) + 1e-8);
    T_NEAR(p[0], want, 1e-6);
    T_NEAR(o.m[0], m, 1e-7);
    T_NEAR(o.v[0], v, 1e-7);
    T_ASSERT(o.v == o.m + 3, "m and v share one allocation");
    adamw_free(&o);
}

static void test_clipping_to_exact_norm(void) {
    enum { N = 1000 };
    float *g = malloc(sizeof(float) * N), *p = calloc(N, sizeof(float));
    double ss = 0.0;
    for (int i = 0; i < N; i++) { g[i] = (float)((i % 7) - 3) * 0.37f; ss += (double)g[i] * g[i]; }
    T_NEAR(grad_global_norm(g, N), sqrt(ss), 1e-9 * sqrt(ss));
    AdamWConfig c = base_cfg();
    c.grad_clip = 1.5f;
    AdamW o;
    adamw_init(&o, &c, N);
    float g0 = g[1];
    float pre = adamw_step(&o, p, g, NULL);
    T_NEAR(pre, sqrt(ss), 1e-4);
    T_NEAR(grad_global_norm(g, N), 1.5, 1e-5);          // clipped in place to exactly grad_clip
    T_NEAR(g[1], g0 * 1.5 / sqrt(ss), 1e-6);              // by a uniform scale
    // below the threshold nothing changes
    float small[2] = {0.3f, 0.4f}, ps[2] = {0, 0};
    AdamW o2;
    adamw_init(&o2, &c, 2);
    adamw_step(&o2, ps, small, NULL);
    T_NEAR(small[0], 0.3f, 0);
    T_NEAR(small[1], 0.4f, 0);
    // a non-finite gradient leaves everything untouched
    float bad[2] = {NAN, 1.0f};
    float pre_bad = adamw_step(&o2, ps, bad, NULL);
    T_ASSERT(!isfinite(pre_bad) && o2.t == 1 && isfinite(ps[0]) && isfinite(o2.m[0]), "NaN grad must be skipped");
    adamw_free(&o);
    adamw_free(&o2);
    free(g); free(p);
}

static void test_schedules(void) {
    AdamWConfig c = base_cfg();
    c.lr = 1.0f;
    c.warmup_steps = 10;
    c.total_steps = 110;
    c.min_lr_frac = 0.1f;
    T_NEAR(adamw_lr(&c, 0), 0.1, 1e-7);   // (step+1)/warmup: the first update already moves
    T_NEAR(adamw_lr(&c, 4), 0.5, 1e-7);
    T_NEAR(adamw_lr(&c, 9), 1.0, 1e-7);   // warmup end
    T_NEAR(adamw_lr(&c, 50), 1.0, 1e-7);  // constant
    c.schedule = SCHED_COSINE;
    T_NEAR(adamw_lr(&c, 9), 1.0, 1e-7);
    T_NEAR(adamw_lr(&c, 10), 1.0, 1e-7);  // cosine starts at the peak
    T_NEAR(adamw_lr(&c, 60), 0.55, 1e-6); // midpoint: (lr + min_lr)/2
    T_NEAR(adamw_lr(&c, 35), 0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 0.25)), 1e-6);
    T_NEAR(adamw_lr(&c, 110), 0.1, 1e-7); // end: min_lr_frac * lr
    T_NEAR(adamw_lr(&c, 500), 0.1, 1e-7); // and flat after
    // the optimizer uses the schedule at its own step count
    AdamW o;
    c.weight_decay = 1.0f;
    adamw_init(&o, &c, 1);
    float p[1] = {1.0f}, g[1] = {0.0f};
    adamw_step(&o, p, g, NULL); // step 0: lr 0.1, decay only (grad 0): p = 1 - 0.1
    T_NEAR(p[0], 0.9, 1e-7);
    adamw_free(&o);
}

int main(void) {
    T_RUN(test_adamw_two_steps_by_hand);
    T_RUN(test_clipping_to_exact_norm);
    T_RUN(test_schedules);
    T_EXIT();
}
