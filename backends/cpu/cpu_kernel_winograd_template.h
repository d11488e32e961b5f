/* SPDX-License-Identifier: Apache-2.0 */
/* Winograd F(2, 2) transforms of the backward data pass
 * (cpu_backward_data_winograd.c), a vector of channels at a time; included
 * by cpu_kernel_<isa>.c once per dtype, before cpu_kernel_template.h (which
 * #undefs the shared macros). Uses REAL, VEC, VL, VZERO, VLOADU, VLOADP,
 * VSET1, VFMADD, VADD, VSTOREU, VSTOREP and KNAME. Points and transform
 * points are in D, H, W order (index 9 d + 3 h + w). */
#include "cpu_kernel.h"

/* a - b, exactly (one rounding, as a subtraction). */
#define WINO_SUB(a, b) VFMADD(VSET1((REAL)-1), b, a)

/* B^T = rows (1, -1, 0), (0, 1, 0), (0, -1, 1) along W, H and D:
 * v[q * vstride + c] for the 27 transform points q. */
static void KNAME(wino_in)(const void *const *pts, int64_t channels, void *out, ptrdiff_t vstride) {
    REAL *v = (REAL *)out;
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC d[27];
        for (int q = 0; q < 27; ++q) {
            const REAL *p = (const REAL *)pts[q];
            d[q] = !p ? VZERO() : n == VL ? VLOADU(p + c) : VLOADP(p + c, n);
        }
        for (int q = 0; q < 27; q += 3) {
            d[q] = WINO_SUB(d[q], d[q + 1]);
            d[q + 2] = WINO_SUB(d[q + 2], d[q + 1]);
        }
        for (int i = 0; i < 3; ++i) {
            for (int k = 0; k < 3; ++k) {
                const int b = 9 * i + k;
                d[b] = WINO_SUB(d[b], d[b + 3]);
                d[b + 6] = WINO_SUB(d[b + 6], d[b + 3]);
            }
        }
        for (int q = 0; q < 9; ++q) {
            d[q] = WINO_SUB(d[q], d[q + 9]);
            d[q + 18] = WINO_SUB(d[q + 18], d[q + 9]);
        }
        for (int q = 0; q < 27; ++q) {
            if (n == VL) {
                VSTOREU(v + q * vstride + c, d[q]);
            } else {
                VSTOREP(v + q * vstride + c, d[q], n);
            }
        }
    }
}

/* A^T = rows (1, 1, 0), (0, 1, 1) along W, H and D: the 8 points out[4 d +
 * 2 h + w] (NULL: dropped) from the transform points' rows m + q * mstride,
 * which hold whole vectors past `channels`. */
static void KNAME(wino_out)(const void *in, ptrdiff_t mstride, int64_t channels, void *const *out) {
    const REAL *m = (const REAL *)in;
    for (int64_t c = 0; c < channels; c += VL) {
        const int n = channels - c < VL ? (int)(channels - c) : VL;
        VEC e[18], f[12];
        for (int q = 0; q < 9; ++q) {
            const VEC r1 = VLOADU(m + (3 * q + 1) * mstride + c);
            e[2 * q] = VADD(VLOADU(m + 3 * q * mstride + c), r1);
            e[2 * q + 1] = VADD(r1, VLOADU(m + (3 * q + 2) * mstride + c));
        }
        for (int i = 0; i < 3; ++i) {
            for (int k = 0; k < 2; ++k) {
                f[4 * i + k] = VADD(e[6 * i + k], e[6 * i + 2 + k]);
                f[4 * i + 2 + k] = VADD(e[6 * i + 2 + k], e[6 * i + 4 + k]);
            }
        }
        for (int q = 0; q < 4; ++q) {
            const VEC o[2] = {VADD(f[q], f[4 + q]), VADD(f[4 + q], f[8 + q])};
            for (int i = 0; i < 2; ++i) {
                REAL *p = (REAL *)out[4 * i + q];
                if (!p) {
                    continue;
                }
                if (n == VL) {
                    VSTOREU(p + c, o[i]);
                } else {
                    VSTOREP(p + c, o[i], n);
                }
            }
        }
    }
}

#undef WINO_SUB
