/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the CLI's .npy reader (cli/npy.c, compiled in).
 * Every input is read twice: parsed in memory (npy_parse_header, the whole
 * input being the file) and read as a file (npy_read, through a memfd) as
 * float32 and as float64. Beyond ASan and UBSan, it checks what the reader
 * promises:
 *   - a refusal says why (a non-empty message);
 *   - npy_read accepts exactly what npy_parse_header accepts, with the same
 *     shape and element count, and converts every value exactly (float32 to
 *     float64 and back);
 *   - what npy_write writes for an accepted array parses back to the same
 *     dtype and shape.
 * A broken promise aborts (a crash libFuzzer reports with the input).
 * Run by scripts/test-sanitizers.sh; seeds in tests/fuzz/corpus/npy. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npy.h"

/* Arrays larger than this are parsed but not read (the fuzzer's inputs are
 * small anyway: the data must fill the file). */
#define MAX_READ_BYTES (1u << 20)

static void broken(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_npy: %s: %s\n", what, detail);
    abort();
}

/* The input as a file: a memfd named through /proc/self/fd. Returns the fd
 * (path in @p path), or -1 when the system cannot give one (not a finding). */
static int input_file(const uint8_t *data, size_t size, char *path, size_t path_size) {
    int fd = memfd_create("fuzz_npy", 0);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

static int same_shape(const npy_array_t *a, const npy_array_t *b) {
    return a->dtype == b->dtype && a->ndim == b->ndim && a->count == b->count &&
           memcmp(a->shape, b->shape, sizeof a->shape[0] * (size_t)a->ndim) == 0;
}

/* The value of item @p i of the file's data, as a double. */
static double file_item(const uint8_t *data, npy_dtype_t dtype, size_t i) {
    if (dtype == npy_f32) {
        float f;
        memcpy(&f, data + i * 4, 4);
        return f;
    }
    double d;
    memcpy(&d, data + i * 8, 8);
    return d;
}

static int same_value(double want, double got) {
    return (isnan(want) && isnan(got)) || want == got;
}

/* npy_read of @p path as @p want agrees with the in-memory parse @p parsed. */
static void check_read(const char *path, npy_dtype_t want, int parsed_ok, const npy_array_t *parsed,
                       const uint8_t *payload) {
    npy_array_t array;
    char message[512] = "";
    npy_status_t st = npy_read(path, want, &array, message, sizeof message);
    if (st != npy_ok) {
        if (message[0] == '\0')
            broken("npy_read refused without a message", path);
        if (parsed_ok && st == npy_bad_input)
            broken("npy_read refused what npy_parse_header accepted", message);
        return;
    }
    if (!parsed_ok)
        broken("npy_read accepted what npy_parse_header refused", path);
    npy_array_t expected = *parsed;
    expected.dtype = want;
    if (!same_shape(&expected, &array))
        broken("npy_read and npy_parse_header disagree on the shape", path);
    for (size_t i = 0; i < array.count; i++) {
        double v = file_item(payload, parsed->dtype, i);
        double got =
            want == npy_f32 ? ((const float *)array.data)[i] : ((const double *)array.data)[i];
        double expect = want == npy_f32 ? (double)(float)v : v;
        if (!same_value(expect, got))
            broken("npy_read converted a value wrongly", path);
    }
    /* What npy_write writes for it parses back to the same array. */
    char *text = NULL;
    size_t text_size = 0;
    FILE *out = open_memstream(&text, &text_size);
    if (out != NULL) {
        char write_message[256] = "";
        npy_status_t written = npy_write(out, &array, write_message, sizeof write_message);
        if (fclose(out) == 0 && written == npy_ok) {
            npy_array_t again;
            size_t offset = 0;
            char again_message[512] = "";
            if (npy_parse_header((const unsigned char *)text, text_size, text_size, &again, &offset,
                                 again_message, sizeof again_message) != npy_ok)
                broken("npy_write wrote a header npy_parse_header refuses", again_message);
            if (!same_shape(&array, &again))
                broken("npy_write wrote a different shape", path);
        }
        free(text);
    }
    npy_array_free(&array);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    npy_array_t parsed;
    size_t offset = 0;
    char message[512] = "";
    npy_status_t st = npy_parse_header(data, size, size, &parsed, &offset, message, sizeof message);
    if (st != npy_ok && message[0] == '\0')
        broken("npy_parse_header refused without a message", "");
    const int parsed_ok = st == npy_ok;
    if (parsed_ok && (offset > size ||
                      (uint64_t)parsed.count * (uint64_t)parsed.dtype != (uint64_t)(size - offset)))
        broken("npy_parse_header accepted a data size that does not fill the file", "");
    if (parsed_ok && size > MAX_READ_BYTES)
        return 0;

    char path[64];
    int fd = input_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    check_read(path, npy_f32, parsed_ok, &parsed, data + offset);
    check_read(path, npy_f64, parsed_ok, &parsed, data + offset);
    close(fd);
    return 0;
}
