// task.h — heterogeneous-preference tasks behind one interface (no MPI, no HDF5 here).
// A task owns a word-level vocabulary, a population of users with ground-truth preference groups,
// deterministic prompts, a reward, an SFT corpus and a per-group oracle.
// Families: "personas", "recsys", "reviews" (built in, simulated: README "Tasks"); "movielens" (a MovieLens-1M
// folder) and "file" (JSON Lines users, prompts and SFT corpus; reward from a plugin) read data (README "Your own
// data"): their users, groups and vocabulary come from the data.
#ifndef PGRPO_TASK_H
#define PGRPO_TASK_H
#include <stddef.h>
#include <stdint.h>
#include "rng.h"
#include "bpe.h"

#define TASK_MAX_PROMPT 64   // tokens, BOS included
#define TASK_MAX_SEQ   128   // prompt + completion, for SFT examples
#define TASK_META       24   // ints of task-private data per prompt (items seen, book, rating, ...)
#define TASK_MAX_GROUPS 16

// Special tokens every WORD vocabulary starts with (the built-in tasks, movielens, and file without a tokenizer).
// Outside src/task use task_eos / task_pad: a text task (file + task.tokenizer) has GPT-2's ids instead.
enum { TOK_PAD = 0, TOK_BOS = 1, TOK_EOS = 2, TOK_SEP = 3, TOK_UNK = 4 };

typedef enum { SPLIT_TRAIN = 0, SPLIT_EVAL = 1 } Split; // eval users and prompts are disjoint from train

typedef struct {
    const char *name;      // "personas" | "recsys" | "reviews" | "movielens" | "file"
    int n_users;           // training users; eval users are a disjoint population of n_eval_users (data tasks:
                           // n_users does not apply; movielens holds out n_eval_users users of the data)
    int n_eval_users;
    uint64_t seed;         // the world (users, items, books) derives from this
    double group_shares[TASK_MAX_GROUPS]; // 0 everywhere = the task's imbalanced default
    int n_items;           // recsys catalogue / reviews books (0 = task default)
    int max_new;           // completion length budget the reward expects (0 = task default)
    const char *path;      // data tasks: the MovieLens folder / the file task's folder (not copied: must outlive
                           // task_create only)
    const char *ml_groups; // movielens: "gender" | "age" | "occupation" (NULL or "" = gender)
    Bpe *bpe;              // file only (task.tokenizer): a GPT-2 byte-level BPE instead of the word tokenizer.
                           // OWNED: task_create takes it over (task_free frees it, and so does a failed
                           // task_create); NULL = the word tokenizer. Any other task refuses it.
} TaskConfig;

typedef struct {
    int user;                   // user id (within its split)
    int group;                  // ground-truth preference group of the user
    int split;
    int len;                    // prompt length in tokens: word tokenizer BOS first, ends with TOK_SEP; a text
                                // task's prompt is BPE(text) as it is (no BOS/SEP)
    int tok[TASK_MAX_PROMPT];
    int meta[TASK_META];
} Prompt;

typedef struct Task Task;

// NULL + message in err on a bad config (unknown name, shares not summing to 1, ...).
Task *task_create(const TaskConfig *cfg, char *err, size_t errlen);
void task_free(Task *t);
const char *task_name(const Task *t);

// Vocabulary
// The end-of-sequence id a completion stops at (TOK_EOS; a text task: the BPE's "<|endoftext|>" id).
int task_eos(const Task *t);
// The id written after a sequence's end (TOK_PAD; a text task: the EOS id, as GPT-2 does). It may be a real
// token: mask padding by length, never by comparing with it.
int task_pad(const Task *t);
// The task's BPE tokenizer (borrowed), NULL for the word tokenizer.
const Bpe *task_bpe(const Task *t);
int task_vocab_size(const Task *t);
const char *task_token_str(const Task *t, int tok);
int task_token_id(const Task *t, const char *word);  // TOK_UNK when absent (a text task: -1)
// A token as a person reads it: a movie's UTF-8 title for movielens, else the word itself.
const char *task_token_label(const Task *t, int tok);
// Encodes space-separated words into tok (max n); returns the count (a text task: BPE, truncated at max; invalid
// UTF-8 gives 0).
int task_encode(const Task *t, const char *text, int *tok, int max);
// Decodes n tokens into buf (always NUL-terminated); returns strlen. Words are joined by blanks; a text task's
// ids are decoded by BPE into text, always valid UTF-8 (each maximal invalid byte sequence, e.g. a character cut
// by the end of a sample, becomes U+FFFD, as GPT-2's decode(errors="replace") does; cut at a character boundary
// when buf is short); an EOS id reads "<|endoftext|>": leave it out where it is not wanted.
int task_decode(const Task *t, const int *tok, int n, char *buf, size_t bufsize);

// The prompt's text as a reward function sees it: the words after BOS up to SEP for the built-in tasks (what
// task_decode gives); the file-backed task returns its source text. Always NUL-terminated; returns strlen.
int task_prompt_text(const Task *t, const Prompt *p, char *buf, size_t bufsize);
// 1 when task_reward is the task's own; 0 for tasks whose reward must come from a plugin or process ([reward]).
int task_has_builtin_reward(const Task *t);

// One line on the data a data task loaded (counts, what was left out), "" for the built-in tasks.
const char *task_summary(const Task *t);
// The held-back next items of prompt p (movielens: the movies the user rated after the prompt's cut, up to five,
// in time order) as tokens; returns the count (<= max). 0 for tasks without them. For hit rate and NDCG.
int task_next_items(const Task *t, const Prompt *p, int *tok, int max);

// Users and groups
int task_n_groups(const Task *t);
const char *task_group_name(const Task *t, int g);
int task_n_users(const Task *t, Split s);
int task_user_group(const Task *t, Split s, int user);

// Prompt number `index` of split s for stream seed (deterministic in (seed, split, index)).
void task_prompt(const Task *t, uint64_t seed, Split s, long index, Prompt *out);
// Reward of a completion (n tokens, EOS included when present). Deterministic. Range [-1, 1];
// malformed completions (no EOS, degenerate repetition, wrong format) get -1.
float task_reward(const Task *t, const Prompt *p, const int *comp, int n);
// Best achievable reward for this prompt (what a perfect personalised policy gets), in [-1,1].
float task_oracle(const Task *t, const Prompt *p);
// Recommended completion budget (tokens incl. EOS) for sampling.
int task_max_new(const Task *t);

// SFT corpus: one fluent, well-formed, NOT personalised example (prompt + completion + EOS) for
// index `index` of split s. Writes tok (len <= TASK_MAX_SEQ); *prompt_len is where the completion starts.
// Returns the total length.
int task_sft_example(const Task *t, uint64_t seed, Split s, long index, int *tok, int *prompt_len);

#endif
