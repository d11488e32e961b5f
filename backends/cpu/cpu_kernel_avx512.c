/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512F micro-kernels: 32 zmm registers hold up to 4 channel vectors x 6
 * points of accumulators (24) plus the weight vectors and a broadcast. */
#pragma GCC target("avx512f,avx512vl,avx512dq,fma")

#include <immintrin.h>

#include "common/target_features.h"
#include "cpu_kernel.h"

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
#define KNAME(name)       avx512_f32_##name
#define VMAX(a, b)        _mm512_max_ps(a, b)
#define VSTOREP(p, v, n)  _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1u), v)
#define VADD(a, b)        _mm512_add_ps(a, b)
#define VLOADP(p, n)      _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), p)
#define VREDUCE(v)        _mm512_reduce_add_ps(v)
#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

/* f64: 8 lanes. */
#define REAL              double
#define VEC               __m512d
#define VL                8
#define VZERO()           _mm512_setzero_pd()
#define VLOADU(p)         _mm512_loadu_pd(p)
#define VSET1(s)          _mm512_set1_pd(s)
#define VFMADD(a, b, acc) _mm512_fmadd_pd(a, b, acc)
#define VSTOREU(p, v)     _mm512_storeu_pd(p, v)
#define KNAME(name)       avx512_f64_##name
#define VMAX(a, b)        _mm512_max_pd(a, b)
#define VSTOREP(p, v, n)  _mm512_mask_storeu_pd(p, (__mmask8)((1u << (n)) - 1u), v)
#define VADD(a, b)        _mm512_add_pd(a, b)
#define VLOADP(p, n)      _mm512_maskz_loadu_pd((__mmask8)((1u << (n)) - 1u), p)
#define VREDUCE(v)        _mm512_reduce_add_pd(v)
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
    .wgrad = avx512_f32_wgrad,
    .colsum = avx512_f32_colsum,
    .spansum = avx512_f32_spansum,
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
};
