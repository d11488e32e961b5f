/* SPDX-License-Identifier: Apache-2.0 */
/* Every allocation libtconv and its plugins make, failing in turn
 * (tests/fault_inject.c, preloaded: the program runs itself again with it):
 *   - through the API, per device (cpu:0, opencl:0, and `auto` measuring
 *     them and writing the selection cache): context creation, plan
 *     creation, weights, execution and destruction with the N-th allocation
 *     of libtconv or a plugin failing, for N = 1, 2, ... until N is past the
 *     last one. Each call succeeds or returns tconv_out_of_memory with a
 *     message (a plan whose every call succeeded computed the right
 *     output); the output buffer is untouched unless the execution
 *     succeeded; nothing leaks (in a LeakSanitizer build a leak check runs
 *     after every N);
 *   - through `tconv run --device cpu`, with the N-th allocation of the CLI,
 *     libtconv or a plugin failing: exit 0 with the right output, or exit 4
 *     with a message ("tconv run: ...") and no output file and no temporary
 *     file left (a leak or any sanitizer report changes the exit code).
 * Allocations by other code (libc, the OpenCL driver, this test) are not
 * failed. The sanitizer job (scripts/test-sanitizers.sh) runs it under
 * ASan, LSan and UBSan.
 *
 *   test_fault_alloc --part cpu|opencl
 *
 * Two ctest entries: fault_alloc (the API on cpu:0, and the CLI) and
 * fault_alloc_opencl (the API on opencl:0, and `auto` measuring cpu:0
 * against it), which exits 77 without opencl:0 (a failure under CI=true,
 * tc_cannot_run). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "npy_test_io.h"
#include "process.h"
#include "temp_dir.h"
#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK_AFTER_EACH 1
#else
#define LEAK_CHECK_AFTER_EACH 0
#endif

/* Set in the environment of the run with the module preloaded. */
#define PRELOADED_MARK "TCONV_TEST_FAULT_ALLOC_PRELOADED"
/* More allocations than this in one sweep means the sweep never ends. */
#define MAX_SWEEP 20000

static void (*fault_arm)(long fail_at);
static long (*fault_count)(void);
static int (*fault_failed)(void);

static char dir[256];
static tc_tensors_t tensors;
static tconv_problem_t problem;

/* ---------------------------------------------------------------------- */
/* Through the API                                                          */

/* Whether the N-th allocation failing gave what the contract says. Returns
 * 0, or -1 with the reason in @p failure. */
static int judge_attempt(tconv_status_t st, const char *step, int executed, const void *output,
                         size_t output_bytes, char *failure, size_t failure_size) {
    if (st == tconv_success) {
        tc_tensors_t view = tensors;
        view.dev_out = (void *)output;
        int64_t worst;
        double err = tc_tensors_max_error(&view, &worst);
        if (!(err <= tc_tolerance(view.canonical.dtype))) {
            snprintf(failure, failure_size, "every call succeeded but output %lld is off by %g",
                     (long long)worst, err);
            return -1;
        }
        return 0;
    }
    const char *msg = tconv_get_last_error();
    if (st != tconv_out_of_memory || msg == NULL || msg[0] == '\0') {
        snprintf(failure, failure_size, "%s returned %s (want success or out_of_memory): \"%s\"",
                 step, tconv_status_name(st), msg ? msg : "");
        return -1;
    }
    const unsigned char *bytes = output;
    for (size_t i = 0; !executed && i < output_bytes; i++)
        if (bytes[i] != 0xA5) {
            snprintf(failure, failure_size,
                     "%s failed (out of memory) but output byte %zu was written", step, i);
            return -1;
        }
    return 0;
}

/* Context, plan, weights, execution and destruction on @p device with the
 * @p fail_at-th allocation of libtconv or a plugin failing. Returns 1 when
 * no allocation was failed (fail_at is past the last), 0 when the outcome
 * was right, -1 with the reason in @p failure. */
static int attempt(const char *device, long fail_at, long *count, char *failure,
                   size_t failure_size) {
    const size_t output_bytes =
        (size_t)tensors.out_count * (tensors.canonical.dtype == tconv_f64 ? 8 : 4);
    void *output = malloc(output_bytes);
    if (output == NULL) {
        snprintf(failure, failure_size, "the test ran out of memory");
        return -1;
    }
    memset(output, 0xA5, output_bytes);
    tconv_context_t ctx = NULL;
    tconv_plan_t plan = NULL;
    const char *step = "tconv_context_create";
    int executed = 0;
    fault_arm(fail_at);
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    if (st == tconv_success) {
        step = "tconv_plan_create";
        st = tconv_plan_create(&plan, ctx, &problem, device);
    }
    if (st == tconv_success) {
        step = "tconv_plan_set_weights";
        st = tconv_plan_set_weights(plan, tensors.dev_kernel, tensors.dev_bias);
    }
    if (st == tconv_success) {
        step = "tconv_plan_execute";
        st = tconv_plan_execute(plan, tensors.dev_in, output);
        executed = st == tconv_success;
    }
    /* The message of a failure, before destruction may set another. */
    int rc = judge_attempt(st, step, executed, output, output_bytes, failure, failure_size);
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
    *count = fault_count();
    const int failed = fault_failed();
    fault_arm(0);
    free(output);
    if (rc == 0 && !failed && st != tconv_success) {
        snprintf(failure, failure_size, "%s failed with no allocation failed: %s", step,
                 tconv_get_last_error());
        rc = -1;
    }
#if LEAK_CHECK_AFTER_EACH
    if (rc == 0 && __lsan_do_recoverable_leak_check() != 0) {
        snprintf(failure, failure_size, "leak (reported above) after %s", step);
        rc = -1;
    }
#endif
    return rc != 0 ? rc : !failed;
}

/* Every failure is printed; the test fails after the sweep. */
static void sweep_device(const char *device) {
    long fail_at = 1, count = 0;
    int failures = 0;
    char failure[2048];
    for (;; fail_at++) {
        int rc = attempt(device, fail_at, &count, failure, sizeof failure);
        if (rc < 0) {
            print_error("%s, allocation %ld of %ld by libtconv and plugins failing: %s\n", device,
                        fail_at, count, failure);
            failures++;
        }
        if (rc == 1)
            break;
        if (fail_at == MAX_SWEEP)
            fail_msg("%s: more than %d allocations", device, MAX_SWEEP);
    }
    assert_true(fail_at > 1);
    if (failures)
        fail_msg("%s: %d of %ld allocations failing went wrong (above)", device, failures,
                 fail_at - 1);
    print_message("%s: %ld allocations by libtconv and its plugins, each failed once\n", device,
                  fail_at - 1);
}

static void test_api_cpu(void **state) {
    (void)state;
    sweep_device("cpu:0");
}

static void test_api_opencl(void **state) {
    (void)state;
    sweep_device("opencl:0");
}

/* `auto` measuring cpu:0 against opencl:0 and writing the decision to the
 * selection cache every time. */
static void test_api_auto_measured(void **state) {
    (void)state;
    setenv("TCONV_SELECT", "measure", 1);
    setenv("TCONV_SELECT_MIN_MS", "0", 1);
    sweep_device("auto");
    unsetenv("TCONV_SELECT");
    unsetenv("TCONV_SELECT_MIN_MS");
}

/* ---------------------------------------------------------------------- */
/* Through the CLI                                                          */

static char x_path[300], w_path[300], good_path[300], icd_dir[300];

static int holds_temporary(void) {
    DIR *listing = opendir(dir);
    int found = 0;
    for (struct dirent *e; listing && !found && (e = readdir(listing)) != NULL;)
        found = strncmp(e->d_name, ".tconv-", 7) == 0;
    if (listing)
        closedir(listing);
    return found;
}

static int run_cli(const char *output, long fail_at, char **out, char **err) {
    char value[32];
    snprintf(value, sizeof value, "%ld", fail_at);
    char *argv[] = {(char *)TCONV_TEST_CLI,
                    "run",
                    "--input",
                    x_path,
                    "--kernel",
                    w_path,
                    "--strides",
                    "2",
                    "--padding",
                    "same",
                    "--device",
                    "cpu",
                    "--output",
                    (char *)output,
                    NULL};
    setenv("TCONV_FAULT_ALLOC", value, 1);
    int rc = tp_run(argv, out, err);
    unsetenv("TCONV_FAULT_ALLOC");
    return rc;
}

static void test_cli_run(void **state) {
    (void)state;
    /* The OpenCL plugin loads and finds no platform (an empty vendor
     * directory): its allocations count, PoCL's start-up time does not. */
    setenv("OCL_ICD_VENDORS", icd_dir, 1);
    setenv("TCONV_FAULT_ALLOC_SCOPE", "main,library,plugins", 1);
    char *out, *err;
    int rc = run_cli(good_path, 0, &out, &err);
    if (rc != 0)
        fail_msg("the run without failures: exit %d: %s", rc, err);
    free(out);
    free(err);
    unsigned char *good, *got;
    size_t good_size, got_size;
    assert_int_equal(tn_read_file(good_path, &good, &good_size), 0);
    long fail_at = 1;
    int failures = 0;
    for (;; fail_at++) {
        char path[320];
        snprintf(path, sizeof path, "%s/y%ld.npy", dir, fail_at);
        rc = run_cli(path, fail_at, &out, &err);
        const int past_the_last = tc_contains(err, "failed none");
        if (!tc_contains(err, "fault_inject:"))
            fail_msg("the fault injection module was not loaded: exit %d, stderr \"%s\"", rc, err);
        const int exists = access(path, F_OK) == 0;
        if (rc == 0) {
            if (!exists || tn_read_file(path, &got, &got_size) != 0)
                fail_msg("allocation %ld failing: exit 0 without output", fail_at);
            int same = got_size == good_size && memcmp(got, good, good_size) == 0;
            free(got);
            if (!same)
                fail_msg("allocation %ld failing: exit 0 with a different output", fail_at);
            unlink(path);
        } else if (past_the_last || rc != 4 || !tc_contains(err, "tconv run: ") || exists ||
                   holds_temporary()) {
            print_error("allocation %ld failing: exit %d (want 0, or 4 with a message), "
                        "output %s, temporary file %s, stderr \"%s\"\n",
                        fail_at, rc, exists ? "written" : "absent",
                        holds_temporary() ? "left" : "none", err);
            failures++;
            unlink(path);
        }
        free(out);
        free(err);
        if (past_the_last)
            break;
        if (fail_at == MAX_SWEEP)
            fail_msg("more than %d allocations", MAX_SWEEP);
    }
    free(good);
    unsetenv("TCONV_FAULT_ALLOC_SCOPE");
    unsetenv("OCL_ICD_VENDORS");
    if (failures)
        fail_msg("tconv run: %d of %ld allocations failing went wrong (above)", failures,
                 fail_at - 1);
    print_message("tconv run: %ld allocations by the CLI, libtconv and its plugins, each failed "
                  "once\n",
                  fail_at - 1);
}

/* ---------------------------------------------------------------------- */

static int setup(void **state) {
    (void)state;
    if (tc_temp_dir_create(dir, sizeof dir, "fault_alloc") != 0)
        return -1;
    tc_small_problem(&problem, tconv_f32);
    tc_rng_t rng;
    tc_rng_seed(&rng, 77);
    char msg[1024];
    if (tc_tensors_make(&problem, &rng, &tensors, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s\n", msg);
        return -1;
    }
    /* The CLI's files: x (1, 4, 4, 2) channels_last 2-D, w keras (3, 3, 3, 2). */
    double values[1024];
    for (int i = 0; i < 1024; i++)
        values[i] = (i % 17) * 0.125 - 1;
    const int64_t xs[4] = {1, 4, 4, 2}, ws[4] = {3, 3, 3, 2};
    snprintf(x_path, sizeof x_path, "%s/x.npy", dir);
    snprintf(w_path, sizeof w_path, "%s/w.npy", dir);
    snprintf(good_path, sizeof good_path, "%s/good.npy", dir);
    snprintf(icd_dir, sizeof icd_dir, "%s/no-vendors", dir);
    if (mkdir(icd_dir, 0700) != 0)
        return -1;
    return tn_write(x_path, 4, xs, 4, values) || tn_write(w_path, 4, ws, 4, values) ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    tc_tensors_free(&tensors);
    return tc_temp_dir_remove(dir);
}

/* Runs this program again with the module preloaded (in front of ASan's
 * runtime in a sanitizer build), counting libtconv's and the plugins'
 * allocations. */
static int run_preloaded(char **argv) {
    tc_preload(TCONV_TEST_FAULT_INJECT);
    setenv("TCONV_FAULT_ALLOC_SCOPE", "library,plugins", 1);
    setenv(PRELOADED_MARK, "1", 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "FAILED: could not run itself with %s preloaded: %s\n", TCONV_TEST_FAULT_INJECT,
            strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    const int part = tc_part(argc, argv, "cpu|opencl", NULL);
    if (part < 0)
        return 2;
    if (access(TCONV_TEST_CLI, X_OK) != 0) {
        fprintf(stderr, "FAILED: the CLI %s is not built\n", TCONV_TEST_CLI);
        return 1;
    }
    fault_arm = (void (*)(long))dlsym(RTLD_DEFAULT, "tconv_fault_alloc_arm");
    fault_count = (long (*)(void))dlsym(RTLD_DEFAULT, "tconv_fault_alloc_count");
    fault_failed = (int (*)(void))dlsym(RTLD_DEFAULT, "tconv_fault_alloc_failed");
    if (fault_arm == NULL || fault_count == NULL || fault_failed == NULL) {
        if (getenv(PRELOADED_MARK) != NULL) {
            fprintf(stderr, "FAILED: %s is preloaded but does not export its controls\n",
                    TCONV_TEST_FAULT_INJECT);
            return 1;
        }
        return run_preloaded(argv);
    }
    tc_clean_environment();
    /* One backend thread: the sweep's allocations come in the same order. */
    setenv("TCONV_NUM_THREADS", "1", 1);
    if (part == 1) {
        if (!tc_device_present("opencl:0"))
            return tc_cannot_run("no OpenCL device (opencl:0)");
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_api_opencl),
            cmocka_unit_test(test_api_auto_measured),
        };
        return cmocka_run_group_tests_name("fault_alloc_opencl", tests, setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_cpu),
        cmocka_unit_test(test_cli_run),
    };
    return cmocka_run_group_tests_name("fault_alloc", tests, setup, teardown);
}
