// reward_example.c — an example pgrpo reward plugin (the C ABI of include/pgrpo_reward.h).
//
// Reward: the share of the completion's words that also occur in the prompt, mapped to [-1, 1], minus 0.25 per word
// of distance from a target length; -1 for a completion that hit the token budget or is empty:
//     r = clip(2 * hits / n - 1 - 0.25 * |n - length|, -1, 1)
// reward.config: "" or "length=N" (the target number of words, default 4). Deterministic, stateless apart from the
// target; inputs/plugins/reward_example.py computes the same numbers as a reward process.
//
// Build (make does it: build/plugins/reward_example.so):
//     cc -O2 -fPIC -shared -Iinclude -o build/plugins/reward_example.so inputs/plugins/reward_example.c
// Use:  pgrpo train DECK --set reward.plugin=build/plugins/reward_example.so --set reward.config=length=4
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgrpo_reward.h"

typedef struct { int length; } Example;

// Words are separated by single spaces (pgrpo's word tokenizer); empty pieces are skipped.
static int next_word(const char **s, const char **w) {
    while (**s == ' ') (*s)++;
    *w = *s;
    while (**s && **s != ' ') (*s)++;
    return (int)(*s - *w);
}

static int in_prompt(const char *prompt, const char *w, int len) {
    const char *s = prompt, *p;
    int n;
    while ((n = next_word(&s, &p)) > 0)
        if (n == len && !memcmp(p, w, (size_t)len)) return 1;
    return 0;
}

static double example_reward(const PgrpoRewardItem *it, int length) {
    if (!it->complete) return -1.0;
    const char *s = it->completion, *w;
    int n = 0, hits = 0, len;
    while ((len = next_word(&s, &w)) > 0) {
        n++;
        hits += in_prompt(it->prompt, w, len);
    }
    if (n == 0) return -1.0;
    double r = 2.0 * hits / n - 1.0 - 0.25 * fabs((double)(n - length));
    return r < -1.0 ? -1.0 : r > 1.0 ? 1.0 : r;
}

static int example_parse(const char *config, int *length, char *err, size_t errlen) {
    *length = 4;
    if (!config || !*config) return 0;
    char *end;
    long v = strncmp(config, "length=", 7) ? -1 : strtol(config + 7, &end, 10);
    if (v < 0 || v > 1000 || end == config + 7 || *end) {
        snprintf(err, errlen, "expected \"length=N\" with 0 <= N <= 1000, got \"%s\"", config);
        return -1;
    }
    *length = (int)v;
    return 0;
}

#ifndef REWARD_EXAMPLE_NO_EXPORTS
int pgrpo_reward_abi(void) { return PGRPO_REWARD_ABI_VERSION; }

void *pgrpo_reward_init(const char *config, char *err, size_t errlen) {
    Example *e = malloc(sizeof *e);
    if (!e) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (example_parse(config, &e->length, err, errlen)) { free(e); return NULL; }
    return e;
}

int pgrpo_reward_score(void *state, int n, const PgrpoRewardItem *items, float *out, char *err, size_t errlen) {
    (void)err; (void)errlen;
    const Example *e = state;
    for (int i = 0; i < n; i++) out[i] = (float)example_reward(&items[i], e->length);
    return 0;
}

void pgrpo_reward_finalize(void *state) { free(state); }
#endif
