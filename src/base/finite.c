// finite.c — NaN/inf guards (see finite.h).
#include "finite.h"
#include <math.h>
#include <stdio.h>

int finite_check(const float *x, size_t n, size_t *first_bad) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            if (first_bad) *first_bad = i;
            return -1;
        }
    return 0;
}

int finite_check_f64(const double *x, size_t n, size_t *first_bad) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            if (first_bad) *first_bad = i;
            return -1;
        }
    return 0;
}

const char *finite_fault_text(const FiniteFault *f, char *buf, size_t n) {
    snprintf(buf, n, "%s[%zu] = %g", f->what ? f->what : "value", f->index, f->value);
    return buf;
}
