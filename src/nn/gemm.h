// gemm.h — private to src/nn: pgrpo's own single-precision product with a weight matrix on the right,
// out (M,N) += X (M,K) W^T, W (N,K) row-major (every Linear layer's forward and the tied LM head), on a copy
// of W repacked once into column panels.
//
// Why not cblas_sgemm: OpenBLAS repacks W on every call, and a decode step calls it with only 16-64 rows, so
// the repacking is paid per step and per row block (measured: OpenBLAS at M=16 runs at 0.7x its M=64 speed).
// The sampler keeps the weights fixed across a call's prefill and all its decode steps, so it packs them once.
// The kernel also uses the machine's widest vectors: with AVX-512, 8 rows x 32 columns per tile, where the
// OpenBLAS build of this environment runs its AVX2 (Haswell) kernels.
//
// Bits: each out[i][j] is one fused multiply-add chain over k = 0..K-1 in order, started from out's value. So
// the AVX-512 and AVX2 builds give the same bits, and neither the row or column split over threads, nor the
// blocking, nor M changes them. Builds without FMA (plain x86-64) multiply and add separately: other bits.
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

// Floats gemm_pack writes for W (N,K): ceil(N/GEMM_NR) panels of (K, GEMM_NR), the last padded with zeros.
size_t gemm_packed_floats(int N, int K);
// wp = W (N,K) repacked: panel p holds columns [p GEMM_NR, (p+1) GEMM_NR) of W^T as (K, GEMM_NR) rows.
void gemm_pack(float *wp, const float *w, int N, int K);
// Columns [n0, n1) of out (M,N), leading dimension ldo, += X (M,K) W^T; X has leading dimension ldx, wp is
// gemm_pack's W (N,K). n0 must be a multiple of GEMM_NR; n1 is N or a multiple. One thread.
void gemm_nt_packed(float *out, int ldo, const float *x, int ldx, const float *wp, int M, int K, int n0, int n1);

#endif
