/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenCL backward pass when it has to tile (TCONV_OPENCL_MAX_ALLOC caps
 * the device's allocations): fixed problems, each run with no cap, with a
 * cap that leaves one sample per tile (the batch is split) and with one that
 * splits a sample's input depth. Every run must match the reference adjoint
 * (f32 1e-5, f64 1e-12, relative to sum|terms|), and grad_input must be
 * bit-identical to the untiled run: each of its elements is summed in the
 * same order whatever the tiles. grad_kernel and grad_bias are summed tile
 * by tile, so only the tolerance applies to them.
 *
 * The problems cover both layouts and kernel layouts, groups, dilation, a
 * negative crop (ONNX output_shape), a kernel shorter than the stride (output
 * depths no input reaches: only grad_bias sees them, and each belongs to
 * exactly one tile) and W long enough for several dw chunks per tile, and
 * the suite's layer shapes scaled down for the grad_kernel and grad_bias
 * kernels' register tiles and chunks (one, untiled only: the forward pass
 * cannot split its depth under the cap).
 *
 * Without an OpenCL device the test exits 77 (skipped), a failure under CI. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

static tconv_context_t g_ctx;

typedef struct tiled_case {
    const char *name;
    tconv_problem_t problem;
    int untiled_only; /**< The forward pass cannot tile it: no caps. */
} tiled_case_t;

static size_t bytes_of(int64_t count, tconv_dtype_t dtype) {
    return (size_t)count * (dtype == tconv_f64 ? sizeof(double) : sizeof(float));
}

/* One training plan on opencl:0 under @p cap ("" = none): all three
 * gradients into gr->dev, checked against the reference. */
static void run_under_cap(const tconv_problem_t *p, const tc_tensors_t *t, tc_gradients_t *gr,
                          const char *cap) {
    if (*cap)
        setenv("TCONV_OPENCL_MAX_ALLOC", cap, 1);
    else
        unsetenv("TCONV_OPENCL_MAX_ALLOC");
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, g_ctx, p, "opencl:0");
    if (st != tconv_success)
        fail_msg("cap '%s': tconv_plan_create -> %s: %s", cap, tconv_status_name(st),
                 tconv_get_last_error());
    assert_int_equal(tconv_plan_set_weights(plan, t->dev_kernel, p->use_bias ? t->dev_bias : NULL),
                     tconv_success);
    tc_gradients_poison(gr, p->dtype);
    st = tconv_plan_execute_backward(plan, t->dev_in, gr->dev_grad_out, gr->dev[tc_grad_input],
                                     gr->dev[tc_grad_kernel],
                                     p->use_bias ? gr->dev[tc_grad_bias] : NULL);
    tconv_plan_destroy(plan);
    if (st != tconv_success)
        fail_msg("cap '%s': tconv_plan_execute_backward -> %s: %s", cap, tconv_status_name(st),
                 tconv_get_last_error());
    for (int k = 0; k < tc_grad_count; k++) {
        if (k == tc_grad_bias && !p->use_bias)
            continue;
        int64_t at;
        double err = tc_gradients_max_error(gr, (tc_gradient_t)k, p->dtype, &at);
        if (!(err <= tc_tolerance(p->dtype)))
            fail_msg("cap '%s': %s error %.3g at element %lld: got %.9g, reference %.9g", cap,
                     tc_gradient_name((tc_gradient_t)k), err, (long long)at,
                     tc_element(gr->dev[k], p->dtype, at), gr->ref[k][at]);
    }
}

static void test_tiled(void **state) {
    const tiled_case_t *c = *state;
    const tconv_problem_t *p = &c->problem;
    tc_rng_t rng;
    tc_rng_seed(&rng, 20261202);
    tc_tensors_t t;
    tc_gradients_t gr;
    char msg[512];
    if (tc_tensors_make(p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    if (tc_gradients_make(&t, &rng, &gr, msg, sizeof msg) != 0)
        fail_msg("%s", msg);

    /* Caps from one sample's tensors: 1.5x the larger fits one sample, not
     * two; half of it does not fit one sample, so its depth is split. */
    const tconv_canonical_t *k = &t.canonical;
    const size_t sample =
        bytes_of((t.in_count > t.out_count ? t.in_count : t.out_count) / k->batch, k->dtype);
    char batch_cap[32], depth_cap[32];
    snprintf(batch_cap, sizeof batch_cap, "%zu", sample + sample / 2);
    snprintf(depth_cap, sizeof depth_cap, "%zu", sample / 2);

    const size_t dx_bytes = bytes_of(t.in_count, p->dtype);
    run_under_cap(p, &t, &gr, "");
    void *untiled_dx = malloc(dx_bytes);
    assert_non_null(untiled_dx);
    memcpy(untiled_dx, gr.dev[tc_grad_input], dx_bytes);
    const char *caps[] = {batch_cap, depth_cap};
    for (int i = 0; i < (c->untiled_only ? 0 : 2); i++) {
        run_under_cap(p, &t, &gr, caps[i]);
        if (memcmp(untiled_dx, gr.dev[tc_grad_input], dx_bytes) != 0)
            fail_msg("cap %s: grad_input differs from the untiled run", caps[i]);
    }
    unsetenv("TCONV_OPENCL_MAX_ALLOC");
    free(untiled_dx);
    tc_gradients_free(&gr);
    tc_tensors_free(&t);
}

static tconv_problem_t problem(int rank, tconv_dtype_t dtype, int64_t n, int64_t cin, int64_t cout,
                               int64_t groups, const int64_t in[3], const int64_t k[3],
                               const int64_t s[3], tconv_padding_t padding) {
    tconv_problem_t p;
    tconv_problem_init(&p, rank);
    p.dtype = dtype;
    p.batch = n;
    p.in_channels = cin;
    p.out_channels = cout;
    p.groups = groups;
    for (int a = 0; a < rank; a++) {
        p.input_size[a] = in[a];
        p.kernel_size[a] = k[a];
        p.strides[a] = s[a];
    }
    p.padding = padding;
    p.passes = TCONV_PASS_TRAINING;
    return p;
}

/* Explicit padding 1 on every axis (the suite's k 4 s 2 p 1 layers). */
static void crop_one(tconv_problem_t *p) {
    for (int a = 0; a < p->spatial_rank; a++)
        p->pads_begin[a] = p->pads_end[a] = 1;
}

int main(void) {
    tc_clean_environment();
    if (tconv_context_create(&g_ctx, NULL) != tconv_success)
        return tc_cannot_run("no tconv context: %s", tconv_get_last_error());
    if (!tc_has_device(g_ctx, "opencl:0")) {
        tconv_context_destroy(g_ctx);
        return tc_cannot_run("no OpenCL device (opencl:0)");
    }

    static tiled_case_t cases[8];
    /* W = 40: 25 rows per dw chunk, so 4 chunks untiled and 2 per tile. */
    cases[0].name = "f32_channels_last_keras_same_chunks";
    cases[0].problem =
        problem(3, tconv_f32, 3, 8, 6, 1, (const int64_t[]){4, 8, 40}, (const int64_t[]){3, 2, 3},
                (const int64_t[]){2, 1, 2}, tconv_padding_same);
    /* Groups, dilation, and crops of -1, -1, -2 from a larger output_shape. */
    cases[1].name = "f64_channels_first_torch_groups_negative_crop";
    cases[1].problem =
        problem(3, tconv_f64, 2, 4, 6, 2, (const int64_t[]){5, 4, 6}, (const int64_t[]){2, 3, 2},
                (const int64_t[]){1, 2, 3}, tconv_padding_same_upper);
    cases[1].problem.dilation[0] = 2;
    cases[1].problem.data_format = tconv_channels_first;
    cases[1].problem.kernel_layout = tconv_kernel_torch;
    memcpy(cases[1].problem.output_shape, (const int64_t[]){9, 10, 20}, 3 * sizeof(int64_t));
    /* Keras valid with kernel 1 < stride 3 along D: 2 of 3 output depths
     * get no tap, only grad_bias reads them. */
    cases[2].name = "f32_channels_first_kernel_shorter_than_stride";
    cases[2].problem =
        problem(3, tconv_f32, 2, 3, 5, 1, (const int64_t[]){6, 3, 4}, (const int64_t[]){1, 2, 2},
                (const int64_t[]){3, 1, 2}, tconv_padding_valid);
    cases[2].problem.data_format = tconv_channels_first;

    /* The suite's k = s layers scaled down (vnet_up32): 8 x 16 x 32 = 4096
     * output points per sample, 4 grad_bias chunks of 1024 per sample, 16
     * output channels per vector; the depth cap gives tiles own ranges that
     * end inside a chunk. */
    cases[3].name = "f32_channels_last_k_eq_s_bias_chunks";
    cases[3].problem =
        problem(3, tconv_f32, 2, 16, 16, 1, (const int64_t[]){4, 8, 16}, (const int64_t[]){2, 2, 2},
                (const int64_t[]){2, 2, 2}, tconv_padding_valid);
    /* gan_g5 scaled down: Cout = 1 (scalar grad_bias chunks), k 4, s 2,
     * crop 1 per side. */
    cases[4].name = "f32_channels_last_cout1_k4s2p1";
    cases[4].problem =
        problem(3, tconv_f32, 3, 2, 1, 1, (const int64_t[]){4, 8, 16}, (const int64_t[]){4, 4, 4},
                (const int64_t[]){2, 2, 2}, tconv_padding_explicit);
    crop_one(&cases[4].problem);

    /* gan_g5's grad_kernel tile: 2 vectors of 16 input channels x all
     * (2) output channels x the 4 W taps of a (kd, kh) in one work-item,
     * whose W ranges differ at both ends (crop 1); W = 20: 3 rows summed in
     * registers at a time, 51 rows per chunk (a chunk ends inside a group
     * of 3). One tile: the forward pass cannot split this input's depth. */
    cases[5].name = "f32_channels_last_w_taps_k4s2p1";
    cases[5].problem =
        problem(3, tconv_f32, 2, 32, 2, 1, (const int64_t[]){3, 5, 20}, (const int64_t[]){4, 4, 4},
                (const int64_t[]){2, 2, 2}, tconv_padding_explicit);
    crop_one(&cases[5].problem);
    cases[5].untiled_only = 1;

    /* grad_input's 4-vector tile (Cin = 64, 4 x 16 channels x 4 W points)
     * on the k = s layers (nnunet_up1, vnet_up32) scaled down; W = 22: the
     * last tile of points runs past the end of W. */
    cases[6].name = "f32_channels_last_dx_4_vectors_k_eq_s";
    cases[6].problem =
        problem(3, tconv_f32, 2, 64, 16, 1, (const int64_t[]){3, 4, 22}, (const int64_t[]){2, 2, 2},
                (const int64_t[]){2, 2, 2}, tconv_padding_valid);
    /* The same tile with gan_g3's taps (k 4, s 2, crop 1): points with
     * different W taps in one tile. Untiled only (as case 5). */
    cases[7].name = "f32_channels_last_dx_4_vectors_k4s2p1";
    cases[7].problem =
        problem(3, tconv_f32, 2, 64, 8, 1, (const int64_t[]){3, 4, 10}, (const int64_t[]){4, 4, 4},
                (const int64_t[]){2, 2, 2}, tconv_padding_explicit);
    crop_one(&cases[7].problem);
    cases[7].untiled_only = 1;

    struct CMUnitTest tests[8];
    for (int i = 0; i < 8; i++) {
        cases[i].problem.use_bias = 1;
        tests[i] = (struct CMUnitTest){cases[i].name, test_tiled, NULL, NULL, &cases[i]};
    }
    int rc = cmocka_run_group_tests_name("opencl_backward_tiles", tests, NULL, NULL);
    tconv_context_destroy(g_ctx);
    return rc;
}
