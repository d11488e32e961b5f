/* Checks the float64 reference itself (tests/reference) against hand-computed
 * results, so the ground truth the other suites trust is trustworthy:
 * scatter positions, stride, dilation, positive and negative crops, groups,
 * bias, both kernel layouts and data formats, and every activation at known
 * points. Depends on nothing but the reference and tconv_types.h. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reference/tconv_reference.h"

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
    };
    return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
