// layers.c — the transformer's kernels and its block (see layers.h), shared by the learner and the sampler.
#include <cblas.h>          // openblas_{get,set}_num_threads (nn_enter, nn_leave)
#ifdef _OPENMP
#include <omp.h>
#endif
#include <time.h>          // nn_clock
#include "layers.h"
#include "gemm.h"           // gemm_packed: the products with a weight matrix
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>      // attn_scores, attn_mix
#endif

// Below this many multiply-adds a GEMM runs on one thread: splitting it costs more than it gains.
#define GEMM_SPLIT_MIN (1 << 20)
// Elementwise loops over fewer values than this stay on one thread (no fork/join for a few rows).
#define PAR_MIN 8192

// ----------------------------------------------------------------------------------------------------------
// Threads

NnThreads nn_enter(int threads) {
    NnThreads s = {openblas_get_num_threads(), 1, 1};
#ifdef _OPENMP
    s.omp = omp_get_max_threads();
    s.levels = omp_get_max_active_levels();
    omp_set_num_threads(threads > 0 ? threads : 1);
    omp_set_max_active_levels(1); // a thread's share (the decode step's) runs its kernels on that thread alone
#else
    (void)threads;
#endif
    if (s.blas != 1) openblas_set_num_threads(1);
    return s;
}

void nn_leave(NnThreads saved) {
    if (saved.blas != 1) openblas_set_num_threads(saved.blas);
#ifdef _OPENMP
    omp_set_num_threads(saved.omp);
    omp_set_max_active_levels(saved.levels);
#endif
}

int nn_team(void) {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads(); // inside a thread's share: that thread alone
#else
    return 1;
#endif
}

int nn_thread(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

double nn_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int nn_threads_here(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

// ----------------------------------------------------------------------------------------------------------
// Kernels

// With AVX2+FMA, eight positions at a time: eight 8-lane accumulators, reduced and transposed into one vector of
// eight scores (hadd), instead of a horizontal sum per position; that reduction is what a query costs at head
// sizes 32-64. Without AVX2 (or when hs is not a multiple of 8), plain loops: other bits.
void attn_scores(float *sc, const float *q, const float *k, size_t ldk, int j, int n, int hs, float scale) {
#if defined(__AVX2__) && defined(__FMA__)
    if (hs % 8 == 0) {
        __m256 vs = _mm256_set1_ps(scale);
        for (; j + 8 <= n; j += 8) {
            __m256 a[8];
            for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
            for (int d = 0; d < hs; d += 8) {
                __m256 qv = _mm256_loadu_ps(q + d);
                for (int r = 0; r < 8; r++)
                    a[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + (size_t)(j + r) * ldk + d), a[r]);
            }
            __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
            __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
            __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
            __m256 lo = _mm256_permute2f128_ps(u0, u1, 0x20), hi = _mm256_permute2f128_ps(u0, u1, 0x31);
            _mm256_storeu_ps(sc + j, _mm256_mul_ps(vs, _mm256_add_ps(lo, hi)));
        }
    }
#endif
    for (; j < n; j++) {
        const float *kj = k + (size_t)j * ldk;
        float acc = 0.0f;
        for (int d = 0; d < hs; d++) acc += q[d] * kj[d];
        sc[j] = scale * acc;
    }
}

#if defined(__AVX2__) && defined(__FMA__)
// y (8*NREG) += sum_j p[j] v_j over positions [j0, j1) for the 8*NREG columns at v (rows ldv apart): the
// accumulators stay in registers across the positions. NREG is a constant at each call, so the loops unroll.
static inline void mix_block(float *y, const float *p, const float *v, size_t ldv, int j0, int j1, int NREG) {
    __m256 acc[8];
    for (int r = 0; r < NREG; r++) acc[r] = _mm256_loadu_ps(y + 8 * r);
    for (int j = j0; j < j1; j++) {
        __m256 pj = _mm256_broadcast_ss(p + j);
        const float *vj = v + (size_t)j * ldv;
        for (int r = 0; r < NREG; r++) acc[r] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * r), acc[r]);
    }
    for (int r = 0; r < NREG; r++) _mm256_storeu_ps(y + 8 * r, acc[r]);
}
#endif

// Column blocks of 64, 32, then 8 floats, each summed over the positions in registers; the rest plain.
void attn_mix(float *y, const float *p, const float *v, size_t ldv, int j0, int j1, int hs) {
    int d = 0;
#if defined(__AVX2__) && defined(__FMA__)
    for (; d + 64 <= hs; d += 64) mix_block(y + d, p, v + d, ldv, j0, j1, 8);
    for (; d + 32 <= hs; d += 32) mix_block(y + d, p, v + d, ldv, j0, j1, 4);
    for (; d + 8 <= hs; d += 8) mix_block(y + d, p, v + d, ldv, j0, j1, 1);
#endif
    for (int j = j0; j < j1; j++) {
        const float *vj = v + (size_t)j * ldv;
        for (int c = d; c < hs; c++) y[c] += p[j] * vj[c];
    }
}

// out (B,T,C) = wte[tokens] + wpe[t]
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C) {
    int BT = B * T;
#pragma omp parallel for schedule(static) if ((size_t)BT * C >= PAR_MIN)
    for (int r = 0; r < BT; r++) embed_row(out + (size_t)r * C, wte, wpe, tokens[r], r % T, C);
}

// Each thread owns a range of columns and adds the rows in row order: a repeated token adds up as on one thread.
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C, int V) {
    // Each thread owns a contiguous block of output rows (tokens, positions) and adds the rows of dout into them
    // in row order: the bits of the serial loop. Splitting the columns instead had both threads write halves of
    // the same rows, and interleaved rows put neighbouring lines on different cores: both ran 4-10x slower on
    // 2 threads than on 1 here (the prefetchers pull the other core's lines).
#pragma omp parallel if ((size_t)B * T * C >= PAR_MIN)
    {
        int v0, v1, t0, t1;
        nn_part_here(V, 1, &v0, &v1);
        nn_part_here(T, 1, &t0, &t1);
        for (int r = 0; r < B * T; r++) {
            const float *d = dout + (size_t)r * C;
            int tok = tokens[r], t = r % T;
            if (tok >= v0 && tok < v1) {
                float *dwe = dwte + (size_t)tok * C;
                for (int i = 0; i < C; i++) dwe[i] += d[i];
            }
            if (t >= t0 && t < t1) {
                float *dpe = dwpe + (size_t)t * C;
                for (int i = 0; i < C; i++) dpe[i] += d[i];
            }
        }
    }
}

// out (N,C) = LayerNorm(inp (N,C)) * w + b; mean, rstd (N) may be NULL (sampling keeps no statistics).
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
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

// Row n's part of LayerNorm's backward: the two sums over the row, then dx += d LayerNorm.
static void layernorm_backward_row(float *dx, const float *x, const float *dy, const float *w, float mu, float s,
                                   int C) {
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
        dx[i] += (w[i] * dy[i] - sa - xh * sb) * s;
    }
}

// Row n's part of dw, db (C) (restrict: the gradients never overlap the activations, so the loop vectorises).
static void layernorm_param_row(float *restrict dw, float *restrict db, const float *restrict x,
                                const float *restrict dy, float mu, float s, int C) {
    for (int i = 0; i < C; i++) {
        db[i] += dy[i];
        dw[i] += (x[i] - mu) * s * dy[i];
    }
}

// dinp (N,C) += d LayerNorm; dw, db (C) +=. xhat is recomputed from inp rather than stored. On a team, two
// parallel passes: rows for dinp, then column ranges for dw and db (each column summed over the rows in order).
// One thread adds row n into dw, db right after its dinp, while the row is in L1: the same sums in the same order,
// so the same bits, without the second pass over inp and dout (which at d_model 256 come back from L3).
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C) {
    int par = (size_t)N * C >= PAR_MIN;
    if (!par || nn_team() <= 1) {
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float mu = mean[n], s = rstd[n];
            layernorm_backward_row(dinp + (size_t)n * C, x, dy, w, mu, s, C);
            layernorm_param_row(dw, db, x, dy, mu, s, C);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        layernorm_backward_row(dinp + (size_t)n * C, inp + (size_t)n * C, dout + (size_t)n * C, w, mean[n], rstd[n], C);
    // dw, db: each thread its columns, summed over the rows in row order in registers (64 columns at a time)
    // and stored once: the same bits as adding into dw, db row by row, without a load and store of them per row.
#pragma omp parallel
    {
        int c0, c1;
        nn_part_here(C, 16, &c0, &c1);
        for (int b0 = c0; b0 < c1; b0 += 64) {
            int nb = c1 - b0 < 64 ? c1 - b0 : 64;
            float sdb[64], sdw[64];
            memcpy(sdb, db + b0, (size_t)nb * sizeof(float));
            memcpy(sdw, dw + b0, (size_t)nb * sizeof(float));
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + b0, *dy = dout + (size_t)n * C + b0;
                float mu = mean[n], s = rstd[n];
                for (int i = 0; i < nb; i++) {
                    sdb[i] += dy[i];
                    sdw[i] += (x[i] - mu) * s * dy[i];
                }
            }
            memcpy(db + b0, sdb, (size_t)nb * sizeof(float));
            memcpy(dw + b0, sdw, (size_t)nb * sizeof(float));
        }
    }
}

// B packed by the team from W^T, W (K,N) with leading dimension ldw: each thread its own panels.
static void team_pack_t(float *bp, const float *w, int ldw, int N, int K) {
#pragma omp parallel if ((size_t)N * K >= PAR_MIN)
    {
        int lo, hi;
        nn_part_here(N, GEMM_NR, &lo, &hi);
        if (hi > lo) gemm_pack_t(bp + (size_t)lo * K, w + lo, ldw, hi - lo, K);
    }
}

// out (M,N) = st + op(X) B^T (gemm_packed; st NULL accumulates into out) on the team. Each thread multiplies
// its own slice (rows when M >= N, else panels) in one parallel region: one fork/join per product, which
// matters in the decode step's many small ones. gemm.h's bits do not depend on the split, so neither the thread
// count nor the shape changes them.
static void team_gemm(float *out, int ldo, const float *x, int ldx, int xt, const float *bp, int M, int K, int N,
                      const GemmStart *st) {
    int nt = nn_team();
    if (nt <= 1 || (double)M * N * K < GEMM_SPLIT_MIN) {
        gemm_packed(out, ldo, x, ldx, xt, bp, M, K, 0, N, st);
        return;
    }
    int by_rows = M >= N;
#pragma omp parallel num_threads(nt)
    {
        int lo, hi;
        nn_part_here(by_rows ? M : N, by_rows ? 8 : GEMM_NR, &lo, &hi);
        const float *xs = xt ? x + lo : x + (size_t)lo * ldx;
        if (hi > lo && by_rows) {   // the rows' own part of the start
            GemmStart mine = st ? *st : (GemmStart){0};
            if (mine.add) mine.add += (size_t)lo * mine.ld_add;
            gemm_packed(out + (size_t)lo * ldo, ldo, xs, ldx, xt, bp, hi - lo, K, 0, N, st ? &mine : NULL);
        } else if (hi > lo) {
            gemm_packed(out, ldo, x, ldx, xt, bp, M, K, lo, hi, st);
        }
    }
}

// out (N,OC) = add (N,OC) + inp (N,IC) W^T + bias, W packed; add and bias may be NULL.
// Folding the residual add into the GEMM's accumulator saves a pass over the stream.
void matmul_forward(float *out, const float *inp, const float *wp, const float *bias, const float *add, int N,
                    int IC, int OC) {
    team_gemm(out, OC, inp, IC, 0, wp, N, IC, OC, &(GemmStart){add, OC, bias});
}

size_t nn_pack_scratch_floats(int N, int C, int V) {
    size_t need[] = {gemm_packed_floats(C, V), gemm_packed_floats(C, 3 * C), gemm_packed_floats(4 * C, C),
                     gemm_packed_floats(C, 4 * C), gemm_packed_floats(4 * C, N), gemm_packed_floats(C, N)};
    size_t mx = 0;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) mx = need[i] > mx ? need[i] : mx;
    return mx;
}

// d input = dout W: B = W^T, packed from W (OC,IC); d weight = dout^T inp: op(X) = dout^T, B = inp^T.
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     float *pack, int N, int IC, int OC) {
    team_pack_t(pack, w, IC, IC, OC);
    team_gemm(dinp, IC, dout, OC, 0, pack, N, OC, IC, &(GemmStart){0});
    team_pack_t(pack, inp, IC, IC, N);
    team_gemm(dw, IC, dout, OC, 1, pack, OC, N, IC, NULL);
    if (dbias) {
#pragma omp parallel if ((size_t)N * OC >= PAR_MIN)
        {
            int j0, j1;
            nn_part_here(OC, 16, &j0, &j1);
            for (int b0 = j0; b0 < j1; b0 += 64) {   // in registers, as layernorm_backward's dw, db
                int nb = j1 - b0 < 64 ? j1 - b0 : 64;
                float acc[64];
                memcpy(acc, dbias + b0, (size_t)nb * sizeof(float));
                for (int n = 0; n < N; n++) {
                    const float *d = dout + (size_t)n * OC + b0;
                    for (int j = 0; j < nb; j++) acc[j] += d[j];
                }
                memcpy(dbias + b0, acc, (size_t)nb * sizeof(float));
            }
        }
    }
}

// Causal softmax of one row of scores in place: exponentiate keys [0, see), zero the rest up to T.
static void causal_softmax_row(float *row, int see, int T) {
    float mx = vmax(row, see);
    float inv = 1.0f / vexp_sum(row, row, mx, see);
    for (int j = 0; j < see; j++) row[j] *= inv;
    memset(row + see, 0, (size_t)(T - see) * sizeof(float)); // masked: never exponentiated
}

// Attention's products run on gemm.h's kernel too: per (sequence, head) the keys and values are packed once
// (a few kB) and each row block multiplies against them; against OpenBLAS's small per-head calls, whose set-up
// dominated at head size 32 and which scaled worst over threads. Scratch floats per thread:
size_t attention_scratch_floats(int T, int hs) {
    return gemm_packed_floats(T, hs) + gemm_packed_floats(hs, T) + gemm_packed_floats(hs, ATT_BLOCK);
}

// One head's causal attention (layers.h AttnHead): S = Q K^T row block by row block (the causal part), scaled
// and softmaxed in place into A, then Y = A V. ws: attention_scratch_floats(t0 + nr, hs).
void attention_head(const AttnHead *a, float *A, int lda, int keep, int t0, int nr, int hs, float *ws) {
    int nk = t0 + nr;
    float scale = 1.0f / sqrtf((float)hs);
    float *kp = ws, *vt = kp + gemm_packed_floats(nk, hs);
    gemm_pack(kp, a->k, a->ldkv, nk, hs);       // B = K: S's columns are positions
    gemm_pack_t(vt, a->v, a->ldkv, hs, nk);     // B = V^T: Y's columns are V's
    for (int i0 = 0; i0 < nr; i0 += ATT_BLOCK) {
        int i1 = i0 + ATT_BLOCK < nr ? i0 + ATT_BLOCK : nr, ni = i1 - i0, see = t0 + i1;
        float *ab = keep ? A + (size_t)i0 * lda : A, *y = a->y + (size_t)i0 * a->ldy;
        gemm_packed(ab, lda, a->q + (size_t)i0 * a->ldq, a->ldq, 0, kp, ni, hs, 0, see, &(GemmStart){0});
        for (int i = 0; i < ni; i++) {
            float *row = ab + (size_t)i * lda;
            int own = t0 + i0 + i; // causal: keys [0, own]
            for (int j = 0; j <= own; j++) row[j] *= scale;
            causal_softmax_row(row, own + 1, keep ? lda : see); // (a kept A is zero past each row's keys)
        }
        gemm_packed_prefix(y, a->ldy, ab, lda, 0, vt, nk, ni, see, 0, hs, &(GemmStart){0});
    }
}

// Causal self-attention. qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) keeps the probabilities for backward.
// ws (threads, attention_scratch_floats) scratch.
void attention_forward(float *out, float *att, const float *qkv, float *ws, int B, int T, int C, int NH) {
    int hs = C / NH;
    size_t wsz = attention_scratch_floats(T, hs);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = qkv + (size_t)b * T * 3 * C + h * hs;
        AttnHead a = {q, q + C, q + 2 * C, out + (size_t)b * T * C + h * hs, 3 * C, 3 * C, C};
        attention_head(&a, att + (size_t)bh * T * T, T, 1, 0, T, hs, ws + nn_thread() * wsz);
    }
}

// One (sequence, head) of attention_backward; dq, dk, dv (columns of dqkv) are zero on entry. ws as forward.
static void attention_head_backward(float *dq, float *dS, const float *dy, const float *q, const float *A, int T,
                                    int C, int hs, float scale, float *ws) {
    int C3 = 3 * C;
    const float *k = q + C, *v = q + 2 * C;
    float *dk = dq + C, *dv = dq + 2 * C;
    float *vp = ws, *kt = vp + gemm_packed_floats(T, hs), *blk = kt + gemm_packed_floats(hs, T);
    gemm_pack(vp, v, C3, T, hs);       // dP = dY V^T: B = V
    for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
        int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
        // dP = dY V^T, and dV += P^T dY, over the lower block-triangle only
        gemm_packed(dS + (size_t)i0 * T, T, dy + (size_t)i0 * C, C, 0, vp, ni, hs, 0, i1, &(GemmStart){0});
        gemm_pack_t(blk, dy + (size_t)i0 * C, C, hs, ni);
        gemm_packed(dv, C3, A + (size_t)i0 * T, T, 1, blk, i1, ni, 0, hs, NULL);
    }
    for (int i = 0; i < T; i++) {
        // softmax backward: dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik), with the 1/sqrt(hs) folded in
        const float *p = A + (size_t)i * T;
        float *d = dS + (size_t)i * T;
        float dot = vdot(p, d, i + 1);
        for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - dot) * scale;
        memset(d + i + 1, 0, (size_t)(T - i - 1) * sizeof(float));
    }
    gemm_pack_t(kt, k, C3, hs, T);     // dQ = dS K: B = K^T
    for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
        int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, ni = i1 - i0;
        gemm_packed_prefix(dq + (size_t)i0 * C3, C3, dS + (size_t)i0 * T, T, 0, kt, T, ni, i1, 0, hs, NULL);
        gemm_pack_t(blk, q + (size_t)i0 * C3, C3, hs, ni);   // dK += dS^T Q: B = Q^T of the block
        gemm_packed(dk, C3, dS + (size_t)i0 * T, T, 1, blk, i1, ni, 0, hs, NULL);
    }
}

// dqkv (B,T,3C) = d attention (overwritten); each thread builds dS in its own (T,T) slice of the scratch and
// packs in its own slice of ws (as attention_forward's).
void attention_backward(float *dqkv, float *dS, const float *dout, const float *qkv, const float *att, float *ws,
                        int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t wsz = attention_scratch_floats(T, hs);
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) memset(dqkv + (size_t)b * T * 3 * C, 0, (size_t)T * 3 * C * sizeof(float));
        float *my_dS = dS + (size_t)nn_thread() * T * T, *my_ws = ws + nn_thread() * wsz;
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH;
            size_t o3 = (size_t)b * T * 3 * C + h * hs;
            attention_head_backward(dqkv + o3, my_dS, dout + (size_t)b * T * C + h * hs, qkv + o3,
                                    att + (size_t)bh * T * T, T, C, hs, scale, my_ws);
        }
    }
}

// GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu_forward(float *out, const float *inp, size_t N) {
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanh_fast(GELU_K * (x + GELU_C * x * x * x));
        out[i] = 0.5f * x * (1.0f + t);
    }
}

// d (N): dout in, dinp out (in place); inp is the GELU input.
void gelu_backward(float *d, const float *inp, size_t N) {
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float t = tanh_fast(GELU_K * (x + GELU_C * x * x * x));
        float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * x * x);
        d[i] *= grad;
    }
}


void lm_head_forward(float *logits, const float *x, const float *wtep, int N, int C, int V) {
    matmul_forward(logits, x, wtep, NULL, NULL, N, C, V);
}

void lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x, const float *wte, float *pack,
                      int N, int C, int V) {
    matmul_backward(dx, dwte, NULL, dlogits, x, wte, pack, N, C, V);
}

// ----------------------------------------------------------------------------------------------------------
// The packed weights

static size_t packed_layer_floats(int C) {
    return gemm_packed_floats(3 * C, C) + gemm_packed_floats(C, C) + gemm_packed_floats(4 * C, C) +
           gemm_packed_floats(C, 4 * C);
}

size_t packed_weights_floats(const ModelConfig *cfg) {
    return (size_t)cfg->n_layer * packed_layer_floats(cfg->d_model) + gemm_packed_floats(cfg->vocab, cfg->d_model);
}

PackedLayer packed_layer(const float *wpack, const ModelConfig *cfg, int l) {
    int C = cfg->d_model;
    PackedLayer pk;
    pk.qkvw = wpack + (size_t)l * packed_layer_floats(C);
    pk.attprojw = pk.qkvw + gemm_packed_floats(3 * C, C);
    pk.fcw = pk.attprojw + gemm_packed_floats(C, C);
    pk.fcprojw = pk.fcw + gemm_packed_floats(4 * C, C);
    return pk;
}

const float *packed_wte(const float *wpack, const ModelConfig *cfg) {
    return wpack + (size_t)cfg->n_layer * packed_layer_floats(cfg->d_model);
}

// The 4L+1 matrices shared out over the team (a copy: no float is computed, so the split does not matter).
void pack_weights(float *wpack, const ModelConfig *cfg, const ParamTensors *p) {
    int C = cfg->d_model, L = cfg->n_layer;
#pragma omp parallel for schedule(dynamic)
    for (int q = 0; q < 4 * L + 1; q++) {
        if (q == 4 * L) { gemm_pack((float *)packed_wte(wpack, cfg), p->wte, C, cfg->vocab, C); continue; }
        LayerTensors w = layer_tensors(p, q / 4, C);
        PackedLayer pk = packed_layer(wpack, cfg, q / 4);
        switch (q % 4) {
        case 0: gemm_pack((float *)pk.qkvw, w.qkvw, C, 3 * C, C); break;
        case 1: gemm_pack((float *)pk.attprojw, w.attprojw, C, C, C); break;
        case 2: gemm_pack((float *)pk.fcw, w.fcw, C, 4 * C, C); break;
        default: gemm_pack((float *)pk.fcprojw, w.fcprojw, 4 * C, C, 4 * C); break;
        }
    }
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

void block_forward(const LayerTensors *w, const PackedLayer *pk, const BlockBufs *b, int N, int C, AttendFn attend,
                   void *ctx) {
    layernorm_forward(b->ln1, b->ln1_mean, b->ln1_rstd, b->in, w->ln1w, w->ln1b, N, C);
    matmul_forward(b->qkv, b->ln1, pk->qkvw, w->qkvb, NULL, N, C, 3 * C);
    attend(ctx, b->atty, b->qkv);
    matmul_forward(b->res2, b->atty, pk->attprojw, w->attprojb, b->in, N, C, C);
    layernorm_forward(b->ln2, b->ln2_mean, b->ln2_rstd, b->res2, w->ln2w, w->ln2b, N, C);
    matmul_forward(b->fch, b->ln2, pk->fcw, w->fcb, NULL, N, C, 4 * C);
    gelu_forward(b->fch_gelu, b->fch, (size_t)N * 4 * C);
    matmul_forward(b->out, b->fch_gelu, pk->fcprojw, w->fcprojb, b->res2, N, 4 * C, C);
}
