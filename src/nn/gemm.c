// gemm.c — out = start + op(X) B^T on packed panels of B (see gemm.h): a register tile of GEMM_MR rows x
// GEMM_NR columns, its accumulators loaded from the start (out itself after the first k block), one k step =
// two vector loads of the panel and one broadcast per row; blocked in k so a panel's slice, or a row tile's X
// slice, stays in L1 (block_run's two tile orders).
#include <string.h>
#include "gemm.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define GEMM_MR 8           // 8 x 2 accumulators of 32: half the register file, enough FMAs in flight
typedef __m512 Vec;
#define VL 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VZERO() _mm512_setzero_ps()
#elif defined(__AVX2__) && defined(__FMA__)
#define GEMM_MR 6           // 6 x 2 accumulators of 16 registers, 2 for the panel, 1 broadcast
typedef __m256 Vec;
#define VL 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(s) _mm256_set1_ps(s)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VZERO() _mm256_setzero_ps()
#else
#define GEMM_MR 4
#endif

#define GEMM_KB 256         // k per pass: a panel's (KB, NR) slice (32 kB with AVX-512) stays in L1 over the row tiles
#define GEMM_MC 256         // rows per pass: X's (MC, KB) slice (256 kB) stays in L2 over the panels (panel-outer)
#define GEMM_NC 256         // columns per pass, row-outer: the panels' (KB, NC) slice (256 kB) stays in L2 over the row tiles

size_t gemm_packed_floats(int N, int K) {
    return (size_t)(N + GEMM_NR - 1) / GEMM_NR * GEMM_NR * (size_t)K;
}

// A transpose in blocks of 64 k: the block's GEMM_NR x 64 source floats are read row by row (256 contiguous
// bytes each) and its 64 x GEMM_NR destination (8 kB with AVX-512) stays in L1 while it is written down its
// columns.
void gemm_pack(float *wp, const float *w, int ldw, int N, int K) {
    int panels = (N + GEMM_NR - 1) / GEMM_NR;
    for (int p = 0; p < panels; p++) {
        float *dst = wp + (size_t)p * K * GEMM_NR;
        for (int k0 = 0; k0 < K; k0 += 64) {
            int k1 = k0 + 64 < K ? k0 + 64 : K;
            for (int j = 0; j < GEMM_NR; j++) {
                int n = p * GEMM_NR + j;
                if (n >= N) {
                    for (int k = k0; k < k1; k++) dst[(size_t)k * GEMM_NR + j] = 0.0f;
                    continue;
                }
                const float *src = w + (size_t)n * ldw;
                for (int k = k0; k < k1; k++) dst[(size_t)k * GEMM_NR + j] = src[k];
            }
        }
    }
}

// A panel row is GEMM_NR consecutive floats of a W row: a fixed-size copy the compiler turns into vector moves.
void gemm_pack_t(float *wp, const float *w, int ldw, int N, int K) {
    int panels = (N + GEMM_NR - 1) / GEMM_NR;
    for (int p = 0; p < panels; p++) {
        int nc = N - p * GEMM_NR < GEMM_NR ? N - p * GEMM_NR : GEMM_NR;
        float *dst = wp + (size_t)p * K * GEMM_NR;
        const float *src = w + (size_t)p * GEMM_NR;
        if (nc == GEMM_NR) {
            for (int k = 0; k < K; k++)
                for (int j = 0; j < GEMM_NR; j++) dst[(size_t)k * GEMM_NR + j] = src[(size_t)k * ldw + j];
        } else {
            for (int k = 0; k < K; k++)
                for (int j = 0; j < GEMM_NR; j++)
                    dst[(size_t)k * GEMM_NR + j] = j < nc ? src[(size_t)k * ldw + j] : 0.0f;
        }
    }
}

// The start of element (r, j) of a tile (tile()'s s, lds, bs).
static inline float start_value(const float *s, int lds, const float *bs, int r, int j) {
    if (s && bs) return s[(size_t)r * lds + j] + bs[j];
    return s ? s[(size_t)r * lds + j] : bs ? bs[j] : 0.0f;
}

// X's element (row r, k) of a tile: X (M,K) row-major, or X^T stored (K,M) (xt), both with leading dimension ldx.
#define XAT(x, xt, ldx, r, k) ((xt) ? (x)[(size_t)(k) * (ldx) + (r)] : (x)[(size_t)(r) * (ldx) + (k)])

// o (mr, GEMM_NR), leading dimension ldo, = start + op(x) (mr, kc) times the panel slice wp (kc, GEMM_NR), the
// start s (mr, GEMM_NR) with leading dimension lds plus bias bs (GEMM_NR), either NULL (both: zero); s = o
// accumulates. Inlined with constant mr and xt, so the accumulators live in registers.
static inline __attribute__((always_inline)) void tile(int mr, int xt, const float *x, int ldx, const float *wp,
                                                       int kc, float *o, int ldo, const float *s, int lds,
                                                       const float *bs) {
#ifdef VL
    Vec a0[GEMM_MR], a1[GEMM_MR];
    for (int r = 0; r < mr; r++) {
        const float *sr = s ? s + (size_t)r * lds : NULL;
        a0[r] = sr ? VLOAD(sr) : bs ? VLOAD(bs) : VZERO();
        a1[r] = sr ? VLOAD(sr + VL) : bs ? VLOAD(bs + VL) : VZERO();
        if (sr && bs) {
            a0[r] = VADD(a0[r], VLOAD(bs));
            a1[r] = VADD(a1[r], VLOAD(bs + VL));
        }
    }
    for (int k = 0; k < kc; k++) {
        Vec b0 = VLOAD(wp + (size_t)k * GEMM_NR), b1 = VLOAD(wp + (size_t)k * GEMM_NR + VL);
        for (int r = 0; r < mr; r++) {
            Vec xa = VSET1(XAT(x, xt, ldx, r, k));
            a0[r] = VFMA(xa, b0, a0[r]);
            a1[r] = VFMA(xa, b1, a1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        VSTORE(o + (size_t)r * ldo, a0[r]);
        VSTORE(o + (size_t)r * ldo + VL, a1[r]);
    }
#else
    float acc[GEMM_MR][GEMM_NR];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < GEMM_NR; j++) acc[r][j] = start_value(s, lds, bs, r, j);
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < mr; r++) {
            float xv = XAT(x, xt, ldx, r, k);
            for (int j = 0; j < GEMM_NR; j++) acc[r][j] += xv * wp[(size_t)k * GEMM_NR + j];
        }
    for (int r = 0; r < mr; r++) memcpy(o + (size_t)r * ldo, acc[r], sizeof acc[r]);
#endif
}

// tile() for any mr in [1, GEMM_MR] and either X layout, each case compiled with its constants.
#define TILE_CASES(XT)                                                                                          \
    switch (mr) {                                                                                               \
    case GEMM_MR: tile(GEMM_MR, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                 \
    case 1: tile(1, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    case 2: tile(2, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    case 3: tile(3, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    TILE_CASES_4_7(XT)                                                                                          \
    default: break;                                                                                             \
    }
#if GEMM_MR > 6
#define TILE_CASES_4_7(XT)                                                                                      \
    case 4: tile(4, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    case 5: tile(5, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    case 6: tile(6, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    case 7: tile(7, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;
#elif GEMM_MR > 4
#define TILE_CASES_4_7(XT)                                                                                      \
    case 4: tile(4, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;                                             \
    case 5: tile(5, XT, x, ldx, wp, kc, o, ldo, s, lds, bs); break;
#else
#define TILE_CASES_4_7(XT)
#endif

static void tile_rows(int mr, int xt, const float *x, int ldx, const float *wp, int kc, float *o, int ldo,
                      const float *s, int lds, const float *bs) {
    if (xt) { TILE_CASES(1) }
    else { TILE_CASES(0) }
}

// A tile whose panel runs past column n1 (nc < GEMM_NR valid columns): through a full-width copy holding the
// start, so the kernel never touches out beyond n1. The same operations on the valid columns, so the same bits.
// (GCC sees the GEMM_MR-row case read rows of t past mr; the switch on mr never runs it with fewer rows.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static void tile_partial(int mr, int nc, int xt, const float *x, int ldx, const float *wp, int kc, float *o,
                         int ldo, const float *s, int lds, const float *bs) {
    float t[GEMM_MR * GEMM_NR];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < GEMM_NR; j++) t[r * GEMM_NR + j] = j < nc ? start_value(s, lds, bs, r, j) : 0.0f;
    tile_rows(mr, xt, x, ldx, wp, kc, t, GEMM_NR, t, GEMM_NR, NULL);
    for (int r = 0; r < mr; r++) memcpy(o + (size_t)r * ldo, t + r * GEMM_NR, (size_t)nc * sizeof(float));
}
#pragma GCC diagnostic pop

void gemm_packed(float *out, int ldo, const float *x, int ldx, int x_trans, const float *wp, int M, int K, int n0,
                 int n1, const GemmStart *start) {
    gemm_packed_prefix(out, ldo, x, ldx, x_trans, wp, K, M, K, n0, n1, start);
}

// K = 0: no chain to start, out is the start itself.
static void start_only(float *out, int ldo, int M, int n0, int n1, const GemmStart *st) {
    for (int i = 0; i < M; i++)
        for (int j = n0; j < n1; j++)
            out[(size_t)i * ldo + j] =
                start_value(st->add ? st->add + (size_t)i * st->ld_add : NULL, 0, st->bias, 0, j);
}

// One k block of the product over rows [m0, m1) and columns [n0, n1): the tiles' operands (the same for either
// order of the two tile loops below).
typedef struct {
    float *out;
    int ldo, ldx, xt, kp, kc, k0;
    const float *x, *wp;
    const GemmStart *first;     // the start, in the first k block; NULL: out accumulates
} KBlock;

static void block_tile(const KBlock *b, const float *xr, int ldx, int xt, int r0, int mr, int j0, int n1) {
    const GemmStart *st = b->first;
    const float *w = b->wp + ((size_t)(j0 / GEMM_NR) * b->kp + b->k0) * GEMM_NR;
    const float *bs = st && st->bias ? st->bias + j0 : NULL;
    int nc = n1 - j0 < GEMM_NR ? n1 - j0 : GEMM_NR, lds = st ? st->ld_add : b->ldo;
    float *o = b->out + (size_t)r0 * b->ldo + j0;
    const float *s = !st ? o : st->add ? st->add + (size_t)r0 * lds + j0 : NULL;
    if (nc == GEMM_NR) tile_rows(mr, xt, xr, ldx, w, b->kc, o, b->ldo, s, lds, bs);
    else tile_partial(mr, nc, xt, xr, ldx, w, b->kc, o, b->ldo, s, lds, bs);
}

static const float *block_x(const KBlock *b, int r0) {
    return b->xt ? b->x + (size_t)b->k0 * b->ldx + r0 : b->x + (size_t)r0 * b->ldx + b->k0;
}

// Two orders of the tiles. Few rows (a decode step): panel by panel, its (kc, GEMM_NR) slice staying in L1 over
// the row tiles, so each weight is read from memory once. Many rows (the learner, prefill): row tile by row
// tile, its X slice (mr, kc) staying in L1 while the panels stream through from L2/L3 in address order (the
// hardware prefetcher follows one stream), and the output tile next in line is a neighbour of this one. The
// panel-outer order streamed X's rows from L2 once per panel and stalled on each cold output tile: 1024 x 768 x
// 256 on AVX2 (Zen 3) ran at 60-65 GFLOP/s panel-outer, 74-82 row-outer (OpenBLAS: 80-85). X stored transposed
// (the weight gradients) has a row tile's slice in kc strided pieces of mr floats: it is copied into xp first,
// (kc, GEMM_MR) contiguous, once for all the panels (read in place it measured 0.91-0.95x; copied, the d256
// learner's weight gradients took 3% less of its backward, 15% less at the MLP's first layer). The row tiles
// sweep GEMM_NC columns at a time, so the panels they share stay in L2 and are read from memory once per pass, as
// panel-outer reads them: with all of N a decode step of 64 rows at GPT-2's width (64 x 3072 x 768, W cold) read
// W eleven times (NC passes: 1.04-1.10x; 2048 x 3072 x 768 1.04-1.08x).
// Measured on AVX2 only; on AVX-512 (8 x 32 tiles) unmeasured: -DGEMM_ROWS_OUTER=1000000000 restores panel-outer
// everywhere for an A/B.
#ifndef GEMM_ROWS_OUTER
#define GEMM_ROWS_OUTER 48
#endif

// xp (kc, GEMM_MR) = a transposed X's slice: kc pieces of mr floats, ldx apart. Each piece is on its own line
// (the weight gradients' X is d output, rows of OC floats), so the lines XT_AHEAD pieces ahead are asked for
// while these copy: read in order they missed cache one by one.
#define XT_AHEAD 16
static void xt_copy(float *xp, const float *xr, int ldx, int mr, int kc) {
    for (int k = 0; k < kc; k++) {
        __builtin_prefetch(xr + (size_t)(k + XT_AHEAD) * ldx); // past the slice's end: a hint, never a fault
        if (mr == GEMM_MR) memcpy(xp + k * GEMM_MR, xr + (size_t)k * ldx, GEMM_MR * sizeof(float));
        else memcpy(xp + k * GEMM_MR, xr + (size_t)k * ldx, (size_t)mr * sizeof(float));
    }
}

static void block_run(const KBlock *b, int m0, int m1, int n0, int n1) {
    if (m1 - m0 < GEMM_ROWS_OUTER) {
        for (int j0 = n0; j0 < n1; j0 += GEMM_NR)
            for (int r0 = m0; r0 < m1; r0 += GEMM_MR)
                block_tile(b, block_x(b, r0), b->ldx, b->xt, r0, m1 - r0 < GEMM_MR ? m1 - r0 : GEMM_MR, j0, n1);
        return;
    }
    float xp[GEMM_KB * GEMM_MR];   // a transposed X slice, copied (8 kB at most)
    for (int nb = n0; nb < n1; nb += GEMM_NC) {
        int nb1 = n1 - nb < GEMM_NC ? n1 : nb + GEMM_NC;
        for (int r0 = m0; r0 < m1; r0 += GEMM_MR) {
            int mr = m1 - r0 < GEMM_MR ? m1 - r0 : GEMM_MR;
            const float *xr = block_x(b, r0);
            int ldx = b->ldx;
            if (b->xt) {
                xt_copy(xp, xr, ldx, mr, b->kc);
                xr = xp;
                ldx = GEMM_MR;
            }
            for (int j0 = nb; j0 < nb1; j0 += GEMM_NR) block_tile(b, xr, ldx, b->xt, r0, mr, j0, n1);
        }
    }
}

void gemm_packed_prefix(float *out, int ldo, const float *x, int ldx, int x_trans, const float *wp, int kp, int M,
                        int K, int n0, int n1, const GemmStart *start) {
    if (K <= 0) {
        if (start) start_only(out, ldo, M, n0, n1, start);
        return;
    }
    for (int m0 = 0; m0 < M; m0 += GEMM_MC) {
        int m1 = m0 + GEMM_MC < M ? m0 + GEMM_MC : M;
        for (int k0 = 0; k0 < K; k0 += GEMM_KB) {     // in order: every element's chain runs k = 0..K-1
            KBlock b = {out, ldo, ldx, x_trans, kp, K - k0 < GEMM_KB ? K - k0 : GEMM_KB, k0, x, wp,
                        k0 == 0 ? start : NULL};
            block_run(&b, m0, m1, n0, n1);
        }
    }
}
