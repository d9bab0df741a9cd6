// bpe.h — GPT-2's byte-level BPE tokenizer (no MPI, no HDF5 here). The vocabulary is GPT-2's: token strings in
// the byte-to-unicode alphabet (a space is "Ġ", a newline "Ċ"), merges ranked by their line in merges.txt.
// Text is pre-tokenised with GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// then each piece's bytes are mapped to unicode and merged by rank. Special tokens ("<|endoftext|>", id 50256 in
// GPT-2) are ids only: text that spells them is encoded as ordinary text, never as the special id.
// Errors come back as NULL / -1 with a one-line message naming the file and line or token.
#ifndef PGRPO_BPE_H
#define PGRPO_BPE_H
#include <stddef.h>

typedef struct Bpe Bpe;

// From a folder holding vocab.json + merges.txt (Hugging Face) or encoder.json + vocab.bpe (OpenAI's release).
Bpe *bpe_load_dir(const char *dir, char *err, size_t errlen);
// From the two files named explicitly (vocab: JSON object token -> id, ids dense 0..n-1; merges: "#version" line
// optional, then "a b" per line, rank = line order).
Bpe *bpe_load_files(const char *vocab_json, const char *merges_txt, char *err, size_t errlen);
// From in-memory tables (what a policy file stores): tokens[n_tokens] in id order, merges[n_merges] "a b" by rank.
Bpe *bpe_from_tables(const char *const *tokens, int n_tokens, const char *const *merges, int n_merges,
                     char *err, size_t errlen);
void bpe_free(Bpe *b);

int bpe_vocab_size(const Bpe *b);
int bpe_eos_id(const Bpe *b);                    // id of "<|endoftext|>", -1 when the vocabulary has none
const char *bpe_token(const Bpe *b, int id);     // the token's string as in vocab.json (UTF-8), NULL if out of range
int bpe_n_merges(const Bpe *b);
const char *bpe_merge(const Bpe *b, int rank);   // "a b"

// Encodes len bytes of UTF-8 text. Writes at most max ids and returns how many the text needs (> max: truncated,
// the caller decides), -1 with a message for invalid UTF-8. Allocation-free after bpe_load (a per-Bpe cache
// is not used, so concurrent calls on one Bpe from several threads are safe).
int bpe_encode(const Bpe *b, const char *text, size_t len, int *ids, int max, char *err, size_t errlen);
// Decodes n ids into raw bytes (the text, possibly not valid UTF-8 mid-character); always NUL-terminates when
// bufsize > 0. Returns the byte count the full text needs (excluding the NUL); -1 for an id out of range.
long bpe_decode(const Bpe *b, const int *ids, int n, char *buf, size_t bufsize);

// Writes vocab.json + merges.txt into dir (which must exist): what `pgrpo export hf` ships beside the weights.
int bpe_save_dir(const Bpe *b, const char *dir, char *err, size_t errlen);

#endif
