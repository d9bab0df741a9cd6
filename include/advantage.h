// advantage.h — per-completion advantages for GRPO, Dr. GRPO and Personalized GRPO (P-GRPO); plain arrays only.
//
// Shapes: P prompts on this learner, G completions per prompt, R and A are (P*G) with completion j of prompt p at
// p*G + j; group (P) is the preference group of each prompt's user, 0 <= group[p] < n_groups.
//
// Data flow on the learners of one step:
//   adv_batch_stats_prompts(local R)  -> Welford (n_groups)             this rank's per-group summaries
//   allgather (MPI layer)             -> Welford (nranks, n_groups)
//   adv_merge_ranks                   -> Welford (n_groups) step_stats  same bits on every learner
//   adv_compute(cfg, hist, step_stats, local R, ...) -> A              updates hist identically everywhere
#ifndef PGRPO_ADVANTAGE_H
#define PGRPO_ADVANTAGE_H
#include <stddef.h>

// Online (count, mean, sum of squared deviations). n is double so decayed (EMA) weights are representable.
typedef struct { double n, mean, m2; } Welford;

void welford_add(Welford *w, double x);
// a <- a ∪ b by Chan et al.'s parallel rule. Not commutative in floating point: merge in a fixed order.
void welford_merge(Welford *a, const Welford *b);
// Population m2/n (0 when n <= 0) or, when sample != 0, m2/(n-1) (0 when n <= 1).
double welford_var(const Welford *w, int sample);

typedef enum { ADV_GRPO = 0, ADV_DRGRPO = 1, ADV_PGRPO = 2 } AdvKind;
typedef enum { HIST_CUMULATIVE = 0, HIST_EMA = 1, HIST_WINDOW = 2 } HistMode;
typedef enum { UPDATE_BEFORE = 0, UPDATE_AFTER = 1 } UpdateOrder;
typedef enum { COLD_GRPO = 0, COLD_ZERO = 1, COLD_BATCH = 2 } ColdRule;
typedef enum { VAR_POPULATION = 0, VAR_SAMPLE = 1 } VarMode;

// No defaults here: the deck schema (deck.c) holds them, and config_from_deck (config.h) fills every field. Each
// field is validated against its deck key's range whatever the mode, so an all-zero config is invalid
// (pgrpo.decay = 0).
typedef struct {
    AdvKind kind;             // train.advantage
    HistMode hist;            // pgrpo.history
    double ema_decay;         // pgrpo.decay, in (0,1]; used by HIST_EMA (decay 1 = no decay: same as cumulative)
    int window;               // pgrpo.window, W >= 1 steps; used by HIST_WINDOW
    UpdateOrder update_order; // pgrpo.order
    ColdRule cold;            // pgrpo.cold_start
    double min_count;         // pgrpo.min_count: a group history with n < min_count is cold; >= 0
    double eps;               // pgrpo.eps: added to every std, finite >= 0 (see adv_compute for eps = 0)
    VarMode var;              // pgrpo.variance (both per-prompt and history std)
} AdvConfig;

// NULL when valid, else a constant message; *bad_key (when bad_key is not NULL) is the deck key of the bad field
// ("pgrpo.decay", ...), or NULL when valid.
const char *adv_config_check(const AdvConfig *c, const char **bad_key);

// Per-preference-group reward history. All state lives in the arrays below (see history_pack for the layout).
typedef struct {
    int n_groups;
    HistMode mode;
    double decay;     // HIST_EMA only
    int window;       // HIST_WINDOW only (ring length W)
    VarMode var;
    long steps;       // history_update calls so far
    Welford *total;   // (n_groups) the summary used for normalisation
    Welford *ring;    // (W, n_groups) per-step summaries, slot steps % W; NULL unless HIST_WINDOW
} GroupHistory;

void history_init(GroupHistory *h, const AdvConfig *cfg, int n_groups);
void history_free(GroupHistory *h);
// Folds one step's merged per-group batch stats (n_groups) into the history. Every group ages by one step, even one
// with no data this step: staleness comes from the policy changing, which happens per step.
//   CUMULATIVE: total[g] = total[g] ⊕ step[g].
//   EMA:        total[g].n *= decay; total[g].m2 *= decay (mean kept); then total[g] = total[g] ⊕ step[g].
//               Exactly a weighted Welford where a reward seen k steps ago has weight decay^k: mean is the weighted
//               mean, m2 the weighted sum of squared deviations, n the sum of weights (compared to min_count).
//               The sample variance m2/(n-1) uses that effective n; it is unbiased only for unit weights.
//   WINDOW:     ring slot (steps % W) = step; total[g] = ⊕ of the last min(steps, W) slots, oldest first. Exact.
void history_update(GroupHistory *h, const Welford *step_stats /*(n_groups)*/);
// Mean, std (sqrt of the configured variance, eps NOT added) and count n of group g's history.
void history_get(const GroupHistory *h, int g, double *mean, double *std, double *n);
// Checkpoint as a flat double array: [version=1, n_groups, mode, window, steps, total (n_groups*3),
// ring (W*n_groups*3, HIST_WINDOW only)], Welford fields in the order n, mean, m2.
size_t history_state_size(const GroupHistory *h);
void history_pack(const GroupHistory *h, double *out /*(history_state_size)*/);
// 0 on success; -1 (h unchanged) when the buffer's size, version, n_groups, mode or window differ from h's.
int history_unpack(GroupHistory *h, const double *in, size_t n);

// This rank's per-group summaries. group (n) is per reward here; rewards are added in index order.
void adv_batch_stats(const float *R, const int *group, int n, int n_groups, Welford *out /*(n_groups)*/);
// Same, with group (P) per prompt and R (P*G).
void adv_batch_stats_prompts(const float *R, const int *group, int P, int G, int n_groups, Welford *out);
// out[g] = all[0,g] ⊕ all[1,g] ⊕ ... ⊕ all[nranks-1,g], always in rank order 0..nranks-1.
void adv_merge_ranks(const Welford *all /*(nranks,n_groups)*/, int nranks, int n_groups, Welford *out);

// Local statistics of one adv_compute call. The *_sum/count fields reduce across learners with MPI_SUM, a_min and
// a_max with MPI_MIN/MPI_MAX; adv_stats_finish then recomputes the derived fields from them.
typedef struct {
    double a_sum, a_sumsq, n_a;  // over all advantages written
    float a_min, a_max;           // +INFINITY / -INFINITY when no advantages were written (the MIN/MAX identities)
    double n_prompts, n_zero_std; // prompt groups; those whose G rewards all tie exactly
    double n_cold;                // P-GRPO prompts that used the cold-start rule (0 for grpo/drgrpo)
    double a_mean, a_std, frac_zero_std;  // derived: mean, population std of A; n_zero_std / n_prompts
} AdvStats;
void adv_stats_finish(AdvStats *st);

// Advantages for P prompts x G completions.
//   GRPO:   A = (R - mean_prompt) / (std_prompt + eps)
//   DRGRPO: A = R - mean_prompt
//   PGRPO:  A = (R - mu_p) / (sigma_p + eps) from the history of the prompt's group p; when that history has
//           n < min_count the cold rule applies: COLD_GRPO the GRPO advantage, COLD_ZERO 0, COLD_BATCH
//           (R - step mean) / (step std + eps) from this step's merged stats of group p.
// eps = 0: where the std in the denominator is 0 (a tied prompt for GRPO, a group history or step whose rewards all
// tie for P-GRPO) the advantage is 0, not 0/0: no spread means no learning signal, which is what eps > 0 gives a
// tied GRPO prompt too (its R - mean is exactly 0). Tied prompts count in n_zero_std as always.
// Rewards must be finite (the caller checks them, e.g. with finite_check): a NaN reward gives NaN advantages.
// The history is updated with step_stats for every kind (so per-group history metrics always exist): before the
// advantages for UPDATE_BEFORE (the batch normalises against a history that includes itself, so step 1 is well
// defined), after them for UPDATE_AFTER (the batch is judged only against earlier steps; step 1 is all cold).
// step_stats NULL means "this rank's batch is the whole step" (one learner); with several learners pass the merged
// stats, or their histories diverge. st may be NULL.
void adv_compute(const AdvConfig *cfg, GroupHistory *h, const Welford *step_stats /*(n_groups) or NULL*/,
                 const float *R /*(P*G)*/, const int *group /*(P)*/, int P, int G,
                 float *A /*(P*G) out*/, AdvStats *st);

// mask[p] = 1 where prompt p's G rewards all tie exactly (zero std: no GRPO signal), else 0; returns the count.
// Lets the caller drop such groups ("dynamic sampling"); P-GRPO advantages of tied groups are generally nonzero.
int adv_zero_std_mask(const float *R, int P, int G, unsigned char *mask /*(P)*/);

// Deck strings -> enum values; -1 when unknown. Names: the canonical string for an enum value.
int adv_kind_from_str(const char *s);   // "grpo" | "drgrpo" | "pgrpo"
int adv_hist_from_str(const char *s);   // "cumulative" | "ema" | "window"
int adv_order_from_str(const char *s);  // "before" | "after"
int adv_cold_from_str(const char *s);   // "grpo" | "zero" | "batch"
int adv_var_from_str(const char *s);    // "population" | "sample"
const char *adv_kind_name(AdvKind k);
const char *adv_hist_name(HistMode m);
const char *adv_order_name(UpdateOrder o);
const char *adv_cold_name(ColdRule c);
const char *adv_var_name(VarMode v);

#endif
