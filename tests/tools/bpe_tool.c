// bpe_tool.c — drives the C tokenizer (include/bpe.h) for tests/reference/test_bpe_*.sh and the bpe bench section.
//   bpe_tool encode DIR < text          ids of stdin's raw bytes, one line, space-separated
//   bpe_tool decode DIR < ids           the bytes of whitespace-separated ids, raw on stdout
//   bpe_tool encode-lines DIR < jsonl   each line a JSON string: one line of ids per line
//   bpe_tool decode-lines DIR < lines   each line ids: the decoded bytes in hex, one line each
//   bpe_tool split-lines < jsonl        each line a JSON string: its pre-tokens as a JSON array (ASCII-escaped)
//   bpe_tool classes                    the scanner's class of every code point as runs "first last L|N|S|O"
//   bpe_tool info DIR                   "vocab_size N", "merges N", "eos N"
//   bpe_tool save DIR OUT               load DIR, bpe_save_dir into OUT (which must exist)
//   bpe_tool bench DIR FILE [SECONDS]   encode FILE repeatedly: "encode_mb_per_s X", "tokens N"
// Exit 3 with one line on stderr for any error (the library's message).
#include "bpe.h"
#include "../../src/text/bpe_pretok.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *msg) {
    fprintf(stderr, "bpe_tool: %s\n", msg);
    return 3;
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    *len = n;
    return buf;
}

static int encode_text(const Bpe *b, const char *text, size_t len) {
    char err[512];
    int need = bpe_encode(b, text, len, NULL, 0, err, sizeof err);
    if (need < 0) return fail(err);
    int *ids = malloc(((size_t)need + 1) * sizeof *ids);
    bpe_encode(b, text, len, ids, need, err, sizeof err);
    for (int i = 0; i < need; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    free(ids);
    return 0;
}

// The ids in a whitespace-separated line; their count, -1 on a non-number.
static int parse_ids(char *line, int *ids, int max) {
    int n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end || n >= max) return -1;
        ids[n++] = (int)v;
    }
    return n;
}

static int decode_ids(const Bpe *b, char *line, int hex) {
    size_t cap = strlen(line) + 1;
    int *ids = malloc(cap * sizeof *ids), n = parse_ids(line, ids, (int)cap);
    long need = n < 0 ? -1 : bpe_decode(b, ids, n, NULL, 0);
    char *buf = need < 0 ? NULL : malloc((size_t)need + 1);
    if (buf) bpe_decode(b, ids, n, buf, (size_t)need + 1);
    if (buf && hex) { for (long i = 0; i < need; i++) printf("%02x", (unsigned char)buf[i]); printf("\n"); }
    else if (buf) fwrite(buf, 1, (size_t)need, stdout);
    free(ids); free(buf);
    return need < 0 ? fail("bad id line or id out of range") : 0;
}

// Runs fn on every stdin line parsed as a JSON string.
static int each_json_line(const Bpe *b, int (*fn)(const Bpe *, const char *, size_t)) {
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, stdin) > 0) {
        json_error_t je;
        json_t *s = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!s || !json_is_string(s)) rc = fail("stdin: a line is not a JSON string");
        else rc = fn(b, json_string_value(s), json_string_length(s));
        json_decref(s);
    }
    free(line);
    return rc;
}

static int split_text(const Bpe *b, const char *text, size_t len) {
    (void)b;
    json_t *arr = json_array();
    for (size_t pos = 0; pos < len;) {
        size_t end = bpe_pretok_next((const unsigned char *)text, len, pos);
        json_array_append_new(arr, json_stringn_nocheck(text + pos, end - pos));
        pos = end;
    }
    char *out = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
    puts(out);
    free(out);
    json_decref(arr);
    return 0;
}

static int split_checked(const Bpe *b, const char *text, size_t len) {
    if (bpe_utf8_invalid_at((const unsigned char *)text, len) < len) return fail("invalid UTF-8");
    return split_text(b, text, len);
}

static int classes(void) {
    static const char name[] = "OLNS";
    uint32_t first = 0;
    int cls = bpe_cp_class(0);
    for (uint32_t cp = 1; cp <= 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;   // surrogates: not scalar values
        int c = cp <= 0x10FFFF ? bpe_cp_class(cp) : -1;
        uint32_t prev = cp == 0xE000 ? 0xD7FF : cp - 1;
        if (c != cls) { printf("%u %u %c\n", first, prev, name[cls]); first = cp; cls = c; }
    }
    return 0;
}

static int bench(const Bpe *b, const char *file, double seconds) {
    FILE *f = fopen(file, "rb");
    if (!f) return fail("cannot open the bench text");
    size_t len;
    char *text = read_all(f, &len), err[512];
    fclose(f);
    int max = (int)len + 1, *ids = malloc((size_t)max * sizeof *ids), n = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double el = 0, bytes = 0;
    while (el < seconds) {
        n = bpe_encode(b, text, len, ids, max, err, sizeof err);
        if (n < 0) return fail(err);
        bytes += (double)len;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        el = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    }
    printf("encode_mb_per_s %.3f\ntokens %d\nbytes %zu\n", bytes / el / 1e6, n, len);
    free(text); free(ids);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return fail("usage: bpe_tool encode|decode|encode-lines|decode-lines|split-lines|classes|info|save|bench ...");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "classes")) return classes();
    if (!strcmp(cmd, "split-lines")) return each_json_line(NULL, split_checked);
    if (argc < 3) return fail("missing DIR");
    char err[512];
    Bpe *b = bpe_load_dir(argv[2], err, sizeof err);
    if (!b) return fail(err);
    int rc = 0;
    size_t len;
    if (!strcmp(cmd, "encode")) {
        char *text = read_all(stdin, &len);
        rc = encode_text(b, text, len);
        free(text);
    } else if (!strcmp(cmd, "decode")) {
        char *text = read_all(stdin, &len);
        text = realloc(text, len + 1); text[len] = '\0';
        rc = decode_ids(b, text, 0);
        free(text);
    } else if (!strcmp(cmd, "encode-lines")) {
        rc = each_json_line(b, encode_text);
    } else if (!strcmp(cmd, "decode-lines")) {
        char *line = NULL;
        size_t cap = 0;
        while (!rc && getline(&line, &cap, stdin) > 0) rc = decode_ids(b, line, 1);
        free(line);
    } else if (!strcmp(cmd, "info")) {
        printf("vocab_size %d\nmerges %d\neos %d\n", bpe_vocab_size(b), bpe_n_merges(b), bpe_eos_id(b));
    } else if (!strcmp(cmd, "save") && argc > 3) {
        rc = bpe_save_dir(b, argv[3], err, sizeof err) ? fail(err) : 0;
    } else if (!strcmp(cmd, "bench") && argc > 3) {
        rc = bench(b, argv[3], argc > 4 ? atof(argv[4]) : 1.0);
    } else {
        rc = fail("unknown command");
    }
    bpe_free(b);
    return rc;
}
