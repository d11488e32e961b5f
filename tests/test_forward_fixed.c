/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed larger layers on every device of one backend (and, for the CPU, one
 * kernel family per entry) against the float64 reference: the nine layers
 * of `tconv-bench` (bench/bench_suite.c) scaled down to run in seconds, and
 * the shapes that reach the code paths the small random problems do not:
 *   - channels_first outputs of 20^3 and more, whose staged output rows
 *     (cpu_execute.c, about 128 KiB per flush) take more than one pass per
 *     work item;
 *   - Cout = 1, k4 s2 (the suite's gan_g5): the few-output-channel "dot"
 *     tiles (C, AVX2 and float64; AVX-512 float32 takes the fold tiles
 *     below), whose input rows no longer fit one pass (32 KiB), so the W runs
 *     are swept in several passes of rows;
 *   - channel counts off the vector width (tails of the register tiles);
 *   - one output channel per group with W k4 s2 d1 (the AVX-512 float32 fold
 *     tiles, cpu_kernel.h): 16 outputs of both W phases per tile, its first
 *     and last input points masked at the row ends, both parities of the W
 *     begin crop, channel tails, groups, D/H dilation, the activations
 *     applied after the tile, and the constant-stride tiles of one group of
 *     32 (gan_g5), 64 (fold_wide) or 128 channels;
 *   - the same with begin crop 1, W a multiple of 32, channels a multiple of
 *     16 (AVX-512 float32: Winograd with the tiles in the lanes,
 *     cpu_fold_wino.c): one and two W blocks, a single H tile row.
 *
 *   test_forward_fixed --backend cpu|opencl [--isa avx512|avx2|c]
 *                      [--dtype f32|f64] [--opencl-staging copy]
 *                      [--opencl-max-alloc BYTES|half] [--allow-decline]
 *
 * Options and exit codes as test_forward_random's (tests/README.md): no
 * OpenCL platform or a device without the dtype exits 77 (1 under CI=true),
 * a CPU without the ISA 77. Every layer runs in float32; the ones marked
 * below also in float64. Error of an output element: |y - ref| / (max(1,
 * sum|terms|) * activation slope), at most 1e-5 (f32) or 1e-12 (f64); the
 * output is filled with NaN first, so an element never written fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "random_suite.h"
#include "test_support.h"

typedef long long ll;

/* One layer: rank 3, the same kernel, stride, dilation and padding on every
 * axis (dilation_dh, when set, on D and H only; W keeps dilation). */
typedef struct fixed_layer {
    const char *name;
    const char *why; /* what the layer is for */
    int64_t batch, in_channels, out_channels;
    int64_t input[3], kernel[3], strides[3];
    int64_t pads, output_padding, dilation;
    tconv_data_format_t format;
    tconv_activation_t activation;
    int f64; /* also run in float64 */
    int64_t groups;
    int64_t dilation_dh; /* 0: dilation */
} fixed_layer_t;

#define CL   tconv_channels_last
#define CF   tconv_channels_first
#define LIN  tconv_activation_linear
#define RELU tconv_activation_relu

// clang-format off
static const fixed_layer_t layers[] = {
    /* The suite's layers, N, channels and lengths scaled down. */
    {"unet3d_up2",   "3D U-Net k2 s2",             2, 32, 48, {5, 7, 7},    {2, 2, 2}, {2, 2, 2}, 0, 0, 1, CL, RELU, 0, 1, 0},
    {"vnet_up32",    "V-Net k2 s2, 16 channels",   1, 16, 16, {8, 16, 16},  {2, 2, 2}, {2, 2, 2}, 0, 0, 1, CL, LIN,  0, 1, 0},
    {"gan_g3",       "3D-GAN k4 s2 p1",            2, 32, 24, {5, 5, 5},    {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, RELU, 0, 1, 0},
    {"gan_g5",       "Cout 1 k4 s2 p1: dot tiles, passes of rows",
                                                   2, 32, 1,  {16, 16, 16}, {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, LIN,  1, 1, 0},
    {"nnunet_up4",   "nnU-Net k2 s2, channel tails", 1, 40, 36, {6, 6, 6}, {2, 2, 2}, {2, 2, 2}, 0, 0, 1, CL, LIN,  0, 1, 0},
    {"nnunet_up1",   "nnU-Net k2 s2, 8 outputs",   1, 16, 8,  {16, 16, 16}, {2, 2, 2}, {2, 2, 2}, 0, 0, 1, CL, LIN,  0, 1, 0},
    {"nnunet_aniso", "anisotropic k(1,2,2)",       1, 16, 32, {10, 20, 20}, {1, 2, 2}, {1, 2, 2}, 0, 0, 1, CL, LIN,  0, 1, 0},
    {"keras_k3s2",   "k3 s2 p1 op1",               1, 32, 24, {6, 10, 10},  {3, 3, 3}, {2, 2, 2}, 1, 1, 1, CL, RELU, 0, 1, 0},
    {"dilated_k3d2", "stride 1, dilation 2",       1, 24, 24, {10, 10, 10}, {3, 3, 3}, {1, 1, 1}, 2, 0, 2, CL, LIN,  0, 1, 0},
    /* channels_first outputs of 20^3 and more: staged rows in several passes. */
    {"cf_k3s1_20",   "channels_first 20^3 out, k3 s1", 1, 8, 40, {20, 20, 20}, {3, 3, 3}, {1, 1, 1}, 1, 0, 1, CF, RELU, 1, 1, 0},
    {"cf_k2s2_24",   "channels_first 24^3 out, k2 s2", 2, 12, 20, {12, 12, 12}, {2, 2, 2}, {2, 2, 2}, 0, 0, 1, CF, LIN, 0, 1, 0},
    {"cf_gan_g5",    "channels_first Cout 1 k4 s2 p1", 1, 24, 1, {14, 14, 14}, {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CF, LIN, 1, 1, 0},
    /* Fold tiles: W out a multiple of 16, one output channel per group. */
    {"fold_wide",    "Cout 1 k4 s2 p1, W out 48: a tile inside the row",
                                                   2, 64, 1,  {3, 5, 24},   {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, RELU, 0, 1, 0},
    {"fold_p0_g2",   "Cout/G 1, 2 groups of 12 channels (tails), p0: both ends masked",
                                                   2, 24, 2,  {4, 4, 7},    {4, 4, 4}, {2, 2, 2}, 0, 0, 1, CL, LIN,  0, 2, 0},
    {"fold_p3_dil",  "Cout 1, 40 channels, p3 (odd crop, nothing masked), D/H dilation 2, ELU",
                                                   1, 40, 1,  {5, 6, 10},   {4, 4, 4}, {2, 2, 2}, 3, 0, 1, CL, tconv_activation_elu, 0, 1, 2},
    {"fold_c128",    "Cout 1, 128 channels (a constant-stride tile), p1",
                                                   1, 128, 1, {2, 3, 8},    {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, LIN,  0, 1, 0},
    {"fold_p2",      "Cout 1, p2 (even crop, nothing masked), sigmoid",
                                                   1, 16, 1,  {3, 4, 9},    {4, 4, 4}, {2, 2, 2}, 2, 0, 1, CL, tconv_activation_sigmoid, 0, 1, 0},
    /* Winograd with tiles in the lanes (AVX-512 float32, cpu_fold_wino.c): Cout 1,
     * k4 s2 p1, channels a multiple of 16, D and H even, W a multiple of 32. */
    {"fwino_g5",     "Cout 1 k4 s2 p1, W 32 (one block), 32 channels, ReLU",
                                                   2, 32, 1,  {4, 6, 32},   {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, RELU, 0, 1, 0},
    {"fwino_w64",    "Cout 1 k4 s2 p1, W 64 (two blocks), H tiles odd (a single row), ELU",
                                                   1, 16, 1,  {2, 6, 64},   {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, tconv_activation_elu, 0, 1, 0},
    {"fwino_c64",    "Cout 1 k4 s2 p1, 64 channels (gan_g5's), linear",
                                                   3, 64, 1,  {6, 4, 32},   {4, 4, 4}, {2, 2, 2}, 1, 0, 1, CL, LIN,  0, 1, 0},
};
// clang-format on
#define LAYER_COUNT (sizeof layers / sizeof layers[0])

static tc_suite_t g = {.program = "test_forward_fixed", .backend = "cpu", .cases = 1, .seed = 5};

static void layer_problem(const fixed_layer_t *l, tconv_dtype_t dtype, tconv_problem_t *p) {
    tconv_problem_init(p, 3);
    p->dtype = dtype;
    p->batch = l->batch;
    p->in_channels = l->in_channels;
    p->out_channels = l->out_channels;
    p->groups = l->groups;
    p->padding = tconv_padding_explicit;
    p->has_output_padding = 1;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = l->input[a];
        p->kernel_size[a] = l->kernel[a];
        p->strides[a] = l->strides[a];
        p->dilation[a] = a < 2 && l->dilation_dh ? l->dilation_dh : l->dilation;
        p->pads_begin[a] = p->pads_end[a] = l->kernel[a] > 1 ? l->pads : 0;
        p->output_padding[a] = l->output_padding;
    }
    p->data_format = l->format;
    p->kernel_layout = tconv_kernel_keras;
    p->use_bias = 1;
    p->activation = l->activation;
}

/* Runs @p t's problem on @p dev; returns 0 when right, 1 when declined,
 * -1 after printing why not. */
static int run_on_device(const tconv_device_info_t *dev, const tconv_problem_t *p, tc_tensors_t *t,
                         const char *where) {
    tconv_plan_t plan = NULL;
    int rc = tc_suite_plan(&g, dev, p, t, where, &plan);
    if (rc != 0)
        return rc;
    tc_tensors_poison_output(t);
    tconv_status_t st = tconv_plan_execute(plan, t->dev_in, t->dev_out);
    tconv_plan_destroy(plan);
    if (st != tconv_success) {
        print_error("%s: execute -> %s: %s\n", where, tconv_status_name(st),
                    tconv_get_last_error());
        return -1;
    }
    int64_t worst = 0;
    double err = tc_tensors_max_error(t, &worst);
    print_message("%s: max rel err %.2g (tolerance %.0e)\n", where, err, tc_tolerance(p->dtype));
    if (!(err <= tc_tolerance(p->dtype))) {
        print_error("%s: error %.3g at output element %lld of %lld: got %.9g, reference %.9g "
                    "(sum|terms| %.3g)\n",
                    where, err, (ll)worst, (ll)t->out_count,
                    tc_element(t->dev_out, p->dtype, worst), t->ref[worst], t->ref_abs[worst]);
        return -1;
    }
    return 0;
}

/* Runs that computed a result, over every layer: one at least, or the
 * entry tested nothing (every plan declined under --allow-decline). */
static int total_ran;

/* One layer in each dtype asked for (float64 only where the layer says),
 * on every device; the reference is computed once per dtype. */
static void test_layer(void **state) {
    const fixed_layer_t *l = *state;
    int failures = 0;
    for (int dt = tconv_f32; dt <= tconv_f64; dt++) {
        if (!(g.dtypes & TCONV_DTYPE_BIT(dt)) || (dt == tconv_f64 && !l->f64))
            continue;
        tconv_problem_t p;
        layer_problem(l, (tconv_dtype_t)dt, &p);
        tc_rng_t rng;
        tc_rng_seed(&rng, g.seed + (uint64_t)dt);
        tc_tensors_t t;
        char msg[2048];
        if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0)
            fail_msg("%s: %s", l->name, msg);
        for (size_t d = 0; d < g.device_count; d++) {
            const tconv_device_info_t *dev = &g.devices[d];
            if (!(dev->dtypes & TCONV_DTYPE_BIT(dt)))
                continue; /* noted in g.unavailable by tc_suite_open */
            char where[256];
            snprintf(where, sizeof where, "%s (%s) on %s%s%s %s", l->name, l->why, dev->id,
                     g.isa ? " isa=" : "", g.isa ? g.isa : "", dt == tconv_f64 ? "f64" : "f32");
            int rc = run_on_device(dev, &p, &t, where);
            if (rc == 1)
                print_message("%s: declined: %s\n", where, tconv_get_last_error());
            failures += rc < 0;
            total_ran += rc == 0;
        }
        tc_tensors_free(&t);
    }
    if (failures)
        fail_msg("%s: %d failing runs (details above)", l->name, failures);
}

int main(int argc, char **argv) {
    int rc = tc_suite_open(&g, argc, argv);
    if (rc >= 0)
        return rc;
    struct CMUnitTest tests[LAYER_COUNT];
    for (size_t i = 0; i < LAYER_COUNT; i++) {
        tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_layer, (void *)&layers[i]);
        tests[i].name = layers[i].name;
    }
    const tc_opencl_paths_t none = {0, 0, 0, 0, 0};
    int failed = _cmocka_run_group_tests("forward_fixed", tests, LAYER_COUNT, NULL, NULL);
    if (!strcmp(g.backend, "opencl"))
        failed += tc_suite_check_opencl_paths(&g, "forward_fixed", &none);
    if (total_ran == 0 && !g.unavailable[0]) {
        fprintf(stderr, "FAILED: no layer ran on any device: nothing was tested\n");
        failed++;
    }
    return tc_suite_finish(&g, failed);
}
