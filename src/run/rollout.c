// rollout.c — the rollout stage and the reference pass (see rollout.h).
#include "rollout.h"
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

void seq_scratch_alloc(SeqScratch *s, int micro, int T_max, int with_grad) {
    memset(s, 0, sizeof *s);
    s->micro = micro;
    s->T_max = T_max;
    size_t n = (size_t)micro * T_max;
    s->tok = xcalloc(n, sizeof(int));
    s->tgt = xcalloc(n, sizeof(int));
    s->logp_full = xcalloc(n, sizeof(float));
    if (with_grad) {
        s->ent_full = xcalloc(n, sizeof(float));
        s->dlogp_full = xcalloc(n, sizeof(float));
    }
}

void seq_scratch_free(SeqScratch *s) {
    free(s->tok); free(s->tgt); free(s->logp_full); free(s->ent_full); free(s->dlogp_full);
    memset(s, 0, sizeof *s);
}

void reference_logp(Model *ref, SeqScratch *s, Batch *b) {
    long n = (long)b->np * b->G;
    for (long c0 = 0; c0 < n; c0 += s->micro) {
        long cn = n - c0 < s->micro ? n - c0 : s->micro;
        int T = batch_build_tokens(b, c0, cn, s->tok, s->tgt);
        model_forward(ref, s->tok, s->tgt, (int)cn, T, s->logp_full, NULL);
        batch_gather_completion(b, c0, cn, T, s->logp_full, b->ref_logp);
    }
}

void rollout_init(Rollout *r, const TrainConfig *c, const Deck *deck, const Task *task, Model *policy, Model *ref,
                  int rank, long p0, long np, int micro, int T_max) {
    memset(r, 0, sizeof *r);
    *r = (Rollout){.c = c, .deck = deck, .task = task, .policy = policy, .ref = ref, .rank = rank, .p0 = p0};
    batch_alloc(&r->batch, (int)np, c->G, c->Tc);
    size_t n = (size_t)(np ? np : 1) * (size_t)c->G;
    r->ptok = xcalloc(n * TASK_MAX_PROMPT, sizeof(int));
    r->plen = xcalloc(n, sizeof(int));
    if (ref) seq_scratch_alloc(&r->scratch, micro, T_max, 0);
    // TEST HOOK (tests/mpi/test_train_mpi.sh): PGRPO_TEST_INJECT_NAN_STEP=k makes rollout rank 0 report a NaN reward
    // for its first completion of step k, so the test can check that a NaN stops the run by name with the last
    // checkpoint intact. Unset (always, outside that test) it changes nothing.
    const char *inj = getenv("PGRPO_TEST_INJECT_NAN_STEP");
    r->nan_step = inj && *inj ? atol(inj) : -1;
    r->reward = rollout_reward_open(deck, task);
}

RewardSource *rollout_reward_open(const Deck *deck, const Task *task) {
    RewardSection rs;
    char err[1536];
    const char *key = "reward.plugin";
    if (config_reward(deck, &rs, err, sizeof err)) die_user(EXIT_USAGE, NULL, "%s", err);
    RewardSource *src = reward_open(&rs, task, err, sizeof err, &key);
    if (!src)
        deck_fail(deck, key, !strcmp(key, "reward.command") ? "check that the command runs and speaks the line protocol "
                  "(README, Reward plugins and reward processes)" : "see README, Reward plugins and reward processes",
                  "%s", err);
    return src;
}

void rollout_free(Rollout *r) {
    batch_free(&r->batch);
    free(r->ptok);
    free(r->plen);
    seq_scratch_free(&r->scratch);
    reward_close(r->reward);
    if (r->ref) model_free(r->ref);
    memset(r, 0, sizeof *r);
}

// The step's prompts of this rank (global indices step*P + p0 + i), stamped with the policy version.
static void draw_prompts(Rollout *r, long step, long version) {
    Batch *b = &r->batch;
    int max_t = model_config(r->policy)->max_t;
    for (int i = 0; i < b->np; i++) {
        task_prompt(r->task, r->c->seed, SPLIT_TRAIN, step * r->c->P + r->p0 + i, &b->prompt[i]);
        if (b->prompt[i].len + r->c->Tc > max_t)
            deck_fail(r->deck, "model.context", "raise model.context or lower train.max_new",
                      "a prompt of %d tokens plus %d new tokens exceeds the context", b->prompt[i].len, r->c->Tc);
        b->version[i] = version;
    }
}

int rollout_step(Rollout *r, long step, long version, TransferHeader *h) {
    Batch *b = &r->batch;
    int G = r->c->G, n = b->np * G;
    double t0 = comm_now();
    draw_prompts(r, step, version);
    batch_expand_prompts(b->prompt, b->np, G, r->ptok, r->plen);
    Rng rng;
    rng_seed(&rng, r->c->seed, RNG_SAMPLE, (uint64_t)r->rank, (uint64_t)step);
    if (n > 0) model_sample(r->policy, r->ptok, TASK_MAX_PROMPT, r->plen, n, &r->c->sp, &rng, b->ctok, b->blogp, b->clen);
    double t1 = comm_now();
    char what[64];
    snprintf(what, sizeof what, "step %ld", step);
    if (reward_score(r->reward, b->prompt, G, b->ctok, b->clen, n, b->Tc, what, b->reward, r->err, sizeof r->err))
        return -1;
    if (step == r->nan_step && r->rank == 0 && n > 0) b->reward[0] = NAN;   // the test hook (rollout_init)
    double t2 = comm_now();
    // Rollout-only ranks also score the completions under the frozen reference, so that work overlaps the
    // learners' update in asynchronous mode instead of lengthening it.
    if (r->ref) reference_logp(r->ref, &r->scratch, b);
    *h = (TransferHeader){.gen_s = t1 - t0, .reward_s = t2 - t1, .ref_s = comm_now() - t2};
    return 0;
}
