// bpe.c — GPT-2's byte-level BPE (include/bpe.h). Loading turns every token string into its raw bytes once (the
// byte-to-unicode map inverted) and every merge line into (left id, right id) -> (rank, merged id) in an
// open-addressing hash table; after that encoding and decoding work on bytes and ids only. The merge loop is
// encoder.py's bpe(): take the adjacent pair of lowest rank, merge all its non-overlapping occurrences left to
// right, repeat until no pair has a rank. The ranks of the adjacent pairs are cached beside the symbols and only
// the ones next to a merge are looked up again, so each round is one scan of small integers.
#include "bpe.h"
#include "bpe_pretok.h"
#include "check.h"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NO_RANK INT_MAX
#define PAIR_EMPTY UINT64_MAX
// Pre-tokens up to this many bytes are merged in stack scratch (2 ints a byte: 32 KiB); see bpe_encode.
#define PIECE_STACK 4096
#define EOS_TEXT "<|endoftext|>"

// Key and rank side by side: one cache line per probe (the table is 2 MiB for GPT-2's 50,000 merges).
typedef struct { uint64_t key; int rank; } PairSlot;   // key = left << 32 | right, PAIR_EMPTY when free

struct Bpe {
    int n_tokens, n_merges, eos;
    int byte_id[256];          // the single-byte token of each byte value
    char *str;                 // token strings, then merge lines, each NUL-terminated
    size_t *tok_off;           // [n_tokens] where token id's string starts in str
    size_t *merge_off;         // [n_merges] where merge rank's "a b" starts in str
    unsigned char *bytes;      // every token's raw bytes, in id order
    size_t *bytes_off;         // [n_tokens + 1]
    int *merge_res;            // [n_merges] the id "a b" merges into
    PairSlot *pair;            // [pair_mask + 1] open addressing, linear probing, load <= 1/2
    size_t pair_mask;
};

// Where tables came from, for error messages: file names, or NULL for bpe_from_tables. line0 is the line of
// merges[0] in the merges file.
typedef struct { const char *vocab, *merges; int line0; } Origin;

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

// ---- byte-to-unicode (encoder.py bytes_to_unicode) ----------------------------------------------------------

// Printable bytes stand for themselves; the other 68 (0x00-0x20, 0x7F-0xA0, 0xAD) become U+0100.. in order.
static void byte_to_cp(uint32_t b2c[256]) {
    uint32_t next = 0x100;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        b2c[b] = printable ? (uint32_t)b : next++;
    }
}

// Raw bytes of a token string into out (room for strlen(tok) bytes); their count, or -1 with the first code
// point outside the byte alphabet in *bad (the string is valid UTF-8).
static long token_bytes(const char *tok, const int16_t c2b[0x144], unsigned char *out, uint32_t *bad) {
    const unsigned char *s = (const unsigned char *)tok;
    long n = 0;
    for (size_t i = 0; s[i];) {
        uint32_t cp;
        if (s[i] < 0x80) cp = s[i++];
        else if (s[i] < 0xE0) { cp = (uint32_t)(s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F); i += 2; }
        else if (s[i] < 0xF0) {
            cp = (uint32_t)(s[i] & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
            i += 3;
        } else {
            cp = 0x110000;   // 4-byte forms are all above the alphabet's U+0143
            i += 4;
        }
        if (cp >= 0x144 || c2b[cp] < 0) { *bad = cp; return -1; }
        out[n++] = (unsigned char)c2b[cp];
    }
    return n;
}

// ---- hash tables -----------------------------------------------------------------------------------------------

static size_t mix64(uint64_t k) {
    k ^= k >> 31; k *= 0xBF58476D1CE4E5B9ULL; k ^= k >> 29; k *= 0x94D049BB133111EBULL; k ^= k >> 32;
    return (size_t)k;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

static int pair_lookup(const Bpe *b, int left, int right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t i = mix64(key) & b->pair_mask;; i = (i + 1) & b->pair_mask) {
        if (b->pair[i].key == key) return b->pair[i].rank;
        if (b->pair[i].key == PAIR_EMPTY) return NO_RANK;
    }
}

// Inserts (left, right) -> rank; returns the rank already there for a repeated pair, else -1.
static int pair_insert(Bpe *b, int left, int right, int rank) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t i = mix64(key) & b->pair_mask;
    while (b->pair[i].key != PAIR_EMPTY) {
        if (b->pair[i].key == key) return b->pair[i].rank;
        i = (i + 1) & b->pair_mask;
    }
    b->pair[i].key = key;
    b->pair[i].rank = rank;
    return -1;
}

// Token string -> id, needed while loading only: slots hold id + 1 (0 = free).
typedef struct { int *slot; size_t mask; const Bpe *b; } StrMap;

static size_t str_hash(const char *s, size_t n) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ULL;
    return mix64(h);
}

// The id of the n-byte string s, -1 when absent; with insert_id >= 0 inserts it (returning the id already
// there for a repeated string, else -1).
static int strmap_find(StrMap *m, const char *s, size_t n, int insert_id) {
    for (size_t i = str_hash(s, n) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->slot[i]) {
            if (insert_id >= 0) m->slot[i] = insert_id + 1;
            return -1;
        }
        const char *t = m->b->str + m->b->tok_off[m->slot[i] - 1];
        if (!strncmp(t, s, n) && t[n] == '\0') return m->slot[i] - 1;
    }
}

// ---- building from tables ------------------------------------------------------------------------------------

// "vocab.json: token 'x' (id 7)" or "tokenizer tables: token 7 ('x')".
static void token_where(const Origin *o, const Bpe *b, int id, char *buf, size_t n) {
    const char *t = b->str + b->tok_off[id];
    if (o->vocab) snprintf(buf, n, "%s: token '%s' (id %d)", o->vocab, t, id);
    else snprintf(buf, n, "tokenizer tables: token %d ('%s')", id, t);
}

// "merges.txt:17" or "tokenizer tables: merge 16".
static void merge_where(const Origin *o, int rank, char *buf, size_t n) {
    if (o->merges) snprintf(buf, n, "%s:%d", o->merges, o->line0 + rank);
    else snprintf(buf, n, "tokenizer tables: merge %d", rank);
}

// Copies the strings into one block and sizes the arrays.
static Bpe *bpe_alloc(const char *const *tokens, int n, const char *const *merges, int nm) {
    Bpe *b = xcalloc(1, sizeof *b);
    b->n_tokens = n; b->n_merges = nm; b->eos = -1;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += strlen(tokens[i]) + 1;
    size_t tok_total = total;
    for (int r = 0; r < nm; r++) total += strlen(merges[r]) + 1;
    b->str = xmalloc(total);
    b->tok_off = xmalloc((size_t)n * sizeof *b->tok_off);
    b->merge_off = xmalloc((size_t)(nm ? nm : 1) * sizeof *b->merge_off);
    size_t at = 0;
    for (int i = 0; i < n; i++) { b->tok_off[i] = at; strcpy(b->str + at, tokens[i]); at += strlen(tokens[i]) + 1; }
    for (int r = 0; r < nm; r++) { b->merge_off[r] = at; strcpy(b->str + at, merges[r]); at += strlen(merges[r]) + 1; }
    b->bytes = xmalloc(tok_total);
    b->bytes_off = xmalloc(((size_t)n + 1) * sizeof *b->bytes_off);
    b->merge_res = xmalloc((size_t)(nm ? nm : 1) * sizeof *b->merge_res);
    b->pair_mask = pow2_at_least(2 * (size_t)nm) - 1;
    b->pair = xmalloc((b->pair_mask + 1) * sizeof *b->pair);
    for (size_t i = 0; i <= b->pair_mask; i++) b->pair[i].key = PAIR_EMPTY;
    return b;
}

// Every token's raw bytes; tokens must be non-empty, valid UTF-8, inside the byte alphabet and distinct.
static int load_tokens(Bpe *b, StrMap *m, const Origin *o, char *err, size_t errlen) {
    uint32_t b2c[256];
    int16_t c2b[0x144];
    byte_to_cp(b2c);
    for (int i = 0; i < 0x144; i++) c2b[i] = -1;
    for (int i = 0; i < 256; i++) c2b[b2c[i]] = (int16_t)i;
    char where[512];
    size_t at = 0;
    for (int id = 0; id < b->n_tokens; id++) {
        const char *t = b->str + b->tok_off[id];
        size_t len = strlen(t);
        uint32_t bad = 0;
        int utf8 = len && bpe_utf8_invalid_at((const unsigned char *)t, len) == len;
        long nb = utf8 ? token_bytes(t, c2b, b->bytes + at, &bad) : -2;
        if (nb < 0) token_where(o, b, id, where, sizeof where);
        if (nb == -2) {
            set_err(err, errlen, "%s: empty or not UTF-8 (HINT: tokens are non-empty UTF-8 strings)", where);
            return -1;
        }
        if (nb == -1) {
            set_err(err, errlen, "%s: character U+%04X is outside GPT-2's byte alphabet (HINT: only byte-level BPE "
                    "vocabularies are supported)", where, (unsigned)bad);
            return -1;
        }
        b->bytes_off[id] = at; at += (size_t)nb;
        int prev = strmap_find(m, t, len, id);
        if (prev >= 0) {
            token_where(o, b, id, where, sizeof where);
            set_err(err, errlen, "%s: the same string as id %d (HINT: each token must appear once)", where, prev);
            return -1;
        }
    }
    b->bytes_off[b->n_tokens] = at;
    return 0;
}

// The single-byte token of every byte value, and the EOS id.
static int find_byte_tokens(Bpe *b, StrMap *m, const Origin *o, char *err, size_t errlen) {
    uint32_t b2c[256];
    byte_to_cp(b2c);
    for (int v = 0; v < 256; v++) {
        char s[3];
        size_t n = b2c[v] < 0x80 ? 1 : 2;
        if (n == 1) s[0] = (char)b2c[v];
        else { s[0] = (char)(0xC0 | b2c[v] >> 6); s[1] = (char)(0x80 | (b2c[v] & 0x3F)); }
        s[n] = '\0';
        b->byte_id[v] = strmap_find(m, s, n, -1);
        if (b->byte_id[v] < 0) {
            set_err(err, errlen, "%s: no token '%s' for byte 0x%02X (HINT: a byte-level BPE vocabulary has all 256 "
                    "single-byte tokens)", o->vocab ? o->vocab : "tokenizer tables", s, v);
            return -1;
        }
    }
    b->eos = strmap_find(m, EOS_TEXT, strlen(EOS_TEXT), -1);
    return 0;
}

// Merge line "a b" -> pair (a, b) -> rank and the id of "ab"; every part must be a token, each pair once.
static int load_merges(Bpe *b, StrMap *m, const Origin *o, char *err, size_t errlen) {
    const char *vname = o->vocab ? o->vocab : "the tokens";
    size_t longest = 0;   // the longest merge line: room for any "ab"
    for (int r = 0; r < b->n_merges; r++) { size_t l = strlen(b->str + b->merge_off[r]); if (l > longest) longest = l; }
    char where[512], *cat = xmalloc(longest + 1);
    int rc = -1;
    for (int r = 0; r < b->n_merges; r++) {
        const char *line = b->str + b->merge_off[r], *sp = strchr(line, ' ');
        merge_where(o, r, where, sizeof where);
        if (!sp || sp == line || !sp[1] || strchr(sp + 1, ' ')) {
            set_err(err, errlen, "%s: '%s' is not two tokens separated by one space (HINT: merges are lines \"a b\")",
                    where, line);
            goto out;
        }
        size_t la = (size_t)(sp - line), lb = strlen(sp + 1);
        int a = strmap_find(m, line, la, -1), c = strmap_find(m, sp + 1, lb, -1), res;
        memcpy(cat, line, la); memcpy(cat + la, sp + 1, lb); cat[la + lb] = '\0';
        res = strmap_find(m, cat, la + lb, -1);
        const char *missing = a < 0 ? "left" : c < 0 ? "right" : res < 0 ? "merged" : NULL;
        if (missing) {
            const char *tok = a < 0 ? line : c < 0 ? sp + 1 : cat;
            int tlen = a < 0 ? (int)la : c < 0 ? (int)lb : (int)(la + lb);
            set_err(err, errlen, "%s: token '%.*s' not in %s (the %s side of '%s') (HINT: the merges and the vocabulary "
                    "must come from the same tokenizer)", where, tlen, tok, vname, missing, line);
            goto out;
        }
        int prev = pair_insert(b, a, c, r);
        if (prev >= 0) {
            set_err(err, errlen, "%s: merge '%s' repeats %s %d (HINT: each pair is ranked once)", where, line,
                    o->merges ? "line" : "merge", o->merges ? o->line0 + prev : prev);
            goto out;
        }
        b->merge_res[r] = res;
    }
    rc = 0;
out:
    free(cat);
    return rc;
}

static Bpe *build(const char *const *tokens, int n, const char *const *merges, int nm, const Origin *o,
                  char *err, size_t errlen) {
    if (n < 256 || nm < 1) {
        set_err(err, errlen, "%s: %d tokens and %d merges (HINT: a byte-level BPE has at least the 256 byte tokens "
                "and one merge; was a file truncated?)", o->vocab ? o->vocab : "tokenizer tables", n, nm);
        return NULL;
    }
    Bpe *b = bpe_alloc(tokens, n, merges, nm);
    StrMap m = {xcalloc(pow2_at_least(2 * (size_t)n), sizeof(int)), pow2_at_least(2 * (size_t)n) - 1, b};
    int rc = load_tokens(b, &m, o, err, errlen);
    if (!rc) rc = find_byte_tokens(b, &m, o, err, errlen);
    if (!rc) rc = load_merges(b, &m, o, err, errlen);
    free(m.slot);
    if (rc) { bpe_free(b); return NULL; }
    return b;
}

Bpe *bpe_from_tables(const char *const *tokens, int n_tokens, const char *const *merges, int n_merges,
                     char *err, size_t errlen) {
    if (!tokens || !merges || n_tokens < 0 || n_merges < 0) {
        set_err(err, errlen, "bpe_from_tables: NULL tables or negative counts");
        return NULL;
    }
    for (int i = 0; i < n_tokens + n_merges; i++) {
        if (i < n_tokens ? !tokens[i] : !merges[i - n_tokens]) {
            int tok = i < n_tokens;
            set_err(err, errlen, "tokenizer tables: %s %d is NULL", tok ? "token" : "merge", tok ? i : i - n_tokens);
            return NULL;
        }
    }
    Origin o = {NULL, NULL, 0};
    return build(tokens, n_tokens, merges, n_merges, &o, err, errlen);
}

void bpe_free(Bpe *b) {
    if (!b) return;
    free(b->str); free(b->tok_off); free(b->merge_off); free(b->bytes); free(b->bytes_off);
    free(b->merge_res); free(b->pair);
    free(b);
}

// ---- files -----------------------------------------------------------------------------------------------------

// vocab.json: one JSON object token -> id, ids exactly 0..n-1. Fills tokens[id] (pointing into *root).
static const char **read_vocab(const char *path, json_t **root, int *n_out, char *err, size_t errlen) {
    json_error_t je;
    *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!*root) {
        set_err(err, errlen, "%s:%d: %s (HINT: the vocabulary is one JSON object token -> id)", path, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(*root) || json_object_size(*root) > INT_MAX) {
        set_err(err, errlen, "%s: not a JSON object token -> id (HINT: is it the vocabulary file?)", path);
        return NULL;
    }
    int n = (int)json_object_size(*root);
    const char **tok = xcalloc((size_t)(n ? n : 1), sizeof *tok), *key, *outside = NULL;
    json_t *v;
    json_object_foreach(*root, key, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (!json_is_integer(v)) {
            set_err(err, errlen, "%s: token '%s': the id is not an integer (HINT: token -> integer id)", path, key);
            goto fail;
        }
        if (id < 0 || id >= n) { if (!outside) outside = key; continue; }
        if (tok[id]) {
            set_err(err, errlen, "%s: id %lld is used by '%s' and '%s' (HINT: ids are unique)", path, (long long)id, tok[id], key);
            goto fail;
        }
        tok[id] = key;
    }
    if (outside) {
        int gap = 0;
        while (gap < n && tok[gap]) gap++;
        set_err(err, errlen, "%s: id %d is missing (token '%s' has id %lld) (HINT: the %d ids must be exactly 0..%d)", path,
                gap, outside, (long long)json_integer_value(json_object_get(*root, outside)), n, n - 1);
        goto fail;
    }
    *n_out = n;
    return tok;
fail:
    free(tok);
    return NULL;
}

// The whole file, NUL-terminated.
static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = xmalloc((size_t)size + 1);
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) { free(buf); buf = NULL; }
    }
    if (!buf) set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    else { buf[size] = '\0'; *len = (size_t)size; }
    fclose(f);
    return buf;
}

// merges.txt: an optional "#version" first line, then one "a b" a line; splits buf in place into lines.
static const char **split_merges(const char *path, char *buf, size_t len, int *n_out, int *line0, char *err, size_t errlen) {
    if (memchr(buf, '\0', len)) {
        set_err(err, errlen, "%s: contains a NUL byte (HINT: merges.txt is UTF-8 text)", path);
        return NULL;
    }
    size_t at = 0, cap = 1;
    for (size_t i = 0; i < len; i++) cap += buf[i] == '\n';
    *line0 = 1;
    if (!strncmp(buf, "#version", 8)) { while (at < len && buf[at] != '\n') at++; at += at < len; *line0 = 2; }
    const char **lines = xmalloc(cap * sizeof *lines);
    int n = 0;
    while (at < len) {
        char *nl = memchr(buf + at, '\n', len - at), *end = nl ? nl : buf + len;
        *end = '\0';
        const char *bad = end == buf + at ? "an empty line" : end[-1] == '\r' ? "a carriage return (CRLF line ending)" : NULL;
        if (bad || bpe_utf8_invalid_at((unsigned char *)buf + at, (size_t)(end - buf - at)) < (size_t)(end - buf - at)) {
            set_err(err, errlen, "%s:%d: %s (HINT: one \"a b\" merge a line, UTF-8, LF line endings)", path, *line0 + n,
                    bad ? bad : "invalid UTF-8");
            free(lines);
            return NULL;
        }
        lines[n++] = buf + at;
        at = (size_t)(end - buf) + 1;
    }
    *n_out = n;
    return lines;
}

Bpe *bpe_load_files(const char *vocab_json, const char *merges_txt, char *err, size_t errlen) {
    json_t *root = NULL;
    int n = 0, nm = 0, line0 = 1;
    size_t len = 0;
    Bpe *b = NULL;
    const char **lines = NULL, **tok = read_vocab(vocab_json, &root, &n, err, errlen);
    char *buf = tok ? read_file(merges_txt, &len, err, errlen) : NULL;
    if (buf) lines = split_merges(merges_txt, buf, len, &nm, &line0, err, errlen);
    if (lines) {
        Origin o = {vocab_json, merges_txt, line0};
        b = build(tok, n, lines, nm, &o, err, errlen);
    }
    free(lines); free(buf); free(tok);
    json_decref(root);
    return b;
}

static int exists(const char *dir, const char *name, char *path, size_t n) {
    snprintf(path, n, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

Bpe *bpe_load_dir(const char *dir, char *err, size_t errlen) {
    static const char *const pairs[2][2] = {{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}};
    char v[4096], m[4096];
    for (int p = 0; p < 2; p++) {
        int hv = exists(dir, pairs[p][0], v, sizeof v), hm = exists(dir, pairs[p][1], m, sizeof m);
        if (hv && hm) return bpe_load_files(v, m, err, errlen);
        if (hv || hm) {
            set_err(err, errlen, "%s: has %s but not %s (HINT: the tokenizer needs both files)", dir,
                    pairs[p][hv ? 0 : 1], pairs[p][hv ? 1 : 0]);
            return NULL;
        }
    }
    int fast_only = exists(dir, "tokenizer.json", v, sizeof v);
    set_err(err, errlen, "%s: no tokenizer files%s (HINT: put vocab.json + merges.txt (Hugging Face) or encoder.json + "
            "vocab.bpe (OpenAI) there%s)", dir, fast_only ? ", only tokenizer.json, which is not read" : "",
            fast_only ? "; transformers' GPT2Tokenizer.save_pretrained writes vocab.json + merges.txt" : "");
    return NULL;
}

// ---- accessors -------------------------------------------------------------------------------------------------

int bpe_vocab_size(const Bpe *b) { return b->n_tokens; }
int bpe_eos_id(const Bpe *b) { return b->eos; }
int bpe_n_merges(const Bpe *b) { return b->n_merges; }
const char *bpe_token(const Bpe *b, int id) { return id >= 0 && id < b->n_tokens ? b->str + b->tok_off[id] : NULL; }
const char *bpe_merge(const Bpe *b, int rank) { return rank >= 0 && rank < b->n_merges ? b->str + b->merge_off[rank] : NULL; }

// ---- encode / decode -------------------------------------------------------------------------------------------

// One round of encoder.py's bpe(): merges every non-overlapping occurrence, left to right, of the pair ranked
// `rank` in w[0..n) (r[i] = rank of (w[i], w[i+1]), NO_RANK after the last); returns the new length.
static int merge_round(const Bpe *b, int *w, int *r, int n, int rank) {
    int j = 0;
    for (int i = 0; i < n; j++) {
        if (r[i] == rank) { w[j] = b->merge_res[rank]; r[j] = -1; i += 2; }   // -1: look the neighbours up below
        else { w[j] = w[i]; r[j] = r[i]; i++; }
    }
    for (int k = 0; k < j; k++) {
        if (r[k] != -1) continue;
        if (k > 0) r[k - 1] = pair_lookup(b, w[k - 1], w[k]);
        r[k] = k + 1 < j ? pair_lookup(b, w[k], w[k + 1]) : NO_RANK;
    }
    if (j > 0) r[j - 1] = NO_RANK;
    return j;
}

// BPE of one pre-token's n bytes p into w (scratch w, r of n ints each); returns the token count.
static int merge_piece(const Bpe *b, const unsigned char *p, int n, int *w, int *r) {
    for (int i = 0; i < n; i++) w[i] = b->byte_id[p[i]];
    for (int i = 0; i + 1 < n; i++) r[i] = pair_lookup(b, w[i], w[i + 1]);
    r[n - 1] = NO_RANK;
    while (n > 1) {
        int m = NO_RANK;
        for (int i = 0; i + 1 < n; i++) if (r[i] < m) m = r[i];
        if (m == NO_RANK) break;
        n = merge_round(b, w, r, n, m);
    }
    return n;
}

int bpe_encode(const Bpe *b, const char *text, size_t len, int *ids, int max, char *err, size_t errlen) {
    const unsigned char *s = (const unsigned char *)text;
    if (!b || (!text && len) || max < 0 || (max > 0 && !ids) || len > INT_MAX) {
        set_err(err, errlen, "bpe_encode: bad arguments (NULL text or ids, negative max, or over 2 GiB of text)");
        return -1;
    }
    size_t bad = bpe_utf8_invalid_at(s, len);
    if (bad < len) {
        set_err(err, errlen, "text byte %zu (0x%02X): invalid UTF-8 (HINT: convert the text to UTF-8 first)", bad, s[bad]);
        return -1;
    }
    int w_stack[PIECE_STACK], r_stack[PIECE_STACK];
    long total = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = bpe_pretok_next(s, len, pos);
        int n = (int)(end - pos), *w = w_stack, *r = r_stack, *heap = NULL;
        if (n > PIECE_STACK) {   // a pre-token over 4 KiB (one run of letters, digits or symbols): rare
            heap = malloc(2 * (size_t)n * sizeof *heap);
            if (!heap) { set_err(err, errlen, "bpe_encode: out of memory for a pre-token of %d bytes", n); return -1; }
            w = heap; r = heap + n;
        }
        int k = merge_piece(b, s + pos, n, w, r);
        for (int i = 0; i < k; i++, total++) if (total < max) ids[total] = w[i];
        free(heap);
        pos = end;
    }
    return (int)total;   // <= len <= INT_MAX
}

long bpe_decode(const Bpe *b, const int *ids, int n, char *buf, size_t bufsize) {
    size_t total = 0;
    long rc = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= b->n_tokens) { rc = -1; break; }
        size_t at = b->bytes_off[ids[i]], len = b->bytes_off[ids[i] + 1] - at;
        if (total < bufsize) memcpy(buf + total, b->bytes + at, len < bufsize - total ? len : bufsize - total);
        total += len;
    }
    if (bufsize) buf[total < bufsize ? total : bufsize - 1] = '\0';
    return rc ? rc : (long)total;
}

// ---- save ------------------------------------------------------------------------------------------------------

// Writes path via path.tmp + rename, so a reader never sees half a file.
static int write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) { set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno)); if (f) remove(tmp); }
    return ok ? 0 : -1;
}

int bpe_save_dir(const Bpe *b, const char *dir, char *err, size_t errlen) {
    json_t *obj = json_object();
    for (int i = 0; i < b->n_tokens; i++)   // tokens were checked at load: valid UTF-8, distinct
        CHECK(json_object_set_new(obj, b->str + b->tok_off[i], json_integer(i)) == 0, "vocab.json: token %d", i);
    char *vocab = json_dumps(obj, JSON_COMPACT);   // keys in id order (Jansson keeps insertion order)
    json_decref(obj);
    CHECK(vocab, "json_dumps failed for %d tokens", b->n_tokens);
    size_t mlen = strlen("#version: 0.2\n");
    for (int r = 0; r < b->n_merges; r++) mlen += strlen(b->str + b->merge_off[r]) + 1;
    char *merges = xmalloc(mlen + 1), *p = merges;
    memcpy(p, "#version: 0.2\n", strlen("#version: 0.2\n"));
    p += strlen("#version: 0.2\n");
    for (int r = 0; r < b->n_merges; r++) {
        const char *m = b->str + b->merge_off[r];
        size_t l = strlen(m);
        memcpy(p, m, l); p[l] = '\n'; p += l + 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    int rc = write_atomic(path, vocab, strlen(vocab), err, errlen);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    if (!rc) rc = write_atomic(path, merges, mlen, err, errlen);
    free(vocab); free(merges);
    return rc;
}
