// bpe.h — GPT-2's byte-level BPE tokenizer (no MPI, no HDF5 here). The vocabulary is GPT-2's: token strings in
// the byte-to-unicode alphabet (a space is "Ġ", a newline "Ċ"), merges ranked by their line in merges.txt.
// Text is pre-tokenised with GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// then each piece's bytes are mapped to unicode and merged by rank. Special tokens ("<|endoftext|>", id 50256 in
// GPT-2) are ids only: text that spells them is encoded as ordinary text, never as the special id.
// Errors come back as NULL / -1 with a one-line message naming the file and line or token, e.g.
//   "merges.txt:17: token 'xy' not in vocab.json (the merged side of 'x y')"
//   "tokenizer tables: token 7 ('x'): character U+000A is outside GPT-2's byte alphabet (HINT: ...)".
// Implementation: src/text/bpe.c; pre-tokenisation is a scanner over Unicode tables generated from python3-regex
// (src/text/bpe_pretok.h says why not PCRE2). Nothing here assumes GPT-2's id layout (id = 256 + merge rank): ids
// are looked up, so other byte-level vocabularies and shuffled test vocabularies work the same.
#ifndef PGRPO_BPE_H
#define PGRPO_BPE_H
#include <stddef.h>

typedef struct Bpe Bpe;

// From a folder holding vocab.json + merges.txt (Hugging Face) or encoder.json + vocab.bpe (OpenAI's release),
// tried in that order; one file of a pair without the other, or neither pair, is an error naming the folder.
Bpe *bpe_load_dir(const char *dir, char *err, size_t errlen);
// From the two files named explicitly (vocab: JSON object token -> id, ids dense 0..n-1; merges: "#version" line
// optional, then "a b" per line, rank = line order).
// Refused, each with the file and line or token: not JSON, a duplicate key (JSON_REJECT_DUPLICATES), an id that is
// not an integer, repeated or leaves a gap; a token that is empty or has a character outside the byte alphabet;
// any of the 256 single-byte tokens missing; a merge line that is not "a b" (one space), names a token not in the
// vocabulary, merges into a string not in it, or repeats an earlier pair; an empty line, CR (CRLF files), invalid
// UTF-8; fewer than 256 tokens or no merge at all (a truncated file).
Bpe *bpe_load_files(const char *vocab_json, const char *merges_txt, char *err, size_t errlen);
// From in-memory tables (what a policy file stores): tokens[n_tokens] in id order, merges[n_merges] "a b" by rank.
// The strings are copied (the caller may free them on return); the same checks as bpe_load_files, messages
// starting "tokenizer tables: token ID ('...')" or "tokenizer tables: merge RANK". Storing bpe_token(b, 0..V-1) and
// bpe_merge(b, 0..M-1) and passing them back here gives the same tokenizer (same ids, same encodings).
Bpe *bpe_from_tables(const char *const *tokens, int n_tokens, const char *const *merges, int n_merges,
                     char *err, size_t errlen);
void bpe_free(Bpe *b);

int bpe_vocab_size(const Bpe *b);
int bpe_eos_id(const Bpe *b);                    // id of "<|endoftext|>" (50256 in GPT-2), -1 when there is none
const char *bpe_token(const Bpe *b, int id);     // the token's string as in vocab.json (UTF-8), NULL if out of range
int bpe_n_merges(const Bpe *b);
const char *bpe_merge(const Bpe *b, int rank);   // "a b"

// Encodes len bytes of UTF-8 text. Writes at most max ids and returns how many the text needs (> max: truncated,
// the caller decides; ids may be NULL with max 0 to count), -1 with a message for invalid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF included: "text byte 8 (0xFF): invalid UTF-8 (HINT: ...)") or
// len > INT_MAX. NUL bytes are ordinary text. "<|endoftext|>" in the text is 7 ordinary GPT-2 tokens; append the
// EOS id yourself. Allocation-free after loading: the merge scratch is 2 ints per byte of one pre-token, on the
// stack (32 KiB) for pre-tokens up to 4096 bytes; only a longer pre-token (one run of over 4 KiB of letters,
// digits or symbols) is merged in a heap buffer freed before return. No per-Bpe cache, so concurrent calls on one
// Bpe from several threads are safe.
int bpe_encode(const Bpe *b, const char *text, size_t len, int *ids, int max, char *err, size_t errlen);
// Decodes n ids into raw bytes (the text, possibly not valid UTF-8 mid-character); always NUL-terminates when
// bufsize > 0 (buf may be NULL with bufsize 0 to size). Returns the byte count the full text needs (excluding the
// NUL); -1 for an id out of range (buf then holds the text of the ids before it). The EOS id decodes to the text
// "<|endoftext|>", as encoder.py's decode does: drop it first where the text is wanted without it.
long bpe_decode(const Bpe *b, const int *ids, int n, char *buf, size_t bufsize);

// Writes vocab.json + merges.txt into dir (which must exist): what `pgrpo export hf` ships beside the weights.
// vocab.json: one compact JSON object in id order, UTF-8; merges.txt: "#version: 0.2" then one merge a line.
// Each file is written as NAME.tmp and renamed, so no half-written file is left under the real name.
int bpe_save_dir(const Bpe *b, const char *dir, char *err, size_t errlen);

#endif
