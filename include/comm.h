// comm.h — the MPI layer: start/stop, role split, and the collectives named by what they are for (callers above
// src/par make no MPI_* call themselves). Trajectory and weight transfer: transfer.h.
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
    int in_wsync;          // this rank is in wsync (learner 0 speaks for the learners)
    int n_learners, learner_rank;  // learner_rank = -1 on rollout-only ranks
    int n_rollouts, rollout_rank;  // rollout_rank = -1 on learner-only ranks
} Roles;

// MPI_Init, and from then on a fatal error (die_user, out of memory) ends the whole job with MPI_Abort after its
// message instead of exit(): no collective runs at exit, so one failing rank cannot hang the others.
void comm_init(int *argc, char ***argv, MPI_Comm *world, int *rank, int *size);
// MPI_Finalize (fatal errors exit() again afterwards).
void comm_finalize(void);

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

// Named collectives over comm (every rank of comm calls them, in the same order).
void comm_sum_doubles(double *v, int n, MPI_Comm comm);   // in place, elementwise sum
void comm_max_doubles(double *v, int n, MPI_Comm comm);   // in place, elementwise max
int comm_max_int(int v, MPI_Comm comm);                   // the largest v (e.g. "does any rank want to stop?")
void comm_bcast(void *buf, size_t bytes, int root, MPI_Comm comm);
void comm_barrier(MPI_Comm comm);
// Every rank's `bytes` of `mine`, in rank order, into all (size * bytes).
void comm_allgather(const void *mine, size_t bytes, void *all, MPI_Comm comm);
// n ints from every rank, in rank order, into all (size * n) at rank 0.
void comm_gather_ints(const int *mine, int n, int *all, MPI_Comm comm);
// Rank-ordered concatenation at rank 0: counts[r] elements of elem bytes from rank r (counts, all: rank 0 only).
void comm_gatherv(const void *mine, int n, size_t elem, void *all, const int *counts, MPI_Comm comm);

// In-place elementwise sum in a FIXED order, so the same ranks give the same bits on every run (MPI_Allreduce's
// reduction tree is not guaranteed repeatable): rank 0 gathers every rank's v, adds them in rank order
// (((v0 + v1) + v2) + ...) and broadcasts the result. scratch: size * n doubles, needed at rank 0 only (may be
// NULL elsewhere); the caller owns it so a loop calling this allocates nothing.
void comm_sum_doubles_ordered(double *v, int n, double *scratch, MPI_Comm comm);

// Wall clock in seconds.
double comm_now(void);

#endif
