// deck.c — input deck parsing and validation against one schema table (see deck.h).
#include "deck.h"
#include "check.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    {"run.threads", T_INT, "1", 1, 256, 0, "threads per rank (the model: OpenMP, OpenBLAS on one thread inside, same bits on any count; group discovery, ALS rewards: OpenBLAS, whose bits the count changes)"},
    {"run.max_walltime", T_FLOAT, "0", 0, BIG, 0, "seconds; stop cleanly with a checkpoint before this (0 = no limit)"},
    {"run.step_timeout", T_FLOAT, "1800", 0, BIG, 0, "seconds a training step may take before the run aborts as hung (0 = off)"},
    {"model.n_layer", T_INT, "2", 1, 64, 0, "transformer blocks"},
    {"model.n_head", T_INT, "4", 1, 64, 0, "attention heads (d_model % n_head == 0)"},
    {"model.d_model", T_INT, "96", 8, 8192, 0, "embedding width"},
    {"model.context", T_INT, "64", 8, 8192, 0, "context length in tokens (prompt + completion)"},
    {"task.name", T_ENUM, "personas", 0, 0, "personas|recsys|reviews|movielens|file", "task family (movielens, file: README \"Your own data\")"},
    {"task.path", T_STR, "", 0, 0, 0, "movielens: the MovieLens-1M folder; file: the folder with users.jsonl, prompts.jsonl, sft.jsonl"},
    {"task.tokenizer", T_STR, "", 0, 0, 0, "file: a GPT-2 tokenizer folder (vocab.json + merges.txt) or an imported policy (.h5); empty = the word tokenizer"},
    {"task.ml_groups", T_ENUM, "gender", 0, 0, "gender|age|occupation", "movielens: the users.dat field that makes the preference groups"},
    {"task.seed", T_INT, "7", 0, 4e18, 0, "seed of the task's world (users, items, books)"},
    {"task.n_users", T_INT, "1000", 10, 1e8, 0, "training users (movielens, file: ignored, the data decides)"},
    {"task.n_eval_users", T_INT, "200", 10, 1e8, 0, "held-out evaluation users (disjoint; movielens: users held out of the data; file: ignored)"},
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
    {"train.groups", T_ENUM, "truth", 0, 0, "truth|random|file|discover",
     "preference-group source (discover: run the [groups] pipeline on the job's ranks first)"},
    {"train.groups_file", T_STR, "", 0, 0, 0, "HDF5 file with /user_group (n_users) when train.groups = file"},
    {"groups.feedback", T_ENUM, "task", 0, 0, "task|file",
     "users' feedback: the built-in task's simulated users rating probes, or groups.feedback_file"},
    {"groups.feedback_file", T_STR, "", 0, 0, 0, "feedback.h5 (/feedback/value users x probes; README Groups) when groups.feedback = file"},
    {"groups.probes", T_INT, "256", 2, 65536, 0, "probe completions each simulated user may rate (groups.feedback = task)"},
    {"groups.observed", T_FLOAT, "0.3", 1e-3, 1, 0, "fraction of the probes each simulated user has rated (the rest are holes)"},
    {"groups.noise", T_FLOAT, "0", 0, 100, 0, "std of Gaussian noise on each simulated rating"},
    {"groups.method", T_ENUM, "pca", 0, 0, "pca|spectral",
     "pca: k-means on the top groups.dims principal components; spectral: NJW on an RBF affinity over them"},
    {"groups.dims", T_INT, "8", 1, 4096, 0, "dimensions the reduction keeps (<= probes and < users)"},
    {"groups.whiten", T_BOOL, "false", 0, 0, 0,
     "scale each principal component to unit variance before clustering (scikit-learn's PCA(whiten=True))"},
    {"groups.k", T_INT, "0", 0, 16, 0, "groups to find (0 = choose K in [2, groups.k_max] by groups.criterion)"},
    {"groups.k_max", T_INT, "8", 2, 16, 0, "largest K tried when groups.k = 0"},
    {"groups.criterion", T_ENUM, "bic", 0, 0, "silhouette|bic|eigengap", "how K is chosen when groups.k = 0 (all are printed)"},
    {"groups.n_init", T_INT, "10", 1, 1000, 0, "k-means++ restarts; the lowest inertia is kept"},
    {"groups.max_iter", T_INT, "300", 1, 1e6, 0, "Lloyd iterations per restart"},
    {"groups.tol", T_FLOAT, "1e-4", 0, 1, 0, "Lloyd stops when the centres move less than tol x the mean column variance"},
    {"groups.sample", T_INT, "2000", 10, 1e6, 0, "rows the silhouette criterion is computed on (a seeded sample)"},
    {"groups.gamma", T_FLOAT, "0", 0, BIG, 0, "RBF affinity exp(-gamma |y_i - y_j|^2) of groups.method = spectral (0 = automatic)"},
    {"groups.spectral_solver", T_ENUM, "krylov", 0, 0, "krylov|shift_invert|dense",
     "eigensolver of groups.method = spectral: block Krylov (shift-invert when slow), shift-invert, or pdsyevd"},
    {"groups.block", T_INT, "64", 1, 4096, 0, "ScaLAPACK block size of the distributed matrices"},
    {"groups.out", T_STR, "", 0, 0, 0, "groups file written by discovery (empty = <run.out_dir>/groups.h5)"},
    {"pgrpo.history", T_ENUM, "cumulative", 0, 0, "cumulative|ema|window", "per-group reward history"},
    {"pgrpo.decay", T_FLOAT, "0.99", 1e-6, 1, 0, "EMA decay per step (history = ema; 1 = no decay, the same as cumulative)"},
    {"pgrpo.window", T_INT, "50", 1, 1e6, 0, "steps kept (history = window)"},
    {"pgrpo.order", T_ENUM, "before", 0, 0, "before|after", "current batch enters the history before or after its advantages"},
    {"pgrpo.cold_start", T_ENUM, "grpo", 0, 0, "grpo|zero|batch", "rule for a group whose history has < min_count rewards"},
    {"pgrpo.min_count", T_INT, "2", 1, 1e9, 0, "history count below which the cold-start rule applies"},
    {"pgrpo.eps", T_FLOAT, "1e-4", 0, 1, 0, "added to the history std (0: a std of 0 gives advantage 0, not NaN)"},
    {"pgrpo.variance", T_ENUM, "population", 0, 0, "population|sample", "variance estimator of the history"},
    {"checkpoint.every", T_INT, "25", 0, 1e9, 0, "steps between checkpoints (0 = only at the end)"},
    {"checkpoint.keep_last", T_INT, "3", 1, 1e6, 0, "checkpoints kept (rolling)"},
    {"checkpoint.keep_every", T_INT, "0", 0, 1e9, 0, "also keep every M-th step's checkpoint (0 = none)"},
    {"eval.prompts", T_INT, "128", 1, 1e7, 0, "held-out prompts per evaluation"},
    {"eval.samples", T_INT, "4", 1, 4096, 0, "sampled completions per eval prompt"},
    {"reward.plugin", T_STR, "", 0, 0, 0, "reward plugin: a shared object with the C ABI of include/pgrpo_reward.h (empty = the task's reward)"},
    {"reward.command", T_STR, "", 0, 0, 0, "reward process: a command started once per rollout rank, speaking the line protocol on stdin/stdout"},
    {"reward.config", T_STR, "", 0, 0, 0, "text given to the plugin's init or the process's header line"},
    {"reward.timeout", T_FLOAT, "60", 1e-3, 1e6, 0, "seconds a reward process may take to answer one batch"},
    {"reward.batch", T_INT, "0", 0, 1e7, 0, "completions per plugin call or process batch (0 = all of a rank's completions of a step)"},
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

// ---- error messages: libraries return them; only deck_load / deck_fail end the process ----

// "msg (HINT: hint)" into err; returns -1 so parsers can `return fail(...)`.
__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, const char *hint, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < errlen && hint && *hint) snprintf(err + n, errlen - (size_t)n, " (HINT: %s)", hint);
    return -1;
}

// User text quoted in a message: every byte outside printable ASCII becomes \xNN (binary, control and invisible
// characters are never echoed raw), and text longer than max bytes is cut with "...". Returns out.
static const char *esc_max(const char *s, size_t n, char *out, size_t cap, size_t max) {
    size_t o = 0, shown = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (shown++ == max) { memcpy(out + o, "...", 3); o += 3; break; }
        if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = 0;
    return out;
}
static const char *esc(const char *s, size_t n, char *out, size_t cap) { return esc_max(s, n, out, cap, 60); }
#define ESC_CAP 400
#define ESC(s, buf) esc((s), strlen(s), (buf), sizeof(buf))
// File paths are shown whole (a message must name the file), still escaped.
#define PATH_CAP 2200
#define ESC_PATH(s, buf) esc_max((s), strlen(s), (buf), sizeof(buf), 512)

// Length in bytes of the UTF-8 sequence at s (n bytes available) and its code point; 0 when invalid.
static int utf8_seq(const unsigned char *s, size_t n, unsigned *cp) {
    int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!len || (size_t)len > n) return 0;
    unsigned v = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu : len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    static const unsigned min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_of_len[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;  // overlong, surrogate
    *cp = v;
    return len;
}

// Characters that render as nothing (or move text) and so make a deck line mean something other than it shows.
static int invisible(unsigned cp) {
    return cp == 0x00a0 || cp == 0x00ad || (cp >= 0x0080 && cp <= 0x009f) || cp == 0x034f || cp == 0x061c ||
           cp == 0x180e || (cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
           (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

// Rejects a deck line or --set option (n bytes, no newline) holding a NUL, a control character (tab is allowed),
// invalid UTF-8 or an invisible character. `where` is "file:line" or "--set"; the line is shown escaped.
static int check_bytes(const char *where, const char *s, size_t n, char *err, size_t errlen) {
    char shown[ESC_CAP];
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned cp = u[i];
        int len = u[i] < 0x80 ? 1 : utf8_seq(u + i, n - i, &cp);
        const char *what = NULL;
        if (u[i] == 0) what = "a NUL byte";
        else if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f) what = "a control character";
        else if (!len) what = "bytes that are not UTF-8 text";
        else if (invisible(cp)) what = cp == 0xfeff ? "a byte-order mark (U+FEFF)" : "an invisible character";
        if (what) {
            char bad[32];
            esc(s + i, len ? (size_t)len : 1, bad, sizeof bad);
            return fail(err, errlen, "a deck is plain text: retype the line, or check that the file is a pgrpo deck",
                        "%s: %s %s at byte %zu of '%s'", where, what, bad, i + 1, esc(s, n, shown, sizeof shown));
        }
        i += (size_t)len;
    }
    return 0;
}

// Walks the components of path lexically ("." skipped, ".." pops), updating the depth below the root and the
// first component (what a depth-1 path is).
static void walk_path(const char *path, int *depth, char *first, size_t first_cap) {
    for (const char *c = path; *c;) {
        while (*c == '/') c++;
        size_t n = strcspn(c, "/");
        if (n == 0) break;
        if (n == 2 && !strncmp(c, "..", 2)) { if (*depth > 0) (*depth)--; }
        else if (!(n == 1 && *c == '.')) {
            if (++*depth == 1) snprintf(first, first_cap, "%.*s", (int)n, c);
        }
        c += n;
    }
}

// run.out_dir receives checkpoints/ and the run's files: refuse an empty path, the root and the system's
// top-level folders, lexically ("//", "/./", "/usr/.." are the root; a relative path is taken from the current
// folder, so "." run from /tmp is /tmp). Symbolic links are not followed.
static int out_dir_refused(const char *v) {
    static const char *const SYS[] = {"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media",
                                      "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var"};
    if (!*v) return 1;
    int depth = 0;
    char first[256] = "", cwd[4096];
    if (v[0] != '/') {
        if (!getcwd(cwd, sizeof cwd)) return 0;   // cannot tell: the run's own mkdir will report problems
        walk_path(cwd, &depth, first, sizeof first);
    }
    walk_path(v, &depth, first, sizeof first);
    if (depth == 0) return 1;
    for (size_t i = 0; depth == 1 && i < sizeof SYS / sizeof SYS[0]; i++)
        if (!strcmp(first, SYS[i])) return 1;
    return 0;
}

static int set_value(Deck *d, const char *where, const char *key, const char *val, char *err, size_t errlen) {
    int i;
    char k_esc[ESC_CAP], v_esc[ESC_CAP];
    const KeySpec *s = find_spec(key, &i);
    if (!s) {
        char hint[256];
        snprintf(hint, sizeof hint, "did you mean '%s'? `pgrpo --help-deck` lists every key", nearest_key(key));
        return fail(err, errlen, hint, "%s: unknown key '%s'", where, ESC(key, k_esc));
    }
    if (validate(s, val)) {
        char r[256];
        range_text(s, r, sizeof r);
        return fail(err, errlen, "fix the value in the deck or the --set option", "%s: %s = '%s' is not valid; expected %s",
                    where, key, ESC(val, v_esc), r);
    }
    if (!strcmp(key, "run.out_dir") && out_dir_refused(val))
        return fail(err, errlen, "name a folder of its own for the run, e.g. runs/demo",
                    "%s: run.out_dir = '%s' is not a run folder (empty, the root or a top-level system folder)", where,
                    ESC(val, v_esc));
    free(d->value[i]);
    d->value[i] = strdup(val);
    snprintf(d->where[i], sizeof d->where[i], "%s", where);
    return 0;
}

// Reads the whole deck file (at most DECK_MAX_BYTES) into *buf; refuses folders, read errors and endless input.
static int read_deck_file(const char *path, char **buf, size_t *n, char *err, size_t errlen) {
    char p_esc[PATH_CAP];
    const char *hint = "check the path; example decks are in inputs/";
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail(err, errlen, hint, "cannot open deck '%s': %s", ESC_PATH(path, p_esc), strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(err, errlen, hint, "cannot read deck '%s': it is a folder, not a file", ESC_PATH(path, p_esc));
    }
    char *b = xmalloc(DECK_MAX_BYTES + 1);
    size_t used = 0;
    while (used <= DECK_MAX_BYTES) {
        ssize_t r = read(fd, b + used, DECK_MAX_BYTES + 1 - used);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(b);
            return fail(err, errlen, hint, "cannot read deck '%s': %s", ESC_PATH(path, p_esc), strerror(e));
        }
        if (r == 0) break;
        used += (size_t)r;
    }
    close(fd);
    if (used > DECK_MAX_BYTES) {
        free(b);
        return fail(err, errlen, "a deck is a small text file of `key = value` lines; check the path",
                    "deck '%s' is larger than %d bytes", ESC_PATH(path, p_esc), DECK_MAX_BYTES);
    }
    *buf = b;
    *n = used;
    return 0;
}

// State of one file's parse: where we are, the current section, and the line that set each key (duplicates).
typedef struct {
    Deck *d;
    char path[PATH_CAP];            // the file's path, escaped for messages
    char where[PATH_CAP + 32];      // "path:line"
    char section[DECK_MAX_LINE + 1];
    int lineno;
    int first_line[N_KEYS];         // 0 = not set in this file yet
    char *err;
    size_t errlen;
} Parser;

// One deck line (NUL-terminated, no newline, bytes already checked): section header, `key = value` or blank.
static int parse_line(Parser *p, char *line) {
    char shown[ESC_CAP];
    const char *where = p->where;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *s = trim(line);
    if (!*s) return 0;
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close || close[1])
            return fail(p->err, p->errlen, "a section header looks like [model]", "%s: malformed section header '%s'",
                        where, ESC(s, shown));
        *close = 0;
        snprintf(p->section, sizeof p->section, "%s", trim(s + 1));
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq)
        return fail(p->err, p->errlen, "deck lines are `key = value` under a [section]",
                    "%s: expected 'key = value', got '%s'", where, ESC(s, shown));
    *eq = 0;
    char *k = trim(s), *v = trim(eq + 1);
    if (!*p->section)
        return fail(p->err, p->errlen, "put keys under a [section] header", "%s: key '%s' appears before any [section]",
                    where, ESC(k, shown));
    char full[2 * DECK_MAX_LINE + 4];
    snprintf(full, sizeof full, "%s.%s", p->section, k);
    int i;
    if (find_spec(full, &i) && p->first_line[i])
        return fail(p->err, p->errlen, "keep one of the two lines (use --set to override a deck value)",
                    "%s: %s is set twice (first at %s:%d)", where, full, p->path, p->first_line[i]);
    if (set_value(p->d, where, full, v, p->err, p->errlen)) return -1;
    if (find_spec(full, &i)) p->first_line[i] = p->lineno;
    return 0;
}

static int parse_text(Deck *d, const char *path, const char *buf, size_t n, char *err, size_t errlen) {
    Parser *p = xcalloc(1, sizeof *p);   // ~12 KiB: off the stack
    p->d = d, p->err = err, p->errlen = errlen;
    ESC_PATH(path, p->path);
    char line[DECK_MAX_LINE + 2];
    size_t pos = 0;
    int rc = 0;
    if (n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) pos = 3;   // a UTF-8 byte-order mark at the start: skip it
    for (p->lineno = 1; !rc && pos < n; p->lineno++) {
        const char *nl = memchr(buf + pos, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - (buf + pos)) : n - pos;
        const char *s = buf + pos;
        pos += len + (nl != NULL);
        if (len && s[len - 1] == '\r') len--;   // CRLF line ends
        snprintf(p->where, sizeof p->where, "%s:%d", p->path, p->lineno);
        if (len > DECK_MAX_LINE)
            rc = fail(err, errlen, "check that the file is a pgrpo deck (a text file of `key = value` lines)",
                      "%s: line of %zu bytes; deck lines are at most %d bytes", p->where, len, DECK_MAX_LINE);
        else if (!(rc = check_bytes(p->where, s, len, err, errlen))) {
            memcpy(line, s, len);
            line[len] = 0;
            rc = parse_line(p, line);
        }
    }
    free(p);
    return rc;
}

// `--set section.key=value`, with the same checks as a deck line. A later --set of a key wins (scripts append).
static int apply_set(Deck *d, const char *set, char *err, size_t errlen) {
    char shown[ESC_CAP], buf[DECK_MAX_LINE + 1];
    size_t len = strlen(set);
    if (len > DECK_MAX_LINE)
        return fail(err, errlen, "write --set section.key=value", "--set '%s': %zu bytes; at most %d",
                    esc(set, len, shown, sizeof shown), len, DECK_MAX_LINE);
    if (check_bytes("--set", set, len, err, errlen)) return -1;
    memcpy(buf, set, len + 1);
    char *eq = strchr(buf, '=');
    if (!eq) return fail(err, errlen, "write --set section.key=value", "--set '%s': missing '='", ESC(set, shown));
    *eq = 0;
    return set_value(d, "--set", trim(buf), trim(eq + 1), err, errlen);
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

Deck *deck_parse(const char *path, int n_sets, char *const *sets, char *err, size_t errlen) {
    Deck *d = xcalloc(1, sizeof *d);
    for (int i = 0; i < N_KEYS; i++) {
        d->value[i] = strdup(SCHEMA[i].def);
        snprintf(d->where[i], sizeof d->where[i], "default");
    }
    snprintf(d->source, sizeof d->source, "%s", path ? path : "<default>");
    int rc = 0;
    if (path) {
        char *buf = NULL;
        size_t n = 0;
        rc = read_deck_file(path, &buf, &n, err, errlen);
        if (!rc) rc = parse_text(d, path, buf, n, err, errlen);
        free(buf);
    }
    for (int i = 0; !rc && i < n_sets; i++) rc = apply_set(d, sets[i], err, errlen);
    if (rc) {
        deck_free(d);
        return NULL;
    }
    build_text(d);
    return d;
}

Deck *deck_load(const char *path, int n_sets, char *const *sets) {
    char err[2048];
    Deck *d = deck_parse(path, n_sets, sets, err, sizeof err);
    if (!d) die_user(EXIT_USAGE, NULL, "%s", err);
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

const char *deck_where(const Deck *d, const char *key) {
    int i;
    CHECK(find_spec(key, &i), "deck key '%s' is not in the schema", key);
    return d->where[i];
}

int deck_error(const Deck *d, const char *key, const char *hint, char *err, size_t errlen, const char *fmt, ...) {
    int i;
    CHECK(find_spec(key, &i), "deck key '%s' is not in the schema", key);
    char msg[1024], v_esc[ESC_CAP], s_esc[PATH_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *w = d->where[i];
    ESC(d->value[i], v_esc);
    if (!strcmp(w, "default"))
        return fail(err, errlen, hint, "%s: %s = %s (default): %s", ESC_PATH(d->source, s_esc), key, v_esc, msg);
    return fail(err, errlen, hint, "%s: %s = %s: %s", w, key, v_esc, msg);
}

void deck_fail(const Deck *d, const char *key, const char *hint, const char *fmt, ...) {
    char msg[1024], err[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    deck_error(d, key, hint, err, sizeof err, "%s", msg);
    die_user(EXIT_USAGE, NULL, "%s", err);
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
