/* SPDX-License-Identifier: Apache-2.0 */
/* Misuse of the public API: NULL arguments to every function (each refused
 * with invalid_arguments and a message naming the parameter), execute before
 * weights, bias present/absent against use_bias, overlapping buffers, outputs
 * untouched on failure, thread-local last error, status names, version; and
 * the rules of tconv_plan_execute_backward (each refusal names the argument
 * and the rule and writes no gradient) and of problem.passes. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

static tconv_context_t ctx;

static int setup(void **state) {
    (void)state;
    return tconv_context_create(&ctx, NULL) == tconv_success ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tconv_context_destroy(ctx);
    return 0;
}

/* The call returned invalid_arguments and the message names @p param. */
#define EXPECT_NULL_REFUSED(call, param)                                                           \
    do {                                                                                           \
        tconv_status_t st_ = (call);                                                               \
        if (st_ != tconv_invalid_arguments)                                                        \
            fail_msg("%s: returned %s, want invalid_arguments", #call, tconv_status_name(st_));    \
        if (!tc_contains(tconv_get_last_error(), param))                                           \
            fail_msg("%s: message \"%s\" does not name '%s'", #call, tconv_get_last_error(),       \
                     param);                                                                       \
    } while (0)

static void test_null_arguments_everywhere(void **state) {
    (void)state;
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_canonical_t c;
    tconv_device_info_t info;
    tconv_plugin_report_t report;
    memset(&info, 0, sizeof info);
    memset(&report, 0, sizeof report);
    size_t n;
    double flops;
    int64_t dims[5];
    tconv_activation_t act;
    tconv_plan_t plan = NULL;

    EXPECT_NULL_REFUSED(tconv_context_create(NULL, NULL), "context");
    EXPECT_NULL_REFUSED(tconv_context_get_device_count(NULL, &n), "context");
    EXPECT_NULL_REFUSED(tconv_context_get_device_count(ctx, NULL), "count");
    EXPECT_NULL_REFUSED(tconv_context_get_device_info(NULL, 0, &info), "context");
    EXPECT_NULL_REFUSED(tconv_context_get_device_info(ctx, 0, NULL), "info");
    EXPECT_NULL_REFUSED(tconv_context_get_plugin_count(NULL, &n), "context");
    EXPECT_NULL_REFUSED(tconv_context_get_plugin_count(ctx, NULL), "count");
    EXPECT_NULL_REFUSED(tconv_context_get_plugin_report(NULL, 0, &report), "context");
    EXPECT_NULL_REFUSED(tconv_context_get_plugin_report(ctx, 0, NULL), "report");
    EXPECT_NULL_REFUSED(tconv_context_select_device(NULL, NULL, NULL, &n, NULL, 0), "context");
    EXPECT_NULL_REFUSED(tconv_context_select_device(ctx, NULL, NULL, NULL, NULL, 0),
                        "device_index");
    EXPECT_NULL_REFUSED(tconv_problem_init(NULL, 3), "problem");
    EXPECT_NULL_REFUSED(tconv_problem_resolve(NULL, &c), "problem");
    EXPECT_NULL_REFUSED(tconv_problem_resolve(&p, NULL), "resolved");
    EXPECT_NULL_REFUSED(tconv_problem_get_shapes(NULL, dims, dims, dims, NULL), "problem");
    EXPECT_NULL_REFUSED(tconv_problem_get_flops(NULL, &flops), "problem");
    EXPECT_NULL_REFUSED(tconv_problem_get_flops(&p, NULL), "flops");
    EXPECT_NULL_REFUSED(tconv_activation_from_name(NULL, &act), "name");
    EXPECT_NULL_REFUSED(tconv_activation_from_name("relu", NULL), "activation");
    EXPECT_NULL_REFUSED(tconv_plan_create(NULL, ctx, &p, "cpu"), "plan");
    EXPECT_NULL_REFUSED(tconv_plan_create(&plan, NULL, &p, "cpu"), "context");
    assert_null(plan);
    EXPECT_NULL_REFUSED(tconv_plan_create(&plan, ctx, NULL, "cpu"), "problem");
    assert_null(plan);
    float buf[4] = {0};
    EXPECT_NULL_REFUSED(tconv_plan_set_weights(NULL, buf, buf), "plan");
    EXPECT_NULL_REFUSED(tconv_plan_execute(NULL, buf, buf + 2), "plan");
    EXPECT_NULL_REFUSED(tconv_plan_get_device_info(NULL, &info), "plan");
    EXPECT_NULL_REFUSED(tconv_plan_get_canonical(NULL, &c), "plan");
    assert_non_null(tconv_plan_get_selection_reason(NULL));

    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "cpu"), tconv_success);
    EXPECT_NULL_REFUSED(tconv_plan_set_weights(plan, NULL, buf), "kernel");
    EXPECT_NULL_REFUSED(tconv_plan_execute(plan, NULL, buf), "input");
    EXPECT_NULL_REFUSED(tconv_plan_execute(plan, buf, NULL), "output");
    EXPECT_NULL_REFUSED(tconv_plan_get_device_info(plan, NULL), "info");
    EXPECT_NULL_REFUSED(tconv_plan_get_canonical(plan, NULL), "resolved");
    tconv_plan_destroy(plan);

    /* NULL handles are accepted by the destroy functions. */
    tconv_plan_destroy(NULL);
    tconv_context_destroy(NULL);
    /* get_shapes may skip every output. */
    assert_int_equal(tconv_problem_get_shapes(&p, NULL, NULL, NULL, NULL), tconv_success);
}

/* A plan for the small problem with its tensors. */
typedef struct fixture {
    tconv_problem_t p;
    tc_tensors_t t;
    tconv_plan_t plan;
} fixture_t;

static void fixture_make(fixture_t *f, int use_bias) {
    char msg[1024];
    tc_small_problem(&f->p, tconv_f32);
    f->p.use_bias = use_bias;
    tc_rng_t rng;
    tc_rng_seed(&rng, 7);
    assert_int_equal(tc_tensors_make(&f->p, &rng, &f->t, msg, sizeof msg), 0);
    assert_int_equal(tconv_plan_create(&f->plan, ctx, &f->p, "cpu"), tconv_success);
}

static void fixture_free(fixture_t *f) {
    tconv_plan_destroy(f->plan);
    tc_tensors_free(&f->t);
}

/* Whether the f32 output buffer still holds @p sentinel everywhere. */
static int output_untouched(const fixture_t *f, float sentinel) {
    for (int64_t i = 0; i < f->t.out_count; i++)
        if (((const float *)f->t.dev_out)[i] != sentinel)
            return 0;
    return 1;
}

static void fill_output(fixture_t *f, float value) {
    for (int64_t i = 0; i < f->t.out_count; i++)
        ((float *)f->t.dev_out)[i] = value;
}

static void test_execute_before_weights(void **state) {
    (void)state;
    fixture_t f;
    fixture_make(&f, 1);
    fill_output(&f, 12345.0f);
    assert_int_equal(tconv_plan_execute(f.plan, f.t.dev_in, f.t.dev_out), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "weights"));
    assert_true(output_untouched(&f, 12345.0f));
    /* After weights it runs. */
    assert_int_equal(tconv_plan_set_weights(f.plan, f.t.dev_kernel, f.t.dev_bias), tconv_success);
    assert_int_equal(tconv_plan_execute(f.plan, f.t.dev_in, f.t.dev_out), tconv_success);
    int64_t worst;
    assert_true(tc_tensors_max_error(&f.t, &worst) <= 1e-5);
    fixture_free(&f);
}

static void test_bias_must_match_use_bias(void **state) {
    (void)state;
    fixture_t with, without;
    fixture_make(&with, 1);
    fixture_make(&without, 0);
    assert_int_equal(tconv_plan_set_weights(with.plan, with.t.dev_kernel, NULL),
                     tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "bias"));
    float bias[5] = {1, 2, 3, 4, 5};
    assert_int_equal(tconv_plan_set_weights(without.plan, without.t.dev_kernel, bias),
                     tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "bias"));
    /* The refused calls set no weights. */
    fill_output(&with, -7.0f);
    assert_int_equal(tconv_plan_execute(with.plan, with.t.dev_in, with.t.dev_out),
                     tconv_invalid_arguments);
    assert_true(output_untouched(&with, -7.0f));
    fixture_free(&with);
    fixture_free(&without);
}

static void test_overlapping_buffers(void **state) {
    (void)state;
    fixture_t f;
    fixture_make(&f, 0);
    assert_int_equal(tconv_plan_set_weights(f.plan, f.t.dev_kernel, NULL), tconv_success);
    size_t in_bytes = (size_t)f.t.in_count * 4, out_bytes = (size_t)f.t.out_count * 4;
    unsigned char *block = calloc(1, in_bytes + out_bytes);
    memcpy(block, f.t.dev_in, in_bytes);
    /* Same buffer, output inside input, input inside output, touching by one element. */
    const size_t offsets[] = {0, in_bytes / 2, in_bytes - 4};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        tconv_status_t st = tconv_plan_execute(f.plan, block, block + offsets[i]);
        if (st != tconv_invalid_arguments)
            fail_msg("output at input+%zu bytes: %s, want invalid_arguments", offsets[i],
                     tconv_status_name(st));
        assert_true(tc_contains(tconv_get_last_error(), "overlap"));
    }
    assert_int_equal(tconv_plan_execute(f.plan, block + out_bytes / 2, block),
                     tconv_invalid_arguments);
    /* The input was not modified by any refused call. */
    assert_memory_equal(block, f.t.dev_in, in_bytes);
    /* Adjacent, not overlapping: fine. */
    assert_int_equal(tconv_plan_execute(f.plan, block, block + in_bytes), tconv_success);
    free(block);
    fixture_free(&f);
}

/* Thread-local last error: two threads fail with different messages at the
 * same time and each reads back its own. */
typedef struct thread_arg {
    pthread_barrier_t *barrier;
    const char *field;
    int ok;
    char seen[512];
} thread_arg_t;

static void *fail_and_read(void *argp) {
    thread_arg_t *a = argp;
    tconv_problem_t p;
    tconv_canonical_t c;
    /* A thread that has failed nothing has an empty message. */
    int empty_before = tconv_get_last_error()[0] == '\0';
    tc_small_problem(&p, tconv_f32);
    if (!strcmp(a->field, "strides"))
        p.strides[1] = 0;
    else
        p.batch = 0;
    tconv_status_t st = tconv_problem_resolve(&p, &c);
    pthread_barrier_wait(a->barrier); /* both failed before either reads */
    snprintf(a->seen, sizeof a->seen, "%s", tconv_get_last_error());
    pthread_barrier_wait(a->barrier);
    a->ok = empty_before && st == tconv_invalid_arguments && tc_contains(a->seen, a->field);
    return NULL;
}

static void test_last_error_is_thread_local(void **state) {
    (void)state;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    thread_arg_t a = {&barrier, "strides", 0, ""}, b = {&barrier, "batch", 0, ""};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, fail_and_read, &a);
    pthread_create(&tb, NULL, fail_and_read, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    if (!a.ok || !b.ok)
        fail_msg("thread A saw \"%s\", thread B saw \"%s\"", a.seen, b.seen);
    assert_false(tc_contains(a.seen, "batch"));
    assert_false(tc_contains(b.seen, "strides"));
}

static void test_status_names_and_version(void **state) {
    (void)state;
    static const char *const names[] = {"success",       "out_of_memory", "invalid_arguments",
                                        "unimplemented", "runtime_error", "no_device"};
    for (int s = 0; s < 6; s++)
        assert_string_equal(tconv_status_name((tconv_status_t)s), names[s]);
    assert_non_null(tconv_status_name((tconv_status_t)99));
    assert_non_null(tconv_status_name((tconv_status_t)-1));

    int major = -1, minor = -1, patch = -1;
    const char *v = tconv_get_version(&major, &minor, &patch);
    assert_non_null(v);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", major, minor, patch);
    assert_string_equal(v, want);
    /* The run-time version is the one the headers were generated with. */
    assert_int_equal(major, TCONV_VERSION_MAJOR);
    assert_int_equal(minor, TCONV_VERSION_MINOR);
    assert_int_equal(patch, TCONV_VERSION_PATCH);
    assert_string_equal(tconv_get_version(NULL, NULL, NULL), v);
}

/* ---- tconv_plan_execute_backward ------------------------------------------ */

/* A training plan for the small problem (on cpu) with its tensors and
 * gradient buffers. */
typedef struct training {
    tconv_problem_t p;
    tc_tensors_t t;
    tc_gradients_t g;
    tconv_plan_t plan;
} training_t;

#define GRADIENT_SENTINEL 4242.0f

static void fill_gradients(training_t *f) {
    for (int k = 0; k < tc_grad_count; k++)
        for (int64_t i = 0; i < f->g.count[k]; i++)
            ((float *)f->g.dev[k])[i] = GRADIENT_SENTINEL;
}

/* Makes the plan with @p passes; weights are set when @p set_weights. */
static void training_make(training_t *f, uint32_t passes, int use_bias,
                          tconv_activation_t activation, int set_weights) {
    char msg[1024];
    tc_small_problem(&f->p, tconv_f32);
    f->p.use_bias = use_bias;
    f->p.activation = activation;
    f->p.passes = passes;
    tc_rng_t rng;
    tc_rng_seed(&rng, 11);
    assert_int_equal(tc_tensors_make(&f->p, &rng, &f->t, msg, sizeof msg), 0);
    assert_int_equal(tc_gradients_make(&f->t, &rng, &f->g, msg, sizeof msg), 0);
    f->plan = NULL;
    tconv_status_t st = tconv_plan_create(&f->plan, ctx, &f->p, "cpu");
    if (st != tconv_success)
        fail_msg("training plan (passes 0x%x) on cpu: %s: %s", passes, tconv_status_name(st),
                 tconv_get_last_error());
    if (set_weights)
        assert_int_equal(
            tconv_plan_set_weights(f->plan, f->t.dev_kernel, use_bias ? f->t.dev_bias : NULL),
            tconv_success);
    fill_gradients(f);
}

static void training_free(training_t *f) {
    tconv_plan_destroy(f->plan);
    tc_gradients_free(&f->g);
    tc_tensors_free(&f->t);
}

/* The refused call left every gradient buffer as fill_gradients made it. */
static void expect_gradients_untouched(const training_t *f, const char *call) {
    for (int k = 0; k < tc_grad_count; k++)
        for (int64_t i = 0; i < f->g.count[k]; i++)
            if (((const float *)f->g.dev[k])[i] != GRADIENT_SENTINEL)
                fail_msg("%s: %s[%lld] was written by a refused call", call,
                         tc_gradient_name((tc_gradient_t)k), (long long)i);
}

/* The call returned invalid_arguments, its message names @p argument and
 * states the rule (contains @p rule), and no gradient buffer was written. */
#define EXPECT_BACKWARD_REFUSED(f, call, argument, rule)                                           \
    do {                                                                                           \
        tconv_status_t st_ = (call);                                                               \
        const char *msg_ = tconv_get_last_error();                                                 \
        if (st_ != tconv_invalid_arguments)                                                        \
            fail_msg("%s: returned %s, want invalid_arguments (%s)", #call,                        \
                     tconv_status_name(st_), msg_);                                                \
        if (!tc_contains(msg_, argument) || !tc_contains(msg_, rule))                              \
            fail_msg("%s: message \"%s\" does not name '%s' and the rule '%s'", #call, msg_,       \
                     argument, rule);                                                              \
        expect_gradients_untouched(f, #call);                                                      \
    } while (0)

static void test_backward_argument_rules(void **state) {
    (void)state;
    training_t f;
    training_make(&f, TCONV_PASS_TRAINING, 1, tconv_activation_linear, 1);
    void *x = f.t.dev_in, *dy = f.g.dev_grad_out;
    void *dx = f.g.dev[tc_grad_input], *dw = f.g.dev[tc_grad_kernel], *db = f.g.dev[tc_grad_bias];

    EXPECT_BACKWARD_REFUSED(&f, tconv_plan_execute_backward(NULL, x, dy, dx, dw, db), "plan",
                            "must not be NULL");
    EXPECT_BACKWARD_REFUSED(&f, tconv_plan_execute_backward(f.plan, x, NULL, dx, dw, db),
                            "grad_output", "must not be NULL");
    EXPECT_BACKWARD_REFUSED(&f, tconv_plan_execute_backward(f.plan, x, dy, NULL, NULL, NULL),
                            "grad_input, grad_kernel, grad_bias", "at least one");
    EXPECT_BACKWARD_REFUSED(&f, tconv_plan_execute_backward(f.plan, NULL, dy, NULL, dw, NULL),
                            "input", "grad_kernel");
    /* Linear, no dL/dw: input is not needed, and the call runs. */
    assert_int_equal(tconv_plan_execute_backward(f.plan, NULL, dy, dx, NULL, db), tconv_success);
    training_free(&f);
}

static void test_backward_outputs_need_their_pass(void **state) {
    (void)state;
    training_t data_only, weights_only, forward_only;
    training_make(&data_only, TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_DATA, 1,
                  tconv_activation_linear, 1);
    training_make(&weights_only, TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_WEIGHTS, 1,
                  tconv_activation_linear, 1);
    training_make(&forward_only, TCONV_PASS_FORWARD, 1, tconv_activation_linear, 1);
    training_t *d = &data_only, *w = &weights_only, *o = &forward_only;

    EXPECT_BACKWARD_REFUSED(w,
                            tconv_plan_execute_backward(w->plan, w->t.dev_in, w->g.dev_grad_out,
                                                        w->g.dev[tc_grad_input], NULL, NULL),
                            "grad_input", "without TCONV_PASS_BACKWARD_DATA");
    EXPECT_BACKWARD_REFUSED(d,
                            tconv_plan_execute_backward(d->plan, d->t.dev_in, d->g.dev_grad_out,
                                                        NULL, d->g.dev[tc_grad_kernel], NULL),
                            "grad_kernel", "without TCONV_PASS_BACKWARD_WEIGHTS");
    EXPECT_BACKWARD_REFUSED(d,
                            tconv_plan_execute_backward(d->plan, d->t.dev_in, d->g.dev_grad_out,
                                                        NULL, NULL, d->g.dev[tc_grad_bias]),
                            "grad_bias", "without TCONV_PASS_BACKWARD_WEIGHTS");
    /* A forward-only plan (the default passes) has no backward pass at all. */
    EXPECT_BACKWARD_REFUSED(o,
                            tconv_plan_execute_backward(o->plan, o->t.dev_in, o->g.dev_grad_out,
                                                        o->g.dev[tc_grad_input], NULL, NULL),
                            "grad_input", "without TCONV_PASS_BACKWARD_DATA");
    /* Each plan runs the pass it was made for. */
    assert_int_equal(tconv_plan_execute_backward(d->plan, d->t.dev_in, d->g.dev_grad_out,
                                                 d->g.dev[tc_grad_input], NULL, NULL),
                     tconv_success);
    assert_int_equal(tconv_plan_execute_backward(w->plan, w->t.dev_in, w->g.dev_grad_out, NULL,
                                                 w->g.dev[tc_grad_kernel], w->g.dev[tc_grad_bias]),
                     tconv_success);
    training_free(d);
    training_free(w);
    training_free(o);
}

static void test_backward_bias_input_and_weights_rules(void **state) {
    (void)state;
    training_t no_bias, relu, unweighted;
    training_make(&no_bias, TCONV_PASS_TRAINING, 0, tconv_activation_linear, 1);
    training_make(&relu, TCONV_PASS_TRAINING, 1, tconv_activation_relu, 1);
    training_make(&unweighted, TCONV_PASS_TRAINING, 1, tconv_activation_linear, 0);
    training_t *n = &no_bias, *r = &relu, *u = &unweighted;

    EXPECT_BACKWARD_REFUSED(n,
                            tconv_plan_execute_backward(n->plan, n->t.dev_in, n->g.dev_grad_out,
                                                        NULL, n->g.dev[tc_grad_kernel],
                                                        n->g.dev[tc_grad_bias]),
                            "grad_bias", "use_bias = 0");
    /* dL/dx alone needs no input when linear, but act' is taken at z. */
    EXPECT_BACKWARD_REFUSED(r,
                            tconv_plan_execute_backward(r->plan, NULL, r->g.dev_grad_out,
                                                        r->g.dev[tc_grad_input], NULL, NULL),
                            "input", "activation 'relu'");
    EXPECT_BACKWARD_REFUSED(u,
                            tconv_plan_execute_backward(u->plan, u->t.dev_in, u->g.dev_grad_out,
                                                        u->g.dev[tc_grad_input], NULL, NULL),
                            "weights not set", "tconv_plan_set_weights");
    /* After weights the same call runs. */
    assert_int_equal(tconv_plan_set_weights(u->plan, u->t.dev_kernel, u->t.dev_bias),
                     tconv_success);
    assert_int_equal(tconv_plan_execute_backward(u->plan, u->t.dev_in, u->g.dev_grad_out,
                                                 u->g.dev[tc_grad_input], NULL, NULL),
                     tconv_success);
    training_free(n);
    training_free(r);
    training_free(u);
}

static void test_backward_overlapping_buffers(void **state) {
    (void)state;
    training_t f;
    training_make(&f, TCONV_PASS_TRAINING, 1, tconv_activation_linear, 1);
    void *x = f.t.dev_in, *dy = f.g.dev_grad_out;
    void *dx = f.g.dev[tc_grad_input], *dw = f.g.dev[tc_grad_kernel], *db = f.g.dev[tc_grad_bias];
    float *dy_copy = malloc((size_t)f.t.out_count * sizeof(float));
    float *x_copy = malloc((size_t)f.t.in_count * sizeof(float));
    memcpy(dy_copy, dy, (size_t)f.t.out_count * sizeof(float));
    memcpy(x_copy, x, (size_t)f.t.in_count * sizeof(float));

    /* An output on an input, or inside another output. */
    EXPECT_BACKWARD_REFUSED(&f, tconv_plan_execute_backward(f.plan, x, dy, x, NULL, NULL),
                            "grad_input", "overlaps input");
    EXPECT_BACKWARD_REFUSED(&f,
                            tconv_plan_execute_backward(f.plan, x, dy, NULL, (float *)dy + 1, NULL),
                            "grad_kernel", "overlaps grad_output");
    EXPECT_BACKWARD_REFUSED(&f,
                            tconv_plan_execute_backward(f.plan, x, dy, NULL, dw, (float *)dw + 2),
                            "grad_kernel", "overlaps grad_bias");
    EXPECT_BACKWARD_REFUSED(
        &f, tconv_plan_execute_backward(f.plan, x, dy, dx, NULL, (float *)dx + f.t.in_count - 1),
        "grad_input", "overlaps grad_bias");
    /* The inputs were not written either. */
    assert_memory_equal(dy, dy_copy, (size_t)f.t.out_count * sizeof(float));
    assert_memory_equal(x, x_copy, (size_t)f.t.in_count * sizeof(float));
    /* Separate buffers: fine. */
    assert_int_equal(tconv_plan_execute_backward(f.plan, x, dy, dx, dw, db), tconv_success);
    free(dy_copy);
    free(x_copy);
    training_free(&f);
}

static void test_unknown_passes_bits(void **state) {
    (void)state;
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    p.passes = TCONV_PASS_TRAINING | 0x10u;
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, &p, "cpu");
    const char *msg = tconv_get_last_error();
    if (st != tconv_invalid_arguments || !tc_contains(msg, "passes = 0x17") ||
        !tc_contains(msg, "unknown bits 0x10"))
        fail_msg("passes 0x17: %s \"%s\", want invalid_arguments naming passes and the unknown "
                 "bits 0x10",
                 tconv_status_name(st), msg);
    assert_null(plan);
    tconv_canonical_t c;
    assert_int_equal(tconv_problem_resolve(&p, &c), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "unknown bits 0x10"));
}

int main(void) {
    tc_clean_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_arguments_everywhere),
        cmocka_unit_test(test_execute_before_weights),
        cmocka_unit_test(test_bias_must_match_use_bias),
        cmocka_unit_test(test_overlapping_buffers),
        cmocka_unit_test(test_last_error_is_thread_local),
        cmocka_unit_test(test_status_names_and_version),
        cmocka_unit_test(test_backward_argument_rules),
        cmocka_unit_test(test_backward_outputs_need_their_pass),
        cmocka_unit_test(test_backward_bias_input_and_weights_rules),
        cmocka_unit_test(test_backward_overlapping_buffers),
        cmocka_unit_test(test_unknown_passes_bits),
    };
    return cmocka_run_group_tests_name("api_errors", tests, setup, teardown);
}
