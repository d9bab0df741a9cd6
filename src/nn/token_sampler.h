// token_sampler.h — private to src/nn: draws one token from a row of logits under temperature, top-k and top-p
// (the sampler of sample.c; tests/unit/test_token_sampler.c checks it against sorting the whole vocabulary).
#ifndef PGRPO_NN_TOKEN_SAMPLER_H
#define PGRPO_NN_TOKEN_SAMPLER_H
#include "sample.h"         // SampleParams

typedef struct { float v; int i; } SortPair;

// Draws one token from logits z (V) with the uniform u in [0,1): the smallest token index whose cumulative
// probability exceeds u, over the candidates best first when filtered (top_k > 0 and < V, or top_p < 1), else
// over the vocabulary in index order. The candidates: the top_k best logits (ties: the lower index first), then
// of those the smallest prefix whose probability at the temperature reaches top_p of the candidates' (top_p
// alone: of the whole vocabulary's). *logp1 gets the token's log-probability at temperature 1. probs (V) and
// pairs (V) are scratch. The caller draws one uniform per token, so its stream stays aligned whatever the
// filters keep.
int token_sample(const float *z, int V, const SampleParams *sp, float u, float *probs, SortPair *pairs,
                 float *logp1);

#endif
