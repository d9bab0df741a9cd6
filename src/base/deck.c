// deck.c — input deck parsing and validation against one schema table (see deck.h).
#include "deck.h"
#include "check.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

typedef enum { T_INT, T_FLOAT, T_BOOL, T_STR, T_ENUM } KeyType;

typedef struct {
    const char *key;   // "section.name"
    KeyType type;
    const char *def;   // default, as deck text
    double lo, hi;     // inclusive range for T_INT / T_FLOAT
    const char *choices; // "a|b|c" for T_ENUM
    const char *help;
} KeySpec;

#define BIG 1e18
// The whole deck vocabulary. Adding a key is one line here; README "Deck reference" is `pgrpo --help-deck`.
static const KeySpec SCHEMA[] = {
    {"run.seed", T_INT, "1234", 0, 4e18, 0, "root seed; every random stream derives from (seed, role, rank, step)"},
    {"run.out_dir", T_STR, "runs/demo", 0, 0, 0, "output folder (metrics.h5, trajectories.h5, checkpoints/, final.h5)"},
    {"run.log_every", T_INT, "1", 1, 1e9, 0, "steps between log lines"},
    {"run.threads", T_INT, "1", 1, 256, 0, "OpenBLAS threads per rank"},
    {"run.max_walltime", T_FLOAT, "0", 0, BIG, 0, "seconds; stop cleanly with a checkpoint before this (0 = no limit)"},
    {"run.step_timeout", T_FLOAT, "1800", 0, BIG, 0, "seconds a training step may take before the run aborts as hung (0 = off)"},
    {"model.n_layer", T_INT, "2", 1, 64, 0, "transformer blocks"},
    {"model.n_head", T_INT, "4", 1, 64, 0, "attention heads (d_model % n_head == 0)"},
    {"model.d_model", T_INT, "96", 8, 8192, 0, "embedding width"},
    {"model.context", T_INT, "64", 8, 8192, 0, "context length in tokens (prompt + completion)"},
    {"task.name", T_ENUM, "personas", 0, 0, "personas|recsys|reviews", "task family"},
    {"task.seed", T_INT, "7", 0, 4e18, 0, "seed of the task's world (users, items, books)"},
    {"task.n_users", T_INT, "1000", 10, 1e8, 0, "training users"},
    {"task.n_eval_users", T_INT, "200", 10, 1e8, 0, "held-out evaluation users (disjoint)"},
    {"task.n_items", T_INT, "0", 0, 1e6, 0, "catalogue size for recsys/reviews (0 = task default)"},
    {"task.shares", T_STR, "", 0, 0, 0, "comma-separated group shares summing to 1 (empty = task default)"},
    {"sft.steps", T_INT, "400", 0, 1e9, 0, "supervised steps"},
    {"sft.batch", T_INT, "32", 1, 1e6, 0, "global sequences per step (split over ranks)"},
    {"sft.lr", T_FLOAT, "3e-3", 0, 10, 0, "peak learning rate"},
    {"sft.warmup", T_INT, "20", 0, 1e9, 0, "linear warmup steps"},
    {"sft.schedule", T_ENUM, "cosine", 0, 0, "constant|cosine", "learning-rate schedule"},
    {"sft.weight_decay", T_FLOAT, "0.0", 0, 10, 0, "AdamW decoupled weight decay"},
    {"sft.grad_clip", T_FLOAT, "1.0", 0, BIG, 0, "global grad-norm clip (0 = off)"},
    {"sft.out", T_STR, "", 0, 0, 0, "SFT base checkpoint path (empty = <run.out_dir>/sft_base.h5)"},
    {"train.base", T_STR, "", 0, 0, 0, "SFT base checkpoint to start from (empty = <run.out_dir>/sft_base.h5)"},
    {"train.steps", T_INT, "150", 0, 1e9, 0, "RL steps"},
    {"train.prompts", T_INT, "16", 1, 1e6, 0, "prompts per step, global (P)"},
    {"train.group_size", T_INT, "8", 1, 4096, 0, "completions per prompt (G)"},
    {"train.advantage", T_ENUM, "pgrpo", 0, 0, "grpo|drgrpo|pgrpo", "advantage estimator"},
    {"train.loss_agg", T_ENUM, "seq_mean_token_mean", 0, 0, "seq_mean_token_mean|token_mean|drgrpo", "loss aggregation"},
    {"train.eps_low", T_FLOAT, "0.2", 0, 1, 0, "clip range below 1"},
    {"train.eps_high", T_FLOAT, "0.2", 0, 10, 0, "clip range above 1 (DAPO: 0.28)"},
    {"train.beta", T_FLOAT, "0.02", 0, 100, 0, "k3 KL coefficient to the frozen reference (0 skips the reference)"},
    {"train.mu", T_INT, "1", 1, 100, 0, "inner iterations over each batch"},
    {"train.micro_batch", T_INT, "64", 1, 1e6, 0, "sequences per learner forward/backward (gradient accumulation; bounds activation memory)"},
    {"train.minibatches", T_INT, "1", 1, 4096, 0, "optimizer steps per inner iteration"},
    {"train.drop_tied", T_BOOL, "false", 0, 0, 0, "drop prompt groups whose rewards all tie (counted either way)"},
    {"train.lr", T_FLOAT, "1e-3", 0, 10, 0, "learning rate"},
    {"train.warmup", T_INT, "0", 0, 1e9, 0, "linear warmup steps"},
    {"train.schedule", T_ENUM, "constant", 0, 0, "constant|cosine", "learning-rate schedule"},
    {"train.weight_decay", T_FLOAT, "0.0", 0, 10, 0, "AdamW decoupled weight decay"},
    {"train.grad_clip", T_FLOAT, "1.0", 0, BIG, 0, "global grad-norm clip (0 = off)"},
    {"train.rollout_ranks", T_INT, "0", 0, 1e6, 0, "ranks that only sample (0 = every rank does both roles)"},
    {"train.async", T_BOOL, "false", 0, 0, 0, "rollouts for step s+1 overlap the update of step s (staleness 1)"},
    {"train.temperature", T_FLOAT, "1.0", 1e-3, 100, 0, "sampling temperature"},
    {"train.top_k", T_INT, "0", 0, 1e6, 0, "top-k sampling (0 = off)"},
    {"train.top_p", T_FLOAT, "1.0", 1e-6, 1, 0, "nucleus sampling mass (1 = off)"},
    {"train.max_new", T_INT, "0", 0, 8192, 0, "max completion tokens (0 = the task's budget)"},
    {"train.groups", T_ENUM, "truth", 0, 0, "truth|random|file", "preference-group source"},
    {"train.groups_file", T_STR, "", 0, 0, 0, "HDF5 file with /user_group (n_users) when train.groups = file"},
    {"pgrpo.history", T_ENUM, "cumulative", 0, 0, "cumulative|ema|window", "per-group reward history"},
    {"pgrpo.decay", T_FLOAT, "0.99", 1e-6, 1, 0, "EMA decay per step (history = ema)"},
    {"pgrpo.window", T_INT, "50", 1, 1e6, 0, "steps kept (history = window)"},
    {"pgrpo.order", T_ENUM, "before", 0, 0, "before|after", "current batch enters the history before or after its advantages"},
    {"pgrpo.cold_start", T_ENUM, "grpo", 0, 0, "grpo|zero|batch", "rule for a group whose history has < min_count rewards"},
    {"pgrpo.min_count", T_INT, "2", 1, 1e9, 0, "history count below which the cold-start rule applies"},
    {"pgrpo.eps", T_FLOAT, "1e-4", 0, 1, 0, "added to the history std"},
    {"pgrpo.variance", T_ENUM, "population", 0, 0, "population|sample", "variance estimator of the history"},
    {"checkpoint.every", T_INT, "25", 0, 1e9, 0, "steps between checkpoints (0 = only at the end)"},
    {"checkpoint.keep_last", T_INT, "3", 1, 1e6, 0, "checkpoints kept (rolling)"},
    {"checkpoint.keep_every", T_INT, "0", 0, 1e9, 0, "also keep every M-th step's checkpoint (0 = none)"},
    {"eval.prompts", T_INT, "128", 1, 1e7, 0, "held-out prompts per evaluation"},
    {"eval.samples", T_INT, "4", 1, 4096, 0, "sampled completions per eval prompt"},
};
#define N_KEYS ((int)(sizeof(SCHEMA) / sizeof(SCHEMA[0])))

struct Deck {
    char *value[N_KEYS];     // resolved value text
    char where[N_KEYS][160]; // "file:line", "--set", "default"
    char source[512];
    char *text;
};

static const KeySpec *find_spec(const char *key, int *idx) {
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(SCHEMA[i].key, key) == 0) { if (idx) *idx = i; return &SCHEMA[i]; }
    return NULL;
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static const char *nearest_key(const char *key) {
    int best = 1 << 30; const char *name = SCHEMA[0].key;
    for (int i = 0; i < N_KEYS; i++) {
        int dd = edit_distance(key, SCHEMA[i].key);
        const char *dot = strchr(SCHEMA[i].key, '.');   // also match on the bare name in any section
        int dn = edit_distance(key, dot + 1) + 1;
        if (dn < dd) dd = dn;
        if (dd < best) { best = dd; name = SCHEMA[i].key; }
    }
    return name;
}

static void range_text(const KeySpec *s, char *buf, size_t n) {
    switch (s->type) {
    case T_INT: snprintf(buf, n, "an integer in [%.0f, %.0f]", s->lo, s->hi); break;
    case T_FLOAT: snprintf(buf, n, "a number in [%g, %g]", s->lo, s->hi); break;
    case T_BOOL: snprintf(buf, n, "true or false"); break;
    case T_ENUM: snprintf(buf, n, "one of %s", s->choices); break;
    default: snprintf(buf, n, "a string"); break;
    }
}

static int parse_bool(const char *v, int *out) {
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) { *out = 1; return 0; }
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0")) { *out = 0; return 0; }
    return -1;
}

// Returns 0 when v is a valid value of spec s.
static int validate(const KeySpec *s, const char *v) {
    char *end;
    errno = 0;
    if (s->type == T_INT) {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || (double)x < s->lo || (double)x > s->hi) return -1;
    } else if (s->type == T_FLOAT) {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !(x >= s->lo && x <= s->hi)) return -1;
    } else if (s->type == T_BOOL) {
        int b;
        return parse_bool(v, &b);
    } else if (s->type == T_ENUM) {
        size_t n = strlen(v);
        for (const char *c = s->choices; *c;) {
            const char *bar = strchr(c, '|');
            size_t m = bar ? (size_t)(bar - c) : strlen(c);
            if (m == n && !strncmp(c, v, n)) return 0;
            if (!bar) break;
            c = bar + 1;
        }
        return -1;
    }
    return 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static void set_value(Deck *d, const char *where, const char *key, const char *val) {
    int i;
    const KeySpec *s = find_spec(key, &i);
    if (!s) {
        char hint[256];
        snprintf(hint, sizeof hint, "did you mean '%s'? `pgrpo --help-deck` lists every key", nearest_key(key));
        die_user(EXIT_USAGE, hint, "%s: unknown key '%s'", where, key);
    }
    if (validate(s, val)) {
        char r[256];
        range_text(s, r, sizeof r);
        die_user(EXIT_USAGE, "fix the value in the deck or the --set option",
                 "%s: %s = '%s' is not valid; expected %s", where, key, val, r);
    }
    free(d->value[i]);
    d->value[i] = strdup(val);
    snprintf(d->where[i], sizeof d->where[i], "%s", where);
}

static void parse_file(Deck *d, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die_user(EXIT_USAGE, "check the path; example decks are in inputs/", "cannot open deck '%s': %s",
                     path, strerror(errno));
    char line[4096], section[128] = "", where[700];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1]) die_user(EXIT_USAGE, "a section header looks like [model]", "%s: malformed section header '%s'", where, s);
            *close = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) die_user(EXIT_USAGE, "deck lines are `key = value` under a [section]", "%s: expected 'key = value', got '%s'", where, s);
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (!*section) die_user(EXIT_USAGE, "put keys under a [section] header", "%s: key '%s' appears before any [section]", where, k);
        char full[300];
        snprintf(full, sizeof full, "%s.%s", section, k);
        set_value(d, where, full, v);
    }
    fclose(f);
}

static void build_text(Deck *d) {
    size_t cap = 64 + strlen(d->source), used = 0;
    for (int i = 0; i < N_KEYS; i++) cap += 2 * strlen(SCHEMA[i].key) + strlen(d->value[i]) + 8;  // key, section, " = ", "\n"
    char *t = xmalloc(cap), sect[64] = "";
    used += (size_t)snprintf(t + used, cap - used, "# pgrpo resolved deck (source: %s)\n", d->source);
    for (int i = 0; i < N_KEYS && used < cap; i++) {
        const char *dot = strchr(SCHEMA[i].key, '.');
        int sl = (int)(dot - SCHEMA[i].key);
        if ((int)strlen(sect) != sl || strncmp(sect, SCHEMA[i].key, (size_t)sl)) {
            snprintf(sect, sizeof sect, "%.*s", sl, SCHEMA[i].key);
            used += (size_t)snprintf(t + used, cap - used, "[%s]\n", sect);
        }
        if (used < cap) used += (size_t)snprintf(t + used, cap - used, "%s = %s\n", dot + 1, d->value[i]);
    }
    CHECK(used < cap, "deck text buffer too small");
    d->text = t;
}

Deck *deck_load(const char *path, int n_sets, char *const *sets) {
    Deck *d = xcalloc(1, sizeof *d);
    for (int i = 0; i < N_KEYS; i++) {
        d->value[i] = strdup(SCHEMA[i].def);
        snprintf(d->where[i], sizeof d->where[i], "default");
    }
    snprintf(d->source, sizeof d->source, "%s", path ? path : "<default>");
    if (path) parse_file(d, path);
    for (int i = 0; i < n_sets; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", sets[i]);
        char *eq = strchr(buf, '=');
        if (!eq) die_user(EXIT_USAGE, "write --set section.key=value", "--set '%s': missing '='", sets[i]);
        *eq = 0;
        set_value(d, "--set", trim(buf), trim(eq + 1));
    }
    build_text(d);
    return d;
}

void deck_free(Deck *d) {
    if (!d) return;
    for (int i = 0; i < N_KEYS; i++) free(d->value[i]);
    free(d->text);
    free(d);
}

static int must_find(const char *key, KeyType want) {
    int i;
    const KeySpec *s = find_spec(key, &i);
    CHECK(s, "deck key '%s' is not in the schema", key);
    CHECK(s->type == want || (want == T_STR && s->type == T_ENUM), "deck key '%s' read with the wrong type", key);
    return i;
}

long deck_int(const Deck *d, const char *key) { return strtol(d->value[must_find(key, T_INT)], NULL, 10); }
double deck_float(const Deck *d, const char *key) { return strtod(d->value[must_find(key, T_FLOAT)], NULL); }
int deck_bool(const Deck *d, const char *key) {
    int b = 0;
    parse_bool(d->value[must_find(key, T_BOOL)], &b);
    return b;
}
const char *deck_str(const Deck *d, const char *key) { return d->value[must_find(key, T_STR)]; }
const char *deck_text(const Deck *d) { return d->text; }
const char *deck_source(const Deck *d) { return d->source; }

void deck_fail(const Deck *d, const char *key, const char *hint, const char *fmt, ...) {
    int i;
    CHECK(find_spec(key, &i), "deck key '%s' is not in the schema", key);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *w = d->where[i];
    if (!strcmp(w, "default")) die_user(EXIT_USAGE, hint, "%s: %s = %s (default): %s", d->source, key, d->value[i], msg);
    die_user(EXIT_USAGE, hint, "%s: %s = %s: %s", w, key, d->value[i], msg);
}

void deck_print_schema(void) {
    printf("%-24s %-6s %-22s %s\n", "key", "type", "default", "range / description");
    for (int i = 0; i < N_KEYS; i++) {
        const KeySpec *s = &SCHEMA[i];
        static const char *tn[] = {"int", "float", "bool", "string", "enum"};
        char r[256];
        range_text(s, r, sizeof r);
        printf("%-24s %-6s %-22s %s; %s\n", s->key, tn[s->type], *s->def ? s->def : "\"\"", r, s->help);
    }
}
