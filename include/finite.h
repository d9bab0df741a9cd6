// finite.h — NaN/inf guards for the quantities a training step produces (rewards, advantages, log-probs, losses,
// weights). Pure functions on plain arrays: the caller names the quantity and the step in its message, e.g.
//   size_t i; if (finite_check(R, n, &i)) -> "step 12: reward[i] is nan".
#ifndef PGRPO_FINITE_H
#define PGRPO_FINITE_H
#include <stddef.h>

// The first non-finite value found: which quantity (a constant string such as "advantage", "logp"), its flat index
// in that array, and the value itself (NaN or +-inf).
typedef struct {
    const char *what;
    size_t index;
    double value;
} FiniteFault;

// 0 when x[0..n) are all finite; else -1 and *first_bad (when not NULL) = the index of the first NaN/inf.
int finite_check(const float *x, size_t n, size_t *first_bad);
int finite_check_f64(const double *x, size_t n, size_t *first_bad);

// One-line description into buf, e.g. "advantage[17] = nan"; returns buf.
const char *finite_fault_text(const FiniteFault *f, char *buf, size_t n);

#endif
