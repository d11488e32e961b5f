/* SPDX-License-Identifier: Apache-2.0 */
/* Measured selection between CPU-class devices (core/measure.c): with two
 * or more CPU-class devices (the native backend and PoCL), `auto` measures
 * them on the problem, keeps the winner's plan, remembers the decision in
 * TCONV_CACHE_DIR/selection-v2.tsv and in the context, ignores corrupt
 * lines, and obeys TCONV_SELECT=model / measure. With a single CPU device
 * nothing is measured. A FIFO or directory at the file's path is no cache.
 * Each test uses its own fresh cache directory.
 *
 *   test_selection_measure --part measured|single
 *
 * "measured" needs two CPU-class devices (the native backend and PoCL): with
 * fewer it exits 77 (ctest: Skipped; a failure under CI=true). "single"
 * (one CPU device left by the selector: nothing measured) runs anywhere. */
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

#include "selection_file.h"
#include "test_support.h"

static char cache_root[4096];
static char cache_dir[4200];
static char cache_file[4300];
static int cpu_devices;
static char cpu_ids[8][64]; /* the first CPU-class device ids, in listing order */

/* A fresh, empty cache directory for the calling test. */
static void use_fresh_cache_dir(void) {
    static int serial;
    snprintf(cache_dir, sizeof cache_dir, "%s/case%d", cache_root, ++serial);
    assert_int_equal(mkdir(cache_dir, 0700), 0);
    snprintf(cache_file, sizeof cache_file, "%s/" TC_SELECTION_FILE_NAME, cache_dir);
    setenv("TCONV_CACHE_DIR", cache_dir, 1);
    unsetenv("TCONV_SELECT");
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* The whole file as a string (malloc'd; "" when missing). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    if (f != NULL) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static void spit(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static tconv_context_t new_context(void) {
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    return ctx;
}

/* Plans @p p with "auto" and returns the device id and reason. */
static void plan_auto(tconv_context_t ctx, const tconv_problem_t *p, char *id, size_t id_size,
                      char *reason, size_t reason_size) {
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, p, "auto");
    if (st != tconv_success)
        fail_msg("plan_create(auto): %s", tconv_get_last_error());
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    assert_int_equal(tconv_plan_get_device_info(plan, &info), tconv_success);
    snprintf(id, id_size, "%s", info.id);
    snprintf(reason, reason_size, "%s", tconv_plan_get_selection_reason(plan));
    tconv_plan_destroy(plan);
    print_message("auto -> %s: %s\n", id, reason);
}

/* Start of every test of the "measured" part (main made sure of two
 * CPU-class devices): a fresh cache directory and the small problem. */
static void begin_two_cpu_case(tconv_problem_t *p) {
    assert_true(cpu_devices >= 2);
    use_fresh_cache_dir();
    tc_small_problem(p, tconv_f32);
    /* The small problem is below the default threshold: measure it anyway. */
    setenv("TCONV_SELECT_MIN_MS", "0", 1);
}

/* By default a problem estimated under 1 ms is not worth a measurement (it
 * may cost an OpenCL kernel build): the native backend is taken. */
static void test_tiny_problem_prefers_native_unmeasured(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    unsetenv("TCONV_SELECT_MIN_MS");
    tconv_context_t ctx = new_context();
    char id[64], reason[4096];
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_string_equal(id, "cpu:0");
    assert_true(tc_contains(reason, "too small to pay for a measurement"));
    assert_false(file_exists(cache_file));
    tconv_context_destroy(ctx);
}

/* First plan measures (and its kept plan computes the right result), writes
 * the file; the same context then remembers it in process. */
static void test_first_plan_measures_and_caches(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    tconv_context_t ctx = new_context();

    /* The measured winner's plan is the one the user gets: check its result. */
    tc_rng_t rng;
    tc_rng_seed(&rng, 42);
    tc_tensors_t t;
    char msg[1024];
    assert_int_equal(tc_tensors_make(&p, &rng, &t, msg, sizeof msg), 0);
    tc_tensors_poison_output(&t);
    if (tc_run_plan(ctx, "auto", &p, &t, msg, sizeof msg) != tconv_success)
        fail_msg("%s", msg);
    int64_t worst;
    double err = tc_tensors_max_error(&t, &worst);
    if (!(err <= tc_tolerance(tconv_f32)))
        fail_msg("measured winner's plan: error %g at %lld", err, (long long)worst);
    tc_tensors_free(&t);
    assert_true(file_exists(cache_file));

    char id[64], reason[4096];
    /* The process's cache answers, unless the first measurement was a close
     * call (under a 20 % lead: on a loaded host this small problem's two
     * devices can come that close), which the selector measures again. */
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    if (!tc_contains(reason, "from cache in this process") &&
        !tc_contains(reason, "measured again: a close call"))
        fail_msg("the second plan neither read the process's cache nor measured a close call "
                 "again: %s",
                 reason);

    char *text = slurp(cache_file);
    assert_non_null(strchr(text, '\n'));
    assert_null(strchr(strchr(text, '\n') + 1, '\n')); /* exactly one line */
    char winner[80];
    snprintf(winner, sizeof winner, "\t%s\t", id);
    assert_true(tc_contains(text, winner));
    free(text);
    tconv_context_destroy(ctx);
}

/* A new context finds the decision in the file and picks the same device;
 * select_device agrees with plan_create. A close call (the winner led by
 * under 20 %: on a loaded machine the two devices' times of this small
 * problem can come that close) is measured again by the next contexts, at
 * most 3 measurements in all; then the file's decision is final. */
static void test_second_context_reads_file(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    char first_id[64], second_id[64], reason[4096];
    tconv_context_t ctx = new_context();
    plan_auto(ctx, &p, first_id, sizeof first_id, reason, sizeof reason);
    assert_true(tc_contains(reason, "measured "));
    assert_true(tc_contains(reason, "cached in "));
    assert_true(tc_contains(reason, "for this problem"));
    tconv_context_destroy(ctx);

    for (int measurements = 1;; measurements++) {
        ctx = new_context();
        plan_auto(ctx, &p, second_id, sizeof second_id, reason, sizeof reason);
        if (tc_contains(reason, "(from cache "))
            break;
        if (!tc_contains(reason, "measured again: a close call") || measurements >= 3)
            fail_msg("context %d neither read the file nor measured a close call again: %s",
                     measurements + 1, reason);
        snprintf(first_id, sizeof first_id, "%s", second_id); /* the latest decision */
        tconv_context_destroy(ctx);
    }
    assert_string_equal(first_id, second_id);
    assert_true(tc_contains(reason, "(from cache "));
    assert_false(tc_contains(reason, "in this process"));
    char chosen_text[80];
    snprintf(chosen_text, sizeof chosen_text, "chose %s.", first_id);
    assert_true(tc_contains(reason, chosen_text));
    tconv_context_destroy(ctx);

    ctx = new_context();
    size_t chosen = SIZE_MAX;
    assert_int_equal(tconv_context_select_device(ctx, &p, NULL, &chosen, reason, sizeof reason),
                     tconv_success);
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    assert_int_equal(tconv_context_get_device_info(ctx, chosen, &info), tconv_success);
    assert_string_equal(info.id, first_id);
    assert_true(tc_contains(reason, "(from cache "));
    tconv_context_destroy(ctx);
}

/* Garbage and a tampered copy of the real line are ignored (the tampered one
 * names the loser as winner), then dropped when the file is rewritten. */
static void test_corrupt_file_is_ignored(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    char id[64], reason[4096];
    tconv_context_t ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    tconv_context_destroy(ctx);

    char *line = slurp(cache_file);
    /* Swap the winner field for another id, keeping the old checksum. */
    char *tab1 = strchr(line, '\t');
    assert_non_null(tab1);
    char *tab2 = strchr(tab1 + 1, '\t');
    assert_non_null(tab2);
    const char *other = strcmp(id, cpu_ids[0]) == 0 ? cpu_ids[1] : cpu_ids[0];
    char tampered[8192];
    snprintf(tampered, sizeof tampered, "%.*s\t%s%s", (int)(tab1 - line), line, other, tab2);
    char corrupt[16384];
    snprintf(corrupt, sizeof corrupt,
             "garbage without tabs\n\t\t\t\nkey\tcpu:0\tcpu:0=abc,opencl:0=1\t0123456789abcdef\n"
             "%s%.*s\n",
             tampered, (int)(strlen(line) / 2), line);
    spit(cache_file, corrupt);
    free(line);

    ctx = new_context();
    char again[64];
    plan_auto(ctx, &p, again, sizeof again, reason, sizeof reason);
    assert_false(tc_contains(reason, "from cache"));
    assert_true(tc_contains(reason, "measured "));
    tconv_context_destroy(ctx);

    char *text = slurp(cache_file);
    assert_false(tc_contains(text, "garbage"));
    assert_false(tc_contains(text, "abc"));
    assert_non_null(strchr(text, '\n'));
    assert_null(strchr(strchr(text, '\n') + 1, '\n')); /* only the fresh line is left */
    free(text);
}

/* Writes a well-checksummed line for @p key naming @p winner with the times
 * of the two devices, as the core writes them: measured now, and as often as
 * a close call ever is (so a near tie is trusted, not measured again). */
static void write_line(const char *key, const char *winner, double t0, double t1) {
    char text[8300];
    assert_int_equal(tc_selection_line(text, sizeof text, key, winner, cpu_ids[0], t0, cpu_ids[1],
                                       t1, (int64_t)time(NULL), 3),
                     0);
    spit(cache_file, text);
}

/* A line whose winner is much slower than another device is never trusted,
 * even with a good checksum; a host-native winner within 5% is (a near tie
 * goes to the native backend), and the reason says so. */
static void test_winner_must_be_fastest_or_native_tie(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    char id[64], reason[4096];
    tconv_context_t ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    tconv_context_destroy(ctx);
    char *text = slurp(cache_file);
    char *tab = strchr(text, '\t');
    assert_non_null(tab);
    *tab = '\0'; /* text is now the key */

    write_line(text, cpu_ids[0], 2e-3, 1e-3); /* cpu_ids[0] "won" at twice the time */
    ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_false(tc_contains(reason, "from cache"));
    tconv_context_destroy(ctx);

    if (strcmp(cpu_ids[0], "cpu:0") == 0) { /* the native backend is listed first */
        write_line(text, "cpu:0", 1.04e-3, 1e-3);
        ctx = new_context();
        plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
        assert_string_equal(id, "cpu:0");
        assert_true(tc_contains(reason, "from cache"));
        assert_true(tc_contains(reason, "within 5%: the native backend is preferred"));
        tconv_context_destroy(ctx);
    }
    free(text);
}

/* TCONV_SELECT=model never measures nor writes; =measure measures although
 * the file has the answer; TCONV_CACHE_DIR=off still measures. */
static void test_select_modes(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    char id[64], reason[4096];

    setenv("TCONV_SELECT", "model", 1);
    tconv_context_t ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_false(tc_contains(reason, "measured"));
    assert_true(tc_contains(reason, "measurement skipped: TCONV_SELECT=model"));
    assert_false(file_exists(cache_file));
    tconv_context_destroy(ctx);

    unsetenv("TCONV_SELECT");
    ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_true(tc_contains(reason, "cached in "));
    tconv_context_destroy(ctx);

    setenv("TCONV_SELECT", "measure", 1);
    ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_false(tc_contains(reason, "from cache"));
    assert_true(tc_contains(reason, "cached in "));
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason); /* not even in process */
    assert_false(tc_contains(reason, "from cache"));
    tconv_context_destroy(ctx);
    unsetenv("TCONV_SELECT");

    setenv("TCONV_CACHE_DIR", "off", 1);
    ctx = new_context();
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_true(tc_contains(reason, "measured "));
    assert_true(tc_contains(reason, "not cached on disk: TCONV_CACHE_DIR=off"));
    tconv_context_destroy(ctx);
    setenv("TCONV_CACHE_DIR", cache_dir, 1);
}

/* Explicit ids, a NULL problem and a problem too large to measure keep the
 * model's ranking. */
static void test_no_measurement_where_not_wanted(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    tconv_context_t ctx = new_context();
    size_t chosen;
    char reason[4096];
    assert_int_equal(tconv_context_select_device(ctx, NULL, NULL, &chosen, reason, sizeof reason),
                     tconv_success);
    assert_false(tc_contains(reason, "measure"));
    char list[200];
    snprintf(list, sizeof list, "%s,%s", cpu_ids[1], cpu_ids[0]);
    assert_int_equal(tconv_context_select_device(ctx, &p, list, &chosen, reason, sizeof reason),
                     tconv_success);
    assert_false(tc_contains(reason, "measure"));

    /* 64 channels of 64^3 in, 64 of 128^3 out: 576 MiB of f32 tensors. */
    tconv_problem_t big;
    assert_int_equal(tconv_problem_init(&big, 3), tconv_success);
    big.in_channels = big.out_channels = 64;
    for (int i = 0; i < 3; i++) {
        big.input_size[i] = 64;
        big.kernel_size[i] = 2;
        big.strides[i] = 2;
    }
    assert_int_equal(tconv_context_select_device(ctx, &big, NULL, &chosen, reason, sizeof reason),
                     tconv_success);
    print_message("big problem: %s\n", reason);
    if (tc_contains(reason, "declined: none.")) /* both accepted: they were compared */
        assert_true(tc_contains(reason, "MiB, more than the 256 MiB limit"));
    assert_false(tc_contains(reason, "measured"));
    assert_false(file_exists(cache_file));
    tconv_context_destroy(ctx);
}

/* Plans @p p with auto while something of file type @p type (S_IFIFO,
 * S_IFDIR) stands where the cache file belongs: the plan is measured, not
 * cached, and that thing stays. */
static void expect_measured_not_cached(const tconv_problem_t *p, mode_t type) {
    alarm(60); /* a blocking open must fail the test, not hang it */
    tconv_context_t ctx = new_context();
    char id[64], reason[4096];
    plan_auto(ctx, p, id, sizeof id, reason, sizeof reason);
    tconv_context_destroy(ctx);
    alarm(0);
    assert_true(tc_contains(reason, "measured "));
    assert_true(tc_contains(reason, "not cached on disk"));
    assert_true(tc_contains(reason, "is not a regular file"));
    struct stat st;
    assert_int_equal(stat(cache_file, &st), 0);
    assert_int_equal(st.st_mode & S_IFMT, type);
}

/* Something other than a regular file where the cache file belongs is no
 * cache: a FIFO would block the first read until some writer came (forever),
 * and neither it nor a directory may be replaced. */
static void test_non_regular_cache_file_is_no_cache(void **state) {
    (void)state;
    tconv_problem_t p;
    begin_two_cpu_case(&p);
    assert_int_equal(mkfifo(cache_file, 0600), 0);
    expect_measured_not_cached(&p, S_IFIFO);
    assert_int_equal(unlink(cache_file), 0);
    assert_int_equal(mkdir(cache_file, 0700), 0);
    expect_measured_not_cached(&p, S_IFDIR);
}

/* One CPU-class device: nothing to compare, so nothing is measured. */
static void test_single_cpu_device_not_measured(void **state) {
    (void)state;
    use_fresh_cache_dir();
    char only_first[600] = "auto";
    for (int i = 1; i < cpu_devices && i < 8; i++)
        snprintf(only_first + strlen(only_first), sizeof only_first - strlen(only_first), ",-%s",
                 cpu_ids[i]);
    setenv("TCONV_DEVICE", only_first, 1);
    tconv_context_t ctx = new_context();
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    char id[64], reason[4096];
    plan_auto(ctx, &p, id, sizeof id, reason, sizeof reason);
    assert_false(tc_contains(reason, "measure"));
    assert_false(file_exists(cache_file));
    tconv_context_destroy(ctx);
    unsetenv("TCONV_DEVICE");
}

/* The tests that compare two CPU-class devices. */
static int run_measured_part(void) {
    if (cpu_devices < 2)
        return tc_cannot_run("only %d CPU-class device(s), nothing to measure: PoCL (opencl:0) "
                             "is missing",
                             cpu_devices);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_plan_measures_and_caches),
        cmocka_unit_test(test_tiny_problem_prefers_native_unmeasured),
        cmocka_unit_test(test_second_context_reads_file),
        cmocka_unit_test(test_corrupt_file_is_ignored),
        cmocka_unit_test(test_winner_must_be_fastest_or_native_tie),
        cmocka_unit_test(test_select_modes),
        cmocka_unit_test(test_no_measurement_where_not_wanted),
        cmocka_unit_test(test_non_regular_cache_file_is_no_cache),
    };
    return cmocka_run_group_tests_name("selection_measure_measured", tests, NULL, NULL);
}

static int run_single_part(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_cpu_device_not_measured),
    };
    return cmocka_run_group_tests_name("selection_measure_single", tests, NULL, NULL);
}

int main(int argc, char **argv) {
    tc_clean_environment();
    const char *part = argc == 3 && strcmp(argv[1], "--part") == 0 ? argv[2] : "";
    if (strcmp(part, "measured") != 0 && strcmp(part, "single") != 0) {
        fprintf(stderr, "usage: %s --part measured|single\n", argv[0]);
        return 2;
    }
    const char *base = getenv("TMPDIR");
    snprintf(cache_root, sizeof cache_root, "%s/tconv-select-XXXXXX",
             base && base[0] ? base : "/tmp");
    if (mkdtemp(cache_root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TCONV_CACHE_DIR", cache_root, 1);
    tconv_context_t ctx = new_context();
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success &&
            info.type == tconv_device_cpu && cpu_devices < 8)
            snprintf(cpu_ids[cpu_devices++], sizeof cpu_ids[0], "%s", info.id);
    }
    tconv_context_destroy(ctx);
    int rc = strcmp(part, "measured") == 0 ? run_measured_part() : run_single_part();
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cache_root);
    return rc;
}
