/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv backward` on bad arguments and bad input: each exits 2 (or 3 for a
 * device that does not exist) with a message that names the argument and
 * states the rule, and writes nothing: precious files planted where the
 * outputs would go stay byte-identical and no temporary file is left.
 * Then one good run on cpu:0 whose three outputs have the right shapes and
 * dtype, and whose values match the float64 reference adjoint. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "npy_test_io.h"
#include "process.h"
#include "reference/tconv_reference.h"
#include "test_support.h"

static char dir[256];
static char x_path[300], w_path[300], b_path[300], gy_path[300], gy_bad[300];
static char gx_path[300], gw_path[300], gb_path[300];

/* The layer: 2-D, x (1, 4, 4, 3) channels_last, keras kernel (3, 3, 2, 3)
 * (Cout 2), strides 1, valid: y (1, 6, 6, 2). */
static const int64_t x_shape[4] = {1, 4, 4, 3}, w_shape[4] = {3, 3, 2, 3}, b_shape[1] = {2},
                     gy_shape[4] = {1, 6, 6, 2}, gy_bad_shape[4] = {1, 5, 6, 2};
static double x_values[48], w_values[54], b_values[2], gy_values[72];

#define PATH(buf, name) snprintf(buf, sizeof buf, "%s/%s", dir, name)

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tconv_cli_backward_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    tc_rng_t rng;
    tc_rng_seed(&rng, 4242);
    for (size_t i = 0; i < sizeof x_values / sizeof x_values[0]; i++)
        x_values[i] = tc_rng_signed_unit(&rng);
    for (size_t i = 0; i < sizeof w_values / sizeof w_values[0]; i++)
        w_values[i] = tc_rng_signed_unit(&rng);
    for (size_t i = 0; i < sizeof b_values / sizeof b_values[0]; i++)
        b_values[i] = tc_rng_signed_unit(&rng);
    for (size_t i = 0; i < sizeof gy_values / sizeof gy_values[0]; i++)
        gy_values[i] = tc_rng_signed_unit(&rng);
    PATH(x_path, "x.npy");
    PATH(w_path, "w.npy");
    PATH(b_path, "b.npy");
    PATH(gy_path, "gy.npy");
    PATH(gy_bad, "gy_bad.npy");
    PATH(gx_path, "gx.npy");
    PATH(gw_path, "gw.npy");
    PATH(gb_path, "gb.npy");
    return tn_write(x_path, 8, x_shape, 4, x_values) || tn_write(w_path, 8, w_shape, 4, w_values) ||
                   tn_write(b_path, 8, b_shape, 1, b_values) ||
                   tn_write(gy_path, 8, gy_shape, 4, gy_values) ||
                   tn_write(gy_bad, 8, gy_bad_shape, 4, gy_values)
               ? -1
               : 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char precious[] = "precious bytes that a failed run must not touch\n";

static void plant_outputs(void) {
    const char *paths[3] = {gx_path, gw_path, gb_path};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(paths[i], "wb");
        assert_non_null(f);
        fputs(precious, f);
        fclose(f);
    }
}

static void expect_outputs_untouched(const char *what) {
    const char *paths[3] = {gx_path, gw_path, gb_path};
    for (int i = 0; i < 3; i++) {
        unsigned char *bytes;
        size_t size;
        assert_int_equal(tn_read_file(paths[i], &bytes, &size), 0);
        if (size != strlen(precious) || memcmp(bytes, precious, size) != 0)
            fail_msg("%s: %s was modified (%zu bytes now)", what, paths[i], size);
        free(bytes);
    }
    /* Exactly the 8 files of the setup: no temporary file left behind. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) = 8", dir);
    if (system(cmd) != 0)
        fail_msg("%s: a stray file was left in %s", what, dir);
}

/* Runs `tconv backward` with the NULL-terminated arguments; expects exit
 * @p code and every word of @p words (NULL-terminated) on stderr, with the
 * planted outputs untouched. */
static void expect_failure(int code, const char *const *words, ...) {
    plant_outputs();
    char *argv[48];
    int n = 0;
    argv[n++] = (char *)TCONV_TEST_CLI;
    argv[n++] = "backward";
    va_list ap;
    va_start(ap, words);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 47)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char cmdline[2048];
    tp_format(argv, cmdline, sizeof cmdline);
    char *out = NULL, *err = NULL;
    int got = tp_run(argv, &out, &err);
    if (got != code)
        fail_msg("%s\n  exit %d, want %d; stderr: %s", cmdline, got, code, err ? err : "");
    for (int i = 0; words[i] != NULL; i++)
        if (!tc_contains(err, words[i]))
            fail_msg("%s\n  stderr lacks '%s': %s", cmdline, words[i], err ? err : "");
    if (out != NULL && out[0] != '\0')
        fail_msg("%s\n  printed on stdout on failure: %s", cmdline, out);
    free(out);
    free(err);
    expect_outputs_untouched(cmdline);
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_required_arguments(void **state) {
    (void)state;
    expect_failure(2, WORDS("--grad-output", "required"), "--input", x_path, "--kernel", w_path,
                   "--grad-input", gx_path, NULL);
    expect_failure(2, WORDS("--input", "required"), "--kernel", w_path, "--grad-output", gy_path,
                   "--grad-input", gx_path, NULL);
    expect_failure(2, WORDS("--kernel", "required"), "--input", x_path, "--grad-output", gy_path,
                   "--grad-input", gx_path, NULL);
    expect_failure(2, WORDS("--grad-input", "--grad-kernel", "--grad-bias", "at least one"),
                   "--input", x_path, "--kernel", w_path, "--grad-output", gy_path, NULL);
}

static void test_inconsistent_outputs(void **state) {
    (void)state;
    expect_failure(2, WORDS("--grad-bias", "needs --bias"), "--input", x_path, "--kernel", w_path,
                   "--grad-output", gy_path, "--grad-bias", gb_path, NULL);
    expect_failure(2, WORDS("--grad-kernel", "--grad-input", "same file"), "--input", x_path,
                   "--kernel", w_path, "--grad-output", gy_path, "--grad-input", gx_path,
                   "--grad-kernel", gx_path, NULL);
    char missing_dir[400];
    snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir/gw.npy", dir);
    expect_failure(2, WORDS("--grad-kernel", "not writable or does not exist"), "--input", x_path,
                   "--kernel", w_path, "--grad-output", gy_path, "--grad-input", gx_path,
                   "--grad-kernel", missing_dir, NULL);
    expect_failure(2, WORDS("--grad-input", "is a directory"), "--input", x_path, "--kernel",
                   w_path, "--grad-output", gy_path, "--grad-input", dir, NULL);
}

static void test_bad_arrays_and_options(void **state) {
    (void)state;
    expect_failure(2, WORDS("--grad-output", "(1, 5, 6, 2)", "(1, 6, 6, 2)", "output shape"),
                   "--input", x_path, "--kernel", w_path, "--grad-output", gy_bad, "--grad-input",
                   gx_path, NULL);
    /* The kernel as grad-output: wrong rank/shape. */
    expect_failure(2, WORDS("--grad-output", "output shape"), "--input", x_path, "--kernel", w_path,
                   "--grad-output", w_path, "--grad-input", gx_path, NULL);
    char nowhere[400];
    snprintf(nowhere, sizeof nowhere, "%s/absent.npy", dir);
    expect_failure(2, WORDS("--grad-output", "absent.npy"), "--input", x_path, "--kernel", w_path,
                   "--grad-output", nowhere, "--grad-input", gx_path, NULL);
    expect_failure(2, WORDS("--bias", "(2,)"), "--input", x_path, "--kernel", w_path, "--bias",
                   x_path, "--grad-output", gy_path, "--grad-bias", gb_path, NULL);
    expect_failure(2, WORDS("--strides", ">= 1"), "--input", x_path, "--kernel", w_path,
                   "--grad-output", gy_path, "--grad-input", gx_path, "--strides", "0", NULL);
    expect_failure(2, WORDS("--activation"), "--input", x_path, "--kernel", w_path, "--grad-output",
                   gy_path, "--grad-input", gx_path, "--activation", "softmax", NULL);
    expect_failure(2, WORDS("--kernel", "in_channels"), "--input", x_path, "--kernel", gy_path,
                   "--grad-output", gy_path, "--grad-input", gx_path, NULL);
    expect_failure(2, WORDS("--frobnicate"), "--input", x_path, "--kernel", w_path, "--grad-output",
                   gy_path, "--grad-input", gx_path, "--frobnicate", NULL);
    /* A device that does not exist: a runtime failure, still nothing written. */
    expect_failure(3, WORDS("cpu:9"), "--input", x_path, "--kernel", w_path, "--grad-output",
                   gy_path, "--grad-input", gx_path, "--grad-kernel", gw_path, "--device", "cpu:9",
                   NULL);
}

/* Reads @p path and checks its shape and item size. */
static double *read_result(const char *path, const int64_t *shape, int ndim, int item) {
    double *values = NULL;
    int64_t got[8];
    int got_ndim = 0, got_item = 0;
    char msg[256];
    if (tn_read(path, &values, got, &got_ndim, &got_item, msg, sizeof msg) != 0)
        fail_msg("%s: %s", path, msg);
    if (got_ndim != ndim || got_item != item)
        fail_msg("%s: %d dims of %d-byte items, want %d of %d", path, got_ndim, got_item, ndim,
                 item);
    for (int i = 0; i < ndim; i++)
        if (got[i] != shape[i])
            fail_msg("%s: dimension %d is %lld, want %lld", path, i, (long long)got[i],
                     (long long)shape[i]);
    return values;
}

static void expect_close(const char *what, const double *got, const double *want, int64_t n) {
    double scale = 1;
    for (int64_t i = 0; i < n; i++)
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= 1e-12 * scale))
            fail_msg("%s[%lld] = %.17g, reference %.17g", what, (long long)i, got[i], want[i]);
}

/* A good float64 run with a non-linear activation: every output matches the
 * reference adjoint, and nothing but the three outputs is added. */
static void test_good_run_matches_reference(void **state) {
    (void)state;
    unlink(gx_path);
    unlink(gw_path);
    unlink(gb_path);
    char *argv[] = {(char *)TCONV_TEST_CLI,
                    "backward",
                    "--input",
                    x_path,
                    "--kernel",
                    w_path,
                    "--bias",
                    b_path,
                    "--grad-output",
                    gy_path,
                    "--grad-input",
                    gx_path,
                    "--grad-kernel",
                    gw_path,
                    "--grad-bias",
                    gb_path,
                    "--activation",
                    "silu",
                    "--dtype",
                    "float64",
                    "--device",
                    "cpu",
                    NULL};
    char *out = NULL, *err = NULL;
    int code = tp_run(argv, &out, &err);
    if (code != 0)
        fail_msg("exit %d: %s", code, err ? err : "");
    free(out);
    free(err);

    tconv_problem_t p;
    tconv_problem_init(&p, 2);
    p.in_channels = 3;
    p.out_channels = 2;
    p.input_size[0] = p.input_size[1] = 4;
    p.kernel_size[0] = p.kernel_size[1] = 3;
    p.use_bias = 1;
    p.activation = tconv_activation_silu;
    p.dtype = tconv_f64;
    tconv_canonical_t c;
    assert_int_equal(tconv_problem_resolve(&p, &c), tconv_success);
    double gx[48], gw[54], gb[2];
    tconv_reference_backward(&c, x_values, w_values, b_values, gy_values, gx, gw, gb);

    double *got = read_result(gx_path, x_shape, 4, 8);
    expect_close("grad_input", got, gx, 48);
    free(got);
    got = read_result(gw_path, w_shape, 4, 8);
    expect_close("grad_kernel", got, gw, 54);
    free(got);
    got = read_result(gb_path, b_shape, 1, 8);
    expect_close("grad_bias", got, gb, 2);
    free(got);
}

int main(void) {
    tc_clean_environment();
    if (access(TCONV_TEST_CLI, X_OK) != 0) {
        fprintf(stderr, "FAILED: the CLI %s is not built\n", TCONV_TEST_CLI);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_arguments),
        cmocka_unit_test(test_inconsistent_outputs),
        cmocka_unit_test(test_bad_arrays_and_options),
        cmocka_unit_test(test_good_run_matches_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
