/* SPDX-License-Identifier: Apache-2.0 */
/* Winograd F(2, 2) and F(2, 3) transforms (backward data, stride-1 forward)
 * (cpu_winograd.c), a vector of channels at a time; included
 * by cpu_kernel_<isa>.c once per dtype, before cpu_kernel_template.h (which
 * #undefs the shared macros). Uses REAL, VEC, VL, VZERO, VLOADU, VLOADP,
 * VSET1, VFMADD, VADD, VSTOREU, VSTOREP and KNAME. Points and transform
 * points are in D, H, W order (index (d * alpha + h) * alpha + w). */
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

/* Eight elements: a row of the fused pass's block (the compiler's vectors,
 * in this file's instruction set). */
typedef REAL KNAME(row8_t) __attribute__((vector_size(8 * sizeof(REAL))));

/* The fused pass's input transform (cpu_wino_fused_in_fn): B^T along W, H
 * and D of a 6 x 6 x 6 block, (e0 - e2, e1 - e3, e2, e3, e4 - e2, e5 - e3)
 * on each axis, in place. */
static void KNAME(wino_fused_in)(const void *const *rows, int wlo, int whi, void *out) {
    KNAME(row8_t) *x = (KNAME(row8_t) *)out;
    const KNAME(row8_t) zero = {0};
    for (int r = 0; r < 36; ++r) {
        const REAL *src = (const REAL *)rows[r];
        KNAME(row8_t) row = zero;
        if (src && wlo == 0 && whi == 6) {
            row = (KNAME(row8_t)){src[0], src[1], src[2], src[3], src[4], src[5], 0, 0};
        } else if (src) {
            for (int k = wlo; k < whi; ++k) {
                row[k] = src[k - wlo];
            }
        }
        x[r] = row - __builtin_shufflevector(row, zero, 2, 3, 8, 8, 2, 3, 8, 8); /* W */
    }
    for (int i = 0; i < 6; ++i) { /* H */
        KNAME(row8_t) *y = x + 6 * i;
        y[0] -= y[2];
        y[1] -= y[3];
        y[4] -= y[2];
        y[5] -= y[3];
    }
    for (int j = 0; j < 6; ++j) { /* D */
        x[j] -= x[12 + j];
        x[6 + j] -= x[18 + j];
        x[24 + j] -= x[12 + j];
        x[30 + j] -= x[18 + j];
    }
}

/* F(2, 2) of backward data with one dz channel and kernel 4, stride 2
 * (cpu_wino_fused_fn). Two tiles at a time share each weight vector loaded;
 * their transform points' sums over the 8 classes stay in registers, one D
 * slice of 9 points at a time (18 sums), and A^T follows slice by slice:
 * the tile's D row 0 is slices 0 + 1, row 1 slices 1 + 2. */
static void KNAME(wino_fused3)(const void *vv, int64_t ntiles, const void *uu, void *const *out,
                               int64_t c, int n, int stream) {
    const REAL *u = (const REAL *)uu;
    for (int64_t t = 0; t < ntiles; t += 2) {
        const int two = t + 1 < ntiles;
        const REAL *va = (const REAL *)vv + t * CPU_WINO_FUSED_TILE;
        const REAL *vb = two ? va + CPU_WINO_FUSED_TILE : va;
        VEC pa[4], pb[4];
#pragma GCC unroll 3
        for (int a = 0; a < 3; ++a) {
            VEC ma[9], mb[9];
            /* class (vd, vh, vw)'s point (a, b, c): block position (2a + vd,
             * 2b + vh, 2c + vw); class 0 first, into zeros */
#pragma GCC unroll 9
            for (int p = 0; p < 9; ++p) {
                const int pos = a * 96 + (p / 3) * 16 + (p % 3) * 2;
                VEC w = VLOADU(u + pos * VL);
                WINO_IN_REGISTER(w);
                ma[p] = VFMADD(VSET1(va[pos]), w, VZERO());
                mb[p] = VFMADD(VSET1(vb[pos]), w, VZERO());
            }
            for (int cls = 1; cls < 8; ++cls) {
                const int at = a * 96 + (cls >> 2) * 48 + ((cls >> 1) & 1) * 8 + (cls & 1);
#pragma GCC unroll 9
                for (int p = 0; p < 9; ++p) {
                    const int pos = at + (p / 3) * 16 + (p % 3) * 2;
                    VEC w = VLOADU(u + pos * VL);
                    WINO_IN_REGISTER(w);
                    ma[p] = VFMADD(VSET1(va[pos]), w, ma[p]);
                    mb[p] = VFMADD(VSET1(vb[pos]), w, mb[p]);
                }
            }
            VEC fa[4], fb[4], ra[4], rb[4];
            KNAME(wino_a2)(ma, fa);
            KNAME(wino_a2)(mb, fb);
            if (a > 0) { /* D row a - 1 = slices a - 1 and a */
                for (int q = 0; q < 4; ++q) {
                    ra[q] = VADD(pa[q], fa[q]);
                    rb[q] = VADD(pb[q], fb[q]);
                }
                KNAME(wino_put)(ra, 4, NULL, out + t * 8 + 4 * (a - 1), c, n, stream);
                if (two) {
                    KNAME(wino_put)(rb, 4, NULL, out + t * 8 + 8 + 4 * (a - 1), c, n, stream);
                }
            }
            for (int q = 0; q < 4; ++q) { /* slice a, the first half of row a */
                pa[q] = fa[q];
                pb[q] = fb[q];
            }
        }
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
        KNAME(wino_put)(o, 8, bias, out, c, n, 0);
    }
}

#undef WINO_B3
#undef WINO_B4
#undef WINO_SUB
