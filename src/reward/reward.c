// reward.c — the reward source: the task's own reward, a dlopen'd plugin, or a reward process (see reward.h).
#include "reward.h"
#include <dlfcn.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "reward_impl.h"

#define PROMPT_TEXT_CAP 8192   // bytes of one prompt's text (longer text is cut at a word boundary)
#define WORD_TEXT_CAP 64       // bytes per completion token in the text buffer (words are shorter)

typedef int (*AbiFn)(void);
typedef void *(*InitFn)(const char *, char *, size_t);
typedef int (*ScoreFn)(void *, int, const PgrpoRewardItem *, float *, char *, size_t);
typedef void (*FinalizeFn)(void *);

struct RewardSource {
    RewardKind kind;
    const Task *task;
    char desc[640];
    int batch;                  // items per call (0 = all)
    double timeout;
    int failed;                 // a failed process is gone: every later call fails at once
    // text of the items, rebuilt per call; grown only when a call brings more items than ever before
    char *ptext, *ctext;        // (np_cap, PROMPT_TEXT_CAP), (n_cap, ccap_each)
    size_t ccap_each;
    int np_cap, n_cap;
    PgrpoRewardItem *items;     // (n_cap)
    // plugin
    void *dl, *state;
    ScoreFn score;
    FinalizeFn finalize;
    // process
    RewardProc *proc;
};

RewardKind reward_kind(const RewardSource *r) { return r->kind; }
const char *reward_describe(const RewardSource *r) { return r->desc; }

// ---- a crash inside the plugin: one line, then the process ends (nothing else is safe after a wild write) ----

// Owned by this module: the text the handler writes, prepared before each plugin call (one call at a time).
static char g_crash_head[900];
static size_t g_crash_head_len;
static const char g_crash_tail[] = " (HINT: fix the plugin, e.g. run it under gdb or valgrind; the last periodic "
                                   "checkpoint is intact: run again with --resume auto)\n";

static const char *signal_name(int sig) {   // async-signal-safe: literals only
    switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGABRT: return "SIGABRT (abort)";
    default: return "a fatal signal";
    }
}

static void on_plugin_crash(int sig) {
    const char *name = signal_name(sig);
    ssize_t w = write(2, g_crash_head, g_crash_head_len);
    w = write(2, name, strlen(name));
    w = write(2, g_crash_tail, sizeof g_crash_tail - 1);
    (void)w;
    _exit(EXIT_RUNTIME);
}

static const int CRASH_SIGNALS[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_CRASH_SIGNALS ((int)(sizeof CRASH_SIGNALS / sizeof CRASH_SIGNALS[0]))

// Installs the handler for one plugin call (old: the dispositions to restore afterwards).
static void crash_guard_on(const RewardSource *r, const char *fn, const char *what, struct sigaction *old) {
    int n = snprintf(g_crash_head, sizeof g_crash_head, "pgrpo: error: %s crashed in %s (%s) with signal ", r->desc, fn, what);
    g_crash_head_len = n < 0 ? 0 : (size_t)n < sizeof g_crash_head ? (size_t)n : sizeof g_crash_head - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_plugin_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < N_CRASH_SIGNALS; i++) sigaction(CRASH_SIGNALS[i], &sa, &old[i]);
}

static void crash_guard_off(const struct sigaction *old) {
    for (int i = 0; i < N_CRASH_SIGNALS; i++) sigaction(CRASH_SIGNALS[i], &old[i], NULL);
}

// ---- opening ----

static int open_plugin(RewardSource *r, const RewardSection *cfg, char *err, size_t errlen) {
    char path[1100];
    // dlopen searches the library path for a bare name: a deck's relative path means the working directory.
    snprintf(path, sizeof path, "%s%s", strchr(cfg->plugin, '/') ? "" : "./", cfg->plugin);
    snprintf(r->desc, sizeof r->desc, "reward plugin '%s'", cfg->plugin);
    r->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!r->dl) { snprintf(err, errlen, "%s cannot be loaded: %s", r->desc, dlerror()); return -1; }
    AbiFn abi = (AbiFn)dlsym(r->dl, "pgrpo_reward_abi");
    InitFn init = (InitFn)dlsym(r->dl, "pgrpo_reward_init");
    r->score = (ScoreFn)dlsym(r->dl, "pgrpo_reward_score");
    r->finalize = (FinalizeFn)dlsym(r->dl, "pgrpo_reward_finalize");
    const char *missing = !abi ? "pgrpo_reward_abi" : !init ? "pgrpo_reward_init" : !r->score ? "pgrpo_reward_score"
                        : !r->finalize ? "pgrpo_reward_finalize" : NULL;
    if (missing) { snprintf(err, errlen, "%s does not export %s (see include/pgrpo_reward.h)", r->desc, missing); return -1; }
    struct sigaction old[N_CRASH_SIGNALS];
    crash_guard_on(r, "pgrpo_reward_abi", "at start", old);
    int v = abi();
    crash_guard_off(old);
    if (v != PGRPO_REWARD_ABI_VERSION) {
        snprintf(err, errlen, "%s implements reward ABI version %d, this pgrpo version %d: rebuild it against this "
                 "pgrpo's include/pgrpo_reward.h", r->desc, v, PGRPO_REWARD_ABI_VERSION);
        return -1;
    }
    char perr[512] = "";
    crash_guard_on(r, "pgrpo_reward_init", "at start", old);
    r->state = init(cfg->config, perr, sizeof perr);
    crash_guard_off(old);
    perr[sizeof perr - 1] = 0;
    if (!r->state) {
        snprintf(err, errlen, "%s refused reward.config '%s': %s", r->desc, cfg->config, *perr ? perr : "(no reason given)");
        return -1;
    }
    return 0;
}

RewardSource *reward_open(const RewardSection *cfg, const Task *t, char *err, size_t errlen, const char **bad_key) {
    const char *dummy;
    if (!bad_key) bad_key = &dummy;
    *bad_key = cfg->kind == REWARD_PLUGIN ? "reward.plugin" : cfg->kind == REWARD_PROCESS ? "reward.command" : "task.name";
    if (cfg->kind == REWARD_BUILTIN && !task_has_builtin_reward(t)) {
        snprintf(err, errlen, "task %s has no reward of its own: set reward.plugin or reward.command", task_name(t));
        return NULL;
    }
    RewardSource *r = xcalloc(1, sizeof *r);
    *r = (RewardSource){.kind = cfg->kind, .task = t, .batch = cfg->batch, .timeout = cfg->timeout};
    snprintf(r->desc, sizeof r->desc, "the built-in reward of task %s", task_name(t));
    int rc = 0;
    if (cfg->kind == REWARD_PLUGIN) rc = open_plugin(r, cfg, err, errlen);
    if (cfg->kind == REWARD_PROCESS) {
        snprintf(r->desc, sizeof r->desc, "reward command '%s'", cfg->command);
        char perr[1024];
        r->proc = reward_proc_start(cfg->command, cfg->config, cfg->timeout, perr, sizeof perr);
        if (!r->proc) { snprintf(err, errlen, "%s %s", r->desc, perr); rc = -1; }
    }
    if (rc) { reward_close(r); return NULL; }
    return r;
}

void reward_close(RewardSource *r) {
    if (!r) return;
    if (r->state && r->finalize) {
        struct sigaction old[N_CRASH_SIGNALS];
        crash_guard_on(r, "pgrpo_reward_finalize", "at the end", old);
        r->finalize(r->state);
        crash_guard_off(old);
    }
    if (r->dl) dlclose(r->dl);
    reward_proc_stop(r->proc);
    free(r->ptext); free(r->ctext); free(r->items);
    free(r);
}

// ---- scoring ----

// Room for n items over np prompts with completions of Tc tokens (grows, never shrinks).
static void reserve(RewardSource *r, int np, int n, int Tc) {
    size_t each = (size_t)Tc * WORD_TEXT_CAP + 1;
    if (np > r->np_cap) {
        free(r->ptext);
        r->ptext = xmalloc((size_t)np * PROMPT_TEXT_CAP);
        r->np_cap = np;
    }
    if (n > r->n_cap || each > r->ccap_each) {
        int m = n > r->n_cap ? n : r->n_cap;
        free(r->ctext); free(r->items);
        r->ctext = xmalloc((size_t)m * each);
        r->items = xmalloc((size_t)m * sizeof(PgrpoRewardItem));
        r->n_cap = m;
        r->ccap_each = each;
    }
}

// The items' text: each prompt once, each completion up to <eos>.
static void build_items(RewardSource *r, const Prompt *prompts, int per_prompt, const int *ctok, const int *clen, int n, int Tc) {
    int np = (n + per_prompt - 1) / per_prompt;
    reserve(r, np, n, Tc);
    for (int i = 0; i < np; i++) task_prompt_text(r->task, &prompts[i], r->ptext + (size_t)i * PROMPT_TEXT_CAP, PROMPT_TEXT_CAP);
    for (int k = 0; k < n; k++) {
        const Prompt *p = &prompts[k / per_prompt];
        const int *c = ctok + (size_t)k * Tc;
        int L = clen[k] < 0 ? 0 : clen[k] > Tc ? Tc : clen[k], complete = L > 0 && c[L - 1] == task_eos(r->task);
        char *text = r->ctext + (size_t)k * r->ccap_each;
        task_decode(r->task, c, L - complete, text, r->ccap_each);
        r->items[k] = (PgrpoRewardItem){.user = p->user, .group = p->group, .split = p->split, .complete = complete,
                                        .prompt = r->ptext + (size_t)(k / per_prompt) * PROMPT_TEXT_CAP, .completion = text};
    }
}

// Every value finite and in [-1, 1]; else the first bad one named.
static int check_values(const RewardSource *r, const char *what, const float *out, int k0, int m, char *err, size_t errlen) {
    for (int i = 0; i < m; i++) {
        float v = out[i];
        if (isfinite(v) && v >= -1.0f && v <= 1.0f) continue;
        const PgrpoRewardItem *it = &r->items[k0 + i];
        snprintf(err, errlen, "%s gave reward %g for item %d (user %d, group %d) of %s; rewards must be finite and "
                 "within [-1, 1]%s", r->desc, (double)v, k0 + i, it->user, it->group, what,
                 r->kind == REWARD_PLUGIN && isnan(v) ? " (NaN: also what an item the plugin did not write holds)" : "");
        return -1;
    }
    return 0;
}

static int score_plugin(RewardSource *r, const char *what, int k0, int m, float *out, char *err, size_t errlen) {
    for (int i = 0; i < m; i++) out[i] = NAN;
    char perr[512] = "";
    struct sigaction old[N_CRASH_SIGNALS];
    crash_guard_on(r, "pgrpo_reward_score", what, old);
    int rc = r->score(r->state, m, r->items + k0, out, perr, sizeof perr);
    crash_guard_off(old);
    perr[sizeof perr - 1] = 0;
    if (rc) {
        snprintf(err, errlen, "%s failed on items %d..%d of %s: %s", r->desc, k0, k0 + m - 1, what,
                 *perr ? perr : "(no reason given)");
        return -1;
    }
    return 0;
}

int reward_score(RewardSource *r, const Prompt *prompts, int per_prompt, const int *ctok, const int *clen, int n,
                 int Tc, const char *what, float *out, char *err, size_t errlen) {
    if (n <= 0) return 0;
    if (r->kind == REWARD_BUILTIN) {
        for (int k = 0; k < n; k++) out[k] = task_reward(r->task, &prompts[k / per_prompt], ctok + (size_t)k * Tc, clen[k]);
        return 0;
    }
    if (r->failed) { snprintf(err, errlen, "%s failed earlier; no more rewards from it", r->desc); return -1; }
    build_items(r, prompts, per_prompt, ctok, clen, n, Tc);
    int step = r->batch > 0 ? r->batch : n;
    for (int k0 = 0; k0 < n; k0 += step) {
        int m = n - k0 < step ? n - k0 : step, rc;
        if (r->kind == REWARD_PLUGIN) rc = score_plugin(r, what, k0, m, out + k0, err, errlen);
        else {
            char perr[1024];
            rc = reward_proc_score(r->proc, m, r->items + k0, k0, r->timeout, out + k0, perr, sizeof perr);
            if (rc) snprintf(err, errlen, "%s (%s): %s", r->desc, what, perr);
        }
        if (!rc) rc = check_values(r, what, out + k0, k0, m, err, errlen);
        if (rc) { r->failed = 1; return -1; }
    }
    return 0;
}

// ---- the command line ----

int reward_split_command(char *buf, char **argv, int max, char *err, size_t errlen) {
    int n = 0;
    char *in = buf, *out = buf;
    for (;;) {
        while (*in == ' ' || *in == '\t') in++;
        if (!*in) break;
        if (n == max - 1) { snprintf(err, errlen, "more than %d words", max - 1); return -1; }
        argv[n++] = out;
        while (*in && *in != ' ' && *in != '\t') {
            char q = *in;
            if (q == '\'' || q == '"') {
                in++;
                while (*in && *in != q) {
                    if (q == '"' && *in == '\\' && (in[1] == '"' || in[1] == '\\')) in++;
                    *out++ = *in++;
                }
                if (*in != q) { snprintf(err, errlen, "unbalanced %c quote", q); return -1; }
                in++;
            } else if (q == '\\' && in[1]) {
                in++;
                *out++ = *in++;
            } else {
                *out++ = *in++;
            }
        }
        // the word ends here; the terminator may overwrite the blank that ended it, never unread input
        char *next = *in ? in + 1 : in;
        *out++ = 0;
        in = next;
    }
    argv[n] = NULL;
    if (!n) { snprintf(err, errlen, "no program named"); return -1; }
    return n;
}
