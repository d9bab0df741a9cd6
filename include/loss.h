// loss.h — GRPO's clipped surrogate plus the k3 KL penalty to the frozen reference, with its gradient d loss/d logp.
// Plain arrays only. Shapes: N completions on this rank/minibatch, Tc the padded completion length; token arrays
// are (N,Tc) row-major and entries t >= len[i] are ignored (and get gradient 0).
//
// Per token, with rho = exp(logp - old_logp) and d = ref_logp - logp:
//   L_it  = min(rho*A_i, clip(rho, 1-eps_low, 1+eps_high)*A_i) - beta*KL_it,   KL_it = exp(d) - d - 1   (k3, >= 0)
//   loss  = -sum_it w_it * L_it
// Weights by aggregation, with the GLOBAL normaliser Z (summed over every rank and minibatch of the step):
//   AGG_SEQ_MEAN_TOKEN_MEAN  w = 1/(len_i * Z), Z = number of sequences   (original GRPO; len_i = 0 contributes 0)
//   AGG_TOKEN_MEAN           w = 1/Z,           Z = number of tokens      (DAPO)
//   AGG_DRGRPO               w = 1/(Z*max_new), Z = number of sequences   (Dr. GRPO: a constant normaliser)
// Because Z is global, the losses and gradients of the parts of a batch add up to those of the whole batch.
#ifndef PGRPO_LOSS_H
#define PGRPO_LOSS_H
#include "finite.h"

typedef enum { AGG_SEQ_MEAN_TOKEN_MEAN = 0, AGG_TOKEN_MEAN = 1, AGG_DRGRPO = 2 } LossAgg;

// No defaults here: the deck schema (deck.c) holds them; config_from_deck (config.h) fills every field.
typedef struct {
    float eps_low;   // train.eps_low, in [0,1]
    float eps_high;  // train.eps_high, finite >= 0 (DAPO's clip-higher uses 0.28)
    float beta;      // train.beta, KL coefficient, finite >= 0; 0 disables the KL term (ref_logp may then be NULL)
    LossAgg agg;     // train.loss_agg
} LossConfig;

// NULL when valid, else a constant message; *bad_key (when bad_key is not NULL) names the deck key of the bad
// field ("train.beta", ...), or NULL when valid.
const char *loss_config_check(const LossConfig *c, const char **bad_key);

// Additive statistics: every field is a sum, so accumulate minibatches with loss_stats_add and reduce across ranks
// with MPI_SUM; then e.g. mean KL = kl_sum/n_tokens, clip fraction = n_clip_low/n_tokens, mean ratio =
// ratio_sum/n_tokens. Counts are over valid tokens (t < len).
typedef struct {
    double loss;         // this part's contribution to the global loss (loss_eval's result)
    double pg_loss;      // contribution of the surrogate alone: -sum w*min(...)
    double kl_loss;      // contribution of the aggregated KL: sum w*KL (loss = pg_loss + beta*kl_loss)
    double kl_sum;       // sum of KL_it (computed whenever ref_logp is given, even with beta = 0)
    double ratio_sum;    // sum of rho
    double n_clip_low;   // tokens with rho < 1-eps_low and A < 0 (the clipped branch is active)
    double n_clip_high;  // tokens with rho > 1+eps_high and A > 0 (the clipped branch is active)
    double n_clip_region;// tokens with rho outside [1-eps_low, 1+eps_high], whatever A's sign
    double n_tokens;     // valid tokens
} LossStats;

void loss_stats_add(LossStats *acc, const LossStats *s);

// This rank's part of the global normaliser Z: N for the sequence aggregations, sum(len) for AGG_TOKEN_MEAN.
// The caller sums it over ranks (and minibatches) of the step and passes the total as global_norm.
double loss_norm_local(const LossConfig *cfg, const int *len /*(N)*/, int N, int max_new);

// Writes st (st->loss = this part's loss contribution) and dlogp (N,Tc) = d loss / d logp (0 at t >= len[i]):
//   surrogate: -w*rho*A where the unclipped term is the min (ties included), 0 where the clipped term is;
//   KL:        w*beta*(1 - exp(ref_logp - logp)).
// Accumulation is in double. ref_logp may be NULL only when beta == 0; st must not be NULL.
// Returns 0, or -1 when a value it reads is NaN/inf, with *bad (when not NULL) naming the first one:
//   "advantage" index i (A[i] of a sequence with len[i] > 0), "logp" / "old_logp" / "ref_logp" index i*Tc + t
//   (t < len[i]; padding is not read), or "loss" when finite inputs overflow (rho = exp(logp - old_logp)).
// Inputs are checked before anything is written; after -1, st and dlogp are unspecified and must not be used.
// Never a silent skip: a NaN advantage used to drop out of the gradient.
int loss_eval(const LossConfig *cfg, const float *logp /*(N,Tc)*/, const float *old_logp /*(N,Tc)*/,
              const float *ref_logp /*(N,Tc) or NULL*/, const float *A /*(N)*/, const int *len /*(N)*/, int N, int Tc,
              int max_new, double global_norm, float *dlogp /*(N,Tc) out*/, LossStats *st, FiniteFault *bad);

// Deck strings: "seq_mean_token_mean" | "token_mean" | "drgrpo"; -1 when unknown.
int loss_agg_from_str(const char *s);
const char *loss_agg_name(LossAgg a);

#endif
