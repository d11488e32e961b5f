/* SPDX-License-Identifier: Apache-2.0 */
/* Body of the activation functions, instantiated once per element type by
 * activation_eval.c: define REAL (float/double), SUFFIX (f32/f64) and the libm
 * functions R_EXP, R_EXPM1, R_LOG1P, R_TANH, R_ERF, R_SQRT, R_FABS first.
 *
 * Special values (docs/semantics.md, "Activations at special values"): NaN
 * in gives NaN out; +-inf gives the limit; huge finite inputs give the
 * saturated value. So each formula is written so no intermediate overflows
 * (softplus as max(x,0) + log1p(exp(-|x|))), nothing cancels in the
 * saturated tails (gelu through erfc, gelu_tanh through a sigmoid) and no
 * inf * 0 appears (x * gate, with the gate 0 at -inf). */

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
#define FN(name)   CAT(name, SUFFIX)

/* erfc and hypot are not among the includer's R_* macros (the core
 * instantiates this file too); _Generic picks the float or double one. */
#define R_ERFC_(x)     _Generic((REAL)0, float : erfcf, default : erfc)(x)
#define R_HYPOT_(x, y) _Generic((REAL)0, float : hypotf, default : hypot)(x, y)

/* 1/(1+exp(-x)) without overflow for large |x|. */
static inline REAL FN(sigmoid_)(REAL x) {
    if (x >= 0) {
        return (REAL)1 / ((REAL)1 + R_EXP(-x));
    }
    REAL e = R_EXP(x);
    return e / ((REAL)1 + e);
}

/* log(1+exp(x)) without overflow. */
static inline REAL FN(softplus_)(REAL x) {
    return (x > 0 ? x : (REAL)0) + R_LOG1P(R_EXP(-R_FABS(x)));
}

static inline REAL FN(hard_sigmoid_)(REAL x) {
    REAL y = x / (REAL)6 + (REAL)0.5;
    return y < 0 ? (REAL)0 : (y > 1 ? (REAL)1 : y);
}

/* x * gate for the x * g(x) activations (silu, gelu, mish, ...), whose gate
 * is 0 at -inf: there the result is the limit 0, not -inf * 0 = NaN. */
static inline REAL FN(gated_)(REAL x, REAL gate) {
    return gate == 0 ? (REAL)0 : x * gate;
}

/* (x + sqrt(x^2 + b)) / 2 without overflow in x^2 or in the sum, and for
 * x < 0 as (b/2) / (sqrt(x^2 + b) - x), which does not cancel. */
static inline REAL FN(squareplus_)(REAL x, REAL b) {
    REAL root = R_HYPOT_(x, R_SQRT(b));
    if (x >= 0) {
        return x / 2 + root / 2;
    }
    return b / 2 / (root - x);
}

static inline REAL FN(activate_)(REAL x, tconv_activation_t act, REAL alpha) {
    if (x != x) {
        return x; /* NaN in, NaN out, whatever the formula below would say */
    }
    switch (act) {
    case tconv_activation_linear:
        return x;
    case tconv_activation_relu:
        return x < 0 ? (REAL)0 : x;
    case tconv_activation_relu6:
        return x < 0 ? (REAL)0 : (x > 6 ? (REAL)6 : x);
    case tconv_activation_leaky_relu:
        return x >= 0 ? x : alpha * x;
    case tconv_activation_elu:
        return x > 0 ? x : alpha * R_EXPM1(x);
    case tconv_activation_selu:
        return (REAL)SELU_SCALE * (x > 0 ? x : (REAL)SELU_ALPHA * R_EXPM1(x));
    case tconv_activation_sigmoid:
        return FN(sigmoid_)(x);
    case tconv_activation_hard_sigmoid:
        return FN(hard_sigmoid_)(x);
    case tconv_activation_hard_silu:
        return FN(gated_)(x, FN(hard_sigmoid_)(x));
    case tconv_activation_tanh:
        return R_TANH(x);
    case tconv_activation_softplus:
        return FN(softplus_)(x);
    case tconv_activation_softsign:
        if (R_FABS(x) == (REAL)INFINITY) {
            return x > 0 ? (REAL)1 : (REAL)-1;
        }
        return x / ((REAL)1 + R_FABS(x));
    case tconv_activation_silu:
        return FN(gated_)(x, FN(sigmoid_)(x));
    case tconv_activation_gelu:
        /* (1 + erf(x/sqrt 2)) / 2 as erfc(-x/sqrt 2) / 2: no cancellation for x < 0. */
        return FN(gated_)(x, (REAL)0.5 * R_ERFC_(-x * (REAL)INV_SQRT2));
    case tconv_activation_exponential:
        return R_EXP(x);
    case tconv_activation_log_sigmoid:
        return (x < 0 ? x : (REAL)0) - R_LOG1P(R_EXP(-R_FABS(x)));
    case tconv_activation_mish:
        return FN(gated_)(x, R_TANH(FN(softplus_)(x)));
    case tconv_activation_celu:
        /* max(x,0) + min(0, alpha*expm1(x/alpha)) for any alpha != 0. */
        return x > 0 ? x : alpha * R_EXPM1(x / alpha);
    case tconv_activation_hard_tanh:
        return x < -1 ? (REAL)-1 : (x > 1 ? (REAL)1 : x);
    case tconv_activation_hard_shrink:
        return R_FABS(x) > alpha ? x : (REAL)0;
    case tconv_activation_soft_shrink:
        return x > alpha ? x - alpha : (x < -alpha ? x + alpha : (REAL)0);
    case tconv_activation_tanh_shrink:
        return x - R_TANH(x);
    case tconv_activation_sparse_plus:
        if (x <= -1) {
            return 0;
        }
        if (x >= 1) {
            return x;
        }
        return (x + 1) * (x + 1) / (REAL)4;
    case tconv_activation_squareplus:
        return FN(squareplus_)(x, alpha);
    case tconv_activation_gelu_tanh: {
        /* (1 + tanh(u)) / 2 = sigmoid(2u): no cancellation for x < 0. */
        REAL two_u = (REAL)(2 * SQRT_2_OVER_PI) * (x + (REAL)0.044715 * x * x * x);
        return FN(gated_)(x, FN(sigmoid_)(two_u));
    }
    }
    return x;
}

void FN(activation_forward_)(REAL *v, size_t n, tconv_activation_t act, double alpha) {
    const REAL a = (REAL)alpha;
    /* The cheap, common cases as branch-free loops the compiler vectorises;
     * both keep a NaN (a comparison with NaN is false). */
    switch (act) {
    case tconv_activation_linear:
        return;
    case tconv_activation_relu:
        for (size_t k = 0; k < n; ++k) {
            v[k] = v[k] < 0 ? (REAL)0 : v[k];
        }
        return;
    case tconv_activation_leaky_relu:
        for (size_t k = 0; k < n; ++k) {
            v[k] = v[k] >= 0 ? v[k] : a * v[k];
        }
        return;
    default:
        for (size_t k = 0; k < n; ++k) {
            v[k] = FN(activate_)(v[k], act, a);
        }
        return;
    }
}

#undef R_ERFC_
#undef R_HYPOT_
#undef FN
#undef CAT
#undef CAT_
