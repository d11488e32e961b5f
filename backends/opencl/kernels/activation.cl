/* Common definitions and the fused activation (Keras semantics), generic over
 * the accumulator type VT (a scalar REAL or a REAL vector of VEC lanes).
 *
 * Build options used here (all set by the host, ocl_program.c):
 *   REAL      float or double     USE_F64  defined for double
 *   VEC       lanes of VT (1 = scalar path)
 *   ACT       tconv_activation_t value      ALPHA  its parameter, a typed literal
 * The vector ternary operator selects per lane, so one expression serves the
 * scalar and the vector paths. */
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
    return clamp(x / V(6.0) + V(0.5), V(0.0), V(1.0));
}

inline VT activate(VT x) {
#if ACT == 0 /* linear */
    return x;
#elif ACT == 1 /* relu */
    return fmax(x, V(0.0));
#elif ACT == 2 /* relu6 */
    return fmin(fmax(x, V(0.0)), V(6.0));
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
    return x * act_hard_sigmoid(x);
#elif ACT == 9 /* tanh */
    return tanh(x);
#elif ACT == 10 /* softplus */
    return act_softplus(x);
#elif ACT == 11 /* softsign */
    return x / (V(1.0) + fabs(x));
#elif ACT == 12 /* silu */
    return x * act_sigmoid(x);
#elif ACT == 13 /* gelu (erf) */
    return V(0.5) * x * (V(1.0) + erf(x * V(0.70710678118654752440084436210485)));
#elif ACT == 14 /* exponential */
    return exp(x);
#elif ACT == 15 /* log_sigmoid */
    return -act_softplus(-x);
#elif ACT == 16 /* mish */
    return x * tanh(act_softplus(x));
#elif ACT == 17 /* celu */
    return fmax(x, V(0.0)) + fmin(V(0.0), VALPHA * expm1(x / VALPHA));
#elif ACT == 18 /* hard_tanh */
    return clamp(x, V(-1.0), V(1.0));
#elif ACT == 19 /* hard_shrink */
    return fabs(x) > VALPHA ? x : V(0.0);
#elif ACT == 20 /* soft_shrink */
    return x - clamp(x, -VALPHA, VALPHA);
#elif ACT == 21 /* tanh_shrink */
    return x - tanh(x);
#elif ACT == 22 /* sparse_plus */
    return x <= V(-1.0) ? V(0.0) : (x < V(1.0) ? (x + V(1.0)) * (x + V(1.0)) * V(0.25) : x);
#elif ACT == 23 /* squareplus */
    return (x + sqrt(x * x + VALPHA)) * V(0.5);
#elif ACT == 24 /* gelu, tanh approximation */
    return V(0.5) * x *
           (V(1.0) + tanh(V(0.79788456080286535587989211986876) * (x + V(0.044715) * x * x * x)));
#else
#error "unknown ACT"
#endif
}
