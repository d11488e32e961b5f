/* SPDX-License-Identifier: Apache-2.0 */
/* Direct transposed convolution for the example backend (see
 * example_compute.h). For every output element it gathers the (input, tap)
 * pairs that land on it: along each axis, o = i*stride + t*dilation - crop,
 * so for a tap t the input index is i = (o + crop - t*dilation) / stride,
 * valid when the division is exact and 0 <= i < input length. The backward
 * passes walk the same pairs the other way round: from an input point i and
 * a tap t to the output point o they feed. Simple and correct rather than
 * fast: a real vendor backend puts its device here. */
#include "example_compute.h"

#include <math.h>
#include <stdint.h>

/* Element (n, c, z, y, x) of a tensor with C channels and spatial size s. */
static int64_t data_index(tconv_data_format_t fmt, int64_t C, const int64_t s[3], int64_t n,
                          int64_t c, int64_t z, int64_t y, int64_t x) {
    if (fmt == tconv_channels_last)
        return (((n * s[0] + z) * s[1] + y) * s[2] + x) * C + c;
    return (((n * C + c) * s[0] + z) * s[1] + y) * s[2] + x;
}

static int64_t kernel_index(const tconv_canonical_t *p, int64_t ic, int64_t j, int64_t tz,
                            int64_t ty, int64_t tx) {
    const int64_t *k = p->kernel_size, cout_g = p->out_channels / p->groups;
    if (p->kernel_layout == tconv_kernel_keras)
        return (((tz * k[1] + ty) * k[2] + tx) * cout_g + j) * p->in_channels + ic;
    return (((ic * cout_g + j) * k[0] + tz) * k[1] + ty) * k[2] + tx;
}

/* Input index along one axis for output o and tap t, or -1 if none. */
static int64_t source(const tconv_canonical_t *p, int axis, int64_t o, int64_t t) {
    int64_t num = o + p->crop_begin[axis] - t * p->dilation[axis];
    if (num < 0 || num % p->strides[axis] != 0)
        return -1;
    int64_t i = num / p->strides[axis];
    return i < p->input_size[axis] ? i : -1;
}

/* Output index along one axis fed by input i through tap t, or -1 if it
 * falls outside the output (cropped away). */
static int64_t target(const tconv_canonical_t *p, int axis, int64_t i, int64_t t) {
    int64_t o = i * p->strides[axis] + t * p->dilation[axis] - p->crop_begin[axis];
    return o >= 0 && o < p->output_size[axis] ? o : -1;
}

static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double hard_sigmoid(double x) {
    double v = x / 6 + 0.5;
    return v < 0 ? 0 : (v > 1 ? 1 : v);
}

/* The fused activations, from their Keras definitions (tconv_types.h). */
static double activate(tconv_activation_t act, double a, double x) {
    switch (act) {
    case tconv_activation_linear:
        return x;
    case tconv_activation_relu:
        return x > 0 ? x : 0;
    case tconv_activation_relu6:
        return x < 0 ? 0 : (x > 6 ? 6 : x);
    case tconv_activation_leaky_relu:
        return x >= 0 ? x : a * x;
    case tconv_activation_elu:
        return x > 0 ? x : a * expm1(x);
    case tconv_activation_selu:
        return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * expm1(x));
    case tconv_activation_sigmoid:
        return 1 / (1 + exp(-x));
    case tconv_activation_hard_sigmoid:
        return hard_sigmoid(x);
    case tconv_activation_hard_silu:
        return x * hard_sigmoid(x);
    case tconv_activation_tanh:
        return tanh(x);
    case tconv_activation_softplus:
        return softplus(x);
    case tconv_activation_softsign:
        return x / (1 + fabs(x));
    case tconv_activation_silu:
        return x / (1 + exp(-x));
    case tconv_activation_gelu:
        return 0.5 * x * (1 + erf(x * 0.70710678118654752));
    case tconv_activation_exponential:
        return exp(x);
    case tconv_activation_log_sigmoid:
        return -softplus(-x);
    case tconv_activation_mish:
        return x * tanh(softplus(x));
    case tconv_activation_celu:
        return (x > 0 ? x : 0) + fmin(0, a * expm1(x / a));
    case tconv_activation_hard_tanh:
        return x < -1 ? -1 : (x > 1 ? 1 : x);
    case tconv_activation_hard_shrink:
        return fabs(x) > a ? x : 0;
    case tconv_activation_soft_shrink:
        return x > a ? x - a : (x < -a ? x + a : 0);
    case tconv_activation_tanh_shrink:
        return x - tanh(x);
    case tconv_activation_sparse_plus:
        return x <= -1 ? 0 : (x < 1 ? 0.25 * (x + 1) * (x + 1) : x);
    case tconv_activation_squareplus:
        return 0.5 * (x + sqrt(x * x + a));
    case tconv_activation_gelu_tanh:
        return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    }
    return x;
}

size_t example_kernel_bytes(const tconv_canonical_t *p) {
    size_t n = (size_t)p->in_channels * (size_t)(p->out_channels / p->groups);
    for (int a = 0; a < 3; a++)
        n *= (size_t)p->kernel_size[a];
    return n * (p->dtype == tconv_f64 ? sizeof(double) : sizeof(float));
}

/* Accumulates in double for both dtypes: exact enough, and one code path. */
#define LOAD(ptr, i) (f64 ? ((const double *)(ptr))[i] : (double)((const float *)(ptr))[i])

/* Stores v into element i of a float or double buffer. */
static void store(void *buffer, int f64, int64_t i, double v) {
    if (f64)
        ((double *)buffer)[i] = v;
    else
        ((float *)buffer)[i] = (float)v;
}

void example_forward(const tconv_canonical_t *p, const void *kernel, const void *bias,
                     const void *input, void *output) {
    const int f64 = p->dtype == tconv_f64;
    const int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    const int64_t *os = p->output_size, *ks = p->kernel_size;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t oc = 0; oc < p->out_channels; oc++) {
            const int64_t g = oc / cout_g, j = oc % cout_g;
            for (int64_t z = 0; z < os[0]; z++)
                for (int64_t y = 0; y < os[1]; y++)
                    for (int64_t x = 0; x < os[2]; x++) {
                        double acc = p->use_bias ? LOAD(bias, oc) : 0.0;
                        for (int64_t tz = 0; tz < ks[0]; tz++) {
                            int64_t iz = source(p, 0, z, tz);
                            if (iz < 0)
                                continue;
                            for (int64_t ty = 0; ty < ks[1]; ty++) {
                                int64_t iy = source(p, 1, y, ty);
                                if (iy < 0)
                                    continue;
                                for (int64_t tx = 0; tx < ks[2]; tx++) {
                                    int64_t ix = source(p, 2, x, tx);
                                    if (ix < 0)
                                        continue;
                                    for (int64_t c = 0; c < cin_g; c++) {
                                        int64_t ic = g * cin_g + c;
                                        acc += LOAD(input,
                                                    data_index(p->data_format, p->in_channels,
                                                               p->input_size, n, ic, iz, iy, ix)) *
                                               LOAD(kernel, kernel_index(p, ic, j, tz, ty, tx));
                                    }
                                }
                            }
                        }
                        double v = activate(p->activation, p->activation_alpha, acc);
                        store(output, f64,
                              data_index(p->data_format, p->out_channels, os, n, oc, z, y, x), v);
                    }
        }
}

/* dx[n, ic, i] = sum over taps t and the output channels oc of ic's group of
 * dz[n, oc, o(i, t)] * w[ic, oc, t]: one sum per input element, in a fixed
 * order (taps, then channels), so results never depend on anything else. */
void example_backward_data(const tconv_canonical_t *p, const void *kernel, const void *grad_output,
                           void *grad_input) {
    const int f64 = p->dtype == tconv_f64;
    const int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    const int64_t *is = p->input_size, *ks = p->kernel_size;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t ic = 0; ic < p->in_channels; ic++) {
            const int64_t g = ic / cin_g;
            for (int64_t iz = 0; iz < is[0]; iz++)
                for (int64_t iy = 0; iy < is[1]; iy++)
                    for (int64_t ix = 0; ix < is[2]; ix++) {
                        double acc = 0.0;
                        for (int64_t tz = 0; tz < ks[0]; tz++) {
                            int64_t z = target(p, 0, iz, tz);
                            if (z < 0)
                                continue;
                            for (int64_t ty = 0; ty < ks[1]; ty++) {
                                int64_t y = target(p, 1, iy, ty);
                                if (y < 0)
                                    continue;
                                for (int64_t tx = 0; tx < ks[2]; tx++) {
                                    int64_t x = target(p, 2, ix, tx);
                                    if (x < 0)
                                        continue;
                                    for (int64_t j = 0; j < cout_g; j++) {
                                        int64_t oc = g * cout_g + j;
                                        acc += LOAD(grad_output,
                                                    data_index(p->data_format, p->out_channels,
                                                               p->output_size, n, oc, z, y, x)) *
                                               LOAD(kernel, kernel_index(p, ic, j, tz, ty, tx));
                                    }
                                }
                            }
                        }
                        store(grad_input, f64,
                              data_index(p->data_format, p->in_channels, is, n, ic, iz, iy, ix),
                              acc);
                    }
        }
}

/* dw[ic, oc, t] = sum over n and input points i of x[n, ic, i] * dz[n, oc,
 * o(i, t)]: one sum per kernel element, over the batch and the input points
 * in order. */
static void kernel_gradient(const tconv_canonical_t *p, const void *input, const void *grad_output,
                            void *grad_kernel) {
    const int f64 = p->dtype == tconv_f64;
    const int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    const int64_t *is = p->input_size, *ks = p->kernel_size;
    for (int64_t ic = 0; ic < p->in_channels; ic++) {
        const int64_t g = ic / cin_g;
        for (int64_t j = 0; j < cout_g; j++) {
            const int64_t oc = g * cout_g + j;
            for (int64_t tz = 0; tz < ks[0]; tz++)
                for (int64_t ty = 0; ty < ks[1]; ty++)
                    for (int64_t tx = 0; tx < ks[2]; tx++) {
                        double acc = 0.0;
                        for (int64_t n = 0; n < p->batch; n++)
                            for (int64_t iz = 0; iz < is[0]; iz++) {
                                int64_t z = target(p, 0, iz, tz);
                                if (z < 0)
                                    continue;
                                for (int64_t iy = 0; iy < is[1]; iy++) {
                                    int64_t y = target(p, 1, iy, ty);
                                    if (y < 0)
                                        continue;
                                    for (int64_t ix = 0; ix < is[2]; ix++) {
                                        int64_t x = target(p, 2, ix, tx);
                                        if (x < 0)
                                            continue;
                                        acc +=
                                            LOAD(input, data_index(p->data_format, p->in_channels,
                                                                   is, n, ic, iz, iy, ix)) *
                                            LOAD(grad_output,
                                                 data_index(p->data_format, p->out_channels,
                                                            p->output_size, n, oc, z, y, x));
                                    }
                                }
                            }
                        store(grad_kernel, f64, kernel_index(p, ic, j, tz, ty, tx), acc);
                    }
        }
    }
}

/* db[oc] = sum over n and every output point of dz[n, oc, .], in order. */
static void bias_gradient(const tconv_canonical_t *p, const void *grad_output, void *grad_bias) {
    const int f64 = p->dtype == tconv_f64;
    const int64_t *os = p->output_size;
    for (int64_t oc = 0; oc < p->out_channels; oc++) {
        double acc = 0.0;
        for (int64_t n = 0; n < p->batch; n++)
            for (int64_t z = 0; z < os[0]; z++)
                for (int64_t y = 0; y < os[1]; y++)
                    for (int64_t x = 0; x < os[2]; x++)
                        acc += LOAD(grad_output, data_index(p->data_format, p->out_channels, os, n,
                                                            oc, z, y, x));
        store(grad_bias, f64, oc, acc);
    }
}

void example_backward_weights(const tconv_canonical_t *p, const void *input,
                              const void *grad_output, void *grad_kernel, void *grad_bias) {
    if (grad_kernel != NULL)
        kernel_gradient(p, input, grad_output, grad_kernel);
    if (grad_bias != NULL)
        bias_gradient(p, grad_output, grad_bias);
}
