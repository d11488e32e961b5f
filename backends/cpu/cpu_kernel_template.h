/* SPDX-License-Identifier: Apache-2.0 */
/* Body of a micro-kernel family, included by cpu_kernel_<isa>.c once per
 * dtype. The includer defines:
 *   REAL, VEC, VL                 element type, vector type, lanes
 *   VZERO(), VLOADU(p), VSET1(s), VFMADD(a, b, acc), VSTOREU(p, v), VADD(a, b),
 *   VMAX(a, b) (lane-wise a > b ? a : b, so b when either is NaN, as x86's
 *   max does), VSTOREP(p, v, n) (the first n lanes), VSTREAM(p, v) (a
 *   non-temporal store to a vector-aligned p, or VSTOREU)
 *   KNAME(name)                   prefixes names with the ISA and dtype
 *   TILE_LIST_NV<n>(M)            for every nv: M(nv, np) for each np tile
 * The template #undefs the per-dtype macros at its end, so the next
 * instantiation can define them again. Every (nv, np) becomes its own function so the accumulators
 * are a fixed array the compiler keeps in registers. */
#include "cpu_kernel.h"

#define TILE_UNROLL _Pragma("GCC unroll 32")

/* One input channel of every point of the tile: its NV weight vectors times
 * each point's broadcast value (input channel ci), then the next weights. */
#define TILE_STEP(NV, NP)                                                                          \
    do {                                                                                           \
        VEC wv[NV];                                                                                \
        TILE_UNROLL for (int v = 0; v < NV; ++v) {                                                 \
            wv[v] = VLOADU(wp + v * VL);                                                           \
        }                                                                                          \
        TILE_UNROLL for (int p = 0; p < NP; ++p) {                                                 \
            VEC b = VSET1(xq[p][ci]);                                                              \
            TILE_UNROLL for (int v = 0; v < NV; ++v) {                                             \
                acc[p][v] = VFMADD(b, wv[v], acc[p][v]);                                           \
            }                                                                                      \
        }                                                                                          \
        wp += NV * VL;                                                                             \
    } while (0)

#define TILE_DEFINE(NV, NP)                                                                        \
    static void KNAME(tile_##NV##_##NP)(const cpu_tile_args_t *a) {                                \
        VEC acc[NP][NV];                                                                           \
        TILE_UNROLL for (int p = 0; p < NP; ++p) {                                                 \
            TILE_UNROLL for (int v = 0; v < NV; ++v) {                                             \
                acc[p][v] = VZERO();                                                               \
            }                                                                                      \
        }                                                                                          \
        const REAL *w = (const REAL *)a->w;                                                        \
        const ptrdiff_t cs = a->x_cstride;                                                         \
        const int64_t cin = a->cin;                                                                \
        const REAL *xq[NP];                                                                        \
        /* The next tile's output lines, a share at the start of each tap. */                      \
        const char *out_next = (const char *)((REAL *)a->out + a->prefetch_out_off);               \
        const int out_lines = a->prefetch_out_lines;                                               \
        const int out_per_tap = a->ntaps ? (out_lines + a->ntaps - 1) / a->ntaps : 0;              \
        for (int t = 0; t < a->ntaps; ++t) {                                                       \
            const REAL *xt = (const REAL *)a->x + a->xoff[t];                                      \
            TILE_UNROLL for (int p = 0; p < NP; ++p) {                                             \
                xq[p] = xt + a->xpoint[p];                                                         \
            }                                                                                      \
            const REAL *wp = w + a->woff[t];                                                       \
            for (int l = t * out_per_tap; l < (t + 1) * out_per_tap && l < out_lines; ++l) {       \
                __builtin_prefetch(out_next + 64 * l, 1);                                          \
            }                                                                                      \
            ptrdiff_t ci = 0;                                                                      \
            int64_t c = 0;                                                                         \
            /* The first prefetch_lines steps each prefetch a line of the next                     \
             * tile's input for this tap (spread out: a burst would queue). */                     \
            const char *next = (const char *)(xt + a->prefetch_off);                               \
            const int64_t lines = a->prefetch_lines < cin ? a->prefetch_lines : cin;               \
            for (; c < lines; ++c, ci += cs) {                                                     \
                __builtin_prefetch(next + 64 * c);                                                 \
                TILE_STEP(NV, NP);                                                                 \
            }                                                                                      \
            for (; c < cin; ++c, ci += cs) {                                                       \
                TILE_STEP(NV, NP);                                                                 \
            }                                                                                      \
        }                                                                                          \
        const REAL *bias = (const REAL *)a->bias;                                                  \
        VEC bv[NV];                                                                                \
        TILE_UNROLL for (int v = 0; v < NV; ++v) {                                                 \
            bv[v] = VLOADU(bias + v * VL);                                                         \
        }                                                                                          \
        const int last_lanes = a->nvalid - (NV - 1) * VL;                                          \
        /* Read once: the compiler cannot keep *a across stores that may alias it. */              \
        const int relu = a->relu, stream = a->stream;                                              \
        TILE_UNROLL for (int p = 0; p < NP; ++p) {                                                 \
            REAL *o = (REAL *)a->out + a->ooff[p];                                                 \
            TILE_UNROLL for (int v = 0; v < NV; ++v) {                                             \
                VEC r = VADD(acc[p][v], bv[v]);                                                    \
                r = relu ? VMAX(VZERO(), r) : r; /* a NaN r stays NaN */                           \
                if (stream) {                                                                      \
                    VSTREAM(o + v * VL, r);                                                        \
                } else if (v < NV - 1 || last_lanes == VL) {                                       \
                    VSTOREU(o + v * VL, r);                                                        \
                } else {                                                                           \
                    VSTOREP(o + v * VL, r, last_lanes);                                            \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#define TILE_CASE(NV, NP)                                                                          \
    case NP:                                                                                       \
        KNAME(tile_##NV##_##NP)(a);                                                                \
        return;

#include "cpu_kernel_np_lists.h"

TILE_LIST_NV1(TILE_DEFINE)
#ifdef TILE_LIST_NV2
TILE_LIST_NV2(TILE_DEFINE)
#endif
#ifdef TILE_LIST_NV3
TILE_LIST_NV3(TILE_DEFINE)
#endif
#ifdef TILE_LIST_NV4
TILE_LIST_NV4(TILE_DEFINE)
#endif

static void KNAME(tile)(const cpu_tile_args_t *a) {
    switch (a->nv) {
    case 1:
        switch (a->np) { TILE_LIST_NV1(TILE_CASE) }
        break;
#ifdef TILE_LIST_NV2
    case 2:
        switch (a->np) { TILE_LIST_NV2(TILE_CASE) }
        break;
#endif
#ifdef TILE_LIST_NV3
    case 3:
        switch (a->np) { TILE_LIST_NV3(TILE_CASE) }
        break;
#endif
#ifdef TILE_LIST_NV4
    case 4:
        switch (a->np) { TILE_LIST_NV4(TILE_CASE) }
        break;
#endif
    default:
        break;
    }
}

#undef TILE_UNROLL
#undef TILE_STEP
#undef TILE_DEFINE
#undef TILE_CASE
#undef NP_UPTO_4
#undef NP_UPTO_6
#undef NP_UPTO_8
#undef NP_UPTO_12
#undef NP_UPTO_16
#undef REAL
#undef VEC
#undef VL
#undef VZERO
#undef VLOADU
#undef VSET1
#undef VFMADD
#undef VSTOREU
#undef VADD
#undef VMAX
#undef VSTOREP
#undef VSTREAM
#undef VLOADP
#undef VREDUCE
#undef KNAME
