// discover.h — the preference-group discovery pipeline over the ranks of a communicator (README "Groups").
// Part of the MPI layer (src/par): the stages are the pure modules (feedback.h, kmeans.h, kselect.h) and the
// distributed ones (pca.h, spectral.h, kmeans_mpi.h), with the reductions between them.
//
//   feedback rows -> check (NaN/inf, mask, a hidden row)        feedback_check, errors agreed over the ranks
//                 -> impute + standardise the columns          two-pass statistics summed in rank order
//                 -> reduce to `dims` principal components     pca_top (ScaLAPACK, Gram route)
//                 -> [spectral: NJW embedding of those]        spectral_embed (ScaLAPACK)
//                 -> k-means++ / Lloyd, n_init restarts         kmeans_fit_mpi, for K fixed or every K in [2, k_max]
//                 -> criteria per K (silhouette on a seeded sample, BIC, eigengap) and the chosen K.
// Clustering space: PCA = the `dims` reduced coordinates; spectral = the first K eigenvectors of the normalised
// affinity, rows scaled to unit length (so its dimension is K).
#ifndef PGRPO_DISCOVER_H
#define PGRPO_DISCOVER_H
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"     // DiscoverMethod, KCriterion (groups.method, groups.criterion)
#include "feedback.h"

#define DISCOVER_MAX_K 16

typedef struct {
    DiscoverMethod method;
    int dims;                 // reduced dimensions r (1 <= r <= min(d, n - 1))
    int whiten;               // scale component j by sqrt(n - 1) / sv_j (unit variance, as PCA(whiten=True))
    int k;                    // groups; 0 = choose K in [2, k_max] by `criterion`
    int k_max;                // 2..DISCOVER_MAX_K
    KCriterion criterion;
    int n_init, max_iter;     // k-means restarts, Lloyd iterations per restart
    double tol;               // Lloyd tolerance (scaled by the mean column variance, as scikit-learn)
    int sample;               // rows for the silhouette (a seeded sample; all rows when n <= sample)
    double gamma;             // spectral RBF width (<= 0: automatic, see spectral.h)
    SpectralSolver solver;    // spectral eigensolver (SPECTRAL_SOLVER_* values)
    int block;                // ScaLAPACK block size
    uint64_t seed;            // run.seed: k-means draws and the silhouette sample derive from it
} DiscoverParams;

// Named stage timers (wall seconds, rank 0's clock; each stage ends in a collective, so ranks agree closely).
typedef enum { DT_STATS = 0, DT_PCA, DT_SPECTRAL, DT_KMEANS, DT_CRITERIA, DT_N } DiscoverTimer;
const char *discover_timer_name(DiscoverTimer t);   // "stats", "pca", ...

typedef struct {
    int k;                          // the K used for the labels
    int k_lo, k_hi;                 // the K values clustered (k_lo = k_hi = k when groups.k is fixed)
    // Per K (index K, 0 <= K <= DISCOVER_MAX_K), NaN where not computed:
    double inertia[DISCOVER_MAX_K + 1], silhouette[DISCOVER_MAX_K + 1], bic[DISCOVER_MAX_K + 1];
    double gap[DISCOVER_MAX_K + 1];  // eigengap measure for K (kselect_eigengap's, mapped to K)
    int k_by[3];                     // the K each criterion picks (silhouette, bic, eigengap; 0 when fixed K)
    int d, dims, e;                  // probes, reduced dims, clustering-space dims (dims, or k for spectral)
    double *mean, *std;              // (d) column statistics of the feedback (observed mean; std after imputing)
    double *sv;                      // (dims) singular values of the standardised feedback, descending
    double *components;              // (d, dims) principal directions V, row-major
    double *eig;                     // spectral: (n_eig) largest eigenvalues of D^-1/2 A D^-1/2; else NULL
    int n_eig;
    double gamma;                    // spectral: the RBF width used
    double *centroids;               // (k, e) in the clustering space
    long sizes[DISCOVER_MAX_K];      // rows per group (k entries)
    long n;                          // rows (users)
    double time[DT_N];
} DiscoverResult;

// Runs the pipeline on the n rows spread over comm (this rank: b, whose first row is global row row0 = the sum of
// the lower ranks' rows). labels_local[b->n_local]: out, the group of each local row. res: out (free with
// discover_result_free, also after an error). Collective. Returns 0; -1 on EVERY rank with the same one-line
// message for the data (a NaN/inf or bad mask byte at a global row/column, a hidden row, a constant column, fewer
// than 2 users, a ScaLAPACK failure); -2 the same way for settings that do not fit the data (groups.dims >= users
// or > probes, groups.k > users, no rankable K), so the command layer can prefix the source and pick the exit code. Deterministic: same data, params and rank layout => bit-identical labels.
int discover_run(MPI_Comm comm, const FeedbackBlock *b, long row0, long n, const DiscoverParams *p, int *labels_local,
                 DiscoverResult *res, char *err, size_t errlen);
void discover_result_free(DiscoverResult *r);

#endif
