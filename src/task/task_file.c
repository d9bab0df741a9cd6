// task_file.c — task.name = file: the user's own users, prompts and SFT corpus as JSON Lines (README "Your own
// data"); the reward comes from a plugin or a reward process ([reward]), never from here.
// task.path is a folder with three files, one JSON object per line (UTF-8, parsed by Jansson, duplicate keys and
// unknown keys refused, blank lines refused):
//   users.jsonl    {"id": "alice" | 17, "group": "night_owls"}    group optional, but all or none; at most 16 groups
//                                                                  (first-appearance order; none: one group "all")
//   prompts.jsonl  {"text": "...", "user": "alice" | 17, "split": "train" | "eval"}
//   sft.jsonl      {"prompt": "...", "completion": "..."}  or  {"text": "..."}, optional "split": "train" | "eval"
//                  (no line marked eval: every 10th example, the 10th, 20th, ..., is held out for the NLL)
// Ids: an integer id and its decimal string are the same user. Every prompt's user must be in users.jsonl.
// Tokenizer: the word tokenizer of every task (words split at blanks; a word of 24 bytes or more is <unk>), its
// vocabulary every distinct word of prompts.jsonl then sft.jsonl in first-appearance order after the specials.
// Sequences: a prompt is <bos> words <sep> (at most 62 words); an SFT example is <bos> prompt <sep> completion <eos>,
// or <bos> text <eos> (at most 128 tokens). Longer ones, and the reserved words <pad> <bos> <eos> <sep> <unk>, are
// errors naming file:line.
// With a GPT-2 tokenizer (task.tokenizer, TaskConfig.bpe) the text is BPE-encoded as it is, with no added words:
// a prompt is BPE(text) (at most 64 tokens); an SFT example is BPE(prompt) BPE(completion) <|endoftext|> (the two
// encoded separately: put the blank that joins them at the start of the completion, as GPT-2 text does), or
// BPE(text) <|endoftext|> whose first token is the context of the rest (at most 128 tokens). Invalid UTF-8 and
// longer texts are errors naming file:line; "<|endoftext|>" spelled in a text is ordinary text (7 tokens). Users: a split's users are the users with at least one prompt of that split.
// task_prompt draws a prompt of the split uniformly (deterministic in seed, split, index); meta[0] = its index.
#include "task.h"
#include "task_impl.h"
#include "task_lines.h"
#include "check.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FL_ID_MAX 64
#define FL_DEFAULT_MAX_NEW 32

typedef struct { char id[FL_ID_MAX]; int group; } FlUser;
typedef struct { char *text; int user; int len; int tok[TASK_MAX_PROMPT]; } FlPrompt;   // user: global index
typedef struct { int len, prompt_len, split; int *tok; } FlExample;   // split -1: not marked in the file

typedef struct {
    FlUser *users; int n_users;
    char group_names[TASK_MAX_GROUPS][FL_ID_MAX];
    const char *group_ptr[TASK_MAX_GROUPS];
    FlPrompt *prompts[2]; int n_prompts[2];
    int *split_user[2];           // [n_users[s]] split user -> global index
    FlExample *sft; int n_sft;    // every example, in file order
    int *sft_of[2], n_sft_of[2];  // the examples of each split (indexes into sft)
    char summary[320];
} FlWorld;

typedef TaskLines FlFile;   // one JSONL file being read (task_lines.h)

// Next line parsed as a JSON object (*obj, to json_decref): 1, 0 at the end, -1 on an error.
static int fl_next(FlFile *m, json_t **obj) {
    long n = task_lines_read(m);
    if (n <= 0) return (int)n;
    json_error_t je;
    *obj = json_loadb(m->line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!*obj) return task_lines_fail(m, "one JSON object per line (JSON Lines), UTF-8", "invalid JSON: %s", je.text);
    if (!json_is_object(*obj)) {
        json_decref(*obj);
        return task_lines_fail(m, "one JSON object per line (JSON Lines)", "not a JSON object");
    }
    return 1;
}

// Refuses keys outside allowed ("a,b,c").
static int fl_only_keys(FlFile *m, json_t *o, const char *allowed) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char pat[80];
        snprintf(pat, sizeof pat, ",%s,", k);
        char all[200];
        snprintf(all, sizeof all, ",%s,", allowed);
        if (!strstr(all, pat)) return task_lines_fail(m, "the keys are documented in README \"Your own data\"",
                                              "unknown key \"%.40s\" (allowed: %s)", k, allowed);
    }
    return 0;
}

// A user id (string, or integer as its decimal text) into out.
static int fl_id(FlFile *m, json_t *v, const char *key, char *out) {
    if (json_is_integer(v)) snprintf(out, FL_ID_MAX, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < FL_ID_MAX)
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
    else return task_lines_fail(m, "give a non-empty string (< 64 bytes) or an integer", "\"%s\" is missing or not an id", key);
    return 0;
}

static int fl_split(FlFile *m, json_t *o, int required, int *split) {
    json_t *v = json_object_get(o, "split");
    *split = -1;
    if (!v && !required) return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(s, "train")) *split = SPLIT_TRAIN;
    else if (!strcmp(s, "eval")) *split = SPLIT_EVAL;
    else return task_lines_fail(m, "\"split\" is \"train\" or \"eval\"", "\"split\" is missing or invalid");
    return 0;
}

// Room for element n of an array grown at powers of two (n = 0, 1, 2, 4, ... reallocate).
static void *fl_grow(void *arr, int n, size_t elem) {
    if (n & (n - 1)) return arr;
    void *b = xmalloc(elem * (size_t)(n ? 2 * n : 1));
    if (n) memcpy(b, arr, elem * (size_t)n);
    free(arr);
    return b;
}

static int fl_find_user(const FlWorld *w, const char *id) {
    for (int i = 0; i < w->n_users; i++) if (!strcmp(w->users[i].id, id)) return i;
    return -1;
}

// ---------------------------------------------------------------------------------------------------------------
// the three files

static int fl_user_line(FlFile *m, json_t *o, FlWorld *w, int *any_group) {
    char id[FL_ID_MAX], g[FL_ID_MAX] = "all";
    if (fl_only_keys(m, o, "id,group") || fl_id(m, json_object_get(o, "id"), "id", id)) return -1;
    json_t *gv = json_object_get(o, "group");
    int has = gv != NULL;
    if (*any_group < 0) *any_group = has;
    if (has != *any_group) return task_lines_fail(m, "give every user a \"group\", or none", "\"group\" on some users only");
    if (has && fl_id(m, gv, "group", g)) return -1;
    if (fl_find_user(w, id) >= 0) return task_lines_fail(m, "each user id once", "duplicate user id \"%s\"", id);
    int k = 0;   // the group's index: an existing name, else the first free slot
    while (k < TASK_MAX_GROUPS && w->group_ptr[k] && strcmp(w->group_names[k], g)) k++;
    if (k == TASK_MAX_GROUPS) return task_lines_fail(m, "use at most 16 groups", "more than %d groups", TASK_MAX_GROUPS);
    if (!w->group_ptr[k]) { snprintf(w->group_names[k], FL_ID_MAX, "%s", g); w->group_ptr[k] = w->group_names[k]; }
    w->users = fl_grow(w->users, w->n_users, sizeof *w->users);
    FlUser *u = &w->users[w->n_users++];
    snprintf(u->id, sizeof u->id, "%s", id);
    u->group = k;
    return 0;
}

// Words of text into tok (max), adding new words to the vocabulary; -1 on a reserved word or too many words.
static int fl_words(FlFile *m, Task *t, const char *text, int *tok, int max, const char *what) {
    int n = 0;
    for (const char *s = text; *s;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r') e++;
        size_t len = (size_t)(e - s);
        if (n == max) return task_lines_fail(m, "shorten the text (the policy's sequences are short)", "%s has more than %d words", what, max);
        int id = TOK_UNK;
        if (len < TASK_WORD_MAX) {
            char word[TASK_WORD_MAX];
            memcpy(word, s, len);
            word[len] = 0;
            id = task_token_id(t, word);
            if (id < 5 && !strcmp(word, task_token_str(t, id)))
                return task_lines_fail(m, "the words <pad> <bos> <eos> <sep> <unk> are reserved", "%s contains \"%s\"", what, word);
            if (id == TOK_UNK) {
                if (t->n_vocab == t->vocab_max)
                    return task_lines_fail(m, "use fewer distinct words", "more than %d distinct words", t->vocab_max);
                id = task_vocab_add(t, word);
            }
        }
        tok[n++] = id;
        s = e;
    }
    return n;
}

// BPE ids of text into tok (max); -1 on invalid UTF-8, an empty text or more than max tokens.
static int fl_bpe(FlFile *m, const Task *t, const char *text, int *tok, int max, const char *what) {
    char e[300];
    int n = bpe_encode(t->bpe, text, strlen(text), tok, max, e, sizeof e);
    if (n < 0) {
        char *h = strstr(e, " (HINT");
        if (h) *h = 0;
        return task_lines_fail(m, "the texts must be valid UTF-8", "%s: %s", what, e);
    }
    if (n > max)
        return task_lines_fail(m, "shorten the text (the policy's sequences are short)", "%s is %d BPE tokens, more than %d",
                       what, n, max);
    return n;
}

static const char *fl_text(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int fl_prompt_line(FlFile *m, json_t *o, Task *t, FlWorld *w) {
    char id[FL_ID_MAX];
    int split;
    const char *text = fl_text(o, "text");
    if (fl_only_keys(m, o, "text,user,split") || fl_id(m, json_object_get(o, "user"), "user", id) ||
        fl_split(m, o, 1, &split))
        return -1;
    if (!text) return task_lines_fail(m, "give the prompt as \"text\": \"...\"", "\"text\" is missing or not a string");
    int u = fl_find_user(w, id);
    if (u < 0) return task_lines_fail(m, "every prompt's user must be in users.jsonl", "user \"%s\" is not in users.jsonl", id);
    FlPrompt p = {.user = u};
    if (t->bpe) {
        if ((p.len = fl_bpe(m, t, text, p.tok, TASK_MAX_PROMPT, "the prompt")) < 0) return -1;
        if (!p.len) return task_lines_fail(m, "give the prompt some text", "empty prompt text");
        p.text = strdup(text);
        w->prompts[split] = fl_grow(w->prompts[split], w->n_prompts[split], sizeof(FlPrompt));
        w->prompts[split][w->n_prompts[split]++] = p;
        return 0;
    }
    p.tok[0] = TOK_BOS;
    int n = fl_words(m, t, text, p.tok + 1, TASK_MAX_PROMPT - 2, "the prompt");
    if (n < 0) return -1;
    if (n == 0) return task_lines_fail(m, "give the prompt some words", "empty prompt text");
    p.tok[n + 1] = TOK_SEP;
    p.len = n + 2;
    p.text = strdup(text);
    w->prompts[split] = fl_grow(w->prompts[split], w->n_prompts[split], sizeof(FlPrompt));
    w->prompts[split][w->n_prompts[split]++] = p;
    return 0;
}

static void fl_add_example(FlWorld *w, const int *tok, int n, int prompt_len, int split) {
    FlExample e = {.len = n, .prompt_len = prompt_len, .split = split, .tok = xmalloc(sizeof(int) * (size_t)n)};
    memcpy(e.tok, tok, sizeof(int) * (size_t)n);
    w->sft = fl_grow(w->sft, w->n_sft, sizeof *w->sft);
    w->sft[w->n_sft++] = e;
}

// A text task's example: BPE(prompt) BPE(completion) EOS, or BPE(text) EOS (co NULL) with its first token as the
// prompt.
static int fl_sft_bpe(FlFile *m, const Task *t, FlWorld *w, const char *pr, const char *co, int split) {
    int tok[TASK_MAX_SEQ], n, pl;
    if ((n = fl_bpe(m, t, pr, tok, TASK_MAX_SEQ - 1, "the example")) < 0) return -1;
    pl = co ? n : 1;
    if (co) {
        int k = fl_bpe(m, t, co, tok + n, TASK_MAX_SEQ - 1 - n, "the example");
        if (k < 0) return -1;
        n += k;
    }
    if (pl < 1 || n <= pl)
        return task_lines_fail(m, co ? "give the prompt and the completion some text" : "give the text at least two tokens",
                       "empty prompt, completion or text");
    tok[n++] = task_eos(t);
    fl_add_example(w, tok, n, pl, split);
    return 0;
}

static int fl_sft_line(FlFile *m, json_t *o, Task *t, FlWorld *w) {
    int split, tok[TASK_MAX_SEQ], n = 1, pl;
    const char *pr = fl_text(o, "prompt"), *co = fl_text(o, "completion"), *tx = fl_text(o, "text");
    if (fl_only_keys(m, o, "prompt,completion,text,split") || fl_split(m, o, 0, &split)) return -1;
    if (!(tx && !pr && !co) && !(pr && co && !tx))
        return task_lines_fail(m, "give {\"prompt\": ..., \"completion\": ...} or {\"text\": ...} (strings)",
                       "neither a prompt/completion pair nor a text");
    if (t->bpe) return fl_sft_bpe(m, t, w, tx ? tx : pr, tx ? NULL : co, split);
    tok[0] = TOK_BOS;
    int k = fl_words(m, t, tx ? tx : pr, tok + 1, TASK_MAX_SEQ - 3, "the example");
    if (k < 0) return -1;
    n += k;
    if (!tx) tok[n++] = TOK_SEP;
    pl = tx ? 1 : n;
    if (!tx && (k = fl_words(m, t, co, tok + n, TASK_MAX_SEQ - 1 - n, "the example")) < 0) return -1;
    if (!tx) n += k;
    if (n == pl) return task_lines_fail(m, "give the example some words", "empty completion or text");
    tok[n++] = TOK_EOS;
    fl_add_example(w, tok, n, pl, split);
    return 0;
}

// Reads every line of dir/name through the line function of `kind` (0 users, 1 prompts, 2 sft).
static int fl_read(Task *t, FlWorld *w, const char *name, int kind, char *err, size_t errlen) {
    FlFile m;
    if (task_lines_open(&m, t->cfg.path, name, "task.path must be a folder with users.jsonl, prompts.jsonl and "
                        "sft.jsonl, README \"Your own data\"", err, errlen))
        return -1;
    int rc, any_group = -1;
    long n = 0;
    json_t *o = NULL;
    while ((rc = fl_next(&m, &o)) > 0) {
        rc = kind == 0 ? fl_user_line(&m, o, w, &any_group) : kind == 1 ? fl_prompt_line(&m, o, t, w)
                                                                        : fl_sft_line(&m, o, t, w);
        json_decref(o);
        if (rc < 0) break;
        n++;
    }
    if (rc == 0 && n == 0) rc = task_lines_fail(&m, "the file must hold at least one line", "empty file");
    task_lines_close(&m);
    return rc < 0 ? -1 : 0;
}

// The users of each split (those with a prompt of it, in users.jsonl order), and the prompts' users re-indexed.
static void fl_split_users(Task *t, FlWorld *w) {
    int *local = xmalloc(sizeof(int) * (size_t)w->n_users);
    for (int s = 0; s < 2; s++) {
        for (int u = 0; u < w->n_users; u++) local[u] = -1;
        for (int i = 0; i < w->n_prompts[s]; i++) local[w->prompts[s][i].user] = 0;
        int n = 0;
        for (int u = 0; u < w->n_users; u++) if (local[u] >= 0) local[u] = n++;
        t->n_users[s] = n;
        t->users[s] = xcalloc((size_t)(n ? n : 1), sizeof(TaskUser));
        w->split_user[s] = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
        for (int u = 0; u < w->n_users; u++)
            if (local[u] >= 0) {
                w->split_user[s][local[u]] = u;
                t->users[s][local[u]].group = w->users[u].group;
                t->users[s][local[u]].uid = (uint64_t)u;
            }
        for (int i = 0; i < w->n_prompts[s]; i++) w->prompts[s][i].user = local[w->prompts[s][i].user];
    }
    free(local);
}

// The SFT examples of each split: marked ones as marked; unmarked ones train, except every 10th when no line is
// marked eval.
static void fl_split_sft(FlWorld *w) {
    int any_eval = 0;
    for (int i = 0; i < w->n_sft; i++) any_eval |= w->sft[i].split == SPLIT_EVAL;
    for (int s = 0; s < 2; s++) w->sft_of[s] = xmalloc(sizeof(int) * (size_t)(w->n_sft ? w->n_sft : 1));
    for (int i = 0; i < w->n_sft; i++) {
        int s = w->sft[i].split;
        if (s < 0) s = !any_eval && i % 10 == 9 ? SPLIT_EVAL : SPLIT_TRAIN;
        w->sft_of[s][w->n_sft_of[s]++] = i;
    }
}

static int fl_build(Task *t, char *err, size_t errlen) {
    if (!t->cfg.path || !*t->cfg.path) {
        snprintf(err, errlen, "task file: task.path is empty (HINT: name the folder with users.jsonl, prompts.jsonl "
                 "and sft.jsonl)");
        return 1;
    }
    FlWorld *w = xcalloc(1, sizeof *w);
    t->world = w;
    if (fl_read(t, w, "users.jsonl", 0, err, errlen) || fl_read(t, w, "prompts.jsonl", 1, err, errlen) ||
        fl_read(t, w, "sft.jsonl", 2, err, errlen))
        return 1;
    for (int s = 0; s < 2; s++)
        if (!w->n_prompts[s]) {
            snprintf(err, errlen, "cannot use %s/prompts.jsonl: no prompt has \"split\": \"%s\" (HINT: give both "
                     "training and evaluation prompts)", t->cfg.path, s ? "eval" : "train");
            return 1;
        }
    fl_split_users(t, w);
    fl_split_sft(w);
    if (!w->n_sft_of[0] || !w->n_sft_of[1]) {
        snprintf(err, errlen, "cannot use %s/sft.jsonl: %d training and %d held-out examples (HINT: give at least "
                 "one of each: mark some \"split\": \"eval\", or give 10 or more lines)", t->cfg.path, w->n_sft_of[0],
                 w->n_sft_of[1]);
        return 1;
    }
    int ng = 0;
    while (ng < TASK_MAX_GROUPS && w->group_ptr[ng]) ng++;
    t->n_groups = ng;
    t->group_names = w->group_ptr;
    snprintf(w->summary, sizeof w->summary, "file %s: %d users (%d with training prompts, %d with eval prompts), "
             "%d groups, %d + %d prompts, %d + %d SFT examples, %d %s", t->cfg.path, w->n_users, t->n_users[0],
             t->n_users[1], ng, w->n_prompts[0], w->n_prompts[1], w->n_sft_of[0], w->n_sft_of[1], task_vocab_size(t),
             t->bpe ? "BPE tokens (task.tokenizer)" : "words");
    return 0;
}

static void fl_destroy(Task *t) {
    FlWorld *w = t->world;
    if (!w) return;
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < w->n_prompts[s]; i++) free(w->prompts[s][i].text);
        free(w->prompts[s]);
        free(w->split_user[s]);
        free(w->sft_of[s]);
    }
    for (int i = 0; i < w->n_sft; i++) free(w->sft[i].tok);
    free(w->sft);
    free(w->users);
    free(w);
    t->world = NULL;
}

static void fl_prompt(const Task *t, Rng *r, Prompt *p) {
    const FlWorld *w = t->world;
    int s = p->split, j = (int)rng_below(r, (uint32_t)w->n_prompts[s]);
    const FlPrompt *fp = &w->prompts[s][j];
    p->user = fp->user;
    p->len = fp->len;
    memcpy(p->tok, fp->tok, sizeof(int) * (size_t)fp->len);
    p->meta[0] = j;
}

static int fl_prompt_text(const Task *t, const Prompt *p, char *buf, size_t bufsize) {
    const FlWorld *w = t->world;
    CHECK((p->split == SPLIT_TRAIN || p->split == SPLIT_EVAL) && p->meta[0] >= 0 &&
          p->meta[0] < w->n_prompts[p->split], "file task: prompt %d of split %d", p->meta[0], p->split);
    if (!bufsize) return 0;
    snprintf(buf, bufsize, "%s", w->prompts[p->split][p->meta[0]].text);
    return (int)strlen(buf);
}

static int fl_sft_example(const Task *t, Rng *r, Split s, long index, int *tok, int *prompt_len) {
    (void)index;   // r is already a function of (seed, split, index)
    const FlWorld *w = t->world;
    int k = s == SPLIT_EVAL;
    const FlExample *e = &w->sft[w->sft_of[k][rng_below(r, (uint32_t)w->n_sft_of[k])]];
    memcpy(tok, e->tok, sizeof(int) * (size_t)e->len);
    *prompt_len = e->prompt_len;
    return e->len;
}

static const char *fl_summary(const Task *t) { return ((const FlWorld *)t->world)->summary; }

static const char *const fl_no_groups[] = { "all" };

const TaskFamily task_family_file = {
    .name = "file", .n_groups = 1, .group_names = fl_no_groups, .default_max_new = FL_DEFAULT_MAX_NEW,
    .min_new = 1, .data = 1, .own_user = 1, .build = fl_build, .destroy = fl_destroy, .prompt = fl_prompt,
    .prompt_text = fl_prompt_text, .sft_example = fl_sft_example, .summary = fl_summary };
