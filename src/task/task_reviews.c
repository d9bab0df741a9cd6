// task_reviews.c — Goodreads-like review generation; the star rating is the preference group (README "Tasks:
// reviews").
// Prompt:     <bos> review <book> genre <genre> stars <one..five> <sep>     (genre visible: a tiny policy cannot
//                                                                            memorise a catalogue from reward alone)
// Completion: [intensifier] <sentiment> <genre adjective> <noun> <eos>       e.g. "truly brilliant twisty plot"
// Quality = 0.55 sentiment consistency with the stars + 0.35 an adjective of the book's genre + 0.10 intensifier
// use as the reader wants it (extreme ratings want one; 20% of readers think the opposite). Each star group rates
// on its own scale: one-star readers are harsh, five-star readers generous.
// Eval prompts use held-out books and a disjoint reader population, so no eval prompt equals a training prompt.
#include "task.h"
#include "task_impl.h"
#include "check.h"
#include <stdlib.h>

#define REV_STARS 5
#define REV_GENRES 8
#define REV_WORDS 3          // sentiment words per level
#define REV_ADJ 2            // adjectives per genre
#define REV_NOUNS 4
#define REV_INTENS 3
#define REV_DEFAULT_BOOKS 120
#define REV_MIN_BOOKS 16
#define REV_MAX_BOOKS 1000
#define REV_EVAL_FRAC 0.2    // the last fifth of the catalogue is held out for eval
#define REV_FLIP_P 0.2       // readers whose taste for intensifiers is the opposite of their star group's
#define REV_BIAS_SD 0.04f

static const char *const rev_group_names[REV_STARS] = { "1_star", "2_stars", "3_stars", "4_stars", "5_stars" };
static const double rev_default_shares[REV_STARS] = { 0.03, 0.05, 0.12, 0.35, 0.45 };
static const char *const rev_star_words[REV_STARS] = { "one", "two", "three", "four", "five" };
static const char *const rev_sentiment[REV_STARS][REV_WORDS] = {
    { "awful", "terrible", "dreadful" }, { "weak", "dull", "disappointing" }, { "okay", "decent", "average" },
    { "good", "enjoyable", "solid" }, { "wonderful", "brilliant", "masterful" } };
static const char *const rev_genre_names[REV_GENRES] = {
    "fantasy", "romance", "mystery", "scifi", "history", "poetry", "horror", "biography" };
static const char *const rev_adj[REV_GENRES][REV_ADJ] = {
    { "magical", "epic" }, { "tender", "heartfelt" }, { "twisty", "suspenseful" }, { "futuristic", "cosmic" },
    { "historical", "detailed" }, { "lyrical", "poetic" }, { "creepy", "chilling" }, { "inspiring", "candid" } };
static const char *const rev_nouns[REV_NOUNS] = { "story", "plot", "read", "novel" };
static const char *const rev_intens[REV_INTENS] = { "truly", "very", "utterly" };

// Rating scale per star group: reward = lo + (hi - lo) * quality.
static const float rev_lo[REV_STARS] = { -0.90f, -0.70f, -0.40f, -0.10f, 0.10f };
static const float rev_hi[REV_STARS] = { 0.20f, 0.40f, 0.60f, 0.80f, 1.00f };

typedef struct {
    int n_books, n_train_books;
    int w_review, w_genre, w_stars;
    int star[REV_STARS];
    int genre[REV_GENRES];
    int sent[REV_STARS][REV_WORDS];
    int adj[REV_GENRES][REV_ADJ];
    int noun[REV_NOUNS];
    int intens[REV_INTENS];
    int book0;                           // token of book 0; books are contiguous
    int book_genre[REV_MAX_BOOKS];
    int tok_level[TASK_MAX_VOCAB];       // sentiment word -> star level 0..4, else -1
    int tok_adj_genre[TASK_MAX_VOCAB];   // genre adjective -> genre, else -1
    int tok_kind[TASK_MAX_VOCAB];        // 1 intensifier, 2 noun, else 0
} RevWorld;

enum { REV_META_BOOK = 0, REV_META_GENRE = 1, REV_META_STARS = 2 };

static int rev_build(Task *t, char *err, size_t errlen) {
    int n = t->cfg.n_items ? t->cfg.n_items : REV_DEFAULT_BOOKS;
    if (n < REV_MIN_BOOKS || n > REV_MAX_BOOKS) {
        snprintf(err, errlen, "task reviews: n_items (books) %d must be in [%d, %d] (0 = default %d)", n,
                 REV_MIN_BOOKS, REV_MAX_BOOKS, REV_DEFAULT_BOOKS);
        return 1;
    }
    t->cfg.n_items = n;
    RevWorld *w = xcalloc(1, sizeof *w);
    t->world = w;
    for (int i = 0; i < TASK_MAX_VOCAB; i++) w->tok_level[i] = w->tok_adj_genre[i] = -1;
    w->n_books = n;
    w->n_train_books = n - (int)(n * REV_EVAL_FRAC);
    w->w_review = task_vocab_add(t, "review");
    w->w_genre = task_vocab_add(t, "genre");
    w->w_stars = task_vocab_add(t, "stars");
    for (int s = 0; s < REV_STARS; s++) w->star[s] = task_vocab_add(t, rev_star_words[s]);
    for (int g = 0; g < REV_GENRES; g++) w->genre[g] = task_vocab_add(t, rev_genre_names[g]);
    for (int s = 0; s < REV_STARS; s++)
        for (int k = 0; k < REV_WORDS; k++) {
            w->sent[s][k] = task_vocab_add(t, rev_sentiment[s][k]);
            w->tok_level[w->sent[s][k]] = s;
        }
    for (int g = 0; g < REV_GENRES; g++)
        for (int k = 0; k < REV_ADJ; k++) {
            w->adj[g][k] = task_vocab_add(t, rev_adj[g][k]);
            w->tok_adj_genre[w->adj[g][k]] = g;
        }
    for (int k = 0; k < REV_NOUNS; k++) { w->noun[k] = task_vocab_add(t, rev_nouns[k]); w->tok_kind[w->noun[k]] = 2; }
    for (int k = 0; k < REV_INTENS; k++) {
        w->intens[k] = task_vocab_add(t, rev_intens[k]);
        w->tok_kind[w->intens[k]] = 1;
    }
    // Genres are balanced but shuffled by the world seed, so a book's genre is not a function of its number.
    Rng r;
    rng_seed(&r, t->cfg.seed, RNG_TASK, 60, 0);
    for (int b = 0; b < n; b++) w->book_genre[b] = b % REV_GENRES;
    for (int b = n - 1; b > 0; b--) {
        int j = (int)rng_below(&r, (uint32_t)b + 1);
        int tmp = w->book_genre[b]; w->book_genre[b] = w->book_genre[j]; w->book_genre[j] = tmp;
    }
    for (int b = 0; b < n; b++) {
        char name[TASK_WORD_MAX];
        snprintf(name, sizeof name, "book%03d", b);
        int id = task_vocab_add(t, name);
        if (b == 0) w->book0 = id;
        CHECK(id == w->book0 + b, "book tokens must be contiguous");
    }
    return 0;
}

static void rev_destroy(Task *t) { free(t->world); t->world = NULL; }

static void rev_prompt(const Task *t, Rng *r, Prompt *p) {
    const RevWorld *w = t->world;
    int b = p->split == SPLIT_EVAL ? w->n_train_books + (int)rng_below(r, (uint32_t)(w->n_books - w->n_train_books))
                                   : (int)rng_below(r, (uint32_t)w->n_train_books);
    int g = w->book_genre[b], stars = p->group;   // a reader's group is the rating they give
    p->meta[REV_META_BOOK] = b;
    p->meta[REV_META_GENRE] = g;
    p->meta[REV_META_STARS] = stars;
    int n = 0;
    p->tok[n++] = TOK_BOS;
    p->tok[n++] = w->w_review;
    p->tok[n++] = w->book0 + b;
    p->tok[n++] = w->w_genre;
    p->tok[n++] = w->genre[g];
    p->tok[n++] = w->w_stars;
    p->tok[n++] = w->star[stars];
    p->tok[n++] = TOK_SEP;
    p->len = n;
}

static int rev_wants_intens(const TaskUser *u, int stars) {
    int extreme = stars == 0 || stars == REV_STARS - 1;
    return u->u[1] < REV_FLIP_P ? !extreme : extreme;
}

static float rev_scale(const Task *t, const Prompt *p, float q) {
    const TaskUser *u = task_user_of(t, p);
    int g = p->group;
    return task_clampf(rev_lo[g] + (rev_hi[g] - rev_lo[g]) * q + REV_BIAS_SD * (float)u->n[0], -0.95f, 1.0f);
}

static float rev_reward(const Task *t, const Prompt *p, const int *c, int n) {
    const RevWorld *w = t->world;
    int e = task_find_eos(c, n);
    if (e != 3 && e != 4) return -1.0f;
    for (int i = 0; i < e; i++) if (c[i] < 0 || c[i] >= t->n_vocab) return -1.0f;
    int has_intens = e == 4;
    if (has_intens && w->tok_kind[c[0]] != 1) return -1.0f;
    const int *x = c + has_intens;
    int level = w->tok_level[x[0]], genre = w->tok_adj_genre[x[1]];
    if (level < 0 || genre < 0 || w->tok_kind[x[2]] != 2) return -1.0f;
    int stars = p->meta[REV_META_STARS];
    float q = 0.55f * (1.0f - (float)abs(level - stars) / (REV_STARS - 1))
            + 0.35f * (genre == p->meta[REV_META_GENRE])
            + 0.10f * (has_intens == rev_wants_intens(task_user_of(t, p), stars));
    return rev_scale(t, p, q);
}

static float rev_oracle(const Task *t, const Prompt *p) { return rev_scale(t, p, 1.0f); }

// Sentiment uniform over star levels and adjectives uniform over genres: fluent reviews that ignore the rating.
static int rev_sft(const Task *t, Rng *r, const Prompt *p, int *c, int max) {
    (void)p;
    const RevWorld *w = t->world;
    CHECK(max >= 5, "no room for a completion");
    int n = 0;
    if (rng_uniform(r) < 0.5) c[n++] = w->intens[rng_below(r, REV_INTENS)];
    c[n++] = w->sent[rng_below(r, REV_STARS)][rng_below(r, REV_WORDS)];
    c[n++] = w->adj[rng_below(r, REV_GENRES)][rng_below(r, REV_ADJ)];
    c[n++] = w->noun[rng_below(r, REV_NOUNS)];
    c[n++] = TOK_EOS;
    return n;
}

const TaskFamily task_family_reviews = {
    .name = "reviews", .n_groups = REV_STARS, .group_names = rev_group_names, .default_shares = rev_default_shares,
    .default_max_new = 10, .min_new = 5, .build = rev_build, .destroy = rev_destroy, .prompt = rev_prompt,
    .reward = rev_reward, .oracle = rev_oracle, .sft_completion = rev_sft };
