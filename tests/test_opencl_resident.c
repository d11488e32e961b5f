/* SPDX-License-Identifier: Apache-2.0 */
/* Device-resident execution on the OpenCL plugin (tconv.h, "Device buffers
 * and asynchronous execution"; the plugin's ABI 1.2 buffer group and
 * plan_set_batch):
 *   - a 3-layer decoder (tconv-bench's keras_k3s2 scaled down, then an
 *     nnU-Net-like k2 s2 layer and a 3D-GAN-like Cout 1 output layer)
 *     chained on device buffers, weights given as buffers (packed on the
 *     device), three enqueues and one wait: equal to the host path bit for
 *     bit and each layer to the float64 reference;
 *   - the backward pass on buffers (both gradients paths: one tile on the
 *     caller's buffers, and tiles under an allocation cap through the
 *     plan's buffers): equal to the host path bit for bit and the reference;
 *   - batches 1..N on one plan (tconv_plan_set_batch), on buffers and on the
 *     host path, equal plans made for each batch bit for bit, and no program
 *     is built or loaded for them: the batch is a run-time size, and plans
 *     that differ only in batch share the program (counted from the plugin's
 *     debug log lines "program built from source" / "program from cache").
 * Without an OpenCL device the test exits 77 (skipped), a failure under CI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

#define DEVICE "opencl:0"

static tconv_context_t g_ctx;
/* Programs the plugin built or loaded from its disk cache (log lines). */
static int g_programs;

static void count_programs(void *user_data, int level, const char *message) {
    (void)user_data;
    (void)level;
    if (tc_contains(message, "program built from source") ||
        tc_contains(message, "program from cache"))
        g_programs++;
}

/* ---- the decoder */

typedef struct layer {
    const char *name;
    int64_t in_channels, out_channels, kernel, stride, pads, output_padding;
    tconv_activation_t activation;
} layer_t;

/* Input 4x6x6 -> 8x12x12 -> 16x24x24 -> 32x48x48, channels last. */
static const layer_t decoder[3] = {
    {"keras_k3s2 scaled down (k3 s2 same)", 32, 24, 3, 2, 1, 1, tconv_activation_relu},
    {"nnunet_up scaled down (k2 s2)", 24, 16, 2, 2, 0, 0, tconv_activation_relu},
    {"gan_g5 scaled down (Cout 1, k4 s2 p1)", 16, 1, 4, 2, 1, 0, tconv_activation_linear},
};
static const int64_t decoder_input[3] = {4, 6, 6};

static void layer_problem(int l, tconv_dtype_t dtype, int64_t batch, uint32_t passes,
                          tconv_problem_t *p) {
    const layer_t *ly = &decoder[l];
    tconv_problem_init(p, 3);
    p->dtype = dtype;
    p->batch = batch;
    p->in_channels = ly->in_channels;
    p->out_channels = ly->out_channels;
    p->padding = tconv_padding_explicit;
    p->has_output_padding = 1;
    int64_t length[3] = {decoder_input[0], decoder_input[1], decoder_input[2]};
    for (int before = 0; before < l; before++)
        for (int a = 0; a < 3; a++)
            length[a] = (length[a] - 1) * decoder[before].stride - 2 * decoder[before].pads +
                        decoder[before].kernel + decoder[before].output_padding;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = length[a];
        p->kernel_size[a] = ly->kernel;
        p->strides[a] = ly->stride;
        p->pads_begin[a] = p->pads_end[a] = ly->pads;
        p->output_padding[a] = ly->output_padding;
    }
    p->data_format = tconv_channels_last;
    p->kernel_layout = tconv_kernel_keras;
    p->use_bias = 1;
    /* The backend computes a backward pass's dL/dz only (the core applies
     * other activations on the host): training plans stay linear here, so
     * every pass runs on the device. */
    p->activation = passes == TCONV_PASS_FORWARD ? ly->activation : tconv_activation_linear;
    p->passes = passes;
}

static const char *dtype_name(tconv_dtype_t dtype) {
    return dtype == tconv_f64 ? "float64" : "float32";
}

static size_t elem_size(tconv_dtype_t dtype) {
    return dtype == tconv_f64 ? sizeof(double) : sizeof(float);
}

static tconv_buffer_t upload(tconv_plan_t plan, const void *data, size_t bytes) {
    tconv_buffer_t b = NULL;
    TC_CHECK_OK(tconv_buffer_create(&b, plan, bytes));
    if (data)
        TC_CHECK_OK(tconv_buffer_write(b, 0, data, bytes));
    return b;
}

static void *download(tconv_buffer_t b, size_t bytes) {
    void *host = malloc(bytes);
    assert_non_null(host);
    TC_CHECK_OK(tconv_buffer_read(b, 0, host, bytes));
    return host;
}

static void expect_same_bytes(const void *got, const void *want, size_t bytes, const char *what) {
    if (memcmp(got, want, bytes) != 0) {
        size_t at = 0;
        while (((const unsigned char *)got)[at] == ((const unsigned char *)want)[at])
            at++;
        fail_msg("%s: differs from the host path from byte %zu of %zu", what, at, bytes);
    }
}

/* Layer @p t's output @p got (dtype values) against the float64 reference
 * of its problem applied to @p input (float64; NULL: t's own input). */
static void expect_reference(const tconv_problem_t *p, const tc_tensors_t *t, const double *input,
                             const void *got, const char *what) {
    tc_tensors_t ref;
    char msg[512];
    if (tc_tensors_from_values(p, input ? input : t->in, t->kernel, t->bias, &ref, msg,
                               sizeof msg) != 0)
        fail_msg("%s: %s", what, msg);
    double *values = malloc((size_t)ref.out_count * sizeof(double));
    assert_non_null(values);
    for (int64_t i = 0; i < ref.out_count; i++)
        values[i] = tc_element(got, p->dtype, i);
    tc_tensors_set_output(&ref, values);
    int64_t at = 0;
    double err = tc_tensors_max_error(&ref, &at);
    if (!(err <= tc_tolerance(p->dtype)))
        fail_msg("%s: error %.3g at %lld: got %.9g, reference %.9g", what, err, (long long)at,
                 values[at], ref.ref[at]);
    free(values);
    tc_tensors_free(&ref);
}

static double *to_doubles(const void *values, tconv_dtype_t dtype, int64_t count) {
    double *out = malloc((size_t)count * sizeof(double));
    assert_non_null(out);
    for (int64_t i = 0; i < count; i++)
        out[i] = tc_element(values, dtype, i);
    return out;
}

/* The decoder chained on buffers (weights from buffers, three enqueues,
 * one wait) against the host path (three tconv_plan_execute calls on plans
 * with host weights) and the reference. */
static void test_chained_decoder(void **state) {
    const tconv_dtype_t dtype = *(const tconv_dtype_t *)*state;
    const int64_t batch = 2;
    const size_t e = elem_size(dtype);
    tconv_problem_t p[3];
    tc_tensors_t t[3];
    tconv_plan_t host[3], dev[3];
    tc_rng_t rng;
    tc_rng_seed(&rng, 20261203);
    char msg[512];
    for (int l = 0; l < 3; l++) {
        layer_problem(l, dtype, batch, TCONV_PASS_FORWARD, &p[l]);
        if (tc_tensors_make(&p[l], &rng, &t[l], msg, sizeof msg) != 0)
            fail_msg("%s: %s", decoder[l].name, msg);
        TC_CHECK_OK(tconv_plan_create(&host[l], g_ctx, &p[l], DEVICE));
        TC_CHECK_OK(tconv_plan_set_weights(host[l], t[l].dev_kernel, t[l].dev_bias));
        TC_CHECK_OK(tconv_plan_create(&dev[l], g_ctx, &p[l], DEVICE));
    }
    /* Host path: layer l's output is layer l+1's input. */
    void *host_out[3];
    for (int l = 0; l < 3; l++) {
        host_out[l] = malloc((size_t)t[l].out_count * e);
        assert_non_null(host_out[l]);
        TC_CHECK_OK(tconv_plan_execute(host[l], l ? host_out[l - 1] : t[0].dev_in, host_out[l]));
    }
    /* On the device: nothing between the enqueues. */
    tconv_buffer_t act[4], weights[3], bias[3];
    act[0] = upload(dev[0], t[0].dev_in, (size_t)t[0].in_count * e);
    for (int l = 0; l < 3; l++) {
        act[l + 1] = upload(dev[l], NULL, (size_t)t[l].out_count * e);
        weights[l] = upload(dev[l], t[l].dev_kernel, (size_t)t[l].kernel_count * e);
        bias[l] = upload(dev[l], t[l].dev_bias, (size_t)p[l].out_channels * e);
        TC_CHECK_OK(tconv_plan_set_weights_buffers(dev[l], weights[l], bias[l]));
    }
    for (int l = 0; l < 3; l++)
        TC_CHECK_OK(tconv_plan_enqueue(dev[l], act[l], act[l + 1]));
    TC_CHECK_OK(tconv_plan_wait(dev[2]));
    for (int l = 0; l < 3; l++) {
        void *got = download(act[l + 1], (size_t)t[l].out_count * e);
        char what[160];
        snprintf(what, sizeof what, "%s, layer %d (%s) on buffers", dtype_name(dtype), l + 1,
                 decoder[l].name);
        expect_same_bytes(got, host_out[l], (size_t)t[l].out_count * e, what);
        /* Each layer against the reference of its own input (the previous
         * layer's output as the device computed it). */
        double *input = l ? to_doubles(host_out[l - 1], dtype, t[l].in_count) : NULL;
        expect_reference(&p[l], &t[l], input, got, what);
        free(input);
        free(got);
    }
    for (int l = 0; l < 3; l++) {
        tconv_buffer_destroy(weights[l]);
        tconv_buffer_destroy(bias[l]);
        tconv_plan_destroy(host[l]);
        tconv_plan_destroy(dev[l]);
        free(host_out[l]);
        tc_tensors_free(&t[l]);
    }
    for (int l = 0; l < 4; l++)
        tconv_buffer_destroy(act[l]);
}

/* ---- the backward pass on buffers */

typedef struct gradients_run {
    void *out, *grad[tc_grad_count];
} gradients_run_t;

static void run_free(gradients_run_t *r) {
    free(r->out);
    for (int k = 0; k < tc_grad_count; k++)
        free(r->grad[k]);
}

/* Forward and every gradient of training plan @p p: on the host path, or
 * on buffers (weights from a buffer, one read at the end of each). */
static void run_training(const tconv_problem_t *p, const tc_tensors_t *t, const tc_gradients_t *g,
                         int on_buffers, gradients_run_t *r) {
    const size_t e = elem_size(p->dtype);
    const size_t out_bytes = (size_t)t->out_count * e;
    size_t grad_bytes[tc_grad_count];
    for (int k = 0; k < tc_grad_count; k++)
        grad_bytes[k] = (size_t)g->count[k] * e;
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_plan_create(&plan, g_ctx, p, DEVICE));
    if (!on_buffers) {
        TC_CHECK_OK(tconv_plan_set_weights(plan, t->dev_kernel, t->dev_bias));
        r->out = malloc(out_bytes);
        for (int k = 0; k < tc_grad_count; k++)
            r->grad[k] = malloc(grad_bytes[k]);
        TC_CHECK_OK(tconv_plan_execute(plan, t->dev_in, r->out));
        TC_CHECK_OK(tconv_plan_execute_backward(plan, t->dev_in, g->dev_grad_out,
                                                r->grad[tc_grad_input], r->grad[tc_grad_kernel],
                                                r->grad[tc_grad_bias]));
        tconv_plan_destroy(plan);
        return;
    }
    tconv_buffer_t x = upload(plan, t->dev_in, (size_t)t->in_count * e);
    tconv_buffer_t w = upload(plan, t->dev_kernel, (size_t)t->kernel_count * e);
    tconv_buffer_t b = upload(plan, t->dev_bias, (size_t)p->out_channels * e);
    tconv_buffer_t dy = upload(plan, g->dev_grad_out, out_bytes);
    tconv_buffer_t y = upload(plan, NULL, out_bytes);
    tconv_buffer_t grad[tc_grad_count];
    for (int k = 0; k < tc_grad_count; k++)
        grad[k] = upload(plan, NULL, grad_bytes[k]);
    TC_CHECK_OK(tconv_plan_set_weights_buffers(plan, w, b));
    TC_CHECK_OK(tconv_plan_enqueue(plan, x, y));
    TC_CHECK_OK(tconv_plan_enqueue_backward(plan, x, dy, grad[tc_grad_input], grad[tc_grad_kernel],
                                            grad[tc_grad_bias]));
    r->out = download(y, out_bytes);
    for (int k = 0; k < tc_grad_count; k++) {
        r->grad[k] = download(grad[k], grad_bytes[k]);
        tconv_buffer_destroy(grad[k]);
    }
    tconv_buffer_t rest[] = {x, w, b, dy, y};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        tconv_buffer_destroy(rest[i]);
    tconv_plan_destroy(plan);
}

/* Layers 1 (channel vectors) and 3 (Cout 1: vectors along W), as one tile
 * on the caller's buffers and (cap) tiled through the plan's buffers with
 * clEnqueueCopyBufferRect: buffers equal the host path (same cap) bit for
 * bit, and the reference. */
static void test_backward_on_buffers(void **state) {
    const tconv_dtype_t dtype = *(const tconv_dtype_t *)*state;
    const int layers[2] = {0, 2};
    for (int i = 0; i < 2; i++) {
        tconv_problem_t p;
        layer_problem(layers[i], dtype, 2, TCONV_PASS_TRAINING, &p);
        tc_rng_t rng;
        tc_rng_seed(&rng, 77 + (uint64_t)i);
        tc_tensors_t t;
        tc_gradients_t g;
        char msg[512];
        if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0 ||
            tc_gradients_make(&t, &rng, &g, msg, sizeof msg) != 0)
            fail_msg("%s: %s", decoder[layers[i]].name, msg);
        /* A cap of 1.5 samples of the larger tensor: one sample per tile. */
        const size_t e = elem_size(dtype);
        const int64_t larger = t.in_count > t.out_count ? t.in_count : t.out_count;
        char cap[32];
        snprintf(cap, sizeof cap, "%zu", (size_t)(larger / p.batch) * e * 3 / 2);
        const char *caps[2] = {"", cap};
        for (int c = 0; c < 2; c++) {
            if (*caps[c])
                setenv("TCONV_OPENCL_MAX_ALLOC", caps[c], 1);
            else
                unsetenv("TCONV_OPENCL_MAX_ALLOC");
            gradients_run_t host, buffers;
            run_training(&p, &t, &g, 0, &host);
            run_training(&p, &t, &g, 1, &buffers);
            char what[200];
            snprintf(what, sizeof what, "%s %s%s%s: output", dtype_name(dtype),
                     decoder[layers[i]].name, *caps[c] ? ", allocation cap " : "", caps[c]);
            expect_same_bytes(buffers.out, host.out, (size_t)t.out_count * e, what);
            expect_reference(&p, &t, NULL, buffers.out, what);
            for (int k = 0; k < tc_grad_count; k++) {
                snprintf(what, sizeof what, "%s %s%s%s: %s", dtype_name(dtype),
                         decoder[layers[i]].name, *caps[c] ? ", allocation cap " : "", caps[c],
                         tc_gradient_name((tc_gradient_t)k));
                expect_same_bytes(buffers.grad[k], host.grad[k], (size_t)g.count[k] * e, what);
                memcpy(g.dev[k], buffers.grad[k], (size_t)g.count[k] * e);
                int64_t at = 0;
                double err = tc_gradients_max_error(&g, (tc_gradient_t)k, dtype, &at);
                if (!(err <= tc_tolerance(dtype)))
                    fail_msg("%s: error %.3g at %lld: got %.9g, reference %.9g", what, err,
                             (long long)at, tc_element(g.dev[k], dtype, at), g.ref[k][at]);
            }
            run_free(&host);
            run_free(&buffers);
        }
        unsetenv("TCONV_OPENCL_MAX_ALLOC");
        tc_gradients_free(&g);
        tc_tensors_free(&t);
    }
}

/* ---- batches 1..N on one plan */

/* Every pass at @p batch: on the plan (batch set), on buffers and on the
 * host path, equals a plan made for @p batch, bit for bit. */
static void check_batch(tconv_plan_t full, const tconv_problem_t *full_problem,
                        const tc_tensors_t *t, const tc_gradients_t *g, int64_t batch) {
    tconv_problem_t p = *full_problem;
    p.batch = batch;
    const size_t e = elem_size(p.dtype);
    const size_t in_bytes = (size_t)(t->in_count / full_problem->batch * batch) * e;
    const size_t out_bytes = (size_t)(t->out_count / full_problem->batch * batch) * e;
    const size_t kernel_bytes = (size_t)g->count[tc_grad_kernel] * e;
    const size_t bias_bytes = (size_t)p.out_channels * e;
    const size_t bytes[4] = {out_bytes, in_bytes, kernel_bytes, bias_bytes};
    TC_CHECK_OK(tconv_plan_set_batch(full, batch));
    tconv_plan_t own = NULL;
    TC_CHECK_OK(tconv_plan_create(&own, g_ctx, &p, DEVICE));
    TC_CHECK_OK(tconv_plan_set_weights(own, t->dev_kernel, t->dev_bias));
    /* Host path: results of both plans. */
    void *want[4], *got[4];
    for (int i = 0; i < 4; i++) {
        want[i] = malloc(bytes[i]);
        got[i] = malloc(bytes[i]);
        assert_true(want[i] && got[i]);
    }
    tconv_plan_t plans[2] = {own, full};
    void **results[2] = {want, got};
    for (int k = 0; k < 2; k++) {
        TC_CHECK_OK(tconv_plan_execute(plans[k], t->dev_in, results[k][0]));
        TC_CHECK_OK(tconv_plan_execute_backward(plans[k], t->dev_in, g->dev_grad_out, results[k][1],
                                                results[k][2], results[k][3]));
    }
    static const char *const names[4] = {"output", "grad_input", "grad_kernel", "grad_bias"};
    char what[160];
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "batch %lld of %lld, host path: %s", (long long)batch,
                 (long long)full_problem->batch, names[i]);
        expect_same_bytes(got[i], want[i], bytes[i], what);
    }
    /* Buffers on the full plan. */
    tconv_buffer_t x = upload(full, t->dev_in, in_bytes);
    tconv_buffer_t dy = upload(full, g->dev_grad_out, out_bytes);
    tconv_buffer_t out[4];
    for (int i = 0; i < 4; i++)
        out[i] = upload(full, NULL, bytes[i]);
    TC_CHECK_OK(tconv_plan_enqueue(full, x, out[0]));
    TC_CHECK_OK(tconv_plan_enqueue_backward(full, x, dy, out[1], out[2], out[3]));
    TC_CHECK_OK(tconv_plan_wait(full));
    for (int i = 0; i < 4; i++) {
        void *dev = download(out[i], bytes[i]);
        snprintf(what, sizeof what, "batch %lld of %lld, buffers: %s", (long long)batch,
                 (long long)full_problem->batch, names[i]);
        expect_same_bytes(dev, want[i], bytes[i], what);
        free(dev);
        tconv_buffer_destroy(out[i]);
        free(want[i]);
        free(got[i]);
    }
    tconv_buffer_destroy(x);
    tconv_buffer_destroy(dy);
    tconv_plan_destroy(own);
}

static void test_batch_on_one_plan(void **state) {
    const tconv_dtype_t dtype = *(const tconv_dtype_t *)*state;
    const int64_t batch = 3;
    /* Layer 2 as a training plan: no other test here makes it at any batch
     * (else a plan for a smaller batch could find a program that test made,
     * and a batch in the build options would go unseen). */
    tconv_problem_t p;
    layer_problem(1, dtype, batch, TCONV_PASS_TRAINING, &p);
    tc_rng_t rng;
    tc_rng_seed(&rng, 91);
    tc_tensors_t t;
    tc_gradients_t g;
    char msg[512];
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0 ||
        tc_gradients_make(&t, &rng, &g, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    unsetenv("TCONV_OPENCL_MAX_ALLOC");
    tconv_plan_t full = NULL;
    TC_CHECK_OK(tconv_plan_create(&full, g_ctx, &p, DEVICE));
    TC_CHECK_OK(tconv_plan_set_weights(full, t.dev_kernel, t.dev_bias));
    /* Every plan so far got its programs through the plugin's log lines
     * (built or loaded, or recalled from memory, silently): a count of 0
     * means the lines changed and this check would prove nothing. */
    if (g_programs == 0)
        fail_msg("no \"program built from source\" or \"program from cache\" line in the "
                 "OpenCL plugin's debug log");
    const int before = g_programs;
    for (int64_t b = batch; b >= 1; b--)
        check_batch(full, &p, &t, &g, b);
    if (g_programs != before)
        fail_msg("%d program(s) built or loaded for batches 1..%lld (on the plan, and plans "
                 "made for each batch): the batch must be no build option",
                 g_programs - before, (long long)batch);
    tconv_plan_destroy(full);
    tc_gradients_free(&g);
    tc_tensors_free(&t);
}

int main(void) {
    tc_clean_environment();
    unsetenv("TCONV_OPENCL_MAX_ALLOC");
    tconv_context_options_t options;
    tconv_context_options_init(&options);
    options.verbosity = 2;
    options.log_callback = count_programs;
    if (tconv_context_create_with_options(&g_ctx, &options) != tconv_success) {
        fprintf(stderr, "tconv_context_create_with_options: %s\n", tconv_get_last_error());
        return 1;
    }
    if (!tc_has_device(g_ctx, DEVICE)) {
        tconv_context_destroy(g_ctx);
        return tc_cannot_run("no OpenCL device (%s)", DEVICE);
    }
    static const tconv_dtype_t f32 = tconv_f32, f64 = tconv_f64;
    tconv_problem_t probe_problem;
    layer_problem(0, tconv_f64, 1, TCONV_PASS_FORWARD, &probe_problem);
    tconv_plan_t probe = NULL;
    const int has_f64 = tconv_plan_create(&probe, g_ctx, &probe_problem, DEVICE) == tconv_success;
    tconv_plan_destroy(probe);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_chained_decoder, (void *)&f32),
        cmocka_unit_test_prestate(test_backward_on_buffers, (void *)&f32),
        cmocka_unit_test_prestate(test_batch_on_one_plan, (void *)&f32),
        cmocka_unit_test_prestate(test_chained_decoder, (void *)&f64),
        cmocka_unit_test_prestate(test_backward_on_buffers, (void *)&f64),
        cmocka_unit_test_prestate(test_batch_on_one_plan, (void *)&f64),
    };
    /* A device without float64 runs the float32 half. */
    const size_t count = has_f64 ? sizeof tests / sizeof tests[0] : 3;
    int failed = _cmocka_run_group_tests("test_opencl_resident", tests, count, NULL, NULL);
    tconv_context_destroy(g_ctx);
    if (!has_f64 && failed == 0)
        printf("float64: %s has no cl_khr_fp64; only float32 ran\n", DEVICE);
    return failed ? 1 : 0;
}
