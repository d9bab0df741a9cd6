// reward_bad.c — a misbehaving reward plugin for the tests: the formula of inputs/plugins/reward_example.c, with one
// failure injected by the environment (so a deck can stay the same between a failing run and its resume):
//   REWARD_BAD=MODE@K   on the K-th call of pgrpo_reward_score in this process (0-based), MODE is
//     nan    item 1 gets NaN          range  item 1 gets 2.0          skip  item 1 is not written
//     fail   returns an error         abort  abort()                  segv  writes through a NULL pointer
//   REWARD_BAD=abi      pgrpo_reward_abi returns 99;   REWARD_BAD=init   pgrpo_reward_init refuses
//   REWARD_BAD_RANK=R   only on MPI rank R (OMPI_COMM_WORLD_RANK); unset: every rank
#define REWARD_EXAMPLE_NO_EXPORTS
#include "../../inputs/plugins/reward_example.c"
#include <signal.h>

typedef struct { int length; long calls; char mode[16]; long at; } Bad;

static const char *bad_env(void) {
    const char *r = getenv("REWARD_BAD_RANK"), *me = getenv("OMPI_COMM_WORLD_RANK");
    if (r && *r && (!me || strcmp(r, me))) return "";
    const char *v = getenv("REWARD_BAD");
    return v ? v : "";
}

int pgrpo_reward_abi(void) { return strcmp(bad_env(), "abi") ? PGRPO_REWARD_ABI_VERSION : 99; }

void *pgrpo_reward_init(const char *config, char *err, size_t errlen) {
    if (!strcmp(bad_env(), "init")) { snprintf(err, errlen, "REWARD_BAD=init: refusing on purpose"); return NULL; }
    Bad *b = calloc(1, sizeof *b);
    if (!b || example_parse(config, &b->length, err, errlen)) { free(b); return NULL; }
    b->at = -1;
    const char *v = bad_env(), *at = strchr(v, '@');
    if (at) {
        snprintf(b->mode, sizeof b->mode, "%.*s", (int)(at - v), v);
        b->at = atol(at + 1);
    }
    return b;
}

int pgrpo_reward_score(void *state, int n, const PgrpoRewardItem *items, float *out, char *err, size_t errlen) {
    Bad *b = state;
    int now = b->calls++ == b->at, victim = n > 1 ? 1 : 0;
    if (now && !strcmp(b->mode, "fail")) { snprintf(err, errlen, "REWARD_BAD=fail: failing on purpose"); return 1; }
    if (now && !strcmp(b->mode, "abort")) abort();
    if (now && !strcmp(b->mode, "segv")) { volatile int *p = NULL; *p = 1; }
    for (int i = 0; i < n; i++)
        if (!(now && i == victim && !strcmp(b->mode, "skip"))) out[i] = (float)example_reward(&items[i], b->length);
    if (now && !strcmp(b->mode, "nan")) out[victim] = NAN;
    if (now && !strcmp(b->mode, "range")) out[victim] = 2.0f;
    return 0;
}

void pgrpo_reward_finalize(void *state) { free(state); }
