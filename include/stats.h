// stats.h — one training step's numbers: named timers, the learner-local statistics, their reduction over
// learners (named sums and maxima), and the metrics row + log line built from one table of metric names.
// Pure functions (no MPI, no files): the trainer reduces StepSums/StepMax with comm_sum_doubles/comm_max_doubles
// and hands the row to metrics_append.
#ifndef PGRPO_STATS_H
#define PGRPO_STATS_H
#include <stddef.h>
#include "advantage.h"
#include "loss.h"
#include "task.h"

// ---- named timers (the metrics' time/<name> series, in this order) ----
typedef enum {
    TIMER_ROLLOUT, TIMER_REWARD, TIMER_TRANSFER, TIMER_FWD_BWD, TIMER_ALLREDUCE, TIMER_BROADCAST, TIMER_IO,
    TIMER_STEP, TIMER_REFERENCE, TIMER_CHECKPOINT, TIMER_N
} TimerId;
typedef struct { double started[TIMER_N], sec[TIMER_N]; } Timers;
const char *timer_name(TimerId id);            // "rollout", ..., the series is "time/<name>"
void timers_reset(Timers *t);                 // every timer to 0 s
void timer_start(Timers *t, TimerId id);
void timer_stop(Timers *t, TimerId id);       // adds the seconds since timer_start(id)
void timer_set(Timers *t, TimerId id, double sec);

// ---- one learner's statistics of a step ----
typedef struct {
    double ent_sum, ent_n;                 // entropy over completion tokens (first epoch)
    double len_sum, len_n, len_min, len_max, n_trunc, n_dropped;
    float gnorm, lr;
    LossStats ls;                          // first epoch, all minibatches
    AdvStats as;
    Welford grp[TASK_MAX_GROUPS];          // this step's rewards per group, already merged over learners
} StepStats;
void step_stats_init(StepStats *st);

// What learners sum over the step (every field a double: reduced as an array of STEP_SUMS_N).
typedef struct {
    double ent, ent_n, len, len_n, trunc, dropped;
    double loss, pg_loss, kl, ratio, clip_low, clip_high, clip_region, tokens;
    double adv_sum, adv_sumsq, adv_n, prompts, zero_std, cold;
    double free_mib;   // rank 0's free disk space (the others add 0), for the check before the step's writes
} StepSums;
// What learners take the maximum of (minima as negated maxima).
typedef struct { double neg_adv_min, adv_max, neg_len_min, len_max; } StepMax;
#define STEP_SUMS_N ((int)(sizeof(StepSums) / sizeof(double)))
#define STEP_MAX_N ((int)(sizeof(StepMax) / sizeof(double)))
// This learner's contributions (free_mib: its free-space reading, 0 on all ranks but one).
void step_stats_local(const StepStats *st, double free_mib, StepSums *sums, StepMax *mx);

// ---- the metrics row ----
// Names are owned by the row (per-group names formatted once at creation: no allocation per step).
typedef struct {
    int n, cap, n_groups;
    const char **name;   // (cap)
    double *v;           // (cap)
    char **group_name;   // (n_groups * 5): reward/group/g/{mean,std}, history/group/g/{mean,std,count}
    double reward_mean, worst_mean, kl, loss, clip, len_mean, tokens_per_s;   // the log line's columns
    int worst, has_tokens;
} MetricRow;
MetricRow *metric_row_create(int n_groups);
void metric_row_free(MetricRow *m);
// The name of group g's reward mean series (its description is the group's name).
const char *metric_row_group_mean_name(const MetricRow *m, int g);

// Fills the row from the reduced step: per-group rewards and history, then the table of scalar metrics, then the
// timers and tokens_per_s. n_minibatches: loss/total and loss/policy are the mean over minibatches. Series with no
// data this step (e.g. kl, entropy, ratio and clip when drop_tied left no tokens) are left out of the row.
void metric_row_fill(MetricRow *m, const StepStats *st, const StepSums *sums, const StepMax *mx,
                     const GroupHistory *hist, const Timers *tm, int n_minibatches);
// The fixed-column log line (no newline) and its header.
void metric_row_log_line(const MetricRow *m, long step, float gnorm, const Timers *tm, double eta_s, char *buf, size_t n);
void metric_log_header(char *buf, size_t n);

#endif
