/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512F micro-kernels: 32 zmm registers hold up to 4 channel vectors x 6
 * points of accumulators (24) plus the weight vectors and a broadcast. */
#pragma GCC target("avx512f,avx512vl,avx512dq,fma")

#include <immintrin.h>

#include "common/target_features.h"
#include "cpu_kernel.h"

/* cpu_kernel_winograd_template.h: the two-vector fused pass fits 32 registers. */
#define WINO_FUSED_X2

/* Every feature this file is compiled for (AVX-512F, VL, DQ and what they
 * imply): cpu_isa_detect requires them all, not just avx512f. */
const unsigned cpu_kernel_avx512_features = TCONV_CPU_TARGET_FEATURES;

#define TILE_LIST_NV1(M) NP_UPTO_12(M, 1)
#define TILE_LIST_NV2(M) NP_UPTO_12(M, 2)
#define TILE_LIST_NV3(M) NP_UPTO_8(M, 3)
#define TILE_LIST_NV4(M) NP_UPTO_6(M, 4)
#define TILE_NP_MAX                                                                                \
    { 0, 12, 12, 8, 6 }
/* Dot tiles: up to 16 accumulators (two sets when nco x np <= 8), np input
 * pointers in integer registers. */
#define DOT_LIST_NCO1(M) DOT_NP_UPTO_8(M, 1)
#define DOT_LIST_NCO2(M) DOT_NP_UPTO_4(M, 2)
#define DOT_LIST_NCO3(M) DOT_NP_UPTO_4(M, 3) M(3, 5)
#define DOT_LIST_NCO4(M) DOT_NP_UPTO_4(M, 4)
#define DOT_NP_MAX                                                                                 \
    { 0, 8, 4, 5, 4 }

/* f32: 16 lanes. */
#define REAL              float
#define VEC               __m512
#define VL                16
#define VZERO()           _mm512_setzero_ps()
#define VLOADU(p)         _mm512_loadu_ps(p)
#define VSET1(s)          _mm512_set1_ps(s)
#define VFMADD(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define VSTOREU(p, v)     _mm512_storeu_ps(p, v)
#define VSTREAM(p, v)     _mm512_stream_ps(p, v)
#define KNAME(name)       avx512_f32_##name
#define VMAX(a, b)        _mm512_max_ps(a, b)
#define VSTOREP(p, v, n)  _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1u), v)
#define VADD(a, b)        _mm512_add_ps(a, b)
#define VLOADP(p, n)      _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), p)
#define VREDUCE(v)        _mm512_reduce_add_ps(v)
/* Before cpu_kernel_template.h, which #undefs the macros. */
#include "cpu_kernel_winograd_template.h"

#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

/* Fold tile, f32 (cpu_fold_args_t). Output o = 2j + ph of the tile is summed
 * in acc[FOLD_ACC(o)]: the reduction below leaves accumulator 4a + b in lane
 * 4b + a, so this order puts output o in lane o. */
#define FOLD_ACC(o) (4 * ((o)&3) + ((o) >> 2))

/* One channel vector c of one (D, H) tap: 4 weight vectors and 9 + par input
 * points for 32 FMAs. mmid masks every load (the channel tail), mlo / mhi the
 * first / last input point's too (outside the row). */
static inline __attribute__((always_inline)) void
fold_step(__m512 acc[16], const float *xr, const float *wr, int64_t c, int64_t cin, ptrdiff_t xstep,
          __mmask16 mmid, __mmask16 mlo, __mmask16 mhi, const int par) {
    __m512 wv[2][2];
    _Pragma("GCC unroll 2") for (int ph = 0; ph < 2; ++ph) {
        _Pragma("GCC unroll 2") for (int i = 0; i < 2; ++i) {
            const int kw = (((par + ph) & 1) ? 3 : 2) - 2 * i;
            wv[ph][i] = _mm512_maskz_loadu_ps(mmid, wr + kw * cin + c);
        }
    }
    const int kmax = 9 + par;
    _Pragma("GCC unroll 10") for (int k = 0; k < kmax; ++k) {
        const __mmask16 m = k == 0 ? mlo : k == kmax - 1 ? mhi : mmid;
        const __m512 xv = _mm512_maskz_loadu_ps(m, xr + k * xstep + c);
        _Pragma("GCC unroll 2") for (int ph = 0; ph < 2; ++ph) {
            _Pragma("GCC unroll 2") for (int i = 0; i < 2; ++i) {
                const int j = k - i - (par && ph);
                if (j >= 0 && j < 8) {
                    acc[FOLD_ACC(2 * j + ph)] =
                        _mm512_fmadd_ps(xv, wv[ph][i], acc[FOLD_ACC(2 * j + ph)]);
                }
            }
        }
    }
}

/* The 16 lane sums of acc[0..15]: lane 4b + a holds the sum of acc[4a + b]
 * (45 shuffles and adds for 16 sums, against ~8 per sum one at a time). */
static inline __attribute__((always_inline)) __m512 fold_reduce(const __m512 acc[16]) {
    __m512 v[8], u[4], s[2];
    /* 16 -> 8: 256-bit halves; v[m] blocks 0-1 from acc[2m], 2-3 from acc[2m+1]. */
    _Pragma("GCC unroll 8") for (int m = 0; m < 8; ++m) {
        v[m] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0x44),
                             _mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0xee));
    }
    /* 8 -> 4: u[n] block b from acc[4n + b]. */
    _Pragma("GCC unroll 4") for (int n = 0; n < 4; ++n) {
        u[n] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * n], v[2 * n + 1], 0x88),
                             _mm512_shuffle_f32x4(v[2 * n], v[2 * n + 1], 0xdd));
    }
    /* 4 -> 2: s[q] block b lanes (acc[8q+b], acc[8q+4+b]) twice. */
    _Pragma("GCC unroll 2") for (int q = 0; q < 2; ++q) {
        s[q] = _mm512_add_ps(_mm512_unpacklo_ps(u[2 * q], u[2 * q + 1]),
                             _mm512_unpackhi_ps(u[2 * q], u[2 * q + 1]));
    }
    /* 2 -> 1: block b = (acc[b], acc[4+b], acc[8+b], acc[12+b]). */
    __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(s[0]), _mm512_castps_pd(s[1]));
    __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(s[0]), _mm512_castps_pd(s[1]));
    return _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
}

/* cin_k: the channels and input step when constant (xstep == cin), else 0. */
static inline __attribute__((always_inline)) void fold_tile(const cpu_fold_args_t *a, const int par,
                                                            const int cin_k) {
    __m512 acc[16];
    _Pragma("GCC unroll 16") for (int o = 0; o < 16; ++o) {
        acc[o] = _mm512_setzero_ps();
    }
    const int64_t cin = cin_k ? cin_k : a->cin, full = cin - cin % 16;
    const ptrdiff_t xstep = cin_k ? cin_k : a->xstep;
    const __mmask16 all = 0xffff, tail = (__mmask16)((1u << (cin % 16)) - 1u);
    const __mmask16 mlo = a->lo ? all : 0, mhi = a->hi ? all : 0;
    for (int t = 0; t < a->ntaps; ++t) {
        const float *xr = (const float *)a->x + a->xoff[t];
        const float *wr = (const float *)a->w + a->woff[t];
        for (int64_t c = 0; c < full; c += 16) {
            fold_step(acc, xr, wr, c, cin, xstep, all, mlo, mhi, par);
        }
        if (tail) {
            fold_step(acc, xr, wr, full, cin, xstep, tail, mlo & tail, mhi & tail, par);
        }
    }
    __m512 r = _mm512_add_ps(fold_reduce(acc), _mm512_set1_ps(*(const float *)a->bias));
    if (a->relu) { /* a NaN stays NaN */
        r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_LT_OQ),
                               _mm512_setzero_ps());
    }
    float *out = a->out;
    if (a->ostride == 1) {
        _mm512_storeu_ps(out, r);
    } else {
        float lanes[16];
        _mm512_storeu_ps(lanes, r);
        for (int o = 0; o < 16; ++o) {
            out[o * a->ostride] = lanes[o];
        }
    }
}

/* One group of 32, 64 or 128 channels (a GAN's last layer): constant
 * strides, so every load of a tap is a displacement of one base register
 * (gan_g5 1.06x). */
#define FOLD_CASE(n)                                                                               \
    case n:                                                                                        \
        if (a->parity) {                                                                           \
            fold_tile(a, 1, n);                                                                    \
        } else {                                                                                   \
            fold_tile(a, 0, n);                                                                    \
        }                                                                                          \
        return;
static void avx512_f32_fold(const cpu_fold_args_t *a) {
    switch (a->cin == a->xstep ? a->cin : 0) {
        FOLD_CASE(32)
        FOLD_CASE(64)
        FOLD_CASE(128)
    default:
        break;
    }
#undef FOLD_CASE
    if (a->parity) {
        fold_tile(a, 1, 0);
    } else {
        fold_tile(a, 0, 0);
    }
}
#include "cpu_kernel_fwino_avx512.h"
#undef FOLD_ACC

/* f64: 8 lanes. */
#define REAL              double
#define VEC               __m512d
#define VL                8
#define VZERO()           _mm512_setzero_pd()
#define VLOADU(p)         _mm512_loadu_pd(p)
#define VSET1(s)          _mm512_set1_pd(s)
#define VFMADD(a, b, acc) _mm512_fmadd_pd(a, b, acc)
#define VSTOREU(p, v)     _mm512_storeu_pd(p, v)
#define VSTREAM(p, v)     _mm512_stream_pd(p, v)
#define KNAME(name)       avx512_f64_##name
#define VMAX(a, b)        _mm512_max_pd(a, b)
#define VSTOREP(p, v, n)  _mm512_mask_storeu_pd(p, (__mmask8)((1u << (n)) - 1u), v)
#define VADD(a, b)        _mm512_add_pd(a, b)
#define VLOADP(p, n)      _mm512_maskz_loadu_pd((__mmask8)((1u << (n)) - 1u), p)
#define VREDUCE(v)        _mm512_reduce_add_pd(v)
/* Before cpu_kernel_template.h, which #undefs the macros. */
#include "cpu_kernel_winograd_template.h"

#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

const cpu_kernel_t cpu_kernel_avx512_f32 = {
    .isa = cpu_isa_avx512,
    .dtype = tconv_f32,
    .vl = 16,
    .nv_max = 4,
    .np_max = TILE_NP_MAX,
    .tile = avx512_f32_tile,
    .dot_np_max = DOT_NP_MAX,
    .dot = avx512_f32_dot,
    .fold = avx512_f32_fold,
    .wgrad = avx512_f32_wgrad,
    .colsum = avx512_f32_colsum,
    .spansum = avx512_f32_spansum,
    .wino_in = {avx512_f32_wino_in3, avx512_f32_wino_in4},
    .wino_out = {avx512_f32_wino_out3, avx512_f32_wino_out4},
    .wino_fused = avx512_f32_wino_fused3,
    .wino_fused2 = avx512_f32_wino_fused3x2,
    .wino_fused_in = avx512_f32_wino_fused_in,
    .fwino_row = avx512_f32_fwino_row,
    .fwino_block = avx512_f32_fwino_block,
    .fwino_line = avx512_f32_fwino_line,
};
const cpu_kernel_t cpu_kernel_avx512_f64 = {
    .isa = cpu_isa_avx512,
    .dtype = tconv_f64,
    .vl = 8,
    .nv_max = 4,
    .np_max = TILE_NP_MAX,
    .tile = avx512_f64_tile,
    .dot_np_max = DOT_NP_MAX,
    .dot = avx512_f64_dot,
    .wgrad = avx512_f64_wgrad,
    .colsum = avx512_f64_colsum,
    .spansum = avx512_f64_spansum,
    .wino_in = {avx512_f64_wino_in3, avx512_f64_wino_in4},
    .wino_out = {avx512_f64_wino_out3, avx512_f64_wino_out4},
    .wino_fused = avx512_f64_wino_fused3,
    .wino_fused2 = avx512_f64_wino_fused3x2,
    .wino_fused_in = avx512_f64_wino_fused_in,
};
