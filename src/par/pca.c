// pca.c — top principal components of a row-distributed matrix with ScaLAPACK (see include/pca.h for the
// method and its reasons). Flow: validate (agreed over comm) -> this rank's rows, read as the column-major
// d × n_local matrix X^T, zero-padded into a 1 × P block layout -> pdgemr2d onto the pr × pc grid (nb × nb
// blocks) -> C = X^T (X^T)^T = X^T X (pdsyrk "N") -> pdsyevd -> the top r eigenvector columns gathered on every
// rank -> sign rule -> Y_local = X_local V locally. Working on X^T keeps the copy of the rows contiguous.
#include "pca.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scalapack.h"   // the BLACS / ScaLAPACK entry points shared with spectral.c

// pca.c's own ScaLAPACK routines (same conventions as scalapack.h).
// B(ib:, jb:) = A(ia:, ja:), m × n, between any two layouts; ictxt must span every process of both grids.
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja, const int *desca,
               double *b, const int *ib, const int *jb, const int *descb, const int *ictxt);
// C = alpha op(A)^T op(A) + beta C on the uplo triangle; trans "T": A is k × n, C is n × n.
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
             const double *a, const int *ia, const int *ja, const int *desca, const double *beta, double *c,
             const int *ic, const int *jc, const int *descc);

// Where this rank's rows come from: a plain matrix X, or a function that produces them block by block.
typedef struct { const double *X; PcaRowFn fn; void *ctx; long n_local; int d; } RowSrc;

// Rows [i0, i0 + cnt) as a row-major cnt × d block: a pointer into X, or buf filled by the row function.
static const double *rows_block(const RowSrc *s, long i0, long cnt, double *buf)
{
    if (s->X) return s->X + (size_t)i0 * s->d;
    s->fn(s->ctx, i0, cnt, buf);
    return buf;
}

void pca_grid_shape(int nranks, int *pr, int *pc)
{
    int best = 1;
    for (int p = 1; (long)p * p <= nranks; p++)
        if (nranks % p == 0) best = p;
    *pr = best;
    *pc = nranks / best;
}

// Checks the arguments; every rank gets the same verdict (local problems and the n_local sum are allreduced).
// On success *mb = the largest n_local (the padded row-block height).
static int pca_validate(MPI_Comm comm, const void *X_local, long n_local, long n, int d, int r, int nb, int pr,
                        int nranks, int *mb, char *err, size_t errlen)
{
    int bad = 0;
    if (n_local < 0 || (n_local > 0 && !X_local)) bad = 1;
    long sum = n_local < 0 ? 0 : n_local, mx = sum;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_LONG, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_LONG, MPI_MAX, comm);
    if (bad)
        snprintf(err, errlen, "pca: a rank passed a negative n_local or no rows with n_local > 0; HINT: pass each rank's row block");
    else if (n <= 0 || d <= 0)
        snprintf(err, errlen, "pca: empty matrix (n = %ld users, d = %d probes); HINT: need at least one user and one probe", n, d);
    else if (sum != n)
        snprintf(err, errlen, "pca: the ranks' n_local sum to %ld, not n = %ld; HINT: split the n rows over the ranks (comm_split_range)", sum, n);
    else if (r < 1 || r > d || r > n)
        snprintf(err, errlen, "pca: r = %d components, need 1 <= r <= min(n = %ld, d = %d); HINT: lower the number of dimensions", r, n, d);
    else if (nb < 0)
        snprintf(err, errlen, "pca: block size nb = %d; HINT: use nb >= 1 (0 = %d)", nb, PCA_NB_DEFAULT);
    else if (pr < 0 || (pr > 0 && nranks % pr != 0))
        snprintf(err, errlen, "pca: grid rows pr = %d do not divide %d ranks; HINT: use a divisor, or 0 for the most square grid", pr, nranks);
    else if (n > (long)1 << 30 || mx * nranks > (long)1 << 30)
        snprintf(err, errlen, "pca: n = %ld rows is beyond ScaLAPACK's 32-bit indices here; HINT: at most 2^30 rows", n);
    else {
        *mb = (int)mx;
        return 0;
    }
    return -1;
}

// The agreed worst info over comm (0 when every rank succeeded).
// A negative (illegal argument) info wins over a positive one.
static int pca_agree(int info, MPI_Comm comm)
{
    int lo = info, hi = info;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, comm);
    return lo < 0 ? lo : hi;
}

// Moves this rank's rows into the pr × pc block-cyclic A = X^T (d × n_pad, nb × nb blocks). The source: the
// row-major X_local is the column-major d × n_local X_local^T; padded with zero columns to mb per rank it is one
// mb-column block per rank on a 1 × P grid (zero columns leave X^T X unchanged). A rank holding mb rows hands
// X_local itself (pdgemr2d only reads it); only shorter ranks copy. Returns the ScaLAPACK info (-9999: no memory).
static int pca_to_grid(MPI_Comm comm, int ctx_src, int nranks, const double *X_local, long n_local, int d,
                       int mb, double *A, const int *descA)
{
    int n_pad = mb * nranks, zero = 0, one = 1, info = 0;
    double *S = n_local < mb ? calloc((size_t)mb * d, sizeof *S) : NULL;
    if (pca_agree(n_local < mb && !S ? -9999 : 0, comm)) { free(S); return -9999; }   // before any collective
    if (S && n_local > 0) memcpy(S, X_local, (size_t)n_local * d * sizeof *S);
    int descS[9];
    descinit_(descS, &d, &n_pad, &d, &mb, &zero, &zero, &ctx_src, &d, &info);
    if ((info = pca_agree(info, comm))) { free(S); return info; }
    if (info == 0) pdgemr2d_(&d, &n_pad, S ? S : X_local, &one, &one, descS, A, &one, &one, descA, &ctx_src);
    free(S);
    return info;
}

// The eigenvector columns d-r .. d-1 of the distributed Z (d × d) into Vfull (d × r, column k = eigenvector
// d-1-k: descending), identical on every rank: each entry is owned by one process, the rest add exact zeros.
static void pca_gather_top(MPI_Comm comm, const double *Z, int lldz, int d, int r, int nb, int pr, int pc,
                           int myrow, int mycol, double *Vfull)
{
    memset(Vfull, 0, (size_t)d * r * sizeof *Vfull);
    int zero = 0;
    int lr = numroc_(&d, &nb, &myrow, &zero, &pr), lc = numroc_(&d, &nb, &mycol, &zero, &pc);
    for (int lj = 0; lj < lc; lj++) {
        int gj = ((lj / nb) * pc + mycol) * nb + lj % nb, k = d - 1 - gj;
        if (k < 0 || k >= r) continue;
        for (int li = 0; li < lr; li++) {
            int gi = ((li / nb) * pr + myrow) * nb + li % nb;
            Vfull[(size_t)k * d + gi] = Z[li + (size_t)lj * lldz];
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, Vfull, d * r, MPI_DOUBLE, MPI_SUM, comm);
}

// Sign rule (pca.h) and the row-major V (d × r) from the column-major Vfull.
static void pca_fix_signs(const double *Vfull, int d, int r, double *V)
{
    for (int k = 0; k < r; k++) {
        const double *col = Vfull + (size_t)k * d;
        int best = 0;
        for (int j = 1; j < d; j++)
            if (fabs(col[j]) > fabs(col[best])) best = j;
        double s = col[best] < 0 ? -1.0 : 1.0;
        for (int j = 0; j < d; j++) V[(size_t)j * r + k] = s * col[j];
    }
}

// pdsyevd's documented workspace: max(1 + 6d + 2 np nq, trilwmin) + 2d, trilwmin = 3d + max(nb (np + 1), 3 nb),
// plus PDORMTR's own need ((nq + np + nb) nb + nb^2) as slack; np × nq = this process's share of the d × d matrix.
static int pca_lwork_bound(int d, int nb, int np, int nq)
{
    long tri = 3L * d + (nb * (np + 1L) > 3L * nb ? nb * (np + 1L) : 3L * nb);
    long a = 1 + 6L * d + 2L * np * nq;
    long lw = (a > tri ? a : tri) + 2L * d + ((long)nq + np + nb) * nb + (long)nb * nb;
    return lw > (1L << 30) ? 1 << 30 : (int)lw;
}

// The eigenpairs of the distributed symmetric C (lower triangle read, destroyed): eigenvalues into w (d, ascending),
// eigenvectors into Z (local, descriptor descC). Returns the agreed info (0 = success); *who names the routine
// that failed.
static int pca_syevd(MPI_Comm comm, int d, int nb, int np, int nq, int pc, double *C, const int *descC, double *w,
                     double *Z, const char **who)
{
    int one = 1, m1 = -1, info = 0, iw = 0;
    double wq = 0.0;
    *who = "pdsyevd (workspace query)";
    pdsyevd_("V", "L", &d, C, &one, &one, descC, w, Z, &one, &one, descC, &wq, &m1, &iw, &m1, &info);
    if ((info = pca_agree(info, comm))) return info;
    // This ScaLAPACK's query answers too little when d fits one block (PDORMTR then rejects LWORK and the
    // eigenvectors come back wrong with info = 0): take the larger of the query and the documented bound.
    int lwork = pca_lwork_bound(d, nb, np, nq);
    if ((int)wq + 1 > lwork) lwork = (int)wq + 1;
    int liwork = 7 * d + 8 * pc + 2;
    if (iw > liwork) liwork = iw;
    double *work = calloc((size_t)lwork, sizeof *work);
    int *iwork = calloc((size_t)liwork, sizeof *iwork);
    int oom = pca_agree(!work || !iwork, comm);
    if (!oom) {
        *who = "pdsyevd";
        pdsyevd_("V", "L", &d, C, &one, &one, descC, w, Z, &one, &one, descC, work, &lwork, iwork, &liwork, &info);
        info = pca_agree(info, comm);
    } else {
        *who = "pdsyevd workspace (out of memory)";
        info = -9999;
    }
    free(work);
    free(iwork);
    return info;
}

// v (len doubles) summed over comm along a fixed binomial tree (rank r adds rank r + s for s = 1, 2, 4, ...), then
// broadcast from rank 0: the same association for the same rank count on every run, which MPI_Allreduce does not
// promise. Returns 0, or -9999 on every rank when a receive buffer cannot be allocated.
static int pca_tree_sum(double *v, size_t len, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double *buf = size > 1 ? malloc(len * sizeof *buf) : NULL;
    if (pca_agree(size > 1 && !buf ? -9999 : 0, comm)) { free(buf); return -9999; }
    for (int s = 1; s < size; s <<= 1) {
        if (rank % (2 * s) == s) { MPI_Send(v, (int)len, MPI_DOUBLE, rank - s, 0x9CA, comm); break; }
        if (rank % (2 * s) == 0 && rank + s < size) {
            MPI_Recv(buf, (int)len, MPI_DOUBLE, rank + s, 0x9CA, comm, MPI_STATUS_IGNORE);
            for (size_t i = 0; i < len; i++) v[i] += buf[i];
        }
    }
    free(buf);
    MPI_Bcast(v, (int)len, MPI_DOUBLE, 0, comm);
    return 0;
}

// The local-Gram route (d <= PCA_LOCAL_GRAM_MAX_D): each rank's X_local^T X_local with dsyrk, summed over the
// ranks in a fixed tree, and this process's blocks of C copied out of the replicated d × d sum. No row moves
// between ranks: the rows never leave their rank, only d^2 doubles per rank travel.
static int pca_gram_local(MPI_Comm comm, const RowSrc *src, int d, int nb, int pr, int pc, int myrow, int mycol,
                          double *C, int lldC)
{
    double *full = calloc((size_t)d * d, sizeof *full);
    double *buf = src->X ? NULL : malloc((size_t)PCA_ROW_BLOCK * d * sizeof *buf);
    if (pca_agree(!full || (!src->X && !buf) ? -9999 : 0, comm)) { free(full); free(buf); return -9999; }
    // Row-major cnt × d rows are the column-major d × cnt A = X^T: A A^T adds to X^T X (lower triangle). Blocks of
    // PCA_ROW_BLOCK rows in order, whatever the source, so a matrix and a row function give the same bits.
    for (long i0 = 0; i0 < src->n_local; i0 += PCA_ROW_BLOCK) {
        long cnt = src->n_local - i0 < PCA_ROW_BLOCK ? src->n_local - i0 : PCA_ROW_BLOCK;
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, d, (int)cnt, 1.0, rows_block(src, i0, cnt, buf), d,
                    i0 ? 1.0 : 0.0, full, d);
    }
    free(buf);
    int info = pca_tree_sum(full, (size_t)d * d, comm);
    int zero = 0, lr = numroc_(&d, &nb, &myrow, &zero, &pr), lc = numroc_(&d, &nb, &mycol, &zero, &pc);
    for (int lj = 0; lj < lc && !info; lj++) {
        int gj = ((lj / nb) * pc + mycol) * nb + lj % nb;
        for (int li = 0; li < lr; li++) {
            int gi = ((li / nb) * pr + myrow) * nb + li % nb;
            C[li + (size_t)lj * lldC] = gi >= gj ? full[gi + (size_t)gj * d] : full[gj + (size_t)gi * d];
        }
    }
    free(full);
    return info;
}

// Y_local = X_local V, (n_local × d)(d × r) row-major, block by block. 0, or -9999 (no memory for the block).
static int pca_project(const RowSrc *src, int r, const double *V, double *Y_local)
{
    double *buf = src->X ? NULL : malloc((size_t)PCA_ROW_BLOCK * src->d * sizeof *buf);
    if (!src->X && !buf) return -9999;
    for (long i0 = 0; i0 < src->n_local; i0 += PCA_ROW_BLOCK) {
        long cnt = src->n_local - i0 < PCA_ROW_BLOCK ? src->n_local - i0 : PCA_ROW_BLOCK;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cnt, r, src->d, 1.0, rows_block(src, i0, cnt, buf),
                    src->d, V, r, 0.0, Y_local + (size_t)i0 * r, r);
    }
    free(buf);
    return 0;
}

// The grid route (d > PCA_LOCAL_GRAM_MAX_D, where a replicated d × d sum would not fit): the rows move onto the
// pr × pc grid as the block-cyclic d × n_pad A = X^T (pdgemr2d) and pdsyrk forms C = A A^T there.
static int pca_gram_grid(MPI_Comm comm, int ctx_src, int ctx, int nranks, const RowSrc *src, int d, int mb, int nb,
                         int pr, int pc, int myrow, int mycol, double *C, const int *descC, const char **who)
{
    long n_local = src->n_local;
    double *own = src->X ? NULL : malloc(((size_t)n_local * d + 1) * sizeof *own);   // this route needs them all
    *who = "the rows' copy (out of memory)";
    if (pca_agree(!src->X && !own ? -9999 : 0, comm)) { free(own); return -9999; }
    if (own && n_local > 0) src->fn(src->ctx, 0, n_local, own);
    const double *X_local = src->X ? src->X : own;
    int zero = 0, one = 1, info = 0, n_pad = mb * nranks;
    int la_r = numroc_(&d, &nb, &myrow, &zero, &pr), la_c = numroc_(&n_pad, &nb, &mycol, &zero, &pc);
    int lldA = la_r > 1 ? la_r : 1, descA[9];
    double alpha = 1.0, beta = 0.0, *A = calloc((size_t)lldA * la_c + 1, sizeof *A);
    *who = "the grid's copy of the rows (out of memory)";
    if (pca_agree(!A ? -9999 : 0, comm)) { free(A); free(own); return -9999; }
    *who = "descinit";
    descinit_(descA, &d, &n_pad, &nb, &nb, &zero, &zero, &ctx, &lldA, &info);
    if ((info = pca_agree(info, comm)) == 0) {
        *who = "pdgemr2d";
        info = pca_to_grid(comm, ctx_src, nranks, X_local, n_local, d, mb, A, descA);
    }
    if (info == 0) pdsyrk_("L", "N", &d, &n_pad, &alpha, A, &one, &one, descA, &beta, C, &one, &one, descC);
    free(A);
    free(own);
    return info;
}

int pca_top(MPI_Comm comm, const double *X_local, long n_local, long n, int d, int r, int nb, int pr,
            double *sv, double *V, double *Y_local, char *err, size_t errlen)
{
    return pca_top_route(comm, X_local, n_local, n, d, r, nb, pr, PCA_GRAM_AUTO, sv, V, Y_local, err, errlen);
}

static int pca_run(MPI_Comm comm, const RowSrc *src, long n, int r, int nb, int pr, int route, double *sv, double *V,
                   double *Y_local, char *err, size_t errlen);

int pca_top_route(MPI_Comm comm, const double *X_local, long n_local, long n, int d, int r, int nb, int pr, int route,
                  double *sv, double *V, double *Y_local, char *err, size_t errlen)
{
    RowSrc src = {.X = X_local, .n_local = n_local, .d = d};   // X_local NULL with rows: pca_validate refuses it
    return pca_run(comm, &src, n, r, nb, pr, route, sv, V, Y_local, err, errlen);
}

int pca_top_rows(MPI_Comm comm, PcaRowFn rows, void *ctx, long n_local, long n, int d, int r, int nb, int pr, int route,
                 double *sv, double *V, double *Y_local, char *err, size_t errlen)
{
    RowSrc src = {.fn = rows, .ctx = ctx, .n_local = n_local, .d = d};
    return pca_run(comm, &src, n, r, nb, pr, route, sv, V, Y_local, err, errlen);
}

// Grids, distributed arrays and the decomposition; see the flow at the top of the file. Longer than most
// functions because it owns every BLACS handle and buffer and releases them on one path.
static int pca_run(MPI_Comm comm, const RowSrc *src, long n, int r, int nb, int pr, int route, double *sv, double *V,
                   double *Y_local, char *err, size_t errlen)
{
    long n_local = src->n_local;
    int d = src->d;
    int nranks, mb = 0, pc;
    MPI_Comm_size(comm, &nranks);
    if (pca_validate(comm, src->X ? (const void *)src->X : (const void *)src->fn, n_local, n, d, r, nb, pr, nranks, &mb,
                     err, errlen))
        return -1;
    if (nb == 0) nb = PCA_NB_DEFAULT;
    if (pr == 0) pca_grid_shape(nranks, &pr, &pc);
    else pc = nranks / pr;

    int h_src = Csys2blacs_handle(comm), h = Csys2blacs_handle(comm);
    int ctx_src = h_src, ctx = h, gr, gc, myrow, mycol, zero = 0, info = 0;
    Cblacs_gridinit(&ctx_src, "R", 1, nranks);
    Cblacs_gridinit(&ctx, "R", pr, pc);
    int yes = 1;
    Cblacs_set(ctx, 15, &yes);   // repeatable combines: bit-identical results for the same grid (pca.h)
    Cblacs_set(ctx, 16, &yes);   // coherent: every process of a scope gets the same bits
    Cblacs_gridinfo(ctx, &gr, &gc, &myrow, &mycol);

    int lc_r = numroc_(&d, &nb, &myrow, &zero, &pr), lc_c = numroc_(&d, &nb, &mycol, &zero, &pc);
    int lldC = lc_r > 1 ? lc_r : 1;
    double *C = calloc((size_t)lldC * lc_c + 1, sizeof *C);
    double *Z = calloc((size_t)lldC * lc_c + 1, sizeof *Z);
    double *w = malloc((size_t)d * sizeof *w), *Vfull = malloc((size_t)d * r * sizeof *Vfull);
    int descC[9], rc = -1;
    const char *who = "descinit";
    if (pca_agree(!C || !Z || !w || !Vfull, comm)) {
        snprintf(err, errlen, "pca: out of memory for the %d x %d grid's blocks (n = %ld, d = %d); "
                 "HINT: use more ranks", pr, pc, n, d);
        goto out;
    }
    descinit_(descC, &d, &d, &nb, &nb, &zero, &zero, &ctx, &lldC, &info);
    if ((info = pca_agree(info, comm)) == 0) {
        if (route == PCA_GRAM_LOCAL || (route != PCA_GRAM_GRID && d <= PCA_LOCAL_GRAM_MAX_D)) {
            who = "the local Gram sum (out of memory)";
            info = pca_gram_local(comm, src, d, nb, pr, pc, myrow, mycol, C, lldC);
        } else {
            info = pca_gram_grid(comm, ctx_src, ctx, nranks, src, d, mb, nb, pr, pc, myrow, mycol, C, descC, &who);
        }
    }
    if (info == 0) info = pca_syevd(comm, d, nb, lc_r, lc_c, pc, C, descC, w, Z, &who);
    if (info) {    // every rank has the same info here (agreed), so all leave together
        snprintf(err, errlen, "pca: %s failed with info = %d on a %d x %d grid (n = %ld, d = %d, nb = %d); "
                 "HINT: report it with these sizes", who, info, pr, pc, n, d, nb);
        goto out;
    }
    pca_gather_top(comm, Z, lldC, d, r, nb, pr, pc, myrow, mycol, Vfull);
    for (int k = 0; k < r; k++) sv[k] = sqrt(w[d - 1 - k] > 0 ? w[d - 1 - k] : 0.0);
    pca_fix_signs(Vfull, d, r, V);
    rc = 0;
    if (pca_agree(Y_local ? pca_project(src, r, V, Y_local) : 0, comm)) {
        snprintf(err, errlen, "pca: out of memory for a block of %d rows (d = %d); HINT: use more ranks", PCA_ROW_BLOCK, d);
        rc = -1;
    }
out:
    free(C); free(Z); free(w); free(Vfull);
    Cblacs_gridexit(ctx);
    Cblacs_gridexit(ctx_src);
    Cfree_blacs_system_handle(h);
    Cfree_blacs_system_handle(h_src);
    return rc;
}
