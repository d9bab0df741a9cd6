// test_batch.c — the Batch's prompt expansion and minibatch rows (grpo/batch.c).
#include <string.h>
#include "batch.h"
#include "test.h"

// Two prompts (lengths 3 and 2), G = 2, Tc = 3; completions of lengths 3, 1, 2, 0.
static void make_batch(Batch *b) {
    batch_alloc(b, 2, 2, 3);
    int p0[] = {1, 10, 11}, p1[] = {1, 20};
    memcpy(b->prompt[0].tok, p0, sizeof p0); b->prompt[0].len = 3;
    memcpy(b->prompt[1].tok, p1, sizeof p1); b->prompt[1].len = 2;
    int ctok[] = {30, 31, 2, 2, 2, 2, 40, 2, 2, 2, 2, 2}, clen[] = {3, 1, 2, 0};
    memcpy(b->ctok, ctok, sizeof ctok);
    memcpy(b->clen, clen, sizeof clen);
}

static void test_expand_prompts(void) {
    Batch b;
    make_batch(&b);
    int ptok[6 * TASK_MAX_PROMPT], plen[6];
    memset(ptok, -1, sizeof ptok);
    batch_expand_prompts(b.prompt, 2, 3, ptok, plen);
    for (int r = 0; r < 6; r++) {
        const Prompt *p = &b.prompt[r / 3];
        T_ASSERT(plen[r] == p->len, "row %d len %d", r, plen[r]);
        T_ASSERT(!memcmp(ptok + r * TASK_MAX_PROMPT, p->tok, sizeof(int) * (size_t)p->len), "row %d tokens", r);
        T_ASSERT(ptok[r * TASK_MAX_PROMPT + p->len] == -1, "row %d: nothing written past the prompt", r);
    }
    batch_free(&b);
}

static void test_build_tokens(void) {
    Batch b;
    make_batch(&b);
    int tok[4 * 8], tgt[4 * 8];
    // Sequences 0..3: lengths 3+3, 3+1, 2+2, 2+0 -> T = 6 - 1 = 5.
    int T = batch_build_tokens(&b, 0, 4, tok, tgt);
    T_ASSERT(T == 5, "T = %d", T);
    int want_tok0[] = {1, 10, 11, 30, 31}, want_tgt0[] = {10, 11, 30, 31, 2};
    T_ASSERT(!memcmp(tok, want_tok0, sizeof want_tok0), "sequence 0 inputs");
    T_ASSERT(!memcmp(tgt, want_tgt0, sizeof want_tgt0), "sequence 0 targets");
    int want_tgt1[] = {10, 11, 2, TOK_PAD, TOK_PAD};
    T_ASSERT(!memcmp(tgt + T, want_tgt1, sizeof want_tgt1), "sequence 1 targets end in PAD");
    int want_tok2[] = {1, 20, 40, 2, TOK_PAD};
    T_ASSERT(!memcmp(tok + 2 * T, want_tok2, sizeof want_tok2), "sequence 2 inputs");
    // A slice: only sequence 3 (prompt alone) -> T = 1 (at least one position).
    T = batch_build_tokens(&b, 3, 1, tok, tgt);
    T_ASSERT(T == 1 && tok[0] == 1 && tgt[0] == 20, "T=%d tok=%d tgt=%d", T, tok[0], tgt[0]);
    batch_free(&b);
}

static void test_gather_scatter(void) {
    Batch b;
    make_batch(&b);
    int tok[4 * 8], tgt[4 * 8];
    int T = batch_build_tokens(&b, 0, 4, tok, tgt);
    float full[4 * 8], out[4 * 3], back[4 * 8];
    for (int i = 0; i < 4 * T; i++) full[i] = (float)(100 + i);
    batch_gather_completion(&b, 0, 4, T, full, out);
    // Completion token c of sequence k is predicted at position len(prompt) - 1 + c.
    T_ASSERT(out[0] == full[2] && out[1] == full[3] && out[2] == full[4], "sequence 0");
    T_ASSERT(out[3] == full[T + 2] && out[4] == 0 && out[5] == 0, "sequence 1: zeros past clen");
    T_ASSERT(out[6] == full[2 * T + 1] && out[7] == full[2 * T + 2] && out[8] == 0, "sequence 2");
    T_ASSERT(out[9] == 0 && out[10] == 0 && out[11] == 0, "sequence 3: empty completion");
    batch_scatter_completion(&b, 0, 4, T, out, back);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < T; j++) {
            int Lp = b.prompt[k / 2].len, c = j - (Lp - 1);
            float want = c >= 0 && c < b.clen[k] ? full[k * T + j] : 0.0f;
            T_ASSERT(back[k * T + j] == want, "scatter k=%d j=%d: %g vs %g", k, j, back[k * T + j], want);
        }
    batch_free(&b);
}

int main(void) {
    T_RUN(test_expand_prompts);
    T_RUN(test_build_tokens);
    T_RUN(test_gather_scatter);
    T_EXIT();
}
