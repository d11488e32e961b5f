/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 + FMA micro-kernels: 16 ymm registers hold 2 channel vectors x 6
 * points of accumulators (12) plus two weight vectors and a broadcast. */
#pragma GCC target("avx2,fma")

#include <immintrin.h>

#include "common/target_features.h"
#include "cpu_kernel.h"

/* Every feature this file is compiled for: cpu_isa_detect requires them all. */
const unsigned cpu_kernel_avx2_features = TCONV_CPU_TARGET_FEATURES;

#define TILE_LIST_NV1(M) NP_UPTO_12(M, 1)
#define TILE_LIST_NV2(M) NP_UPTO_6(M, 2)
#define TILE_NP_MAX                                                                                \
    { 0, 12, 6, 0, 0 }
/* Dot tiles: up to 8 or 9 accumulators (two sets when nco x np <= 8). */
#define DOT_LIST_NCO1(M) DOT_NP_UPTO_4(M, 1)
#define DOT_LIST_NCO2(M) DOT_NP_UPTO_2(M, 2)
#define DOT_LIST_NCO3(M) DOT_NP_UPTO_2(M, 3) M(3, 3)
#define DOT_LIST_NCO4(M) DOT_NP_UPTO_2(M, 4)
#define DOT_NP_MAX                                                                                 \
    { 0, 4, 2, 3, 2 }

/* Masks of the first n lanes, for masked loads and stores. */
static inline __m256i avx2_lanes_epi32(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i avx2_lanes_epi64(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}
/* The first n lanes of p (n < lanes), the others zero. */
static inline __m256 avx2_loadp_ps(const float *p, int n) {
    return _mm256_maskload_ps(p, avx2_lanes_epi32(n));
}
static inline __m256d avx2_loadp_pd(const double *p, int n) {
    return _mm256_maskload_pd(p, avx2_lanes_epi64(n));
}
static inline float avx2_reduce_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline double avx2_reduce_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

/* f32: 8 lanes. */
#define REAL              float
#define VEC               __m256
#define VL                8
#define VZERO()           _mm256_setzero_ps()
#define VLOADU(p)         _mm256_loadu_ps(p)
#define VSET1(s)          _mm256_set1_ps(s)
#define VFMADD(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define VSTOREU(p, v)     _mm256_storeu_ps(p, v)
#define VSTREAM(p, v)     _mm256_stream_ps(p, v)
#define KNAME(name)       avx2_f32_##name
#define VMAX(a, b)        _mm256_max_ps(a, b)
#define VSTOREP(p, v, n)  _mm256_maskstore_ps(p, avx2_lanes_epi32(n), v)
#define VADD(a, b)        _mm256_add_ps(a, b)
#define VLOADP(p, n)      avx2_loadp_ps(p, n)
#define VREDUCE(v)        avx2_reduce_ps(v)
/* Before cpu_kernel_template.h, which #undefs the macros. */
#include "cpu_kernel_winograd_template.h"

#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

/* f64: 4 lanes. */
#define REAL              double
#define VEC               __m256d
#define VL                4
#define VZERO()           _mm256_setzero_pd()
#define VLOADU(p)         _mm256_loadu_pd(p)
#define VSET1(s)          _mm256_set1_pd(s)
#define VFMADD(a, b, acc) _mm256_fmadd_pd(a, b, acc)
#define VSTOREU(p, v)     _mm256_storeu_pd(p, v)
#define VSTREAM(p, v)     _mm256_stream_pd(p, v)
#define KNAME(name)       avx2_f64_##name
#define VMAX(a, b)        _mm256_max_pd(a, b)
#define VSTOREP(p, v, n)  _mm256_maskstore_pd(p, avx2_lanes_epi64(n), v)
#define VADD(a, b)        _mm256_add_pd(a, b)
#define VLOADP(p, n)      avx2_loadp_pd(p, n)
#define VREDUCE(v)        avx2_reduce_pd(v)
/* Before cpu_kernel_template.h, which #undefs the macros. */
#include "cpu_kernel_winograd_template.h"

#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

const cpu_kernel_t cpu_kernel_avx2_f32 = {
    .isa = cpu_isa_avx2,
    .dtype = tconv_f32,
    .vl = 8,
    .nv_max = 2,
    .np_max = TILE_NP_MAX,
    .tile = avx2_f32_tile,
    .dot_np_max = DOT_NP_MAX,
    .dot = avx2_f32_dot,
    .wgrad = avx2_f32_wgrad,
    .colsum = avx2_f32_colsum,
    .spansum = avx2_f32_spansum,
    .wino_in = {avx2_f32_wino_in3, avx2_f32_wino_in4},
    .wino_out = {avx2_f32_wino_out3, avx2_f32_wino_out4},
    .wino_fused = avx2_f32_wino_fused3,
    .wino_fused_in = avx2_f32_wino_fused_in,
};
const cpu_kernel_t cpu_kernel_avx2_f64 = {
    .isa = cpu_isa_avx2,
    .dtype = tconv_f64,
    .vl = 4,
    .nv_max = 2,
    .np_max = TILE_NP_MAX,
    .tile = avx2_f64_tile,
    .dot_np_max = DOT_NP_MAX,
    .dot = avx2_f64_dot,
    .wgrad = avx2_f64_wgrad,
    .colsum = avx2_f64_colsum,
    .spansum = avx2_f64_spansum,
    .wino_in = {avx2_f64_wino_in3, avx2_f64_wino_in4},
    .wino_out = {avx2_f64_wino_out3, avx2_f64_wino_out4},
    .wino_fused = avx2_f64_wino_fused3,
    .wino_fused_in = avx2_f64_wino_fused_in,
};
