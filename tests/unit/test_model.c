// test_model.c — the policy: gradients by finite differences, KV-cache sampling against the full forward,
// entropy and normalisation, causality, and the FLOP formula.
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "model.h"
#include "rng.h"

static Model *tiny_model(int L, int NH, int C, int V, int maxT, float std, uint64_t seed) {
    ModelConfig cfg = {.n_layer = L, .n_head = NH, .d_model = C, .max_t = maxT, .vocab = V};
    Rng r;
    rng_seed(&r, seed, RNG_TEST, 0, 0);
    Model *m = model_create(&cfg, &r);
    // GPT-2 init leaves LN gains at 1 and biases at 0; perturb every parameter so each term is exercised
    float *p = model_params(m);
    for (size_t i = 0; i < model_num_params(m); i++) p[i] += (float)(rng_normal(&r) * std);
    return m;
}

static void random_tokens(int *x, int n, int V, Rng *r) {
    for (int i = 0; i < n; i++) x[i] = (int)rng_below(r, V);
}

static double weighted_loss(Model *m, const int *tok, const int *tgt, const float *w, int B, int T, float *logp) {
    model_forward(m, tok, tgt, B, T, logp, NULL);
    double s = 0.0;
    for (int i = 0; i < B * T; i++) s += (double)w[i] * logp[i];
    return s;
}

// d loss / d *x by central differences at eps and eps/2, Richardson-combined: (4 D(eps/2) - D(eps)) / 3 cancels
// the eps^2 term. *x is restored.
static double richardson(Model *m, float *x, const int *tok, const int *tgt, const float *w, int B, int T,
                         float *logp, float eps) {
    float keep = *x;
    double d[2];
    for (int e = 0; e < 2; e++) {
        float h = e == 0 ? eps : eps / 2;
        *x = keep + h;
        double lp = weighted_loss(m, tok, tgt, w, B, T, logp);
        *x = keep - h;
        double lm = weighted_loss(m, tok, tgt, w, B, T, logp);
        *x = keep;
        d[e] = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
    }
    return (4.0 * d[1] - d[0]) / 3.0;
}

// Central differences on up to 24 elements of every tensor; loss = sum_bt w_bt logp_bt with random w.
// Tolerance |analytic - numeric| <= 1e-2 * max(|a|,|n|) + 1e-4. The fp32 forward makes the loss noisy at
// ~1e-6 absolute, so a small eps drowns small gradients in noise while a large one leaves eps^2 truncation
// on the curved ones (wte); Richardson extrapolation with eps 4e-2 measured best (worst ~0.7% relative,
// ~1e-4 absolute), and a deliberately broken backward fails by 10-100x.
static void gradcheck(int B, int T, int per_tensor, uint64_t seed) {
    enum { L = 2, NH = 2, C = 8, V = 11 };
    Model *m = tiny_model(L, NH, C, V, T + 2, 0.3f, seed);
    Rng r;
    rng_seed(&r, seed + 1, RNG_TEST, 0, 0);
    int *tok = malloc(sizeof(int) * B * T), *tgt = malloc(sizeof(int) * B * T);
    float *w = malloc(sizeof(float) * B * T), *logp = malloc(sizeof(float) * B * T);
    random_tokens(tok, B * T, V, &r);
    random_tokens(tgt, B * T, V, &r);
    for (int i = 0; i < B * T; i++) w[i] = (float)rng_normal(&r);
    w[3] = 0.0f; // a token that does not count
    model_zero_grad(m);
    weighted_loss(m, tok, tgt, w, B, T, logp);
    model_backward(m, w);
    size_t sizes[MODEL_NUM_TENSORS], total;
    model_param_sizes(model_config(m), sizes, &total);
    float *p = model_params(m), *g = model_grads(m);
    double worst = 0.0, worst_abs = 0.0;
    const char *worst_name = "";
    size_t off = 0;
    const float eps = 4e-2f;
    for (int k = 0; k < MODEL_NUM_TENSORS; k++) {
        int n_check = sizes[k] < (size_t)per_tensor ? (int)sizes[k] : per_tensor;
        double tensor_worst = 0.0;
        int nonzero = 0;
        for (int j = 0; j < n_check; j++) {
            size_t idx = off + (sizes[k] <= (size_t)per_tensor ? (size_t)j : rng_below(&r, (uint32_t)sizes[k]));
            double num = richardson(m, p + idx, tok, tgt, w, B, T, logp, eps), ana = g[idx];
            double big = fmax(fabs(num), fabs(ana));
            T_ASSERT(fabs(num - ana) <= 1e-2 * big + 1e-4, "%s[%zu]: analytic %.6g vs numeric %.6g",
                     MODEL_TENSOR_NAMES[k], idx - off, ana, num);
            if (fabs(ana) > 1e-4) nonzero++;
            double err = big > 1e-2 ? fabs(num - ana) / big : 0.0; // relative error where noise is < 1%
            if (fabs(num - ana) > worst_abs) worst_abs = fabs(num - ana);
            if (err > tensor_worst) tensor_worst = err;
        }
        // wpe rows past T get no gradient; every other tensor must have some non-zero entries
        if (k != 1) T_ASSERT(nonzero > 0, "tensor %s: all sampled gradients are zero", MODEL_TENSOR_NAMES[k]);
        if (tensor_worst > worst) { worst = tensor_worst; worst_name = MODEL_TENSOR_NAMES[k]; }
        off += sizes[k];
    }
    printf("# gradcheck B=%d T=%d: worst relative error %.3g (tensor %s, |grad| > 1e-2), worst abs error %.3g, eps %g\n",
           B, T, worst, worst_name, worst_abs, eps);
    // backward accumulates: a second backward doubles the gradient
    float g0 = g[0], g_last = g[total - 1];
    weighted_loss(m, tok, tgt, w, B, T, logp);
    model_backward(m, w);
    T_NEAR(g[0], 2.0f * g0, 1e-6 + 1e-5 * fabs(g0));
    T_NEAR(g[total - 1], 2.0f * g_last, 1e-6 + 1e-5 * fabs(g_last));
    free(tok); free(tgt); free(w); free(logp);
    model_free(m);
}

static void test_gradcheck_every_tensor(void) { gradcheck(2, 5, 24, 11); }
// T > ATT_BLOCK (32): the block-triangular attention GEMMs take their multi-block path
static void test_gradcheck_long_context(void) { gradcheck(1, 37, 8, 13); }

static void test_entropy_and_normalisation(void) {
    enum { B = 2, T = 6, V = 13 };
    Model *m = tiny_model(2, 2, 16, V, 8, 0.2f, 21);
    Rng r;
    rng_seed(&r, 22, RNG_TEST, 0, 0);
    int tok[B * T], tgt[B * T];
    float logp[B * T], ent[B * T], all[V][B * T];
    random_tokens(tok, B * T, V, &r);
    random_tokens(tgt, B * T, V, &r);
    model_forward(m, tok, tgt, B, T, logp, ent);
    const float *z = model_logits(m);
    double worst_h = 0.0, worst_lp = 0.0;
    for (int i = 0; i < B * T; i++) {
        const float *row = z + (size_t)i * V;
        double mx = row[0], s = 0.0, ez = 0.0;
        for (int v = 1; v < V; v++) if (row[v] > mx) mx = row[v];
        for (int v = 0; v < V; v++) { double e = exp(row[v] - mx); s += e; ez += e * row[v]; }
        double lse = mx + log(s), h = lse - ez / s;
        T_NEAR(ent[i], h, 1e-5);
        T_NEAR(logp[i], row[tgt[i]] - lse, 1e-5);
        T_ASSERT(ent[i] > 0.0f && ent[i] <= logf((float)V) + 1e-5f, "entropy %g out of [0, log V]", ent[i]);
        if (fabs(ent[i] - h) > worst_h) worst_h = fabs(ent[i] - h);
        if (fabs(logp[i] - (row[tgt[i]] - lse)) > worst_lp) worst_lp = fabs(logp[i] - (row[tgt[i]] - lse));
    }
    // the log-probs of every possible target normalise: logsumexp_v logp(v) = 0
    for (int v = 0; v < V; v++) {
        int t2[B * T];
        for (int i = 0; i < B * T; i++) t2[i] = v;
        model_forward(m, tok, t2, B, T, all[v], NULL);
    }
    for (int i = 0; i < B * T; i++) {
        double s = 0.0;
        for (int v = 0; v < V; v++) s += exp((double)all[v][i]);
        T_NEAR(log(s), 0.0, 1e-5);
    }
    printf("# entropy max abs err %.3g, logp max abs err %.3g\n", worst_h, worst_lp);
    model_free(m);
}

static void test_causality(void) {
    enum { B = 2, T = 8, V = 13 };
    Model *m = tiny_model(2, 2, 16, V, 8, 0.2f, 31);
    Rng r;
    rng_seed(&r, 32, RNG_TEST, 0, 0);
    int tok[B * T], tgt[B * T];
    float a[B * T], b[B * T];
    random_tokens(tok, B * T, V, &r);
    random_tokens(tgt, B * T, V, &r);
    model_forward(m, tok, tgt, B, T, a, NULL);
    tok[0 * T + 5] = (tok[5] + 1) % V; // change a future token of sequence 0
    model_forward(m, tok, tgt, B, T, b, NULL);
    for (int t = 0; t < 5; t++) T_NEAR(a[t], b[t], 1e-6);
    T_ASSERT(fabsf(a[5] - b[5]) > 1e-6f, "the changed token must change its own position's log-prob");
    for (int t = 0; t < T; t++) T_NEAR(a[T + t], b[T + t], 1e-6); // the other sequence is untouched
    model_free(m);
}

// The sampled token tk of a logits row (V) passes the filters of sp: it lies in the top-p nucleus (after top-k) at
// sp's temperature, and ranks within the top k.
static void check_filters(const float *row, int V, int tk, const SampleParams *sp, const char *what) {
    if (sp->top_p < 1.0f) {
        int kk = sp->top_k > 0 && sp->top_k < V ? sp->top_k : V;
        double mass_above = 0.0, total = 0.0, mx = row[0];
        for (int v = 1; v < V; v++) if (row[v] > mx) mx = row[v];
        for (int v = 0; v < V; v++) {
            int rank = 0;
            for (int u = 0; u < V; u++) rank += row[u] > row[v];
            if (rank >= kk) continue;
            double e = exp((row[v] - mx) / sp->temperature);
            total += e;
            if (row[v] > row[tk]) mass_above += e;
        }
        T_ASSERT(mass_above < sp->top_p * total * (1 + 1e-5), "%s: token outside the nucleus (mass above %g)",
                 what, mass_above / total);
    }
    if (sp->top_k > 0) {
        int above = 0;
        for (int v = 0; v < V; v++) above += row[v] > row[tk];
        T_ASSERT(above < sp->top_k, "%s: token of rank %d sampled with top_k %d", what, above, sp->top_k);
    }
}

// Samples with the KV cache, then scores the same sequences with a full forward.
static void check_sampling(Model *m, const SampleParams *sp, uint64_t seed, const char *what, int *n_eos_stops) {
    enum { N = 5, P = 8 };
    const ModelConfig *cfg = model_config(m);
    int V = cfg->vocab, max_new = sp->max_new;
    int plen[N] = {1, 3, 6, 2, 4};
    int prompt[N * P];
    Rng r;
    rng_seed(&r, seed + 1000, RNG_TEST, 0, 0);
    random_tokens(prompt, N * P, V, &r);
    int *out = malloc(sizeof(int) * N * max_new), *out2 = malloc(sizeof(int) * N * max_new);
    float *lp = malloc(sizeof(float) * N * max_new), *lp2 = malloc(sizeof(float) * N * max_new);
    int len[N], len2[N];
    rng_seed(&r, seed, RNG_SAMPLE, 0, 0);
    model_sample(m, prompt, P, plen, N, sp, &r, out, lp, len);
    rng_seed(&r, seed, RNG_SAMPLE, 0, 0);
    model_sample(m, prompt, P, plen, N, sp, &r, out2, lp2, len2);
    T_ASSERT(memcmp(out, out2, sizeof(int) * N * max_new) == 0 && memcmp(lp, lp2, sizeof(float) * N * max_new) == 0 &&
             memcmp(len, len2, sizeof len) == 0, "%s: same rng must give the same samples", what);
    // full forward over prompt + completion, padded; causality makes the padding irrelevant
    int T = P + max_new;
    int *tok = calloc((size_t)N * T, sizeof(int)), *tgt = calloc((size_t)N * T, sizeof(int));
    float *flp = malloc(sizeof(float) * N * T);
    for (int i = 0; i < N; i++) {
        T_ASSERT(len[i] >= 1 && len[i] <= max_new, "%s: len %d", what, len[i]);
        int seq[P + 64];
        for (int t = 0; t < plen[i]; t++) seq[t] = prompt[i * P + t];
        for (int g = 0; g < len[i]; g++) seq[plen[i] + g] = out[i * max_new + g];
        for (int t = 0; t + 1 < plen[i] + len[i]; t++) { tok[i * T + t] = seq[t]; tgt[i * T + t] = seq[t + 1]; }
        for (int g = 0; g < len[i]; g++) {
            T_ASSERT(out[i * max_new + g] != sp->eos || g == len[i] - 1, "%s: EOS inside the completion", what);
            T_ASSERT(lp[i * max_new + g] < 0.0f, "%s: logp %g", what, lp[i * max_new + g]);
        }
        if (len[i] < max_new) {
            T_ASSERT(out[i * max_new + len[i] - 1] == sp->eos, "%s: stopped early without EOS", what);
            (*n_eos_stops)++;
        }
        for (int g = len[i]; g < max_new; g++)
            T_ASSERT(out[i * max_new + g] == sp->eos && lp[i * max_new + g] == 0.0f, "%s: padding", what);
    }
    // the last sampled token is never an input, so T-1 positions score every sample
    int Tf = T - 1;
    int *tok2 = malloc(sizeof(int) * N * Tf), *tgt2 = malloc(sizeof(int) * N * Tf);
    for (int i = 0; i < N; i++)
        for (int t = 0; t < Tf; t++) { tok2[i * Tf + t] = tok[i * T + t]; tgt2[i * Tf + t] = tgt[i * T + t]; }
    model_forward(m, tok2, tgt2, N, Tf, flp, NULL);
    const float *z = model_logits(m);
    double worst = 0.0;
    for (int i = 0; i < N; i++)
        for (int g = 0; g < len[i]; g++) {
            int t = plen[i] - 1 + g;
            double d = fabs(flp[i * Tf + t] - lp[i * max_new + g]);
            if (d > worst) worst = d;
            check_filters(z + ((size_t)i * Tf + t) * V, V, out[i * max_new + g], sp, what);
        }
    T_ASSERT(worst < 1e-4, "%s: KV-cache logp vs full forward: max abs diff %.3g", what, worst);
    printf("# %s: KV-cache vs forward max |dlogp| %.3g\n", what, worst);
    free(out); free(out2); free(lp); free(lp2); free(tok); free(tgt); free(flp); free(tok2); free(tgt2);
}

static void test_kv_sampling_matches_forward(void) {
    Model *m = tiny_model(2, 2, 16, 13, 48, 0.3f, 41);
    int stops = 0;
    // 6 + 36 > ATT_BLOCK positions: the forward's multi-block attention is compared too
    SampleParams plain = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = 36, .eos = -1};
    check_sampling(m, &plain, 1, "plain", &stops);
    SampleParams topk = {.temperature = 0.7f, .top_k = 3, .top_p = 1.0f, .max_new = 12, .eos = -1};
    check_sampling(m, &topk, 2, "top_k=3 T=0.7", &stops);
    SampleParams topp = {.temperature = 1.3f, .top_k = 0, .top_p = 0.8f, .max_new = 12, .eos = -1};
    check_sampling(m, &topp, 3, "top_p=0.8 T=1.3", &stops);
    SampleParams both = {.temperature = 1.0f, .top_k = 5, .top_p = 0.9f, .max_new = 16, .eos = 2};
    check_sampling(m, &both, 4, "top_k=5 top_p=0.9 eos=2", &stops);
    T_ASSERT(model_activation_bytes(m) > 0, "reserve reported nothing");
    model_free(m);
}

// The decode attention's head widths (sample.c's decode_attention_row): hs 32 and 64 (whole register blocks),
// 80 (a block of 64, then two of 8) and 10 (one of 8 and two scalar columns), over more positions than one
// position block, each against the full forward.
static void test_kv_sampling_head_sizes(void) {
    int shapes[4][2] = {{64, 2}, {128, 2}, {80, 1}, {20, 2}}; // (d_model, heads)
    for (int k = 0; k < 4; k++) {
        Model *m = tiny_model(1, shapes[k][1], shapes[k][0], 13, 48, 0.3f, 51 + k);
        SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = 36, .eos = -1};
        char what[64];
        snprintf(what, sizeof what, "d_model %d, %d heads", shapes[k][0], shapes[k][1]);
        int stops = 0;
        check_sampling(m, &sp, 5 + k, what, &stops);
        model_free(m);
    }
}

// Adjacent equal prompts (a GRPO group) read their prompt's K/V from the first one's cache (its own prompt
// rows are never written). top_k = 1 makes the tokens independent of the uniforms: so the two rows of [p, p]
// must match bit for bit, and the p of [p, x, p], prefilled on its own, must sample the same tokens (its bits
// may differ: OpenBLAS rounds a row of a 63-row prefill GEMM differently from one of 21 rows).
static void test_shared_prompt_bits(void) {
    enum { P = 21, NEW = 30 };
    Model *m = tiny_model(2, 2, 64, 13, 64, 0.3f, 91);
    int prompt[3 * P], plen[3] = {P, P, P}, outa[3 * NEW], outb[3 * NEW], lena[3], lenb[3];
    float lpa[3 * NEW], lpb[3 * NEW];
    Rng r;
    rng_seed(&r, 92, RNG_TEST, 0, 0);
    random_tokens(prompt, 2 * P, 13, &r);
    memcpy(prompt + 2 * P, prompt, sizeof(int) * P);       // [p, x, p]: p twice, not adjacent
    SampleParams sp = {.temperature = 1.0f, .top_k = 1, .top_p = 1.0f, .max_new = NEW, .eos = -1};
    model_sample(m, prompt, 0, plen, 2, &sp, &r, outa, lpa, lena); // [p, p]: stride 0, shared
    model_sample(m, prompt, P, plen, 3, &sp, &r, outb, lpb, lenb);
    T_ASSERT(memcmp(outa, outa + NEW, sizeof(int) * NEW) == 0, "[p, p]: other tokens");
    T_ASSERT(memcmp(lpa, lpa + NEW, sizeof(float) * NEW) == 0, "[p, p]: other log-prob bits");
    T_ASSERT(memcmp(outa, outb + 2 * NEW, sizeof(int) * NEW) == 0, "p shared vs alone: other tokens");
    double worst = 0.0;
    for (int g = 0; g < NEW; g++) worst = fmax(worst, fabs(lpa[NEW + g] - lpb[2 * NEW + g]));
    T_ASSERT(worst < 1e-5, "p shared vs alone: max |dlogp| %.3g", worst);
    model_free(m);
}

// Prefill edge cases: prompts of length 1 and maxT - max_new, an adjacent duplicate (prefilled once, its cache
// copied), and more prompt positions than one prefill chunk (1024 rows), so one prompt straddles two chunks.
static void test_prefill_long_and_short_prompts(void) {
    enum { N = 6, MAXT = 400, NEW = 8, P = MAXT - NEW };
    Model *m = tiny_model(2, 2, 16, 13, MAXT, 0.3f, 81);
    int V = model_config(m)->vocab;
    int plen[N] = {1, P, P, 300, 1, P};
    int *prompt = malloc(sizeof(int) * N * P), out[N * NEW], len[N];
    float lp[N * NEW];
    Rng r;
    rng_seed(&r, 82, RNG_TEST, 0, 0);
    random_tokens(prompt, N * P, V, &r);
    memcpy(prompt + 2 * P, prompt + P, sizeof(int) * P); // sequence 2 repeats sequence 1's prompt
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = NEW, .eos = -1};
    rng_seed(&r, 83, RNG_SAMPLE, 0, 0);
    model_sample(m, prompt, P, plen, N, &sp, &r, out, lp, len);
    int T = MAXT - 1; // the last sampled token is never an input
    int *tok = calloc((size_t)N * T, sizeof(int)), *tgt = calloc((size_t)N * T, sizeof(int));
    float *flp = malloc(sizeof(float) * N * T);
    for (int i = 0; i < N; i++) {
        T_ASSERT(len[i] == NEW, "len %d", len[i]);
        int *seq = malloc(sizeof(int) * MAXT);
        for (int t = 0; t < plen[i]; t++) seq[t] = prompt[i * P + t];
        for (int g = 0; g < NEW; g++) seq[plen[i] + g] = out[i * NEW + g];
        for (int t = 0; t + 1 < plen[i] + NEW; t++) { tok[i * T + t] = seq[t]; tgt[i * T + t] = seq[t + 1]; }
        free(seq);
    }
    model_forward(m, tok, tgt, N, T, flp, NULL);
    double worst = 0.0;
    for (int i = 0; i < N; i++)
        for (int g = 0; g < NEW; g++) {
            double d = fabs(flp[i * T + plen[i] - 1 + g] - lp[i * NEW + g]);
            if (d > worst) worst = d;
        }
    T_ASSERT(worst < 1e-4, "prefill: KV-cache logp vs full forward: max abs diff %.3g", worst);
    printf("# prefill long/short/duplicate prompts: max |dlogp| %.3g\n", worst);
    free(prompt); free(tok); free(tgt); free(flp);
    model_free(m);
}

// Many one-token samples from one prompt: the empirical frequencies match softmax(z / temperature) restricted
// to the top k and the top-p nucleus, within 4.5 standard errors per token (and never a filtered token).
static void test_sampling_distribution(void) {
    enum { N = 4000, V = 24 };
    Model *m = tiny_model(1, 2, 8, V, 8, 0.8f, 71);
    int *prompt = malloc(sizeof(int) * N * 2), *plen = malloc(sizeof(int) * N), *out = malloc(sizeof(int) * N), len[1];
    float *lp = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) { prompt[2 * i] = 3; prompt[2 * i + 1] = 5; plen[i] = 2; }
    int tok[2] = {3, 5}, tgt[2] = {0, 0};
    float flp[2];
    model_forward(m, tok, tgt, 1, 2, flp, NULL);
    float z[V];
    memcpy(z, model_logits(m) + V, sizeof z);
    SampleParams cases[4] = {{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = 1, .eos = -1},
                             {.temperature = 0.5f, .top_k = 4, .top_p = 1.0f, .max_new = 1, .eos = -1},
                             {.temperature = 1.0f, .top_k = 0, .top_p = 0.6f, .max_new = 1, .eos = -1},
                             {.temperature = 1.5f, .top_k = 7, .top_p = 0.8f, .max_new = 1, .eos = -1}};
    for (int c = 0; c < 4; c++) {
        const SampleParams *sp = &cases[c];
        Rng r;
        rng_seed(&r, 72 + c, RNG_SAMPLE, 0, 0);
        int *lens = malloc(sizeof(int) * N);
        model_sample(m, prompt, 2, plen, N, sp, &r, out, lp, lens);
        double p[V], total = 0.0;
        for (int v = 0; v < V; v++) {
            int rank = 0;
            for (int u = 0; u < V; u++) rank += z[u] > z[v];
            p[v] = sp->top_k && rank >= sp->top_k ? 0.0 : exp(z[v] / sp->temperature);
            total += p[v];
        }
        if (sp->top_p < 1.0f) { // keep the smallest best-first prefix reaching top_p of the mass
            double kept = 0.0;
            for (int v = 0; v < V; v++) {
                double above = 0.0;
                for (int u = 0; u < V; u++) if (z[u] > z[v]) above += p[u];
                if (above >= sp->top_p * total) p[v] = 0.0;
                kept += p[v];
            }
            total = kept;
        }
        int count[V] = {0};
        for (int i = 0; i < N; i++) count[out[i]]++;
        for (int v = 0; v < V; v++) {
            p[v] /= total;
            double se = sqrt(p[v] * (1 - p[v]) / N) + 1e-9;
            T_ASSERT(fabs(count[v] / (double)N - p[v]) < 4.5 * se, "case %d token %d: freq %g vs p %g", c, v,
                     count[v] / (double)N, p[v]);
        }
        free(lens);
    }
    (void)len;
    free(prompt); free(plen); free(out); free(lp);
    model_free(m);
}

// EOS ends a sequence where it is drawn: take the token sequence 0 draws third and make it the EOS.
static void test_eos_stop(void) {
    Model *m = tiny_model(2, 2, 16, 13, 24, 0.3f, 51);
    enum { N = 3, P = 4, MAXN = 10 };
    int prompt[N * P] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, plen[N] = {4, 2, 3};
    int out[N * MAXN], len[N];
    float lp[N * MAXN];
    SampleParams sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new = MAXN, .eos = -1};
    Rng r;
    rng_seed(&r, 5, RNG_SAMPLE, 0, 0);
    model_sample(m, prompt, P, plen, N, &sp, &r, out, lp, len);
    for (int i = 0; i < N; i++) T_ASSERT(len[i] == MAXN, "no EOS: len %d", len[i]);
    int eos = out[2];
    sp.eos = eos;
    int first = 0;
    while (out[first] != eos) first++;
    int out2[N * MAXN], len2[N];
    float lp2[N * MAXN];
    rng_seed(&r, 5, RNG_SAMPLE, 0, 0);
    model_sample(m, prompt, P, plen, N, &sp, &r, out2, lp2, len2);
    T_ASSERT(len2[0] == first + 1, "sequence 0 must stop at its first EOS (index %d), len %d", first, len2[0]);
    for (int g = 0; g < len2[0]; g++) T_ASSERT(out2[g] == out[g], "tokens before the EOS are unchanged");
    for (int g = len2[0]; g < MAXN; g++) T_ASSERT(out2[g] == eos && lp2[g] == 0.0f, "padding after EOS");
    model_free(m);
}

static void test_forward_grows_and_flops(void) {
    Model *m = tiny_model(1, 2, 8, 7, 16, 0.1f, 61);
    model_reserve(m, 1, 4, 0);
    size_t small = model_activation_bytes(m);
    int tok[3 * 16] = {0}, tgt[3 * 16] = {0};
    float lp[3 * 16];
    model_forward(m, tok, tgt, 3, 16, lp, NULL); // beyond the reservation: grows
    T_ASSERT(model_activation_bytes(m) > small, "forward past the reservation must grow it");
    for (int i = 1; i < 16; i++) T_NEAR(lp[i], lp[16 + i], 1e-6); // identical rows, identical answers
    ModelConfig cfg = {.n_layer = 2, .n_head = 2, .d_model = 8, .max_t = 16, .vocab = 11};
    size_t sizes[MODEL_NUM_TENSORS], total;
    model_param_sizes(&cfg, sizes, &total);
    // by hand: wte 88, wpe 128, per layer 4*8 LN + 3*64+24 + 64+8 + 4*64+32 + 4*64+8 = 872, lnf 16
    T_ASSERT(total == 88 + 128 + 2 * 872 + 16, "param count %zu", total);
    double want = 6.0 * (total - 128) * 4 * 16 + 12.0 * 2 * 8 * 16 * 4 * 16;
    T_NEAR(model_train_flops(&cfg, 4, 16), want, 1e-6 * want);
    ModelConfig bad = cfg;
    bad.n_head = 3;
    T_ASSERT(model_config_error(&bad) != NULL, "d_model %% n_head != 0 must be rejected");
    T_ASSERT(model_config_error(&cfg) == NULL, "valid config rejected");
    model_free(m);
}

// model_hold_weights: a held forward reuses the hold's first packing with the same bits as packing anew; a
// change to a weight matrix after the release, or before a new hold, is seen (the packing is never stale outside
// a hold). Each case against a second model given the same parameters, never held.
static void test_hold_weights(void) {
    int B = 2, T = 9, V = 37, n = B * T;
    Model *m = tiny_model(2, 2, 16, V, 16, 0.05f, 21), *ref = tiny_model(2, 2, 16, V, 16, 0.05f, 21);
    int tok[18], tgt[18];
    float a[18], b[18];
    Rng r;
    rng_seed(&r, 22, RNG_TEST, 0, 0);
    random_tokens(tok, n, V, &r);
    random_tokens(tgt, n, V, &r);
    size_t off = (size_t)(model_param_tensors(m).qkvw - model_params(m)) + 5; // in a packed weight matrix
    model_hold_weights(m, 1);
    for (int call = 0; call < 2; call++) {
        model_forward(m, tok, tgt, B, T, a, NULL);
        model_forward(ref, tok, tgt, B, T, b, NULL);
        T_ASSERT(memcmp(a, b, sizeof a) == 0, "held forward %d differs from an unheld one", call);
    }
    model_hold_weights(m, 0);
    for (int step = 0; step < 2; step++) {   // a change after the release; then one before a new hold
        model_params(m)[off] += 0.5f;
        model_params(ref)[off] += 0.5f;
        if (step == 1) model_hold_weights(m, 1);
        model_forward(m, tok, tgt, B, T, a, NULL);
        model_forward(ref, tok, tgt, B, T, b, NULL);
        T_ASSERT(memcmp(a, b, sizeof a) == 0, "%s: the forward used stale packed weights",
                 step == 0 ? "changed after the release" : "changed before the hold");
    }
    model_free(m);
    model_free(ref);
}

int main(void) {
    T_RUN(test_gradcheck_every_tensor);
    T_RUN(test_hold_weights);
    T_RUN(test_gradcheck_long_context);
    T_RUN(test_entropy_and_normalisation);
    T_RUN(test_causality);
    T_RUN(test_kv_sampling_matches_forward);
    T_RUN(test_kv_sampling_head_sizes);
    T_RUN(test_shared_prompt_bits);
    T_RUN(test_prefill_long_and_short_prompts);
    T_RUN(test_sampling_distribution);
    T_RUN(test_eos_stop);
    T_RUN(test_forward_grows_and_flops);
    T_EXIT();
}
