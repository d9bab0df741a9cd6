// test_resume.c — which deck changes a resume accepts, warns about, or refuses by name.
#include <string.h>
#include "resume.h"
#include "test.h"

static const char *BASE = "# pgrpo resolved deck (source: x)\n[run]\nseed = 1\nout_dir = runs/a\nmax_walltime = 0\n"
                          "[train]\nsteps = 10\nlr = 5e-3\nrollout_ranks = 0\nadvantage = pgrpo\n[pgrpo]\ndecay = 0.9\n";

static void test_identical_decks_pass(void) {
    char err[256], warn[256];
    T_ASSERT(resume_compare_decks(BASE, BASE, err, sizeof err, warn, sizeof warn) == 0, "%s", err);
    T_ASSERT(!*err && !*warn, "err '%s' warn '%s'", err, warn);
}

static int changed(const char *key_line, const char *new_line, char *err, size_t n, char *warn, size_t wn) {
    char now[512];
    const char *p = strstr(BASE, key_line);
    size_t pre = (size_t)(p - BASE);
    snprintf(now, sizeof now, "%.*s%s%s", (int)pre, BASE, new_line, p + strlen(key_line));
    return resume_compare_decks(BASE, now, err, n, warn, wn);
}

static void test_numbers_compare_by_value(void) {
    char err[256];
    T_ASSERT(changed("lr = 5e-3", "lr = 0.005", err, sizeof err, NULL, 0) == 0, "%s", err);   // same lr, other text
    T_ASSERT(changed("lr = 5e-3", "lr = 0.0050001", err, sizeof err, NULL, 0) == -1, "a different lr accepted");
}

static void test_free_keys_change_silently(void) {
    char err[256], warn[256];
    T_ASSERT(changed("steps = 10", "steps = 20", err, sizeof err, warn, sizeof warn) == 0, "%s", err);
    T_ASSERT(changed("max_walltime = 0", "max_walltime = 60", err, sizeof err, warn, sizeof warn) == 0, "%s", err);
    T_ASSERT(changed("out_dir = runs/a", "out_dir = runs/b", err, sizeof err, warn, sizeof warn) == 0, "%s", err);
    T_ASSERT(!*warn, "%s", warn);
}

static void test_layout_keys_warn(void) {
    char err[256], warn[256];
    T_ASSERT(changed("rollout_ranks = 0", "rollout_ranks = 1", err, sizeof err, warn, sizeof warn) == 0, "%s", err);
    T_ASSERT(strstr(warn, "train.rollout_ranks: 0 -> 1") != NULL, "warn '%s'", warn);
}

static void test_result_keys_refused_by_name(void) {
    const char *cases[][3] = {
        {"seed = 1", "seed = 2", "run.seed: 1 -> 2"},
        {"lr = 5e-3", "lr = 1e-3", "train.lr: 5e-3 -> 1e-3"},
        {"advantage = pgrpo", "advantage = grpo", "train.advantage: pgrpo -> grpo"},
        {"decay = 0.9", "decay = 1", "pgrpo.decay: 0.9 -> 1"},
    };
    for (int i = 0; i < 4; i++) {
        char err[256];
        T_ASSERT(changed(cases[i][0], cases[i][1], err, sizeof err, NULL, 0) == -1, "case %d accepted", i);
        T_ASSERT(strstr(err, cases[i][2]) != NULL, "case %d: '%s'", i, err);
    }
}

static void test_garbage_and_missing_keys(void) {
    char err[256], warn[256];
    T_ASSERT(resume_compare_decks("not a deck", BASE, err, sizeof err, NULL, 0) == -1, "garbage accepted");
    T_ASSERT(resume_compare_decks("", BASE, err, sizeof err, NULL, 0) == -1, "empty accepted");
    // A refused key dropped from the current deck is a change too.
    const char *no_seed = "[run]\nout_dir = runs/a\nmax_walltime = 0\n[train]\nsteps = 10\nlr = 5e-3\n"
                          "rollout_ranks = 0\nadvantage = pgrpo\n[pgrpo]\ndecay = 0.9\n";
    T_ASSERT(resume_compare_decks(BASE, no_seed, err, sizeof err, NULL, 0) == -1 && strstr(err, "run.seed"), "'%s'", err);
    // A key an older deck did not have: accepted with a note.
    T_ASSERT(resume_compare_decks(no_seed, BASE, err, sizeof err, warn, sizeof warn) == 0, "%s", err);
    T_ASSERT(strstr(warn, "run.seed: (absent) -> 1") != NULL, "warn '%s'", warn);
}

static void test_rules(void) {
    T_ASSERT(resume_rule("checkpoint.every") == RESUME_FREE, "checkpoint.every");
    T_ASSERT(resume_rule("train.steps") == RESUME_FREE, "train.steps");
    T_ASSERT(resume_rule("train.steps_x") == RESUME_REFUSE, "exact names are exact");
    T_ASSERT(resume_rule("task.seed") == RESUME_REFUSE, "task.seed");
    T_ASSERT(resume_rule("train.groups") == RESUME_REFUSE, "train.groups");
    T_ASSERT(resume_rule("train.micro_batch") == RESUME_WARN, "micro_batch");
}

int main(void) {
    T_RUN(test_identical_decks_pass);
    T_RUN(test_numbers_compare_by_value);
    T_RUN(test_free_keys_change_silently);
    T_RUN(test_layout_keys_warn);
    T_RUN(test_result_keys_refused_by_name);
    T_RUN(test_garbage_and_missing_keys);
    T_RUN(test_rules);
    T_EXIT();
}
