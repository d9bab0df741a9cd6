// spectral.c — Ng–Jordan–Weiss spectral embedding over MPI (see include/spectral.h for the contract).
// Flow: validate (agreed over comm) -> allgather Y (n × r is small) -> gamma (given, or the local-scale median)
// -> degrees: each rank sums the affinities of its own rows (a fixed order, so the degrees do not depend on the
// grid) and the degrees are allgathered -> L, then one of two eigensolvers:
//   Krylov (default): L held as this rank's rows (n_local × n, the rows of Y it owns); block Lanczos with full
//     reorthogonalisation (two projections + SVQB) and thick restarts, the products L X as one local dgemm on the
//     allgathered block, every inner product summed in rank order (comm_sum_doubles_ordered): bit-identical on
//     the same ranks and split. It touches L once per block step: O(n^2 b / P) flops a step. When the top
//     eigenvalues crowd near 1 (manifold-like groups) plain Krylov needs hundreds of steps, so it switches
//     (kr_switch) to Krylov on ((1 + SP_SHIFT) I - L)^{-1}: L also as a 2-D block-cyclic matrix on the pr × pc
//     grid, Cholesky-factored once (pdpotrf), each block solved with pdpotrs; Rayleigh–Ritz still uses L itself.
//   Dense: L as a 2-D block-cyclic matrix on the pr × pc grid, each process computing its own entries, then
//     pdsyevd (O(n^3 / P)): the reference, and the fallback when Krylov cannot finish.
// Then the sign rule on the full n × m vectors (small), and each rank keeps its rows.
// L_ij = a_ij * (s_i * s_j), s = D^{-1/2}: one expression in every path (sp_affinity, then that product), so they
// hold the same bits
// and L is exactly symmetric (|y_i - y_j|^2 and s_i * s_j are symmetric in i, j bit for bit).
#include "spectral.h"
#include "comm.h"
#include "pca.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"      // malloc_big

#include "scalapack.h"   // the BLACS / ScaLAPACK entry points shared with pca.c

// spectral.c's own ScaLAPACK / BLAS / LAPACK routines (same conventions as scalapack.h).
// Cholesky factor of the symmetric positive definite A (uplo triangle) and solves with it (B overwritten).
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, int *info);
void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia, const int *ja,
              const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info);
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha,
            const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c,
            const int *ldc);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info);

#define SP_KNN 7             // the local scale: distance to the 7th nearest distinct row (Zelnik-Manor & Perona)
#define SP_SAMPLE 512        // rows whose local scale is measured
#define SP_OVERSAMPLE 8      // Krylov block = m + this: convergence rate set by lambda_{m+9}, not lambda_{m+1}
#define SP_BLOCKS 6          // Krylov basis = SP_BLOCKS blocks between restarts
#define SP_PLAIN_CYCLES 12   // restarts of plain Krylov at most before shift-invert (see kr_switch)
#define SP_MAX_CYCLES 30     // shift-invert steps (each with its Rayleigh–Ritz) before the dense fallback
#define SP_SI_CYCLE_N 1500.0 // n at which the Cholesky costs one plain cycle (see kr_switch)
#define SP_SHIFT 1e-4        // shift-invert operator ((1 + SP_SHIFT) I - L)^{-1}: positive definite (L <= 1)
#define SP_TOL 1e-11         // residual |L u - theta u| (|L| <= 1) for each of the top m Ritz pairs
#define SP_DROP 1e-10        // a new direction shorter than this after projection is already in the basis

// The one expression for an affinity a_ij = exp(-gamma |y_i - y_j|^2) (every path uses it: same bits); 0 where it
// would be below DBL_MIN (gamma |y_i - y_j|^2 > 708): measured 4x faster to build L at n = 5000 with a local gamma.
static double sp_affinity(const double *yi, const double *yj, int r, double gamma)
{
    double s = 0.0;
    for (int k = 0; k < r; k++) {
        double t = yi[k] - yj[k];
        s += t * t;
    }
    double x = gamma * s;
    return x > 708.0 ? 0.0 : exp(-x);   // below DBL_MIN: 0, not a subnormal (glibc's exp and the sums crawl there)
}

// The big n^2 / P arrays (L's rows, the 2-D matrices): on huge pages (malloc_big). Why: first touching fresh 4 kB
// pages dominated building L here (100 MB of L's rows at n = 5000 on 2 ranks: 0.65 s with 4 kB pages, 0.28 s with
// huge pages, of which the affinities are 0.18 s). Freed with free(). NULL when out of memory.
static double *sp_alloc_big(size_t count) { return malloc_big((count ? count : 1) * sizeof(double)); }

// Shared state of one call: sizes, the split, the gathered points and the degrees' inverse square roots.
typedef struct {
    MPI_Comm comm;
    int rank, size, r, m;
    long n, n_local, row0;
    int *counts, *displs;     // rows per rank and their first global row (ints: n <= SPECTRAL_MAX_USERS)
    double *Y;                // n × r, every rank
    double *s;                // n: D^{-1/2} (0 where the degree is 0)
    double gamma;
    double *scratch;          // size × scratch_len: comm_sum_doubles_ordered's buffer at rank 0
    int scratch_len;
} Sp;

static void sp_sum(Sp *c, double *v, int len) { comm_sum_doubles_ordered(v, len, c->scratch, c->comm); }

// The agreed worst info over comm (a negative info wins), as in pca.c.
static int sp_agree(int info, MPI_Comm comm)
{
    int lo = info, hi = info;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, comm);
    return lo < 0 ? lo : hi;
}

// Symmetric eigenproblem of the small k × k column-major A on rank 0 (threaded LAPACK need not give the same bits
// on every rank), broadcast: A = the eigenvectors, w = the eigenvalues ascending. Returns dsyev's info (agreed).
static int sp_syev_bcast(Sp *c, int k, double *A, double *w)
{
    int info = 0;
    if (c->rank == 0) {
        int lwork = -1;
        double wq = 0;
        dsyev_("V", "L", &k, A, &k, w, &wq, &lwork, &info);
        lwork = (int)wq + 1;
        double *work = malloc((size_t)lwork * sizeof *work);
        if (!work) info = -9999;
        else dsyev_("V", "L", &k, A, &k, w, work, &lwork, &info);
        free(work);
    }
    MPI_Bcast(&info, 1, MPI_INT, 0, c->comm);
    if (info) return info;
    MPI_Bcast(A, k * k, MPI_DOUBLE, 0, c->comm);
    MPI_Bcast(w, k, MPI_DOUBLE, 0, c->comm);
    return 0;
}

// ---------------------------------------------------------------- validation, gamma, degrees

static int sp_validate(MPI_Comm comm, const double *Y_local, long n_local, long n, int r, double gamma, int m,
                       int nb, int pr, int solver, int size, char *err, size_t errlen)
{
    int bad = n_local < 0 || (n_local > 0 && !Y_local), nonfinite = 0;
    if (!bad && r >= 1)
        for (long i = 0; i < n_local * r && !nonfinite; i++) nonfinite = !isfinite(Y_local[i]);
    long sum = n_local < 0 ? 0 : n_local;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, &nonfinite, 1, MPI_INT, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_LONG, MPI_SUM, comm);
    if (bad)
        snprintf(err, errlen, "spectral: a rank passed a negative n_local or no rows with n_local > 0; HINT: pass each rank's row block");
    else if (n <= 0 || r < 1)
        snprintf(err, errlen, "spectral: empty input (n = %ld users, r = %d dimensions); HINT: need at least one user and one dimension", n, r);
    else if (n > SPECTRAL_MAX_USERS)
        snprintf(err, errlen, "spectral: n = %ld users is above SPECTRAL_MAX_USERS = %d (the dense n x n affinity: 8 n^2 / ranks bytes per rank); HINT: set groups.method = pca for this many users", n, SPECTRAL_MAX_USERS);
    else if (sum != n)
        snprintf(err, errlen, "spectral: the ranks' n_local sum to %ld, not n = %ld; HINT: split the n rows over the ranks (comm_split_range)", sum, n);
    else if (m < 1 || m > n)
        snprintf(err, errlen, "spectral: m = %d eigenvectors, need 1 <= m <= n = %ld; HINT: lower the number of clusters (groups.k / groups.k_max)", m, n);
    else if (nonfinite)
        snprintf(err, errlen, "spectral: a non-finite (NaN or inf) coordinate in the reduced data; HINT: check the feedback values");
    else if (!isfinite(gamma))
        snprintf(err, errlen, "spectral: gamma = %g is not finite; HINT: use gamma > 0, or <= 0 for the automatic choice", gamma);
    else if (nb < 0)
        snprintf(err, errlen, "spectral: block size nb = %d; HINT: use nb >= 1 (0 = %d)", nb, SPECTRAL_NB_DEFAULT);
    else if (pr < 0 || (pr > 0 && size % pr != 0))
        snprintf(err, errlen, "spectral: grid rows pr = %d do not divide %d ranks; HINT: use a divisor, or 0 for the most square grid", pr, size);
    else if (solver != SPECTRAL_SOLVER_KRYLOV && solver != SPECTRAL_SOLVER_DENSE && solver != SPECTRAL_SOLVER_SHIFT_INVERT)
        snprintf(err, errlen, "spectral: solver = %d; HINT: use SPECTRAL_SOLVER_KRYLOV (%d), SPECTRAL_SOLVER_DENSE (%d) or SPECTRAL_SOLVER_SHIFT_INVERT (%d)", solver, SPECTRAL_SOLVER_KRYLOV, SPECTRAL_SOLVER_DENSE, SPECTRAL_SOLVER_SHIFT_INVERT);
    else
        return 0;
    return -1;
}

static int sp_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Squared distance from row i to its SP_KNN-th nearest row at a nonzero distance (0 if it has none).
static double sp_knn_d2(const Sp *c, long i)
{
    double best[SP_KNN];
    int nb = 0;
    for (long j = 0; j < c->n; j++) {
        double s = 0.0;
        for (int k = 0; k < c->r; k++) {
            double t = c->Y[i * c->r + k] - c->Y[j * c->r + k];
            s += t * t;
        }
        if (s <= 0.0 || (nb == SP_KNN && s >= best[SP_KNN - 1])) continue;
        int p = nb < SP_KNN ? nb++ : SP_KNN - 1;     // insertion into the sorted list of the smallest
        while (p > 0 && best[p - 1] > s) { best[p] = best[p - 1]; p--; }
        best[p] = s;
    }
    return nb ? best[nb - 1] : 0.0;
}

// gamma = 1 / (2 sigma^2), sigma^2 = the median of sp_knn_d2 over the sampled rows (rows floor(t n / s)); the
// sample is split over the ranks and allgathered (each value computed by one rank: no sums, no order effects).
static double sp_gamma_auto(Sp *c)
{
    int s = c->n < SP_SAMPLE ? (int)c->n : SP_SAMPLE;
    long first, cnt;
    comm_split_range(s, c->size, c->rank, &first, &cnt);
    double *v = calloc((size_t)s, sizeof *v);
    int *cn = malloc(c->size * sizeof *cn), *ds = malloc(c->size * sizeof *ds);
    for (int q = 0; q < c->size; q++) {
        long f, k;
        comm_split_range(s, c->size, q, &f, &k);
        cn[q] = (int)k;
        ds[q] = (int)f;
    }
    for (long t = first; t < first + cnt; t++) v[t] = sp_knn_d2(c, t * c->n / s);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, v, cn, ds, MPI_DOUBLE, c->comm);
    int nz = 0;                       // only the positive values (rows with no distinct neighbour give 0)
    for (int t = 0; t < s; t++)
        if (v[t] > 0) v[nz++] = v[t];
    qsort(v, nz, sizeof *v, sp_cmp_double);
    double med = nz == 0 ? 0.0 : nz % 2 ? v[nz / 2] : 0.5 * (v[nz / 2 - 1] + v[nz / 2]);
    free(v); free(cn); free(ds);
    return med > 0 ? 1.0 / (2.0 * med) : 1.0;     // all rows identical: any gamma gives the same L
}

// Degrees of this rank's rows (j ascending: independent of the grid), allgathered into c->s as D^{-1/2}. When
// Lrows is given, this rank's rows of L (n_local × n, row-major) are written there too.
static void sp_degrees(Sp *c, double *Lrows)
{
    double *dl = c->s + c->row0;
    for (long li = 0; li < c->n_local; li++) {
        long i = c->row0 + li;
        double d = 0.0;
        for (long j = 0; j < c->n; j++) {
            double a = j == i ? 0.0 : sp_affinity(c->Y + i * c->r, c->Y + j * c->r, c->r, c->gamma);
            d += a;
            if (Lrows) Lrows[li * c->n + j] = a;
        }
        dl[li] = d > 0 ? 1.0 / sqrt(d) : 0.0;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, c->s, c->counts, c->displs, MPI_DOUBLE, c->comm);
    if (Lrows)
        for (long li = 0; li < c->n_local; li++)
            for (long j = 0; j < c->n; j++) Lrows[li * c->n + j] *= c->s[c->row0 + li] * c->s[j];
}

// A pr × pc BLACS grid with repeatable, coherent combines, and this process's share of an n × n matrix in nb × nb
// blocks (lr × lc, column-major, leading dimension lld).
typedef struct { int h, ctx, pr, pc, myrow, mycol, nb, lr, lc, lld; } Grid;

static void sp_grid_open(const Sp *c, int nb, int pr, Grid *g)
{
    int zero = 0, yes = 1, n = (int)c->n, gr, gc;
    g->nb = nb;
    if (pr == 0) pca_grid_shape(c->size, &g->pr, &g->pc);     // the same grid rule as pca_top
    else { g->pr = pr; g->pc = c->size / pr; }
    g->h = Csys2blacs_handle(c->comm);
    g->ctx = g->h;
    Cblacs_gridinit(&g->ctx, "R", g->pr, g->pc);
    Cblacs_set(g->ctx, 15, &yes);   // repeatable combines: bit-identical results for the same grid (pca.c)
    Cblacs_set(g->ctx, 16, &yes);   // coherent: every process of a scope gets the same bits
    Cblacs_gridinfo(g->ctx, &gr, &gc, &g->myrow, &g->mycol);
    g->lr = numroc_(&n, &nb, &g->myrow, &zero, &g->pr);
    g->lc = numroc_(&n, &nb, &g->mycol, &zero, &g->pc);
    g->lld = g->lr > 1 ? g->lr : 1;
}

static void sp_grid_close(Grid *g)
{
    Cblacs_gridexit(g->ctx);
    Cfree_blacs_system_handle(g->h);
}

// Global index of local row/column l of a block-cyclic dimension (nb blocks over np processes, this one p).
static long sp_global(int l, int nb, int p, int np) { return ((long)(l / nb) * np + p) * nb + l % nb; }

// This process's entries of L on the pr × pc grid (nb × nb blocks, column-major local array, lld rows).
static void sp_fill_2d(const Sp *c, double *A, int lld, int lr, int lc, int nb, int pr, int pc, int myrow,
                       int mycol)
{
    for (int lj = 0; lj < lc; lj++) {
        long gj = ((long)(lj / nb) * pc + mycol) * nb + lj % nb;
        for (int li = 0; li < lr; li++) {
            long gi = ((long)(li / nb) * pr + myrow) * nb + li % nb;
            double a = gi == gj ? 0.0 : sp_affinity(c->Y + gi * c->r, c->Y + gj * c->r, c->r, c->gamma);
            A[li + (size_t)lj * lld] = a * (c->s[gi] * c->s[gj]);
        }
    }
}

// ---------------------------------------------------------------- Krylov path
// Row-major local blocks: Q and W are n_local × ld (ld = the basis width), i.e. column-major ld × n_local, so a
// set of basis vectors is a row range of that column-major matrix and every product is one dgemm.
typedef struct {
    Sp *c;
    const double *L;          // n_local × n rows of L (row-major)
    int b, ld, dim;           // block width, basis capacity, basis vectors held
    double *Q, *W;            // n_local × ld: orthonormal basis, W = L Q
    double *X;                // n × b: an allgathered block (row-major)
    double *T, *M;            // ld × ld small work (Gram, projections, Rayleigh quotient; a transform)
    double *Tw, *dsc;         // ld: eigenvalues; scale factors
    int *cn, *ds;             // size: element counts and offsets of an allgathered block
    double *tmp, *tmpW;       // n_local × ld work
    int nb, pr;               // the grid shift-invert uses (pca_top's rule)
    int si;                   // 1: shift-invert mode (the grid and factor below are set up)
    Grid g;
    double *F, *B, *full;     // the Cholesky factor of (1 + SP_SHIFT) I - L (2-D), a right-hand side (2-D), n × b
    int descF[9];
    double res;               // the largest top-m residual at the last Rayleigh–Ritz step
} Kry;

// C (wa × wb, column-major) = Q[:, ca:ca+wa]^T Q[:, cb:cb+wb], summed over the ranks in rank order.
static void kr_gram(Kry *k, int ca, int wa, int cb, int wb, double *C)
{
    int nl = (int)k->c->n_local;
    double one = 1.0, zero = 0.0;
    if (nl > 0) dgemm_("N", "T", &wa, &wb, &nl, &one, k->Q + ca, &k->ld, k->Q + cb, &k->ld, &zero, C, &wa);
    else memset(C, 0, (size_t)wa * wb * sizeof *C);
    sp_sum(k->c, C, wa * wb);
}

// Q[:, col:col+w] -= Q[:, 0:dim] (Q[:, 0:dim]^T Q[:, col:col+w]): one projection against the basis.
static void kr_project(Kry *k, int col, int w)
{
    if (k->dim == 0 || w == 0) return;
    int nl = (int)k->c->n_local;
    double one = 1.0, mone = -1.0;
    kr_gram(k, 0, k->dim, col, w, k->T);
    if (nl > 0) dgemm_("T", "N", &w, &nl, &k->dim, &mone, k->T, &k->dim, k->Q, &k->ld, &one, k->Q + col, &k->ld);
}

// Q[:, col:col+w2] <- Q[:, col:col+w] M (M: w × w2, column-major), through tmp.
static void kr_transform(Kry *k, int col, int w, const double *M, int w2)
{
    int nl = (int)k->c->n_local;
    double one = 1.0, zero = 0.0;
    if (nl == 0 || w2 == 0) return;
    dgemm_("T", "N", &w2, &nl, &w, &one, M, &w, k->Q + col, &k->ld, &zero, k->tmp, &w2);
    for (int i = 0; i < nl; i++)
        memcpy(k->Q + (size_t)i * k->ld + col, k->tmp + (size_t)i * w2, (size_t)w2 * sizeof *k->tmp);
}

// SVQB (Stathopoulos & Wu): the w columns at col made orthonormal among themselves; columns shorter than SP_DROP
// and directions of the scaled Gram matrix below drop × its largest eigenvalue are removed. Returns the new
// width (-1: the small eigensolver failed).
static int kr_svqb(Kry *k, int col, int w, double drop)
{
    if (w == 0) return 0;
    double *G = k->T, *dsc = k->dsc, *M = k->M;
    kr_gram(k, col, w, col, w, G);
    for (int j = 0; j < w; j++) dsc[j] = G[j + j * w] > SP_DROP * SP_DROP ? 1.0 / sqrt(G[j + j * w]) : 0.0;
    for (int j = 0; j < w; j++)
        for (int i = 0; i < w; i++) G[i + j * w] *= dsc[i] * dsc[j];
    if (sp_syev_bcast(k->c, w, G, k->Tw)) return -1;
    double top = k->Tw[w - 1];
    int w2 = 0;                              // kept eigen-directions, largest first: M = D U Lambda^{-1/2}
    for (int e = w - 1; e >= 0 && top > 0; e--) {
        if (!(k->Tw[e] > drop * top) || k->Tw[e] <= 0) break;
        double f = 1.0 / sqrt(k->Tw[e]);
        for (int i = 0; i < w; i++) M[i + (size_t)w2 * w] = dsc[i] * G[i + (size_t)e * w] * f;
        w2++;
    }
    kr_transform(k, col, w, M, w2);
    return w2;
}

// The w candidate columns at Q[:, dim:] made orthonormal to the basis and among themselves (two rounds of
// projection + SVQB: the second restores orthogonality to rounding). Returns the width kept (0: nothing new).
static int kr_orth(Kry *k, int w)
{
    for (int round = 0; round < 2 && w > 0; round++) {
        kr_project(k, k->dim, w);
        kr_project(k, k->dim, w);
        w = kr_svqb(k, k->dim, w, round == 0 ? 1e-14 : 0.0);
        if (w < 0) return -1;
    }
    return w;
}

// The block Q[:, col:col+w] of every rank into k->X (n × w, row-major), the same bits on every rank.
static void kr_gather(Kry *k, int col, int w)
{
    Sp *c = k->c;
    for (int q = 0; q < c->size; q++) { k->cn[q] = c->counts[q] * w; k->ds[q] = c->displs[q] * w; }
    for (long i = 0; i < c->n_local; i++)
        memcpy(k->X + ((size_t)c->row0 + i) * w, k->Q + (size_t)i * k->ld + col, (size_t)w * sizeof *k->X);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, k->X, k->cn, k->ds, MPI_DOUBLE, c->comm);
}

// W[:, col:col+w] = L Q[:, col:col+w]: the block allgathered, then one local dgemm with this rank's rows of L
// (column-major they are L(:, rows): L is symmetric).
static void kr_matvec(Kry *k, int col, int w)
{
    int nl = (int)k->c->n_local, n = (int)k->c->n;
    double one = 1.0, zero = 0.0;
    kr_gather(k, col, w);
    if (nl > 0) dgemm_("N", "N", &w, &nl, &n, &one, k->X, &w, k->L, &n, &zero, k->W + col, &k->ld);
}

// Shift-invert set-up: F = (1 + SP_SHIFT) I - L on the grid (sp_fill_2d's entries: the same bits as L's rows;
// computing them again costs less than moving L's rows there with pdgemr2d, measured 0.8 s against 2.4 s at
// n = 5000 on 2 ranks), Cholesky-factored. Returns 0,
// or 1 (out of memory or not positive definite: the caller goes to the dense path), agreed.
static int kr_si_setup(Kry *k)
{
    Sp *c = k->c;
    Grid *g = &k->g;
    int n = (int)c->n, zero = 0, one = 1, info = 0;
    sp_grid_open(c, k->nb, k->pr, g);
    int lcb = numroc_(&k->b, &g->nb, &g->mycol, &zero, &g->pc);
    k->F = sp_alloc_big((size_t)g->lld * g->lc + 1);
    k->B = malloc(((size_t)g->lld * lcb + 1) * sizeof *k->B);
    k->full = malloc((size_t)n * k->b * sizeof *k->full);
    k->si = 1;                                   // the grid is open: kr_free closes it
    if (sp_agree(!k->F || !k->B || !k->full, c->comm)) return 1;
    descinit_(k->descF, &n, &n, &g->nb, &g->nb, &zero, &zero, &g->ctx, &g->lld, &info);
    if (sp_agree(info, c->comm)) return 1;
    sp_fill_2d(c, k->F, g->lld, g->lr, g->lc, g->nb, g->pr, g->pc, g->myrow, g->mycol);
    for (int lj = 0; lj < g->lc; lj++) {
        long gj = sp_global(lj, g->nb, g->mycol, g->pc);
        for (int li = 0; li < g->lr; li++) {
            double *f = k->F + li + (size_t)lj * g->lld;
            *f = (sp_global(li, g->nb, g->myrow, g->pr) == gj ? 1.0 + SP_SHIFT : 0.0) - *f;
        }
    }
    pdpotrf_("L", &n, k->F, &one, &one, k->descF, &info);
    return sp_agree(info, c->comm) != 0;
}

// Q[:, dst:dst+w] = ((1 + SP_SHIFT) I - L)^{-1} Q[:, src:src+w]: the block allgathered, this process's 2-D pieces
// solved with pdpotrs, the solution summed back (one owner per entry: exact) and each rank keeping its rows.
static int kr_solve(Kry *k, int src, int w, int dst)
{
    Sp *c = k->c;
    Grid *g = &k->g;
    int n = (int)c->n, zero = 0, one = 1, info = 0, descB[9];
    int lcb = numroc_(&w, &g->nb, &g->mycol, &zero, &g->pc);
    kr_gather(k, src, w);
    for (int lj = 0; lj < lcb; lj++) {
        long gj = sp_global(lj, g->nb, g->mycol, g->pc);
        for (int li = 0; li < g->lr; li++) k->B[li + (size_t)lj * g->lld] = k->X[sp_global(li, g->nb, g->myrow, g->pr) * w + gj];
    }
    descinit_(descB, &n, &w, &g->nb, &g->nb, &zero, &zero, &g->ctx, &g->lld, &info);
    if (info == 0) pdpotrs_("L", &n, &w, k->F, &one, &one, k->descF, k->B, &one, &one, descB, &info);
    if (sp_agree(info, c->comm)) return -1;
    memset(k->full, 0, (size_t)n * w * sizeof *k->full);
    for (int lj = 0; lj < lcb; lj++) {
        long gj = sp_global(lj, g->nb, g->mycol, g->pc);
        for (int li = 0; li < g->lr; li++) k->full[sp_global(li, g->nb, g->myrow, g->pr) * w + gj] = k->B[li + (size_t)lj * g->lld];
    }
    MPI_Allreduce(MPI_IN_PLACE, k->full, n * w, MPI_DOUBLE, MPI_SUM, c->comm);
    for (long i = 0; i < c->n_local; i++)
        memcpy(k->Q + (size_t)i * k->ld + dst, k->full + ((size_t)c->row0 + i) * w, (size_t)w * sizeof *k->Q);
    return 0;
}

// Rayleigh–Ritz on the basis: theta (nt = min(b, dim), descending) and the Ritz vectors / their images moved
// to Q[:, 0:nt] / W[:, 0:nt] (dim = nt: the thick restart); the residuals R = L x - theta x become the candidate
// block Q[:, nt:2 nt]. Returns 1 when the top m residuals are all <= SP_TOL, 0 when not, -1 on a failure.
static int kr_rayleigh_ritz(Kry *k, double *theta)
{
    Sp *c = k->c;
    int nl = (int)c->n_local, dim = k->dim, nt = dim < k->b ? dim : k->b;
    double one = 1.0, zero = 0.0, *T = k->T, *M = k->M;
    if (nl > 0) dgemm_("N", "T", &dim, &dim, &nl, &one, k->Q, &k->ld, k->W, &k->ld, &zero, T, &dim);
    else memset(T, 0, (size_t)dim * dim * sizeof *T);
    sp_sum(c, T, dim * dim);
    for (int j = 0; j < dim; j++)             // the exact symmetric part (both triangles the same bits)
        for (int i = j + 1; i < dim; i++) T[i + j * dim] = T[j + i * dim] = 0.5 * (T[i + j * dim] + T[j + i * dim]);
    if (sp_syev_bcast(c, dim, T, k->Tw)) return -1;
    for (int t = 0; t < nt; t++) {
        theta[t] = k->Tw[dim - 1 - t];
        memcpy(M + (size_t)t * dim, T + (size_t)(dim - 1 - t) * dim, (size_t)dim * sizeof *M);
    }
    if (nl > 0) {
        dgemm_("T", "N", &nt, &nl, &dim, &one, M, &dim, k->Q, &k->ld, &zero, k->tmp, &nt);
        dgemm_("T", "N", &nt, &nl, &dim, &one, M, &dim, k->W, &k->ld, &zero, k->tmpW, &nt);
    }
    double *res = k->dsc;
    memset(res, 0, (size_t)nt * sizeof *res);
    for (int i = 0; i < nl; i++) {
        double *q = k->Q + (size_t)i * k->ld, *w = k->W + (size_t)i * k->ld;
        for (int t = 0; t < nt; t++) {
            double x = k->tmp[(size_t)i * nt + t], y = k->tmpW[(size_t)i * nt + t], rr = y - theta[t] * x;
            q[t] = x;
            w[t] = y;
            q[nt + t] = rr;
            res[t] += rr * rr;
        }
    }
    sp_sum(c, res, nt);
    k->dim = nt;
    k->res = 0.0;
    for (int t = 0; t < c->m && t < nt; t++) k->res = fmax(k->res, sqrt(res[t]));
    return nt >= c->m && k->res <= SP_TOL;
}

// The first block: column 0 = D^{1/2} 1 (L's eigenvector for 1 on a connected graph), the rest seeded
// uniform(-1/2, 1/2) by global row, so the start does not depend on the split.
static void kr_start(Kry *k)
{
    Sp *c = k->c;
    for (long i = 0; i < c->n_local; i++) {
        long gi = c->row0 + i;
        Rng g;
        rng_seed(&g, 0x5350454354ULL, RNG_GROUPS, 0, (uint64_t)gi);
        double *q = k->Q + (size_t)i * k->ld;
        q[0] = c->s[gi] > 0 ? 1.0 / c->s[gi] : 0.0;
        for (int t = 1; t < k->b; t++) q[t] = rng_uniform(&g) - 0.5;
    }
}

// Plain Krylov -> shift-invert when plain is predicted to cost more than the factorisation: from the last two
// restarts' residuals (rate = res / prev per cycle) the cycles still needed, against the Cholesky's cost counted
// in plain cycles. Measured (AMD EPYC, 2 ranks, n = 5000, m = 2..3): a plain cycle (SP_BLOCKS products with the
// 100 MB of L per rank, memory-bound) ~0.5 s, pdpotrf ~1.5 s: the factorisation ~ n / SP_SI_CYCLE_N plain cycles
// (it grows as n^3 against n^2). Every rank decides the same (the residuals are the same bits). At most
// SP_PLAIN_CYCLES plain cycles.
static int kr_switch(const Kry *k, int cycles, double prev)
{
    if (cycles >= SP_PLAIN_CYCLES) return 1;
    if (cycles < 2 || !(prev > 0) || !(k->res > 0)) return 0;
    double rate = k->res / prev, factor = 1.0 + (double)k->c->n / SP_SI_CYCLE_N;
    double need = rate >= 1.0 ? 1e300 : log(SP_TOL / k->res) / log(rate);
    return need > factor;
}

// The block Krylov iteration (flow at the top of the file): plain Krylov on L until kr_switch says so, then
// Krylov on the shift-invert operator ((1 + SP_SHIFT) I - L)^{-1}, whose top eigenvalues 1 / (1 + SP_SHIFT - lambda)
// stand far apart even when L's crowd near 1 (manifold-like groups: rings, moons). The Rayleigh–Ritz step always
// uses L itself (W = L Q), so the solves' accuracy only sets the speed. Returns 0 with theta[0:m] and Q[:, 0:m]
// the top eigenpairs, 1 when it did not converge (the caller falls back to the dense path), -1 on a failure.
static int kr_iterate(Kry *k, double *theta, int *steps)
{
    k->dim = 0;
    kr_start(k);
    int w = kr_orth(k, k->b), cycles = 0;
    *steps = 0;
    while (w > 0) {
        kr_matvec(k, k->dim, w);
        ++*steps;
        k->dim += w;
        // Plain: the next block is L on the last one while there is room. Shift-invert: Rayleigh–Ritz after every
        // step (its Ritz pairs converge in a few steps; measured 2x faster to the answer than filling the basis).
        if (!k->si && k->dim + w <= k->ld) {
            for (long i = 0; i < k->c->n_local; i++)
                memcpy(k->Q + (size_t)i * k->ld + k->dim, k->W + (size_t)i * k->ld + k->dim - w,
                       (size_t)w * sizeof *k->Q);
            w = kr_orth(k, w);
            if (w < 0) return -1;
            if (w > 0) continue;
        }
        double prev = k->res;
        int conv = kr_rayleigh_ritz(k, theta);
        if (conv != 0) return conv < 0 ? -1 : 0;
        ++cycles;
        if (!k->si && kr_switch(k, cycles, prev) && kr_si_setup(k)) return 1;
        if (cycles >= SP_PLAIN_CYCLES + SP_MAX_CYCLES) return 1;
        if (k->si && kr_solve(k, 0, k->dim, k->dim)) return -1;   // the operator on the Ritz vectors
        w = kr_orth(k, k->dim);              // (plain: the residual block R that kr_rayleigh_ritz put there)
        if (w < 0) return -1;
    }
    return 1;     // no new direction and not converged (an invariant subspace smaller than m)
}

// Basis width of the Krylov path for m eigenpairs: SP_BLOCKS blocks of m + SP_OVERSAMPLE.
static int sp_krylov_width(int m) { return SP_BLOCKS * (m + SP_OVERSAMPLE); }

// The Krylov path: this rank's rows of L, then kr_iterate. Returns 0 (eigvals, Ul = n_local × m rows), 1 (did
// not converge: use the dense path), -1 (out of memory or a small eigensolver failure, err set).
static int sp_krylov(Sp *c, int nb, int pr, int solver, double *eigvals, double *Ul, int *steps, char *err,
                     size_t errlen)
{
    Kry k = {.c = c, .b = c->m + SP_OVERSAMPLE, .ld = sp_krylov_width(c->m), .nb = nb, .pr = pr};
    size_t nl = (size_t)c->n_local, ld = (size_t)k.ld;
    double *Lrows = sp_alloc_big(nl * c->n + 1);
    k.Q = malloc((nl * ld + 1) * sizeof *k.Q);
    k.W = malloc((nl * ld + 1) * sizeof *k.W);
    k.tmp = malloc((nl * ld + 1) * sizeof *k.tmp);
    k.tmpW = malloc((nl * ld + 1) * sizeof *k.tmpW);
    k.X = malloc((size_t)c->n * k.b * sizeof *k.X);
    k.T = malloc(ld * ld * sizeof *k.T);
    k.M = malloc(ld * ld * sizeof *k.M);
    k.Tw = malloc(ld * sizeof *k.Tw);
    k.dsc = malloc(ld * sizeof *k.dsc);
    k.cn = malloc(c->size * sizeof *k.cn);
    k.ds = malloc(c->size * sizeof *k.ds);
    double *theta = malloc(ld * sizeof *theta);
    int rc = -1;
    if (sp_agree(!Lrows || !k.Q || !k.W || !k.tmp || !k.tmpW || !k.X || !k.T || !k.M || !k.Tw || !k.dsc ||
                 !k.cn || !k.ds || !theta, c->comm)) {
        snprintf(err, errlen, "spectral: out of memory for this rank's %ld rows of the %ld x %ld affinity; "
                 "HINT: use more ranks or fewer users", c->n_local, c->n, c->n);
        goto out;
    }
    k.L = Lrows;
    sp_degrees(c, Lrows);
    if (solver == SPECTRAL_SOLVER_SHIFT_INVERT && kr_si_setup(&k)) rc = 1;    // not positive definite: dense
    else rc = kr_iterate(&k, theta, steps);
    if (rc < 0) snprintf(err, errlen, "spectral: the Krylov path's small eigensolver (dsyev) failed; HINT: report it with these sizes (n = %ld, m = %d)", c->n, c->m);
    if (rc == 0) {
        memcpy(eigvals, theta, (size_t)c->m * sizeof *eigvals);
        for (size_t i = 0; i < nl; i++) memcpy(Ul + i * c->m, k.Q + i * ld, (size_t)c->m * sizeof *Ul);
    }
out:
    free(Lrows); free(k.Q); free(k.W); free(k.tmp); free(k.tmpW); free(k.X); free(k.T); free(k.M);
    free(k.Tw); free(k.dsc); free(k.cn); free(k.ds); free(theta);
    if (k.si) {
        free(k.F); free(k.B); free(k.full);
        sp_grid_close(&k.g);
    }
    return rc;
}

// ---------------------------------------------------------------- dense path

// pdsyevd's documented workspace, as pca.c (pca_lwork_bound): max(1 + 6n + 2 np nq, trilwmin) + 2n, trilwmin =
// 3n + max(nb (np + 1), 3 nb), plus PDORMTR's own need ((nq + np + nb) nb + nb^2) as slack.
static int sp_lwork_bound(int n, int nb, int np, int nq)
{
    long tri = 3L * n + (nb * (np + 1L) > 3L * nb ? nb * (np + 1L) : 3L * nb);
    long a = 1 + 6L * n + 2L * np * nq;
    long lw = (a > tri ? a : tri) + 2L * n + ((long)nq + np + nb) * nb + (long)nb * nb;
    return lw > (1L << 30) ? 1 << 30 : (int)lw;
}

// pdsyevd on the distributed L (A destroyed; every eigenpair, the top m kept: pdsyevr's subset would save the
// back-transformation of the others, but this ScaLAPACK's pdsyevr rejects its own PDORMTR workspace on some
// grids (1 x 3, n = 401, nb = 32: "PDORMTR parameter 16", wrong vectors with info = 0), whatever LWORK is
// given). Vfull (n × m row-major, column k = the k-th largest) filled on every rank. Returns the agreed info.
static int sp_pdsyevd(const Sp *c, double *A, double *Z, const int *desc, int lld, int lr, int lc, int nb, int pr,
                      int pc, int myrow, int mycol, double *w, double *Vfull, const char **who)
{
    int n = (int)c->n, m = c->m, one = 1, m1 = -1, info = 0, iwq = 0;
    double wq = 0;
    *who = "pdsyevd (workspace query)";
    pdsyevd_("V", "L", &n, A, &one, &one, desc, w, Z, &one, &one, desc, &wq, &m1, &iwq, &m1, &info);
    if ((info = sp_agree(info, c->comm))) return info;
    int lwork = sp_lwork_bound(n, nb, lr, lc), liwork = 7 * n + 8 * pc + 2;   // the query can answer too little
    if ((int)wq + 1 > lwork) lwork = (int)wq + 1;
    if (iwq > liwork) liwork = iwq;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    if (sp_agree(!work || !iwork, c->comm)) { free(work); free(iwork); *who = "pdsyevd workspace (out of memory)"; return -9999; }
    *who = "pdsyevd";
    pdsyevd_("V", "L", &n, A, &one, &one, desc, w, Z, &one, &one, desc, work, &lwork, iwork, &liwork, &info);
    free(work); free(iwork);
    if ((info = sp_agree(info, c->comm))) return info;
    memset(Vfull, 0, (size_t)n * m * sizeof *Vfull);
    for (int lj = 0; lj < lc; lj++) {            // Z's columns n-m..n-1 (ascending) -> column n-1-gj of Vfull
        int gj = ((lj / nb) * pc + mycol) * nb + lj % nb, k = n - 1 - gj;
        if (k >= m) continue;
        for (int li = 0; li < lr; li++) {
            long gi = ((long)(li / nb) * pr + myrow) * nb + li % nb;
            Vfull[gi * m + k] = Z[li + (size_t)lj * lld];
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, Vfull, n * m, MPI_DOUBLE, MPI_SUM, c->comm);   // one owner per entry: exact
    for (int k = 0; k < m; k++) w[k] = w[n - 1 - k];
    MPI_Bcast(w, m, MPI_DOUBLE, 0, c->comm);   // with one nb block (nb >= n) the ranks' w differed in the last bits
    return 0;
}

// The dense path: degrees, the 2-D L, pdsyevd. eigvals, Vfull (n × m) on every rank. Owns every BLACS handle
// and buffer and releases them on one path (longer than most functions for that reason).
static int sp_dense(Sp *c, int nb, int pr, double *eigvals, double *Vfull, char *err, size_t errlen)
{
    int pc, n = (int)c->n, zero = 0, info = 0, gr, gc, myrow, mycol, yes = 1, rc = -1;
    if (pr == 0) pca_grid_shape(c->size, &pr, &pc);     // the same grid rule as pca_top
    else pc = c->size / pr;
    int h = Csys2blacs_handle(c->comm), ctx = h;
    Cblacs_gridinit(&ctx, "R", pr, pc);
    Cblacs_set(ctx, 15, &yes);   // repeatable combines: bit-identical results for the same grid (pca.c)
    Cblacs_set(ctx, 16, &yes);   // coherent: every process of a scope gets the same bits
    Cblacs_gridinfo(ctx, &gr, &gc, &myrow, &mycol);
    int lr = numroc_(&n, &nb, &myrow, &zero, &pr), lc = numroc_(&n, &nb, &mycol, &zero, &pc);
    int lld = lr > 1 ? lr : 1, desc[9];
    double *A = sp_alloc_big((size_t)lld * lc + 1), *Z = sp_alloc_big((size_t)lld * lc + 1);
    if (Z) memset(Z, 0, ((size_t)lld * lc + 1) * sizeof *Z);
    double *w = malloc((size_t)n * sizeof *w);
    const char *who = "descinit";
    if (sp_agree(!A || !Z || !w, c->comm)) {
        snprintf(err, errlen, "spectral: out of memory for the %d x %d grid's blocks of the %d x %d affinity; "
                 "HINT: use more ranks or the Krylov solver", pr, pc, n, n);
        goto out;
    }
    sp_degrees(c, NULL);
    sp_fill_2d(c, A, lld, lr, lc, nb, pr, pc, myrow, mycol);
    descinit_(desc, &n, &n, &nb, &nb, &zero, &zero, &ctx, &lld, &info);
    if ((info = sp_agree(info, c->comm)) == 0)
        info = sp_pdsyevd(c, A, Z, desc, lld, lr, lc, nb, pr, pc, myrow, mycol, w, Vfull, &who);
    if (info) {
        snprintf(err, errlen, "spectral: %s failed with info = %d on a %d x %d grid (n = %d, m = %d, nb = %d); "
                 "HINT: report it with these sizes", who, info, pr, pc, n, c->m, nb);
        goto out;
    }
    memcpy(eigvals, w, (size_t)c->m * sizeof *eigvals);   // descending (sp_pdsyevd)
    rc = 0;
out:
    free(A); free(Z); free(w);
    Cblacs_gridexit(ctx);
    Cfree_blacs_system_handle(h);
    return rc;
}

// ---------------------------------------------------------------- driver

// Sign rule (pca.h): each column of V (n × m row-major) flipped so its entry of largest |.| is positive (the
// lowest row on a tie).
static void sp_fix_signs(double *V, long n, int m)
{
    for (int k = 0; k < m; k++) {
        long best = 0;
        for (long i = 1; i < n; i++)
            if (fabs(V[i * m + k]) > fabs(V[best * m + k])) best = i;
        if (V[best * m + k] < 0)
            for (long i = 0; i < n; i++) V[i * m + k] = -V[i * m + k];
    }
}

// Both paths' common start: the split, the gathered Y, gamma. Returns 0, or -1 when out of memory (agreed).
static int sp_setup(Sp *c, const double *Y_local, double gamma)
{
    c->counts = malloc(c->size * sizeof *c->counts);
    c->displs = malloc(c->size * sizeof *c->displs);
    c->Y = malloc((size_t)c->n * c->r * sizeof *c->Y);
    c->s = malloc((size_t)c->n * sizeof *c->s);
    c->scratch_len = sp_krylov_width(c->m) * sp_krylov_width(c->m);
    c->scratch = malloc((size_t)c->size * c->scratch_len * sizeof *c->scratch);
    if (sp_agree(!c->counts || !c->displs || !c->Y || !c->s || !c->scratch, c->comm)) return -1;
    int mine = (int)c->n_local;
    MPI_Allgather(&mine, 1, MPI_INT, c->counts, 1, MPI_INT, c->comm);
    c->row0 = 0;
    for (int q = 0, at = 0; q < c->size; q++) {
        c->displs[q] = at;
        if (q < c->rank) c->row0 += c->counts[q];
        at += c->counts[q];
    }
    int *cn = malloc(c->size * sizeof *cn), *ds = malloc(c->size * sizeof *ds);
    if (sp_agree(!cn || !ds, c->comm)) { free(cn); free(ds); return -1; }
    for (int q = 0; q < c->size; q++) { cn[q] = c->counts[q] * c->r; ds[q] = c->displs[q] * c->r; }
    MPI_Allgatherv(Y_local, mine * c->r, MPI_DOUBLE, c->Y, cn, ds, MPI_DOUBLE, c->comm);
    free(cn); free(ds);
    c->gamma = gamma > 0 ? gamma : sp_gamma_auto(c);
    return 0;
}

int spectral_embed_solver(MPI_Comm comm, const double *Y_local, long n_local, long n, int r, double gamma, int m,
                          int nb, int pr, int solver, double *eigvals, double *U_local, double *gamma_used,
                          char *err, size_t errlen)
{
    Sp c = {.comm = comm, .r = r, .m = m, .n = n, .n_local = n_local};
    MPI_Comm_rank(comm, &c.rank);
    MPI_Comm_size(comm, &c.size);
    if (sp_validate(comm, Y_local, n_local, n, r, gamma, m, nb, pr, solver, c.size, err, errlen)) return -1;
    if (nb == 0) nb = SPECTRAL_NB_DEFAULT;
    int rc = -1, steps = 0;
    double *Ul = malloc(((size_t)n_local * m + 1) * sizeof *Ul), *V = malloc((size_t)n * m * sizeof *V);
    if (sp_agree(!Ul || !V, comm) || sp_setup(&c, Y_local, gamma)) {
        snprintf(err, errlen, "spectral: out of memory for n = %ld users (n x r points, n x m vectors); HINT: use fewer users", n);
        goto out;
    }
    int krylov = solver != SPECTRAL_SOLVER_DENSE && 2L * sp_krylov_width(m) <= n;   // else its basis is most of R^n
    if (krylov) {
        rc = sp_krylov(&c, nb, pr, solver, eigvals, Ul, &steps, err, errlen);
        if (rc < 0) goto out;
        if (rc == 0) {
            int *cn = malloc(c.size * sizeof *cn), *ds = malloc(c.size * sizeof *ds);
            for (int q = 0; cn && ds && q < c.size; q++) { cn[q] = c.counts[q] * m; ds[q] = c.displs[q] * m; }
            rc = sp_agree(!cn || !ds, comm) ? -1 : 0;
            if (rc == 0) MPI_Allgatherv(Ul, (int)n_local * m, MPI_DOUBLE, V, cn, ds, MPI_DOUBLE, comm);
            else snprintf(err, errlen, "spectral: out of memory gathering the eigenvectors; HINT: use fewer users");
            free(cn); free(ds);
            if (rc) goto out;
        }
    }
    if (!krylov || rc == 1)
        if ((rc = sp_dense(&c, nb, pr, eigvals, V, err, errlen))) goto out;
    sp_fix_signs(V, n, m);
    memcpy(U_local, V + c.row0 * m, (size_t)n_local * m * sizeof *U_local);
    if (gamma_used) *gamma_used = c.gamma;
out:
    free(Ul); free(V);
    free(c.counts); free(c.displs); free(c.Y); free(c.s); free(c.scratch);
    return rc;
}

int spectral_embed(MPI_Comm comm, const double *Y_local, long n_local, long n, int r, double gamma, int m, int nb,
                   int pr, double *eigvals, double *U_local, double *gamma_used, char *err, size_t errlen)
{
    return spectral_embed_solver(comm, Y_local, n_local, n, r, gamma, m, nb, pr, SPECTRAL_SOLVER_KRYLOV, eigvals,
                                 U_local, gamma_used, err, errlen);
}

double spectral_bytes_per_rank(long n, int nranks, int r, int m, int solver)
{
    double P = nranks > 0 ? nranks : 1, nmax = ceil((double)n / P), c = sp_krylov_width(m), b = m + SP_OVERSAMPLE;
    double common = 8.0 * ((double)n * r + 2.0 * n * m + n), share = 8.0 * (double)n * n / P;
    if (solver != SPECTRAL_SOLVER_DENSE && 2.0 * c <= n)    // L's rows, Q W and two work blocks, X; the factor
        return common + 8.0 * (nmax * n + 4.0 * nmax * c + 2.0 * c * c + 3.0 * n * b) + share;
    return common + 3.0 * share;                           // L, Z and pdsyevd's workspace (~ n^2 / P)
}

void spectral_normalise_rows(const double *U_local, long n_local, int m, int k, double *Z_local)
{
    for (long i = 0; i < n_local; i++) {
        double s = 0.0;
        for (int j = 0; j < k; j++) s += U_local[i * m + j] * U_local[i * m + j];
        double f = s > 0 ? 1.0 / sqrt(s) : 0.0;
        for (int j = 0; j < k; j++) Z_local[i * k + j] = U_local[i * m + j] * f;
    }
}
