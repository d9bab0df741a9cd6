// eval.c — `pgrpo eval` (per-group held-out evaluation) and `pgrpo sample` (examples as text).
#include <math.h>
#include <string.h>
#include <unistd.h>
#include "app.h"
#include "batch.h"
#include "policy.h"
#include "check.h"
#include "comm.h"
#include "store.h"

static Model *load_for_eval(App *a, const Task *t, char *path, size_t n) {
    if (a->checkpoint) snprintf(path, n, "%s", a->checkpoint);
    else app_out_path(a, "final.h5", path, n);
    Rng init;
    rng_seed(&init, (uint64_t)deck_int(a->deck, "run.seed"), RNG_INIT, 0, 0);
    return policy_load(a, path, t, &init);
}

// Distinct n-grams / all n-grams over a set of completions (EOS excluded).
static double distinct_n(const int *tok, const int *len, int count, int Tc, int nn) {
    size_t cap = 1024, used = 0, total = 0;
    uint64_t *seen = xcalloc(cap, sizeof *seen); // open addressing on n-gram hashes
    for (int i = 0; i < count; i++) {
        int L = len[i];
        if (L > 0 && tok[(size_t)i * Tc + L - 1] == TOK_EOS) L--;
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

enum { E_SAMPLED, E_GREEDY, E_ORACLE, E_LEN, E_COUNT, E_PROMPTS, E_NFIELD };

int cmd_eval(App *a) {
    const Deck *d = a->deck;
    Task *task = app_task(a);
    char path[1100];
    Model *m = load_for_eval(a, task, path, sizeof path);
    const ModelConfig *cfg = model_config(m);
    uint64_t seed = (uint64_t)deck_int(d, "run.seed");
    int NP = (int)deck_int(d, "eval.prompts"), S = (int)deck_int(d, "eval.samples");
    SampleParams sp = app_sample_params(a, task);
    int Tc = sp.max_new, ng = task_n_groups(task);
    long p0, np;
    comm_split_range(NP, a->size, a->rank, &p0, &np);
    int n = (int)np * S;
    model_reserve(m, 1, cfg->max_t, n > (int)np ? n : (int)np);
    Prompt *pr = xcalloc((size_t)(np ? np : 1), sizeof(Prompt));
    int *ptok = xcalloc((size_t)(n ? n : 1) * TASK_MAX_PROMPT, sizeof(int)), *plen = xcalloc((size_t)(n ? n : 1), sizeof(int));
    int *ctok = xcalloc((size_t)(n ? n : 1) * Tc, sizeof(int)), *clen = xcalloc((size_t)(n ? n : 1), sizeof(int));
    float *clogp = xcalloc((size_t)(n ? n : 1) * Tc, sizeof(float));
    int *gtok = xcalloc((size_t)(np ? np : 1) * Tc, sizeof(int)), *glen = xcalloc((size_t)(np ? np : 1), sizeof(int));
    double *acc = xcalloc((size_t)ng * E_NFIELD, sizeof(double));
    for (long i = 0; i < np; i++) {
        task_prompt(task, seed, SPLIT_EVAL, p0 + i, &pr[i]);
        if (pr[i].len + Tc > cfg->max_t)
            deck_fail(d, "model.context", "raise model.context or lower train.max_new", "prompt too long for the context");
    }
    batch_expand_prompts(pr, (int)np, S, ptok, plen);
    Rng r;
    rng_seed(&r, seed, RNG_EVAL, (uint64_t)a->rank, 0);
    if (n) model_sample(m, ptok, TASK_MAX_PROMPT, plen, n, &sp, &r, ctok, clogp, clen);
    SampleParams greedy = sp;
    greedy.top_k = 1;
    greedy.temperature = 1.0f;
    // Greedy: one completion per prompt (top-1 is deterministic whatever the stream).
    batch_expand_prompts(pr, (int)np, 1, ptok, plen);
    float *glogp = xcalloc((size_t)(np ? np : 1) * Tc, sizeof(float));
    if (np) model_sample(m, ptok, TASK_MAX_PROMPT, plen, (int)np, &greedy, &r, gtok, glogp, glen);
    for (long i = 0; i < np; i++) {
        double *g = acc + (size_t)pr[i].group * E_NFIELD;
        for (int s = 0; s < S; s++) {
            int k = (int)i * S + s;
            g[E_SAMPLED] += task_reward(task, &pr[i], ctok + (size_t)k * Tc, clen[k]);
            g[E_LEN] += clen[k];
            g[E_COUNT] += 1;
        }
        g[E_GREEDY] += task_reward(task, &pr[i], gtok + (size_t)i * Tc, glen[i]);
        g[E_ORACLE] += task_oracle(task, &pr[i]);
        g[E_PROMPTS] += 1;
    }
    comm_sum_doubles(acc, ng * E_NFIELD, a->world);
    // Diversity needs every completion of a group in one place: gather them to rank 0.
    int *counts = xcalloc((size_t)a->size, sizeof(int));
    comm_gather_ints(&n, 1, counts, a->world);
    int ntot = 0;
    for (int i = 0; i < a->size; i++) ntot += counts[i];
    int *grp_l = xcalloc((size_t)(n ? n : 1), sizeof(int));
    for (int k = 0; k < n; k++) grp_l[k] = pr[k / S].group;
    int *all_tok = NULL, *all_len = NULL, *all_grp = NULL, *tcounts = NULL;
    if (a->rank == 0) {
        all_tok = xcalloc((size_t)(ntot ? ntot : 1) * Tc, sizeof(int));
        all_len = xcalloc((size_t)(ntot ? ntot : 1), sizeof(int));
        all_grp = xcalloc((size_t)(ntot ? ntot : 1), sizeof(int));
        tcounts = xcalloc((size_t)a->size, sizeof(int));
        for (int i = 0; i < a->size; i++) tcounts[i] = counts[i] * Tc;
    }
    comm_gatherv(clen, n, sizeof(int), all_len, counts, a->world);
    comm_gatherv(grp_l, n, sizeof(int), all_grp, counts, a->world);
    comm_gatherv(ctok, n * Tc, sizeof(int), all_tok, tcounts, a->world);

    // Held-out NLL against the SFT base (capability retention).
    int *sx = xcalloc(TASK_MAX_SEQ, sizeof(int)), *sy = xcalloc(TASK_MAX_SEQ, sizeof(int));
    float *sl = xcalloc((size_t)cfg->max_t, sizeof(float));
    double nll = sft_heldout_nll(m, task, seed, 64, sx, sy, sl), nll_base = NAN;
    char base[1100];
    const char *bp = deck_str(d, "train.base");
    if (*bp) snprintf(base, sizeof base, "%s", bp);
    else app_sft_path(a, base, sizeof base);
    if (access(base, R_OK) == 0 && strcmp(base, path)) {
        Rng init;
        rng_seed(&init, seed, RNG_INIT, 0, 0);
        Model *b = policy_load(a, base, task, &init);
        model_reserve(b, 1, cfg->max_t, 0);
        nll_base = sft_heldout_nll(b, task, seed, 64, sx, sy, sl);
        model_free(b);
    }

    if (a->rank == 0) {
        double *d1 = xcalloc((size_t)ng + 1, sizeof(double)), *d2 = xcalloc((size_t)ng + 1, sizeof(double));
        int *tk = xcalloc((size_t)(ntot ? ntot : 1) * Tc, sizeof(int)), *ln = xcalloc((size_t)(ntot ? ntot : 1), sizeof(int));
        for (int g = 0; g <= ng; g++) {
            int c = 0;
            for (int k = 0; k < ntot; k++)
                if (g == ng || all_grp[k] == g) {
                    memcpy(tk + (size_t)c * Tc, all_tok + (size_t)k * Tc, sizeof(int) * (size_t)Tc);
                    ln[c++] = all_len[k];
                }
            d1[g] = distinct_n(tk, ln, c, Tc, 1);
            d2[g] = distinct_n(tk, ln, c, Tc, 2);
        }
        printf("eval: %s on %d held-out prompts x %d samples (task %s)\n", path, NP, S, task_name(task));
        printf("%-3s %-22s %7s %9s %9s %9s %9s %7s %7s %7s\n", "grp", "name", "prompts", "sampled", "greedy", "oracle",
               "norm", "len", "dist1", "dist2");
        double tot[E_NFIELD] = {0};
        double *col = xcalloc((size_t)(ng + 1) * 8, sizeof(double));
        for (int g = 0; g <= ng; g++) {
            double *v = g < ng ? acc + (size_t)g * E_NFIELD : tot;
            if (g < ng) for (int f = 0; f < E_NFIELD; f++) tot[f] += v[f];
            double c = v[E_COUNT] > 0 ? v[E_COUNT] : 1, p = v[E_PROMPTS] > 0 ? v[E_PROMPTS] : 1;
            double rs = v[E_SAMPLED] / c, rg = v[E_GREEDY] / p, ro = v[E_ORACLE] / p;
            // Normalised reward: (R - floor) / (oracle - floor) with the floor -1 (a malformed completion).
            double norm = (rs + 1.0) / (ro + 1.0 > 1e-9 ? ro + 1.0 : 1e-9);
            printf("%-3s %-22s %7.0f %9.4f %9.4f %9.4f %9.4f %7.2f %7.3f %7.3f\n", g < ng ? "" : "all",
                   g < ng ? task_group_name(task, g) : "(all groups)", v[E_PROMPTS], rs, rg, ro, norm, v[E_LEN] / c, d1[g], d2[g]);
            double row[8] = {v[E_PROMPTS], rs, rg, ro, norm, v[E_LEN] / c, d1[g], d2[g]};
            memcpy(col + (size_t)g * 8, row, sizeof row);
        }
        printf("held-out NLL: %.4f nats/token (SFT base: %.4f)\n", nll, nll_base);
        char out[1100], err[1024];
        app_out_path(a, "eval.h5", out, sizeof out);
        StoreWriter *w = store_writer_create(out, STORE_KIND_EVAL, deck_text(d), err, sizeof err);
        if (!w) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
        size_t dims[2] = {(size_t)ng + 1, 8};
        store_put(w, "per_group", STORE_F64, col, 2, dims);
        store_put_attr_str(w, "per_group", "columns", "prompts,reward_sampled,reward_greedy,oracle,normalized,length,distinct1,distinct2");
        store_put_attr_str(w, "per_group", "description", "one row per preference group, last row all groups");
        store_put(w, "heldout_nll", STORE_F64, &nll, 0, NULL);
        store_put(w, "heldout_nll_base", STORE_F64, &nll_base, 0, NULL);
        store_put_attr_str(w, "/", "policy", path);
        store_put_attr_str(w, "/", "task", task_name(task));
        if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
        printf("eval: wrote %s\n", out);
        free(d1); free(d2); free(tk); free(ln); free(col);
        free(all_tok); free(all_len); free(all_grp); free(tcounts);
    }
    free(sx); free(sy); free(sl); free(counts); free(grp_l); free(glogp);
    free(pr); free(ptok); free(plen); free(ctok); free(clen); free(clogp); free(gtok); free(glen); free(acc);
    model_free(m);
    task_free(task);
    return 0;
}

int cmd_sample(App *a) {
    const Deck *d = a->deck;
    Task *task = app_task(a);
    char path[1100];
    Model *m = load_for_eval(a, task, path, sizeof path);
    if (a->rank == 0) {
        uint64_t seed = (uint64_t)deck_int(d, "run.seed");
        SampleParams sp = app_sample_params(a, task);
        int Tc = sp.max_new;
        int ng = task_n_groups(task), per = 2, shown[TASK_MAX_GROUPS] = {0};
        model_reserve(m, 1, model_config(m)->max_t, 2);
        Rng r;
        rng_seed(&r, seed, RNG_EVAL, 0, 1);
        int tok[2 * 256], len[2];
        float lp[2 * 256];
        CHECK(Tc <= 256, "max_new too large for sample");
        char buf[4096];
        printf("sample: %s (task %s), %d examples per group, sampled then greedy\n", path, task_name(task), per);
        for (long i = 0; i < 4000; i++) {
            Prompt p;
            task_prompt(task, seed, SPLIT_EVAL, i, &p);
            if (shown[p.group] >= per) continue;
            shown[p.group]++;
            int ptok[2 * TASK_MAX_PROMPT], plen[2] = {p.len, p.len};
            memcpy(ptok, p.tok, sizeof(int) * (size_t)p.len);
            model_sample(m, ptok, TASK_MAX_PROMPT, plen, 1, &sp, &r, tok, lp, len);
            SampleParams g = sp;
            g.top_k = 1;
            model_sample(m, ptok, TASK_MAX_PROMPT, plen, 1, &g, &r, tok + Tc, lp, len + 1);
            task_decode(task, p.tok, p.len, buf, sizeof buf);
            printf("\n[group %d: %s] user %d\n  prompt : %s\n", p.group, task_group_name(task, p.group), p.user, buf);
            task_decode(task, tok, len[0], buf, sizeof buf);
            printf("  sampled: %s   (reward %+.3f)\n", buf, task_reward(task, &p, tok, len[0]));
            task_decode(task, tok + Tc, len[1], buf, sizeof buf);
            printf("  greedy : %s   (reward %+.3f, oracle %+.3f)\n", buf, task_reward(task, &p, tok + Tc, len[1]),
                   task_oracle(task, &p));
            int done = 1;
            for (int q = 0; q < ng; q++) done &= shown[q] >= per;
            if (done) break;
        }
        fflush(stdout);
    }
    comm_barrier(a->world);
    model_free(m);
    task_free(task);
    return 0;
}
