// import.c — `pgrpo import hf DIR --out F` and `pgrpo import llmc FILE --tokenizer DIR --out F`: a GPT-2
// checkpoint (weights + tokenizer) into a pgrpo policy file. Serial, no deck, no MPI; runs before comm_init.
// The policy's shape comes from the checkpoint (model.context = --context, default n_positions); a deck that
// trains from it must state the same [model] (policy_load names the keys). Exit 2: usage or a missing input;
// 3: a malformed input (one line naming the file, tensor/key, expected vs actual). Nothing is left at --out on
// any error: the store writes a temporary file and renames it.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "app.h"
#include "check.h"
#include "gpt2_io.h"
#include "policy.h"

static const char *IMPORT_USAGE = "pgrpo import hf DIR --out FILE [--tokenizer DIR] [--context N] | "
                                  "pgrpo import llmc FILE.bin --tokenizer DIR --out FILE [--context N]";

typedef struct { const char *format, *src, *out, *tok_dir; int context; } ImportArgs;

static int has(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void parse_import(int argc, char **argv, ImportArgs *g) {
    memset(g, 0, sizeof *g);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--out") || !strcmp(s, "--tokenizer") || !strcmp(s, "--context")) {
            if (!val) die_user(EXIT_USAGE, IMPORT_USAGE, "%s needs a value", s);
            i++;
            if (!strcmp(s, "--out")) g->out = val;
            else if (!strcmp(s, "--tokenizer")) g->tok_dir = val;
            else {
                char *end;
                long c = strtol(val, &end, 10);
                if (*end || c <= 0 || c > 1000000)
                    die_user(EXIT_USAGE, "give a positive number of positions <= the checkpoint's n_positions",
                             "--context '%s' is not a positive integer", val);
                g->context = (int)c;
            }
        } else if (s[0] == '-') die_user(EXIT_USAGE, IMPORT_USAGE, "unknown option '%s' for import", s);
        else if (!g->format) g->format = s;
        else if (!g->src) g->src = s;
        else die_user(EXIT_USAGE, IMPORT_USAGE, "unexpected argument '%s'", s);
    }
    if (!g->format || (strcmp(g->format, "hf") && strcmp(g->format, "llmc")))
        die_user(EXIT_USAGE, IMPORT_USAGE, "import needs a format, hf or llmc (got '%s')", g->format ? g->format : "");
    if (!g->src) die_user(EXIT_USAGE, IMPORT_USAGE, "import %s needs the checkpoint to read", g->format);
    if (!g->out) die_user(EXIT_USAGE, IMPORT_USAGE, "import needs --out FILE (the policy file to write)");
    if (!strcmp(g->format, "llmc") && !g->tok_dir)
        die_user(EXIT_USAGE, "an llm.c .bin has no merges: give --tokenizer DIR (vocab.json + merges.txt or encoder.json + vocab.bpe)",
                 "import llmc needs --tokenizer DIR");
    struct stat st;
    if (stat(g->src, &st)) die_user(EXIT_USAGE, "check the path", "'%s' does not exist", g->src);
    if (g->tok_dir && stat(g->tok_dir, &st)) die_user(EXIT_USAGE, "check the path", "--tokenizer '%s' does not exist", g->tok_dir);
    if (!strcmp(g->format, "hf")) {
        if (!has(g->src, "config.json"))
            die_user(EXIT_USAGE, "give the folder holding config.json and model.safetensors", "%s/config.json does not exist", g->src);
        if (!has(g->src, "model.safetensors") && !has(g->src, "model.safetensors.index.json"))
            die_user(EXIT_USAGE, "pytorch_model.bin is not read: convert it to safetensors first (README \"Your own model\")",
                     "%s holds neither model.safetensors nor model.safetensors.index.json", g->src);
    }
    const char *td = g->tok_dir ? g->tok_dir : g->src;
    if (!(has(td, "vocab.json") && has(td, "merges.txt")) && !(has(td, "encoder.json") && has(td, "vocab.bpe")))
        die_user(EXIT_USAGE, "give the model's tokenizer folder with --tokenizer DIR",
                 "%s holds neither vocab.json + merges.txt nor encoder.json + vocab.bpe", td);
}

static char *parent_dir(const char *path) {
    char *d = strdup(path), *slash = d ? strrchr(d, '/') : NULL;
    if (slash && slash != d) { *slash = 0; return d; }
    free(d);
    return NULL;
}

int cmd_import(int argc, char **argv) {
    ImportArgs g;
    parse_import(argc, argv, &g);
    char err[2048];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    Gpt2Weights w;
    int rc = !strcmp(g.format, "hf") ? gpt2_hf_read(g.src, g.context, &w, err, sizeof err)
                                     : gpt2_llmc_read(g.src, g.context, &w, err, sizeof err);
    if (rc) die_user(EXIT_RUNTIME, "the checkpoint is not a GPT-2 pgrpo can load (README \"Your own model\")", "%s", err);
    Gpt2Tokenizer tok;
    const char *tdir = g.tok_dir ? g.tok_dir : g.src;
    if (gpt2_tok_read_dir(tdir, &tok, err, sizeof err)) {
        gpt2_weights_free(&w);
        die_user(EXIT_RUNTIME, "give the model's tokenizer files with --tokenizer DIR", "%s", err);
    }
    if (tok.n_tokens != w.cfg.vocab) {
        int nt = tok.n_tokens;
        gpt2_tok_free(&tok);
        gpt2_weights_free(&w);
        die_user(EXIT_RUNTIME, "give the tokenizer the model was trained with",
                 "%s: the tokenizer has %d tokens but the model's vocabulary is %d", tdir, nt, w.cfg.vocab);
    }
    if (w.eos_id >= 0 && tok.eos_id >= 0 && w.eos_id != tok.eos_id)
        fprintf(stderr, "pgrpo: warning: config.json eos_token_id %d differs from the tokenizer's <|endoftext|> %d; "
                        "the tokenizer's is kept\n", w.eos_id, tok.eos_id);
    char *dir = parent_dir(g.out);
    if (dir && app_mkdirs(dir)) die_user(EXIT_RUNTIME, "check permissions", "cannot create folder '%s'", dir);
    free(dir);
    rc = policy_write_bpe(g.out, &w.cfg, w.params, &tok, g.src, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) die_user(EXIT_RUNTIME, "check disk space and permissions", "%s", err);
    printf("imported %s %s -> %s: L=%d H=%d C=%d context=%d (checkpoint n_positions %d) V=%d, %zu parameters, "
           "tokenizer %d tokens %d merges eos %d, %.2f s\n", g.format, g.src, g.out, w.cfg.n_layer, w.cfg.n_head,
           w.cfg.d_model, w.cfg.max_t, w.n_positions, w.cfg.vocab, w.n_params, tok.n_tokens, tok.n_merges,
           tok.eos_id, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    printf("train from it with: --set train.base=%s --set model.n_layer=%d --set model.n_head=%d "
           "--set model.d_model=%d --set model.context=%d (and a text task with this tokenizer)\n", g.out,
           w.cfg.n_layer, w.cfg.n_head, w.cfg.d_model, w.cfg.max_t);
    gpt2_tok_free(&tok);
    gpt2_weights_free(&w);
    return 0;
}
