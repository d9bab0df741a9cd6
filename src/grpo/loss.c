// loss.c — clipped surrogate + k3 KL policy loss and its gradient (see loss.h).
#include "loss.h"
#include "check.h"
#include "finite.h"
#include <math.h>
#include <string.h>

const char *loss_config_check(const LossConfig *c, const char **bad_key) {
    const char *key = NULL, *msg = NULL;
    if (!(c->eps_low >= 0.0f && c->eps_low <= 1.0f)) key = "train.eps_low", msg = "eps_low must be in [0, 1]";
    else if (!(c->eps_high >= 0.0f) || !isfinite(c->eps_high)) key = "train.eps_high", msg = "eps_high must be a finite value >= 0";
    else if (!(c->beta >= 0.0f) || !isfinite(c->beta)) key = "train.beta", msg = "beta must be a finite value >= 0";
    else if ((unsigned)c->agg > AGG_DRGRPO)
        key = "train.loss_agg", msg = "aggregation must be seq_mean_token_mean, token_mean or drgrpo";
    if (bad_key) *bad_key = key;
    return msg;
}

void loss_stats_add(LossStats *acc, const LossStats *s) {
    acc->loss += s->loss;
    acc->pg_loss += s->pg_loss;
    acc->kl_loss += s->kl_loss;
    acc->kl_sum += s->kl_sum;
    acc->ratio_sum += s->ratio_sum;
    acc->n_clip_low += s->n_clip_low;
    acc->n_clip_high += s->n_clip_high;
    acc->n_clip_region += s->n_clip_region;
    acc->n_tokens += s->n_tokens;
}

double loss_norm_local(const LossConfig *cfg, const int *len, int N, int max_new) {
    (void)max_new;   // Dr. GRPO's max_new enters the weight in loss_compute, not Z
    if (cfg->agg != AGG_TOKEN_MEAN) return (double)N;
    double tokens = 0.0;
    for (int i = 0; i < N; i++) tokens += len[i];
    return tokens;
}

static void loss_compute_unchecked(const LossConfig *cfg, const float *logp, const float *old_logp,
                                   const float *ref_logp, const float *A, const int *len, int N, int Tc, int max_new,
                                   double global_norm, float *dlogp, LossStats *st);

// First non-finite input among the values the loss reads: A[i] of sequences with tokens, and the log-probs at t < len.
static int find_nonfinite(const float *logp, const float *old_logp, const float *ref_logp, const float *A,
                          const int *len, int N, int Tc, FiniteFault *bad) {
    const float *arr[3] = {logp, old_logp, ref_logp};
    static const char *const names[3] = {"logp", "old_logp", "ref_logp"};
    for (int i = 0; i < N; i++) {
        if (len[i] > 0 && !isfinite(A[i])) { *bad = (FiniteFault){"advantage", (size_t)i, A[i]}; return -1; }
        for (int q = 0; q < 3; q++) {
            if (!arr[q]) continue;
            const float *row = arr[q] + (size_t)i * Tc;
            for (int t = 0; t < len[i]; t++)
                if (!isfinite(row[t])) { *bad = (FiniteFault){names[q], (size_t)i * Tc + t, row[t]}; return -1; }
        }
    }
    return 0;
}

int loss_eval(const LossConfig *cfg, const float *logp, const float *old_logp, const float *ref_logp, const float *A,
              const int *len, int N, int Tc, int max_new, double global_norm, float *dlogp, LossStats *st,
              FiniteFault *bad) {
    FiniteFault f = {0};
    CHECK(st != NULL, "loss_eval: st is NULL");
    for (int i = 0; i < N; i++)
        CHECK(len[i] >= 0 && len[i] <= Tc, "loss_eval: len[%d] = %d outside [0,%d]", i, len[i], Tc);
    int rc = find_nonfinite(logp, old_logp, ref_logp, A, len, N, Tc, &f);
    if (!rc) {
        loss_compute_unchecked(cfg, logp, old_logp, ref_logp, A, len, N, Tc, max_new, global_norm, dlogp, st);
        // Finite inputs can still overflow (rho = exp(logp - old_logp) beyond double range).
        if (!isfinite(st->loss)) { f = (FiniteFault){"loss", 0, st->loss}; rc = -1; }
    }
    if (rc && bad) *bad = f;
    return rc;
}

static void loss_compute_unchecked(const LossConfig *cfg, const float *logp, const float *old_logp,
                                   const float *ref_logp, const float *A, const int *len, int N, int Tc, int max_new,
                                   double global_norm, float *dlogp, LossStats *st) {
    const char *bad = loss_config_check(cfg, NULL);
    CHECK(bad == NULL, "loss_compute: %s", bad);
    CHECK(cfg->beta == 0.0f || ref_logp != NULL, "loss_compute: beta %g > 0 needs ref_logp", (double)cfg->beta);
    CHECK(cfg->agg != AGG_DRGRPO || max_new >= 1, "loss_compute: drgrpo needs max_new >= 1, got %d", max_new);
    double lo = 1.0 - cfg->eps_low, hi = 1.0 + cfg->eps_high, beta = cfg->beta;
    LossStats s = {0};
    for (int i = 0; i < N; i++) {
        CHECK(len[i] >= 0 && len[i] <= Tc, "loss_compute: len[%d] = %d outside [0,%d]", i, len[i], Tc);
        const float *lp = logp + (size_t)i * Tc, *olp = old_logp + (size_t)i * Tc;
        const float *rlp = ref_logp ? ref_logp + (size_t)i * Tc : NULL;
        float *dl = dlogp + (size_t)i * Tc;
        double w = 0.0;
        if (len[i] > 0) {
            CHECK(global_norm > 0.0, "loss_compute: global_norm %g with valid tokens", global_norm);
            if (cfg->agg == AGG_SEQ_MEAN_TOKEN_MEAN) w = 1.0 / ((double)len[i] * global_norm);
            else if (cfg->agg == AGG_TOKEN_MEAN) w = 1.0 / global_norm;
            else w = 1.0 / (global_norm * (double)max_new);
        }
        double a = A[i];
        for (int t = 0; t < len[i]; t++) {
            double rho = exp((double)lp[t] - (double)olp[t]);
            double rc = rho < lo ? lo : (rho > hi ? hi : rho);
            double un = rho * a, cl = rc * a;
            // The unclipped branch is the min on ties too, where both branches have the same gradient anyway.
            int unclipped = un <= cl;
            double surr = unclipped ? un : cl;
            double g = unclipped ? -w * un : 0.0;
            double kl = 0.0;
            if (rlp) {
                double d = (double)rlp[t] - (double)lp[t];
                double ed = exp(d);
                kl = ed - d - 1.0;
                g += w * beta * (1.0 - ed);
            }
            dl[t] = (float)g;
            s.pg_loss -= w * surr;
            s.kl_loss += w * kl;
            s.kl_sum += kl;
            s.ratio_sum += rho;
            s.n_clip_low += (rho < lo && a < 0.0);
            s.n_clip_high += (rho > hi && a > 0.0);
            s.n_clip_region += (rho < lo || rho > hi);
        }
        s.n_tokens += len[i];
        for (int t = len[i]; t < Tc; t++) dl[t] = 0.0f;
    }
    s.loss = s.pg_loss + beta * s.kl_loss;
    *st = s;
}

static const char *const AGG_NAMES[] = {"seq_mean_token_mean", "token_mean", "drgrpo"};

int loss_agg_from_str(const char *s) {
    if (!s) return -1;
    for (int i = 0; i < 3; i++) if (strcmp(s, AGG_NAMES[i]) == 0) return i;
    return -1;
}

const char *loss_agg_name(LossAgg a) { return (unsigned)a <= AGG_DRGRPO ? AGG_NAMES[a] : "?"; }
