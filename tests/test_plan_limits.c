/* SPDX-License-Identifier: Apache-2.0 */
/* Plan creation on tiny or extreme problems: its time and memory must follow
 * the work (input size x taps that land, output size), never products such
 * as batch^2, stride x kernel or phases x kernel that are huge on tiny
 * tensors; what still cannot fit is refused cleanly, and a device that runs
 * out of memory lets `auto` (or a selector list) move on to the next one.
 *
 * Every plan creation here is timed: one that takes more than
 * QUICK_SECONDS fails (ctest's timeout catches one that never returns).
 *
 *   test_plan_limits --part cpu|opencl [PATTERN]
 *
 * Two ctest entries: plan_limits (cpu:0, auto and the out-of-memory test
 * plugins) and plan_limits_opencl (the cases on opencl:0), which exits 77
 * without an OpenCL device (a failure under CI=true, tc_cannot_run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_support.h"

typedef long long ll;

/* A plan on a problem whose tables are small must be this quick, except
 * that an OpenCL plan may first build its program (seconds with PoCL on a
 * small machine; cached afterwards, so a second plan is quick). */
#define QUICK_SECONDS        2.0
#define OPENCL_BUILD_SECONDS 30.0

#define OOM_A    TCONV_PLAN_LIMITS_PLUGIN_DIR "/tconv_backend_oom_a.so"
#define OOM_B    TCONV_PLAN_LIMITS_PLUGIN_DIR "/tconv_backend_oom_b.so"
#define DECLINER TCONV_TEST_PLUGIN_DIR "/tconv_backend_decliner.so"

static tconv_context_t ctx;     /* the installed plugins: cpu and (PoCL) opencl */
static tconv_context_t oom_ctx; /* the same plus oom_a, oom_b and decliner */
static const char *device;      /* the part's device: cpu:0 or opencl:0 */
static int cpu_part;            /* the cpu part also plans on auto */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A 1-D f32 problem: input n, kernel k, stride s, one channel in and out. */
static void problem_1d(tconv_problem_t *p, int64_t n, int64_t k, int64_t s) {
    tconv_problem_init(p, 1);
    p->input_size[0] = n;
    p->kernel_size[0] = k;
    p->strides[0] = s;
}

/* Runs @p p on @p selector and checks it against the reference. */
static void expect_correct(tconv_context_t c, const char *selector, const tconv_problem_t *p) {
    char msg[4096], desc[2048];
    tc_format_problem(p, desc, sizeof desc);
    tc_rng_t rng;
    tc_rng_seed(&rng, 1234);
    tc_tensors_t t;
    if (tc_tensors_make(p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s\n  problem: %s", msg, desc);
    double start = now_seconds();
    tconv_status_t st = tc_run_plan(c, selector, p, &t, msg, sizeof msg);
    double seconds = now_seconds() - start;
    if (st != tconv_success) {
        tc_tensors_free(&t);
        fail_msg("%s\n  problem: %s", msg, desc);
    }
    int64_t worst;
    double err = tc_tensors_max_error(&t, &worst);
    print_message("%s: error %.2g in %.3f s (plan, weights, execute): %s\n", selector, err, seconds,
                  desc);
    double tolerance = tc_tolerance(p->dtype);
    tc_tensors_free(&t);
    if (!(err <= tolerance))
        fail_msg("%s: error %g > %g at output %lld\n  problem: %s", selector, err, tolerance,
                 (ll)worst, desc);
}

/* Creates a plan for @p p on @p selector within @p limit seconds. Success
 * and the statuses in @p accepted (terminated by tconv_success) pass; the
 * plan is destroyed. Returns the status. */
static tconv_status_t expect_quick_plan(tconv_context_t c, const char *selector,
                                        const tconv_problem_t *p, double limit,
                                        const tconv_status_t *accepted) {
    char desc[2048];
    tc_format_problem(p, desc, sizeof desc);
    tconv_plan_t plan = NULL;
    double start = now_seconds();
    tconv_status_t st = tconv_plan_create(&plan, c, p, selector);
    double seconds = now_seconds() - start;
    print_message("%s: plan_create -> %s in %.3f s%s%s\n", selector, tconv_status_name(st), seconds,
                  st == tconv_success ? "" : ": ",
                  st == tconv_success ? "" : tconv_get_last_error());
    tconv_plan_destroy(plan);
    int ok = st == tconv_success;
    for (const tconv_status_t *a = accepted; !ok && *a != tconv_success; a++)
        ok = st == *a;
    if (!ok)
        fail_msg("%s: plan_create -> %s (%s)\n  problem: %s", selector, tconv_status_name(st),
                 tconv_get_last_error(), desc);
    if (seconds > limit)
        fail_msg("%s: plan_create took %.2f s (limit %.1f s)\n  problem: %s", selector, seconds,
                 limit, desc);
    return st;
}

/* Statuses a plan on tensors larger than memory may end in: refused as
 * invalid, out of memory, or declined by every device. */
static const tconv_status_t refusals[] = {tconv_invalid_arguments, tconv_out_of_memory,
                                          tconv_no_device, tconv_success};

/* ---- CPU work items: linear in the work, not batch^2 */

/* A 1x1x1 layer with batch 65536 (256 KiB of input) once ran out of memory
 * (its work-item table was sized batch^2). */
static void test_cpu_batch_65536_pointwise(void **state) {
    (void)state;
    for (int format = 0; format < 2; format++) {
        tconv_problem_t p;
        tconv_problem_init(&p, 3);
        p.batch = 65536;
        p.use_bias = 1;
        p.activation = tconv_activation_relu;
        p.data_format = format ? tconv_channels_first : tconv_channels_last;
        expect_correct(ctx, "cpu:0", &p);
    }
}

/* Batch 2^40 of the same layer once overflowed the table size and wrote past
 * the heap buffer: the plan must be small (or refused), and quick. */
static void test_cpu_batch_2pow40_is_bounded(void **state) {
    (void)state;
    tconv_problem_t p;
    tconv_problem_init(&p, 3);
    p.batch = (int64_t)1 << 40;
    expect_quick_plan(ctx, "cpu:0", &p, QUICK_SECONDS, refusals);
    p.data_format = tconv_channels_first;
    expect_quick_plan(ctx, "cpu:0", &p, QUICK_SECONDS, refusals);
}

/* ---- Tap tables proportional to the taps that land */

/* Two input points, kernel 2000, stride 2000: 4000 outputs, one tap each.
 * The tap tables were phases x (2k+1) x k (out of memory). */
static void test_tiny_input_huge_kernel_and_stride(void **state) {
    (void)state;
    tconv_problem_t p;
    problem_1d(&p, 2, 2000, 2000);
    expect_correct(ctx, "cpu:0", &p);
    expect_correct(ctx, "auto", &p);
}

/* Kernel = stride = 2^20 on two points: 2^21 outputs, one tap each. */
static void test_cpu_kernel_and_stride_2pow20(void **state) {
    (void)state;
    tconv_problem_t p;
    problem_1d(&p, 2, (int64_t)1 << 20, (int64_t)1 << 20);
    expect_correct(ctx, "cpu:0", &p);
}

/* Sparse and uneven tap patterns the closed-form tables must get right:
 * strides larger than the kernel, phases without taps (gcd(s, d) > 1),
 * crops that cut taps at both edges, outputs past the full span (ONNX
 * output_shape: negative crop), 2-D mixes. On the part's device. */
static void test_sparse_tap_patterns(void **state) {
    (void)state;
    tconv_problem_t cases[5];
    problem_1d(&cases[0], 3, 50, 7);
    cases[0].dilation[0] = 3;
    cases[0].padding = tconv_padding_explicit;
    cases[0].pads_begin[0] = 60;
    cases[0].pads_end[0] = 41;
    cases[0].output_padding[0] = 2;
    problem_1d(&cases[1], 1, 40, 64);
    cases[1].dilation[0] = 5;
    cases[1].padding = tconv_padding_explicit;
    cases[1].output_shape[0] = 300;
    problem_1d(&cases[2], 4, 6, 4);
    cases[2].dilation[0] = 2;
    cases[2].padding = tconv_padding_same_lower;
    tconv_problem_init(&cases[3], 2);
    cases[3].batch = 3;
    cases[3].in_channels = 2;
    cases[3].out_channels = 3;
    cases[3].input_size[0] = 2;
    cases[3].input_size[1] = 5;
    cases[3].kernel_size[0] = 9;
    cases[3].kernel_size[1] = 2;
    cases[3].strides[0] = 11;
    cases[3].strides[1] = 3;
    cases[3].use_bias = 1;
    cases[3].data_format = tconv_channels_first;
    problem_1d(&cases[4], 5, 3, 1);
    cases[4].dilation[0] = 7;
    cases[4].padding = tconv_padding_explicit;
    cases[4].pads_begin[0] = 9;
    cases[4].pads_end[0] = 2;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_correct(ctx, device, &cases[i]);
}

/* ---- Plan creation never walks every output position */

/* A 1-D input of 2^40 points (4 TiB): the plan (or its refusal) is quick. */
static void test_huge_input_plans_quickly(void **state) {
    (void)state;
    tconv_problem_t p;
    problem_1d(&p, (int64_t)1 << 40, 3, 1);
    expect_quick_plan(ctx, device, &p, QUICK_SECONDS, refusals);
    if (cpu_part)
        expect_quick_plan(ctx, "auto", &p, QUICK_SECONDS, refusals);
}

/* An ONNX output_shape of 2^40 on a 4-point input: quick as well. */
static void test_huge_output_shape_plans_quickly(void **state) {
    (void)state;
    tconv_problem_t p;
    problem_1d(&p, 4, 3, 2);
    p.padding = tconv_padding_explicit;
    p.output_shape[0] = (int64_t)1 << 40;
    expect_quick_plan(ctx, device, &p, QUICK_SECONDS, refusals);
    if (cpu_part)
        expect_quick_plan(ctx, "auto", &p, QUICK_SECONDS, refusals);
}

/* Asks the backends' queries about @p p, as ranking does for @p selector
 * (TCONV_SELECT=model: no measurement, which is a cost of its own): it must
 * succeed within @p limit seconds. */
static void expect_quick_query(const tconv_problem_t *p, const char *selector, double limit) {
    size_t index = 0;
    char reason[4096];
    setenv("TCONV_SELECT", "model", 1);
    double start = now_seconds();
    tconv_status_t st =
        tconv_context_select_device(ctx, p, selector, &index, reason, sizeof reason);
    double seconds = now_seconds() - start;
    unsetenv("TCONV_SELECT");
    print_message("select %s -> %s in %.3f s\n", selector, tconv_status_name(st), seconds);
    if (st != tconv_success || seconds > limit)
        fail_msg("select %s -> %s in %.2f s (limit %.1f s): %s", selector, tconv_status_name(st),
                 seconds, limit, st == tconv_success ? reason : tconv_get_last_error());
}

/* OpenCL's geometry looped over stride x kernel, in query (so in `auto`
 * ranking) and in plan_create: k = s = 2^20 took minutes. The first query
 * and the first plan may build the program (0.85 s with an empty program
 * cache on an idle machine, 2.4 s measured under load, where a 2 s limit
 * failed): they get the build's limit, the next ones find it built. */
static void test_opencl_kernel_and_stride_2pow20_quick(void **state) {
    (void)state;
    tconv_problem_t p;
    problem_1d(&p, 2, (int64_t)1 << 20, (int64_t)1 << 20);
    expect_quick_query(&p, "opencl:0", OPENCL_BUILD_SECONDS);
    expect_quick_query(&p, "opencl:0", QUICK_SECONDS);
    expect_quick_query(&p, "auto", QUICK_SECONDS);
    expect_quick_plan(ctx, "opencl:0", &p, OPENCL_BUILD_SECONDS, refusals);
    expect_quick_plan(ctx, "opencl:0", &p, QUICK_SECONDS, refusals);
}

/* ---- A device that runs out of memory lets the selection move on */

/* The plan on @p selector succeeds on a device other than oom_a/oom_b, its
 * result is right and its selection reason names @p declined_id. */
static void expect_fallback(const char *selector, const char *declined_id) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, oom_ctx, &p, selector);
    if (st != tconv_success)
        fail_msg("%s: plan_create -> %s: %s", selector, tconv_status_name(st),
                 tconv_get_last_error());
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    char reason[4096];
    snprintf(reason, sizeof reason, "%s", tconv_plan_get_selection_reason(plan));
    print_message("%s -> %s: %s\n", selector, info.id, reason);
    tconv_plan_destroy(plan);
    if (!strncmp(info.id, "oom_", 4))
        fail_msg("%s: the plan went to %s", selector, info.id);
    if (!tc_contains(reason, declined_id) || !tc_contains(reason, "simulated"))
        fail_msg("%s: the reason does not say why %s was passed over: %s", selector, declined_id,
                 reason);
    char msg[2048];
    if (tc_check_small_plan(oom_ctx, selector, msg, sizeof msg) != 0)
        fail_msg("%s: %s", selector, msg);
}

static void expect_failure(const char *selector, tconv_status_t want, const char *const *texts) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, oom_ctx, &p, selector);
    const char *msg = tconv_get_last_error();
    print_message("%s -> %s: %s\n", selector, tconv_status_name(st), msg);
    tconv_plan_destroy(plan);
    if (st != want)
        fail_msg("%s: plan_create -> %s, want %s (%s)", selector, tconv_status_name(st),
                 tconv_status_name(want), msg);
    for (; *texts; texts++)
        if (!tc_contains(msg, *texts))
            fail_msg("%s: the message does not contain \"%s\": %s", selector, *texts, msg);
}

static void test_out_of_memory_moves_on(void **state) {
    (void)state;
    if (!tc_has_device(oom_ctx, "oom_a:0") || !tc_has_device(oom_ctx, "oom_b:0"))
        fail_msg("the test plugins %s and %s did not load", OOM_A, OOM_B);
    /* auto ranks the custom-class oom devices first: both run out of
     * memory, a CPU device computes. */
    expect_fallback("auto", "oom_a:0");
    expect_fallback("oom_a:0,cpu:0", "oom_a:0");
    expect_fallback("oom_b,auto", "oom_b:0");
}

static void test_out_of_memory_reported_when_nothing_accepts(void **state) {
    (void)state;
    /* One device: its own status and message. */
    expect_failure("oom_a:0", tconv_out_of_memory, (const char *const[]){"simulated", NULL});
    /* Every candidate out of memory: out of memory, with every reason. */
    expect_failure("oom_a:0,oom_b:0", tconv_out_of_memory,
                   (const char *const[]){"oom_a:0", "oom_b:0", "simulated", NULL});
    /* Out of memory and a decline: no device, with both reasons. */
    expect_failure("oom_a:0,decliner:0", tconv_no_device,
                   (const char *const[]){"oom_a:0", "decliner:0", "simulated", NULL});
}

/* test_plan_limits --part cpu|opencl [PATTERN]: runs the part's tests
 * whose names match PATTERN (cmocka's * and ? wildcards), all by default. */
int main(int argc, char **argv) {
    const int part = tc_part(argc, argv, "cpu|opencl", "[PATTERN]");
    if (part < 0)
        return 2;
    tc_clean_environment();
    if (argc == 4)
        cmocka_set_test_filter(argv[3]);
    cpu_part = part == 0;
    device = cpu_part ? "cpu:0" : "opencl:0";
    if (tconv_context_create(&ctx, NULL) != tconv_success ||
        tconv_context_create(&oom_ctx, OOM_A ":" OOM_B ":" DECLINER) != tconv_success) {
        fprintf(stderr, "tconv_context_create: %s\n", tconv_get_last_error());
        return 1;
    }
    int failed;
    if (cpu_part) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cpu_batch_65536_pointwise),
            cmocka_unit_test(test_cpu_batch_2pow40_is_bounded),
            cmocka_unit_test(test_tiny_input_huge_kernel_and_stride),
            cmocka_unit_test(test_cpu_kernel_and_stride_2pow20),
            cmocka_unit_test(test_sparse_tap_patterns),
            cmocka_unit_test(test_huge_input_plans_quickly),
            cmocka_unit_test(test_huge_output_shape_plans_quickly),
            cmocka_unit_test(test_out_of_memory_moves_on),
            cmocka_unit_test(test_out_of_memory_reported_when_nothing_accepts),
        };
        failed = cmocka_run_group_tests_name("plan_limits", tests, NULL, NULL);
    } else if (!tc_has_device(ctx, "opencl:0")) {
        failed = tc_cannot_run("no OpenCL device (opencl:0)");
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sparse_tap_patterns),
            cmocka_unit_test(test_huge_input_plans_quickly),
            cmocka_unit_test(test_huge_output_shape_plans_quickly),
            cmocka_unit_test(test_opencl_kernel_and_stride_2pow20_quick),
        };
        failed = cmocka_run_group_tests_name("plan_limits_opencl", tests, NULL, NULL);
    }
    tconv_context_destroy(oom_ctx);
    tconv_context_destroy(ctx);
    return failed;
}
