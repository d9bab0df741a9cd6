// task.c — task dispatch, the word-level tokenizer, and the user population shared by every family (task.h).
// The families (task_personas.c, task_recsys.c, task_reviews.c) only describe their world; everything that must be
// identical across them — validation, group assignment, prompt seeding, SFT seeding — lives here.
#include "task.h"
#include "task_impl.h"
#include "check.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const TaskFamily *const task_families[] = { &task_family_personas, &task_family_recsys, &task_family_reviews,
                                                   &task_family_movielens, &task_family_file };
#define TASK_N_FAMILIES ((int)(sizeof task_families / sizeof task_families[0]))

// Distinct "rank" slots of the RNG_TASK role, so the world, the prompts and the SFT completions never share bits.
enum { TASK_STREAM_PROMPT = 10, TASK_STREAM_SFT = 20, TASK_STREAM_ASSIGN = 30, TASK_STREAM_TRAITS = 40 };

static const char *const task_specials[] = { "<pad>", "<bos>", "<eos>", "<sep>", "<unk>" };

// ---------------------------------------------------------------------------------------------------------------
// small shared helpers

float task_clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

int task_find_eos(const int *comp, int n) {
    for (int i = 0; i < n; i++) if (comp[i] == TOK_EOS) return i;
    return -1;
}

double task_hash_normal(uint64_t a, uint64_t b) {
    uint64_t h1 = rng_hash(a, b), h2 = rng_hash(h1, 0x5851F42D4C957F2DULL);
    double u1 = ((double)(h1 >> 11) + 0.5) * 0x1.0p-53, u2 = (double)(h2 >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int task_pick_weighted(Rng *r, const double *w, int n) {
    double tot = 0;
    for (int i = 0; i < n; i++) tot += w[i];
    double x = rng_uniform(r) * tot;
    for (int i = 0; i < n; i++) { if (x < w[i]) return i; x -= w[i]; }
    for (int i = n - 1; i >= 0; i--) if (w[i] > 0) return i;   // rounding left x just past the end
    return n - 1;
}

const TaskUser *task_user_of(const Task *t, const Prompt *p) {
    CHECK(p->split == SPLIT_TRAIN || p->split == SPLIT_EVAL, "prompt split %d", p->split);
    CHECK(p->user >= 0 && p->user < t->n_users[p->split], "prompt user %d of %d", p->user, t->n_users[p->split]);
    return &t->users[p->split][p->user];
}

// ---------------------------------------------------------------------------------------------------------------
// vocabulary

// FNV-1a of a word, for the id index.
static uint32_t task_word_hash(const char *w) {
    uint32_t h = 2166136261u;
    for (; *w; w++) h = (h ^ (uint8_t)*w) * 16777619u;
    return h;
}

// Slot of word in the index: where it is, or the empty slot where it would go.
static int task_index_slot(const Task *t, const char *word) {
    int mask = t->index_cap - 1, s = (int)(task_word_hash(word) & (uint32_t)mask);
    while (t->index[s] >= 0 && strcmp(t->words[t->index[s]], word)) s = (s + 1) & mask;
    return s;
}

// Keeps the index at most half full: doubles it and reinserts every word (vocabulary growth only, never per token).
static void task_index_grow(Task *t) {
    if (2 * (t->n_vocab + 1) <= t->index_cap) return;
    free(t->index);
    t->index_cap = t->index_cap ? 2 * t->index_cap : 1024;
    t->index = xmalloc(sizeof(int) * (size_t)t->index_cap);
    for (int i = 0; i < t->index_cap; i++) t->index[i] = -1;
    for (int i = 0; i < t->n_vocab; i++) {
        int s = task_index_slot(t, t->words[i]);
        if (t->index[s] < 0) t->index[s] = i;   // a repeated word ("<unk>") keeps its first id
    }
}

int task_vocab_add(Task *t, const char *word) {
    CHECK(t->n_vocab < t->vocab_max, "vocabulary of task %s exceeds %d words", t->fam->name, t->vocab_max);
    CHECK(strlen(word) < TASK_WORD_MAX && !strchr(word, ' '), "bad vocabulary word '%s'", word);
    CHECK(task_token_id(t, word) == TOK_UNK || !strcmp(word, "<unk>"), "duplicate vocabulary word '%s'", word);
    if (t->n_vocab == t->vocab_cap) {
        t->vocab_cap = t->vocab_cap ? 2 * t->vocab_cap : 256;
        char (*w)[TASK_WORD_MAX] = xmalloc(sizeof *w * (size_t)t->vocab_cap);
        if (t->n_vocab) memcpy(w, t->words, sizeof *w * (size_t)t->n_vocab);
        free(t->words);
        t->words = w;
    }
    task_index_grow(t);
    memcpy(t->words[t->n_vocab], word, strlen(word) + 1);
    int s = task_index_slot(t, word);
    if (t->index[s] < 0) t->index[s] = t->n_vocab;
    return t->n_vocab++;
}

int task_eos(const Task *t) { return t->bpe ? bpe_eos_id(t->bpe) : TOK_EOS; }
int task_pad(const Task *t) { return t->bpe ? bpe_eos_id(t->bpe) : TOK_PAD; }
const Bpe *task_bpe(const Task *t) { return t->bpe; }

int task_vocab_size(const Task *t) { return t->bpe ? bpe_vocab_size(t->bpe) : t->n_vocab; }

const char *task_token_str(const Task *t, int tok) {
    if (t->bpe) {
        const char *s = bpe_token(t->bpe, tok);
        return s ? s : "<unk>";
    }
    return tok >= 0 && tok < t->n_vocab ? t->words[tok] : "<unk>";
}

const char *task_token_label(const Task *t, int tok) {
    const char *l = t->fam->token_label && tok >= 0 && tok < t->n_vocab ? t->fam->token_label(t, tok) : NULL;
    return l ? l : task_token_str(t, tok);
}

int task_token_id(const Task *t, const char *word) {
    if (t->bpe) {   // not on any hot path: a linear scan rather than a second index
        for (int i = 0; i < bpe_vocab_size(t->bpe); i++) if (!strcmp(bpe_token(t->bpe, i), word)) return i;
        return -1;
    }
    if (!t->index_cap) return TOK_UNK;
    int id = t->index[task_index_slot(t, word)];
    return id >= 0 ? id : TOK_UNK;
}

int task_encode(const Task *t, const char *text, int *tok, int max) {
    if (t->bpe) {
        char err[256];
        int n = bpe_encode(t->bpe, text, strlen(text), tok, max, err, sizeof err);
        return n < 0 ? 0 : n > max ? max : n;
    }
    int n = 0;
    const char *s = text;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n') e++;
        char w[TASK_WORD_MAX];
        size_t len = (size_t)(e - s);
        if (len < TASK_WORD_MAX) { memcpy(w, s, len); w[len] = 0; tok[n++] = task_token_id(t, w); }
        else tok[n++] = TOK_UNK;   // longer than any vocabulary word
        s = e;
    }
    return n;
}

// Valid UTF-8 out of BPE bytes (text_* below): a sampled sequence may end mid-character or hold stray bytes, and
// rewards and files get UTF-8 (pgrpo_reward.h). Like GPT-2's encoder.py (decode with errors="replace"), each
// maximal invalid part becomes U+FFFD. Streaming, token by token, on the stack: no allocation per completion.
typedef struct { char *buf; size_t cap, pos; int full; unsigned char pend[4]; int np, need; } TextOut;

static void text_emit(TextOut *o, const unsigned char *s, int n) {
    if (o->full || o->pos + (size_t)n >= o->cap) { o->full = 1; return; }   // cut at a character boundary
    memcpy(o->buf + o->pos, s, (size_t)n);
    o->pos += (size_t)n;
}
static void text_bad(TextOut *o) { text_emit(o, (const unsigned char *)"\xEF\xBF\xBD", 3); o->np = 0; }

// Second byte ranges that keep a sequence minimal and outside the surrogates (RFC 3629).
static int text_cont_ok(const TextOut *o, unsigned char c) {
    if ((c & 0xC0) != 0x80) return 0;
    if (o->np != 1) return 1;
    unsigned char l = o->pend[0];
    return !((l == 0xE0 && c < 0xA0) || (l == 0xED && c > 0x9F) || (l == 0xF0 && c < 0x90) || (l == 0xF4 && c > 0x8F));
}

static void text_byte(TextOut *o, unsigned char c) {
    if (o->np) {
        if (text_cont_ok(o, c)) {
            o->pend[o->np++] = c;
            if (o->np == o->need) { text_emit(o, o->pend, o->np); o->np = 0; }
            return;
        }
        text_bad(o);   // the pending prefix is invalid; c starts afresh
    }
    if (c < 0x80) text_emit(o, &c, 1);
    else if (c >= 0xC2 && c <= 0xF4) { o->pend[0] = c; o->np = 1; o->need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
    else text_bad(o);
}

static int task_decode_bpe(const Task *t, const int *tok, int n, char *buf, size_t bufsize) {
    TextOut o = {.buf = buf, .cap = bufsize};
    char piece[1024];
    for (int i = 0; i < n && !o.full; i++) {
        long k = bpe_decode(t->bpe, tok + i, 1, piece, sizeof piece);
        if (k < 0) break;   // an id out of range: the text up to it
        if (k >= (long)sizeof piece) k = (long)sizeof piece - 1;   // no GPT-2 token is near this long
        for (long j = 0; j < k; j++) text_byte(&o, (unsigned char)piece[j]);
    }
    if (o.np) text_bad(&o);
    buf[o.pos] = 0;
    return (int)o.pos;
}

int task_decode(const Task *t, const int *tok, int n, char *buf, size_t bufsize) {
    if (!bufsize) return 0;
    if (t->bpe) return task_decode_bpe(t, tok, n, buf, bufsize);
    size_t pos = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *w = task_token_str(t, tok[i]);
        size_t need = strlen(w) + (i ? 1 : 0);
        if (pos + need >= bufsize) break;   // truncate at a word boundary rather than mid-word
        if (i) buf[pos++] = ' ';
        memcpy(buf + pos, w, strlen(w) + 1);
        pos += strlen(w);
    }
    return (int)pos;
}

int task_prompt_text(const Task *t, const Prompt *p, char *buf, size_t bufsize) {
    if (t->fam->prompt_text) return t->fam->prompt_text(t, p, buf, bufsize);
    int a = p->len > 0 && p->tok[0] == TOK_BOS, b = p->len;
    if (b > a && p->tok[b - 1] == TOK_SEP) b--;
    return task_decode(t, p->tok + a, b - a, buf, bufsize);
}

int task_has_builtin_reward(const Task *t) { return t->fam->reward != NULL; }

// ---------------------------------------------------------------------------------------------------------------
// users

// Largest-remainder allocation: realised shares are within 1/n of the targets, with no sampling luck. A group with
// a positive share always gets at least one user (taken from the largest group), so tiny populations still contain
// every minority the deck asked for.
static void task_group_counts(const double *shares, int n_groups, int n, int *count) {
    double rem[TASK_MAX_GROUPS];
    int given = 0;
    for (int g = 0; g < n_groups; g++) {
        double x = shares[g] * n;
        count[g] = (int)floor(x);
        rem[g] = x - count[g];
        given += count[g];
    }
    while (given < n) {
        int best = 0;
        for (int g = 1; g < n_groups; g++) if (rem[g] > rem[best]) best = g;
        count[best]++; rem[best] = -1; given++;
    }
    for (int g = 0; g < n_groups; g++) {
        if (shares[g] <= 0 || count[g] > 0) continue;
        int big = 0;
        for (int h = 1; h < n_groups; h++) if (count[h] > count[big]) big = h;
        if (count[big] > 1) { count[big]--; count[g]++; }
    }
}

static TaskUser *task_make_users(const TaskConfig *cfg, int n_groups, Split s, int n) {
    int count[TASK_MAX_GROUPS];
    task_group_counts(cfg->group_shares, n_groups, n, count);
    TaskUser *u = xcalloc((size_t)n, sizeof *u);
    int k = 0;
    for (int g = 0; g < n_groups; g++) for (int i = 0; i < count[g]; i++) u[k++].group = g;
    Rng r;
    rng_seed(&r, cfg->seed, RNG_TASK, TASK_STREAM_ASSIGN + s, 0);
    for (int i = n - 1; i > 0; i--) {   // Fisher-Yates: which user id lands in which group is seed-dependent
        int j = (int)rng_below(&r, (uint32_t)i + 1);
        int tmp = u[i].group; u[i].group = u[j].group; u[j].group = tmp;
    }
    for (int i = 0; i < n; i++) {
        // Traits from a per-user stream: a user's traits do not change when the population grows.
        rng_seed(&r, cfg->seed, RNG_TASK, TASK_STREAM_TRAITS + s, (uint64_t)i);
        u[i].uid = rng_hash(rng_hash(cfg->seed, 0x7A5C0000ULL + (uint64_t)s), (uint64_t)i);
        for (int j = 0; j < 4; j++) u[i].u[j] = rng_uniform(&r);
        for (int j = 0; j < 8; j++) u[i].n[j] = rng_normal(&r);
    }
    return u;
}

int task_n_groups(const Task *t) { return t->n_groups; }
const char *task_group_name(const Task *t, int g) {
    return g >= 0 && g < t->n_groups ? t->group_names[g] : "?";
}
int task_n_users(const Task *t, Split s) { return t->n_users[s == SPLIT_EVAL]; }
int task_user_group(const Task *t, Split s, int user) {
    int k = s == SPLIT_EVAL;
    CHECK(user >= 0 && user < t->n_users[k], "user %d of %d", user, t->n_users[k]);
    return t->users[k][user].group;
}

// ---------------------------------------------------------------------------------------------------------------
// life cycle

// The share rules of the built-in families (data families take their groups from the data: no shares at all).
static int task_check_shares(const TaskFamily *fam, const TaskConfig *cfg, TaskConfig *c, char *err, size_t errlen) {
    double sum = 0;
    int any = 0;
    for (int g = 0; g < TASK_MAX_GROUPS; g++) {
        double x = cfg->group_shares[g];
        if (x != 0) any = 1;
        if (fam->data && x != 0) {
            snprintf(err, errlen, "task %s: group shares do not apply, the groups come from the data (leave "
                     "task.shares empty)", fam->name);
            return 1;
        }
        if (!(x >= 0 && x <= 1) || (g >= fam->n_groups && x != 0)) {
            snprintf(err, errlen, "task %s: group_shares[%d] = %g invalid (need %d shares in [0,1] summing to 1)",
                     fam->name, g, x, fam->n_groups);
            return 1;
        }
        sum += x;
    }
    if (any && fabs(sum - 1.0) > 1e-6) {
        snprintf(err, errlen, "task %s: group_shares sum to %g, not 1 (give %d shares, or all 0 for the default)",
                 fam->name, sum, fam->n_groups);
        return 1;
    }
    if (!any && !fam->data) for (int g = 0; g < fam->n_groups; g++) c->group_shares[g] = fam->default_shares[g];
    return 0;
}

static const TaskFamily *task_family_of(const char *name) {
    for (int i = 0; i < TASK_N_FAMILIES && name; i++)
        if (!strcmp(name, task_families[i]->name)) return task_families[i];
    return NULL;
}

// A BPE tokenizer (TaskConfig.bpe) is for the file task only, and needs an end-of-text id to stop completions at.
static int task_check_bpe(const TaskFamily *fam, const Bpe *b, char *err, size_t errlen) {
    if (!b) return 0;
    if (strcmp(fam->name, "file")) {
        snprintf(err, errlen, "task %s: task.tokenizer applies to task.name = file only (HINT: leave task.tokenizer "
                 "empty: the built-in tasks have their own word vocabulary)", fam->name);
        return 1;
    }
    if (bpe_eos_id(b) < 0) {
        snprintf(err, errlen, "task file: task.tokenizer has no \"<|endoftext|>\" token (HINT: use a GPT-2 "
                 "tokenizer: completions end at its end-of-text id)");
        return 1;
    }
    return 0;
}

static Task *task_create_impl(const TaskConfig *cfg, char *err, size_t errlen);

Task *task_create(const TaskConfig *cfg, char *err, size_t errlen) {
    Task *t = task_create_impl(cfg, err, errlen);
    if (!t) bpe_free(cfg->bpe);   // owned either way (task.h)
    return t;
}

static Task *task_create_impl(const TaskConfig *cfg, char *err, size_t errlen) {
    if (errlen) err[0] = 0;
    const TaskFamily *fam = task_family_of(cfg->name);
    if (!fam) {
        snprintf(err, errlen, "unknown task '%s' (allowed: personas, recsys, reviews, movielens, file)",
                 cfg->name ? cfg->name : "");
        return NULL;
    }
    // Data families read their populations from the data; n_eval_users may still mean something to them (movielens:
    // how many users to hold out), so it is only range-checked here.
    if ((!fam->data && (cfg->n_users < 1 || cfg->n_users > 10000000)) || cfg->n_eval_users < 1 ||
        cfg->n_eval_users > 10000000) {
        snprintf(err, errlen, "task %s: n_users (%d) and n_eval_users (%d) must be in [1, 10000000]",
                 fam->name, cfg->n_users, cfg->n_eval_users);
        return NULL;
    }
    if (cfg->max_new != 0 && (cfg->max_new < fam->min_new || cfg->max_new > TASK_MAX_SEQ - TASK_MAX_PROMPT)) {
        snprintf(err, errlen, "task %s: max_new %d must be in [%d, %d] (0 = task default %d)", fam->name,
                 cfg->max_new, fam->min_new, TASK_MAX_SEQ - TASK_MAX_PROMPT, fam->default_max_new);
        return NULL;
    }
    TaskConfig c = *cfg;
    c.name = fam->name;
    c.bpe = NULL;   // t->bpe holds it
    if (task_check_shares(fam, cfg, &c, err, errlen) || task_check_bpe(fam, cfg->bpe, err, errlen)) return NULL;
    if (!c.max_new) c.max_new = fam->default_max_new;

    Task *t = xcalloc(1, sizeof *t);
    t->fam = fam;
    t->cfg = c;
    t->vocab_max = fam->data ? TASK_MAX_DATA_VOCAB : TASK_MAX_VOCAB;
    t->n_groups = fam->n_groups;
    t->group_names = fam->group_names;
    if (cfg->bpe) t->bpe = cfg->bpe;
    else for (int i = 0; i < 5; i++) task_vocab_add(t, task_specials[i]);
    if (fam->build(t, err, errlen)) { t->bpe = NULL; task_free(t); return NULL; }   // the caller frees the Bpe
    if (fam->data) {
        CHECK(t->n_groups >= 1 && t->n_groups <= TASK_MAX_GROUPS && t->group_names, "task %s: %d groups", fam->name,
              t->n_groups);
        CHECK(t->n_users[0] >= 1 && t->n_users[1] >= 1 && t->users[0] && t->users[1], "task %s: no users", fam->name);
        t->cfg.n_users = t->n_users[0];
        t->cfg.n_eval_users = t->n_users[1];
        return t;
    }
    for (int s = 0; s < 2; s++) {
        t->n_users[s] = s == SPLIT_TRAIN ? c.n_users : c.n_eval_users;
        t->users[s] = task_make_users(&t->cfg, fam->n_groups, (Split)s, t->n_users[s]);
    }
    return t;
}

void task_free(Task *t) {
    if (!t) return;
    if (t->fam && t->fam->destroy) t->fam->destroy(t);
    free(t->users[0]);
    free(t->users[1]);
    free(t->words);
    free(t->index);
    bpe_free(t->bpe);
    free(t);
}

const char *task_name(const Task *t) { return t->fam->name; }
const char *task_summary(const Task *t) { return t->fam->summary ? t->fam->summary(t) : ""; }
int task_next_items(const Task *t, const Prompt *p, int *tok, int max) {
    return t->fam->next_items ? t->fam->next_items(t, p, tok, max) : 0;
}
int task_max_new(const Task *t) { return t->cfg.max_new; }

// ---------------------------------------------------------------------------------------------------------------
// prompts, rewards, SFT

void task_prompt(const Task *t, uint64_t seed, Split s, long index, Prompt *out) {
    int k = s == SPLIT_EVAL;
    Rng r;
    // The world seed enters too: two worlds with the same stream seed still get unrelated prompts.
    rng_seed(&r, rng_hash(t->cfg.seed, seed), RNG_TASK, TASK_STREAM_PROMPT + (uint64_t)k, (uint64_t)index);
    memset(out, 0, sizeof *out);
    out->split = k;
    if (t->fam->own_user) {
        out->user = -1;
        t->fam->prompt(t, &r, out);
        CHECK(out->user >= 0 && out->user < t->n_users[k], "task %s: prompt user %d", t->fam->name, out->user);
        out->group = t->users[k][out->user].group;
    } else {
        out->user = (int)rng_below(&r, (uint32_t)t->n_users[k]);
        out->group = t->users[k][out->user].group;
        t->fam->prompt(t, &r, out);
    }
    CHECK(t->bpe ? out->len >= 1 && out->len <= TASK_MAX_PROMPT :
          out->len >= 2 && out->len <= TASK_MAX_PROMPT && out->tok[0] == TOK_BOS && out->tok[out->len - 1] == TOK_SEP,
          "task %s made a malformed prompt (len %d)", t->fam->name, out->len);
}

float task_reward(const Task *t, const Prompt *p, const int *comp, int n) {
    CHECK(t->fam->reward, "task %s has no built-in reward: the reward must come from [reward]", t->fam->name);
    if (n <= 0 || !comp) return -1.0f;
    float r = t->fam->reward(t, p, comp, n);
    return task_clampf(r, -1.0f, 1.0f);
}

float task_oracle(const Task *t, const Prompt *p) {
    CHECK(t->fam->oracle, "task %s has no built-in reward, hence no oracle", t->fam->name);
    return task_clampf(t->fam->oracle(t, p), -1.0f, 1.0f);
}

int task_sft_example(const Task *t, uint64_t seed, Split s, long index, int *tok, int *prompt_len) {
    if (t->fam->sft_example) {
        Rng r;
        rng_seed(&r, rng_hash(t->cfg.seed, seed), RNG_TASK, TASK_STREAM_SFT + (uint64_t)(s == SPLIT_EVAL),
                 (uint64_t)index);
        int n = t->fam->sft_example(t, &r, s, index, tok, prompt_len);
        CHECK(n >= 2 && n <= TASK_MAX_SEQ && *prompt_len >= 1 && *prompt_len < n && tok[n - 1] == task_eos(t),
              "task %s made a malformed SFT example", t->fam->name);
        return n;
    }
    Prompt p;
    task_prompt(t, seed, s, index, &p);
    Rng r;
    rng_seed(&r, rng_hash(t->cfg.seed, seed), RNG_TASK, TASK_STREAM_SFT + (uint64_t)p.split, (uint64_t)index);
    memcpy(tok, p.tok, (size_t)p.len * sizeof *tok);
    int n = t->fam->sft_completion(t, &r, &p, tok + p.len, TASK_MAX_SEQ - p.len);
    CHECK(n >= 1 && tok[p.len + n - 1] == TOK_EOS, "task %s made a malformed SFT completion", t->fam->name);
    *prompt_len = p.len;
    return p.len + n;
}
