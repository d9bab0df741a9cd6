// pca_check — pca_top (ScaLAPACK, Gram route) against LAPACK dgesvd on one rank.
// Usage: mpirun -np P pca_check N D R NB PR [SEED]   (PR = grid rows, 0 = the most square grid)
//        mpirun -np P pca_check bad                   (argument errors: one agreed line, no crash)
// Builds the same seeded N × D matrix on every rank (rank 5 structure: X = U diag(s) W^T + noise, distinct
// strengths so the top components are well separated), hands each rank its comm_split_range rows, and on
// rank 0 compares singular values (1e-10 relative), sign-fixed V columns (1e-8) and Y = X V (1e-9 · s1) with
// LAPACK on the whole matrix. Also: V identical on every rank, a rerun bit-identical, and a "# hash" line of
// sv, V and Y so a script can compare two launches. Prints TAP lines; exits 1 when any check fails.
#include "comm.h"
#include "pca.h"
#include "rng.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// LAPACK's Fortran SVD (liblapack from openblas; no LAPACKE in it): column-major A (m × n) is destroyed.
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda,
             double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *info);

static int fails;
static void tap(int rank, int pass, const char *name, const char *detail)
{
    if (rank != 0) return;
    printf("%s - %s%s%s\n", pass ? "ok" : "not ok", name, detail ? " # " : "", detail ? detail : "");
    if (!pass) fails++;
}

static void make_matrix(long n, int d, uint64_t seed, double *X)
{
    const int K = 5;
    const double s[5] = {5.0, 4.0, 3.0, 2.0, 1.5};
    Rng g;
    rng_seed(&g, seed, 7, 0, 0);
    double *U = malloc((size_t)n * K * sizeof *U), *W = malloc((size_t)d * K * sizeof *W);
    for (long i = 0; i < n * K; i++) U[i] = 2 * rng_uniform(&g) - 1;
    for (long i = 0; i < (long)d * K; i++) W[i] = 2 * rng_uniform(&g) - 1;
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double v = 0.3 * (rng_uniform(&g) - 0.5);
            for (int k = 0; k < K; k++) v += s[k] * U[i * K + k] * W[j * K + k];
            X[i * d + j] = v;
        }
    free(U);
    free(W);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

// Reference on rank 0: singular values and sign-fixed V (d × r row-major) of X by dgesvd.
static int reference(const double *X, long n, int d, int r, double *sv, double *V)
{
    int m = (int)n, nn = d, info = 0, lwork = -1, one = 1;
    double *A = malloc((size_t)n * d * sizeof *A), *s = malloc((size_t)d * sizeof *s);
    double *VT = malloc((size_t)d * d * sizeof *VT), wq;
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++) A[i + (size_t)j * n] = X[i * d + j];
    dgesvd_("N", "A", &m, &nn, A, &m, s, NULL, &one, VT, &nn, &wq, &lwork, &info);
    lwork = (int)wq + 1;
    double *work = malloc((size_t)lwork * sizeof *work);
    dgesvd_("N", "A", &m, &nn, A, &m, s, NULL, &one, VT, &nn, work, &lwork, &info);
    for (int k = 0; k < r; k++) {
        sv[k] = s[k];
        int best = 0;    // row k of VT is the k-th right singular vector; VT(k, j) = VT[k + j*d]
        for (int j = 1; j < d; j++)
            if (fabs(VT[k + (size_t)j * d]) > fabs(VT[k + (size_t)best * d])) best = j;
        double sg = VT[k + (size_t)best * d] < 0 ? -1 : 1;
        for (int j = 0; j < d; j++) V[(size_t)j * r + k] = sg * VT[k + (size_t)j * d];
    }
    free(A); free(s); free(VT); free(work);
    return info;
}

static int bad_inputs(MPI_Comm w, int rank, int size)
{
    long n = 101, first, cnt;
    int d = 7;
    comm_split_range(n, size, rank, &first, &cnt);
    double *X = malloc((size_t)n * d * sizeof *X), sv[8], V[7 * 8];
    make_matrix(n, d, 3, X);
    char err[512] = "";
    int rc = pca_top(w, X + first * d, cnt, n, d, d + 1, 8, 0, sv, V, NULL, err, sizeof err);
    int agreed = comm_max_int(rc == 0, w) == 0;
    tap(rank, agreed && err[0] && !strchr(err, '\n') && strstr(err, "HINT"), "bad_r_gt_d_one_line_error", err);
    err[0] = 0;
    rc = pca_top(w, X + first * d, rank == 0 ? cnt - 1 : cnt, n, d, 2, 8, 0, sv, V, NULL, err, sizeof err);
    agreed = comm_max_int(rc == 0, w) == 0;
    tap(rank, agreed && err[0] && !strchr(err, '\n') && strstr(err, "sum to"), "bad_n_local_mismatch_one_line_error", err);
    err[0] = 0;
    rc = pca_top(w, X + first * d, cnt, n, d, 2, 8, size + 1, sv, V, NULL, err, sizeof err);
    agreed = comm_max_int(rc == 0, w) == 0;
    tap(rank, agreed && err[0] && strstr(err, "pr ="), "bad_grid_rows_one_line_error", err);
    rc = pca_top(w, X + first * d, cnt, n, d, 2, 8, 0, sv, V, NULL, err, sizeof err);   // still usable after errors
    tap(rank, comm_max_int(rc != 0, w) == 0, "good_call_after_errors", rc ? err : NULL);
    free(X);
    return 0;
}

// Rank 0: singular values, sign-fixed V and Y = X V against LAPACK dgesvd on the whole matrix (TAP lines).
static void compare_with_lapack(const double *X, long n, int d, int r, const double *sv, const double *V,
                                const double *Yall) {
    char det[256];
    double *rsv = malloc(r * sizeof *rsv), *rV = malloc((size_t)d * r * sizeof *rV);
    int info = reference(X, n, d, r, rsv, rV);
    double esv = 0, eV = 0, eY = 0;
    for (int k = 0; k < r; k++) esv = fmax(esv, fabs(sv[k] - rsv[k]) / rsv[k]);
    for (int i = 0; i < d * r; i++) eV = fmax(eV, fabs(V[i] - rV[i]));
    for (long i = 0; i < n; i++)
        for (int k = 0; k < r; k++) {
            double y = 0;
            for (int j = 0; j < d; j++) y += X[i * d + j] * rV[(size_t)j * r + k];
            eY = fmax(eY, fabs(Yall[i * r + k] - y));
        }
    snprintf(det, sizeof det, "max rel err %.2e (s1 = %.6g, s%d = %.6g), dgesvd info %d", esv, sv[0], r, sv[r - 1], info);
    tap(0, info == 0 && esv <= 1e-10, "singular_values_match_lapack", det);
    snprintf(det, sizeof det, "max |dV| %.2e", eV);
    tap(0, eV <= 1e-8, "V_columns_match_lapack_sign_fixed", det);
    snprintf(det, sizeof det, "max |dY| %.2e vs s1 %.3g", eY, sv[0]);
    tap(0, eY <= 1e-9 * sv[0], "Y_is_X_V", det);
    free(rsv); free(rV);
}

int main(int argc, char **argv)
{
    MPI_Comm w;
    int rank, size;
    comm_init(&argc, &argv, &w, &rank, &size);
    if (argc == 2 && !strcmp(argv[1], "bad")) {
        bad_inputs(w, rank, size);
        comm_finalize();
        return fails ? 1 : 0;
    }
    if (argc < 6) { if (!rank) fprintf(stderr, "usage: pca_check N D R NB PR [SEED] | bad\n"); comm_finalize(); return 2; }
    long n = atol(argv[1]), first, cnt;
    int d = atoi(argv[2]), r = atoi(argv[3]), nb = atoi(argv[4]), pr = atoi(argv[5]);
    uint64_t seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 42;
    comm_split_range(n, size, rank, &first, &cnt);
    double *X = malloc((size_t)n * d * sizeof *X);
    make_matrix(n, d, seed, X);
    double *sv = malloc(r * sizeof *sv), *V = malloc((size_t)d * r * sizeof *V);
    double *sv2 = malloc(r * sizeof *sv), *V2 = malloc((size_t)d * r * sizeof *V), *V0 = malloc((size_t)d * r * sizeof *V);
    double *Y = malloc(((size_t)cnt * r + 1) * sizeof *Y), *Y2 = malloc(((size_t)cnt * r + 1) * sizeof *Y);
    char err[512] = "", name[128], det[256];
    int gpr = pr, gpc;
    if (pr == 0) pca_grid_shape(size, &gpr, &gpc); else gpc = size / pr;
    snprintf(name, sizeof name, "grid%dx%d_n%ld_d%d_r%d_nb%d", gpr, gpc, n, d, r, nb);
    double t0 = comm_now();
    int route = getenv("PCA_ROUTE") ? atoi(getenv("PCA_ROUTE")) : PCA_GRAM_AUTO;   // tests run both Gram routes
    int rc = pca_top_route(w, X + first * d, cnt, n, d, r, nb, pr, route, sv, V, Y, err, sizeof err);
    double dt = comm_now() - t0;
    snprintf(det, sizeof det, "%s", err);
    tap(rank, rc == 0, name, rc ? det : NULL);
    if (rc) { comm_finalize(); return 1; }
    // V the same on every rank (bitwise).
    memcpy(V0, V, (size_t)d * r * sizeof *V);
    comm_bcast(V0, (size_t)d * r * sizeof *V0, 0, w);
    tap(rank, comm_max_int(memcmp(V0, V, (size_t)d * r * sizeof *V) != 0, w) == 0, "V_identical_on_every_rank", NULL);
    int same = 1;
    for (int rep = 0; rep < 3; rep++) {   // three reruns: a summation order that varies shows within a few calls
        rc = pca_top_route(w, X + first * d, cnt, n, d, r, nb, pr, route, sv2, V2, Y2, err, sizeof err);
        same &= rc == 0 && !memcmp(sv, sv2, r * sizeof *sv) && !memcmp(V, V2, (size_t)d * r * sizeof *V) &&
                !memcmp(Y, Y2, (size_t)cnt * r * sizeof *Y);
    }
    tap(rank, comm_max_int(!same, w) == 0, "rerun_bit_identical", NULL);
    // Y gathered at rank 0 (rank order = row order).
    int *counts = malloc(size * sizeof *counts), mine = (int)(cnt * r);
    comm_gather_ints(&mine, 1, counts, w);
    double *Yall = rank == 0 ? malloc((size_t)n * r * sizeof *Yall) : NULL;
    comm_gatherv(Y, mine, sizeof(double), Yall, counts, w);
    uint64_t h = hash_bytes(1469598103934665603ULL, sv, r * sizeof *sv);
    h = hash_bytes(h, V, (size_t)d * r * sizeof *V);
    if (rank == 0) {
        h = hash_bytes(h, Yall, (size_t)n * r * sizeof *Yall);
        compare_with_lapack(X, n, d, r, sv, V, Yall);
        printf("# hash %016llx time %.4f s\n", (unsigned long long)h, dt);
        free(Yall);
    }
    free(counts); free(X); free(sv); free(V); free(sv2); free(V2); free(V0); free(Y); free(Y2);
    comm_finalize();
    return fails ? 1 : 0;
}
