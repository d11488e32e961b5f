/* SPDX-License-Identifier: Apache-2.0 */
/* Winograd F(2, 2) and F(2, 3) transforms (backward data, stride-1 forward)
 * (cpu_winograd.c), a vector of channels at a time; included
 * by cpu_kernel_<isa>.c once per dtype, before cpu_kernel_template.h (which
 * #undefs the shared macros). Uses REAL, VEC, VL, VZERO, VLOADU, VLOADP,
 * VSET1, VFMADD, VADD, VSTOREU, VSTOREP and KNAME. Points and transform
 * points are in D, H, W order (index (d * alpha + h) * alpha + w). */
#include <string.h>

#include "cpu_kernel.h"

/* Keeps a vector in a register: GCC would otherwise fold a weight vector's
 * load into each of the FMAs that share it (two loads, not one). Clang
 * checks the constraint against the file's ISA, not the function's, and
 * needs no help. */
#ifndef WINO_IN_REGISTER
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define WINO_IN_REGISTER(x) __asm__("" : "+v"(x))
#else
#define WINO_IN_REGISTER(x) ((void)0)
#endif
#endif

/* a - b, exactly (one rounding, as a subtraction). */
#define WINO_SUB(a, b) VFMADD(VSET1((REAL)-1), b, a)

/* Channels [c, c + n) of the `count` points pts (zeros for NULL) into x. */
static inline void KNAME(wino_gather)(const void *const *pts, int count, int64_t c, int n, VEC *x) {
    for (int q = 0; q < count; ++q) {
        const REAL *p = (const REAL *)pts[q];
        x[q] = !p ? VZERO() : n == VL ? VLOADU(p + c) : VLOADP(p + c, n);
    }
}

/* x[q] into channels [c, c + n) of row q of v (rows vstride apart). */
static inline void KNAME(wino_scatter)(const VEC *x, int count, REAL *v, ptrdiff_t vstride,
                                       int64_t c, int n) {
    for (int q = 0; q < count; ++q) {
        if (n == VL) {
            VSTOREU(v + q * vstride + c, x[q]);
        } else {
            VSTOREP(v + q * vstride + c, x[q], n);
        }
    }
}

/* The `count` outputs o plus channels [c, c + n) of bias (whole vectors;
 * NULL: none) into those channels of out[q] (NULL: dropped); whole aligned
 * vectors by non-temporal stores when @p stream. */
static inline void KNAME(wino_put)(const VEC *o, int count, const void *bias, void *const *out,
                                   int64_t c, int n, int stream) {
    const VEC b = bias ? VLOADU((const REAL *)bias + c) : VZERO();
    for (int q = 0; q < count; ++q) {
        REAL *p = (REAL *)out[q];
        if (!p) {
            continue;
        }
        const VEC r = bias ? VADD(o[q], b) : o[q];
        if (n < VL) {
            VSTOREP(p + c, r, n);
        } else if (stream && ((uintptr_t)(p + c) & (VL * sizeof(REAL) - 1)) == 0) {
            VSTREAM(p + c, r);
        } else {
            VSTOREU(p + c, r);
        }
    }
}

/* F(2, 2), one axis in place: B^T = rows (1, -1, 0), (0, 1, 0), (0, -1, 1)
 * on x[a], x[a + st], x[a + 2 st]. */
#define WINO_B3(x, a, st)                                                                          \
    do {                                                                                           \
        x[a] = WINO_SUB(x[a], x[(a) + (st)]);                                                      \
        x[(a) + 2 * (st)] = WINO_SUB(x[(a) + 2 * (st)], x[(a) + (st)]);                            \
    } while (0)

/* F(2, 3), one axis in place: B^T = rows (1, 0, -1, 0), (0, 1, 1, 0),
 * (0, -1, 1, 0), (0, 1, 0, -1) on x[a], x[a + st], x[a + 2 st], x[a + 3 st]. */
#define WINO_B4(x, a, st)                                                                          \
    do {                                                                                           \
        const VEC t0 = WINO_SUB(x[a], x[(a) + 2 * (st)]);                                          \
        const VEC t1 = VADD(x[(a) + (st)], x[(a) + 2 * (st)]);                                     \
        const VEC t2 = WINO_SUB(x[(a) + 2 * (st)], x[(a) + (st)]);                                 \
        const VEC t3 = WINO_SUB(x[(a) + (st)], x[(a) + 3 * (st)]);                                 \
        x[a] = t0;                                                                                 \
        x[(a) + (st)] = t1;                                                                        \
        x[(a) + 2 * (st)] = t2;                                                                    \
        x[(a) + 3 * (st)] = t3;                                                                    \
    } while (0)

/* F(2, 2): B^T along W, H and D of 3 x 3 x 3 points: v[q * vstride + c] for
 * the 27 transform points q. */
static void KNAME(wino_in3)(const void *const *pts, int64_t channels, void *out,
                            ptrdiff_t vstride) {
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC d[27];
        KNAME(wino_gather)(pts, 27, c, n, d);
        for (int q = 0; q < 9; ++q) {
            WINO_B3(d, 3 * q, 1);
        }
        for (int i = 0; i < 3; ++i) {
            for (int k = 0; k < 3; ++k) {
                WINO_B3(d, 9 * i + k, 3);
            }
        }
        for (int q = 0; q < 9; ++q) {
            WINO_B3(d, q, 9);
        }
        KNAME(wino_scatter)(d, 27, (REAL *)out, vstride, c, n);
    }
}

/* F(2, 3): the same for 4 x 4 x 4 points, 64 transform points. */
static void KNAME(wino_in4)(const void *const *pts, int64_t channels, void *out,
                            ptrdiff_t vstride) {
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC d[64];
        KNAME(wino_gather)(pts, 64, c, n, d);
        for (int q = 0; q < 16; ++q) {
            WINO_B4(d, 4 * q, 1);
        }
        for (int i = 0; i < 4; ++i) {
            for (int k = 0; k < 4; ++k) {
                WINO_B4(d, 16 * i + k, 4);
            }
        }
        for (int q = 0; q < 16; ++q) {
            WINO_B4(d, q, 16);
        }
        KNAME(wino_scatter)(d, 64, (REAL *)out, vstride, c, n);
    }
}

/* A^T along W and H of one D slice's 9 transform points: f[2 h + w]. */
static inline void KNAME(wino_a2)(const VEC *m, VEC *f) {
    VEC e[6];
    for (int q = 0; q < 3; ++q) {
        e[2 * q] = VADD(m[3 * q], m[3 * q + 1]);
        e[2 * q + 1] = VADD(m[3 * q + 1], m[3 * q + 2]);
    }
    for (int k = 0; k < 2; ++k) {
        f[k] = VADD(e[k], e[2 + k]);
        f[2 + k] = VADD(e[2 + k], e[4 + k]);
    }
}

/* F(2, 2): A^T = rows (1, 1, 0), (0, 1, 1) along W, H and D: the 8 points
 * o[4 d + 2 h + w] from the 27 transform points m, D slice by D slice. */
static inline void KNAME(wino_a3)(const VEC *m, VEC *o) {
    VEC f[12];
    for (int i = 0; i < 3; ++i) { /* f[4 d + 2 h + w] */
        KNAME(wino_a2)(m + 9 * i, f + 4 * i);
    }
    for (int q = 0; q < 4; ++q) {
        o[q] = VADD(f[q], f[4 + q]);
        o[4 + q] = VADD(f[4 + q], f[8 + q]);
    }
}

/* F(2, 2)'s output transform: the 8 points out[4 d + 2 h + w] from the
 * transform points' rows m + q * mstride, which hold whole vectors past
 * `channels`. */
static void KNAME(wino_out3)(const void *in, ptrdiff_t mstride, int64_t channels, const void *bias,
                             void *const *out) {
    const REAL *m = (const REAL *)in;
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC x[27], o[8];
        for (int q = 0; q < 27; ++q) {
            x[q] = VLOADU(m + q * mstride + c);
        }
        KNAME(wino_a3)(x, o);
        KNAME(wino_put)(o, 8, bias, out, c, n, 0);
    }
}

/* A block's tiles, a lane each: a row of the fused pass's V (the compiler's
 * vectors, in this file's instruction set). */
typedef REAL KNAME(lanes_t) __attribute__((vector_size(CPU_WINO_FUSED_BLOCK * sizeof(REAL))));

/* Lanes k, k + 4, ..., k + 60 of a[0..3]: phase k of the 64 points. */
#define WINO_PHASE(a, k)                                                                           \
    __builtin_shufflevector(                                                                       \
        __builtin_shufflevector(a[0], a[1], k, k + 4, k + 8, k + 12, k + 16, k + 20, k + 24,       \
                                k + 28, k, k, k, k, k, k, k, k),                                   \
        __builtin_shufflevector(a[2], a[3], k, k + 4, k + 8, k + 12, k + 16, k + 20, k + 24,       \
                                k + 28, k, k, k, k, k, k, k, k),                                   \
        0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)

/* The fused pass's B^T along an axis, in place: (e0 - e2, e1 - e3, e2, e3,
 * e4 - e2, e5 - e3). */
static inline void KNAME(wino_b6)(KNAME(lanes_t) * y) {
    y[0] -= y[2];
    y[1] -= y[3];
    y[4] -= y[2];
    y[5] -= y[3];
}

/* wino_b6 on the rows v + e * step, e < 6, of a block's V. */
static inline void KNAME(wino_fused_b)(REAL *v, ptrdiff_t step) {
    KNAME(lanes_t) y[6];
    for (int e = 0; e < 6; ++e) {
        memcpy(&y[e], v + e * step, sizeof(y[e]));
    }
    KNAME(wino_b6)(y);
    for (int e = 0; e < 6; ++e) {
        if (e != 2 && e != 3) { /* unchanged */
            memcpy(v + e * step, &y[e], sizeof(y[e]));
        }
    }
}

/* The fused pass's input transform (cpu_wino_fused_in_fn), the block's
 * tiles a lane each. Along W, tile i's point e is the row's point z0 + 4 i
 * + e: the row (zero-padded) split into its 4 phases p_k[i] = row[4 i + k],
 * p_4 and p_5 the next tile's p_0 and p_1. B^T on each axis: (e0 - e2, e1 -
 * e3, e2, e3, e4 - e2, e5 - e3). */
static void KNAME(wino_fused_in)(const void *const *rows, int64_t z0, int64_t len, int ntiles,
                                 const void *begin, const void *end, void *out) {
    typedef KNAME(lanes_t) lanes;
    typedef __typeof__((lanes){0} < (lanes){0}) mask;
    enum { B = CPU_WINO_FUSED_BLOCK };
    _Static_assert(B == 16, "the phases below split 64 points into 4 x 16");
    REAL *v = (REAL *)out;
    /* The rows' points z0 .. z0 + 79, zeros outside dz: all of them read
     * before any is read back, so that the vector loads find the stores
     * committed rather than wait for them in the store buffer. */
    _Alignas(64) REAL row[36][5 * B];
    const int64_t lo = z0 < 0 ? -z0 : 0;
    const int64_t need = 4 * (int64_t)ntiles + 2, past = len - z0;
    const int64_t hi = past < need ? past : need;
    const lanes zero = {0};
    const lanes iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int r = 0; r < 36; ++r) {
        const REAL *src = (const REAL *)rows[r];
        if (!src || lo >= hi) {
            continue;
        }
        src += z0;
        if (src >= (const REAL *)begin && src + 5 * B <= (const REAL *)end) {
            /* whole vectors (the points past the row's ends are the
             * neighbouring rows' or samples', inside dz), masked to the row */
            for (int j = 0; j < 5; ++j) {
                lanes x;
                memcpy(&x, src + j * B, sizeof(x));
                const lanes at = iota + (REAL)(j * B);
                const mask in = (at >= (REAL)lo) & (at < (REAL)hi);
                x = (lanes)((mask)x & in);
                memcpy(row[r] + j * B, &x, sizeof(x));
            }
            continue;
        }
        for (int j = 0; j < 5; ++j) { /* the tensor's first or last rows */
            memcpy(row[r] + j * B, &zero, sizeof(zero));
        }
        memcpy(row[r] + lo, src + lo, (size_t)(hi - lo) * sizeof(REAL));
    }
    for (int r = 0; r < 36; ++r) {
        lanes x[6] = {zero, zero, zero, zero, zero, zero};
        if (rows[r] && lo < hi) {
            lanes a[5], p[6];
            for (int j = 0; j < 5; ++j) { /* a vector each: no call to memcpy */
                memcpy(&a[j], row[r] + j * B, sizeof(lanes));
            }
            p[0] = WINO_PHASE(a, 0);
            p[1] = WINO_PHASE(a, 1);
            p[2] = WINO_PHASE(a, 2);
            p[3] = WINO_PHASE(a, 3);
            p[4] = __builtin_shufflevector(p[0], a[4], 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                           14, 15, 16);
            p[5] = __builtin_shufflevector(p[1], a[4], 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                           14, 15, 17);
            for (int e = 0; e < 6; ++e) {
                x[e] = p[e];
            }
            KNAME(wino_b6)(x);
        }
        for (int k = 0; k < 6; ++k) {
            memcpy(v + (r * 8 + k) * B, &x[k], sizeof(lanes));
        }
    }
    for (int i = 0; i < 6; ++i) { /* H: rows (d, h) = (i, e) */
        for (int k = 0; k < 6; ++k) {
            KNAME(wino_fused_b)(v + (i * 6 * 8 + k) * B, 8 * B);
        }
    }
    for (int j = 0; j < 6; ++j) { /* D: rows (d, h) = (e, j) */
        for (int k = 0; k < 6; ++k) {
            KNAME(wino_fused_b)(v + (j * 8 + k) * B, 6 * 8 * B);
        }
    }
}

#undef WINO_PHASE

/* One class of the products of wino_fused_nv: its weights at block
 * position `at` + the point's offset, for tiles va and vb (scalars of V) and
 * nv vectors of dx channels (vector j's U at u + j * CPU_WINO_FUSED_TILE *
 * VL), added into m[tile][vector][point] for the slice's points p0 .. p0 +
 * np - 1 (the first class into zeros). Two tiles share each weight vector
 * loaded, two vectors each pair of broadcasts. */
static inline __attribute__((always_inline)) void
KNAME(wino_fused_class)(const REAL *va, const REAL *vb, const REAL *u, int at, const int p0,
                        const int np, const int nv, const int first, VEC *const m[2][2]) {
#pragma GCC unroll 9
    for (int i = p0; i < p0 + np; ++i) {
        const int pos = at + (i / 3) * 16 + (i % 3) * 2;
#pragma GCC unroll 2
        for (int j = 0; j < nv; ++j) {
            VEC w = VLOADU(u + (j * CPU_WINO_FUSED_TILE + pos) * VL);
            WINO_IN_REGISTER(w);
            m[0][j][i] =
                VFMADD(VSET1(va[pos * CPU_WINO_FUSED_BLOCK]), w, first ? VZERO() : m[0][j][i]);
            m[1][j][i] =
                VFMADD(VSET1(vb[pos * CPU_WINO_FUSED_BLOCK]), w, first ? VZERO() : m[1][j][i]);
        }
    }
}

/* D slice a's sums over the 8 classes, in class order, of points p0 .. p0
 * + np - 1: class (vd, vh, vw)'s point (a, b, c) is block position (2a +
 * vd, 2b + vh, 2c + vw). */
static inline __attribute__((always_inline)) void
KNAME(wino_fused_products)(const REAL *va, const REAL *vb, const REAL *u, int a, const int p0,
                           const int np, const int nv, VEC *const m[2][2]) {
    KNAME(wino_fused_class)(va, vb, u, a * 96, p0, np, nv, 1, m);
    for (int cls = 1; cls < 8; ++cls) {
        const int at = a * 96 + (cls >> 2) * 48 + ((cls >> 1) & 1) * 8 + (cls & 1);
        KNAME(wino_fused_class)(va, vb, u, at, p0, np, nv, 0, m);
    }
}

/* F(2, 2) of backward data with one dz channel and kernel 4, stride 2
 * (cpu_wino_fused_fn), for nv (1 or 2) vectors of dx channels: c (n[0]
 * lanes) and c + VL (n[1]). D slice by D slice of the transform points (its
 * U and V lines, 6 KB each, stay in L1), two tiles at a time; their slice's
 * 9 sums over the 8 classes per vector stay in registers (18 sums for one
 * vector; for two, the points in halves of 5 and 4, 20 sums), then A^T along
 * W and H. The tile's D row 0 is slices 0 + 1, row 1 slices 1 + 2: the
 * previous slice's 4 points wait in `prev`. Two vectors load a weight
 * vector per FMA instead of 1.5 per FMA, which bounds one vector (5.25 ->
 * 7.85 FMA/ns in isolation on Zen 5); only where 32 vector registers hold
 * the sums (WINO_FUSED_X2). */
static inline __attribute__((always_inline)) void
KNAME(wino_fused_nv)(const void *vv, int64_t ntiles, const void *uu, void *const *out, int64_t c,
                     const int n[2], int stream, const int nv) {
    const REAL *u = (const REAL *)uu;
    VEC prev[2][CPU_WINO_FUSED_BLOCK][4]; /* [vector][tile][point]; ntiles <= the block */
    for (int a = 0; a < 3; ++a) {
        for (int64_t t = 0; t < ntiles; t += 2) {
            const int two = t + 1 < ntiles;
            const REAL *va = (const REAL *)vv + t; /* the tiles' lanes of V */
            const REAL *vb = two ? va + 1 : va;
            /* [tile][vector][point]: four arrays, small enough for the
             * compiler to keep in registers (one array of 36 it keeps in
             * memory: 4 % slower with AVX2's 16 registers) */
            VEC m00[9], m01[9], m10[9], m11[9];
            VEC *const m[2][2] = {{m00, m01}, {m10, m11}};
            if (nv == 1) {
                KNAME(wino_fused_products)(va, vb, u, a, 0, 9, 1, m);
            } else {
                KNAME(wino_fused_products)(va, vb, u, a, 0, 5, 2, m);
                KNAME(wino_fused_products)(va, vb, u, a, 5, 4, 2, m);
            }
            for (int k = 0; k < 1 + two; ++k) {
                for (int j = 0; j < nv; ++j) {
                    VEC f[4];
                    KNAME(wino_a2)(m[k][j], f);
                    if (a > 0) { /* D row a - 1 = slices a - 1 and a */
                        VEC r[4];
                        for (int q = 0; q < 4; ++q) {
                            r[q] = VADD(prev[j][t + k][q], f[q]);
                        }
                        KNAME(wino_put)
                        (r, 4, NULL, out + (t + k) * 8 + 4 * (a - 1), c + j * VL, n[j], stream);
                    }
                    if (a < 2) { /* slice a, the first half of row a */
                        for (int q = 0; q < 4; ++q) {
                            prev[j][t + k][q] = f[q];
                        }
                    }
                }
            }
        }
    }
}

static void KNAME(wino_fused3)(const void *vv, int64_t ntiles, const void *uu, void *const *out,
                               int64_t c, int n, int stream) {
    const int lanes[2] = {n, 0};
    KNAME(wino_fused_nv)(vv, ntiles, uu, out, c, lanes, stream, 1);
}

#ifdef WINO_FUSED_X2
/* cpu_wino_fused2_fn: the second vector's U follows the first's,
 * CPU_WINO_FUSED_TILE vectors on. */
static void KNAME(wino_fused3x2)(const void *vv, int64_t ntiles, const void *uu, void *const *out,
                                 int64_t c, int n, int n2, int stream) {
    const int lanes[2] = {n, n2};
    KNAME(wino_fused_nv)(vv, ntiles, uu, out, c, lanes, stream, 2);
}
#endif

/* F(2, 3): A^T = rows (1, 1, 1, 0), (0, 1, -1, -1) along W, H and D. */
static void KNAME(wino_out4)(const void *in, ptrdiff_t mstride, int64_t channels, const void *bias,
                             void *const *out) {
    const REAL *m = (const REAL *)in;
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC e[32], f[16], o[8];
        for (int q = 0; q < 16; ++q) { /* e[2 (4 d + h) + w] */
            const VEC r1 = VLOADU(m + (4 * q + 1) * mstride + c);
            const VEC r2 = VLOADU(m + (4 * q + 2) * mstride + c);
            e[2 * q] = VADD(VADD(VLOADU(m + 4 * q * mstride + c), r1), r2);
            e[2 * q + 1] = WINO_SUB(WINO_SUB(r1, r2), VLOADU(m + (4 * q + 3) * mstride + c));
        }
        for (int i = 0; i < 4; ++i) { /* f[4 d + 2 h + w] */
            for (int k = 0; k < 2; ++k) {
                const VEC *x = e + 8 * i + k; /* H rows 0..3 of (d, w): x[2 h] */
                f[4 * i + k] = VADD(VADD(x[0], x[2]), x[4]);
                f[4 * i + 2 + k] = WINO_SUB(WINO_SUB(x[2], x[4]), x[6]);
            }
        }
        for (int q = 0; q < 4; ++q) {
            o[q] = VADD(VADD(f[q], f[4 + q]), f[8 + q]);
            o[4 + q] = WINO_SUB(WINO_SUB(f[4 + q], f[8 + q]), f[12 + q]);
        }
        KNAME(wino_put)(o, 8, bias, out, c, n, 0);
    }
}

#undef WINO_B3
#undef WINO_B4
#undef WINO_SUB
