/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv run` end to end: random problems (every padding form, layout,
 * activation, both dtypes) are written as .npy files, run through the CLI
 * binary as a user would, and the output file is compared with the float64
 * reference. Also: float64 files with --dtype float32 and the reverse, and
 * the device chosen by --device.
 *
 *   test_cli_roundtrip --device cpu|opencl
 *
 * One ctest entry per device: cpu (float32, float64, mixed file and compute
 * types, --device auto) and opencl (float32 and float64 through --device
 * opencl), which exits 77 (ctest: Skipped) without an OpenCL platform or
 * with a device lacking float64, a failure under CI=true (tc_cannot_run). */
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

#include "cli_command.h"
#include "npy_test_io.h"
#include "process.h"
#include "test_support.h"

typedef long long ll;

static char workdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(workdir, sizeof workdir, "/tmp/tconv_cli_roundtrip_XXXXXX");
    return mkdtemp(workdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs one problem through the CLI with files stored as @p file_item-byte
 * floats. Returns 0 when the output matches the reference. */
static int run_one(const tconv_problem_t *p, int case_index, int file_item, const char *device,
                   tc_rng_t *rng, double *max_err) {
    char desc[2048], msg[2048], x[300], w[300], b[300], y[300], cmdline[4096];
    tc_format_problem(p, desc, sizeof desc);
    tc_tensors_t t;
    if (tc_tensors_make(p, rng, &t, msg, sizeof msg) != 0) {
        print_error("case %d: %s\n  problem: %s\n", case_index, msg, desc);
        return -1;
    }
    if (file_item == 4)
        tc_tensors_round_to_float(&t); /* what a <f4 file can hold */
    int64_t in_dims[5], k_dims[5], out_dims[5], bias_dim[1] = {p->out_channels};
    int nd;
    tconv_problem_get_shapes(p, in_dims, k_dims, out_dims, &nd);
    snprintf(x, sizeof x, "%s/x%d.npy", workdir, case_index);
    snprintf(w, sizeof w, "%s/w%d.npy", workdir, case_index);
    snprintf(b, sizeof b, "%s/b%d.npy", workdir, case_index);
    snprintf(y, sizeof y, "%s/y%d.npy", workdir, case_index);
    /* f32 problems' values are floats already; writing them as f8 is exact. */
    tn_write(x, file_item, in_dims, nd, t.in);
    tn_write(w, file_item, k_dims, nd, t.kernel);
    if (p->use_bias)
        tn_write(b, file_item, bias_dim, 1, t.bias);

    tc_cli_command_t a = {.argc = 0};
    tc_cli_push(&a, TCONV_TEST_CLI);
    tc_cli_push(&a, "run");
    tc_cli_push2(&a, "--input", x);
    tc_cli_push2(&a, "--kernel", w);
    if (p->use_bias)
        tc_cli_push2(&a, "--bias", b);
    tc_cli_push2(&a, "--output", y);
    tc_cli_push2(&a, "--device", device);
    tc_cli_push_layer_options(&a, p);
    tp_format(a.argv, cmdline, sizeof cmdline);

    int result = -1;
    char *out = NULL, *err = NULL;
    double *values = NULL;
    int code = tp_run(a.argv, &out, &err);
    if (code != 0) {
        print_error("case %d: exit %d\n  command: %s\n  stderr: %s\n  problem: %s\n", case_index,
                    code, cmdline, err ? err : "", desc);
        goto done;
    }
    int64_t shape[8];
    int ndim, item;
    if (tn_read(y, &values, shape, &ndim, &item, msg, sizeof msg) != 0) {
        print_error("case %d: %s\n  command: %s\n", case_index, msg, cmdline);
        goto done;
    }
    int want_item = p->dtype == tconv_f64 ? 8 : 4;
    int shape_ok = ndim == nd && item == want_item;
    for (int i = 0; shape_ok && i < nd; i++)
        shape_ok = shape[i] == out_dims[i];
    if (!shape_ok) {
        print_error("case %d: output has %d dims of item %d, want %d dims of item %d "
                    "(dims %lld,%lld,%lld vs %lld,%lld,%lld)\n  command: %s\n",
                    case_index, ndim, item, nd, want_item, (ll)shape[0], (ll)shape[1], (ll)shape[2],
                    (ll)out_dims[0], (ll)out_dims[1], (ll)out_dims[2], cmdline);
        goto done;
    }
    /* Compare through the shared error measure. */
    tc_tensors_set_output(&t, values);
    int64_t worst;
    *max_err = tc_tensors_max_error(&t, &worst);
    if (!(*max_err <= tc_tolerance(p->dtype))) {
        print_error("case %d: error %.3g at element %lld: got %.9g, want %.9g\n  command: %s\n"
                    "  problem: %s\n",
                    case_index, *max_err, (ll)worst, values[worst], t.ref[worst], cmdline, desc);
        goto done;
    }
    result = 0;
done:
    free(values);
    free(out);
    free(err);
    unlink(x);
    unlink(w);
    unlink(b);
    unlink(y);
    tc_tensors_free(&t);
    return result;
}

static void run_cases(tconv_dtype_t dtype, int file_item, int cases, const char *device) {
    tc_rng_t rng;
    tc_rng_seed(&rng, 977 + (uint64_t)dtype * 10 + (uint64_t)file_item);
    int failures = 0;
    cases = tc_case_budget(cases);
    double max_err = 0;
    for (int c = 0; c < cases; c++) {
        tconv_problem_t p;
        tc_random_problem(&rng, c, dtype, &p);
        double err = 0;
        if (run_one(&p, c, file_item, device, &rng, &err) != 0)
            failures++;
        else if (err > max_err)
            max_err = err;
    }
    print_message("cli %s, %s files, --device %s: %d cases, %d failed, max rel err %.2g\n",
                  dtype == tconv_f64 ? "float64" : "float32", file_item == 8 ? "<f8" : "<f4",
                  device, cases, failures, max_err);
    if (failures)
        fail_msg("%d failing CLI round trips (details above)", failures);
}

static void test_float32_round_trips(void **state) {
    (void)state;
    run_cases(tconv_f32, 4, 60, "cpu");
}

static void test_float64_round_trips(void **state) {
    (void)state;
    run_cases(tconv_f64, 8, 40, "cpu");
}

static void test_mixed_file_and_compute_types(void **state) {
    (void)state;
    run_cases(tconv_f32, 8, 10, "cpu"); /* <f8 files computed in float32 */
    run_cases(tconv_f64, 4, 10, "cpu"); /* <f4 files computed in float64 */
}

/* The dtypes every OpenCL device supports (TCONV_DTYPE_BIT mask; 0 when
 * there is none). */
static unsigned opencl_dtypes(void) {
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, NULL) != tconv_success)
        return 0;
    size_t count = 0;
    unsigned common = ~0u;
    int found = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success &&
            strcmp(info.backend, "opencl") == 0) {
            common &= info.dtypes;
            found = 1;
        }
    }
    tconv_context_destroy(ctx);
    return found ? common : 0;
}

/* `tconv run --device opencl` on the same seeded configurations as the cpu
 * round trips. */
static void test_opencl_float32_round_trips(void **state) {
    (void)state;
    run_cases(tconv_f32, 4, 60, "opencl");
}

static void test_opencl_float64_round_trips(void **state) {
    (void)state;
    run_cases(tconv_f64, 8, 40, "opencl");
}

static void test_auto_device(void **state) {
    (void)state;
    /* Few cases: with several CPU-class devices, auto measures them on each
     * new problem (seconds per problem when OpenCL programs are built). */
    run_cases(tconv_f64, 4, 3, "auto");
}

/* The opencl entry: float32 always, float64 where every OpenCL device has
 * it; exits as tc_cannot_run for what cannot run, unless a case failed. */
static int run_opencl_part(void) {
    const unsigned dtypes = opencl_dtypes();
    if (dtypes == 0)
        return tc_cannot_run("no OpenCL platform (no device of backend 'opencl')");
    const int f64 = (dtypes & TCONV_DTYPE_BIT(tconv_f64)) != 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opencl_float32_round_trips),
        cmocka_unit_test(test_opencl_float64_round_trips),
    };
    int failed =
        _cmocka_run_group_tests("cli_roundtrip_opencl", tests, f64 ? 2 : 1, setup, teardown);
    if (failed)
        return 1;
    return f64 ? 0 : tc_cannot_run("an OpenCL device without float64: its round trips did not run");
}

int main(int argc, char **argv) {
    tc_clean_environment();
    const char *device = argc == 3 && strcmp(argv[1], "--device") == 0 ? argv[2] : "";
    if (strcmp(device, "cpu") != 0 && strcmp(device, "opencl") != 0) {
        fprintf(stderr, "usage: %s --device cpu|opencl\n", argv[0]);
        return 2;
    }
    if (access(TCONV_TEST_CLI, X_OK) != 0) {
        fprintf(stderr, "FAILED: the CLI %s is not built\n", TCONV_TEST_CLI);
        return 1;
    }
    if (strcmp(device, "opencl") == 0)
        return run_opencl_part();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float32_round_trips),
        cmocka_unit_test(test_float64_round_trips),
        cmocka_unit_test(test_mixed_file_and_compute_types),
        cmocka_unit_test(test_auto_device),
    };
    return cmocka_run_group_tests_name("cli_roundtrip_cpu", tests, setup, teardown);
}
