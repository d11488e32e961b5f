/* SPDX-License-Identifier: Apache-2.0 */
/* The CPU backend's kernel family needs every CPU feature its code is
 * compiled for: the AVX-512 kernels (#pragma GCC target
 * "avx512f,avx512vl,avx512dq,fma") must not run on a CPU that reports
 * avx512f alone, where their VL/DQ instructions would raise SIGILL; the AVX2
 * kernels need avx2 and fma. TCONV_CPU_ISA_MASK (tests only) hides features
 * from the detection, as on a CPU without them; the family in effect is the
 * one cpu:0 names in its driver_version ("tconv-cpu avx2"), and a plan on it
 * must still compute the right result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cpu_features.h"
#include "test_support.h"

/* The families' requirements, as the kernels' pragmas state them (and what
 * GCC implies: avx512f implies avx2, avx2 implies avx). */
#define AVX2_NEEDS   (TCONV_CPU_AVX | TCONV_CPU_AVX2 | TCONV_CPU_FMA)
#define AVX512_NEEDS (AVX2_NEEDS | TCONV_CPU_AVX512F | TCONV_CPU_AVX512VL | TCONV_CPU_AVX512DQ)

/* What the backend must pick on a CPU with @p features. */
static const char *expected_isa(unsigned features) {
    if (tconv_cpu_has_all(features, AVX512_NEEDS))
        return "avx512";
    if (tconv_cpu_has_all(features, AVX2_NEEDS))
        return "avx2";
    return "c";
}

/* The family cpu:0 of @p ctx runs, from its driver_version ("tconv-cpu <isa>"). */
static void isa_of(tconv_context_t ctx, char *isa, size_t isa_size) {
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    size_t count = 0, cpu = SIZE_MAX;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count && cpu == SIZE_MAX; i++) {
        assert_int_equal(tconv_context_get_device_info(ctx, i, &info), tconv_success);
        if (strcmp(info.id, "cpu:0") == 0)
            cpu = i;
    }
    assert_true(cpu != SIZE_MAX);
    const char *space = strrchr(info.driver_version, ' '); /* "tconv-cpu <isa>" */
    assert_non_null(space);
    snprintf(isa, isa_size, "%s", space + 1);
}

/* The ISA cpu:0 runs with TCONV_CPU_ISA_MASK=@p mask (a new context reads it). */
static void isa_in_effect(const char *mask, char *isa, size_t isa_size) {
    setenv(TCONV_CPU_ISA_MASK_ENV, mask, 1);
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    isa_of(ctx, isa, isa_size);
    char msg[2048];
    if (tc_check_small_plan(ctx, "cpu:0", msg, sizeof msg) != 0)
        fail_msg("TCONV_CPU_ISA_MASK=%s (isa %s): %s", mask, isa, msg);
    tconv_context_destroy(ctx);
    unsetenv(TCONV_CPU_ISA_MASK_ENV);
}

static void test_feature_names_parse(void **state) {
    (void)state;
    unsigned bits;
    assert_true(tconv_cpu_features_parse("avx512f,avx2,fma", &bits));
    assert_int_equal(bits, TCONV_CPU_AVX512F | TCONV_CPU_AVX2 | TCONV_CPU_FMA);
    assert_true(tconv_cpu_features_parse("", &bits));
    assert_int_equal(bits, 0);
    assert_false(tconv_cpu_features_parse("avx512f,sse9", &bits));
}

/* The mask only hides features: it never adds one the CPU lacks. */
static void test_mask_only_hides(void **state) {
    (void)state;
    unsetenv(TCONV_CPU_ISA_MASK_ENV);
    const unsigned real = tconv_cpu_features();
    setenv(TCONV_CPU_ISA_MASK_ENV, "avx512f,avx512vl,avx512dq,avx2,fma,avx,f16c", 1);
    assert_int_equal(tconv_cpu_features() & ~real, 0);
    setenv(TCONV_CPU_ISA_MASK_ENV, "avx2", 1);
    assert_int_equal(tconv_cpu_features(), real & TCONV_CPU_AVX2);
    unsetenv(TCONV_CPU_ISA_MASK_ENV);
}

/* AVX-512F without VL and DQ: the AVX2 kernels (when the CPU has AVX2 and
 * FMA), never the AVX-512 ones. */
static void test_avx512f_alone_falls_back(void **state) {
    (void)state;
    unsetenv(TCONV_CPU_ISA_MASK_ENV);
    const unsigned real = tconv_cpu_features();
    static const char *const masks[] = {
        "avx512f,avx2,fma,avx",           /* F only: the case that crashed */
        "avx512f,avx512vl,avx2,fma,avx",  /* no DQ */
        "avx512f,avx512dq,avx2,fma,avx",  /* no VL */
        "avx512f,avx512vl,avx512dq,avx2", /* no FMA: not even AVX2 */
        "avx2,avx",                       /* AVX2 without FMA */
        "avx512f,avx512vl,avx512dq,avx2,fma,avx",
        "",
    };
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        unsigned allowed;
        assert_true(tconv_cpu_features_parse(masks[i], &allowed));
        const char *want = expected_isa(real & allowed);
        char got[32];
        isa_in_effect(masks[i], got, sizeof got);
        print_message("mask '%s': %s (want %s)\n", masks[i], got, want);
        if (strcmp(got, want) != 0)
            fail_msg("TCONV_CPU_ISA_MASK=%s: cpu:0 runs %s, want %s", masks[i], got, want);
    }
}

/* TCONV_CPU_ISA forcing a family the CPU (as the mask shows it) lacks: the
 * backend says so at verbosity 1 and runs the best family it has, right; a
 * name it does not know: the plugin does not start, its report names the
 * rule, and there is no cpu:0. */
static void test_forced_isa_beyond_the_cpu(void **state) {
    (void)state;
    unsetenv(TCONV_CPU_ISA_MASK_ENV);
    const unsigned real = tconv_cpu_features();
    setenv(TCONV_CPU_ISA_MASK_ENV, "avx2,fma,avx", 1); /* no AVX-512, whatever the CPU */
    setenv("TCONV_CPU_ISA", "avx512", 1);
    const char *want = expected_isa(real & AVX2_NEEDS);
    tc_log_t log;
    tconv_context_t ctx = NULL;
    TC_CHECK_OK(tc_context_create_logged(&ctx, 1, &log));
    char isa[32], said[128], msg[2048];
    isa_of(ctx, isa, sizeof isa);
    if (strcmp(isa, want) != 0)
        fail_msg("TCONV_CPU_ISA=avx512 on a CPU without AVX-512: cpu:0 runs %s, want %s", isa,
                 want);
    snprintf(said, sizeof said, "TCONV_CPU_ISA=avx512 is not supported by this CPU; using %s",
             want);
    if (!tc_contains(log.text, said))
        fail_msg("no \"%s\" in the log:\n%s", said, log.text);
    if (tc_check_small_plan(ctx, "cpu:0", msg, sizeof msg) != 0)
        fail_msg("TCONV_CPU_ISA=avx512 falling back to %s: %s", want, msg);
    tconv_context_destroy(ctx);
    unsetenv(TCONV_CPU_ISA_MASK_ENV);

    setenv("TCONV_CPU_ISA", "avx1024", 1);
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    if (tc_has_device(ctx, "cpu:0"))
        fail_msg("TCONV_CPU_ISA=avx1024: cpu:0 started anyway");
    tconv_plugin_report_t r;
    if (!tc_plugin_report_named(ctx, "cpu", &r))
        fail_msg("TCONV_CPU_ISA=avx1024: no report of the cpu plugin");
    print_message("cpu plugin report: %s\n", r.message);
    const int reported =
        r.state == tconv_plugin_failed &&
        tc_contains(r.message, "TCONV_CPU_ISA = 'avx1024': must be avx512, avx2 or c");
    tconv_context_destroy(ctx);
    unsetenv("TCONV_CPU_ISA");
    if (!reported)
        fail_msg("TCONV_CPU_ISA=avx1024: the cpu plugin's report is not a failure naming the rule");
}

int main(void) {
    tc_clean_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feature_names_parse),
        cmocka_unit_test(test_mask_only_hides),
        cmocka_unit_test(test_avx512f_alone_falls_back),
        cmocka_unit_test(test_forced_isa_beyond_the_cpu),
    };
    return cmocka_run_group_tests_name("cpu_isa", tests, NULL, NULL);
}
