// feedback.h — step 1 of group discovery: validate a users x probes feedback matrix, impute its holes with the
// column mean and standardise the columns, as stages a distributed caller reduces between. Pure math: no MPI.
//
// Each rank holds a contiguous block of rows (FeedbackBlock: n_local x d, row-major, float or double values, an
// optional mask) whose first row has global index row0. Mask: 1 = observed, 0 = unobserved (its value is then
// ignored, NaN included); NULL = every entry observed; any other mask byte is an error.
//
// Distributed protocol (partials are plain sums: add them element-wise over ranks in a fixed rank order, e.g.
// MPI_Allreduce(MPI_SUM) on a fixed layout, for bit-identical results; a different split or order changes the
// stats only by rounding, ~1e-15 relative):
//   feedback_check(block, row0)                          -> error names the global row / column
//   feedback_col_partials(block, NULL, p)                 ; p_global = sum over ranks      (pass 1)
//   feedback_col_mean(p_global, d, mean)                 -> error names a column with no observed entry
//   feedback_col_partials(block, mean, p)                 ; p_global = sum over ranks      (pass 2, about mean)
//   feedback_col_stats(p_global, d, mean, std)           -> mean refined, std; error names a constant column
//   feedback_standardise(block, mean, std, X)            -> X = (x - mean) / std, holes = 0
//
// Statistics (what scikit-learn's SimpleImputer(strategy="mean") followed by StandardScaler computes):
//   mean_j = the mean of column j's OBSERVED entries;
//   std_j  = the population std (divisor N = global rows, not N - 1) of column j AFTER imputing the holes with
//            mean_j — so the standardised column has mean 0 and population std 1 over all N rows.
//   Variance: the corrected two-pass formula (Chan, Golub & LeVeque 1983). Pass 2 sums, about the pass-1 mean c,
//   S1 = sum(x - c) and S2 = sum((x - c)^2) over the n_obs observed entries; then
//       mean = c + S1 / n_obs,   var = (S2 - S1^2 / n_obs) / N        (imputed entries add 0 to both).
//   The S1 term cancels the rounding error of c, so the relative error of var is O(n eps) in the worst case
//   (typically O(sqrt(n) eps)) whatever |mean| / std is — unlike sum(x^2)/n - mean^2, which loses
//   log10(mean^2/var) digits. The values are summed in double (float input is widened first).
// Constant column: std_j <= FEEDBACK_CONST_RTOL * |mean_j| (std 0 included). 1e-12 sits well above the rounding
// noise a truly constant column leaves in the two-pass std (~1e-16 |mean|) and far below any real spread of
// float data (one float ulp is 6e-8 relative): such a column carries no information and would only amplify
// rounding if divided by its std. A column with a single observed entry is constant after imputation.
#ifndef PGRPO_FEEDBACK_H
#define PGRPO_FEEDBACK_H
#include <stddef.h>
#include <stdint.h>

#define FEEDBACK_CONST_RTOL 1e-12

typedef enum { FEEDBACK_F32 = 0, FEEDBACK_F64 = 1 } FeedbackType;

// One rank's rows. values: n_local * d elements of `type` (const float * or const double *), row-major.
// mask: n_local * d bytes (1 observed, 0 unobserved) or NULL (all observed). n_local >= 0 (0: a rank with no
// rows still takes part in the reductions with zero partials), d >= 1.
typedef struct {
    FeedbackType type;
    const void *values;
    const uint8_t *mask;
    int64_t n_local;
    int d;
} FeedbackBlock;

// Partials layout (doubles, summed over ranks): [0, d) observed counts per column; [d, 2d) sums of (x - c);
// [2d, 3d) sums of (x - c)^2 (c = the centre passed to feedback_col_partials, 0 when NULL); [3d] rows.
#define FEEDBACK_PARTIALS_LEN(d) (3 * (size_t)(d) + 1)

// 0 when the block is valid; else -1 and a one-line message naming the first bad entry (rows ascending, then
// columns) by its GLOBAL row index row0 + i and column: an observed NaN/inf value, a mask byte other than 0/1,
// or a row with no observed entry (the mask hides the whole row). Also rejects n_local < 0, d < 1, NULL values.
int feedback_check(const FeedbackBlock *b, int64_t row0, char *err, size_t errlen);

// This rank's partials (FEEDBACK_PARTIALS_LEN(d) doubles, overwritten) about centre[d] (NULL: about 0).
// Observed entries only; rows in ascending order. Call feedback_check first (non-finite observed values would
// poison the sums).
void feedback_col_partials(const FeedbackBlock *b, const double *centre, double *partials);

// Pass 1: mean[d] = sum / count from the global pass-1 partials (centre NULL). -1 + message naming the first
// column with no observed entry (or saying there are no rows at all).
int feedback_col_mean(const double *partials_global, int d, double *mean, char *err, size_t errlen);

// Pass 2: partials_global were computed about mean[d] (the pass-1 result). mean: in = that centre, out = the
// refined mean; std[d]: the population std after imputation (see above). -1 + message naming the first column
// with no observed entry, a constant column (threshold FEEDBACK_CONST_RTOL) or a non-finite statistic (values
// so large their squares overflow). On error mean/std are unspecified.
int feedback_col_stats(const double *partials_global, int d, double *mean, double *std, char *err, size_t errlen);

// X_out[n_local * d] (row-major double): (x - mean_j) / std_j for observed entries, 0 for unobserved ones (the
// imputed mean standardised). std_j > 0 (feedback_col_stats guarantees it).
void feedback_standardise(const FeedbackBlock *b, const double *mean, const double *std, double *X_out);

#endif
