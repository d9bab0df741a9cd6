// resume.c — the deck comparison behind a resume (see resume.h).
#include "resume.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Prefix rules, first match wins; a key matching none is RESUME_REFUSE.
static const struct { const char *prefix; ResumeRule rule; } RULES[] = {
    {"train.steps", RESUME_FREE},        {"run.max_walltime", RESUME_FREE}, {"run.log_every", RESUME_FREE},
    {"run.step_timeout", RESUME_FREE},   {"run.out_dir", RESUME_FREE},
    {"checkpoint.", RESUME_FREE},        {"eval.", RESUME_FREE},            {"sft.", RESUME_FREE},
    {"train.base", RESUME_FREE},         {"groups.out", RESUME_FREE},
    {"reward.timeout", RESUME_FREE},     {"reward.batch", RESUME_FREE},     // neither changes a reward's bits
    {"train.rollout_ranks", RESUME_WARN}, {"train.micro_batch", RESUME_WARN},
    {"run.threads", RESUME_WARN},        // the model's bits do not depend on it, OpenBLAS's elsewhere (groups, ALS) may
};

ResumeRule resume_rule(const char *key) {
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) {
        size_t n = strlen(RULES[i].prefix);
        int exact = RULES[i].prefix[n - 1] != '.';
        if (exact ? !strcmp(key, RULES[i].prefix) : !strncmp(key, RULES[i].prefix, n)) return RULES[i].rule;
    }
    return RESUME_REFUSE;
}

// One parsed deck text: parallel arrays of "section.key" and value, pointing into a private copy.
typedef struct { char *buf; char **key, **val; int n; } DeckKV;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
    return s;
}

// Parses `text`; returns -1 on a line that is neither a section, a key = value, a comment nor blank.
static int kv_parse(const char *text, DeckKV *kv) {
    size_t len = strlen(text), lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    kv->buf = malloc(len + 1 + lines * 64);   // the text, then room for "section.key" names
    kv->key = malloc(lines * sizeof(char *));
    kv->val = malloc(lines * sizeof(char *));
    kv->n = 0;
    if (!kv->buf || !kv->key || !kv->val) return -1;
    memcpy(kv->buf, text, len + 1);
    char *names = kv->buf + len + 1, *section = NULL, *save = NULL;
    for (char *line = strtok_r(kv->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) return -1;
            *close = 0;
            section = s + 1;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || !section) return -1;
        *eq = 0;
        int w = snprintf(names, 64, "%s.%s", section, trim(s));
        if (w < 0 || w >= 64) return -1;
        kv->key[kv->n] = names;
        kv->val[kv->n++] = trim(eq + 1);
        names += w + 1;
    }
    return 0;
}

static void kv_free(DeckKV *kv) { free(kv->buf); free(kv->key); free(kv->val); }

static const char *kv_get(const DeckKV *kv, const char *key) {
    for (int i = 0; i < kv->n; i++)
        if (!strcmp(kv->key[i], key)) return kv->val[i];
    return NULL;
}

// Equal as numbers when both are numbers, else as text.
static int same_value(const char *a, const char *b) {
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (*a && *b && !*ea && !*eb) return x == y;
    return !strcmp(a, b);
}

// Appends "key: old -> new" to a ", "-separated list in buf (truncated with "..." when full).
static void note(char *buf, size_t n, const char *key, const char *old, const char *now) {
    if (!buf || !n) return;
    size_t used = strlen(buf);
    if (used + 4 >= n) return;
    int w = snprintf(buf + used, n - used, "%s%s: %s -> %s", used ? ", " : "", key, old, now);
    if (w < 0 || (size_t)w >= n - used) snprintf(buf + (n > 4 ? n - 4 : 0), 4, "...");
}

int resume_compare_decks(const char *stored, const char *now, char *err, size_t errlen, char *warn, size_t warnlen) {
    if (err && errlen) *err = 0;
    if (warn && warnlen) *warn = 0;
    DeckKV s = {0}, c = {0};
    int rc = 0;
    if (kv_parse(stored, &s) || s.n == 0 || kv_parse(now, &c)) {
        if (err) snprintf(err, errlen, "the stored deck is not a pgrpo deck text");
        rc = -1;
    }
    for (int i = 0; !rc && i < c.n; i++) {   // keys of the current deck, in schema order
        const char *old = kv_get(&s, c.key[i]);
        ResumeRule rule = resume_rule(c.key[i]);
        if (!old) { if (rule != RESUME_FREE) note(warn, warnlen, c.key[i], "(absent)", c.val[i]); continue; }
        if (same_value(old, c.val[i]) || rule == RESUME_FREE) continue;
        if (rule == RESUME_WARN) note(warn, warnlen, c.key[i], old, c.val[i]);
        else note(err, errlen, c.key[i], old, c.val[i]);
    }
    for (int i = 0; !rc && i < s.n; i++)     // a refused key the current deck no longer has
        if (!kv_get(&c, s.key[i]) && resume_rule(s.key[i]) == RESUME_REFUSE) note(err, errlen, s.key[i], s.val[i], "(absent)");
    if (!rc && err && errlen && *err) rc = -1;
    kv_free(&s);
    kv_free(&c);
    return rc;
}
