/* SPDX-License-Identifier: Apache-2.0 */
/* Body of the dot micro-kernels (few output channels), included by
 * cpu_kernel_<isa>.c once per dtype, before cpu_kernel_template.h (which
 * #undefs every macro below). The includer defines, besides the shared
 * REAL, VEC, VL, VZERO, VLOADU, VFMADD, VADD and KNAME:
 *   VLOADP(p, n)       loads n < VL elements, the other lanes zero
 *   VREDUCE(v)         the sum of the lanes of v, as a REAL
 *   DOT_LIST_NCO<n>(M) for n = 1..CPU_DOT_NCO_MAX: M(n, np) for each np tile
 *
 * With one output channel a vector of output channels is mostly padding; here
 * the input channels fill the lanes instead. Each (point, output channel) sums
 * its taps x Cin products lane-wise in one accumulator, reduced horizontally
 * once at the end of the tile. A tile is np points x nco output channels: per
 * tap and channel vector it loads nco weight vectors and np input vectors for
 * np * nco FMAs. Tiles stay small (np pointers must fit the integer
 * registers), so small ones keep two sets of accumulators. Every (nco, np) is its own function, as
 * in the main template, so the accumulators stay in registers. */
#include "cpu_kernel.h"

#define DOT_UNROLL       _Pragma("GCC unroll 32")
#define DOT_LOAD_TAIL(p) VLOADP(p, tail)

/* Accumulator sets: small tiles alternate two sets over the channel vectors
 * so that at least 8 FMA chains are in flight. */
#define DOT_SETS(NCO, NP) ((NCO) * (NP) <= 8 ? 2 : 1)

/* One channel vector of the tile at channel c into accumulator set s; LOAD
 * is VLOADU or the partial load of the tail. */
#define DOT_STEP(NCO, NP, c, s, LOAD)                                                              \
    do {                                                                                           \
        VEC wv[NCO];                                                                               \
        DOT_UNROLL for (int j = 0; j < NCO; ++j) {                                                 \
            wv[j] = LOAD(wt + j * cin + (c));                                                      \
        }                                                                                          \
        DOT_UNROLL for (int p = 0; p < NP; ++p) {                                                  \
            VEC xv = LOAD(xq[p] + (c));                                                            \
            DOT_UNROLL for (int j = 0; j < NCO; ++j) {                                             \
                acc[s][p][j] = VFMADD(xv, wv[j], acc[s][p][j]);                                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define DOT_DEFINE(NCO, NP)                                                                        \
    static void KNAME(dot_##NCO##_##NP)(const cpu_tile_args_t *a) {                                \
        enum { last = DOT_SETS(NCO, NP) - 1 };                                                     \
        VEC acc[2][NP][NCO];                                                                       \
        DOT_UNROLL for (int s = 0; s <= last; ++s) {                                               \
            DOT_UNROLL for (int p = 0; p < NP; ++p) {                                              \
                DOT_UNROLL for (int j = 0; j < NCO; ++j) {                                         \
                    acc[s][p][j] = VZERO();                                                        \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        const int64_t cin = a->cin;                                                                \
        const int64_t full = cin - cin % VL;                                                       \
        const int tail = (int)(cin % VL);                                                          \
        const REAL *xq[NP];                                                                        \
        for (int t = 0; t < a->ntaps; ++t) {                                                       \
            const REAL *xt = (const REAL *)a->x + a->xoff[t];                                      \
            DOT_UNROLL for (int p = 0; p < NP; ++p) {                                              \
                xq[p] = xt + a->xpoint[p];                                                         \
            }                                                                                      \
            const REAL *wt = (const REAL *)a->w + a->woff[t];                                      \
            int64_t c = 0;                                                                         \
            for (; c + 2 * VL <= full; c += 2 * VL) {                                              \
                DOT_STEP(NCO, NP, c, 0, VLOADU);                                                   \
                DOT_STEP(NCO, NP, c + VL, last, VLOADU);                                           \
            }                                                                                      \
            if (c < full) {                                                                        \
                DOT_STEP(NCO, NP, c, 0, VLOADU);                                                   \
            }                                                                                      \
            if (tail) {                                                                            \
                DOT_STEP(NCO, NP, full, last, DOT_LOAD_TAIL);                                      \
            }                                                                                      \
        }                                                                                          \
        const REAL *bias = (const REAL *)a->bias;                                                  \
        DOT_UNROLL for (int p = 0; p < NP; ++p) {                                                  \
            REAL *o = (REAL *)a->out + a->ooff[p];                                                 \
            DOT_UNROLL for (int j = 0; j < NCO; ++j) {                                             \
                VEC sum = last ? VADD(acc[0][p][j], acc[last][p][j]) : acc[0][p][j];               \
                REAL r = VREDUCE(sum) + bias[j];                                                   \
                o[j] = a->relu && r < 0 ? (REAL)0 : r; /* a NaN r stays NaN */                     \
            }                                                                                      \
        }                                                                                          \
    }

#define DOT_CASE(NCO, NP)                                                                          \
    case NP:                                                                                       \
        KNAME(dot_##NCO##_##NP)(a);                                                                \
        return;

/* Lists of np values for DOT_LIST_NCO<n>. */
#define DOT_NP_UPTO_2(M, nco) M(nco, 1) M(nco, 2)
#define DOT_NP_UPTO_4(M, nco) DOT_NP_UPTO_2(M, nco) M(nco, 3) M(nco, 4)
#define DOT_NP_UPTO_6(M, nco) DOT_NP_UPTO_4(M, nco) M(nco, 5) M(nco, 6)
#define DOT_NP_UPTO_8(M, nco) DOT_NP_UPTO_6(M, nco) M(nco, 7) M(nco, 8)

DOT_LIST_NCO1(DOT_DEFINE)
DOT_LIST_NCO2(DOT_DEFINE)
DOT_LIST_NCO3(DOT_DEFINE)
DOT_LIST_NCO4(DOT_DEFINE)

static void KNAME(dot)(const cpu_tile_args_t *a) {
    switch (a->nv) {
    case 1:
        switch (a->np) { DOT_LIST_NCO1(DOT_CASE) }
        break;
    case 2:
        switch (a->np) { DOT_LIST_NCO2(DOT_CASE) }
        break;
    case 3:
        switch (a->np) { DOT_LIST_NCO3(DOT_CASE) }
        break;
    case 4:
        switch (a->np) { DOT_LIST_NCO4(DOT_CASE) }
        break;
    default:
        break;
    }
}

#undef DOT_UNROLL
#undef DOT_LOAD_TAIL
#undef DOT_SETS
#undef DOT_STEP
#undef DOT_DEFINE
#undef DOT_CASE
#undef DOT_NP_UPTO_2
#undef DOT_NP_UPTO_4
#undef DOT_NP_UPTO_6
#undef DOT_NP_UPTO_8
