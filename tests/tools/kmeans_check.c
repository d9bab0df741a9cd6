// kmeans_check — kmeans_fit_mpi (src/par/kmeans_mpi.c) against kmeans_fit_serial on one rank.
// Usage: mpirun -np P kmeans_check N D K N_INIT SPLIT DATA [SEED]
//          SPLIT: even (comm_split_range) | uneven (rank r's share grows with r) | zero (rank 1 holds no rows)
//          DATA:  blobs (K seeded Gaussian blobs) | dup (only 3 distinct rows, K > 3: k-means++ falls back to
//                 uniform draws, duplicate centres leave clusters empty and the far-row re-seed runs)
//        mpirun -np P kmeans_check bad     (bad inputs: the same one-line error on every rank, no hang)
// Every rank builds the same seeded N × D matrix and keeps its SPLIT rows. Rank 0 also fits the whole matrix
// serially and compares: labels identical and ARI 1, centroids within 1e-10, inertia within 1e-10 relative
// (bit-identical on one rank). Also: centroids/inertia identical on every rank, a rerun bit-identical, and a
// "# hash" line of labels, centroids and inertia so a script can compare two launches. TAP; exit 1 on a failure.
#include "cluster_metrics.h"
#include "comm.h"
#include "kmeans.h"
#include "kmeans_mpi.h"
#include "rng.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;
static void tap(int rank, int pass, const char *name, const char *detail)
{
    if (rank != 0) return;
    printf("%s - %s%s%s\n", pass ? "ok" : "not ok", name, detail ? " # " : "", detail ? detail : "");
    if (!pass) fails++;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

// Blobs: K centres uniform in [-10,10]^D, rows N(centre, 1) with centre i % K. dup: rows cycle over 3 points.
static void make_matrix(long n, int d, int k, int dup, uint64_t seed, double *X)
{
    Rng g;
    rng_seed(&g, seed, RNG_TEST, 0, 0);
    double *M = malloc(sizeof *M * (size_t)k * d);
    for (long i = 0; i < (long)k * d; i++) M[i] = 20.0 * rng_uniform(&g) - 10.0;
    for (long i = 0; i < n; i++)
        for (int t = 0; t < d; t++)
            X[i * d + t] = dup ? (double)((i % 3) * 5 + t) : M[(i % k) * d + t] + rng_normal(&g);
    free(M);
}

// This rank's rows [*first, *first + *count) under SPLIT.
static void split_rows(const char *how, long n, int size, int rank, long *first, long *count)
{
    if (!strcmp(how, "uneven")) {   // cumulative shares (r+1)/T with T = size(size+1)/2
        long T = (long)size * (size + 1) / 2, a = 0, b = 0;
        for (int r = 0; r <= rank; r++) { a = b; b = n * ((long)(r + 1) * (r + 2) / 2) / T; }
        *first = a; *count = b - a;
    } else if (!strcmp(how, "zero") && size > 1) {   // rank 1 empty, the rest split over the others
        int part = rank == 0 ? 0 : rank - 1;
        if (rank == 1) { comm_split_range(n, size - 1, 0, first, count); *first += *count; *count = 0; return; }
        comm_split_range(n, size - 1, part, first, count);
    } else
        comm_split_range(n, size, rank, first, count);
}

// The same call with one input spoiled: -1 and the same one-line error with HINT on every rank.
static void expect_error(MPI_Comm w, int rank, const char *name, const char *needle, int rc, const char *err)
{
    char all0[512] = "";
    if (rank == 0) snprintf(all0, sizeof all0, "%s", err);
    comm_bcast(all0, sizeof all0, 0, w);
    int bad = rc != -1 || strcmp(all0, err) != 0;
    bad = comm_max_int(bad, w);
    tap(rank, !bad && err[0] && !strchr(err, '\n') && strstr(err, "HINT") && strstr(err, needle), name, err);
}

static void bad_inputs(MPI_Comm w, int rank, int size)
{
    long n = 50, first, count;
    int d = 3, k = 4;
    comm_split_range(n, size, rank, &first, &count);
    double *X = malloc(sizeof *X * (size_t)n * d), C[64], in;
    int lab[64];
    char err[512];
    make_matrix(n, d, k, 0, 3, X);
    const double *Xl = X + first * d;
    int rc;
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n, d, 51, 1, 10, 1e-4, 1, lab, C, &in, err, sizeof err);
    expect_error(w, rank, "bad_k_gt_n_one_line_error", "k=51", rc, err);
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n, d, 0, 1, 10, 1e-4, 1, lab, C, &in, err, sizeof err);
    expect_error(w, rank, "bad_k_zero_one_line_error", "k=0", rc, err);
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n, d, k, 1, 10, NAN, 1, lab, C, &in, err, sizeof err);
    expect_error(w, rank, "bad_tol_nan_one_line_error", "tol=nan", rc, err);
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n + 1, d, k, 1, 10, 1e-4, 1, lab, C, &in, err, sizeof err);
    expect_error(w, rank, "bad_n_local_sum_one_line_error", "sum to 50", rc, err);
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n, d, rank == size - 1 ? k + 1 : k, 1, 10, 1e-4, 1, lab, C, &in, err, sizeof err);
    if (size > 1) expect_error(w, rank, "bad_args_differ_between_ranks_one_line_error", "different arguments", rc, err);
    X[(n - 2) * d + 1] = NAN;   // a row on the last rank only: every rank must still refuse
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n, d, k, 1, 10, 1e-4, 1, lab, C, &in, err, sizeof err);
    expect_error(w, rank, "bad_nan_in_last_rank_rows_one_line_error", "row 48 column 1", rc, err);
    // after the refusals the communicator is still usable: a good call works
    X[(n - 2) * d + 1] = 0.0;
    err[0] = 0; rc = kmeans_fit_mpi(w, Xl, count, n, d, k, 1, 10, 1e-4, 1, lab, C, &in, err, sizeof err);
    tap(rank, comm_max_int(rc != 0, w) == 0, "bad_then_good_call_succeeds", err[0] ? err : NULL);
    free(X);
}

// Rank 0: serial reference on the whole matrix against the gathered distributed labels.
static void compare_serial(int rank, int size, const double *X, long n, int d, int k, int n_init, uint64_t seed,
                           const int *lab_all, const double *C, double in)
{
    if (rank != 0) return;
    int *ls = malloc(sizeof *ls * (size_t)n);
    double *Cs = malloc(sizeof *Cs * (size_t)k * d), ins = 0, ari = 0, dc = 0;
    char err[512] = "", msg[160];
    int rc = kmeans_fit_serial(X, n, d, k, n_init, 300, 1e-4, seed, ls, Cs, &ins, err, sizeof err);
    tap(rank, rc == 0, "serial_reference_runs", rc ? err : NULL);
    if (rc) { free(ls); free(Cs); return; }
    long diff = 0;
    for (long i = 0; i < n; i++) diff += ls[i] != lab_all[i];
    snprintf(msg, sizeof msg, "%ld of %ld differ", diff, n);
    tap(rank, diff == 0, "labels_identical_to_serial", msg);
    rc = cluster_ari(ls, lab_all, n, k, k, &ari, err, sizeof err);
    snprintf(msg, sizeof msg, "ARI %.17g", ari);
    tap(rank, rc == 0 && ari == 1.0, "ari_vs_serial_is_1", msg);
    for (long i = 0; i < (long)k * d; i++) dc = fmax(dc, fabs(Cs[i] - C[i]));
    snprintf(msg, sizeof msg, "max |dC| %.3g", dc);
    tap(rank, dc <= 1e-10, "centroids_match_serial_1e-10", msg);
    snprintf(msg, sizeof msg, "inertia %.17g serial %.17g", in, ins);
    tap(rank, fabs(in - ins) <= 1e-10 * fabs(ins), "inertia_matches_serial_1e-10_rel", msg);
    if (size == 1) {
        int same = !memcmp(ls, lab_all, sizeof *ls * (size_t)n) && !memcmp(Cs, C, sizeof *C * (size_t)k * d) &&
                   !memcmp(&ins, &in, sizeof in);
        tap(rank, same, "one_rank_bit_identical_to_serial", NULL);
    }
    free(ls); free(Cs);
}

static int run(MPI_Comm w, int rank, int size, int argc, char **argv)
{
    long n = atol(argv[1]), first, count;
    int d = atoi(argv[2]), k = atoi(argv[3]), n_init = atoi(argv[4]);
    const char *how = argv[5];
    int dup = !strcmp(argv[6], "dup");
    uint64_t seed = argc > 7 ? strtoull(argv[7], NULL, 10) : 11;
    double *X = malloc(sizeof *X * (size_t)n * d), *C = malloc(sizeof *C * (size_t)k * d),
           *C2 = malloc(sizeof *C2 * (size_t)k * d), *C0 = malloc(sizeof *C0 * (size_t)k * d), in = 0, in2 = 0;
    make_matrix(n, d, k, dup, seed, X);
    split_rows(how, n, size, rank, &first, &count);
    int *lab = malloc(sizeof *lab * (size_t)(count ? count : 1)), *lab2 = malloc(sizeof *lab2 * (size_t)(count ? count : 1));
    int *counts = malloc(sizeof *counts * (size_t)size), *lab_all = malloc(sizeof *lab_all * (size_t)n), ic = (int)count;
    char err[512] = "";
    double t0 = comm_now();
    int rc = kmeans_fit_mpi(w, X + first * d, count, n, d, k, n_init, 300, 1e-4, seed, lab, C, &in, err, sizeof err);
    double dt = comm_now() - t0;
    rc = comm_max_int(rc != 0, w);
    tap(rank, rc == 0, "kmeans_fit_mpi_runs", rc ? err : NULL);
    if (rc) return 1;
    comm_gather_ints(&ic, 1, counts, w);
    comm_gatherv(lab, ic, sizeof *lab, lab_all, counts, w);
    compare_serial(rank, size, X, n, d, k, n_init, seed, lab_all, C, in);
    // the same C and inertia bits on every rank
    memcpy(C0, C, sizeof *C * (size_t)k * d);
    double in0 = in;
    comm_bcast(C0, sizeof *C0 * (size_t)k * d, 0, w);
    comm_bcast(&in0, sizeof in0, 0, w);
    int differ = memcmp(C0, C, sizeof *C * (size_t)k * d) || memcmp(&in0, &in, sizeof in);
    tap(rank, comm_max_int(differ, w) == 0, "centroids_inertia_identical_on_every_rank", NULL);
    rc = kmeans_fit_mpi(w, X + first * d, count, n, d, k, n_init, 300, 1e-4, seed, lab2, C2, &in2, err, sizeof err);
    differ = rc != 0 || memcmp(lab, lab2, sizeof *lab * (size_t)count) || memcmp(C, C2, sizeof *C * (size_t)k * d) ||
             memcmp(&in, &in2, sizeof in);
    tap(rank, comm_max_int(differ, w) == 0, "rerun_bit_identical", NULL);
    if (rank == 0) {
        uint64_t h = hash_bytes(1469598103934665603ULL, lab_all, sizeof *lab_all * (size_t)n);
        h = hash_bytes(h, C, sizeof *C * (size_t)k * d);
        h = hash_bytes(h, &in, sizeof in);
        printf("# hash %016llx time %.4f s inertia %.17g\n", (unsigned long long)h, dt, in);
    }
    free(X); free(C); free(C2); free(C0); free(lab); free(lab2); free(counts); free(lab_all);
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    MPI_Comm w;
    int rank, size, rc = 0;
    comm_init(&argc, &argv, &w, &rank, &size);
    if (argc == 2 && !strcmp(argv[1], "bad")) bad_inputs(w, rank, size);
    else if (argc < 7) {
        if (!rank) fprintf(stderr, "usage: kmeans_check N D K N_INIT even|uneven|zero blobs|dup [SEED] | bad\n");
        comm_finalize();
        return 2;
    } else rc = run(w, rank, size, argc, argv);
    comm_finalize();
    return rc || fails ? 1 : 0;
}
