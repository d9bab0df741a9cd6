// test_movielens.c — task.name = movielens (task_movielens.c, movielens_io.c) on a tiny ML-1M folder written here:
// the users and groups from users.dat, the vocabulary, Latin-1 titles as UTF-8, the time split, the reward (real
// future ratings, already-watched movies, the ALS estimate learning the planted taste), malformed completions,
// determinism, and the parser's file:line errors.
#include "task.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

// 40 users (odd F, even M) + user 41 with one rating; movies 1-15 Romance (3 is Latin-1 "Amélie"), 16-30 Action.
// F users rate romance 5 / action 1, M the reverse; each user rates 14 movies (7 of each), in time order.
static void write_set(const char *bad_rating_line) {
    char p[300];
    snprintf(p, sizeof p, "%s/users.dat", dir);
    FILE *f = fopen(p, "wb");
    for (int u = 1; u <= 41; u++) fprintf(f, "%d::%s::25::4::12345%s\n", u, u % 2 ? "F" : "M", u == 2 ? "  " : "");
    fclose(f);
    snprintf(p, sizeof p, "%s/movies.dat", dir);
    f = fopen(p, "wb");
    for (int m = 1; m <= 30; m++)
        fprintf(f, "%d::%s::%s\n", m, m == 3 ? "Am\xe9lie (2001)" : "Some Movie (1999)", m <= 15 ? "Romance|Drama" : "Action");
    fclose(f);
    snprintf(p, sizeof p, "%s/ratings.dat", dir);
    f = fopen(p, "wb");
    int line = 0;
    for (int u = 1; u <= 40; u++)
        for (int j = 0; j < 14; j++) {
            int m = j % 2 ? 1 + (u * 3 + j / 2) % 15 : 16 + (u * 7 + j / 2) % 15;
            int liked = (m <= 15) == (u % 2 == 1);
            if (++line == 3 && bad_rating_line) { fprintf(f, "%s\n", bad_rating_line); continue; }
            fprintf(f, "%d::%d::%d::%d\n", u, m, liked ? 5 : 1, 1000 + u * 100 + j);
        }
    fprintf(f, "41::1::4::5000\n");
    fclose(f);
}

static Task *make(int n_eval, const char *groups, char *err, size_t n) {
    TaskConfig c;
    memset(&c, 0, sizeof c);
    c.name = "movielens"; c.path = dir; c.n_users = 10; c.n_eval_users = n_eval; c.seed = 3; c.ml_groups = groups;
    return task_create(&c, err, n);
}

static void test_load(void) {
    char err[512];
    Task *t = make(10, "gender", err, sizeof err);
    T_ASSERT(t, "%s", err);
    if (!t) return;
    T_ASSERT(task_n_users(t, SPLIT_TRAIN) == 30 && task_n_users(t, SPLIT_EVAL) == 10, "%d %d",
             task_n_users(t, SPLIT_TRAIN), task_n_users(t, SPLIT_EVAL));
    T_ASSERT(task_n_groups(t) == 2 && !strcmp(task_group_name(t, 0), "female"), "%d", task_n_groups(t));
    T_ASSERT(task_vocab_size(t) == 35, "%d", task_vocab_size(t));
    int m3 = task_token_id(t, "m3");
    T_ASSERT(m3 > 4 && !strcmp(task_token_label(t, m3), "Am\xc3\xa9lie (2001)"), "'%s'", task_token_label(t, m3));
    T_ASSERT(strstr(task_summary(t), "1 with < 2 ratings left out"), "%s", task_summary(t));
    T_ASSERT(task_has_builtin_reward(t), "movielens has its own reward");
    task_free(t);
    t = make(10, "occupation", err, sizeof err);
    T_ASSERT(t && task_n_groups(t) == 8 && task_user_group(t, SPLIT_TRAIN, 0) == 3, "college/grad student -> student");
    task_free(t);
    t = make(40, "gender", err, sizeof err);
    T_ASSERT(!t && strstr(err, "n_eval_users 40"), "%s", err);
}

// Completion of the 5 unseen movies of a genre (romance: 1..15, else 16..30) with the smallest ids.
static int unseen_of(const Task *t, const Prompt *p, int romance, int *c) {
    int k = 0;
    for (int m = romance ? 1 : 16; m <= (romance ? 15 : 30) && k < 5; m++) {
        char w[16];
        snprintf(w, sizeof w, "m%d", m);
        int tok = task_token_id(t, w), seen = 0;
        for (int i = 1; i < p->len - 1; i++) seen |= p->tok[i] == tok;
        int next[8], nn = task_next_items(t, p, next, 8);
        for (int i = 0; i < nn; i++) seen |= next[i] == tok;
        if (!seen) c[k++] = tok;
    }
    c[k] = TOK_EOS;
    return k == 5 ? 6 : 0;
}

static void test_reward(void) {
    char err[512];
    Task *t = make(10, "gender", err, sizeof err);
    if (!t) { T_ASSERT(0, "%s", err); return; }
    int wins = 0, tried = 0;
    for (long i = 0; i < 40; i++) {
        Prompt p;
        task_prompt(t, 5, SPLIT_EVAL, i, &p);
        T_ASSERT(p.len >= 3 && p.len <= 14, "len %d", p.len);
        int next[8], nn = task_next_items(t, &p, next, 8), c[8], liked[8], other[8], fem = p.group == 0;
        T_ASSERT(nn == 5, "eval holds back the last 5 ratings: %d", nn);
        // The ALS estimate learned the planted taste: the liked genre's unseen movies beat the other genre's.
        if (unseen_of(t, &p, fem, liked) && unseen_of(t, &p, !fem, other)) {
            tried++;
            wins += task_reward(t, &p, liked, 6) > task_reward(t, &p, other, 6) + 0.5f;
        }
        // The real future ratings: recommending exactly the held-back movies scores their mean real rating.
        memcpy(c, next, sizeof(int) * 5);
        c[5] = TOK_EOS;
        float r = task_reward(t, &p, c, 6);
        T_ASSERT(r == 1.0f || r == -1.0f || (r > -1 && r < 1), "%g", r);
        T_ASSERT(task_oracle(t, &p) >= r - 1e-6f, "oracle %g < %g", task_oracle(t, &p), r);
        // Malformed: a repeat, a special token, no EOS.
        c[1] = c[0];
        T_ASSERT(task_reward(t, &p, c, 6) == -1.0f, "repeat");
        c[1] = TOK_SEP;
        T_ASSERT(task_reward(t, &p, c, 6) == -1.0f, "special");
        T_ASSERT(task_reward(t, &p, next, 5) == -1.0f, "no eos");
        // Already watched: the worst rating.
        if (p.len >= 8) {
            memcpy(c, p.tok + 1, sizeof(int) * 5);
            c[5] = TOK_EOS;
            T_NEAR(task_reward(t, &p, c, 6), -1.0, 1e-6);
        }
    }
    T_ASSERT(tried >= 20 && wins == tried, "liked genre won %d of %d", wins, tried);
    // A training prompt with its real future: the reward of the movies right after the cut is their real mean.
    Prompt p;
    task_prompt(t, 5, SPLIT_TRAIN, 3, &p);
    int next[8], nn = task_next_items(t, &p, next, 8);
    T_ASSERT(nn >= 1 && p.meta[0] >= 1, "nn %d cut %d", nn, p.meta[0]);
    task_free(t);
}

static void test_deterministic(void) {
    char err[512];
    Task *a = make(10, "gender", err, sizeof err), *b = make(10, "gender", err, sizeof err);
    if (!a || !b) { T_ASSERT(0, "%s", err); task_free(a); task_free(b); return; }
    for (long i = 0; i < 50; i++) {
        Prompt p, q;
        task_prompt(a, 9, SPLIT_TRAIN, i, &p);
        task_prompt(b, 9, SPLIT_TRAIN, i, &q);
        T_ASSERT(!memcmp(&p, &q, sizeof p), "prompt %ld", i);
        int tp[TASK_MAX_SEQ], tq[TASK_MAX_SEQ], lp, lq;
        int np = task_sft_example(a, 9, SPLIT_TRAIN, i, tp, &lp), nq = task_sft_example(b, 9, SPLIT_TRAIN, i, tq, &lq);
        T_ASSERT(np == nq && lp == lq && !memcmp(tp, tq, sizeof(int) * (size_t)np), "sft %ld", i);
        T_ASSERT(task_reward(a, &p, tp + lp, np - lp) == task_reward(b, &q, tq + lq, nq - lq), "reward %ld", i);
        T_ASSERT(task_reward(a, &p, tp + lp, np - lp) > -1.0f, "the SFT completion is well formed and unseen");
    }
    task_free(a);
    task_free(b);
}

static void test_errors(void) {
    char err[512];
    const char *bad[] = { "1::2::6::1000", "1::2::5", "1::999::5::1000", "x::2::5::1000", "1::2::5::1000::7" };
    const char *want[] = { "Rating 6 out of range", "4 fields", "MovieID 999 is not in movies.dat", "not an integer",
                           "more than 4 fields" };
    for (int i = 0; i < 5; i++) {
        write_set(bad[i]);
        Task *t = make(10, "gender", err, sizeof err);
        T_ASSERT(!t && strstr(err, "/ratings.dat:3: ") && strstr(err, want[i]) && strstr(err, "(HINT: "), "%s", err);
        task_free(t);
    }
    write_set("1::4::5::1000");   // user 1 rates movie 4 again later in the file
    Task *t = make(10, "gender", err, sizeof err);
    T_ASSERT(!t && strstr(err, "rated MovieID 4 twice"), "%s", err);
    task_free(t);
    write_set(NULL);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/pgrpo-ml-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    write_set(NULL);
    T_RUN(test_load);
    T_RUN(test_reward);
    T_RUN(test_deterministic);
    T_RUN(test_errors);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    T_EXIT();
}
