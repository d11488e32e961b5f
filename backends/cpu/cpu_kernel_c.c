/* SPDX-License-Identifier: Apache-2.0 */
/* Portable micro-kernels written with GCC/Clang generic vectors of 16 bytes,
 * which every target lowers to its own SIMD (or scalars). Multiply and add
 * stay separate here: no FMA is assumed. */
#include <string.h>

#include "cpu_kernel.h"

#define TILE_LIST_NV1(M) NP_UPTO_8(M, 1)
#define TILE_LIST_NV2(M) NP_UPTO_4(M, 2)
#define TILE_NP_MAX                                                                                \
    { 0, 8, 4, 0, 0 }
/* Dot tiles: up to 8 or 9 accumulators (two sets when nco x np <= 8). */
#define DOT_LIST_NCO1(M) DOT_NP_UPTO_4(M, 1)
#define DOT_LIST_NCO2(M) DOT_NP_UPTO_2(M, 2)
#define DOT_LIST_NCO3(M) DOT_NP_UPTO_2(M, 3) M(3, 3)
#define DOT_LIST_NCO4(M) DOT_NP_UPTO_2(M, 4)
#define DOT_NP_MAX                                                                                 \
    { 0, 4, 2, 3, 2 }

typedef float c_vec_f32 __attribute__((vector_size(16)));
typedef double c_vec_f64 __attribute__((vector_size(16)));

static inline c_vec_f32 c_load_f32(const float *p) {
    c_vec_f32 v;
    memcpy(&v, p, sizeof(v));
    return v;
}
static inline c_vec_f64 c_load_f64(const double *p) {
    c_vec_f64 v;
    memcpy(&v, p, sizeof(v));
    return v;
}
/* The first n lanes of p (n < lanes), the others zero. */
static inline c_vec_f32 c_loadp_f32(const float *p, int n) {
    c_vec_f32 v = {0, 0, 0, 0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
static inline c_vec_f64 c_loadp_f64(const double *p, int n) {
    c_vec_f64 v = {0, 0};
    memcpy(&v, p, (size_t)n * sizeof(double));
    return v;
}

/* Lane-wise a > b ? a : b: b when either is NaN, as x86's max (the ReLU
 * of the kernels is VMAX(0, r), which keeps a NaN r). */
static inline c_vec_f32 c_max_f32(c_vec_f32 a, c_vec_f32 b) {
    c_vec_f32 r;
    for (int l = 0; l < 4; ++l) {
        r[l] = a[l] > b[l] ? a[l] : b[l];
    }
    return r;
}
static inline c_vec_f64 c_max_f64(c_vec_f64 a, c_vec_f64 b) {
    c_vec_f64 r;
    for (int l = 0; l < 2; ++l) {
        r[l] = a[l] > b[l] ? a[l] : b[l];
    }
    return r;
}

/* f32: 4 lanes. */
#define REAL              float
#define VEC               c_vec_f32
#define VL                4
#define VZERO()           ((c_vec_f32){0, 0, 0, 0})
#define VLOADU(p)         c_load_f32(p)
#define VSET1(s)          ((c_vec_f32){(s), (s), (s), (s)})
#define VFMADD(a, b, acc) ((acc) + (a) * (b))
#define VSTOREU(p, v)     memcpy((p), &(v), sizeof(v))
#define VSTREAM(p, v)     VSTOREU(p, v)
#define KNAME(name)       c_f32_##name
#define VMAX(a, b)        c_max_f32(a, b)
#define VSTOREP(p, v, n)  memcpy((p), &(v), (size_t)(n) * sizeof(float))
#define VADD(a, b)        ((a) + (b))
#define VLOADP(p, n)      c_loadp_f32(p, n)
#define VREDUCE(v)        (((v)[0] + (v)[1]) + ((v)[2] + (v)[3]))
/* Before cpu_kernel_template.h, which #undefs the macros. */
#include "cpu_kernel_winograd_template.h"

#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

/* f64: 2 lanes. */
#define REAL              double
#define VEC               c_vec_f64
#define VL                2
#define VZERO()           ((c_vec_f64){0, 0})
#define VLOADU(p)         c_load_f64(p)
#define VSET1(s)          ((c_vec_f64){(s), (s)})
#define VFMADD(a, b, acc) ((acc) + (a) * (b))
#define VSTOREU(p, v)     memcpy((p), &(v), sizeof(v))
#define VSTREAM(p, v)     VSTOREU(p, v)
#define KNAME(name)       c_f64_##name
#define VMAX(a, b)        c_max_f64(a, b)
#define VSTOREP(p, v, n)  memcpy((p), &(v), (size_t)(n) * sizeof(double))
#define VADD(a, b)        ((a) + (b))
#define VLOADP(p, n)      c_loadp_f64(p, n)
#define VREDUCE(v)        ((v)[0] + (v)[1])
/* Before cpu_kernel_template.h, which #undefs the macros. */
#include "cpu_kernel_winograd_template.h"

#include "cpu_kernel_bwd_weights_template.h"
#include "cpu_kernel_dot_template.h"
#include "cpu_kernel_template.h"

const cpu_kernel_t cpu_kernel_c_f32 = {
    .isa = cpu_isa_c,
    .dtype = tconv_f32,
    .vl = 4,
    .nv_max = 2,
    .np_max = TILE_NP_MAX,
    .tile = c_f32_tile,
    .dot_np_max = DOT_NP_MAX,
    .dot = c_f32_dot,
    .wgrad = c_f32_wgrad,
    .colsum = c_f32_colsum,
    .spansum = c_f32_spansum,
    .wino_in = {c_f32_wino_in3, c_f32_wino_in4},
    .wino_out = {c_f32_wino_out3, c_f32_wino_out4},
    .wino_fused = c_f32_wino_fused3,
    .wino_fused_in = c_f32_wino_fused_in,
};
const cpu_kernel_t cpu_kernel_c_f64 = {
    .isa = cpu_isa_c,
    .dtype = tconv_f64,
    .vl = 2,
    .nv_max = 2,
    .np_max = TILE_NP_MAX,
    .tile = c_f64_tile,
    .dot_np_max = DOT_NP_MAX,
    .dot = c_f64_dot,
    .wgrad = c_f64_wgrad,
    .colsum = c_f64_colsum,
    .spansum = c_f64_spansum,
    .wino_in = {c_f64_wino_in3, c_f64_wino_in4},
    .wino_out = {c_f64_wino_out3, c_f64_wino_out4},
    .wino_fused = c_f64_wino_fused3,
    .wino_fused_in = c_f64_wino_fused_in,
};
