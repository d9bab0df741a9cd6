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
    for (int i = 0; i < n; i++) {
        int plen, len = task_sft_example(t, seed, SPLIT_EVAL, i, tok, &plen);
        if (len > T + 1) len = T + 1;
        for (int j = 0; j < len - 1; j++) tgt[j] = tok[j + 1];
        model_forward(m, tok, tgt, 1, len - 1, logp, NULL);
        for (int j = 0; j < len - 1; j++) { nll -= logp[j]; cnt += 1; }
    }
    return nll / (cnt > 0 ? cnt : 1);
}

int cmd_sft(App *a) {
    const Deck *d = a->deck;
    Task *task = app_task(a);
    ModelConfig cfg = app_model_config(a, task);
    uint64_t seed = (uint64_t)deck_int(d, "run.seed");
    int steps = (int)deck_int(d, "sft.steps"), B = (int)deck_int(d, "sft.batch");
    if (B < a->size) deck_fail(d, "sft.batch", "use at least one sequence per rank", "batch %d < %d ranks", B, a->size);
    long b0, nb;
    comm_split_range(B, a->size, a->rank, &b0, &nb);
    int T = cfg.max_t;

    Rng init;
    rng_seed(&init, seed, RNG_INIT, 0, 0);   // same initial weights on every rank
    Model *m = model_create(&cfg, &init);
    model_reserve(m, (int)nb, T, 0);
    AdamWConfig oc = {
        .lr = (float)deck_float(d, "sft.lr"), .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
        .weight_decay = (float)deck_float(d, "sft.weight_decay"), .grad_clip = (float)deck_float(d, "sft.grad_clip"),
        .schedule = strcmp(deck_str(d, "sft.schedule"), "cosine") ? SCHED_CONSTANT : SCHED_COSINE,
        .warmup_steps = (int)deck_int(d, "sft.warmup"), .total_steps = steps, .min_lr_frac = 0.1f,
    };
    AdamW opt;
    adamw_init(&opt, &oc, model_num_params(m));
    unsigned char *decay = xmalloc(model_num_params(m));   // decay matrices only, not biases and LayerNorms
    model_decay_mask(m, decay);
    app_print_memory(a, m, 1);

    int *tok = xmalloc(sizeof(int) * (size_t)nb * T), *tgt = xmalloc(sizeof(int) * (size_t)nb * T);
    int *ex = xmalloc(sizeof(int) * TASK_MAX_SEQ * (size_t)nb), *lens = xmalloc(sizeof(int) * (size_t)nb);
    float *logp = xmalloc(sizeof(float) * (size_t)nb * T), *dlogp = xmalloc(sizeof(float) * (size_t)nb * T);
    char path[1024];
    app_sft_path(a, path, sizeof path);

    double t_start = comm_now();
    double peak = model_sgemm_gflops(512);
    app_log(a, "sft: single-thread cblas_sgemm n=512 on this rank: %.1f GFLOP/s (the %%sgemm column's roof)\n", peak);
    app_log(a, "%6s %9s %9s %9s %10s %9s %7s %6s %8s\n", "step", "loss", "lr", "gnorm", "tok/s", "ms/step", "GF/s",
            "%sgemm", "eta_s");
    for (int step = 0; step < steps; step++) {
        double t0 = comm_now();
        // Batch of this rank: examples (step*B + b0 .. +nb), PAD after the end, PAD targets masked out.
        // The batch is only as long as its longest example: padding to the context would waste most of the work.
        float n_tok_local = 0;
        int Tb = 1;
        for (long i = 0; i < nb; i++) {
            int plen, len = task_sft_example(task, seed, SPLIT_TRAIN, (long)step * B + b0 + i, ex + i * TASK_MAX_SEQ, &plen);
            lens[i] = len > T + 1 ? T + 1 : len;
            if (lens[i] - 1 > Tb) Tb = lens[i] - 1;
        }
        for (long i = 0; i < nb; i++) {
            const int *e = ex + i * TASK_MAX_SEQ;
            for (int j = 0; j < Tb; j++) {
                tok[i * Tb + j] = j < lens[i] ? e[j] : TOK_PAD;
                tgt[i * Tb + j] = j + 1 < lens[i] ? e[j + 1] : TOK_PAD;
                n_tok_local += j + 1 < lens[i];
            }
        }
        float n_tok = n_tok_local;
        comm_allreduce_sum(&n_tok, 1, a->world);
        model_forward(m, tok, tgt, (int)nb, Tb, logp, NULL);
        float loss = 0;
        for (long k = 0; k < nb * Tb; k++) {
            float w = tgt[k] != TOK_PAD ? 1.0f / n_tok : 0.0f;
            dlogp[k] = -w;
            loss -= w * logp[k];
        }
        model_zero_grad(m);
        model_backward(m, dlogp);
        comm_allreduce_sum(model_grads(m), model_num_params(m), a->world);
        comm_allreduce_sum(&loss, 1, a->world);
        float lr = adamw_lr(&oc, opt.t);
        float gnorm = adamw_step(&opt, model_params(m), model_grads(m), decay);
        double dt = comm_now() - t0;
        if (step % deck_int(d, "run.log_every") == 0 || step == steps - 1) {
            double eta = (comm_now() - t_start) / (step + 1) * (steps - step - 1);
            double gf = model_train_flops(&cfg, B, Tb) / dt / a->size * 1e-9;   // per rank
            app_log(a, "%6d %9.4f %9.2e %9.3f %10.0f %9.1f %7.2f %6.1f %8.0f\n", step, loss, lr, gnorm, n_tok / dt,
                    1e3 * dt, gf, 100.0 * gf / peak, eta);
        }
    }
    double nll = sft_heldout_nll(m, task, seed, 64, ex, tgt, logp);
    app_log(a, "sft: held-out NLL %.4f nats/token over 64 eval-split examples\n", nll);
    if (a->rank == 0) policy_save(a, path, m, task, steps, "sft");
    comm_barrier(a->world);
    app_log(a, "sft: wrote %s\n", path);
    free(tok); free(tgt); free(ex); free(lens); free(decay); free(logp); free(dlogp);
    adamw_free(&opt);
    model_free(m);
    task_free(task);
    return 0;
}
