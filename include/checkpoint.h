// checkpoint.h — a training run's checkpoint: the run identity (root attributes, one table for writing and
// reading) and the state arrays (weights, AdamW moments, P-GRPO history, groups, sampling-stream record), plus
// the output snapshots kept beside each checkpoint. Written by learner 0 through the store (kind "checkpoint").
// Resume-time identity checks live here (ckpt_check_identity), so a new key to check is one table row.
#ifndef PGRPO_CHECKPOINT_H
#define PGRPO_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "advantage.h"
#include "app.h"

#define CKPT_SCHEMA 1

// The run identity: the checkpoint's integer root attributes.
typedef struct {
    long step;            // the next step to run
    long optim_t;         // AdamW updates applied
    long world_size, rollout_ranks, async, prompts, group_size;
    long ckpt_schema;
    long reference_crc32; // CRC32 of the SFT base's weights (the frozen reference)
} RunIdentity;

// The state a checkpoint holds (borrowed arrays; NULL where this rank has none).
typedef struct {
    size_t n_params;
    float *params;           // (n_params) the policy
    float *opt_m, *opt_v;    // (n_params) AdamW moments (learners)
    long *opt_t;             // AdamW step (learners)
    float *rollout_params;   // (n_params) async: the weights the rollouts use for the next batch
    GroupHistory *hist;      // P-GRPO history (learners)
    int *user_group;         // (n_users) the groups used for advantages
    size_t n_users;
} CkptState;

// What a write records besides the state: the reference policy's path and the run's task and seed.
typedef struct {
    const char *dir, *deck_text, *reference_path, *task;
    uint64_t seed;
    int keep_last, keep_every;
} CkptTarget;

// Writes dir/ckpt_<step>.h5 atomically and publishes it (store_ckpt_publish). Exits 3 with a message on failure.
void ckpt_write(const CkptTarget *t, const RunIdentity *id, const CkptState *s);

// rank 0 of a resume: the checkpoint to load (resume = "auto": the newest valid one in dir, printing the skipped
// ones; else the path given). Returns 1 with path filled, 0 when there is none (auto only).
int ckpt_resolve(const char *resume, const char *dir, char *path, size_t n);
// Reads path's identity; refuses (exit 2, naming the key) a checkpoint of another run layout or reference.
// Warns on a changed rank count. `want` holds this run's identity (its step is ignored). Called by ckpt_load.
void ckpt_check_identity(const App *a, const char *path, const RunIdentity *got, const RunIdentity *want);
// Loads path into s (params from /rollout/params when rollout_weights) and returns its identity in *id. Trusts
// nothing unchecked; each refusal is one line naming the file and what, then the job ends:
//   exit 2  the stored deck differs from this run's in a key that changes the result (resume_compare_decks, resume.h;
//           keys that only change the layout are a warning), or /groups/user_group differs from this run's groups;
//   exit 3  a missing or invalid identity attribute (step, optim_t, ...), a NaN/inf in the weights, moments or
//           P-GRPO history, /rng/sample_streams that do not match run.seed (same rank layout), or /data/cursor
//           != step * prompts.
void ckpt_load(const App *a, const char *path, const RunIdentity *want, int rollout_weights, CkptState *s, RunIdentity *id);

// metrics.h5 and trajectories.h5 are not crash-safe while open (HDF5 updates metadata in place), so each
// checkpoint keeps a flushed, framed copy of both in the checkpoint folder (metrics.snapshot, trajectories.snapshot;
// snapshot.h); restore = 1 verifies both, then copies them back before a resume (exit 3 naming a damaged or
// missing snapshot: the live files are then left as they were).
void ckpt_snapshot_outputs(const App *a, const char *dir, int restore);

#endif
