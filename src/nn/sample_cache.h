// sample_cache.h — private to src/nn: the KV cache and decode buffers of model_sample. sample.c defines and
// fills them; model.c owns one per model (model_reserve grows it, model_free frees it), so that reserving,
// freeing and the memory report stay one call on the Model.
#ifndef PGRPO_NN_SAMPLE_CACHE_H
#define PGRPO_NN_SAMPLE_CACHE_H
#include <stddef.h>
#include "model.h"

typedef struct SampleCache SampleCache;

// Returns a cache for at least n_seq sequences and per-thread scratch for `threads` threads: c itself when it
// is large enough, else a new one (c freed). c may be NULL.
SampleCache *sample_cache_grow(SampleCache *c, const ModelConfig *cfg, int n_seq, int threads);
void sample_cache_free(SampleCache *c);
size_t sample_cache_bytes(const SampleCache *c); // 0 for NULL

// model.c: the model's cache, grown to at least n_seq sequences.
SampleCache *model_sample_cache(Model *m, int n_seq);
// model.c: the model's weights packed (layers.h pack_weights) as they are now: packed in this call, or while
// held (model_hold_weights) by the first call of the hold.
const float *model_packed_weights(Model *m);

#endif
