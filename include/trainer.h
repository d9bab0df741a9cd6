// trainer.h — `pgrpo train`: GRPO / Dr. GRPO / P-GRPO on MPI, as prolog (trainer_create), loop (trainer_run) and
// epilog (trainer_finish).
//
// Roles: learners are world ranks [0, W-R), rollout-only ranks the last R (train.rollout_ranks); R = 0 runs both
// roles on every rank. One step s (trainer.c: learner_step, the stages in order):
//   rollout   prompts (seed, s) sharded over rollout ranks -> G completions each (KV cache) -> rewards
//   transfer  each prompt's trajectories to the learner that owns it (balanced contiguous ranges)
//   update    per-group reward stats merged across learners in rank order -> advantages -> mu x minibatches of
//             clipped surrogate + k3 KL -> backward -> bucketed allreduce -> AdamW -> version s+1
//   reduce    the step's statistics summed/maxed over learners (and the free-space check)
//   write     the trajectories row (collective over learners)
//   stop?     any rank's stop signal, or the walltime budget
//   sync      learner 0 broadcasts {version, stop} + weights to rollout-only ranks; rollouts of step s+1 wait for
//             it (synchronous) or were already generated with version s (asynchronous, staleness 1)
//   record    learner 0: the metrics row and the log line
//   checkpoint every checkpoint.every steps and at the end (outputs flushed and snapshotted first)
#ifndef PGRPO_TRAINER_H
#define PGRPO_TRAINER_H
#include "app.h"

typedef struct Trainer Trainer;

// Reads the config, takes the out_dir lock, builds the SFT base when missing, loads the policy, sizes every
// per-step buffer, resumes from a checkpoint (a->resume) and opens the output files. Collective.
Trainer *trainer_create(App *a);
// Runs the steps from the resume point. Returns 0 when done, EXIT_PREEMPTED when stopped early after a checkpoint.
int trainer_run(Trainer *t);
// Writes final.h5 when done (rc 0), closes the outputs and frees t. Returns rc. Collective.
int trainer_finish(Trainer *t, int rc);

#endif
