/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's contract on bad input and the other commands:
 *   - every bad argument or bad .npy exits 2 with a message naming the
 *     argument (missing --input, bad or miscounted --strides, unknown
 *     activation or padding, channel mismatch, truncated file, bad magic,
 *     lying header, header length too short, a dimension beyond int64,
 *     big-endian, integer dtype, Fortran order, a FIFO as input);
 *   - a device that does not exist exits 3; so does a full disk or quota
 *     when creating the output (tests/fault_inject.c makes the creation
 *     of the temporary file fail);
 *   - each allocation of the CLI failing in turn gives exit 0 or exit 4 with
 *     an "out of memory" message, never a silent 4;
 *   - SIGTERM while the output is being written leaves no temporary file;
 *   - an existing output file is left byte-identical by a failed run;
 *   - --output naming a device (/dev/null) or a symbolic link writes through
 *     it, leaving the device and the link in place; an existing file's mode
 *     (0600) is kept; a 250-byte output name works;
 *   - every message of a bad argument names the argument and states the
 *     rule it broke;
 *   - `tconv devices` (text and --json) lists the library's devices with
 *     the library's values (ids, types, memory, dtypes, flags), auto names
 *     one of them, the plugins' device counts add up; `tconv demo` passes;
 *     `tconv bench --json` gives the layer's FLOPs and shapes, positive
 *     times in order, and GFLOP/s = FLOPs / median time. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <tconv/tconv_backend.h>

#include "json_value.h"
#include "npy_test_io.h"
#include "process.h"
#include "test_support.h"

static char dir[256];
static char x_ok[300], w_ok[300], w_mismatch[300], out_path[300];

#define PATH(buf, name) snprintf(buf, sizeof buf, "%s/%s", dir, name)

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tconv_cli_errors_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    /* x: (1, 4, 4, 2) channels_last 2-D; w keras (3, 3, 3, 2); mismatch Cin 5. */
    double values[1024];
    for (int i = 0; i < 1024; i++)
        values[i] = (i % 17) * 0.125 - 1;
    const int64_t xs[4] = {1, 4, 4, 2}, ws[4] = {3, 3, 3, 2}, wm[4] = {3, 3, 3, 5};
    PATH(x_ok, "x.npy");
    PATH(w_ok, "w.npy");
    PATH(w_mismatch, "w_mismatch.npy");
    PATH(out_path, "y.npy");
    return tn_write(x_ok, 4, xs, 4, values) || tn_write(w_ok, 4, ws, 4, values) ||
                   tn_write(w_mismatch, 4, wm, 4, values)
               ? -1
               : 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A precious existing output file; returns its bytes for a later check. */
static void plant_output(void) {
    FILE *f = fopen(out_path, "wb");
    assert_non_null(f);
    fputs("precious bytes that a failed run must not touch\n", f);
    fclose(f);
}

static void expect_output_untouched(const char *what) {
    unsigned char *bytes;
    size_t size;
    assert_int_equal(tn_read_file(out_path, &bytes, &size), 0);
    const char *want = "precious bytes that a failed run must not touch\n";
    if (size != strlen(want) || memcmp(bytes, want, size) != 0)
        fail_msg("%s: the existing output file was modified (%zu bytes now)", what, size);
    free(bytes);
    /* No temporary file left next to it either. */
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "test $(ls -A '%s' | grep -v -e '^x.npy$' -e '^w.npy$' "
             "-e '^w_mismatch.npy$' -e '^y.npy$' -e '^bad' | wc -l) = 0",
             dir);
    if (system(cmd) != 0)
        fail_msg("%s: a stray file was left in %s", what, dir);
}

/* `tconv run` with @p extra arguments must exit @p code with a message on
 * stderr that names @p argument (the option, file or field at fault) and
 * states @p rule (what it broke), leaving the planted output untouched. */
static void expect_run_fails(int code, const char *argument, const char *rule, const char *input,
                             const char *kernel, char *extra1, char *extra2, char *extra3) {
    plant_output();
    char *out, *err;
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)TCONV_TEST_CLI;
    argv[n++] = "run";
    if (input) {
        argv[n++] = "--input";
        argv[n++] = (char *)input;
    }
    argv[n++] = "--kernel";
    argv[n++] = (char *)kernel;
    argv[n++] = "--output";
    argv[n++] = out_path;
    char *extra[3] = {extra1, extra2, extra3};
    for (int i = 0; i < 3; i++)
        if (extra[i])
            argv[n++] = extra[i];
    argv[n] = NULL;
    char cmdline[2048];
    tp_format(argv, cmdline, sizeof cmdline);
    int rc = tp_run(argv, &out, &err);
    if (rc != code || !tc_contains(err, argument) || !tc_contains(err, rule))
        fail_msg("%s\n  exit %d (want %d), stderr \"%s\" (want it to name \"%s\" and say \"%s\")",
                 cmdline, rc, code, err ? err : "", argument, rule);
    print_message("exit %d: %s", rc, err);
    free(out);
    free(err);
    expect_output_untouched(cmdline);
}

static void test_sanity_run_succeeds(void **state) {
    (void)state;
    char *out, *err;
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "run", "--input", x_ok, "--kernel", w_ok,
                         "--output", out_path, "--strides", "2", "--padding", "same", NULL);
    if (rc != 0)
        fail_msg("the good run failed: exit %d: %s", rc, err);
    free(out);
    free(err);
}

static void test_bad_arguments_exit_2(void **state) {
    (void)state;
    expect_run_fails(2, "--input", "is required", NULL, w_ok, NULL, NULL, NULL);
    expect_run_fails(2, "--strides", "value 0 must be >= 1", x_ok, w_ok, "--strides", "0", NULL);
    expect_run_fails(2, "--strides", "'two' is not an integer", x_ok, w_ok, "--strides", "two",
                     NULL);
    expect_run_fails(2, "--strides", "expected 1 or 2 values, got 3", x_ok, w_ok, "--strides",
                     "1,2,3", NULL); /* 2-D input */
    expect_run_fails(2, "--strides", "value -1 must be >= 1", x_ok, w_ok, "--strides", "-1", NULL);
    expect_run_fails(2, "--dilation-rate", "value 0 must be >= 1", x_ok, w_ok, "--dilation-rate",
                     "1,0", NULL);
    expect_run_fails(2, "--activation", "'frobnicate' is unknown; accepted: linear", x_ok, w_ok,
                     "--activation", "frobnicate", NULL);
    expect_run_fails(2, "--padding", "expected valid, same or integers, got 'sideways'", x_ok, w_ok,
                     "--padding", "sideways", NULL);
    expect_run_fails(2, "--padding", "expected 1, 2 or 4 values, got 3", x_ok, w_ok, "--padding",
                     "1,2,3", NULL); /* 3 for 2-D */
    expect_run_fails(2, "--groups", "value 0 must be >= 1", x_ok, w_ok, "--groups", "0", NULL);
    expect_run_fails(2, "--data-format", "expected channels_last or channels_first", x_ok, w_ok,
                     "--data-format", "nhwc_please", NULL);
    expect_run_fails(2, "--dtype", "expected float32 or float64, got 'int8'", x_ok, w_ok, "--dtype",
                     "int8", NULL);
    expect_run_fails(2, "--kernel",
                     "in_channels 5 (last axis, keras layout) does not match --input channels 2",
                     x_ok, w_mismatch, NULL, NULL, NULL);
    expect_run_fails(2, "'--no-such-option'", "unknown option", x_ok, w_ok, "--no-such-option", "1",
                     NULL);
    /* Keras rule through the CLI: output_padding must be < strides. */
    expect_run_fails(2, "output_padding[0] = 2", "must be < strides[0] = 2", x_ok, w_ok,
                     "--output-padding", "2", "--strides=2");
}

/* Writes bad file @p name with header dict @p dict and @p data_bytes of data. */
static const char *bad_file(const char *name, const char *dict, size_t data_bytes) {
    static char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *data = calloc(1, data_bytes + 1);
    assert_int_equal(tn_write_raw(path, dict, data, data_bytes), 0);
    free(data);
    return path;
}

static void test_bad_npy_files_exit_2(void **state) {
    (void)state;
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 4, 2), }";
    /* Truncated: 31 of 32 floats. */
    expect_run_fails(2, "--input", "needs 128 data bytes but the file has 124",
                     bad_file("bad_truncated.npy", good, 31 * 4), w_ok, NULL, NULL, NULL);
    /* Lying header: far more elements than the file holds (must not allocate them). */
    expect_run_fails(
        2, "--input", "needs 80000000000000 data bytes but the file has 128",
        bad_file("bad_lying.npy",
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 1000, 2), }",
                 128),
        w_ok, NULL, NULL, NULL);
    expect_run_fails(2, "--input", "dtype '>f4' is big-endian",
                     bad_file("bad_big_endian.npy",
                              "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 4, 4, 2), }",
                              128),
                     w_ok, NULL, NULL, NULL);
    expect_run_fails(2, "--input", "unsupported dtype '<i4'",
                     bad_file("bad_int.npy",
                              "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 4, 4, 2), }",
                              128),
                     w_ok, NULL, NULL, NULL);
    expect_run_fails(2, "--input", "fortran_order is True: only C-order",
                     bad_file("bad_fortran.npy",
                              "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 4, 4, 2), }",
                              128),
                     w_ok, NULL, NULL, NULL);
    expect_run_fails(2, "--input", "header 'shape' is not a tuple of integers",
                     bad_file("bad_garbage_header.npy", "{'descr': '<f4', 'shape': (1, 4", 128),
                     w_ok, NULL, NULL, NULL);
    /* Bad magic: a text file. */
    char path[300];
    PATH(path, "bad_magic.npy");
    FILE *f = fopen(path, "wb");
    fputs("this is not numpy data at all, just some text long enough to be read", f);
    fclose(f);
    expect_run_fails(2, "--input", "bad magic: not a NumPy .npy file", path, w_ok, NULL, NULL,
                     NULL);
    /* Empty file and a missing file. */
    PATH(path, "bad_empty.npy");
    f = fopen(path, "wb");
    fclose(f);
    expect_run_fails(2, "--input", "bad magic: not a NumPy .npy file", path, w_ok, NULL, NULL,
                     NULL);
    PATH(path, "bad_does_not_exist.npy");
    expect_run_fails(2, "--input", "cannot open: No such file or directory", path, w_ok, NULL, NULL,
                     NULL);
    /* A dimension of 2^65 + 1 (it used to wrap to 1 and the run succeeded). */
    expect_run_fails(
        2, "shape[2] = 36893488147419103233", "does not fit in int64",
        bad_file(
            "bad_dim_2p65.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 36893488147419103233), }", 8),
        w_ok, NULL, NULL, NULL);
    /* Header length 0 with a long tail: refused as too short, not read past. */
    PATH(path, "bad_header_len0.npy");
    f = fopen(path, "wb");
    fwrite("\x93NUMPY\x01\x00\x00\x00", 1, 10, f);
    for (int i = 0; i < 4096; i++)
        fputc('A', f);
    fclose(f);
    expect_run_fails(2, "--input", "header length 0: too short", path, w_ok, NULL, NULL, NULL);
    /* A bad kernel file is named as the kernel. */
    expect_run_fails(2, "--kernel", "needs 128 data bytes but the file has 5", x_ok,
                     bad_file("bad_kernel.npy", good, 5), NULL, NULL, NULL);
}

/* `tconv run` on the good arrays into @p output must exit 0. */
static void expect_run_writes(const char *output) {
    char *out, *err;
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "run", "--input", x_ok, "--kernel", w_ok,
                         "--output", output, NULL);
    if (rc != 0)
        fail_msg("tconv run --output %s: exit %d: %s", output, rc, err);
    free(out);
    free(err);
}

static void expect_null_device(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
        fail_msg("%s is no longer the null character device (mode %o)", path, (unsigned)st.st_mode);
}

static void expect_valid_output(const char *path) {
    double *values = NULL;
    int64_t shape[8];
    int ndim = 0, item = 0;
    char message[256];
    if (tn_read(path, &values, shape, &ndim, &item, message, sizeof message) != 0)
        fail_msg("%s: not the run's output: %s", path, message);
    free(values);
}

/* --output naming a device, a symbolic link or a file with a narrow mode:
 * the device stays a device, the link a link, the mode is kept; a long name. */
static void test_output_targets(void **state) {
    (void)state;
    /* Its own directory: the other tests check theirs for stray files. */
    char targets[64] = "/tmp/tconv_cli_targets_XXXXXX", node[128], link[128], real[128],
         secret[128];
    assert_non_null(mkdtemp(targets));
    /* A private null device first (root only): were it replaced, only this
     * directory would suffer; then /dev/null itself. */
    snprintf(node, sizeof node, "%s/null", targets);
    if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        expect_run_writes(node);
        expect_null_device(node);
    }
    expect_run_writes("/dev/null");
    expect_null_device("/dev/null");

    snprintf(real, sizeof real, "%s/real.npy", targets);
    snprintf(link, sizeof link, "%s/link.npy", targets);
    assert_int_equal(symlink("real.npy", link), 0);
    expect_run_writes(link); /* creates real.npy through the dangling link */
    expect_run_writes(link); /* replaces it */
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    if (!S_ISLNK(st.st_mode))
        fail_msg("--output %s: the symbolic link was replaced by a file", link);
    expect_valid_output(real);

    snprintf(secret, sizeof secret, "%s/secret.npy", targets);
    FILE *f = fopen(secret, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(secret, 0600), 0);
    expect_run_writes(secret);
    assert_int_equal(stat(secret, &st), 0);
    if ((st.st_mode & 07777) != 0600)
        fail_msg("--output %s: mode %o after the run, was 0600", secret,
                 (unsigned)(st.st_mode & 07777));
    expect_valid_output(secret);

    /* A 250-byte name (the temporary name used to be it plus 11 bytes). */
    char long_name[400];
    int n = snprintf(long_name, sizeof long_name, "%s/", targets);
    memset(long_name + n, 'y', 246);
    memcpy(long_name + n + 246, ".npy", 5);
    expect_run_writes(long_name);
    expect_valid_output(long_name);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", targets);
    assert_int_equal(system(cmd), 0);
}

/* --input naming a FIFO exits 2 at once (it used to wait forever for a
 * writer); /usr/bin/timeout turns a hang into exit 124. */
static void test_fifo_input_refused(void **state) {
    (void)state;
    char fifo[300];
    PATH(fifo, "bad_fifo.npy");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    plant_output();
    char *argv[] = {"/usr/bin/timeout",
                    "10",
                    (char *)TCONV_TEST_CLI,
                    "run",
                    "--input",
                    fifo,
                    "--kernel",
                    w_ok,
                    "--output",
                    out_path,
                    NULL};
    char *out, *err;
    int rc = tp_run(argv, &out, &err);
    if (rc != 2 || !tc_contains(err, "--input") || !tc_contains(err, "is a FIFO"))
        fail_msg("--input FIFO: exit %d (want 2; 124 is a hang), stderr \"%s\"", rc,
                 err ? err : "");
    free(out);
    free(err);
    expect_output_untouched("--input FIFO");
}

/* `tconv run` into out_path with tests/fault_inject.c preloaded and the
 * environment variable @p name set to @p value. */
static int run_with_fault(const char *name, const char *value, char **out, char **err) {
    char *argv[] = {(char *)TCONV_TEST_CLI,
                    "run",
                    "--input",
                    x_ok,
                    "--kernel",
                    w_ok,
                    "--output",
                    out_path,
                    NULL};
    tc_preload(TCONV_TEST_FAULT_INJECT); /* in front of a sanitizer's runtime too */
    setenv(name, value, 1);
    int rc = tp_run(argv, out, err);
    unsetenv(name);
    unsetenv("LD_PRELOAD");
    return rc;
}

/* The temporary output file cannot be created: a full disk or quota is a
 * runtime failure (exit 3; it used to be 2), a refused permission a bad
 * argument (exit 2). The existing output stays as it was. */
static void test_output_creation_failures(void **state) {
    (void)state;
    const struct { int err, code; } cases[] = {{ENOSPC, 3}, {EDQUOT, 3}, {EACCES, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plant_output();
        char value[16], *out, *err;
        snprintf(value, sizeof value, "%d", cases[i].err);
        int rc = run_with_fault("TCONV_FAULT_CREATE_ERRNO", value, &out, &err);
        if (rc != cases[i].code || !tc_contains(err, "--output") ||
            !tc_contains(err, strerror(cases[i].err)))
            fail_msg(
                "creating the temporary file failing with %s: exit %d (want %d), stderr \"%s\"",
                strerror(cases[i].err), rc, cases[i].code, err ? err : "");
        print_message("exit %d: %s", rc, err);
        free(out);
        free(err);
        expect_output_untouched("creating the temporary file failing");
    }
}

/* Each allocation the CLI itself makes fails in turn (the first, then only
 * the second, ...): every run either copes or exits 4 with a message (the
 * very first one used to exit 4 silently), never anything else. */
static void test_out_of_memory_always_said(void **state) {
    (void)state;
    int k = 1;
    for (; k <= 200; k++) {
        char value[16], *out, *err;
        snprintf(value, sizeof value, "%d", k);
        int rc = run_with_fault("TCONV_FAULT_ALLOC", value, &out, &err);
        const int past_the_last = tc_contains(err, "failed none");
        if (!tc_contains(err, "fault_inject:"))
            fail_msg("the fault injection module was not loaded: exit %d, stderr \"%s\"", rc,
                     err ? err : "");
        if (past_the_last ? rc != 0 : !(rc == 0 || (rc == 4 && tc_contains(err, "out of memory"))))
            fail_msg("allocation %d failing: exit %d (want 0, or 4 with a message), stderr "
                     "\"%s\"",
                     k, rc, err ? err : "");
        free(out);
        free(err);
        if (past_the_last)
            break;
    }
    assert_true(k > 1 && k <= 200);
    print_message("%d allocations in tconv run, each failed once\n", k - 1);
}

/* Whether @p d holds a temporary output file (".tconv-*"). */
static int holds_temporary(const char *d) {
    DIR *listing = opendir(d);
    assert_non_null(listing);
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(listing)) != NULL;)
        found = strncmp(e->d_name, ".tconv-", 7) == 0;
    closedir(listing);
    return found;
}

/* SIGTERM the moment the temporary output file appears (a 33 MB output, so
 * the write takes a while): the run ends by SIGTERM and leaves no temporary
 * file (a killed run used to leave it at full size). */
static void test_sigterm_while_writing(void **state) {
    (void)state;
    char d[64] = "/tmp/tconv_cli_sigterm_XXXXXX", x[128], w[128], y[128];
    assert_non_null(mkdtemp(d));
    snprintf(x, sizeof x, "%s/x.npy", d);
    snprintf(w, sizeof w, "%s/w.npy", d);
    snprintf(y, sizeof y, "%s/y.npy", d);
    void *zeros = calloc(32 * 32 * 32 * 4, sizeof(float));
    assert_non_null(zeros);
    assert_int_equal(tn_write_raw(x,
                                  "{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (1, 32, 32, 32, 4), }",
                                  zeros, 32 * 32 * 32 * 4 * sizeof(float)),
                     0);
    assert_int_equal(tn_write_raw(w,
                                  "{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (2, 2, 2, 32, 4), }",
                                  zeros, 2 * 2 * 2 * 32 * 4 * sizeof(float)),
                     0);
    free(zeros);
    char *argv[] = {(char *)TCONV_TEST_CLI,
                    "run",
                    "--input",
                    x,
                    "--kernel",
                    w,
                    "--output",
                    y,
                    "--strides",
                    "2",
                    "--device",
                    "cpu",
                    NULL};
    int caught = 0;
    for (int attempt = 0; attempt < 5 && !caught; attempt++) {
        unlink(y);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            execv(argv[0], argv);
            _exit(127);
        }
        int status = 0;
        pid_t done = 0;
        while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
            if (holds_temporary(d)) {
                kill(pid, SIGTERM);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                done = pid;
                /* Killed before the rename: that is the case under test. */
                caught = WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
                break;
            }
            usleep(50);
        }
        assert_int_equal(done, pid);
        if (holds_temporary(d))
            fail_msg("attempt %d: a temporary file was left in %s (status %#x)", attempt, d,
                     status);
    }
    if (!caught)
        fail_msg("the run never showed its temporary file long enough to be killed (5 tries)");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_device_exits_3(void **state) {
    (void)state;
    expect_run_fails(3, "'nosuch:0'", "no such device; devices: cpu:0", x_ok, w_ok, "--device",
                     "nosuch:0", NULL);
    expect_run_fails(3, "'cpu:9'", "no such device; devices: cpu:0", x_ok, w_ok, "--device",
                     "cpu:9", NULL);
}

/* The JSON document @p text, or a test failure naming @p what. */
static tc_json_t *parse_json(const char *what, const char *text) {
    char why[256];
    tc_json_t *doc = tc_json_parse(text, why, sizeof why);
    if (doc == NULL || doc->type != tc_json_object)
        fail_msg("%s: not a JSON object (%s): \"%s\"", what, doc ? "another value" : why, text);
    return doc;
}

/* The number at @p key of @p object, which must be one, in [lo, hi]. */
static double json_number_in(const tc_json_t *object, const char *where, const char *key, double lo,
                             double hi) {
    const tc_json_t *v = tc_json_get_typed(object, key, tc_json_number);
    if (v == NULL)
        fail_msg("%s: \"%s\" is missing or not a number", where, key);
    if (!(v->number >= lo && v->number <= hi))
        fail_msg("%s: \"%s\" = %.17g is outside [%g, %g]", where, key, v->number, lo, hi);
    return v->number;
}

/* The string at @p key of @p object, which must be one. */
static const char *json_string(const tc_json_t *object, const char *where, const char *key) {
    const tc_json_t *v = tc_json_get_typed(object, key, tc_json_string);
    if (v == NULL)
        fail_msg("%s: \"%s\" is missing or not a string", where, key);
    return v->string;
}

/* The boolean at @p key of @p object, which must be one. */
static int json_bool(const tc_json_t *object, const char *where, const char *key) {
    const tc_json_t *v = tc_json_get_typed(object, key, tc_json_bool);
    if (v == NULL)
        fail_msg("%s: \"%s\" is missing or not true/false", where, key);
    return v->number != 0;
}

/* The JSON name of a device class, written here again rather than shared
 * with cli/cmd_devices.c: the test checks the CLI's names. */
static const char *device_type_name(tconv_device_type_t type) {
    switch (type) {
    case tconv_device_cpu:
        return "cpu";
    case tconv_device_gpu:
        return "gpu";
    case tconv_device_accelerator:
        return "accelerator";
    default:
        return "custom";
    }
}

/* One entry of `tconv devices --json` against the library's own view of
 * the device (the same plugins are found by the test and the CLI). */
static void check_json_device(const tc_json_t *d, const tconv_device_info_t *want) {
    char where[128];
    snprintf(where, sizeof where, "tconv devices --json: device %s", want->id);
    const double u64 = 18446744073709551615.0;
    if (strcmp(json_string(d, where, "id"), want->id) ||
        strcmp(json_string(d, where, "backend"), want->backend) ||
        strcmp(json_string(d, where, "name"), want->name) ||
        strcmp(json_string(d, where, "type"), device_type_name(want->type)))
        fail_msg("%s: id, backend, name or type differ from the library's", where);
    if (json_number_in(d, where, "index", 0, 4095) != want->index ||
        json_number_in(d, where, "compute_units", 1, 1e6) != want->compute_units ||
        json_number_in(d, where, "global_mem_bytes", 1, u64) != (double)want->global_mem_bytes)
        fail_msg("%s: index, compute_units or global_mem_bytes differ from the library's", where);
    double max_alloc = json_number_in(d, where, "max_alloc_bytes", 0, u64);
    if (max_alloc > (double)want->global_mem_bytes)
        fail_msg("%s: max_alloc_bytes %.0f exceeds global_mem_bytes %llu", where, max_alloc,
                 (unsigned long long)want->global_mem_bytes);
    json_number_in(d, where, "clock_mhz", 0, 1e5);
    json_number_in(d, where, "local_mem_bytes", 0, u64);
    json_number_in(d, where, "max_work_group_size", 0, u64);
    if (json_bool(d, where, "host_native") != !!(want->flags & TCONV_DEVICE_FLAG_HOST_NATIVE) ||
        json_bool(d, where, "unified_memory") !=
            !!(want->flags & TCONV_DEVICE_FLAG_UNIFIED_MEMORY) ||
        json_bool(d, where, "has_fp16") != !!want->has_fp16)
        fail_msg("%s: host_native, unified_memory or has_fp16 differ from the library's", where);
    const tc_json_t *dtypes = tc_json_get_typed(d, "dtypes", tc_json_array);
    unsigned listed = 0;
    for (size_t i = 0; dtypes != NULL && i < dtypes->count; i++) {
        const tc_json_t *name = &dtypes->items[i];
        if (name->type != tc_json_string ||
            (strcmp(name->string, "float32") && strcmp(name->string, "float64")))
            fail_msg("%s: dtypes[%zu] is not \"float32\" or \"float64\"", where, i);
        listed |= TCONV_DTYPE_BIT(strcmp(name->string, "float64") ? tconv_f32 : tconv_f64);
    }
    if (dtypes == NULL || listed != want->dtypes)
        fail_msg("%s: dtypes 0x%x, the library says 0x%x", where, listed, want->dtypes);
}

/* `tconv devices` (text) and --json list the library's devices, in its
 * order, with its values; auto names one of them; the plugins' device
 * counts add up; the library version is the one linked. */
static void test_devices_command(void **state) {
    (void)state;
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    assert_true(count >= 1 && count <= 16);
    tconv_device_info_t devices[16];
    for (size_t i = 0; i < count; i++) {
        memset(&devices[i], 0, sizeof devices[i]);
        devices[i].struct_size = sizeof devices[i];
        assert_int_equal(tconv_context_get_device_info(ctx, i, &devices[i]), tconv_success);
    }
    tconv_context_destroy(ctx);

    char *out, *err;
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "devices", NULL);
    if (rc != 0)
        fail_msg("tconv devices: exit %d, stderr \"%s\"", rc, err);
    for (size_t i = 0; i < count; i++) {
        char line[96];
        snprintf(line, sizeof line, "\n  %s ", devices[i].id);
        if (!tc_contains(out, line))
            fail_msg("tconv devices does not list %s: \"%s\"", devices[i].id, out);
    }
    free(out);
    free(err);

    rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "devices", "--json", NULL);
    if (rc != 0)
        fail_msg("tconv devices --json: exit %d, stderr \"%s\"", rc, err);
    tc_json_t *doc = parse_json("tconv devices --json", out);
    const tc_json_t *list = tc_json_get_typed(doc, "devices", tc_json_array);
    if (list == NULL || list->count != count)
        fail_msg("tconv devices --json: %zu devices, the library has %zu", list ? list->count : 0,
                 count);
    for (size_t i = 0; i < count; i++)
        check_json_device(&list->items[i], &devices[i]);
    const tc_json_t *chosen = tc_json_get_typed(doc, "auto", tc_json_object);
    const char *auto_id = json_string(chosen, "tconv devices --json: auto", "device");
    int known = 0;
    for (size_t i = 0; i < count; i++)
        known |= !strcmp(auto_id, devices[i].id);
    if (!known)
        fail_msg("tconv devices --json: auto chose '%s', which is not listed", auto_id);
    const tc_json_t *plugins = tc_json_get_typed(doc, "plugins", tc_json_array);
    double plugin_devices = 0;
    for (size_t i = 0; plugins != NULL && i < plugins->count; i++) {
        const tc_json_t *pl = &plugins->items[i];
        const char *path = json_string(pl, "tconv devices --json: plugin", "path");
        double n = json_number_in(pl, path, "device_count", 0, 4096);
        if (!strcmp(json_string(pl, path, "state"), "loaded"))
            plugin_devices += n;
        if (path[0] != '/')
            fail_msg("tconv devices --json: plugin path '%s' is not absolute", path);
    }
    if (plugins == NULL || plugin_devices != (double)count)
        fail_msg("tconv devices --json: the loaded plugins report %.0f devices, %zu are listed",
                 plugin_devices, count);
    int major = -1, minor = -1, patch = -1;
    tconv_get_version(&major, &minor, &patch);
    const tc_json_t *library = tc_json_get_typed(doc, "library", tc_json_object);
    if (json_number_in(library, "library", "major", 0, 1e6) != major ||
        json_number_in(library, "library", "minor", 0, 1e6) != minor ||
        json_number_in(library, "library", "patch", 0, 1e6) != patch)
        fail_msg("tconv devices --json: library version differs from tconv_get_version's");
    tc_json_free(doc);
    free(out);
    free(err);
}

/* --json says which library and plugin ABI it lists for; a selector the user
 * asks about that picks no device exits 3 and says so, while the listing
 * itself still exits 0. */
static void test_devices_versions_and_selector(void **state) {
    (void)state;
    char *out, *err;
    char expected[160];
    int major, minor, patch;
    const char *version = tconv_get_version(&major, &minor, &patch);
    snprintf(expected, sizeof expected,
             "\"library\":{\"version\":\"%s\",\"major\":%d,\"minor\":%d,\"patch\":%d}", version,
             major, minor, patch);
    /* The plugin ABI a plugin is built against (tconv_backend.h). */
    char abi[64];
    snprintf(abi, sizeof abi, "\"plugin_abi\":{\"major\":%d,\"minor\":%d}", TCONV_BACKEND_ABI_MAJOR,
             TCONV_BACKEND_ABI_MINOR);
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "devices", "--json", NULL);
    if (rc != 0 || !tc_contains(out, expected) || !tc_contains(out, abi))
        fail_msg("tconv devices --json: exit %d, no %s or %s in \"%s\"", rc, expected, abi, out);
    free(out);
    free(err);
    rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "devices", "--device", "cpu:9", NULL);
    if (rc != 3 || !tc_contains(err, "--device 'cpu:9'") || !tc_contains(err, "no such device"))
        fail_msg("tconv devices --device cpu:9: exit %d (want 3), stderr \"%s\"", rc, err);
    free(out);
    free(err);
    rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "devices", "--json", "--device", "nosuch", NULL);
    if (rc != 3 || out[0] != '{')
        fail_msg("tconv devices --json --device nosuch: exit %d (want 3, with the listing), "
                 "stdout \"%s\"",
                 rc, out);
    free(out);
    free(err);
    rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "devices", "--device", "cpu:0", NULL);
    if (rc != 0)
        fail_msg("tconv devices --device cpu:0: exit %d, stderr \"%s\"", rc, err);
    free(out);
    free(err);
}

static void test_demo_command(void **state) {
    (void)state;
    char *out, *err;
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "demo", NULL);
    if (rc != 0)
        fail_msg("tconv demo: exit %d\nstdout: %s\nstderr: %s", rc, out, err);
    print_message("%s", out);
    /* It passes against float32's rounding bound for its 513-term sums,
     * 9 sqrt(513) 2^-24 = 1.2e-5 (cli/cmd_demo.c), not a looser number. */
    const char *result = strstr(out, "Result:    PASS (tolerance ");
    double tolerance = result ? strtod(result + strlen("Result:    PASS (tolerance "), NULL) : 0;
    if (!(fabs(tolerance - 9 * sqrt(513) * 0x1p-24) < 0.05 * 1.2e-5)) /* printed as %.2g */
        fail_msg("tconv demo: no PASS against a tolerance of 1.2e-05 in \"%s\"", out);
    free(out);
    free(err);
}

/* `tconv bench --json` on a 1x4x4x4x8 input, 8 filters, k3 s2 same: the
 * shapes and FLOP count of that layer, positive times in order, and GFLOP/s
 * that are the FLOPs over the median time. */
static void test_bench_json(void **state) {
    (void)state;
    char *out, *err;
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "bench", "--input-shape", "1,4,4,4,8",
                         "--filters", "8", "--kernel-size", "3", "--strides", "2", "--padding",
                         "same", "--repeat", "3", "--warmup", "1", "--json", NULL);
    if (rc != 0)
        fail_msg("tconv bench --json: exit %d, stdout \"%s\", stderr \"%s\"", rc, out, err);
    print_message("%s", out);
    tc_json_t *doc = parse_json("tconv bench --json", out);
    const char *w = "tconv bench --json";
    const double flops = 2.0 * 4 * 4 * 4 * 8 * 8 * 27; /* 2 N D H W Cin Cout k^3 */
    if (json_number_in(doc, w, "flops", 0, 1e18) != flops)
        fail_msg("%s: flops is not 2*N*D*H*W*Cin*Cout*k^3 = %.0f", w, flops);
    if (strcmp(json_string(doc, w, "dtype"), "float32") != 0)
        fail_msg("%s: dtype is not float32", w);
    if (!tc_contains(json_string(doc, w, "device"), ":"))
        fail_msg("%s: device is not an id", w);
    if (json_number_in(doc, w, "repeat", 3, 3) != 3 || json_number_in(doc, w, "warmup", 1, 1) != 1)
        fail_msg("%s: repeat or warmup differ from the options", w);
    const double tiny = 1e-9, day_ms = 864e5;
    json_number_in(doc, w, "plan_ms", tiny, day_ms);
    const double min_ms = json_number_in(doc, w, "min_ms", tiny, day_ms);
    const double median_ms = json_number_in(doc, w, "median_ms", min_ms, day_ms);
    json_number_in(doc, w, "max_ms", median_ms, day_ms);
    const double gflops = json_number_in(doc, w, "gflops", tiny, 1e7);
    const double want_gflops = flops / (median_ms * 1e6);
    if (fabs(gflops - want_gflops) > 1e-6 * want_gflops)
        fail_msg("%s: gflops %.9g is not flops / median time = %.9g", w, gflops, want_gflops);
    static const double in_shape[5] = {1, 4, 4, 4, 8}, out_shape[5] = {1, 8, 8, 8, 8};
    const char *keys[2] = {"input_shape", "output_shape"};
    const double *shapes[2] = {in_shape, out_shape};
    for (int k = 0; k < 2; k++) {
        const tc_json_t *shape = tc_json_get_typed(doc, keys[k], tc_json_array);
        for (size_t i = 0; shape != NULL && i < shape->count && i < 5; i++)
            if (shape->items[i].type != tc_json_number || shape->items[i].number != shapes[k][i])
                shape = NULL;
        if (shape == NULL || shape->count != 5)
            fail_msg("%s: %s is not (%g, %g, %g, %g, %g)", w, keys[k], shapes[k][0], shapes[k][1],
                     shapes[k][2], shapes[k][3], shapes[k][4]);
    }
    tc_json_free(doc);
    free(out);
    free(err);
}

int main(void) {
    tc_clean_environment();
    if (access(TCONV_TEST_CLI, X_OK) != 0) {
        fprintf(stderr, "FAILED: the CLI %s is not built\n", TCONV_TEST_CLI);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanity_run_succeeds),
        cmocka_unit_test(test_bad_arguments_exit_2),
        cmocka_unit_test(test_bad_npy_files_exit_2),
        cmocka_unit_test(test_output_targets),
        cmocka_unit_test(test_fifo_input_refused),
        cmocka_unit_test(test_output_creation_failures),
        cmocka_unit_test(test_out_of_memory_always_said),
        cmocka_unit_test(test_sigterm_while_writing),
        cmocka_unit_test(test_bad_device_exits_3),
        cmocka_unit_test(test_devices_command),
        cmocka_unit_test(test_devices_versions_and_selector),
        cmocka_unit_test(test_demo_command),
        cmocka_unit_test(test_bench_json),
    };
    return cmocka_run_group_tests_name("cli_errors", tests, setup, teardown);
}
