/* SPDX-License-Identifier: Apache-2.0 */
/* Winograd F(2, 2) and F(2, 3) transforms (backward data, stride-1 forward)
 * (cpu_winograd.c), a vector of channels at a time; included
 * by cpu_kernel_<isa>.c once per dtype, before cpu_kernel_template.h (which
 * #undefs the shared macros). Uses REAL, VEC, VL, VZERO, VLOADU, VLOADP,
 * VSET1, VFMADD, VADD, VSTOREU, VSTOREP and KNAME. Points and transform
 * points are in D, H, W order (index (d * alpha + h) * alpha + w). */
#include "cpu_kernel.h"

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

/* The tile's 8 outputs o plus channels [c, c + n) of bias (whole vectors;
 * NULL: none) into those channels of out[q] (NULL: dropped). */
static inline void KNAME(wino_put)(const VEC *o, const void *bias, void *const *out, int64_t c,
                                   int n) {
    const VEC b = bias ? VLOADU((const REAL *)bias + c) : VZERO();
    for (int q = 0; q < 8; ++q) {
        REAL *p = (REAL *)out[q];
        if (!p) {
            continue;
        }
        const VEC r = bias ? VADD(o[q], b) : o[q];
        if (n == VL) {
            VSTOREU(p + c, r);
        } else {
            VSTOREP(p + c, r, n);
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

/* F(2, 2): A^T = rows (1, 1, 0), (0, 1, 1) along W, H and D: the 8 points
 * out[4 d + 2 h + w] from the transform points' rows m + q * mstride, which
 * hold whole vectors past `channels`. */
static void KNAME(wino_out3)(const void *in, ptrdiff_t mstride, int64_t channels, const void *bias,
                             void *const *out) {
    const REAL *m = (const REAL *)in;
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC e[18], f[12], o[8];
        for (int q = 0; q < 9; ++q) { /* e[2 (3 d + h) + w] */
            const VEC r1 = VLOADU(m + (3 * q + 1) * mstride + c);
            e[2 * q] = VADD(VLOADU(m + 3 * q * mstride + c), r1);
            e[2 * q + 1] = VADD(r1, VLOADU(m + (3 * q + 2) * mstride + c));
        }
        for (int i = 0; i < 3; ++i) { /* f[4 d + 2 h + w] */
            for (int k = 0; k < 2; ++k) {
                f[4 * i + k] = VADD(e[6 * i + k], e[6 * i + 2 + k]);
                f[4 * i + 2 + k] = VADD(e[6 * i + 2 + k], e[6 * i + 4 + k]);
            }
        }
        for (int q = 0; q < 4; ++q) {
            o[q] = VADD(f[q], f[4 + q]);
            o[4 + q] = VADD(f[4 + q], f[8 + q]);
        }
        KNAME(wino_put)(o, bias, out, c, n);
    }
}

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
        KNAME(wino_put)(o, bias, out, c, n);
    }
}

#undef WINO_B3
#undef WINO_B4
#undef WINO_SUB
