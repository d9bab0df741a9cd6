// gemm.h — private to src/nn: pgrpo's own single-precision GEMM, out (M,N) += op(X) (M,K) B^T with B (N,K)
// held as column panels (gemm_pack, gemm_pack_t): the Linear layers' and the tied LM head's forward
// (B = W) and backward (B = W^T for d input; op(X) = dout^T, B = input^T for d weight).
//
// Why not cblas_sgemm: OpenBLAS repacks W on every call, and a decode step calls it with only 16-64 rows, so
// the repacking is paid per step and per row block (measured: OpenBLAS at M=16 runs at 0.7x its M=64 speed).
// The sampler keeps the weights fixed across a call's prefill and all its decode steps, so it packs them once.
// The kernel also uses the machine's widest vectors: with AVX-512, 8 rows x 32 columns per tile, where the
// OpenBLAS build of this environment runs its AVX2 (Haswell) kernels: measured 2.1-2.3x OpenBLAS's one-thread
// sgemm on the model's shapes on an AVX-512 machine, 1.1x with AVX2 (README "Performance").
//
// Bits: each out[i][j] is one fused multiply-add chain over k = 0..K-1 in order, started from out's value or
// the start given (GemmStart). So the AVX-512 and AVX2 builds give the same bits, and neither the row or column
// split over threads, nor the blocking, nor M changes them. Builds without FMA (plain x86-64) multiply and add
// separately: other bits.
#ifndef PGRPO_NN_GEMM_H
#define PGRPO_NN_GEMM_H
#include <stddef.h>

#if defined(__AVX512F__)
#define GEMM_NR 32          // columns per panel: two 16-lane vectors
#elif defined(__AVX2__) && defined(__FMA__)
#define GEMM_NR 16          // two 8-lane vectors
#else
#define GEMM_NR 8
#endif

// Floats the packing of B (N,K) takes: ceil(N/GEMM_NR) panels of (K, GEMM_NR), the last padded with zeros.
// Panel p starts at p K GEMM_NR, so a part of B's rows [n0, n1) with n0 a multiple of GEMM_NR packs alone
// (the threads of a team each pack their panels).
size_t gemm_packed_floats(int N, int K);
// wp = B packed, B = W (N,K) with leading dimension ldw: panel p holds B's rows [p GEMM_NR, (p+1) GEMM_NR) as
// (K, GEMM_NR).
void gemm_pack(float *wp, const float *w, int ldw, int N, int K);
// wp = B packed, B = W^T for W (K,N) with leading dimension ldw (a weight for d input, an activation for
// d weight).
void gemm_pack_t(float *wp, const float *w, int ldw, int N, int K);
// Where each out element's fused multiply-add chain starts: start NULL, out's own value (accumulate); else
// add (M,N), leading dimension ld_add, plus bias (N) broadcast down the rows, either one NULL: add alone, bias
// alone, or zero for both. Starting the chain there, instead of a pass that writes add + bias into out first,
// saves that pass over out (the Linear layers' bias and residual add, the products that overwrite). The start
// value is the one that pass wrote (add + bias in one rounding), so the bits are the same.
typedef struct {
    const float *add;   // (M,N) or NULL
    int ld_add;
    const float *bias;  // (N) or NULL
} GemmStart;
// Columns [n0, n1) of out (M,N), leading dimension ldo, = start + op(X) (M,K) B^T, B packed (N,K). op(X) = X
// (M,K) with leading dimension ldx, or with x_trans X^T, X (K,M). n0 a multiple of GEMM_NR; n1 N or a
// multiple. add and bias are indexed like out (row i, column j), so a column range passes them whole. One
// thread.
void gemm_packed(float *out, int ldo, const float *x, int ldx, int x_trans, const float *wp, int M, int K, int n0,
                 int n1, const GemmStart *start);
// The same over the first K (<= kp) rows of panels packed with kp: B's leading K columns (causal attention's
// row blocks see only the positions before them).
void gemm_packed_prefix(float *out, int ldo, const float *x, int ldx, int x_trans, const float *wp, int kp, int M,
                        int K, int n0, int n1, const GemmStart *start);

#endif
