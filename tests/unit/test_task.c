// test_task.c — the three heterogeneous-preference task families (task.h): determinism, group shares, reward
// range and order, malformed completions, tokenizer, train/eval disjointness, the SFT corpus being unpersonalised,
// per-group reward scales, and that the preference is inferable from the prompt and pays off when used.
#include "task.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>

static const char *const names[3] = { "personas", "recsys", "reviews" };

static Task *make(const char *name, uint64_t seed, int n_users, const double *shares) {
    TaskConfig c;
    memset(&c, 0, sizeof c);
    c.name = name; c.n_users = n_users; c.n_eval_users = n_users / 4 + 1; c.seed = seed;
    if (shares) for (int g = 0; g < TASK_MAX_GROUPS; g++) c.group_shares[g] = shares[g];
    char err[256];
    Task *t = task_create(&c, err, sizeof err);
    if (!t) printf("#   task_create(%s): %s\n", name, err);
    return t;
}

static int sft_completion(const Task *t, uint64_t seed, Split s, long i, Prompt *p, int *comp) {
    int tok[TASK_MAX_SEQ], pl;
    int n = task_sft_example(t, seed, s, i, tok, &pl);
    task_prompt(t, seed, s, i, p);
    memcpy(comp, tok + pl, (size_t)(n - pl) * sizeof *comp);
    return n - pl;
}

static int starts_with(const char *s, const char *pre) { return !strncmp(s, pre, strlen(pre)); }

// ---------------------------------------------------------------------------------------------------------------

static void test_create_errors(void) {
    TaskConfig c;
    memset(&c, 0, sizeof c);
    char err[256];
    c.name = "nope"; c.n_users = 10; c.n_eval_users = 5; c.seed = 1;
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "unknown task"), "%s", err);
    c.name = "personas"; c.group_shares[0] = 0.5; c.group_shares[1] = 0.4;
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "sum"), "%s", err);
    c.name = "reviews"; c.group_shares[0] = 0.5; c.group_shares[1] = 0.4; c.group_shares[5] = 0.1;
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "group_shares[5]"), "%s", err);
    memset(c.group_shares, 0, sizeof c.group_shares);
    c.group_shares[0] = -0.5; c.group_shares[1] = 1.5;
    T_ASSERT(!task_create(&c, err, sizeof err), "negative share accepted");
    memset(c.group_shares, 0, sizeof c.group_shares);
    c.n_users = 0;
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "n_users"), "%s", err);
    c.n_users = 10; c.name = "recsys"; c.n_items = 5;
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "n_items"), "%s", err);
    c.n_items = 0; c.max_new = -3;
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "max_new"), "%s", err);
    c.max_new = 3;   // below the 3 items + EOS a recommendation needs
    T_ASSERT(!task_create(&c, err, sizeof err) && strstr(err, "max_new"), "%s", err);
    c.max_new = 0;
    Task *t = task_create(&c, err, sizeof err);
    T_ASSERT(t && !strcmp(task_name(t), "recsys"), "%s", err);
    task_free(t);
}

static void test_tokenizer(void) {
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 7, 200, NULL);
        T_ASSERT(task_vocab_size(t) > 20 && task_vocab_size(t) <= 1200, "%s vocab %d", names[k], task_vocab_size(t));
        T_ASSERT(task_token_id(t, "<bos>") == TOK_BOS && task_token_id(t, "<eos>") == TOK_EOS
                 && task_token_id(t, "<sep>") == TOK_SEP && task_token_id(t, "<pad>") == TOK_PAD, "specials");
        T_ASSERT(task_token_id(t, "zzzunknownzzz") == TOK_UNK, "unknown word");
        int tok[8];
        T_ASSERT(task_encode(t, "  zzz   <eos> ", tok, 8) == 2 && tok[0] == TOK_UNK && tok[1] == TOK_EOS, "encode");
        for (int v = 0; v < task_vocab_size(t); v++)   // every word is one token that maps back to itself
            T_ASSERT(task_token_id(t, task_token_str(t, v)) == v, "%s word %d '%s'", names[k], v, task_token_str(t, v));
        for (long i = 0; i < 200; i++) {
            int seq[TASK_MAX_SEQ], pl, back[TASK_MAX_SEQ];
            int n = task_sft_example(t, 3, SPLIT_TRAIN, i, seq, &pl);
            char buf[2048], buf2[2048];
            int len = task_decode(t, seq, n, buf, sizeof buf);
            T_ASSERT(len == (int)strlen(buf), "decode length");
            int m = task_encode(t, buf, back, TASK_MAX_SEQ);
            T_ASSERT(m == n && !memcmp(back, seq, (size_t)n * sizeof *seq), "%s round trip: %s", names[k], buf);
            task_decode(t, back, m, buf2, sizeof buf2);
            T_ASSERT(!strcmp(buf, buf2), "text round trip");
        }
        char small[10];   // truncation keeps whole words and the NUL
        int seq[4] = { TOK_BOS, TOK_SEP, TOK_EOS, TOK_PAD };
        int len = task_decode(t, seq, 4, small, sizeof small);
        T_ASSERT(len == (int)strlen(small) && !strcmp(small, "<bos>"), "truncated decode '%s'", small);
        task_free(t);
    }
}

static void test_determinism(void) {
    for (int k = 0; k < 3; k++) {
        Task *a = make(names[k], 11, 500, NULL), *b = make(names[k], 11, 500, NULL), *c = make(names[k], 12, 500, NULL);
        int same_users = 1, diff_users = 0;
        for (int u = 0; u < 500; u++) {
            same_users &= task_user_group(a, SPLIT_TRAIN, u) == task_user_group(b, SPLIT_TRAIN, u);
            diff_users += task_user_group(a, SPLIT_TRAIN, u) != task_user_group(c, SPLIT_TRAIN, u);
        }
        T_ASSERT(same_users, "%s same seed, different users", names[k]);
        T_ASSERT(diff_users > 50, "%s different seed, same users (%d differ)", names[k], diff_users);
        int diff_prompts = 0, diff_stream = 0;
        for (long i = 0; i < 300; i++) {
            Prompt p, q, r, s;
            task_prompt(a, 5, SPLIT_TRAIN, i, &p);
            task_prompt(b, 5, SPLIT_TRAIN, i, &q);
            task_prompt(c, 5, SPLIT_TRAIN, i, &r);
            task_prompt(a, 6, SPLIT_TRAIN, i, &s);
            T_ASSERT(!memcmp(&p, &q, sizeof p), "%s prompt %ld differs with the same seed", names[k], i);
            diff_prompts += p.len != r.len || memcmp(p.tok, r.tok, sizeof p.tok[0] * (size_t)p.len);
            diff_stream += p.len != s.len || memcmp(p.tok, s.tok, sizeof p.tok[0] * (size_t)p.len);
            int s1[TASK_MAX_SEQ], s2[TASK_MAX_SEQ], l1, l2;
            int n1 = task_sft_example(a, 5, SPLIT_TRAIN, i, s1, &l1), n2 = task_sft_example(b, 5, SPLIT_TRAIN, i, s2, &l2);
            T_ASSERT(n1 == n2 && l1 == l2 && !memcmp(s1, s2, sizeof s1[0] * (size_t)n1), "sft %ld", i);
            T_ASSERT(task_reward(a, &p, s1 + l1, n1 - l1) == task_reward(b, &q, s2 + l2, n2 - l2), "reward %ld", i);
            T_ASSERT(task_oracle(a, &p) == task_oracle(b, &q), "oracle %ld", i);
        }
        T_ASSERT(diff_prompts > 200, "%s world seed barely changes prompts (%d/300)", names[k], diff_prompts);
        T_ASSERT(diff_stream > 200, "%s stream seed barely changes prompts (%d/300)", names[k], diff_stream);
        task_free(a); task_free(b); task_free(c);
    }
}

static void test_group_shares(void) {
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 21, 1000, NULL);
        int G = task_n_groups(t);
        int cnt[TASK_MAX_GROUPS] = { 0 }, pc[TASK_MAX_GROUPS] = { 0 };
        for (int u = 0; u < 1000; u++) cnt[task_user_group(t, SPLIT_TRAIN, u)]++;
        double maxs = 0, mins = 1;
        for (int g = 0; g < G; g++) { double s = cnt[g] / 1000.0; if (s > maxs) maxs = s; if (s < mins) mins = s; }
        T_ASSERT(maxs >= 0.35 && mins <= 0.05 && mins > 0, "%s default shares not imbalanced: max %g min %g",
                 names[k], maxs, mins);
        const int NP = 6000;
        for (long i = 0; i < NP; i++) {
            Prompt p;
            task_prompt(t, 1, SPLIT_TRAIN, i, &p);
            T_ASSERT(p.group == task_user_group(t, SPLIT_TRAIN, p.user), "prompt group is the user's group");
            pc[p.group]++;
        }
        for (int g = 0; g < G; g++) T_NEAR(pc[g] / (double)NP, cnt[g] / 1000.0, 0.025);
        task_free(t);
        // A deck's own shares are honoured to within one user.
        double sh[TASK_MAX_GROUPS] = { 0 };
        double tot = 0;
        for (int g = 0; g < G; g++) tot += (sh[g] = 1.0 + g);
        for (int g = 0; g < G; g++) sh[g] /= tot;
        t = make(names[k], 21, 777, sh);
        memset(cnt, 0, sizeof cnt);
        for (int u = 0; u < 777; u++) cnt[task_user_group(t, SPLIT_TRAIN, u)]++;
        for (int g = 0; g < G; g++) T_NEAR(cnt[g] / 777.0, sh[g], 1.0 / 777 + 1e-12);
        task_free(t);
        // Tiny populations keep every minority.
        t = make(names[k], 21, G + 1, NULL);
        memset(cnt, 0, sizeof cnt);
        for (int u = 0; u < G + 1; u++) cnt[task_user_group(t, SPLIT_TRAIN, u)]++;
        for (int g = 0; g < G; g++) T_ASSERT(cnt[g] >= 1, "%s group %d empty in a tiny population", names[k], g);
        task_free(t);
    }
}

static void test_reward_range_and_oracle(void) {
    Rng r;
    rng_seed(&r, 99, RNG_TEST, 0, 0);
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 31, 400, NULL);
        int V = task_vocab_size(t), M = task_max_new(t);
        T_ASSERT(M >= 6 && M <= 16, "max_new %d", M);
        double sft_sum = 0, orc_sum = 0;
        int n_random_ok = 0;
        for (long i = 0; i < 1500; i++) {
            Prompt p;
            int comp[TASK_MAX_SEQ];
            int n = sft_completion(t, 4, i % 3 ? SPLIT_TRAIN : SPLIT_EVAL, i, &p, comp);
            T_ASSERT(n >= 2 && n <= M, "%s sft completion length %d (budget %d)", names[k], n, M);
            float rs = task_reward(t, &p, comp, n), o = task_oracle(t, &p);
            T_ASSERT(rs > -1.0f && rs <= 1.0f, "%s sft reward %g", names[k], rs);
            T_ASSERT(o >= rs - 1e-6f && o <= 1.0f, "%s oracle %g < sft %g", names[k], o, rs);
            sft_sum += rs; orc_sum += o;
            // Random tokens: any length, EOS anywhere or nowhere.
            int n2 = 1 + (int)rng_below(&r, (uint32_t)M);
            for (int j = 0; j < n2; j++) comp[j] = (int)rng_below(&r, (uint32_t)V);
            if (rng_uniform(&r) < 0.7) comp[rng_below(&r, (uint32_t)n2)] = TOK_EOS;
            float rr = task_reward(t, &p, comp, n2);
            T_ASSERT(rr >= -1.0f && rr <= 1.0f && rr <= o + 1e-6f, "%s random reward %g oracle %g", names[k], rr, o);
            n_random_ok += rr > -1.0f;
            // Random well-formed: another prompt's SFT completion.
            Prompt q;
            int n3 = sft_completion(t, 8, SPLIT_TRAIN, i, &q, comp);
            float rw = task_reward(t, &p, comp, n3);
            T_ASSERT(rw >= -1.0f && rw <= o + 1e-6f, "%s reward %g above oracle %g", names[k], rw, o);
        }
        printf("# %s: mean SFT reward %.3f, mean oracle %.3f, random token sequences well-formed %d/1500\n",
               names[k], sft_sum / 1500, orc_sum / 1500, n_random_ok);
        T_ASSERT(orc_sum / 1500 > sft_sum / 1500 + 0.2, "%s oracle leaves no headroom over SFT", names[k]);
        task_free(t);
    }
}

static void test_malformed(void) {
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 41, 100, NULL);
        for (long i = 0; i < 100; i++) {
            Prompt p;
            int c[TASK_MAX_SEQ], d[TASK_MAX_SEQ];
            int n = sft_completion(t, 2, SPLIT_TRAIN, i, &p, c);
            T_ASSERT(task_reward(t, &p, c, n) > -1.0f, "well-formed control");
            T_ASSERT(task_reward(t, &p, c, 0) == -1.0f, "n = 0");
            d[0] = TOK_EOS;
            T_ASSERT(task_reward(t, &p, d, 1) == -1.0f, "empty completion");
            memcpy(d, c, sizeof c);
            d[n - 1] = d[n - 2];   // EOS replaced: runs past the budget
            T_ASSERT(task_reward(t, &p, d, n) == -1.0f, "%s no EOS", names[k]);
            T_ASSERT(task_reward(t, &p, c, n - 1) == -1.0f, "%s truncated before EOS", names[k]);
            for (int j = 0; j < n - 1; j++) d[j] = c[0];   // degenerate repetition
            d[n - 1] = TOK_EOS;
            T_ASSERT(task_reward(t, &p, d, n) == -1.0f, "%s repetition", names[k]);
            memcpy(d, c, sizeof c);   // format: an extra content token before EOS
            d[n - 1] = c[n - 2]; d[n] = TOK_EOS;
            T_ASSERT(task_reward(t, &p, d, n + 1) == -1.0f, "%s too long", names[k]);
            memcpy(d, p.tok + 1, (size_t)(p.len - 1) * sizeof *d);   // echoing the prompt
            d[p.len - 1] = TOK_EOS;
            T_ASSERT(task_reward(t, &p, d, p.len) == -1.0f, "%s echo", names[k]);
            d[0] = -5; d[1] = 100000; d[2] = TOK_EOS;   // out-of-vocabulary ids
            T_ASSERT(task_reward(t, &p, d, 3) == -1.0f, "%s bad ids", names[k]);
            // Tokens after the first EOS are ignored.
            memcpy(d, c, sizeof c);
            d[n] = c[0];
            T_ASSERT(task_reward(t, &p, d, n + 1) == task_reward(t, &p, c, n), "%s after EOS", names[k]);
        }
        task_free(t);
    }
}

// recsys: recommending what the user already watched is the worst well-formed answer.
static void test_recsys_seen(void) {
    Task *t = make("recsys", 45, 300, NULL);
    int lower = 0;
    for (long i = 0; i < 300; i++) {
        Prompt p;
        int c[TASK_MAX_SEQ], d[4] = { 0, 0, 0, TOK_EOS };
        int n = sft_completion(t, 2, SPLIT_TRAIN, i, &p, c);
        for (int k = 0; k < 3; k++) d[k] = p.tok[2 + k];   // the first three watched items
        T_ASSERT(task_reward(t, &p, d, 4) == -1.0f, "seen items scored %g", task_reward(t, &p, d, 4));
        float r = task_reward(t, &p, c, n);
        c[1] = p.tok[2];   // one seen item among the SFT recommendations
        float r1 = task_reward(t, &p, c, n);
        T_ASSERT(r1 <= r, "a seen item raised the reward %g -> %g", r, r1);
        lower += r1 < r;
    }
    T_ASSERT(lower > 250, "a seen item rarely lowers the reward (%d/300)", lower);
    task_free(t);
}

static void test_eval_disjoint(void) {
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 51, 400, NULL);
        T_ASSERT(task_n_users(t, SPLIT_TRAIN) == 400 && task_n_users(t, SPLIT_EVAL) == 101, "population sizes");
        // Same (seed, index) on both splits: different user populations, different prompts.
        int same = 0, overlap = 0;
        enum { NT = 1500 };
        static Prompt tr[NT];
        for (long i = 0; i < NT; i++) task_prompt(t, 9, SPLIT_TRAIN, i, &tr[i]);
        for (long i = 0; i < NT; i++) {
            Prompt e;
            task_prompt(t, 9, SPLIT_EVAL, i, &e);
            T_ASSERT(e.split == SPLIT_EVAL && tr[i].split == SPLIT_TRAIN, "split tag");
            same += e.len == tr[i].len && !memcmp(e.tok, tr[i].tok, sizeof e.tok[0] * (size_t)e.len);
            for (int j = 0; j < NT; j++)
                if (e.len == tr[j].len && !memcmp(e.tok, tr[j].tok, sizeof e.tok[0] * (size_t)e.len)) { overlap++; break; }
        }
        printf("# %s: eval prompts equal to some train prompt: %d/%d\n", names[k], overlap, NT);
        T_ASSERT(same <= NT / 100, "%s eval prompt i equals train prompt i %d times", names[k], same);
        // recsys histories and reviews' held-out books make collisions impossible in practice / by construction;
        // personas have a small language on purpose, so a few coincidences are allowed.
        T_ASSERT(k == 0 ? overlap <= NT / 50 : overlap == 0, "%s eval/train prompt overlap %d", names[k], overlap);
        task_free(t);
    }
}

// The SFT corpus must not know the preference: what it writes has the same distribution in every group.
// The category is the personas' genre word, the recsys item's genre (name prefix), the reviews' sentiment level.
static int content_category(const Task *t, int k, const int *c) {
    const char *w = task_token_str(t, k == 1 ? c[0] : c[k == 0 ? 1 : 0]);
    if (k == 2) {
        static const char *const lv[5][3] = { { "awful", "terrible", "dreadful" }, { "weak", "dull", "disappointing" },
            { "okay", "decent", "average" }, { "good", "enjoyable", "solid" }, { "wonderful", "brilliant", "masterful" } };
        if (!strcmp(w, "truly") || !strcmp(w, "very") || !strcmp(w, "utterly")) w = task_token_str(t, c[1]);
        for (int s = 0; s < 5; s++) for (int j = 0; j < 3; j++) if (!strcmp(w, lv[s][j])) return s;
        return -1;
    }
    // personas genre words and recsys item names: the category is the word's id (genre) or its prefix (item).
    if (k == 0) return task_token_id(t, w);
    static const char *const gen[18] = { "action", "adventure", "animation", "children", "comedy", "crime",
        "documentary", "drama", "fantasy", "noir", "horror", "musical", "mystery", "romance", "scifi", "thriller",
        "war", "western" };
    for (int g = 0; g < 18; g++) if (starts_with(w, gen[g])) return g;
    return -1;
}

static void test_sft_not_personalised(void) {
    for (int k = 0; k < 3; k++) {
        double sh[TASK_MAX_GROUPS] = { 0 };
        Task *t0 = make(names[k], 61, 10, NULL);
        int G = task_n_groups(t0), V = task_vocab_size(t0);
        task_free(t0);
        for (int g = 0; g < G; g++) sh[g] = 1.0 / G;   // equal groups: every group gets a tight estimate
        Task *t = make(names[k], 61, 700, sh);
        enum { N = 5000 };
        static int cnt[TASK_MAX_GROUPS][1200];
        int tot[TASK_MAX_GROUPS] = { 0 }, all[1200] = { 0 };
        memset(cnt, 0, sizeof cnt);
        for (long i = 0; i < N; i++) {
            Prompt p;
            int c[TASK_MAX_SEQ];
            sft_completion(t, 3, SPLIT_TRAIN, i, &p, c);
            int cat = content_category(t, k, c);
            T_ASSERT(cat >= 0 && cat < V, "category");
            if (cat < 0) continue;
            cnt[p.group][cat]++; tot[p.group]++; all[cat]++;
        }
        double maxdev = 0;
        for (int g = 0; g < G; g++)
            for (int c = 0; c < V; c++) {
                double d = fabs(cnt[g][c] / (double)tot[g] - all[c] / (double)N);
                if (d > maxdev) maxdev = d;
            }
        printf("# %s: SFT content frequency, max deviation of a group from the population: %.3f\n", names[k], maxdev);
        T_ASSERT(maxdev < 0.06, "%s SFT corpus depends on the group (max deviation %.3f)", names[k], maxdev);
        task_free(t);
    }
}

static void test_group_reward_scales(void) {
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 71, 1000, NULL);
        int G = task_n_groups(t);
        double s[TASK_MAX_GROUPS] = { 0 }, s2[TASK_MAX_GROUPS] = { 0 };
        int n[TASK_MAX_GROUPS] = { 0 };
        for (long i = 0; i < 6000; i++) {
            Prompt p;
            int c[TASK_MAX_SEQ];
            int len = sft_completion(t, 1, SPLIT_TRAIN, i, &p, c);
            double r = task_reward(t, &p, c, len);
            s[p.group] += r; s2[p.group] += r * r; n[p.group]++;
        }
        double lo = 1e9, hi = -1e9, sdlo = 1e9, sdhi = 0;
        printf("# %s SFT reward by group:", names[k]);
        for (int g = 0; g < G; g++) {
            double m = s[g] / n[g], sd = sqrt(fmax(0, s2[g] / n[g] - m * m));
            printf(" %s %.2f±%.2f (n=%d)", task_group_name(t, g), m, sd, n[g]);
            if (m < lo) lo = m;
            if (m > hi) hi = m;
            if (sd < sdlo) sdlo = sd;
            if (sd > sdhi) sdhi = sd;
        }
        printf("\n");
        T_ASSERT(hi - lo > 0.3, "%s group means too similar (%g..%g)", names[k], lo, hi);
        T_ASSERT(sdhi > 1.4 * sdlo, "%s group spreads too similar (%g..%g)", names[k], sdlo, sdhi);
        task_free(t);
    }
}

// Inferability: a naive-Bayes reader that only counts which prompt tokens co-occur with which group on training
// prompts recognises the group of unseen eval users. Then a rule that acts on the inferred group beats SFT.
typedef struct {
    double cnt[TASK_MAX_GROUPS][1200];   // prompt token counts by group
    double hist[TASK_MAX_GROUPS][1200];  // the same, only after the personas' "history" word
    double prior[TASK_MAX_GROUPS];
    int G, V;
} Reader;

static void reader_fit(Reader *rd, const Task *t, int n) {
    memset(rd, 0, sizeof *rd);
    rd->G = task_n_groups(t); rd->V = task_vocab_size(t);
    for (long i = 0; i < n; i++) {
        Prompt p;
        task_prompt(t, 77, SPLIT_TRAIN, i, &p);
        rd->prior[p.group]++;
        int after = 0;
        for (int j = 1; j < p.len - 1; j++) {
            rd->cnt[p.group][p.tok[j]]++;
            if (after) rd->hist[p.group][p.tok[j]]++;
            after |= !strcmp(task_token_str(t, p.tok[j]), "history");
        }
    }
}

static int reader_group(const Reader *rd, const Prompt *p) {
    int best = 0;
    double bl = -1e300;
    for (int g = 0; g < rd->G; g++) {
        double tot = 0;
        for (int v = 0; v < rd->V; v++) tot += rd->cnt[g][v];
        double l = log(rd->prior[g] + 1);
        for (int j = 1; j < p->len - 1; j++) l += log((rd->cnt[g][p->tok[j]] + 0.1) / (tot + 0.1 * rd->V));
        if (l > bl) { bl = l; best = g; }
    }
    return best;
}

// The completion a personalising policy would write for group g, built from the vocabulary the reader saw.
static int personalised(const Task *t, const Reader *rd, int k, int g, const Prompt *p, int *c) {
    char text[256];
    if (k == 0) {   // opener of the persona's style, its genre (the group name's suffix), its two top artists
        static const char *const opener[7] = { "sure", "awesome", "bet", "certainly", "ok", "behold", "notably" };
        const char *genre = strchr(task_group_name(t, g), '_') + 1;
        int a1 = -1, a2 = -1;
        for (int v = 5; v < rd->V; v++) {   // artists: the group's most frequent history words
            double x = rd->hist[g][v];
            if (a1 < 0 || x > rd->hist[g][a1]) { a2 = a1; a1 = v; } else if (a2 < 0 || x > rd->hist[g][a2]) a2 = v;
        }
        snprintf(text, sizeof text, "%s %s %s %s <eos>", opener[g], genre, task_token_str(t, a1), task_token_str(t, a2));
    } else if (k == 1) {   // the group's most watched items that this user has not watched yet
        int pick[3], m = 0;
        while (m < 3) {
            int best = -1;
            for (int v = 5; v < rd->V; v++) {
                int skip = 0;
                for (int j = 0; j < p->len; j++) skip |= p->tok[j] == v;
                for (int j = 0; j < m; j++) skip |= pick[j] == v;
                if (!skip && (best < 0 || rd->cnt[g][v] > rd->cnt[g][best])) best = v;
            }
            pick[m++] = best;
        }
        snprintf(text, sizeof text, "%s %s %s <eos>", task_token_str(t, pick[0]), task_token_str(t, pick[1]),
                 task_token_str(t, pick[2]));
    } else {   // sentiment of the stars, an adjective of the visible genre
        static const char *const sent[5] = { "awful", "weak", "okay", "good", "wonderful" };
        static const char *const gen[8] = { "fantasy", "romance", "mystery", "scifi", "history", "poetry", "horror",
                                            "biography" };
        static const char *const adj[8] = { "magical", "tender", "twisty", "futuristic", "historical", "lyrical",
                                            "creepy", "inspiring" };
        const char *a = "epic";
        for (int j = 0; j < 8; j++) if (!strcmp(task_token_str(t, p->tok[4]), gen[j])) a = adj[j];
        snprintf(text, sizeof text, "%s%s %s story <eos>", g == 0 || g == 4 ? "truly " : "", sent[g], a);
    }
    return task_encode(t, text, c, TASK_MAX_SEQ);
}

static void test_personalisation_pays(void) {
    static Reader rd;
    for (int k = 0; k < 3; k++) {
        Task *t = make(names[k], 81, 800, NULL);
        reader_fit(&rd, t, 4000);
        int G = task_n_groups(t), hit = 0, N = 1500;
        double rp[TASK_MAX_GROUPS] = { 0 }, rs[TASK_MAX_GROUPS] = { 0 }, ro[TASK_MAX_GROUPS] = { 0 };
        double mis[TASK_MAX_GROUPS] = { 0 };
        int n[TASK_MAX_GROUPS] = { 0 };
        for (long i = 0; i < N; i++) {
            Prompt p;
            int c[TASK_MAX_SEQ], d[TASK_MAX_SEQ];
            int ns = sft_completion(t, 5, SPLIT_EVAL, i, &p, c);
            int g = reader_group(&rd, &p);
            hit += g == p.group;
            int np = personalised(t, &rd, k, g, &p, d);
            float r = task_reward(t, &p, d, np);
            // The completion that fits another group scores lower: the ordered case.
            int wrong = (p.group + 1 + (int)(i % (G - 1))) % G;
            int nw = personalised(t, &rd, k, wrong, &p, d);
            rp[p.group] += r; rs[p.group] += task_reward(t, &p, c, ns); ro[p.group] += task_oracle(t, &p);
            mis[p.group] += task_reward(t, &p, d, nw);
            n[p.group]++;
            if (i < 2) {
                char a[512], b[512];
                task_decode(t, p.tok, p.len, a, sizeof a);
                task_decode(t, c, ns, b, sizeof b);
                printf("# %s [%s] %s  =>  SFT: %s (%.2f)", names[k], task_group_name(t, p.group), a, b,
                       task_reward(t, &p, c, ns));
                personalised(t, &rd, k, g, &p, d);
                task_decode(t, d, np, b, sizeof b);
                printf("  personalised: %s (%.2f)  oracle %.2f\n", b, r, task_oracle(t, &p));
            }
        }
        double acc = hit / (double)N, tp = 0, ts = 0, to = 0;
        printf("# %s: group inferred from eval prompts %.1f%%;", names[k], 100 * acc);
        for (int g = 0; g < G; g++) {
            tp += rp[g]; ts += rs[g]; to += ro[g];
            if (n[g] < 15) continue;
            T_ASSERT(rp[g] / n[g] > rs[g] / n[g] + 0.1, "%s group %d: personalised %.3f vs SFT %.3f", names[k], g,
                     rp[g] / n[g], rs[g] / n[g]);
            T_ASSERT(rp[g] > mis[g] + 0.1 * n[g], "%s group %d: fitting %.3f vs other group's %.3f", names[k], g,
                     rp[g] / n[g], mis[g] / n[g]);
        }
        printf(" mean reward SFT %.3f, personalised rule %.3f, oracle %.3f\n", ts / N, tp / N, to / N);
        T_ASSERT(acc > (k == 1 ? 0.7 : 0.9), "%s group not inferable from the prompt (%.2f)", names[k], acc);
        T_ASSERT(tp / N > ts / N + 0.25, "%s personalising barely pays (%.3f vs %.3f)", names[k], tp / N, ts / N);
        task_free(t);
    }
}

int main(void) {
    T_RUN(test_create_errors);
    T_RUN(test_tokenizer);
    T_RUN(test_determinism);
    T_RUN(test_group_shares);
    T_RUN(test_reward_range_and_oracle);
    T_RUN(test_malformed);
    T_RUN(test_recsys_seen);
    T_RUN(test_eval_disjoint);
    T_RUN(test_sft_not_personalised);
    T_RUN(test_group_reward_scales);
    T_RUN(test_personalisation_pays);
    T_EXIT();
}
