// test_deck.c — the deck reader: valid decks parse as before; every hostile input is refused with one line that
// names file:line (or --set) and never echoes binary raw; nothing loops on endless input.
#include "test.h"
#include "deck.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir_[256];

// Writes n bytes to <dir>/name and returns the path (static buffer per call site is enough for these tests).
static const char *put(const char *name, const char *bytes, size_t n) {
    static char path[8][400];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 400, "%s/%s", dir_, name);
    FILE *f = fopen(p, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
    return p;
}
#define PUT(name, lit) put(name, lit, sizeof(lit) - 1)

// Parses; returns NULL with err filled, and checks the message is one printable-ASCII line.
static Deck *parse(const char *path, int n_sets, char *const *sets, char *err, size_t errlen) {
    err[0] = 0;
    Deck *d = deck_parse(path, n_sets, sets, err, errlen);
    if (!d) {
        T_ASSERT(err[0], "refused without a message");
        for (const unsigned char *c = (const unsigned char *)err; *c; c++)
            T_ASSERT(*c >= 0x20 && *c < 0x7f, "message byte 0x%02x is not printable ASCII: %s", *c, err);
    }
    return d;
}

static void expect_refused(const char *what, const char *path, int n_sets, char *const *sets, const char *needle) {
    char err[2048];
    Deck *d = parse(path, n_sets, sets, err, sizeof err);
    T_ASSERT(d == NULL, "%s: accepted", what);
    T_ASSERT(strstr(err, needle) != NULL, "%s: message lacks '%s': %s", what, needle, err);
    deck_free(d);
}

static void test_valid_deck_values(void) {
    const char *p = PUT("ok.deck", "# c\n[run]\nseed = 5   # trailing\nout_dir = runs/x\n[train]\nlr = 2e-3\n"
                                   "drop_tied = yes\nadvantage = grpo\n");
    char err[1024];
    char *sets[] = {"train.steps=9", "train.steps = 11", "run.out_dir=runs/y"};
    Deck *d = parse(p, 3, sets, err, sizeof err);
    T_ASSERT(d != NULL, "valid deck refused: %s", err);
    if (!d) return;
    T_ASSERT(deck_int(d, "run.seed") == 5, "seed");
    T_NEAR(deck_float(d, "train.lr"), 2e-3, 0);
    T_ASSERT(deck_bool(d, "train.drop_tied") == 1, "bool");
    T_ASSERT(!strcmp(deck_str(d, "train.advantage"), "grpo"), "enum");
    T_ASSERT(deck_int(d, "train.steps") == 11, "a later --set wins");
    T_ASSERT(!strcmp(deck_str(d, "run.out_dir"), "runs/y"), "--set overrides the file");
    T_ASSERT(strstr(deck_where(d, "train.lr"), "ok.deck:6") != NULL, "where %s",
             deck_where(d, "train.lr"));
    T_ASSERT(!strcmp(deck_where(d, "train.steps"), "--set") && !strcmp(deck_where(d, "sft.lr"), "default"), "where");
    T_ASSERT(strstr(deck_text(d), "[train]\n") && strstr(deck_text(d), "\nlr = 2e-3\n"), "text");
    deck_free(d);
}

static void test_bom_and_crlf_accepted(void) {
    const char *p = PUT("bom.deck", "\xef\xbb\xbf[run]\r\nseed = 3\r\n[train]\r\nlr = 1e-3\r\n");
    char err[1024];
    Deck *d = parse(p, 0, NULL, err, sizeof err);
    T_ASSERT(d != NULL, "BOM at the start / CRLF refused: %s", err);
    if (d) T_ASSERT(deck_int(d, "run.seed") == 3 && deck_float(d, "train.lr") == 1e-3, "values");
    deck_free(d);
}

static void test_folder_and_missing_refused(void) {
    expect_refused("folder", dir_, 0, NULL, "folder");
    char p[400];
    snprintf(p, sizeof p, "%s/absent.deck", dir_);
    expect_refused("missing", p, 0, NULL, "cannot open deck");
}

static void test_endless_input_refused(void) {
    expect_refused("/dev/zero", "/dev/zero", 0, NULL, "larger than");
    size_t n = DECK_MAX_BYTES + 10;
    char *big = malloc(n);
    memset(big, '#', n);
    expect_refused("2 MiB comment", put("big.deck", big, n), 0, NULL, "larger than");
    free(big);
}

static void test_long_line_refused(void) {
    enum { HEAD = 8 };   // "[train]\n"
    size_t n = HEAD + 5000 + 1;
    char *b = malloc(n);
    memcpy(b, "[train]\n", HEAD);
    memset(b + HEAD, ' ', 5000);
    memcpy(b + HEAD + 4990, "steps = 4\n", 10);   // today's reader parsed a split-off tail as its own line
    b[n - 1] = '\n';
    expect_refused("long line", put("long.deck", b, n), 0, NULL, "long.deck:2: line of");
    // 4095 bytes is still a line.
    memset(b + HEAD, ' ', DECK_MAX_LINE);
    memcpy(b + HEAD, "lr = 1e-3", 9);
    b[HEAD + DECK_MAX_LINE] = '\n';
    char err[1024];
    Deck *d = parse(put("edge.deck", b, HEAD + DECK_MAX_LINE + 1), 0, NULL, err, sizeof err);
    T_ASSERT(d != NULL, "4095-byte line refused: %s", err);
    deck_free(d);
    free(b);
}

static void test_nul_refused(void) {
    static const char deck[] = "[train]\nlr = 5\0e-3\n";
    expect_refused("NUL", put("nul.deck", deck, sizeof deck - 1), 0, NULL, "nul.deck:2: a NUL byte");
}

static void test_duplicate_key_refused(void) {
    const char *p = PUT("dup.deck", "[train]\nlr = 1e-3\nsteps = 3\n[run]\nseed=1\n[train]\nlr = 2e-3\n");
    expect_refused("duplicate", p, 0, NULL, "dup.deck:7: train.lr is set twice (first at ");
    expect_refused("duplicate names the first line", p, 0, NULL, "dup.deck:2)");
}

static void test_out_dir_refused(void) {
    const char *bad[] = {"/", "//", "/./", "/usr/..", "/../..", "/etc", "/tmp/", "/usr", "/home", "/x/../y/../tmp",
                         "/a/b/c/../../../../.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char deck[200];
        int n = snprintf(deck, sizeof deck, "[run]\nout_dir = %s\n", bad[i]);
        expect_refused(bad[i], put("od.deck", deck, (size_t)n), 0, NULL, "od.deck:2: run.out_dir");
        char set[200];
        snprintf(set, sizeof set, "run.out_dir=%s", bad[i]);
        char *sets[] = {set};
        expect_refused(bad[i], NULL, 1, sets, "--set: run.out_dir");
    }
    expect_refused("empty", PUT("od.deck", "[run]\nout_dir =\n"), 0, NULL, "run.out_dir");
    const char *good[] = {"runs/a", "/tmp/x/run", "./r", "/home/u/runs", "/x/../srv2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char set[200], err[1024];
        snprintf(set, sizeof set, "run.out_dir=%s", good[i]);
        char *sets[] = {set};
        Deck *d = parse(NULL, 1, sets, err, sizeof err);
        T_ASSERT(d != NULL, "%s refused: %s", good[i], err);
        deck_free(d);
    }
}

// A relative out_dir is judged from the current folder: "." or ".." run from /tmp/x is /tmp or the root.
static void test_relative_out_dir(void) {
    char old[1024];
    T_ASSERT(getcwd(old, sizeof old) != NULL, "getcwd");
    T_ASSERT(chdir("/tmp") == 0, "chdir");
    char *s1[] = {"run.out_dir=."}, *s2[] = {"run.out_dir=../.."}, *s3[] = {"run.out_dir=runs/a"};
    expect_refused(". in /tmp", NULL, 1, s1, "run.out_dir");
    expect_refused("../.. in /tmp", NULL, 1, s2, "run.out_dir");
    char err[1024];
    Deck *d = parse(NULL, 1, s3, err, sizeof err);
    T_ASSERT(d != NULL, "runs/a in /tmp refused: %s", err);
    deck_free(d);
    T_ASSERT(chdir(old) == 0, "chdir back");
}

static void test_invisible_and_binary_escaped(void) {
    expect_refused("BOM inside", PUT("b2.deck", "[train]\nlr = 1e-3\xef\xbb\xbf\n"), 0, NULL, "b2.deck:2:");
    expect_refused("BOM shown escaped", PUT("b2.deck", "[train]\nlr = 1e-3\xef\xbb\xbf\n"), 0, NULL, "\\xef\\xbb\\xbf");
    expect_refused("zero-width space", PUT("zw.deck", "[train]\nl\xe2\x80\x8br = 1\n"), 0, NULL, "\\xe2\\x80\\x8b");
    expect_refused("no-break space", PUT("nb.deck", "[train]\nlr =\xc2\xa0" "1\n"), 0, NULL, "invisible");
    expect_refused("control char", PUT("cc.deck", "[train]\nlr = 1\x1b[31m\n"), 0, NULL, "\\x1b");
    expect_refused("binary", PUT("bin.deck", "[train]\n\xff\xfe\x80\x01garbage\n"), 0, NULL, "bin.deck:2: bytes that are not UTF-8");
    expect_refused("binary in a comment", PUT("bc.deck", "# \xc3\x28\n[train]\n"), 0, NULL, "bc.deck:1:");
    // Valid UTF-8 text in a comment is fine.
    char err[1024];
    Deck *d = parse(PUT("u.deck", "# beta = \xce\xb2, caf\xc3\xa9\n[train]\nbeta = 0.1\n"), 0, NULL, err, sizeof err);
    T_ASSERT(d != NULL, "UTF-8 comment refused: %s", err);
    deck_free(d);
}

static void test_set_checked_like_lines(void) {
    char *s1[] = {"train.lr=1e-3\x01"};
    expect_refused("--set control", NULL, 1, s1, "--set: a control character \\x01");
    char *s2[] = {"train.\xe2\x80\x8blr=1"};
    expect_refused("--set invisible", NULL, 1, s2, "--set: an invisible character");
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    memcpy(big, "run.out_dir=", 12);
    big[4999] = 0;
    char *s3[] = {big};
    expect_refused("--set long", NULL, 1, s3, "bytes; at most");
    free(big);
    char *s4[] = {"train.lr"};
    expect_refused("--set no =", NULL, 1, s4, "missing '='");
    char *s5[] = {"train.lr=nan"};
    expect_refused("--set nan", NULL, 1, s5, "train.lr = 'nan' is not valid");
}

static void test_unknown_key_and_value_messages(void) {
    expect_refused("typo", PUT("t.deck", "[model]\nn_layers = 3\n"), 0, NULL, "t.deck:2: unknown key 'model.n_layers'");
    expect_refused("typo hint", PUT("t.deck", "[model]\nn_layers = 3\n"), 0, NULL, "did you mean 'model.n_layer'");
    expect_refused("range", PUT("r.deck", "[pgrpo]\ndecay = 1.5\n"), 0, NULL, "r.deck:2: pgrpo.decay = '1.5' is not valid");
    expect_refused("inf", PUT("i.deck", "[train]\nlr = inf\n"), 0, NULL, "train.lr = 'inf' is not valid");
    expect_refused("header", PUT("h.deck", "[train\n"), 0, NULL, "h.deck:1: malformed section header");
    expect_refused("no section", PUT("n.deck", "lr = 1\n"), 0, NULL, "before any [section]");
}

static void test_deck_error_format(void) {
    char *sets[] = {"train.prompts=3"};
    char err[1024];
    Deck *d = parse(NULL, 1, sets, err, sizeof err);
    T_ASSERT(d != NULL, "parse: %s", err);
    if (!d) return;
    T_ASSERT(deck_error(d, "train.prompts", "do X", err, sizeof err, "too few (%d)", 3) == -1, "rc");
    T_ASSERT(!strcmp(err, "--set: train.prompts = 3: too few (3) (HINT: do X)"), "got '%s'", err);
    deck_error(d, "train.lr", NULL, err, sizeof err, "bad");
    T_ASSERT(!strcmp(err, "<default>: train.lr = 1e-3 (default): bad"), "got '%s'", err);
    deck_free(d);
}

int main(void) {
    snprintf(dir_, sizeof dir_, "/tmp/pgrpo_test_deck.XXXXXX");
    if (!mkdtemp(dir_)) return 1;
    T_RUN(test_valid_deck_values);
    T_RUN(test_bom_and_crlf_accepted);
    T_RUN(test_folder_and_missing_refused);
    T_RUN(test_endless_input_refused);
    T_RUN(test_long_line_refused);
    T_RUN(test_nul_refused);
    T_RUN(test_duplicate_key_refused);
    T_RUN(test_out_dir_refused);
    T_RUN(test_relative_out_dir);
    T_RUN(test_invisible_and_binary_escaped);
    T_RUN(test_set_checked_like_lines);
    T_RUN(test_unknown_key_and_value_messages);
    T_RUN(test_deck_error_format);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    if (system(cmd)) return 1;
    T_EXIT();
}
