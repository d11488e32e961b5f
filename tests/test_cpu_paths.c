/* SPDX-License-Identifier: Apache-2.0 */
/* The CPU backend's forward paths that the layer's shape and the output's
 * address choose, each against the float64 reference, with the plan's debug
 * line as proof of the path taken:
 *   - W phases merged into the output channels (cpu_plan_forward.c): W kernel
 *     = stride, channels_last, one group, few output channels (the suite's
 *     vnet_up32, nnunet_up1, nnunet_aniso, unet3d_up2, scaled down), in both
 *     kernel layouts, float32 and float64, with channel tails, activations
 *     fused in the tile or applied after it, and a batch set below the
 *     plan's (tconv_plan_set_batch); and layers that must not merge;
 *   - non-temporal output stores (cpu_tile_args_t.stream), forced with
 *     TCONV_CPU_STREAM=1 (by default only outputs larger than the last-level
 *     cache use them): into a 64-byte aligned output, and into one 16 bytes
 *     off, which must take the cached stores and be as right;
 *   - the backward data pass's non-temporal dx stores, by the same rule
 *     (cpu_plan_choose_streaming): dL/dx of layers shaped like the suite's
 *     gan_g5 (one output channel), nnunet_up1 and keras_k3s2, scaled down,
 *     into aligned and misaligned dx, and layers whose dx cannot stream;
 *   - the backward data pass by Winograd F(2, 2) (gan_g3's shape: kernel =
 *     2 x stride), and not when TCONV_CPU_WINOGRAD=0 or in float64;
 *   - the forward pass by Winograd F(2, 3) (dilated_k3d2's shape), with
 *     activations, and the tiles when TCONV_CPU_WINOGRAD=0;
 *   - the forward pass of one output channel, k4 s2 p1 (gan_g5's shape), by
 *     Winograd F(2, 2) with the tiles in the lanes, and the layers it
 *     declines.
 * The output is filled with NaN first, so an element never written fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

typedef struct path_case {
    const char *name;
    int64_t batch, cin, cout, groups;
    int64_t input[3], kernel[3], strides[3];
    tconv_data_format_t format;
    tconv_kernel_layout_t layout;
    tconv_activation_t activation;
    tconv_dtype_t dtype;
    int merged;         /* with which kernels the W phases must merge (NONE, WIDE, ALL) */
    const char *stream; /* TCONV_CPU_STREAM for the plan, or NULL */
    int streamed;       /* the plan line must say non-temporal stores */
    int64_t run_batch;  /* 0: the plan's; else tconv_plan_set_batch first */
} path_case_t;

#define CL  tconv_channels_last
#define CF  tconv_channels_first
#define KK  tconv_kernel_keras
#define KT  tconv_kernel_torch
#define F32 tconv_f32
#define F64 tconv_f64
/* The W phases merge when the output channels fill less than a tile's
 * channel vectors: NONE never; WIDE with the AVX-512 kernels (4 vectors of
 * 16 floats or 8 doubles), not with AVX2's (2 of 8 or 4) or C's (2 of 4 or
 * 2); ALL with every family (4 float channels). */
#define NONE 0
#define WIDE 1
#define ALL  2

// clang-format off
static const path_case_t cases[] = {
    {"vnet_merged",        2, 16, 16, 1, {4, 6, 8},  {2, 2, 2}, {2, 2, 2}, CL, KK, tconv_activation_linear, F32, WIDE, NULL, 0, 0},
    {"nnunet_up1_torch",   1, 24, 4,  1, {5, 4, 6},  {2, 2, 2}, {2, 2, 2}, CL, KT, tconv_activation_relu,   F32, ALL,  NULL, 0, 0},
    {"aniso_f64",          2, 16, 16, 1, {3, 6, 5},  {1, 2, 2}, {1, 2, 2}, CL, KK, tconv_activation_linear, F64, WIDE, NULL, 0, 0},
    {"unet3d_tails_elu",   1, 20, 20, 1, {3, 4, 5},  {2, 2, 2}, {2, 2, 2}, CL, KT, tconv_activation_elu,    F32, WIDE, NULL, 0, 0},
    {"w_stride3_batch",    3, 8,  4,  1, {2, 3, 4},  {1, 2, 3}, {1, 2, 3}, CL, KK, tconv_activation_linear, F32, ALL,  NULL, 0, 2},
    {"vnet_streamed",      2, 16, 16, 1, {4, 6, 8},  {2, 2, 2}, {2, 2, 2}, CL, KK, tconv_activation_relu,   F32, WIDE, "1", 1, 0},
    {"aniso_streamed_f64", 1, 16, 16, 1, {3, 6, 5},  {1, 2, 2}, {1, 2, 2}, CL, KT, tconv_activation_linear, F64, WIDE, "1", 1, 0},
    {"w_k4s4_streamed",    2, 12, 4,  1, {3, 4, 6},  {2, 2, 4}, {2, 2, 4}, CL, KK, tconv_activation_relu,   F32, ALL,  "1", 1, 0},
    {"k3s2_streamed",      1, 32, 64, 1, {4, 5, 6},  {3, 3, 3}, {2, 2, 2}, CL, KK, tconv_activation_linear, F32, NONE, "1", 1, 0},
    {"stream_off",         1, 16, 16, 1, {4, 6, 8},  {2, 2, 2}, {2, 2, 2}, CL, KK, tconv_activation_linear, F32, WIDE, "0", 0, 0},
    /* Not merged: two groups, channels_first, W kernel != stride, many channels. */
    {"groups2",            1, 16, 16, 2, {3, 4, 5},  {2, 2, 2}, {2, 2, 2}, CL, KK, tconv_activation_linear, F32, NONE, NULL, 0, 0},
    {"channels_first",     1, 16, 16, 1, {3, 4, 5},  {2, 2, 2}, {2, 2, 2}, CF, KK, tconv_activation_linear, F32, NONE, NULL, 0, 0},
    {"w_k3s2",             1, 16, 16, 1, {3, 4, 5},  {2, 2, 3}, {2, 2, 2}, CL, KK, tconv_activation_linear, F32, NONE, NULL, 0, 0},
    {"cout64",             1, 16, 64, 1, {3, 4, 5},  {2, 2, 2}, {2, 2, 2}, CL, KK, tconv_activation_linear, F32, NONE, NULL, 0, 0},
};
// clang-format on
#define CASE_COUNT (sizeof cases / sizeof cases[0])

static void case_problem(const path_case_t *c, int64_t batch, tconv_problem_t *p) {
    tconv_problem_init(p, 3);
    p->dtype = c->dtype;
    p->batch = batch;
    p->in_channels = c->cin;
    p->out_channels = c->cout;
    p->groups = c->groups;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = c->input[a];
        p->kernel_size[a] = c->kernel[a];
        p->strides[a] = c->strides[a];
    }
    p->data_format = c->format;
    p->kernel_layout = c->layout;
    p->use_bias = 1;
    p->activation = c->activation;
}

/* Runs the case's plan into an output at @p offset bytes past a 64-byte
 * boundary and checks it against the reference of @p t. */
static void run_into(const path_case_t *c, tconv_plan_t plan, tc_tensors_t *t, size_t offset) {
    const size_t es = c->dtype == F64 ? sizeof(double) : sizeof(float);
    const size_t bytes = (size_t)t->out_count * es;
    char *block = aligned_alloc(64, (bytes + offset + 63) / 64 * 64);
    assert_non_null(block);
    void *saved = t->dev_out;
    t->dev_out = block + offset;
    tc_tensors_poison_output(t);
    TC_CHECK_OK(tconv_plan_execute(plan, t->dev_in, t->dev_out));
    int64_t worst = 0;
    const double err = tc_tensors_max_error(t, &worst);
    const double got = tc_element(t->dev_out, c->dtype, worst);
    t->dev_out = saved;
    free(block);
    print_message("%s, output %zu bytes past a 64-byte boundary: max rel err %.2g\n", c->name,
                  offset, err);
    if (!(err <= tc_tolerance(c->dtype)))
        fail_msg("%s (output offset %zu): error %.3g at element %lld: got %.9g, reference %.9g",
                 c->name, offset, err, (long long)worst, got, t->ref[worst]);
}

/* A cpu:0 plan of @p p made with TCONV_CPU_STREAM set to @p stream (unset
 * when NULL); the plan reads it once, when it is created. */
static tconv_plan_t plan_streaming(tconv_context_t ctx, const tconv_problem_t *p,
                                   const char *stream) {
    if (stream)
        setenv("TCONV_CPU_STREAM", stream, 1);
    else
        unsetenv("TCONV_CPU_STREAM");
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_plan_create(&plan, ctx, p, "cpu:0"));
    unsetenv("TCONV_CPU_STREAM");
    return plan;
}

/* The kernel family every case runs (TCONV_CPU_ISA). */
static const char *isa = "avx512";

static void test_case(void **state) {
    const path_case_t *c = *state;
    tconv_context_t ctx;
    tc_log_t log;
    TC_CHECK_OK(tc_context_create_logged(&ctx, 2, &log));
    tconv_problem_t p;
    case_problem(c, c->batch, &p);
    tconv_plan_t plan = plan_streaming(ctx, &p, c->stream);
    /* The forward plan's line ("plan: <isa> ... work items per sample ..."). */
    const char *end = strstr(log.text, "work items per sample");
    if (!end)
        fail_msg("%s: no cpu plan line in the log:\n%s", c->name, log.text);
    const char *line = end;
    while (line > log.text && line[-1] != '\n')
        line--;
    char isa_word[32];
    snprintf(isa_word, sizeof isa_word, "plan: %s ", isa);
    if (!tc_contains(line, isa_word))
        fail_msg("%s: the plan does not use the %s kernels:\n%s", c->name, isa, line);
    const int merged = tc_contains(line, "W phases merged");
    const int streamed = tc_contains(line, "non-temporal output stores");
    const int want_merged = c->merged == ALL || (c->merged == WIDE && !strcmp(isa, "avx512"));
    if (merged != want_merged || streamed != c->streamed)
        fail_msg("%s: the plan line says merged %d, streamed %d; expected %d, %d:\n%s", c->name,
                 merged, streamed, want_merged, c->streamed, line);

    /* Weights from the full batch's tensors; the reference of the batch run. */
    tc_rng_t rng;
    tc_rng_seed(&rng, 11);
    tc_tensors_t t;
    char msg[2048];
    case_problem(c, c->run_batch ? c->run_batch : c->batch, &p);
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s: %s", c->name, msg);
    TC_CHECK_OK(tconv_plan_set_weights(plan, t.dev_kernel, t.dev_bias));
    if (c->run_batch)
        TC_CHECK_OK(tconv_plan_set_batch(plan, c->run_batch));
    run_into(c, plan, &t, 0);
    run_into(c, plan, &t, 16);
    tc_tensors_free(&t);
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
}

/* A backward data layer: channels_last, bias, explicit symmetric crop. */
typedef struct dx_case {
    const char *name;
    int64_t batch, cin, cout;
    int64_t input[3], kernel, stride, crop;
    tconv_dtype_t dtype;
    const char *stream; /* TCONV_CPU_STREAM for the plan */
    int streamed;       /* the backward plan line must say non-temporal dx stores */
    const char *wino;   /* TCONV_CPU_WINOGRAD for the plan, or NULL */
    int winograd;       /* the backward plan line must say Winograd */
} dx_case_t;

// clang-format off
static const dx_case_t dx_cases[] = {
    {"dx_gan_g5_streamed",     2, 32, 1,  {3, 4, 5}, 4, 2, 1, F32, "1", 1, "0",  0},
    {"dx_up1_streamed",        1, 16, 3,  {4, 3, 5}, 2, 2, 0, F32, "1", 1, NULL, 0},
    {"dx_k3s2_streamed_f64",   1, 8,  5,  {3, 4, 6}, 3, 2, 1, F64, "1", 1, NULL, 0},
    {"dx_gan_g5_cached",       2, 32, 1,  {3, 4, 5}, 4, 2, 1, F32, "0", 0, "0",  0},
    /* 20 floats per dx point: its points are not 64-byte strided */
    {"dx_cin20_never",         1, 20, 4,  {3, 4, 5}, 2, 2, 0, F32, "1", 0, NULL, 0},
    /* kernel = 2 x stride, a vector of channels each way: Winograd F(2, 2)
     * (cpu_winograd.c) unless TCONV_CPU_WINOGRAD=0 */
    {"dx_gan_g3_winograd",     2, 32, 16, {3, 4, 5}, 4, 2, 1, F32, "0", 0, NULL, 1},
    {"dx_gan_g3_direct",       2, 32, 16, {3, 4, 5}, 4, 2, 1, F32, "0", 0, "0",  0},
    {"dx_f64_never_winograd",  1, 16, 16, {3, 4, 5}, 4, 2, 1, F64, "0", 0, NULL, 0},
    /* one dz channel (gan_g5's shape): F(2, 2) with the sums in registers */
    {"dx_gan_g5_winograd",     2, 40, 1,  {3, 4, 5}, 4, 2, 1, F32, "0", 0, NULL, 1},
    {"dx_gan_g5_winograd_streamed", 2, 32, 1, {3, 4, 5}, 4, 2, 1, F32, "1", 1, NULL, 1},
    /* rows of 3 tiles along W: each block's last tile alone */
    {"dx_gan_g5_winograd_odd", 1, 24, 1,  {5, 5, 6}, 4, 2, 1, F32, "0", 0, NULL, 1},
    /* 19 tiles along W: blocks of 16 and 3 per row, the first reading no
     * dz point past the row's end, the second past it */
    {"dx_gan_g5_winograd_wide", 2, 24, 1, {3, 2, 37}, 4, 2, 1, F32, "0", 0, NULL, 1},
    /* the rows' first points at W 0 (no zeros before them), 2 and 3 */
    {"dx_gan_g5_winograd_crop0", 2, 16, 1, {4, 3, 9}, 4, 2, 0, F32, "0", 0, NULL, 1},
    {"dx_gan_g5_winograd_crop2", 2, 16, 1, {4, 5, 7}, 4, 2, 2, F32, "0", 0, NULL, 1},
    {"dx_gan_g5_winograd_crop3", 1, 16, 1, {5, 4, 6}, 4, 2, 3, F32, "0", 0, NULL, 1},
};
// clang-format on
#define DX_CASE_COUNT (sizeof dx_cases / sizeof dx_cases[0])

static void dx_problem(const dx_case_t *c, tconv_problem_t *p) {
    tconv_problem_init(p, 3);
    p->dtype = c->dtype;
    p->batch = c->batch;
    p->in_channels = c->cin;
    p->out_channels = c->cout;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = c->input[a];
        p->kernel_size[a] = c->kernel;
        p->strides[a] = c->stride;
        p->pads_begin[a] = p->pads_end[a] = c->crop;
    }
    p->padding = tconv_padding_explicit;
    p->data_format = CL;
    p->kernel_layout = KT;
    p->use_bias = 1;
    p->passes = TCONV_PASS_BACKWARD_DATA;
}

/* dL/dx into a buffer @p offset bytes past a 64-byte boundary, against the
 * reference. */
static void run_dx_into(const dx_case_t *c, tconv_plan_t plan, tc_tensors_t *t, tc_gradients_t *gr,
                        size_t offset) {
    const size_t es = c->dtype == F64 ? sizeof(double) : sizeof(float);
    const size_t bytes = (size_t)gr->count[tc_grad_input] * es;
    char *block = aligned_alloc(64, (bytes + offset + 63) / 64 * 64);
    assert_non_null(block);
    void *saved = gr->dev[tc_grad_input];
    gr->dev[tc_grad_input] = block + offset;
    tc_gradients_poison(gr, c->dtype);
    TC_CHECK_OK(tconv_plan_execute_backward(plan, t->dev_in, gr->dev_grad_out,
                                            gr->dev[tc_grad_input], NULL, NULL));
    int64_t worst = 0;
    const double err = tc_gradients_max_error(gr, tc_grad_input, c->dtype, &worst);
    const double got = tc_element(gr->dev[tc_grad_input], c->dtype, worst);
    gr->dev[tc_grad_input] = saved;
    free(block);
    print_message("%s, dx %zu bytes past a 64-byte boundary: max rel err %.2g\n", c->name, offset,
                  err);
    if (!(err <= tc_tolerance(c->dtype)))
        fail_msg("%s (dx offset %zu): error %.3g at element %lld: got %.9g, reference %.9g",
                 c->name, offset, err, (long long)worst, got, gr->ref[tc_grad_input][worst]);
}

static void test_dx_case(void **state) {
    const dx_case_t *c = *state;
    tconv_context_t ctx;
    tc_log_t log;
    TC_CHECK_OK(tc_context_create_logged(&ctx, 2, &log));
    tconv_problem_t p;
    dx_problem(c, &p);
    if (c->wino)
        setenv("TCONV_CPU_WINOGRAD", c->wino, 1);
    tconv_plan_t plan = plan_streaming(ctx, &p, c->stream);
    unsetenv("TCONV_CPU_WINOGRAD");
    const char *line = strstr(log.text, "plan: backward data:");
    if (!line)
        fail_msg("%s: no backward data plan line in the log:\n%s", c->name, log.text);
    const char *end = strchr(line, '\n');
    const int len = end ? (int)(end - line) : (int)strlen(line);
    const char *said = strstr(line, "non-temporal dx stores");
    const int streamed = said && (!end || said < end);
    said = strstr(line, "Winograd");
    const int winograd = said && (!end || said < end);
    if (streamed != c->streamed || winograd != c->winograd)
        fail_msg("%s: the plan line says streamed %d, Winograd %d; expected %d, %d:\n%.*s", c->name,
                 streamed, winograd, c->streamed, c->winograd, len, line);

    tc_rng_t rng;
    tc_rng_seed(&rng, 23);
    tc_tensors_t t;
    tc_gradients_t gr;
    char msg[2048];
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0 ||
        tc_gradients_make(&t, &rng, &gr, msg, sizeof msg) != 0)
        fail_msg("%s: %s", c->name, msg);
    TC_CHECK_OK(tconv_plan_set_weights(plan, t.dev_kernel, t.dev_bias));
    run_dx_into(c, plan, &t, &gr, 0);
    run_dx_into(c, plan, &t, &gr, 16);
    tc_gradients_free(&gr);
    tc_tensors_free(&t);
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
}

/* dL/dW by Winograd F(2, 2) (cpu_winograd_weights.c): layers whose kernel
 * is twice the stride on every axis (gan_g3's shape scaled down, with odd
 * sizes: half-empty tiles; and strides 1, 2, 3 on the three axes: 6
 * classes), in both kernel layouts, against the reference, with the bias
 * gradient from the direct pass; not with TCONV_CPU_WINOGRAD=0. */
static void test_weights_winograd(void **state) {
    (void)state;
    static const struct {
        int64_t batch, cin, cout, input[3], kernel[3], stride[3], crop[3];
        tconv_kernel_layout_t layout;
        const char *wino; /* TCONV_CPU_WINOGRAD, or NULL */
    } cases[] = {
        {2, 20, 24, {3, 4, 5}, {4, 4, 4}, {2, 2, 2}, {1, 1, 1}, KT, NULL},
        {1, 7, 16, {4, 3, 2}, {2, 4, 6}, {1, 2, 3}, {0, 1, 2}, KK, NULL},
        {2, 20, 24, {3, 4, 5}, {4, 4, 4}, {2, 2, 2}, {1, 1, 1}, KT, "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tconv_context_t ctx;
        tc_log_t log;
        TC_CHECK_OK(tc_context_create_logged(&ctx, 2, &log));
        tconv_problem_t p;
        tconv_problem_init(&p, 3);
        p.batch = cases[i].batch;
        p.in_channels = cases[i].cin;
        p.out_channels = cases[i].cout;
        for (int a = 0; a < 3; a++) {
            p.input_size[a] = cases[i].input[a];
            p.kernel_size[a] = cases[i].kernel[a];
            p.strides[a] = cases[i].stride[a];
            p.pads_begin[a] = p.pads_end[a] = cases[i].crop[a];
        }
        p.padding = tconv_padding_explicit;
        p.data_format = CL;
        p.kernel_layout = cases[i].layout;
        p.use_bias = 1;
        p.passes = TCONV_PASS_BACKWARD_WEIGHTS;
        if (cases[i].wino)
            setenv("TCONV_CPU_WINOGRAD", cases[i].wino, 1);
        tconv_plan_t plan = plan_streaming(ctx, &p, NULL);
        unsetenv("TCONV_CPU_WINOGRAD");
        const int winograd = tc_contains(log.text, "backward weights: Winograd F(2,2)");
        if (winograd != !cases[i].wino)
            fail_msg("case %zu: the log says Winograd %d, expected %d:\n%s", i, winograd,
                     !cases[i].wino, log.text);
        tc_rng_t rng;
        tc_rng_seed(&rng, 29 + i);
        tc_tensors_t t;
        tc_gradients_t gr;
        char msg[2048];
        if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0 ||
            tc_gradients_make(&t, &rng, &gr, msg, sizeof msg) != 0)
            fail_msg("case %zu: %s", i, msg);
        TC_CHECK_OK(tconv_plan_set_weights(plan, t.dev_kernel, t.dev_bias));
        tc_gradients_poison(&gr, F32);
        TC_CHECK_OK(tconv_plan_execute_backward(plan, t.dev_in, gr.dev_grad_out, NULL,
                                                gr.dev[tc_grad_kernel], gr.dev[tc_grad_bias]));
        for (int which = tc_grad_kernel; which <= tc_grad_bias; which++) {
            int64_t worst = 0;
            const double err = tc_gradients_max_error(&gr, which, F32, &worst);
            print_message("dW by Winograd, case %zu, %s: max rel err %.2g\n", i,
                          which == tc_grad_kernel ? "dW" : "db", err);
            if (!(err <= tc_tolerance(F32)))
                fail_msg("case %zu, %s: error %.3g at element %lld: got %.9g, reference %.9g", i,
                         which == tc_grad_kernel ? "dW" : "db", err, (long long)worst,
                         tc_element(gr.dev[which], F32, worst), gr.ref[which][worst]);
        }
        tc_gradients_free(&gr);
        tc_tensors_free(&t);
        tconv_plan_destroy(plan);
        tconv_context_destroy(ctx);
    }
}

/* Runs @p plan's forward pass on tensors of @p p (its batch: the run's,
 * set on the plan first when @p set_batch) from seed @p seed, and checks
 * the output against the float64 reference; @p what names the case. */
static void check_forward(tconv_plan_t plan, const tconv_problem_t *p, uint64_t seed, int set_batch,
                          const char *what) {
    tc_rng_t rng;
    tc_rng_seed(&rng, seed);
    tc_tensors_t t;
    char msg[2048];
    if (tc_tensors_make(p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s: %s", what, msg);
    TC_CHECK_OK(tconv_plan_set_weights(plan, t.dev_kernel, t.dev_bias));
    if (set_batch)
        TC_CHECK_OK(tconv_plan_set_batch(plan, p->batch));
    tc_tensors_poison_output(&t);
    TC_CHECK_OK(tconv_plan_execute(plan, t.dev_in, t.dev_out));
    int64_t worst = 0;
    const double err = tc_tensors_max_error(&t, &worst);
    print_message("%s: max rel err %.2g\n", what, err);
    if (!(err <= tc_tolerance(tconv_f32)))
        fail_msg("%s: error %.3g at element %lld: got %.9g, reference %.9g", what, err,
                 (long long)worst, tc_element(t.dev_out, tconv_f32, worst), t.ref[worst]);
    tc_tensors_free(&t);
}

/* The forward pass by Winograd F(2, 3) (cpu_winograd.c): a stride-1 layer
 * of 3 taps with dilation 2 (dilated_k3d2 scaled down), bias and each kind
 * of activation (ReLU, and ELU applied after the transform), against the
 * reference; with TCONV_CPU_WINOGRAD=0 the tiles instead. */
static void test_forward_winograd(void **state) {
    (void)state;
    const tconv_activation_t acts[2] = {tconv_activation_relu, tconv_activation_elu};
    for (int off = 0; off < 2; off++) {
        for (int k = 0; k < 2; k++) {
            tconv_context_t ctx;
            tc_log_t log;
            TC_CHECK_OK(tc_context_create_logged(&ctx, 2, &log));
            tconv_problem_t p;
            tconv_problem_init(&p, 3);
            p.batch = 2;
            p.in_channels = 20;
            p.out_channels = 18;
            for (int a = 0; a < 3; a++) {
                p.input_size[a] = 5 + a;
                p.kernel_size[a] = 3;
                p.dilation[a] = 2;
            }
            p.padding = tconv_padding_same;
            p.data_format = CL;
            p.kernel_layout = k ? KT : KK;
            p.use_bias = 1;
            p.activation = acts[k];
            if (off)
                setenv("TCONV_CPU_WINOGRAD", "0", 1);
            tconv_plan_t plan = NULL;
            TC_CHECK_OK(tconv_plan_create(&plan, ctx, &p, "cpu:0"));
            unsetenv("TCONV_CPU_WINOGRAD");
            const int said = tc_contains(log.text, "forward: Winograd F(2,3)");
            if (said == off)
                fail_msg("Winograd %s expected, the log says:\n%s", off ? "off" : "on", log.text);
            char what[64];
            snprintf(what, sizeof what, "forward k3 d2, activation %d, Winograd %s", (int)acts[k],
                     off ? "off" : "on");
            check_forward(plan, &p, 31, 0, what);
            tconv_plan_destroy(plan);
            tconv_context_destroy(ctx);
        }
    }
}

/* The forward pass of one output channel, k 4 s 2 p 1, by Winograd with
 * the tiles in the lanes (cpu_fold_wino.c; AVX-512 float32 only): gan_g5's
 * shape scaled down, in both kernel layouts, with each kind of activation,
 * W of one and of two blocks of 32, a single H tile row, channel counts
 * with and without their own kernel copy, a batch set below the plan's;
 * and the layers it must decline (TCONV_CPU_WINOGRAD=0, begin crop 2, W
 * not a multiple of 32), which the fold tiles run. */
static void test_forward_fold_winograd(void **state) {
    (void)state;
    typedef struct {
        int64_t batch, run_batch, cin, input[3], pads;
        tconv_kernel_layout_t layout;
        tconv_activation_t act;
        const char *wino;
        int expect; /* with the AVX-512 kernels */
    } fw_case_t;
    const fw_case_t cases[] = {
        {2, 0, 64, {4, 6, 32}, 1, KK, tconv_activation_linear, NULL, 1},
        {3, 2, 32, {2, 4, 64}, 1, KT, tconv_activation_relu, NULL, 1},
        {1, 0, 48, {6, 2, 32}, 1, KK, tconv_activation_sigmoid, NULL, 1},
        {2, 0, 16, {2, 6, 32}, 1, KT, tconv_activation_elu, NULL, 1},
        {2, 0, 64, {4, 6, 32}, 1, KK, tconv_activation_linear, "0", 0},
        {1, 0, 32, {4, 4, 32}, 2, KK, tconv_activation_linear, NULL, 0},
        {1, 0, 32, {4, 4, 24}, 1, KK, tconv_activation_linear, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fw_case_t *c = &cases[i];
        tconv_context_t ctx;
        tc_log_t log;
        TC_CHECK_OK(tc_context_create_logged(&ctx, 2, &log));
        tconv_problem_t p;
        tconv_problem_init(&p, 3);
        p.batch = c->batch;
        p.in_channels = c->cin;
        p.out_channels = 1;
        p.padding = tconv_padding_explicit;
        for (int a = 0; a < 3; a++) {
            p.input_size[a] = c->input[a];
            p.kernel_size[a] = 4;
            p.strides[a] = 2;
            p.pads_begin[a] = p.pads_end[a] = c->pads;
        }
        p.data_format = CL;
        p.kernel_layout = c->layout;
        p.use_bias = 1;
        p.activation = c->act;
        if (c->wino)
            setenv("TCONV_CPU_WINOGRAD", c->wino, 1);
        tconv_plan_t plan = NULL;
        TC_CHECK_OK(tconv_plan_create(&plan, ctx, &p, "cpu:0"));
        unsetenv("TCONV_CPU_WINOGRAD");
        const int said = tc_contains(log.text, "forward: Winograd F(2,2) one output channel");
        const int expect = c->expect && !strcmp(isa, "avx512");
        if (said != expect)
            fail_msg("case %zu: Winograd %s expected, the log says:\n%s", i, expect ? "on" : "off",
                     log.text);
        char what[64];
        snprintf(what, sizeof what, "case %zu (Winograd %s)", i, said ? "on" : "off");
        p.batch = c->run_batch ? c->run_batch : c->batch;
        check_forward(plan, &p, 37, c->run_batch != 0, what);
        tconv_plan_destroy(plan);
        tconv_context_destroy(ctx);
    }
}

/* Whether this CPU runs the kernel family @p name: a forced family above
 * the CPU's falls back, which the plan line would show. */
static int cpu_runs_isa(const char *name) {
    tconv_context_t ctx;
    tc_log_t log;
    if (tc_context_create_logged(&ctx, 2, &log) != tconv_success)
        return 0;
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    int runs = 0;
    if (tconv_plan_create(&plan, ctx, &p, "cpu:0") == tconv_success) {
        char word[32];
        snprintf(word, sizeof word, "plan: %s ", name);
        runs = tc_contains(log.text, word);
        tconv_plan_destroy(plan);
    }
    tconv_context_destroy(ctx);
    return runs;
}

int main(int argc, char **argv) {
    tc_clean_environment();
    if (argc == 3 && !strcmp(argv[1], "--isa")) {
        isa = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: test_cpu_paths [--isa avx512|avx2|c]\n");
        return 2;
    }
    setenv("TCONV_CPU_ISA", isa, 1);
    if (!tc_device_present("cpu:0"))
        return tc_cannot_run("no cpu:0 device");
    if (!cpu_runs_isa(isa))
        return tc_cannot_run("this CPU does not run the %s kernels", isa);
    struct CMUnitTest tests[CASE_COUNT + DX_CASE_COUNT + 3];
    for (size_t i = 0; i < CASE_COUNT; i++) {
        tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_case, (void *)&cases[i]);
        tests[i].name = cases[i].name;
    }
    for (size_t i = 0; i < DX_CASE_COUNT; i++) {
        tests[CASE_COUNT + i] =
            (struct CMUnitTest)cmocka_unit_test_prestate(test_dx_case, (void *)&dx_cases[i]);
        tests[CASE_COUNT + i].name = dx_cases[i].name;
    }
    tests[CASE_COUNT + DX_CASE_COUNT] = (struct CMUnitTest)cmocka_unit_test(test_forward_winograd);
    tests[CASE_COUNT + DX_CASE_COUNT + 1] =
        (struct CMUnitTest)cmocka_unit_test(test_weights_winograd);
    tests[CASE_COUNT + DX_CASE_COUNT + 2] =
        (struct CMUnitTest)cmocka_unit_test(test_forward_fold_winograd);
    return _cmocka_run_group_tests("cpu_paths", tests, CASE_COUNT + DX_CASE_COUNT + 3, NULL, NULL);
}
