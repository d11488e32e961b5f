/* SPDX-License-Identifier: Apache-2.0 */
/* Device selection rules (docs/internals.md, "Device ids, ranking,
 * selection"):
 *  - a selector list means "the first device that exists and accepts": a
 *    term that names no device ("gpu" without a GPU) is passed over and
 *    named in the reason; only a list none of whose terms names a device
 *    fails;
 *  - under auto, backends' estimates rank across classes: a custom device
 *    estimated far slower (plugins/faulty/slow_custom: 1000 s) goes after
 *    the native CPU instead of before it on class alone;
 *  - tconv_context_select_device names the device tconv_plan_create takes,
 *    also when the first-ranked device accepts in query and declines in
 *    plan_create (plugins/faulty/twin_a);
 *  - a remembered measurement is measured again while it is a close call
 *    (winner ahead by less than 20%), at most 3 times, keeping each device's
 *    best time, and measured anew when older than 30 days
 *    (plugins/faulty/slow_cpu against cpu:0; lines planted in the cache). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device_query.h"
#include "selection_file.h"
#include "temp_dir.h"
#include "test_support.h"

#define PLUGIN(name) TCONV_TEST_PLUGIN_DIR "/tconv_backend_" name ".so"

static char work[4096];

static tconv_context_t context_with(const char *search_path) {
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, search_path), tconv_success);
    return ctx;
}

/* Plans the small problem on @p selector; the device id and the reason. */
static void plan_on(tconv_context_t ctx, const char *selector, char *id, size_t id_size,
                    char *reason, size_t reason_size) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_status_t st = tc_plan_device(ctx, selector, &p, id, id_size, reason, reason_size);
    if (st != tconv_success)
        fail_msg("plan_create('%s'): %s: %s", selector, tconv_status_name(st),
                 tconv_get_last_error());
    print_message("'%s' -> %s: %s\n", selector, id, reason);
}

/* The device id select_device names for the small problem on @p selector. */
static void select_on(tconv_context_t ctx, const char *selector, char *id, size_t id_size) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    size_t index;
    char reason[4096];
    tconv_status_t st =
        tconv_context_select_device(ctx, &p, selector, &index, reason, sizeof reason);
    if (st != tconv_success)
        fail_msg("select_device('%s'): %s", selector, tconv_get_last_error());
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(tconv_context_get_device_info(ctx, index, &info), tconv_success);
    snprintf(id, id_size, "%s", info.id);
}

/* ---- lists */

static void test_list_passes_over_missing_terms(void **state) {
    (void)state;
    tconv_context_t ctx = context_with(NULL);
    char id[64], reason[4096];
    plan_on(ctx, "opencl:99,cpu", id, sizeof id, reason, sizeof reason);
    assert_string_equal(id, "cpu:0");
    assert_true(tc_contains(reason, "skipped 'opencl:99': no such device"));
    select_on(ctx, "nosuch,cpu:0", id, sizeof id);
    assert_string_equal(id, "cpu:0");
    if (!tc_has_device_type(ctx, tconv_device_gpu)) { /* the case of the report: no GPU here */
        plan_on(ctx, "gpu,cpu", id, sizeof id, reason, sizeof reason);
        assert_string_equal(id, "cpu:0");
        assert_true(tc_contains(reason, "skipped 'gpu': no such device"));
    }
    /* No term names a device: an error listing the terms and the devices. */
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "nosuch,cpu:9"), tconv_no_device);
    const char *msg = tconv_get_last_error();
    if (!tc_contains(msg, "'nosuch': no such device") || !tc_contains(msg, "'cpu:9'") ||
        !tc_contains(msg, "cpu:0"))
        fail_msg("message \"%s\" does not name the terms and the devices", msg);
    tconv_context_destroy(ctx);
}

/* ---- estimates across classes */

static void test_slow_custom_device_ranks_after_cpu(void **state) {
    (void)state;
    tconv_context_t ctx = context_with(PLUGIN("slow_custom"));
    assert_true(tc_has_device(ctx, "slow_custom:0"));
    char id[64], reason[4096];
    plan_on(ctx, "auto", id, sizeof id, reason, sizeof reason);
    assert_string_equal(id, "cpu:0");
    const char *cpu = strstr(reason, "cpu:0 ("), *custom = strstr(reason, "slow_custom:0 (");
    assert_non_null(cpu);
    assert_non_null(custom);
    if (custom < cpu)
        fail_msg("slow_custom:0 (est 1000 s) ranked before cpu:0: %s", reason);
    /* Named first, it is still taken: estimates order "auto" only. */
    plan_on(ctx, "slow_custom,auto", id, sizeof id, reason, sizeof reason);
    assert_string_equal(id, "slow_custom:0");
    tconv_context_destroy(ctx);
}

/* ---- one device choice */

static void test_select_device_agrees_with_plan_create(void **state) {
    (void)state;
    /* twin_a: custom class, no estimate (ranked before the CPU), accepts in
     * query, declines in plan_create. */
    tconv_context_t ctx = context_with(PLUGIN("twin_a"));
    assert_true(tc_has_device(ctx, "twin:0"));
    static const char *const selectors[] = {"auto", "twin,cpu", "custom,cpu_type"};
    for (size_t i = 0; i < sizeof selectors / sizeof selectors[0]; i++) {
        char planned[64], selected[64], reason[4096];
        plan_on(ctx, selectors[i], planned, sizeof planned, reason, sizeof reason);
        select_on(ctx, selectors[i], selected, sizeof selected);
        if (strcmp(planned, selected) != 0)
            fail_msg("selector '%s': select_device names %s, plan_create takes %s (%s)",
                     selectors[i], selected, planned, reason);
        assert_string_not_equal(planned, "twin:0");
    }
    tconv_context_destroy(ctx);
}

/* ---- re-measuring remembered decisions */

static char cache_dir[4200], cache_file[4300];
static const char *const measured_selector = "auto,-opencl"; /* cpu:0 vs slow_cpu:0 */

static void fresh_cache(void) {
    static int serial;
    snprintf(cache_dir, sizeof cache_dir, "%s/cache%d", work, ++serial);
    assert_int_equal(mkdir(cache_dir, 0700), 0);
    snprintf(cache_file, sizeof cache_file, "%s/" TC_SELECTION_FILE_NAME, cache_dir);
    setenv("TCONV_CACHE_DIR", cache_dir, 1);
    setenv("TCONV_SELECT_MIN_MS", "0", 1); /* the small problem is measured */
}

/* The whole cache file (malloc'd). */
static char *read_cache(void) {
    FILE *f = fopen(cache_file, "r");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* Field @p index (0-based, tab-separated) of the file's only line. */
static void cache_field(int index, char *out, size_t size) {
    char *text = read_cache();
    char *p = text;
    for (int i = 0; i < index; i++) {
        p = strchr(p, '\t');
        assert_non_null(p);
        p++;
    }
    size_t len = strcspn(p, "\t\n");
    snprintf(out, size, "%.*s", (int)len, p);
    free(text);
}

static void plant(const char *key, double cpu_seconds, double slow_seconds, int64_t measured_at,
                  unsigned measurements) {
    char line[8300];
    assert_int_equal(tc_selection_line(line, sizeof line, key, "cpu:0", "cpu:0", cpu_seconds,
                                       "slow_cpu:0", slow_seconds, measured_at, measurements),
                     0);
    FILE *f = fopen(cache_file, "w");
    assert_non_null(f);
    fputs(line, f);
    assert_int_equal(fclose(f), 0);
}

/* A new context plans the small problem: its reason. */
static void plan_fresh(char *reason, size_t reason_size) {
    tconv_context_t ctx = context_with(PLUGIN("slow_cpu"));
    char id[64];
    plan_on(ctx, measured_selector, id, sizeof id, reason, reason_size);
    assert_string_equal(id, "cpu:0"); /* slow_cpu takes 20 ms a run */
    tconv_context_destroy(ctx);
}

static void test_close_calls_are_measured_again(void **state) {
    (void)state;
    fresh_cache();
    char reason[4096], key[4096], count[32];
    plan_fresh(reason, sizeof reason);
    assert_true(tc_contains(reason, "measured "));
    cache_field(0, key, sizeof key);
    cache_field(4, count, sizeof count);
    assert_string_equal(count, "1");
    /* A clear winner is trusted. */
    plan_fresh(reason, sizeof reason);
    assert_true(tc_contains(reason, "(from cache "));

    /* A close call (10%) measured once: measured again, best times kept. */
    const int64_t now = (int64_t)time(NULL);
    plant(key, 1.0e-3, 1.1e-3, now, 1);
    plan_fresh(reason, sizeof reason);
    if (!tc_contains(reason, "measured again: a close call"))
        fail_msg("a 10%% lead measured once was not measured again: %s", reason);
    cache_field(4, count, sizeof count);
    assert_string_equal(count, "2");
    char times[256];
    cache_field(2, times, sizeof times);
    if (!tc_contains(times, "slow_cpu:0=0.0011")) /* 1.1 ms beats its 20 ms now */
        fail_msg("slow_cpu:0 did not keep its best time: %s", times);

    /* ... but not forever: measured 3 times, it is used as it is. */
    plant(key, 1.0e-3, 1.1e-3, now, 3);
    plan_fresh(reason, sizeof reason);
    if (!tc_contains(reason, "(from cache "))
        fail_msg("a close call measured 3 times was measured again: %s", reason);
}

static void test_old_decisions_are_measured_anew(void **state) {
    (void)state;
    fresh_cache();
    char reason[4096], key[4096], count[32];
    plan_fresh(reason, sizeof reason);
    cache_field(0, key, sizeof key);
    const int64_t now = (int64_t)time(NULL), day = 86400;
    plant(key, 1e-3, 1.0, now - 29 * day, 1); /* a clear winner, 29 days old */
    plan_fresh(reason, sizeof reason);
    assert_true(tc_contains(reason, "(from cache "));
    plant(key, 1e-3, 1.0, now - 31 * day, 3);
    plan_fresh(reason, sizeof reason);
    if (!tc_contains(reason, "31 days old, more than the 30-day limit"))
        fail_msg("a 31-day-old decision was used: %s", reason);
    cache_field(4, count, sizeof count);
    assert_string_equal(count, "1"); /* anew: the old count is gone */
    char when[32];
    cache_field(3, when, sizeof when);
    assert_true(strtoll(when, NULL, 10) >= now);
    plant(key, 1e-3, 1.0, now + 30 * day, 3); /* dated in the future */
    plan_fresh(reason, sizeof reason);
    assert_true(tc_contains(reason, "dated in the future"));
}

static int setup(void **state) {
    (void)state;
    tc_clean_environment();
    return tc_temp_dir_create(work, sizeof work, "select_rules");
}

static int teardown(void **state) {
    (void)state;
    return tc_temp_dir_remove(work);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_passes_over_missing_terms),
        cmocka_unit_test(test_slow_custom_device_ranks_after_cpu),
        cmocka_unit_test(test_select_device_agrees_with_plan_create),
        cmocka_unit_test(test_close_calls_are_measured_again),
        cmocka_unit_test(test_old_decisions_are_measured_anew),
    };
    return cmocka_run_group_tests_name("selection_rules", tests, setup, teardown);
}
