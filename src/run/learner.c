// learner.c — advantages, loss, backward, allreduce and AdamW for one step (see learner.h).
#include "learner.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "finite.h"

void learner_init(Learner *l, const TrainConfig *c, const Roles *roles, Model *policy, Model *ref, const int *user_group,
                  int n_groups, long p0, long np, int micro, int T_max) {
    memset(l, 0, sizeof *l);
    *l = (Learner){.c = c, .roles = roles, .policy = policy, .ref = ref, .user_group = user_group, .n_groups = n_groups,
                   .k0 = p0 * c->G};
    size_t n_params = model_num_params(policy), nk = (size_t)(np ? np : 1) * (size_t)c->G;
    adamw_init(&l->opt, &c->opt, n_params);
    l->decay = xmalloc(n_params);
    model_decay_mask(policy, l->decay);
    history_init(&l->hist, &c->acfg, n_groups);
    seq_scratch_alloc(&l->scratch, micro, T_max, 1);
    l->logp = xcalloc(nk * (size_t)c->Tc, sizeof(float));
    l->dlogp = xcalloc(nk * (size_t)c->Tc, sizeof(float));
    l->adv_seq = xcalloc(nk, sizeof(float));
    l->len_eff = xcalloc(nk, sizeof(int));
    l->tied = xcalloc((size_t)(np ? np : 1), 1);
    l->gathered = xcalloc((size_t)roles->n_learners * (size_t)n_groups, sizeof(Welford));
}

void learner_free(Learner *l) {
    adamw_free(&l->opt);
    history_free(&l->hist);
    seq_scratch_free(&l->scratch);
    if (l->ref) model_free(l->ref);
    free(l->decay); free(l->logp); free(l->dlogp); free(l->adv_seq); free(l->len_eff); free(l->tied); free(l->gathered);
    memset(l, 0, sizeof *l);
}

// A non-finite value stops the step before anything of it is written: one line naming the step, the quantity and
// the completion (its index within the step, k0 + local index), kept in l->err.
static int fault(Learner *l, const char *what, long k, long token, double v) {
    const char *val = v != v ? "nan" : v > 0 ? "inf" : "-inf";
    if (token < 0) snprintf(l->err, sizeof l->err, "step %ld: %s of completion %ld is %s", l->step, what, l->k0 + k, val);
    else snprintf(l->err, sizeof l->err, "step %ld: %s of completion %ld (token %ld) is %s", l->step, what, l->k0 + k, token, val);
    return -1;
}

// Advantages: local per-group stats -> allgather -> merge in rank order -> identical history on every learner.
static void advantages(Learner *l, Batch *b, StepStats *st) {
    int G = b->G;
    for (int i = 0; i < b->np; i++) b->group[i] = l->user_group[b->prompt[i].user];
    Welford local[TASK_MAX_GROUPS], merged[TASK_MAX_GROUPS];
    adv_batch_stats_prompts(b->reward, b->group, b->np, G, l->n_groups, local);
    comm_allgather(local, sizeof(Welford) * (size_t)l->n_groups, l->gathered, l->roles->learners);
    adv_merge_ranks(l->gathered, l->roles->n_learners, l->n_groups, merged);
    memcpy(st->grp, merged, sizeof(Welford) * (size_t)l->n_groups);
    adv_compute(&l->c->acfg, &l->hist, merged, b->reward, b->group, b->np, G, b->adv, &st->as);
}

// Per-sequence advantage and loss length (0 for prompts dropped because their rewards tie), and the length stats.
static void sequence_weights(Learner *l, const Batch *b, StepStats *st) {
    int G = b->G, n_tied = l->c->drop_tied ? adv_zero_std_mask(b->reward, b->np, G, l->tied) : 0;
    for (int k = 0; k < b->np * G; k++) {
        int dropped = l->c->drop_tied && l->tied[k / G];
        l->adv_seq[k] = dropped ? 0.0f : b->adv[k];
        l->len_eff[k] = dropped ? 0 : b->clen[k];
        st->len_sum += b->clen[k];
        st->len_n += 1;
        if (b->clen[k] < st->len_min) st->len_min = b->clen[k];
        if (b->clen[k] > st->len_max) st->len_max = b->clen[k];
        st->n_trunc += b->ctok[(size_t)k * b->Tc + b->clen[k] - 1] != l->c->sp.eos;
    }
    st->n_dropped = (double)n_tied * G;
}

// The loss's global normaliser of minibatch [k0, k0+nk) (summed over learners).
static double minibatch_norm(Learner *l, long k0, long nk) {
    const TrainConfig *c = l->c;
    double norm = nk ? loss_norm_local(&c->lcfg, l->len_eff + k0, (int)nk, c->Tc) : 0.0;
    if (c->drop_tied && c->lcfg.agg != AGG_TOKEN_MEAN)
        for (long k = k0; k < k0 + nk; k++) norm -= l->len_eff[k] == 0;
    comm_sum_doubles(&norm, 1, l->roles->learners);
    return norm;
}

// Forward, loss and backward of sequences [c0, c0+cn) into the accumulated gradient (first epoch: statistics).
// -1 (l->err set) when the loss meets a NaN/inf: an advantage, a log-prob, or an overflowing loss.
static int micro_batch(Learner *l, Batch *b, long c0, long cn, double norm, int first_epoch, StepStats *st) {
    const TrainConfig *c = l->c;
    SeqScratch *s = &l->scratch;
    int Tc = c->Tc;
    int T = batch_build_tokens(b, c0, cn, s->tok, s->tgt);
    model_forward(l->policy, s->tok, s->tgt, (int)cn, T, s->logp_full, s->ent_full);
    batch_gather_completion(b, c0, cn, T, s->logp_full, l->logp);
    if (first_epoch) {   // entropy per completion token, through dlogp as scratch before the loss overwrites it
        batch_gather_completion(b, c0, cn, T, s->ent_full, l->dlogp);
        for (long k = c0; k < c0 + cn; k++)
            for (int t = 0; t < b->clen[k]; t++) { st->ent_sum += l->dlogp[k * Tc + t]; st->ent_n += 1; }
    }
    LossStats ls;
    FiniteFault f = {0};
    long off = c0 * Tc;
    if (loss_eval(&c->lcfg, l->logp + off, b->blogp + off, c->beta_on ? b->ref_logp + off : NULL, l->adv_seq + c0,
                  l->len_eff + c0, (int)cn, Tc, Tc, norm, l->dlogp + off, &ls, &f)) {
        if (!strcmp(f.what, "advantage")) return fault(l, "advantage", c0 + (long)f.index, -1, f.value);
        if (!strcmp(f.what, "loss")) return fault(l, "loss of the micro-batch starting at", c0, -1, f.value);
        return fault(l, f.what, c0 + (long)(f.index / (size_t)Tc), (long)(f.index % (size_t)Tc), f.value);
    }
    if (first_epoch) loss_stats_add(&st->ls, &ls);
    batch_scatter_completion(b, c0, cn, T, l->dlogp, s->dlogp_full);
    model_backward(l->policy, s->dlogp_full);
    return 0;
}

// One optimizer step on minibatch j of epoch it; -1 (l->err) on a NaN/inf loss, gradient or weight.
static int minibatch(Learner *l, Batch *b, int it, int j, StepStats *st, Timers *tm) {
    long k0, nk;
    comm_split_range((long)b->np * b->G, l->c->n_mb, j, &k0, &nk);
    double norm = minibatch_norm(l, k0, nk);
    timer_start(tm, TIMER_FWD_BWD);
    model_zero_grad(l->policy);
    // Micro-batches accumulate into the gradient: the global normaliser makes their sum the minibatch's. The
    // weights are those of the step until AdamW: packed by the first micro-batch only.
    int micro = l->scratch.micro, rc = 0;
    model_hold_weights(l->policy, 1);
    for (long c0 = k0; !rc && norm > 0 && c0 < k0 + nk; c0 += micro)
        rc = micro_batch(l, b, c0, k0 + nk - c0 < micro ? k0 + nk - c0 : micro, norm, it == 0, st);
    model_hold_weights(l->policy, 0);
    if (rc) return -1;
    timer_stop(tm, TIMER_FWD_BWD);
    timer_start(tm, TIMER_ALLREDUCE);
    comm_allreduce_sum(model_grads(l->policy), model_num_params(l->policy), l->roles->learners);
    timer_stop(tm, TIMER_ALLREDUCE);
    st->lr = adamw_lr(&l->opt.cfg, l->opt.t);
    if (norm <= 0) return 0;
    st->gnorm = adamw_step(&l->opt, model_params(l->policy), model_grads(l->policy), l->decay);
    // The weights after the update: the (allreduced, so same on every learner) gradient norm, then the weights.
    size_t bad;
    if (!isfinite(st->gnorm))
        return snprintf(l->err, sizeof l->err, "step %ld: gradient norm is %s", l->step, st->gnorm != st->gnorm ? "nan" : "inf"), -1;
    if (finite_check(model_params(l->policy), model_num_params(l->policy), &bad))
        return snprintf(l->err, sizeof l->err, "step %ld: weight %zu is %s after the optimizer step", l->step, bad,
                        model_params(l->policy)[bad] != model_params(l->policy)[bad] ? "nan" : "inf"), -1;
    return 0;
}

int learner_update(Learner *l, long step, Batch *b, StepStats *st, Timers *tm) {
    size_t bad, n = (size_t)b->np * (size_t)b->G;
    l->step = step;
    step_stats_init(st);
    // Rewards before they enter the history (a NaN there would poison every later step), advantages after.
    if (finite_check(b->reward, n, &bad)) return fault(l, "reward", (long)bad, -1, b->reward[bad]);
    advantages(l, b, st);
    if (finite_check(b->adv, n, &bad)) return fault(l, "advantage", (long)bad, -1, b->adv[bad]);
    sequence_weights(l, b, st);
    // Reference log-probs: colocated, here; with rollout-only ranks they came with the trajectories.
    timer_start(tm, TIMER_REFERENCE);
    if (l->ref) reference_logp(l->ref, &l->scratch, b);
    timer_stop(tm, TIMER_REFERENCE);
    for (int it = 0; it < l->c->mu; it++)
        for (int j = 0; j < l->c->n_mb; j++)
            if (minibatch(l, b, it, j, st, tm)) return -1;
    return 0;
}
