// test_bpe.c — the byte-level BPE (include/bpe.h) on a tiny vocabulary built here: the 256 byte tokens under a
// shuffled id order, <|endoftext|> in the middle, a few merges with hand-checked encodings; round trips; EOS as
// an id only; invalid UTF-8 refused; malformed files and tables each refused with a message naming the place.
// The comparison with the Python reference (encoder.py) on real text is tests/reference/test_bpe_python.sh.
#include "bpe.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_BYTE 256
#define EOS_ID 100                         // deliberately neither 256 nor the last id
static const char *MERGES[] = {"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "a a"};
#define N_MERGES ((int)(sizeof MERGES / sizeof *MERGES))
static const char *MERGED[] = {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "aa"};
#define N_TOK (N_BYTE + 1 + N_MERGES)

static char tokbuf[N_TOK][16];
static const char *TOKENS[N_TOK];
static int BYTE_ID[256];

// GPT-2's byte-to-unicode rule, written out again here: printable bytes as themselves, the rest U+0100.. in order.
static void byte_string(int b, char out[3]) {
    static int next[256];
    int n = 0;
    for (int v = 0; v <= b; v++) {
        int printable = (v >= 0x21 && v <= 0x7E) || (v >= 0xA1 && v <= 0xAC) || (v >= 0xAE);
        next[v] = printable ? v : 0x100 + n++;
    }
    unsigned cp = (unsigned)next[b];
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); out[2] = 0; }
}

// ids: byte b -> (b * 77 + 5) mod 256 shifted past EOS_ID; then EOS; merged tokens at the end.
static void make_tables(void) {
    for (int b = 0; b < 256; b++) {
        int id = (b * 77 + 5) % 256;
        id += id >= EOS_ID;
        byte_string(b, tokbuf[id]);
        BYTE_ID[b] = id;
    }
    strcpy(tokbuf[EOS_ID], "<|endoftext|>");
    for (int r = 0; r < N_MERGES; r++) strcpy(tokbuf[N_BYTE + 1 + r], MERGED[r]);
    for (int i = 0; i < N_TOK; i++) TOKENS[i] = tokbuf[i];
}

static int merged_id(const char *s) {
    for (int r = 0; r < N_MERGES; r++) if (!strcmp(MERGED[r], s)) return N_BYTE + 1 + r;
    return -1;
}

static Bpe *tiny(void) {
    char err[256];
    Bpe *b = bpe_from_tables(TOKENS, N_TOK, MERGES, N_MERGES, err, sizeof err);
    T_ASSERT(b, "bpe_from_tables: %s", err);
    return b;
}

static int enc(const Bpe *b, const char *s, int *ids, int max) {
    char err[256];
    return bpe_encode(b, s, strlen(s), ids, max, err, sizeof err);
}

static void test_bpe_tables_accessors(void) {
    Bpe *b = tiny();
    if (!b) return;
    T_ASSERT(bpe_vocab_size(b) == N_TOK, "%d", bpe_vocab_size(b));
    T_ASSERT(bpe_eos_id(b) == EOS_ID, "%d", bpe_eos_id(b));
    T_ASSERT(bpe_n_merges(b) == N_MERGES, "%d", bpe_n_merges(b));
    T_ASSERT(!strcmp(bpe_token(b, BYTE_ID[' ']), "Ġ") && !strcmp(bpe_token(b, BYTE_ID['\n']), "Ċ"), "space/newline");
    T_ASSERT(!strcmp(bpe_token(b, BYTE_ID[0]), "Ā") && !strcmp(bpe_token(b, BYTE_ID[0xAD]), "Ń"), "0x00/0xAD");
    T_ASSERT(!strcmp(bpe_merge(b, 6), "Ġw or"), "%s", bpe_merge(b, 6));
    T_ASSERT(!bpe_token(b, -1) && !bpe_token(b, N_TOK) && !bpe_merge(b, N_MERGES) && !bpe_merge(b, -1), "ranges");
    bpe_free(b);
}

// Hand-checked: "hello" merges h e -> he, l l -> ll, he ll -> hell, hell o -> hello; " world" merges Ġ w, o r,
// Ġw or and leaves l d; "aaaa" -> aa aa and "aaa" -> aa a (non-overlapping, left to right).
static void test_bpe_encode_hand_checked(void) {
    Bpe *b = tiny();
    if (!b) return;
    int ids[64], n = enc(b, "hello world", ids, 64);
    int want[] = {merged_id("hello"), merged_id("Ġwor"), BYTE_ID['l'], BYTE_ID['d']};
    T_ASSERT(n == 4 && !memcmp(ids, want, sizeof want), "hello world: n=%d", n);
    n = enc(b, "aaaa aaa", ids, 64);
    int want2[] = {merged_id("aa"), merged_id("aa"), BYTE_ID[' '], merged_id("aa"), BYTE_ID['a']};
    T_ASSERT(n == 5 && !memcmp(ids, want2, sizeof want2), "aaaa aaa: n=%d", n);
    n = enc(b, "hell", ids, 64);   // he ll -> hell; no "hell o" without the o
    T_ASSERT(n == 1 && ids[0] == merged_id("hell"), "hell: n=%d", n);
    n = enc(b, "a  b", ids, 64);   // pieces a, " ", " b"
    int want3[] = {BYTE_ID['a'], BYTE_ID[' '], BYTE_ID[' '], BYTE_ID['b']};
    T_ASSERT(n == 4 && !memcmp(ids, want3, sizeof want3), "a  b: n=%d", n);
    n = enc(b, "", ids, 64);
    T_ASSERT(n == 0, "empty: %d", n);
    // Truncation: the count the text needs comes back, only max ids are written.
    ids[1] = -7;
    n = enc(b, "hello world", ids, 1);
    T_ASSERT(n == 4 && ids[0] == merged_id("hello") && ids[1] == -7, "truncated: n=%d", n);
    T_ASSERT(enc(b, "hello world", NULL, 0) == 4, "count only");
    bpe_free(b);
}

static void test_bpe_round_trip(void) {
    Bpe *b = tiny();
    if (!b) return;
    const char *texts[] = {"hello world", "  spaces  and\ttabs\n\n", "Grüße, мир, 你好 👋🌍", "it's I'LL 'sfoo",
                           "<|endoftext|>", "a\xc2\x85" "b\xe3\x80\x80" "c", "x"};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        int ids[256];
        char out[512];
        int n = enc(b, texts[t], ids, 256);
        long m = bpe_decode(b, ids, n, out, sizeof out);
        T_ASSERT(n >= 0 && m == (long)strlen(texts[t]) && !strcmp(out, texts[t]), "round trip '%s' -> '%s'", texts[t], out);
    }
    // Decode truncation: the full length comes back, the buffer holds a NUL-terminated prefix.
    int ids[16], n = enc(b, "hello world", ids, 16);
    char small[5];
    T_ASSERT(bpe_decode(b, ids, n, small, sizeof small) == 11 && !strcmp(small, "hell"), "'%s'", small);
    T_ASSERT(bpe_decode(b, ids, n, NULL, 0) == 11, "size query");
    int badid[] = {0, N_TOK};
    T_ASSERT(bpe_decode(b, badid, 2, small, sizeof small) == -1, "id out of range");
    badid[1] = -1;
    T_ASSERT(bpe_decode(b, badid, 2, small, sizeof small) == -1, "negative id");
    bpe_free(b);
}

// "<|endoftext|>" in text is 13 ordinary bytes; the EOS id decodes to that text.
static void test_bpe_eos_is_an_id(void) {
    Bpe *b = tiny();
    if (!b) return;
    int ids[32], n = enc(b, "<|endoftext|>", ids, 32);
    T_ASSERT(n == 13, "n=%d", n);
    for (int i = 0; i < n; i++) T_ASSERT(ids[i] != EOS_ID, "EOS id from text at %d", i);
    int eos = EOS_ID;
    char out[32];
    T_ASSERT(bpe_decode(b, &eos, 1, out, sizeof out) == 13 && !strcmp(out, "<|endoftext|>"), "'%s'", out);
    bpe_free(b);
}

static void test_bpe_invalid_utf8(void) {
    Bpe *b = tiny();
    if (!b) return;
    const char *bad[] = {"ok\xff", "\xc0\x80", "ab\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xf8\x88\x80\x80\x80"};
    const size_t at[] = {2, 0, 2, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "", want[64];
        int ids[16];
        int n = bpe_encode(b, bad[i], strlen(bad[i]), ids, 16, err, sizeof err);
        snprintf(want, sizeof want, "text byte %zu ", at[i]);
        T_ASSERT(n == -1 && strstr(err, "invalid UTF-8") && strstr(err, want), "case %zu: n=%d '%s'", i, n, err);
    }
    // A NUL is a valid code point (Python str holds it): encoded as its byte token.
    int ids[4];
    char err[256];
    T_ASSERT(bpe_encode(b, "a\0b", 3, ids, 4, err, sizeof err) == 3 && ids[1] == BYTE_ID[0], "NUL");
    bpe_free(b);
}

// Long pieces take the heap path (over 4 KiB): the same result as short ones, merged all the way.
static void test_bpe_long_piece(void) {
    Bpe *b = tiny();
    if (!b) return;
    size_t len = 10001;
    char *s = malloc(len + 1);
    memset(s, 'a', len); s[len] = '\0';
    int *ids = malloc(len * sizeof *ids), n = enc(b, s, ids, (int)len);
    T_ASSERT(n == 5001 && ids[0] == merged_id("aa") && ids[4999] == merged_id("aa") && ids[5000] == BYTE_ID['a'], "n=%d", n);
    free(s); free(ids);
    bpe_free(b);
}

// Seeded random byte strings, mostly made of UTF-8 lead and continuation bytes: each is either refused as
// invalid UTF-8 or encoded so that decoding gives the same bytes back (under ASan: no read past the text).
static void test_bpe_random_bytes(void) {
    Bpe *b = tiny();
    if (!b) return;
    static const unsigned char pool[] = {'a', ' ', '\'', 's', '1', '\n', 0x80, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0,
                                         0xF4, 0xF5, 0xFF, 0xA0, 0x85, 0xE3, 0x80};
    uint64_t x = 12345;
    int refused = 0, encoded = 0;
    for (int t = 0; t < 20000; t++) {
        unsigned char s[12];
        char out[64], err[256];
        int ids[16];
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = (size_t)(x >> 60) % 12;
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            s[i] = pool[(x >> 33) % sizeof pool];
        }
        int n = bpe_encode(b, (const char *)s, len, ids, 16, err, sizeof err);
        if (n < 0) { refused++; T_ASSERT(strstr(err, "invalid UTF-8"), "%s", err); continue; }
        encoded++;
        long m = bpe_decode(b, ids, n, out, sizeof out);
        T_ASSERT(n <= 16 && m == (long)len && !memcmp(out, s, len), "round trip of %zu random bytes", len);
    }
    T_ASSERT(refused > 1000 && encoded > 1000, "refused %d encoded %d", refused, encoded);
    bpe_free(b);
}

// ---- files -----------------------------------------------------------------------------------------------------

static char DIR_[64];

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

// Writes vocab.json (one entry a line, so a line number names the entry: line 2 + id) and merges.txt.
static void write_files(const char *vname, const char *mname, const char *extra_json, const char *merges_text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", DIR_, vname);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\n");
    for (int i = 0; i < N_TOK; i++) { json_str(f, TOKENS[i]); fprintf(f, ": %d%s\n", i, i + 1 < N_TOK || extra_json ? "," : ""); }
    if (extra_json) fprintf(f, "%s\n", extra_json);
    fprintf(f, "}\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/%s", DIR_, mname);
    f = fopen(path, "w");
    if (merges_text) fputs(merges_text, f);
    else { fprintf(f, "#version: 0.2\n"); for (int r = 0; r < N_MERGES; r++) fprintf(f, "%s\n", MERGES[r]); }
    fclose(f);
}

static void clear_dir(void) {
    const char *names[] = {"vocab.json", "merges.txt", "encoder.json", "vocab.bpe"};
    char path[128];
    for (int i = 0; i < 4; i++) { snprintf(path, sizeof path, "%s/%s", DIR_, names[i]); unlink(path); }
}

static void same_as_tiny(const Bpe *b) {
    T_ASSERT(bpe_vocab_size(b) == N_TOK && bpe_n_merges(b) == N_MERGES && bpe_eos_id(b) == EOS_ID, "sizes");
    for (int i = 0; i < N_TOK; i++) T_ASSERT(!strcmp(bpe_token(b, i), TOKENS[i]), "token %d", i);
    for (int r = 0; r < N_MERGES; r++) T_ASSERT(!strcmp(bpe_merge(b, r), MERGES[r]), "merge %d", r);
    int ids[8];
    T_ASSERT(enc(b, "hello", ids, 8) == 1 && ids[0] == merged_id("hello"), "hello");
}

static void test_bpe_load_both_layouts_and_save(void) {
    char err[512];
    clear_dir();
    write_files("encoder.json", "vocab.bpe", NULL, NULL);
    Bpe *b = bpe_load_dir(DIR_, err, sizeof err);
    T_ASSERT(b, "encoder.json + vocab.bpe: %s", err);
    if (!b) return;
    same_as_tiny(b);
    clear_dir();
    T_ASSERT(bpe_save_dir(b, DIR_, err, sizeof err) == 0, "save: %s", err);
    bpe_free(b);
    b = bpe_load_dir(DIR_, err, sizeof err);   // what bpe_save_dir wrote: vocab.json + merges.txt
    T_ASSERT(b, "saved vocab.json + merges.txt: %s", err);
    if (b) same_as_tiny(b);
    bpe_free(b);
    char path[128];
    snprintf(path, sizeof path, "%s/vocab.json.tmp", DIR_);
    T_ASSERT(access(path, F_OK) != 0, "no temporary file left");
    write_files("vocab.json", "merges.txt", NULL, "h e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\na a");   // no #version, no final \n
    b = bpe_load_dir(DIR_, err, sizeof err);
    T_ASSERT(b && bpe_n_merges(b) == N_MERGES, "merges without header: %s", b ? "" : err);
    bpe_free(b);
}

// Each malformed input must be refused with a message containing `want`.
static void refused(const char *what, const char *want, const char *extra_json, const char *merges_text) {
    char err[512] = "";
    clear_dir();
    write_files("vocab.json", "merges.txt", extra_json, merges_text);
    Bpe *b = bpe_load_dir(DIR_, err, sizeof err);
    T_ASSERT(!b && strstr(err, want), "%s: want '%s', got '%s'", what, want, b ? "(accepted)" : err);
    bpe_free(b);
}

static void test_bpe_malformed_files(void) {
    char want[128];
    snprintf(want, sizeof want, "vocab.json:%d: duplicate object key", N_TOK + 2);
    refused("duplicate key", want, "\"h\": 999", NULL);
    snprintf(want, sizeof want, "id %d is missing (token 'zz' has id %d)", N_TOK, N_TOK + 1);
    refused("id gap", want, "\"zz\": " "266", NULL);
    refused("id used twice", "id 7 is used by", "\"zz\": 7", NULL);
    refused("id not an integer", "token 'zz': the id is not an integer", "\"zz\": \"265\"", NULL);
    refused("not JSON", "vocab.json:", "garbage", NULL);
    refused("bad merge line", "merges.txt:3: 'l l x' is not two tokens", NULL, "#version: 0.2\nh e\nl l x\n");
    refused("merge with no space", "merges.txt:2: 'he' is not two tokens", NULL, "#version: 0.2\nhe\n");
    refused("merge token unknown", "merges.txt:2: token 'xy' not in", NULL, "#version: 0.2\nxy z\n");
    refused("merged token unknown", "merges.txt:2: token 'xy' not in", NULL, "#version: 0.2\nx y\n");
    refused("repeated merge", "merges.txt:4: merge 'h e' repeats line 2", NULL, "#version: 0.2\nh e\nl l\nh e\n");
    refused("empty line", "merges.txt:3: an empty line", NULL, "#version: 0.2\nh e\n\nl l\n");
    refused("CRLF", "merges.txt:2: a carriage return", NULL, "#version: 0.2\r\nh e\r\n");
    refused("no merges", "0 merges", NULL, "#version: 0.2\n");
    char err[512] = "";
    clear_dir();
    write_files("vocab.json", "merges.txt", NULL, NULL);
    snprintf(want, sizeof want, "%s/merges.txt", DIR_);
    unlink(want);
    Bpe *b = bpe_load_dir(DIR_, err, sizeof err);
    T_ASSERT(!b && strstr(err, "has vocab.json but not merges.txt"), "%s", err);
    clear_dir();
    b = bpe_load_dir(DIR_, err, sizeof err);
    T_ASSERT(!b && strstr(err, "no tokenizer files"), "%s", err);
}

static void test_bpe_malformed_tables(void) {
    char err[512];
    const char *tok[N_TOK];
    memcpy(tok, TOKENS, sizeof tok);
    tok[BYTE_ID['\n']] = "x\xff";   // not UTF-8
    Bpe *b = bpe_from_tables(tok, N_TOK, MERGES, N_MERGES, err, sizeof err);
    T_ASSERT(!b && strstr(err, "tokenizer tables: token") && strstr(err, "not UTF-8"), "%s", err);
    tok[BYTE_ID['\n']] = "\n";      // a raw newline is not in the byte alphabet (it is spelled Ċ)
    b = bpe_from_tables(tok, N_TOK, MERGES, N_MERGES, err, sizeof err);
    T_ASSERT(!b && strstr(err, "U+000A is outside GPT-2's byte alphabet"), "%s", err);
    tok[BYTE_ID['\n']] = "hello";   // a duplicate string (and byte 0x0A without a token)
    b = bpe_from_tables(tok, N_TOK, MERGES, N_MERGES, err, sizeof err);
    T_ASSERT(!b && strstr(err, "the same string as id"), "%s", err);
    tok[BYTE_ID['\n']] = "ĊĊ";      // every string distinct, but byte 0x0A has no token
    b = bpe_from_tables(tok, N_TOK, MERGES, N_MERGES, err, sizeof err);
    T_ASSERT(!b && strstr(err, "no token 'Ċ' for byte 0x0A"), "%s", err);
    const char *m[] = {"h e", "q z"};
    b = bpe_from_tables(TOKENS, N_TOK, m, 2, err, sizeof err);
    T_ASSERT(!b && strstr(err, "tokenizer tables: merge 1: token 'qz' not in the tokens"), "%s", err);
    b = bpe_from_tables(TOKENS, 100, MERGES, N_MERGES, err, sizeof err);
    T_ASSERT(!b && strstr(err, "100 tokens"), "%s", err);
}

int main(void) {
    make_tables();
    snprintf(DIR_, sizeof DIR_, "/tmp/test_bpe.XXXXXX");
    if (!mkdtemp(DIR_)) { printf("not ok - mkdtemp\n"); return 1; }
    T_RUN(test_bpe_tables_accessors);
    T_RUN(test_bpe_encode_hand_checked);
    T_RUN(test_bpe_round_trip);
    T_RUN(test_bpe_eos_is_an_id);
    T_RUN(test_bpe_invalid_utf8);
    T_RUN(test_bpe_long_piece);
    T_RUN(test_bpe_random_bytes);
    T_RUN(test_bpe_load_both_layouts_and_save);
    T_RUN(test_bpe_malformed_files);
    T_RUN(test_bpe_malformed_tables);
    clear_dir();
    rmdir(DIR_);
    T_EXIT();
}
