// test_stats.c — step statistics, the metrics row and the log line (run/stats.c) from known inputs.
#include <string.h>
#include "config.h"
#include "stats.h"
#include "test.h"

// The advantage settings of the embedded default deck (the deck schema holds the only defaults).
static AdvConfig default_adv(void) {
    char err[512] = "";
    Deck *d = deck_parse(NULL, 0, NULL, err, sizeof err);
    Config c;
    memset(&c, 0, sizeof c);
    if (!d || config_from_deck(d, &c, err, sizeof err)) printf("# default deck: %s\n", err);
    deck_free(d);
    return c.adv;
}

static int find(const MetricRow *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->name[i], name)) return i;
    return -1;
}
static double val(const MetricRow *m, const char *name) {
    int i = find(m, name);
    return i < 0 ? NAN : m->v[i];
}

// Two learners' statistics, summed as the trainer's reduction would.
static void two_learners(StepSums *s, StepMax *mx, double tokens) {
    StepStats a, b;
    step_stats_init(&a);
    step_stats_init(&b);
    a.len_sum = 10; a.len_n = 2; a.len_min = 4; a.len_max = 6; a.n_trunc = 1;
    b.len_sum = 20; b.len_n = 2; b.len_min = 8; b.len_max = 12;
    a.ls.loss = 0.5; b.ls.loss = 0.3; a.ls.pg_loss = 0.2; b.ls.pg_loss = 0.2;
    a.ls.kl_sum = 1.0; b.ls.kl_sum = 3.0; a.ls.n_tokens = tokens / 2; b.ls.n_tokens = tokens / 2;
    a.ls.n_clip_low = 2; b.ls.n_clip_high = 6; a.ls.ratio_sum = tokens;
    a.ent_sum = tokens; a.ent_n = tokens;
    a.as = (AdvStats){.a_sum = 1, .a_sumsq = 5, .n_a = 2, .a_min = -2, .a_max = 1, .n_prompts = 1, .n_zero_std = 1};
    b.as = (AdvStats){.a_sum = -1, .a_sumsq = 3, .n_a = 2, .a_min = -1, .a_max = 3, .n_prompts = 1};
    StepSums sb;
    StepMax mb;
    step_stats_local(&a, 100, s, mx);
    step_stats_local(&b, 0, &sb, &mb);
    double *x = (double *)s, *y = (double *)&sb, *p = (double *)mx, *q = (double *)&mb;
    for (int i = 0; i < STEP_SUMS_N; i++) x[i] += y[i];
    for (int i = 0; i < STEP_MAX_N; i++) p[i] = p[i] > q[i] ? p[i] : q[i];
}

static void test_reduction_and_row(void) {
    StepSums s;
    StepMax mx;
    two_learners(&s, &mx, 8);
    T_ASSERT(s.free_mib == 100 && s.len == 30 && s.tokens == 8, "sums");
    T_ASSERT(-mx.neg_len_min == 4 && mx.len_max == 12 && -mx.neg_adv_min == -2 && mx.adv_max == 3, "extremes");
    StepStats st;
    step_stats_init(&st);
    st.grp[0] = (Welford){2, 0.5, 0.5};   // mean 0.5, population var 0.25
    st.grp[2] = (Welford){2, -1.0, 0.0};  // group 1 had no prompts this step
    st.gnorm = 0.75f; st.lr = 1e-3f;
    AdvConfig ac = default_adv();
    GroupHistory h;
    history_init(&h, &ac, 3);
    Timers tm;
    timers_reset(&tm);
    timer_set(&tm, TIMER_STEP, 2.0);
    MetricRow *m = metric_row_create(3);
    metric_row_fill(m, &st, &s, &mx, &h, &tm, 2);
    T_ASSERT(!strcmp(m->name[0], "reward/group/0/mean") && !strcmp(m->name[2], "reward/group/2/mean"), "group series first");
    T_ASSERT(find(m, "reward/group/1/mean") < 0, "a group without data is left out");
    T_NEAR(val(m, "reward/group/0/std"), 0.5, 1e-12);
    T_NEAR(val(m, "reward/mean"), -0.25, 1e-12);
    T_ASSERT(val(m, "reward/worst_group") == 2 && val(m, "reward/worst_group_mean") == -1.0, "worst group");
    T_NEAR(val(m, "loss/total"), 0.4, 1e-12);     // (0.5 + 0.3) / 2 minibatches: the mean, not the sum
    T_NEAR(val(m, "loss/policy"), 0.2, 1e-12);
    T_NEAR(val(m, "kl"), 0.5, 1e-12);
    T_NEAR(val(m, "clip/low"), 0.25, 1e-12);
    T_NEAR(val(m, "clip/high"), 0.75, 1e-12);
    T_NEAR(val(m, "ratio/mean"), 1.0, 1e-12);
    T_NEAR(val(m, "entropy"), 1.0, 1e-12);
    T_NEAR(val(m, "advantage/mean"), 0.0, 1e-12);
    T_NEAR(val(m, "advantage/std"), sqrt(2.0), 1e-12);
    T_ASSERT(val(m, "advantage/min") == -2 && val(m, "advantage/max") == 3, "advantage extremes");
    T_NEAR(val(m, "advantage/frac_zero_std"), 0.5, 1e-12);
    T_NEAR(val(m, "completion/length_mean"), 7.5, 1e-12);
    T_NEAR(val(m, "completion/truncated_frac"), 0.25, 1e-12);
    T_NEAR(val(m, "tokens_per_s"), 15.0, 1e-12);
    T_ASSERT(val(m, "time/step") == 2.0 && find(m, "time/checkpoint") == m->n - 2, "timers, then tokens_per_s");
    T_ASSERT(!strcmp(m->name[m->n - 1], "tokens_per_s"), "last series");
    char line[256];
    metric_row_log_line(m, 7, st.gnorm, &tm, 3.0, line, sizeof line);
    T_ASSERT(strstr(line, " 0.50000 ") && strstr(line, " 0.4000 "), "log line kl and loss: '%s'", line);
    metric_row_free(m);
    history_free(&h);
}

// drop_tied with every prompt tied: no loss tokens, no entropy -> those series are absent, not 0.
static void test_no_tokens(void) {
    StepSums s;
    StepMax mx;
    two_learners(&s, &mx, 0);
    s.ent = s.ent_n = 0;
    StepStats st;
    step_stats_init(&st);
    st.grp[0] = (Welford){4, -1.0, 0.0};
    AdvConfig ac = default_adv();
    GroupHistory h;
    history_init(&h, &ac, 1);
    Timers tm;
    timers_reset(&tm);
    MetricRow *m = metric_row_create(1);
    metric_row_fill(m, &st, &s, &mx, &h, &tm, 1);
    const char *absent[] = {"kl", "entropy", "ratio/mean", "clip/low", "clip/high", "clip/region"};
    for (int i = 0; i < 6; i++) T_ASSERT(find(m, absent[i]) < 0, "%s logged without data", absent[i]);
    T_ASSERT(find(m, "loss/total") >= 0 && find(m, "grad_norm") >= 0, "the rest is there");
    for (int i = 0; i < m->n; i++) T_ASSERT(isfinite(m->v[i]), "%s = %g", m->name[i], m->v[i]);
    char line[256];
    metric_row_log_line(m, 0, 0.0f, &tm, 0.0, line, sizeof line);
    T_ASSERT(!strstr(line, "nan") && strstr(line, "       - "), "log line marks no data: '%s'", line);
    metric_row_free(m);
    history_free(&h);
}

static void test_timers(void) {
    Timers t;
    timers_reset(&t);
    timer_start(&t, TIMER_IO);
    timer_stop(&t, TIMER_IO);
    timer_start(&t, TIMER_IO);
    timer_stop(&t, TIMER_IO);
    T_ASSERT(t.sec[TIMER_IO] >= 0 && t.sec[TIMER_IO] < 1, "accumulates elapsed time");
    T_ASSERT(!strcmp(timer_name(TIMER_FWD_BWD), "learner_fwd_bwd") && !strcmp(timer_name(TIMER_CHECKPOINT), "checkpoint"), "names");
}

int main(void) {
    T_RUN(test_reduction_and_row);
    T_RUN(test_no_tokens);
    T_RUN(test_timers);
    T_EXIT();
}
