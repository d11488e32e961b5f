/* SPDX-License-Identifier: Apache-2.0 */
/* Naive float64 transposed convolution: the tests' ground truth.
 * Written from the definition in tconv_types.h, nothing else:
 *   per axis  o = i*stride + t*dilation - crop_begin,  0 <= o < output_size
 *   y[n, oc, o] = act(bias[oc] + sum over ic in oc's group, i, t of x * w)
 * It scatters every (input, tap) product, the most literal reading; the
 * backward pass walks the same products and sends each term back. */
#include "tconv_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log(1 + exp(x)) without overflow for large x. */
static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* x * gate(x) for the activations whose gate is 0 at -inf (silu, gelu,
 * mish, ...): the limit there is 0, which x * gate would make -inf * 0. */
static double times_gate(double x, double gate) {
    return gate == 0 ? 0 : x * gate;
}

double tconv_reference_activation(tconv_activation_t act, double alpha, double x) {
    /* SELU constants from Klambauer et al. (as in Keras). */
    const double selu_alpha = 1.6732632423543772848170429916717;
    const double selu_scale = 1.0507009873554804934193349852946;
    const double pi = 3.14159265358979323846264338327950288;
    /* The rule for special values (docs/semantics.md): NaN in gives NaN out,
     * +-inf the limit, huge inputs the saturated value. The formulas below
     * are written so nothing cancels (expm1, not exp - 1; erfc, not 1 + erf). */
    if (isnan(x))
        return x;
    switch (act) {
    case tconv_activation_linear:
        return x;
    case tconv_activation_relu:
        return x > 0 ? x : 0;
    case tconv_activation_relu6:
        return x < 0 ? 0 : (x > 6 ? 6 : x);
    case tconv_activation_leaky_relu:
        return x >= 0 ? x : alpha * x;
    case tconv_activation_elu:
        return x > 0 ? x : alpha * expm1(x);
    case tconv_activation_selu:
        return selu_scale * (x > 0 ? x : selu_alpha * expm1(x));
    case tconv_activation_sigmoid:
        return 1 / (1 + exp(-x));
    case tconv_activation_hard_sigmoid: {
        double v = x / 6 + 0.5;
        return v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    case tconv_activation_hard_silu: {
        double v = x / 6 + 0.5;
        return times_gate(x, v < 0 ? 0 : (v > 1 ? 1 : v));
    }
    case tconv_activation_tanh:
        return tanh(x);
    case tconv_activation_softplus:
        return softplus(x);
    case tconv_activation_softsign:
        return isinf(x) ? copysign(1.0, x) : x / (1 + fabs(x));
    case tconv_activation_silu:
        return times_gate(x, 1 / (1 + exp(-x)));
    case tconv_activation_gelu:
        return times_gate(x, erfc(-x / sqrt(2.0)) / 2);
    case tconv_activation_exponential:
        return exp(x);
    case tconv_activation_log_sigmoid:
        return -softplus(-x);
    case tconv_activation_mish:
        return times_gate(x, tanh(softplus(x)));
    case tconv_activation_celu: {
        double neg = alpha * expm1(x / alpha);
        return (x > 0 ? x : 0) + (neg < 0 ? neg : 0);
    }
    case tconv_activation_hard_tanh:
        return x < -1 ? -1 : (x > 1 ? 1 : x);
    case tconv_activation_hard_shrink:
        return fabs(x) > alpha ? x : 0;
    case tconv_activation_soft_shrink:
        return x > alpha ? x - alpha : (x < -alpha ? x + alpha : 0);
    case tconv_activation_tanh_shrink:
        return x - tanh(x);
    case tconv_activation_sparse_plus:
        return x <= -1 ? 0 : (x < 1 ? (x + 1) * (x + 1) / 4 : x);
    case tconv_activation_squareplus: {
        /* For x < 0, (x + r)/2 = (b/2)/(r - x), r = sqrt(x^2 + b). */
        double r = hypot(x, sqrt(alpha));
        return x >= 0 ? x / 2 + r / 2 : alpha / 2 / (r - x);
    }
    case tconv_activation_gelu_tanh: {
        /* (1 + tanh(u))/2 = 1/(1 + exp(-2u)). */
        double u = sqrt(2 / pi) * (x + 0.044715 * x * x * x);
        return times_gate(x, 1 / (1 + exp(-2 * u)));
    }
    }
    return NAN; /* unknown activation: make any comparison fail loudly */
}

int64_t tconv_reference_input_count(const tconv_canonical_t *p) {
    return p->batch * p->in_channels * p->input_size[0] * p->input_size[1] * p->input_size[2];
}

int64_t tconv_reference_kernel_count(const tconv_canonical_t *p) {
    return p->in_channels * (p->out_channels / p->groups) * p->kernel_size[0] * p->kernel_size[1] *
           p->kernel_size[2];
}

int64_t tconv_reference_output_count(const tconv_canonical_t *p) {
    return p->batch * p->out_channels * p->output_size[0] * p->output_size[1] * p->output_size[2];
}

/* Offset of element (n, c, z, y, x) of a tensor with C channels and spatial
 * size s[3], in data format fmt. */
static int64_t data_offset(tconv_data_format_t fmt, int64_t C, const int64_t s[3], int64_t n,
                           int64_t c, int64_t z, int64_t y, int64_t x) {
    if (fmt == tconv_channels_last)
        return (((n * s[0] + z) * s[1] + y) * s[2] + x) * C + c;
    return (((n * C + c) * s[0] + z) * s[1] + y) * s[2] + x;
}

/* Offset of kernel tap (tz, ty, tx) linking input channel ic to output
 * channel j within its group. */
static int64_t kernel_offset(const tconv_canonical_t *p, int64_t ic, int64_t j, int64_t tz,
                             int64_t ty, int64_t tx) {
    const int64_t *k = p->kernel_size;
    int64_t cout_g = p->out_channels / p->groups;
    if (p->kernel_layout == tconv_kernel_keras)
        return (((tz * k[1] + ty) * k[2] + tx) * cout_g + j) * p->in_channels + ic;
    return (((ic * cout_g + j) * k[0] + tz) * k[1] + ty) * k[2] + tx;
}

/* Calls visit(state, oc, o) for every output element o, of channel oc. */
static void for_each_output(const tconv_canonical_t *p, void (*visit)(void *, int64_t, int64_t),
                            void *state) {
    const int64_t *os = p->output_size;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t oc = 0; oc < p->out_channels; oc++)
            for (int64_t z = 0; z < os[0]; z++)
                for (int64_t y = 0; y < os[1]; y++)
                    for (int64_t x = 0; x < os[2]; x++)
                        visit(state, oc,
                              data_offset(p->data_format, p->out_channels, os, n, oc, z, y, x));
}

/* Calls visit(state, i, k, o) for every product in[i] * kernel[k] the
 * forward pass adds into output element o: every (n, ic, input point, tap,
 * output channel of ic's group) whose output point
 *   o = i*stride + t*dilation - crop_begin  (per axis)
 * lies inside the output. The forward pass and its adjoint both walk this. */
static void for_each_product(const tconv_canonical_t *p,
                             void (*visit)(void *, int64_t, int64_t, int64_t), void *state) {
    const int64_t *is = p->input_size, *ks = p->kernel_size, *os = p->output_size;
    const int64_t *st = p->strides, *dl = p->dilation, *cb = p->crop_begin;
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;

    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t ic = 0; ic < p->in_channels; ic++) {
            int64_t g = ic / cin_g;
            for (int64_t iz = 0; iz < is[0]; iz++)
                for (int64_t iy = 0; iy < is[1]; iy++)
                    for (int64_t ix = 0; ix < is[2]; ix++) {
                        int64_t i =
                            data_offset(p->data_format, p->in_channels, is, n, ic, iz, iy, ix);
                        for (int64_t tz = 0; tz < ks[0]; tz++) {
                            int64_t oz = iz * st[0] + tz * dl[0] - cb[0];
                            if (oz < 0 || oz >= os[0])
                                continue;
                            for (int64_t ty = 0; ty < ks[1]; ty++) {
                                int64_t oy = iy * st[1] + ty * dl[1] - cb[1];
                                if (oy < 0 || oy >= os[1])
                                    continue;
                                for (int64_t tx = 0; tx < ks[2]; tx++) {
                                    int64_t ox = ix * st[2] + tx * dl[2] - cb[2];
                                    if (ox < 0 || ox >= os[2])
                                        continue;
                                    for (int64_t j = 0; j < cout_g; j++) {
                                        int64_t oc = g * cout_g + j;
                                        visit(state, i, kernel_offset(p, ic, j, tz, ty, tx),
                                              data_offset(p->data_format, p->out_channels, os, n,
                                                          oc, oz, oy, ox));
                                    }
                                }
                            }
                        }
                    }
        }
}

/* The forward pass: out (when not NULL) = bias + sum of x*w and out_abs
 * (when not NULL) = |bias| + sum |x*w|. */
typedef struct forward_sums {
    const tconv_canonical_t *p;
    const double *in, *kernel, *bias;
    double *out, *out_abs;
} forward_sums_t;

static void start_with_bias(void *state, int64_t oc, int64_t o) {
    forward_sums_t *f = state;
    double b = f->p->use_bias ? f->bias[oc] : 0.0;
    if (f->out)
        f->out[o] = b;
    if (f->out_abs)
        f->out_abs[o] = fabs(b);
}

static void add_product(void *state, int64_t i, int64_t k, int64_t o) {
    forward_sums_t *f = state;
    double term = f->in[i] * f->kernel[k];
    if (f->out)
        f->out[o] += term;
    if (f->out_abs)
        f->out_abs[o] += fabs(term);
}

/* Accumulates bias + sum of x*w into out (when not NULL) and
 * |bias| + sum |x*w| into out_abs (when not NULL). No activation. */
static void accumulate(const tconv_canonical_t *p, const double *in, const double *kernel,
                       const double *bias, double *out, double *out_abs) {
    forward_sums_t f = {p, in, kernel, bias, out, out_abs};
    for_each_output(p, start_with_bias, &f);
    for_each_product(p, add_product, &f);
}

void tconv_reference_forward(const tconv_canonical_t *p, const double *in, const double *kernel,
                             const double *bias, double *out) {
    accumulate(p, in, kernel, bias, out, NULL);
    int64_t count = tconv_reference_output_count(p);
    for (int64_t i = 0; i < count; i++)
        out[i] = tconv_reference_activation(p->activation, p->activation_alpha, out[i]);
}

void tconv_reference_forward_abs(const tconv_canonical_t *p, const double *in, const double *kernel,
                                 const double *bias, double *out_abs) {
    accumulate(p, in, kernel, bias, NULL, out_abs);
}

/* ---- the backward pass ---------------------------------------------------
 * Written from the same definition, by differentiating it: every (input
 * point, tap, output channel) product x * w that the forward pass scatters
 * into y[o] contributes dL/dz[o] * w to dL/dx and x * dL/dz[o] to dL/dw. */

/* The logistic function sigma(x) = 1 / (1 + e^-x) (0 and 1 at -+inf). */
static double logistic(double x) {
    return 1 / (1 + exp(-x));
}

double tconv_reference_activation_grad(tconv_activation_t act, double alpha, double x) {
    const double selu_alpha = 1.6732632423543772848170429916717;
    const double selu_scale = 1.0507009873554804934193349852946;
    const double pi = 3.14159265358979323846264338327950288;
    if (isnan(x))
        return x;
    /* The smooth activations whose formula below would form inf * 0 or
     * inf / inf at +-inf: their limit there is that of relu'. */
    if (isinf(x) && (act == tconv_activation_silu || act == tconv_activation_gelu ||
                     act == tconv_activation_mish || act == tconv_activation_squareplus ||
                     act == tconv_activation_gelu_tanh))
        return x > 0 ? 1 : 0;
    switch (act) {
    case tconv_activation_linear:
        return 1;
    case tconv_activation_relu:
        return x > 0 ? 1 : 0;
    case tconv_activation_relu6:
        return x > 0 && x < 6 ? 1 : 0;
    case tconv_activation_leaky_relu:
        return x > 0 ? 1 : alpha;
    case tconv_activation_elu: /* alpha (e^x - 1) for x <= 0 */
        return x > 0 ? 1 : alpha * exp(x);
    case tconv_activation_selu:
        return selu_scale * (x > 0 ? 1 : selu_alpha * exp(x));
    case tconv_activation_sigmoid: { /* e^-|x| / (1 + e^-|x|)^2, symmetric */
        double e = exp(-fabs(x));
        return e / ((1 + e) * (1 + e));
    }
    case tconv_activation_hard_sigmoid: /* x/6 + 1/2 clipped to [0, 1] */
        return x > -3 && x < 3 ? 1.0 / 6 : 0;
    case tconv_activation_hard_silu: /* x (x/6 + 1/2) on (-3, 3): x/3 + 1/2 */
        return x <= -3 ? 0 : (x >= 3 ? 1 : x / 3 + 0.5);
    case tconv_activation_tanh: { /* sech^2 */
        double c = cosh(x);
        return 1 / (c * c);
    }
    case tconv_activation_softplus: /* d/dx log(1 + e^x) */
        return logistic(x);
    case tconv_activation_softsign: /* d/dx x / (1 + |x|) */
        return 1 / ((1 + fabs(x)) * (1 + fabs(x)));
    case tconv_activation_silu: /* sigma(x) + x sigma(x) sigma(-x) */
        return logistic(x) + x * logistic(x) * logistic(-x);
    case tconv_activation_gelu: /* Phi(x) + x phi(x) */
        return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-x * x / 2) / sqrt(2 * pi);
    case tconv_activation_exponential:
        return exp(x);
    case tconv_activation_log_sigmoid: /* d/dx -log(1 + e^-x) */
        return logistic(-x);
    case tconv_activation_mish: { /* tanh(sp) + x sech^2(sp) sigma(x), sp = softplus(x) */
        double sp = softplus(x), c = cosh(sp);
        return tanh(sp) + x * logistic(x) / (c * c);
    }
    case tconv_activation_celu: /* alpha (e^(x/alpha) - 1) for x <= 0 */
        return x > 0 ? 1 : exp(x / alpha);
    case tconv_activation_hard_tanh:
        return x > -1 && x < 1 ? 1 : 0;
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
        return fabs(x) > alpha ? 1 : 0;
    case tconv_activation_tanh_shrink: /* 1 - sech^2 */
        return tanh(x) * tanh(x);
    case tconv_activation_sparse_plus: /* (x + 1)^2 / 4 on (-1, 1) */
        return x <= -1 ? 0 : (x >= 1 ? 1 : (x + 1) / 2);
    case tconv_activation_squareplus: { /* (1 + x / sqrt(x^2 + b)) / 2 */
        double r = hypot(x, sqrt(alpha));
        return r > 0 ? (1 + x / r) / 2 : 0; /* b = 0 is relu: relu'(0) = 0 */
    }
    case tconv_activation_gelu_tanh: { /* 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3) */
        if (fabs(x) > 1e100)           /* x^3 overflows; the limit is relu' */
            return x > 0 ? 1 : 0;
        const double c = sqrt(2 / pi);
        double u = c * (x + 0.044715 * x * x * x), ch = cosh(u);
        return 0.5 * (1 + tanh(u)) + 0.5 * x * c * (1 + 3 * 0.044715 * x * x) / (ch * ch);
    }
    }
    return NAN; /* unknown activation */
}

/* The adjoint: each product x[i] * w[k] that reached output o adds
 * dz[o] * w[k] to grad_in[i] and x[i] * dz[o] to grad_kernel[k] (each when
 * not NULL); with take_abs, |w| and |x| (dz is then already >= 0): the sums
 * of |terms|. grad_bias[oc] sums dz over the channel's output elements. */
typedef struct adjoint_sums {
    const double *in, *kernel, *dz;
    double *grad_in, *grad_kernel, *grad_bias;
    int take_abs;
} adjoint_sums_t;

static void add_adjoint_products(void *state, int64_t i, int64_t k, int64_t o) {
    adjoint_sums_t *a = state;
    if (a->grad_in)
        a->grad_in[i] += a->dz[o] * (a->take_abs ? fabs(a->kernel[k]) : a->kernel[k]);
    if (a->grad_kernel)
        a->grad_kernel[k] += (a->take_abs ? fabs(a->in[i]) : a->in[i]) * a->dz[o];
}

static void add_to_bias(void *state, int64_t oc, int64_t o) {
    adjoint_sums_t *a = state;
    a->grad_bias[oc] += a->dz[o];
}

/* Zeroes the given outputs of @p a and sums every term into them. */
static void adjoint(const tconv_canonical_t *p, adjoint_sums_t *a) {
    if (a->grad_in)
        memset(a->grad_in, 0, (size_t)tconv_reference_input_count(p) * sizeof(double));
    if (a->grad_kernel)
        memset(a->grad_kernel, 0, (size_t)tconv_reference_kernel_count(p) * sizeof(double));
    for_each_product(p, add_adjoint_products, a);
    if (a->grad_bias) {
        memset(a->grad_bias, 0, (size_t)p->out_channels * sizeof(double));
        for_each_output(p, add_to_bias, a);
    }
}

void tconv_reference_backward(const tconv_canonical_t *p, const double *in, const double *kernel,
                              const double *bias, const double *grad_out, double *grad_in,
                              double *grad_kernel, double *grad_bias) {
    int64_t count = tconv_reference_output_count(p);
    double *dz = malloc((size_t)(count > 0 ? count : 1) * sizeof(double));
    if (dz == NULL)
        abort(); /* test code: a few KiB */
    if (p->activation == tconv_activation_linear) {
        memcpy(dz, grad_out, (size_t)count * sizeof(double));
    } else {
        accumulate(p, in, kernel, bias, dz, NULL); /* the pre-activation z */
        for (int64_t i = 0; i < count; i++)
            dz[i] = grad_out[i] *
                    tconv_reference_activation_grad(p->activation, p->activation_alpha, dz[i]);
    }
    adjoint_sums_t a = {in, kernel, dz, grad_in, grad_kernel, grad_bias, 0};
    adjoint(p, &a);
    free(dz);
}

void tconv_reference_backward_abs(const tconv_canonical_t *p, const double *in,
                                  const double *kernel, const double *grad_z_abs,
                                  double *grad_in_abs, double *grad_kernel_abs,
                                  double *grad_bias_abs) {
    adjoint_sums_t a = {in, kernel, grad_z_abs, grad_in_abs, grad_kernel_abs, grad_bias_abs, 1};
    adjoint(p, &a);
}
