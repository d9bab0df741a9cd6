// kselect.h — criteria for choosing the number of groups K (pipeline step 4, `groups.k = 0`).
// Pure math: no MPI, no files. The driver fits k-means for k = 2..k_max on the reduced data, then scores each k
// with these criteria (prints all of them) and keeps the k of the documented default criterion.
//
//   eigengap    the spectrum alone (no fit needed): PCA eigenvalues of the standardised data, or the eigenvalues
//               of the normalised affinity on the spectral path. Measure: see kselect_eigengap.
//   silhouette  mean silhouette (scikit-learn's silhouette_score) on a deterministic sample of S rows: O(S^2 d),
//               so the driver gathers a sample (kselect_sample_rows) of the reduced rows and their labels.
//   BIC         X-means BIC from the fit's cluster sizes and inertia (global sums: no extra pass).
// Larger is better for all three; ties go to the smallest k.
// Default (measured by tests/reference/kselect_recovery.py: fraction of fixtures where the criterion gives the true
// K, K = 2..8 with unequal shares, d = 64 and 256, n = 2000, r = 16, k_max = 10, 20 seeds each):
//                                          eigengap(PCA)  silhouette  BIC    eigengap(affinity)*
//   well separated (noise 1), n_init 4        0.91          0.96      0.96         0.99
//   noise 2, n_init 4                         0.66          0.75      0.82         0.77
//   noise 2, n_init 10                        0.66          0.83      0.91         0.77
//   noise 1, observed 0.3, n_init 4           0.64          0.74      0.79         0.69
// BIC is the best or tied everywhere except the easiest regime, costs nothing beyond the fits (global sizes and
// inertia) and needs no sample: it is the recommended default. Silhouette and BIC inherit k-means' local minima
// at large K (more restarts help, row 3). *: normalised RBF affinity over 1000 rows (the spectral path's
// spectrum; gamma = 1 / the 5% quantile of squared distances there).
#ifndef PGRPO_KSELECT_H
#define PGRPO_KSELECT_H
#include <stddef.h>
#include <stdint.h>

#define KSELECT_RNG_STEP 0x6B73656C65637400ULL   // "kselect": the sample's stream (role RNG_GROUPS, rank 0)

// Deterministic sample of s distinct global row indices out of n, written ascending to rows[min(s, n)], from
// (seed) alone: every rank computes the same list (rank-independent), and each keeps the rows it owns.
// s >= n: all rows 0..n-1. s <= 0 or n <= 0: nothing written. Selection sampling (Knuth's Algorithm S): one
// uniform draw per row considered, O(n) time, no allocation; each s-subset is equally likely.
void kselect_sample_rows(uint64_t seed, long n, long s, long *rows);

// Doubles of scratch kselect_silhouette needs for S rows and k labels (the caller allocates once, reuses for
// every k up to the largest): per-row sums of distances to each cluster (S*k) plus the cluster sizes (k).
#define KSELECT_SILHOUETTE_SCRATCH(S, k) ((size_t)(S) * (size_t)(k) + (size_t)(k))

// Mean silhouette coefficient of the S rows X (S × d, row-major) with labels in [0,k): per row (b - a) / max(a, b),
// a = mean Euclidean distance to the other rows of its cluster, b = smallest mean distance to the rows of another
// cluster present in the sample; a row alone in its cluster scores 0, and a = b = 0 scores 0 (scikit-learn 1.2's
// silhouette_score conventions; checked to 1e-12 by tests/reference/test_kselect_sklearn.sh). Distances are
// direct (square root of the summed squared differences), each pair computed once: S(S-1)/2 · d work.
// scratch: KSELECT_SILHOUETTE_SCRATCH(S, k) doubles; no allocation inside. Only clusters with rows in the sample
// count. Returns NaN when fewer than 2 clusters are present in the sample (sklearn raises there), or when S < 2,
// d < 1, k < 1 or a label lies outside [0,k) (a caller bug). Unlike sklearn, S clusters of one row each is not an
// error: every row scores 0, the mean is 0.
double kselect_silhouette(const double *X, const int *labels, long S, int d, int k, double *scratch);

// BIC of a k-means solution under identical spherical Gaussians (Pelleg & Moore 2000, X-means), larger is better:
//   sigma2 = inertia / (d (n - k))            pooled per-coordinate variance, unbiased for the k fitted means
//   loglik = sum_j n_j log(n_j / n) - n d / 2 log(2 pi sigma2) - d (n - k) / 2
//   p      = (k - 1) + k d + 1                mixing weights, centre coordinates, the shared variance
//   BIC    = loglik - p / 2 log n
// (Pelleg & Moore print sigma2 = inertia / (n - k), without the 1/d of the per-coordinate maximum likelihood;
// that form differs from this one by a constant plus (d - 1) k / 2 and picked the same k on every fixture of
// tests/reference/kselect_recovery.py.) sizes[k]: rows per cluster (summed over ranks); an empty cluster adds 0.
// Returns +INFINITY when inertia == 0 and n > k (a perfect fit), NaN for n <= k, d < 1, k < 1, inertia < 0 or
// non-finite, a negative size, or sizes not summing to n.
double kselect_bic(long n, int d, int k, const long *sizes, double inertia);

// Eigengap over values lam[0..m) (descending, >= 0): returns j in [lo, hi] (1-based count of leading values kept)
// maximising the gap measure between lam[j-1] and lam[j] (needs 1 <= lo <= hi < m); gap[j] out for j in [lo, hi]
// (gap may be NULL; gap[0..lo) and gap(hi..m) are not touched, so gap has m doubles). Ties: the smallest j.
// Measure: the ratio lam[j-1] / lam[j] (lam[j] == 0: +inf when lam[j-1] > 0, 1 when both are 0). Why: the ratio
// does not depend on the scale of the values, is the same argmax for singular values and for their squares, and
// finds the signal/noise edge of a PCA spectrum when the leading (between-group) eigenvalues are unequal, where
// the absolute difference picks the largest drop inside the signal block. Measured (fraction of true K recovered
// on well-separated fixtures: noise 1, K = 2..8, d = 64 and 256, 20 seeds each, tests/reference/kselect_recovery.py):
// PCA spectra 0.91 (ratio) vs 0.42 (difference); normalised RBF affinity spectra 0.99 vs 0.96.
// The caller maps j to k (spectral: k = j; PCA on centred data: k = j + 1, since k clusters span k - 1
// directions). Returns -1 for bad arguments (m, lo, hi out of range; a negative, non-finite or increasing value).
int kselect_eigengap(const double *lam, int m, int lo, int hi, double *gap);

#endif
