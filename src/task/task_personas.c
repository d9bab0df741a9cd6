// task_personas.c — seven personas, each a (language style, music genre) pair (README "Tasks: personas").
// Prompt:     <bos> <request in the persona's style> history <artist> x5 <sep>
// Completion: <opener> <genre> <artist> <artist> <eos>
// The style of the request and the genres of the listening history both reveal the persona; the reward pays for
// an opener in the user's style, the user's genre and artists from it, on a scale that differs per persona.
#include "task.h"
#include "task_impl.h"
#include "check.h"
#include <string.h>

#define PER_N 7          // personas = styles = genres
#define PER_ARTISTS 5    // artists per genre
#define PER_HISTORY 5    // artists in the listening history
#define PER_VARIANTS 2   // request phrasings and openers per style

static const char *const per_group_names[PER_N] = {
    "casual_pop", "enthusiastic_rock", "slang_hiphop", "formal_classical",
    "terse_electronic", "poetic_jazz", "academic_country" };
static const double per_default_shares[PER_N] = { 0.38, 0.20, 0.15, 0.12, 0.08, 0.04, 0.03 };

// Style s and genre s belong to persona s.
static const char *const per_requests[PER_N][PER_VARIANTS] = {
    { "hey got any songs", "any good songs lately" },
    { "omg need music now", "so excited for new music" },
    { "yo drop some tunes", "fam need fresh tracks" },
    { "kindly recommend some music", "i would appreciate suggestions" },
    { "music", "recs" },
    { "whisper me gentle melodies", "songs for a quiet dusk" },
    { "seeking musicological recommendations", "requesting a curated selection" } };
static const char *const per_openers[PER_N][PER_VARIANTS] = {
    { "sure", "cool" }, { "awesome", "wow" }, { "bet", "aight" }, { "certainly", "indeed" },
    { "ok", "here" }, { "behold", "listen" }, { "notably", "consider" } };
static const char *const per_genres[PER_N] = { "pop", "rock", "hiphop", "classical", "electronic", "jazz", "country" };
static const char *const per_artists[PER_N][PER_ARTISTS] = {
    { "glitterbox", "sunnydaze", "popstarz", "bubblegem", "neonheart" },
    { "ironpeak", "stonewall", "thunderjaw", "redriver", "wildfire" },
    { "bigflow", "mcverse", "lilbeat", "kingrhyme", "streetcode" },
    { "bachhaus", "mozartine", "vivaldo", "chopinski", "brahmsen" },
    { "synthwave", "bitcrush", "technoir", "pulsegrid", "deepnode" },
    { "bluenote", "smoothsax", "coolcat", "velvetkey", "midnightrio" },
    { "dustyroad", "cowbell", "prairie", "banjojoe", "honkytonk" } };

// Rating scale per persona: reward = lo + (hi - lo) * quality. Harsh (low lo), generous (high lo), narrow and wide
// raters on purpose — the heterogeneity P-GRPO's per-group normalisation is about.
static const float per_lo[PER_N] = { -0.20f, 0.00f, -0.50f, -0.80f, -0.30f, -0.90f, -0.90f };
static const float per_hi[PER_N] = { 0.90f, 1.00f, 0.70f, 0.40f, 0.20f, 0.90f, 0.10f };

// History mix: the persona's genre, the user's own secondary genre, anything.
#define PER_P_PRIMARY 0.60
#define PER_P_SECOND 0.25
#define PER_BIAS_SD 0.04f   // per-user leniency inside a persona

typedef struct {
    int history;                           // "history"
    int req[PER_N][PER_VARIANTS][6];       // request phrase tokens, 0-terminated
    int opener[PER_N][PER_VARIANTS];
    int genre[PER_N];
    int artist[PER_N][PER_ARTISTS];
    int tok_style[TASK_MAX_VOCAB];         // opener token -> style, else -1
    int tok_genre[TASK_MAX_VOCAB];         // genre word -> genre, else -1
    int tok_artist_genre[TASK_MAX_VOCAB];  // artist token -> its genre, else -1
} PerWorld;

// meta layout
enum { PER_META_STYLE = 0, PER_META_GENRE = 1, PER_META_SECOND = 2, PER_META_VARIANT = 3 };

static int per_add(Task *t, const char *w) {
    int id = task_token_id(t, w);
    return id != TOK_UNK ? id : task_vocab_add(t, w);   // request phrases share words like "some" and "music"
}

static int per_build(Task *t, char *err, size_t errlen) {
    (void)err; (void)errlen;
    PerWorld *w = xcalloc(1, sizeof *w);
    t->world = w;
    for (int i = 0; i < TASK_MAX_VOCAB; i++) w->tok_style[i] = w->tok_genre[i] = w->tok_artist_genre[i] = -1;
    w->history = per_add(t, "history");
    for (int s = 0; s < PER_N; s++)
        for (int v = 0; v < PER_VARIANTS; v++) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", per_requests[s][v]);
            int k = 0;
            for (char *save = NULL, *tk = strtok_r(buf, " ", &save); tk; tk = strtok_r(NULL, " ", &save)) {
                CHECK(k < 5, "request phrase too long");
                w->req[s][v][k++] = per_add(t, tk);
            }
        }
    for (int s = 0; s < PER_N; s++)
        for (int v = 0; v < PER_VARIANTS; v++) {
            w->opener[s][v] = task_vocab_add(t, per_openers[s][v]);
            w->tok_style[w->opener[s][v]] = s;
        }
    for (int g = 0; g < PER_N; g++) { w->genre[g] = task_vocab_add(t, per_genres[g]); w->tok_genre[w->genre[g]] = g; }
    for (int g = 0; g < PER_N; g++)
        for (int a = 0; a < PER_ARTISTS; a++) {
            w->artist[g][a] = task_vocab_add(t, per_artists[g][a]);
            w->tok_artist_genre[w->artist[g][a]] = g;
        }
    return 0;
}

static void per_destroy(Task *t) { free(t->world); t->world = NULL; }

// The user's secondary genre: any genre but the persona's, fixed per user.
static int per_second(const TaskUser *u) {
    int k = (int)(u->u[0] * (PER_N - 1));
    return k >= u->group ? k + 1 : k;
}

static void per_prompt(const Task *t, Rng *r, Prompt *p) {
    const PerWorld *w = t->world;
    const TaskUser *u = task_user_of(t, p);
    int style = u->group, second = per_second(u), v = (int)rng_below(r, PER_VARIANTS);
    p->meta[PER_META_STYLE] = style;
    p->meta[PER_META_GENRE] = u->group;
    p->meta[PER_META_SECOND] = second;
    p->meta[PER_META_VARIANT] = v;
    int n = 0;
    p->tok[n++] = TOK_BOS;
    for (int k = 0; w->req[style][v][k]; k++) p->tok[n++] = w->req[style][v][k];
    p->tok[n++] = w->history;
    int start = n;
    while (n < start + PER_HISTORY) {
        double x = rng_uniform(r);
        int g = x < PER_P_PRIMARY ? u->group : x < PER_P_PRIMARY + PER_P_SECOND ? second : (int)rng_below(r, PER_N);
        int a = w->artist[g][rng_below(r, PER_ARTISTS)];
        int dup = 0;
        for (int i = start; i < n; i++) dup |= p->tok[i] == a;
        if (!dup) p->tok[n++] = a;   // a history lists each artist once
    }
    p->tok[n++] = TOK_SEP;
    p->len = n;
}

// How well a genre fits this user: the persona's genre fully, the user's secondary genre half.
static float per_fit(const Prompt *p, int g) {
    return g == p->meta[PER_META_GENRE] ? 1.0f : g == p->meta[PER_META_SECOND] ? 0.5f : 0.0f;
}

static float per_scale(const Task *t, const Prompt *p, float q) {
    const TaskUser *u = task_user_of(t, p);
    int g = p->group;
    // Well-formed completions stay above -1 so "malformed" remains a distinct, worst outcome.
    return task_clampf(per_lo[g] + (per_hi[g] - per_lo[g]) * q + PER_BIAS_SD * (float)u->n[0], -0.95f, 1.0f);
}

static float per_reward(const Task *t, const Prompt *p, const int *c, int n) {
    const PerWorld *w = t->world;
    if (task_find_eos(c, n) != 4) return -1.0f;   // exactly: opener genre artist artist <eos>
    for (int i = 0; i < 4; i++) if (c[i] < 0 || c[i] >= t->n_vocab) return -1.0f;
    int style = w->tok_style[c[0]], genre = w->tok_genre[c[1]];
    int a1 = w->tok_artist_genre[c[2]], a2 = w->tok_artist_genre[c[3]];
    if (style < 0 || genre < 0 || a1 < 0 || a2 < 0 || c[2] == c[3]) return -1.0f;
    float q = 0.30f * (style == p->meta[PER_META_STYLE]) + 0.30f * per_fit(p, genre)
            + 0.20f * per_fit(p, a1) + 0.20f * per_fit(p, a2);
    return per_scale(t, p, q);
}

static float per_oracle(const Task *t, const Prompt *p) { return per_scale(t, p, 1.0f); }

// Uniform over styles and genres: the base policy learns the grammar and every word, and no preference.
static int per_sft(const Task *t, Rng *r, const Prompt *p, int *c, int max) {
    (void)p;
    const PerWorld *w = t->world;
    CHECK(max >= 5, "no room for a completion");
    int s = (int)rng_below(r, PER_N), g = (int)rng_below(r, PER_N);
    int a = (int)rng_below(r, PER_ARTISTS), b = (int)rng_below(r, PER_ARTISTS - 1);
    if (b >= a) b++;
    c[0] = w->opener[s][rng_below(r, PER_VARIANTS)];
    c[1] = w->genre[g];
    c[2] = w->artist[g][a];
    c[3] = w->artist[g][b];
    c[4] = TOK_EOS;
    return 5;
}

const TaskFamily task_family_personas = {
    .name = "personas", .n_groups = PER_N, .group_names = per_group_names, .default_shares = per_default_shares,
    .default_max_new = 12, .min_new = 5, .build = per_build, .destroy = per_destroy, .prompt = per_prompt,
    .reward = per_reward, .oracle = per_oracle, .sft_completion = per_sft };
