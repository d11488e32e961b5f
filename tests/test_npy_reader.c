/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's .npy reader (cli/npy.c, linked in directly) on hostile files:
 *   - a version 1.0 header length of 0 or 1 followed by a long tail is
 *     refused as too short (it used to overflow the header buffer and read
 *     the tail into the heap);
 *   - a dimension above INT64_MAX (2^65 + 1 used to wrap to 1) or a shape
 *     whose data size overflows size_t is refused, naming the dimension;
 *   - a FIFO (it used to block forever), a directory or a device is
 *     refused at once as not a regular file;
 *   - a good file still reads back (the checks do not refuse real headers).
 * Run it under -fsanitize=address too: a refusal is not enough, the reader
 * must not touch memory it does not own. */
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

#include "npy.h"
#include "npy_test_io.h"
#include "temp_dir.h"

static char dir[256];

static int setup(void **state) {
    (void)state;
    return tc_temp_dir_create(dir, sizeof dir, "npy_reader");
}

static int teardown(void **state) {
    (void)state;
    return tc_temp_dir_remove(dir);
}

/* Writes @p head (head_len bytes) followed by @p tail_len bytes of 'A'. */
static const char *write_file(const char *name, const void *head, size_t head_len,
                              size_t tail_len) {
    static char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, head_len, f), head_len);
    for (size_t i = 0; i < tail_len; i++)
        fputc('A', f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* npy_read of @p path must fail with @p want and a message containing @p word. */
static void expect_read_fails(const char *path, npy_status_t want, const char *word) {
    npy_array_t array;
    char message[512] = "";
    npy_status_t st = npy_read(path, npy_f32, &array, message, sizeof message);
    if (st != want || !strstr(message, word))
        fail_msg("%s: status %d (want %d), message \"%s\" (want it to contain \"%s\")", path, st,
                 want, message, word);
    assert_null(array.data);
    print_message("%s: %s\n", path, message);
}

static void test_header_length_below_the_preamble(void **state) {
    (void)state;
    /* Magic, version 1.0, header length 0 (then 1), then 5000 bytes that a
     * wrapped length would have read into a 10-byte buffer. */
    const unsigned char zero[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    const unsigned char one[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 1, 0};
    expect_read_fails(write_file("len0.npy", zero, sizeof zero, 5000), npy_bad_input,
                      "header length 0: too short");
    expect_read_fails(write_file("len1.npy", one, sizeof one, 5000), npy_bad_input,
                      "header length 1: too short");
    /* Exactly 11 and 12 bytes: the preamble read ahead covers the whole file. */
    expect_read_fails(write_file("len0_short.npy", zero, sizeof zero, 1), npy_bad_input,
                      "header length 0: too short");
    expect_read_fails(write_file("len1_short.npy", one, sizeof one, 2), npy_bad_input,
                      "header length 1: too short");
    /* Version 2.0 with a 4-byte length of 1. */
    const unsigned char two[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 1, 0, 0, 0};
    expect_read_fails(write_file("v2_len1.npy", two, sizeof two, 5000), npy_bad_input,
                      "header length 1: too short");
}

/* A header with shape text @p shape, dtype '<f4', and @p data_bytes of data. */
static const char *shape_file(const char *name, const char *shape, size_t data_bytes) {
    static char path[300];
    char dict[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    unsigned char *data = calloc(1, data_bytes + 1);
    assert_non_null(data);
    assert_int_equal(tn_write_raw(path, dict, data, data_bytes), 0);
    free(data);
    return path;
}

static void test_dimensions_beyond_int64_or_size_t(void **state) {
    (void)state;
    /* 2^65 + 1 used to wrap to 1: read as (2, 1, 1), which these 8 bytes fit. */
    expect_read_fails(shape_file("dim_2p65.npy", "(2, 1, 36893488147419103233)", 8), npy_bad_input,
                      "shape[2] = 36893488147419103233: does not fit in int64");
    expect_read_fails(shape_file("dim_2p63.npy", "(9223372036854775808,)", 8), npy_bad_input,
                      "shape[0] = 9223372036854775808: does not fit in int64");
    expect_read_fails(shape_file("dim_2p64p1.npy", "(18446744073709551617, 1)", 4), npy_bad_input,
                      "shape[0] = 18446744073709551617: does not fit in int64");
    /* INT64_MAX fits int64 but not as a count of 4-byte items. */
    expect_read_fails(shape_file("dim_max.npy", "(9223372036854775807,)", 8), npy_bad_input,
                      "shape[0] = 9223372036854775807 makes the data size overflow");
    /* Each dimension fits; their product does not. */
    expect_read_fails(shape_file("dim_product.npy", "(4294967296, 4294967296)", 8), npy_bad_input,
                      "shape[1] = 4294967296 makes the data size overflow");
    /* As in NumPy, a zero dimension does not excuse the others' overflow. */
    expect_read_fails(shape_file("dim_product_zero.npy", "(4294967296, 0, 4294967296)", 0),
                      npy_bad_input, "shape[2] = 4294967296 makes the data size overflow");
    /* An empty array is fine. */
    npy_array_t array;
    char message[512] = "";
    const char *path = shape_file("empty.npy", "(0, 5)", 0);
    if (npy_read(path, npy_f32, &array, message, sizeof message) != npy_ok)
        fail_msg("%s: %s", path, message);
    assert_int_equal(array.count, 0);
    npy_array_free(&array);
}

/* A FIFO used to block npy_read in open() forever (no writer ever comes);
 * it and a directory are refused at once. */
static void test_non_regular_files_refused(void **state) {
    (void)state;
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/pipe.npy", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(10); /* a hang ends the test (SIGALRM) instead of stalling ctest */
    expect_read_fails(fifo, npy_bad_input, "is a FIFO: .npy input must be a regular file");
    expect_read_fails(dir, npy_bad_input, "is a directory");
    expect_read_fails("/dev/null", npy_bad_input, "is a character device");
    alarm(0);
}

static void test_good_file_reads_back(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/good.npy", dir);
    const int64_t shape[2] = {2, 3};
    const double values[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(tn_write(path, 4, shape, 2, values), 0);
    npy_array_t array;
    char message[512] = "";
    npy_status_t st = npy_read(path, npy_f64, &array, message, sizeof message);
    if (st != npy_ok)
        fail_msg("%s: %s", path, message);
    assert_int_equal(array.ndim, 2);
    assert_int_equal(array.shape[0], 2);
    assert_int_equal(array.shape[1], 3);
    assert_int_equal(array.count, 6);
    for (int i = 0; i < 6; i++)
        assert_true(((const double *)array.data)[i] == values[i]);
    npy_array_free(&array);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_length_below_the_preamble),
        cmocka_unit_test(test_dimensions_beyond_int64_or_size_t),
        cmocka_unit_test(test_non_regular_files_refused),
        cmocka_unit_test(test_good_file_reads_back),
    };
    return cmocka_run_group_tests_name("npy_reader", tests, setup, teardown);
}
