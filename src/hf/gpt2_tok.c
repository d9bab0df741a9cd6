// gpt2_tok.c — GPT-2 tokenizer files (vocab.json/merges.txt, encoder.json/vocab.bpe) as tables (gpt2_io.h).
// The files are read and written by bpe.h (one parser); this module turns them into the tables a policy stores.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "gpt2_io.h"
#include "bpe.h"

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

void gpt2_tok_free(Gpt2Tokenizer *t) {
    for (int i = 0; t->tokens && i < t->n_tokens; i++) free(t->tokens[i]);
    for (int i = 0; t->merges && i < t->n_merges; i++) free(t->merges[i]);
    free(t->tokens);
    free(t->merges);
    memset(t, 0, sizeof *t);
    t->eos_id = -1;
}

// The tables come from bpe.h's reader, so a policy's tokenizer passed every check the encoder relies on (dense
// ids, known merge halves, the byte alphabet): one parser of GPT-2's files in the code base, not two.
static int tables_from_bpe(const Bpe *b, Gpt2Tokenizer *t, char *err, size_t errlen) {
    t->n_tokens = bpe_vocab_size(b);
    t->n_merges = bpe_n_merges(b);
    t->eos_id = bpe_eos_id(b);
    t->tokens = calloc((size_t)t->n_tokens, sizeof *t->tokens);
    t->merges = calloc((size_t)(t->n_merges > 0 ? t->n_merges : 1), sizeof *t->merges);
    if (!t->tokens || !t->merges) return check_errf(err, errlen, "tokenizer: out of memory");
    for (int i = 0; i < t->n_tokens; i++) {
        const char *s = bpe_token(b, i);
        if (!(t->tokens[i] = dupn(s, strlen(s)))) return check_errf(err, errlen, "tokenizer: out of memory");
    }
    for (int r = 0; r < t->n_merges; r++) {
        const char *s = bpe_merge(b, r);
        if (!(t->merges[r] = dupn(s, strlen(s)))) return check_errf(err, errlen, "tokenizer: out of memory");
    }
    return 0;
}

int gpt2_tok_read_dir(const char *dir, Gpt2Tokenizer *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->eos_id = -1;
    Bpe *b = bpe_load_dir(dir, err, errlen);
    if (!b) return -1;
    int rc = tables_from_bpe(b, t, err, errlen);
    bpe_free(b);
    if (rc) gpt2_tok_free(t);
    return rc;
}

int gpt2_tok_write_dir(const char *dir, const Gpt2Tokenizer *t, char *err, size_t errlen) {
    Bpe *b = bpe_from_tables((const char *const *)t->tokens, t->n_tokens, (const char *const *)t->merges,
                             t->n_merges, err, errlen);
    if (!b) return -1;
    int rc = bpe_save_dir(b, dir, err, errlen);
    bpe_free(b);
    return rc;
}

char *gpt2_tok_blob(char *const *strs, int n, size_t *nbytes) {
    size_t nb = 0;
    for (int i = 0; i < n; i++) nb += strlen(strs[i]) + 1;
    char *b = malloc(nb ? nb : 1), *q = b;
    if (!b) return NULL;
    for (int i = 0; i < n; i++) { size_t k = strlen(strs[i]) + 1; memcpy(q, strs[i], k); q += k; }
    *nbytes = nb;
    return b;
}

int gpt2_tok_unblob(const char *blob, size_t nbytes, int n, char ***strs, char *err, size_t errlen) {
    char **s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    const char *p = blob, *end = blob + nbytes;
    int i = 0;
    for (; s && i < n && p < end; i++) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z) break;
        s[i] = dupn(p, (size_t)(z - p));
        p = z + 1;
    }
    if (!s || i != n || p != end) {
        for (int j = 0; s && j < i; j++) free(s[j]);
        free(s);
        return check_errf(err, errlen, "holds %d strings in %zu bytes, expected exactly %d", i, nbytes, n);
    }
    *strs = s;
    return 0;
}
