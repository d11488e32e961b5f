/* SPDX-License-Identifier: Apache-2.0 */
/* Device buffers, enqueue/wait and the run-time batch (tconv.h, "Device
 * buffers and asynchronous execution", tconv_plan_set_batch), on three
 * kinds of device:
 *   - cpu:0: no buffer group, native plan_set_batch (host buffers of the
 *     core's, zero copies);
 *   - example:0 (plugins/faulty/example.c, the example plugin unchanged):
 *     no buffer group, no plan_set_batch (the core pads the batch);
 *   - async_fault:0 (plugins/faulty/async_fault.c): the buffer group over a
 *     deferred queue, planted failures; training plans with a non-linear
 *     activation are staged through host memory by the core.
 * Passes on buffers must equal the host path bit for bit and the float64
 * reference; a plan at batch b must equal a plan made for b; every argument
 * error has its message; a deferred failure comes back from wait and read
 * with its message, once. OpenCL has its own tests (the interop ones). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

#define EXAMPLE_PLUGIN TCONV_TEST_PLUGIN_DIR "/tconv_backend_example.so"
#define ASYNC_PLUGIN   TCONV_TEST_PLUGIN_DIR "/tconv_backend_async_fault.so"
#define PARTIAL_PLUGIN TCONV_TEST_PLUGIN_DIR "/tconv_backend_partial_group.so"
#define FAIL_VARIABLE  "TCONV_TEST_ASYNC_FAIL_ENQUEUE"

static const char *const all_devices[] = {"cpu:0", "example:0", "async_fault:0"};
#define DEVICE_COUNT (sizeof all_devices / sizeof all_devices[0])

typedef long long ll;

/* ---- helpers */

/* A context with the test plugins; @p threads for the cpu backend (0: the
 * default). */
static tconv_context_t open_context_threads(int threads) {
    tconv_context_t ctx = NULL;
    tconv_context_options_t options;
    tconv_context_options_init(&options);
    options.search_path = EXAMPLE_PLUGIN ":" ASYNC_PLUGIN;
    options.num_threads = threads;
    if (tconv_context_create_with_options(&ctx, &options) != tconv_success)
        fail_msg("tconv_context_create: %s", tconv_get_last_error());
    for (size_t i = 0; i < DEVICE_COUNT; i++)
        if (!tc_has_device(ctx, all_devices[i]))
            fail_msg("no device %s (plugins %s, %s)", all_devices[i], EXAMPLE_PLUGIN, ASYNC_PLUGIN);
    return ctx;
}

static tconv_context_t open_context(void) {
    return open_context_threads(0);
}

#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        tconv_status_t st_ = (call);                                                               \
        if (st_ != tconv_success)                                                                  \
            fail_msg("%s -> %s: %s", #call, tconv_status_name(st_), tconv_get_last_error());       \
    } while (0)

/* The call fails with @p status and a message containing every fragment. */
static void expect_error(tconv_status_t got, tconv_status_t status, const char *call,
                         const char *fragment1, const char *fragment2) {
    const char *err = tconv_get_last_error();
    if (got != status || !tc_contains(err, fragment1) ||
        (fragment2 != NULL && !tc_contains(err, fragment2)))
        fail_msg("%s -> %s '%s'; want %s with '%s'%s%s", call, tconv_status_name(got), err,
                 tconv_status_name(status), fragment1, fragment2 ? " and " : "",
                 fragment2 ? fragment2 : "");
}
#define EXPECT_ERROR(call, status, f1, f2) expect_error((call), (status), #call, (f1), (f2))

static size_t dtype_bytes(tconv_dtype_t dtype) {
    return dtype == tconv_f64 ? sizeof(double) : sizeof(float);
}

/* Random tensors of @p p and the reference (tc_tensors_make). */
static void make_tensors(const tconv_problem_t *p, tc_rng_t *rng, tc_tensors_t *t) {
    char msg[512];
    if (tc_tensors_make(p, rng, t, msg, sizeof msg) != 0)
        fail_msg("tc_tensors_make: %s", msg);
}

static tconv_buffer_t upload(tconv_plan_t plan, const void *data, size_t bytes) {
    tconv_buffer_t b = NULL;
    CHECK_OK(tconv_buffer_create(&b, plan, bytes));
    CHECK_OK(tconv_buffer_write(b, 0, data, bytes));
    return b;
}

static tconv_buffer_t empty_buffer(tconv_plan_t plan, size_t bytes) {
    tconv_buffer_t b = NULL;
    CHECK_OK(tconv_buffer_create(&b, plan, bytes));
    return b;
}

static void *download(tconv_buffer_t b, size_t bytes) {
    void *data = malloc(bytes);
    assert_non_null(data);
    CHECK_OK(tconv_buffer_read(b, 0, data, bytes));
    return data;
}

/* Equal bit for bit. */
static void expect_same_bytes(const void *got, const void *want, size_t bytes, const char *what,
                              const char *device) {
    if (memcmp(got, want, bytes) != 0)
        fail_msg("%s on %s: differs from the host path (%zu bytes)", what, device, bytes);
}

/* Equal as values (+0 == -0: a padded sum may add a +0 to a -0), NaN where
 * NaN. */
static void expect_same_values(const void *got, const void *want, int64_t count,
                               tconv_dtype_t dtype, const char *what, const char *device,
                               int64_t batch) {
    for (int64_t i = 0; i < count; i++) {
        const double a = tc_element(got, dtype, i), b = tc_element(want, dtype, i);
        if (!(a == b || (isnan(a) && isnan(b))))
            fail_msg("%s on %s at batch %lld: element %lld is %.17g, a plan made for the batch "
                     "gives %.17g",
                     what, device, (ll)batch, (ll)i, a, b);
    }
}

/* ---- problems */

/* Forward only: stride 2, same padding, bias, relu (the backend applies it). */
static void problem_forward_relu(tconv_problem_t *p) {
    tc_small_problem(p, tconv_f32);
}

/* Training, f64, channels_first, groups, bias, tanh (the core applies it:
 * staged through host memory on a device with buffers). */
static void problem_training_tanh(tconv_problem_t *p) {
    tconv_problem_init(p, 3);
    p->dtype = tconv_f64;
    p->data_format = tconv_channels_first;
    p->batch = 3;
    p->in_channels = 4;
    p->out_channels = 6;
    p->groups = 2;
    const int64_t in[3] = {4, 3, 5}, k[3] = {2, 3, 2}, s[3] = {2, 1, 2};
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = in[a];
        p->kernel_size[a] = k[a];
        p->strides[a] = s[a];
    }
    p->use_bias = 1;
    p->activation = tconv_activation_tanh;
    p->passes = TCONV_PASS_TRAINING;
}

/* Training, f32, linear, no bias, torch kernel layout. */
static void problem_training_linear(tconv_problem_t *p) {
    tconv_problem_init(p, 3);
    p->batch = 3;
    p->in_channels = 5;
    p->out_channels = 3;
    p->kernel_layout = tconv_kernel_torch;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = 3 + a;
        p->kernel_size[a] = 2;
        p->strides[a] = 2;
    }
    p->passes = TCONV_PASS_TRAINING;
}

/* Training, f32, bias, leaky_relu. */
static void problem_training_leaky(tconv_problem_t *p) {
    problem_training_linear(p);
    p->kernel_layout = tconv_kernel_keras;
    p->use_bias = 1;
    p->activation = tconv_activation_leaky_relu;
    p->activation_alpha = tconv_activation_default_alpha(tconv_activation_leaky_relu);
}

typedef void (*problem_fn)(tconv_problem_t *p);
static const problem_fn problems[] = {problem_forward_relu, problem_training_tanh,
                                      problem_training_linear, problem_training_leaky};

static bool is_training(const tconv_problem_t *p) {
    return (p->passes & (TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS)) != 0;
}

/* Byte sizes of the four tensors of t's problem (bias 0 without one). */
typedef struct sizes {
    size_t in, kernel, bias, out;
} sizes_t;

static sizes_t tensor_sizes(const tc_tensors_t *t) {
    const size_t e = dtype_bytes(t->canonical.dtype);
    return (sizes_t){(size_t)t->in_count * e, (size_t)t->kernel_count * e,
                     t->canonical.use_bias ? (size_t)t->canonical.out_channels * e : 0,
                     (size_t)t->out_count * e};
}

/* ---- passes on buffers equal the host path and the reference */

static void check_reference_forward(const tc_tensors_t *t, const char *device, const char *what) {
    int64_t at;
    const double err = tc_tensors_max_error(t, &at);
    if (!(err <= tc_tolerance(t->canonical.dtype)))
        fail_msg("%s on %s: forward error %.3g at element %lld", what, device, err, (ll)at);
}

static void check_reference_gradients(const tc_tensors_t *t, const tc_gradients_t *g,
                                      const char *device) {
    for (int k = 0; k < tc_grad_count; k++) {
        if (k == tc_grad_bias && !t->canonical.use_bias)
            continue;
        int64_t at;
        const double err = tc_gradients_max_error(g, (tc_gradient_t)k, t->canonical.dtype, &at);
        if (!(err <= tc_tolerance(t->canonical.dtype)))
            fail_msg("%s on %s: error %.3g at element %lld", tc_gradient_name((tc_gradient_t)k),
                     device, err, (ll)at);
    }
}

static void run_problem_on_buffers(tconv_context_t ctx, const char *device, problem_fn make) {
    tconv_problem_t p;
    make(&p);
    tc_rng_t rng;
    tc_rng_seed(&rng, 11);
    tc_tensors_t t;
    tc_gradients_t g;
    make_tensors(&p, &rng, &t);
    const bool training = is_training(&p);
    char msg[512];
    if (training && tc_gradients_make(&t, &rng, &g, msg, sizeof msg) != 0)
        fail_msg("tc_gradients_make: %s", msg);
    const sizes_t z = tensor_sizes(&t);
    tconv_plan_t plan = NULL;
    CHECK_OK(tconv_plan_create(&plan, ctx, &p, device));

    /* Host path first: the reference of the buffer path. */
    CHECK_OK(tconv_plan_set_weights(plan, t.dev_kernel, t.dev_bias));
    CHECK_OK(tconv_plan_execute(plan, t.dev_in, t.dev_out));
    check_reference_forward(&t, device, "host path");
    void *host_out = malloc(z.out);
    memcpy(host_out, t.dev_out, z.out);

    /* Weights from buffers, then the forward pass on buffers. */
    tconv_buffer_t x = upload(plan, t.dev_in, z.in), w = upload(plan, t.dev_kernel, z.kernel);
    tconv_buffer_t b = p.use_bias ? upload(plan, t.dev_bias, z.bias) : NULL;
    tconv_buffer_t y = empty_buffer(plan, z.out);
    CHECK_OK(tconv_plan_set_weights_buffers(plan, w, b));
    CHECK_OK(tconv_plan_enqueue(plan, x, y));
    CHECK_OK(tconv_plan_wait(plan));
    void *got = download(y, z.out);
    expect_same_bytes(got, host_out, z.out, "forward pass on buffers", device);
    memcpy(t.dev_out, got, z.out);
    check_reference_forward(&t, device, "buffer path");
    free(got);

    if (training) {
        CHECK_OK(tconv_plan_execute_backward(plan, t.dev_in, g.dev_grad_out, g.dev[tc_grad_input],
                                             g.dev[tc_grad_kernel],
                                             p.use_bias ? g.dev[tc_grad_bias] : NULL));
        check_reference_gradients(&t, &g, device);
        const size_t bytes[tc_grad_count] = {z.in, z.kernel, z.bias};
        tconv_buffer_t dy = upload(plan, g.dev_grad_out, z.out);
        tconv_buffer_t grads[tc_grad_count] = {empty_buffer(plan, z.in),
                                               empty_buffer(plan, z.kernel),
                                               p.use_bias ? empty_buffer(plan, z.bias) : NULL};
        CHECK_OK(tconv_plan_enqueue_backward(plan, x, dy, grads[0], grads[1], grads[2]));
        CHECK_OK(tconv_plan_wait(plan));
        for (int k = 0; k < tc_grad_count; k++) {
            if (grads[k] == NULL)
                continue;
            void *d = download(grads[k], bytes[k]);
            expect_same_bytes(d, g.dev[k], bytes[k], tc_gradient_name((tc_gradient_t)k), device);
            free(d);
            tconv_buffer_destroy(grads[k]);
        }
        tconv_buffer_destroy(dy);
        tc_gradients_free(&g);
    }
    tconv_buffer_destroy(x);
    tconv_buffer_destroy(w);
    tconv_buffer_destroy(b);
    tconv_buffer_destroy(y);
    tconv_plan_destroy(plan);
    free(host_out);
    tc_tensors_free(&t);
}

static void test_buffers_equal_host_path(void **state) {
    const char *device = *state;
    tconv_context_t ctx = open_context();
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++)
        run_problem_on_buffers(ctx, device, problems[i]);
    tconv_context_destroy(ctx);
}

/* set_weights_buffers replaces host weights: a second set of weights from
 * buffers gives the host path's result for those weights. */
static void test_weights_buffers_replace_weights(void **state) {
    const char *device = *state;
    tconv_context_t ctx = open_context();
    tconv_problem_t p;
    problem_training_leaky(&p);
    tc_rng_t rng;
    tc_rng_seed(&rng, 5);
    tc_tensors_t first, second;
    make_tensors(&p, &rng, &first);
    make_tensors(&p, &rng, &second);
    const sizes_t z = tensor_sizes(&second);
    tconv_plan_t plan = NULL;
    CHECK_OK(tconv_plan_create(&plan, ctx, &p, device));
    CHECK_OK(tconv_plan_set_weights(plan, second.dev_kernel, second.dev_bias));
    CHECK_OK(tconv_plan_execute(plan, second.dev_in, second.dev_out));
    void *want = malloc(z.out);
    memcpy(want, second.dev_out, z.out);
    CHECK_OK(tconv_plan_set_weights(plan, first.dev_kernel, first.dev_bias));
    tconv_buffer_t w = upload(plan, second.dev_kernel, z.kernel);
    tconv_buffer_t b = upload(plan, second.dev_bias, z.bias);
    tconv_buffer_t x = upload(plan, second.dev_in, z.in), y = empty_buffer(plan, z.out);
    CHECK_OK(tconv_plan_set_weights_buffers(plan, w, b));
    /* The buffers may change once the call returned. */
    CHECK_OK(tconv_buffer_write(w, 0, first.dev_kernel, z.kernel));
    CHECK_OK(tconv_plan_enqueue(plan, x, y));
    void *got = download(y, z.out);
    expect_same_bytes(got, want, z.out, "forward after set_weights_buffers", device);
    free(got);
    free(want);
    tconv_buffer_destroy(w);
    tconv_buffer_destroy(b);
    tconv_buffer_destroy(x);
    tconv_buffer_destroy(y);
    tconv_plan_destroy(plan);
    tc_tensors_free(&first);
    tc_tensors_free(&second);
    tconv_context_destroy(ctx);
}

/* ---- the run-time batch */

/* One plan at batch b, through every path, against a plan made for b. */
static void check_batch(tconv_context_t ctx, const char *device, tconv_plan_t full,
                        const tconv_problem_t *problem, const tc_tensors_t *t,
                        const tc_gradients_t *g, int64_t batch) {
    const tconv_dtype_t dt = t->canonical.dtype;
    const size_t e = dtype_bytes(dt);
    const int64_t in_count = t->in_count / problem->batch * batch;
    const int64_t out_count = t->out_count / problem->batch * batch;
    const size_t in_bytes = (size_t)in_count * e, out_bytes = (size_t)out_count * e;
    const size_t kernel_bytes = (size_t)t->kernel_count * e;
    const size_t bias_bytes = problem->use_bias ? (size_t)problem->out_channels * e : 0;
    tconv_problem_t small = *problem;
    small.batch = batch;
    tconv_plan_t alone = NULL;
    CHECK_OK(tconv_plan_create(&alone, ctx, &small, device));
    CHECK_OK(tconv_plan_set_weights(alone, t->dev_kernel, t->dev_bias));
    CHECK_OK(tconv_plan_set_batch(full, batch));

    unsigned char *want = malloc(in_bytes + out_bytes + kernel_bytes + bias_bytes + 8);
    unsigned char *got = malloc(in_bytes + out_bytes + kernel_bytes + bias_bytes + 8);
    CHECK_OK(tconv_plan_execute(alone, t->dev_in, want));
    CHECK_OK(tconv_plan_execute(full, t->dev_in, got));
    expect_same_values(got, want, out_count, dt, "forward (host)", device, batch);

    /* Buffers of exactly the batch's size. */
    tconv_buffer_t x = upload(full, t->dev_in, in_bytes), y = empty_buffer(full, out_bytes);
    CHECK_OK(tconv_plan_enqueue(full, x, y));
    CHECK_OK(tconv_buffer_read(y, 0, got, out_bytes));
    expect_same_values(got, want, out_count, dt, "forward (buffers)", device, batch);

    if (g != NULL) {
        unsigned char *w_dx = want, *w_dk = want + in_bytes, *w_db = w_dk + kernel_bytes;
        unsigned char *g_dx = got, *g_dk = got + in_bytes, *g_db = g_dk + kernel_bytes;
        void *db_want = problem->use_bias ? w_db : NULL, *db_got = problem->use_bias ? g_db : NULL;
        CHECK_OK(
            tconv_plan_execute_backward(alone, t->dev_in, g->dev_grad_out, w_dx, w_dk, db_want));
        CHECK_OK(tconv_plan_execute_backward(full, t->dev_in, g->dev_grad_out, g_dx, g_dk, db_got));
        expect_same_values(g_dx, w_dx, in_count, dt, "grad_input (host)", device, batch);
        expect_same_values(g_dk, w_dk, t->kernel_count, dt, "grad_kernel (host)", device, batch);
        if (problem->use_bias)
            expect_same_values(g_db, w_db, problem->out_channels, dt, "grad_bias (host)", device,
                               batch);
        tconv_buffer_t dy = upload(full, g->dev_grad_out, out_bytes);
        tconv_buffer_t dx = empty_buffer(full, in_bytes), dk = empty_buffer(full, kernel_bytes);
        tconv_buffer_t db = problem->use_bias ? empty_buffer(full, bias_bytes) : NULL;
        CHECK_OK(tconv_plan_enqueue_backward(full, x, dy, dx, dk, db));
        CHECK_OK(tconv_plan_wait(full));
        CHECK_OK(tconv_buffer_read(dx, 0, g_dx, in_bytes));
        CHECK_OK(tconv_buffer_read(dk, 0, g_dk, kernel_bytes));
        expect_same_values(g_dx, w_dx, in_count, dt, "grad_input (buffers)", device, batch);
        expect_same_values(g_dk, w_dk, t->kernel_count, dt, "grad_kernel (buffers)", device, batch);
        if (db != NULL) {
            CHECK_OK(tconv_buffer_read(db, 0, g_db, bias_bytes));
            expect_same_values(g_db, w_db, problem->out_channels, dt, "grad_bias (buffers)", device,
                               batch);
        }
        tconv_buffer_destroy(dy);
        tconv_buffer_destroy(dx);
        tconv_buffer_destroy(dk);
        tconv_buffer_destroy(db);
    }
    tconv_buffer_destroy(x);
    tconv_buffer_destroy(y);
    free(want);
    free(got);
    tconv_plan_destroy(alone);
}

static void run_batches(tconv_context_t ctx, const char *device, tconv_problem_t *p) {
    tc_rng_t rng;
    tc_rng_seed(&rng, 23);
    tc_tensors_t t;
    tc_gradients_t g;
    make_tensors(p, &rng, &t);
    const bool training = is_training(p);
    char msg[512];
    if (training && tc_gradients_make(&t, &rng, &g, msg, sizeof msg) != 0)
        fail_msg("tc_gradients_make: %s", msg);
    tconv_plan_t full = NULL;
    CHECK_OK(tconv_plan_create(&full, ctx, p, device));
    CHECK_OK(tconv_plan_set_weights(full, t.dev_kernel, t.dev_bias));
    /* Down and up again: every batch after a smaller one too. */
    const int64_t order[] = {p->batch, 1, 2, p->batch, 2};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (order[i] <= p->batch)
            check_batch(ctx, device, full, p, &t, training ? &g : NULL, order[i]);
    tconv_plan_destroy(full);
    if (training)
        tc_gradients_free(&g);
    tc_tensors_free(&t);
}

static void batches_with_threads(const char *device, int threads) {
    tconv_context_t ctx = open_context_threads(threads);
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++) {
        tconv_problem_t p;
        problems[i](&p);
        p.batch = 3;
        run_batches(ctx, device, &p);
    }
    /* Larger, so that the cpu backend splits the work among several
     * blocks and threads differently for each batch (channels_last and
     * channels_first). */
    for (int layout = 0; layout < 2; layout++) {
        tconv_problem_t p;
        tconv_problem_init(&p, 3);
        p.batch = 5;
        p.in_channels = 16;
        p.out_channels = 8;
        p.data_format = layout ? tconv_channels_first : tconv_channels_last;
        for (int a = 0; a < 3; a++) {
            p.input_size[a] = 6;
            p.kernel_size[a] = 3;
            p.strides[a] = 2;
        }
        p.use_bias = 1;
        p.passes = TCONV_PASS_TRAINING;
        run_batches(ctx, device, &p);
    }
    tconv_context_destroy(ctx);
}

static void test_batch_equals_plan_for_batch(void **state) {
    const char *device = *state;
    batches_with_threads(device, 0);
    /* The cpu backend cuts the work finer for a smaller batch when there
     * are many threads: the results must not move. */
    if (strcmp(device, "cpu:0") == 0) {
        batches_with_threads(device, 3);
        batches_with_threads(device, 16);
    }
}

/* ---- argument errors */

static void test_argument_errors(void **state) {
    const char *device = *state;
    tconv_context_t ctx = open_context();
    tconv_problem_t p;
    problem_training_linear(&p); /* no bias */
    tc_rng_t rng;
    tc_rng_seed(&rng, 3);
    tc_tensors_t t;
    make_tensors(&p, &rng, &t);
    const sizes_t z = tensor_sizes(&t);
    tconv_plan_t plan = NULL;
    CHECK_OK(tconv_plan_create(&plan, ctx, &p, device));

    /* tconv_buffer_* */
    tconv_buffer_t b = NULL;
    EXPECT_ERROR(tconv_buffer_create(NULL, plan, 4), tconv_invalid_arguments,
                 "buffer: must not be NULL", NULL);
    EXPECT_ERROR(tconv_buffer_create(&b, NULL, 4), tconv_invalid_arguments,
                 "plan: must not be NULL", NULL);
    EXPECT_ERROR(tconv_buffer_create(&b, plan, 0), tconv_invalid_arguments, "size = 0: must be > 0",
                 NULL);
    assert_null(b);
    CHECK_OK(tconv_buffer_create(&b, plan, 12));
    size_t size = 0;
    CHECK_OK(tconv_buffer_get_size(b, &size));
    assert_int_equal(size, 12);
    char bytes[16] = {0};
    EXPECT_ERROR(tconv_buffer_get_size(b, NULL), tconv_invalid_arguments, "size: must not be NULL",
                 NULL);
    EXPECT_ERROR(tconv_buffer_get_size(NULL, &size), tconv_invalid_arguments,
                 "buffer: must not be NULL", NULL);
    EXPECT_ERROR(tconv_buffer_write(NULL, 0, bytes, 4), tconv_invalid_arguments,
                 "buffer: must not be NULL", NULL);
    EXPECT_ERROR(tconv_buffer_write(b, 0, NULL, 4), tconv_invalid_arguments,
                 "src: must not be NULL", NULL);
    EXPECT_ERROR(tconv_buffer_write(b, 8, bytes, 8), tconv_invalid_arguments,
                 "offset + size = 8 + 8: exceeds the buffer's 12 bytes", NULL);
    EXPECT_ERROR(tconv_buffer_write(b, SIZE_MAX, bytes, 2), tconv_invalid_arguments,
                 "exceeds the buffer's 12 bytes", NULL);
    EXPECT_ERROR(tconv_buffer_read(b, 0, NULL, 4), tconv_invalid_arguments, "dst: must not be NULL",
                 NULL);
    EXPECT_ERROR(tconv_buffer_read(b, 4, bytes, 9), tconv_invalid_arguments,
                 "offset + size = 4 + 9: exceeds the buffer's 12 bytes", NULL);
    CHECK_OK(tconv_buffer_write(b, 4, "abcdefgh", 8));
    CHECK_OK(tconv_buffer_read(b, 6, bytes, 4));
    assert_memory_equal(bytes, "cdef", 4);
    tconv_buffer_destroy(b);
    tconv_buffer_destroy(NULL);

    /* Weights and passes before weights. */
    tconv_buffer_t x = upload(plan, t.dev_in, z.in), y = empty_buffer(plan, z.out);
    tconv_buffer_t w = upload(plan, t.dev_kernel, z.kernel);
    tconv_buffer_t small = empty_buffer(plan, z.kernel - 1);
    EXPECT_ERROR(tconv_plan_enqueue(plan, x, y), tconv_invalid_arguments, "weights not set", NULL);
    EXPECT_ERROR(tconv_plan_set_weights_buffers(NULL, w, NULL), tconv_invalid_arguments,
                 "plan: must not be NULL", NULL);
    EXPECT_ERROR(tconv_plan_set_weights_buffers(plan, NULL, NULL), tconv_invalid_arguments,
                 "kernel: must not be NULL", NULL);
    EXPECT_ERROR(tconv_plan_set_weights_buffers(plan, w, w), tconv_invalid_arguments,
                 "bias: must be NULL when the problem has use_bias = 0", NULL);
    EXPECT_ERROR(tconv_plan_set_weights_buffers(plan, small, NULL), tconv_invalid_arguments,
                 "kernel: ", "smaller than the");
    CHECK_OK(tconv_plan_set_weights_buffers(plan, w, NULL));

    /* Forward. */
    EXPECT_ERROR(tconv_plan_enqueue(NULL, x, y), tconv_invalid_arguments, "plan: must not be NULL",
                 NULL);
    EXPECT_ERROR(tconv_plan_enqueue(plan, NULL, y), tconv_invalid_arguments,
                 "input: must not be NULL", NULL);
    EXPECT_ERROR(tconv_plan_enqueue(plan, x, NULL), tconv_invalid_arguments,
                 "output: must not be NULL", NULL);
    EXPECT_ERROR(tconv_plan_enqueue(plan, y, y), tconv_invalid_arguments,
                 "output: the same buffer as input", NULL);
    EXPECT_ERROR(tconv_plan_enqueue(plan, small, y), tconv_invalid_arguments,
                 "input: ", "smaller than the");
    char want[96];
    snprintf(want, sizeof want, "output: %zu bytes, smaller than the %zu", z.kernel - 1, z.out);
    EXPECT_ERROR(tconv_plan_enqueue(plan, x, small), tconv_invalid_arguments, want, "batch 3");
    /* At a smaller batch a smaller buffer holds the tensor. */
    CHECK_OK(tconv_plan_set_batch(plan, 1));
    tconv_buffer_t x1 = upload(plan, t.dev_in, z.in / 3), y1 = empty_buffer(plan, z.out / 3);
    CHECK_OK(tconv_plan_enqueue(plan, x1, y1));
    CHECK_OK(tconv_plan_set_batch(plan, 3));
    EXPECT_ERROR(tconv_plan_enqueue(plan, x1, y), tconv_invalid_arguments, "input: ", "batch 3");

    /* Backward. */
    tconv_buffer_t dy = upload(plan, t.dev_out, z.out), dx = empty_buffer(plan, z.in);
    tconv_buffer_t dk = empty_buffer(plan, z.kernel);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, NULL, dx, NULL, NULL),
                 tconv_invalid_arguments, "grad_output: must not be NULL", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, dy, NULL, NULL, NULL),
                 tconv_invalid_arguments, "all NULL; ask for at least one gradient", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, dy, NULL, NULL, dk), tconv_invalid_arguments,
                 "grad_bias: must be NULL when the problem has use_bias = 0", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, NULL, dy, NULL, dk, NULL),
                 tconv_invalid_arguments, "input: must not be NULL when grad_kernel", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, dy, x, NULL, NULL), tconv_invalid_arguments,
                 "grad_input: the same buffer as input", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, dy, dx, dx, NULL), tconv_invalid_arguments,
                 "grad_input: the same buffer as grad_kernel", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, x, dx, NULL, NULL), tconv_invalid_arguments,
                 "grad_output: ", "smaller than the");
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, dy, dx, small, NULL), tconv_invalid_arguments,
                 "grad_kernel: ", "smaller than the");
    CHECK_OK(tconv_plan_enqueue_backward(plan, x, dy, dx, dk, NULL));
    CHECK_OK(tconv_plan_wait(plan));

    /* A plan without backward passes. */
    tconv_problem_t forward = p;
    forward.passes = TCONV_PASS_FORWARD;
    tconv_plan_t fplan = NULL;
    CHECK_OK(tconv_plan_create(&fplan, ctx, &forward, device));
    CHECK_OK(tconv_plan_set_weights_buffers(fplan, w, NULL));
    EXPECT_ERROR(tconv_plan_enqueue_backward(fplan, x, dy, dx, NULL, NULL), tconv_invalid_arguments,
                 "grad_input: the plan was made without", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(fplan, x, dy, NULL, dk, NULL), tconv_invalid_arguments,
                 "grad_kernel: the plan was made without", NULL);
    tconv_plan_destroy(fplan);

    /* Batch, wait. */
    EXPECT_ERROR(tconv_plan_set_batch(NULL, 1), tconv_invalid_arguments, "plan: must not be NULL",
                 NULL);
    EXPECT_ERROR(tconv_plan_set_batch(plan, 0), tconv_invalid_arguments,
                 "batch = 0: must be in 1..3 (the problem's batch)", NULL);
    EXPECT_ERROR(tconv_plan_set_batch(plan, 4), tconv_invalid_arguments,
                 "batch = 4: must be in 1..3", NULL);
    EXPECT_ERROR(tconv_plan_wait(NULL), tconv_invalid_arguments, "plan: must not be NULL", NULL);

    /* Buffers of another device and of another context. */
    const char *other_device = strcmp(device, "cpu:0") == 0 ? "example:0" : "cpu:0";
    tconv_plan_t other = NULL;
    CHECK_OK(tconv_plan_create(&other, ctx, &p, other_device));
    tconv_buffer_t foreign = upload(other, t.dev_in, z.in);
    snprintf(want, sizeof want, "input: a buffer of device %s, but the plan runs on %s",
             other_device, device);
    EXPECT_ERROR(tconv_plan_enqueue(plan, foreign, y), tconv_invalid_arguments, want, NULL);
    tconv_context_t ctx2 = open_context();
    tconv_plan_t elsewhere = NULL;
    CHECK_OK(tconv_plan_create(&elsewhere, ctx2, &p, device));
    tconv_buffer_t alien = upload(elsewhere, t.dev_kernel, z.kernel);
    EXPECT_ERROR(tconv_plan_set_weights_buffers(plan, alien, NULL), tconv_invalid_arguments,
                 "kernel: a buffer of another context", NULL);
    EXPECT_ERROR(tconv_plan_enqueue_backward(plan, x, dy, dx, alien, NULL), tconv_invalid_arguments,
                 "grad_kernel: a buffer of another context", NULL);
    tconv_plan_destroy(elsewhere);
    tconv_context_destroy(ctx2);
    /* The buffer keeps its context (and plugin) alive after both went. */
    CHECK_OK(tconv_buffer_write(alien, 0, t.dev_kernel, z.kernel));
    tconv_buffer_destroy(alien);

    tconv_buffer_t all[] = {x, y, w, small, x1, y1, dy, dx, dk, foreign};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tconv_buffer_destroy(all[i]);
    tconv_plan_destroy(other);
    tconv_plan_destroy(plan);
    tc_tensors_free(&t);
    tconv_context_destroy(ctx);
}

/* grad_bias without a bias, the same buffer twice in a backward pass and a
 * bias buffer missing on a problem with bias. */
static void test_bias_argument_errors(void **state) {
    const char *device = *state;
    tconv_context_t ctx = open_context();
    tconv_problem_t p;
    problem_training_leaky(&p);
    tconv_plan_t plan = NULL;
    CHECK_OK(tconv_plan_create(&plan, ctx, &p, device));
    tconv_buffer_t w = NULL;
    CHECK_OK(tconv_buffer_create(&w, plan, 1 << 16));
    EXPECT_ERROR(tconv_plan_set_weights_buffers(plan, w, NULL), tconv_invalid_arguments,
                 "bias: must not be NULL when the problem has use_bias set", NULL);
    tconv_buffer_destroy(w);
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
}

/* ---- deferred failures (async_fault) */

static tconv_context_t open_failing_context(const char *enqueue_number) {
    setenv(FAIL_VARIABLE, enqueue_number, 1);
    tconv_context_t ctx = open_context(); /* the plugin reads it in init */
    unsetenv(FAIL_VARIABLE);
    return ctx;
}

typedef struct small_run {
    tc_tensors_t t;
    tconv_plan_t plan;
    tconv_buffer_t x, y;
    size_t out_bytes;
} small_run_t;

static void small_run_open(tconv_context_t ctx, small_run_t *r) {
    tconv_problem_t p;
    problem_forward_relu(&p);
    tc_rng_t rng;
    tc_rng_seed(&rng, 9);
    make_tensors(&p, &rng, &r->t);
    const sizes_t z = tensor_sizes(&r->t);
    r->out_bytes = z.out;
    CHECK_OK(tconv_plan_create(&r->plan, ctx, &p, "async_fault:0"));
    CHECK_OK(tconv_plan_set_weights(r->plan, r->t.dev_kernel, r->t.dev_bias));
    r->x = upload(r->plan, r->t.dev_in, z.in);
    r->y = empty_buffer(r->plan, z.out);
}

static void small_run_close(small_run_t *r) {
    tconv_buffer_destroy(r->x);
    tconv_buffer_destroy(r->y);
    tconv_plan_destroy(r->plan);
    tc_tensors_free(&r->t);
}

/* The output is the reference's. */
static void small_run_check(small_run_t *r, const char *when) {
    CHECK_OK(tconv_buffer_read(r->y, 0, r->t.dev_out, r->out_bytes));
    check_reference_forward(&r->t, "async_fault:0", when);
}

static void test_deferred_error_at_wait(void **state) {
    tconv_context_t ctx = open_failing_context("2");
    small_run_t r;
    small_run_open(ctx, &r);
    CHECK_OK(tconv_plan_enqueue(r.plan, r.x, r.y)); /* 1 */
    CHECK_OK(tconv_plan_enqueue(r.plan, r.x, r.y)); /* 2: fails when it runs */
    EXPECT_ERROR(tconv_plan_wait(r.plan), tconv_runtime_error,
                 "async_fault:0: simulated device fault in enqueue 2", NULL);
    CHECK_OK(tconv_plan_wait(r.plan));              /* cleared */
    CHECK_OK(tconv_plan_enqueue(r.plan, r.x, r.y)); /* 3 */
    CHECK_OK(tconv_plan_wait(r.plan));
    small_run_check(&r, "after a deferred failure");
    small_run_close(&r);
    tconv_context_destroy(ctx);
}

static void test_deferred_error_at_read(void **state) {
    tconv_context_t ctx = open_failing_context("1");
    small_run_t r;
    small_run_open(ctx, &r);
    CHECK_OK(tconv_plan_enqueue(r.plan, r.x, r.y)); /* 1: fails when it runs */
    EXPECT_ERROR(tconv_buffer_read(r.y, 0, r.t.dev_out, r.out_bytes), tconv_runtime_error,
                 "async_fault:0: simulated device fault in enqueue 1", NULL);
    CHECK_OK(tconv_plan_wait(r.plan)); /* reported once */
    CHECK_OK(tconv_plan_enqueue(r.plan, r.x, r.y));
    small_run_check(&r, "after a failure reported by a read");
    small_run_close(&r);
    tconv_context_destroy(ctx);
}

/* A staged pass (training plan, core-applied activation) reads its inputs:
 * a failure of earlier work comes back from that enqueue. */
static void test_deferred_error_at_staged_pass(void **state) {
    tconv_context_t ctx = open_failing_context("1");
    small_run_t r;
    small_run_open(ctx, &r);
    tconv_problem_t p;
    problem_training_leaky(&p);
    tconv_plan_t staged = NULL;
    CHECK_OK(tconv_plan_create(&staged, ctx, &p, "async_fault:0"));
    tc_rng_t rng;
    tc_rng_seed(&rng, 2);
    tc_tensors_t t;
    make_tensors(&p, &rng, &t);
    const sizes_t z = tensor_sizes(&t);
    CHECK_OK(tconv_plan_set_weights(staged, t.dev_kernel, t.dev_bias));
    tconv_buffer_t x = upload(staged, t.dev_in, z.in), y = empty_buffer(staged, z.out);
    CHECK_OK(tconv_plan_enqueue(r.plan, r.x, r.y)); /* 1: fails when it runs */
    EXPECT_ERROR(tconv_plan_enqueue(staged, x, y), tconv_runtime_error,
                 "async_fault:0: simulated device fault in enqueue 1", NULL);
    CHECK_OK(tconv_plan_enqueue(staged, x, y));
    CHECK_OK(tconv_buffer_read(y, 0, t.dev_out, z.out));
    check_reference_forward(&t, "async_fault:0", "staged pass after a failure");
    tconv_buffer_destroy(x);
    tconv_buffer_destroy(y);
    tconv_plan_destroy(staged);
    tc_tensors_free(&t);
    small_run_close(&r);
    tconv_context_destroy(ctx);
}

/* ---- a chained decoder */

/* Three layers, each one's output the next one's input, enqueued with no
 * wait in between, equal the host path run layer by layer. */
static void test_chained_decoder(void **state) {
    const char *device = *state;
    tconv_context_t ctx = open_context();
    const int64_t channels[4] = {8, 6, 4, 2}, kernels[3] = {2, 2, 3}, strides[3] = {2, 2, 1};
    int64_t length = 3;
    tconv_plan_t plans[3];
    tc_tensors_t t[3];
    tc_rng_t rng;
    tc_rng_seed(&rng, 31);
    for (int l = 0; l < 3; l++) {
        tconv_problem_t p;
        tconv_problem_init(&p, 3);
        p.batch = 2;
        p.in_channels = channels[l];
        p.out_channels = channels[l + 1];
        for (int a = 0; a < 3; a++) {
            p.input_size[a] = length;
            p.kernel_size[a] = kernels[l];
            p.strides[a] = strides[l];
        }
        p.use_bias = 1;
        p.activation = l < 2 ? tconv_activation_relu : tconv_activation_sigmoid;
        make_tensors(&p, &rng, &t[l]);
        CHECK_OK(tconv_plan_create(&plans[l], ctx, &p, device));
        CHECK_OK(tconv_plan_set_weights(plans[l], t[l].dev_kernel, t[l].dev_bias));
        length = (length - 1) * strides[l] + kernels[l];
    }
    /* Host path: each layer's output is the next one's input. */
    CHECK_OK(tconv_plan_execute(plans[0], t[0].dev_in, t[0].dev_out));
    CHECK_OK(tconv_plan_execute(plans[1], t[0].dev_out, t[1].dev_out));
    CHECK_OK(tconv_plan_execute(plans[2], t[1].dev_out, t[2].dev_out));
    const sizes_t z[3] = {tensor_sizes(&t[0]), tensor_sizes(&t[1]), tensor_sizes(&t[2])};
    tconv_buffer_t b[4] = {upload(plans[0], t[0].dev_in, z[0].in), empty_buffer(plans[0], z[0].out),
                           empty_buffer(plans[1], z[1].out), empty_buffer(plans[2], z[2].out)};
    for (int l = 0; l < 3; l++)
        CHECK_OK(tconv_plan_enqueue(plans[l], b[l], b[l + 1]));
    CHECK_OK(tconv_plan_wait(plans[2]));
    void *got = download(b[3], z[2].out);
    expect_same_bytes(got, t[2].dev_out, z[2].out, "3-layer decoder on buffers", device);
    free(got);
    for (int l = 0; l < 4; l++)
        tconv_buffer_destroy(b[l]);
    for (int l = 0; l < 3; l++) {
        tconv_plan_destroy(plans[l]);
        tc_tensors_free(&t[l]);
    }
    tconv_context_destroy(ctx);
}

/* ---- the loader refuses a partial buffer group */

static void test_partial_group_refused(void **state) {
    tconv_context_t ctx = NULL;
    CHECK_OK(tconv_context_create(&ctx, PARTIAL_PLUGIN));
    size_t count = 0;
    CHECK_OK(tconv_context_get_plugin_count(ctx, &count));
    bool seen = false;
    for (size_t i = 0; i < count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        CHECK_OK(tconv_context_get_plugin_report(ctx, i, &r));
        if (!tc_contains(r.path, "partial_group"))
            continue;
        seen = true;
        if (r.state != tconv_plugin_failed || r.reason != tconv_plugin_bad_table ||
            !tc_contains(r.message, "buffer group incomplete: buffer_create is set but "
                                    "buffer_destroy is NULL"))
            fail_msg("partial_group: state %d reason %d: %s", (int)r.state, (int)r.reason,
                     r.message);
    }
    if (!seen)
        fail_msg("no report for %s", PARTIAL_PLUGIN);
    tconv_context_destroy(ctx);
}

int main(void) {
    tc_clean_environment();
    unsetenv(FAIL_VARIABLE);
    /* cmocka's prestate: one test per device. */
    void *devices[DEVICE_COUNT];
    for (size_t i = 0; i < DEVICE_COUNT; i++)
        devices[i] = (void *)all_devices[i];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_buffers_equal_host_path, devices[0]),
        cmocka_unit_test_prestate(test_buffers_equal_host_path, devices[1]),
        cmocka_unit_test_prestate(test_buffers_equal_host_path, devices[2]),
        cmocka_unit_test_prestate(test_weights_buffers_replace_weights, devices[0]),
        cmocka_unit_test_prestate(test_weights_buffers_replace_weights, devices[1]),
        cmocka_unit_test_prestate(test_weights_buffers_replace_weights, devices[2]),
        cmocka_unit_test_prestate(test_batch_equals_plan_for_batch, devices[0]),
        cmocka_unit_test_prestate(test_batch_equals_plan_for_batch, devices[1]),
        cmocka_unit_test_prestate(test_batch_equals_plan_for_batch, devices[2]),
        cmocka_unit_test_prestate(test_argument_errors, devices[0]),
        cmocka_unit_test_prestate(test_argument_errors, devices[1]),
        cmocka_unit_test_prestate(test_argument_errors, devices[2]),
        cmocka_unit_test_prestate(test_bias_argument_errors, devices[0]),
        cmocka_unit_test_prestate(test_bias_argument_errors, devices[2]),
        cmocka_unit_test(test_deferred_error_at_wait),
        cmocka_unit_test(test_deferred_error_at_read),
        cmocka_unit_test(test_deferred_error_at_staged_pass),
        cmocka_unit_test_prestate(test_chained_decoder, devices[0]),
        cmocka_unit_test_prestate(test_chained_decoder, devices[1]),
        cmocka_unit_test_prestate(test_chained_decoder, devices[2]),
        cmocka_unit_test(test_partial_group_refused),
    };
    return cmocka_run_group_tests_name("buffers", tests, NULL, NULL);
}
