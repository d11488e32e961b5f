/* SPDX-License-Identifier: Apache-2.0 */
/* Derivatives of the fused activations, instantiated once per element type
 * next to activation_impl.h (same REAL, SUFFIX and R_* macros; it uses that
 * file's sigmoid_, softplus_ and hard_sigmoid_). Each returns act'(z) at the
 * pre-activation z.
 *
 * Rules (docs/semantics.md, "Gradients"):
 *   - NaN in gives NaN out, so dL/dz = dL/dy * act'(z) carries the NaN on;
 *   - at a kink the derivative is the one PyTorch and TensorFlow use: the
 *     clipped linear pieces count their end points as outside (relu'(0) = 0,
 *     relu6'(6) = 0, hard_tanh'(+-1) = 0, hard_sigmoid'(+-3) = 0), leaky_relu'(0)
 *     = alpha, the shrinks' derivative is 0 at |z| = alpha;
 *   - +-inf and huge |z| give the limit (no inf*0 products). */

#define GCAT_(a, b) a##b
#define GCAT(a, b)  GCAT_(a, b)
#define GFN(name)   GCAT(name, SUFFIX)

static inline REAL GFN(activate_grad_)(REAL x, tconv_activation_t act, REAL alpha) {
    if (x != x)
        return x; /* NaN */
    /* Beyond this magnitude every smooth activation below is saturated to
     * its linear or constant piece in both float and double. */
    const REAL saturated = (REAL)40;
    switch (act) {
    case tconv_activation_linear:
        return 1;
    case tconv_activation_relu:
        return x > 0 ? (REAL)1 : (REAL)0;
    case tconv_activation_relu6:
        return x > 0 && x < 6 ? (REAL)1 : (REAL)0;
    case tconv_activation_leaky_relu:
        return x > 0 ? (REAL)1 : alpha;
    case tconv_activation_elu:
        return x > 0 ? (REAL)1 : alpha * R_EXP(x);
    case tconv_activation_selu:
        return (REAL)SELU_SCALE * (x > 0 ? (REAL)1 : (REAL)SELU_ALPHA * R_EXP(x));
    case tconv_activation_sigmoid: {
        REAL s = GFN(sigmoid_)(x);
        return s * ((REAL)1 - s);
    }
    case tconv_activation_hard_sigmoid:
        return x > -3 && x < 3 ? (REAL)1 / (REAL)6 : (REAL)0;
    case tconv_activation_hard_silu:
        if (x <= -3)
            return 0;
        if (x >= 3)
            return 1;
        return x / (REAL)3 + (REAL)0.5;
    case tconv_activation_tanh: {
        REAL t = R_TANH(x);
        return (REAL)1 - t * t;
    }
    case tconv_activation_softplus:
        return GFN(sigmoid_)(x);
    case tconv_activation_softsign: {
        REAL d = (REAL)1 + R_FABS(x);
        return (REAL)1 / (d * d);
    }
    case tconv_activation_silu: {
        if (R_FABS(x) > saturated * 2)
            return x > 0 ? (REAL)1 : (REAL)0;
        REAL s = GFN(sigmoid_)(x);
        return s * ((REAL)1 + x * ((REAL)1 - s));
    }
    case tconv_activation_gelu: {
        if (R_FABS(x) > saturated)
            return x > 0 ? (REAL)1 : (REAL)0;
        /* Phi(x) as erfc(-x/sqrt 2)/2: no cancellation for x < 0. */
        REAL cdf = (REAL)0.5 * _Generic((REAL)0, float
                                        : erfcf, default
                                        : erfc)(-x * (REAL)INV_SQRT2);
        REAL pdf = (REAL)INV_SQRT_2PI * R_EXP((REAL)-0.5 * x * x);
        return cdf + x * pdf;
    }
    case tconv_activation_exponential:
        return R_EXP(x);
    case tconv_activation_log_sigmoid:
        return GFN(sigmoid_)(-x);
    case tconv_activation_mish: {
        if (R_FABS(x) > saturated * 2)
            return x > 0 ? (REAL)1 : (REAL)0;
        REAL t = R_TANH(GFN(softplus_)(x));
        return t + x * ((REAL)1 - t * t) * GFN(sigmoid_)(x);
    }
    case tconv_activation_celu:
        return x > 0 ? (REAL)1 : R_EXP(x / alpha);
    case tconv_activation_hard_tanh:
        return x > -1 && x < 1 ? (REAL)1 : (REAL)0;
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
        return R_FABS(x) > alpha ? (REAL)1 : (REAL)0;
    case tconv_activation_tanh_shrink: {
        REAL t = R_TANH(x);
        return t * t;
    }
    case tconv_activation_sparse_plus:
        if (x <= -1)
            return 0;
        if (x >= 1)
            return 1;
        return (x + 1) / (REAL)2;
    case tconv_activation_squareplus: {
        /* x / sqrt(x^2 + b) written so x^2 cannot overflow; with b = 0 the
         * activation is relu, and its derivative at 0 is relu'(0) = 0. */
        REAL ratio = R_FABS(x) > 1
                         ? (x > 0 ? (REAL)1 : (REAL)-1) / R_SQRT((REAL)1 + alpha / (x * x))
                         : (x == 0 && alpha == 0 ? (REAL)-1 : x / R_SQRT(x * x + alpha));
        return ((REAL)1 + ratio) / (REAL)2;
    }
    case tconv_activation_gelu_tanh: {
        if (R_FABS(x) > saturated)
            return x > 0 ? (REAL)1 : (REAL)0;
        const REAL c = (REAL)SQRT_2_OVER_PI;
        REAL t = R_TANH(c * (x + (REAL)0.044715 * x * x * x));
        return (REAL)0.5 * ((REAL)1 + t) +
               (REAL)0.5 * x * ((REAL)1 - t * t) * c * ((REAL)1 + (REAL)(3 * 0.044715) * x * x);
    }
    }
    return 1;
}

/* dz[k] = dy[k] * act'(z[k]); dz may alias z. */
void GFN(activation_backward_)(REAL *dz, const REAL *dy, const REAL *z, size_t n,
                               tconv_activation_t act, double alpha) {
    const REAL a = (REAL)alpha;
    for (size_t k = 0; k < n; ++k)
        dz[k] = dy[k] * GFN(activate_grad_)(z[k], act, a);
}

#undef GFN
#undef GCAT
#undef GCAT_
