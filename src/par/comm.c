// comm.c — MPI roles and collectives (see comm.h).
#include "comm.h"
#include "check.h"
#include <time.h>

double comm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void comm_split_range(long n, int p, int i, long *first, long *count) {
    long base = n / p, rem = n % p;
    *count = base + (i < rem);
    *first = i * base + (i < rem ? i : rem);
}

void comm_roles_init(Roles *r, MPI_Comm world, int n_rollout_only) {
    r->world = world;
    MPI_Comm_rank(world, &r->rank);
    MPI_Comm_size(world, &r->size);
    r->n_rollout_only = n_rollout_only;
    int n_learn = r->size - n_rollout_only;
    CHECK(n_learn >= 1, "no learner ranks");
    r->is_learner = r->rank < n_learn;
    r->is_rollout = n_rollout_only == 0 || !r->is_learner;
    MPI_Comm_split(world, r->is_learner ? 0 : MPI_UNDEFINED, r->rank, &r->learners);
    MPI_Comm_split(world, r->is_rollout ? 0 : MPI_UNDEFINED, r->rank, &r->rollouts);
    r->wsync = MPI_COMM_NULL;
    if (n_rollout_only > 0)
        MPI_Comm_split(world, (r->rank == 0 || !r->is_learner) ? 0 : MPI_UNDEFINED, r->rank, &r->wsync);
    r->n_learners = n_learn;
    r->learner_rank = r->is_learner ? r->rank : -1;
    r->n_rollouts = n_rollout_only ? n_rollout_only : r->size;
    r->rollout_rank = !r->is_rollout ? -1 : (n_rollout_only ? r->rank - n_learn : r->rank);
}

void comm_roles_free(Roles *r) {
    if (r->learners != MPI_COMM_NULL) MPI_Comm_free(&r->learners);
    if (r->rollouts != MPI_COMM_NULL) MPI_Comm_free(&r->rollouts);
    if (r->wsync != MPI_COMM_NULL) MPI_Comm_free(&r->wsync);
}

void comm_allreduce_sum(float *buf, size_t n, MPI_Comm comm) {
    // Buckets bound the message size (and the transport's temporary buffers) for large models.
    const size_t bucket = (size_t)1 << 22;
    for (size_t off = 0; off < n; off += bucket) {
        size_t m = n - off < bucket ? n - off : bucket;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)m, MPI_FLOAT, MPI_SUM, comm);
    }
}

double comm_bcast_timed(void *buf, size_t bytes, int root, MPI_Comm comm, double timeout_s, const char *what) {
    double t0 = comm_now();
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; off < bytes; off += chunk) {
        size_t m = bytes - off < chunk ? bytes - off : chunk;
        MPI_Request req;
        MPI_Ibcast((char *)buf + off, (int)m, MPI_BYTE, root, comm, &req);
        int done = 0;
        while (!done) {
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (done) break;
            if (comm_now() - t0 > timeout_s) {
                int rank;
                MPI_Comm_rank(comm, &rank);
                fprintf(stderr, "pgrpo: error: %s broadcast (%zu bytes) did not complete within %.0f s on rank %d "
                        "(HINT: a rank has died or hangs; check the other ranks' output and the node's health)\n",
                        what, bytes, timeout_s, rank);
                MPI_Abort(MPI_COMM_WORLD, EXIT_RUNTIME);
            }
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
    return comm_now() - t0;
}
