/* SPDX-License-Identifier: Apache-2.0 */
/* tconv_problem_init / resolve / get_shapes / get_flops and the activation
 * name helpers. Expected lengths and crops are computed here from the
 * framework formulas (guide: semantics.md), written independently of the
 * core, and anchored by a few literal values. Every validation rule is hit
 * with one bad argument at a time; the message must name the argument. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

typedef long long ll;

/* Python-style floor division (ONNX's pads use it for negative totals). */
static int64_t floor_div2(int64_t a) {
    return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

/* Expected (length, begin crop) of one axis, straight from the tables. */
typedef struct axis_expect {
    int64_t length, crop;
} axis_expect_t;

static axis_expect_t keras_axis(int same, int has_op, int64_t n, int64_t k, int64_t s, int64_t d,
                                int64_t op) {
    int64_t ek = (k - 1) * d + 1, full = (n - 1) * s + ek;
    axis_expect_t e;
    if (!same) {
        e.length = has_op ? full + op : n * s + (ek > s ? ek - s : 0);
        e.crop = 0;
    } else {
        e.length = has_op ? full - 2 * (ek / 2) + op : n * s;
        e.crop = (full > e.length ? full - e.length : 0) / 2;
    }
    return e;
}

static axis_expect_t torch_axis(int64_t n, int64_t k, int64_t s, int64_t d, int64_t pad,
                                int64_t op) {
    axis_expect_t e = {(n - 1) * s - 2 * pad + d * (k - 1) + op + 1, pad};
    return e;
}

/* ONNX with output_shape (or auto_pad's n*s): pads from the total. */
static axis_expect_t onnx_shape_axis(tconv_padding_t mode, int64_t n, int64_t k, int64_t s,
                                     int64_t d, int64_t op, int64_t length) {
    int64_t total = s * (n - 1) + op + ((k - 1) * d + 1) - length;
    axis_expect_t e = {length, mode == tconv_padding_same_upper ? floor_div2(total)
                                                                : total - floor_div2(total)};
    return e;
}

/* A rank-1 problem with one axis set. */
static tconv_problem_t axis_problem(tconv_padding_t padding, int64_t n, int64_t k, int64_t s,
                                    int64_t d) {
    tconv_problem_t p;
    assert_int_equal(tconv_problem_init(&p, 1), tconv_success);
    p.padding = padding;
    p.input_size[0] = n;
    p.kernel_size[0] = k;
    p.strides[0] = s;
    p.dilation[0] = d;
    return p;
}

/* Resolves @p p and checks the last canonical axis against @p e. */
static void check_axis(const tconv_problem_t *p, axis_expect_t e) {
    tconv_canonical_t c;
    char desc[1024];
    tc_format_problem(p, desc, sizeof desc);
    tconv_status_t st = tconv_problem_resolve(p, &c);
    if (st != tconv_success)
        fail_msg("resolve failed (%s: %s) for %s", tconv_status_name(st), tconv_get_last_error(),
                 desc);
    if (c.output_size[2] != e.length || c.crop_begin[2] != e.crop)
        fail_msg("got length %lld crop %lld, want length %lld crop %lld for %s",
                 (ll)c.output_size[2], (ll)c.crop_begin[2], (ll)e.length, (ll)e.crop, desc);
    /* Rank 1 runs as 3-D with unit leading axes. */
    for (int a = 0; a < 2; a++) {
        if (c.input_size[a] != 1 || c.kernel_size[a] != 1 || c.strides[a] != 1 ||
            c.dilation[a] != 1 || c.crop_begin[a] != 0 || c.output_size[a] != 1)
            fail_msg("canonical axis %d is not a unit axis for %s", a, desc);
    }
    int64_t out[TCONV_MAX_DIMS];
    int ndims = 0;
    assert_int_equal(tconv_problem_get_shapes(p, NULL, NULL, out, &ndims), tconv_success);
    assert_int_equal(ndims, 3);
    assert_int_equal(out[1], e.length); /* (N, W, C) */
}

static void test_literal_anchors(void **state) {
    (void)state;
    /* Values known from Keras / PyTorch documentation and by hand. */
    tconv_problem_t p = axis_problem(tconv_padding_valid, 4, 3, 2, 1);
    check_axis(&p, (axis_expect_t){9, 0}); /* 4*2 + max(3-2, 0) */
    p = axis_problem(tconv_padding_valid, 4, 1, 3, 1);
    check_axis(&p, (axis_expect_t){12, 0}); /* k < s: n*s, not (n-1)*s + k = 10 */
    p = axis_problem(tconv_padding_same, 4, 3, 2, 1);
    check_axis(&p, (axis_expect_t){8, 0}); /* full 9, crop (9-8)/2 = 0 */
    p = axis_problem(tconv_padding_same, 4, 5, 2, 1);
    check_axis(&p, (axis_expect_t){8, 1}); /* full 11, crop 3/2 = 1 (odd one at the end) */
    p = axis_problem(tconv_padding_same, 4, 3, 2, 1);
    p.has_output_padding = 1;
    p.output_padding[0] = 1;
    check_axis(&p, (axis_expect_t){8, 0}); /* 9 - 2*1 + 1 = 8; crop (9-8)/2 = 0 */
    p = axis_problem(tconv_padding_explicit, 5, 4, 2, 1);
    p.pads_begin[0] = p.pads_end[0] = 1;
    check_axis(&p, (axis_expect_t){10, 1}); /* PyTorch: 4*2 - 2 + 3 + 1 = 10 */
    p = axis_problem(tconv_padding_same_upper, 3, 3, 2, 1);
    check_axis(&p, (axis_expect_t){6, 0}); /* total = 4+3-6 = 1: upper 0, lower 1 */
    p.padding = tconv_padding_same_lower;
    check_axis(&p, (axis_expect_t){6, 1});
}

static void test_keras_table(void **state) {
    (void)state;
    int checked = 0;
    for (int same = 0; same <= 1; same++)
        for (int64_t n = 1; n <= 5; n += 2)
            for (int64_t k = 1; k <= 5; k++)
                for (int64_t s = 1; s <= 3; s++)
                    for (int64_t d = 1; d <= 3; d++) {
                        if (s > 1 && d > 1)
                            continue;                         /* a Keras error, tested below */
                        for (int64_t op = -1; op < s; op++) { /* -1: None */
                            tconv_problem_t p = axis_problem(
                                same ? tconv_padding_same : tconv_padding_valid, n, k, s, d);
                            p.has_output_padding = op >= 0;
                            p.output_padding[0] = op >= 0 ? op : 0;
                            axis_expect_t e = keras_axis(same, op >= 0, n, k, s, d, op);
                            if (e.length < 1)
                                continue; /* checked in test_keras_errors */
                            check_axis(&p, e);
                            checked++;
                        }
                    }
    print_message("keras table: %d (padding, output_padding, n, k, s, d) rows\n", checked);
    assert_true(checked > 300);
}

static void test_torch_formula(void **state) {
    (void)state;
    int checked = 0;
    for (int64_t n = 1; n <= 4; n++)
        for (int64_t k = 1; k <= 4; k++)
            for (int64_t s = 1; s <= 3; s++)
                for (int64_t d = 1; d <= 3; d++) /* PyTorch allows stride with dilation */
                    for (int64_t pad = 0; pad <= 2; pad++)
                        for (int64_t op = 0; op < (s > d ? s : d); op++) {
                            axis_expect_t e = torch_axis(n, k, s, d, pad, op);
                            if (e.length < 1)
                                continue;
                            tconv_problem_t p = axis_problem(tconv_padding_explicit, n, k, s, d);
                            p.pads_begin[0] = p.pads_end[0] = pad;
                            p.output_padding[0] = op;
                            p.has_output_padding = 1;
                            check_axis(&p, e);
                            checked++;
                        }
    assert_true(checked > 500);
}

static void test_onnx_explicit_pads(void **state) {
    (void)state;
    for (int64_t pb = 0; pb <= 3; pb++)
        for (int64_t pe = 0; pe <= 3; pe++) {
            tconv_problem_t p = axis_problem(tconv_padding_explicit, 3, 4, 2, 1);
            p.pads_begin[0] = pb;
            p.pads_end[0] = pe;
            p.output_padding[0] = 1;
            p.has_output_padding = 1;
            axis_expect_t e = {2 * 2 + 4 - pb - pe + 1, pb};
            check_axis(&p, e);
        }
}

static void test_onnx_auto_pad_and_output_shape(void **state) {
    (void)state;
    const tconv_padding_t modes[] = {tconv_padding_same_upper, tconv_padding_same_lower,
                                     tconv_padding_explicit};
    int checked = 0;
    for (int m = 0; m < 3; m++)
        for (int64_t n = 1; n <= 4; n++)
            for (int64_t k = 1; k <= 4; k++)
                for (int64_t s = 1; s <= 3; s++)
                    for (int64_t d = 1; d <= 2; d++)
                        for (int64_t op = 0; op < s; op++) {
                            tconv_problem_t p = axis_problem(modes[m], n, k, s, d);
                            p.output_padding[0] = op;
                            p.has_output_padding = 1;
                            if (modes[m] != tconv_padding_explicit) { /* auto_pad: n*s */
                                check_axis(&p, onnx_shape_axis(modes[m], n, k, s, d, op, n * s));
                                checked++;
                            }
                            /* output_shape shorter and longer than the full span. */
                            int64_t full = (n - 1) * s + (k - 1) * d + 1;
                            for (int64_t L = full > 3 ? full - 3 : 1; L <= full + 4; L++) {
                                p.output_shape[0] = L;
                                check_axis(&p, onnx_shape_axis(modes[m], n, k, s, d, op, L));
                                checked++;
                            }
                            p.output_shape[0] = 0;
                        }
    assert_true(checked > 1000);
}

static void test_negative_total_gives_negative_crop(void **state) {
    (void)state;
    /* n=2, k=3, s=2, output_shape 10: total = 2 + 3 - 10 = -5.
     * SAME_UPPER: floor(-5/2) = -3; SAME_LOWER and NOTSET: -5 - (-3) = -2. */
    tconv_problem_t p = axis_problem(tconv_padding_same_upper, 2, 3, 2, 1);
    p.output_shape[0] = 10;
    check_axis(&p, (axis_expect_t){10, -3});
    p.padding = tconv_padding_same_lower;
    check_axis(&p, (axis_expect_t){10, -2});
    p.padding = tconv_padding_explicit;
    check_axis(&p, (axis_expect_t){10, -2});
}

static void test_rank_mapping(void **state) {
    (void)state;
    /* Rank 2 (H, W) maps to canonical axes 1, 2; rank 3 keeps axes apart. */
    tconv_problem_t p;
    assert_int_equal(tconv_problem_init(&p, 2), tconv_success);
    p.padding = tconv_padding_explicit;
    const int64_t n[2] = {3, 5}, k[2] = {2, 4}, s[2] = {3, 1}, d[2] = {1, 2}, pad[2] = {0, 1};
    for (int i = 0; i < 2; i++) {
        p.input_size[i] = n[i];
        p.kernel_size[i] = k[i];
        p.strides[i] = s[i];
        p.dilation[i] = d[i];
        p.pads_begin[i] = p.pads_end[i] = pad[i];
    }
    tconv_canonical_t c;
    assert_int_equal(tconv_problem_resolve(&p, &c), tconv_success);
    assert_int_equal(c.spatial_rank, 2);
    assert_int_equal(c.input_size[0], 1);
    assert_int_equal(c.output_size[0], 1);
    assert_int_equal(c.kernel_size[0], 1);
    for (int i = 0; i < 2; i++) {
        axis_expect_t e = torch_axis(n[i], k[i], s[i], d[i], pad[i], 0);
        assert_int_equal(c.input_size[1 + i], n[i]);
        assert_int_equal(c.kernel_size[1 + i], k[i]);
        assert_int_equal(c.strides[1 + i], s[i]);
        assert_int_equal(c.dilation[1 + i], d[i]);
        assert_int_equal(c.output_size[1 + i], e.length);
        assert_int_equal(c.crop_begin[1 + i], e.crop);
    }

    tconv_problem_t q;
    assert_int_equal(tconv_problem_init(&q, 3), tconv_success);
    q.padding = tconv_padding_same;
    const int64_t n3[3] = {2, 3, 4}, k3[3] = {3, 4, 5}, s3[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        q.input_size[i] = n3[i];
        q.kernel_size[i] = k3[i];
        q.strides[i] = s3[i];
    }
    assert_int_equal(tconv_problem_resolve(&q, &c), tconv_success);
    for (int i = 0; i < 3; i++) {
        axis_expect_t e = keras_axis(1, 0, n3[i], k3[i], s3[i], 1, 0);
        assert_int_equal(c.output_size[i], e.length);
        assert_int_equal(c.crop_begin[i], e.crop);
    }
}

static void test_shapes_in_every_layout(void **state) {
    (void)state;
    tconv_problem_t p;
    assert_int_equal(tconv_problem_init(&p, 3), tconv_success);
    p.batch = 2;
    p.in_channels = 6;
    p.out_channels = 9;
    p.groups = 3;
    const int64_t n[3] = {2, 3, 4}, k[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        p.input_size[i] = n[i];
        p.kernel_size[i] = k[i];
        p.strides[i] = 2;
    }
    /* valid, op None: n*s + max(k - s, 0) = 4, 6, 9 */
    int64_t in[5], ker[5], out[5];
    int nd;
    assert_int_equal(tconv_problem_get_shapes(&p, in, ker, out, &nd), tconv_success);
    assert_int_equal(nd, 5);
    const int64_t in_last[5] = {2, 2, 3, 4, 6}, ker_keras[5] = {1, 2, 3, 3, 6},
                  out_last[5] = {2, 4, 6, 9, 9};
    for (int j = 0; j < 5; j++) {
        assert_int_equal(in[j], in_last[j]);
        assert_int_equal(ker[j], ker_keras[j]);
        assert_int_equal(out[j], out_last[j]);
    }
    p.data_format = tconv_channels_first;
    p.kernel_layout = tconv_kernel_torch;
    assert_int_equal(tconv_problem_get_shapes(&p, in, ker, out, NULL), tconv_success);
    const int64_t in_first[5] = {2, 6, 2, 3, 4}, ker_torch[5] = {6, 3, 1, 2, 3},
                  out_first[5] = {2, 9, 4, 6, 9};
    for (int j = 0; j < 5; j++) {
        assert_int_equal(in[j], in_first[j]);
        assert_int_equal(ker[j], ker_torch[j]);
        assert_int_equal(out[j], out_first[j]);
    }
    double flops = 0;
    assert_int_equal(tconv_problem_get_flops(&p, &flops), tconv_success);
    assert_true(flops == 2.0 * 2 * 6 * 3 * (2 * 3 * 4) * (1 * 2 * 3));

    /* Rank 1, channels_last: (N, W, C); kernel (k, Cout/G, Cin). */
    tconv_problem_t q;
    assert_int_equal(tconv_problem_init(&q, 1), tconv_success);
    q.in_channels = 4;
    q.out_channels = 2;
    q.input_size[0] = 7;
    q.kernel_size[0] = 3;
    assert_int_equal(tconv_problem_get_shapes(&q, in, ker, out, &nd), tconv_success);
    assert_int_equal(nd, 3);
    assert_int_equal(in[1], 7);
    assert_int_equal(in[2], 4);
    assert_int_equal(ker[0], 3);
    assert_int_equal(ker[1], 2);
    assert_int_equal(ker[2], 4);
    assert_int_equal(out[1], 9);
    assert_int_equal(out[2], 2);
}

static void test_init_defaults(void **state) {
    (void)state;
    tconv_problem_t p;
    assert_int_equal(tconv_problem_init(&p, 3), tconv_success);
    assert_int_equal(p.struct_size, sizeof p);
    assert_int_equal(p.spatial_rank, 3);
    assert_int_equal(p.dtype, tconv_f32);
    assert_int_equal(p.batch, 1);
    assert_int_equal(p.in_channels, 1);
    assert_int_equal(p.out_channels, 1);
    assert_int_equal(p.groups, 1);
    assert_int_equal(p.padding, tconv_padding_valid);
    assert_int_equal(p.has_output_padding, 0);
    assert_int_equal(p.data_format, tconv_channels_last);
    assert_int_equal(p.kernel_layout, tconv_kernel_keras);
    assert_int_equal(p.use_bias, 0);
    assert_int_equal(p.activation, tconv_activation_linear);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p.kernel_size[i], 1);
        assert_int_equal(p.strides[i], 1);
        assert_int_equal(p.dilation[i], 1);
        assert_int_equal(p.output_shape[i], 0);
    }
    for (int rank = 0; rank <= 4; rank += 4) {
        assert_int_equal(tconv_problem_init(&p, rank), tconv_invalid_arguments);
        assert_true(tc_contains(tconv_get_last_error(), "spatial_rank"));
    }
}

/* A problem that resolves, for the one-bad-argument tests. */
static tconv_problem_t good_problem(void) {
    tconv_problem_t p;
    tconv_problem_init(&p, 3);
    p.batch = 2;
    p.in_channels = 4;
    p.out_channels = 6;
    p.groups = 2;
    for (int i = 0; i < 3; i++) {
        p.input_size[i] = 3;
        p.kernel_size[i] = 3;
        p.strides[i] = 2;
    }
    return p;
}

/* Resolve and get_shapes must both refuse @p p with invalid_arguments and a
 * message containing @p word. */
static void expect_invalid(const tconv_problem_t *p, const char *word, const char *what) {
    tconv_canonical_t c;
    char desc[1024];
    tc_format_problem(p, desc, sizeof desc);
    tconv_status_t st = tconv_problem_resolve(p, &c);
    if (st != tconv_invalid_arguments)
        fail_msg("%s: resolve returned %s, want invalid_arguments (%s)", what,
                 tconv_status_name(st), desc);
    if (!tc_contains(tconv_get_last_error(), word))
        fail_msg("%s: message \"%s\" does not name \"%s\"", what, tconv_get_last_error(), word);
    int64_t out[5];
    assert_int_equal(tconv_problem_get_shapes(p, NULL, NULL, out, NULL), tconv_invalid_arguments);
    double flops;
    assert_int_equal(tconv_problem_get_flops(p, &flops), tconv_invalid_arguments);
}

#define BAD(field_statement, word)                                                                 \
    do {                                                                                           \
        tconv_problem_t p = good_problem();                                                        \
        field_statement;                                                                           \
        expect_invalid(&p, word, #field_statement);                                                \
    } while (0)

static void test_validation_names_the_argument(void **state) {
    (void)state;
    tconv_problem_t ok = good_problem();
    tconv_canonical_t c;
    assert_int_equal(tconv_problem_resolve(&ok, &c), tconv_success);

    BAD(p.struct_size = 0, "struct_size");
    BAD(p.spatial_rank = 0, "spatial_rank");
    BAD(p.spatial_rank = 4, "spatial_rank");
    BAD(p.dtype = (tconv_dtype_t)0, "dtype");
    BAD(p.dtype = (tconv_dtype_t)3, "dtype");
    BAD(p.batch = 0, "batch");
    BAD(p.batch = -1, "batch");
    BAD(p.in_channels = 0, "in_channels");
    BAD(p.out_channels = 0, "out_channels");
    BAD(p.groups = 0, "groups");
    BAD(p.groups = -2, "groups");
    BAD(p.in_channels = 5, "groups"); /* not divisible by 2 */
    BAD(p.out_channels = 7, "groups");
    for (int i = 0; i < 3; i++) {
        BAD(p.input_size[i] = 0, "input_size");
        BAD(p.kernel_size[i] = 0, "kernel_size");
        BAD(p.strides[i] = 0, "strides");
        BAD(p.strides[i] = -1, "strides");
        BAD(p.dilation[i] = 0, "dilation");
    }
    BAD(p.padding = (tconv_padding_t)9, "padding");
    BAD(p.data_format = (tconv_data_format_t)2, "data_format");
    BAD(p.kernel_layout = (tconv_kernel_layout_t)2, "kernel_layout");
    BAD(p.activation = (tconv_activation_t)TCONV_ACTIVATION_COUNT, "activation");
    BAD(p.activation = (tconv_activation_t)-1, "activation");
    BAD((p.activation = tconv_activation_celu, p.activation_alpha = 0), "activation_alpha");
    BAD((p.activation = tconv_activation_squareplus, p.activation_alpha = -1), "activation_alpha");
    BAD((p.activation = tconv_activation_elu, p.activation_alpha = INFINITY), "activation_alpha");

    /* Keras rules. */
    BAD((p.has_output_padding = 1, p.output_padding[1] = 2), "output_padding"); /* == stride */
    BAD((p.has_output_padding = 1, p.output_padding[2] = 5), "output_padding");
    BAD((p.has_output_padding = 1, p.output_padding[0] = -1), "output_padding");
    BAD((p.padding = tconv_padding_same, p.has_output_padding = 1, p.output_padding[0] = 2),
        "output_padding");
    BAD(p.dilation[2] = 2, "dilation"); /* strides 2 with dilation 2 (Keras) */
    BAD((p.strides[0] = p.strides[1] = 1, p.strides[2] = 2, p.dilation[0] = 2), "dilation");
    BAD(p.output_shape[0] = 7, "output_shape"); /* an ONNX option */

    /* General (PyTorch / ONNX) rules. */
    BAD((p.padding = tconv_padding_explicit, p.pads_begin[1] = -1), "pads_begin");
    BAD((p.padding = tconv_padding_explicit, p.pads_end[2] = -1), "pads_end");
    BAD((p.padding = tconv_padding_explicit, p.output_padding[0] = -1), "output_padding");
    /* Crops larger than the whole span: (3-1)*2 + 3 = 7, minus 4 + 4. */
    BAD((p.padding = tconv_padding_explicit, p.pads_begin[0] = 4, p.pads_end[0] = 4), "pads");
    BAD((p.padding = tconv_padding_same_upper, p.output_shape[0] = 5, p.output_shape[1] = -3),
        "output_shape");
    BAD((p.padding = tconv_padding_explicit, p.output_shape[2] = -1), "output_shape");

    /* The same values are fine where the rule does not apply. */
    tconv_problem_t torch = good_problem();
    torch.padding = tconv_padding_explicit;
    torch.dilation[0] = 3;       /* stride with dilation */
    torch.output_padding[0] = 2; /* op < dilation is enough for PyTorch */
    torch.has_output_padding = 1;
    assert_int_equal(tconv_problem_resolve(&torch, &c), tconv_success);
}

static void test_overflow_is_an_argument_error(void **state) {
    (void)state;
    BAD((p.batch = INT64_C(1) << 40, p.in_channels = INT64_C(1) << 30, p.groups = 1), "overflow");
    BAD((p.out_channels = INT64_C(1) << 62, p.groups = 1, p.in_channels = 4), "overflow");
    BAD((p.input_size[0] = INT64_C(1) << 62, p.strides[0] = 4), "overflow");
    BAD((p.kernel_size[1] = INT64_C(1) << 61, p.padding = tconv_padding_explicit,
         p.dilation[1] = 8),
        "overflow");
    BAD((p.input_size[0] = INT64_C(1) << 20, p.input_size[1] = INT64_C(1) << 20,
         p.input_size[2] = INT64_C(1) << 20, p.in_channels = 1 << 12, p.groups = 1),
        "overflow");
    BAD((p.padding = tconv_padding_same_upper, p.input_size[2] = INT64_MAX / 2 + 1), "overflow");
    BAD((p.padding = tconv_padding_explicit, p.pads_begin[0] = INT64_MAX,
         p.pads_end[0] = INT64_MAX),
        "overflow");
}

static void test_activation_names(void **state) {
    (void)state;
    for (int a = 0; a < TCONV_ACTIVATION_COUNT; a++) {
        const char *name = tconv_activation_name((tconv_activation_t)a);
        assert_non_null(name);
        tconv_activation_t back;
        assert_int_equal(tconv_activation_from_name(name, &back), tconv_success);
        assert_int_equal(back, a);
    }
    assert_null(tconv_activation_name((tconv_activation_t)TCONV_ACTIVATION_COUNT));
    tconv_activation_t a;
    assert_int_equal(tconv_activation_from_name("swish", &a), tconv_success);
    assert_int_equal(a, tconv_activation_silu);
    assert_int_equal(tconv_activation_from_name("hard_swish", &a), tconv_success);
    assert_int_equal(a, tconv_activation_hard_silu);
    assert_int_equal(tconv_activation_from_name("ReLU", &a), tconv_success);
    assert_int_equal(a, tconv_activation_relu);
    assert_int_equal(tconv_activation_from_name("frobnicate", &a), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "frobnicate"));
    assert_int_equal(tconv_activation_from_name("softmax", &a), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "softmax"));

    assert_true(tconv_activation_default_alpha(tconv_activation_leaky_relu) == 0.2);
    assert_true(tconv_activation_default_alpha(tconv_activation_elu) == 1.0);
    assert_true(tconv_activation_default_alpha(tconv_activation_celu) == 1.0);
    assert_true(tconv_activation_default_alpha(tconv_activation_hard_shrink) == 0.5);
    assert_true(tconv_activation_default_alpha(tconv_activation_soft_shrink) == 0.5);
    assert_true(tconv_activation_default_alpha(tconv_activation_squareplus) == 4.0);
    assert_true(tconv_activation_default_alpha(tconv_activation_relu) == 0.0);

    /* NaN alpha resolves to the Keras default; a given one is kept. */
    tconv_problem_t p = good_problem();
    tconv_canonical_t c;
    p.activation = tconv_activation_leaky_relu;
    assert_int_equal(tconv_problem_resolve(&p, &c), tconv_success);
    assert_true(c.activation_alpha == 0.2);
    p.activation_alpha = 0.05;
    assert_int_equal(tconv_problem_resolve(&p, &c), tconv_success);
    assert_true(c.activation_alpha == 0.05);
}

int main(void) {
    tc_clean_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_anchors),
        cmocka_unit_test(test_keras_table),
        cmocka_unit_test(test_torch_formula),
        cmocka_unit_test(test_onnx_explicit_pads),
        cmocka_unit_test(test_onnx_auto_pad_and_output_shape),
        cmocka_unit_test(test_negative_total_gives_negative_crop),
        cmocka_unit_test(test_rank_mapping),
        cmocka_unit_test(test_shapes_in_every_layout),
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_validation_names_the_argument),
        cmocka_unit_test(test_overflow_is_an_argument_error),
        cmocka_unit_test(test_activation_names),
    };
    return cmocka_run_group_tests_name("problem", tests, NULL, NULL);
}
