// spectral_check — spectral_embed_solver (NJW embedding: ScaLAPACK pdsyevr or block Krylov) against LAPACK
// dsyevd on the whole normalised affinity built serially on rank 0.
// Usage: mpirun -np P spectral_check N R M NB PR SOLVER [GAMMA] [SEED]
//          (PR = grid rows, 0 = the most square grid; SOLVER = krylov | dense; GAMMA <= 0: automatic)
//        mpirun -np P spectral_check bad     (argument errors: one agreed line each; spectral_normalise_rows)
//        mpirun -np P spectral_check cluster FILE K GAMMA krylov|dense|si REPS
//          (the NJW pipeline on FILE: int64 n, int64 r, then n × r float64, little-endian; spectral_embed with m = K,
//          spectral_normalise_rows, kmeans_fit_mpi (K clusters, n_init 10, max_iter 300, tol 1e-4, seed 0); also
//          kmeans_fit_mpi on Y itself. Writes FILE.spectral and FILE.kmeans (one label a line) and prints
//          "# gamma G", "# time median T s (REPS runs: ...)" of the whole spectral path, "# eigvals ...".)
// Builds the same seeded N × R points on every rank (four overlapping Gaussian blobs of different sizes, so the
// top eigenvalues are distinct and the eigenvectors defined up to sign), hands each rank its comm_split_range
// rows, and on rank 0 compares the eigenvalues (1e-10 relative) and the sign-fixed eigenvectors (1e-7, the
// smallest eigengap printed) with LAPACK. Also: eigenvalues and gamma identical on every rank, two reruns
// bit-identical, a "# hash" line of eigenvalues, U and gamma so a script can compare two launches, and the
// Krylov paths' agreement with the dense one (SOLVER = krylov or si). Prints TAP lines; exits 1 when a check fails.
#include "comm.h"
#include "kmeans_mpi.h"
#include "pca.h"
#include "rng.h"
#include "spectral.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info);

static int fails;
static void tap(int rank, int pass, const char *name, const char *detail)
{
    if (rank != 0) return;
    printf("%s - %s%s%s\n", pass ? "ok" : "not ok", name, detail && detail[0] ? " # " : "", detail ? detail : "");
    if (!pass) fails++;
}

static void make_points(long n, int r, uint64_t seed, double *Y)
{
    const double scale[4] = {0.6, 0.9, 1.2, 0.75};
    Rng g;
    rng_seed(&g, seed, RNG_TEST, 0, 0);
    double C[4][64];
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < r && j < 64; j++) C[k][j] = 3.0 * (rng_uniform(&g) - 0.5);
    for (long i = 0; i < n; i++) {
        int k = (int)(rng_next(&g) % 4);
        for (int j = 0; j < r; j++) Y[i * r + j] = C[k][j % 64] + scale[k] * rng_normal(&g);
    }
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

// Rank 0: the whole L (plain loops, independent of spectral.c), all its eigenpairs by dsyevd; the top m
// eigenvalues descending into ev, sign-fixed vectors into V (n × m row-major), the smallest gap between the
// top m + 1 eigenvalues into *gap. Returns dsyevd's info.
static int reference(const double *Y, long n, int r, double gamma, int m, double *ev, double *V, double *gap)
{
    int nn = (int)n, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double *L = calloc((size_t)n * n, sizeof *L), *d = calloc(n, sizeof *d), *w = malloc(n * sizeof *w), wq;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            if (i == j) continue;
            double s = 0;
            for (int k = 0; k < r; k++) s += (Y[i * r + k] - Y[j * r + k]) * (Y[i * r + k] - Y[j * r + k]);
            L[i + j * n] = exp(-gamma * s);
            d[i] += L[i + j * n];
        }
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) L[i + j * n] /= sqrt(d[i]) * sqrt(d[j]);
    dsyevd_("V", "L", &nn, L, &nn, w, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    dsyevd_("V", "L", &nn, L, &nn, w, work, &lwork, iwork, &liwork, &info);
    *gap = 1e300;
    for (int k = 0; k < m; k++) {
        ev[k] = w[n - 1 - k];
        if (n - 2 - k >= 0) *gap = fmin(*gap, w[n - 1 - k] - w[n - 2 - k]);
        const double *col = L + (size_t)(n - 1 - k) * n;
        long best = 0;
        for (long i = 1; i < n; i++)
            if (fabs(col[i]) > fabs(col[best])) best = i;
        double sg = col[best] < 0 ? -1 : 1;
        for (long i = 0; i < n; i++) V[i * m + k] = sg * col[i];
    }
    free(L); free(d); free(w); free(work); free(iwork);
    return info;
}

// One call's outputs: eigenvalues, this rank's rows of U, gamma.
typedef struct { double *ev, *U, gamma; } Out;

static int run(MPI_Comm w, const double *Yl, long cnt, long n, int r, double gamma, int m, int nb, int pr, int solver,
               Out *o, char *err)
{
    return spectral_embed_solver(w, Yl, cnt, n, r, gamma, m, nb, pr, solver, o->ev, o->U, &o->gamma, err, 512);
}

static int same(const Out *a, const Out *b, long cnt, int m)
{
    return !memcmp(a->ev, b->ev, m * sizeof *a->ev) && !memcmp(a->U, b->U, (size_t)cnt * m * sizeof *a->U) &&
           !memcmp(&a->gamma, &b->gamma, sizeof a->gamma);
}

// Rank 0: eigenvalues and gathered U against the reference (TAP lines).
static void compare_with_lapack(const double *Y, long n, int r, int m, const Out *o, const double *Uall)
{
    char det[256];
    double *ev = malloc(m * sizeof *ev), *V = malloc((size_t)n * m * sizeof *V), gap, eev = 0, eV = 0;
    int info = reference(Y, n, r, o->gamma, m, ev, V, &gap);
    for (int k = 0; k < m; k++) eev = fmax(eev, fabs(o->ev[k] - ev[k]) / fabs(ev[k]));
    for (long i = 0; i < n * m; i++) eV = fmax(eV, fabs(Uall[i] - V[i]));
    snprintf(det, sizeof det, "max rel err %.2e (l1 = %.6g, l%d = %.6g), dsyevd info %d", eev, o->ev[0], m,
             o->ev[m - 1], info);
    tap(0, info == 0 && eev <= 1e-10, "eigenvalues_match_lapack", det);
    snprintf(det, sizeof det, "max |dU| %.2e, smallest gap among the top %d: %.2e", eV, m + 1, gap);
    tap(0, eV <= 1e-7, "eigenvectors_match_lapack_sign_fixed", det);
    free(ev); free(V);
}

static int expect_error(MPI_Comm w, int rank, int rc, const char *err, const char *needle, const char *name)
{
    int agreed = comm_max_int(rc == 0, w) == 0;
    tap(rank, agreed && err[0] && !strchr(err, '\n') && strstr(err, "HINT") && strstr(err, needle), name, err);
    return 0;
}

static void bad_inputs(MPI_Comm w, int rank, int size)
{
    long n = 101, first, cnt;
    int r = 3, m = 4;
    comm_split_range(n, size, rank, &first, &cnt);
    double *Y = malloc((size_t)n * r * sizeof *Y), ev[8], *U = malloc((size_t)n * 8 * sizeof *U), g;
    make_points(n, r, 3, Y);
    char err[512] = "";
    int rc = spectral_embed(w, Y + first * r, cnt, n, r, 0.5, 0, 8, 0, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "m = 0", "bad_m_zero_one_line_error");
    err[0] = 0;
    rc = spectral_embed(w, Y + first * r, cnt, n, r, 0.5, (int)n + 1, 8, 0, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "1 <= m <= n", "bad_m_gt_n_one_line_error");
    err[0] = 0;
    rc = spectral_embed(w, Y + first * r, cnt, SPECTRAL_MAX_USERS + 1L, r, 0.5, m, 8, 0, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "groups.method", "bad_n_above_limit_names_key");
    err[0] = 0;
    rc = spectral_embed(w, Y + first * r, rank == 0 ? cnt - 1 : cnt, n, r, 0.5, m, 8, 0, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "sum to", "bad_n_local_mismatch_one_line_error");
    err[0] = 0;
    rc = spectral_embed(w, Y + first * r, cnt, n, r, NAN, m, 8, 0, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "gamma", "bad_gamma_nan_one_line_error");
    err[0] = 0;
    rc = spectral_embed(w, Y + first * r, cnt, n, r, 0.5, m, 8, size + 1, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "pr =", "bad_grid_rows_one_line_error");
    err[0] = 0;
    rc = spectral_embed_solver(w, Y + first * r, cnt, n, r, 0.5, m, 8, 0, 7, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "solver", "bad_solver_one_line_error");
    err[0] = 0;
    if (size > 1 && rank == size - 1) Y[(first + cnt - 1) * r] = NAN;    // only the last rank sees it
    else if (size == 1) Y[(n - 1) * r] = NAN;
    rc = spectral_embed(w, Y + first * r, cnt, n, r, 0.5, m, 8, 0, ev, U, &g, err, sizeof err);
    expect_error(w, rank, rc, err, "non-finite", "bad_nan_point_one_line_error");
    make_points(n, r, 3, Y);
    rc = spectral_embed(w, Y + first * r, cnt, n, r, 0.5, m, 8, 0, ev, U, &g, err, sizeof err);
    tap(rank, comm_max_int(rc != 0, w) == 0, "good_call_after_errors", rc ? err : NULL);
    // spectral_normalise_rows: unit rows over the first k columns, a zero row stays zero.
    double Uu[3 * 3] = {3, 4, 9, 0, 0, 5, -1, 0, 2}, Z[3 * 2];
    spectral_normalise_rows(Uu, 3, 3, 2, Z);
    tap(rank, fabs(Z[0] - 0.6) < 1e-15 && fabs(Z[1] - 0.8) < 1e-15 && Z[2] == 0 && Z[3] == 0 && Z[4] == -1 && Z[5] == 0,
        "normalise_rows_unit_and_zero_rows", NULL);
    free(Y); free(U);
}

// Launch: one solver on one grid; checks against LAPACK, across ranks, over reruns and (Krylov) against dense.
static void check_one(MPI_Comm w, int rank, int size, long n, int r, int m, int nb, int pr, int solver,
                      double gamma, uint64_t seed)
{
    long first, cnt;
    comm_split_range(n, size, rank, &first, &cnt);
    double *Y = malloc((size_t)n * r * sizeof *Y);
    make_points(n, r, seed, Y);
    Out o[2];
    for (int i = 0; i < 2; i++) { o[i].ev = malloc(m * sizeof(double)); o[i].U = malloc(((size_t)cnt * m + 1) * sizeof(double)); }
    char err[512] = "", name[160], det[256];
    int gpr = pr, gpc;
    if (pr == 0) pca_grid_shape(size, &gpr, &gpc); else gpc = size / pr;
    snprintf(name, sizeof name, "%s_grid%dx%d_n%ld_r%d_m%d_nb%d", solver == SPECTRAL_SOLVER_DENSE ? "dense" :
             solver == SPECTRAL_SOLVER_KRYLOV ? "krylov" : "shift_invert", gpr, gpc, n, r, m, nb);
    double t0 = comm_now();
    int rc = run(w, Y + first * r, cnt, n, r, gamma, m, nb, pr, solver, &o[0], err);
    double dt = comm_now() - t0;
    tap(rank, comm_max_int(rc != 0, w) == 0, name, rc ? err : NULL);
    if (comm_max_int(rc != 0, w)) { free(Y); return; }
    double ev0[64 + 1];
    memcpy(ev0, o[0].ev, m * sizeof *ev0);
    ev0[m] = o[0].gamma;
    comm_bcast(ev0, (m + 1) * sizeof *ev0, 0, w);
    tap(rank, comm_max_int(memcmp(ev0, o[0].ev, m * sizeof *ev0) || memcmp(ev0 + m, &o[0].gamma, sizeof *ev0), w) == 0,
        "eigenvalues_and_gamma_identical_on_every_rank", NULL);
    int ok = 1;
    for (int rep = 0; rep < 2; rep++) {   // a summation order that varies shows within a few calls
        rc = run(w, Y + first * r, cnt, n, r, gamma, m, nb, pr, solver, &o[1], err);
        ok &= rc == 0 && same(&o[0], &o[1], cnt, m);
    }
    tap(rank, comm_max_int(!ok, w) == 0, "rerun_bit_identical", NULL);
    if (solver != SPECTRAL_SOLVER_DENSE) {
        rc = run(w, Y + first * r, cnt, n, r, gamma, m, nb, pr, SPECTRAL_SOLVER_DENSE, &o[1], err);
        double e = 0;
        for (int k = 0; k < m; k++) e = fmax(e, fabs(o[1].ev[k] - o[0].ev[k]) / fabs(o[1].ev[k]));
        for (long i = 0; i < cnt * m; i++) e = fmax(e, fabs(o[1].U[i] - o[0].U[i]));
        comm_max_doubles(&e, 1, w);
        snprintf(det, sizeof det, "max diff %.2e", e);
        tap(rank, rc == 0 && e <= 1e-7, "matches_dense_path", det);
    }
    int *counts = malloc(size * sizeof *counts), mine = (int)(cnt * m);
    comm_gather_ints(&mine, 1, counts, w);
    double *Uall = rank == 0 ? malloc((size_t)n * m * sizeof *Uall) : NULL;
    comm_gatherv(o[0].U, mine, sizeof(double), Uall, counts, w);
    if (rank == 0) {
        uint64_t h = hash_bytes(1469598103934665603ULL, o[0].ev, m * sizeof(double));
        h = hash_bytes(hash_bytes(h, Uall, (size_t)n * m * sizeof *Uall), &o[0].gamma, sizeof o[0].gamma);
        compare_with_lapack(Y, n, r, m, &o[0], Uall);
        printf("# hash %016llx gamma %.6g time %.4f s\n", (unsigned long long)h, o[0].gamma, dt);
        free(Uall);
    }
    free(counts); free(Y);
    for (int i = 0; i < 2; i++) { free(o[i].ev); free(o[i].U); }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Reads FILE (int64 n, int64 r, n × r float64) on every rank. Returns the points (NULL on a bad file).
static double *read_points(const char *path, long *n, int *r)
{
    FILE *f = fopen(path, "rb");
    int64_t h[2];
    double *Y = NULL;
    if (f && fread(h, sizeof h[0], 2, f) == 2 && h[0] > 0 && h[1] > 0 && h[1] < 4096) {
        Y = malloc((size_t)h[0] * h[1] * sizeof *Y);
        if (Y && fread(Y, sizeof *Y, (size_t)h[0] * h[1], f) != (size_t)(h[0] * h[1])) { free(Y); Y = NULL; }
        *n = (long)h[0];
        *r = (int)h[1];
    }
    if (f) fclose(f);
    return Y;
}

// Gathers the labels at rank 0 and writes them, one a line, to path.
static void write_labels(MPI_Comm w, int rank, int size, const int *lab, long cnt, long n, const char *path)
{
    int *counts = malloc(size * sizeof *counts), mine = (int)cnt, *all = rank == 0 ? malloc(n * sizeof *all) : NULL;
    comm_gather_ints(&mine, 1, counts, w);
    comm_gatherv(lab, mine, sizeof *lab, all, counts, w);
    if (rank == 0) {
        FILE *f = fopen(path, "w");
        for (long i = 0; f && i < n; i++) fprintf(f, "%d\n", all[i]);
        if (f) fclose(f);
        free(all);
    }
    free(counts);
}

// The spectral path as the pipeline runs it (embedding, row normalisation, k-means on Z), timed REPS times.
static int cluster(MPI_Comm w, int rank, int size, const char *path, int k, double gamma, int solver, int reps)
{
    long n = 0, first, cnt;
    int r = 0;
    double *Y = read_points(path, &n, &r);
    if (comm_max_int(!Y, w)) { tap(rank, 0, "cluster_read_points", path); return 1; }
    comm_split_range(n, size, rank, &first, &cnt);
    double *ev = malloc(k * sizeof *ev), *U = malloc(((size_t)cnt * k + 1) * sizeof *U), g = 0, inertia;
    double *Z = malloc(((size_t)cnt * k + 1) * sizeof *Z), *C = malloc((size_t)k * (k > r ? k : r) * sizeof *C);
    double t[16];
    int *lab = malloc((cnt + 1) * sizeof *lab), rc = 0;
    char err[512] = "";
    for (int rep = 0; rep < reps && rep < 16 && rc == 0; rep++) {
        comm_barrier(w);
        double t0 = comm_now();
        rc = spectral_embed_solver(w, Y + first * r, cnt, n, r, gamma, k, 0, 0, solver, ev, U, &g, err, sizeof err);
        if (rc == 0) spectral_normalise_rows(U, cnt, k, k, Z);
        if (rc == 0) rc = kmeans_fit_mpi(w, Z, cnt, n, k, k, 10, 300, 1e-4, 0, lab, C, &inertia, err, sizeof err);
        comm_barrier(w);
        t[rep] = comm_now() - t0;
    }
    tap(rank, rc == 0, "cluster_spectral_path", rc ? err : NULL);
    if (rc) return 1;
    char out[1024];
    snprintf(out, sizeof out, "%s.spectral", path);
    write_labels(w, rank, size, lab, cnt, n, out);
    rc = kmeans_fit_mpi(w, Y + first * r, cnt, n, r, k, 10, 300, 1e-4, 0, lab, C, &inertia, err, sizeof err);
    tap(rank, rc == 0, "cluster_kmeans_on_Y", rc ? err : NULL);
    snprintf(out, sizeof out, "%s.kmeans", path);
    if (rc == 0) write_labels(w, rank, size, lab, cnt, n, out);
    if (rank == 0) {
        int nr = reps < 16 ? reps : 16;
        double s[16];
        memcpy(s, t, nr * sizeof *s);
        qsort(s, nr, sizeof *s, cmp_double);
        printf("# gamma %.17g\n# time median %.4f s (%d runs:", g, s[nr / 2], nr);
        for (int i = 0; i < nr; i++) printf(" %.4f", t[i]);
        printf(")\n# eigvals");
        for (int i = 0; i < k; i++) printf(" %.10f", ev[i]);
        printf("\n");
    }
    free(Y); free(ev); free(U); free(Z); free(C); free(lab);
    return rc ? 1 : 0;
}

static int solver_arg(const char *s)
{
    return !strcmp(s, "dense") ? SPECTRAL_SOLVER_DENSE : !strcmp(s, "si") ? SPECTRAL_SOLVER_SHIFT_INVERT : SPECTRAL_SOLVER_KRYLOV;
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
    if (argc == 7 && !strcmp(argv[1], "cluster")) {
        int rc = cluster(w, rank, size, argv[2], atoi(argv[3]), atof(argv[4]),
                         solver_arg(argv[5]), atoi(argv[6]));
        comm_finalize();
        return rc || fails ? 1 : 0;
    }
    if (argc < 7 || atoi(argv[3]) < 1 || atoi(argv[3]) > 64) {
        if (!rank) fprintf(stderr, "usage: spectral_check N R M(1..64) NB PR krylov|dense|si [GAMMA] [SEED] | bad\n");
        comm_finalize();
        return 2;
    }
    int solver = solver_arg(argv[6]);
    check_one(w, rank, size, atol(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), solver,
              argc > 7 ? atof(argv[7]) : 0.0, argc > 8 ? strtoull(argv[8], NULL, 10) : 42);
    comm_finalize();
    return fails ? 1 : 0;
}
