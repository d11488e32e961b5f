/* SPDX-License-Identifier: Apache-2.0 */
/* tconv_plan_create_with_options: plan options instead of environment
 * variables, for the binary (FPGA) flow.
 *   --part main (ctest plan_options; no OpenCL needed):
 *     - tconv_plan_options_init's defaults, a smaller caller struct written
 *       only up to its size; struct_size 0 or too small to hold itself and
 *       empty paths refused with the field named;
 *     - options NULL and options with every field NULL make the plan
 *       tconv_plan_create makes (same device under "auto", the reference's
 *       result); a struct_size that ends before program_binary_save is
 *       accepted and the field past it never read;
 *     - cpu:0 (its plugin has no plan_create_with_options slot) with a
 *       field set: tconv_no_device naming the option, the device and the
 *       slot.
 *   --part opencl (ctest plan_options_opencl; exits 77 without opencl:0
 *   through tc_cannot_run, a failure under CI=true):
 *     - program_binary_save writes the plan's binary, and a plan with
 *       program_binary loads it (the log says from the plan option, no
 *       source build) and equals the float64 reference; "auto" passes over
 *       cpu:0 (declined, the option named) to the OpenCL device;
 *     - a missing, garbage or mismatched binary, an unwritable save path
 *       and a backward pass with a binary: errors naming the plan option,
 *       never the environment variable;
 *     - per field, an option overrides TCONV_OPENCL_BINARY, a field left
 *       NULL falls back to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "temp_dir.h"
#include "test_support.h"

static char work[4096];

/* The lines a context's log callback received, kept to search them. */
typedef struct log_capture {
    char text[65536];
    size_t used;
} log_capture_t;

static void capture_log(void *user_data, int level, const char *message) {
    (void)level;
    log_capture_t *c = user_data;
    const int n = snprintf(c->text + c->used, sizeof c->text - c->used, "%s\n", message);
    if (n > 0 && (size_t)n < sizeof c->text - c->used)
        c->used += (size_t)n;
}

static void path_in_work(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", work, name);
}

/* The small fixed problem (rank 3, stride 2, bias, relu), float32, and
 * random tensors with their float64 reference. */
static void make_problem(tconv_problem_t *p, tc_tensors_t *t) {
    tc_small_problem(p, tconv_f32);
    tc_rng_t rng;
    tc_rng_seed(&rng, 5);
    char msg[512];
    if (tc_tensors_make(p, &rng, t, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
}

/* What most cases need: a default context and the problem with its tensors. */
typedef struct fixture {
    tconv_context_t ctx;
    tconv_problem_t p;
    tc_tensors_t t;
} fixture_t;

static void fixture_open(fixture_t *f) {
    f->ctx = NULL;
    TC_CHECK_OK(tconv_context_create(&f->ctx, NULL));
    make_problem(&f->p, &f->t);
}

static void fixture_close(fixture_t *f) {
    tc_tensors_free(&f->t);
    tconv_context_destroy(f->ctx);
}

/* Weights, one execute, the result against the reference. */
static void run_and_check(tconv_plan_t plan, const tconv_problem_t *p, tc_tensors_t *t) {
    TC_CHECK_OK(tconv_plan_set_weights(plan, t->dev_kernel, p->use_bias ? t->dev_bias : NULL));
    tc_tensors_poison_output(t);
    TC_CHECK_OK(tconv_plan_execute(plan, t->dev_in, t->dev_out));
    int64_t worst = 0;
    const double err = tc_tensors_max_error(t, &worst);
    if (!(err <= tc_tolerance(p->dtype)))
        fail_msg("error %g at element %lld exceeds %g", err, (long long)worst,
                 tc_tolerance(p->dtype));
}

static const char *plan_backend(tconv_plan_t plan) {
    static tconv_device_info_t info;
    info.struct_size = sizeof info;
    TC_CHECK_OK(tconv_plan_get_device_info(plan, &info));
    return info.backend;
}

/* tconv_plan_create_with_options must fail with @p status, a NULL plan and
 * a message holding every one of @p needles (NULL-terminated). */
static void expect_failure(tconv_context_t ctx, const tconv_problem_t *p, const char *selector,
                           const tconv_plan_options_t *o, tconv_status_t status, ...) {
    tconv_plan_t plan = (tconv_plan_t)1;
    const tconv_status_t st = tconv_plan_create_with_options(&plan, ctx, p, selector, o);
    const char *error = tconv_get_last_error();
    if (st != status)
        fail_msg("%s: expected %s, got %s: %s", selector, tconv_status_name(status),
                 tconv_status_name(st), error);
    assert_null(plan);
    va_list ap;
    va_start(ap, status);
    for (const char *needle; (needle = va_arg(ap, const char *)) != NULL;)
        if (!tc_contains(error, needle))
            fail_msg("the message does not say '%s': %s", needle, error);
    va_end(ap);
}

/* ---- main part ------------------------------------------------------- */

static void test_init_and_refusals(void **state) {
    (void)state;
    tconv_plan_options_t o;
    memset(&o, 0x5a, sizeof o);
    assert_int_equal(tconv_plan_options_init(&o), tconv_success);
    assert_int_equal(o.struct_size, sizeof o);
    assert_null(o.program_binary);
    assert_null(o.program_binary_save);
    assert_int_equal(tconv_plan_options_init_sized(NULL, sizeof o), tconv_invalid_arguments);
    assert_int_equal(tconv_plan_options_init_sized(&o, 0), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "struct_size = 0"));

    /* A caller whose struct ends before program_binary_save: only its
     * bytes are written. */
    const size_t short_size = offsetof(tconv_plan_options_t, program_binary_save);
    unsigned char raw[sizeof(tconv_plan_options_t) + 16];
    memset(raw, 0xee, sizeof raw);
    assert_int_equal(tconv_plan_options_init_sized((tconv_plan_options_t *)raw, short_size),
                     tconv_success);
    tconv_plan_options_t got;
    memcpy(&got, raw, short_size);
    assert_int_equal(got.struct_size, short_size);
    assert_null(got.program_binary);
    for (size_t i = short_size; i < sizeof raw; i++)
        if (raw[i] != 0xee)
            fail_msg("byte %zu past the caller's %zu-byte struct was written", i, short_size);

    fixture_t f;
    fixture_open(&f);
    tconv_plan_options_t bad;
    tconv_plan_options_init(&bad);
    bad.struct_size = 0;
    expect_failure(f.ctx, &f.p, "cpu:0", &bad, tconv_invalid_arguments, "options->struct_size = 0",
                   "tconv_plan_options_init", NULL);
    bad.struct_size = sizeof(size_t) - 1; /* cannot hold itself: garbage */
    expect_failure(f.ctx, &f.p, "cpu:0", &bad, tconv_invalid_arguments, "options->struct_size = 7",
                   NULL);
    tconv_plan_options_init(&bad);
    bad.program_binary = "";
    expect_failure(f.ctx, &f.p, "cpu:0", &bad, tconv_invalid_arguments,
                   "options->program_binary = ''", NULL);
    tconv_plan_options_init(&bad);
    bad.program_binary_save = "";
    expect_failure(f.ctx, &f.p, "cpu:0", &bad, tconv_invalid_arguments,
                   "options->program_binary_save = ''", NULL);
    /* The usual argument checks come first. */
    assert_int_equal(tconv_plan_create_with_options(NULL, f.ctx, &f.p, "cpu:0", NULL),
                     tconv_invalid_arguments);
    fixture_close(&f);
}

static void test_unset_options_are_plan_create(void **state) {
    (void)state;
    fixture_t f;
    fixture_open(&f);
    tconv_plan_options_t empty;
    tconv_plan_options_init(&empty);
    /* A field past the caller's struct_size is never read. */
    tconv_plan_options_t short_struct;
    tconv_plan_options_init(&short_struct);
    short_struct.struct_size = offsetof(tconv_plan_options_t, program_binary_save);
    short_struct.program_binary_save = "/nonexistent-dir/never-written.bin";
    const tconv_plan_options_t *cases[] = {NULL, &empty, &short_struct};
    /* The model's order (no measurement, whose close calls may be measured
     * again): "auto" must land where tconv_plan_create lands. */
    setenv("TCONV_SELECT", "model", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *selectors[] = {"cpu:0", "auto"};
        for (size_t s = 0; s < 2; s++) {
            tconv_plan_t plain = NULL, with = NULL;
            TC_CHECK_OK(tconv_plan_create(&plain, f.ctx, &f.p, selectors[s]));
            TC_CHECK_OK(tconv_plan_create_with_options(&with, f.ctx, &f.p, selectors[s], cases[i]));
            char expected[32];
            snprintf(expected, sizeof expected, "%s", plan_backend(plain));
            assert_string_equal(plan_backend(with), expected);
            run_and_check(with, &f.p, &f.t);
            tconv_plan_destroy(plain);
            tconv_plan_destroy(with);
        }
    }
    unsetenv("TCONV_SELECT");
    fixture_close(&f);
}

static void test_cpu_declines_options(void **state) {
    (void)state;
    fixture_t f;
    fixture_open(&f);
    char missing[4200];
    path_in_work(missing, sizeof missing, "no-such.bin");
    tconv_plan_options_t o;
    tconv_plan_options_init(&o);
    o.program_binary = missing;
    expect_failure(f.ctx, &f.p, "cpu:0", &o, tconv_no_device, "cpu:0", "plan option program_binary",
                   "backend 'cpu'", "plan_create_with_options", NULL);
    tconv_plan_options_init(&o);
    o.program_binary_save = missing;
    expect_failure(f.ctx, &f.p, "cpu", &o, tconv_no_device, "cpu:0",
                   "plan option program_binary_save", NULL);
    fixture_close(&f);
}

/* ---- opencl part ----------------------------------------------------- */

static void test_save_then_load(void **state) {
    (void)state;
    char bin[4200];
    path_in_work(bin, sizeof bin, "plan.bin");
    fixture_t f;
    fixture_open(&f);
    tconv_plan_options_t o;
    tconv_plan_options_init(&o);
    o.program_binary_save = bin;
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_plan_create_with_options(&plan, f.ctx, &f.p, "opencl:0", &o));
    run_and_check(plan, &f.p, &f.t);
    tconv_plan_destroy(plan);
    struct stat sb;
    if (stat(bin, &sb) != 0 || sb.st_size == 0)
        fail_msg("program_binary_save wrote no binary to %s", bin);

    /* Loaded with no cache at all: the program can only come from the file. */
    log_capture_t *log = calloc(1, sizeof *log);
    assert_non_null(log);
    tconv_context_options_t co;
    tconv_context_options_init(&co);
    co.cache_mode = tconv_cache_off;
    co.verbosity = 2;
    co.log_callback = capture_log;
    co.log_user_data = log;
    tconv_context_t no_cache = NULL;
    TC_CHECK_OK(tconv_context_create_with_options(&no_cache, &co));
    tconv_plan_options_init(&o);
    o.program_binary = bin;
    TC_CHECK_OK(tconv_plan_create_with_options(&plan, no_cache, &f.p, "opencl:0", &o));
    char expected[4300];
    snprintf(expected, sizeof expected, "program loaded from plan option program_binary '%s'", bin);
    if (!tc_contains(log->text, expected))
        fail_msg("the log does not say '%s':\n%s", expected, log->text);
    if (tc_contains(log->text, "built from source"))
        fail_msg("a plan with program_binary built from source:\n%s", log->text);
    run_and_check(plan, &f.p, &f.t);
    tconv_plan_destroy(plan);

    /* "auto": cpu:0 declines (the option named), the OpenCL device takes it. */
    TC_CHECK_OK(tconv_plan_create_with_options(&plan, no_cache, &f.p, "auto", &o));
    assert_string_equal(plan_backend(plan), "opencl");
    const char *why = tconv_plan_get_selection_reason(plan);
    if (!tc_contains(why, "plan option program_binary"))
        fail_msg("the selection does not say why cpu:0 declined: %s", why);
    run_and_check(plan, &f.p, &f.t);
    tconv_plan_destroy(plan);
    tconv_context_destroy(no_cache);
    free(log);
    fixture_close(&f);
}

static void test_binary_errors_name_the_option(void **state) {
    (void)state;
    char bin[4200], missing[4200], garbage[4200], other[4200];
    path_in_work(bin, sizeof bin, "plan.bin"); /* test_save_then_load wrote it */
    path_in_work(missing, sizeof missing, "missing.bin");
    path_in_work(garbage, sizeof garbage, "garbage.bin");
    path_in_work(other, sizeof other, "other.bin");
    FILE *file = fopen(garbage, "wb");
    assert_non_null(file);
    for (int i = 0; i < 4096; i++)
        fputc((i * 131 + 7) & 0xff, file);
    fclose(file);
    fixture_t f;
    fixture_open(&f);
    tconv_plan_options_t o;
    tconv_plan_options_init(&o);

    o.program_binary = missing;
    expect_failure(f.ctx, &f.p, "opencl:0", &o, tconv_runtime_error, "opencl:0",
                   "plan option program_binary", "missing.bin", "never compiles from source", NULL);
    assert_false(tc_contains(tconv_get_last_error(), "TCONV_OPENCL_BINARY"));
    o.program_binary = garbage;
    expect_failure(f.ctx, &f.p, "opencl:0", &o, tconv_runtime_error, "plan option program_binary",
                   "garbage.bin", NULL);
    assert_false(tc_contains(tconv_get_last_error(), "TCONV_OPENCL_BINARY"));

    /* A binary made for another problem (stride 1). */
    tconv_problem_t q = f.p;
    for (int a = 0; a < 3; a++)
        q.strides[a] = 1;
    tconv_plan_options_init(&o);
    o.program_binary_save = other;
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_plan_create_with_options(&plan, f.ctx, &q, "opencl:0", &o));
    tconv_plan_destroy(plan);
    tconv_plan_options_init(&o);
    o.program_binary = other;
    char given[4300];
    snprintf(given, sizeof given, "plan option program_binary '%s' does not match this plan",
             other);
    expect_failure(f.ctx, &f.p, "opencl:0", &o, tconv_runtime_error, given, NULL);

    /* A save path that cannot be written. */
    tconv_plan_options_init(&o);
    o.program_binary_save = "/nonexistent-dir/plan.bin";
    expect_failure(f.ctx, &f.p, "opencl:0", &o, tconv_runtime_error,
                   "plan option program_binary_save '/nonexistent-dir/plan.bin'", NULL);

    /* The binary holds the forward program only: a training plan declines. */
    tconv_problem_t training = f.p;
    training.activation = tconv_activation_linear;
    training.passes = TCONV_PASS_TRAINING;
    tconv_plan_options_init(&o);
    o.program_binary = bin;
    expect_failure(f.ctx, &training, "opencl:0", &o, tconv_no_device, "backward pass",
                   "plan option program_binary", NULL);
    fixture_close(&f);
}

static void test_options_over_environment(void **state) {
    (void)state;
    char bin[4200], missing[4200];
    path_in_work(bin, sizeof bin, "plan.bin");
    path_in_work(missing, sizeof missing, "env-missing.bin");
    fixture_t f;
    fixture_open(&f);
    /* The plugin reads the environment per plan. */
    setenv("TCONV_OPENCL_BINARY", missing, 1);
    tconv_plan_options_t o;
    tconv_plan_options_init(&o);
    o.program_binary = bin; /* the option wins */
    tconv_plan_t plan = NULL;
    TC_CHECK_OK(tconv_plan_create_with_options(&plan, f.ctx, &f.p, "opencl:0", &o));
    run_and_check(plan, &f.p, &f.t);
    tconv_plan_destroy(plan);
    /* A field left NULL: the variable's value, named as the variable. */
    tconv_plan_options_init(&o);
    expect_failure(f.ctx, &f.p, "opencl:0", &o, tconv_runtime_error, "TCONV_OPENCL_BINARY",
                   "env-missing.bin", NULL);
    expect_failure(f.ctx, &f.p, "opencl:0", NULL, tconv_runtime_error, "TCONV_OPENCL_BINARY", NULL);
    unsetenv("TCONV_OPENCL_BINARY");
    fixture_close(&f);
}

static int setup(void **state) {
    (void)state;
    tc_clean_environment();
    return tc_temp_dir_create(work, sizeof work, "plan_options");
}

static int teardown(void **state) {
    (void)state;
    return tc_temp_dir_remove(work);
}

int main(int argc, char **argv) {
    const int part = tc_part(argc, argv, "main|opencl", NULL);
    if (part < 0)
        return 2;
    tc_clean_environment();
    if (part == 1) {
        if (!tc_device_present("opencl:0"))
            return tc_cannot_run("no OpenCL device (opencl:0): the binary flow cannot run");
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_save_then_load),
            cmocka_unit_test(test_binary_errors_name_the_option),
            cmocka_unit_test(test_options_over_environment),
        };
        return cmocka_run_group_tests_name("plan_options_opencl", tests, setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_refusals),
        cmocka_unit_test(test_unset_options_are_plan_create),
        cmocka_unit_test(test_cpu_declines_options),
    };
    return cmocka_run_group_tests_name("plan_options", tests, setup, teardown);
}
