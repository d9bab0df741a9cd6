// test_advantage.c — Welford/Chan statistics, GRPO/Dr.GRPO/P-GRPO advantages, history modes, checkpoint state.
#include "test.h"
#include "advantage.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>

static double rel_err(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static void two_pass(const double *x, int n, double *mean, double *m2) {
    double s = 0; for (int i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    double q = 0; for (int i = 0; i < n; i++) q += (x[i] - *mean) * (x[i] - *mean);
    *m2 = q;
}

static void test_welford_matches_two_pass(void) {
    Rng r; rng_seed(&r, 1, RNG_TEST, 0, 0);
    enum { N = 1000 };
    double x[N];
    Welford w = {0, 0, 0};
    for (int i = 0; i < N; i++) { x[i] = 7.0 + 3.0 * rng_normal(&r); welford_add(&w, x[i]); }
    double mean, m2; two_pass(x, N, &mean, &m2);
    T_NEAR(w.n, N, 0);
    T_ASSERT(rel_err(w.mean, mean) < 1e-13, "mean %.17g vs %.17g", w.mean, mean);
    T_ASSERT(rel_err(welford_var(&w, 0), m2 / N) < 1e-12, "pop var");
    T_ASSERT(rel_err(welford_var(&w, 1), m2 / (N - 1)) < 1e-12, "sample var");
    Welford one = {0, 0, 0}; welford_add(&one, 3.0);
    T_NEAR(welford_var(&one, 0), 0, 0);
    T_NEAR(welford_var(&one, 1), 0, 0);   // undefined sample variance of one value is reported as 0
    Welford none = {0, 0, 0};
    T_NEAR(welford_var(&none, 0), 0, 0);
}

// Random splits of a reward stream over several "ranks" (some empty) merge to the sequential result.
static void test_chan_merge_random_splits(void) {
    Rng r; rng_seed(&r, 2, RNG_TEST, 0, 0);
    enum { N = 600, NG = 3, MAXR = 7 };
    float R[N]; int grp[N];
    for (int i = 0; i < N; i++) { R[i] = (float)(100.0 + 5.0 * rng_normal(&r)); grp[i] = (int)rng_below(&r, NG); }
    Welford seq[NG];
    adv_batch_stats(R, grp, N, NG, seq);
    for (int trial = 0; trial < 50; trial++) {
        int nranks = 1 + (int)rng_below(&r, MAXR);
        int cut[MAXR + 1]; cut[0] = 0; cut[nranks] = N;
        for (int k = 1; k < nranks; k++) cut[k] = (int)rng_below(&r, N + 1);
        for (int k = 1; k < nranks; k++)   // sort interior cuts (insertion)
            for (int m = k; m > 1 && cut[m] < cut[m - 1]; m--) { int t = cut[m]; cut[m] = cut[m - 1]; cut[m - 1] = t; }
        Welford all[MAXR * NG], merged[NG];
        for (int k = 0; k < nranks; k++)
            adv_batch_stats(R + cut[k], grp + cut[k], cut[k + 1] - cut[k], NG, all + k * NG);
        adv_merge_ranks(all, nranks, NG, merged);
        for (int g = 0; g < NG; g++) {
            T_NEAR(merged[g].n, seq[g].n, 0);
            T_ASSERT(rel_err(merged[g].mean, seq[g].mean) < 1e-12, "trial %d g %d mean", trial, g);
            T_ASSERT(rel_err(merged[g].m2, seq[g].m2) < 1e-12, "trial %d g %d m2 %.17g vs %.17g",
                     trial, g, merged[g].m2, seq[g].m2);
        }
    }
}

// adv_merge_ranks merges in rank order 0..n-1: same bits on every call and as the explicit left fold.
static void test_merge_fixed_order_deterministic(void) {
    Rng r; rng_seed(&r, 3, RNG_TEST, 0, 0);
    enum { NR = 5, NG = 2 };
    Welford all[NR * NG];
    for (int k = 0; k < NR * NG; k++) {
        all[k] = (Welford){0, 0, 0};
        int n = 1 + (int)rng_below(&r, 9);
        for (int i = 0; i < n; i++) welford_add(&all[k], 0.1 * k + rng_normal(&r));
    }
    Welford a[NG], b[NG];
    adv_merge_ranks(all, NR, NG, a);
    adv_merge_ranks(all, NR, NG, b);
    T_ASSERT(memcmp(a, b, sizeof a) == 0, "two merges differ");
    for (int g = 0; g < NG; g++) {
        Welford acc = {0, 0, 0};
        for (int k = 0; k < NR; k++) welford_merge(&acc, &all[k * NG + g]);
        T_ASSERT(memcmp(&acc, &a[g], sizeof acc) == 0, "group %d not the rank-order left fold", g);
    }
}

// Per-prompt population mean/std of R (P*G).
static void prompt_stats(const float *R, int p, int G, double *mu, double *sd) {
    double s = 0; for (int j = 0; j < G; j++) s += R[p * G + j];
    *mu = s / G;
    double q = 0; for (int j = 0; j < G; j++) q += (R[p * G + j] - *mu) * (R[p * G + j] - *mu);
    *sd = sqrt(q / G);
}

// Every field set here: the math module has no defaults of its own (the deck schema does).
static AdvConfig cfg_of(AdvKind kind) {
    return (AdvConfig){.kind = kind, .hist = HIST_CUMULATIVE, .ema_decay = 0.9, .window = 16,
                       .update_order = UPDATE_BEFORE, .cold = COLD_GRPO, .min_count = 2, .eps = 1e-4,
                       .var = VAR_POPULATION};
}

// (R - mu_p)/sigma_p = (sigma_G/sigma_p) * A_hat + (mu_G - mu_p)/sigma_p, and mu_p/sigma_p are the group's stats.
static void test_pgrpo_identity(void) {
    Rng r; rng_seed(&r, 4, RNG_TEST, 0, 0);
    enum { P = 12, G = 6, NG = 3 };
    float R[P * G], Ap[P * G], Ah[P * G]; int grp[P];
    for (int p = 0; p < P; p++) {
        grp[p] = p % NG;
        for (int j = 0; j < G; j++) R[p * G + j] = (float)(grp[p] + (1.0 + grp[p]) * rng_normal(&r));
    }
    AdvConfig cp = cfg_of(ADV_PGRPO), cg = cfg_of(ADV_GRPO);
    cp.eps = cg.eps = 0.0;
    GroupHistory hp, hg;
    history_init(&hp, &cp, NG); history_init(&hg, &cg, NG);
    adv_compute(&cp, &hp, NULL, R, grp, P, G, Ap, NULL);
    adv_compute(&cg, &hg, NULL, R, grp, P, G, Ah, NULL);
    for (int p = 0; p < P; p++) {
        double muG, sdG, mup, sdp, n;
        prompt_stats(R, p, G, &muG, &sdG);
        history_get(&hp, grp[p], &mup, &sdp, &n);
        // independent group statistics by two passes over every reward of the group
        double xs[P * G]; int m = 0;
        for (int q = 0; q < P; q++) if (grp[q] == grp[p]) for (int j = 0; j < G; j++) xs[m++] = R[q * G + j];
        double mu2, m2; two_pass(xs, m, &mu2, &m2);
        T_NEAR(n, m, 0);
        T_NEAR(mup, mu2, 1e-12 * (1 + fabs(mu2)));
        T_NEAR(sdp, sqrt(m2 / m), 1e-12);
        for (int j = 0; j < G; j++) {
            double lhs = Ap[p * G + j], direct = (R[p * G + j] - mup) / sdp;
            double rhs = (sdG / sdp) * Ah[p * G + j] + (muG - mup) / sdp;
            T_NEAR(lhs, rhs, 1e-5 * (1 + fabs(lhs)));
            T_NEAR(lhs, direct, 1e-6 * (1 + fabs(lhs)));
        }
    }
    history_free(&hp); history_free(&hg);
}

static void test_grpo_zero_sum_unit_std(void) {
    Rng r; rng_seed(&r, 5, RNG_TEST, 0, 0);
    enum { P = 8, G = 16 };
    float R[P * G], A[P * G], A2[P * G]; int grp[P] = {0};
    for (int i = 0; i < P * G; i++) R[i] = (float)(rng_uniform(&r) < 0.3 ? 1.0 : 0.2 * rng_normal(&r));
    AdvConfig c = cfg_of(ADV_GRPO);
    c.eps = 0.0;
    GroupHistory h; history_init(&h, &c, 1);
    adv_compute(&c, &h, NULL, R, grp, P, G, A, NULL);
    AdvConfig cd = cfg_of(ADV_GRPO);   // default eps: std shrinks to sigma/(sigma+eps)
    adv_compute(&cd, &h, NULL, R, grp, P, G, A2, NULL);
    for (int p = 0; p < P; p++) {
        double s = 0, q = 0, s2 = 0, q2 = 0;
        for (int j = 0; j < G; j++) { s += A[p * G + j]; q += A[p * G + j] * A[p * G + j]; }
        for (int j = 0; j < G; j++) { s2 += A2[p * G + j]; q2 += A2[p * G + j] * A2[p * G + j]; }
        double mu, sd; prompt_stats(R, p, G, &mu, &sd);
        T_NEAR(s, 0, 1e-5);
        T_NEAR(sqrt(q / G), 1.0, 1e-5);
        T_NEAR(s2, 0, 1e-5);
        T_NEAR(sqrt(q2 / G), sd / (sd + 1e-4), 1e-5);
    }
    history_free(&h);
}

static void test_drgrpo_mean_only(void) {
    Rng r; rng_seed(&r, 6, RNG_TEST, 0, 0);
    enum { P = 5, G = 4 };
    float R[P * G], A[P * G]; int grp[P] = {0, 1, 0, 1, 1};
    for (int i = 0; i < P * G; i++) R[i] = (float)(3.0 * rng_normal(&r));
    AdvConfig c = cfg_of(ADV_DRGRPO);
    GroupHistory h; history_init(&h, &c, 2);
    AdvStats st;
    adv_compute(&c, &h, NULL, R, grp, P, G, A, &st);
    for (int p = 0; p < P; p++) {
        double mu, sd; prompt_stats(R, p, G, &mu, &sd);
        for (int j = 0; j < G; j++) T_NEAR(A[p * G + j], R[p * G + j] - mu, 1e-5);
    }
    T_NEAR(st.n_cold, 0, 0);
    // the history is still maintained for metrics
    double mean, sd, n; history_get(&h, 1, &mean, &sd, &n);
    T_NEAR(n, 3 * G, 0);
    history_free(&h);
}

// G tied completions: GRPO gives 0, P-GRPO gives (R - mu_p)/(sigma_p + eps), nonzero when R != mu_p.
static void test_pgrpo_ties_keep_signal(void) {
    enum { P = 4, G = 3 };
    float R[P * G] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 0.5f, 0.5f, 0.5f};
    int grp[P] = {0, 0, 0, 0};
    float A[P * G], Ag[P * G];
    unsigned char mask[P];
    T_NEAR(adv_zero_std_mask(R, P, G, mask), P, 0);
    for (int p = 0; p < P; p++) T_ASSERT(mask[p] == 1, "mask[%d]", p);
    AdvConfig c = cfg_of(ADV_PGRPO), cg = cfg_of(ADV_GRPO);
    GroupHistory h, hg; history_init(&h, &c, 1); history_init(&hg, &cg, 1);
    AdvStats st, stg;
    adv_compute(&c, &h, NULL, R, grp, P, G, A, &st);
    adv_compute(&cg, &hg, NULL, R, grp, P, G, Ag, &stg);
    double mu = 0.625, sd = sqrt((2 * 0.375 * 0.375 + 0.625 * 0.625 + 0.125 * 0.125) / 4);
    for (int i = 0; i < P * G; i++) {
        T_NEAR(Ag[i], 0, 0);
        T_NEAR(A[i], (R[i] - mu) / (sd + 1e-4), 1e-6);
        T_ASSERT(fabsf(A[i]) > 0.1f, "tied completion %d lost its signal: %g", i, A[i]);
    }
    T_NEAR(st.frac_zero_std, 1.0, 0);
    T_NEAR(stg.a_max, 0, 0);
    float R2[2 * G] = {1, 0, 1, 2, 2, 2};
    T_NEAR(adv_zero_std_mask(R2, 2, G, mask), 1, 0);
    T_ASSERT(mask[0] == 0 && mask[1] == 1, "mask %d %d", mask[0], mask[1]);
    history_free(&h); history_free(&hg);
}

// Random per-step rewards for NG groups; some groups get nothing in some steps.
static int make_step(Rng *r, int step, int NG, float *R, int *grp) {
    int n = 0;
    for (int g = 0; g < NG; g++) {
        int k = (g + step) % 4 == 0 ? 0 : 1 + (int)rng_below(r, 6);
        for (int i = 0; i < k; i++) { R[n] = (float)(step * 0.3 + g + rng_normal(r)); grp[n] = g; n++; }
    }
    return n;
}

static void test_window_is_exact_last_w_steps(void) {
    Rng r; rng_seed(&r, 7, RNG_TEST, 0, 0);
    enum { NG = 3, W = 3, STEPS = 9, MAXN = 32 };
    float R[STEPS][MAXN]; int grp[STEPS][MAXN], n[STEPS];
    AdvConfig c = cfg_of(ADV_PGRPO); c.hist = HIST_WINDOW; c.window = W;
    GroupHistory h; history_init(&h, &c, NG);
    for (int s = 0; s < STEPS; s++) {
        n[s] = make_step(&r, s, NG, R[s], grp[s]);
        Welford st[NG]; adv_batch_stats(R[s], grp[s], n[s], NG, st);
        history_update(&h, st);
        for (int g = 0; g < NG; g++) {
            Welford ref = {0, 0, 0};
            for (int u = s - W + 1 < 0 ? 0 : s - W + 1; u <= s; u++)
                for (int i = 0; i < n[u]; i++) if (grp[u][i] == g) welford_add(&ref, R[u][i]);
            double mean, sd, cnt; history_get(&h, g, &mean, &sd, &cnt);
            T_NEAR(cnt, ref.n, 0);
            T_NEAR(mean, ref.mean, 1e-12 * (1 + fabs(ref.mean)));
            T_NEAR(sd, sqrt(welford_var(&ref, 0)), 1e-12);
        }
    }
    history_free(&h);
}

static void test_ema_semantics(void) {
    Rng r; rng_seed(&r, 8, RNG_TEST, 0, 0);
    enum { NG = 2, STEPS = 12, MAXN = 32 };
    float R[STEPS][MAXN]; int grp[STEPS][MAXN], n[STEPS];
    const double decay = 0.7;
    AdvConfig ce = cfg_of(ADV_PGRPO); ce.hist = HIST_EMA; ce.ema_decay = decay;
    AdvConfig cn = ce; cn.ema_decay = 1.0 - 1e-9;
    AdvConfig cc = cfg_of(ADV_PGRPO);
    GroupHistory he, hn, hc;
    history_init(&he, &ce, NG); history_init(&hn, &cn, NG); history_init(&hc, &cc, NG);
    for (int s = 0; s < STEPS; s++) {
        n[s] = make_step(&r, s, NG, R[s], grp[s]);
        Welford st[NG]; adv_batch_stats(R[s], grp[s], n[s], NG, st);
        history_update(&he, st); history_update(&hn, st); history_update(&hc, st);
    }
    for (int g = 0; g < NG; g++) {
        // weighted statistics with weight decay^(age in steps), computed directly
        double W = 0, S = 0;
        for (int s = 0; s < STEPS; s++) for (int i = 0; i < n[s]; i++) if (grp[s][i] == g) {
            double w = pow(decay, STEPS - 1 - s); W += w; S += w * R[s][i];
        }
        double mu = S / W, Q = 0;
        for (int s = 0; s < STEPS; s++) for (int i = 0; i < n[s]; i++) if (grp[s][i] == g)
            Q += pow(decay, STEPS - 1 - s) * (R[s][i] - mu) * (R[s][i] - mu);
        double mean, sd, cnt; history_get(&he, g, &mean, &sd, &cnt);
        T_NEAR(cnt, W, 1e-12 * W);
        T_NEAR(mean, mu, 1e-12 * (1 + fabs(mu)));
        T_NEAR(sd, sqrt(Q / W), 1e-12);
        double mn, sn, nn, mc, sc, nc;
        history_get(&hn, g, &mn, &sn, &nn); history_get(&hc, g, &mc, &sc, &nc);
        T_NEAR(nn, nc, 1e-6 * nc);
        T_NEAR(mn, mc, 1e-6);
        T_NEAR(sn, sc, 1e-6);
        T_ASSERT(fabs(mean - mc) > 1e-3, "decay 0.7 should differ from cumulative (drifting rewards)");
    }
    history_free(&he); history_free(&hn); history_free(&hc);
}

// BEFORE: step 1 normalises against its own batch; AFTER: step 1 is cold, step 2 uses step 1 only.
static void test_update_order(void) {
    enum { P = 2, G = 4 };
    float R1[P * G] = {0, 1, 2, 3, 1, 1, 2, 2}, R2[P * G] = {5, 6, 7, 8, 5, 5, 5, 9};
    int grp[P] = {0, 0};
    float Ab[P * G], Aa[P * G], Ag[P * G];
    AdvConfig cb = cfg_of(ADV_PGRPO), ca = cb, cg = cfg_of(ADV_GRPO);
    ca.update_order = UPDATE_AFTER;
    GroupHistory hb, ha, hg;
    history_init(&hb, &cb, 1); history_init(&ha, &ca, 1); history_init(&hg, &cg, 1);
    AdvStats sb, sa;
    adv_compute(&cb, &hb, NULL, R1, grp, P, G, Ab, &sb);
    adv_compute(&ca, &ha, NULL, R1, grp, P, G, Aa, &sa);
    adv_compute(&cg, &hg, NULL, R1, grp, P, G, Ag, NULL);
    Welford w1 = {0, 0, 0}; for (int i = 0; i < P * G; i++) welford_add(&w1, R1[i]);
    double sd1 = sqrt(welford_var(&w1, 0));
    T_NEAR(sb.n_cold, 0, 0);
    T_NEAR(sa.n_cold, P, 0);
    for (int i = 0; i < P * G; i++) {
        T_NEAR(Ab[i], (R1[i] - w1.mean) / (sd1 + 1e-4), 1e-6);
        T_NEAR(Aa[i], Ag[i], 0);   // cold -> GRPO fallback
    }
    // both histories hold step 1 now; step 2 differs
    adv_compute(&cb, &hb, NULL, R2, grp, P, G, Ab, NULL);
    adv_compute(&ca, &ha, NULL, R2, grp, P, G, Aa, &sa);
    Welford w12 = w1; for (int i = 0; i < P * G; i++) welford_add(&w12, R2[i]);
    double sd12 = sqrt(welford_var(&w12, 0));
    T_NEAR(sa.n_cold, 0, 0);
    for (int i = 0; i < P * G; i++) {
        T_NEAR(Ab[i], (R2[i] - w12.mean) / (sd12 + 1e-4), 1e-5);
        T_NEAR(Aa[i], (R2[i] - w1.mean) / (sd1 + 1e-4), 1e-5);
    }
    T_NEAR(ha.total[0].n, 2 * P * G, 0);
    history_free(&hb); history_free(&ha); history_free(&hg);
}

static void test_cold_rules(void) {
    enum { P = 3, G = 4, NG = 2 };
    float R[P * G] = {0, 1, 1, 0, 3, 3, 3, 3, 2, 4, 6, 8};
    int grp[P] = {0, 0, 1};
    float A[P * G], Ag[P * G];
    AdvConfig cg = cfg_of(ADV_GRPO);
    GroupHistory h; history_init(&h, &cg, NG);
    adv_compute(&cg, &h, NULL, R, grp, P, G, Ag, NULL);
    history_free(&h);
    Welford step[NG]; adv_batch_stats_prompts(R, grp, P, G, NG, step);
    for (int rule = COLD_GRPO; rule <= COLD_BATCH; rule++) {
        AdvConfig c = cfg_of(ADV_PGRPO);
        c.cold = (ColdRule)rule;
        c.min_count = 1e9;   // every group stays cold
        history_init(&h, &c, NG);
        AdvStats st;
        adv_compute(&c, &h, step, R, grp, P, G, A, &st);
        T_NEAR(st.n_cold, P, 0);
        for (int p = 0; p < P; p++) for (int j = 0; j < G; j++) {
            int i = p * G + j;
            double want = rule == COLD_GRPO ? Ag[i] : rule == COLD_ZERO ? 0.0
                : (R[i] - step[grp[p]].mean) / (sqrt(welford_var(&step[grp[p]], 0)) + 1e-4);
            T_NEAR(A[i], want, 1e-6);
        }
        history_free(&h);
    }
    // the default min_count 2: a group seen once is cold, a group seen twice is not
    AdvConfig c = cfg_of(ADV_PGRPO);
    float r1[2] = {1, 5}; int g1[2] = {0, 1};
    float a1[2];
    history_init(&h, &c, 2);
    AdvStats st;
    Welford s1[2]; adv_batch_stats(r1, g1, 2, 2, s1);
    adv_compute(&c, &h, s1, r1, g1, 2, 1, a1, &st);   // P=2 prompts of G=1
    T_NEAR(st.n_cold, 2, 0);
    adv_compute(&c, &h, s1, r1, g1, 2, 1, a1, &st);
    T_NEAR(st.n_cold, 0, 0);
    history_free(&h);
}

static void test_pack_unpack_roundtrip(void) {
    for (int mode = HIST_CUMULATIVE; mode <= HIST_WINDOW; mode++) {
        Rng r; rng_seed(&r, 9, RNG_TEST, 0, (uint64_t)mode);
        enum { NG = 3, MAXN = 32 };
        AdvConfig c = cfg_of(ADV_PGRPO); c.hist = (HistMode)mode; c.window = 4;
        GroupHistory a, b;
        history_init(&a, &c, NG); history_init(&b, &c, NG);
        float R[MAXN]; int grp[MAXN];
        for (int s = 0; s < 6; s++) {
            int n = make_step(&r, s, NG, R, grp);
            Welford st[NG]; adv_batch_stats(R, grp, n, NG, st);
            history_update(&a, st);
        }
        size_t sz = history_state_size(&a);
        double *buf = malloc(sz * sizeof(double));
        history_pack(&a, buf);
        T_ASSERT(history_unpack(&b, buf, sz) == 0, "mode %d unpack", mode);
        T_ASSERT(b.steps == a.steps, "steps");
        int n = make_step(&r, 7, NG, R, grp);
        Welford st[NG]; adv_batch_stats(R, grp, n, NG, st);
        history_update(&a, st); history_update(&b, st);
        T_ASSERT(memcmp(a.total, b.total, NG * sizeof(Welford)) == 0, "mode %d diverged after restore", mode);
        T_ASSERT(history_unpack(&b, buf, sz - 1) == -1, "wrong size accepted");
        AdvConfig c2 = c; c2.window = 5; c2.hist = HIST_WINDOW;
        GroupHistory w5; history_init(&w5, &c2, NG);
        if (mode == HIST_WINDOW) {
            double *buf5 = malloc(history_state_size(&w5) * sizeof(double));
            history_pack(&w5, buf5);
            T_ASSERT(history_unpack(&a, buf5, history_state_size(&w5)) == -1, "window 5 into window 4");
            free(buf5);
        } else {
            T_ASSERT(history_unpack(&w5, buf, sz) == -1, "mode %d restored into window", mode);
        }
        history_free(&w5);
        free(buf);
        history_free(&a); history_free(&b);
    }
}

// Three learners with disjoint prompts and merged step stats keep bit-identical histories and together give
// the single-learner advantages.
static void test_learners_agree(void) {
    Rng r; rng_seed(&r, 10, RNG_TEST, 0, 0);
    enum { P = 9, G = 4, NG = 2, NR = 3 };
    float R[P * G], A1[P * G], An[P * G]; int grp[P];
    AdvConfig c = cfg_of(ADV_PGRPO);
    GroupHistory h1, hr[NR];
    history_init(&h1, &c, NG);
    for (int k = 0; k < NR; k++) history_init(&hr[k], &c, NG);
    AdvStats sum = {0};
    for (int step = 0; step < 3; step++) {
        for (int p = 0; p < P; p++) {
            grp[p] = (int)rng_below(&r, NG);
            for (int j = 0; j < G; j++) R[p * G + j] = (float)(grp[p] * 2 + rng_normal(&r));
        }
        AdvStats s1;
        adv_compute(&c, &h1, NULL, R, grp, P, G, A1, &s1);
        int per = P / NR;
        Welford all[NR * NG], merged[NG];
        for (int k = 0; k < NR; k++) adv_batch_stats_prompts(R + k * per * G, grp + k * per, per, G, NG, all + k * NG);
        adv_merge_ranks(all, NR, NG, merged);
        memset(&sum, 0, sizeof sum);
        sum.a_min = INFINITY; sum.a_max = -INFINITY;
        for (int k = 0; k < NR; k++) {
            AdvStats sk;
            adv_compute(&c, &hr[k], merged, R + k * per * G, grp + k * per, per, G, An + k * per * G, &sk);
            sum.a_sum += sk.a_sum; sum.a_sumsq += sk.a_sumsq; sum.n_a += sk.n_a;
            sum.n_prompts += sk.n_prompts; sum.n_zero_std += sk.n_zero_std; sum.n_cold += sk.n_cold;
            sum.a_min = fminf(sum.a_min, sk.a_min); sum.a_max = fmaxf(sum.a_max, sk.a_max);
        }
        adv_stats_finish(&sum);
        for (int k = 1; k < NR; k++)
            T_ASSERT(memcmp(hr[0].total, hr[k].total, NG * sizeof(Welford)) == 0, "learner %d history differs", k);
        for (int i = 0; i < P * G; i++) T_NEAR(An[i], A1[i], 1e-5);
        T_NEAR(sum.a_mean, s1.a_mean, 1e-6);
        T_NEAR(sum.a_std, s1.a_std, 1e-6);
        T_NEAR(sum.a_min, s1.a_min, 1e-5);
        T_NEAR(sum.a_max, s1.a_max, 1e-5);
        // direct check of the derived statistics
        double s = 0, q = 0; float mn = INFINITY, mx = -INFINITY;
        for (int i = 0; i < P * G; i++) { s += A1[i]; q += (double)A1[i] * A1[i]; mn = fminf(mn, A1[i]); mx = fmaxf(mx, A1[i]); }
        T_NEAR(s1.a_mean, s / (P * G), 1e-9);
        T_NEAR(s1.a_std, sqrt(q / (P * G) - (s / (P * G)) * (s / (P * G))), 1e-6);
        T_NEAR(s1.a_min, mn, 0); T_NEAR(s1.a_max, mx, 0);
    }
    history_free(&h1);
    for (int k = 0; k < NR; k++) history_free(&hr[k]);
}

static void test_sample_variance_option(void) {
    enum { P = 1, G = 4 };
    float R[G] = {0, 1, 2, 3}, A[G]; int grp[1] = {0};
    AdvConfig c = cfg_of(ADV_GRPO); c.var = VAR_SAMPLE; c.eps = 0;
    GroupHistory h; history_init(&h, &c, 1);
    adv_compute(&c, &h, NULL, R, grp, P, G, A, NULL);
    double sd = sqrt(5.0 / 3.0);
    for (int j = 0; j < G; j++) T_NEAR(A[j], (R[j] - 1.5) / sd, 1e-6);
    double mean, s, n; history_get(&h, 0, &mean, &s, &n);
    T_NEAR(s, sd, 1e-12);
    history_free(&h);
}

static void test_parsers_and_config(void) {
    T_ASSERT(adv_kind_from_str("grpo") == ADV_GRPO && adv_kind_from_str("drgrpo") == ADV_DRGRPO &&
             adv_kind_from_str("pgrpo") == ADV_PGRPO, "kinds");
    T_ASSERT(adv_kind_from_str("PGRPO") == -1 && adv_kind_from_str("") == -1 && adv_kind_from_str(NULL) == -1, "bad");
    T_ASSERT(adv_hist_from_str("cumulative") == HIST_CUMULATIVE && adv_hist_from_str("ema") == HIST_EMA &&
             adv_hist_from_str("window") == HIST_WINDOW && adv_hist_from_str("win") == -1, "hist");
    T_ASSERT(adv_order_from_str("before") == UPDATE_BEFORE && adv_order_from_str("after") == UPDATE_AFTER &&
             adv_order_from_str("x") == -1, "order");
    T_ASSERT(adv_cold_from_str("grpo") == COLD_GRPO && adv_cold_from_str("zero") == COLD_ZERO &&
             adv_cold_from_str("batch") == COLD_BATCH && adv_cold_from_str("none") == -1, "cold");
    T_ASSERT(adv_var_from_str("population") == VAR_POPULATION && adv_var_from_str("sample") == VAR_SAMPLE &&
             adv_var_from_str("pop") == -1, "var");
    for (int k = 0; k < 3; k++) T_ASSERT(adv_kind_from_str(adv_kind_name((AdvKind)k)) == k, "kind name %d", k);
    for (int k = 0; k < 3; k++) T_ASSERT(adv_hist_from_str(adv_hist_name((HistMode)k)) == k, "hist name %d", k);
    for (int k = 0; k < 3; k++) T_ASSERT(adv_cold_from_str(adv_cold_name((ColdRule)k)) == k, "cold name %d", k);
    for (int k = 0; k < 2; k++) T_ASSERT(adv_order_from_str(adv_order_name((UpdateOrder)k)) == k, "order %d", k);
    for (int k = 0; k < 2; k++) T_ASSERT(adv_var_from_str(adv_var_name((VarMode)k)) == k, "var name %d", k);
    AdvConfig c = cfg_of(ADV_PGRPO);
    T_ASSERT(adv_config_check(&c, NULL) == NULL, "valid config refused");
    AdvConfig b = c; b.hist = HIST_EMA; b.ema_decay = 1.0;
    T_ASSERT(adv_config_check(&b, NULL) == NULL, "decay 1 (documented range (0,1]) refused");
    b = c; b.hist = HIST_WINDOW; b.window = 0;
    T_ASSERT(adv_config_check(&b, NULL) != NULL, "window 0 accepted");
    b = c; b.eps = -1;
    T_ASSERT(adv_config_check(&b, NULL) != NULL, "negative eps accepted");
}

// Each invalid field is reported under its own deck key (train.c used to blame train.advantage for all of them),
// and a config nobody filled in (all zeros) is refused rather than run on hidden defaults.
static void test_config_error_names_key(void) {
    const AdvConfig ok = cfg_of(ADV_PGRPO);
    const char *key = "unset";
    T_ASSERT(adv_config_check(&ok, &key) == NULL && key == NULL, "valid config: key %s", key ? key : "NULL");
    AdvConfig z;
    memset(&z, 0, sizeof z);
    T_ASSERT(adv_config_check(&z, &key) != NULL && key && !strcmp(key, "pgrpo.decay"), "zero config: key %s",
             key ? key : "NULL");
    struct { const char *key; AdvConfig c; } cases[9];
    for (int i = 0; i < 9; i++) cases[i].c = ok;
    cases[0].key = "train.advantage"; cases[0].c.kind = (AdvKind)7;
    cases[1].key = "pgrpo.history"; cases[1].c.hist = (HistMode)7;
    cases[2].key = "pgrpo.decay"; cases[2].c.ema_decay = 1.5;
    cases[3].key = "pgrpo.window"; cases[3].c.window = 0;
    cases[4].key = "pgrpo.order"; cases[4].c.update_order = (UpdateOrder)5;
    cases[5].key = "pgrpo.cold_start"; cases[5].c.cold = (ColdRule)5;
    cases[6].key = "pgrpo.min_count"; cases[6].c.min_count = NAN;
    cases[7].key = "pgrpo.eps"; cases[7].c.eps = INFINITY;
    cases[8].key = "pgrpo.variance"; cases[8].c.var = (VarMode)5;
    for (int i = 0; i < 9; i++) {
        const char *msg = adv_config_check(&cases[i].c, &key);
        T_ASSERT(msg && key && !strcmp(key, cases[i].key), "case %d: key %s, want %s", i, key ? key : "NULL",
                 cases[i].key);
    }
}

// pgrpo.decay = 1 is in the documented range: an EMA with decay 1 forgets nothing, so it equals the cumulative
// history bit for bit.
static void test_ema_decay_one_is_cumulative(void) {
    Rng r; rng_seed(&r, 21, RNG_TEST, 0, 0);
    enum { P = 6, G = 4, NG = 2 };
    AdvConfig ce = cfg_of(ADV_PGRPO), cc = ce;
    ce.hist = HIST_EMA; ce.ema_decay = 1.0;
    GroupHistory he, hc;
    history_init(&he, &ce, NG);
    history_init(&hc, &cc, NG);
    float R[P * G], Ae[P * G], Ac[P * G]; int grp[P];
    for (int step = 0; step < 5; step++) {
        for (int p = 0; p < P; p++) { grp[p] = p % NG; for (int j = 0; j < G; j++) R[p * G + j] = (float)rng_normal(&r); }
        adv_compute(&ce, &he, NULL, R, grp, P, G, Ae, NULL);
        adv_compute(&cc, &hc, NULL, R, grp, P, G, Ac, NULL);
        T_ASSERT(!memcmp(Ae, Ac, sizeof Ae), "step %d: ema(decay 1) differs from cumulative", step);
    }
    history_free(&he); history_free(&hc);
}

// pgrpo.eps = 0: a zero std in the denominator gives advantage 0 (no spread, no signal), never NaN or inf.
static void test_eps_zero_defined(void) {
    enum { P = 2, G = 4, NG = 1 };
    float R[P * G] = {1, 1, 1, 1, 0, 1, 0, 1}, A[P * G];
    int grp[P] = {0, 0};
    AdvConfig c = cfg_of(ADV_GRPO); c.eps = 0;
    GroupHistory h; history_init(&h, &c, NG);
    AdvStats st;
    adv_compute(&c, &h, NULL, R, grp, P, G, A, &st);
    for (int j = 0; j < G; j++) T_ASSERT(A[j] == 0.0f, "grpo tied prompt A[%d] = %g", j, A[j]);
    for (int j = G; j < 2 * G; j++) T_ASSERT(fabsf(A[j]) == 1.0f, "grpo spread prompt A[%d] = %g", j, A[j]);
    T_ASSERT(st.n_zero_std == 1 && isfinite(st.a_mean) && isfinite(st.a_std), "stats %g %g %g", st.n_zero_std,
             st.a_mean, st.a_std);
    history_free(&h);
    // P-GRPO judged against a history whose rewards all tie (order = after): R - mu is not 0, the std is.
    c = cfg_of(ADV_PGRPO); c.eps = 0; c.update_order = UPDATE_AFTER; c.min_count = 1;
    history_init(&h, &c, NG);
    float R1[P * G] = {1, 1, 1, 1, 1, 1, 1, 1};
    adv_compute(&c, &h, NULL, R1, grp, P, G, A, NULL);
    adv_compute(&c, &h, NULL, R, grp, P, G, A, NULL);
    for (int k = 0; k < P * G; k++) T_ASSERT(A[k] == 0.0f, "pgrpo zero-std history A[%d] = %g", k, A[k]);
    history_free(&h);
    // Cold start from this step's batch stats, all tied.
    c = cfg_of(ADV_PGRPO); c.eps = 0; c.cold = COLD_BATCH; c.min_count = 100;
    history_init(&h, &c, NG);
    adv_compute(&c, &h, NULL, R1, grp, P, G, A, NULL);
    for (int k = 0; k < P * G; k++) T_ASSERT(A[k] == 0.0f, "cold batch A[%d] = %g", k, A[k]);
    history_free(&h);
}

int main(void) {
    T_RUN(test_welford_matches_two_pass);
    T_RUN(test_chan_merge_random_splits);
    T_RUN(test_merge_fixed_order_deterministic);
    T_RUN(test_pgrpo_identity);
    T_RUN(test_grpo_zero_sum_unit_std);
    T_RUN(test_drgrpo_mean_only);
    T_RUN(test_pgrpo_ties_keep_signal);
    T_RUN(test_window_is_exact_last_w_steps);
    T_RUN(test_ema_semantics);
    T_RUN(test_update_order);
    T_RUN(test_cold_rules);
    T_RUN(test_pack_unpack_roundtrip);
    T_RUN(test_learners_agree);
    T_RUN(test_sample_variance_option);
    T_RUN(test_parsers_and_config);
    T_RUN(test_config_error_names_key);
    T_RUN(test_ema_decay_one_is_cumulative);
    T_RUN(test_eps_zero_defined);
    T_EXIT();
}
