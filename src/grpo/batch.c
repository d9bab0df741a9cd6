// batch.c — one step's trajectories and their array layouts (see batch.h).
#include "batch.h"
#include <string.h>
#include "check.h"

void batch_alloc(Batch *b, int np, int G, int Tc) {
    memset(b, 0, sizeof *b);
    b->np = np; b->G = G; b->Tc = Tc;
    size_t n = (size_t)(np > 0 ? np : 1), k = n * (size_t)G;
    b->prompt = xcalloc(n, sizeof(Prompt));
    b->group = xcalloc(n, sizeof(int));
    b->ctok = xcalloc(k * (size_t)Tc, sizeof(int));
    b->blogp = xcalloc(k * (size_t)Tc, sizeof(float));
    b->ref_logp = xcalloc(k * (size_t)Tc, sizeof(float));
    b->clen = xcalloc(k, sizeof(int));
    b->reward = xcalloc(k, sizeof(float));
    b->adv = xcalloc(k, sizeof(float));
    b->version = xcalloc(n, sizeof(int64_t));
}

void batch_free(Batch *b) {
    free(b->prompt); free(b->group); free(b->ctok); free(b->blogp); free(b->ref_logp); free(b->clen);
    free(b->reward); free(b->adv); free(b->version);
    memset(b, 0, sizeof *b);
}

void batch_expand_prompts(const Prompt *p, int np, int copies, int *ptok, int *plen) {
    for (int i = 0; i < np; i++)
        for (int c = 0; c < copies; c++) {
            size_t row = (size_t)i * copies + c;
            memcpy(ptok + row * TASK_MAX_PROMPT, p[i].tok, sizeof(int) * (size_t)p[i].len);
            plen[row] = p[i].len;
        }
}

int batch_build_tokens(const Batch *b, long k0, long nk, int *tok, int *tgt) {
    int T = 1;
    for (long k = k0; k < k0 + nk; k++) {
        int L = b->prompt[k / b->G].len + b->clen[k] - 1;
        if (L > T) T = L;
    }
    for (long i = 0; i < nk; i++) {
        long k = k0 + i;
        const Prompt *p = &b->prompt[k / b->G];
        const int *comp = b->ctok + k * b->Tc;
        int Lp = p->len, L = Lp + b->clen[k];
        // Past L: id 0, a valid id of every vocabulary (TOK_PAD of the word tokenizer, "!" in GPT-2's). Its value
        // does not matter: attention is causal and only completion positions up to clen are gathered (masked by
        // length), so the Batch needs no tokenizer; kept 0 so the built-in tasks stay bit-identical.
        for (int j = 0; j <= T; j++) {
            int tokj = j < Lp ? p->tok[j] : (j < L ? comp[j - Lp] : 0);
            if (j < T) tok[i * T + j] = tokj;
            if (j > 0) tgt[i * T + j - 1] = tokj;
        }
    }
    return T;
}

void batch_gather_completion(const Batch *b, long k0, long nk, int T, const float *full, float *out) {
    for (long i = 0; i < nk; i++) {
        long k = k0 + i;
        const float *row = full + i * T + b->prompt[k / b->G].len - 1;
        for (int c = 0; c < b->Tc; c++) out[k * b->Tc + c] = c < b->clen[k] ? row[c] : 0.0f;
    }
}

void batch_scatter_completion(const Batch *b, long k0, long nk, int T, const float *in, float *full) {
    memset(full, 0, sizeof(float) * (size_t)nk * T);
    for (long i = 0; i < nk; i++) {
        long k = k0 + i;
        float *row = full + i * T + b->prompt[k / b->G].len - 1;
        for (int c = 0; c < b->clen[k]; c++) row[c] = in[k * b->Tc + c];
    }
}
