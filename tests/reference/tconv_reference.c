/* Naive float64 transposed convolution: the tests' ground truth.
 * Written from the definition in tconv_types.h, nothing else:
 *   per axis  o = i*stride + t*dilation - crop_begin,  0 <= o < output_size
 *   y[n, oc, o] = act(bias[oc] + sum over ic in oc's group, i, t of x * w)
 * It scatters every (input, tap) product, the most literal reading. */
#include "tconv_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log(1 + exp(x)) without overflow for large x. */
static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

double tconv_reference_activation(tconv_activation_t act, double alpha, double x) {
    /* SELU constants from Klambauer et al. (as in Keras). */
    const double selu_alpha = 1.6732632423543772848170429916717;
    const double selu_scale = 1.0507009873554804934193349852946;
    const double pi = 3.14159265358979323846264338327950288;
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
        return x > 0 ? x : alpha * (exp(x) - 1);
    case tconv_activation_selu:
        return selu_scale * (x > 0 ? x : selu_alpha * (exp(x) - 1));
    case tconv_activation_sigmoid:
        return 1 / (1 + exp(-x));
    case tconv_activation_hard_sigmoid: {
        double v = x / 6 + 0.5;
        return v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    case tconv_activation_hard_silu: {
        double v = x / 6 + 0.5;
        return x * (v < 0 ? 0 : (v > 1 ? 1 : v));
    }
    case tconv_activation_tanh:
        return tanh(x);
    case tconv_activation_softplus:
        return softplus(x);
    case tconv_activation_softsign:
        return x / (1 + fabs(x));
    case tconv_activation_silu:
        return x / (1 + exp(-x));
    case tconv_activation_gelu:
        return x / 2 * (1 + erf(x / sqrt(2.0)));
    case tconv_activation_exponential:
        return exp(x);
    case tconv_activation_log_sigmoid:
        return -softplus(-x);
    case tconv_activation_mish:
        return x * tanh(softplus(x));
    case tconv_activation_celu: {
        double neg = alpha * (exp(x / alpha) - 1);
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
    case tconv_activation_squareplus:
        return (x + sqrt(x * x + alpha)) / 2;
    case tconv_activation_gelu_tanh:
        return 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x * x * x)));
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

/* Accumulates bias + sum of x*w into out (when not NULL) and
 * |bias| + sum |x*w| into out_abs (when not NULL). No activation. */
static void accumulate(const tconv_canonical_t *p, const double *in, const double *kernel,
                       const double *bias, double *out, double *out_abs) {
    const int64_t *is = p->input_size, *ks = p->kernel_size, *os = p->output_size;
    const int64_t *st = p->strides, *dl = p->dilation, *cb = p->crop_begin;
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;

    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t oc = 0; oc < p->out_channels; oc++)
            for (int64_t z = 0; z < os[0]; z++)
                for (int64_t y = 0; y < os[1]; y++)
                    for (int64_t x = 0; x < os[2]; x++) {
                        int64_t o =
                            data_offset(p->data_format, p->out_channels, os, n, oc, z, y, x);
                        double b = p->use_bias ? bias[oc] : 0.0;
                        if (out)
                            out[o] = b;
                        if (out_abs)
                            out_abs[o] = fabs(b);
                    }

    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t ic = 0; ic < p->in_channels; ic++) {
            int64_t g = ic / cin_g;
            for (int64_t iz = 0; iz < is[0]; iz++)
                for (int64_t iy = 0; iy < is[1]; iy++)
                    for (int64_t ix = 0; ix < is[2]; ix++) {
                        double xv =
                            in[data_offset(p->data_format, p->in_channels, is, n, ic, iz, iy, ix)];
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
                                        double term =
                                            xv * kernel[kernel_offset(p, ic, j, tz, ty, tx)];
                                        int64_t o = data_offset(p->data_format, p->out_channels, os,
                                                                n, oc, oz, oy, ox);
                                        if (out)
                                            out[o] += term;
                                        if (out_abs)
                                            out_abs[o] += fabs(term);
                                    }
                                }
                            }
                        }
                    }
        }
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
