/* Body of the activation functions, instantiated once per element type by
 * activation.c: define REAL (float/double), SUFFIX (f32/f64) and the libm
 * functions R_EXP, R_EXPM1, R_LOG1P, R_TANH, R_ERF, R_SQRT, R_FABS first.
 * Each formula is written so no intermediate overflows (e.g. softplus as
 * max(x,0) + log1p(exp(-|x|))). */

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
#define FN(name)   CAT(name, SUFFIX)

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

static inline REAL FN(activate_)(REAL x, tconv_activation_t act, REAL alpha) {
    switch (act) {
    case tconv_activation_linear:
        return x;
    case tconv_activation_relu:
        return x > 0 ? x : (REAL)0;
    case tconv_activation_relu6:
        return x > 0 ? (x < 6 ? x : (REAL)6) : (REAL)0;
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
        return x * FN(hard_sigmoid_)(x);
    case tconv_activation_tanh:
        return R_TANH(x);
    case tconv_activation_softplus:
        return FN(softplus_)(x);
    case tconv_activation_softsign:
        return x / ((REAL)1 + R_FABS(x));
    case tconv_activation_silu:
        return x * FN(sigmoid_)(x);
    case tconv_activation_gelu:
        return (REAL)0.5 * x * ((REAL)1 + R_ERF(x * (REAL)INV_SQRT2));
    case tconv_activation_exponential:
        return R_EXP(x);
    case tconv_activation_log_sigmoid:
        return (x < 0 ? x : (REAL)0) - R_LOG1P(R_EXP(-R_FABS(x)));
    case tconv_activation_mish:
        return x * R_TANH(FN(softplus_)(x));
    case tconv_activation_celu: {
        REAL neg = alpha * R_EXPM1(x / alpha);
        return (x > 0 ? x : (REAL)0) + (neg < 0 ? neg : (REAL)0);
    }
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
        return (x + R_SQRT(x * x + alpha)) / (REAL)2;
    case tconv_activation_gelu_tanh: {
        REAL inner = (REAL)SQRT_2_OVER_PI * (x + (REAL)0.044715 * x * x * x);
        return (REAL)0.5 * x * ((REAL)1 + R_TANH(inner));
    }
    }
    return x;
}

void FN(cpu_activation_apply_)(REAL *v, size_t n, tconv_activation_t act, double alpha) {
    const REAL a = (REAL)alpha;
    /* The cheap, common cases as branch-free loops the compiler vectorises. */
    switch (act) {
    case tconv_activation_linear:
        return;
    case tconv_activation_relu:
        for (size_t k = 0; k < n; ++k) {
            v[k] = v[k] > 0 ? v[k] : (REAL)0;
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

#undef FN
#undef CAT
#undef CAT_
