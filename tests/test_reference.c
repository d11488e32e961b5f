/* SPDX-License-Identifier: Apache-2.0 */
/* Checks the float64 reference itself (tests/reference) against hand-computed
 * results, so the ground truth the other suites trust is trustworthy:
 * scatter positions, stride, dilation, positive and negative crops, groups,
 * bias, both kernel layouts and data formats, and every activation at known
 * points. The backward reference: 1-D cases computed on paper, every
 * activation's derivative at known points and kinks, and its gradients
 * against central differences of the forward reference on random problems.
 * The framework rules (tconv_reference_resolve) on the examples
 * docs/semantics.md works by hand. Depends on nothing but the reference, tconv_types.h and the
 * tests' seeded random generator. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reference/tconv_reference.h"
#include "test_support.h"

/* A 1-D (W only) problem with one channel in and out. */
static tconv_canonical_t one_d(int64_t n, int64_t k, int64_t s, int64_t d, int64_t crop,
                               int64_t length) {
    tconv_canonical_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.spatial_rank = 1;
    c.dtype = tconv_f64;
    c.batch = c.in_channels = c.out_channels = c.groups = 1;
    for (int a = 0; a < 3; a++) {
        c.input_size[a] = c.kernel_size[a] = c.strides[a] = c.dilation[a] = c.output_size[a] = 1;
    }
    c.input_size[2] = n;
    c.kernel_size[2] = k;
    c.strides[2] = s;
    c.dilation[2] = d;
    c.crop_begin[2] = crop;
    c.output_size[2] = length;
    c.activation = tconv_activation_linear;
    return c;
}

static void assert_values(const double *got, const double *want, int count) {
    for (int i = 0; i < count; i++) {
        if (fabs(got[i] - want[i]) > 1e-12)
            fail_msg("element %d: got %.17g, want %.17g", i, got[i], want[i]);
    }
}

static void test_stride_scatter(void **state) {
    (void)state;
    /* x = [1, 2], w = [1, 1, 1], stride 2: taps of x0 at 0..2, of x1 at 2..4. */
    tconv_canonical_t c = one_d(2, 3, 2, 1, 0, 5);
    const double x[] = {1, 2}, w[] = {1, 1, 1}, want[] = {1, 1, 3, 2, 2};
    double y[5];
    tconv_reference_forward(&c, x, w, NULL, y);
    assert_values(y, want, 5);
}

static void test_kernel_is_not_flipped(void **state) {
    (void)state;
    /* x = [1], w = [1, 2, 3]: y = w (a flipped kernel would give [3, 2, 1]). */
    tconv_canonical_t c = one_d(1, 3, 1, 1, 0, 3);
    const double x[] = {1}, w[] = {1, 2, 3}, want[] = {1, 2, 3};
    double y[3];
    tconv_reference_forward(&c, x, w, NULL, y);
    assert_values(y, want, 3);
}

static void test_dilation(void **state) {
    (void)state;
    /* o = i + 2t: x0*w0 -> 0, x1*w0 -> 1, x0*w1 -> 2, x1*w1 -> 3. */
    tconv_canonical_t c = one_d(2, 2, 1, 2, 0, 4);
    const double x[] = {1, 2}, w[] = {1, 10}, want[] = {1, 2, 10, 20};
    double y[4];
    tconv_reference_forward(&c, x, w, NULL, y);
    assert_values(y, want, 4);
}

static void test_positive_and_negative_crop(void **state) {
    (void)state;
    const double x[] = {1, 2}, w[] = {1, 1, 1};
    double y[6];
    tconv_canonical_t cropped = one_d(2, 3, 2, 1, 1, 3);
    const double want_cropped[] = {1, 3, 2};
    tconv_reference_forward(&cropped, x, w, NULL, y);
    assert_values(y, want_cropped, 3);
    /* A negative crop shifts the result right, leaving zeros in front. */
    tconv_canonical_t padded = one_d(2, 3, 2, 1, -1, 6);
    const double want_padded[] = {0, 1, 1, 3, 2, 2};
    tconv_reference_forward(&padded, x, w, NULL, y);
    assert_values(y, want_padded, 6);
}

static void test_groups_bias_and_abs(void **state) {
    (void)state;
    /* Cin = Cout = 2, groups 2, W = 1, kernel 1, channels_last:
     * y[oc] = b[oc] + x[oc] * w[oc]. Keras kernel (1,1,1, Cout/G=1, Cin=2). */
    tconv_canonical_t c = one_d(1, 1, 1, 1, 0, 1);
    c.in_channels = c.out_channels = c.groups = 2;
    c.use_bias = 1;
    const double x[] = {3, -4}, w[] = {2, 5}, b[] = {0.5, -1};
    const double want[] = {6.5, -21}, want_abs[] = {6.5, 21};
    double y[2], a[2];
    tconv_reference_forward(&c, x, w, b, y);
    assert_values(y, want, 2);
    tconv_reference_forward_abs(&c, x, w, b, a);
    assert_values(a, want_abs, 2);
}

static void test_group_channel_mapping(void **state) {
    (void)state;
    /* Cin = 4, Cout = 2, groups 2: output 0 sums inputs 0,1; output 1 inputs 2,3.
     * Torch kernel (Cin, Cout/G = 1, 1, 1, 1) = w[ic]. */
    tconv_canonical_t c = one_d(1, 1, 1, 1, 0, 1);
    c.in_channels = 4;
    c.out_channels = 2;
    c.groups = 2;
    c.kernel_layout = tconv_kernel_torch;
    c.data_format = tconv_channels_first;
    const double x[] = {1, 2, 3, 4}, w[] = {1, 10, 100, 1000}, want[] = {21, 4300};
    double y[2];
    tconv_reference_forward(&c, x, w, NULL, y);
    assert_values(y, want, 2);
}

/* 3-D problem with Cin = 2, Cout = 3 used by the layout equivalence tests. */
static tconv_canonical_t three_d(void) {
    tconv_canonical_t c = one_d(2, 2, 2, 1, 1, 3);
    c.spatial_rank = 3;
    c.batch = 2;
    c.in_channels = 2;
    c.out_channels = 3;
    const int64_t n[3] = {2, 3, 2}, k[3] = {2, 3, 1}, s[3] = {1, 2, 3}, o[3] = {3, 6, 4};
    for (int a = 0; a < 3; a++) {
        c.input_size[a] = n[a];
        c.kernel_size[a] = k[a];
        c.strides[a] = s[a];
        c.crop_begin[a] = a == 1 ? 1 : 0;
        c.output_size[a] = o[a];
    }
    return c;
}

enum { in3 = 2 * 2 * 2 * 3 * 2, k3 = 2 * 3 * 2 * 3 * 1, out3 = 2 * 3 * 3 * 6 * 4 };

static void test_layouts_agree(void **state) {
    (void)state;
    tconv_canonical_t c = three_d();
    double x_last[in3], x_first[in3], w_keras[k3], w_torch[k3];
    double y_ref[out3], y_first[out3], y_torch[out3];
    for (int i = 0; i < in3; i++)
        x_last[i] = sin(i * 0.7) + 0.1 * i;
    for (int i = 0; i < k3; i++)
        w_keras[i] = cos(i * 1.3);
    /* Transpose channels_last (N,D,H,W,C) -> channels_first (N,C,D,H,W). */
    const int64_t D = 2, H = 3, W = 2, C = 2;
    for (int64_t n = 0; n < 2; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t sp = 0; sp < D * H * W; sp++)
                x_first[(n * C + ch) * D * H * W + sp] = x_last[(n * D * H * W + sp) * C + ch];
    /* Keras (kd,kh,kw,Cout,Cin) -> torch (Cin,Cout,kd,kh,kw); 6 taps. */
    for (int64_t t = 0; t < 6; t++)
        for (int64_t oc = 0; oc < 3; oc++)
            for (int64_t ic = 0; ic < 2; ic++)
                w_torch[(ic * 3 + oc) * 6 + t] = w_keras[(t * 3 + oc) * 2 + ic];

    tconv_reference_forward(&c, x_last, w_keras, NULL, y_ref);
    c.kernel_layout = tconv_kernel_torch;
    tconv_reference_forward(&c, x_last, w_torch, NULL, y_torch);
    assert_values(y_torch, y_ref, out3);

    c.data_format = tconv_channels_first;
    tconv_reference_forward(&c, x_first, w_torch, NULL, y_first);
    const int64_t OS = 3 * 6 * 4;
    for (int64_t n = 0; n < 2; n++)
        for (int64_t oc = 0; oc < 3; oc++)
            for (int64_t sp = 0; sp < OS; sp++) {
                double a = y_first[(n * 3 + oc) * OS + sp], b = y_ref[(n * OS + sp) * 3 + oc];
                if (fabs(a - b) > 1e-12)
                    fail_msg("n=%lld oc=%lld sp=%lld: channels_first %.17g vs channels_last %.17g",
                             (long long)n, (long long)oc, (long long)sp, a, b);
            }
}

static void test_activations_at_known_points(void **state) {
    (void)state;
    static const struct {
        tconv_activation_t act;
        double alpha, x, want;
    } cases[] = {
        {tconv_activation_linear, 0, -3.5, -3.5},
        {tconv_activation_relu, 0, -1, 0},
        {tconv_activation_relu, 0, 2, 2},
        {tconv_activation_relu6, 0, 7, 6},
        {tconv_activation_relu6, 0, 3, 3},
        {tconv_activation_leaky_relu, 0.2, -1, -0.2},
        {tconv_activation_leaky_relu, 0.2, 2, 2},
        {tconv_activation_elu, 1, -1, -0.6321205588285577},
        {tconv_activation_elu, 1, 2, 2},
        {tconv_activation_selu, 0, -1, -1.1113307378125625},
        {tconv_activation_selu, 0, 1, 1.0507009873554805},
        {tconv_activation_sigmoid, 0, 0, 0.5},
        {tconv_activation_sigmoid, 0, 1, 0.7310585786300049},
        {tconv_activation_hard_sigmoid, 0, 0, 0.5},
        {tconv_activation_hard_sigmoid, 0, 3, 1},
        {tconv_activation_hard_sigmoid, 0, -4, 0},
        {tconv_activation_hard_sigmoid, 0, 1.5, 0.75},
        {tconv_activation_hard_silu, 0, 3, 3},
        {tconv_activation_hard_silu, 0, 1.5, 1.125},
        {tconv_activation_hard_silu, 0, -3, 0},
        {tconv_activation_tanh, 0, 0.5, 0.46211715726000974},
        {tconv_activation_softplus, 0, 0, 0.6931471805599453},
        {tconv_activation_softplus, 0, 800, 800},
        {tconv_activation_softsign, 0, 1, 0.5},
        {tconv_activation_softsign, 0, -3, -0.75},
        {tconv_activation_silu, 0, 1, 0.7310585786300049},
        {tconv_activation_gelu, 0, 1, 0.8413447460685429},
        {tconv_activation_gelu, 0, 0, 0},
        {tconv_activation_exponential, 0, 1, 2.718281828459045},
        {tconv_activation_log_sigmoid, 0, 0, -0.6931471805599453},
        {tconv_activation_mish, 0, 1, 0.8650983882673103},
        {tconv_activation_celu, 1, -1, -0.6321205588285577},
        {tconv_activation_celu, 2, -2, -1.2642411176571153},
        {tconv_activation_celu, 1, 1.5, 1.5},
        {tconv_activation_hard_tanh, 0, -2, -1},
        {tconv_activation_hard_tanh, 0, 0.3, 0.3},
        {tconv_activation_hard_shrink, 0.5, 0.4, 0},
        {tconv_activation_hard_shrink, 0.5, -0.6, -0.6},
        {tconv_activation_soft_shrink, 0.5, 1, 0.5},
        {tconv_activation_soft_shrink, 0.5, -1, -0.5},
        {tconv_activation_soft_shrink, 0.5, 0.2, 0},
        {tconv_activation_tanh_shrink, 0, 1, 0.2384058440442351},
        {tconv_activation_sparse_plus, 0, 0, 0.25},
        {tconv_activation_sparse_plus, 0, -2, 0},
        {tconv_activation_sparse_plus, 0, 2, 2},
        {tconv_activation_squareplus, 4, 0, 1},
        {tconv_activation_squareplus, 4, 1.5, 2},
        {tconv_activation_gelu_tanh, 0, 1, 0.8411919906082768},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = tconv_reference_activation(cases[i].act, cases[i].alpha, cases[i].x);
        if (fabs(got - cases[i].want) > 1e-15 * fmax(1, fabs(cases[i].want)))
            fail_msg("activation %d alpha %g at %g: got %.17g, want %.17g", (int)cases[i].act,
                     cases[i].alpha, cases[i].x, got, cases[i].want);
    }
}

/* ---- the backward reference --------------------------------------------- */

/* Runs the backward reference on a 1-D problem and checks the three
 * gradients (Cin = Cout = 1, so db has one value). */
static void check_backward(const tconv_canonical_t *c, const double *x, const double *w,
                           const double *b, const double *dy, const double *want_dx,
                           const double *want_dw, double want_db) {
    double dx[8], dw[8], db[1];
    tconv_reference_backward(c, x, w, b, dy, dx, dw, db);
    assert_values(dx, want_dx, (int)c->input_size[2]);
    assert_values(dw, want_dw, (int)c->kernel_size[2]);
    assert_values(db, &want_db, 1);
}

/* A rank-1 problem of the user's for the framework rules: input n, kernel
 * k, stride s, dilation d, under @p padding. */
static tconv_problem_t user_1d(tconv_padding_t padding, int64_t n, int64_t k, int64_t s,
                               int64_t d) {
    tconv_problem_t p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.spatial_rank = 1;
    p.dtype = tconv_f32;
    p.batch = p.in_channels = p.out_channels = p.groups = 1;
    p.input_size[0] = n;
    p.kernel_size[0] = k;
    p.strides[0] = s;
    p.dilation[0] = d;
    p.padding = padding;
    p.activation_alpha = NAN;
    p.passes = TCONV_PASS_FORWARD;
    return p;
}

/* The reference's resolution of @p p must give output length @p length and
 * begin crop @p crop on its one axis (canonical axis 2). */
static void expect_axis(const tconv_problem_t *p, int64_t length, int64_t crop) {
    tconv_canonical_t c;
    char why[256] = "";
    if (tconv_reference_resolve(p, &c, why, sizeof why) != 0)
        fail_msg("refused: %s", why);
    if (c.output_size[2] != length || c.crop_begin[2] != crop)
        fail_msg("padding %d, n %lld, k %lld, s %lld: length %lld crop %lld, want %lld and %lld",
                 (int)p->padding, (long long)p->input_size[0], (long long)p->kernel_size[0],
                 (long long)p->strides[0], (long long)c.output_size[2], (long long)c.crop_begin[2],
                 (long long)length, (long long)crop);
    for (int a = 0; a < 2; a++) /* rank 1: unit leading axes */
        assert_true(c.output_size[a] == 1 && c.input_size[a] == 1 && c.crop_begin[a] == 0);
}

/* The framework rules of docs/semantics.md on the examples it works by hand. */
static void test_framework_rules_by_hand(void **state) {
    (void)state;
    /* Keras valid, kernel smaller than the stride: n*s; PyTorch stops at
     * (n-1)*s + ek (n=3, k=1, s=2: 6 against 5). */
    tconv_problem_t p = user_1d(tconv_padding_valid, 3, 1, 2, 1);
    expect_axis(&p, 6, 0);
    p.padding = tconv_padding_explicit;
    expect_axis(&p, 5, 0);
    p.padding = tconv_padding_valid; /* with output_padding: the PyTorch length + op */
    p.has_output_padding = 1;
    p.output_padding[0] = 1;
    expect_axis(&p, 6, 0);
    /* Keras same: n*s, the odd crop's smaller half at the begin. */
    p = user_1d(tconv_padding_same, 3, 3, 2, 1);
    expect_axis(&p, 6, 0);
    p.kernel_size[0] = 4;
    expect_axis(&p, 6, 1);
    p.kernel_size[0] = 3; /* same with op 1: (n-1)*s + ek - 2*(ek//2) + op */
    p.has_output_padding = 1;
    p.output_padding[0] = 1;
    expect_axis(&p, 6, 0);
    /* Keras same, op 0, even kernel, n = 1: length 0 is refused. */
    p = user_1d(tconv_padding_same, 1, 2, 1, 1);
    p.has_output_padding = 1;
    tconv_canonical_t c;
    char why[256] = "";
    assert_int_equal(tconv_reference_resolve(&p, &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "output length"));
    /* Keras without output_padding ignores the field. */
    p = user_1d(tconv_padding_valid, 3, 3, 2, 1);
    p.output_padding[0] = 1;
    expect_axis(&p, 7, 0);
    /* PyTorch / ONNX explicit pads: (n-1)*s + ek - pb - pe + op, crop pb
     * (n=4, k=3, s=1, d=2: ek 5; pads 1 and 3). */
    p = user_1d(tconv_padding_explicit, 4, 3, 1, 2);
    p.pads_begin[0] = 1;
    p.pads_end[0] = 3;
    expect_axis(&p, 4, 1);
    p.output_padding[0] = 2; /* used without has_output_padding outside Keras */
    expect_axis(&p, 6, 1);
    /* ONNX NOTSET with output_shape: pb = T - T//2 (n=3, k=3, s=2, L=4: 2). */
    p = user_1d(tconv_padding_explicit, 3, 3, 2, 1);
    p.output_shape[0] = 4;
    p.pads_begin[0] = 5; /* ignored with output_shape */
    expect_axis(&p, 4, 2);
    /* SAME_UPPER longer than the full output: floor division gives a
     * negative crop (n=3, k=3, s=2, L=8: T = -1, pb = -1); SAME_LOWER 0. */
    p = user_1d(tconv_padding_same_upper, 3, 3, 2, 1);
    p.output_shape[0] = 8;
    expect_axis(&p, 8, -1);
    p.padding = tconv_padding_same_lower;
    expect_axis(&p, 8, 0);
    /* auto_pad without output_shape: L = n*s; T = 1 splits 0 | 1. */
    p.output_shape[0] = 0;
    expect_axis(&p, 6, 1);
    p.padding = tconv_padding_same_upper;
    expect_axis(&p, 6, 0);
    /* The activation parameter: Keras's default for NaN, else as given. */
    p.activation = tconv_activation_leaky_relu;
    assert_int_equal(tconv_reference_resolve(&p, &c, why, sizeof why), 0);
    assert_true(c.activation_alpha == 0.2);
    p.activation = tconv_activation_squareplus;
    assert_int_equal(tconv_reference_resolve(&p, &c, why, sizeof why), 0);
    assert_true(c.activation_alpha == 4.0);
    p.activation_alpha = 0.1;
    assert_int_equal(tconv_reference_resolve(&p, &c, why, sizeof why), 0);
    assert_true(c.activation_alpha == 0.1);
}

/* The shapes a user passes, per rank, data format and kernel layout. */
static void test_user_shapes(void **state) {
    (void)state;
    tconv_problem_t p = user_1d(tconv_padding_valid, 3, 2, 2, 1);
    p.spatial_rank = 2;
    p.input_size[1] = 5;
    p.kernel_size[1] = 3;
    p.strides[1] = 1;
    p.dilation[1] = 1;
    p.batch = 2;
    p.in_channels = 4;
    p.out_channels = 6;
    p.groups = 2;
    p.data_format = tconv_channels_first;
    p.kernel_layout = tconv_kernel_torch;
    tconv_canonical_t c;
    char why[256];
    assert_int_equal(tconv_reference_resolve(&p, &c, why, sizeof why), 0);
    int64_t in[TCONV_MAX_DIMS], k[TCONV_MAX_DIMS], out[TCONV_MAX_DIMS];
    int nd = 0;
    tconv_reference_user_shapes(&c, in, k, out, &nd);
    assert_int_equal(nd, 4);
    const int64_t want_in[4] = {2, 4, 3, 5}, want_k[4] = {4, 3, 2, 3}, want_out[4] = {2, 6, 6, 7};
    assert_memory_equal(in, want_in, sizeof want_in);
    assert_memory_equal(k, want_k, sizeof want_k);
    assert_memory_equal(out, want_out, sizeof want_out);
    p.data_format = tconv_channels_last;
    p.kernel_layout = tconv_kernel_keras;
    assert_int_equal(tconv_reference_resolve(&p, &c, why, sizeof why), 0);
    tconv_reference_user_shapes(&c, in, k, out, &nd);
    const int64_t last_in[4] = {2, 3, 5, 4}, last_k[4] = {2, 3, 3, 4}, last_out[4] = {2, 6, 7, 6};
    assert_memory_equal(in, last_in, sizeof last_in);
    assert_memory_equal(k, last_k, sizeof last_k);
    assert_memory_equal(out, last_out, sizeof last_out);
}

static void test_backward_stride_by_hand(void **state) {
    (void)state;
    /* y = [1, 2, 5, 4, 6] from x = [1, 2], w = [1, 2, 3], stride 2 (o = 2i + t):
     *   dx[i] = sum_t dy[2i + t] w[t]:  dx0 = 1*1 + 2*2 + 3*3 = 14, dx1 = 3*1 + 4*2 + 5*3 = 26;
     *   dw[t] = sum_i x[i] dy[2i + t]:  dw = [1 + 2*3, 2 + 2*4, 3 + 2*5] = [7, 10, 13];
     *   db = sum dy = 15. A flipped kernel would give dx0 = 10. */
    tconv_canonical_t c = one_d(2, 3, 2, 1, 0, 5);
    c.use_bias = 1;
    const double x[] = {1, 2}, w[] = {1, 2, 3}, b[] = {0.5}, dy[] = {1, 2, 3, 4, 5};
    const double dx[] = {14, 26}, dw[] = {7, 10, 13};
    check_backward(&c, x, w, b, dy, dx, dw, 15);
    /* Any subset of the outputs may be asked for. */
    double only_dx[2];
    tconv_reference_backward(&c, x, w, b, dy, only_dx, NULL, NULL);
    assert_values(only_dx, dx, 2);
}

static void test_backward_relu_kink_by_hand(void **state) {
    (void)state;
    /* Same problem with bias -2 and relu: z = [-1, 0, 3, 2, 4], and relu'(0)
     * = 0, so dz = [0, 0, 3, 4, 5]:
     *   dx = [3*3, 3*1 + 4*2 + 5*3] = [9, 26];
     *   dw = [2*3, 2*4, 1*3 + 2*5] = [6, 8, 13];  db = 12.
     * With relu'(0) = 1, dx0 would be 2*2 + 9 = 13. */
    tconv_canonical_t c = one_d(2, 3, 2, 1, 0, 5);
    c.use_bias = 1;
    c.activation = tconv_activation_relu;
    const double x[] = {1, 2}, w[] = {1, 2, 3}, b[] = {-2}, dy[] = {1, 2, 3, 4, 5};
    const double dx[] = {9, 26}, dw[] = {6, 8, 13};
    check_backward(&c, x, w, b, dy, dx, dw, 12);
}

static void test_backward_crops_by_hand(void **state) {
    (void)state;
    const double x[] = {1, 2}, w[] = {1, 2, 3};
    /* Crop 1, length 3 (o = 2i + t - 1): x0 feeds o = 0, 1 with t = 1, 2;
     * x1 feeds o = 1, 2 with t = 0, 1 (its tap 2 falls off the end):
     *   dx = [1*2 + 2*3, 2*1 + 3*2] = [8, 8];  dw = [2*2, 1*1 + 2*3, 1*2] = [4, 7, 2]. */
    tconv_canonical_t cropped = one_d(2, 3, 2, 1, 1, 3);
    const double dy3[] = {1, 2, 3}, dx3[] = {8, 8}, dw3[] = {4, 7, 2};
    check_backward(&cropped, x, w, NULL, dy3, dx3, dw3, 6);
    /* Crop -1, length 6 (o = 2i + t + 1): o = 0 gets no product but still
     * counts for the bias:
     *   dx = [2*1 + 3*2 + 4*3, 4*1 + 5*2 + 6*3] = [20, 32];
     *   dw = [2 + 2*4, 3 + 2*5, 4 + 2*6] = [10, 13, 16];  db = 21. */
    tconv_canonical_t padded = one_d(2, 3, 2, 1, -1, 6);
    const double dy6[] = {1, 2, 3, 4, 5, 6}, dx6[] = {20, 32}, dw6[] = {10, 13, 16};
    check_backward(&padded, x, w, NULL, dy6, dx6, dw6, 21);
}

static void test_backward_dilation_by_hand(void **state) {
    (void)state;
    /* o = i + 2t: dx = [dy0 + 10 dy2, dy1 + 10 dy3] = [31, 42];
     * dw = [x0 dy0 + x1 dy1, x0 dy2 + x1 dy3] = [5, 11]. */
    tconv_canonical_t c = one_d(2, 2, 1, 2, 0, 4);
    const double x[] = {1, 2}, w[] = {1, 10}, dy[] = {1, 2, 3, 4};
    const double dx[] = {31, 42}, dw[] = {5, 11};
    check_backward(&c, x, w, NULL, dy, dx, dw, 10);
}

static void test_backward_group_mapping_by_hand(void **state) {
    (void)state;
    /* Cin = 4, Cout = 2, groups 2 (inputs 0,1 feed output 0; 2,3 output 1),
     * torch kernel w[ic], channels_first, one point:
     *   dx[ic] = w[ic] dy[g] = [1, 10, 200, 2000];  dw[ic] = x[ic] dy[g] = [1, 2, 6, 8];
     *   db = dy = [1, 2]. */
    tconv_canonical_t c = one_d(1, 1, 1, 1, 0, 1);
    c.in_channels = 4;
    c.out_channels = 2;
    c.groups = 2;
    c.use_bias = 1;
    c.kernel_layout = tconv_kernel_torch;
    c.data_format = tconv_channels_first;
    const double x[] = {1, 2, 3, 4}, w[] = {1, 10, 100, 1000}, b[] = {0, 0}, dy[] = {1, 2};
    const double want_dx[] = {1, 10, 200, 2000}, want_dw[] = {1, 2, 6, 8}, want_db[] = {1, 2};
    double dx[4], dw[4], db[2];
    tconv_reference_backward(&c, x, w, b, dy, dx, dw, db);
    assert_values(dx, want_dx, 4);
    assert_values(dw, want_dw, 4);
    assert_values(db, want_db, 2);
}

static void test_backward_abs_by_hand(void **state) {
    (void)state;
    /* The stride problem with signs: terms of dx0 are m0|w0|, m1|w1|, m2|w2|. */
    tconv_canonical_t c = one_d(2, 3, 2, 1, 0, 5);
    const double x[] = {1, -2}, w[] = {-1, 2, -3}, m[] = {1, 2, 3, 4, 5};
    const double want_dx[] = {14, 26}, want_dw[] = {7, 10, 13};
    double dx[2], dw[3], db[1];
    tconv_reference_backward_abs(&c, x, w, m, dx, dw, db);
    assert_values(dx, want_dx, 2);
    assert_values(dw, want_dw, 3);
    assert_values(db, (const double[]){15}, 1);
}

static void test_activation_grads_at_known_points(void **state) {
    (void)state;
    static const struct {
        tconv_activation_t act;
        double alpha, x, want;
    } cases[] = {
        {tconv_activation_linear, 0, -3.5, 1},
        /* Kinks: the clipped pieces count their end points as outside. */
        {tconv_activation_relu, 0, 0, 0},
        {tconv_activation_relu, 0, 2, 1},
        {tconv_activation_relu6, 0, 0, 0},
        {tconv_activation_relu6, 0, 6, 0},
        {tconv_activation_relu6, 0, 5.5, 1},
        {tconv_activation_leaky_relu, 0.2, 0, 0.2},
        {tconv_activation_leaky_relu, 0.2, -1, 0.2},
        {tconv_activation_leaky_relu, 0.2, 1, 1},
        {tconv_activation_elu, 0.5, 0, 0.5},
        {tconv_activation_elu, 1, -1, 0.36787944117144233},
        {tconv_activation_selu, 0, 1, 1.0507009873554805},
        {tconv_activation_selu, 0, -1, 0.646768603034814},
        {tconv_activation_sigmoid, 0, 0, 0.25},
        {tconv_activation_sigmoid, 0, 1, 0.19661193324148185},
        {tconv_activation_hard_sigmoid, 0, 3, 0},
        {tconv_activation_hard_sigmoid, 0, -3, 0},
        {tconv_activation_hard_sigmoid, 0, 1, 1.0 / 6},
        {tconv_activation_hard_silu, 0, -3, 0},
        {tconv_activation_hard_silu, 0, 3, 1},
        {tconv_activation_hard_silu, 0, 1.5, 1},
        {tconv_activation_hard_silu, 0, 0, 0.5},
        {tconv_activation_tanh, 0, 0.5, 0.7864477329659274},
        {tconv_activation_softplus, 0, 0, 0.5},
        {tconv_activation_softsign, 0, 1, 0.25},
        {tconv_activation_softsign, 0, -3, 0.0625},
        {tconv_activation_silu, 0, 1, 0.9276705118714867},
        {tconv_activation_gelu, 0, 0, 0.5},
        {tconv_activation_gelu, 0, 1, 1.0833154705876864},
        {tconv_activation_exponential, 0, 1, 2.718281828459045},
        {tconv_activation_log_sigmoid, 0, 0, 0.5},
        {tconv_activation_log_sigmoid, 0, 1, 0.2689414213699951},
        {tconv_activation_mish, 0, 0, 0.6},
        {tconv_activation_celu, 2, -2, 0.36787944117144233},
        {tconv_activation_celu, 2, 0, 1},
        {tconv_activation_hard_tanh, 0, 1, 0},
        {tconv_activation_hard_tanh, 0, -1, 0},
        {tconv_activation_hard_tanh, 0, 0.3, 1},
        {tconv_activation_hard_shrink, 0.5, 0.5, 0},
        {tconv_activation_hard_shrink, 0.5, -0.5, 0},
        {tconv_activation_hard_shrink, 0.5, -0.6, 1},
        {tconv_activation_soft_shrink, 0.5, 0.5, 0},
        {tconv_activation_soft_shrink, 0.5, 1, 1},
        {tconv_activation_tanh_shrink, 0, 1, 0.5800256583859739},
        {tconv_activation_sparse_plus, 0, 0, 0.5},
        {tconv_activation_sparse_plus, 0, -1, 0},
        {tconv_activation_sparse_plus, 0, 1, 1},
        {tconv_activation_squareplus, 4, 0, 0.5},
        {tconv_activation_squareplus, 4, 1.5, 0.8},
        {tconv_activation_gelu_tanh, 0, 0, 0.5},
        {tconv_activation_gelu_tanh, 0, 1, 1.0829640838457826},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = tconv_reference_activation_grad(cases[i].act, cases[i].alpha, cases[i].x);
        if (fabs(got - cases[i].want) > 1e-15 * fmax(1, fabs(cases[i].want)))
            fail_msg("derivative of activation %d alpha %g at %g: got %.17g, want %.17g",
                     (int)cases[i].act, cases[i].alpha, cases[i].x, got, cases[i].want);
    }
}

/* The default parameter of the activations that have one (Keras's). */
static double default_alpha(tconv_activation_t act) {
    switch (act) {
    case tconv_activation_leaky_relu:
        return 0.3;
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
        return 0.5;
    case tconv_activation_squareplus:
        return 4;
    default:
        return 1;
    }
}

static void test_activation_grads_nan_and_limits(void **state) {
    (void)state;
    /* The limits of act' at -inf and +inf (alpha: the default_alpha). */
    static const struct {
        tconv_activation_t act;
        double at_minus_inf, at_plus_inf;
    } limits[] = {
        {tconv_activation_linear, 1, 1},
        {tconv_activation_relu, 0, 1},
        {tconv_activation_relu6, 0, 0},
        {tconv_activation_leaky_relu, 0.3, 1},
        {tconv_activation_elu, 0, 1},
        {tconv_activation_selu, 0, 1.0507009873554805},
        {tconv_activation_sigmoid, 0, 0},
        {tconv_activation_hard_sigmoid, 0, 0},
        {tconv_activation_hard_silu, 0, 1},
        {tconv_activation_tanh, 0, 0},
        {tconv_activation_softplus, 0, 1},
        {tconv_activation_softsign, 0, 0},
        {tconv_activation_silu, 0, 1},
        {tconv_activation_gelu, 0, 1},
        {tconv_activation_exponential, 0, INFINITY},
        {tconv_activation_log_sigmoid, 1, 0},
        {tconv_activation_mish, 0, 1},
        {tconv_activation_celu, 0, 1},
        {tconv_activation_hard_tanh, 0, 0},
        {tconv_activation_hard_shrink, 1, 1},
        {tconv_activation_soft_shrink, 1, 1},
        {tconv_activation_tanh_shrink, 1, 1},
        {tconv_activation_sparse_plus, 0, 1},
        {tconv_activation_squareplus, 0, 1},
        {tconv_activation_gelu_tanh, 0, 1},
    };
    assert_int_equal(sizeof limits / sizeof limits[0], TCONV_ACTIVATION_COUNT);
    for (int a = 0; a < TCONV_ACTIVATION_COUNT; a++) {
        tconv_activation_t act = limits[a].act;
        double alpha = default_alpha(act);
        if (!isnan(tconv_reference_activation_grad(act, alpha, NAN)))
            fail_msg("activation %d: derivative at NaN is not NaN", (int)act);
        /* +-inf and huge values give the limit, never NaN (no inf * 0). */
        const double far[] = {-INFINITY, -1e300, -1e10, 1e10, 1e300, INFINITY};
        for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
            double got = tconv_reference_activation_grad(act, alpha, far[i]);
            double want = far[i] < 0 ? limits[a].at_minus_inf : limits[a].at_plus_inf;
            if (act == tconv_activation_exponential && isfinite(far[i]) && far[i] > 0)
                want = exp(far[i]); /* e^1e10 is already inf */
            if (!(got == want || fabs(got - want) < 1e-15))
                fail_msg("activation %d: derivative at %g is %.17g, want the limit %g", (int)act,
                         far[i], got, want);
        }
    }
}

/* ---- finite differences -------------------------------------------------- */

/* The points where activation @p act (with parameter @p alpha) is not twice
 * differentiable: next to them a central difference is off by O(h) or
 * worse, so the random problems keep away from them. */
static int activation_nonsmooth_points(tconv_activation_t act, double alpha, double points[2]) {
    switch (act) {
    case tconv_activation_relu:
    case tconv_activation_leaky_relu:
    case tconv_activation_elu:
    case tconv_activation_selu:
    case tconv_activation_softsign:
    case tconv_activation_celu:
        points[0] = 0;
        return 1;
    case tconv_activation_relu6:
        points[0] = 0;
        points[1] = 6;
        return 2;
    case tconv_activation_hard_sigmoid:
    case tconv_activation_hard_silu:
        points[0] = -3;
        points[1] = 3;
        return 2;
    case tconv_activation_hard_tanh:
    case tconv_activation_sparse_plus:
        points[0] = -1;
        points[1] = 1;
        return 2;
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
        points[0] = -alpha;
        points[1] = alpha;
        return 2;
    default:
        return 0;
    }
}

/* A random small canonical problem of rank 1 to 3: groups, strides,
 * dilations, positive and negative crops, both layouts and formats, bias
 * on or off. */
static tconv_canonical_t random_canonical(tc_rng_t *rng, tconv_activation_t act) {
    tconv_canonical_t c = one_d(1, 1, 1, 1, 0, 1);
    c.spatial_rank = (int)tc_rng_range(rng, 1, 3);
    c.batch = tc_rng_range(rng, 1, 2);
    c.groups = tc_rng_range(rng, 1, 2);
    c.in_channels = c.groups * tc_rng_range(rng, 1, 2);
    c.out_channels = c.groups * tc_rng_range(rng, 1, 2);
    for (int a = 3 - c.spatial_rank; a < 3; a++) {
        c.input_size[a] = tc_rng_range(rng, 1, 3);
        c.kernel_size[a] = tc_rng_range(rng, 1, 3);
        c.strides[a] = tc_rng_range(rng, 1, 3);
        c.dilation[a] = tc_rng_range(rng, 1, 2);
        int64_t span =
            (c.input_size[a] - 1) * c.strides[a] + (c.kernel_size[a] - 1) * c.dilation[a] + 1;
        c.crop_begin[a] = tc_rng_range(rng, -1, span / 2);
        int64_t crop_end = tc_rng_range(rng, -1, span / 2);
        c.output_size[a] = span - c.crop_begin[a] - crop_end;
        if (c.output_size[a] < 1)
            c.output_size[a] = 1;
    }
    c.data_format = tc_rng_range(rng, 0, 1) ? tconv_channels_first : tconv_channels_last;
    c.kernel_layout = tc_rng_range(rng, 0, 1) ? tconv_kernel_torch : tconv_kernel_keras;
    c.activation = act;
    c.activation_alpha = default_alpha(act) * (tc_rng_range(rng, 0, 1) ? 1 : 0.5);
    /* Without a bias, output points no product reaches have z = 0 exactly:
     * activations not smooth at 0 need the bias to move them off it. */
    double points[2];
    int count = activation_nonsmooth_points(act, c.activation_alpha, points);
    c.use_bias = (count > 0 && points[0] == 0) || tc_rng_range(rng, 0, 1);
    return c;
}

/* sum over o of dy[o] * (y(+h)[o] - y(-h)[o]) / 2h after nudging *value by
 * +-h: the central difference of L = sum dy * y along that value. Summing
 * the differences (outputs the value does not reach cancel exactly) keeps
 * the rounding of L out of the quotient. */
static double central_difference(const tconv_canonical_t *c, double *x, double *w, double *b,
                                 const double *dy, double *value, double *y_up, double *y_down) {
    const double h = 1e-6, saved = *value;
    *value = saved + h;
    tconv_reference_forward(c, x, w, b, y_up);
    *value = saved - h;
    tconv_reference_forward(c, x, w, b, y_down);
    *value = saved;
    double sum = 0;
    for (int64_t o = 0; o < tconv_reference_output_count(c); o++)
        sum += dy[o] * (y_up[o] - y_down[o]);
    return sum / (2 * h);
}

/* Whether every pre-activation value of (c, x, w, b) is at least @p margin
 * away from the activation's non-smooth points. */
static int away_from_kinks(const tconv_canonical_t *c, const double *x, const double *w,
                           const double *b, double *z, double margin) {
    double kinks[2];
    int count = activation_nonsmooth_points(c->activation, c->activation_alpha, kinks);
    if (count == 0)
        return 1;
    tconv_canonical_t linear = *c;
    linear.activation = tconv_activation_linear;
    tconv_reference_forward(&linear, x, w, b, z);
    for (int64_t o = 0; o < tconv_reference_output_count(c); o++)
        for (int k = 0; k < count; k++)
            if (fabs(z[o] - kinks[k]) < margin)
                return 0;
    return 1;
}

enum { fd_max = 4096 };

/* Compares each analytic gradient element with its central difference. */
static void check_gradient(const char *name, int act, int trial, const double *analytic,
                           int64_t count, const tconv_canonical_t *c, double *x, double *w,
                           double *b, const double *dy, double *target, double *y_up,
                           double *y_down) {
    for (int64_t i = 0; i < count; i++) {
        double fd = central_difference(c, x, w, b, dy, &target[i], y_up, y_down);
        if (!(fabs(fd - analytic[i]) <= 1e-6 * fmax(1, fabs(analytic[i]))))
            fail_msg("activation %d (alpha %g) trial %d: %s[%lld] = %.12g, central difference "
                     "%.12g (rank %d, groups %lld, format %d, layout %d)",
                     act, c->activation_alpha, trial, name, (long long)i, analytic[i], fd,
                     c->spatial_rank, (long long)c->groups, (int)c->data_format,
                     (int)c->kernel_layout);
    }
}

static void test_backward_matches_finite_differences(void **state) {
    (void)state;
    static double x[fd_max], w[fd_max], b[fd_max], dy[fd_max], z[fd_max];
    static double dx[fd_max], dw[fd_max], db[fd_max], y_up[fd_max], y_down[fd_max];
    tc_rng_t rng;
    tc_rng_seed(&rng, 1234);
    for (int a = 0; a < TCONV_ACTIVATION_COUNT; a++) {
        for (int trial = 0; trial < 3; trial++) {
            tconv_canonical_t c;
            int attempts = 0;
            do { /* redraw until no pre-activation sits next to a kink */
                c = random_canonical(&rng, (tconv_activation_t)a);
                assert_true(tconv_reference_output_count(&c) <= fd_max);
                for (int64_t i = 0; i < tconv_reference_input_count(&c); i++)
                    x[i] = 2 * tc_rng_signed_unit(&rng);
                for (int64_t i = 0; i < tconv_reference_kernel_count(&c); i++)
                    w[i] = tc_rng_signed_unit(&rng);
                for (int64_t i = 0; i < c.out_channels; i++) /* 0: the same z without bias */
                    b[i] = c.use_bias ? tc_rng_signed_unit(&rng) : 0;
                for (int64_t i = 0; i < tconv_reference_output_count(&c); i++)
                    dy[i] = tc_rng_signed_unit(&rng);
                assert_true(++attempts < 100);
            } while (!away_from_kinks(&c, x, w, b, z, 1e-3));
            tconv_reference_backward(&c, x, w, b, dy, dx, dw, db);
            check_gradient("dx", a, trial, dx, tconv_reference_input_count(&c), &c, x, w, b, dy, x,
                           y_up, y_down);
            check_gradient("dw", a, trial, dw, tconv_reference_kernel_count(&c), &c, x, w, b, dy, w,
                           y_up, y_down);
            /* dL/db is computed with or without a bias in the forward pass;
             * nudge it in a problem that has one (b = 0 when c has none). */
            tconv_canonical_t with_bias = c;
            with_bias.use_bias = 1;
            check_gradient("db", a, trial, db, c.out_channels, &with_bias, x, w, b, dy, b, y_up,
                           y_down);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride_scatter),
        cmocka_unit_test(test_kernel_is_not_flipped),
        cmocka_unit_test(test_dilation),
        cmocka_unit_test(test_positive_and_negative_crop),
        cmocka_unit_test(test_groups_bias_and_abs),
        cmocka_unit_test(test_group_channel_mapping),
        cmocka_unit_test(test_layouts_agree),
        cmocka_unit_test(test_activations_at_known_points),
        cmocka_unit_test(test_framework_rules_by_hand),
        cmocka_unit_test(test_user_shapes),
        cmocka_unit_test(test_backward_stride_by_hand),
        cmocka_unit_test(test_backward_relu_kink_by_hand),
        cmocka_unit_test(test_backward_crops_by_hand),
        cmocka_unit_test(test_backward_dilation_by_hand),
        cmocka_unit_test(test_backward_group_mapping_by_hand),
        cmocka_unit_test(test_backward_abs_by_hand),
        cmocka_unit_test(test_activation_grads_at_known_points),
        cmocka_unit_test(test_activation_grads_nan_and_limits),
        cmocka_unit_test(test_backward_matches_finite_differences),
    };
    return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
