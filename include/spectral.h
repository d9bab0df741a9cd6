// spectral.h — Ng–Jordan–Weiss spectral embedding of row-distributed points (RBF affinity over users,
// symmetrically normalised, top eigenvectors) for non-convex preference groups. Part of the MPI layer (src/par).
// The caller (pipeline step 2, spectral variant) then runs kmeans_fit_mpi on spectral_normalise_rows' Z with k
// clusters, and may use the eigenvalues for the eigengap criterion (k = the largest gap lambda_k - lambda_{k+1}).
#ifndef PGRPO_SPECTRAL_H
#define PGRPO_SPECTRAL_H
#include <mpi.h>
#include <stddef.h>

// Size limit (why): the n × n affinity is dense and held distributed: the Krylov path keeps this rank's rows of L
// (8 n^2 / P bytes) and, once it switches to shift-invert, the 2-D Cholesky factor (another 8 n^2 / P); the dense
// path ~3 × 8 n^2 / P (L, the eigenvector matrix, pdsyevd's workspace); see spectral_bytes_per_rank. Building L
// costs n^2 (r + exp) over the ranks, the factor n^3 / (3P) flops. At 20000 users: 3.2 GB per rank on 2 ranks
// (16 n^2 / P), ~2.7e12 / P flops for the factor (minutes on 2 cores); beyond it the PCA path is the method.
#define SPECTRAL_MAX_USERS 20000
#define SPECTRAL_NB_DEFAULT 64

// Eigensolvers. KRYLOV (the default, spectral_embed): block Krylov (block Lanczos with full reorthogonalisation,
// SVQB, thick restarts; Rayleigh–Ritz with L itself; converged when every top-m residual |L u - lambda u| <= 1e-11)
// on the row-distributed L, local dgemm products. Plain Krylov on L first (cheap per step, fast when the top
// eigenvalues are apart); when its residuals shrink too slowly to finish before a Cholesky factorisation would
// pay off (eigenvalues crowded near 1, as for rings or moons; predicted from two restarts, at most 60 block
// steps) it switches to the shift-invert operator ((1 + 1e-4) I - L)^{-1} (Cholesky of the 2-D block-cyclic
// matrix on the pr × pc grid, pdpotrf/pdpotrs: n^3 / (3P) flops once, then O(n^2 b / P) a step), and falls back
// to DENSE when n is too small for its basis (n < 12 (m + 8)) or it has not converged after 30 more steps
// (shift-invert does a Rayleigh–Ritz step after every block solve; it typically needs 2 to 6).
// SHIFT_INVERT: the same Krylov with the shift-invert operator from the start.
// DENSE: L as a 2-D block-cyclic matrix on the pr × pc BLACS grid, pdsyevd (all eigenpairs, the top m kept;
// this ScaLAPACK's pdsyevr gave wrong vectors with info = 0 on some grids). O(n^3 / P): the reference.
enum { SPECTRAL_SOLVER_KRYLOV = 0, SPECTRAL_SOLVER_DENSE = 1, SPECTRAL_SOLVER_SHIFT_INVERT = 2 };

// Ng–Jordan–Weiss spectral embedding of the n rows of Y (n × r, row-distributed like pca_top's X: this rank holds
// Y_local, n_local consecutive rows, row-major; any split with the n_local summing to n).
// A_ij = exp(-gamma |y_i - y_j|^2) for i != j, A_ii = 0; L = D^{-1/2} A D^{-1/2} (D = row sums; a row whose sum
// underflows to 0 gets a zero row and column in L).
// Outputs, identical on every rank: eigvals[m] the m largest eigenvalues of L, descending; U_local (n_local × m,
// row-major) the matching eigenvectors' rows for this rank, unit 2-norm columns, sign rule as pca.h's (each
// column's entry of largest |.| over all n rows is positive, the lowest row index on a tie); *gamma_used = gamma,
// or when gamma <= 0 the automatic choice: gamma = 1 / (2 sigma^2), sigma^2 = the median, over up to 512 evenly
// spaced rows (rows floor(t n / s), t < s = min(n, 512)), of each one's squared distance to its 7th nearest
// other row at a nonzero distance among all n (a local scale, so non-convex groups separate; deterministic,
// independent of the grid and split; gamma = 1 when every row is the same point).
// nb, pr: ScaLAPACK block size and grid rows as in pca_top (0 = defaults; used by the dense and shift-invert
// steps).
// Collective; returns 0, or -1 with one line in err (the same on every rank for argument errors: n <= 0, n >
// SPECTRAL_MAX_USERS (names the limit and the key groups.method), r < 1, m outside [1, n], the n_local not
// summing to n, a non-finite Y entry or gamma, bad nb/pr; a ScaLAPACK failure names the routine and its info).
// Deterministic: same ranks/grid/nb => bit-identical outputs.
int spectral_embed(MPI_Comm comm, const double *Y_local, long n_local, long n, int r, double gamma, int m, int nb,
                   int pr, double *eigvals, double *U_local, double *gamma_used, char *err, size_t errlen);

// The same with the eigensolver chosen: solver = SPECTRAL_SOLVER_KRYLOV, _DENSE or _SHIFT_INVERT (anything
// else: the argument error). spectral_embed(...) == spectral_embed_solver(..., SPECTRAL_SOLVER_KRYLOV, ...).
int spectral_embed_solver(MPI_Comm comm, const double *Y_local, long n_local, long n, int r, double gamma, int m,
                          int nb, int pr, int solver, double *eigvals, double *U_local, double *gamma_used,
                          char *err, size_t errlen);

// Peak bytes per rank of spectral_embed_solver for n users over nranks ranks (an estimate to print or check before
// calling): Krylov / shift-invert ~ 16 n^2 / P + 8 (n r + 2 n m) + the basis (32 (n/P) 12 (m + 8)); dense
// ~ 24 n^2 / P + 8 (n r + 2 n m).
double spectral_bytes_per_rank(long n, int nranks, int r, int m, int solver);

// NJW step 4 (pure, local): Z (n_local × k) = the first k columns of U (n_local × m), each row scaled to unit
// length (a zero row stays zero).
void spectral_normalise_rows(const double *U_local, long n_local, int m, int k, double *Z_local);

#endif
