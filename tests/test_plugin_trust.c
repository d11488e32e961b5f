/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin files and directories other users could write are never loaded:
 * a directory on the search path that is world-writable (even with the
 * sticky bit: anyone could add a tconv_backend_*.so), a plugin file that is
 * world-writable or owned by another user (not root), a plugin file in a
 * world-writable directory without the sticky bit. Each is reported failed
 * with tconv_plugin_insecure and a message naming the path and the rule;
 * the same plugin copied into a private directory loads.
 *
 *   test_plugin_trust --part modes|owner
 *
 * Two ctest entries: plugin_trust (modes: world-writable files and
 * directories) and plugin_trust_owner (a file of another user), which needs
 * root to give the file away and exits 77 without it (a failure under
 * CI=true, which runs as root: tc_cannot_run). */
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

#include "temp_dir.h"
#include "test_support.h"

#define SOURCE_PLUGIN TCONV_TEST_PLUGIN_DIR "/tconv_backend_decliner.so"

static char work[4096];
static char dir[4200];  /* holds the plugin copy */
static char file[4300]; /* dir/tconv_backend_decliner.so */

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static int setup(void **state) {
    (void)state;
    tc_clean_environment();
    if (tc_temp_dir_create(work, sizeof work, "trust") != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/plugins", work);
    snprintf(file, sizeof file, "%s/tconv_backend_decliner.so", dir);
    if (mkdir(dir, 0700) != 0)
        return -1;
    copy_file(SOURCE_PLUGIN, file);
    return chmod(file, 0755);
}

static int teardown(void **state) {
    (void)state;
    chmod(dir, 0700);
    return tc_temp_dir_remove(work);
}

/* The report for @p path (exact), which must exist. */
static void report_for(tconv_context_t ctx, const char *path, tconv_plugin_report_t *r) {
    size_t count = 0;
    tconv_context_get_plugin_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        memset(r, 0, sizeof *r);
        r->struct_size = sizeof *r;
        assert_int_equal(tconv_context_get_plugin_report(ctx, i, r), tconv_success);
        if (strcmp(r->path, path) == 0)
            return;
    }
    fail_msg("no plugin report for %s", path);
}

/* A context made with @p search_path and the environment as it is: the
 * report for @p path is refused as insecure with @p words in its message,
 * or (@p words NULL) the plugin loaded. */
static void expect(const char *search_path, const char *path, const char *words) {
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, search_path), tconv_success);
    tconv_plugin_report_t r;
    report_for(ctx, path, &r);
    print_message("%s: state %d reason %d: %s\n", path, r.state, r.reason, r.message);
    if (words == NULL) {
        assert_int_equal(r.state, tconv_plugin_loaded);
        assert_true(tc_has_device(ctx, "decliner:0"));
    } else {
        assert_int_equal(r.state, tconv_plugin_failed);
        assert_int_equal(r.reason, tconv_plugin_insecure);
        if (!tc_contains(r.message, words))
            fail_msg("report for %s: message \"%s\" lacks \"%s\"", path, r.message, words);
        assert_false(tc_has_device(ctx, "decliner:0"));
    }
    tconv_context_destroy(ctx);
}

/* expect() with the environment variable @p name set to @p value. */
static void expect_with_env(const char *name, const char *value, const char *path,
                            const char *words) {
    setenv(name, value, 1);
    expect(NULL, path, words);
    unsetenv(name);
}

static void test_private_copy_loads(void **state) {
    (void)state;
    expect(dir, file, NULL);
    expect(file, file, NULL);
}

static void test_world_writable_directory_is_not_searched(void **state) {
    (void)state;
    assert_int_equal(chmod(dir, 0777), 0);
    expect(dir, dir, "writable by every user");
    expect_with_env("TCONV_PLUGIN_PATH", dir, dir, "writable by every user");
    /* The file named directly: its directory lets anyone replace it. */
    expect_with_env("TCONV_PLUGINS", file, file, "the plugin file's directory");
    /* Sticky (as /tmp): others cannot replace the file, but could add one. */
    assert_int_equal(chmod(dir, 01777), 0);
    expect(file, file, NULL);
    expect(dir, dir, "writable by every user");
    assert_int_equal(chmod(dir, 0700), 0);
}

static void test_world_writable_file_is_refused(void **state) {
    (void)state;
    assert_int_equal(chmod(file, 0666), 0);
    expect(dir, file, "writable by every user");
    expect_with_env("TCONV_PLUGINS", file, file, "writable by every user");
    assert_int_equal(chmod(file, 0755), 0);
}

/* Needs root to give the file away (main checks). */
static void test_file_of_another_user_is_refused(void **state) {
    (void)state;
    assert_int_equal(chown(file, 65534, 65534), 0);
    expect(dir, file, "owned by uid 65534");
    assert_int_equal(chown(file, 0, 0), 0);
    expect(dir, file, NULL);
}

int main(int argc, char **argv) {
    const int part = tc_part(argc, argv, "modes|owner", NULL);
    if (part < 0)
        return 2;
    if (part == 1) {
        if (geteuid() != 0)
            return tc_cannot_run("not root: the plugin copy cannot be given to another user");
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_file_of_another_user_is_refused),
        };
        return cmocka_run_group_tests_name("plugin_trust_owner", tests, setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_copy_loads),
        cmocka_unit_test(test_world_writable_directory_is_not_searched),
        cmocka_unit_test(test_world_writable_file_is_refused),
    };
    return cmocka_run_group_tests_name("plugin_trust", tests, setup, teardown);
}
