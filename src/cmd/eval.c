// eval.c — `pgrpo eval` (per-group held-out evaluation) and `pgrpo sample` (examples as text).
#include <math.h>
#include <string.h>
#include <unistd.h>
#include "app.h"
#include "batch.h"
#include "policy.h"
#include "rollout.h"
#include "check.h"
#include "comm.h"
#include "store.h"

static Model *load_for_eval(App *a, const Task *t, char *path, size_t n) {
    if (a->checkpoint) snprintf(path, n, "%s", a->checkpoint);
    else app_out_path(a, "final.h5", path, n);
    Model *m = policy_load(a, path, t);
    model_hold_weights(m, 1);   // evaluation never changes them: every call reuses the first call's packing
    return m;
}

// Distinct n-grams / all n-grams over a set of completions (EOS excluded).
static double distinct_n(const int *tok, const int *len, int count, int Tc, int nn, int eos) {
    size_t cap = 1024, used = 0, total = 0;
    uint64_t *seen = xcalloc(cap, sizeof *seen); // open addressing on n-gram hashes
    for (int i = 0; i < count; i++) {
        int L = len[i];
        if (L > 0 && tok[(size_t)i * Tc + L - 1] == eos) L--;
        for (int j = 0; j + nn <= L; j++) {
            uint64_t h = 1469598103934665603ULL;
            for (int k = 0; k < nn; k++) h = (h ^ (uint64_t)tok[(size_t)i * Tc + j + k]) * 1099511628211ULL;
            h |= 1;
            total++;
            if (2 * (used + 1) > cap) {   // grow and rehash
                uint64_t *old = seen;
                size_t oc = cap;
                cap *= 2;
                seen = xcalloc(cap, sizeof *seen);
                for (size_t q = 0; q < oc; q++)
                    if (old[q]) {
                        size_t s = old[q] % cap;
                        while (seen[s]) s = (s + 1) % cap;
                        seen[s] = old[q];
                    }
                free(old);
            }
            size_t s = h % cap;
            while (seen[s] && seen[s] != h) s = (s + 1) % cap;
            if (!seen[s]) { seen[s] = h; used++; }
        }
    }
    free(seen);
    return total ? (double)used / (double)total : 0.0;
}

// Per-group sums over prompts and samples (all doubles: reduced over ranks as an array).
typedef struct { double sampled, greedy, oracle, len, count, prompts; } GroupTotals;
#define GROUP_TOTALS_N ((int)(sizeof(GroupTotals) / sizeof(double)))

// This rank's share of the evaluation: np prompts, S sampled and one greedy completion each.
typedef struct {
    int np, S, Tc, n;       // n = np * S
    Prompt *pr;             // (np)
    int *ctok, *clen;       // (n, Tc), (n) sampled
    int *gtok, *glen;       // (np, Tc), (np) greedy
} EvalShare;

static void eval_share_alloc(EvalShare *e, int np, int S, int Tc) {
    *e = (EvalShare){.np = np, .S = S, .Tc = Tc, .n = np * S};
    size_t n = (size_t)(e->n ? e->n : 1), p = (size_t)(np ? np : 1);
    e->pr = xcalloc(p, sizeof(Prompt));
    e->ctok = xcalloc(n * (size_t)Tc, sizeof(int));
    e->clen = xcalloc(n, sizeof(int));
    e->gtok = xcalloc(p * (size_t)Tc, sizeof(int));
    e->glen = xcalloc(p, sizeof(int));
}
static void eval_share_free(EvalShare *e) {
    free(e->pr); free(e->ctok); free(e->clen); free(e->gtok); free(e->glen);
}

// Prompts [p0, p0+np) of the eval split, S samples each and a greedy completion (top-1 is deterministic whatever
// the stream), from this rank's eval stream.
static void eval_generate(const App *a, Model *m, const Task *task, long p0, EvalShare *e) {
    uint64_t seed = a->cfg.run.seed;
    SampleParams sp = app_sample_params(a, task);
    int max_t = model_config(m)->max_t, rows = e->n > e->np ? e->n : e->np;
    model_reserve(m, 1, max_t, rows);
    for (int i = 0; i < e->np; i++) {
        task_prompt(task, seed, SPLIT_EVAL, p0 + i, &e->pr[i]);
        if (e->pr[i].len + e->Tc > max_t)
            deck_fail(a->deck, "model.context", "raise model.context or lower train.max_new", "prompt too long for the context");
    }
    size_t r = (size_t)(rows ? rows : 1);
    int *ptok = xcalloc(r * TASK_MAX_PROMPT, sizeof(int)), *plen = xcalloc(r, sizeof(int));
    float *logp = xcalloc(r * (size_t)e->Tc, sizeof(float));
    batch_expand_prompts(e->pr, e->np, e->S, ptok, plen);
    Rng rng;
    rng_seed(&rng, seed, RNG_EVAL, (uint64_t)a->rank, 0);
    if (e->n) model_sample(m, ptok, TASK_MAX_PROMPT, plen, e->n, &sp, &rng, e->ctok, logp, e->clen);
    SampleParams greedy = sp;
    greedy.top_k = 1;
    greedy.temperature = 1.0f;
    batch_expand_prompts(e->pr, e->np, 1, ptok, plen);
    if (e->np) model_sample(m, ptok, TASK_MAX_PROMPT, plen, e->np, &greedy, &rng, e->gtok, logp, e->glen);
    free(ptok); free(plen); free(logp);
}

// The rewards of this rank's sampled (rs: e->n) and greedy (rg: e->np) completions from the deck's [reward] source
// (the task's own, a plugin or a process started on this rank); a failing source ends the run with its message.
static void eval_rewards(const App *a, const Task *task, const EvalShare *e, float *rs, float *rg) {
    RewardSource *src = rollout_reward_open(a->deck, task);
    char err[1536];
    if (reward_score(src, e->pr, e->S, e->ctok, e->clen, e->n, e->Tc, "the eval sampled completions", rs, err, sizeof err)
        || reward_score(src, e->pr, 1, e->gtok, e->glen, e->np, e->Tc, "the eval greedy completions", rg, err, sizeof err))
        die_user(EXIT_RUNTIME, "fix the reward and run pgrpo eval again", "rank %d: %s", a->rank, err);
    reward_close(src);
}

// This rank's rewards, lengths and counts per group (acc: n_groups, zeroed).
static void eval_tally(const App *a, const Task *task, const EvalShare *e, GroupTotals *acc) {
    size_t n = (size_t)(e->n ? e->n : 1), p = (size_t)(e->np ? e->np : 1);
    float *rs = xcalloc(n, sizeof(float)), *rg = xcalloc(p, sizeof(float));
    eval_rewards(a, task, e, rs, rg);
    for (int i = 0; i < e->np; i++) {
        GroupTotals *g = &acc[e->pr[i].group];
        for (int s = 0; s < e->S; s++) {
            int k = i * e->S + s;
            g->sampled += rs[k];
            g->len += e->clen[k];
            g->count += 1;
        }
        g->greedy += rg[i];
        g->oracle += task_has_builtin_reward(task) ? task_oracle(task, &e->pr[i]) : NAN;   // no oracle without a built-in reward
        g->prompts += 1;
    }
    free(rs); free(rg);
}

// Every rank's sampled completions at rank 0 (diversity needs a group's completions in one place).
typedef struct { int n; int *tok, *len, *grp; } Gathered;
static Gathered eval_gather(const App *a, const EvalShare *e) {
    Gathered g = {0};
    int *counts = xcalloc((size_t)a->size, sizeof(int)), *tcounts = xcalloc((size_t)a->size, sizeof(int));
    comm_gather_ints(&e->n, 1, counts, a->world);
    for (int i = 0; i < a->size; i++) { g.n += counts[i]; tcounts[i] = counts[i] * e->Tc; }
    int *grp = xcalloc((size_t)(e->n ? e->n : 1), sizeof(int));
    for (int k = 0; k < e->n; k++) grp[k] = e->pr[k / e->S].group;
    if (a->rank == 0) {
        size_t n = (size_t)(g.n ? g.n : 1);
        g.tok = xcalloc(n * (size_t)e->Tc, sizeof(int));
        g.len = xcalloc(n, sizeof(int));
        g.grp = xcalloc(n, sizeof(int));
    }
    comm_gatherv(e->clen, e->n, sizeof(int), g.len, counts, a->world);
    comm_gatherv(grp, e->n, sizeof(int), g.grp, counts, a->world);
    comm_gatherv(e->ctok, e->n * e->Tc, sizeof(int), g.tok, tcounts, a->world);
    free(counts); free(tcounts); free(grp);
    return g;
}

// Held-out NLL of m and, when it exists and is another file, of the SFT base (capability retention).
static void eval_nll(const App *a, Model *m, const Task *task, const char *path, double *nll, double *nll_base) {
    uint64_t seed = a->cfg.run.seed;
    int max_t = model_config(m)->max_t;
    int *sx = xcalloc(TASK_MAX_SEQ, sizeof(int)), *sy = xcalloc(TASK_MAX_SEQ, sizeof(int));
    float *sl = xcalloc((size_t)max_t, sizeof(float));
    *nll = sft_heldout_nll(m, task, seed, 64, sx, sy, sl);
    *nll_base = NAN;
    char base[1100];
    const char *bp = a->cfg.train.base;
    if (*bp) snprintf(base, sizeof base, "%s", bp);
    else app_sft_path(a, base, sizeof base);
    if (access(base, R_OK) == 0 && strcmp(base, path)) {
        Model *b = policy_load(a, base, task);
        model_reserve(b, 1, max_t, 0);
        *nll_base = sft_heldout_nll(b, task, seed, 64, sx, sy, sl);
        model_free(b);
    }
    free(sx); free(sy); free(sl);
}

// distinct-1 and distinct-2 of group g's completions (g = n_groups: all groups).
static void eval_diversity(const Gathered *all, int g, int n_groups, int Tc, int eos, double *d1, double *d2) {
    size_t n = (size_t)(all->n ? all->n : 1);
    int *tk = xcalloc(n * (size_t)Tc, sizeof(int)), *ln = xcalloc(n, sizeof(int)), c = 0;
    for (int k = 0; k < all->n; k++)
        if (g == n_groups || all->grp[k] == g) {
            memcpy(tk + (size_t)c * Tc, all->tok + (size_t)k * Tc, sizeof(int) * (size_t)Tc);
            ln[c++] = all->len[k];
        }
    *d1 = distinct_n(tk, ln, c, Tc, 1, eos);
    *d2 = distinct_n(tk, ln, c, Tc, 2, eos);
    free(tk); free(ln);
}

// The per-group table's columns (eval.h5 /per_group), one table for the file's column list and the row.
enum { C_PROMPTS, C_SAMPLED, C_GREEDY, C_ORACLE, C_NORM, C_LEN, C_D1, C_D2, N_COLUMNS };
static const char *const COLUMNS = "prompts,reward_sampled,reward_greedy,oracle,normalized,length,distinct1,distinct2";

static void eval_row(const GroupTotals *v, double d1, double d2, double *row) {
    double c = v->count > 0 ? v->count : 1, p = v->prompts > 0 ? v->prompts : 1;
    double rs = v->sampled / c, ro = v->oracle / p;
    row[C_PROMPTS] = v->prompts;
    row[C_SAMPLED] = rs;
    row[C_GREEDY] = v->greedy / p;
    row[C_ORACLE] = ro;
    // Normalised reward: (R - floor) / (oracle - floor) with the floor -1 (a malformed completion).
    row[C_NORM] = isnan(ro) ? NAN : (rs + 1.0) / (ro + 1.0 > 1e-9 ? ro + 1.0 : 1e-9);   // NaN oracle: no oracle (file task)
    row[C_LEN] = v->len / c;
    row[C_D1] = d1;
    row[C_D2] = d2;
}

// ---- recommender metrics (tasks with held-back next items: movielens) ----------------------------------------
// Hit rate@K and NDCG@K of a completion's first K items (before EOS; a repeated item counts once) against the
// prompt's held-back next items (task_next_items), binary relevance: DCG = sum over hits at rank j of
// 1/log2(j+2), IDCG = the same for min(K, |next|) hits. Sampled completions are averaged; greedy ones once.
#define EVAL_REC_K 5
typedef struct { double prompts, hit_s, ndcg_s, hit_g, ndcg_g, samples; } RecTotals;
#define REC_TOTALS_N ((int)(sizeof(RecTotals) / sizeof(double)))
enum { R_PROMPTS, R_HIT_S, R_NDCG_S, R_HIT_G, R_NDCG_G, N_REC_COLUMNS };
static const char *const REC_COLUMNS = "prompts,hit_sampled,ndcg_sampled,hit_greedy,ndcg_greedy";

static void eval_rec_one(const int *tok, int len, const int *next, int nn, int eos, double *hit, double *ndcg) {
    double dcg = 0, idcg = 0;
    int any = 0;
    for (int j = 0; j < EVAL_REC_K && j < nn; j++) idcg += 1.0 / log2(j + 2.0);
    for (int j = 0; j < EVAL_REC_K && j < len && tok[j] != eos; j++) {
        int rel = 0, rep = 0;
        for (int q = 0; q < nn; q++) rel |= tok[j] == next[q];
        for (int q = 0; q < j; q++) rep |= tok[q] == tok[j];
        if (rel && !rep) { dcg += 1.0 / log2(j + 2.0); any = 1; }
    }
    *hit += any;
    *ndcg += idcg > 0 ? dcg / idcg : 0;
}

// This rank's sums per group (acc: n_groups, zeroed); 0 when the task has no next items (nothing to report).
static int eval_rec_tally(const Task *task, const EvalShare *e, RecTotals *acc) {
    int any = 0, next[TASK_MAX_SEQ];
    for (int i = 0; i < e->np; i++) {
        int nn = task_next_items(task, &e->pr[i], next, TASK_MAX_SEQ);
        if (nn <= 0) continue;
        any = 1;
        RecTotals *g = &acc[e->pr[i].group];
        for (int s = 0; s < e->S; s++) {
            int k = i * e->S + s;
            eval_rec_one(e->ctok + (size_t)k * e->Tc, e->clen[k], next, nn, task_eos(task), &g->hit_s, &g->ndcg_s);
            g->samples += 1;
        }
        eval_rec_one(e->gtok + (size_t)i * e->Tc, e->glen[i], next, nn, task_eos(task), &g->hit_g, &g->ndcg_g);
        g->prompts += 1;
    }
    return any;
}

// Rank 0: the table (one row per group, then all groups) into rows ((ng + 1) x N_REC_COLUMNS), printed.
static void eval_rec_report(const Task *task, const RecTotals *acc, double *rows) {
    int ng = task_n_groups(task);
    RecTotals tot = {0};
    printf("recommendation vs the held-back next movies (K = %d)\n%-3s %-22s %7s %9s %9s %9s %9s\n", EVAL_REC_K,
           "grp", "name", "prompts", "hit@K", "ndcg@K", "hit@K g", "ndcg@K g");
    for (int g = 0; g <= ng; g++) {
        if (g < ng) for (int f = 0; f < REC_TOTALS_N; f++) ((double *)&tot)[f] += ((const double *)&acc[g])[f];
        const RecTotals *v = g < ng ? &acc[g] : &tot;
        double *r = rows + (size_t)g * N_REC_COLUMNS, c = v->samples > 0 ? v->samples : 1, p = v->prompts > 0 ? v->prompts : 1;
        r[R_PROMPTS] = v->prompts, r[R_HIT_S] = v->hit_s / c, r[R_NDCG_S] = v->ndcg_s / c;
        r[R_HIT_G] = v->hit_g / p, r[R_NDCG_G] = v->ndcg_g / p;
        printf("%-3s %-22s %7.0f %9.4f %9.4f %9.4f %9.4f\n", g < ng ? "" : "all",
               g < ng ? task_group_name(task, g) : "(all groups)", r[R_PROMPTS], r[R_HIT_S], r[R_NDCG_S], r[R_HIT_G],
               r[R_NDCG_G]);
    }
}

static void eval_rec_write(StoreWriter *w, const double *rows, int n_rows) {
    size_t dims[2] = {(size_t)n_rows, N_REC_COLUMNS};
    store_put(w, "recommend", STORE_F64, rows, 2, dims);
    store_put_attr_str(w, "recommend", "columns", REC_COLUMNS);
    store_put_attr_int(w, "recommend", "k", EVAL_REC_K);
    store_put_attr_str(w, "recommend", "description", "hit rate@k and NDCG@k against the held-back next items, "
                       "sampled (mean over samples) and greedy; one row per preference group, last row all groups");
}

static void eval_write(const App *a, const Task *task, const char *path, const double *col, int rows, double nll,
                       double nll_base, const double *rec) {
    char out[1100], err[1024];
    app_out_path(a, "eval.h5", out, sizeof out);
    StoreWriter *w = store_writer_create(out, STORE_KIND_EVAL, deck_text(a->deck), err, sizeof err);
    if (!w) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
    size_t dims[2] = {(size_t)rows, N_COLUMNS};
    store_put(w, "per_group", STORE_F64, col, 2, dims);
    store_put_attr_str(w, "per_group", "columns", COLUMNS);
    store_put_attr_str(w, "per_group", "description", "one row per preference group, last row all groups");
    store_put(w, "heldout_nll", STORE_F64, &nll, 0, NULL);
    store_put(w, "heldout_nll_base", STORE_F64, &nll_base, 0, NULL);
    store_put_attr_str(w, "/", "policy", path);
    store_put_attr_str(w, "/", "task", task_name(task));
    if (rec) eval_rec_write(w, rec, rows);
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
    printf("eval: wrote %s\n", out);
}

// Rank 0: the table (one row per group, then all groups) and eval.h5.
static void eval_report(const App *a, const Task *task, const char *path, const GroupTotals *acc, const Gathered *all,
                        int Tc, double nll, double nll_base, const RecTotals *rec) {
    int ng = task_n_groups(task);
    printf("eval: %s on %d held-out prompts x %d samples (task %s)\n", path, a->cfg.eval.prompts,
           a->cfg.eval.samples, task_name(task));
    printf("%-3s %-22s %7s %9s %9s %9s %9s %7s %7s %7s\n", "grp", "name", "prompts", "sampled", "greedy", "oracle",
           "norm", "len", "dist1", "dist2");
    GroupTotals tot = {0};
    double *col = xcalloc((size_t)(ng + 1) * N_COLUMNS, sizeof(double));
    for (int g = 0; g <= ng; g++) {
        if (g < ng) {
            const double *v = (const double *)&acc[g];
            double *t = (double *)&tot;
            for (int f = 0; f < GROUP_TOTALS_N; f++) t[f] += v[f];
        }
        double d1, d2, *row = col + (size_t)g * N_COLUMNS;
        eval_diversity(all, g, ng, Tc, task_eos(task), &d1, &d2);
        eval_row(g < ng ? &acc[g] : &tot, d1, d2, row);
        printf("%-3s %-22s %7.0f %9.4f %9.4f %9.4f %9.4f %7.2f %7.3f %7.3f\n", g < ng ? "" : "all",
               g < ng ? task_group_name(task, g) : "(all groups)", row[C_PROMPTS], row[C_SAMPLED], row[C_GREEDY],
               row[C_ORACLE], row[C_NORM], row[C_LEN], row[C_D1], row[C_D2]);
    }
    printf("held-out NLL: %.4f nats/token (SFT base: %.4f)\n", nll, nll_base);
    double *rrows = rec ? xcalloc((size_t)(ng + 1) * N_REC_COLUMNS, sizeof(double)) : NULL;
    if (rec) eval_rec_report(task, rec, rrows);
    eval_write(a, task, path, col, ng + 1, nll, nll_base, rrows);
    free(rrows);
    free(col);
}

int cmd_eval(App *a) {
    Task *task = app_task(a);
    char path[1100];
    Model *m = load_for_eval(a, task, path, sizeof path);
    int NP = a->cfg.eval.prompts, S = a->cfg.eval.samples;
    int Tc = app_sample_params(a, task).max_new, ng = task_n_groups(task);
    long p0, np;
    comm_split_range(NP, a->size, a->rank, &p0, &np);
    EvalShare e;
    eval_share_alloc(&e, (int)np, S, Tc);
    eval_generate(a, m, task, p0, &e);
    GroupTotals *acc = xcalloc((size_t)ng, sizeof(GroupTotals));
    eval_tally(a, task, &e, acc);
    comm_sum_doubles((double *)acc, ng * GROUP_TOTALS_N, a->world);
    RecTotals *rec = xcalloc((size_t)ng, sizeof(RecTotals));
    double has_rec = eval_rec_tally(task, &e, rec);   // summed over ranks: > 0 when any rank saw next items
    comm_sum_doubles((double *)rec, ng * REC_TOTALS_N, a->world);
    comm_sum_doubles(&has_rec, 1, a->world);
    Gathered all = eval_gather(a, &e);
    double nll, nll_base;
    eval_nll(a, m, task, path, &nll, &nll_base);
    if (a->rank == 0) eval_report(a, task, path, acc, &all, Tc, nll, nll_base, has_rec > 0 ? rec : NULL);
    free(all.tok); free(all.len); free(all.grp); free(acc); free(rec);
    eval_share_free(&e);
    model_free(m);
    task_free(task);
    return 0;
}

// Tokens whose label is not the word itself (movielens: the movies' titles), one line; nothing when none is.
static void sample_titles(const Task *task, const char *what, const int *tok, int n) {
    int any = 0;
    for (int i = 0; i < n; i++) {
        const char *l = task_token_label(task, tok[i]);
        if (l == task_token_str(task, tok[i]) || !strcmp(l, task_token_str(task, tok[i]))) continue;
        printf("%s%s", any ? " | " : "  titles (", any ? "" : what);
        if (!any) printf("): ");
        printf("%s", l);
        any = 1;
    }
    if (any) printf("\n");
}

// One example: the prompt, a sampled and a greedy completion (tok: 2 rows of Tc, lp scratch), printed as text with
// their rewards from src.
static void sample_show(Model *m, const Task *task, RewardSource *src, const Prompt *p, const SampleParams *sp, Rng *r,
                        int *tok, float *lp) {
    int Tc = sp->max_new, len[2], plen[1] = {p->len};
    model_sample(m, p->tok, TASK_MAX_PROMPT, plen, 1, sp, r, tok, lp, len);
    SampleParams g = *sp;
    g.top_k = 1;
    model_sample(m, p->tok, TASK_MAX_PROMPT, plen, 1, &g, r, tok + Tc, lp, len + 1);
    // A decoded token is at most a few bytes plus a separator: room for the longest prompt or completion.
    size_t cap = (size_t)(TASK_MAX_PROMPT > Tc ? TASK_MAX_PROMPT : Tc) * 64 + 1;
    char *buf = xmalloc(cap);
    float rw[2];
    char err[1536];
    if (reward_score(src, p, 2, tok, len, 2, Tc, "pgrpo sample", rw, err, sizeof err))
        die_user(EXIT_RUNTIME, "fix the reward and run pgrpo sample again", "%s", err);
    task_decode(task, p->tok, p->len, buf, cap);
    printf("\n[group %d: %s] user %d\n  prompt : %s\n", p->group, task_group_name(task, p->group), p->user, buf);
    task_decode(task, tok, len[0], buf, cap);
    printf("  sampled: %s   (reward %+.3f)\n", buf, rw[0]);
    task_decode(task, tok + Tc, len[1], buf, cap);
    printf("  greedy : %s   (reward %+.3f, oracle %+.3f)\n", buf, rw[1],
           task_has_builtin_reward(task) ? task_oracle(task, p) : NAN);
    sample_titles(task, "watched", p->tok, p->len);
    sample_titles(task, "greedy", tok + Tc, len[1]);
    free(buf);
}

int cmd_sample(App *a) {
    Task *task = app_task(a);
    char path[1100];
    Model *m = load_for_eval(a, task, path, sizeof path);
    if (a->rank == 0) {
        uint64_t seed = a->cfg.run.seed;
        SampleParams sp = app_sample_params(a, task);
        int ng = task_n_groups(task), per = 2, shown[TASK_MAX_GROUPS] = {0}, done = 0;
        model_reserve(m, 1, model_config(m)->max_t, 2);
        Rng r;
        rng_seed(&r, seed, RNG_EVAL, 0, 1);
        int *tok = xcalloc(2 * (size_t)sp.max_new, sizeof(int));
        float *lp = xcalloc(2 * (size_t)sp.max_new, sizeof(float));
        RewardSource *src = rollout_reward_open(a->deck, task);
        printf("sample: %s (task %s), %d examples per group, sampled then greedy\n", path, task_name(task), per);
        for (long i = 0; i < 4000 && !done; i++) {   // the first `per` eval prompts of every group
            Prompt p;
            task_prompt(task, seed, SPLIT_EVAL, i, &p);
            if (shown[p.group] >= per) continue;
            shown[p.group]++;
            sample_show(m, task, src, &p, &sp, &r, tok, lp);
            done = 1;
            for (int q = 0; q < ng; q++) done &= shown[q] >= per;
        }
        fflush(stdout);
        reward_close(src);
        free(tok);
        free(lp);
    }
    comm_barrier(a->world);
    model_free(m);
    task_free(task);
    return 0;
}
