// test_loss.c — clipped surrogate + k3 KL: finite-difference gradients, clip counting, aggregation weights, and
// additivity over a split batch with the global normaliser.
#include "test.h"
#include "loss.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>

enum { N = 6, TC = 8, MAX_NEW = 10 };

// loss_eval's loss (st may be NULL); NaN when loss_eval refuses a non-finite input.
static double loss_of(const LossConfig *cfg, const float *logp, const float *old_logp, const float *ref_logp,
                      const float *A, const int *len, int n, int Tc, int max_new, double norm, float *dlogp,
                      LossStats *st) {
    LossStats s;
    if (st) memset(st, 0, sizeof *st);
    if (loss_eval(cfg, logp, old_logp, ref_logp, A, len, n, Tc, max_new, norm, dlogp, &s, NULL)) return NAN;
    if (st) *st = s;
    return s.loss;
}

typedef struct { float logp[N * TC], old[N * TC], ref[N * TC], A[N]; int len[N]; } Batch;

// Ratios spread over [0.45, 1.7] so both clipped branches occur, kept 5e-3 away from the clip edges (the loss has
// kinks there and a finite difference across a kink is meaningless).
static void make_batch(Batch *b, Rng *r, float eps_low, float eps_high) {
    for (int i = 0; i < N; i++) {
        b->len[i] = i == 2 ? 0 : 4 + (int)rng_below(r, TC - 3);   // one empty completion
        b->A[i] = (float)((i % 2 ? -1.0 : 1.0) * (0.2 + rng_uniform(r)));
        for (int t = 0; t < TC; t++) {
            int k = i * TC + t;
            b->logp[k] = (float)(-0.1 - 4.0 * rng_uniform(r));
            double rho;
            do rho = 0.45 + 1.25 * rng_uniform(r);
            while (fabs(rho - (1.0 - eps_low)) < 5e-3 || fabs(rho - (1.0 + eps_high)) < 5e-3);
            b->old[k] = (float)(b->logp[k] - log(rho));
            b->ref[k] = (float)(b->logp[k] + 0.5 * rng_normal(r));
        }
    }
}

// Every field set here: the math module has no defaults of its own (the deck schema does).
static LossConfig cfg_base(void) {
    return (LossConfig){.eps_low = 0.2f, .eps_high = 0.2f, .beta = 0.04f, .agg = AGG_SEQ_MEAN_TOKEN_MEAN};
}

static double norm_of(const LossConfig *c, const Batch *b) { return loss_norm_local(c, b->len, N, MAX_NEW); }

static void fd_check(LossAgg agg, float beta) {
    Rng r; rng_seed(&r, 11, RNG_TEST, 0, (uint64_t)agg);
    LossConfig c = cfg_base();
    c.agg = agg; c.beta = beta; c.eps_low = 0.2f; c.eps_high = 0.28f;
    Batch b; make_batch(&b, &r, c.eps_low, c.eps_high);
    double Z = norm_of(&c, &b);
    float g[N * TC];
    for (int k = 0; k < N * TC; k++) g[k] = NAN;   // the pad entries must be overwritten with 0
    LossStats st;
    double L = loss_of(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, g, &st);
    T_NEAR(L, st.loss, 0);
    T_NEAR(st.pg_loss + beta * st.kl_loss, L, 1e-15);
    T_ASSERT(st.n_clip_low > 0 && st.n_clip_high > 0 && st.n_clip_region < st.n_tokens,
             "batch should mix clipped and unclipped tokens: low %g high %g region %g of %g",
             st.n_clip_low, st.n_clip_high, st.n_clip_region, st.n_tokens);
    float scratch[N * TC];
    int zero_grads = 0;
    for (int i = 0; i < N; i++) for (int t = 0; t < TC; t++) {
        int k = i * TC + t;
        if (t >= b.len[i]) { T_ASSERT(g[k] == 0.0f, "pad grad [%d,%d] = %g", i, t, g[k]); continue; }
        float x0 = b.logp[k];
        float xp = x0 + 1e-3f, xm = x0 - 1e-3f;   // the step actually taken is what float rounding leaves
        b.logp[k] = xp;
        double Lp = loss_of(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, scratch, NULL);
        b.logp[k] = xm;
        double Lm = loss_of(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, scratch, NULL);
        b.logp[k] = x0;
        double fd = (Lp - Lm) / ((double)xp - (double)xm);
        T_ASSERT(fabs(fd - g[k]) <= 1e-9 + 2e-5 * fabs(fd), "agg %d beta %g [%d,%d]: fd %.9g vs analytic %.9g",
                 agg, beta, i, t, fd, g[k]);
        zero_grads += g[k] == 0.0f;
    }
    if (beta == 0.0f) T_ASSERT(zero_grads > 0, "clipped tokens should have zero gradient without KL");
}

static void test_fd_seq_mean_token_mean(void) { fd_check(AGG_SEQ_MEAN_TOKEN_MEAN, 0.04f); fd_check(AGG_SEQ_MEAN_TOKEN_MEAN, 0.0f); }
static void test_fd_token_mean(void) { fd_check(AGG_TOKEN_MEAN, 0.1f); fd_check(AGG_TOKEN_MEAN, 0.0f); }
static void test_fd_drgrpo(void) { fd_check(AGG_DRGRPO, 0.3f); fd_check(AGG_DRGRPO, 0.0f); }

// Hand case, eps_low 0.2 / eps_high 0.28, beta 0:
//   seq 0, A=+1, rho 0.5 1.0 1.5 1.25 -> high clip at 1.5; 0.5 is outside the region but unclipped (A>0)
//   seq 1, A=-1, rho 0.5 1.5 0.9      -> low clip at 0.5;  1.5 is outside the region but unclipped (A<0)
static void test_clip_hand_case(void) {
    enum { n = 2, T = 5 };
    const double rho[n][T] = {{0.5, 1.0, 1.5, 1.25, 9}, {0.5, 1.5, 0.9, 9, 9}};
    float logp[n * T], old[n * T], A[n] = {1, -1}, g[n * T];
    int len[n] = {4, 3};
    for (int i = 0; i < n; i++) for (int t = 0; t < T; t++) {
        logp[i * T + t] = -1.0f;
        old[i * T + t] = (float)(-1.0 - log(rho[i][t]));
    }
    LossConfig c = cfg_base();
    c.beta = 0; c.eps_low = 0.2f; c.eps_high = 0.28f;
    LossStats st;
    double L = loss_of(&c, logp, old, NULL, A, len, n, T, 4, loss_norm_local(&c, len, n, 4), g, &st);
    T_NEAR(st.n_clip_low, 1, 0);
    T_NEAR(st.n_clip_high, 1, 0);
    T_NEAR(st.n_clip_region, 4, 0);
    T_NEAR(st.n_tokens, 7, 0);
    T_NEAR(st.ratio_sum, 0.5 + 1.0 + 1.5 + 1.25 + 0.5 + 1.5 + 0.9, 1e-6);
    T_NEAR(st.kl_sum, 0, 0);
    double want = -((0.5 + 1.0 + 1.28 + 1.25) / 4 + (-0.8 - 1.5 - 0.9) / 3) / 2;
    T_NEAR(L, want, 1e-6);
    // gradient -w*rho*A where unclipped, exactly 0 where clipped
    const double w0 = 1.0 / (4 * 2), w1 = 1.0 / (3 * 2);
    T_NEAR(g[0], -w0 * 0.5, 1e-7);
    T_NEAR(g[1], -w0 * 1.0, 1e-7);
    T_NEAR(g[2], 0, 0);
    T_NEAR(g[3], -w0 * 1.25, 1e-7);
    T_NEAR(g[T + 0], 0, 0);
    T_NEAR(g[T + 1], w1 * 1.5, 1e-7);
    T_NEAR(g[T + 2], w1 * 0.9, 1e-7);
}

// With rho = 1 and beta = 0 every token's term is A_i, so the loss is -sum_i A_i * sum_t w_it.
static void test_aggregation_weights(void) {
    enum { n = 3, T = 6 };
    float logp[n * T], A[n] = {1.0f, -2.0f, 0.5f}, g[n * T];
    int len[n] = {2, 6, 3};
    for (int k = 0; k < n * T; k++) logp[k] = -0.7f;
    LossConfig c = cfg_base(); c.beta = 0;
    c.agg = AGG_SEQ_MEAN_TOKEN_MEAN;
    T_NEAR(loss_norm_local(&c, len, n, 8), 3, 0);
    T_NEAR(loss_of(&c, logp, logp, NULL, A, len, n, T, 8, 3, g, NULL), -(1.0 - 2.0 + 0.5) / 3, 1e-12);
    c.agg = AGG_TOKEN_MEAN;
    T_NEAR(loss_norm_local(&c, len, n, 8), 11, 0);
    T_NEAR(loss_of(&c, logp, logp, NULL, A, len, n, T, 8, 11, g, NULL), -(2 * 1.0 - 6 * 2.0 + 3 * 0.5) / 11, 1e-12);
    c.agg = AGG_DRGRPO;
    T_NEAR(loss_norm_local(&c, len, n, 8), 3, 0);
    T_NEAR(loss_of(&c, logp, logp, NULL, A, len, n, T, 8, 3, g, NULL), -(2 * 1.0 - 6 * 2.0 + 3 * 0.5) / (3 * 8), 1e-12);
}

// k3 KL: zero with gradient zero at ref == logp, positive otherwise, and its value matches the formula.
static void test_kl_term(void) {
    float logp[3] = {-1, -1, -1}, ref[3] = {-1, -0.5f, -2}, A[1] = {0}, g[3];
    int len[1] = {3};
    LossConfig c = cfg_base(); c.beta = 0.5f; c.agg = AGG_TOKEN_MEAN;
    LossStats st;
    double L = loss_of(&c, logp, logp, ref, A, len, 1, 3, 3, 3, g, &st);
    double k1 = exp(0.5) - 0.5 - 1, k2 = exp(-1.0) + 1.0 - 1;
    T_NEAR(st.kl_sum, k1 + k2, 1e-12);
    T_NEAR(L, 0.5 * (k1 + k2) / 3, 1e-12);
    T_NEAR(g[0], 0, 0);
    T_NEAR(g[1], 0.5 / 3 * (1 - exp(0.5)), 1e-7);
    T_NEAR(g[2], 0.5 / 3 * (1 - exp(-1.0)), 1e-7);
    // beta 0 with ref given: KL is reported but takes no part in loss or gradient
    c.beta = 0;
    L = loss_of(&c, logp, logp, ref, A, len, 1, 3, 3, 3, g, &st);
    T_NEAR(L, 0, 0);
    T_NEAR(st.kl_sum, k1 + k2, 1e-12);
    T_NEAR(g[1], 0, 0);
}

// Two halves with the global normaliser: losses and stats add up, gradients are the whole batch's.
static void test_split_sums_to_whole(void) {
    for (int agg = AGG_SEQ_MEAN_TOKEN_MEAN; agg <= AGG_DRGRPO; agg++) {
        Rng r; rng_seed(&r, 12, RNG_TEST, 0, (uint64_t)agg);
        LossConfig c = cfg_base(); c.agg = (LossAgg)agg; c.beta = 0.05f;
        Batch b; make_batch(&b, &r, c.eps_low, c.eps_high);
        const int n1 = 4, n2 = N - n1;
        double Z = loss_norm_local(&c, b.len, n1, MAX_NEW) + loss_norm_local(&c, b.len + n1, n2, MAX_NEW);
        T_NEAR(Z, norm_of(&c, &b), 0);
        float gw[N * TC], gs[N * TC];
        LossStats sw, s1, s2;
        double Lw = loss_of(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, gw, &sw);
        double L1 = loss_of(&c, b.logp, b.old, b.ref, b.A, b.len, n1, TC, MAX_NEW, Z, gs, &s1);
        double L2 = loss_of(&c, b.logp + n1 * TC, b.old + n1 * TC, b.ref + n1 * TC, b.A + n1, b.len + n1,
                                 n2, TC, MAX_NEW, Z, gs + n1 * TC, &s2);
        T_NEAR(L1 + L2, Lw, 1e-14 * (1 + fabs(Lw)));
        T_ASSERT(fabs(L1) > 1e-6 && fabs(L2) > 1e-6, "both halves should contribute");
        T_ASSERT(memcmp(gw, gs, sizeof gw) == 0, "agg %d: split gradients differ", agg);
        LossStats acc = {0};
        loss_stats_add(&acc, &s1); loss_stats_add(&acc, &s2);
        T_NEAR(acc.loss, sw.loss, 1e-14);
        T_NEAR(acc.kl_sum, sw.kl_sum, 1e-12);
        T_NEAR(acc.n_tokens, sw.n_tokens, 0);
        T_NEAR(acc.n_clip_region, sw.n_clip_region, 0);
        T_NEAR(acc.ratio_sum, sw.ratio_sum, 1e-12);
    }
}

static void test_parsers_and_config(void) {
    T_ASSERT(loss_agg_from_str("seq_mean_token_mean") == AGG_SEQ_MEAN_TOKEN_MEAN, "seq");
    T_ASSERT(loss_agg_from_str("token_mean") == AGG_TOKEN_MEAN, "tok");
    T_ASSERT(loss_agg_from_str("drgrpo") == AGG_DRGRPO, "dr");
    T_ASSERT(loss_agg_from_str("dapo") == -1 && loss_agg_from_str(NULL) == -1, "unknown");
    for (int k = 0; k < 3; k++) T_ASSERT(loss_agg_from_str(loss_agg_name((LossAgg)k)) == k, "name %d", k);
    LossConfig c = cfg_base();
    T_ASSERT(loss_config_check(&c, NULL) == NULL, "valid config refused");
    LossConfig b = c; b.eps_low = 1.0f;
    T_ASSERT(loss_config_check(&b, NULL) == NULL, "eps_low 1 (the deck's range [0,1]) refused");
    b = c; b.beta = -0.1f;
    T_ASSERT(loss_config_check(&b, NULL) != NULL, "negative beta accepted");
}

// Each invalid field is reported under its own deck key (train.c used to blame train.eps_low for all of them).
static void test_config_error_names_key(void) {
    const LossConfig ok = cfg_base();
    const char *key = "unset";
    T_ASSERT(loss_config_check(&ok, &key) == NULL && key == NULL, "valid: key %s", key ? key : "NULL");
    struct { const char *key; LossConfig c; } cases[5];
    for (int i = 0; i < 5; i++) cases[i].c = ok;
    cases[0].key = "train.eps_low"; cases[0].c.eps_low = 1.5f;
    cases[1].key = "train.eps_high"; cases[1].c.eps_high = INFINITY;
    cases[2].key = "train.beta"; cases[2].c.beta = NAN;
    cases[3].key = "train.loss_agg"; cases[3].c.agg = (LossAgg)9;
    cases[4].key = "train.eps_low"; cases[4].c.eps_low = -0.1f;
    for (int i = 0; i < 5; i++) {
        const char *msg = loss_config_check(&cases[i].c, &key);
        T_ASSERT(msg && key && !strcmp(key, cases[i].key), "case %d: key %s, want %s", i, key ? key : "NULL",
                 cases[i].key);
    }
}

// A non-finite input is an error naming the quantity and its index; padding (t >= len) is not read.
static void test_nonfinite_inputs_reported(void) {
    Rng r; rng_seed(&r, 5, RNG_TEST, 0, 0);
    LossConfig c = cfg_base();
    Batch b; make_batch(&b, &r, c.eps_low, c.eps_high);
    double Z = norm_of(&c, &b);
    float g[N * TC];
    LossStats st;
    FiniteFault f = {0};
    T_ASSERT(loss_eval(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, g, &st, &f) == 0, "clean batch refused");
    struct { const char *what; size_t index; float *slot; float v; } cases[] = {
        {"advantage", 3, &b.A[3], NAN},
        {"logp", 1 * TC + 2, &b.logp[1 * TC + 2], NAN},
        {"old_logp", 4 * TC + 0, &b.old[4 * TC + 0], INFINITY},
        {"ref_logp", 5 * TC + 1, &b.ref[5 * TC + 1], -INFINITY},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float keep = *cases[k].slot;
        *cases[k].slot = cases[k].v;
        f = (FiniteFault){0};
        int rc = loss_eval(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, g, &st, &f);
        T_ASSERT(rc == -1 && f.what && !strcmp(f.what, cases[k].what) && f.index == cases[k].index,
                 "case %zu: rc %d what %s index %zu", k, rc, f.what ? f.what : "NULL", f.index);
        *cases[k].slot = keep;
    }
    // Padding and the advantage of an empty completion are not inputs.
    b.logp[0 * TC + TC - 1] = NAN;
    if (b.len[0] < TC) T_ASSERT(loss_eval(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, g, &st, &f) == 0,
                                "NaN in padding refused");
    b.logp[0 * TC + TC - 1] = -1.0f;
    b.A[2] = NAN;   // len[2] == 0
    T_ASSERT(loss_eval(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, g, &st, &f) == 0,
             "NaN advantage of an empty completion refused");
    b.A[2] = 0.5f;
    // Finite inputs whose ratio overflows.
    b.old[1 * TC] = b.logp[1 * TC] - 1000.0f;
    f = (FiniteFault){0};
    T_ASSERT(loss_eval(&c, b.logp, b.old, b.ref, b.A, b.len, N, TC, MAX_NEW, Z, g, &st, &f) == -1 && f.what &&
             !strcmp(f.what, "loss"), "overflow: what %s", f.what ? f.what : "NULL");
}

static void test_finite_check(void) {
    float x[5] = {0, -1, 2, 3, 4};
    size_t i = 99;
    T_ASSERT(finite_check(x, 5, &i) == 0 && i == 99, "clean array");
    T_ASSERT(finite_check(x, 0, &i) == 0, "empty array");
    x[3] = NAN; x[4] = INFINITY;
    T_ASSERT(finite_check(x, 5, &i) == -1 && i == 3, "first bad %zu", i);
    T_ASSERT(finite_check(x, 3, NULL) == 0, "prefix");
    x[3] = 0; x[1] = -INFINITY;
    T_ASSERT(finite_check(x, 5, &i) == -1 && i == 1, "-inf at %zu", i);
    double y[3] = {1, 2, NAN};
    T_ASSERT(finite_check_f64(y, 3, &i) == -1 && i == 2, "f64 %zu", i);
    T_ASSERT(finite_check_f64(y, 2, &i) == 0, "f64 prefix");
    char buf[64];
    FiniteFault f = {"reward", 7, NAN};
    finite_fault_text(&f, buf, sizeof buf);
    T_ASSERT(!strcmp(buf, "reward[7] = nan") || !strcmp(buf, "reward[7] = -nan"), "text '%s'", buf);
}

int main(void) {
    T_RUN(test_fd_seq_mean_token_mean);
    T_RUN(test_fd_token_mean);
    T_RUN(test_fd_drgrpo);
    T_RUN(test_clip_hand_case);
    T_RUN(test_aggregation_weights);
    T_RUN(test_kl_term);
    T_RUN(test_split_sums_to_whole);
    T_RUN(test_parsers_and_config);
    T_RUN(test_config_error_names_key);
    T_RUN(test_nonfinite_inputs_reported);
    T_RUN(test_finite_check);
    T_EXIT();
}
