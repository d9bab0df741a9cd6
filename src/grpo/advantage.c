// advantage.c — GRPO / Dr. GRPO / P-GRPO advantages and per-group reward histories (see advantage.h).
#include "advantage.h"
#include "check.h"
#include <math.h>
#include <string.h>

// ----------------------------------------------------------------------------------------------------------------
// Welford

void welford_add(Welford *w, double x) {
    w->n += 1.0;
    double d = x - w->mean;
    w->mean += d / w->n;
    w->m2 += d * (x - w->mean);
}

void welford_merge(Welford *a, const Welford *b) {
    if (b->n <= 0.0) return;
    if (a->n <= 0.0) { *a = *b; return; }
    double n = a->n + b->n;
    double d = b->mean - a->mean;
    a->mean += d * (b->n / n);
    a->m2 += b->m2 + d * d * (a->n * b->n / n);
    a->n = n;
}

double welford_var(const Welford *w, int sample) {
    if (sample) return w->n > 1.0 ? w->m2 / (w->n - 1.0) : 0.0;
    return w->n > 0.0 ? w->m2 / w->n : 0.0;
}

// ----------------------------------------------------------------------------------------------------------------
// Config

// Each field is checked against its deck key's documented range (deck.c), whatever the mode, so a config that was
// never filled in (all zeros) is refused instead of running on values nobody chose.
const char *adv_config_check(const AdvConfig *c, const char **bad_key) {
    const char *key = NULL, *msg = NULL;
    if ((unsigned)c->kind > ADV_PGRPO) key = "train.advantage", msg = "advantage kind must be grpo, drgrpo or pgrpo";
    else if ((unsigned)c->hist > HIST_WINDOW) key = "pgrpo.history", msg = "history mode must be cumulative, ema or window";
    else if (!(c->ema_decay > 0.0 && c->ema_decay <= 1.0))
        key = "pgrpo.decay", msg = "decay must be in (0, 1] (1 keeps every reward at full weight, like cumulative)";
    else if (c->window < 1) key = "pgrpo.window", msg = "window must be >= 1 steps";
    else if ((unsigned)c->update_order > UPDATE_AFTER) key = "pgrpo.order", msg = "order must be before or after";
    else if ((unsigned)c->cold > COLD_BATCH) key = "pgrpo.cold_start", msg = "cold-start rule must be grpo, zero or batch";
    else if (!(c->min_count >= 0.0) || !isfinite(c->min_count)) key = "pgrpo.min_count", msg = "min_count must be >= 0";
    else if (!(c->eps >= 0.0) || !isfinite(c->eps)) key = "pgrpo.eps", msg = "eps must be a finite value >= 0";
    else if ((unsigned)c->var > VAR_SAMPLE) key = "pgrpo.variance", msg = "variance must be population or sample";
    if (bad_key) *bad_key = key;
    return msg;
}

// ----------------------------------------------------------------------------------------------------------------
// History

#define HISTORY_VERSION 1.0
#define HISTORY_HEADER 5   // version, n_groups, mode, window, steps

void history_init(GroupHistory *h, const AdvConfig *cfg, int n_groups) {
    CHECK(n_groups >= 1, "history_init: n_groups %d", n_groups);
    const char *bad = adv_config_check(cfg, NULL);
    CHECK(bad == NULL, "history_init: %s", bad);
    memset(h, 0, sizeof *h);
    h->n_groups = n_groups;
    h->mode = cfg->hist;
    h->decay = cfg->ema_decay;
    h->window = cfg->hist == HIST_WINDOW ? cfg->window : 0;
    h->var = cfg->var;
    h->total = xcalloc((size_t)n_groups, sizeof(Welford));
    if (h->mode == HIST_WINDOW) h->ring = xcalloc((size_t)h->window * (size_t)n_groups, sizeof(Welford));
}

void history_free(GroupHistory *h) {
    free(h->total);
    free(h->ring);
    h->total = h->ring = NULL;
}

void history_update(GroupHistory *h, const Welford *step_stats) {
    int ng = h->n_groups;
    if (h->mode == HIST_CUMULATIVE) {
        for (int g = 0; g < ng; g++) welford_merge(&h->total[g], &step_stats[g]);
    } else if (h->mode == HIST_EMA) {
        for (int g = 0; g < ng; g++) {
            h->total[g].n *= h->decay;
            h->total[g].m2 *= h->decay;
            welford_merge(&h->total[g], &step_stats[g]);
        }
    } else {
        long W = h->window;
        memcpy(&h->ring[(size_t)(h->steps % W) * ng], step_stats, (size_t)ng * sizeof(Welford));
        long filled = h->steps + 1 < W ? h->steps + 1 : W;
        long oldest = h->steps + 1 - filled;
        // Re-merge oldest first each step: O(W*groups) but exact, with no subtraction of expired summaries.
        for (int g = 0; g < ng; g++) {
            Welford acc = {0, 0, 0};
            for (long s = oldest; s <= h->steps; s++) welford_merge(&acc, &h->ring[(size_t)(s % W) * ng + g]);
            h->total[g] = acc;
        }
    }
    h->steps++;
}

void history_get(const GroupHistory *h, int g, double *mean, double *std, double *n) {
    CHECK(g >= 0 && g < h->n_groups, "history_get: group %d of %d", g, h->n_groups);
    const Welford *w = &h->total[g];
    if (mean) *mean = w->mean;
    if (std) *std = sqrt(welford_var(w, h->var == VAR_SAMPLE));
    if (n) *n = w->n;
}

size_t history_state_size(const GroupHistory *h) {
    size_t ng = (size_t)h->n_groups;
    return HISTORY_HEADER + 3 * ng + (h->mode == HIST_WINDOW ? 3 * ng * (size_t)h->window : 0);
}

static void pack_welford(double *out, const Welford *w, size_t n) {
    for (size_t i = 0; i < n; i++) { out[3*i] = w[i].n; out[3*i+1] = w[i].mean; out[3*i+2] = w[i].m2; }
}

static void unpack_welford(Welford *w, const double *in, size_t n) {
    for (size_t i = 0; i < n; i++) { w[i].n = in[3*i]; w[i].mean = in[3*i+1]; w[i].m2 = in[3*i+2]; }
}

void history_pack(const GroupHistory *h, double *out) {
    size_t ng = (size_t)h->n_groups;
    out[0] = HISTORY_VERSION;
    out[1] = h->n_groups;
    out[2] = h->mode;
    out[3] = h->window;
    out[4] = (double)h->steps;
    pack_welford(out + HISTORY_HEADER, h->total, ng);
    if (h->mode == HIST_WINDOW) pack_welford(out + HISTORY_HEADER + 3 * ng, h->ring, ng * (size_t)h->window);
}

int history_unpack(GroupHistory *h, const double *in, size_t n) {
    size_t ng = (size_t)h->n_groups;
    if (n != history_state_size(h) || in[0] != HISTORY_VERSION || in[1] != h->n_groups || in[2] != h->mode ||
        in[3] != h->window || !(in[4] >= 0.0))
        return -1;
    h->steps = (long)in[4];
    unpack_welford(h->total, in + HISTORY_HEADER, ng);
    if (h->mode == HIST_WINDOW) unpack_welford(h->ring, in + HISTORY_HEADER + 3 * ng, ng * (size_t)h->window);
    return 0;
}

// ----------------------------------------------------------------------------------------------------------------
// Batch statistics

void adv_batch_stats(const float *R, const int *group, int n, int n_groups, Welford *out) {
    memset(out, 0, (size_t)n_groups * sizeof(Welford));
    for (int i = 0; i < n; i++) {
        CHECK(group[i] >= 0 && group[i] < n_groups, "reward %d has group %d of %d", i, group[i], n_groups);
        welford_add(&out[group[i]], R[i]);
    }
}

void adv_batch_stats_prompts(const float *R, const int *group, int P, int G, int n_groups, Welford *out) {
    memset(out, 0, (size_t)n_groups * sizeof(Welford));
    for (int p = 0; p < P; p++) {
        CHECK(group[p] >= 0 && group[p] < n_groups, "prompt %d has group %d of %d", p, group[p], n_groups);
        for (int j = 0; j < G; j++) welford_add(&out[group[p]], R[(size_t)p * G + j]);
    }
}

void adv_merge_ranks(const Welford *all, int nranks, int n_groups, Welford *out) {
    for (int g = 0; g < n_groups; g++) {
        Welford acc = {0, 0, 0};
        for (int r = 0; r < nranks; r++) welford_merge(&acc, &all[(size_t)r * n_groups + g]);
        out[g] = acc;
    }
}

// ----------------------------------------------------------------------------------------------------------------
// Advantages

void adv_stats_finish(AdvStats *st) {
    st->a_mean = st->n_a > 0 ? st->a_sum / st->n_a : 0.0;
    double var = st->n_a > 0 ? st->a_sumsq / st->n_a - st->a_mean * st->a_mean : 0.0;
    st->a_std = var > 0 ? sqrt(var) : 0.0;
    st->frac_zero_std = st->n_prompts > 0 ? st->n_zero_std / st->n_prompts : 0.0;
}

static int all_tie(const float *r, int G) {
    for (int j = 1; j < G; j++) if (r[j] != r[0]) return 0;
    return 1;
}

void adv_compute(const AdvConfig *cfg, GroupHistory *h, const Welford *step_stats, const float *R,
                 const int *group, int P, int G, float *A, AdvStats *st) {
    const char *bad = adv_config_check(cfg, NULL);
    CHECK(bad == NULL, "adv_compute: %s", bad);
    CHECK(P >= 0 && G >= 1, "adv_compute: P=%d G=%d", P, G);
    int ng = h->n_groups;
    Welford *local = NULL;
    if (!step_stats) {
        local = xmalloc((size_t)ng * sizeof(Welford));
        adv_batch_stats_prompts(R, group, P, G, ng, local);
        step_stats = local;
    }
    int sample = cfg->var == VAR_SAMPLE;
    if (cfg->update_order == UPDATE_BEFORE) history_update(h, step_stats);

    AdvStats s = {0};
    s.a_min = INFINITY;
    s.a_max = -INFINITY;
    for (int p = 0; p < P; p++) {
        const float *r = R + (size_t)p * G;
        float *a = A + (size_t)p * G;
        int g = group[p];
        CHECK(g >= 0 && g < ng, "prompt %d has group %d of %d", p, g, ng);
        Welford pw = {0, 0, 0};
        for (int j = 0; j < G; j++) welford_add(&pw, r[j]);
        double mu_q = pw.mean, sd_q = sqrt(welford_var(&pw, sample));
        s.n_prompts += 1;
        if (all_tie(r, G)) s.n_zero_std += 1;

        // Per-prompt default: GRPO's concurrent-group normalisation.
        double mu = mu_q, den = sd_q + cfg->eps;
        int zero = 0;
        if (cfg->kind == ADV_DRGRPO) {
            den = 1.0;
        } else if (cfg->kind == ADV_PGRPO) {
            double mu_p, sd_p, n_p;
            history_get(h, g, &mu_p, &sd_p, &n_p);
            if (n_p >= cfg->min_count) {
                mu = mu_p;
                den = sd_p + cfg->eps;
            } else {
                s.n_cold += 1;
                if (cfg->cold == COLD_ZERO) {
                    zero = 1;
                } else if (cfg->cold == COLD_BATCH) {
                    mu = step_stats[g].mean;
                    den = sqrt(welford_var(&step_stats[g], sample)) + cfg->eps;
                }
            }
        }
        // eps = 0 and no spread (std 0): no signal to normalise, so advantage 0 (not 0/0 = NaN); see advantage.h.
        if (!(den > 0.0)) zero = 1;
        double scale = zero ? 0.0 : 1.0 / den;
        for (int j = 0; j < G; j++) {
            float v = zero ? 0.0f : (float)((r[j] - mu) * scale);
            a[j] = v;
            s.a_sum += v;
            s.a_sumsq += (double)v * v;
            s.n_a += 1;
            if (v < s.a_min) s.a_min = v;
            if (v > s.a_max) s.a_max = v;
        }
    }
    if (cfg->update_order == UPDATE_AFTER) history_update(h, step_stats);
    free(local);
    if (st) {
        adv_stats_finish(&s);
        *st = s;
    }
}

int adv_zero_std_mask(const float *R, int P, int G, unsigned char *mask) {
    int count = 0;
    for (int p = 0; p < P; p++) {
        mask[p] = (unsigned char)all_tie(R + (size_t)p * G, G);
        count += mask[p];
    }
    return count;
}

// ----------------------------------------------------------------------------------------------------------------
// Names

static const char *const KIND_NAMES[] = {"grpo", "drgrpo", "pgrpo"};
static const char *const HIST_NAMES[] = {"cumulative", "ema", "window"};
static const char *const ORDER_NAMES[] = {"before", "after"};
static const char *const COLD_NAMES[] = {"grpo", "zero", "batch"};
static const char *const VAR_NAMES[] = {"population", "sample"};

static int lookup(const char *s, const char *const *names, int n) {
    if (!s) return -1;
    for (int i = 0; i < n; i++) if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static const char *name_of(int v, const char *const *names, int n) {
    return v >= 0 && v < n ? names[v] : "?";
}

int adv_kind_from_str(const char *s) { return lookup(s, KIND_NAMES, 3); }
int adv_hist_from_str(const char *s) { return lookup(s, HIST_NAMES, 3); }
int adv_order_from_str(const char *s) { return lookup(s, ORDER_NAMES, 2); }
int adv_cold_from_str(const char *s) { return lookup(s, COLD_NAMES, 3); }
int adv_var_from_str(const char *s) { return lookup(s, VAR_NAMES, 2); }
const char *adv_kind_name(AdvKind k) { return name_of((int)k, KIND_NAMES, 3); }
const char *adv_hist_name(HistMode m) { return name_of((int)m, HIST_NAMES, 3); }
const char *adv_order_name(UpdateOrder o) { return name_of((int)o, ORDER_NAMES, 2); }
const char *adv_cold_name(ColdRule c) { return name_of((int)c, COLD_NAMES, 3); }
const char *adv_var_name(VarMode v) { return name_of((int)v, VAR_NAMES, 2); }
