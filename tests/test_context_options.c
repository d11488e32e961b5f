/* SPDX-License-Identifier: Apache-2.0 */
/* tconv_context_create_with_options: a host application configures a
 * context without environment variables, and the variables stay the
 * defaults.
 *   - defaults from tconv_context_options_init; every bad field refused with
 *     its name and rule;
 *   - the log callback receives the core's and the plugins' lines instead of
 *     stderr, at the options' verbosity whatever TCONV_VERBOSE says;
 *   - without the option, TCONV_VERBOSE changed between two calls applies
 *     to the next call, to the core's lines, the plugin's lines and the level
 *     the plugin sees (tconv_host_get_verbosity) alike; tconv_host_t.verbose
 *     stays the level at context creation (a test plugin reports both);
 *   - plugin_flags: only the search path, TCONV_PLUGINS/TCONV_PLUGIN_PATH
 *     ignored; num_threads reaches the CPU backend;
 *   - no writes to $HOME: with the cache off, measured selection and an
 *     OpenCL plan leave an empty, read-only HOME empty; with a cache
 *     directory, both caches (selection, OpenCL programs) go there. The
 *     control case (default options) does write to HOME, so the check sees
 *     writes. PoCL keeps its own kernel cache ($POCL_CACHE_DIR, else under
 *     HOME): the test points it into its scratch directory, as a host
 *     application using PoCL would.
 *
 *   test_context_options --part main|opencl
 *
 * Two ctest entries: context_options (everything, the caches filled by the
 * measured selection) and context_options_opencl (no writes to HOME with an
 * OpenCL plan filling the program cache too), which exits 77 without
 * opencl:0 (a failure under CI=true, tc_cannot_run). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cache_plans.h"
#include "temp_dir.h"
#include "test_support.h"

#define SLOW_CPU   TCONV_TEST_PLUGIN_DIR "/tconv_backend_slow_cpu.so"
#define CPU_PLUGIN TCONV_TEST_BUILD_DIR "/lib/tconv/tconv_backend_cpu.so"

static char work[4096], home[4200];
static int opencl_part; /* --part opencl: a plan on opencl:0 fills the program cache too */

/* The lines a log callback received. */
typedef struct log_capture {
    int lines;
    int plugin_lines; /* "tconv[<backend>]: ..." from a plugin */
    int newline_seen;
    char first[512];
} log_capture_t;

static void capture_log(void *user_data, int level, const char *message) {
    log_capture_t *c = user_data;
    assert_true(level == 1 || level == 2);
    if (c->lines++ == 0)
        snprintf(c->first, sizeof c->first, "%s", message);
    if (strncmp(message, "tconv[", 6) == 0)
        c->plugin_lines++;
    if (strchr(message, '\n') != NULL)
        c->newline_seen = 1;
}

static void expect_refused(const tconv_context_options_t *options, const char *field) {
    tconv_context_t ctx = (tconv_context_t)1;
    assert_int_equal(tconv_context_create_with_options(&ctx, options), tconv_invalid_arguments);
    assert_null(ctx);
    if (!tc_contains(tconv_get_last_error(), field))
        fail_msg("the message does not name %s: %s", field, tconv_get_last_error());
}

static void test_defaults_and_refusals(void **state) {
    (void)state;
    tconv_context_options_t o;
    memset(&o, 0x5a, sizeof o);
    assert_int_equal(tconv_context_options_init(&o), tconv_success);
    assert_int_equal(o.struct_size, sizeof o);
    assert_null(o.search_path);
    assert_int_equal(o.plugin_flags, 0);
    assert_int_equal(o.cache_mode, tconv_cache_default);
    assert_int_equal(o.verbosity, TCONV_VERBOSITY_DEFAULT);
    assert_int_equal(o.num_threads, 0);
    assert_null(o.log_callback);

    tconv_context_options_t bad = o;
    bad.struct_size = 0;
    expect_refused(&bad, "options->struct_size = 0");
    bad = o;
    bad.num_threads = -1;
    expect_refused(&bad, "options->num_threads = -1");
    bad.num_threads = 5000;
    expect_refused(&bad, "options->num_threads = 5000");
    bad = o;
    bad.verbosity = 3;
    expect_refused(&bad, "options->verbosity = 3");
    bad = o;
    bad.plugin_flags = 0x80;
    expect_refused(&bad, "options->plugin_flags");
    bad = o;
    bad.cache_mode = tconv_cache_directory;
    bad.cache_dir = "relative/cache";
    expect_refused(&bad, "options->cache_dir = 'relative/cache': must be an absolute path");
    bad.cache_dir = NULL;
    expect_refused(&bad, "options->cache_dir");
    bad = o;
    bad.cache_mode = (tconv_cache_mode_t)7;
    expect_refused(&bad, "options->cache_mode = 7");

    /* NULL options are the defaults. */
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create_with_options(&ctx, NULL), tconv_success);
    assert_true(tc_has_device(ctx, "cpu:0"));
    tconv_context_destroy(ctx);
}

static void test_log_callback_and_verbosity(void **state) {
    (void)state;
    char msg[512];
    tconv_context_options_t o;
    tconv_context_options_init(&o);
    log_capture_t captured = {0};
    o.log_callback = capture_log;
    o.log_user_data = &captured;
    o.verbosity = 2; /* TCONV_VERBOSE is unset */
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    if (captured.lines == 0 || !tc_contains(captured.first, "tconv"))
        fail_msg("verbosity 2: the callback got %d lines (first: '%s')", captured.lines,
                 captured.first);
    const int after_create = captured.lines;
    if (tc_check_small_plan(ctx, "cpu", msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    /* Plan creation logs the selection at verbosity 2, through the sink. */
    assert_true(captured.lines > after_create);
    assert_false(captured.newline_seen);
    tconv_context_destroy(ctx);

    /* The options' verbosity wins over TCONV_VERBOSE. */
    setenv("TCONV_VERBOSE", "2", 1);
    log_capture_t quiet = {0};
    o.log_user_data = &quiet;
    o.verbosity = 0;
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    if (tc_check_small_plan(ctx, "cpu", msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    tconv_context_destroy(ctx);
    unsetenv("TCONV_VERBOSE");
    if (quiet.lines != 0)
        fail_msg("verbosity 0 with TCONV_VERBOSE=2: %d lines (first: '%s')", quiet.lines,
                 quiet.first);
}

/* Plans on the test plugin's device (it declines, reporting what it sees)
 * with TCONV_VERBOSE as @p env (NULL: unset): the plugin must report
 * host->verbose @p verbose and the level in effect @p level, and the log
 * hold its debug line exactly at level 2 and the core's lines (the decline
 * is said at level 1) exactly from level 1 on. */
static void expect_plugin_sees(tconv_context_t ctx, tc_log_t *log, const char *env, int verbose,
                               int level) {
    if (env)
        setenv("TCONV_VERBOSE", env, 1);
    else
        unsetenv("TCONV_VERBOSE");
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    log->text[0] = '\0';
    tconv_plan_t plan = NULL;
    const tconv_status_t st = tconv_plan_create(&plan, ctx, &p, "verbosity:0");
    assert_null(plan);
    if (st != tconv_no_device && st != tconv_unimplemented)
        fail_msg("plan on verbosity:0 -> %s: %s", tconv_status_name(st), tconv_get_last_error());
    char want[64], line[96];
    snprintf(want, sizeof want, "verbose %d, verbosity %d", verbose, level);
    if (!tc_contains(tconv_get_last_error(), want))
        fail_msg("TCONV_VERBOSE=%s: the plugin reports '%s', expected '%s'", env ? env : "(unset)",
                 tconv_get_last_error(), want);
    snprintf(line, sizeof line, "tconv[verbosity]: plan_create sees verbosity %d\n", level);
    const int plugin_line = tc_contains(log->text, line);
    const int core_line =
        strncmp(log->text, "tconv: ", 7) == 0 || tc_contains(log->text, "\ntconv: ");
    if (plugin_line != (level >= 2) || core_line != (level >= 1) || (level == 0 && log->text[0]))
        fail_msg("TCONV_VERBOSE=%s, level %d in effect: the plugin's debug line %s, the core's "
                 "lines %s; the log:\n%s",
                 env ? env : "(unset)", level, plugin_line ? "logged" : "not logged",
                 core_line ? "logged" : "not logged", log->text);
}

static void test_verbosity_follows_environment(void **state) {
    (void)state;
    tconv_context_options_t o;
    tconv_context_options_init(&o);
    tc_log_t log;
    o.search_path = TCONV_VERBOSITY_PLUGIN;
    o.plugin_flags = TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT | TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS;
    o.log_callback = tc_log_append;
    o.log_user_data = &log;
    /* Created quiet: verbose 0 from then on, the level follows the variable. */
    unsetenv("TCONV_VERBOSE");
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    expect_plugin_sees(ctx, &log, NULL, 0, 0);
    expect_plugin_sees(ctx, &log, "2", 0, 2);
    expect_plugin_sees(ctx, &log, "1", 0, 1);
    expect_plugin_sees(ctx, &log, "0", 0, 0);
    tconv_context_destroy(ctx);
    /* Created at 2: verbose stays 2 (a snapshot), the level drops with it. */
    setenv("TCONV_VERBOSE", "2", 1);
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    expect_plugin_sees(ctx, &log, "2", 2, 2);
    expect_plugin_sees(ctx, &log, NULL, 2, 0);
    tconv_context_destroy(ctx);
    /* The context's option wins over the variable, in every call. */
    o.verbosity = 2;
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    expect_plugin_sees(ctx, &log, "0", 2, 2);
    expect_plugin_sees(ctx, &log, NULL, 2, 2);
    tconv_context_destroy(ctx);
    unsetenv("TCONV_VERBOSE");
}

static void test_plugin_flags_and_threads(void **state) {
    (void)state;
    /* Variables that would add the misbehaving plugins: ignored. */
    setenv("TCONV_PLUGIN_PATH", TCONV_TEST_PLUGIN_DIR, 1);
    setenv("TCONV_PLUGINS", SLOW_CPU, 1);
    tconv_context_options_t o;
    tconv_context_options_init(&o);
    o.search_path = CPU_PLUGIN;
    o.plugin_flags = TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT | TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS;
    o.num_threads = 1;
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    size_t plugins = 0, devices = 0;
    tconv_context_get_plugin_count(ctx, &plugins);
    tconv_context_get_device_count(ctx, &devices);
    assert_int_equal(plugins, 1);
    assert_int_equal(devices, 1);
    tconv_device_info_t info = {.struct_size = sizeof info};
    assert_int_equal(tconv_context_get_device_info(ctx, 0, &info), tconv_success);
    assert_string_equal(info.id, "cpu:0");
    /* The CPU backend reports its thread count as compute units. */
    assert_int_equal(info.compute_units, 1);
    tconv_context_destroy(ctx);

    /* Without the flags the variables count again. */
    o.plugin_flags = 0;
    assert_int_equal(tconv_context_create_with_options(&ctx, &o), tconv_success);
    assert_true(tc_has_device(ctx, "slow_cpu:0"));
    tconv_context_destroy(ctx);
    unsetenv("TCONV_PLUGIN_PATH");
    unsetenv("TCONV_PLUGINS");
}

/* Whether @p dir holds nothing but "." and "..". */
static int is_empty(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return entries == 0;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* tc_plans_that_cache in a context made with @p options. */
static void plans_that_cache(const tconv_context_options_t *options) {
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create_with_options(&ctx, options), tconv_success);
    char reason[4096];
    tc_plans_that_cache(ctx, opencl_part, reason, sizeof reason);
    tconv_context_destroy(ctx);
}

static void test_no_writes_to_home(void **state) {
    (void)state;
    char pocl[4300], cache[4300], home_cache[4400];
    snprintf(pocl, sizeof pocl, "%s/pocl", work);
    snprintf(cache, sizeof cache, "%s/cache", work);
    snprintf(home_cache, sizeof home_cache, "%s/.cache/tconv", home);
    setenv("HOME", home, 1);
    setenv("POCL_CACHE_DIR", pocl, 1);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("TCONV_CACHE_DIR");
    /* Read-only as a host would make it (root writes anyway: the emptiness
     * check below is the test). */
    assert_int_equal(chmod(home, 0555), 0);

    tconv_context_options_t o;
    tconv_context_options_init(&o);
    o.search_path = SLOW_CPU;
    o.cache_mode = tconv_cache_off;
    plans_that_cache(&o);
    if (!is_empty(home))
        fail_msg("cache off: something was written under HOME (%s)", home);

    o.cache_mode = tconv_cache_directory;
    o.cache_dir = cache;
    plans_that_cache(&o);
    if (!is_empty(home))
        fail_msg("cache in %s: something was written under HOME (%s)", cache, home);
    char file[4400];
    snprintf(file, sizeof file, "%s/selection-v2.tsv", cache);
    if (!exists(file))
        fail_msg("no selection cache in the options' cache_dir %s", cache);
    if (opencl_part && !tc_has_program_entry(cache))
        fail_msg("no OpenCL program cache entry in the options' cache_dir %s", cache);

    /* Control: the default options do cache under HOME, so the emptiness
     * checks above would have seen writes. */
    assert_int_equal(chmod(home, 0700), 0);
    o.cache_mode = tconv_cache_default;
    o.cache_dir = NULL;
    plans_that_cache(&o);
    if (!exists(home_cache))
        fail_msg("control: the default cache did not write %s", home_cache);
}

static int setup(void **state) {
    (void)state;
    tc_clean_environment();
    if (tc_temp_dir_create(work, sizeof work, "context_options") != 0)
        return -1;
    snprintf(home, sizeof home, "%s/home", work);
    return mkdir(home, 0700);
}

static int teardown(void **state) {
    (void)state;
    chmod(home, 0700);
    return tc_temp_dir_remove(work);
}

int main(int argc, char **argv) {
    const int part = tc_part(argc, argv, "main|opencl", NULL);
    if (part < 0)
        return 2;
    tc_clean_environment();
    opencl_part = part == 1;
    if (opencl_part) {
        if (!tc_device_present("opencl:0"))
            return tc_cannot_run("no OpenCL device (opencl:0): the program cache cannot be "
                                 "filled");
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_no_writes_to_home),
        };
        return cmocka_run_group_tests_name("context_options_opencl", tests, setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_refusals),
        cmocka_unit_test(test_log_callback_and_verbosity),
        cmocka_unit_test(test_verbosity_follows_environment),
        cmocka_unit_test(test_plugin_flags_and_threads),
        cmocka_unit_test(test_no_writes_to_home),
    };
    return cmocka_run_group_tests_name("context_options", tests, setup, teardown);
}
