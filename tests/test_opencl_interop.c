/* SPDX-License-Identifier: Apache-2.0 */
/* OpenCL interop (tconv_opencl.h) as an application uses it: its own
 * cl_context, in-order queue and cl_mem; its own small kernel fills the
 * input on the queue (non-blocking) and clEnqueueWriteBuffer the rest
 * (non-blocking); tconv's calls take the application's events as wait lists
 * and return an event; the results are read only by a clEnqueueReadBuffer
 * that waits for tconv's event (no clFinish in between).
 *   - forward and backward passes equal the float64 reference;
 *   - after tconv_plan_destroy the queue's and every cl_mem's reference
 *     counts are what they were before the plan;
 *   - a user event in the wait list set to a negative status makes the pass
 *     fail: tconv_plan_wait returns the error with a message naming the
 *     pass, once; the returned event shows an error status; the plan runs
 *     right afterwards;
 *   - an out-of-order queue and a cl_mem of another context are refused
 *     with messages.
 * Without an OpenCL device the test exits 77 (skipped), a failure under CI. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tconv/tconv_opencl.h"
#include "test_support.h"

/* The application's side. */
static struct {
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel pattern;
} g_cl;
static tconv_context_t g_ctx;

#define CHECK_CL(call)                                                                             \
    do {                                                                                           \
        cl_int err_ = (call);                                                                      \
        if (err_ != CL_SUCCESS)                                                                    \
            fail_msg("%s -> OpenCL error %d", #call, (int)err_);                                   \
    } while (0)

/* The application's own kernel: x[i] = ((i * 37) mod 53 - 26) / 32, exact
 * in float, so the host knows the values without reading them back. */
static const char *const pattern_source =
    "__kernel void pattern(__global float *x, const int count) {\n"
    "    const int i = get_global_id(0);\n"
    "    if (i < count)\n"
    "        x[i] = (float)((i * 37) % 53 - 26) / 32.0f;\n"
    "}\n";

static double pattern_value(int64_t i) {
    return (double)((i * 37) % 53 - 26) / 32.0;
}

static cl_mem make_mem(size_t bytes) {
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(g_cl.context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        fail_msg("clCreateBuffer(%zu) -> %d", bytes, (int)err);
    return m;
}

/* Enqueues the pattern kernel over @p count floats of @p m; its event. */
static cl_event fill_pattern(cl_mem m, int64_t count) {
    cl_int n = (cl_int)count;
    CHECK_CL(clSetKernelArg(g_cl.pattern, 0, sizeof m, &m));
    CHECK_CL(clSetKernelArg(g_cl.pattern, 1, sizeof n, &n));
    size_t global = (size_t)count;
    cl_event done = NULL;
    CHECK_CL(
        clEnqueueNDRangeKernel(g_cl.queue, g_cl.pattern, 1, NULL, &global, NULL, 0, NULL, &done));
    return done;
}

/* Non-blocking upload of @p bytes of @p host (which stays valid). */
static cl_event write_mem(cl_mem m, const void *host, size_t bytes) {
    cl_event done = NULL;
    CHECK_CL(clEnqueueWriteBuffer(g_cl.queue, m, CL_FALSE, 0, bytes, host, 0, NULL, &done));
    return done;
}

/* Reads @p bytes of @p m once @p after (tconv's event) has completed. */
static void *read_after(cl_mem m, size_t bytes, cl_event after) {
    void *host = malloc(bytes);
    assert_non_null(host);
    CHECK_CL(clEnqueueReadBuffer(g_cl.queue, m, CL_TRUE, 0, bytes, host, 1, &after, NULL));
    return host;
}

static cl_int event_status(cl_event e) {
    cl_int status = 1;
    CHECK_CL(clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL));
    return status;
}

/* tconv-bench's keras_k3s2 layer scaled down (as test_forward_fixed). */
static void layer_problem(tconv_problem_t *p, uint32_t passes) {
    tconv_problem_init(p, 3);
    p->dtype = tconv_f32;
    p->batch = 2;
    p->in_channels = 16;
    p->out_channels = 12;
    p->padding = tconv_padding_explicit;
    p->has_output_padding = 1;
    const int64_t input[3] = {4, 6, 5};
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = input[a];
        p->kernel_size[a] = 3;
        p->strides[a] = 2;
        p->pads_begin[a] = p->pads_end[a] = 1;
        p->output_padding[a] = 1;
    }
    p->data_format = tconv_channels_last;
    p->kernel_layout = tconv_kernel_keras;
    p->use_bias = 1;
    p->activation = passes == TCONV_PASS_FORWARD ? tconv_activation_relu : tconv_activation_linear;
    p->passes = passes;
}

/* The problem's tensors: the input is the pattern, the rest random. */
static void make_tensors(const tconv_problem_t *p, tc_tensors_t *t) {
    tc_rng_t rng;
    tc_rng_seed(&rng, 4242);
    char msg[512];
    tc_tensors_t random;
    if (tc_tensors_make(p, &rng, &random, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    double *in = malloc((size_t)random.in_count * sizeof(double));
    assert_non_null(in);
    for (int64_t i = 0; i < random.in_count; i++)
        in[i] = pattern_value(i);
    if (tc_tensors_from_values(p, in, random.kernel, random.bias, t, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    free(in);
    tc_tensors_free(&random);
}

/* The caller's memory of one problem. */
typedef struct mems {
    cl_mem x, w, b, y, dy, dx, dw, db;
} mems_t;

static void mems_make(const tc_tensors_t *t, mems_t *m) {
    m->x = make_mem((size_t)t->in_count * sizeof(float));
    m->w = make_mem((size_t)t->kernel_count * sizeof(float));
    m->b = make_mem((size_t)t->canonical.out_channels * sizeof(float));
    m->y = make_mem((size_t)t->out_count * sizeof(float));
    m->dy = make_mem((size_t)t->out_count * sizeof(float));
    m->dx = make_mem((size_t)t->in_count * sizeof(float));
    m->dw = make_mem((size_t)t->kernel_count * sizeof(float));
    m->db = make_mem((size_t)t->canonical.out_channels * sizeof(float));
}

static void mems_release(mems_t *m) {
    cl_mem all[] = {m->x, m->w, m->b, m->y, m->dy, m->dx, m->dw, m->db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        clReleaseMemObject(all[i]);
}

static void expect_output(const tc_tensors_t *t, const float *got, const char *what) {
    memcpy(t->dev_out, got, (size_t)t->out_count * sizeof(float));
    int64_t at = 0;
    double err = tc_tensors_max_error(t, &at);
    if (!(err <= tc_tolerance(tconv_f32)))
        fail_msg("%s: error %.3g at %lld: got %.9g, reference %.9g", what, err, (long long)at,
                 (double)got[at], t->ref[at]);
}

/* Forward: fill, set weights, execute after the fill's event, read after
 * tconv's event; against the reference. */
static void test_forward(void **state) {
    (void)state;
    tconv_problem_t p;
    layer_problem(&p, TCONV_PASS_FORWARD);
    tc_tensors_t t;
    make_tensors(&p, &t);
    mems_t m;
    mems_make(&t, &m);
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_opencl_plan_create(&plan, g_ctx, &p, g_cl.queue));
    cl_event filled = fill_pattern(m.x, t.in_count);
    cl_event w = write_mem(m.w, t.dev_kernel, (size_t)t.kernel_count * sizeof(float));
    cl_event b = write_mem(m.b, t.dev_bias, (size_t)p.out_channels * sizeof(float));
    TC_CHECK_OK(tconv_opencl_plan_set_weights(plan, m.w, m.b));
    cl_event done = NULL;
    TC_CHECK_OK(tconv_opencl_plan_execute(plan, m.x, m.y, 1, &filled, &done));
    assert_non_null(done);
    float *y = read_after(m.y, (size_t)t.out_count * sizeof(float), done);
    assert_int_equal(event_status(done), CL_COMPLETE);
    expect_output(&t, y, "interop forward pass");
    TC_CHECK_OK(tconv_plan_wait(plan));
    free(y);
    cl_event events[] = {filled, w, b, done};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        clReleaseEvent(events[i]);
    tconv_plan_destroy(plan);
    mems_release(&m);
    tc_tensors_free(&t);
}

/* Backward through interop: the forward output and every gradient against
 * the reference, dL/dy written by the application (non-blocking). */
static void test_backward(void **state) {
    (void)state;
    tconv_problem_t p;
    layer_problem(&p, TCONV_PASS_TRAINING);
    tc_tensors_t t;
    make_tensors(&p, &t);
    tc_rng_t rng;
    tc_rng_seed(&rng, 99);
    tc_gradients_t g;
    char msg[512];
    if (tc_gradients_make(&t, &rng, &g, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    mems_t m;
    mems_make(&t, &m);
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_opencl_plan_create(&plan, g_ctx, &p, g_cl.queue));
    cl_event filled = fill_pattern(m.x, t.in_count);
    cl_event w = write_mem(m.w, t.dev_kernel, (size_t)t.kernel_count * sizeof(float));
    cl_event b = write_mem(m.b, t.dev_bias, (size_t)p.out_channels * sizeof(float));
    cl_event dy = write_mem(m.dy, g.dev_grad_out, (size_t)t.out_count * sizeof(float));
    TC_CHECK_OK(tconv_opencl_plan_set_weights(plan, m.w, m.b));
    cl_event forward = NULL, backward = NULL;
    TC_CHECK_OK(tconv_opencl_plan_execute(plan, m.x, m.y, 1, &filled, &forward));
    cl_event before_backward[2] = {forward, dy};
    TC_CHECK_OK(tconv_opencl_plan_execute_backward(plan, m.x, m.dy, m.dx, m.dw, m.db, 2,
                                                   before_backward, &backward));
    float *y = read_after(m.y, (size_t)t.out_count * sizeof(float), forward);
    expect_output(&t, y, "interop training plan, forward pass");
    const cl_mem grads[tc_grad_count] = {m.dx, m.dw, m.db};
    for (int k = 0; k < tc_grad_count; k++) {
        float *got = read_after(grads[k], (size_t)g.count[k] * sizeof(float), backward);
        memcpy(g.dev[k], got, (size_t)g.count[k] * sizeof(float));
        free(got);
        int64_t at = 0;
        double err = tc_gradients_max_error(&g, (tc_gradient_t)k, tconv_f32, &at);
        if (!(err <= tc_tolerance(tconv_f32)))
            fail_msg("interop %s: error %.3g at %lld: got %.9g, reference %.9g",
                     tc_gradient_name((tc_gradient_t)k), err, (long long)at,
                     tc_element(g.dev[k], tconv_f32, at), g.ref[k][at]);
    }
    assert_int_equal(event_status(backward), CL_COMPLETE);
    TC_CHECK_OK(tconv_plan_wait(plan));
    free(y);
    cl_event events[] = {filled, w, b, dy, forward, backward};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        clReleaseEvent(events[i]);
    tconv_plan_destroy(plan);
    mems_release(&m);
    tc_gradients_free(&g);
    tc_tensors_free(&t);
}

/* The application's last command on each of its buffers, then a finish:
 * the state the reference counts are compared in (drivers such as PoCL
 * keep the last command of a buffer and of a queue, and that command
 * holds a reference to its queue, until a later command replaces it). */
static void touch_all(const mems_t *m) {
    const cl_mem all[] = {m->x, m->w, m->b, m->y, m->dy, m->dx, m->dw, m->db};
    const float zero = 0.0f;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        size_t bytes = 0;
        CHECK_CL(clGetMemObjectInfo(all[i], CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
        CHECK_CL(
            clEnqueueFillBuffer(g_cl.queue, all[i], &zero, sizeof zero, 0, bytes, 0, NULL, NULL));
    }
    CHECK_CL(clFinish(g_cl.queue));
}

typedef struct counts {
    cl_uint queue, mem[8];
} counts_t;

static counts_t reference_counts(const mems_t *m) {
    counts_t c;
    CHECK_CL(clGetCommandQueueInfo(g_cl.queue, CL_QUEUE_REFERENCE_COUNT, sizeof c.queue, &c.queue,
                                   NULL));
    const cl_mem all[] = {m->x, m->w, m->b, m->y, m->dy, m->dx, m->dw, m->db};
    for (size_t i = 0; i < 8; i++)
        CHECK_CL(
            clGetMemObjectInfo(all[i], CL_MEM_REFERENCE_COUNT, sizeof c.mem[i], &c.mem[i], NULL));
    return c;
}

/* reference_counts once the driver has let go of finished commands: an
 * OpenCL implementation may keep a command's references to its queue and
 * memory objects until it frees the command, some time after clFinish
 * (PoCL does, in its own thread: under ASan's slow unwinder a fill that had
 * finished still held the buffer). The test owns one reference to each
 * cl_mem, so idle means a count of 1 each and the queue's count steady;
 * gives up after 2 s and returns what it sees then (a reference tconv kept
 * stays for good, so the comparisons still fail). */
static counts_t settled_reference_counts(const mems_t *m) {
    counts_t last = reference_counts(m);
    for (int tries = 0; tries < 200; tries++) {
        int idle = 1;
        for (size_t i = 0; i < 8; i++)
            idle &= last.mem[i] == 1;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
        const counts_t now = reference_counts(m);
        if (idle && memcmp(&now, &last, sizeof now) == 0)
            return now;
        last = now;
    }
    return last;
}

/* tconv retains the queue for the plan's life and each cl_mem only while
 * its work is queued: after tconv_plan_destroy every count is back. */
static void test_reference_counts(void **state) {
    (void)state;
    tconv_problem_t p;
    layer_problem(&p, TCONV_PASS_TRAINING);
    tc_tensors_t t;
    make_tensors(&p, &t);
    mems_t m;
    mems_make(&t, &m);
    touch_all(&m);
    const counts_t before = settled_reference_counts(&m);
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_opencl_plan_create(&plan, g_ctx, &p, g_cl.queue));
    cl_uint held = 0;
    CHECK_CL(clGetCommandQueueInfo(g_cl.queue, CL_QUEUE_REFERENCE_COUNT, sizeof held, &held, NULL));
    if (held != before.queue + 1)
        fail_msg("queue reference count %u after tconv_opencl_plan_create, %u before: tconv "
                 "retains it once",
                 held, before.queue);
    TC_CHECK_OK(tconv_opencl_plan_set_weights(plan, m.w, m.b));
    cl_event done = NULL;
    TC_CHECK_OK(tconv_opencl_plan_execute(plan, m.x, m.y, 0, NULL, NULL));
    TC_CHECK_OK(
        tconv_opencl_plan_execute_backward(plan, m.x, m.dy, m.dx, m.dw, m.db, 0, NULL, &done));
    TC_CHECK_OK(tconv_plan_wait(plan));
    clReleaseEvent(done);
    tconv_plan_destroy(plan);
    touch_all(&m);
    const counts_t after = settled_reference_counts(&m);
    if (after.queue != before.queue)
        fail_msg("queue reference count %u after tconv_plan_destroy, %u before", after.queue,
                 before.queue);
    static const char *const names[8] = {"input",       "kernel",     "bias",        "output",
                                         "grad_output", "grad_input", "grad_kernel", "grad_bias"};
    for (int i = 0; i < 8; i++)
        if (after.mem[i] != before.mem[i])
            fail_msg("%s cl_mem reference count %u after tconv_plan_destroy, %u before", names[i],
                     after.mem[i], before.mem[i]);
    mems_release(&m);
    tc_tensors_free(&t);
}

/* A failed event in the wait list: the pass fails on the device, the
 * returned event says so, tconv_plan_wait returns the error once. */
static void test_failed_wait_event(void **state) {
    (void)state;
    tconv_problem_t p;
    layer_problem(&p, TCONV_PASS_FORWARD);
    tc_tensors_t t;
    make_tensors(&p, &t);
    mems_t m;
    mems_make(&t, &m);
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_opencl_plan_create(&plan, g_ctx, &p, g_cl.queue));
    cl_event filled = fill_pattern(m.x, t.in_count);
    cl_event w = write_mem(m.w, t.dev_kernel, (size_t)t.kernel_count * sizeof(float));
    cl_event b = write_mem(m.b, t.dev_bias, (size_t)p.out_channels * sizeof(float));
    TC_CHECK_OK(tconv_opencl_plan_set_weights(plan, m.w, m.b));
    CHECK_CL(clFinish(g_cl.queue));
    cl_int err = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(g_cl.context, &err);
    CHECK_CL(err);
    cl_event done = NULL;
    TC_CHECK_OK(tconv_opencl_plan_execute(plan, m.x, m.y, 1, &gate, &done));
    /* Queued, not run: the gate fails. */
    CHECK_CL(clSetUserEventStatus(gate, CL_INVALID_OPERATION));
    tconv_status_t st = tconv_plan_wait(plan);
    const char *message = tconv_get_last_error();
    if (st == tconv_success || !tc_contains(message, "opencl:") ||
        !tc_contains(message, "forward pass") || !tc_contains(message, "failed"))
        fail_msg("tconv_plan_wait after a failed wait event -> %s '%s'; want an error naming "
                 "the device and the forward pass",
                 tconv_status_name(st), message);
    if (event_status(done) >= 0)
        fail_msg("the returned event has status %d after its wait list failed; want < 0",
                 (int)event_status(done));
    TC_CHECK_OK(tconv_plan_wait(plan)); /* reported once */
    /* The plan runs right afterwards. */
    cl_event again = NULL;
    TC_CHECK_OK(tconv_opencl_plan_execute(plan, m.x, m.y, 0, NULL, &again));
    float *y = read_after(m.y, (size_t)t.out_count * sizeof(float), again);
    expect_output(&t, y, "interop forward pass after a failed one");
    TC_CHECK_OK(tconv_plan_wait(plan));
    free(y);
    cl_event events[] = {filled, w, b, gate, done, again};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        clReleaseEvent(events[i]);
    tconv_plan_destroy(plan);
    mems_release(&m);
    tc_tensors_free(&t);
}

/* An out-of-order queue and a cl_mem of another context are refused. */
static void test_refusals(void **state) {
    (void)state;
    tconv_problem_t p;
    layer_problem(&p, TCONV_PASS_FORWARD);
    cl_int err = CL_SUCCESS;
    cl_command_queue unordered = clCreateCommandQueue(g_cl.context, g_cl.device,
                                                      CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    if (err == CL_SUCCESS) { /* a driver may not offer out-of-order queues */
        tconv_plan_t plan = NULL;
        tconv_status_t st = tconv_opencl_plan_create(&plan, g_ctx, &p, unordered);
        if (st != tconv_invalid_arguments || !tc_contains(tconv_get_last_error(), "out of order"))
            fail_msg("an out-of-order queue -> %s '%s'; want invalid_arguments, 'out of order'",
                     tconv_status_name(st), tconv_get_last_error());
        clReleaseCommandQueue(unordered);
    }
    tc_tensors_t t;
    make_tensors(&p, &t);
    mems_t m;
    mems_make(&t, &m);
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_opencl_plan_create(&plan, g_ctx, &p, g_cl.queue));
    TC_CHECK_OK(tconv_opencl_plan_set_weights(plan, m.w, m.b));
    cl_context other = clCreateContext(NULL, 1, &g_cl.device, NULL, NULL, &err);
    CHECK_CL(err);
    cl_mem foreign =
        clCreateBuffer(other, CL_MEM_READ_WRITE, (size_t)t.in_count * sizeof(float), NULL, &err);
    CHECK_CL(err);
    tconv_status_t st = tconv_opencl_plan_execute(plan, foreign, m.y, 0, NULL, NULL);
    if (st != tconv_invalid_arguments || !tc_contains(tconv_get_last_error(), "input") ||
        !tc_contains(tconv_get_last_error(), "context"))
        fail_msg("an input cl_mem of another context -> %s '%s'; want invalid_arguments naming "
                 "the input and the context",
                 tconv_status_name(st), tconv_get_last_error());
    TC_CHECK_OK(tconv_plan_wait(plan));
    clReleaseMemObject(foreign);
    clReleaseContext(other);
    tconv_plan_destroy(plan);
    mems_release(&m);
    tc_tensors_free(&t);
}

/* The application's OpenCL objects on the first device of the first
 * platform that has one; 0, or -1 with the reason in @p why. */
static int open_application(char *why, size_t why_size) {
    cl_uint platforms = 0;
    cl_platform_id ids[16];
    if (clGetPlatformIDs(16, ids, &platforms) != CL_SUCCESS || platforms == 0) {
        snprintf(why, why_size, "no OpenCL platform");
        return -1;
    }
    for (cl_uint i = 0; i < platforms && i < 16 && !g_cl.device; i++)
        if (clGetDeviceIDs(ids[i], CL_DEVICE_TYPE_ALL, 1, &g_cl.device, NULL) != CL_SUCCESS)
            g_cl.device = NULL;
    if (!g_cl.device) {
        snprintf(why, why_size, "no OpenCL device");
        return -1;
    }
    cl_int err = CL_SUCCESS;
    g_cl.context = clCreateContext(NULL, 1, &g_cl.device, NULL, NULL, &err);
    if (err == CL_SUCCESS)
        g_cl.queue = clCreateCommandQueue(g_cl.context, g_cl.device, 0, &err);
    if (err == CL_SUCCESS)
        g_cl.program =
            clCreateProgramWithSource(g_cl.context, 1, (const char **)&pattern_source, NULL, &err);
    if (err == CL_SUCCESS)
        err = clBuildProgram(g_cl.program, 1, &g_cl.device, "", NULL, NULL);
    if (err == CL_SUCCESS)
        g_cl.pattern = clCreateKernel(g_cl.program, "pattern", &err);
    if (err != CL_SUCCESS) {
        snprintf(why, why_size, "setting up the application's OpenCL objects: error %d", (int)err);
        return -2;
    }
    return 0;
}

int main(void) {
    tc_clean_environment();
    char why[256];
    int opened = open_application(why, sizeof why);
    if (opened == -1)
        return tc_cannot_run("%s", why);
    if (opened != 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    if (tconv_context_create(&g_ctx, NULL) != tconv_success) {
        fprintf(stderr, "tconv_context_create: %s\n", tconv_get_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),          cmocka_unit_test(test_backward),
        cmocka_unit_test(test_reference_counts), cmocka_unit_test(test_failed_wait_event),
        cmocka_unit_test(test_refusals),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tconv_context_destroy(g_ctx);
    clReleaseKernel(g_cl.pattern);
    clReleaseProgram(g_cl.program);
    clReleaseCommandQueue(g_cl.queue);
    clReleaseContext(g_cl.context);
    return failed ? 1 : 0;
}
