// stats.c — named timers, step statistics and the metrics row (see stats.h).
#include "stats.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "check.h"

static double now_s(void) {   // the same monotonic clock as comm_now
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- timers ----
static const char *const TIMER_NAMES[TIMER_N] = {
    [TIMER_ROLLOUT] = "rollout", [TIMER_REWARD] = "reward", [TIMER_TRANSFER] = "transfer",
    [TIMER_FWD_BWD] = "learner_fwd_bwd", [TIMER_ALLREDUCE] = "allreduce", [TIMER_BROADCAST] = "broadcast",
    [TIMER_IO] = "io", [TIMER_STEP] = "step", [TIMER_REFERENCE] = "reference", [TIMER_CHECKPOINT] = "checkpoint",
};
static const char *const TIMER_SERIES[TIMER_N] = {
    [TIMER_ROLLOUT] = "time/rollout", [TIMER_REWARD] = "time/reward", [TIMER_TRANSFER] = "time/transfer",
    [TIMER_FWD_BWD] = "time/learner_fwd_bwd", [TIMER_ALLREDUCE] = "time/allreduce",
    [TIMER_BROADCAST] = "time/broadcast", [TIMER_IO] = "time/io", [TIMER_STEP] = "time/step",
    [TIMER_REFERENCE] = "time/reference", [TIMER_CHECKPOINT] = "time/checkpoint",
};
const char *timer_name(TimerId id) { return TIMER_NAMES[id]; }
void timers_reset(Timers *t) { memset(t, 0, sizeof *t); }
void timer_start(Timers *t, TimerId id) { t->started[id] = now_s(); }
void timer_stop(Timers *t, TimerId id) { t->sec[id] += now_s() - t->started[id]; }
void timer_set(Timers *t, TimerId id, double sec) { t->sec[id] = sec; }

// ---- reduction ----
void step_stats_init(StepStats *st) {
    memset(st, 0, sizeof *st);
    st->len_min = 1e30;
}

void step_stats_local(const StepStats *st, double free_mib, StepSums *s, StepMax *mx) {
    const LossStats *ls = &st->ls;
    const AdvStats *as = &st->as;
    *s = (StepSums){
        .ent = st->ent_sum, .ent_n = st->ent_n, .len = st->len_sum, .len_n = st->len_n, .trunc = st->n_trunc,
        .dropped = st->n_dropped, .loss = ls->loss, .pg_loss = ls->pg_loss, .kl = ls->kl_sum, .ratio = ls->ratio_sum,
        .clip_low = ls->n_clip_low, .clip_high = ls->n_clip_high, .clip_region = ls->n_clip_region,
        .tokens = ls->n_tokens, .adv_sum = as->a_sum, .adv_sumsq = as->a_sumsq, .adv_n = as->n_a,
        .prompts = as->n_prompts, .zero_std = as->n_zero_std, .cold = as->n_cold, .free_mib = free_mib,
    };
    *mx = (StepMax){.neg_adv_min = -as->a_min, .adv_max = as->a_max, .neg_len_min = -st->len_min, .len_max = st->len_max};
}

// ---- the metrics row ----
enum { GROUP_SERIES = 5 };
static const char *const GROUP_FMT[GROUP_SERIES] = {"reward/group/%d/mean", "reward/group/%d/std",
                                                    "history/group/%d/mean", "history/group/%d/std",
                                                    "history/group/%d/count"};

// The scalar metrics, computed once per step into a Report and emitted from one table in this order.
typedef struct {
    double reward_mean, reward_std, worst_mean, worst, adv_mean, adv_std, adv_min, adv_max, frac_zero_std, n_cold;
    double loss_total, loss_policy, kl, entropy, clip_low, clip_high, clip_region, ratio_mean;
    double len_mean, len_min, len_max, truncated_frac, dropped_tied, grad_norm, lr;
} Report;
typedef enum { ALWAYS, IF_TOKENS, IF_ENTROPY } Presence;   // when a series has data this step
typedef struct { const char *name; size_t field; Presence when; } MetricSpec;
#define M(name, field, when) {name, offsetof(Report, field), when}
static const MetricSpec METRICS[] = {
    M("reward/mean", reward_mean, ALWAYS), M("reward/std", reward_std, ALWAYS),
    M("reward/worst_group_mean", worst_mean, ALWAYS), M("reward/worst_group", worst, ALWAYS),
    M("advantage/mean", adv_mean, ALWAYS), M("advantage/std", adv_std, ALWAYS), M("advantage/min", adv_min, ALWAYS),
    M("advantage/max", adv_max, ALWAYS), M("advantage/frac_zero_std", frac_zero_std, ALWAYS),
    M("advantage/n_cold", n_cold, ALWAYS), M("loss/total", loss_total, ALWAYS), M("loss/policy", loss_policy, ALWAYS),
    M("kl", kl, IF_TOKENS), M("entropy", entropy, IF_ENTROPY), M("clip/low", clip_low, IF_TOKENS),
    M("clip/high", clip_high, IF_TOKENS), M("clip/region", clip_region, IF_TOKENS), M("ratio/mean", ratio_mean, IF_TOKENS),
    M("completion/length_mean", len_mean, ALWAYS), M("completion/length_min", len_min, ALWAYS),
    M("completion/length_max", len_max, ALWAYS), M("completion/truncated_frac", truncated_frac, ALWAYS),
    M("completion/dropped_tied", dropped_tied, ALWAYS), M("grad_norm", grad_norm, ALWAYS), M("lr", lr, ALWAYS),
};
#undef M
enum { N_METRICS = sizeof METRICS / sizeof METRICS[0] };

MetricRow *metric_row_create(int n_groups) {
    MetricRow *m = xcalloc(1, sizeof *m);
    m->n_groups = n_groups;
    m->cap = GROUP_SERIES * n_groups + N_METRICS + TIMER_N + 1;
    m->name = xcalloc((size_t)m->cap, sizeof *m->name);
    m->v = xcalloc((size_t)m->cap, sizeof *m->v);
    m->group_name = xcalloc((size_t)(GROUP_SERIES * n_groups + 1), sizeof *m->group_name);
    for (int g = 0; g < n_groups; g++)
        for (int j = 0; j < GROUP_SERIES; j++) {
            size_t len = strlen(GROUP_FMT[j]) + 12;   // room for any int in place of %d
            char *s = xmalloc(len);
            snprintf(s, len, GROUP_FMT[j], g);
            m->group_name[g * GROUP_SERIES + j] = s;
        }
    return m;
}

void metric_row_free(MetricRow *m) {
    if (!m) return;
    for (int i = 0; i < GROUP_SERIES * m->n_groups; i++) free(m->group_name[i]);
    free(m->group_name); free(m->name); free(m->v); free(m);
}

const char *metric_row_group_mean_name(const MetricRow *m, int g) { return m->group_name[g * GROUP_SERIES]; }

static void put(MetricRow *m, const char *name, double v) {
    CHECK(m->n < m->cap, "metric row full");
    m->name[m->n] = name;
    m->v[m->n++] = v;
}

static double ratio_or_zero(double num, double den) { return num / (den > 0 ? den : 1); }

// Per-group reward and history series (only groups with data), the step's total, and the worst group.
static Welford put_groups(MetricRow *m, const StepStats *st, const GroupHistory *hist) {
    Welford tot = {0, 0, 0};
    m->worst = -1;
    m->worst_mean = 0;
    for (int g = 0; g < m->n_groups; g++) {
        char *const *nm = m->group_name + g * GROUP_SERIES;
        const Welford *w = &st->grp[g];
        welford_merge(&tot, w);
        if (w->n > 0) {
            put(m, nm[0], w->mean);
            put(m, nm[1], sqrt(welford_var(w, 0)));
            if (m->worst < 0 || w->mean < m->worst_mean) { m->worst = g; m->worst_mean = w->mean; }
        }
        double hm, hs, hn;
        history_get(hist, g, &hm, &hs, &hn);
        if (hn > 0) { put(m, nm[2], hm); put(m, nm[3], hs); put(m, nm[4], hn); }
    }
    return tot;
}

static Report make_report(const MetricRow *m, const Welford *tot, const StepStats *st, const StepSums *s,
                          const StepMax *mx, int n_mb) {
    double ntok = s->tokens > 0 ? s->tokens : 1;
    double a_mean = ratio_or_zero(s->adv_sum, s->adv_n), a_var = ratio_or_zero(s->adv_sumsq, s->adv_n) - a_mean * a_mean;
    return (Report){
        .reward_mean = tot->mean, .reward_std = sqrt(welford_var(tot, 0)), .worst_mean = m->worst_mean,
        .worst = m->worst, .adv_mean = a_mean, .adv_std = sqrt(a_var > 0 ? a_var : 0), .adv_min = -mx->neg_adv_min,
        .adv_max = mx->adv_max, .frac_zero_std = ratio_or_zero(s->zero_std, s->prompts), .n_cold = s->cold,
        .loss_total = s->loss / n_mb, .loss_policy = s->pg_loss / n_mb, .kl = s->kl / ntok,
        .entropy = ratio_or_zero(s->ent, s->ent_n), .clip_low = s->clip_low / ntok, .clip_high = s->clip_high / ntok,
        .clip_region = s->clip_region / ntok, .ratio_mean = s->ratio / ntok, .len_mean = ratio_or_zero(s->len, s->len_n),
        .len_min = -mx->neg_len_min, .len_max = mx->len_max, .truncated_frac = ratio_or_zero(s->trunc, s->len_n),
        .dropped_tied = s->dropped, .grad_norm = st->gnorm, .lr = st->lr,
    };
}

void metric_row_fill(MetricRow *m, const StepStats *st, const StepSums *s, const StepMax *mx,
                     const GroupHistory *hist, const Timers *tm, int n_mb) {
    m->n = 0;
    Welford tot = put_groups(m, st, hist);
    Report r = make_report(m, &tot, st, s, mx, n_mb > 0 ? n_mb : 1);
    m->has_tokens = s->tokens > 0;
    for (int i = 0; i < N_METRICS; i++) {
        const MetricSpec *spec = &METRICS[i];
        if ((spec->when == IF_TOKENS && !m->has_tokens) || (spec->when == IF_ENTROPY && !(s->ent_n > 0))) continue;
        double v;
        memcpy(&v, (const char *)&r + spec->field, sizeof v);
        put(m, spec->name, v);
    }
    for (int t = 0; t < TIMER_N; t++) put(m, TIMER_SERIES[t], tm->sec[t]);
    m->tokens_per_s = s->len / (tm->sec[TIMER_STEP] > 0 ? tm->sec[TIMER_STEP] : 1);
    put(m, "tokens_per_s", m->tokens_per_s);
    m->reward_mean = r.reward_mean;
    m->kl = r.kl;
    m->loss = r.loss_total;
    m->clip = r.clip_low + r.clip_high;
    m->len_mean = r.len_mean;
}

void metric_log_header(char *buf, size_t n) {
    snprintf(buf, n, "%6s %8s %8s %3s %8s %8s %6s %5s %7s %8s %8s %8s %8s %7s", "step", "reward", "worst", "grp", "kl",
             "loss", "clip", "len", "gnorm", "roll_ms", "wait_ms", "ms/step", "tok/s", "eta_s");
}

void metric_row_log_line(const MetricRow *m, long step, float gnorm, const Timers *tm, double eta_s, char *buf, size_t n) {
    // roll_ms (sampling, on the rollout ranks) beside wait_ms (learners waiting for it) shows the overlap:
    // synchronous, wait >= roll; asynchronous, the rollouts hide behind the update and wait drops to ~0.
    // A step without loss tokens (drop_tied and every prompt tied) has no kl or clip fraction: "-".
    char kl[16], clip[16];
    if (m->has_tokens) { snprintf(kl, sizeof kl, "%8.5f", m->kl); snprintf(clip, sizeof clip, "%6.3f", m->clip); }
    else { snprintf(kl, sizeof kl, "%8s", "-"); snprintf(clip, sizeof clip, "%6s", "-"); }
    snprintf(buf, n, "%6ld %8.4f %8.4f %3d %s %8.4f %s %5.1f %7.3f %8.1f %8.1f %8.1f %8.0f %7.0f", step,
             m->reward_mean, m->worst_mean, m->worst, kl, m->loss, clip, m->len_mean, gnorm,
             1e3 * tm->sec[TIMER_ROLLOUT], 1e3 * tm->sec[TIMER_TRANSFER], 1e3 * tm->sec[TIMER_STEP], m->tokens_per_s,
             eta_s);
}
