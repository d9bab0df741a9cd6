// rng.h — deterministic random streams.
// Every stream derives from (seed, role, rank, step) so the same deck and rank layout give the same bits,
// including across a restart (the state is 4 words and is checkpointed as such).
#ifndef PGRPO_RNG_H
#define PGRPO_RNG_H
#include <stdint.h>

typedef struct { uint64_t s[4]; } Rng;   // xoshiro256**

// Stream roles: distinct constants so streams of different roles never coincide.
enum { RNG_INIT = 1, RNG_DATA = 2, RNG_SAMPLE = 3, RNG_TASK = 4, RNG_GROUPS = 5, RNG_EVAL = 6, RNG_TEST = 7 };

void rng_seed(Rng *r, uint64_t seed, uint64_t role, uint64_t rank, uint64_t step);
uint64_t rng_next(Rng *r);
double rng_uniform(Rng *r);             // [0,1)
float rng_uniformf(Rng *r);             // [0,1)
double rng_normal(Rng *r);              // N(0,1), Box-Muller without cached state
uint32_t rng_below(Rng *r, uint32_t n); // uniform in [0,n), unbiased
uint64_t rng_hash(uint64_t a, uint64_t b); // stateless mixing for derived ids

#endif
