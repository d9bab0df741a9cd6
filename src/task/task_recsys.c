// task_recsys.c — MovieLens-1M-like next-movie recommendation (README "Tasks: recsys").
// Prompt:     <bos> watched <item> x8 <sep>           (the user's recent movies)
// Completion: <item> <item> <item> <eos>              (the next three to watch)
// Ratings follow a simulated model on a 1-5 scale:
//   r(u,i) = mu_g + b_u + b_i + s_g * affinity(g, u, genre_i) + 0.3 <z_u, w_i> + 0.25 noise(uid, i), clipped,
// with group-level rating scales (mu_g, s_g) that make some groups harsh and some generous. The reward is the
// mean rating of the recommended items mapped from [1,5] to [-1,1]; an item the user has already watched counts
// as the worst rating, and a repeated item or anything but three items and <eos> is malformed (-1).
#include "task.h"
#include "task_impl.h"
#include "check.h"
#include <math.h>
#include <string.h>

#define REC_GENRES 18
#define REC_GROUPS 5
#define REC_HISTORY 8
#define REC_K 3
#define REC_LATENT 4
#define REC_DEFAULT_ITEMS 240
#define REC_MIN_ITEMS (REC_GENRES * 2)
#define REC_MAX_ITEMS 1000

static const char *const rec_genre_names[REC_GENRES] = {
    "action", "adventure", "animation", "children", "comedy", "crime", "documentary", "drama", "fantasy",
    "noir", "horror", "musical", "mystery", "romance", "scifi", "thriller", "war", "western" };
enum { ACT, ADV, ANI, CHI, COM, CRI, DOC, DRA, FAN, NOI, HOR, MUS, MYS, ROM, SCI, THR, WAR, WES };

static const char *const rec_group_names[REC_GROUPS] = {
    "action_fans", "drama_lovers", "family_viewers", "horror_buffs", "doc_western" };
static const double rec_default_shares[REC_GROUPS] = { 0.40, 0.30, 0.17, 0.08, 0.05 };
// Liked genres per group, -1 terminated.
static const int rec_liked[REC_GROUPS][6] = {
    { ACT, ADV, SCI, THR, WAR, -1 }, { DRA, ROM, CRI, NOI, -1 }, { ANI, CHI, COM, MUS, FAN, -1 },
    { HOR, MYS, THR, -1 }, { DOC, WES, WAR, -1 } };
// Group rating scale: mean and how strongly taste moves the rating.
static const double rec_mu[REC_GROUPS] = { 3.5, 3.0, 3.9, 2.4, 2.6 };
static const double rec_s[REC_GROUPS] = { 0.8, 1.2, 0.5, 1.0, 1.5 };

#define REC_AFF_LIKED 1.0
#define REC_AFF_SECOND 0.6
#define REC_AFF_OTHER -0.6

typedef struct {
    int n_items;
    int watched;                        // "watched"
    int tok0;                           // token of item 0; items are contiguous
    int genre[REC_MAX_ITEMS];
    double bias[REC_MAX_ITEMS];
    double pop[REC_MAX_ITEMS];          // popularity weight (SFT and history noise draw by it)
    double w[REC_MAX_ITEMS][REC_LATENT];
} RecWorld;

static int rec_build(Task *t, char *err, size_t errlen) {
    int n = t->cfg.n_items ? t->cfg.n_items : REC_DEFAULT_ITEMS;
    if (n < REC_MIN_ITEMS || n > REC_MAX_ITEMS) {
        snprintf(err, errlen, "task recsys: n_items %d must be in [%d, %d] (0 = default %d)", n, REC_MIN_ITEMS,
                 REC_MAX_ITEMS, REC_DEFAULT_ITEMS);
        return 1;
    }
    t->cfg.n_items = n;
    RecWorld *w = xcalloc(1, sizeof *w);
    t->world = w;
    w->n_items = n;
    w->watched = task_vocab_add(t, "watched");
    Rng r;
    rng_seed(&r, t->cfg.seed, RNG_TASK, 50, 0);
    for (int i = 0; i < n; i++) {
        // Names depend on n_items only, so the vocabulary is the same for every seed.
        char name[TASK_WORD_MAX];
        w->genre[i] = i % REC_GENRES;
        snprintf(name, sizeof name, "%s%02d", rec_genre_names[w->genre[i]], i / REC_GENRES);
        int id = task_vocab_add(t, name);
        if (i == 0) w->tok0 = id;
        CHECK(id == w->tok0 + i, "item tokens must be contiguous");
        w->bias[i] = 0.35 * rng_normal(&r);
        // Popular movies tend to be the well-rated ones, as in MovieLens.
        w->pop[i] = exp(0.8 * rng_normal(&r) + 1.5 * w->bias[i]);
        for (int k = 0; k < REC_LATENT; k++) w->w[i][k] = 0.5 * rng_normal(&r);
    }
    return 0;
}

static void rec_destroy(Task *t) { free(t->world); t->world = NULL; }

static int rec_is_liked(int g, int genre) {
    for (int k = 0; rec_liked[g][k] >= 0; k++) if (rec_liked[g][k] == genre) return 1;
    return 0;
}

// The user's secondary genre: one the group does not like, fixed per user.
static int rec_second(const TaskUser *u) {
    int others[REC_GENRES], m = 0;
    for (int x = 0; x < REC_GENRES; x++) if (!rec_is_liked(u->group, x)) others[m++] = x;
    return others[(int)(u->u[0] * m)];
}

static double rec_rating(const RecWorld *w, const TaskUser *u, int item) {
    int g = u->group, ge = w->genre[item];
    double aff = rec_is_liked(g, ge) ? REC_AFF_LIKED : ge == rec_second(u) ? REC_AFF_SECOND : REC_AFF_OTHER;
    double dot = 0;
    for (int k = 0; k < REC_LATENT; k++) dot += u->n[1 + k] * 0.5 * w->w[item][k];
    double r = rec_mu[g] + 0.25 * u->n[0] + w->bias[item] + rec_s[g] * aff + 0.3 * dot
             + 0.25 * task_hash_normal(u->uid, (uint64_t)item);
    return r < 1 ? 1 : r > 5 ? 5 : r;
}

static int rec_item_of(const RecWorld *w, int tok) {
    int i = tok - w->tok0;
    return i >= 0 && i < w->n_items ? i : -1;
}

// An item of the given genre (or any genre when genre < 0), by popularity.
static int rec_draw(const RecWorld *w, Rng *r, int genre) {
    double wt[REC_MAX_ITEMS];
    for (int i = 0; i < w->n_items; i++) wt[i] = genre < 0 || w->genre[i] == genre ? w->pop[i] : 0;
    return task_pick_weighted(r, wt, w->n_items);
}

static void rec_prompt(const Task *t, Rng *r, Prompt *p) {
    const RecWorld *w = t->world;
    const TaskUser *u = task_user_of(t, p);
    int n_liked = 0;
    while (rec_liked[u->group][n_liked] >= 0) n_liked++;
    int n = 0, seen[REC_HISTORY];
    p->tok[n++] = TOK_BOS;
    p->tok[n++] = w->watched;
    for (int h = 0; h < REC_HISTORY;) {
        double x = rng_uniform(r);
        int genre = x < 0.7 ? rec_liked[u->group][rng_below(r, (uint32_t)n_liked)] : x < 0.85 ? rec_second(u) : -1;
        int item = rec_draw(w, r, genre), dup = 0;
        for (int k = 0; k < h; k++) dup |= seen[k] == item;
        if (dup) continue;
        seen[h++] = item;
        p->tok[n++] = w->tok0 + item;
        p->meta[h - 1] = item;
    }
    p->meta[REC_HISTORY] = REC_HISTORY;
    p->tok[n++] = TOK_SEP;
    p->len = n;
}

static int rec_was_seen(const Prompt *p, int item) {
    for (int k = 0; k < p->meta[REC_HISTORY]; k++) if (p->meta[k] == item) return 1;
    return 0;
}

static float rec_reward(const Task *t, const Prompt *p, const int *c, int n) {
    const RecWorld *w = t->world;
    const TaskUser *u = task_user_of(t, p);
    if (task_find_eos(c, n) != REC_K) return -1.0f;
    double sum = 0;
    for (int k = 0; k < REC_K; k++) {
        int item = rec_item_of(w, c[k]);
        if (item < 0) return -1.0f;
        for (int j = 0; j < k; j++) if (c[j] == c[k]) return -1.0f;   // degenerate repetition
        sum += rec_was_seen(p, item) ? 1.0 : rec_rating(w, u, item);
    }
    return (float)((sum / REC_K - 3.0) / 2.0);
}

static float rec_oracle(const Task *t, const Prompt *p) {
    const RecWorld *w = t->world;
    const TaskUser *u = task_user_of(t, p);
    double best[REC_K] = { 0, 0, 0 };   // below any rating: three unseen items always exist (n_items >= 36)
    for (int i = 0; i < w->n_items; i++) {
        if (rec_was_seen(p, i)) continue;
        double r = rec_rating(w, u, i);
        for (int k = 0; k < REC_K; k++)
            if (r > best[k]) { for (int j = REC_K - 1; j > k; j--) best[j] = best[j - 1]; best[k] = r; break; }
    }
    return (float)(((best[0] + best[1] + best[2]) / REC_K - 3.0) / 2.0);
}

// Popularity-based recommendations of unseen items: what a non-personalised recommender does.
static int rec_sft(const Task *t, Rng *r, const Prompt *p, int *c, int max) {
    const RecWorld *w = t->world;
    CHECK(max >= REC_K + 1, "no room for a completion");
    for (int k = 0; k < REC_K;) {
        int item = rec_draw(w, r, -1), dup = rec_was_seen(p, item);
        for (int j = 0; j < k; j++) dup |= c[j] == w->tok0 + item;
        if (!dup) c[k++] = w->tok0 + item;
    }
    c[REC_K] = TOK_EOS;
    return REC_K + 1;
}

const TaskFamily task_family_recsys = {
    .name = "recsys", .n_groups = REC_GROUPS, .group_names = rec_group_names, .default_shares = rec_default_shares,
    .default_max_new = 8, .min_new = REC_K + 1, .build = rec_build, .destroy = rec_destroy, .prompt = rec_prompt,
    .reward = rec_reward, .oracle = rec_oracle, .sft_completion = rec_sft };
