// test_config.c — the typed config: every enum maps from its deck text, every cross-key rule is refused under its
// own key, and the AdvConfig/LossConfig it builds carry the deck's values (the only defaults are the deck's).
#include "test.h"
#include "config.h"
#include <string.h>

// Parses the default deck plus the given --set options into c; returns config_from_deck's code, err filled.
static int build(Config *c, char *err, size_t errlen, int n, char **sets) {
    Deck *d = deck_parse(NULL, n, sets, err, errlen);
    T_ASSERT(d != NULL, "deck refused: %s", err);
    if (!d) return 99;
    int rc = config_from_deck(d, c, err, errlen);
    deck_free(d);   // strings in c are not used after this in the tests below
    return rc;
}

// Expects refusal, with the message starting "--set: <key> = " (the key named, where it was set).
static void expect_key(const char *what, const char *key, int n, char **sets) {
    Config c;
    char err[1024] = "", want[128];
    int rc = build(&c, err, sizeof err, n, sets);
    snprintf(want, sizeof want, ": %s = ", key);
    T_ASSERT(rc == -1 && strstr(err, want) != NULL, "%s: rc %d, want key %s: %s", what, rc, key, err);
    T_ASSERT(strchr(err, '\n') == NULL && strstr(err, "(HINT: ") != NULL, "%s: not one line with a hint: %s", what, err);
}

static void test_defaults_are_the_decks(void) {
    Config c;
    char err[1024];
    T_ASSERT(build(&c, err, sizeof err, 0, NULL) == 0, "default deck refused: %s", err);
    // The values of the deck schema, nothing from the math modules.
    T_ASSERT(c.adv.kind == ADV_PGRPO && c.adv.hist == HIST_CUMULATIVE && c.adv.ema_decay == 0.99 &&
             c.adv.window == 50 && c.adv.update_order == UPDATE_BEFORE && c.adv.cold == COLD_GRPO &&
             c.adv.min_count == 2 && c.adv.eps == 1e-4 && c.adv.var == VAR_POPULATION, "adv from the deck");
    T_ASSERT(c.loss.beta == 0.02f && c.loss.eps_low == 0.2f && c.loss.eps_high == 0.2f &&
             c.loss.agg == AGG_SEQ_MEAN_TOKEN_MEAN, "loss from the deck (beta 0.02, not loss.c's old 0.04)");
    T_ASSERT(c.run.seed == 1234 && c.run.log_every == 1 && c.model.d_model == 96 && c.task.kind == TASK_KIND_PERSONAS &&
             c.task.n_shares == 0 && c.sft.schedule == SCHED_COSINE && c.train.schedule == SCHED_CONSTANT &&
             c.train.groups == GROUPS_TRUTH && c.train.prompts == 16 && c.train.group_size == 8 &&
             c.checkpoint.every == 25 && c.eval.samples == 4, "sections");
}

static void test_every_enum(void) {
    struct { char *set; int ok; } cases[] = {
        {"task.name=recsys", 1}, {"task.name=reviews", 1}, {"train.groups=random", 1},
        {"train.advantage=grpo", 1}, {"train.advantage=drgrpo", 1}, {"train.loss_agg=token_mean", 1},
        {"train.loss_agg=drgrpo", 1}, {"pgrpo.history=ema", 1}, {"pgrpo.history=window", 1}, {"pgrpo.order=after", 1},
        {"pgrpo.cold_start=zero", 1}, {"pgrpo.cold_start=batch", 1}, {"pgrpo.variance=sample", 1},
        {"sft.schedule=constant", 1}, {"train.schedule=cosine", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Config c;
        char err[1024];
        char *sets[] = {cases[i].set};
        T_ASSERT(build(&c, err, sizeof err, 1, sets) == 0, "%s: %s", cases[i].set, err);
    }
    Config c;
    char err[1024];
    char *s1[] = {"task.name=recsys", "train.groups=random", "train.advantage=drgrpo", "train.loss_agg=drgrpo",
                  "pgrpo.history=window", "pgrpo.order=after", "pgrpo.cold_start=batch", "pgrpo.variance=sample",
                  "sft.schedule=constant", "train.schedule=cosine"};
    T_ASSERT(build(&c, err, sizeof err, 10, s1) == 0, "%s", err);
    T_ASSERT(c.task.kind == TASK_KIND_RECSYS && c.train.groups == GROUPS_RANDOM && c.adv.kind == ADV_DRGRPO &&
             c.loss.agg == AGG_DRGRPO && c.adv.hist == HIST_WINDOW && c.adv.update_order == UPDATE_AFTER &&
             c.adv.cold == COLD_BATCH && c.adv.var == VAR_SAMPLE && c.sft.schedule == SCHED_CONSTANT &&
             c.train.schedule == SCHED_COSINE, "enum values");
    char *s2[] = {"task.name=reviews", "train.groups=file", "train.groups_file=g.h5", "train.advantage=grpo",
                  "train.loss_agg=token_mean", "pgrpo.history=ema", "pgrpo.cold_start=zero"};
    T_ASSERT(build(&c, err, sizeof err, 7, s2) == 0, "%s", err);
    T_ASSERT(c.task.kind == TASK_KIND_REVIEWS && c.train.groups == GROUPS_FILE && !strcmp(config_groups_name(c.train.groups), "file") &&
             c.adv.kind == ADV_GRPO && c.loss.agg == AGG_TOKEN_MEAN && c.adv.hist == HIST_EMA && c.adv.cold == COLD_ZERO &&
             !strcmp(config_task_name(c.task.kind), "reviews"), "enum values 2");
}

static void test_cross_key_rules_name_their_key(void) {
    char *a[] = {"train.async=true"};
    expect_key("async without rollout ranks", "train.async", 1, a);
    char *b[] = {"train.group_size=1", "train.advantage=grpo"};
    expect_key("grpo with G=1", "train.group_size", 2, b);
    char *b2[] = {"train.group_size=1", "train.advantage=drgrpo"};
    expect_key("drgrpo with G=1", "train.group_size", 2, b2);
    char *e[] = {"train.groups=file"};
    expect_key("groups file missing", "train.groups_file", 1, e);
    char *m[] = {"model.d_model=30", "model.n_head=4"};
    expect_key("d_model % n_head", "model.d_model", 2, m);
    char *x[] = {"train.max_new=63", "model.context=64"};
    expect_key("max_new fills the context", "train.max_new", 2, x);
    char *s1[] = {"task.shares=0.5,abc"};
    expect_key("shares unreadable", "task.shares", 1, s1);
    char *s2[] = {"task.shares=0.5,-0.5"};
    expect_key("negative share", "task.shares", 1, s2);
    char *s3[] = {"task.shares=nan,1"};
    expect_key("nan share", "task.shares", 1, s3);
    char *s4[] = {"task.shares=.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1,.1"};
    expect_key("17 shares", "task.shares", 1, s4);
    // Accepted neighbours of each rule.
    Config c;
    char err[1024];
    char *ok[] = {"train.async=true", "train.rollout_ranks=1", "train.group_size=1", "train.max_new=62",
                  "model.context=64", "task.shares=0.25, 0.75", "pgrpo.decay=1", "pgrpo.history=ema", "pgrpo.eps=0",
                  "train.eps_low=1"};
    T_ASSERT(build(&c, err, sizeof err, 10, ok) == 0, "neighbours refused: %s", err);
    T_ASSERT(c.task.n_shares == 2 && c.task.shares[1] == 0.75 && c.adv.ema_decay == 1.0 && c.adv.eps == 0, "values");
}

static void test_world_rules(void) {
    char *s[] = {"train.rollout_ranks=2", "train.prompts=3", "sft.batch=4"};
    Deck *d = deck_parse(NULL, 3, s, NULL, 0);
    Config c;
    char err[1024];
    T_ASSERT(d && config_from_deck(d, &c, err, sizeof err) == 0, "parse");
    if (!d) return;
    T_ASSERT(config_check_world(&c, d, 2, err, sizeof err) == -1 &&
             strstr(err, "--set: train.rollout_ranks = 2: 2 rollout ranks need more than 2 MPI ranks"), "%s", err);
    T_ASSERT(config_check_world(&c, d, 6, err, sizeof err) == -1 && strstr(err, ": train.prompts = 3:"), "%s", err);
    T_ASSERT(config_check_world(&c, d, 5, err, sizeof err) == -1 && strstr(err, ": sft.batch = 4:"), "%s", err);
    T_ASSERT(config_check_world(&c, d, 4, err, sizeof err) == 0, "4 ranks: %s", err);
    deck_free(d);
}

int main(void) {
    T_RUN(test_defaults_are_the_decks);
    T_RUN(test_every_enum);
    T_RUN(test_cross_key_rules_name_their_key);
    T_RUN(test_world_rules);
    T_EXIT();
}
