/* SPDX-License-Identifier: Apache-2.0 */
/* Instantiates the activation formulas (activation_impl.h) and their
 * derivatives (activation_grad_impl.h) for float and double. f32 uses the
 * float libm functions (accurate to about 1 ulp); f64 is computed in double. */
#include "activation_eval.h"

#include <math.h>

#define SELU_ALPHA     1.6732632423543772848170429916717
#define SELU_SCALE     1.0507009873554804934193349852946
#define INV_SQRT2      0.70710678118654752440084436210485
#define INV_SQRT_2PI   0.39894228040143267793994605993438
#define SQRT_2_OVER_PI 0.79788456080286535587989211986876

#define REAL    float
#define SUFFIX  f32
#define R_EXP   expf
#define R_EXPM1 expm1f
#define R_LOG1P log1pf
#define R_TANH  tanhf
#define R_ERF   erff
#define R_SQRT  sqrtf
#define R_FABS  fabsf
#include "activation_impl.h"
/* after the formulas it builds on */
#include "activation_grad_impl.h"
#undef REAL
#undef SUFFIX
#undef R_EXP
#undef R_EXPM1
#undef R_LOG1P
#undef R_TANH
#undef R_ERF
#undef R_SQRT
#undef R_FABS

#define REAL    double
#define SUFFIX  f64
#define R_EXP   exp
#define R_EXPM1 expm1
#define R_LOG1P log1p
#define R_TANH  tanh
#define R_ERF   erf
#define R_SQRT  sqrt
#define R_FABS  fabs
#include "activation_impl.h"
/* after the formulas it builds on */
#include "activation_grad_impl.h"

void activation_forward(tconv_dtype_t dtype, void *v, size_t n, tconv_activation_t act,
                        double alpha) {
    if (dtype == tconv_f64)
        activation_forward_f64(v, n, act, alpha);
    else
        activation_forward_f32(v, n, act, alpha);
}

void activation_backward(tconv_dtype_t dtype, void *dz, const void *dy, const void *z, size_t n,
                         tconv_activation_t act, double alpha) {
    if (dtype == tconv_f64)
        activation_backward_f64(dz, dy, z, n, act, alpha);
    else
        activation_backward_f32(dz, dy, z, n, act, alpha);
}
