// resume.h — which deck settings may change when a run resumes from a checkpoint.
//
// A checkpoint stores the resolved deck of the run that wrote it. On resume the current resolved deck is compared
// with it key by key (numbers by value, so `lr = 5e-3` equals `lr = 0.005`):
//   RESUME_FREE     may change: run length and bookkeeping that cannot change a step's result
//                   (train.steps, run.max_walltime, run.log_every, run.step_timeout, run.threads, run.out_dir,
//                   checkpoint.*, eval.*, sft.*, train.base — the reference's CRC-32 is checked separately);
//   RESUME_WARN     may change, with a warning that the run stays valid but is no longer bit-identical to an
//                   uninterrupted one (train.rollout_ranks, train.micro_batch: the layout of the same arithmetic);
//   RESUME_REFUSE   everything else: seeds, task, model, algorithm, optimiser, sampling, groups — refused by name.
// Pure text processing: no MPI, no HDF5 (unit-tested in tests/unit/test_resume.c).
#ifndef PGRPO_RESUME_H
#define PGRPO_RESUME_H
#include <stddef.h>

typedef enum { RESUME_FREE, RESUME_WARN, RESUME_REFUSE } ResumeRule;

// The rule for a full key name "section.key".
ResumeRule resume_rule(const char *key);

// Compares two resolved deck texts ("[section]" lines and "key = value" lines; '#' comments ignored).
// Returns 0 when every RESUME_REFUSE key is equal; then `warn` (may be NULL) lists the changed RESUME_WARN keys
// as "key: old -> new; ..." (empty when none). Returns -1 when a RESUME_REFUSE key differs, is missing from
// `now`, or `stored` is not a deck text; `err` then names every changed key with both values, e.g.
// "train.lr: 0.001 -> 0.002, run.seed: 1 -> 2". Keys absent from `stored` (a deck from an older pgrpo) are
// compared against nothing and reported in `warn` as "key: (absent) -> value".
int resume_compare_decks(const char *stored, const char *now, char *err, size_t errlen, char *warn, size_t warnlen);

#endif
