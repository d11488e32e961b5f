/* SPDX-License-Identifier: Apache-2.0 */
/* Body of the backward weights micro-kernels and the bias-gradient sums,
 * included by cpu_kernel_<isa>.c once per dtype, before cpu_kernel_template.h
 * (which #undefs the shared macros). Uses REAL, VEC, VL, VZERO, VLOADU, VLOADP, VSET1,
 * VFMADD, VADD, VSTOREU, VSTOREP, VREDUCE, KNAME and TILE_LIST_NV<n> (the
 * forward tile shapes: the register budget is the same).
 *
 * dW of one tap is a GEMM of x^T (Cin x points) with the tap's strided view
 * of dL/dz (points x Cout), reduced over the points. A tile holds nm x nv
 * vectors of sums in registers: per point it broadcasts nm channels of one
 * operand and loads nv vectors of the other, for nm * nv FMAs. It starts from
 * the sums in memory and stores them back, so a caller can feed one tile
 * several boxes of points in a fixed order. With one broadcast channel
 * (Cout/G = 1, vectors over Cin) a tile takes several W taps instead (nt). */
#include "cpu_kernel.h"
#include "cpu_kernel_np_lists.h"

#define WG_UNROLL       _Pragma("GCC unroll 32")
#define WG_LOAD_TAIL(p) VLOADP(p, tail)

/* The points of one W row into acc; LOAD loads the last vector of b.
 * Broadcast row r is channel r % NM of tap r / NM (taps `at` apart). */
#define WG_ROW(NV, NM, NT, LOAD)                                                                   \
    for (int64_t k = 0; k < nw; ++k, pa += as, pb += bs) {                                         \
        if (pf_left > 0) {                                                                         \
            __builtin_prefetch(pf, 0, 2);                                                          \
            pf += 64;                                                                              \
            --pf_left;                                                                             \
        }                                                                                          \
        VEC bv[NV];                                                                                \
        WG_UNROLL for (int v = 0; v < NV - 1; ++v) {                                               \
            bv[v] = VLOADU(pb + v * VL);                                                           \
        }                                                                                          \
        bv[NV - 1] = LOAD(pb + (NV - 1) * VL);                                                     \
        WG_UNROLL for (int r = 0; r < NM * NT; ++r) {                                              \
            VEC av = VSET1(pa[r / NM * at + r % NM]);                                              \
            WG_UNROLL for (int v = 0; v < NV; ++v) {                                               \
                acc[r][v] = VFMADD(av, bv[v], acc[r][v]);                                          \
            }                                                                                      \
        }                                                                                          \
    }

/* A tile of NM broadcast channels of NT taps (NT > 1 only with NM = 1: one
 * channel of several taps, which share the vector operand, loaded once per
 * point for NT x NV FMAs where one tap would give NV). Row r's sums are at
 * acc + (r / NM) * acc_tap + (r % NM) * acc_stride. */
#define WG_BODY(NAME, NV, NM, NT)                                                                  \
    static void KNAME(NAME)(const cpu_wgrad_args_t *g) {                                           \
        REAL *out = (REAL *)g->acc;                                                                \
        const ptrdiff_t os = g->acc_stride, ot = NT > 1 ? g->acc_tap : 0;                          \
        const ptrdiff_t at = NT > 1 ? g->a_tap : 0;                                                \
        VEC acc[NM * NT][NV];                                                                      \
        WG_UNROLL for (int r = 0; r < NM * NT; ++r) {                                              \
            WG_UNROLL for (int v = 0; v < NV; ++v) {                                               \
                acc[r][v] = VLOADU(out + r / NM * ot + r % NM * os + v * VL);                      \
            }                                                                                      \
        }                                                                                          \
        const int tail = g->tail;                                                                  \
        const ptrdiff_t as = g->a_step[2], bs = g->b_step[2];                                      \
        const int64_t nw = g->count[2];                                                            \
        const char *pf = (const char *)g->prefetch;                                                \
        int64_t pf_left = g->prefetch_lines;                                                       \
        for (int64_t i = 0; i < g->count[0]; ++i) {                                                \
            for (int64_t j = 0; j < g->count[1]; ++j) {                                            \
                const REAL *pa = (const REAL *)g->a + i * g->a_step[0] + j * g->a_step[1];         \
                const REAL *pb = (const REAL *)g->b + i * g->b_step[0] + j * g->b_step[1];         \
                if (tail == VL) {                                                                  \
                    WG_ROW(NV, NM, NT, VLOADU)                                                     \
                } else {                                                                           \
                    WG_ROW(NV, NM, NT, WG_LOAD_TAIL)                                               \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        WG_UNROLL for (int r = 0; r < NM * NT; ++r) {                                              \
            WG_UNROLL for (int v = 0; v < NV; ++v) {                                               \
                VSTOREU(out + r / NM * ot + r % NM * os + v * VL, acc[r][v]);                      \
            }                                                                                      \
        }                                                                                          \
    }

#define WG_DEFINE(NV, NM)      WG_BODY(wgrad_##NV##_##NM, NV, NM, 1)
#define WG_TAPS_DEFINE(NV, NT) WG_BODY(wgrad_taps_##NV##_##NT, NV, 1, NT)

#define WG_CASE(NV, NM)                                                                            \
    case NM:                                                                                       \
        KNAME(wgrad_##NV##_##NM)(g);                                                               \
        return;

#define WG_TAPS_CASE(NV, NT)                                                                       \
    case NT:                                                                                       \
        KNAME(wgrad_taps_##NV##_##NT)(g);                                                          \
        return;

TILE_LIST_NV1(WG_DEFINE)
TILE_LIST_NV1(WG_TAPS_DEFINE)
#ifdef TILE_LIST_NV2
TILE_LIST_NV2(WG_DEFINE)
TILE_LIST_NV2(WG_TAPS_DEFINE)
#endif
#ifdef TILE_LIST_NV3
TILE_LIST_NV3(WG_DEFINE)
TILE_LIST_NV3(WG_TAPS_DEFINE)
#endif
#ifdef TILE_LIST_NV4
TILE_LIST_NV4(WG_DEFINE)
TILE_LIST_NV4(WG_TAPS_DEFINE)
#endif

/* The tiles of several taps (nt > 1, nm = 1). */
static void KNAME(wgrad_taps)(const cpu_wgrad_args_t *g) {
    switch (g->nv) {
    case 1:
        switch (g->nt) { TILE_LIST_NV1(WG_TAPS_CASE) }
        break;
#ifdef TILE_LIST_NV2
    case 2:
        switch (g->nt) { TILE_LIST_NV2(WG_TAPS_CASE) }
        break;
#endif
#ifdef TILE_LIST_NV3
    case 3:
        switch (g->nt) { TILE_LIST_NV3(WG_TAPS_CASE) }
        break;
#endif
#ifdef TILE_LIST_NV4
    case 4:
        switch (g->nt) { TILE_LIST_NV4(WG_TAPS_CASE) }
        break;
#endif
    default:
        break;
    }
}

static void KNAME(wgrad)(const cpu_wgrad_args_t *g) {
    if (g->nt > 1) {
        KNAME(wgrad_taps)(g);
        return;
    }
    switch (g->nv) {
    case 1:
        switch (g->nm) { TILE_LIST_NV1(WG_CASE) }
        break;
#ifdef TILE_LIST_NV2
    case 2:
        switch (g->nm) { TILE_LIST_NV2(WG_CASE) }
        break;
#endif
#ifdef TILE_LIST_NV3
    case 3:
        switch (g->nm) { TILE_LIST_NV3(WG_CASE) }
        break;
#endif
#ifdef TILE_LIST_NV4
    case 4:
        switch (g->nm) { TILE_LIST_NV4(WG_CASE) }
        break;
#endif
    default:
        break;
    }
}

/* Bias gradient, channels_last: column sums of `rows` rows of `width`
 * channels, four vectors of columns at a time, each column summed row by row.
 * Rows narrower than a vector that follow each other (one output channel:
 * gan_g5) are summed as one span in whole vectors, lane l holding column
 * l % width, and the lanes folded into their columns at the end. */
static void KNAME(colsum)(const void *src, int64_t rows, ptrdiff_t row_stride, int64_t width,
                          void *accp) {
    const REAL *s = (const REAL *)src;
    REAL *acc = (REAL *)accp;
    if (width < VL && VL % width == 0 && row_stride == width) {
        const int64_t n = rows * width;
        VEC a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
        int64_t i = 0;
        for (; i + 4 * VL <= n; i += 4 * VL) {
            a0 = VADD(a0, VLOADU(s + i));
            a1 = VADD(a1, VLOADU(s + i + VL));
            a2 = VADD(a2, VLOADU(s + i + 2 * VL));
            a3 = VADD(a3, VLOADU(s + i + 3 * VL));
        }
        for (; i < n; i += VL) { /* i stays a multiple of width: lanes keep their columns */
            a0 = VADD(a0, n - i < VL ? VLOADP(s + i, (int)(n - i)) : VLOADU(s + i));
        }
        REAL lanes[VL];
        VEC total = VADD(VADD(a0, a1), VADD(a2, a3));
        VSTOREU(lanes, total);
        for (int l = 0; l < VL; ++l) {
            acc[l % width] += lanes[l];
        }
        return;
    }
    int64_t c = 0;
    for (; c + 4 * VL <= width; c += 4 * VL) {
        VEC a0 = VLOADU(acc + c), a1 = VLOADU(acc + c + VL);
        VEC a2 = VLOADU(acc + c + 2 * VL), a3 = VLOADU(acc + c + 3 * VL);
        for (int64_t r = 0; r < rows; ++r) {
            const REAL *row = s + r * row_stride + c;
            a0 = VADD(a0, VLOADU(row));
            a1 = VADD(a1, VLOADU(row + VL));
            a2 = VADD(a2, VLOADU(row + 2 * VL));
            a3 = VADD(a3, VLOADU(row + 3 * VL));
        }
        VSTOREU(acc + c, a0);
        VSTOREU(acc + c + VL, a1);
        VSTOREU(acc + c + 2 * VL, a2);
        VSTOREU(acc + c + 3 * VL, a3);
    }
    for (; c < width; c += VL) {
        const int n = width - c < VL ? (int)(width - c) : VL;
        VEC a0 = VLOADP(acc + c, n);
        for (int64_t r = 0; r < rows; ++r) {
            a0 = VADD(a0, VLOADP(s + r * row_stride + c, n));
        }
        VSTOREP(acc + c, a0, n);
    }
}

/* Bias gradient, channels_first: the sum of one channel's contiguous span,
 * in four vector accumulators (a fixed order for a given n). */
static void KNAME(spansum)(const void *src, int64_t n, void *sum) {
    const REAL *s = (const REAL *)src;
    VEC a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
    int64_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        a0 = VADD(a0, VLOADU(s + i));
        a1 = VADD(a1, VLOADU(s + i + VL));
        a2 = VADD(a2, VLOADU(s + i + 2 * VL));
        a3 = VADD(a3, VLOADU(s + i + 3 * VL));
    }
    for (; i < n; i += VL) {
        a0 = VADD(a0, n - i < VL ? VLOADP(s + i, (int)(n - i)) : VLOADU(s + i));
    }
    VEC total = VADD(VADD(a0, a1), VADD(a2, a3));
    *(REAL *)sum = VREDUCE(total);
}

#undef WG_UNROLL
#undef WG_LOAD_TAIL
#undef WG_ROW
#undef WG_DEFINE
#undef WG_CASE
#undef WG_BODY
#undef WG_TAPS_DEFINE
#undef WG_TAPS_CASE
#undef NP_UPTO_4
#undef NP_UPTO_6
#undef NP_UPTO_8
#undef NP_UPTO_12
#undef NP_UPTO_16
