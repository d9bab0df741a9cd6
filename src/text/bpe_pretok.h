// bpe_pretok.h -- private to src/text (and the test tool tests/tools/bpe_tool.c): GPT-2's pre-tokenisation
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// as a hand-written scanner over generated Unicode class tables (bpe_unicode.h), and the UTF-8 check that
// precedes it. Why a scanner and not PCRE2: the tables come from the very module encoder.py runs on (python3-regex,
// Unicode 15) and a test re-checks every code point against it, whereas PCRE2 10.42 carries Unicode 14 tables and
// counts U+180E as \s (docs/gpt2-import.md §3.3 measured both differences); the scanner also needs no match data
// per call, so encoding stays allocation-free and thread-safe, and it is several times faster than a regex engine.
#ifndef PGRPO_BPE_PRETOK_H
#define PGRPO_BPE_PRETOK_H
#include <stddef.h>
#include <stdint.h>

enum { BPE_CLS_OTHER = 0, BPE_CLS_LETTER = 1, BPE_CLS_NUMBER = 2, BPE_CLS_SPACE = 3 };

// The class of a Unicode scalar value: \p{L}, \p{N}, \s (the 25 White_Space code points) or none of them.
int bpe_cp_class(uint32_t cp);
// Offset of the first byte that makes s[0..len) invalid UTF-8 (overlong forms, surrogates and values above
// U+10FFFF included, as Python's strict decoder refuses them); len when the whole text is valid.
size_t bpe_utf8_invalid_at(const unsigned char *s, size_t len);
// s[0..len) valid UTF-8 and pos < len at a code-point boundary: the end offset (> pos) of the pre-token that
// starts at pos, exactly as regex.findall with the pattern above would cut it.
size_t bpe_pretok_next(const unsigned char *s, size_t len, size_t pos);

#endif
