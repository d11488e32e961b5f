/* SPDX-License-Identifier: Apache-2.0 */
/* Problem defaults, validation and resolution into the canonical form
 * (guide: semantics.md), tensor shapes and flop counts. */
#include "problem.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "checked_math.h"
#include "error.h"

typedef long long ll; /* for printf: int64_t is long on this ABI, ll everywhere */

/* Names of the user's spatial axes for messages, by rank ("D*H*W"). */
static const char *spatial_product_name(int rank) {
    static const char *const names[] = {"", "W", "H*W", "D*H*W"};
    return names[rank];
}

size_t tconv_dtype_size(tconv_dtype_t dtype) {
    return dtype == tconv_f64 ? sizeof(double) : sizeof(float);
}

static size_t canonical_elements(const tconv_canonical_t *c, int64_t channels,
                                 const int64_t sizes[3]) {
    return (size_t)c->batch * (size_t)channels * (size_t)sizes[0] * (size_t)sizes[1] *
           (size_t)sizes[2];
}

size_t tconv_canonical_input_bytes(const tconv_canonical_t *c) {
    return canonical_elements(c, c->in_channels, c->input_size) * tconv_dtype_size(c->dtype);
}

size_t tconv_canonical_output_bytes(const tconv_canonical_t *c) {
    return canonical_elements(c, c->out_channels, c->output_size) * tconv_dtype_size(c->dtype);
}

size_t tconv_canonical_kernel_bytes(const tconv_canonical_t *c) {
    return (size_t)c->in_channels * (size_t)(c->out_channels / c->groups) *
           (size_t)c->kernel_size[0] * (size_t)c->kernel_size[1] * (size_t)c->kernel_size[2] *
           tconv_dtype_size(c->dtype);
}

tconv_status_t tconv_canonical_write(tconv_canonical_t *out, size_t size, const char *what,
                                     const tconv_canonical_t *c) {
    if (size < TCONV_CANONICAL_SIZE_0_1)
        return tconv_set_error(tconv_invalid_arguments,
                               "%s size = %zu: must be >= %zu (sizeof(tconv_canonical_t) of tconv "
                               "0.1)",
                               what, size, (size_t)TCONV_CANONICAL_SIZE_0_1);
    const size_t n = size < sizeof *c ? size : sizeof *c;
    memcpy(out, c, n); /* never past the caller's struct */
    out->struct_size = n;
    return tconv_success;
}

/* The exported names are macros in tconv.h; the parentheses keep them from
 * expanding here, where the 0.1 entry points are defined. */
TCONV_API tconv_status_t tconv_problem_init_sized(tconv_problem_t *problem, size_t struct_size,
                                                  int spatial_rank) {
    TCONV_REQUIRE_NONNULL(problem);
    if (struct_size < TCONV_PROBLEM_SIZE_0_1)
        return tconv_set_error(tconv_invalid_arguments,
                               "struct_size = %zu: must be >= %zu (sizeof(tconv_problem_t) of "
                               "tconv 0.1)",
                               struct_size, (size_t)TCONV_PROBLEM_SIZE_0_1);
    if (spatial_rank < 1 || spatial_rank > TCONV_MAX_SPATIAL)
        return tconv_set_error(tconv_invalid_arguments, "spatial_rank = %d: must be 1, 2 or 3",
                               spatial_rank);
    tconv_problem_t d;
    memset(&d, 0, sizeof d);
    d.spatial_rank = spatial_rank;
    d.dtype = tconv_f32;
    d.batch = 1;
    d.in_channels = 1;
    d.out_channels = 1;
    d.groups = 1;
    for (int i = 0; i < TCONV_MAX_SPATIAL; i++) {
        d.input_size[i] = 1;
        d.kernel_size[i] = 1;
        d.strides[i] = 1;
        d.dilation[i] = 1;
    }
    d.padding = tconv_padding_valid;
    d.has_output_padding = 0;
    d.data_format = tconv_channels_last;
    d.kernel_layout = tconv_kernel_keras;
    d.use_bias = 0;
    d.activation = tconv_activation_linear;
    d.activation_alpha = NAN;
    d.passes = TCONV_PASS_FORWARD;
    /* Exactly the caller's bytes: a newer caller's unknown fields become 0,
     * an older caller's struct is never written past its end. */
    memset(problem, 0, struct_size);
    memcpy(problem, &d, struct_size < sizeof d ? struct_size : sizeof d);
    problem->struct_size = struct_size;
    return tconv_success;
}

TCONV_API tconv_status_t(tconv_problem_init)(tconv_problem_t *problem, int spatial_rank) {
    return tconv_problem_init_sized(problem, TCONV_PROBLEM_SIZE_0_1, spatial_rank);
}

/* The passes a problem asks for; callers built before the field existed
 * (struct_size short of it) get the forward pass. */
static tconv_status_t resolve_passes(const tconv_problem_t *p, uint32_t *passes) {
    const size_t end = offsetof(tconv_problem_t, passes) + sizeof p->passes;
    if (p->struct_size < end) {
        *passes = TCONV_PASS_FORWARD;
        return tconv_success;
    }
    if (p->passes & ~TCONV_PASS_TRAINING)
        return tconv_set_error(
            tconv_invalid_arguments,
            "passes = 0x%x: unknown bits 0x%x (allowed: TCONV_PASS_FORWARD "
            "0x1, TCONV_PASS_BACKWARD_DATA 0x2, TCONV_PASS_BACKWARD_WEIGHTS 0x4)",
            p->passes, p->passes & ~TCONV_PASS_TRAINING);
    *passes = p->passes | TCONV_PASS_FORWARD; /* the forward pass is always available */
    return tconv_success;
}

static tconv_status_t require_positive(const char *name, int64_t value) {
    if (value < 1)
        return tconv_set_error(tconv_invalid_arguments, "%s = %lld: must be >= 1", name, (ll)value);
    return tconv_success;
}

static tconv_status_t require_positive_axis(const char *name, int axis, int64_t value) {
    if (value < 1)
        return tconv_set_error(tconv_invalid_arguments, "%s[%d] = %lld: must be >= 1", name, axis,
                               (ll)value);
    return tconv_success;
}

static tconv_status_t require_non_negative_axis(const char *name, int axis, int64_t value) {
    if (value < 0)
        return tconv_set_error(tconv_invalid_arguments, "%s[%d] = %lld: must be >= 0", name, axis,
                               (ll)value);
    return tconv_success;
}

/* Everything that does not depend on the padding rule. */
static tconv_status_t validate_common(const tconv_problem_t *p) {
    if (p->struct_size < TCONV_PROBLEM_MIN_SIZE)
        return tconv_set_error(tconv_invalid_arguments,
                               "problem->struct_size = %zu: must be >= %zu (fill the problem "
                               "with tconv_problem_init)",
                               p->struct_size, (size_t)TCONV_PROBLEM_MIN_SIZE);
    if (p->spatial_rank < 1 || p->spatial_rank > TCONV_MAX_SPATIAL)
        return tconv_set_error(tconv_invalid_arguments, "spatial_rank = %d: must be 1, 2 or 3",
                               p->spatial_rank);
    if (p->dtype != tconv_f32 && p->dtype != tconv_f64)
        return tconv_set_error(tconv_invalid_arguments,
                               "dtype = %d: must be tconv_f32 (1) or tconv_f64 (2)", (int)p->dtype);
    tconv_status_t st;
    if ((st = require_positive("batch", p->batch)) != tconv_success ||
        (st = require_positive("in_channels", p->in_channels)) != tconv_success ||
        (st = require_positive("out_channels", p->out_channels)) != tconv_success ||
        (st = require_positive("groups", p->groups)) != tconv_success)
        return st;
    if (p->in_channels % p->groups != 0)
        return tconv_set_error(tconv_invalid_arguments,
                               "in_channels = %lld is not divisible by groups = %lld",
                               (ll)p->in_channels, (ll)p->groups);
    if (p->out_channels % p->groups != 0)
        return tconv_set_error(tconv_invalid_arguments,
                               "out_channels = %lld is not divisible by groups = %lld",
                               (ll)p->out_channels, (ll)p->groups);
    for (int i = 0; i < p->spatial_rank; i++) {
        if ((st = require_positive_axis("input_size", i, p->input_size[i])) != tconv_success ||
            (st = require_positive_axis("kernel_size", i, p->kernel_size[i])) != tconv_success ||
            (st = require_positive_axis("strides", i, p->strides[i])) != tconv_success ||
            (st = require_positive_axis("dilation", i, p->dilation[i])) != tconv_success)
            return st;
    }
    if ((unsigned)p->padding > (unsigned)tconv_padding_same_lower)
        return tconv_set_error(tconv_invalid_arguments,
                               "padding = %d: must be one of explicit (0), valid (1), same (2), "
                               "same_upper (3), same_lower (4)",
                               (int)p->padding);
    if (p->data_format != tconv_channels_last && p->data_format != tconv_channels_first)
        return tconv_set_error(tconv_invalid_arguments,
                               "data_format = %d: must be channels_last (0) or channels_first (1)",
                               (int)p->data_format);
    if (p->kernel_layout != tconv_kernel_keras && p->kernel_layout != tconv_kernel_torch)
        return tconv_set_error(tconv_invalid_arguments,
                               "kernel_layout = %d: must be keras (0) or torch (1)",
                               (int)p->kernel_layout);
    return tconv_success;
}

static bool output_shape_given(const tconv_problem_t *p) {
    for (int i = 0; i < p->spatial_rank; i++)
        if (p->output_shape[i] != 0)
            return true;
    return false;
}

/* Keras's own errors (Conv3DTranspose constructor / compute_output_shape). */
static tconv_status_t validate_keras(const tconv_problem_t *p) {
    int64_t max_stride = 1, max_dilation = 1;
    for (int i = 0; i < p->spatial_rank; i++) {
        if (p->output_shape[i] != 0)
            return tconv_set_error(tconv_invalid_arguments,
                                   "output_shape[%d] = %lld: must be 0 with Keras padding "
                                   "'valid'/'same' (output_shape is an ONNX option)",
                                   i, (ll)p->output_shape[i]);
        if (p->strides[i] > max_stride)
            max_stride = p->strides[i];
        if (p->dilation[i] > max_dilation)
            max_dilation = p->dilation[i];
    }
    if (max_stride > 1 && max_dilation > 1)
        return tconv_set_error(tconv_invalid_arguments,
                               "strides > 1 is not supported together with dilation_rate > 1 "
                               "(Keras)");
    if (p->has_output_padding) {
        for (int i = 0; i < p->spatial_rank; i++) {
            tconv_status_t st =
                require_non_negative_axis("output_padding", i, p->output_padding[i]);
            if (st != tconv_success)
                return st;
            if (p->output_padding[i] >= p->strides[i])
                return tconv_set_error(tconv_invalid_arguments,
                                       "output_padding[%d] = %lld: must be < strides[%d] = %lld "
                                       "(Keras)",
                                       i, (ll)p->output_padding[i], i, (ll)p->strides[i]);
        }
    }
    return tconv_success;
}

/* PyTorch / ONNX modes: only what the arithmetic needs. */
static tconv_status_t validate_general(const tconv_problem_t *p) {
    tconv_status_t st;
    for (int i = 0; i < p->spatial_rank; i++) {
        if ((st = require_non_negative_axis("output_padding", i, p->output_padding[i])) !=
            tconv_success)
            return st;
        if (p->padding == tconv_padding_explicit &&
            ((st = require_non_negative_axis("pads_begin", i, p->pads_begin[i])) != tconv_success ||
             (st = require_non_negative_axis("pads_end", i, p->pads_end[i])) != tconv_success))
            return st;
    }
    if (output_shape_given(p)) {
        for (int i = 0; i < p->spatial_rank; i++)
            if (p->output_shape[i] < 1)
                return tconv_set_error(tconv_invalid_arguments,
                                       "output_shape[%d] = %lld: must be >= 1 when output_shape "
                                       "is given (all 0 means not given)",
                                       i, (ll)p->output_shape[i]);
    }
    return tconv_success;
}

static tconv_status_t axis_overflow(int axis) {
    return tconv_set_error(tconv_invalid_arguments,
                           "output length along spatial axis %d overflows int64 (input_size, "
                           "kernel_size, strides, dilation or padding too large)",
                           axis);
}

/* Output length and begin crop of user axis @p i under the problem's padding
 * rule; see the table in semantics.md. */
static tconv_status_t resolve_axis(const tconv_problem_t *p, int i, int64_t *crop_begin,
                                   int64_t *length) {
    const int64_t n = p->input_size[i], k = p->kernel_size[i], s = p->strides[i],
                  d = p->dilation[i];
    const int64_t op = p->output_padding[i];
    int64_t ek, span; /* ek = (k-1)*d + 1; span = (n-1)*s + ek, the full output */
    int64_t n_s;      /* n*s */
    if (!checked_mul(k - 1, d, &ek) || !checked_add(ek, 1, &ek) || !checked_mul(n - 1, s, &span) ||
        !checked_add(span, ek, &span) || !checked_mul(n, s, &n_s))
        return axis_overflow(i);

    int64_t L = 0, crop = 0, total = 0;
    switch (p->padding) {
    case tconv_padding_valid:
        if (p->has_output_padding) {
            if (!checked_add(span, op, &L))
                return axis_overflow(i);
        } else if (!checked_add(n_s, ek > s ? ek - s : 0, &L)) {
            return axis_overflow(i);
        }
        crop = 0;
        break;
    case tconv_padding_same:
        if (p->has_output_padding) {
            if (!checked_sub(span, 2 * (ek / 2), &L) || !checked_add(L, op, &L))
                return axis_overflow(i);
        } else {
            L = n_s;
        }
        crop = span > L ? (span - L) / 2 : 0;
        break;
    case tconv_padding_explicit:
        if (output_shape_given(p)) {
            L = p->output_shape[i];
            if (!checked_add(span, op, &total) || !checked_sub(total, L, &total))
                return axis_overflow(i);
            crop = total - floor_div(total, 2); /* ONNX NOTSET: the odd one at the begin */
        } else {
            if (!checked_sub(span, p->pads_begin[i], &L) || !checked_sub(L, p->pads_end[i], &L) ||
                !checked_add(L, op, &L))
                return axis_overflow(i);
            if (L < 1)
                return tconv_set_error(tconv_invalid_arguments,
                                       "output length along spatial axis %d is (n-1)*s + ek - "
                                       "pads_begin - pads_end + output_padding = %lld: must be >= "
                                       "1",
                                       i, (ll)L);
            crop = p->pads_begin[i];
        }
        break;
    case tconv_padding_same_upper:
    case tconv_padding_same_lower:
        L = output_shape_given(p) ? p->output_shape[i] : n_s;
        if (!checked_add(span, op, &total) || !checked_sub(total, L, &total))
            return axis_overflow(i);
        crop = p->padding == tconv_padding_same_upper ? floor_div(total, 2)
                                                      : total - floor_div(total, 2);
        break;
    }
    if (L < 1)
        return tconv_set_error(tconv_invalid_arguments,
                               "output length along spatial axis %d is %lld: must be >= 1", i,
                               (ll)L);
    *crop_begin = crop;
    *length = L;
    return tconv_success;
}

/* batch * channels * prod(sizes) * element size, checked for int64 and size_t. */
static bool tensor_bytes_fit(int64_t batch, int64_t channels, const int64_t sizes[3],
                             size_t element_size) {
    int64_t v = batch;
    if (!checked_mul(v, channels, &v))
        return false;
    for (int a = 0; a < 3; a++)
        if (!checked_mul(v, sizes[a], &v))
            return false;
    if (!checked_mul(v, (int64_t)element_size, &v))
        return false;
    return (uint64_t)v <= (uint64_t)SIZE_MAX;
}

static tconv_status_t check_tensor_sizes(const tconv_canonical_t *c) {
    const size_t es = tconv_dtype_size(c->dtype);
    const char *sp = spatial_product_name(c->spatial_rank);
    if (!tensor_bytes_fit(c->batch, c->in_channels, c->input_size, es))
        return tconv_set_error(tconv_invalid_arguments,
                               "input size N*Cin*%s overflows (int64 bytes of %zu-byte elements)",
                               sp, es);
    if (!tensor_bytes_fit(c->in_channels, c->out_channels / c->groups, c->kernel_size, es))
        return tconv_set_error(tconv_invalid_arguments,
                               "kernel size Cin*(Cout/groups)*k... overflows (int64 bytes of "
                               "%zu-byte elements)",
                               es);
    if (!tensor_bytes_fit(c->batch, c->out_channels, c->output_size, es))
        return tconv_set_error(tconv_invalid_arguments,
                               "output size N*Cout*%s overflows (int64 bytes of %zu-byte elements)",
                               sp, es);
    return tconv_success;
}

TCONV_API tconv_status_t tconv_problem_resolve_sized(const tconv_problem_t *problem,
                                                     tconv_canonical_t *resolved,
                                                     size_t resolved_size) {
    TCONV_REQUIRE_NONNULL(problem);
    TCONV_REQUIRE_NONNULL(resolved);
    const tconv_problem_t *p = problem;
    tconv_status_t st = validate_common(p);
    if (st != tconv_success)
        return st;
    const bool keras = p->padding == tconv_padding_valid || p->padding == tconv_padding_same;
    st = keras ? validate_keras(p) : validate_general(p);
    if (st != tconv_success)
        return st;

    tconv_canonical_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.spatial_rank = p->spatial_rank;
    c.dtype = p->dtype;
    c.batch = p->batch;
    c.in_channels = p->in_channels;
    c.out_channels = p->out_channels;
    c.groups = p->groups;
    for (int a = 0; a < 3; a++) { /* unit leading axes for lower ranks */
        c.input_size[a] = c.kernel_size[a] = c.strides[a] = c.dilation[a] = c.output_size[a] = 1;
        c.crop_begin[a] = 0;
    }
    const int first = 3 - p->spatial_rank; /* user axis i is canonical axis first + i */
    for (int i = 0; i < p->spatial_rank; i++) {
        const int a = first + i;
        st = resolve_axis(p, i, &c.crop_begin[a], &c.output_size[a]);
        if (st != tconv_success)
            return st;
        c.input_size[a] = p->input_size[i];
        c.kernel_size[a] = p->kernel_size[i];
        c.strides[a] = p->strides[i];
        c.dilation[a] = p->dilation[i];
    }
    c.data_format = p->data_format;
    c.kernel_layout = p->kernel_layout;
    c.use_bias = p->use_bias ? 1 : 0;
    c.activation = p->activation;
    st = tconv_activation_validate(p->activation, p->activation_alpha, &c.activation_alpha);
    if (st != tconv_success)
        return st;
    st = resolve_passes(p, &c.passes);
    if (st != tconv_success)
        return st;
    st = check_tensor_sizes(&c);
    if (st != tconv_success)
        return st;
    return tconv_canonical_write(resolved, resolved_size, "resolved", &c);
}

TCONV_API tconv_status_t(tconv_problem_resolve)(const tconv_problem_t *problem,
                                                tconv_canonical_t *resolved) {
    return tconv_problem_resolve_sized(problem, resolved, TCONV_CANONICAL_SIZE_0_1);
}

/* Writes (N, C, spatial...) or (N, spatial..., C) of the user's rank. */
static void data_dims(const tconv_problem_t *p, int64_t channels, const int64_t *spatial,
                      int64_t dims[TCONV_MAX_DIMS]) {
    const int r = p->spatial_rank;
    for (int j = 0; j < TCONV_MAX_DIMS; j++)
        dims[j] = 1;
    dims[0] = p->batch;
    const int sp0 = p->data_format == tconv_channels_first ? 2 : 1;
    dims[p->data_format == tconv_channels_first ? 1 : 1 + r] = channels;
    for (int i = 0; i < r; i++)
        dims[sp0 + i] = spatial[i];
}

static void kernel_dims_of(const tconv_problem_t *p, int64_t dims[TCONV_MAX_DIMS]) {
    const int r = p->spatial_rank;
    const int64_t out_per_group = p->out_channels / p->groups;
    for (int j = 0; j < TCONV_MAX_DIMS; j++)
        dims[j] = 1;
    if (p->kernel_layout == tconv_kernel_torch) { /* (Cin, Cout/G, k...) */
        dims[0] = p->in_channels;
        dims[1] = out_per_group;
        for (int i = 0; i < r; i++)
            dims[2 + i] = p->kernel_size[i];
    } else { /* (k..., Cout/G, Cin) */
        for (int i = 0; i < r; i++)
            dims[i] = p->kernel_size[i];
        dims[r] = out_per_group;
        dims[r + 1] = p->in_channels;
    }
}

TCONV_API tconv_status_t tconv_problem_get_shapes(const tconv_problem_t *problem,
                                                  int64_t input_dims[TCONV_MAX_DIMS],
                                                  int64_t kernel_dims[TCONV_MAX_DIMS],
                                                  int64_t output_dims[TCONV_MAX_DIMS], int *ndims) {
    tconv_canonical_t c;
    tconv_status_t st = tconv_problem_resolve(problem, &c);
    if (st != tconv_success)
        return st;
    const int first = 3 - problem->spatial_rank;
    if (input_dims != NULL)
        data_dims(problem, problem->in_channels, problem->input_size, input_dims);
    if (kernel_dims != NULL)
        kernel_dims_of(problem, kernel_dims);
    if (output_dims != NULL)
        data_dims(problem, problem->out_channels, &c.output_size[first], output_dims);
    if (ndims != NULL)
        *ndims = 2 + problem->spatial_rank;
    return tconv_success;
}

TCONV_API tconv_status_t tconv_problem_get_flops(const tconv_problem_t *problem, double *flops) {
    TCONV_REQUIRE_NONNULL(problem);
    TCONV_REQUIRE_NONNULL(flops);
    tconv_canonical_t c;
    tconv_status_t st = tconv_problem_resolve(problem, &c);
    if (st != tconv_success)
        return st;
    double f = 2.0 * (double)c.batch * (double)c.in_channels * (double)(c.out_channels / c.groups);
    for (int a = 0; a < 3; a++)
        f *= (double)c.input_size[a] * (double)c.kernel_size[a];
    *flops = f;
    return tconv_success;
}
