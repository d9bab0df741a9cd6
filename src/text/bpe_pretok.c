// bpe_pretok.c -- GPT-2's pre-tokenisation as a scanner over generated Unicode tables (why: bpe_pretok.h).
// Each branch of bpe_pretok_next is one alternative of the pattern, tried in the pattern's order: the first
// alternative that matches wins (not the longest), and every greedy run here never needs to backtrack except
// \s+(?!\S), which gives back exactly one code point when a non-space follows.
#include "bpe_pretok.h"
#include "bpe_unicode.h"

static int in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

#define NRANGES(a) ((int)(sizeof(a) / sizeof((a)[0])))

int bpe_cp_class(uint32_t cp) {
    if (cp < 0x80) {   // ASCII fast path; the same answers as the tables
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return BPE_CLS_LETTER;
        if (cp >= '0' && cp <= '9') return BPE_CLS_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return BPE_CLS_SPACE;
        return BPE_CLS_OTHER;
    }
    if (in_ranges(bpe_uni_space, NRANGES(bpe_uni_space), cp)) return BPE_CLS_SPACE;
    if (in_ranges(bpe_uni_letter, NRANGES(bpe_uni_letter), cp)) return BPE_CLS_LETTER;
    if (in_ranges(bpe_uni_number, NRANGES(bpe_uni_number), cp)) return BPE_CLS_NUMBER;
    return BPE_CLS_OTHER;
}

size_t bpe_utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (n == 0 || i + n > len) return i;
        for (size_t k = 1; k < n; k++) if ((s[i + k] & 0xC0) != 0x80) return i;
        if (n == 3) {
            unsigned c1 = s[i + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return i;   // overlong; UTF-16 surrogate
        } else if (n == 4) {
            unsigned c1 = s[i + 1];
            if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return i;   // overlong; above U+10FFFF
        }
        i += n;
    }
    return len;
}

// The code point at s[pos] (valid UTF-8) and its length in bytes.
static uint32_t cp_at(const unsigned char *s, size_t pos, size_t *n) {
    unsigned c = s[pos];
    if (c < 0x80) { *n = 1; return c; }
    if (c < 0xE0) { *n = 2; return (uint32_t)(c & 0x1F) << 6 | (s[pos + 1] & 0x3F); }
    if (c < 0xF0) { *n = 3; return (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[pos + 1] & 0x3F) << 6 | (s[pos + 2] & 0x3F); }
    *n = 4;
    return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[pos + 1] & 0x3F) << 12 | (uint32_t)(s[pos + 2] & 0x3F) << 6 |
           (s[pos + 3] & 0x3F);
}

// 's 't 're 've 'm 'll 'd (case-sensitive, as encoder.py's pattern): their byte length after s[pos] == '\'', or 0.
static size_t contraction(const unsigned char *s, size_t len, size_t pos) {
    if (pos + 1 >= len) return 0;
    unsigned a = s[pos + 1], b = pos + 2 < len ? s[pos + 2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// End of the run of code points of class cls that starts at pos.
static size_t run_end(const unsigned char *s, size_t len, size_t pos, int cls) {
    size_t n;
    while (pos < len && bpe_cp_class(cp_at(s, pos, &n)) == cls) pos += n;
    return pos;
}

// \s+(?!\S) | \s+ at a space: the whole run when it ends the text or is one code point long; otherwise the run
// without its last code point (which is then a piece of its own, or the " ?" of the next piece).
static size_t space_end(const unsigned char *s, size_t len, size_t pos) {
    size_t n, last = pos, count = 0;
    while (pos < len && bpe_cp_class(cp_at(s, pos, &n)) == BPE_CLS_SPACE) { last = pos; pos += n; count++; }
    return pos == len || count == 1 ? pos : last;
}

size_t bpe_pretok_next(const unsigned char *s, size_t len, size_t pos) {
    size_t n;
    uint32_t c = cp_at(s, pos, &n);
    if (c == '\'') {
        size_t k = contraction(s, len, pos);
        if (k) return pos + k;
    }
    if (c == ' ' && pos + 1 < len) {   // " ?" then \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+ (only U+0020 is the "?" space)
        size_t n2;
        int cls2 = bpe_cp_class(cp_at(s, pos + 1, &n2));
        if (cls2 != BPE_CLS_SPACE) return run_end(s, len, pos + 1, cls2);
    }
    int cls = bpe_cp_class(c);
    return cls == BPE_CLS_SPACE ? space_end(s, len, pos) : run_end(s, len, pos, cls);
}
