/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin starts (init, device enumeration) only when its devices are
 * needed (docs/internals.md, "Plugin discovery"): a context planning on
 * the CPU backend never starts the OpenCL plugin, so the ICD loader never
 * loads the OpenCL driver (PoCL, and LLVM with it). Each case runs in a
 * process of its own (this program again, with --case), which reports the
 * driver libraries /proc/self/maps shows after the case:
 *   - "cpu:0", "cpu", "cpu,-opencl", "-opencl", and auto with
 *     TCONV_DEVICE=cpu:0 plan and run (and ask the plan its device): no
 *     driver mapped;
 *   - "opencl:0", "opencl", "auto", a class term ("gpu,cpu"), the device
 *     count: the driver is mapped (the OpenCL plugin still starts when
 *     needed);
 *   - `tconv run --device cpu:0` loads no driver (LD_DEBUG=files), and
 *     `--device opencl:0` does;
 *   - device indices stay those of the listing whatever started first: a
 *     context that planned on opencl:0 before anything else lists cpu:0
 *     first, and tconv_context_select_device's index names the device the
 *     plan got.
 * Without PoCL (no opencl:0, or another OpenCL driver) nothing here can be
 * told apart: the entry exits 77 (a failure under CI=true). */
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
#include "temp_dir.h"
#include "test_support.h"

#define SELF TCONV_TEST_BUILD_DIR "/tests/test_lazy_plugins"

/* Parts of the paths of the libraries the OpenCL driver brings: PoCL and
 * the LLVM it compiles kernels with. */
static const char *const driver_markers[] = {"libpocl", "libLLVM"};

/* The first mapped file whose path contains a driver marker, into @p path
 * ("" when none). */
static void mapped_driver(char *path, size_t size) {
    path[0] = '\0';
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        snprintf(path, size, "(cannot read /proc/self/maps)");
        return;
    }
    char line[4096];
    while (path[0] == '\0' && fgets(line, sizeof line, maps) != NULL) {
        const char *file = strchr(line, '/');
        for (size_t i = 0; file != NULL && i < sizeof driver_markers / sizeof *driver_markers; i++)
            if (strstr(file, driver_markers[i]) != NULL) {
                snprintf(path, size, "%s", file);
                path[strcspn(path, "\n")] = '\0';
                break;
            }
    }
    fclose(maps);
}

/* ---------------------------------------------------------------------- */
/* One case, in a process of its own                                        */

/* --case count | plan SELECTOR: a fresh context, then the device count or a
 * small plan on SELECTOR (checked against the reference, and asked its
 * device); prints "device=<id>" and "driver=<path or none>". */
static int run_case(const char *what, const char *selector) {
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, NULL) != tconv_success) {
        fprintf(stderr, "context: %s\n", tconv_get_last_error());
        return 1;
    }
    char msg[2048] = "";
    int rc = 0;
    if (strcmp(what, "count") == 0) {
        size_t count = 0;
        rc = tconv_context_get_device_count(ctx, &count) == tconv_success ? 0 : 1;
        printf("devices=%zu\n", count);
        if (tc_has_device(ctx, "opencl:0"))
            printf("device=opencl:0\n");
    } else {
        rc = tc_check_small_plan(ctx, selector, msg, sizeof msg) == 0 ? 0 : 1;
        tconv_problem_t p;
        tc_small_problem(&p, tconv_f32);
        tconv_plan_t plan = NULL;
        tconv_device_info_t info = {.struct_size = sizeof info};
        if (rc == 0 && (tconv_plan_create(&plan, ctx, &p, selector) != tconv_success ||
                        tconv_plan_get_device_info(plan, &info) != tconv_success)) {
            snprintf(msg, sizeof msg, "%s", tconv_get_last_error());
            rc = 1;
        }
        tconv_plan_destroy(plan);
        printf("device=%s\n", info.id);
    }
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", what, selector ? selector : "", msg[0] ? msg : "failed");
    char driver[4096];
    mapped_driver(driver, sizeof driver);
    printf("driver=%s\n", driver[0] ? driver : "none");
    tconv_context_destroy(ctx);
    return rc;
}

/* Runs this program with --case @p what @p selector (TCONV_DEVICE set to
 * @p tconv_device when not NULL); its stdout goes to @p out. Fails the test
 * when the case fails. */
static void run_in_child(const char *what, const char *selector, const char *tconv_device,
                         char *out, size_t out_size) {
    char *argv[] = {SELF, "--case", (char *)what, (char *)(selector ? selector : ""), NULL};
    if (tconv_device != NULL)
        setenv("TCONV_DEVICE", tconv_device, 1);
    char *child_out = NULL, *child_err = NULL;
    const int rc = tp_run(argv, &child_out, &child_err);
    unsetenv("TCONV_DEVICE");
    snprintf(out, out_size, "%s", child_out ? child_out : "");
    if (rc != 0) {
        print_error("%s", child_err ? child_err : "");
        free(child_out);
        free(child_err);
        fail_msg("--case %s '%s' (TCONV_DEVICE %s): exit %d", what, selector ? selector : "",
                 tconv_device ? tconv_device : "unset", rc);
    }
    free(child_out);
    free(child_err);
}

/* The driver the case left mapped, "none", or "" when it did not say. */
static void driver_of(const char *out, char *driver, size_t size) {
    const char *line = strstr(out, "driver=");
    snprintf(driver, size, "%s", line ? line + strlen("driver=") : "");
    driver[strcspn(driver, "\n")] = '\0';
}

/* ---------------------------------------------------------------------- */
/* The checks                                                               */

/* Plans on the CPU backend, however it is named, start no OpenCL driver. */
static void test_cpu_selectors_load_no_driver(void **state) {
    (void)state;
    static const struct {
        const char *selector;
        const char *tconv_device;
    } cases[] = {
        {"cpu:0", NULL}, {"cpu", NULL}, {"cpu,-opencl", NULL}, {"-opencl", NULL}, {"auto", "cpu:0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[8192], driver[4096];
        run_in_child("plan", cases[i].selector, cases[i].tconv_device, out, sizeof out);
        driver_of(out, driver, sizeof driver);
        print_message("selector '%s' (TCONV_DEVICE %s): %s", cases[i].selector,
                      cases[i].tconv_device ? cases[i].tconv_device : "unset", out);
        if (!tc_contains(out, "device=cpu:0\n"))
            fail_msg("selector '%s': the plan is not on cpu:0: %s", cases[i].selector, out);
        if (strcmp(driver, "none") != 0)
            fail_msg("selector '%s' (TCONV_DEVICE %s) loaded the OpenCL driver: %s",
                     cases[i].selector, cases[i].tconv_device ? cases[i].tconv_device : "unset",
                     driver);
    }
}

/* Whatever needs the OpenCL plugin's devices still starts it. */
static void test_opencl_selectors_load_the_driver(void **state) {
    (void)state;
    static const char *const selectors[] = {"opencl:0", "opencl", "auto", "gpu,cpu"};
    for (size_t i = 0; i < sizeof selectors / sizeof *selectors; i++) {
        char out[8192], driver[4096];
        run_in_child("plan", selectors[i], NULL, out, sizeof out);
        driver_of(out, driver, sizeof driver);
        print_message("selector '%s': %s", selectors[i], out);
        if (strcmp(driver, "none") == 0 || driver[0] == '\0')
            fail_msg("selector '%s' did not load the OpenCL driver: %s", selectors[i], out);
    }
}

/* `tconv run`, as a user starts it: the dynamic loader's own account
 * (LD_DEBUG=files) of the libraries it loads. */
static void test_cli_cpu_loads_no_driver(void **state) {
    (void)state;
    char dir[256], x[300], w[300], y[300];
    assert_int_equal(tc_temp_dir_create(dir, sizeof dir, "lazy_plugins"), 0);
    snprintf(x, sizeof x, "%s/x.npy", dir);
    snprintf(w, sizeof w, "%s/w.npy", dir);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    const int64_t x_shape[] = {1, 2, 2, 2, 1}, w_shape[] = {2, 2, 2, 1, 1};
    const double ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(tn_write(x, 4, x_shape, 5, ones), 0);
    assert_int_equal(tn_write(w, 4, w_shape, 5, ones), 0);
    static const struct {
        const char *device;
        int loads_driver;
    } cases[] = {{"cpu:0", 0}, {"cpu", 0}, {"opencl:0", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *argv[] = {
            TCONV_TEST_CLI,          "run", "--input", x, "--kernel", w, "--output", y, "--device",
            (char *)cases[i].device, NULL};
        char *out = NULL, *err = NULL;
        setenv("LD_DEBUG", "files", 1);
        const int rc = tp_run(argv, &out, &err);
        unsetenv("LD_DEBUG");
        int loaded = 0;
        for (size_t m = 0; m < sizeof driver_markers / sizeof *driver_markers; m++)
            loaded |= tc_contains(err, driver_markers[m]);
        const int has_log = tc_contains(err, "file=");
        free(out);
        free(err);
        if (rc != 0)
            fail_msg("tconv run --device %s: exit %d", cases[i].device, rc);
        if (!has_log)
            fail_msg("tconv run --device %s: LD_DEBUG=files printed nothing (not glibc's "
                     "loader?)",
                     cases[i].device);
        if (loaded != cases[i].loads_driver)
            fail_msg("tconv run --device %s: the OpenCL driver was %s", cases[i].device,
                     loaded ? "loaded" : "not loaded");
        print_message("tconv run --device %s: driver %s\n", cases[i].device,
                      loaded ? "loaded" : "not loaded");
    }
    assert_int_equal(tc_temp_dir_remove(dir), 0);
}

/* The id at listing index @p index. */
static void listed_id(tconv_context_t ctx, size_t index, char *id, size_t size) {
    tconv_device_info_t info = {.struct_size = sizeof info};
    assert_int_equal(tconv_context_get_device_info(ctx, index, &info), tconv_success);
    snprintf(id, size, "%s", info.id);
}

/* Indices count in the listing (backend name, index), not in the order the
 * plugins started: here opencl starts first. */
static void test_indices_follow_the_listing(void **state) {
    (void)state;
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "opencl:0"), tconv_success);
    tconv_device_info_t info = {.struct_size = sizeof info};
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    assert_string_equal(info.id, "opencl:0");
    size_t chosen = SIZE_MAX;
    char id[64];
    assert_int_equal(tconv_context_select_device(ctx, &p, "opencl:0", &chosen, NULL, 0),
                     tconv_success);
    listed_id(ctx, chosen, id, sizeof id);
    assert_string_equal(id, "opencl:0");
    assert_int_equal(tconv_context_select_device(ctx, &p, "cpu:0", &chosen, NULL, 0),
                     tconv_success);
    listed_id(ctx, chosen, id, sizeof id);
    assert_string_equal(id, "cpu:0");
    listed_id(ctx, 0, id, sizeof id);
    assert_string_equal(id, "cpu:0");
    /* The plan made before the listing still names its own device. */
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    assert_string_equal(info.id, "opencl:0");
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
}

/* Whether the OpenCL driver here is PoCL, whose loading the cases can see:
 * the device count (every plugin started) must have mapped it. Returns 0,
 * or what is missing in @p why. */
static int driver_observable(char *why, size_t size) {
    char *argv[] = {SELF, "--case", "count", "", NULL};
    char *out = NULL, *err = NULL;
    const int rc = tp_run(argv, &out, &err);
    char driver[4096];
    driver_of(out ? out : "", driver, sizeof driver);
    int result = 0;
    if (rc != 0) {
        snprintf(why, size, "--case count failed (exit %d): %s", rc, err ? err : "");
        result = -1;
    } else if (!tc_contains(out, "device=opencl:0")) {
        snprintf(why, size, "no OpenCL device (opencl:0)");
        result = 1;
    } else if (strcmp(driver, "none") == 0) {
        snprintf(why, size,
                 "opencl:0 is there but no PoCL/LLVM library is mapped: another OpenCL driver, "
                 "whose loading this test does not recognise");
        result = 1;
    }
    free(out);
    free(err);
    return result;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--case") == 0)
        return run_case(argv[2], argv[3][0] ? argv[3] : NULL);
    if (argc != 1) {
        fprintf(stderr, "usage: %s (or --case count|plan SELECTOR, run by itself)\n", argv[0]);
        return 2;
    }
    tc_clean_environment();
    char why[4096];
    const int observable = driver_observable(why, sizeof why);
    if (observable < 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    if (observable > 0)
        return tc_cannot_run("%s", why);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_selectors_load_no_driver),
        cmocka_unit_test(test_opencl_selectors_load_the_driver),
        cmocka_unit_test(test_cli_cpu_loads_no_driver),
        cmocka_unit_test(test_indices_follow_the_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
