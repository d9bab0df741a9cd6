// ref_dump.c — dumps one small model, a batch and STEPS training steps (forward, backward, AdamW) to HDF5,
// for the independent PyTorch check in tests/reference/test_model_torch.py.
//
// usage: ref_dump OUT.h5 [--clip X] [--mask] [--steps N] [--seed S]
//   --clip X   AdamW global-norm clip (<= 0: off). run.sh uses a value below the grad norm so clipping acts.
//   --mask     decay only the matrices (wte wpe qkvw attprojw fcw fcprojw); default: decay every element.
//
// File layout (all float32 unless noted; shapes as in model.h):
//   /            attrs: n_layer n_head d_model max_t vocab B T steps seed (int); lr beta1 beta2 eps
//                weight_decay grad_clip (double); decay_mask (int 0/1)
//   /tensor_names       ordering of MODEL_TENSOR_NAMES (fixed strings), /decay/<name> (int8 0/1 per tensor)
//   /batch/tokens, /batch/targets (B,T) int32; /batch/weights (B,T)
//   /step<k>/params/<name>   parameters before step k
//   /step<k>/logits (B,T,V), logp (B,T), entropy (B,T), loss (scalar, double) = -sum(w*logp)/B
//   /step<k>/grads/<name>    gradients of loss (before clipping); attr grad_norm (pre-clip, returned by adamw_step)
//   /step<k>/grads_clipped/<name>  the gradients as adamw_step left them (clipped in place)
//   /final/params/<name>     parameters after the last step
// Parameters are perturbed after model_create (biases and LayerNorm affine get noise) so that every
// tensor influences the output and a wrong bias/LN path cannot hide behind zero init.
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "optim.h"
#include "rng.h"

#define H5OK(x) do { if ((x) < 0) { fprintf(stderr, "ref_dump: HDF5 call failed at %s:%d: %s\n", \
    __FILE__, __LINE__, #x); exit(3); } } while (0)

static void tensor_dims(const ModelConfig *c, int i, hsize_t d[3], int *rank) {
    hsize_t L = c->n_layer, C = c->d_model, V = c->vocab, T = c->max_t;
    const hsize_t tab[MODEL_NUM_TENSORS][3] = {
        {V, C, 0}, {T, C, 0}, {L, C, 0}, {L, C, 0}, {L, 3 * C, C}, {L, 3 * C, 0}, {L, C, C}, {L, C, 0},
        {L, C, 0}, {L, C, 0}, {L, 4 * C, C}, {L, 4 * C, 0}, {L, C, 4 * C}, {L, C, 0}, {C, 0, 0}, {C, 0, 0}};
    *rank = 0;
    for (int k = 0; k < 3 && tab[i][k]; k++) d[(*rank)++] = tab[i][k];
}

static void write_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *buf) {
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    H5OK(sp);
    hid_t ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(ds);
    H5OK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    H5Dclose(ds);
    H5Sclose(sp);
}

static void attr(hid_t loc, const char *name, hid_t type, const void *v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(a);
    H5OK(H5Awrite(a, type, v));
    H5Aclose(a);
    H5Sclose(sp);
}
static void attr_i(hid_t loc, const char *name, int v) { attr(loc, name, H5T_NATIVE_INT, &v); }
static void attr_d(hid_t loc, const char *name, double v) { attr(loc, name, H5T_NATIVE_DOUBLE, &v); }

static hid_t group(hid_t loc, const char *name) {
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(g);
    return g;
}

// Writes the 16 tensors of a block laid out like model_params() under loc/name.
static void write_tensors(hid_t loc, const char *name, const ModelConfig *c, const float *block) {
    size_t sizes[MODEL_NUM_TENSORS], total;
    model_param_sizes(c, sizes, &total);
    hid_t g = group(loc, name);
    size_t off = 0;
    for (int i = 0; i < MODEL_NUM_TENSORS; i++) {
        hsize_t d[3];
        int r;
        tensor_dims(c, i, d, &r);
        hsize_t n = 1;
        for (int k = 0; k < r; k++) n *= d[k];
        if (n != sizes[i]) {
            fprintf(stderr, "ref_dump: tensor %s has %zu elements, header shape says %llu\n",
                    MODEL_TENSOR_NAMES[i], sizes[i], (unsigned long long)n);
            exit(1);
        }
        write_ds(g, MODEL_TENSOR_NAMES[i], H5T_NATIVE_FLOAT, r, d, block + off);
        off += sizes[i];
    }
    H5Gclose(g);
}

static int is_matrix(int i) { // wte wpe qkvw attprojw fcw fcprojw
    return i == 0 || i == 1 || i == 4 || i == 6 || i == 10 || i == 12;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: ref_dump OUT.h5 [--clip X] [--mask] [--steps N] [--seed S]\n");
        return 2;
    }
    const char *out = argv[1];
    double clip = 0.0;
    int use_mask = 0, steps = 2;
    unsigned long long seed = 1234;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--clip") && i + 1 < argc) clip = atof(argv[++i]);
        else if (!strcmp(argv[i], "--mask")) use_mask = 1;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else { fprintf(stderr, "ref_dump: unknown argument %s\n", argv[i]); return 2; }
    }
    if (steps < 1) steps = 1;

    ModelConfig cfg = {.n_layer = 2, .n_head = 4, .d_model = 64, .max_t = 32, .vocab = 97};
    const int B = 3, T = 16;
    const char *err = model_config_error(&cfg);
    if (err) { fprintf(stderr, "ref_dump: bad config: %s\n", err); return 1; }

    Rng rng;
    rng_seed(&rng, seed, RNG_INIT, 0, 0);
    Model *m = model_create(&cfg, &rng);
    model_reserve(m, B, T, 0);
    size_t sizes[MODEL_NUM_TENSORS], n;
    model_param_sizes(&cfg, sizes, &n);
    if (n != model_num_params(m)) { fprintf(stderr, "ref_dump: model_num_params mismatch\n"); return 1; }

    // Perturb: every bias ~ N(0,0.02), LayerNorm weights 1 + N(0,0.1), LayerNorm biases N(0,0.05).
    Rng pr;
    rng_seed(&pr, seed, RNG_TEST, 0, 1);
    ParamTensors P = model_param_tensors(m);
    const int L = cfg.n_layer, C = cfg.d_model;
    for (int i = 0; i < L * C; i++) {
        P.ln1w[i] += 0.1f * (float)rng_normal(&pr);
        P.ln2w[i] += 0.1f * (float)rng_normal(&pr);
        P.ln1b[i] = 0.05f * (float)rng_normal(&pr);
        P.ln2b[i] = 0.05f * (float)rng_normal(&pr);
        P.attprojb[i] = 0.02f * (float)rng_normal(&pr);
        P.fcprojb[i] = 0.02f * (float)rng_normal(&pr);
    }
    for (int i = 0; i < L * 3 * C; i++) P.qkvb[i] = 0.02f * (float)rng_normal(&pr);
    for (int i = 0; i < L * 4 * C; i++) P.fcb[i] = 0.02f * (float)rng_normal(&pr);
    for (int i = 0; i < C; i++) {
        P.lnfw[i] += 0.1f * (float)rng_normal(&pr);
        P.lnfb[i] = 0.05f * (float)rng_normal(&pr);
    }

    int *tokens = malloc(sizeof(int) * B * T), *targets = malloc(sizeof(int) * B * T);
    float *w = malloc(sizeof(float) * B * T), *dlogp = malloc(sizeof(float) * B * T);
    float *logp = malloc(sizeof(float) * B * T), *ent = malloc(sizeof(float) * B * T);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (int)rng_below(&pr, (uint32_t)cfg.vocab);
        // targets are the next token where one exists (as in training), a random one at the end
        targets[i] = (int)rng_below(&pr, (uint32_t)cfg.vocab);
        double u = rng_uniform(&pr);
        w[i] = u < 0.2 ? 0.0f : (float)(2.0 * rng_uniform(&pr) - 1.0); // some positions do not count
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++) targets[b * T + t] = tokens[b * T + t + 1];
    for (int i = 0; i < B * T; i++) dlogp[i] = -w[i] / (float)B;

    unsigned char *mask = NULL;
    if (use_mask) {
        mask = malloc(n);
        size_t off = 0;
        for (int i = 0; i < MODEL_NUM_TENSORS; i++) {
            memset(mask + off, is_matrix(i) ? 1 : 0, sizes[i]);
            off += sizes[i];
        }
    }
    AdamWConfig oc = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f,
                      .grad_clip = (float)clip, .schedule = SCHED_CONSTANT, .warmup_steps = 0,
                      .total_steps = steps, .min_lr_frac = 1.0f};
    AdamW opt;
    adamw_init(&opt, &oc, n);

    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(f);
    attr_i(f, "n_layer", cfg.n_layer); attr_i(f, "n_head", cfg.n_head); attr_i(f, "d_model", cfg.d_model);
    attr_i(f, "max_t", cfg.max_t); attr_i(f, "vocab", cfg.vocab); attr_i(f, "B", B); attr_i(f, "T", T);
    attr_i(f, "steps", steps); attr_i(f, "seed", (int)seed); attr_i(f, "decay_mask", use_mask);
    attr_d(f, "lr", oc.lr); attr_d(f, "beta1", oc.beta1); attr_d(f, "beta2", oc.beta2);
    attr_d(f, "eps", oc.eps); attr_d(f, "weight_decay", oc.weight_decay); attr_d(f, "grad_clip", oc.grad_clip);
    {
        hid_t g = group(f, "decay");
        for (int i = 0; i < MODEL_NUM_TENSORS; i++) {
            signed char v = (signed char)(use_mask ? is_matrix(i) : 1);
            write_ds(g, MODEL_TENSOR_NAMES[i], H5T_NATIVE_SCHAR, 0, NULL, &v);
        }
        H5Gclose(g);
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 16);
        char names[MODEL_NUM_TENSORS][16];
        memset(names, 0, sizeof names);
        for (int i = 0; i < MODEL_NUM_TENSORS; i++) strncpy(names[i], MODEL_TENSOR_NAMES[i], 15);
        hsize_t d = MODEL_NUM_TENSORS;
        write_ds(f, "tensor_names", st, 1, &d, names);
        H5Tclose(st);
    }
    {
        hid_t g = group(f, "batch");
        hsize_t d[2] = {(hsize_t)B, (hsize_t)T};
        write_ds(g, "tokens", H5T_NATIVE_INT, 2, d, tokens);
        write_ds(g, "targets", H5T_NATIVE_INT, 2, d, targets);
        write_ds(g, "weights", H5T_NATIVE_FLOAT, 2, d, w);
        H5Gclose(g);
    }

    for (int s = 0; s < steps; s++) {
        char gname[32];
        snprintf(gname, sizeof gname, "step%d", s);
        hid_t g = group(f, gname);
        write_tensors(g, "params", &cfg, model_params(m));
        model_zero_grad(m);
        model_forward(m, tokens, targets, B, T, logp, ent);
        double loss = 0;
        for (int i = 0; i < B * T; i++) loss -= (double)w[i] * logp[i];
        loss /= B;
        hsize_t d3[3] = {(hsize_t)B, (hsize_t)T, (hsize_t)cfg.vocab}, d2[2] = {(hsize_t)B, (hsize_t)T};
        write_ds(g, "logits", H5T_NATIVE_FLOAT, 3, d3, model_logits(m));
        write_ds(g, "logp", H5T_NATIVE_FLOAT, 2, d2, logp);
        write_ds(g, "entropy", H5T_NATIVE_FLOAT, 2, d2, ent);
        write_ds(g, "loss", H5T_NATIVE_DOUBLE, 0, NULL, &loss);
        model_backward(m, dlogp);
        write_tensors(g, "grads", &cfg, model_grads(m));
        float norm = adamw_step(&opt, model_params(m), model_grads(m), mask);
        write_tensors(g, "grads_clipped", &cfg, model_grads(m));
        attr_d(g, "grad_norm", norm);
        printf("ref_dump: step %d loss %.6f grad_norm %.6f clip %g\n", s, loss, norm, clip);
        H5Gclose(g);
    }
    {
        hid_t g = group(f, "final");
        write_tensors(g, "params", &cfg, model_params(m));
        H5Gclose(g);
    }
    H5OK(H5Fclose(f));
    adamw_free(&opt);
    model_free(m);
    free(tokens); free(targets); free(w); free(dlogp); free(logp); free(ent); free(mask);
    return 0;
}
