// policy.h — policy files (SFT bases, final weights: kind "policy", /model/params, /tokenizer/words and the
// model's shape as root attributes), written by one rank atomically through the store; loading also accepts a
// training checkpoint (its /model/params). Errors end the process with the file named (command-layer helpers).
#ifndef PGRPO_POLICY_H
#define PGRPO_POLICY_H
#include "app.h"

// Writes m's weights and t's vocabulary to path (creating its folder). step and stage ("sft", "train") are
// recorded as attributes.
void policy_save(const App *a, const char *path, Model *m, const Task *t, long step, const char *stage);
// A new model with the deck's shape holding the weights of a policy file or of a checkpoint (eval/sample
// --checkpoint take either). Refuses, naming both shapes, a file whose model differs from the deck's.
Model *policy_load(const App *a, const char *path, const Task *t, Rng *init_rng);

#endif
