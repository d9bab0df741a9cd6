// comm.h — the MPI layer: role split, bucketed gradient allreduce, timed weight broadcast.
// Only this module, the store and the command drivers include mpi.h.
#ifndef PGRPO_COMM_H
#define PGRPO_COMM_H
#include <mpi.h>
#include <stddef.h>

typedef struct {
    MPI_Comm world;
    int rank, size;        // in world
    int n_rollout_only;    // ranks that only sample (0 = colocated: every rank does both roles)
    int is_learner, is_rollout;
    MPI_Comm learners;     // learner ranks (MPI_COMM_NULL on rollout-only ranks)
    MPI_Comm rollouts;     // ranks that sample: everyone when colocated
    MPI_Comm wsync;        // learner 0 + rollout-only ranks, for the weight broadcast (root 0); NULL when colocated
    int n_learners, learner_rank;  // learner_rank = -1 on rollout-only ranks
    int n_rollouts, rollout_rank;  // rollout_rank = -1 on learner-only ranks
} Roles;

// Learners are world ranks [0, size - n_rollout_only); rollout-only ranks are the rest.
void comm_roles_init(Roles *r, MPI_Comm world, int n_rollout_only);
void comm_roles_free(Roles *r);

// Contiguous balanced split of n items over p parts: part i gets [*first, *first + *count).
void comm_split_range(long n, int p, int i, long *first, long *count);

// In-place sum over comm in buckets (bounded message size; same result on every rank).
void comm_allreduce_sum(float *buf, size_t n, MPI_Comm comm);

// Broadcast that fails loudly: if it has not completed after timeout_s, prints which transfer stalled
// and aborts the job (a rank that is gone must not hang the run). Returns the seconds it took.
double comm_bcast_timed(void *buf, size_t bytes, int root, MPI_Comm comm, double timeout_s, const char *what);

// Wall clock in seconds.
double comm_now(void);

#endif
