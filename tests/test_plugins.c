/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin loading against the misbehaving plugins of plugins/faulty (built
 * into build/tests/plugins): every candidate gets a report with the right
 * state, reason code and message; the good plugins around them keep working
 * in the same context (cpu:0 runs a plan correctly); declines move selection
 * on with the reason kept; execution failures reach the caller with the
 * plugin's message; absurd device counts are refused; search_path,
 * TCONV_PLUGINS and TCONV_PLUGIN_PATH, relative paths, duplicates, and never
 * the current directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"

#define DIR TCONV_TEST_PLUGIN_DIR

/* The report whose path ends with /tconv_backend_<file>.so, or NULL. */
static int find_report(tconv_context_t ctx, const char *file, tconv_plugin_report_t *out) {
    char suffix[128];
    snprintf(suffix, sizeof suffix, "/tconv_backend_%s.so", file);
    size_t count = 0;
    tconv_context_get_plugin_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        memset(out, 0, sizeof *out);
        out->struct_size = sizeof *out;
        if (tconv_context_get_plugin_report(ctx, i, out) != tconv_success)
            continue;
        size_t len = strlen(out->path), slen = strlen(suffix);
        if (len >= slen && !strcmp(out->path + len - slen, suffix))
            return 1;
    }
    return 0;
}

static void dump_reports(tconv_context_t ctx) {
    size_t count = 0;
    tconv_context_get_plugin_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        tconv_context_get_plugin_report(ctx, i, &r);
        print_message("  report %zu: %s name='%s' state=%d reason=%d abi=%u.%u devices=%zu: %s\n",
                      i, r.path, r.name, r.state, r.reason, r.abi_major, r.abi_minor,
                      r.device_count, r.message);
    }
}

/* The report for @p file has @p state and @p reason and its message contains
 * @p text (NULL: any non-empty message). */
static void expect_report(tconv_context_t ctx, const char *file, tconv_plugin_state_t state,
                          tconv_plugin_reason_t reason, const char *text) {
    tconv_plugin_report_t r;
    if (!find_report(ctx, file, &r)) {
        dump_reports(ctx);
        fail_msg("no report for tconv_backend_%s.so", file);
    }
    if (r.state != state || r.reason != reason) {
        dump_reports(ctx);
        fail_msg("tconv_backend_%s.so: state %d reason %d, want state %d reason %d (%s)", file,
                 r.state, r.reason, state, reason, r.message);
    }
    if (text ? !tc_contains(r.message, text) : r.message[0] == '\0')
        fail_msg("tconv_backend_%s.so: message \"%s\" does not contain \"%s\"", file, r.message,
                 text ? text : "(anything)");
}

static void expect_cpu_works(tconv_context_t ctx) {
    char msg[2048];
    if (tc_check_small_plan(ctx, "cpu:0", msg, sizeof msg) != 0)
        fail_msg("cpu:0 next to the faulty plugins: %s", msg);
}

/* A plugin whose get_device_count claims more than the core's per-plugin
 * limit (4096, docs/internals.md) is refused with bad_table and the count in
 * its message; it must not size the device table (a wrapped sum overflowed
 * the heap, a billion entries failed the whole context). */
static void expect_device_count_refused(tconv_context_t ctx, const char *file, size_t count) {
    char text[160];
    snprintf(text, sizeof text,
             "get_device_count returned %zu: more than the limit of 4096 devices per plugin",
             count);
    expect_report(ctx, file, tconv_plugin_failed, tconv_plugin_bad_table, text);
    tconv_plugin_report_t r;
    assert_true(find_report(ctx, file, &r));
    assert_int_equal(r.device_count, 0);
}

/* Checks the reports of every plugin in the faulty directory. */
static void expect_faulty_directory_reports(tconv_context_t ctx) {
    expect_report(ctx, "wrong_abi", tconv_plugin_failed, tconv_plugin_abi_mismatch, "ABI");
    tconv_plugin_report_t r;
    assert_true(find_report(ctx, "wrong_abi", &r));
    assert_int_equal(r.abi_major, 2); /* found: the core's major + 1 */
    expect_report(ctx, "no_entry", tconv_plugin_failed, tconv_plugin_no_entry,
                  "tconv_backend_entry");
    expect_report(ctx, "null_entry", tconv_plugin_failed, tconv_plugin_bad_table, "NULL");
    expect_report(ctx, "small_table", tconv_plugin_failed, tconv_plugin_bad_table, "struct_size");
    expect_report(ctx, "null_slot", tconv_plugin_failed, tconv_plugin_bad_table, "plan_execute");
    expect_report(ctx, "init_fails", tconv_plugin_failed, tconv_plugin_init_failed,
                  "libfakedriver.so.1");
    expect_report(ctx, "no_devices", tconv_plugin_skipped, tconv_plugin_no_devices,
                  "no simulated hardware");
    expect_report(ctx, "decliner", tconv_plugin_loaded, tconv_plugin_ok, NULL);
    expect_report(ctx, "exec_fails", tconv_plugin_loaded, tconv_plugin_ok, NULL);
    expect_report(ctx, "twin_a", tconv_plugin_loaded, tconv_plugin_ok, NULL);
    expect_report(ctx, "twin_b", tconv_plugin_skipped, tconv_plugin_duplicate, "twin");
    expect_report(ctx, "junk", tconv_plugin_failed, tconv_plugin_open_failed, NULL);
    expect_device_count_refused(ctx, "count_max", SIZE_MAX);
    expect_device_count_refused(ctx, "count_billion", 1000000000);
    assert_true(find_report(ctx, "decliner", &r));
    assert_int_equal(r.device_count, 1);
    assert_string_equal(r.name, "decliner");
    assert_int_equal(r.abi_major, 1);

    /* Devices: exactly the loaded plugins'. */
    assert_true(tc_has_device(ctx, "cpu:0"));
    assert_true(tc_has_device(ctx, "decliner:0"));
    assert_true(tc_has_device(ctx, "exec_fails:0"));
    assert_true(tc_has_device(ctx, "twin:0"));
    assert_false(tc_has_device(ctx, "twin:1"));
    assert_false(tc_has_device(ctx, "wrong_abi:0"));
    assert_false(tc_has_device(ctx, "init_fails:0"));
    assert_false(tc_has_device(ctx, "no_devices:0"));
    assert_false(tc_has_device(ctx, "null_slot:0"));
    assert_false(tc_has_device(ctx, "count_max:0"));
    assert_false(tc_has_device(ctx, "count_billion:0"));
}

static void test_search_path_reports(void **state) {
    (void)state;
    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, DIR), tconv_success);
    expect_faulty_directory_reports(ctx);
    expect_cpu_works(ctx);
    tconv_context_destroy(ctx);
}

static void test_plugin_path_environment(void **state) {
    (void)state;
    setenv("TCONV_PLUGIN_PATH", DIR, 1);
    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    unsetenv("TCONV_PLUGIN_PATH");
    expect_faulty_directory_reports(ctx);
    expect_cpu_works(ctx);
    tconv_context_destroy(ctx);
}

static void test_plugins_environment_files(void **state) {
    (void)state;
    setenv("TCONV_PLUGINS",
           DIR "/tconv_backend_init_fails.so:relative/tconv_backend_rel.so:" DIR
               "/tconv_backend_missing.so:" DIR "/tconv_backend_decliner.so",
           1);
    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    unsetenv("TCONV_PLUGINS");
    expect_report(ctx, "init_fails", tconv_plugin_failed, tconv_plugin_init_failed,
                  "libfakedriver.so.1");
    expect_report(ctx, "rel", tconv_plugin_failed, tconv_plugin_not_found, "relative");
    expect_report(ctx, "missing", tconv_plugin_failed, tconv_plugin_not_found, "missing");
    expect_report(ctx, "decliner", tconv_plugin_loaded, tconv_plugin_ok, NULL);
    /* Only the files listed: nothing else from the faulty directory. */
    tconv_plugin_report_t r;
    assert_false(find_report(ctx, "exec_fails", &r));
    expect_cpu_works(ctx);
    tconv_context_destroy(ctx);

    /* Relative paths that do exist from the current directory are refused
     * too: a relative file in TCONV_PLUGINS, a relative directory in
     * TCONV_PLUGIN_PATH. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(TCONV_TEST_BUILD_DIR), 0);
    assert_int_equal(access("tests/plugins/tconv_backend_decliner.so", R_OK), 0);
    setenv("TCONV_PLUGIN_PATH", "tests/plugins", 1);
    setenv("TCONV_PLUGINS", "tests/plugins/tconv_backend_decliner.so", 1);
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    unsetenv("TCONV_PLUGIN_PATH");
    unsetenv("TCONV_PLUGINS");
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, tconv_success);
    expect_report(ctx, "decliner", tconv_plugin_failed, tconv_plugin_not_found, "relative");
    assert_false(find_report(ctx, "exec_fails", &r));
    assert_false(tc_has_device(ctx, "decliner:0"));
    expect_cpu_works(ctx);
    tconv_context_destroy(ctx);
}

/* The huge-count plugins alone next to the real ones: the context is
 * created, lists exactly the real devices, and cpu:0 computes. */
static void test_huge_device_counts_refused(void **state) {
    (void)state;
    tconv_context_t real;
    assert_int_equal(tconv_context_create(&real, NULL), tconv_success);
    size_t real_devices = 0;
    assert_int_equal(tconv_context_get_device_count(real, &real_devices), tconv_success);
    tconv_context_destroy(real);

    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, DIR "/tconv_backend_count_max.so:" DIR
                                                    "/tconv_backend_count_billion.so"),
                     tconv_success);
    expect_device_count_refused(ctx, "count_max", SIZE_MAX);
    expect_device_count_refused(ctx, "count_billion", 1000000000);
    size_t devices = 0;
    assert_int_equal(tconv_context_get_device_count(ctx, &devices), tconv_success);
    assert_int_equal(devices, real_devices);
    expect_cpu_works(ctx);
    tconv_context_destroy(ctx);
}

static void test_never_the_current_directory(void **state) {
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(DIR), 0);
    tconv_context_t ctx;
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, tconv_success);
    tconv_plugin_report_t r;
    assert_false(find_report(ctx, "decliner", &r));
    assert_false(find_report(ctx, "junk", &r));
    tconv_context_destroy(ctx);
}

static void test_duplicates_first_wins(void **state) {
    (void)state;
    /* twin_b listed first: it wins, twin_a (from the directory) is the duplicate. */
    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, DIR "/tconv_backend_twin_b.so:" DIR),
                     tconv_success);
    expect_report(ctx, "twin_b", tconv_plugin_loaded, tconv_plugin_ok, NULL);
    expect_report(ctx, "twin_a", tconv_plugin_skipped, tconv_plugin_duplicate, "twin");
    tconv_context_destroy(ctx);
    /* The same file twice: considered once. */
    assert_int_equal(tconv_context_create(&ctx, DIR "/tconv_backend_decliner.so:" DIR
                                                    "/../plugins/tconv_backend_decliner.so"),
                     tconv_success);
    size_t count = 0, loaded = 0;
    tconv_context_get_plugin_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        tconv_context_get_plugin_report(ctx, i, &r);
        if (tc_contains(r.path, "tconv_backend_decliner.so")) {
            loaded += r.state == tconv_plugin_loaded;
            if (r.state != tconv_plugin_loaded)
                assert_int_equal(r.reason, tconv_plugin_duplicate);
        }
    }
    assert_int_equal(loaded, 1);
    tconv_context_destroy(ctx);
}

static void test_decline_moves_on_with_reason(void **state) {
    (void)state;
    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, DIR), tconv_success);
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);

    /* query declines: the plan lands on cpu and says why. */
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "decliner,cpu"), tconv_success);
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    assert_string_equal(info.id, "cpu:0");
    const char *why = tconv_plan_get_selection_reason(plan);
    if (!tc_contains(why, "decliner declines every problem"))
        fail_msg("selection reason \"%s\" does not carry the decline", why);
    tconv_plan_destroy(plan);

    size_t chosen;
    char reason[4096];
    assert_int_equal(
        tconv_context_select_device(ctx, &p, "decliner,cpu", &chosen, reason, sizeof reason),
        tconv_success);
    assert_true(tc_contains(reason, "decliner declines every problem"));

    /* plan_create declines (twin's query accepts, its plan_create refuses). */
    plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "twin,cpu"), tconv_success);
    memset(&info, 0, sizeof info);
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    assert_string_equal(info.id, "cpu:0");
    why = tconv_plan_get_selection_reason(plan);
    if (!tc_contains(why, "never compute"))
        fail_msg("selection reason \"%s\" does not carry twin's plan_create decline", why);
    tconv_plan_destroy(plan);

    /* Nothing else to try: no_device with the reason. */
    plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "decliner"), tconv_no_device);
    assert_null(plan);
    assert_true(tc_contains(tconv_get_last_error(), "decliner declines every problem"));
    tconv_context_destroy(ctx);
}

static void test_execute_failure_propagates(void **state) {
    (void)state;
    tconv_context_t ctx;
    assert_int_equal(tconv_context_create(&ctx, DIR), tconv_success);
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tc_rng_t rng;
    tc_rng_seed(&rng, 3);
    tc_tensors_t t;
    char msg[1024];
    assert_int_equal(tc_tensors_make(&p, &rng, &t, msg, sizeof msg), 0);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "exec_fails"), tconv_success);
    assert_int_equal(tconv_plan_set_weights(plan, t.dev_kernel, t.dev_bias), tconv_success);
    for (int64_t i = 0; i < t.out_count; i++)
        ((float *)t.dev_out)[i] = 3.0f;
    /* The context may go away: the plan keeps the plugin loaded. */
    tconv_context_destroy(ctx);
    assert_int_equal(tconv_plan_execute(plan, t.dev_in, t.dev_out), tconv_runtime_error);
    const char *err = tconv_get_last_error();
    if (!tc_contains(err, "simulated kernel launch failure") || !tc_contains(err, "exec_fails:0"))
        fail_msg("execute error \"%s\" lacks the plugin's message or the device id", err);
    for (int64_t i = 0; i < t.out_count; i++)
        assert_true(((float *)t.dev_out)[i] == 3.0f);
    tconv_plan_destroy(plan);
    tc_tensors_free(&t);
}

static void test_repeated_contexts(void **state) {
    (void)state;
    /* Load and unload every plugin many times: no crash, same answers. */
    for (int i = 0; i < 20; i++) {
        tconv_context_t ctx;
        assert_int_equal(tconv_context_create(&ctx, DIR), tconv_success);
        expect_report(ctx, "null_slot", tconv_plugin_failed, tconv_plugin_bad_table,
                      "plan_execute");
        if (i % 5 == 0)
            expect_cpu_works(ctx);
        tconv_context_destroy(ctx);
    }
}

int main(void) {
    tc_clean_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_path_reports),
        cmocka_unit_test(test_plugin_path_environment),
        cmocka_unit_test(test_plugins_environment_files),
        cmocka_unit_test(test_huge_device_counts_refused),
        cmocka_unit_test(test_never_the_current_directory),
        cmocka_unit_test(test_duplicates_first_wins),
        cmocka_unit_test(test_decline_moves_on_with_reason),
        cmocka_unit_test(test_execute_failure_propagates),
        cmocka_unit_test(test_repeated_contexts),
    };
    return cmocka_run_group_tests_name("plugins", tests, NULL, NULL);
}
