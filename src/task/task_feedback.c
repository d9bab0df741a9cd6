// task_feedback.c — probes and the feedback matrix of the built-in tasks (task_feedback.h). Uses the families'
// prompt builders directly (task_impl.h) to make prompts OF A GIVEN USER, which the public task_prompt cannot.
#include "task_feedback.h"
#include "task_impl.h"
#include "check.h"
#include <string.h>

// Tokens the overlap bitmap covers: every built-in vocabulary and the ML-1M catalogue (3883 movies); a token beyond
// (a larger data vocabulary) is never counted as overlapping.
#define FB_MAX_TOKENS 4096
#define FB_VOCAB_WORDS ((FB_MAX_TOKENS + 63) / 64)

// The per-user prompt pool, built lazily: only the prompts some probe actually needs are made.
typedef struct {
    uint32_t built;                       // bit k: pool[k] is valid
    Prompt p[TASK_FB_POOL];
    uint64_t toks[TASK_FB_POOL][FB_VOCAB_WORDS];   // bitmap of the tokens of pool[k]
} FbPool;

// A prompt of training user u from rng r: what task_prompt does after it has drawn the user.
static void fb_user_prompt(const Task *t, Rng *r, int u, Prompt *p) {
    memset(p, 0, sizeof *p);
    p->split = SPLIT_TRAIN;
    p->user = u;
    p->group = t->users[SPLIT_TRAIN][u].group;
    t->fam->prompt(t, r, p);
    CHECK(p->len >= 2 && p->len <= TASK_MAX_PROMPT && p->tok[0] == TOK_BOS && p->tok[p->len - 1] == TOK_SEP,
          "task %s made a malformed prompt (len %d)", t->fam->name, p->len);
}

void task_probe(const Task *t, uint64_t seed, int j, TaskProbe *out) {
    CHECK(j >= 0, "probe index %d", j);
    CHECK(t->fam->reward && !t->fam->own_user, "task %s has no built-in reward to probe", t->fam->name);
    Rng r;
    rng_seed(&r, seed, RNG_GROUPS, TASK_FB_STREAM_PROBE, (uint64_t)j);
    Prompt p;
    fb_user_prompt(t, &r, (int)rng_below(&r, (uint32_t)t->n_users[SPLIT_TRAIN]), &p);
    memset(out, 0, sizeof *out);
    out->n = t->fam->sft_completion(t, &r, &p, out->comp, TASK_MAX_SEQ - TASK_MAX_PROMPT);
    CHECK(out->n >= 1 && out->comp[out->n - 1] == TOK_EOS, "task %s made a malformed probe", t->fam->name);
}

static const Prompt *fb_pool_get(const Task *t, uint64_t seed, FbPool *pool, long u, int k) {
    if (!(pool->built >> k & 1)) {
        Rng r;
        rng_seed(&r, seed, RNG_GROUPS, TASK_FB_STREAM_PROMPT, (uint64_t)u * TASK_FB_POOL + (uint64_t)k);
        Prompt *p = &pool->p[k];
        fb_user_prompt(t, &r, (int)u, p);
        memset(pool->toks[k], 0, sizeof pool->toks[k]);
        for (int i = 0; i < p->len; i++) {
            int tok = p->tok[i];
            if (tok >= 0 && tok < FB_MAX_TOKENS) pool->toks[k][tok >> 6] |= 1ULL << (tok & 63);
        }
        pool->built |= 1u << k;
    }
    return &pool->p[k];
}

// 1 when a token of the probe's completion (EOS excluded) appears in pool prompt k.
static int fb_overlaps(const FbPool *pool, int k, const TaskProbe *pr) {
    for (int i = 0; i < pr->n; i++) {
        int tok = pr->comp[i];
        if (tok != TOK_EOS && tok >= 0 && tok < FB_MAX_TOKENS && (pool->toks[k][tok >> 6] >> (tok & 63) & 1))
            return 1;
    }
    return 0;
}

// The prompt user u sees probe j after (task_feedback.h: first non-overlapping pool prompt from k0).
static const Prompt *fb_prompt_for(const Task *t, uint64_t seed, FbPool *pool, long u, uint64_t key,
                                   const TaskProbe *pr) {
    int k0 = (int)(rng_hash(seed ^ TASK_FB_SALT_PICK, key) % TASK_FB_POOL);
    for (int i = 0; i < TASK_FB_POOL; i++) {
        int k = (k0 + i) % TASK_FB_POOL;
        fb_pool_get(t, seed, pool, u, k);
        if (!fb_overlaps(pool, k, pr)) return &pool->p[k];
    }
    return &pool->p[k0];
}

static double fb_unit(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

void task_feedback_rows(const Task *t, uint64_t seed, const TaskProbe *probes, int d, long user0, long n_rows,
                        double observed, double noise, float *values, uint8_t *mask) {
    CHECK(d >= 1 && user0 >= 0 && n_rows >= 0 && user0 + n_rows <= t->n_users[SPLIT_TRAIN],
          "feedback rows [%ld, %ld) of %d users, d = %d", user0, user0 + n_rows, t->n_users[SPLIT_TRAIN], d);
    CHECK(observed >= 0 && observed <= 1 && noise >= 0, "observed %g, noise %g", observed, noise);
    uint64_t s_noise = rng_hash(seed, TASK_FB_SALT_NOISE), s_mask = rng_hash(seed, TASK_FB_SALT_MASK);
    uint64_t s_row = rng_hash(seed, TASK_FB_SALT_ROW);
    FbPool pool;   // ~8 KB on the stack, reused for every row: nothing is allocated
    for (long i = 0; i < n_rows; i++) {
        long u = user0 + i;
        float *v = values + i * (long)d;
        uint8_t *m = mask ? mask + i * (long)d : NULL;
        pool.built = 0;
        int any = 0;
        for (int j = 0; j < d; j++) {
            uint64_t key = (uint64_t)u << 32 | (uint32_t)j;
            const Prompt *p = fb_prompt_for(t, seed, &pool, u, key, &probes[j]);
            double x = task_reward(t, p, probes[j].comp, probes[j].n);
            if (noise > 0) x += noise * task_hash_normal(s_noise, key);
            v[j] = (float)x;
            if (m) any |= m[j] = fb_unit(rng_hash(s_mask, key)) < observed;
        }
        if (m && !any) m[rng_hash(s_row, (uint64_t)u) % (uint64_t)d] = 1;
    }
}
