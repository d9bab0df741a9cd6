// reward.h — where the rewards of a batch of completions come from: the task's own reward (builtin), a plugin
// (a shared object with the C ABI of pgrpo_reward.h, loaded with dlopen) or a reward process (a command started
// once per rank, fed batches over pipes in the line protocol below). No MPI, no HDF5.
//
// Reward process line protocol, version 1 (README "Reward plugins and reward processes"). Text fields are UTF-8 with
// four escapes: backslash -> \\, tab -> \t, newline -> \n, carriage return -> \r. Every line ends with "\n".
//   pgrpo -> process, once:  "pgrpo-reward 1\t<config>\n"        (config = reward.config, escaped)
//   process -> pgrpo, once:  "ready\n"                            (within reward.timeout)
//   then per batch:
//   pgrpo -> process:        "batch <id> <n>\n"                   (id counts batches from 0 on this rank; n >= 1)
//                            n lines "<user>\t<group>\t<split>\t<complete>\t<prompt>\t<completion>\n"
//                            (the fields of PgrpoRewardItem, in that order; split 0 train / 1 eval; complete 0/1)
//   process -> pgrpo:        n lines, each one number (C strtod / Python float syntax), the reward of the item in
//                            the same position; finite and within [-1, 1]
//   end: pgrpo closes the process's stdin; the process exits (status 0) within 5 s, else it is killed.
// The process's stderr is pgrpo's (use it for logs); its stdout carries only answers. A batch not fully answered
// within reward.timeout seconds, an early exit, a line that is not a number, NaN/inf, a value outside [-1, 1], or
// more lines than items ends the job with a message naming the command, the batch and the item.
#ifndef PGRPO_REWARD_H
#define PGRPO_REWARD_H
#include <stddef.h>
#include "config.h"
#include "task.h"

typedef struct RewardSource RewardSource;

// Opens the source cfg names for task t: loads and initialises the plugin, or starts the process and waits for its
// "ready" (reward.timeout). NULL + a one-line message in err naming the plugin or command on failure; *bad_key
// (may be NULL) is then the deck key to blame ("reward.plugin", "reward.command"). A task without a built-in reward
// (task_has_builtin_reward == 0) needs a plugin or a process.
RewardSource *reward_open(const RewardSection *cfg, const Task *t, char *err, size_t errlen, const char **bad_key);
// Finalises the plugin, or ends the process (EOF, then SIGKILL after 5 s) and reaps it. NULL is fine.
void reward_close(RewardSource *r);
RewardKind reward_kind(const RewardSource *r);
// "built-in reward of task personas", "reward plugin 'x.so'", "reward command 'python3 r.py'" (for messages).
const char *reward_describe(const RewardSource *r);

// out[k] = the reward of completion k (k < n) of prompt prompts[k / per_prompt]: ctok (n, Tc) row k holds its clen[k]
// tokens (<eos> last when complete). `what` names the batch in messages ("step 12", "eval"). Items go to the
// plugin or process reward.batch at a time. 0, or -1 with a one-line message in err naming the source, the batch,
// the item (its index k, user and group) and what was wrong; out is then not to be used. A process that failed is
// killed and reaped; every later call fails at once.
int reward_score(RewardSource *r, const Prompt *prompts, int per_prompt, const int *ctok, const int *clen, int n,
                 int Tc, const char *what, float *out, char *err, size_t errlen);

// Splits a command line into argv words (in place in buf, argv NULL-terminated, at most max - 1 words): blanks
// separate words, '...' quotes literally, "..." quotes with \" and \\ escapes, \ escapes one character outside
// quotes. Returns the word count, or -1 with a reason in err (unbalanced quote, too many words, no word).
int reward_split_command(char *buf, char **argv, int max, char *err, size_t errlen);

#endif
