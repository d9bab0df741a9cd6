// kmeans_mpi.h — k-means++ then Lloyd over the ranks of a communicator (the driver of the kmeans.h stages).
// Part of the MPI layer (src/par): callers pass the communicator the rows are spread over.
#ifndef PGRPO_KMEANS_MPI_H
#define PGRPO_KMEANS_MPI_H
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

// k-means of the n × d matrix X whose rows are spread over the ranks of comm: this rank holds X_local, n_local
// consecutive rows (row-major, n_local × d) starting at global row row0 = the sum of the lower ranks' n_local
// (any split with every n_local >= 0 summing to n; comm_split_range's is the usual one).
//
// The same algorithm as kmeans_fit_serial (kmeans.h): n_init restarts of distributed k-means++ (one shared draw
// per centre: every rank's local D^2 sum is gathered, the owning rank picks the row and broadcasts it) then Lloyd
// (at most max_iter updates, tol scaled by the mean column variance), the lowest inertia kept (ties: earliest).
// Determinism: the Lloyd partials are summed with comm_sum_doubles_ordered (rank 0 adds them in rank order), so
// the same ranks with the same split give bit-identical labels, centroids and inertia on every run; on one rank
// the result is bit-identical to kmeans_fit_serial; on several ranks sums are associated differently, so
// centroids and inertia agree with the serial ones to rounding (labels identical unless a row is within rounding
// of two centres).
//
// Outputs: labels_local[n_local] (this rank's rows), centroids[k*d] and *inertia, identical on every rank.
// Returns 0, or -1 on EVERY rank with the same one-line err (HINT included) for: n_local < 0 or the n_local not
// summing to n, arguments that differ between ranks, k < 1, k > n, d < 1, n_init < 1, max_iter < 0, tol < 0 or
// NaN, a non-finite X entry (the lowest global row is named), out of memory. Errors are agreed before any further
// collective, so no rank is left waiting in one. Every rank of comm must call it.
int kmeans_fit_mpi(MPI_Comm comm, const double *X_local, long n_local, long n, int d, int k, int n_init,
                   int max_iter, double tol, uint64_t seed, int *labels_local, double *centroids, double *inertia,
                   char *err, size_t errlen);

#endif
