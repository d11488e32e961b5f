/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 float32 kernels of the one-output-channel Winograd forward pass
 * (cpu_fold_wino.c, cpu_fwino_args_t): tiles in the vector lanes, so the
 * input channels are summed by FMAs and no output needs a horizontal sum.
 * Included once, by cpu_kernel_avx512.c (its target flags). */
#ifndef TCONV_CPU_KERNEL_FWINO_AVX512_H
#define TCONV_CPU_KERNEL_FWINO_AVX512_H

#include <string.h>

/* 4 x 4 transposes inside each 128-bit lane: out[k], lane L, holds a[0..3]
 * at column 4L + k. */
static inline __attribute__((always_inline)) void fwino_transpose4_in_lanes(const __m512 a[4],
                                                                            __m512 out[4]) {
    const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(a[0], a[1]));
    const __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(a[0], a[1]));
    const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(a[2], a[3]));
    const __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(a[2], a[3]));
    out[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    out[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    out[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    out[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
}

/* The 4 x 4 transpose of 128-bit lanes: out[j] lane L is a[L] lane j. */
static inline __attribute__((always_inline)) void fwino_transpose4_of_lanes(const __m512 a[4],
                                                                            __m512 out[4]) {
    const __m512 s0 = _mm512_shuffle_f32x4(a[0], a[1], 0x44);
    const __m512 s1 = _mm512_shuffle_f32x4(a[2], a[3], 0x44);
    const __m512 s2 = _mm512_shuffle_f32x4(a[0], a[1], 0xee);
    const __m512 s3 = _mm512_shuffle_f32x4(a[2], a[3], 0xee);
    out[0] = _mm512_shuffle_f32x4(s0, s1, 0x88);
    out[1] = _mm512_shuffle_f32x4(s0, s1, 0xdd);
    out[2] = _mm512_shuffle_f32x4(s2, s3, 0x88);
    out[3] = _mm512_shuffle_f32x4(s2, s3, 0xdd);
}

/* r[i] lane j -> r[j] lane i: each group of 4 rows within the lanes, then
 * column 4L + k gathers lane L of the groups' vectors k. */
static inline __attribute__((always_inline)) void fwino_transpose16(__m512 r[16]) {
    __m512 t[16];
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; ++i) {
        fwino_transpose4_in_lanes(r + 4 * i, t + 4 * i);
    }
    _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) {
        const __m512 in[4] = {t[k], t[4 + k], t[8 + k], t[12 + k]};
        __m512 out[4];
        fwino_transpose4_of_lanes(in, out);
        _Pragma("GCC unroll 4") for (int q = 0; q < 4; ++q) {
            r[4 * q + k] = out[q];
        }
    }
}

/* cpu_fwino_row_fn: per channel c, lane T: xw[0] = x[2T-1] - x[2T],
 * xw[1] = x[2T], xw[2] = x[2T+1] - x[2T] (B^T = (d0 - d1, d1, d2 - d1)).
 * The 16 even and 16 odd points of 16 channels are transposed in registers
 * into a vector per channel. */
static inline __attribute__((always_inline)) void fwino_row(const float *row, const float *prev,
                                                            int64_t cin, float *xw) {
    float *x0 = xw, *x1 = xw + cin * 16, *x2 = xw + 2 * cin * 16;
    for (int64_t cb = 0; cb < cin; cb += 16) {
        __m512 e[16];
        _Pragma("GCC unroll 16") for (int t = 0; t < 16; ++t) {
            e[t] = _mm512_loadu_ps(row + 2 * t * cin + cb);
        }
        fwino_transpose16(e);
        _Pragma("GCC unroll 16") for (int j = 0; j < 16; ++j) {
            _mm512_store_ps(x1 + (cb + j) * 16, e[j]);
        }
        __m512 o[16];
        _Pragma("GCC unroll 16") for (int t = 0; t < 16; ++t) {
            o[t] = _mm512_loadu_ps(row + (2 * t + 1) * cin + cb);
        }
        fwino_transpose16(o);
        _Pragma("GCC unroll 16") for (int j = 0; j < 16; ++j) {
            const __m512 ev = _mm512_load_ps(x1 + (cb + j) * 16);
            /* lane T: odd point T - 1, lane 0 the point before the block */
            const __m512i oi = _mm512_castps_si512(o[j]);
            __m512 before = _mm512_castsi512_ps(_mm512_alignr_epi32(oi, oi, 15));
            before = _mm512_mask_mov_ps(before, 1, _mm512_set1_ps(prev ? prev[cb + j] : 0.0f));
            _mm512_store_ps(x0 + (cb + j) * 16, _mm512_sub_ps(before, ev));
            _mm512_store_ps(x2 + (cb + j) * 16, _mm512_sub_ps(o[j], ev));
        }
    }
}

/* Channel counts with their own copy: the 32 point loads of a channel
 * block become displacements of one base register. */
static void avx512_f32_fwino_row(const float *row, const float *prev, int64_t cin, float *xw) {
    if (!row) {
        memset(xw, 0, (size_t)(3 * cin * 16) * sizeof(float));
    } else if (cin == 32) {
        fwino_row(row, prev, 32, xw);
    } else if (cin == 64) {
        fwino_row(row, prev, 64, xw);
    } else {
        fwino_row(row, prev, cin, xw);
    }
}

/* Point p of B^T = (e0 - e1, e1, e2 - e1) of the rows' elements at `at`,
 * loading only the two (or one) rows it takes. */
static inline __attribute__((always_inline)) __m512 fwino_bt(const float *const e[3], int64_t at,
                                                             const int p) {
    const __m512 mid = _mm512_load_ps(e[1] + at);
    return p == 1 ? mid : _mm512_sub_ps(_mm512_load_ps(e[p == 0 ? 0 : 2] + at), mid);
}

/* V of transform point (pd, ph) at `at` from the W-transformed rows x[D
 * point][H point]: B^T along H, then along D. */
static inline __attribute__((always_inline)) __m512 fwino_v(const float *const x[3][3], int64_t at,
                                                            const int pd, const int ph) {
    const __m512 mid = fwino_bt(x[1], at, ph);
    return pd == 1 ? mid : _mm512_sub_ps(fwino_bt(x[pd == 0 ? 0 : 2], at, ph), mid);
}

/* GEMM of transform point p = (pd, ph, pw): m[r][p][class] = sum over c of
 * V_p[c] (tile row r, computed here from the rows) * u[p][c][class], nr
 * tile rows (16 sums in registers for two). */
static inline __attribute__((always_inline)) void
fwino_gemm(const cpu_fwino_args_t *a, const int pd, const int ph, const int pw, const int nr) {
    const int64_t cin = a->cin, p = (pd * 3 + ph) * 3 + pw;
    const float *x[2][3][3];
    _Pragma("GCC unroll 2") for (int r = 0; r < 2; ++r) {
        _Pragma("GCC unroll 3") for (int d = 0; d < 3; ++d) {
            _Pragma("GCC unroll 3") for (int h = 0; h < 3; ++h) {
                x[r][d][h] = r < nr ? a->xw[d][2 * r + h] + pw * cin * 16 : NULL;
            }
        }
    }
    __m512 acc[2][8];
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) {
        acc[0][k] = _mm512_setzero_ps();
        acc[1][k] = _mm512_setzero_ps();
    }
    const float *up = a->u + p * cin * 8;
    /* This point's share of the prefetches: steps p * cin .. p * cin + cin - 1
     * of 3 pf_lines (line (s / 3) of region s % 3). */
    const int64_t pf_end = 3 * a->pf_lines - p * cin;
    for (int64_t c = 0; c < cin; ++c) {
        if (c < pf_end) {
            const int64_t s = p * cin + c;
            _mm_prefetch(a->pf[s % 3] + (s / 3) * 64, _MM_HINT_T1);
        }
        const __m512 v0 = fwino_v(x[0], c * 16, pd, ph);
        const __m512 v1 = nr == 2 ? fwino_v(x[1], c * 16, pd, ph) : v0;
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) {
            const __m512 uk = _mm512_set1_ps(up[c * 8 + k]);
            acc[0][k] = _mm512_fmadd_ps(v0, uk, acc[0][k]);
            if (nr == 2) {
                acc[1][k] = _mm512_fmadd_ps(v1, uk, acc[1][k]);
            }
        }
    }
    _Pragma("GCC unroll 2") for (int r = 0; r < nr; ++r) {
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) {
            _mm512_store_ps(a->m + ((r * 27 + p) * 8 + k) * 16, acc[r][k]);
        }
    }
}

/* Outputs 4T + k (k = 2 jw + vw) of a[k] lane T, as four vectors of 16
 * consecutive outputs. */
static inline __attribute__((always_inline)) void fwino_interleave4(const __m512 a[4],
                                                                    __m512 out[4]) {
    __m512 u[4]; /* u[i], 128-bit lane L: the outputs of lane T = 4L + i */
    fwino_transpose4_in_lanes(a, u);
    fwino_transpose4_of_lanes(u, out);
}

/* cpu_fwino_block_fn. Transform point p = (pd * 3 + ph) * 3 + pw; class
 * k = (vd * 2 + vh) * 2 + vw; tile output j = (jd * 2 + jh) * 2 + jw. */
static void avx512_f32_fwino_block(const cpu_fwino_args_t *a) {
    float *m = a->m;
    /* W point by W point: its 9 GEMMs read the same slice (a third) of the
     * 15 rows (1.12x against D point by D point at gan_g5's size). */
    _Pragma("GCC unroll 3") for (int pw = 0; pw < 3; ++pw) {
        _Pragma("GCC unroll 3") for (int pd = 0; pd < 3; ++pd) {
            _Pragma("GCC unroll 3") for (int ph = 0; ph < 3; ++ph) {
                if (a->rows == 2) {
                    fwino_gemm(a, pd, ph, pw, 2);
                } else {
                    fwino_gemm(a, pd, ph, pw, 1);
                }
            }
        }
    }
    /* A^T = (m0 + m1, m1 + m2) per axis, the bias, then the output rows. */
    const __m512 bias = _mm512_set1_ps(a->bias);
    for (int r = 0; r < a->rows; ++r) {
        __m512 y[8][8]; /* [class][tile output] */
        _Pragma("GCC unroll 1") for (int k = 0; k < 8; ++k) {
            const float *mk = m + (r * 27 * 8 + k) * 16;
            __m512 sd[2][9]; /* A^T along D: [jd][ph * 3 + pw] */
            _Pragma("GCC unroll 9") for (int q = 0; q < 9; ++q) {
                const __m512 m1 = _mm512_load_ps(mk + (9 + q) * 128);
                sd[0][q] = _mm512_add_ps(_mm512_load_ps(mk + q * 128), m1);
                sd[1][q] = _mm512_add_ps(m1, _mm512_load_ps(mk + (18 + q) * 128));
            }
            _Pragma("GCC unroll 2") for (int jd = 0; jd < 2; ++jd) {
                _Pragma("GCC unroll 2") for (int jh = 0; jh < 2; ++jh) {
                    __m512 sh[3];
                    _Pragma("GCC unroll 3") for (int pw = 0; pw < 3; ++pw) {
                        sh[pw] = _mm512_add_ps(sd[jd][3 * jh + pw], sd[jd][3 * jh + 3 + pw]);
                    }
                    y[k][(jd * 2 + jh) * 2] = _mm512_add_ps(_mm512_add_ps(sh[0], sh[1]), bias);
                    y[k][(jd * 2 + jh) * 2 + 1] = _mm512_add_ps(_mm512_add_ps(sh[1], sh[2]), bias);
                }
            }
        }
        _Pragma("GCC unroll 1") for (int qd = 0; qd < 4; ++qd) {
            _Pragma("GCC unroll 1") for (int qh = 0; qh < 4; ++qh) {
                float *out = a->y[r][qd][qh];
                if (!out) {
                    continue;
                }
                const int jd = qd >> 1, vd = qd & 1, jh = qh >> 1, vh = qh & 1;
                __m512 in[4], o[4];
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; ++q) { /* q = 2 jw + vw */
                    in[q] = y[(vd * 2 + vh) * 2 + (q & 1)][(jd * 2 + jh) * 2 + (q >> 1)];
                }
                fwino_interleave4(in, o);
                if (a->skip_first) { /* out is output 1 of the block */
                    const __m512i o0 = _mm512_castps_si512(o[0]);
                    _mm512_mask_storeu_ps(out, 0x7fff,
                                          _mm512_castsi512_ps(_mm512_alignr_epi32(o0, o0, 1)));
                    out += 15;
                } else {
                    _mm512_storeu_ps(out, o[0]);
                    out += 16;
                }
                _mm512_storeu_ps(out, o[1]);
                _mm512_storeu_ps(out + 16, o[2]);
                _mm512_storeu_ps(out + 32, o[3]);
            }
        }
    }
}

/* cpu_fwino_line_fn: output j in acc[FOLD_ACC(j)], so fold_reduce leaves it
 * in lane j; lines shorter than 16 load nothing for the missing outputs. */
static void avx512_f32_fwino_line(const float *const *x, ptrdiff_t xstep, const float *const *w,
                                  int n, int64_t cin, float bias, int count, float *out,
                                  ptrdiff_t ostride) {
    __m512 acc[16];
    _Pragma("GCC unroll 16") for (int j = 0; j < 16; ++j) {
        acc[j] = _mm512_setzero_ps();
    }
    for (int i = 0; i < n; ++i) {
        for (int64_t c = 0; c < cin; c += 16) {
            const __m512 wv = _mm512_loadu_ps(w[i] + c);
            _Pragma("GCC unroll 16") for (int j = 0; j < 16; ++j) {
                const __m512 xv =
                    _mm512_maskz_loadu_ps(j < count ? 0xffff : 0, x[i] + j * xstep + c);
                acc[FOLD_ACC(j)] = _mm512_fmadd_ps(xv, wv, acc[FOLD_ACC(j)]);
            }
        }
    }
    const __m512 r = _mm512_add_ps(fold_reduce(acc), _mm512_set1_ps(bias));
    float lanes[16];
    _mm512_storeu_ps(lanes, r);
    for (int j = 0; j < count; ++j) {
        out[j * ostride] = lanes[j];
    }
}

#endif /* TCONV_CPU_KERNEL_FWINO_AVX512_H */
