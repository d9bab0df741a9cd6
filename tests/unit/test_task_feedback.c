// test_task_feedback.c — the built-in tasks' feedback matrix (task_feedback.h): probes deterministic, well-formed
// and spanning the preferences; rows deterministic and independent of how they are split; the mask's observed
// fraction, its one-per-row guarantee and its independence from the noise; a noise-free entry equal to task_reward
// of the probe after a prompt of that user (recsys: one that has not watched the probe's items); the noise's scale.
#include "task.h"
#include "task_feedback.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>

static const char *const names[3] = { "personas", "recsys", "reviews" };

static Task *make(const char *name, int n_users) {
    TaskConfig c;
    memset(&c, 0, sizeof c);
    c.name = name; c.n_users = n_users; c.n_eval_users = 5; c.seed = 99;
    char err[256];
    Task *t = task_create(&c, err, sizeof err);
    if (!t) printf("#   task_create(%s): %s\n", name, err);
    return t;
}

static TaskProbe *probes(const Task *t, uint64_t seed, int d) {
    TaskProbe *p = calloc((size_t)d, sizeof *p);
    for (int j = 0; j < d; j++) task_probe(t, seed, j, &p[j]);
    return p;
}

// Some prompt of training user u from the public stream (index scan), optionally one sharing no token with comp.
static int prompt_of(const Task *t, int u, const TaskProbe *avoid, Prompt *p) {
    for (long i = 0; i < 200000; i++) {
        task_prompt(t, 5, SPLIT_TRAIN, i, p);
        if (p->user != u) continue;
        int clash = 0;
        for (int k = 0; avoid && k < avoid->n - 1; k++)
            for (int q = 0; q < p->len; q++) clash |= p->tok[q] == avoid->comp[k];
        if (!clash) return 1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------

static void test_probes_deterministic_wellformed(void) {
    for (int f = 0; f < 3; f++) {
        Task *t = make(names[f], 50);
        if (!t) { test_failed_++; continue; }
        TaskProbe a, b, c;
        Prompt p;
        T_ASSERT(prompt_of(t, 0, NULL, &p), "no prompt of user 0");
        int differ = 0;
        for (int j = 0; j < 40; j++) {
            task_probe(t, 11, j, &a);
            task_probe(t, 11, j, &b);
            task_probe(t, 12, j, &c);
            T_ASSERT(!memcmp(&a, &b, sizeof a), "%s probe %d not deterministic", names[f], j);
            differ |= a.n != c.n || memcmp(a.comp, c.comp, sizeof(int) * (size_t)a.n);
            T_ASSERT(a.n >= 2 && a.comp[a.n - 1] == TOK_EOS, "%s probe %d: n %d", names[f], j, a.n);
            T_ASSERT(task_reward(t, &p, a.comp, a.n) > -0.999f, "%s probe %d is malformed", names[f], j);
        }
        T_ASSERT(differ, "%s: seed 12 gives the probes of seed 11", names[f]);
        task_free(t);
    }
}

// personas: 64 probes cover every persona's genre and style (the groups' preferences).
static void test_probes_span_personas(void) {
    Task *t = make("personas", 10);
    if (!t) { test_failed_++; return; }
    TaskProbe *pr = probes(t, 3, 64);
    static const char *const genres[7] = { "pop", "rock", "hiphop", "classical", "electronic", "jazz", "country" };
    for (int g = 0; g < 7; g++) {
        int id = task_token_id(t, genres[g]), seen = 0;
        for (int j = 0; j < 64; j++) seen |= pr[j].comp[1] == id;
        T_ASSERT(seen, "no probe of genre %s", genres[g]);
    }
    free(pr);
    task_free(t);
}

static void test_rows_deterministic_and_split_independent(void) {
    for (int f = 0; f < 3; f++) {
        Task *t = make(names[f], 300);
        if (!t) { test_failed_++; continue; }
        int d = 24;
        long n = 300;
        TaskProbe *pr = probes(t, 8, d);
        float *v1 = malloc(sizeof(float) * (size_t)(n * d)), *v2 = malloc(sizeof(float) * (size_t)(n * d));
        uint8_t *m1 = malloc((size_t)(n * d)), *m2 = malloc((size_t)(n * d));
        task_feedback_rows(t, 8, pr, d, 0, n, 0.3, 0.1, v1, m1);
        task_feedback_rows(t, 8, pr, d, 0, n, 0.3, 0.1, v2, m2);
        T_ASSERT(!memcmp(v1, v2, sizeof(float) * (size_t)(n * d)) && !memcmp(m1, m2, (size_t)(n * d)),
                 "%s: two calls differ", names[f]);
        memset(v2, 0, sizeof(float) * (size_t)(n * d));
        // Three uneven calls: [0,1), [1,137), [137,300).
        task_feedback_rows(t, 8, pr, d, 0, 1, 0.3, 0.1, v2, m2);
        task_feedback_rows(t, 8, pr, d, 1, 136, 0.3, 0.1, v2 + d, m2 + d);
        task_feedback_rows(t, 8, pr, d, 137, n - 137, 0.3, 0.1, v2 + 137 * d, m2 + 137 * d);
        T_ASSERT(!memcmp(v1, v2, sizeof(float) * (size_t)(n * d)) && !memcmp(m1, m2, (size_t)(n * d)),
                 "%s: split rows differ from one call", names[f]);
        for (long e = 0; e < n * d; e++)
            if (!(v1[e] == v1[e] && v1[e] > -2 && v1[e] < 2)) { T_ASSERT(0, "%s: value %ld = %g", names[f], e, v1[e]); break; }
        free(v1); free(v2); free(m1); free(m2); free(pr);
        task_free(t);
    }
}

static void test_mask_fraction_and_rows(void) {
    Task *t = make("reviews", 2000);
    if (!t) { test_failed_++; return; }
    int d = 64;
    long n = 2000;
    TaskProbe *pr = probes(t, 4, d);
    float *v = malloc(sizeof(float) * (size_t)(n * d)), *v0 = malloc(sizeof(float) * (size_t)(n * d));
    uint8_t *m = malloc((size_t)(n * d)), *m0 = malloc((size_t)(n * d));
    const double fr[4] = { 0.0, 0.01, 0.3, 1.0 };
    for (int k = 0; k < 4; k++) {
        task_feedback_rows(t, 4, pr, d, 0, n, fr[k], 0.2, v, m);
        long obs = 0, bad_rows = 0, bad_bytes = 0, single = 0;
        for (long i = 0; i < n; i++) {
            int r = 0;
            for (int j = 0; j < d; j++) { r += m[i * d + j]; bad_bytes += m[i * d + j] > 1; }
            obs += r; bad_rows += r == 0; single += r == 1;
        }
        double frac = (double)obs / (double)(n * d);
        T_ASSERT(bad_rows == 0 && bad_bytes == 0, "observed %g: %ld rows without an observed entry, %ld bad bytes",
                 fr[k], bad_rows, bad_bytes);
        if (k == 0) T_ASSERT(single == n, "observed 0: %ld of %ld rows have exactly one entry", single, n);
        if (k == 2) T_NEAR(frac, 0.3, 0.01);
        if (k == 3) T_ASSERT(obs == n * d, "observed 1 hides %ld entries", n * d - obs);
    }
    // The mask does not depend on the noise, and noise 0.2 adds N(0, 0.2^2) to the noise-free values.
    task_feedback_rows(t, 4, pr, d, 0, n, 0.3, 0.2, v, m);
    task_feedback_rows(t, 4, pr, d, 0, n, 0.3, 0.0, v0, m0);
    T_ASSERT(!memcmp(m, m0, (size_t)(n * d)), "the mask changes with the noise");
    double s1 = 0, s2 = 0;
    for (long e = 0; e < n * d; e++) { double x = (double)v[e] - v0[e]; s1 += x; s2 += x * x; }
    double mean = s1 / (double)(n * d), sd = sqrt(s2 / (double)(n * d) - mean * mean);
    T_NEAR(mean, 0.0, 0.005);
    T_NEAR(sd, 0.2, 0.005);
    free(v); free(v0); free(m); free(m0); free(pr);
    task_free(t);
}

// noise 0: every entry (observed or not) is task_reward of the probe after a prompt of that user. personas and
// reviews: any prompt of the user whose reward is the same, i.e. the value is among the user's possible rewards;
// recsys: exactly the reward after a prompt that has not watched the probe's items (the pool's no-overlap rule).
static void test_noise_free_equals_task_reward(void) {
    for (int f = 0; f < 3; f++) {
        Task *t = make(names[f], 12);
        if (!t) { test_failed_++; continue; }
        int d = 40;
        TaskProbe *pr = probes(t, 21, d);
        float v[12 * 40];
        uint8_t m[12 * 40];
        task_feedback_rows(t, 21, pr, d, 0, 12, 0.5, 0.0, v, m);
        int bad = 0;
        for (int u = 0; u < 12 && !bad; u++)
            for (int j = 0; j < d && !bad; j++) {
                Prompt p;
                int hit = 0;
                if (f == 1) hit = prompt_of(t, u, &pr[j], &p) && task_reward(t, &p, pr[j].comp, pr[j].n) == v[u * d + j];
                else for (long i = 0; i < 4000 && !hit; i++) {   // reviews: any book of the right genre will do
                    task_prompt(t, 5, SPLIT_TRAIN, i, &p);
                    hit = p.user == u && task_reward(t, &p, pr[j].comp, pr[j].n) == v[u * d + j];
                }
                if (!hit) { bad = 1; T_ASSERT(0, "%s: user %d probe %d: value %g is no reward of the user", names[f], u, j, v[u * d + j]); }
            }
        free(pr);
        task_free(t);
    }
}

// Different seeds give different matrices; a user's mask does not depend on the population size.
static void test_seed_and_population(void) {
    Task *a = make("personas", 40), *b = make("personas", 80);
    if (!a || !b) { test_failed_++; task_free(a); task_free(b); return; }
    int d = 16;
    TaskProbe *pa = probes(a, 2, d);
    float va[40 * 16], vb[40 * 16], vc[40 * 16];
    uint8_t ma[40 * 16], mb[40 * 16], mc[40 * 16];
    task_feedback_rows(a, 2, pa, d, 0, 40, 0.5, 0.1, va, ma);
    task_feedback_rows(b, 2, pa, d, 0, 40, 0.5, 0.1, vb, mb);
    T_ASSERT(!memcmp(ma, mb, sizeof ma), "the mask of user u depends on the population size");
    task_feedback_rows(a, 3, pa, d, 0, 40, 0.5, 0.1, vc, mc);
    T_ASSERT(memcmp(ma, mc, sizeof ma) && memcmp(va, vc, sizeof va), "seed 3 gives the matrix of seed 2");
    free(pa);
    task_free(a); task_free(b);
}

int main(void) {
    T_RUN(test_probes_deterministic_wellformed);
    T_RUN(test_probes_span_personas);
    T_RUN(test_rows_deterministic_and_split_independent);
    T_RUN(test_mask_fraction_and_rows);
    T_RUN(test_noise_free_equals_task_reward);
    T_RUN(test_seed_and_population);
    T_EXIT();
}
