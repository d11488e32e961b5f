/* SPDX-License-Identifier: Apache-2.0 */
/* The cpu backend's backward passes on layers large enough for their work
 * decomposition to matter, on every kernel family (TCONV_CPU_ISA), against
 * the float64 reference adjoint:
 *   - several blocks of input points and splits of them (backward weights,
 *     fewer units than cpu_backward_weights.c's MIN_PIECES);
 *   - channels_first through the per-thread slabs of both passes;
 *   - dot tiles for dL/dx (two input channels per group, many outputs);
 *   - groups with a negative begin crop (ONNX output_shape past the full
 *     output), wide channel counts with partial vectors, dilation;
 *   - a batch of 4096 single points (per-sample tables, splits across
 *     samples);
 *   - one output channel (the suite's gan_g5, scaled down): backward
 *     weights fuses the W taps into one tile (their sums side by side, the
 *     taps' W edges alone), backward data reads a run's W taps as one tap
 *     of ntaps_w x Cout/G channels; the same with dilation 2 (no merged
 *     taps, fused taps d*Cout apart) and groups (Cout/G = 1);
 *   - k = s = 2 with three output channels (nnunet_up1 scaled down): merged
 *     W taps of Cout channels each;
 *   - kernel = 2 x stride (gan_g3 scaled down, and strides 1, 2, 3 with
 *     output padding): backward data by Winograd F(2, 2) in float32
 *     channels_last (cpu_winograd.c), with channel tails and
 *     partial tiles, directly in the other variants; the wide layer's k 3,
 *     dilation 2 by F(2, 3) on each parity of dx. Their backward weights
 *     pass runs by Winograd F(2, 2) too (cpu_winograd_weights.c; float32
 *     channels_last), dL/db by the direct pass.
 * Each gradient must also be bit-identical on 1 and 3 threads: both passes
 * fix their order of summation independently of the thread count; and dL/db
 * asked for alone must equal dL/db asked for with dL/dw (channels_last sums
 * it inside the weights pass, in the same chunks as alone). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/monotonic_clock.h"
#include "random_suite.h"
#include "test_support.h"

#define ISA_COUNT   3
#define THREAD_RUNS 2
#define LAYER_COUNT 10

static const char *const isas[ISA_COUNT] = {"avx512", "avx2", "c"};
static const char *const threads[THREAD_RUNS] = {"1", "3"};
static tconv_context_t contexts[ISA_COUNT][THREAD_RUNS];

/* A 3D-GAN generator layer scaled down: k 4, s 2, crop 1, 2 x 5 x 6 x 7. */
static void make_gan_layer(tconv_problem_t *p, int64_t cin, int64_t cout) {
    tconv_problem_init(p, 3);
    p->batch = 2;
    p->in_channels = cin;
    p->out_channels = cout;
    p->input_size[0] = 5;
    p->input_size[1] = 6;
    p->input_size[2] = 7;
    for (int a = 0; a < 3; a++) {
        p->kernel_size[a] = 4;
        p->strides[a] = 2;
        p->pads_begin[a] = p->pads_end[a] = 1;
    }
    p->padding = tconv_padding_explicit;
}

/* Layer `which` in dtype dt and data format df. */
static void make_layer(int which, tconv_dtype_t dt, tconv_data_format_t df, tconv_problem_t *p) {
    switch (which) {
    case 0: /* 27 units (< MIN_PIECES): splits; dL/dz of 4 MB: many blocks */
        tconv_problem_init(p, 3);
        p->batch = 2;
        p->in_channels = 3;
        p->out_channels = 5;
        for (int a = 0; a < 3; a++) {
            p->input_size[a] = a == 2 ? 8 : 40;
            p->kernel_size[a] = 3;
            p->strides[a] = 2;
            p->pads_begin[a] = p->pads_end[a] = 1;
            p->output_padding[a] = 1;
        }
        p->padding = tconv_padding_explicit;
        p->has_output_padding = 1;
        p->kernel_layout = tconv_kernel_torch;
        break;
    case 1: /* dL/dx by dot tiles: 2 input channels, 40 output channels */
        tconv_problem_init(p, 3);
        p->in_channels = 2;
        p->out_channels = 40;
        for (int a = 0; a < 3; a++) {
            p->input_size[a] = 12;
            p->kernel_size[a] = 2;
            p->strides[a] = 2;
        }
        p->padding = tconv_padding_valid;
        break;
    case 2: /* groups, ONNX output_shape longer than the full output: pb < 0 */
        tconv_problem_init(p, 2);
        p->groups = 2;
        p->in_channels = 6;
        p->out_channels = 10;
        p->input_size[0] = 30;
        p->input_size[1] = 20;
        p->kernel_size[0] = 3;
        p->kernel_size[1] = 2;
        p->strides[0] = 2;
        p->strides[1] = 3;
        p->padding = tconv_padding_same_upper;
        p->output_shape[0] = 70;
        p->output_shape[1] = 65;
        p->kernel_layout = tconv_kernel_torch;
        break;
    case 4: /* a large batch of single points: blocks and splits across samples */
        tconv_problem_init(p, 3);
        p->batch = 4096;
        p->in_channels = 2;
        p->out_channels = 3;
        break;
    case 5: /* gan_g5 scaled down: Cout 1, k 4, s 2, crop 1; W edges in every box */
        make_gan_layer(p, 20, 1);
        break;
    case 6: /* Cout/G 1 with dilation 2 and two groups, W kernel 5 */
        tconv_problem_init(p, 3);
        p->groups = 2;
        p->in_channels = 34;
        p->out_channels = 2;
        p->input_size[0] = 4;
        p->input_size[1] = 5;
        p->input_size[2] = 11;
        p->kernel_size[0] = 2;
        p->kernel_size[1] = 3;
        p->kernel_size[2] = 5;
        for (int a = 0; a < 3; a++) {
            p->dilation[a] = 2;
        }
        p->padding = tconv_padding_same;
        p->kernel_layout = tconv_kernel_torch;
        break;
    case 8: /* gan_g3 scaled down: k = 2s, backward data by Winograd (float32,
             * channels_last); channel tails, odd lengths (partial tiles) */
        make_gan_layer(p, 40, 17);
        p->kernel_layout = tconv_kernel_torch;
        break;
    case 9: /* k = 2s with strides 1, 2, 3 and crops 0, 1, 2: Winograd classes
             * 1 x 2 x 3; output padding (dz points past the full output) */
        tconv_problem_init(p, 3);
        p->batch = 3;
        p->in_channels = 16;
        p->out_channels = 24;
        p->input_size[0] = 4;
        p->input_size[1] = 5;
        p->input_size[2] = 3;
        for (int a = 0; a < 3; a++) {
            p->strides[a] = a + 1;
            p->kernel_size[a] = 2 * (a + 1);
            p->pads_begin[a] = p->pads_end[a] = a;
            p->output_padding[a] = a;
        }
        p->padding = tconv_padding_explicit;
        p->has_output_padding = 1;
        break;
    case 7: /* nnunet_up1 scaled down: k = s = 2, few output channels */
        tconv_problem_init(p, 3);
        p->in_channels = 24;
        p->out_channels = 3;
        for (int a = 0; a < 3; a++) {
            p->input_size[a] = 9;
            p->kernel_size[a] = 2;
            p->strides[a] = 2;
        }
        p->padding = tconv_padding_valid;
        break;
    default: /* wide channels, partial vectors, dilation */
        tconv_problem_init(p, 3);
        p->in_channels = 40;
        p->out_channels = 36;
        p->input_size[0] = 6;
        p->input_size[1] = 7;
        p->input_size[2] = 9;
        for (int a = 0; a < 3; a++) {
            p->kernel_size[a] = 3;
            p->dilation[a] = 2;
        }
        p->padding = tconv_padding_same;
        break;
    }
    p->dtype = dt;
    p->data_format = df;
    p->use_bias = 1;
    p->passes = TCONV_PASS_TRAINING;
}

static size_t bytes_of(int64_t count, tconv_dtype_t dtype) {
    return (size_t)count * (dtype == tconv_f64 ? sizeof(double) : sizeof(float));
}

/* Runs the layer on one context into gr->dev, and dL/db alone into
 * bias_alone; returns 0, or -1 after printing. */
static int run_backward(tconv_context_t ctx, const tconv_problem_t *p, const tc_tensors_t *t,
                        tc_gradients_t *gr, void *bias_alone, const char *where) {
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, p, "cpu:0");
    if (st == tconv_success) {
        st = tconv_plan_set_weights(plan, t->dev_kernel, t->dev_bias);
    }
    if (st == tconv_success) {
        tc_gradients_poison(gr, p->dtype);
        st = tconv_plan_execute_backward(plan, t->dev_in, gr->dev_grad_out, gr->dev[tc_grad_input],
                                         gr->dev[tc_grad_kernel], gr->dev[tc_grad_bias]);
    }
    if (st == tconv_success) {
        st = tconv_plan_execute_backward(plan, t->dev_in, gr->dev_grad_out, NULL, NULL, bias_alone);
    }
    tconv_plan_destroy(plan);
    if (st != tconv_success) {
        print_error("%s: %s: %s\n", where, tconv_status_name(st), tconv_get_last_error());
        return -1;
    }
    return 0;
}

static void check_layer(int which, tconv_dtype_t dt, tconv_data_format_t df) {
    tconv_problem_t p;
    make_layer(which, dt, df, &p);
    char desc[2048], where[2300], msg[2048];
    tc_format_problem(&p, desc, sizeof desc);
    tc_rng_t rng;
    tc_rng_seed(&rng, 1000 + (uint64_t)which);
    tc_tensors_t t;
    tc_gradients_t gr;
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0 ||
        tc_gradients_make(&t, &rng, &gr, msg, sizeof msg) != 0) {
        fail_msg("%s\n  problem: %s", msg, desc);
    }
    void *first[tc_grad_count];
    for (int k = 0; k < tc_grad_count; k++) {
        first[k] = malloc(bytes_of(gr.count[k], dt) + 1);
        assert_non_null(first[k]);
    }
    void *bias_alone = malloc(bytes_of(gr.count[tc_grad_bias], dt) + 1);
    assert_non_null(bias_alone);
    int failures = 0;
    for (int i = 0; i < ISA_COUNT; i++) {
        for (int r = 0; r < THREAD_RUNS; r++) {
            snprintf(where, sizeof where, "layer %d, %s, %s threads\n  problem: %s", which, isas[i],
                     threads[r], desc);
            if (run_backward(contexts[i][r], &p, &t, &gr, bias_alone, where) != 0) {
                failures++;
                continue;
            }
            if (memcmp(bias_alone, gr.dev[tc_grad_bias], bytes_of(gr.count[tc_grad_bias], dt)) !=
                0) {
                print_error("%s\n  grad_bias alone differs from grad_bias with grad_kernel\n",
                            where);
                failures++;
            }
            for (int k = 0; k < tc_grad_count; k++) {
                int64_t at;
                double err = tc_gradients_max_error(&gr, (tc_gradient_t)k, dt, &at);
                size_t bytes = bytes_of(gr.count[k], dt);
                if (!(err <= tc_tolerance(dt))) {
                    print_error("%s\n  %s error %.3g at element %lld: got %.9g, reference %.9g\n",
                                where, tc_gradient_name((tc_gradient_t)k), err, (long long)at,
                                tc_element(gr.dev[k], dt, at), gr.ref[k][at]);
                    failures++;
                } else if (r == 0) {
                    memcpy(first[k], gr.dev[k], bytes);
                } else if (memcmp(first[k], gr.dev[k], bytes) != 0) {
                    print_error("%s\n  %s differs from the 1-thread result\n", where,
                                tc_gradient_name((tc_gradient_t)k));
                    failures++;
                }
            }
        }
    }
    for (int k = 0; k < tc_grad_count; k++) {
        free(first[k]);
    }
    free(bias_alone);
    tc_gradients_free(&gr);
    tc_tensors_free(&t);
    assert_int_equal(failures, 0);
}

/* Every layer in one dtype and data format (the test's state). */
typedef struct variant {
    tconv_dtype_t dtype;
    tconv_data_format_t format;
} variant_t;

static const variant_t variants[] = {
    {tconv_f32, tconv_channels_last},
    {tconv_f32, tconv_channels_first},
    {tconv_f64, tconv_channels_last},
    {tconv_f64, tconv_channels_first},
};

static void test_layers(void **state) {
    const variant_t *v = *state;
    for (int which = 0; which < LAYER_COUNT; which++) {
        check_layer(which, v->dtype, v->format);
    }
}

/* Plan creation with both backward passes on problems whose tables must
 * follow the work, not the batch or the tensor lengths (batch 2^40 of a
 * pointwise layer once built a batch-sized table for minutes): quick, and
 * either a plan or a clean refusal. */
static void test_extreme_problems_plan_quickly(void **state) {
    (void)state;
    tconv_problem_t cases[4];
    tconv_problem_init(&cases[0], 3);
    cases[0].batch = (int64_t)1 << 40;
    cases[1] = cases[0];
    cases[1].data_format = tconv_channels_first;
    tconv_problem_init(&cases[2], 1);
    cases[2].input_size[0] = (int64_t)1 << 40;
    cases[2].kernel_size[0] = 3;
    tconv_problem_init(&cases[3], 1);
    cases[3].input_size[0] = 4;
    cases[3].kernel_size[0] = 3;
    cases[3].strides[0] = 2;
    cases[3].output_shape[0] = (int64_t)1 << 40;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char desc[2048];
        cases[i].passes = TCONV_PASS_TRAINING;
        tc_format_problem(&cases[i], desc, sizeof desc);
        tconv_plan_t plan = NULL;
        double start = tconv_monotonic_seconds();
        tconv_status_t st = tconv_plan_create(&plan, contexts[0][1], &cases[i], "cpu:0");
        double seconds = tconv_monotonic_seconds() - start;
        tconv_plan_destroy(plan);
        if (seconds > 2.0 ||
            (st != tconv_success && st != tconv_out_of_memory && st != tconv_invalid_arguments)) {
            fail_msg("plan_create -> %s in %.2f s: %s\n  problem: %s", tconv_status_name(st),
                     seconds, st == tconv_success ? "" : tconv_get_last_error(), desc);
        }
    }
}

/* One context per kernel family and thread count (the cpu backend reads
 * TCONV_CPU_ISA and the core TCONV_NUM_THREADS when a context loads it). */
static int make_contexts(void **state) {
    (void)state;
    tc_clean_environment();
    for (int i = 0; i < ISA_COUNT; i++) {
        for (int r = 0; r < THREAD_RUNS; r++) {
            setenv("TCONV_CPU_ISA", isas[i], 1);
            setenv("TCONV_NUM_THREADS", threads[r], 1);
            if (tconv_context_create(&contexts[i][r], NULL) != tconv_success) {
                print_error("tconv_context_create: %s\n", tconv_get_last_error());
                return -1;
            }
        }
    }
    return 0;
}

static int destroy_contexts(void **state) {
    (void)state;
    for (int i = 0; i < ISA_COUNT; i++) {
        for (int r = 0; r < THREAD_RUNS; r++) {
            tconv_context_destroy(contexts[i][r]);
        }
    }
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        {"layers_f32_channels_last", test_layers, NULL, NULL, (void *)&variants[0]},
        {"layers_f32_channels_first", test_layers, NULL, NULL, (void *)&variants[1]},
        {"layers_f64_channels_last", test_layers, NULL, NULL, (void *)&variants[2]},
        {"layers_f64_channels_first", test_layers, NULL, NULL, (void *)&variants[3]},
        cmocka_unit_test(test_extreme_problems_plan_quickly),
    };
    return cmocka_run_group_tests(tests, make_contexts, destroy_contexts);
}
