/* SPDX-License-Identifier: Apache-2.0 */
/* Device enumeration and selection through the public API: device
 * properties, stable ordering, plugin reports of the built-in backends,
 * selectors (ids, backend names, classes, lists, exclusions, TCONV_DEVICE),
 * their errors, and what a plan reports about its device.
 *
 *   test_devices --part single|multi
 *
 * "single" holds on any set of devices. "multi" is the selectors that need
 * a device of a second backend (opencl:0 next to cpu:0): without one it
 * exits 77 (ctest: Skipped; a failure under CI=true). */
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
static size_t device_count;
static tconv_device_info_t devices[32];

static int setup(void **state) {
    (void)state;
    if (tconv_context_create(&ctx, NULL) != tconv_success) {
        fprintf(stderr, "tconv_context_create: %s\n", tconv_get_last_error());
        return -1;
    }
    tconv_context_get_device_count(ctx, &device_count);
    for (size_t i = 0; i < device_count && i < 32; i++) {
        memset(&devices[i], 0, sizeof devices[i]);
        devices[i].struct_size = sizeof devices[i];
        tconv_context_get_device_info(ctx, i, &devices[i]);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tconv_context_destroy(ctx);
    return 0;
}

static size_t index_of(const char *id) {
    for (size_t i = 0; i < device_count; i++)
        if (!strcmp(devices[i].id, id))
            return i;
    return SIZE_MAX;
}

/* Whether every device belongs to @p backend. */
static int only_backend(const char *backend) {
    for (size_t i = 0; i < device_count; i++)
        if (strcmp(devices[i].backend, backend))
            return 0;
    return 1;
}

static void test_enumeration_and_properties(void **state) {
    (void)state;
    assert_true(device_count >= 1);
    assert_true(device_count <= 32);
    assert_true(index_of("cpu:0") != SIZE_MAX);
    for (size_t i = 0; i < device_count; i++) {
        const tconv_device_info_t *d = &devices[i];
        char want_id[128];
        snprintf(want_id, sizeof want_id, "%s:%u", d->backend, d->index);
        print_message("%s: %s | %s | %s | %s | cu %u | %u MHz | mem %llu | dtypes 0x%x\n", d->id,
                      d->name, d->vendor, d->driver_version, d->language_version, d->compute_units,
                      d->clock_mhz, (unsigned long long)d->global_mem_bytes, d->dtypes);
        if (strcmp(d->id, want_id))
            fail_msg("device %zu: id '%s' is not '<backend>:<index>' = '%s'", i, d->id, want_id);
        assert_true(d->backend[0] != '\0');
        assert_true(d->name[0] != '\0');
        assert_true(d->type >= tconv_device_cpu && d->type <= tconv_device_custom);
        assert_true(d->dtypes & TCONV_DTYPE_BIT(tconv_f32));
        /* Stable order: by (backend name, index), never directory order. */
        if (i > 0) {
            int c = strcmp(devices[i - 1].backend, d->backend);
            if (c > 0 || (c == 0 && devices[i - 1].index >= d->index))
                fail_msg("devices out of order: %s before %s", devices[i - 1].id, d->id);
        }
    }
    const tconv_device_info_t *cpu = &devices[index_of("cpu:0")];
    assert_int_equal(cpu->type, tconv_device_cpu);
    assert_true(cpu->flags & TCONV_DEVICE_FLAG_HOST_NATIVE);
    assert_true(cpu->compute_units >= 1);
    assert_true(cpu->dtypes & TCONV_DTYPE_BIT(tconv_f64));
    assert_string_equal(cpu->backend, "cpu");
    assert_int_equal(cpu->index, 0);
}

static void test_info_struct_size_and_bounds(void **state) {
    (void)state;
    /* struct_size 0 means the full struct. */
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    assert_int_equal(tconv_context_get_device_info(ctx, 0, &info), tconv_success);
    assert_string_equal(info.id, devices[0].id);
    /* An older, shorter struct: nothing written past its end. */
    unsigned char buf[sizeof(tconv_device_info_t) + 16];
    memset(buf, 0xAB, sizeof buf);
    size_t small = offsetof(tconv_device_info_t, name);
    memcpy(buf, &small, sizeof small);
    assert_int_equal(tconv_context_get_device_info(ctx, 0, (tconv_device_info_t *)buf),
                     tconv_success);
    for (size_t i = small; i < sizeof buf; i++)
        if (buf[i] != 0xAB)
            fail_msg("byte %zu written past a %zu-byte struct_size", i, small);
    assert_string_equal(((tconv_device_info_t *)buf)->id, devices[0].id);
    /* Out of range. */
    memset(&info, 0, sizeof info);
    assert_int_equal(tconv_context_get_device_info(ctx, device_count, &info),
                     tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "index"));
}

static void test_builtin_plugin_reports(void **state) {
    (void)state;
    size_t count = 0;
    assert_int_equal(tconv_context_get_plugin_count(ctx, &count), tconv_success);
    assert_true(count >= 1);
    int cpu_seen = 0;
    for (size_t i = 0; i < count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        assert_int_equal(tconv_context_get_plugin_report(ctx, i, &r), tconv_success);
        print_message("plugin %s: name '%s' state %d reason %d abi %u.%u devices %zu: %s\n", r.path,
                      r.name, r.state, r.reason, r.abi_major, r.abi_minor, r.device_count,
                      r.message);
        assert_true(r.path[0] == '/'); /* absolute */
        if (!strcmp(r.name, "cpu")) {
            cpu_seen = 1;
            assert_int_equal(r.state, tconv_plugin_loaded);
            assert_int_equal(r.reason, tconv_plugin_ok);
            assert_int_equal(r.abi_major, 1);
            assert_true(r.device_count >= 1);
            assert_true(tc_contains(r.path, "/tconv_backend_cpu.so"));
        }
    }
    assert_true(cpu_seen);
    tconv_plugin_report_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(tconv_context_get_plugin_report(ctx, count, &r), tconv_invalid_arguments);
}

/* select_device must choose @p want (an id) for @p selector. */
static void expect_choice(const char *selector, const char *want) {
    size_t chosen = SIZE_MAX;
    char reason[4096];
    tconv_status_t st =
        tconv_context_select_device(ctx, NULL, selector, &chosen, reason, sizeof reason);
    if (st != tconv_success)
        fail_msg("selector '%s': %s: %s", selector ? selector : "NULL", tconv_status_name(st),
                 tconv_get_last_error());
    assert_true(chosen < device_count);
    if (strcmp(devices[chosen].id, want))
        fail_msg("selector '%s' chose %s, want %s (reason: %s)", selector ? selector : "NULL",
                 devices[chosen].id, want, reason);
    if (strlen(reason) < 10 || !tc_contains(reason, want))
        fail_msg("selector '%s': reason \"%s\" does not explain the choice of %s",
                 selector ? selector : "NULL", reason, want);
}

static void test_select_by_id_and_backend(void **state) {
    (void)state;
    expect_choice("cpu:0", "cpu:0");
    expect_choice("cpu", "cpu:0");
    expect_choice("CPU:0", "cpu:0"); /* ids are case-insensitive */
    expect_choice(" cpu:0 ", "cpu:0");
    for (size_t i = 0; i < device_count; i++)
        expect_choice(devices[i].id, devices[i].id);
    /* A list is tried in order. */
    expect_choice("cpu,auto", "cpu:0");
    /* Among CPUs only (no GPU here), auto without a problem prefers the native one. */
    int only_cpus = 1;
    for (size_t i = 0; i < device_count; i++)
        only_cpus &= devices[i].type == tconv_device_cpu;
    if (only_cpus) {
        expect_choice(NULL, "cpu:0");
        expect_choice("auto", "cpu:0");
        expect_choice("cpu_type", "cpu:0");
    }
    /* reason may be NULL. */
    size_t chosen;
    assert_int_equal(tconv_context_select_device(ctx, NULL, "cpu", &chosen, NULL, 0),
                     tconv_success);
}

static void test_select_with_a_problem(void **state) {
    (void)state;
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    size_t chosen = SIZE_MAX;
    char reason[4096];
    assert_int_equal(tconv_context_select_device(ctx, &p, "cpu", &chosen, reason, sizeof reason),
                     tconv_success);
    assert_string_equal(devices[chosen].id, "cpu:0");
    assert_true(reason[0] != '\0');
    assert_int_equal(tconv_context_select_device(ctx, &p, NULL, &chosen, reason, sizeof reason),
                     tconv_success);
    assert_true(reason[0] != '\0');
    print_message("auto for the small problem: %s\n", reason);
    /* A bad problem is refused before any selection. */
    p.strides[0] = 0;
    assert_int_equal(tconv_context_select_device(ctx, &p, "cpu", &chosen, reason, sizeof reason),
                     tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "strides"));
}

static void test_tconv_device_environment(void **state) {
    (void)state;
    setenv("TCONV_DEVICE", "cpu:0", 1);
    expect_choice(NULL, "cpu:0");
    expect_choice("auto", "cpu:0");
    /* An explicit selector wins over TCONV_DEVICE. */
    setenv("TCONV_DEVICE", "nosuchbackend:3", 1);
    expect_choice("cpu", "cpu:0");
    size_t chosen;
    tconv_status_t st = tconv_context_select_device(ctx, NULL, NULL, &chosen, NULL, 0);
    assert_int_equal(st, tconv_no_device);
    assert_true(tc_contains(tconv_get_last_error(), "TCONV_DEVICE"));
    assert_true(tc_contains(tconv_get_last_error(), "nosuchbackend"));
    /* Plans honour it too. */
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, NULL), tconv_no_device);
    assert_null(plan);
    setenv("TCONV_DEVICE", "cp u", 1);
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "auto"), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "TCONV_DEVICE"));
    unsetenv("TCONV_DEVICE");
}

/* Selectors across two backends (the "multi" part): names, lists in
 * order, exclusions that leave the other backend. */
static void test_select_across_backends(void **state) {
    (void)state;
    expect_choice("opencl", "opencl:0");
    expect_choice("opencl:0,cpu", "opencl:0");
    expect_choice("cpu,opencl", "cpu:0");
    expect_choice("auto,-opencl", "cpu:0");
    expect_choice("-cpu", "opencl:0");
    size_t chosen;
    char reason[4096];
    assert_int_equal(tconv_context_select_device(ctx, NULL, "-cpu", &chosen, reason, sizeof reason),
                     tconv_success);
    assert_string_not_equal(devices[chosen].backend, "cpu");
    assert_int_equal(
        tconv_context_select_device(ctx, NULL, "-opencl", &chosen, reason, sizeof reason),
        tconv_success);
    assert_string_not_equal(devices[chosen].backend, "opencl");
    /* Every device of each backend runs the small problem when asked by
     * backend name. */
    char msg[2048];
    if (tc_check_small_plan(ctx, "opencl", msg, sizeof msg) != 0)
        fail_msg("opencl: %s", msg);
}

static void test_exclusions(void **state) {
    (void)state;
    size_t chosen;
    char reason[4096];
    tconv_status_t st;
    /* Excluding every backend there is leaves nothing (with cpu alone:
     * "-cpu"). */
    char all[512] = "";
    for (size_t i = 0; i < device_count; i++) {
        if (tc_contains(all, devices[i].backend))
            continue;
        strcat(all, all[0] ? ",-" : "-");
        strcat(all, devices[i].backend);
    }
    st = tconv_context_select_device(ctx, NULL, all, &chosen, reason, sizeof reason);
    if (st != tconv_no_device)
        fail_msg("selector '%s': %s, want no_device", all, tconv_status_name(st));
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, all), tconv_no_device);
    assert_null(plan);
    assert_true(tconv_get_last_error()[0] != '\0');
    /* Excluding a device by id, then asking for its backend. */
    st = tconv_context_select_device(ctx, NULL, "cpu,-cpu:0", &chosen, reason, sizeof reason);
    assert_int_equal(st, tconv_no_device);
}

static void test_bad_selector_syntax(void **state) {
    (void)state;
    static const char *const bad[] = {"cpu:abc", "cpu:",    ",",     "cpu,,opencl", "-auto",
                                      "cp u",    "cpu:-1",  ":0",    "c*u",         "-",
                                      "cpu:1x",  "a,b c,d", "cpu: 0"};
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t chosen;
        tconv_status_t st = tconv_context_select_device(ctx, NULL, bad[i], &chosen, NULL, 0);
        if (st != tconv_invalid_arguments)
            fail_msg("selector '%s': %s, want invalid_arguments", bad[i], tconv_status_name(st));
        if (!tc_contains(tconv_get_last_error(), "selector"))
            fail_msg("selector '%s': message \"%s\" does not say 'selector'", bad[i],
                     tconv_get_last_error());
        tconv_plan_t plan = NULL;
        st = tconv_plan_create(&plan, ctx, &p, bad[i]);
        if (st != tconv_invalid_arguments)
            fail_msg("plan_create selector '%s': %s, want invalid_arguments", bad[i],
                     tconv_status_name(st));
        assert_null(plan);
    }
}

static void test_unknown_device_lists_devices(void **state) {
    (void)state;
    /* A list fails only when none of its terms names a device (a list
     * passes over the terms that do not: test_selection_rules.c). */
    static const char *const unknown[] = {"cpu:7", "nosuch", "nosuch:0", "nosuch:1,cpu:9"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        size_t chosen;
        tconv_status_t st = tconv_context_select_device(ctx, NULL, unknown[i], &chosen, NULL, 0);
        if (st != tconv_no_device)
            fail_msg("selector '%s': %s, want no_device", unknown[i], tconv_status_name(st));
        const char *msg = tconv_get_last_error();
        if (!tc_contains(msg, "cpu:0"))
            fail_msg("selector '%s': message \"%s\" does not list the devices", unknown[i], msg);
    }
}

static void test_plan_reports_its_device(void **state) {
    (void)state;
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "cpu"), tconv_success);
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    assert_string_equal(info.id, "cpu:0");
    assert_string_equal(info.name, devices[index_of("cpu:0")].name);
    const char *why = tconv_plan_get_selection_reason(plan);
    assert_non_null(why);
    assert_true(tc_contains(why, "cpu:0"));
    tconv_canonical_t from_plan, resolved;
    assert_int_equal(tconv_plan_get_canonical(plan, &from_plan), tconv_success);
    assert_int_equal(tconv_problem_resolve(&p, &resolved), tconv_success);
    assert_memory_equal(&from_plan, &resolved, sizeof resolved);
    tconv_plan_destroy(plan);

    /* Every device runs the small problem right when asked by id. */
    for (size_t i = 0; i < device_count; i++) {
        char msg[2048];
        if (tc_check_small_plan(ctx, devices[i].id, msg, sizeof msg) != 0)
            fail_msg("%s: %s", devices[i].id, msg);
    }
}

/* The selectors across backends: needs opencl:0 next to cpu:0. */
static int run_multi_part(void) {
    if (setup(NULL) != 0)
        return 1;
    const int have_second = index_of("opencl:0") != SIZE_MAX && !only_backend("cpu");
    teardown(NULL);
    if (!have_second)
        return tc_cannot_run("no opencl:0 next to cpu:0: the selectors across backends need a "
                             "second backend's device");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_across_backends),
    };
    return cmocka_run_group_tests_name("devices_multi", tests, setup, teardown);
}

int main(int argc, char **argv) {
    tc_clean_environment();
    const char *part = argc == 3 && strcmp(argv[1], "--part") == 0 ? argv[2] : "";
    if (strcmp(part, "multi") == 0)
        return run_multi_part();
    if (strcmp(part, "single") != 0) {
        fprintf(stderr, "usage: %s --part single|multi\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enumeration_and_properties),
        cmocka_unit_test(test_info_struct_size_and_bounds),
        cmocka_unit_test(test_builtin_plugin_reports),
        cmocka_unit_test(test_select_by_id_and_backend),
        cmocka_unit_test(test_select_with_a_problem),
        cmocka_unit_test(test_tconv_device_environment),
        cmocka_unit_test(test_exclusions),
        cmocka_unit_test(test_bad_selector_syntax),
        cmocka_unit_test(test_unknown_device_lists_devices),
        cmocka_unit_test(test_plan_reports_its_device),
    };
    return cmocka_run_group_tests_name("devices_single", tests, setup, teardown);
}
