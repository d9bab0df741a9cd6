// guards.h — what keeps a training run from being lost or doing harm: preemption signals, the step timeout,
// the walltime budget, free disk space, and the lock that keeps two runs out of one run.out_dir.
#ifndef PGRPO_GUARDS_H
#define PGRPO_GUARDS_H
#include "comm.h"

// From here on SIGTERM, SIGUSR1 and SIGINT mean "finish the step, checkpoint, exit 75" (guards_stop_requested);
// a second SIGTERM or SIGINT ends the process at once (killed by that signal; the last checkpoint stays valid).
void guards_install_signals(void);
// Nonzero once a stop signal arrived on this rank.
int guards_stop_requested(void);

// Arms (seconds > 0) or disarms (0) the backstop against a hang: a step that outlives run.step_timeout ends the
// process with a message (the launcher then stops the other ranks).
void guards_step_timeout(unsigned seconds);

// Whether another step of the average length plus a checkpoint still fits in max_wall seconds (0: no limit).
int guards_walltime_left(double max_wall, double elapsed, double steps_time, int steps_done);

// Free space (MiB) in the folder holding path; a huge value when unknown (the write itself will then report).
double guards_free_mib(const char *path);

// Takes the run lock out_dir/pgrpo.lock on every rank of world (collective; rank = this rank in world). Refuses, with one line naming the
// folder and the other run's pid and host, when any process holds a lock there: another run, or the ranks of a
// killed mpirun that are still alive. The lock is held until the process ends. Idempotent.
void guards_lock_out_dir(const char *out_dir, int rank, MPI_Comm world);

#endif
