/* SPDX-License-Identifier: Apache-2.0 */
/* One cache directory for every cache: the core resolves it (TCONV_CACHE_DIR,
 * else $XDG_CACHE_HOME/tconv, else ~/.cache/tconv) and hands it to plugins
 * as tconv_host_t.cache_dir, so the selection cache (core) and the OpenCL
 * program cache (plugin) always agree. A relative XDG_CACHE_HOME is ignored,
 * as the XDG Base Directory spec says: neither cache may create anything in
 * the current directory. A relative TCONV_CACHE_DIR means no cache at all.
 * The selection cache is exercised by measuring cpu:0 against the slow_cpu
 * test plugin; the program cache by a plan on opencl:0 (PoCL).
 *
 *   test_cache_dir --part selection|opencl
 *
 * Two ctest entries: cache_dir (the selection cache) and cache_dir_opencl
 * (the same cases with the OpenCL program cache too), which exits 77
 * without opencl:0 (a failure under CI=true, tc_cannot_run). */
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

#include "cache_plans.h"
#include "selection_file.h"
#include "temp_dir.h"
#include "test_support.h"

#define SLOW_CPU TCONV_TEST_PLUGIN_DIR "/tconv_backend_slow_cpu.so"

static char work[4096], cwd_dir[4200], home[4200], saved_cwd[4096];
static int opencl_part; /* --part opencl: a plan on opencl:0 fills the program cache too */

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Plans that fill the selection cache, and in the opencl part the program
 * cache. The reason of the measured plan goes to @p reason. */
static void fill_caches(char *reason, size_t reason_size) {
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, SLOW_CPU), tconv_success);
    tc_plans_that_cache(ctx, opencl_part, reason, reason_size);
    tconv_context_destroy(ctx);
}

static void test_relative_xdg_cache_home_is_ignored(void **state) {
    (void)state;
    unsetenv("TCONV_CACHE_DIR");
    setenv("HOME", home, 1);
    setenv("XDG_CACHE_HOME", "relative-cache", 1);
    char reason[4096];
    fill_caches(reason, sizeof reason);
    /* Only tconv's own directory: PoCL keeps its kernel cache in
     * $XDG_CACHE_HOME/pocl by its own rule, relative or not. */
    if (exists("relative-cache/tconv"))
        fail_msg("a tconv cache wrote under the relative XDG_CACHE_HOME, in the current "
                 "directory %s",
                 cwd_dir);
    char dir[4400], file[4500];
    snprintf(dir, sizeof dir, "%s/.cache/tconv", home);
    snprintf(file, sizeof file, "%s/" TC_SELECTION_FILE_NAME, dir);
    if (!exists(file))
        fail_msg("no selection cache in %s (HOME's): %s", dir, reason);
    if (opencl_part && !tc_has_program_entry(dir))
        fail_msg("no OpenCL program cache entry in %s (HOME's)", dir);
}

static void test_absolute_xdg_cache_home_is_used_by_both(void **state) {
    (void)state;
    unsetenv("TCONV_CACHE_DIR");
    char xdg[4400], dir[4500], file[4600];
    snprintf(xdg, sizeof xdg, "%s/xdg", work);
    setenv("XDG_CACHE_HOME", xdg, 1);
    char reason[4096];
    fill_caches(reason, sizeof reason);
    snprintf(dir, sizeof dir, "%s/tconv", xdg);
    snprintf(file, sizeof file, "%s/" TC_SELECTION_FILE_NAME, dir);
    assert_true(exists(file));
    if (opencl_part && !tc_has_program_entry(dir))
        fail_msg("no OpenCL program cache entry in %s", dir);
}

static void test_relative_tconv_cache_dir_means_no_cache(void **state) {
    (void)state;
    setenv("TCONV_CACHE_DIR", "relative-tconv-cache", 1);
    char reason[4096];
    fill_caches(reason, sizeof reason);
    assert_false(exists("relative-tconv-cache"));
    if (!tc_contains(reason, "TCONV_CACHE_DIR = 'relative-tconv-cache': must be an absolute path"))
        fail_msg("the reason does not say why nothing was cached: %s", reason);
}

static int setup(void **state) {
    (void)state;
    tc_clean_environment();
    if (tc_temp_dir_create(work, sizeof work, "cache_dir") != 0 ||
        getcwd(saved_cwd, sizeof saved_cwd) == NULL)
        return -1;
    snprintf(cwd_dir, sizeof cwd_dir, "%s/cwd", work);
    snprintf(home, sizeof home, "%s/home", work);
    if (mkdir(cwd_dir, 0700) != 0 || mkdir(home, 0700) != 0)
        return -1;
    return chdir(cwd_dir);
}

static int teardown(void **state) {
    (void)state;
    if (chdir(saved_cwd) != 0)
        return -1;
    return tc_temp_dir_remove(work);
}

int main(int argc, char **argv) {
    const int part = tc_part(argc, argv, "selection|opencl", NULL);
    if (part < 0)
        return 2;
    tc_clean_environment();
    opencl_part = part == 1;
    if (opencl_part && !tc_device_present("opencl:0"))
        return tc_cannot_run("no OpenCL device (opencl:0): the program cache cannot be filled");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative_xdg_cache_home_is_ignored),
        cmocka_unit_test(test_absolute_xdg_cache_home_is_used_by_both),
        cmocka_unit_test(test_relative_tconv_cache_dir_means_no_cache),
    };
    return cmocka_run_group_tests_name(opencl_part ? "cache_dir_opencl" : "cache_dir", tests, setup,
                                       teardown);
}
