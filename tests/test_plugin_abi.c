/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin ABI compatibility: a plugin built against the ABI 1.0 header
 * (plugins/faulty/abi10.c: the 1.0 table, struct_size ending at
 * plan_destroy, abi_minor 0) keeps working with the 1.1 core. It loads, its
 * forward pass runs and is right; a training problem asked of it explicitly
 * fails with tconv_no_device saying it has no backward pass; under `auto`
 * a training problem skips it (the selection reason says why) and lands on
 * cpu:0, while a forward problem still goes to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "device_query.h"
#include "test_support.h"

#define ABI10_PLUGIN TCONV_TEST_PLUGIN_DIR "/tconv_backend_abi10.so"

static int setup(void **state) {
    tc_clean_environment();
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, ABI10_PLUGIN) != tconv_success) {
        print_error("tconv_context_create: %s\n", tconv_get_last_error());
        return -1;
    }
    *state = ctx;
    return 0;
}

static int teardown(void **state) {
    tconv_context_destroy(*state);
    return 0;
}

static void test_loads_as_abi_1_0(void **state) {
    tconv_context_t ctx = *state;
    size_t count = 0;
    assert_int_equal(tconv_context_get_plugin_count(ctx, &count), tconv_success);
    for (size_t i = 0; i < count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        assert_int_equal(tconv_context_get_plugin_report(ctx, i, &r), tconv_success);
        if (strcmp(r.name, "abi10") != 0)
            continue;
        if (r.state != tconv_plugin_loaded || r.abi_major != 1 || r.abi_minor != 0 ||
            r.device_count != 1)
            fail_msg("abi10: state %d, ABI %u.%u, %zu devices (want loaded, 1.0, 1): %s",
                     (int)r.state, r.abi_major, r.abi_minor, r.device_count, r.message);
        return;
    }
    fail_msg("no plugin report named abi10 (search_path %s)", ABI10_PLUGIN);
}

static void test_forward_runs(void **state) {
    char msg[1024];
    if (tc_check_small_plan(*state, "abi10:0", msg, sizeof msg) != 0)
        fail_msg("forward pass on abi10:0: %s", msg);
}

/* An explicit selector: no other device may take the plan, and the error
 * names the device, its ABI and the pass it lacks. */
static void expect_no_backward_pass(tconv_context_t ctx, uint32_t passes, const char *pass) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    p.passes = passes;
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, &p, "abi10:0");
    const char *err = tconv_get_last_error();
    if (st != tconv_no_device)
        fail_msg("passes 0x%x on abi10:0: %s, want no_device (%s)", passes, tconv_status_name(st),
                 err);
    char want[64];
    snprintf(want, sizeof want, "has no %s pass", pass);
    if (!tc_contains(err, "abi10:0") || !tc_contains(err, "plugin ABI 1.0") ||
        !tc_contains(err, want))
        fail_msg("passes 0x%x on abi10:0: the message does not say \"abi10:0\", \"plugin ABI "
                 "1.0\" and \"%s\": %s",
                 passes, want, err);
    assert_null(plan);
}

static void test_explicit_training_plan_is_refused(void **state) {
    expect_no_backward_pass(*state, TCONV_PASS_TRAINING, "backward_data");
    expect_no_backward_pass(*state, TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_DATA, "backward_data");
    expect_no_backward_pass(*state, TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_WEIGHTS,
                            "backward_weights");
}

/* The device `auto` gives a problem with @p passes, and the reason. */
static void auto_device(tconv_context_t ctx, uint32_t passes, char *id, size_t id_size,
                        char *reason, size_t reason_size) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    p.passes = passes;
    tconv_status_t st = tc_plan_device(ctx, "abi10,auto", &p, id, id_size, reason, reason_size);
    if (st != tconv_success)
        fail_msg("abi10,auto with passes 0x%x: %s: %s", passes, tconv_status_name(st),
                 tconv_get_last_error());
}

static void test_auto_skips_it_for_training(void **state) {
    char id[64], reason[4096];
    /* Tried first, abi10 takes forward problems (auto alone ranks it by its
     * estimate, after the faster CPU)... */
    auto_device(*state, TCONV_PASS_FORWARD, id, sizeof id, reason, sizeof reason);
    if (strcmp(id, "abi10:0") != 0)
        fail_msg("abi10,auto forward plan on %s, want abi10:0: %s", id, reason);
    /* ...training problems cannot, and the reason says why. */
    auto_device(*state, TCONV_PASS_TRAINING, id, sizeof id, reason, sizeof reason);
    if (strcmp(id, "cpu:0") != 0)
        fail_msg("auto training plan on %s, want cpu:0: %s", id, reason);
    if (!tc_contains(reason, "abi10:0") || !tc_contains(reason, "has no backward_data pass"))
        fail_msg("the selection reason does not say abi10:0 has no backward_data pass: %s", reason);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_as_abi_1_0),
        cmocka_unit_test(test_forward_runs),
        cmocka_unit_test(test_explicit_training_plan_is_refused),
        cmocka_unit_test(test_auto_skips_it_for_training),
    };
    return cmocka_run_group_tests_name("plugin_abi", tests, setup, teardown);
}
