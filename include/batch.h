// batch.h — one step's trajectories (the Batch) and the pure array work on it: the prompt x G expansion the
// sampler reads, and the token/target rows of a minibatch with the gather/scatter between full-sequence and
// completion-token layouts. No MPI, no files.
#ifndef PGRPO_BATCH_H
#define PGRPO_BATCH_H
#include <stdint.h>
#include "task.h"

// One step's trajectories for a contiguous range of np prompts, G completions each (k = prompt*G + g).
typedef struct {
    int np, G, Tc;
    Prompt *prompt;   // (np)
    int *group;       // (np) preference group used for advantages (from train.groups)
    int *ctok;        // (np*G, Tc) completion tokens, EOS-padded
    float *blogp;     // (np*G, Tc) behaviour log-probs
    float *ref_logp;  // (np*G, Tc) log-probs under the frozen reference (beta > 0)
    int *clen;        // (np*G)
    float *reward;    // (np*G)
    float *adv;       // (np*G)
    int64_t *version; // (np) policy version that generated the prompt's completions
} Batch;

// Zeroed arrays for np prompts (at least one row each, so an empty range still has valid pointers).
void batch_alloc(Batch *b, int np, int G, int Tc);
void batch_free(Batch *b);

// The sampler's input: `copies` rows per prompt. Row i*copies + c of ptok (stride TASK_MAX_PROMPT) gets prompt
// i's tokens [0, len) (the rest of the row is left as it is) and plen[i*copies + c] its length.
void batch_expand_prompts(const Prompt *p, int np, int copies, int *ptok, int *plen);

// Token rows of sequences [k0, k0+nk) of b (prompt then completion, id 0 after: any valid id, masked by length): tok (nk, T) the inputs and
// tgt (nk, T) the next tokens, T = the longest sequence minus one (at least 1). Returns T.
int batch_build_tokens(const Batch *b, long k0, long nk, int *tok, int *tgt);
// full (nk, T) per-position values -> out rows k0.. of (np*G, Tc): completion token c of sequence k is predicted
// at position len(prompt) - 1 + c; positions past clen[k] get 0.
void batch_gather_completion(const Batch *b, long k0, long nk, int T, const float *full, float *out);
// The reverse: in rows k0.. of (np*G, Tc) -> full (nk, T), zero elsewhere.
void batch_scatter_completion(const Batch *b, long k0, long nk, int T, const float *in, float *full);

#endif
