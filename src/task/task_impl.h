// task_impl.h — private interface between task.c (dispatch, vocabulary, user population) and the task families
// (task_personas.c, task_recsys.c, task_reviews.c). Not part of the public API: only src/task*.c and the task
// unit test include it.
#ifndef PGRPO_TASK_IMPL_H
#define PGRPO_TASK_IMPL_H
#include "task.h"

#define TASK_WORD_MAX 24     // bytes per vocabulary word, NUL included
#define TASK_MAX_VOCAB 1200  // built-in tasks: the policy is tiny, a vocabulary beyond this is a table mistake
#define TASK_MAX_DATA_VOCAB 200000  // data tasks (movielens, file): the vocabulary comes from the data

// One simulated user. The common layer draws the raw randomness (so every family gets reproducible, independent
// traits per user) and the family decides what it means: a secondary taste, a leniency bias, latent factors.
typedef struct {
    int group;       // ground-truth preference group
    uint64_t uid;    // world-unique id; train and eval ids come from different streams, so populations are disjoint
    double u[4];     // uniforms in [0,1)
    double n[8];     // standard normals
} TaskUser;

// What a family provides. Each callback sees the whole Task (vocabulary, users, its own world in t->world).
typedef struct {
    const char *name;
    int n_groups;
    const char *const *group_names;   // [n_groups]
    const double *default_shares;     // [n_groups], sums to 1, imbalanced
    int default_max_new;
    // Data-driven families (movielens, file): build() loads the users (t->n_users, t->users), the groups
    // (t->n_groups, t->group_names) and may grow the vocabulary up to TASK_MAX_DATA_VOCAB; task.n_users and
    // task.shares do not apply. 0 for the built-in, simulated families.
    int data;
    // 1: prompt() chooses p->user itself (the file task's prompts belong to a user); the common layer then fills
    // p->group. 0: the common layer draws the user uniformly before prompt().
    int own_user;
    int min_new;                      // longest well-formed completion, EOS included: max_new may not go below
    // Builds the vocabulary (after the specials) and the world (items, books, tables); 0 on success.
    int (*build)(Task *t, char *err, size_t errlen);
    void (*destroy)(Task *t);
    // p->user, p->group and p->split are set; fills p->tok, p->len, p->meta from r.
    void (*prompt)(const Task *t, Rng *r, Prompt *p);
    float (*reward)(const Task *t, const Prompt *p, const int *comp, int n);   // NULL: reward from a plugin
    float (*oracle)(const Task *t, const Prompt *p);
    // A fluent, well-formed completion that ignores who the user is; returns its length, EOS included.
    int (*sft_completion)(const Task *t, Rng *r, const Prompt *p, int *comp, int max);
    // Optional. The prompt's source text (task_prompt_text); NULL = the decoded words between BOS and SEP.
    int (*prompt_text)(const Task *t, const Prompt *p, char *buf, size_t bufsize);
    // Optional. A token's display label (task_token_label); NULL or a NULL result = the word itself.
    const char *(*token_label)(const Task *t, int tok);
    // Optional. Replaces the common SFT path (prompt + sft_completion) for families with their own corpus:
    // writes tok (<= TASK_MAX_SEQ), *prompt_len; returns the length.
    int (*sft_example)(const Task *t, Rng *r, Split s, long index, int *tok, int *prompt_len);
    // Optional. The held-back next items of a prompt (task_next_items); NULL = none.
    int (*next_items)(const Task *t, const Prompt *p, int *tok, int max);
    // Optional. One line describing the loaded data (task_summary); NULL = "".
    const char *(*summary)(const Task *t);
} TaskFamily;

struct Task {
    const TaskFamily *fam;
    TaskConfig cfg;                   // resolved: shares, n_items and max_new filled with defaults
    int n_vocab, vocab_cap, vocab_max; // vocab_max: TASK_MAX_VOCAB, or TASK_MAX_DATA_VOCAB for data families
    char (*words)[TASK_WORD_MAX];     // [vocab_cap], grown by task_vocab_add
    int *index, index_cap;            // open-addressing hash of words -> id (-1 empty), index_cap a power of 2
    int n_users[2];                   // by Split
    TaskUser *users[2];               // [n_users[s]]
    int n_groups;                     // the family's, or set by a data family's build
    const char *const *group_names;   // [n_groups]
    void *world;                      // family-owned
    Bpe *bpe;                         // text task (file + task.tokenizer): owned; the word tables stay empty
};

extern const TaskFamily task_family_personas;
extern const TaskFamily task_family_recsys;
extern const TaskFamily task_family_reviews;
extern const TaskFamily task_family_movielens;
extern const TaskFamily task_family_file;

// Appends a word to the vocabulary; returns its id. Duplicates and overflow are bugs in the family tables (data
// families check task_token_id and t->vocab_max first).
int task_vocab_add(Task *t, const char *word);
const TaskUser *task_user_of(const Task *t, const Prompt *p);
// Index of the first EOS in comp[0..n), or -1 when there is none.
int task_find_eos(const int *comp, int n);
float task_clampf(float x, float lo, float hi);
// A standard normal that is a pure function of (a, b): deterministic "noise" without any stored state.
double task_hash_normal(uint64_t a, uint64_t b);
// Draws an index with probability proportional to w[0..n) (all w >= 0, sum > 0).
int task_pick_weighted(Rng *r, const double *w, int n);

#endif
