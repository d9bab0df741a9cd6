// test_reward.c — the reward sources without MPI: the built-in reward, the example plugin, the example process
// (they must agree bit for bit), batching, the command splitter, and every failure of a plugin or process giving a
// message and no rewards. Runs from the repository root (tests/run.sh); needs build/plugins/*.so (make test-bin).
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include "test.h"
#include "reward.h"

#define N_PROMPTS 6
#define G 4
#define TC 8
#define N (N_PROMPTS * G)

static Task *task;
static Prompt prompts[N_PROMPTS];
static int ctok[N * TC], clen[N];

// Prompts of the personas task and completions that mix prompt words, other words, <eos> and truncation.
static void setup(void) {
    TaskConfig c;
    memset(&c, 0, sizeof c);
    c.name = "personas", c.n_users = 40, c.n_eval_users = 20, c.seed = 7;
    char err[256];
    task = task_create(&c, err, sizeof err);
    if (!task) { printf("#   task_create: %s\n", err); exit(1); }
    for (int i = 0; i < N_PROMPTS; i++) task_prompt(task, 3, SPLIT_TRAIN, i, &prompts[i]);
    unsigned s = 12345;
    int V = task_vocab_size(task);
    for (int k = 0; k < N; k++) {
        const Prompt *p = &prompts[k / G];
        int L = 1 + (int)((s = s * 1103515245u + 12345u) >> 16) % TC;
        for (int j = 0; j < L; j++) {
            s = s * 1103515245u + 12345u;
            int from_prompt = (s >> 20) & 1;
            ctok[k * TC + j] = from_prompt ? p->tok[1 + (int)((s >> 8) % (unsigned)(p->len - 2))] : 5 + (int)((s >> 8) % (unsigned)(V - 5));
        }
        if (k % 5) ctok[k * TC + L - 1] = TOK_EOS;   // every fifth completion is truncated
        clen[k] = L;
    }
}

static RewardSection section(RewardKind kind, const char *what, const char *config, double timeout, int batch) {
    RewardSection r = {.kind = kind, .plugin = "", .command = "", .config = config, .timeout = timeout, .batch = batch};
    if (kind == REWARD_PLUGIN) r.plugin = what;
    if (kind == REWARD_PROCESS) r.command = what;
    return r;
}

static int score(RewardSection rs, float *out, char *err, size_t n) {
    RewardSource *r = reward_open(&rs, task, err, n, NULL);
    if (!r) return -2;
    int rc = reward_score(r, prompts, G, ctok, clen, N, TC, "step 7", out, err, n);
    reward_close(r);
    return rc;
}

static void test_builtin_is_task_reward(void) {
    float out[N];
    char err[1024];
    T_ASSERT(score(section(REWARD_BUILTIN, "", "", 1, 0), out, err, sizeof err) == 0, "%s", err);
    for (int k = 0; k < N; k++)
        T_ASSERT(out[k] == task_reward(task, &prompts[k / G], ctok + k * TC, clen[k]), "item %d", k);
}

// The C plugin and the Python process compute the same formula: the same bits; batching changes nothing; the
// formula is not the built-in reward; and reward.config reaches both.
static void test_plugin_equals_process(void) {
    float a[N], b[N], c[N], d[N], e[N], f[N];
    char err[1024];
    const char *py = "/usr/bin/python3 inputs/plugins/reward_example.py";
    T_ASSERT(score(section(REWARD_PLUGIN, "build/plugins/reward_example.so", "", 1, 0), a, err, sizeof err) == 0, "%s", err);
    T_ASSERT(score(section(REWARD_PROCESS, py, "", 20, 0), b, err, sizeof err) == 0, "%s", err);
    T_ASSERT(score(section(REWARD_PROCESS, py, "", 20, 5), c, err, sizeof err) == 0, "%s", err);
    T_ASSERT(score(section(REWARD_PLUGIN, "build/plugins/reward_example.so", "", 1, 7), d, err, sizeof err) == 0, "%s", err);
    T_ASSERT(score(section(REWARD_BUILTIN, "", "", 1, 0), e, err, sizeof err) == 0, "%s", err);
    T_ASSERT(score(section(REWARD_PLUGIN, "build/plugins/reward_example.so", "length=2", 1, 0), f, err, sizeof err) == 0, "%s", err);
    int same_builtin = 1, same_config = 1, n_trunc = 0;
    for (int k = 0; k < N; k++) {
        T_ASSERT(a[k] == b[k] && a[k] == c[k] && a[k] == d[k], "item %d: %g %g %g %g", k, a[k], b[k], c[k], d[k]);
        same_builtin &= a[k] == e[k];
        same_config &= a[k] == f[k];
        if (k % 5 == 0) { n_trunc++; T_ASSERT(a[k] == -1.0f, "truncated item %d: %g", k, a[k]); }
    }
    T_ASSERT(!same_builtin && !same_config && n_trunc > 0, "plugin == builtin %d, config ignored %d", same_builtin, same_config);
}

static void test_split_command(void) {
    char buf[256], *argv[8], err[128];
    snprintf(buf, sizeof buf, "  a 'b c' \"d \\\"e\\\"\" f\\ g  ");
    int n = reward_split_command(buf, argv, 8, err, sizeof err);
    T_ASSERT(n == 4, "n = %d (%s)", n, err);
    if (n == 4) {
        T_ASSERT(!strcmp(argv[0], "a") && !strcmp(argv[1], "b c") && !strcmp(argv[2], "d \"e\"") && !strcmp(argv[3], "f g"),
                 "[%s] [%s] [%s] [%s]", argv[0], argv[1], argv[2], argv[3]);
        T_ASSERT(argv[4] == NULL, "argv not terminated");
    }
    snprintf(buf, sizeof buf, "a 'b");
    T_ASSERT(reward_split_command(buf, argv, 8, err, sizeof err) < 0 && strstr(err, "unbalanced"), "%s", err);
    snprintf(buf, sizeof buf, "   ");
    T_ASSERT(reward_split_command(buf, argv, 8, err, sizeof err) < 0, "blank accepted");
    snprintf(buf, sizeof buf, "1 2 3 4 5 6 7 8 9");
    T_ASSERT(reward_split_command(buf, argv, 8, err, sizeof err) < 0 && strstr(err, "more than"), "%s", err);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// A process failure: open or score fails with a message holding `want`, within `max_s`, and no child is left.
static void process_fails(const char *cmd, double timeout, const char *want, double max_s) {
    float out[N];
    char err[1024] = "";
    double t0 = now();
    int rc = score(section(REWARD_PROCESS, cmd, "", timeout, 0), out, err, sizeof err);
    double dt = now() - t0;
    T_ASSERT(rc != 0 && strstr(err, want), "%s: rc %d, '%s' (want '%s')", cmd, rc, err, want);
    T_ASSERT(dt < max_s, "%s: took %.2f s", cmd, dt);
    T_ASSERT(strstr(err, "reward command '"), "the message names the command: %s", err);
    errno = 0;
    T_ASSERT(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "%s: a child is left", cmd);
}

static void test_process_failures(void) {
    process_fails("/bin/sh -c 'read h; echo ready; sleep 30'", 0.3, "within reward.timeout = 0.3 s", 3.0);
    process_fails("/bin/sh -c 'read h; sleep 30'", 0.3, "did not answer the header line", 3.0);
    process_fails("/bin/sh -c 'read h; echo ready; read b; exit 3'", 5, "exited with status 3", 4.0);
    process_fails("/bin/sh -c 'read h; echo ready; read b; echo banana; sleep 30'", 5, "is 'banana', not a number", 4.0);
    process_fails("/bin/sh -c 'read h; echo ready; read b; echo 0.5; echo nan; sleep 30'", 0.5, "within reward.timeout", 4.0);
    process_fails("/bin/sh -c 'read h; echo ready; read b; printf \"0.5\\n%.0s\" $(seq 25); sleep 30'", 5,
                  "more answer lines than", 4.0);
    process_fails("/bin/sh -c 'read h; echo hello'", 5, "instead of \"ready\"", 4.0);
    process_fails("/nonexistent/reward", 5, "cannot be started", 4.0);
    process_fails("/bin/sh -c 'read h; echo ready; for i in $(seq 24); do echo 1.5; done; cat >/dev/null'", 5,
                  "gave reward 1.5 for item 0", 4.0);
}

// Every answer NaN: named as NaN for item 0.
static void test_process_nan(void) {
    process_fails("/bin/sh -c 'read h; echo ready; for i in $(seq 24); do echo nan; done; cat >/dev/null'", 5,
                  "gave reward nan for item 0", 4.0);
}

static void plugin_fails(const char *bad, const char *want, int at_open) {
    float out[N];
    char err[1024] = "";
    setenv("REWARD_BAD", bad, 1);
    int rc = score(section(REWARD_PLUGIN, "build/plugins/reward_bad.so", "", 1, 0), out, err, sizeof err);
    unsetenv("REWARD_BAD");
    T_ASSERT(rc == (at_open ? -2 : -1) && strstr(err, want), "REWARD_BAD=%s: rc %d, '%s' (want '%s')", bad, rc, err, want);
    T_ASSERT(strstr(err, "reward plugin 'build/plugins/reward_bad.so'"), "the message names the plugin: %s", err);
}

static void test_plugin_failures(void) {
    plugin_fails("nan@0", "gave reward nan for item 1 (user", 0);
    plugin_fails("range@0", "gave reward 2 for item 1", 0);
    plugin_fails("skip@0", "gave reward nan for item 1", 0);
    plugin_fails("fail@0", "failing on purpose", 0);
    plugin_fails("abi", "ABI version 99", 1);
    plugin_fails("init", "refusing on purpose", 1);
    float out[N];
    char err[1024] = "";
    T_ASSERT(score(section(REWARD_PLUGIN, "build/plugins/no_such.so", "", 1, 0), out, err, sizeof err) == -2 &&
             strstr(err, "cannot be loaded"), "%s", err);
    T_ASSERT(score(section(REWARD_PLUGIN, "build/plugins/reward_example.so", "bogus", 1, 0), out, err, sizeof err) == -2 &&
             strstr(err, "length=N"), "%s", err);
    // A batch of 5: the failure on the second call names the item in the whole batch's numbering (5 + 1).
    setenv("REWARD_BAD", "nan@1", 1);
    T_ASSERT(score(section(REWARD_PLUGIN, "build/plugins/reward_bad.so", "", 1, 5), out, err, sizeof err) == -1 &&
             strstr(err, "for item 6 "), "%s", err);
    unsetenv("REWARD_BAD");
}

int main(void) {
    setup();
    T_RUN(test_builtin_is_task_reward);
    T_RUN(test_plugin_equals_process);
    T_RUN(test_split_command);
    T_RUN(test_process_failures);
    T_RUN(test_process_nan);
    T_RUN(test_plugin_failures);
    task_free(task);
    T_EXIT();
}
