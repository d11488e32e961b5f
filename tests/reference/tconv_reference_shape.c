/* SPDX-License-Identifier: Apache-2.0 */
/* The canonical form of a user's problem, written again from the
 * frameworks' documented rules (docs/semantics.md, the shared guide's
 * semantics.md) and nothing of the library: each framework's own formula
 * for the output length and the begin crop of one axis, in that
 * framework's terms. The tests compute their reference from it, so a bug
 * in tconv_problem_resolve shows as a wrong result or shape instead of
 * being copied into the reference. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tconv_reference.h"

/* Python's a // b (rounds towards minus infinity), as the ONNX spec's
 * formulas are evaluated; b > 0. */
static int64_t python_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* One axis of a problem, in the frameworks' words. */
typedef struct axis_args {
    int64_t input_length, kernel_size, stride, dilation;
    int64_t output_padding; /* 0 when not given */
    int has_output_padding; /* Keras: output_padding is not None */
    int64_t pads_begin, pads_end, output_shape;
} axis_args_t;

/* What the axis resolves to. */
typedef struct axis_result {
    int64_t length, crop_begin;
} axis_result_t;

/* Keras 3, keras/src/utils/conv_utils.py deconv_output_length: the
 * dilated kernel is k + (k-1)(d-1); without output_padding, "valid" gives
 * n*s + max(k_dilated - s, 0) and "same" n*s; with it, (n-1)*s + k_dilated
 * - 2*pad + output_padding, pad = k_dilated // 2 for "same", 0 for "valid".
 * TensorFlow places the crop as the forward convolution's padding:
 * padding_before = max(0, (n-1)*s + k_dilated - L) / 2 for SAME
 * (kernel_shape_util.cc), none for VALID. */
static axis_result_t keras_axis(const axis_args_t *a, int same) {
    const int64_t k_dilated = a->kernel_size + (a->kernel_size - 1) * (a->dilation - 1);
    axis_result_t r = {0, 0};
    if (!a->has_output_padding) {
        r.length = same ? a->input_length * a->stride
                        : a->input_length * a->stride +
                              (k_dilated - a->stride > 0 ? k_dilated - a->stride : 0);
    } else {
        const int64_t pad = same ? k_dilated / 2 : 0;
        r.length = (a->input_length - 1) * a->stride + k_dilated - 2 * pad + a->output_padding;
    }
    if (same) {
        int64_t needed = (a->input_length - 1) * a->stride + k_dilated - r.length;
        r.crop_begin = (needed > 0 ? needed : 0) / 2;
    }
    return r;
}

/* PyTorch ConvTransposeNd (torch/nn/modules/conv.py) and ONNX explicit
 * pads: L = (n-1)*s - pads_begin - pads_end + d*(k-1) + output_padding + 1
 * (PyTorch's padding p is pads_begin = pads_end = p); the begin crop is
 * pads_begin. */
static axis_result_t explicit_pads_axis(const axis_args_t *a) {
    axis_result_t r;
    r.length = (a->input_length - 1) * a->stride - a->pads_begin - a->pads_end +
               a->dilation * (a->kernel_size - 1) + a->output_padding + 1;
    r.crop_begin = a->pads_begin;
    return r;
}

/* ONNX ConvTranspose (onnx/defs/nn/defs.cc) with output_shape or auto_pad
 * SAME_*: total_padding = stride * (input - 1) + output_padding +
 * ((kernel - 1) * dilation + 1) - output_shape, where auto_pad SAME_*
 * without output_shape means output_shape = input * stride; SAME_UPPER
 * puts total_padding // 2 at the begin, SAME_LOWER and NOTSET the rest,
 * total_padding - total_padding // 2. */
enum onnx_auto_pad { onnx_notset, onnx_same_upper, onnx_same_lower };
static axis_result_t onnx_output_shape_axis(const axis_args_t *a, enum onnx_auto_pad auto_pad) {
    axis_result_t r;
    r.length = a->output_shape != 0 ? a->output_shape : a->input_length * a->stride;
    const int64_t total = a->stride * (a->input_length - 1) + a->output_padding +
                          ((a->kernel_size - 1) * a->dilation + 1) - r.length;
    const int64_t half = python_floor_div(total, 2);
    r.crop_begin = auto_pad == onnx_same_upper ? half : total - half;
    return r;
}

/* Keras 3's defaults for the activations that take a parameter
 * (keras/src/activations/activations.py): leaky_relu negative_slope 0.2,
 * elu and celu alpha 1.0, hard_shrink and soft_shrink threshold 0.5,
 * squareplus b 4. The others ignore it: 0. */
static double keras_default_alpha(tconv_activation_t act) {
    switch (act) {
    case tconv_activation_leaky_relu:
        return 0.2;
    case tconv_activation_elu:
    case tconv_activation_celu:
        return 1.0;
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
        return 0.5;
    case tconv_activation_squareplus:
        return 4.0;
    default:
        return 0.0;
    }
}

int tconv_reference_resolve(const tconv_problem_t *p, tconv_canonical_t *c, char *why,
                            size_t why_size) {
    memset(c, 0, sizeof *c);
    if (p->spatial_rank < 1 || p->spatial_rank > 3) {
        snprintf(why, why_size, "reference: spatial_rank %d is not 1, 2 or 3", p->spatial_rank);
        return -1;
    }
    int output_shape_given = 0;
    for (int i = 0; i < p->spatial_rank; i++)
        output_shape_given |= p->output_shape[i] != 0;
    c->struct_size = sizeof *c;
    c->spatial_rank = p->spatial_rank;
    c->dtype = p->dtype;
    c->batch = p->batch;
    c->in_channels = p->in_channels;
    c->out_channels = p->out_channels;
    c->groups = p->groups;
    const int first = 3 - p->spatial_rank; /* lower ranks: unit leading axes */
    for (int a = 0; a < first; a++) {
        c->input_size[a] = c->kernel_size[a] = c->strides[a] = c->dilation[a] = 1;
        c->output_size[a] = 1;
    }
    for (int i = 0; i < p->spatial_rank; i++) {
        const int keras = p->padding == tconv_padding_valid || p->padding == tconv_padding_same;
        axis_args_t a = {p->input_size[i], p->kernel_size[i], p->strides[i], p->dilation[i],
                         /* Keras without output_padding has none at all. */
                         keras && !p->has_output_padding ? 0 : p->output_padding[i],
                         p->has_output_padding, p->pads_begin[i], p->pads_end[i],
                         p->output_shape[i]};
        axis_result_t r = {0, 0};
        switch (p->padding) {
        case tconv_padding_valid:
        case tconv_padding_same:
            r = keras_axis(&a, p->padding == tconv_padding_same);
            break;
        case tconv_padding_explicit:
            r = output_shape_given ? onnx_output_shape_axis(&a, onnx_notset)
                                   : explicit_pads_axis(&a);
            break;
        case tconv_padding_same_upper:
        case tconv_padding_same_lower:
            r = onnx_output_shape_axis(
                &a, p->padding == tconv_padding_same_upper ? onnx_same_upper : onnx_same_lower);
            break;
        default:
            snprintf(why, why_size, "reference: padding %d is not a tconv_padding_t",
                     (int)p->padding);
            return -1;
        }
        if (r.length < 1) {
            snprintf(why, why_size, "reference: output length along spatial axis %d is %lld", i,
                     (long long)r.length);
            return -1;
        }
        const int axis = first + i;
        c->input_size[axis] = p->input_size[i];
        c->kernel_size[axis] = p->kernel_size[i];
        c->strides[axis] = p->strides[i];
        c->dilation[axis] = p->dilation[i];
        c->crop_begin[axis] = r.crop_begin;
        c->output_size[axis] = r.length;
    }
    c->data_format = p->data_format;
    c->kernel_layout = p->kernel_layout;
    c->use_bias = p->use_bias ? 1 : 0;
    c->activation = p->activation;
    c->activation_alpha =
        isnan(p->activation_alpha) ? keras_default_alpha(p->activation) : p->activation_alpha;
    c->passes = p->struct_size >= offsetof(tconv_problem_t, passes) + sizeof p->passes
                    ? p->passes
                    : TCONV_PASS_FORWARD;
    return 0;
}

/* (N, C, spatial...) or (N, spatial..., C) of the user's rank. */
static void user_dims(const tconv_canonical_t *c, int64_t channels, const int64_t *spatial,
                      int64_t dims[TCONV_MAX_DIMS]) {
    const int rank = c->spatial_rank, first = 3 - rank;
    for (int j = 0; j < TCONV_MAX_DIMS; j++)
        dims[j] = 1;
    dims[0] = c->batch;
    const int channels_first = c->data_format == tconv_channels_first;
    dims[channels_first ? 1 : 1 + rank] = channels;
    for (int i = 0; i < rank; i++)
        dims[(channels_first ? 2 : 1) + i] = spatial[first + i];
}

void tconv_reference_user_shapes(const tconv_canonical_t *c, int64_t input_dims[TCONV_MAX_DIMS],
                                 int64_t kernel_dims[TCONV_MAX_DIMS],
                                 int64_t output_dims[TCONV_MAX_DIMS], int *ndims) {
    const int rank = c->spatial_rank, first = 3 - rank;
    user_dims(c, c->in_channels, c->input_size, input_dims);
    user_dims(c, c->out_channels, c->output_size, output_dims);
    for (int j = 0; j < TCONV_MAX_DIMS; j++)
        kernel_dims[j] = 1;
    const int64_t cout_g = c->out_channels / c->groups;
    if (c->kernel_layout == tconv_kernel_keras) { /* (k..., Cout/G, Cin) */
        for (int i = 0; i < rank; i++)
            kernel_dims[i] = c->kernel_size[first + i];
        kernel_dims[rank] = cout_g;
        kernel_dims[rank + 1] = c->in_channels;
    } else { /* (Cin, Cout/G, k...) */
        kernel_dims[0] = c->in_channels;
        kernel_dims[1] = cout_g;
        for (int i = 0; i < rank; i++)
            kernel_dims[2 + i] = c->kernel_size[first + i];
    }
    *ndims = rank + 2;
}
