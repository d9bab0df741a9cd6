// test_file_task.c — task.name = file (task_file.c): users, groups and splits from JSON Lines, the prompt's source
// text (task_prompt_text), no built-in reward, the word vocabulary, the SFT corpus and its default hold-out.
#include "task.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void put(const char *name, const char *text) {
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
}

static Task *make(char *err, size_t n) {
    TaskConfig c;
    memset(&c, 0, sizeof c);
    c.name = "file"; c.path = dir; c.n_users = 10; c.n_eval_users = 10; c.seed = 3;
    return task_create(&c, err, n);
}

static void test_file_task(void) {
    put("users.jsonl", "{\"id\": 7, \"group\": \"b\"}\n{\"id\": \"ann\", \"group\": \"a\"}\n{\"id\": \"zed\", \"group\": \"b\"}\n");
    put("prompts.jsonl", "{\"text\": \"caf\xc3\xa9  au lait?\", \"user\": \"7\", \"split\": \"train\"}\n"
                         "{\"text\": \"tea time\", \"user\": \"ann\", \"split\": \"train\"}\n"
                         "{\"text\": \"night cap\", \"user\": \"zed\", \"split\": \"eval\"}\n");
    char sft[4096] = "";
    for (int i = 0; i < 20; i++)
        strcat(sft, i % 2 ? "{\"prompt\": \"tea time\", \"completion\": \"green tea\"}\n" : "{\"text\": \"just words\"}\n");
    put("sft.jsonl", sft);
    char err[512];
    Task *t = make(err, sizeof err);
    T_ASSERT(t, "%s", err);
    if (!t) return;
    T_ASSERT(!task_has_builtin_reward(t), "the file task's reward comes from [reward]");
    T_ASSERT(task_n_groups(t) == 2 && !strcmp(task_group_name(t, 0), "b") && !strcmp(task_group_name(t, 1), "a"),
             "groups in first-appearance order");
    T_ASSERT(task_n_users(t, SPLIT_TRAIN) == 2 && task_n_users(t, SPLIT_EVAL) == 1, "users with prompts per split");
    // vocabulary: specials, then "café" "au" "lait?" "tea" "time" "night" "cap" "just" "words" "green"
    T_ASSERT(task_vocab_size(t) == 15, "%d", task_vocab_size(t));
    T_ASSERT(task_token_id(t, "caf\xc3\xa9") == 5 && task_token_id(t, "green") == 14, "first-appearance ids");
    int seen[2] = {0, 0};
    for (long i = 0; i < 40; i++) {
        Prompt p;
        task_prompt(t, 1, SPLIT_TRAIN, i, &p);
        char buf[128];
        task_prompt_text(t, &p, buf, sizeof buf);
        int cafe = !strcmp(buf, "caf\xc3\xa9  au lait?"), tea = !strcmp(buf, "tea time");
        T_ASSERT(cafe || tea, "source text '%s'", buf);
        T_ASSERT(p.group == (cafe ? 0 : 1) && p.tok[0] == TOK_BOS && p.tok[p.len - 1] == TOK_SEP &&
                 p.len == (cafe ? 5 : 4), "prompt %ld: group %d len %d", i, p.group, p.len);
        seen[tea]++;
        Prompt q;
        task_prompt(t, 1, SPLIT_TRAIN, i, &q);
        T_ASSERT(!memcmp(&p, &q, sizeof p), "deterministic");
    }
    T_ASSERT(seen[0] > 5 && seen[1] > 5, "both prompts drawn: %d %d", seen[0], seen[1]);
    Prompt e;
    task_prompt(t, 1, SPLIT_EVAL, 0, &e);
    char buf[64];
    T_ASSERT(task_prompt_text(t, &e, buf, 6) == 5 && !strcmp(buf, "night"), "truncated: '%s'", buf);
    // SFT: every 10th example held out (no line marked eval): examples 9 and 19 are pairs.
    for (long i = 0; i < 20; i++) {
        int tok[TASK_MAX_SEQ], pl, n = task_sft_example(t, 2, SPLIT_EVAL, i, tok, &pl);
        T_ASSERT(n == 7 && pl == 4 && tok[3] == TOK_SEP && tok[6] == TOK_EOS, "held-out pair: n %d pl %d", n, pl);
        n = task_sft_example(t, 2, SPLIT_TRAIN, i, tok, &pl);
        T_ASSERT((n == 7 && pl == 4) || (n == 4 && pl == 1 && tok[3] == TOK_EOS), "train: n %d pl %d", n, pl);
    }
    task_free(t);
    put("prompts.jsonl", "{\"text\": \"x\", \"user\": 7, \"split\": \"train\"}\n");
    t = make(err, sizeof err);
    T_ASSERT(!t && strstr(err, "no prompt has \"split\": \"eval\""), "%s", err);
    put("users.jsonl", "{\"id\": 7, \"group\": \"b\"}\n{\"id\": \"7\", \"group\": \"a\"}\n");
    t = make(err, sizeof err);
    T_ASSERT(!t && strstr(err, "users.jsonl:2: duplicate user id \"7\""), "%s", err);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/pgrpo-ft-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    T_RUN(test_file_task);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    T_EXIT();
}
