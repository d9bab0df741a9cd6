// sft.c — `pgrpo sft DECK`: supervised pre-training of the base policy on the task's corpus,
// data-parallel over ranks with one bucketed gradient allreduce per step.
#include <string.h>
#include "app.h"
#include "policy.h"
#include "check.h"
#include "comm.h"
#include "optim.h"

// Held-out NLL per token of the policy on `n` eval-split corpus examples (every rank computes the same).
double sft_heldout_nll(Model *m, const Task *t, uint64_t seed, int n, int *tok, int *tgt, float *logp) {
    const ModelConfig *c = model_config(m);
    int T = c->max_t;
    double nll = 0, cnt = 0;
    model_hold_weights(m, 1);
    for (int i = 0; i < n; i++) {
        int plen, len = task_sft_example(t, seed, SPLIT_EVAL, i, tok, &plen);
        if (len > T + 1) len = T + 1;
        for (int j = 0; j < len - 1; j++) tgt[j] = tok[j + 1];
        model_forward(m, tok, tgt, 1, len - 1, logp, NULL);
        for (int j = 0; j < len - 1; j++) { nll -= logp[j]; cnt += 1; }
    }
    model_hold_weights(m, 0);
    return nll / (cnt > 0 ? cnt : 1);
}

// One rank's share of an SFT step: nb examples, their token rows and the loss scratch (sized once).
typedef struct {
    long b0, nb;            // examples step*B + b0 .. + nb of the corpus
    int B, T;               // global batch, context
    int *tok, *tgt, *ex, *lens;
    float *logp, *dlogp;
} SftBatch;

static void sft_batch_alloc(SftBatch *sb, int B, long b0, long nb, int T) {
    *sb = (SftBatch){.b0 = b0, .nb = nb, .B = B, .T = T};
    sb->tok = xmalloc(sizeof(int) * (size_t)nb * T);
    sb->tgt = xmalloc(sizeof(int) * (size_t)nb * T);
    sb->ex = xmalloc(sizeof(int) * TASK_MAX_SEQ * (size_t)nb);
    sb->lens = xmalloc(sizeof(int) * (size_t)nb);
    sb->logp = xmalloc(sizeof(float) * (size_t)nb * T);
    sb->dlogp = xmalloc(sizeof(float) * (size_t)nb * T);
}
static void sft_batch_free(SftBatch *sb) {
    free(sb->tok); free(sb->tgt); free(sb->ex); free(sb->lens); free(sb->logp); free(sb->dlogp);
}

// Token rows of this rank's examples for `step`, task_pad after the end (masked out by length: the pad id may be
// a real token, GPT-2's end-of-text). The batch is
// only as long as its longest example: padding to the context would waste most of the work. Returns that length;
// *n_tok = this rank's target tokens.
static int sft_fill(SftBatch *sb, const Task *task, uint64_t seed, int step, float *n_tok) {
    int Tb = 1, pad = task_pad(task);
    for (long i = 0; i < sb->nb; i++) {
        int plen, len = task_sft_example(task, seed, SPLIT_TRAIN, (long)step * sb->B + sb->b0 + i, sb->ex + i * TASK_MAX_SEQ, &plen);
        sb->lens[i] = len > sb->T + 1 ? sb->T + 1 : len;
        if (sb->lens[i] - 1 > Tb) Tb = sb->lens[i] - 1;
    }
    *n_tok = 0;
    for (long i = 0; i < sb->nb; i++) {
        const int *e = sb->ex + i * TASK_MAX_SEQ;
        for (int j = 0; j < Tb; j++) {
            sb->tok[i * Tb + j] = j < sb->lens[i] ? e[j] : pad;
            sb->tgt[i * Tb + j] = j + 1 < sb->lens[i] ? e[j + 1] : pad;
            *n_tok += j + 1 < sb->lens[i];
        }
    }
    return Tb;
}

// Forward, mean token NLL over the global batch, backward, gradient allreduce. Returns the global loss.
static float sft_loss_grad(const App *a, Model *m, SftBatch *sb, int Tb, float n_tok) {
    model_forward(m, sb->tok, sb->tgt, (int)sb->nb, Tb, sb->logp, NULL);
    float loss = 0;
    for (long k = 0; k < sb->nb * Tb; k++) {
        float w = (int)(k % Tb) + 1 < sb->lens[k / Tb] ? 1.0f / n_tok : 0.0f;   // by length, not by the pad id
        sb->dlogp[k] = -w;
        loss -= w * sb->logp[k];
    }
    model_zero_grad(m);
    model_backward(m, sb->dlogp);
    comm_allreduce_sum(model_grads(m), model_num_params(m), a->world);
    comm_allreduce_sum(&loss, 1, a->world);
    return loss;
}

static AdamWConfig sft_optimizer(const SftSection *c, int steps) {
    return (AdamWConfig){
        .lr = (float)c->lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = (float)c->weight_decay,
        .grad_clip = (float)c->grad_clip, .schedule = c->schedule, .warmup_steps = c->warmup, .total_steps = steps,
        .min_lr_frac = 0.1f,
    };
}

int cmd_sft(App *a) {
    const Deck *d = a->deck;
    Task *task = app_task(a);
    ModelConfig cfg = app_model_config(a, task);
    uint64_t seed = a->cfg.run.seed;
    int steps = a->cfg.sft.steps, B = a->cfg.sft.batch, log_every = a->cfg.run.log_every;
    if (B < a->size) deck_fail(d, "sft.batch", "use at least one sequence per rank", "batch %d < %d ranks", B, a->size);
    long b0, nb;
    comm_split_range(B, a->size, a->rank, &b0, &nb);
    Rng init;
    rng_seed(&init, seed, RNG_INIT, 0, 0);   // same initial weights on every rank
    Model *m = model_create(&cfg, &init);
    model_reserve(m, (int)nb, cfg.max_t, 0);
    AdamWConfig oc = sft_optimizer(&a->cfg.sft, steps);
    AdamW opt;
    adamw_init(&opt, &oc, model_num_params(m));
    unsigned char *decay = xmalloc(model_num_params(m));   // decay matrices only, not biases and LayerNorms
    model_decay_mask(m, decay);
    app_print_memory(a, m, 1);
    SftBatch sb;
    sft_batch_alloc(&sb, B, b0, nb, cfg.max_t);
    char path[1024];
    app_sft_path(a, path, sizeof path);

    double t_start = comm_now(), peak = model_sgemm_gflops(512);
    app_log(a, "sft: single-thread cblas_sgemm n=512 on this rank: %.1f GFLOP/s (the %%sgemm column's roof)\n", peak);
    app_log(a, "%6s %9s %9s %9s %10s %9s %7s %6s %8s\n", "step", "loss", "lr", "gnorm", "tok/s", "ms/step", "GF/s",
            "%sgemm", "eta_s");
    for (int step = 0; step < steps; step++) {
        double t0 = comm_now();
        float n_tok;
        int Tb = sft_fill(&sb, task, seed, step, &n_tok);
        comm_allreduce_sum(&n_tok, 1, a->world);
        float loss = sft_loss_grad(a, m, &sb, Tb, n_tok);
        float lr = adamw_lr(&oc, opt.t);
        float gnorm = adamw_step(&opt, model_params(m), model_grads(m), decay);
        double dt = comm_now() - t0;
        if (step % log_every == 0 || step == steps - 1) {
            double eta = (comm_now() - t_start) / (step + 1) * (steps - step - 1);
            double gf = model_train_flops(&cfg, B, Tb) / dt / a->size * 1e-9;   // per rank
            app_log(a, "%6d %9.4f %9.2e %9.3f %10.0f %9.1f %7.2f %6.1f %8.0f\n", step, loss, lr, gnorm, n_tok / dt,
                    1e3 * dt, gf, 100.0 * gf / peak, eta);
        }
    }
    double nll = sft_heldout_nll(m, task, seed, 64, sb.ex, sb.tgt, sb.logp);
    app_log(a, "sft: held-out NLL %.4f nats/token over 64 eval-split examples\n", nll);
    if (a->rank == 0) policy_save(a, path, m, task, steps, "sft");
    comm_barrier(a->world);
    app_log(a, "sft: wrote %s\n", path);
    sft_batch_free(&sb);
    free(decay);
    adamw_free(&opt);
    model_free(m);
    task_free(task);
    return 0;
}
