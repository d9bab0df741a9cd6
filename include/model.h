// model.h — the policy: a GPT-style decoder-only transformer in fp32 (no MPI, no HDF5 here).
// Shapes: B batch, T time, C d_model, NH heads, L layers, V vocab, maxT context length.
// Pre-LayerNorm blocks, causal multi-head attention, GELU (tanh) MLP of width 4C, learned positions,
// LM head tied to the token embedding (wte), which halves the embedding memory and is what GPT-2 does.
#ifndef PGRPO_MODEL_H
#define PGRPO_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "rng.h"

typedef struct {
    int n_layer;   // L
    int n_head;    // NH (d_model % n_head == 0)
    int d_model;   // C
    int max_t;     // maxT, context length (prompt + completion)
    int vocab;     // V, from the task's tokenizer
} ModelConfig;

// Parameter tensors, in this order inside one allocation. Gradients and AdamW moments use the same layout.
#define MODEL_NUM_TENSORS 16
typedef struct {
    float *wte;      // (V,C)   token embedding; also the LM head
    float *wpe;      // (maxT,C)
    float *ln1w;     // (L,C)
    float *ln1b;     // (L,C)
    float *qkvw;     // (L,3C,C)
    float *qkvb;     // (L,3C)
    float *attprojw; // (L,C,C)
    float *attprojb; // (L,C)
    float *ln2w;     // (L,C)
    float *ln2b;     // (L,C)
    float *fcw;      // (L,4C,C)
    float *fcb;      // (L,4C)
    float *fcprojw;  // (L,C,4C)
    float *fcprojb;  // (L,C)
    float *lnfw;     // (C)
    float *lnfb;     // (C)
} ParamTensors;

extern const char *const MODEL_TENSOR_NAMES[MODEL_NUM_TENSORS]; // "wte", "wpe", ... in the order above

typedef struct Model Model; // opaque: activations, caches and scratch are private to src/nn

// Sizes of each tensor and the total, for a config (no allocation).
void model_param_sizes(const ModelConfig *cfg, size_t sizes[MODEL_NUM_TENSORS], size_t *total);
// Returns NULL and writes a message to err when the config is invalid (e.g. d_model % n_head != 0).
const char *model_config_error(const ModelConfig *cfg);

// Allocates parameters (one block) and gradients (one block), initialised GPT-2 style from rng
// (N(0,0.02), residual projections scaled by 1/sqrt(2L), LayerNorm weights 1, biases 0). init_rng NULL leaves the
// parameters unset, for a caller that fills them (a load: drawing 124 M normals only to overwrite them took seconds).
Model *model_create(const ModelConfig *cfg, Rng *init_rng);
void model_free(Model *m);
const ModelConfig *model_config(const Model *m);
float *model_params(Model *m);          // (n_params) one contiguous block
float *model_grads(Model *m);           // (n_params) one contiguous block
size_t model_num_params(const Model *m);
ParamTensors model_param_tensors(Model *m); // named pointers into model_params()
ParamTensors model_grad_tensors(Model *m);  // named pointers into model_grads()
void model_zero_grad(Model *m);
// Weight-decay mask (n_params): 1 for matrices (wte, wpe, qkvw, attprojw, fcw, fcprojw), 0 for biases and
// LayerNorm parameters, nanoGPT's rule. Pass it to adamw_step.
void model_decay_mask(const Model *m, unsigned char *mask);

// Threads per rank: forward, backward and sampling split their work over this many threads (OpenMP), with
// OpenBLAS on one thread inside them so the two never oversubscribe. model_create takes OpenBLAS's thread count
// at that moment (run.threads, which the command layer sets first). The bits are the same on any thread count
// and split (no float sum is cut across threads, and no element's value depends on which thread computes it:
// README "Performance").
void model_set_threads(Model *m, int threads);
int model_threads(const Model *m);

// Reserve activations for batches up to (B,T) and a KV cache for up to n_seq sequences (0: none) for
// model_sample (sample.h). All later forward/backward/sample calls within those sizes allocate nothing.
void model_reserve(Model *m, int B, int T, int n_seq);
size_t model_activation_bytes(const Model *m); // what model_reserve allocated, for the memory report

// Each model_forward and model_sample packs the weight matrices for its products (a pass over them). Between
// model_hold_weights(m, 1) and model_hold_weights(m, 0) the caller promises not to change the parameters, and
// only the first call of the hold packs them: the learner's micro-batches of one optimizer step, the frozen
// reference model for a whole run. A change while held is not seen: the calls keep the weights of the hold's
// first call.
void model_hold_weights(Model *m, int held);

// Forward over tokens (B,T). For every position t it returns the log-probability of targets[b,t]
// (the next token) under softmax(logits) at temperature 1, and the entropy of that distribution.
// logp (B,T) and entropy (B,T) may be NULL. Keeps what backward needs.
void model_forward(Model *m, const int *tokens, const int *targets, int B, int T, float *logp, float *entropy);
// Backward of a scalar loss given dloss/dlogp (B,T) for the last forward (zero where a token does not count).
// Accumulates (+=) into the gradients.
void model_backward(Model *m, const float *dlogp);
// Logits (B,T,V) of the last forward (valid until the next forward).
const float *model_logits(const Model *m);

// cblas_sgemm rate in GFLOP/s at n x n x n, the best of three timed runs after a warm-up one (the roof, not
// the noise): what the log's "% of sgemm" is measured against. Takes about 0.1 s at n = 512.
double model_sgemm_gflops(int n);

// FLOPs of one forward+backward over (B,T), for MFU-style reporting (6*N*B*T + attention).
double model_train_flops(const ModelConfig *cfg, int B, int T);

// Sampling (model_sample, SampleParams) is in sample.h, included here so callers of model.h see it too.
#include "sample.h"

#endif
