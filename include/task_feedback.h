// task_feedback.h — the built-in tasks' feedback matrix for group discovery (README "Groups"): every TRAINING user's
// reward for a fixed set of probe completions. Pure: no MPI, no HDF5; deterministic and stateless per entry, so any
// split of the rows over ranks gives the same bits.
//
// Probes. Probe j is one completion of the task's SFT generator (the fluent, well-formed, NOT personalised
// completions the SFT base imitates: personas uniform over styles x genres, recsys popularity-weighted unseen
// items, reviews uniform over sentiment levels x genre adjectives), drawn for a probe prompt of a training user,
// both from stream (seed, RNG_GROUPS, TASK_FB_STREAM_PROBE, j). Drawn uniformly, d probes cover every group's
// preferred styles / genres / levels with high probability once d >= ~32 (it is not forced).
//
// Entries. values[i*d + j] = task_reward(prompt P(u, j), probe j) + noise * N(0,1) for training user u = user0 + i:
//   - P(u, j) is a prompt OF USER u (the family's own prompt builder with user u's group and traits), one of
//     TASK_FB_POOL prompts drawn for u from streams (seed, RNG_GROUPS, TASK_FB_STREAM_PROMPT, u * TASK_FB_POOL + k).
//     Probe j starts at k0 = rng_hash(seed ^ TASK_FB_SALT_PICK, u * 2^32 + j) mod TASK_FB_POOL and takes the first
//     prompt (k0, k0+1, ... cyclically) that shares NO token with probe j's completion ("the user has not seen these
//     items": recsys scores an already-watched item as the worst rating, which would otherwise punish most the
//     items of the user's own liked genres); if all TASK_FB_POOL prompts overlap, prompt k0 is used as it is. For
//     personas and reviews the completion vocabulary never meets the prompt's, so the rule is inert there. A pool
//     (not a fresh prompt per entry) keeps the cost at O(TASK_FB_POOL) prompt builds per user: recsys builds a
//     prompt by scanning its catalogue, ~10x the cost of a reward.
//   - noise: noise * task_hash_normal(rng_hash(seed, TASK_FB_SALT_NOISE), u * 2^32 + j) (0 adds nothing).
// Mask. mask[i*d + j] = 1 iff U(u, j) < observed, U = the top 53 bits of rng_hash(rng_hash(seed,
// TASK_FB_SALT_MASK), u * 2^32 + j) as a double in [0,1); a row that draws no observed entry gets ONE: probe
// j* = rng_hash(rng_hash(seed, TASK_FB_SALT_ROW), u) mod d. Unobserved values are still written (finite, the same
// reward + noise) but mean nothing. observed >= 1 masks nothing.
#ifndef PGRPO_TASK_FEEDBACK_H
#define PGRPO_TASK_FEEDBACK_H
#include <stddef.h>
#include <stdint.h>
#include "task.h"

// Stream slots of role RNG_GROUPS ("rank" argument of rng_seed), distinct from k-means' step constants (rank 0).
#define TASK_FB_STREAM_PROBE  0x66620001ULL   // "fb" 1: probe prompt + probe completion, step j
#define TASK_FB_STREAM_PROMPT 0x66620002ULL   // "fb" 2: the users' prompts, step u * TASK_FB_POOL + k
// Salts of the stateless per-entry hashes.
#define TASK_FB_SALT_NOISE 0x6662A0015E0000ULL
#define TASK_FB_SALT_MASK  0x6662A00A5C0000ULL
#define TASK_FB_SALT_ROW   0x6662A0020E0000ULL
#define TASK_FB_SALT_PICK  0x6662A00B1C0000ULL
#define TASK_FB_POOL 16                      // prompts per user (see above)

typedef struct { int n; int comp[TASK_MAX_SEQ]; } TaskProbe;   // completion tokens, EOS included (n >= 1)

// Probe j (>= 0) of stream seed: deterministic in (task world, seed, j).
void task_probe(const Task *t, uint64_t seed, int j, TaskProbe *out);

// Rows [user0, user0 + n_rows) of the feedback matrix over probes[0..d): values and mask are n_rows * d, row-major
// (mask may be NULL: no mask wanted). Requires 0 <= user0, user0 + n_rows <= task_n_users(t, SPLIT_TRAIN), d >= 1,
// observed in [0, 1], noise >= 0 (checked: a violation is a programming error, CHECK). The result does not depend
// on how the rows are split over calls. Allocates nothing.
void task_feedback_rows(const Task *t, uint64_t seed, const TaskProbe *probes, int d, long user0, long n_rows,
                        double observed, double noise, float *values, uint8_t *mask);

#endif
