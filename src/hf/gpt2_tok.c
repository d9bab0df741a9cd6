// gpt2_tok.c — GPT-2 tokenizer files (vocab.json/merges.txt, encoder.json/vocab.bpe) as tables (gpt2_io.h).
// Only reading, checking and writing the tables: the byte-level BPE itself is bpe.h's.
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gpt2_io.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

void gpt2_tok_free(Gpt2Tokenizer *t) {
    for (int i = 0; t->tokens && i < t->n_tokens; i++) free(t->tokens[i]);
    for (int i = 0; t->merges && i < t->n_merges; i++) free(t->merges[i]);
    free(t->tokens);
    free(t->merges);
    memset(t, 0, sizeof *t);
    t->eos_id = -1;
}

static int read_vocab(const char *path, Gpt2Tokenizer *t, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return fail(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
    int rc = 0;
    size_t n = json_is_object(root) ? json_object_size(root) : 0;
    if (!n || n > 100000000) rc = fail(err, errlen, "%s: expected a non-empty JSON object token -> id", path);
    t->n_tokens = (int)n;
    t->tokens = rc ? NULL : calloc(n, sizeof *t->tokens);
    if (!rc && !t->tokens) rc = fail(err, errlen, "%s: out of memory", path);
    const char *k;
    json_t *v;
    if (!rc) {
        json_object_foreach(root, k, v) {
            json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
            if (id < 0 || (size_t)id >= n) { rc = fail(err, errlen, "%s: token '%s': id %s, expected an integer in [0, %zu)", path, k, json_is_integer(v) ? "out of range" : "not an integer", n); break; }
            if (t->tokens[id]) { rc = fail(err, errlen, "%s: token '%s': id %lld already used by '%s'", path, k, (long long)id, t->tokens[id]); break; }
            t->tokens[id] = dupn(k, strlen(k));
            if (!strcmp(k, "<|endoftext|>")) t->eos_id = (int)id;
        }
    }
    json_decref(root);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int in_vocab(char **sorted, int n, const char *s) { return bsearch(&s, sorted, (size_t)n, sizeof *sorted, cmp_str) != NULL; }

// One merge line "a b": both halves and "ab" are tokens.
static int check_merge(char **sorted, int n, const char *line, const char *path, int lineno, char *err, size_t errlen) {
    const char *sp = strchr(line, ' ');
    if (!sp || sp == line || !sp[1] || strchr(sp + 1, ' '))
        return fail(err, errlen, "%s: line %d: '%s' is not a merge \"a b\"", path, lineno, line);
    char buf[1024];
    size_t la = (size_t)(sp - line), lb = strlen(sp + 1);
    if (la + lb >= sizeof buf) return fail(err, errlen, "%s: line %d: merge longer than %zu bytes", path, lineno, sizeof buf - 1);
    memcpy(buf, line, la);
    buf[la] = 0;
    if (!in_vocab(sorted, n, buf)) return fail(err, errlen, "%s: line %d: '%s' is not in the vocabulary", path, lineno, buf);
    if (!in_vocab(sorted, n, sp + 1)) return fail(err, errlen, "%s: line %d: '%s' is not in the vocabulary", path, lineno, sp + 1);
    memcpy(buf + la, sp + 1, lb + 1);
    if (!in_vocab(sorted, n, buf)) return fail(err, errlen, "%s: line %d: the merged token '%s' is not in the vocabulary", path, lineno, buf);
    return 0;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap + 1);
    for (size_t k; b && (k = fread(b + len, 1, cap - len, f)) > 0;) {
        len += k;
        if (len == cap) { char *nb = realloc(b, 2 * cap + 1); if (!nb) { free(b); b = NULL; break; } b = nb; cap *= 2; }
    }
    fclose(f);
    if (b) { b[len] = 0; *n = len; }
    return b;
}

static int read_merges(const char *path, Gpt2Tokenizer *t, char *err, size_t errlen) {
    size_t n;
    char *text = slurp(path, &n);
    if (!text) return fail(err, errlen, "%s: %s", path, strerror(errno));
    if (memchr(text, 0, n)) { free(text); return fail(err, errlen, "%s: contains a NUL byte", path); }
    char **sorted = malloc((size_t)t->n_tokens * sizeof *sorted);
    int cap = 1024, rc = 0, lineno = 0;
    t->merges = malloc((size_t)cap * sizeof *t->merges);
    if (!sorted || !t->merges) { free(text); free(sorted); return fail(err, errlen, "%s: out of memory", path); }
    memcpy(sorted, t->tokens, (size_t)t->n_tokens * sizeof *sorted);
    qsort(sorted, (size_t)t->n_tokens, sizeof *sorted, cmp_str);
    for (char *line = text, *next; !rc && line < text + n; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : text + n;
        if (nl) *nl = 0;
        lineno++;
        if (lineno == 1 && !strncmp(line, "#version", 8)) continue;
        if (!*line && next >= text + n) break;   // the final newline
        if ((rc = check_merge(sorted, t->n_tokens, line, path, lineno, err, errlen))) break;
        if (t->n_merges == cap) {
            char **m = realloc(t->merges, (size_t)(cap *= 2) * sizeof *m);
            if (!m) { rc = fail(err, errlen, "%s: out of memory", path); break; }
            t->merges = m;
        }
        t->merges[t->n_merges++] = dupn(line, strlen(line));
    }
    if (!rc && !t->n_merges) rc = fail(err, errlen, "%s: no merges (expected \"a b\" lines)", path);
    free(sorted);
    free(text);
    return rc;
}

int gpt2_tok_read_dir(const char *dir, Gpt2Tokenizer *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->eos_id = -1;
    char vocab[4096], merges[4096];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    if (access(vocab, F_OK) || access(merges, F_OK)) {
        snprintf(vocab, sizeof vocab, "%s/encoder.json", dir);
        snprintf(merges, sizeof merges, "%s/vocab.bpe", dir);
        if (access(vocab, F_OK) || access(merges, F_OK))
            return fail(err, errlen, "%s: no tokenizer files (expected vocab.json + merges.txt or encoder.json + vocab.bpe)", dir);
    }
    int rc = read_vocab(vocab, t, err, errlen);
    if (!rc) rc = read_merges(merges, t, err, errlen);
    if (rc) gpt2_tok_free(t);
    return rc;
}

int gpt2_tok_write_dir(const char *dir, const Gpt2Tokenizer *t, char *err, size_t errlen) {
    json_t *v = json_object();
    for (int i = 0; i < t->n_tokens; i++) json_object_set_new(v, t->tokens[i], json_integer(i));
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    int rc = json_dump_file(v, path, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(v);
    if (rc) return fail(err, errlen, "%s: cannot write", path);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) return fail(err, errlen, "%s: %s", path, strerror(errno));
    int bad = fputs("#version: 0.2\n", f) < 0;
    for (int i = 0; i < t->n_merges && !bad; i++) bad = fprintf(f, "%s\n", t->merges[i]) < 0;
    bad |= fclose(f) != 0;
    return bad ? fail(err, errlen, "%s: write failed", path) : 0;
}

char *gpt2_tok_blob(char *const *strs, int n, size_t *nbytes) {
    size_t nb = 0;
    for (int i = 0; i < n; i++) nb += strlen(strs[i]) + 1;
    char *b = malloc(nb ? nb : 1), *q = b;
    if (!b) return NULL;
    for (int i = 0; i < n; i++) { size_t k = strlen(strs[i]) + 1; memcpy(q, strs[i], k); q += k; }
    *nbytes = nb;
    return b;
}

int gpt2_tok_unblob(const char *blob, size_t nbytes, int n, char ***strs, char *err, size_t errlen) {
    char **s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    const char *p = blob, *end = blob + nbytes;
    int i = 0;
    for (; s && i < n && p < end; i++) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z) break;
        s[i] = dupn(p, (size_t)(z - p));
        p = z + 1;
    }
    if (!s || i != n || p != end) {
        for (int j = 0; s && j < i; j++) free(s[j]);
        free(s);
        return fail(err, errlen, "holds %d strings in %zu bytes, expected exactly %d", i, nbytes, n);
    }
    *strs = s;
    return 0;
}
