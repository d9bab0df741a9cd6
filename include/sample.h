// sample.h — batched sampling from the policy (model.h) with a KV cache: the prompts are prefilled in packed
// chunks, then every unfinished sequence draws one token per decode step (temperature, top-k, top-p).
// The cache lives in the Model: model_reserve(m, 0, 0, n) sizes it ahead; model_sample grows it if needed.
// Deterministic: one uniform from rng per drawn token, in a fixed order (each sequence's first token in
// sequence order, then per decode step the active sequences in order).
#ifndef PGRPO_SAMPLE_H
#define PGRPO_SAMPLE_H
#include "model.h"          // Model
#include "rng.h"            // Rng

// Batched incremental decoding with the KV cache.
typedef struct {
    float temperature; // > 0; 1 = the policy itself
    int top_k;         // 0 = off
    float top_p;       // 1 = off
    int max_new;       // max new tokens per sequence
    int eos;           // token that ends a sequence (it is kept in the output); -1: none
} SampleParams;

// Samples n completions. Sequence i continues prompt prompt_tok + i*prompt_stride of length prompt_len[i]
// (prompts of different lengths are fine). out_tok (n,max_new) gets the new tokens, out_logp (n,max_new)
// their log-probability under the temperature-1 policy (the behaviour log-prob the learner's forward
// reproduces), out_len (n) the number of new tokens including EOS (max_new when EOS never came).
// Entries past out_len are filled with eos and logp 0. prompt_len[i] + max_new <= maxT.
void model_sample(Model *m, const int *prompt_tok, int prompt_stride, const int *prompt_len, int n,
                  const SampleParams *sp, Rng *rng, int *out_tok, float *out_logp, int *out_len);

#endif
