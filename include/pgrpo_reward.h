// pgrpo_reward.h — the PUBLIC C ABI of a pgrpo reward plugin (README "Reward plugins and reward processes").
//
// A plugin is a shared object named by `reward.plugin` in the deck and loaded with dlopen(RTLD_NOW | RTLD_LOCAL) once
// per rollout rank (and once per rank of `pgrpo eval`, on rank 0 of `pgrpo sample`). It includes only this header (no
// other pgrpo header, no MPI, no HDF5) and exports these four C symbols:
//
//   int   pgrpo_reward_abi(void);
//         Returns PGRPO_REWARD_ABI_VERSION as the plugin was compiled. pgrpo refuses a plugin whose version differs.
//   void *pgrpo_reward_init(const char *config, char *err, size_t errlen);
//         Called once, before any score, with the deck's `reward.config` string ("" when unset). Returns the
//         plugin's state (any non-NULL pointer; it is passed back unchanged), or NULL with a one-line reason in err
//         (NUL-terminated, at most errlen bytes): pgrpo then stops with that reason and exit status 2.
//   int   pgrpo_reward_score(void *state, int n, const PgrpoRewardItem *items, float *out, char *err, size_t errlen);
//         Scores n >= 1 items: out[i] = the reward of items[i]. Returns 0, or non-zero with a one-line reason in err
//         (the job then stops with that reason). Every out[i] must be finite and within [-1, 1]: pgrpo pre-fills out
//         with NaN and checks every value, so an item left unwritten, a NaN, an inf or a value outside [-1, 1] stops
//         the job with a message naming the plugin, the batch and the item (the rewards are never used).
//   void  pgrpo_reward_finalize(void *state);
//         Called once at the end of the run (not after a fatal error, which ends the process): free the state.
//
// Contracts:
// - Deterministic: the same items must give the same bits on every call and every run (checkpoint restart is
//   bit-identical only then). Items come in an order fixed by (seed, rank layout, step); a reward must not depend
//   on the batch it arrives in or on the call count.
// - Single-threaded: pgrpo calls one plugin instance from one thread, never concurrently; a plugin may use threads
//   of its own. Each MPI rank loads its own instance (no shared state between ranks).
// - Memory: items and their strings are valid only during the call; copy what you keep.
// - Range [-1, 1]; by convention a malformed completion (complete == 0: it hit the token budget without <eos>)
//   gets -1, as the built-in tasks do.
// - Crashes: a signal raised inside a plugin call (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) ends the job with a
//   message naming the plugin; the last periodic checkpoint stays valid. A plugin that hangs is caught by
//   run.step_timeout (reward.timeout applies to reward processes only).
// - Do not call exit(), install signal handlers, or write to stdout (pgrpo's log); stderr is fine.
//
// Build: cc -O2 -fPIC -shared -I<pgrpo>/include -o my_reward.so my_reward.c  (example: inputs/plugins/reward_example.c)
#ifndef PGRPO_REWARD_ABI_H
#define PGRPO_REWARD_ABI_H
#include <stddef.h>

#define PGRPO_REWARD_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

// One completion to score (ABI version 1; fields are only ever appended in a new version).
typedef struct {
    int user;                // the user's id within its split (0-based)
    int group;               // the user's preference group from the task (ground truth for the built-in tasks)
    int split;               // 0 = training prompts, 1 = held-out evaluation prompts
    int complete;            // 1 when the completion ended with <eos>, 0 when it hit the token budget
    // The prompt's text (UTF-8, NUL-terminated): for the word tokenizer the words after <bos> up to <sep>; for the
    // file task, the source text of prompts.jsonl exactly.
    const char *prompt;
    // The completion's text up to <eos> (excluded): words separated by one space for the word tokenizer; with a
    // GPT-2 tokenizer (task.tokenizer) the BPE-decoded text, invalid byte sequences replaced by U+FFFD.
    const char *completion;
} PgrpoRewardItem;

int pgrpo_reward_abi(void);
void *pgrpo_reward_init(const char *config, char *err, size_t errlen);
int pgrpo_reward_score(void *state, int n, const PgrpoRewardItem *items, float *out, char *err, size_t errlen);
void pgrpo_reward_finalize(void *state);

#ifdef __cplusplus
}
#endif
#endif
