/* SPDX-License-Identifier: Apache-2.0 */
/* struct_size across versions: a caller built against tconv 0.1, whose
 * tconv_problem_t and tconv_canonical_t end at activation_alpha (no
 * passes), calls the exported 0.1 entry points (tconv_problem_init,
 * tconv_problem_resolve, tconv_plan_get_canonical: the parenthesised names
 * below bypass the new header's macros, as an old binary does). Nothing may
 * be written past its structs (guard bytes stay as they were) and nothing
 * past them may be read (guard bytes of 0xFF as passes would be refused as
 * unknown bits). struct_size 0 of the output structs means their 0.1 size.
 * New code gets the sized calls through the macros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

/* tconv_problem_t as tconv 0.1 declared it. */
typedef struct problem_0_1 {
    size_t struct_size;
    int spatial_rank;
    tconv_dtype_t dtype;
    int64_t batch, in_channels, out_channels, groups;
    int64_t input_size[3], kernel_size[3], strides[3], dilation[3];
    tconv_padding_t padding;
    int64_t pads_begin[3], pads_end[3];
    int has_output_padding;
    int64_t output_padding[3], output_shape[3];
    tconv_data_format_t data_format;
    tconv_kernel_layout_t kernel_layout;
    int use_bias;
    tconv_activation_t activation;
    double activation_alpha;
} problem_0_1_t;

/* tconv_canonical_t as tconv 0.1 declared it. */
typedef struct canonical_0_1 {
    size_t struct_size;
    int spatial_rank;
    tconv_dtype_t dtype;
    int64_t batch, in_channels, out_channels, groups;
    int64_t input_size[3], kernel_size[3], strides[3], dilation[3], crop_begin[3], output_size[3];
    tconv_data_format_t data_format;
    tconv_kernel_layout_t kernel_layout;
    int use_bias;
    tconv_activation_t activation;
    double activation_alpha;
} canonical_0_1_t;

#define GUARD 64

typedef struct guarded_problem {
    problem_0_1_t p;
    unsigned char guard[GUARD];
} guarded_problem_t;

typedef struct guarded_canonical {
    canonical_0_1_t c;
    unsigned char guard[GUARD];
} guarded_canonical_t;

static void expect_guard(const unsigned char *guard, unsigned char value, const char *what) {
    for (size_t i = 0; i < GUARD; i++)
        if (guard[i] != value)
            fail_msg("%s: byte %zu past the 0.1 struct was written (0x%02x, was 0x%02x)", what, i,
                     guard[i], value);
}

/* The 0.1 layout is what the current header has up to activation_alpha. */
static void test_layouts_match(void **state) {
    (void)state;
    assert_int_equal(offsetof(tconv_problem_t, activation_alpha),
                     offsetof(problem_0_1_t, activation_alpha));
    assert_true(offsetof(tconv_problem_t, passes) >= sizeof(problem_0_1_t));
    assert_int_equal(offsetof(tconv_canonical_t, activation_alpha),
                     offsetof(canonical_0_1_t, activation_alpha));
    assert_true(offsetof(tconv_canonical_t, passes) >= sizeof(canonical_0_1_t));
}

static void init_0_1(guarded_problem_t *g) {
    memset(g, 0, sizeof *g);
    memset(g->guard, 0xA5, GUARD);
    assert_int_equal((tconv_problem_init)((tconv_problem_t *)&g->p, 2), tconv_success);
    expect_guard(g->guard, 0xA5, "tconv_problem_init");
    assert_int_equal(g->p.struct_size, sizeof g->p);
    assert_int_equal(g->p.batch, 1);
    g->p.in_channels = 3;
    g->p.out_channels = 4;
    g->p.input_size[0] = g->p.input_size[1] = 5;
    g->p.kernel_size[0] = g->p.kernel_size[1] = 3;
    g->p.strides[0] = g->p.strides[1] = 2;
    memset(g->guard, 0xFF, GUARD); /* as passes: unknown bits, refused if read */
}

static void test_old_caller_problem_and_resolve(void **state) {
    (void)state;
    guarded_problem_t g;
    init_0_1(&g);
    guarded_canonical_t out;
    memset(&out, 0x5A, sizeof out);
    tconv_status_t st =
        (tconv_problem_resolve)((const tconv_problem_t *)&g.p, (tconv_canonical_t *)&out.c);
    if (st != tconv_success)
        fail_msg("resolve of a 0.1 problem: %s", tconv_get_last_error());
    expect_guard(out.guard, 0x5A, "tconv_problem_resolve");
    assert_int_equal(out.c.struct_size, sizeof out.c);
    assert_int_equal(out.c.output_size[2], 11); /* (5-1)*2 + 3 */
    expect_guard(g.guard, 0xFF, "tconv_problem_resolve (problem)");
}

static void test_old_caller_plan(void **state) {
    (void)state;
    guarded_problem_t g;
    init_0_1(&g);
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, (const tconv_problem_t *)&g.p, "cpu");
    if (st != tconv_success)
        fail_msg("plan of a 0.1 problem: %s", tconv_get_last_error());
    guarded_canonical_t out;
    memset(&out, 0x5A, sizeof out);
    assert_int_equal((tconv_plan_get_canonical)(plan, (tconv_canonical_t *)&out.c), tconv_success);
    expect_guard(out.guard, 0x5A, "tconv_plan_get_canonical");
    assert_int_equal(out.c.struct_size, sizeof out.c);
    assert_int_equal(out.c.in_channels, 3);
    /* The new header's macro: the whole struct, passes included. */
    tconv_canonical_t full;
    memset(&full, 0, sizeof full);
    assert_int_equal(tconv_plan_get_canonical(plan, &full), tconv_success);
    assert_int_equal(full.struct_size, sizeof full);
    assert_int_equal(full.passes, TCONV_PASS_FORWARD);
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
}

/* The new header: sizeof(tconv_problem_t), passes set; a newer caller's
 * larger struct is zeroed past what this library knows; too small a size is
 * refused by name. */
static void test_sized_init(void **state) {
    (void)state;
    tconv_problem_t p;
    memset(&p, 0xEE, sizeof p);
    assert_int_equal(tconv_problem_init(&p, 3), tconv_success);
    assert_int_equal(p.struct_size, sizeof p);
    assert_int_equal(p.passes, TCONV_PASS_FORWARD);

    unsigned char bigger[sizeof(tconv_problem_t) + 32];
    memset(bigger, 0xEE, sizeof bigger);
    assert_int_equal(tconv_problem_init_sized((tconv_problem_t *)bigger, sizeof bigger, 1),
                     tconv_success);
    assert_int_equal(((tconv_problem_t *)bigger)->struct_size, sizeof bigger);
    for (size_t i = sizeof(tconv_problem_t); i < sizeof bigger; i++)
        assert_int_equal(bigger[i], 0);
    tconv_canonical_t c;
    assert_int_equal(tconv_problem_resolve((tconv_problem_t *)bigger, &c), tconv_success);

    assert_int_equal(tconv_problem_init_sized(&p, sizeof(size_t), 3), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "struct_size"));
    tconv_problem_init(&p, 3);
    assert_int_equal(tconv_problem_resolve_sized(&p, &c, 16), tconv_invalid_arguments);
    assert_true(tc_contains(tconv_get_last_error(), "resolved"));
}

/* A zeroed struct of @p size_0_1 bytes followed by guard bytes, as a 0.1
 * caller's zero-initialised struct lies in its memory. */
typedef struct zeroed_0_1 {
    unsigned char bytes[2048];
    size_t size_0_1;
} zeroed_0_1_t;

static void *zeroed_0_1(zeroed_0_1_t *z, size_t size_0_1) {
    assert_true(size_0_1 + GUARD <= sizeof z->bytes);
    memset(z->bytes, 0, size_0_1);
    memset(z->bytes + size_0_1, 0xC3, sizeof z->bytes - size_0_1);
    z->size_0_1 = size_0_1;
    return z->bytes;
}

static void expect_zeroed_guard(const zeroed_0_1_t *z, const char *what) {
    size_t written;
    memcpy(&written, z->bytes, sizeof written);
    assert_int_equal(written, z->size_0_1); /* struct_size says what was written */
    for (size_t i = z->size_0_1; i < sizeof z->bytes; i++)
        if (z->bytes[i] != 0xC3)
            fail_msg("%s: byte %zu past the 0.1 size %zu was written", what, i, z->size_0_1);
}

/* struct_size 0 (a zero-initialised struct of an old caller) writes the 0.1
 * size of the device info and plugin report, and no byte more. */
static void test_zero_struct_size_means_0_1_size(void **state) {
    (void)state;
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    zeroed_0_1_t z;
    void *info = zeroed_0_1(&z, offsetof(tconv_device_info_t, has_fp16) + sizeof(uint32_t));
    assert_int_equal(tconv_context_get_device_info(ctx, 0, info), tconv_success);
    expect_zeroed_guard(&z, "device info");
    void *report = zeroed_0_1(&z, offsetof(tconv_plugin_report_t, device_count) + sizeof(size_t));
    assert_int_equal(tconv_context_get_plugin_report(ctx, 0, report), tconv_success);
    expect_zeroed_guard(&z, "plugin report");
    tconv_context_destroy(ctx);
}

int main(void) {
    tc_clean_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_match),
        cmocka_unit_test(test_old_caller_problem_and_resolve),
        cmocka_unit_test(test_old_caller_plan),
        cmocka_unit_test(test_sized_init),
        cmocka_unit_test(test_zero_struct_size_means_0_1_size),
    };
    return cmocka_run_group_tests_name("struct_abi", tests, NULL, NULL);
}
