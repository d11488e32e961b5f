/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenCL backend's kernel launches when the driver refuses an argument,
 * and its TCONV_OPENCL_LOCAL tuning variable, on opencl:0:
 *   - clSetKernelArg failing: this program defines clSetKernelArg itself
 *     (exported, so the plugin's calls bind to it before the ICD loader's;
 *     it forwards to the loader's) and fails the N-th call with a chosen
 *     code, for N = 1, 2, ... until N is past the last call of a forward
 *     plan (creation with its warm-up, weights, execution) and of a
 *     channels_first training plan (the backward passes too). The call that
 *     meets the failure returns the status of that code (CL_OUT_OF_HOST_MEMORY:
 *     tconv_out_of_memory; CL_INVALID_MEM_OBJECT: tconv_runtime_error) with a
 *     message naming the kernel, the argument and the code, and every kernel
 *     of the plan is named by some N. The forward plan used to OR the codes
 *     of its calls and report CL_INVALID_KERNEL_ARGS whatever they were, so
 *     an out-of-memory one was a runtime error. After each failure the same
 *     steps with nothing failing give the reference's results.
 *   - TCONV_OPENCL_LOCAL (most work-items per work-group of the gather):
 *     "-1", "0", "x", "4x", "99999" are said in a log line at verbosity 1 and
 *     the default used (atoi made "-1" SIZE_MAX and "x" 0, silently); "1"
 *     and "64" are taken without a word; every plan gives the reference's
 *     output.
 * Without opencl:0 the entry exits 77 (a failure under CI=true). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <CL/cl.h>

#include "test_support.h"

#define DEVICE    "opencl:0"
#define MAX_SWEEP 2000 /* more calls than this in one plan's life: the sweep never ends */

/* ---- clSetKernelArg, as the plugin sees it */

static long arg_calls; /* calls since the last arm_failure */
static long fail_at;   /* the call that fails (1-based); 0: none */
static cl_int fail_code;

typedef cl_int (*set_kernel_arg_fn)(cl_kernel, cl_uint, size_t, const void *);

/* The ICD loader's clSetKernelArg: the plugin has loaded libOpenCL by the
 * time it sets an argument. */
static set_kernel_arg_fn loader_set_kernel_arg(void) {
    static set_kernel_arg_fn real;
    if (real == NULL) {
        void *loader = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (loader != NULL)
            real = (set_kernel_arg_fn)dlsym(loader, "clSetKernelArg");
    }
    return real;
}

__attribute__((visibility("default"))) cl_int clSetKernelArg(cl_kernel kernel, cl_uint index,
                                                             size_t size, const void *value) {
    if (++arg_calls == fail_at)
        return fail_code;
    set_kernel_arg_fn real = loader_set_kernel_arg();
    return real != NULL ? real(kernel, index, size, value) : CL_INVALID_KERNEL;
}

static void arm_failure(long at, cl_int code) {
    arg_calls = 0;
    fail_at = at;
    fail_code = code;
}

/* Disarms; returns how many calls were made while armed. */
static long disarm(void) {
    fail_at = 0;
    return arg_calls;
}

/* ---- problems and their runs */

static tconv_context_t g_ctx;

/* A small layer: rank 2, stride 2, bias; channels_first with torch weights
 * for the training plan (so the backward pass converts layouts too). */
static tconv_problem_t layer(int training) {
    tconv_problem_t p;
    tconv_problem_init(&p, 2);
    p.dtype = tconv_f32;
    p.batch = 2;
    p.in_channels = 3;
    p.out_channels = 4;
    for (int a = 0; a < 2; a++) {
        p.input_size[a] = 5;
        p.kernel_size[a] = 3;
        p.strides[a] = 2;
    }
    p.use_bias = 1;
    if (training) {
        p.data_format = tconv_channels_first;
        p.kernel_layout = tconv_kernel_torch;
        p.passes = TCONV_PASS_TRAINING;
    }
    return p;
}

/* Plan, weights, execute, and with @p gr the backward pass, on DEVICE.
 * Returns the first failing status, its step and message in @p msg. */
static tconv_status_t run_steps(const tconv_problem_t *p, tc_tensors_t *t, tc_gradients_t *gr,
                                char *msg, size_t msg_size) {
    tconv_plan_t plan = NULL;
    const char *step = "tconv_plan_create";
    tconv_status_t st = tconv_plan_create(&plan, g_ctx, p, DEVICE);
    if (st == tconv_success) {
        step = "tconv_plan_set_weights";
        st = tconv_plan_set_weights(plan, t->dev_kernel, t->dev_bias);
    }
    if (st == tconv_success) {
        step = "tconv_plan_execute";
        tc_tensors_poison_output(t);
        st = tconv_plan_execute(plan, t->dev_in, t->dev_out);
    }
    if (st == tconv_success && gr != NULL) {
        step = "tconv_plan_execute_backward";
        tc_gradients_poison(gr, p->dtype);
        st = tconv_plan_execute_backward(plan, t->dev_in, gr->dev_grad_out, gr->dev[tc_grad_input],
                                         gr->dev[tc_grad_kernel], gr->dev[tc_grad_bias]);
    }
    snprintf(msg, msg_size, "%s -> %s: %s", step, tconv_status_name(st),
             st == tconv_success ? "" : tconv_get_last_error());
    tconv_plan_destroy(plan);
    return st;
}

/* The output and, with @p gr, the gradients within tolerance of the reference. */
static void expect_reference(const tconv_problem_t *p, const tc_tensors_t *t,
                             const tc_gradients_t *gr, const char *when) {
    int64_t at;
    double err = tc_tensors_max_error(t, &at);
    if (!(err <= tc_tolerance(p->dtype)))
        fail_msg("%s: output error %.3g at %lld", when, err, (long long)at);
    for (int k = 0; gr != NULL && k < tc_grad_count; k++) {
        err = tc_gradients_max_error(gr, (tc_gradient_t)k, p->dtype, &at);
        if (!(err <= tc_tolerance(p->dtype)))
            fail_msg("%s: %s error %.3g at %lld", when, tc_gradient_name((tc_gradient_t)k), err,
                     (long long)at);
    }
}

/* Fails the 1st, 2nd, ... clSetKernelArg call of @p p's steps with @p code:
 * each must end in @p want with the kernel, the argument and @p code_name
 * named, and every kernel of @p kernels must be named by some N. */
static void sweep(int training, cl_int code, const char *code_name, tconv_status_t want,
                  const char *const *kernels, int kernel_count) {
    const tconv_problem_t p = layer(training);
    tc_rng_t rng;
    tc_rng_seed(&rng, 20261203);
    tc_tensors_t t;
    tc_gradients_t gr, *g = training ? &gr : NULL;
    char msg[1024];
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    if (training && tc_gradients_make(&t, &rng, &gr, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    int named[16] = {0};
    long n = 1;
    for (; n <= MAX_SWEEP; n++) {
        arm_failure(n, code);
        tconv_status_t st = run_steps(&p, &t, g, msg, sizeof msg);
        const long calls = disarm();
        if (calls < n) { /* past the last call: nothing failed */
            if (st != tconv_success)
                fail_msg("no clSetKernelArg failed (%ld calls), yet %s", calls, msg);
            expect_reference(&p, &t, g, "no failure");
            break;
        }
        char want_text[64];
        snprintf(want_text, sizeof want_text, ": %s (%d)", code_name, (int)code);
        if (st != want || !tc_contains(msg, "clSetKernelArg(") ||
            !tc_contains(msg, ", argument ") || !tc_contains(msg, want_text))
            fail_msg("clSetKernelArg call %ld failing with %s: %s (want %s naming the kernel, the "
                     "argument and %s)",
                     n, code_name, msg, tconv_status_name(want), code_name);
        for (int k = 0; k < kernel_count; k++) {
            char call[96];
            snprintf(call, sizeof call, "clSetKernelArg(%s, argument ", kernels[k]);
            named[k] |= tc_contains(msg, call);
        }
        /* The same steps, nothing failing: right results. */
        if (run_steps(&p, &t, g, msg, sizeof msg) != tconv_success)
            fail_msg("after the failure of call %ld: %s", n, msg);
        expect_reference(&p, &t, g, "after a failure");
    }
    if (n > MAX_SWEEP)
        fail_msg("more than %d clSetKernelArg calls: the sweep does not end", MAX_SWEEP);
    if (n == 1)
        fail_msg("no clSetKernelArg call reached this program's definition (not exported?)");
    for (int k = 0; k < kernel_count; k++)
        if (!named[k])
            fail_msg("no failure named the arguments of %s", kernels[k]);
    print_message("%s plan: %ld clSetKernelArg calls, each failed once with %s\n",
                  training ? "training" : "forward", n - 1, code_name);
    if (training)
        tc_gradients_free(&gr);
    tc_tensors_free(&t);
}

static const char *const forward_kernels[] = {"tconv_pad_input", "tconv_gather",
                                              "tconv_pack_weights", "tconv_pack_bias"};
static const char *const training_kernels[] = {"tconv_pad_input",
                                               "tconv_gather",
                                               "tconv_pack_weights",
                                               "tconv_pack_bias",
                                               "tconv_to_channels_last",
                                               "tconv_backward_data",
                                               "tconv_backward_weights",
                                               "tconv_backward_weights_reduce",
                                               "tconv_backward_bias_part",
                                               "tconv_backward_bias_reduce",
                                               "tconv_pack_backward_weights"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_forward_invalid_mem_object(void **state) {
    (void)state;
    sweep(0, CL_INVALID_MEM_OBJECT, "CL_INVALID_MEM_OBJECT", tconv_runtime_error, forward_kernels,
          COUNT(forward_kernels));
}

static void test_forward_out_of_host_memory(void **state) {
    (void)state;
    sweep(0, CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY", tconv_out_of_memory, forward_kernels,
          COUNT(forward_kernels));
}

static void test_training_invalid_mem_object(void **state) {
    (void)state;
    sweep(1, CL_INVALID_MEM_OBJECT, "CL_INVALID_MEM_OBJECT", tconv_runtime_error, training_kernels,
          COUNT(training_kernels));
}

static void test_training_out_of_host_memory(void **state) {
    (void)state;
    sweep(1, CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY", tconv_out_of_memory, training_kernels,
          COUNT(training_kernels));
}

/* ---- TCONV_OPENCL_LOCAL */

static void test_local_size_variable(void **state) {
    (void)state;
    tc_log_t log;
    tconv_context_t ctx = NULL;
    TC_CHECK_OK(tc_context_create_logged(&ctx, 1, &log));
    const tconv_problem_t p = layer(0);
    tc_rng_t rng;
    tc_rng_seed(&rng, 7);
    tc_tensors_t t;
    char msg[1024];
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    const struct {
        const char *value;
        int refused;
    } cases[] = {{"-1", 1}, {"0", 1}, {"x", 1}, {"4x", 1}, {"99999", 1}, {"1", 0}, {"64", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("TCONV_OPENCL_LOCAL", cases[i].value, 1);
        log.text[0] = '\0';
        if (tc_run_plan(ctx, DEVICE, &p, &t, msg, sizeof msg) != tconv_success)
            fail_msg("TCONV_OPENCL_LOCAL=%s: %s", cases[i].value, msg);
        char said[128];
        snprintf(said, sizeof said,
                 "TCONV_OPENCL_LOCAL = '%s': must be an integer in 1..4096; using 4",
                 cases[i].value);
        if (cases[i].refused != tc_contains(log.text, said))
            fail_msg("TCONV_OPENCL_LOCAL=%s: want %s \"%s\" in the log, which holds:\n%s",
                     cases[i].value, cases[i].refused ? "the line" : "no line", said, log.text);
        if (!cases[i].refused && tc_contains(log.text, "TCONV_OPENCL_LOCAL"))
            fail_msg("TCONV_OPENCL_LOCAL=%s: a valid value was refused:\n%s", cases[i].value,
                     log.text);
        char when[64];
        snprintf(when, sizeof when, "TCONV_OPENCL_LOCAL=%s", cases[i].value);
        expect_reference(&p, &t, NULL, when);
    }
    unsetenv("TCONV_OPENCL_LOCAL");
    tc_tensors_free(&t);
    tconv_context_destroy(ctx);
}

int main(void) {
    tc_clean_environment();
    if (tconv_context_create(&g_ctx, NULL) != tconv_success)
        return tc_cannot_run("no tconv context: %s", tconv_get_last_error());
    if (!tc_has_device(g_ctx, DEVICE)) {
        tconv_context_destroy(g_ctx);
        return tc_cannot_run("no OpenCL device (" DEVICE ")");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_invalid_mem_object),
        cmocka_unit_test(test_forward_out_of_host_memory),
        cmocka_unit_test(test_training_invalid_mem_object),
        cmocka_unit_test(test_training_out_of_host_memory),
        cmocka_unit_test(test_local_size_variable),
    };
    const int failed = cmocka_run_group_tests_name("opencl_launch", tests, NULL, NULL);
    tconv_context_destroy(g_ctx);
    return failed;
}
