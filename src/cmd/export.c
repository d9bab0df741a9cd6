// export.c — `pgrpo export hf POLICY.h5 --out DIR`: a pgrpo policy as a Hugging Face GPT-2 folder
// (model.safetensors + config.json + vocab.json/merges.txt when the policy carries a BPE tokenizer), loadable by
// transformers' GPT2LMHeadModel. Written into DIR.tmp.<pid> and renamed onto DIR at the end, so DIR either
// does not exist or is complete. Serial, no deck, no MPI.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "app.h"
#include "check.h"
#include "gpt2_io.h"
#include "policy.h"

static const char *EXPORT_USAGE = "pgrpo export hf POLICY.h5 --out DIR";

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%.3800s/%.255s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void parse_export(int argc, char **argv, const char **src, const char **out) {
    const char *fmt = NULL;
    *src = *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) die_user(EXIT_USAGE, EXPORT_USAGE, "--out needs a value");
            *out = argv[++i];
        } else if (argv[i][0] == '-') die_user(EXIT_USAGE, EXPORT_USAGE, "unknown option '%s' for export", argv[i]);
        else if (!fmt) fmt = argv[i];
        else if (!*src) *src = argv[i];
        else die_user(EXIT_USAGE, EXPORT_USAGE, "unexpected argument '%s'", argv[i]);
    }
    if (!fmt || strcmp(fmt, "hf")) die_user(EXIT_USAGE, EXPORT_USAGE, "export needs the format hf (got '%s')", fmt ? fmt : "");
    if (!*src) die_user(EXIT_USAGE, EXPORT_USAGE, "export hf needs the policy file to read");
    if (!*out) die_user(EXIT_USAGE, EXPORT_USAGE, "export needs --out DIR (a new folder)");
    struct stat st;
    if (stat(*src, &st)) die_user(EXIT_USAGE, "check the path", "'%s' does not exist", *src);
    if (!stat(*out, &st)) die_user(EXIT_USAGE, "choose a new folder or remove the old one", "--out '%s' already exists", *out);
}

int cmd_export(int argc, char **argv) {
    const char *src, *out;
    parse_export(argc, argv, &src, &out);
    char err[2048], tmp[4096];
    PolicyFile p;
    if (policy_read_file(src, &p, err, sizeof err)) die_user(EXIT_RUNTIME, "give a pgrpo policy file (final.h5, an SFT base, an import)", "%s", err);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    char *slash = strrchr(tmp, '/');
    if (slash && slash != tmp) { *slash = 0; app_mkdirs(tmp); *slash = '/'; }
    if (mkdir(tmp, 0777)) { policy_file_free(&p); die_user(EXIT_RUNTIME, "check permissions", "cannot create folder '%s'", tmp); }
    int rc = gpt2_hf_write(tmp, &p.cfg, p.params, p.bpe.n_tokens ? p.bpe.eos_id : -1, err, sizeof err);
    if (!rc && p.bpe.n_tokens) rc = gpt2_tok_write_dir(tmp, &p.bpe, err, sizeof err);
    if (!rc && rename(tmp, out)) { snprintf(err, sizeof err, "cannot rename '%.1000s' to '%.1000s'", tmp, out); rc = -1; }
    if (rc) {
        remove_tree(tmp);
        policy_file_free(&p);
        die_user(EXIT_RUNTIME, "check disk space and permissions", "%s", err);
    }
    printf("exported %s -> %s: L=%d H=%d C=%d n_positions=%d V=%d%s\n", src, out, p.cfg.n_layer, p.cfg.n_head,
           p.cfg.d_model, p.cfg.max_t, p.cfg.vocab,
           p.bpe.n_tokens ? ", tokenizer vocab.json + merges.txt" : " (word tokenizer: no tokenizer files written)");
    policy_file_free(&p);
    return 0;
}
