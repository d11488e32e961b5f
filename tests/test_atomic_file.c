/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's output files (cli/atomic_file.c, linked in directly):
 *   - a character device (a private null device node when we may create
 *     one, then /dev/null itself) is written in place and stays a device;
 *   - a FIFO with a reader is written in place and stays a FIFO;
 *   - a symbolic link (relative, absolute into another directory, dangling)
 *     stays a link with the same text and its target gets the data;
 *   - an existing file's mode (0600) and, as root, owner are kept; a new
 *     file gets 0666 & ~umask;
 *   - a name of 245 to 255 bytes works (the temporary name is short);
 *   - SIGTERM, SIGINT or SIGHUP mid-write removes the temporary file and
 *     still ends the process by that signal; an ignored SIGHUP is left so;
 *   - a directory is refused; nothing is left behind in any case. */
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

#include "atomic_file.h"
#include "npy_test_io.h"
#include "temp_dir.h"

#define PAYLOAD "the new contents\n"

static char dir[256];

static int setup(void **state) {
    (void)state;
    return tc_temp_dir_create(dir, sizeof dir, "atomic_file");
}

static int teardown(void **state) {
    (void)state;
    return tc_temp_dir_remove(dir);
}

/* A fresh empty directory under dir for one test. */
static const char *subdir(const char *name) {
    static char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
    return path;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void expect_contents(const char *path, const char *want) {
    unsigned char *bytes;
    size_t size;
    assert_int_equal(tn_read_file(path, &bytes, &size), 0);
    if (size != strlen(want) || memcmp(bytes, want, size) != 0)
        fail_msg("%s: %zu bytes, not the %zu expected", path, size, strlen(want));
    free(bytes);
}

/* Fails if @p path holds anything but the NULL-terminated names given. */
static void expect_only(const char *path, ...) {
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd, "test $(ls -A '%s'", path);
    va_list ap;
    va_start(ap, path);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " | grep -v -x -e '%s'", name);
    va_end(ap);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " | wc -l) = 0");
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "ls -lA '%s' >&2", path);
        (void)system(cmd);
        fail_msg("%s holds a file it should not (a temporary file left behind?)", path);
    }
}

/* Opens @p path, writes PAYLOAD, commits; fails the test on any error. */
static void write_through(const char *path) {
    atomic_file_t af;
    char message[512];
    if (atomic_file_open(&af, path, message, sizeof message) != 0)
        fail_msg("atomic_file_open %s: %s", path, message);
    fputs(PAYLOAD, af.file);
    if (atomic_file_commit(&af, message, sizeof message) != 0)
        fail_msg("atomic_file_commit %s: %s", path, message);
}

static void expect_null_device(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
        fail_msg("%s is no longer the null character device (mode %o)", path, (unsigned)st.st_mode);
}

static void test_character_device_written_in_place(void **state) {
    (void)state;
    const char *d = subdir("device");
    char node[512];
    snprintf(node, sizeof node, "%s/null", d);
    /* A private node first: if the code replaced it, only this test's
     * directory would suffer. Creating one needs root. */
    if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        write_through(node);
        expect_null_device(node);
        expect_only(d, "null", NULL);
        assert_int_equal(unlink(node), 0);
    } else {
        print_message("mknod: not permitted here; testing /dev/null only\n");
    }
    /* The private node survived (or /dev is not ours to replace): /dev/null. */
    write_through("/dev/null");
    expect_null_device("/dev/null");
}

static void test_fifo_written_in_place(void **state) {
    (void)state;
    const char *d = subdir("fifo");
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/pipe", d);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t reader = fork();
    assert_true(reader >= 0);
    if (reader == 0) {
        alarm(5); /* never outlive a broken parent */
        FILE *f = fopen(fifo, "rb");
        char buf[256];
        size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
        _exit(got == strlen(PAYLOAD) && memcmp(buf, PAYLOAD, got) == 0 ? 0 : 1);
    }
    write_through(fifo);
    int status = 0;
    assert_int_equal(waitpid(reader, &status, 0), reader);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the FIFO's reader did not get the payload (status %#x)", status);
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    expect_only(d, "pipe", NULL);
}

static void expect_link(const char *link, const char *want_text) {
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    if (!S_ISLNK(st.st_mode))
        fail_msg("%s is no longer a symbolic link", link);
    char text[300];
    ssize_t n = readlink(link, text, sizeof text - 1);
    assert_true(n > 0);
    text[n] = '\0';
    assert_string_equal(text, want_text);
}

static void test_symlink_stays_a_link(void **state) {
    (void)state;
    const char *d = subdir("links");
    char link[512], target[512], other[300], far_target[512], far_link[512];
    /* Relative link to an existing file in the same directory. */
    snprintf(link, sizeof link, "%s/y.npy", d);
    snprintf(target, sizeof target, "%s/real.npy", d);
    write_text(target, "old contents\n");
    assert_int_equal(symlink("real.npy", link), 0);
    write_through(link);
    expect_link(link, "real.npy");
    expect_contents(target, PAYLOAD);

    /* Absolute link into another directory: the temporary file goes there
     * (a rename across directories could cross file systems). */
    snprintf(other, sizeof other, "%s/elsewhere", dir);
    assert_int_equal(mkdir(other, 0755), 0);
    snprintf(far_target, sizeof far_target, "%s/far.npy", other);
    snprintf(far_link, sizeof far_link, "%s/far_link.npy", d);
    write_text(far_target, "old far contents\n");
    assert_int_equal(symlink(far_target, far_link), 0);
    write_through(far_link);
    expect_link(far_link, far_target);
    expect_contents(far_target, PAYLOAD);

    /* A link to a link to a file that does not exist yet. */
    char dangling[512], chained[512], created[512];
    snprintf(created, sizeof created, "%s/sub", d);
    assert_int_equal(mkdir(created, 0755), 0);
    snprintf(dangling, sizeof dangling, "%s/dangling.npy", d);
    snprintf(chained, sizeof chained, "%s/chained.npy", d);
    assert_int_equal(symlink("sub/new.npy", dangling), 0);
    assert_int_equal(symlink("dangling.npy", chained), 0);
    write_through(chained);
    expect_link(chained, "dangling.npy");
    expect_link(dangling, "sub/new.npy");
    snprintf(created, sizeof created, "%s/sub/new.npy", d);
    expect_contents(created, PAYLOAD);

    expect_only(d, "y.npy", "real.npy", "far_link.npy", "dangling.npy", "chained.npy", "sub", NULL);
    expect_only(other, "far.npy", NULL);
}

static void test_existing_mode_and_owner_kept(void **state) {
    (void)state;
    const char *d = subdir("modes");
    char path[512];
    snprintf(path, sizeof path, "%s/secret.npy", d);
    write_text(path, "old\n");
    assert_int_equal(chmod(path, 0600), 0);
    const int as_root = geteuid() == 0;
    if (as_root)
        assert_int_equal(chown(path, 4321, 8765), 0);
    mode_t old_mask = umask(022);
    write_through(path);
    umask(old_mask);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if ((st.st_mode & 07777) != 0600)
        fail_msg("%s: mode %o after the write, was 0600", path, (unsigned)(st.st_mode & 07777));
    if (as_root && (st.st_uid != 4321 || st.st_gid != 8765))
        fail_msg("%s: owner %u:%u after the write, was 4321:8765", path, (unsigned)st.st_uid,
                 (unsigned)st.st_gid);
    expect_contents(path, PAYLOAD);

    /* A new file: what fopen would give it. */
    snprintf(path, sizeof path, "%s/new.npy", d);
    old_mask = umask(027);
    write_through(path);
    umask(old_mask);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    expect_only(d, "secret.npy", "new.npy", NULL);
}

/* Names of 245 to 255 bytes used to fail: the temporary name was the
 * target's name plus a suffix, past NAME_MAX. */
static void test_long_names(void **state) {
    (void)state;
    const char *d = subdir("long_names");
    char name[256], path[600];
    for (size_t len = 245; len <= 255; len += 5) {
        memset(name, 'n', len);
        memcpy(name + len - 4, ".npy", 5);
        snprintf(path, sizeof path, "%s/%s", d, name);
        write_through(path);
        expect_contents(path, PAYLOAD);
        write_through(path); /* replacing it too */
        expect_contents(path, PAYLOAD);
        assert_int_equal(unlink(path), 0);
    }
    expect_only(d, NULL);
}

/* A child opens @p name in @p d, writes, and raises @p sig (with
 * @p ignored set to SIG_IGN first when nonzero); it commits if it survives.
 * Returns the child's wait status. */
static int write_then_raise(const char *d, const char *name, int sig, int ignored) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", d, name);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (ignored)
            signal(ignored, SIG_IGN);
        atomic_file_t af;
        char message[512];
        if (atomic_file_open(&af, path, message, sizeof message) != 0)
            _exit(10);
        for (int i = 0; i < 4096; i++)
            fputs(PAYLOAD, af.file);
        fflush(af.file);
        raise(sig);
        _exit(atomic_file_commit(&af, message, sizeof message) == 0 ? 0 : 11);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    return status;
}

/* A signal that ends the process mid-write removes the temporary file and
 * still ends it by that signal; an ignored one stays ignored. */
static void test_signal_removes_temporary(void **state) {
    (void)state;
    const char *d = subdir("signals");
    const int signals[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        int status = write_then_raise(d, "y.npy", signals[i], 0);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != signals[i])
            fail_msg("signal %d: the child was not ended by it (status %#x)", signals[i], status);
        expect_only(d, NULL);
    }
    /* Under nohup: SIGHUP ignored, the write completes. */
    int status = write_then_raise(d, "y.npy", SIGHUP, SIGHUP);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("an ignored SIGHUP ended the write (status %#x)", status);
    expect_only(d, "y.npy", NULL);
}

static void test_directory_refused(void **state) {
    (void)state;
    const char *d = subdir("dir_target");
    atomic_file_t af;
    char message[512] = "";
    assert_int_equal(atomic_file_open(&af, d, message, sizeof message), -1);
    assert_non_null(strstr(message, "is a directory"));
    assert_int_equal(atomic_file_check(d, message, sizeof message), -1);
    assert_non_null(strstr(message, "is a directory"));
    char inside[512];
    snprintf(inside, sizeof inside, "%s/missing_dir/y.npy", d);
    assert_int_equal(atomic_file_check(inside, message, sizeof message), -1);
    assert_non_null(strstr(message, "missing_dir"));
    assert_int_equal(atomic_file_check("/dev/null", message, sizeof message), 0);
    expect_only(d, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_character_device_written_in_place),
        cmocka_unit_test(test_fifo_written_in_place),
        cmocka_unit_test(test_symlink_stays_a_link),
        cmocka_unit_test(test_existing_mode_and_owner_kept),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_signal_removes_temporary),
        cmocka_unit_test(test_directory_refused),
    };
    return cmocka_run_group_tests_name("atomic_file", tests, setup, teardown);
}
