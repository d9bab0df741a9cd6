// layers.c — the transformer's kernels and its block (see layers.h), shared by the learner and the sampler.
#include <cblas.h>          // cblas_sgemm: every dense product
#include "layers.h"

// out (B,T,C) = wte[tokens] + wpe[t]
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) embed_row(out + ((size_t)b * T + t) * C, wte, wpe, tokens[b * T + t], t, C);
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *dwe = dwte + (size_t)tokens[b * T + t] * C, *dpe = dwpe + (size_t)t * C;
            for (int i = 0; i < C; i++) { dwe[i] += d[i]; dpe[i] += d[i]; }
        }
}

// out (N,C) = LayerNorm(inp (N,C)) * w + b; mean, rstd (N) may be NULL (sampling keeps no statistics).
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float mu = vsum(x, C) / C;
        for (int i = 0; i < C; i++) o[i] = x[i] - mu; // two passes: the variance without cancellation
        float s = 1.0f / sqrtf(vdot(o, o, C) / C + LN_EPS);
        for (int i = 0; i < C; i++) o[i] = o[i] * s * w[i] + b[i];
        if (mean) { mean[n] = mu; rstd[n] = s; }
    }
}

// dinp (N,C) += d LayerNorm; dw, db (C) +=. xhat is recomputed from inp rather than stored.
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float mu = mean[n], s = rstd[n];
        float acc_a[LANES] = {0}, acc_b[LANES] = {0};
        int i = 0;
        for (; i + LANES <= C; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float xh = (x[i + k] - mu) * s, dn = w[i + k] * dy[i + k];
                acc_a[k] += dn;
                acc_b[k] += dn * xh;
            }
        float sa = 0.0f, sb = 0.0f;
        for (; i < C; i++) {
            float xh = (x[i] - mu) * s, dn = w[i] * dy[i];
            sa += dn; sb += dn * xh;
        }
        for (int k = 0; k < LANES; k++) { sa += acc_a[k]; sb += acc_b[k]; }
        sa /= C; sb /= C;
        for (i = 0; i < C; i++) {
            float xh = (x[i] - mu) * s;
            db[i] += dy[i];
            dw[i] += xh * dy[i];
            dx[i] += (w[i] * dy[i] - sa - xh * sb) * s;
        }
    }
}

// out (N,OC) = add (N,OC) + inp (N,IC) W^T + bias, W (OC,IC); add and bias may be NULL.
// Folding the residual add into the GEMM's accumulator saves a pass over the stream.
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *add,
                           int N, int IC, int OC) {
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
        const float *a = add ? add + (size_t)n * OC : NULL;
        if (a && bias) for (int j = 0; j < OC; j++) o[j] = a[j] + bias[j];
        else if (a) memcpy(o, a, OC * sizeof(float));
        else if (bias) memcpy(o, bias, OC * sizeof(float));
        else memset(o, 0, OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, 1.0f, out, OC);
}

// dinp (N,IC) = dout W (overwritten); dw (OC,IC) += dout^T inp; dbias (OC) += column sums of dout.
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                            const float *w, int N, int IC, int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (dbias)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int j = 0; j < OC; j++) dbias[j] += d[j];
        }
}

// Causal self-attention. qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) keeps the probabilities for backward.
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            float *A = att + ((size_t)b * NH + h) * T * T;
            float *y = out + (size_t)b * T * C + h * hs;
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0, i1, hs, scale, q + (size_t)i0 * C3,
                            C3, k, C3, 0.0f, A + (size_t)i0 * T, T);
            }
            for (int i = 0; i < T; i++) {
                float *row = A + (size_t)i * T;
                float mx = vmax(row, i + 1);
                vexp(row, row, mx, i + 1);
                float inv = 1.0f / vsum(row, i + 1);
                for (int j = 0; j <= i; j++) row[j] *= inv;
                memset(row + i + 1, 0, (size_t)(T - i - 1) * sizeof(float)); // masked: never exponentiated
            }
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0, hs, i1, 1.0f, A + (size_t)i0 * T, T,
                            v, C3, 0.0f, y + (size_t)i0 * C, C);
            }
        }
}

// dqkv (B,T,3C) = d attention (overwritten); dS is built in the (T,T) scratch one (b,h) at a time.
void attention_backward(float *dqkv, float *dS, const float *dout, const float *qkv, const float *att,
                               int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    memset(dqkv, 0, (size_t)B * T * C3 * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
            const float *A = att + ((size_t)b * NH + h) * T * T;
            const float *dy = dout + (size_t)b * T * C + h * hs;
            float *dq = dqkv + (size_t)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
                // dP = dY V^T, and dV += P^T dY, over the lower block-triangle only
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, i1, hs, 1.0f, dy + (size_t)i0 * C, C, v, C3,
                            0.0f, dS + (size_t)i0 * T, T);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1, hs, ni, 1.0f, A + (size_t)i0 * T, T,
                            dy + (size_t)i0 * C, C, 1.0f, dv, C3);
            }
            for (int i = 0; i < T; i++) {
                // softmax backward: dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik), with the 1/sqrt(hs) folded in
                const float *p = A + (size_t)i * T;
                float *d = dS + (size_t)i * T;
                float dot = vdot(p, d, i + 1);
                for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - dot) * scale;
                memset(d + i + 1, 0, (size_t)(T - i - 1) * sizeof(float));
            }
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, hs, i1, 1.0f, dS + (size_t)i0 * T, T, k,
                            C3, 0.0f, dq + (size_t)i0 * C3, C3);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1, hs, ni, 1.0f, dS + (size_t)i0 * T, T,
                            q + (size_t)i0 * C3, C3, 1.0f, dk, C3);
            }
        }
}

// GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu_forward(float *out, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanh_fast(GELU_K * (x + GELU_C * x * x * x));
        out[i] = 0.5f * x * (1.0f + t);
    }
}

// d (N): dout in, dinp out (in place); inp is the GELU input.
void gelu_backward(float *d, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanh_fast(GELU_K * (x + GELU_C * x * x * x));
        float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * x * x);
        d[i] *= grad;
    }
}


void lm_head_forward(float *logits, const float *x, const float *wte, int N, int C, int V) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1.0f, x, C, wte, C, 0.0f, logits, V);
}

// ----------------------------------------------------------------------------------------------------------
// The block

LayerTensors layer_tensors(const ParamTensors *t, int l, int C) {
    size_t C1 = C, C3 = 3 * C1, C4 = 4 * C1;
    LayerTensors w = {
        .ln1w = t->ln1w + l * C1,          .ln1b = t->ln1b + l * C1,
        .qkvw = t->qkvw + l * C3 * C1,     .qkvb = t->qkvb + l * C3,
        .attprojw = t->attprojw + l * C1 * C1, .attprojb = t->attprojb + l * C1,
        .ln2w = t->ln2w + l * C1,          .ln2b = t->ln2b + l * C1,
        .fcw = t->fcw + l * C4 * C1,       .fcb = t->fcb + l * C4,
        .fcprojw = t->fcprojw + l * C1 * C4, .fcprojb = t->fcprojb + l * C1,
    };
    return w;
}

void block_forward(const LayerTensors *w, const BlockBufs *b, int N, int C, AttendFn attend, void *ctx) {
    layernorm_forward(b->ln1, b->ln1_mean, b->ln1_rstd, b->in, w->ln1w, w->ln1b, N, C);
    matmul_forward(b->qkv, b->ln1, w->qkvw, w->qkvb, NULL, N, C, 3 * C);
    attend(ctx, b->atty, b->qkv);
    matmul_forward(b->res2, b->atty, w->attprojw, w->attprojb, b->in, N, C, C);
    layernorm_forward(b->ln2, b->ln2_mean, b->ln2_rstd, b->res2, w->ln2w, w->ln2b, N, C);
    matmul_forward(b->fch, b->ln2, w->fcw, w->fcb, NULL, N, C, 4 * C);
    gelu_forward(b->fch_gelu, b->fch, (size_t)N * 4 * C);
    matmul_forward(b->out, b->fch_gelu, w->fcprojw, w->fcprojb, b->res2, N, 4 * C, C);
}
