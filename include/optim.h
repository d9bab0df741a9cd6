// optim.h — AdamW with decoupled weight decay, global grad-norm clipping, LR schedules. Plain arrays only.
#ifndef PGRPO_OPTIM_H
#define PGRPO_OPTIM_H
#include <stddef.h>

typedef enum { SCHED_CONSTANT = 0, SCHED_COSINE = 1 } LrSchedule;

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    float grad_clip;      // max global L2 norm; <= 0 disables
    LrSchedule schedule;
    int warmup_steps;     // linear warmup from 0 (both schedules)
    int total_steps;      // cosine decays to min_lr_frac*lr at total_steps
    float min_lr_frac;
} AdamWConfig;

typedef struct {
    AdamWConfig cfg;
    size_t n;
    float *m;   // (n) first moments  } one allocation
    float *v;   // (n) second moments }
    long t;     // number of updates applied (the schedule's step)
    int threads;      // OpenMP threads of adamw_step: run.threads (OpenBLAS's count at adamw_init), or adamw_set_threads
    double *partial;  // (ceil(n / NORM_BLOCK)) the grad norm's per-block sums of squares
} AdamW;

// The grad norm is summed in blocks of this many elements, the blocks' sums then added in order: the same bits
// for any thread count.
#define NORM_BLOCK 65536

void adamw_init(AdamW *o, const AdamWConfig *cfg, size_t n);
void adamw_free(AdamW *o);
void adamw_set_threads(AdamW *o, int threads);      // threads >= 1 (run.threads); bits do not depend on it
float adamw_lr(const AdamWConfig *cfg, long step);  // learning rate at update index `step` (0-based)
double grad_global_norm(const float *g, size_t n);  // accumulated in double, by NORM_BLOCK blocks (see above)
// Clips g in place to cfg.grad_clip (if >0), applies one AdamW step to params, increments t.
// decay_mask (n) may be NULL (decay everything) or 1/0 per element; returns the pre-clip grad norm.
// A non-finite norm skips the update (params, moments and t untouched): the caller sees it in the return.
float adamw_step(AdamW *o, float *params, float *grads, const unsigned char *decay_mask);

#endif
