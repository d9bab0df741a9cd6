// gpt2_logits.c — for tests/reference/test_gpt2_import.sh: pgrpo's forward on a policy file.
// usage: gpt2_logits POLICY.h5 OUT.f32 TOK...   logits (T,V) of the sequence TOK... as raw float32 (C order)
//        gpt2_logits --dump POLICY.h5 OUT.bin    the parameter block (raw float32), then the tokenizer tables
//                                                (tokens and merges, NUL-terminated), for bit-exact comparisons
//        gpt2_logits --tensor FILE.safetensors NAME OUT.f32   one tensor through st_read_f32 (dtype conversion check)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "policy.h"
#include "rng.h"
#include "safetensors.h"

static int tensor(const char *file, const char *name, const char *out) {
    char err[2048];
    StFile *f = st_open(file, err, sizeof err);
    const StTensor *t = f ? st_find(f, name) : NULL;
    if (!t) { fprintf(stderr, "gpt2_logits: %s\n", f ? "no such tensor" : err); st_close(f); return 3; }
    float *x = malloc((size_t)t->n_elems * sizeof *x + 1);
    if (st_read_f32(f, t, x, (size_t)t->n_elems, err, sizeof err)) { fprintf(stderr, "gpt2_logits: %s\n", err); return 3; }
    FILE *o = fopen(out, "wb");
    if (!o) { perror(out); return 3; }
    fwrite(x, sizeof *x, (size_t)t->n_elems, o);
    fclose(o);
    free(x);
    st_close(f);
    return 0;
}

static int dump(const char *policy, const char *out) {
    PolicyFile p;
    char err[2048];
    if (policy_read_file(policy, &p, err, sizeof err)) { fprintf(stderr, "gpt2_logits: %s\n", err); return 3; }
    FILE *f = fopen(out, "wb");
    if (!f) { perror(out); return 3; }
    fwrite(p.params, sizeof(float), p.n_params, f);
    for (int i = 0; i < p.bpe.n_tokens; i++) fwrite(p.bpe.tokens[i], 1, strlen(p.bpe.tokens[i]) + 1, f);
    for (int i = 0; i < p.bpe.n_merges; i++) fwrite(p.bpe.merges[i], 1, strlen(p.bpe.merges[i]) + 1, f);
    fprintf(f, "L=%d H=%d C=%d T=%d V=%d eos=%d", p.cfg.n_layer, p.cfg.n_head, p.cfg.d_model, p.cfg.max_t,
            p.cfg.vocab, p.bpe.eos_id);
    fclose(f);
    policy_file_free(&p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--dump")) return dump(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "--tensor")) return tensor(argv[2], argv[3], argv[4]);
    if (argc < 4) { fprintf(stderr, "usage: gpt2_logits POLICY.h5 OUT.f32 TOK... | --dump POLICY.h5 OUT.bin\n"); return 2; }
    PolicyFile p;
    char err[2048];
    if (policy_read_file(argv[1], &p, err, sizeof err)) { fprintf(stderr, "gpt2_logits: %s\n", err); return 3; }
    int T = argc - 3;
    if (T > p.cfg.max_t) { fprintf(stderr, "gpt2_logits: %d tokens > context %d\n", T, p.cfg.max_t); return 2; }
    int *tok = calloc((size_t)T, sizeof *tok), *tgt = calloc((size_t)T, sizeof *tgt);
    for (int i = 0; i < T; i++) tok[i] = atoi(argv[3 + i]);
    Rng r;
    rng_seed(&r, 1, 0, 0, 0);
    Model *m = model_create(&p.cfg, &r);
    memcpy(model_params(m), p.params, p.n_params * sizeof(float));
    model_reserve(m, 1, T, 0);
    model_forward(m, tok, tgt, 1, T, NULL, NULL);
    FILE *f = fopen(argv[2], "wb");
    if (!f) { perror(argv[2]); return 3; }
    fwrite(model_logits(m), sizeof(float), (size_t)T * (size_t)p.cfg.vocab, f);
    fclose(f);
    model_free(m);
    policy_file_free(&p);
    free(tok);
    free(tgt);
    return 0;
}
