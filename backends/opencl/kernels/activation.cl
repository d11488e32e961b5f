/* SPDX-License-Identifier: Apache-2.0 */
/* Common definitions and the fused activation (Keras semantics), generic over
 * the accumulator type VT (a scalar REAL or a REAL vector of VEC lanes).
 *
 * Build options used here (all set by the host, ocl_program.c):
 *   REAL      float or double     USE_F64  defined for double
 *   VEC       lanes of VT (1 = scalar path)
 *   ACT       tconv_activation_t value      ALPHA  its parameter, a typed literal
 * The vector ternary operator selects per lane, so one expression serves the
 * scalar and the vector paths.
 *
 * Special values (docs/semantics.md, "Activations at special values"): NaN
 * in gives NaN out, so no fmax/fmin/clamp where a NaN would be replaced;
 * +-inf gives the limit and huge inputs the saturated value: no inf * 0
 * (act_gated), no cancellation in the tails, a tanh that reaches +-1. */
#ifdef USE_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define LIT(c) c
#else
#define LIT(c) c##f
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VEC == 1
#define VT REAL
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#else
#define VT CAT(REAL, VEC)
#define VLOAD(p) CAT(vload, VEC)(0, (p))
#define VSTORE(v, p) CAT(vstore, VEC)((v), 0, (p))
#endif

/* A constant broadcast to VT. */
#define V(c) ((VT)(LIT(c)))
#define VALPHA ((VT)(ALPHA))

/* log(1 + exp(x)) without overflow for large x. */
inline VT act_softplus(VT x) {
    return fmax(x, V(0.0)) + log1p(exp(-fabs(x)));
}

inline VT act_sigmoid(VT x) {
    return V(1.0) / (V(1.0) + exp(-x));
}

inline VT act_hard_sigmoid(VT x) {
    const VT y = x / V(6.0) + V(0.5);
    return y < V(0.0) ? V(0.0) : (y > V(1.0) ? V(1.0) : y);
}

/* tanh that is exactly +-1 where the rounded tanh is (|x| above 9.01 in
 * float, 19.06 in double): PoCL's float tanh stops 1 ulp short of 1, even
 * at inf, and 1 + tanh or x - tanh would keep that ulp. */
#ifdef USE_F64
#define TANH_SATURATED 19.1
#else
#define TANH_SATURATED 9.1f
#endif
inline VT act_tanh(VT x) {
    return fabs(x) > (VT)(TANH_SATURATED) ? copysign(V(1.0), x) : tanh(x);
}

/* x * gate for the x * g(x) activations (silu, gelu, mish, ...), whose gate
 * is 0 at -inf: there the result is the limit 0, not -inf * 0 = NaN. */
inline VT act_gated(VT x, VT gate) {
    return gate == V(0.0) ? V(0.0) : x * gate;
}

/* (x + sqrt(x^2 + b)) / 2 without overflow in x^2 or in the sum, and for
 * x < 0 as (b/2) / (sqrt(x^2 + b) - x), which does not cancel. */
inline VT act_squareplus(VT x) {
    const VT root = hypot(x, sqrt(VALPHA));
    return x >= V(0.0) ? x * V(0.5) + root * V(0.5) : VALPHA * V(0.5) / (root - x);
}

inline VT activate(VT x) {
#if ACT == 0 /* linear */
    return x;
#elif ACT == 1 /* relu */
    return x < V(0.0) ? V(0.0) : x;
#elif ACT == 2 /* relu6 */
    return x < V(0.0) ? V(0.0) : (x > V(6.0) ? V(6.0) : x);
#elif ACT == 3 /* leaky_relu */
    return x >= V(0.0) ? x : VALPHA * x;
#elif ACT == 4 /* elu */
    return x > V(0.0) ? x : VALPHA * expm1(x);
#elif ACT == 5 /* selu: fixed scale and alpha */
    return V(1.0507009873554804934193349852946) *
           (x > V(0.0) ? x : V(1.6732632423543772848170429916717) * expm1(x));
#elif ACT == 6 /* sigmoid */
    return act_sigmoid(x);
#elif ACT == 7 /* hard_sigmoid */
    return act_hard_sigmoid(x);
#elif ACT == 8 /* hard_silu */
    return act_gated(x, act_hard_sigmoid(x));
#elif ACT == 9 /* tanh */
    return act_tanh(x);
#elif ACT == 10 /* softplus */
    return act_softplus(x);
#elif ACT == 11 /* softsign */
    return isinf(x) ? copysign(V(1.0), x) : x / (V(1.0) + fabs(x));
#elif ACT == 12 /* silu */
    return act_gated(x, act_sigmoid(x));
#elif ACT == 13 /* gelu (erf): (1 + erf(x/sqrt 2)) / 2 = erfc(-x/sqrt 2) / 2, exact for x < 0 */
    return act_gated(x, V(0.5) * erfc(x * V(-0.70710678118654752440084436210485)));
#elif ACT == 14 /* exponential */
    return exp(x);
#elif ACT == 15 /* log_sigmoid */
    return -act_softplus(-x);
#elif ACT == 16 /* mish */
    return act_gated(x, act_tanh(act_softplus(x)));
#elif ACT == 17 /* celu: max(x,0) + min(0, alpha*expm1(x/alpha)) for any alpha != 0 */
    return x > V(0.0) ? x : VALPHA * expm1(x / VALPHA);
#elif ACT == 18 /* hard_tanh */
    return x < V(-1.0) ? V(-1.0) : (x > V(1.0) ? V(1.0) : x);
#elif ACT == 19 /* hard_shrink */
    return fabs(x) <= VALPHA ? V(0.0) : x;
#elif ACT == 20 /* soft_shrink */
    return x - clamp(x, -VALPHA, VALPHA);
#elif ACT == 21 /* tanh_shrink */
    return x - act_tanh(x);
#elif ACT == 22 /* sparse_plus */
    return x <= V(-1.0) ? V(0.0) : (x < V(1.0) ? (x + V(1.0)) * (x + V(1.0)) * V(0.25) : x);
#elif ACT == 23 /* squareplus */
    return act_squareplus(x);
#elif ACT == 24 /* gelu, tanh approximation: (1 + tanh(u)) / 2 = sigmoid(2u), exact for x < 0 */
    return act_gated(
        x, act_sigmoid(V(1.5957691216057307117597842397375) * (x + V(0.044715) * x * x * x)));
#else
#error "unknown ACT"
#endif
}
