// reward_impl.h — private to src/reward: the reward process (process.c) behind reward.c's dispatch.
#ifndef PGRPO_REWARD_IMPL_H
#define PGRPO_REWARD_IMPL_H
#include <stddef.h>
#include "pgrpo_reward.h"

typedef struct RewardProc RewardProc;

// Starts argv-string `command` with pipes, sends the header with `config`, waits `timeout` s for "ready".
// NULL + message (naming nothing: the caller prefixes the command) on failure; the child is then reaped.
RewardProc *reward_proc_start(const char *command, const char *config, double timeout, char *err, size_t errlen);
// One batch: items -> out (n). 0, or -1 with a message (batch id, item index relative to items) in err; the child is
// then killed and reaped (every later call fails at once). first: the index of items[0] in the caller's numbering.
int reward_proc_score(RewardProc *p, int n, const PgrpoRewardItem *items, long first, double timeout, float *out,
                      char *err, size_t errlen);
// EOF to the child, up to 5 s for it to exit, then SIGKILL; always reaped. NULL is fine.
void reward_proc_stop(RewardProc *p);

// Appends s with the protocol's escapes (\\ \t \n \r) to *buf (length *len, capacity *cap, grown as needed).
void reward_escape_append(char **buf, size_t *len, size_t *cap, const char *s);

#endif
