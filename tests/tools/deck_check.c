// deck_check.c — parse and validate a deck without training: deck_parse + config_from_deck (+ config_check_world
// with --nranks). The deck fuzz harness (tests/fuzz/test_deck_fuzz.sh) runs it on mutated decks.
//   deck_check [--text] [--nranks N] DECK|- [--set section.key=value ...]
// Exit 0: accepted (and the typed config re-checked: an accepted config that breaks an invariant exits 4);
// exit 2: refused, with one line "pgrpo: error: ..." on stderr. --text prints the resolved deck on stdout.
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Invariants every accepted config must hold (independent of how config.c checked them).
static const char *config_insane(const Config *c) {
    if (!c->run.out_dir || !*c->run.out_dir || !strcmp(c->run.out_dir, "/")) return "run.out_dir";
    if (c->run.log_every < 1 || c->run.threads < 1 || !isfinite(c->run.max_walltime) || c->run.max_walltime < 0 ||
        !isfinite(c->run.step_timeout) || c->run.step_timeout < 0) return "[run]";
    if (c->model.n_layer < 1 || c->model.n_head < 1 || c->model.d_model % c->model.n_head || c->model.context < 8)
        return "[model]";
    if ((unsigned)c->task.kind > TASK_KIND_FILE || c->task.n_users < 10 || c->task.n_shares < 0 ||
        c->task.n_shares > TASK_MAX_GROUPS) return "[task]";
    for (int g = 0; g < c->task.n_shares; g++) if (!(c->task.shares[g] >= 0) || !isfinite(c->task.shares[g])) return "task.shares";
    if (c->sft.batch < 1 || !isfinite(c->sft.lr) || c->sft.lr < 0 || (unsigned)c->sft.schedule > SCHED_COSINE) return "[sft]";
    const TrainSection *t = &c->train;
    if (t->prompts < 1 || t->group_size < 1 || t->mu < 1 || t->micro_batch < 1 || t->minibatches < 1 ||
        !(t->temperature > 0) || !(t->top_p > 0 && t->top_p <= 1) || !isfinite(t->lr) || t->lr < 0 ||
        (unsigned)t->groups > GROUPS_DISCOVER || (t->groups == GROUPS_FILE && !*t->groups_file) ||
        (t->async && t->rollout_ranks < 1)) return "[train]";
    if (t->group_size < 2 && c->adv.kind != ADV_PGRPO) return "train.group_size";
    if (adv_config_check(&c->adv, NULL) || !(c->adv.eps >= 0) || !(c->adv.ema_decay > 0 && c->adv.ema_decay <= 1))
        return "[pgrpo]";
    if (loss_config_check(&c->loss, NULL)) return "loss";
    const GroupsSection *g = &c->groups;
    if ((unsigned)g->feedback > FEEDBACK_FROM_FILE || (g->feedback == FEEDBACK_FROM_FILE && !*g->feedback_file) ||
        g->probes < 2 || !(g->observed > 0 && g->observed <= 1) || !(g->noise >= 0) || g->dims < 1 ||
        (g->feedback == FEEDBACK_FROM_TASK && g->dims > g->probes) || g->k < 0 || g->k > 16 || g->k_max < 2 ||
        g->k_max > 16 || (unsigned)g->method > DISCOVER_SPECTRAL || (unsigned)g->criterion > KCRIT_EIGENGAP ||
        (unsigned)g->solver > SOLVER_SHIFT_INVERT || g->n_init < 1 || g->max_iter < 1 || !(g->tol >= 0) ||
        g->sample < 10 || !(g->gamma >= 0) || g->block < 1) return "[groups]";
    if (c->checkpoint.keep_last < 1 || c->eval.prompts < 1 || c->eval.samples < 1) return "[checkpoint]/[eval]";
    return NULL;
}

int main(int argc, char **argv) {
    int text = 0, nranks = 0, n_sets = 0;
    const char *path = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--text")) text = 1;
        else if (!strcmp(argv[i], "--nranks") && i + 1 < argc) nranks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[n_sets++] = argv[++i];
        else if (!path) path = argv[i];
        else { fprintf(stderr, "usage: deck_check [--text] [--nranks N] DECK [--set k=v ...]\n"); return 64; }
    }
    char err[4096];
    Deck *d = deck_parse(path && strcmp(path, "-") ? path : (path ? "/dev/stdin" : NULL), n_sets, sets, err, sizeof err);
    Config c;
    int rc = d ? config_from_deck(d, &c, err, sizeof err) : -1;
    if (!rc && nranks > 0) rc = config_check_world(&c, d, nranks, err, sizeof err);
    if (rc) {
        fprintf(stderr, "pgrpo: error: %s\n", err);
        deck_free(d);
        free(sets);
        return 2;
    }
    const char *bad = config_insane(&c);
    if (bad) fprintf(stderr, "deck_check: accepted deck breaks an invariant of %s\n", bad);
    if (text) fputs(deck_text(d), stdout);
    deck_free(d);
    free(sets);
    return bad ? 4 : 0;
}
