// pca.h — distributed principal components of a row-distributed matrix on a BLACS grid (ScaLAPACK).
// Part of the MPI layer (src/par): callers pass the communicator the rows are spread over.
#ifndef PGRPO_PCA_H
#define PGRPO_PCA_H
#include <mpi.h>
#include <stddef.h>

#define PCA_NB_DEFAULT 64
// Up to this many columns the Gram matrix is formed locally and summed (8 d^2 bytes replicated per rank: 128 MiB
// at 4096); above it on the grid with pdsyrk.
#define PCA_LOCAL_GRAM_MAX_D 4096

// Top r right singular vectors / singular values of the n × d matrix X (users × probes), whose rows are spread
// over the ranks of comm: this rank holds X_local, n_local consecutive rows, row-major (n_local × d). Any split
// with every n_local >= 0 and the n_local summing to n is accepted (comm_split_range's is the usual one); the
// caller has already imputed and column-standardised X (pca_top does not centre it).
//
// Method (why): the Gram route. C = X^T X (d × d) is formed, then its eigenpairs with ScaLAPACK's pdsyevd on a
// pr × pc BLACS grid (block-cyclic nb × nb descriptors). With d (probes, hundreds) << n (users, up to 10^6) that
// costs n d^2 / P flops plus a d × d eigensolve, where pdgesvd on the tall n × d matrix costs several times more
// flops and O(n d) workspace per rank. Squaring the condition number costs accuracy only on components far below
// the top one (relative error ~ eps·(s1/sk)^2), which is irrelevant for the leading r components kept.
// Forming C: for d <= PCA_LOCAL_GRAM_MAX_D each rank computes X_local^T X_local (BLAS dsyrk) and the d × d sums are
// added along a fixed binomial tree (deterministic), each process then keeping its own blocks of C: the rows never
// move. (Measured, 50k × 256 on 2 ranks: moving them with pdgemr2d to the block-cyclic X^T for pdsyrk took 1-2 s of
// a 2-3 s PCA.) Above that d, where a replicated d × d would be too big, the rows are moved (pdgemr2d) to a 2-D
// block-cyclic d × n X^T (the row-major rows are already X^T column-major: no transposing copy) and C is formed
// there with pdsyrk.
//
// Grid: pr × pc = nranks. pr = 0 picks the most square one: pr = the largest divisor of nranks with
// pr <= sqrt(nranks) (so pr <= pc: 1×1, 1×2, 1×3, 2×2, ...); a positive pr must divide nranks (tests use it to
// force 2×1). nb = block size of the 2-D block-cyclic layout (0 = PCA_NB_DEFAULT).
//
// Outputs, identical on every rank: sv[r] singular values of X, descending; V (d × r, row-major: V[j*r + k] is
// probe j of component k), orthonormal columns. Sign rule: each column of V has its entry of largest |.|
// positive (the lowest index on a tie), so results compare across grids and against LAPACK. Y_local
// (n_local × r, row-major) = X_local V, the reduced coordinates of this rank's rows (may be NULL).
// Deterministic: same ranks, grid and nb => bit-identical outputs.
//
// Collective over comm. Returns 0, or -1 with one line in err (the same on every rank when the cause is the
// arguments: r outside [1, min(n, d)], n <= 0, d <= 0, the n_local not summing to n, a bad pr or nb; a
// ScaLAPACK failure names the routine and its info).
int pca_top(MPI_Comm comm, const double *X_local, long n_local, long n, int d, int r, int nb, int pr,
            double *sv, double *V, double *Y_local, char *err, size_t errlen);

// pca_top with the route forming C chosen (tests compare them): PCA_GRAM_AUTO (what pca_top does), PCA_GRAM_LOCAL,
// PCA_GRAM_GRID. Same outputs to rounding; each route is deterministic.
enum { PCA_GRAM_AUTO = 0, PCA_GRAM_LOCAL = 1, PCA_GRAM_GRID = 2 };
int pca_top_route(MPI_Comm comm, const double *X_local, long n_local, long n, int d, int r, int nb, int pr, int route,
                  double *sv, double *V, double *Y_local, char *err, size_t errlen);

// pca_top_route with the rows produced on demand instead of held: rows(ctx, i0, cnt, out) writes rows
// [i0, i0 + cnt) of this rank's n_local × d matrix into out (cnt × d, row-major; cnt <= PCA_ROW_BLOCK except on the
// grid route, which asks for all rows at once). The local-Gram route and the projection read blocks of
// PCA_ROW_BLOCK rows, so the matrix never exists whole: the caller can standardise rows on the fly. Same bits as
// pca_top_route on the same rows.
#define PCA_ROW_BLOCK 256
typedef void (*PcaRowFn)(void *ctx, long i0, long cnt, double *out);
int pca_top_rows(MPI_Comm comm, PcaRowFn rows, void *ctx, long n_local, long n, int d, int r, int nb, int pr, int route,
                 double *sv, double *V, double *Y_local, char *err, size_t errlen);

// The grid pca_top uses for nranks ranks when pr = 0: *pr × *pc.
void pca_grid_shape(int nranks, int *pr, int *pc);

#endif
