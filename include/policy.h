// policy.h — policy files (SFT bases, final weights: kind "policy", /model/params, /tokenizer/words and the
// model's shape as root attributes), written by one rank atomically through the store; loading also accepts a
// training checkpoint (its /model/params). Errors end the process with the file named (command-layer helpers).
// Imported models (pgrpo import) carry GPT-2's byte-level BPE tokenizer instead of /tokenizer/words:
//   /tokenizer/tokens (u8: the n_tokens token strings of vocab.json in id order, each NUL-terminated),
//   /tokenizer/merges (u8: the n_merges "a b" merges in rank order, each NUL-terminated), and on the group
//   /tokenizer the attributes kind = "bpe", n_tokens, n_merges, eos_id (-1: none). Bit-exact both ways.
#ifndef PGRPO_POLICY_H
#define PGRPO_POLICY_H
#include "app.h"
#include "gpt2_io.h"

// Writes m's weights and t's vocabulary to path (creating its folder). step and stage ("sft", "train") are
// recorded as attributes. A text task (task_bpe(t) != NULL) stores its BPE tables (/tokenizer/tokens, merges, as
// pgrpo import writes them) instead of /tokenizer/words, so `pgrpo export hf` ships the tokenizer.
void policy_save(const App *a, const char *path, Model *m, const Task *t, long step, const char *stage);
// A new model with the deck's shape holding the weights of a policy file or of a checkpoint (eval/sample
// --checkpoint take either). Refuses, naming both shapes, a file whose model differs from the deck's, and a policy
// whose tokenizer is not the task's (a BPE policy needs a text task with the same tokens and merges; a word policy
// a word task).
Model *policy_load(const App *a, const char *path, const Task *t);


// A policy file read without a deck (pgrpo export, tools): the shape, weights and tokenizer as stored.
typedef struct {
    ModelConfig cfg;
    float *params;       // (n_params)
    size_t n_params;
    Gpt2Tokenizer bpe;   // n_tokens 0 when the file carries the word tokenizer instead
    char *words;         // /tokenizer/words text of a word-tokenizer policy (NUL-terminated), else NULL
    long step;
} PolicyFile;
// Library-style (no exit): -1 with one line naming the file on any error. Checkpoints are refused (they do not
// record their shape as attributes): export final.h5 or an SFT base.
int policy_read_file(const char *path, PolicyFile *p, char *err, size_t errlen);
void policy_file_free(PolicyFile *p);
// Only the BPE tables of a policy file (task.tokenizer naming an imported base): 0 with tok filled (tok->n_tokens
// 0 when the file has the word tokenizer), -1 with one line naming the file. Free with gpt2_tok_free.
int policy_read_tokenizer(const char *path, Gpt2Tokenizer *tok, char *err, size_t errlen);
// Writes a policy with a BPE tokenizer from a bare parameter block (pgrpo import: no deck, no task), atomically
// (nothing at path on error). source: what it was imported from, kept as the root attribute "source".
int policy_write_bpe(const char *path, const ModelConfig *cfg, const float *params, const Gpt2Tokenizer *tok,
                     const char *source, char *err, size_t errlen);

#endif
