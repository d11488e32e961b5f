/* AVX2 + FMA micro-kernels: 16 ymm registers hold 2 channel vectors x 6
 * points of accumulators (12) plus two weight vectors and a broadcast. */
#pragma GCC target("avx2,fma")

#include <immintrin.h>

#include "cpu_kernel.h"

#define TILE_LIST_NV1(M) NP_UPTO_12(M, 1)
#define TILE_LIST_NV2(M) NP_UPTO_6(M, 2)
#define TILE_NP_MAX                                                                                \
    { 0, 12, 6, 0, 0 }

/* f32: 8 lanes. */
#define REAL              float
#define VEC               __m256
#define VL                8
#define VZERO()           _mm256_setzero_ps()
#define VLOADU(p)         _mm256_loadu_ps(p)
#define VSET1(s)          _mm256_set1_ps(s)
#define VFMADD(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define VSTOREU(p, v)     _mm256_storeu_ps(p, v)
#define KNAME(name)       avx2_f32_##name
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
#define KNAME(name)       avx2_f64_##name
#include "cpu_kernel_template.h"

const cpu_kernel_t cpu_kernel_avx2_f32 = {
    cpu_isa_avx2, tconv_f32, 8, 2, TILE_NP_MAX, avx2_f32_tile,
};
const cpu_kernel_t cpu_kernel_avx2_f64 = {
    cpu_isa_avx2, tconv_f64, 4, 2, TILE_NP_MAX, avx2_f64_tile,
};
