// comm.c — MPI roles and collectives (see comm.h).
#include "comm.h"
#include "check.h"
#include <time.h>
#include <unistd.h>

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
    r->in_wsync = r->wsync != MPI_COMM_NULL;
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

static void abort_job(int code) {
    // The message is out (die_user printed it); ending every rank now is the point, and mpirun then exits with
    // `code` (Open MPI adds its own MPI_ABORT banner). Alone, a plain exit cannot hang and prints nothing more.
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1) exit(code);
    MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

void comm_init(int *argc, char ***argv, MPI_Comm *world, int *rank, int *size) {
    MPI_Init(argc, argv);
    *world = MPI_COMM_WORLD;
    MPI_Comm_rank(*world, rank);
    MPI_Comm_size(*world, size);
    check_set_fatal_hook(abort_job);
}

void comm_finalize(void) {
    check_set_fatal_hook(NULL);
    MPI_Finalize();
}

void comm_sum_doubles(double *v, int n, MPI_Comm comm) { MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm); }
void comm_max_doubles(double *v, int n, MPI_Comm comm) { MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_MAX, comm); }

int comm_max_int(int v, MPI_Comm comm) {
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, comm);
    return v;
}

void comm_bcast(void *buf, size_t bytes, int root, MPI_Comm comm) {
    CHECK(bytes <= (size_t)1 << 30, "comm_bcast of %zu bytes: use comm_bcast_timed", bytes);
    MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, comm);
}

void comm_barrier(MPI_Comm comm) { MPI_Barrier(comm); }

void comm_sum_doubles_ordered(double *v, int n, double *scratch, MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (size == 1) return;
    MPI_Gather(v, n, MPI_DOUBLE, scratch, n, MPI_DOUBLE, 0, comm);
    if (rank == 0)
        for (int r = 1; r < size; r++)
            for (int i = 0; i < n; i++) v[i] += scratch[(size_t)r * n + i];
    MPI_Bcast(v, n, MPI_DOUBLE, 0, comm);
}

void comm_allgather(const void *mine, size_t bytes, void *all, MPI_Comm comm) {
    MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, comm);
}

void comm_gather_ints(const int *mine, int n, int *all, MPI_Comm comm) {
    MPI_Gather(mine, n, MPI_INT, all, n, MPI_INT, 0, comm);
}

void comm_gatherv(const void *mine, int n, size_t elem, void *all, const int *counts, MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int *bc = NULL, *displ = NULL;
    if (rank == 0) {   // element counts -> byte counts and offsets (sized by the communicator, at the root only)
        bc = xcalloc((size_t)size, sizeof(int));
        displ = xcalloc((size_t)size, sizeof(int));
        for (int r = 0, off = 0; r < size; r++) { bc[r] = counts[r] * (int)elem; displ[r] = off; off += bc[r]; }
    }
    MPI_Gatherv(mine, n * (int)elem, MPI_BYTE, all, bc, displ, MPI_BYTE, 0, comm);
    free(bc);
    free(displ);
}
