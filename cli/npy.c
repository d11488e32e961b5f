/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy reader and writer. Format: numpy/lib/format.py (versions 1.0,
 * 2.0 and 3.0). The header is a Python dict literal; it is parsed strictly
 * here (no eval), and the data size it implies must match the file exactly
 * before anything is allocated for the data. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC              "\x93NUMPY"
#define NPY_MAGIC_LEN          6
#define NPY_ALIGN              64
#define NPY_MAX_HEADER_LEN     (1u << 20) /* far above any real header; bounds the allocation */
#define NPY_GROWTH_AXIS_DIGITS 21         /* NumPy leaves room to grow axis 0 in place */
#define NPY_PREAMBLE_MAX       12         /* magic, version, 4-byte length (versions 2.0, 3.0) */
/* The shortest dict parse_dict accepts: a header length below its length
 * cannot be valid, and refusing it early keeps every header extent at least
 * as long as the preamble the reader has already read. */
#define NPY_SHORTEST_DICT  "{'descr':'<f4','fortran_order':False,'shape':()}"
#define NPY_MIN_HEADER_LEN (sizeof NPY_SHORTEST_DICT - 1)
_Static_assert(10 + NPY_MIN_HEADER_LEN >= NPY_PREAMBLE_MAX,
               "a version 1.0 header extent must cover the preamble read ahead");

static npy_status_t fail(npy_status_t status, char *message, size_t size, const char *fmt, ...) {
    if (message && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, size, fmt, ap);
        va_end(ap);
    }
    return status;
}

static int host_is_little_endian(void) {
    const uint16_t probe = 1;
    return *(const unsigned char *)&probe == 1;
}

/* ---------------------------------------------------------------------- */
/* Header parsing                                                          */

/* The preamble: magic, version, header length. */
static npy_status_t parse_preamble(const unsigned char *bytes, size_t available, size_t *prefix_len,
                                   uint32_t *header_len, int *major, char *message, size_t size) {
    if (available < NPY_MAGIC_LEN + 2 || memcmp(bytes, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return fail(npy_bad_input, message, size, "bad magic: not a NumPy .npy file");
    *major = bytes[6];
    int minor = bytes[7];
    if ((*major != 1 && *major != 2 && *major != 3) || minor != 0)
        return fail(npy_bad_input, message, size,
                    "unsupported .npy version %d.%d (1.0, 2.0 and 3.0 are supported)", *major,
                    minor);
    *prefix_len = *major == 1 ? 10 : 12;
    if (available < *prefix_len)
        return fail(npy_bad_input, message, size, "file truncated inside the header length");
    if (*major == 1)
        *header_len = (uint32_t)bytes[8] | (uint32_t)bytes[9] << 8;
    else
        *header_len = (uint32_t)bytes[8] | (uint32_t)bytes[9] << 8 | (uint32_t)bytes[10] << 16 |
                      (uint32_t)bytes[11] << 24;
    return npy_ok;
}

/* The preamble, and the header's extent checked against the file size. */
static npy_status_t parse_header_extent(const unsigned char *bytes, size_t available,
                                        uint64_t file_size, size_t *prefix_len,
                                        uint32_t *header_len, char *message, size_t size) {
    int major;
    npy_status_t st =
        parse_preamble(bytes, available, prefix_len, header_len, &major, message, size);
    if (st != npy_ok)
        return st;
    if (*header_len < NPY_MIN_HEADER_LEN)
        return fail(npy_bad_input, message, size,
                    "header length %u: too short for the header dict (at least %zu bytes: %s)",
                    *header_len, NPY_MIN_HEADER_LEN, NPY_SHORTEST_DICT);
    if ((uint64_t)*prefix_len + *header_len > file_size)
        return fail(npy_bad_input, message, size,
                    "header length %u extends beyond the end of the file (%llu bytes)", *header_len,
                    (unsigned long long)file_size);
    if (*header_len > NPY_MAX_HEADER_LEN)
        return fail(npy_bad_input, message, size, "header length %u exceeds the %u-byte limit",
                    *header_len, NPY_MAX_HEADER_LEN);
    return npy_ok;
}

typedef struct cursor {
    const char *p, *end;
} cursor_t;

static void skip_space(cursor_t *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept_char(cursor_t *c, char ch) {
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, copied into out. */
static int parse_string(cursor_t *c, char *out, size_t out_size) {
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || *c->p == '\n' || n + 1 >= out_size)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int accept_word(cursor_t *c, const char *word) {
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

static npy_status_t parse_descr(cursor_t *c, npy_array_t *array, char *message, size_t size) {
    char descr[64];
    skip_space(c);
    if (c->p < c->end && *c->p == '[')
        return fail(npy_bad_input, message, size,
                    "structured dtypes are not supported (only float32 '<f4' and float64 '<f8')");
    if (!parse_string(c, descr, sizeof descr))
        return fail(npy_bad_input, message, size, "header 'descr' is not a dtype string");
    char order = descr[0];
    const char *kind = descr + 1;
    if (order == '>' && (strcmp(kind, "f4") == 0 || strcmp(kind, "f8") == 0))
        return fail(npy_bad_input, message, size,
                    "dtype '%s' is big-endian; only little-endian '<f4' and '<f8' are supported",
                    descr);
    int little = order == '<' || order == '|' || (order == '=' && host_is_little_endian());
    if (little && strcmp(kind, "f4") == 0)
        array->dtype = npy_f32;
    else if (little && strcmp(kind, "f8") == 0)
        array->dtype = npy_f64;
    else
        return fail(npy_bad_input, message, size,
                    "unsupported dtype '%s': only float32 '<f4' and float64 '<f8' are supported",
                    descr);
    return npy_ok;
}

/* Shape entry @p index: a non-negative integer that fits in int64 (Python
 * 2's "3L" accepted). The overflow test comes before each step, so no digit
 * string wraps around to a small value. */
static npy_status_t parse_dim(cursor_t *c, int index, int64_t *dim, char *message, size_t size) {
    skip_space(c);
    const char *start = c->p;
    if (c->p < c->end && (*c->p == '-' || *c->p == '+'))
        c->p++;
    while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || *c->p == '.' || *c->p == 'e' ||
                             *c->p == 'E' || *c->p == 'x' || *c->p == '_'))
        c->p++;
    int len = (int)(c->p - start);
    if (len == 0)
        return fail(npy_bad_input, message, size, "header 'shape' is not a tuple of integers");
    if (start[0] == '-')
        return fail(npy_bad_input, message, size, "shape[%d] = %.*s: is negative", index, len,
                    start);
    int64_t value = 0;
    for (int i = 0; i < len; i++) {
        if (start[i] < '0' || start[i] > '9')
            return fail(npy_bad_input, message, size,
                        "shape[%d] = %.*s: is not a non-negative integer", index, len, start);
        int digit = start[i] - '0';
        if (value > (INT64_MAX - digit) / 10)
            return fail(npy_bad_input, message, size,
                        "shape[%d] = %.*s: does not fit in int64 (at most %lld)", index, len, start,
                        (long long)INT64_MAX);
        value = value * 10 + digit;
    }
    if (c->p < c->end && *c->p == 'L')
        c->p++;
    *dim = value;
    return npy_ok;
}

static npy_status_t parse_shape(cursor_t *c, npy_array_t *array, char *message, size_t size) {
    if (!accept_char(c, '('))
        return fail(npy_bad_input, message, size, "header 'shape' is not a tuple");
    int ndim = 0, trailing_comma = 0;
    while (!accept_char(c, ')')) {
        if (ndim == NPY_MAX_DIMS)
            return fail(npy_bad_input, message, size, "shape has more than %d dimensions",
                        NPY_MAX_DIMS);
        npy_status_t st = parse_dim(c, ndim, &array->shape[ndim], message, size);
        if (st != npy_ok)
            return st;
        ndim++;
        trailing_comma = accept_char(c, ',');
        if (!trailing_comma) {
            if (!accept_char(c, ')'))
                return fail(npy_bad_input, message, size,
                            "header 'shape' is not a tuple of integers");
            break;
        }
    }
    if (ndim == 1 && !trailing_comma)
        return fail(npy_bad_input, message, size,
                    "header 'shape' is not a tuple (a 1-element tuple needs a comma)");
    array->ndim = ndim;
    return npy_ok;
}

/* The dict: exactly the keys descr, fortran_order and shape, each once. */
static npy_status_t parse_dict(const char *text, size_t len, npy_array_t *array, char *message,
                               size_t size) {
    cursor_t c = {text, text + len};
    int seen_descr = 0, seen_order = 0, seen_shape = 0;
    if (!accept_char(&c, '{'))
        return fail(npy_bad_input, message, size, "header is not a valid dict (no '{')");
    while (!accept_char(&c, '}')) {
        char key[32];
        if (!parse_string(&c, key, sizeof key) || !accept_char(&c, ':'))
            return fail(npy_bad_input, message, size, "header is not a valid dict");
        npy_status_t st = npy_ok;
        if (strcmp(key, "descr") == 0 && !seen_descr++) {
            st = parse_descr(&c, array, message, size);
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order++) {
            if (accept_word(&c, "True"))
                return fail(npy_bad_input, message, size,
                            "fortran_order is True: only C-order arrays are supported");
            if (!accept_word(&c, "False"))
                return fail(npy_bad_input, message, size,
                            "header 'fortran_order' is not True or False");
        } else if (strcmp(key, "shape") == 0 && !seen_shape++) {
            st = parse_shape(&c, array, message, size);
        } else {
            return fail(npy_bad_input, message, size,
                        "header has an unexpected or repeated key '%s'", key);
        }
        if (st != npy_ok)
            return st;
        if (!accept_char(&c, ',')) {
            if (!accept_char(&c, '}'))
                return fail(npy_bad_input, message, size, "header is not a valid dict");
            break;
        }
    }
    skip_space(&c);
    if (c.p != c.end)
        return fail(npy_bad_input, message, size, "header has text after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return fail(npy_bad_input, message, size, "header is missing the key '%s'",
                    !seen_descr   ? "descr"
                    : !seen_order ? "fortran_order"
                                  : "shape");
    return npy_ok;
}

/* The items of @p array's shape, refused like NumPy refuses it: the nonzero
 * dimensions times @p itemsize must fit even when a zero dimension makes
 * the array empty; the bound is size_t, the type the data is allocated and
 * read with. */
static npy_status_t data_count(const npy_array_t *array, uint64_t itemsize, uint64_t *count,
                               char *message, size_t message_size) {
    uint64_t max_count = (uint64_t)SIZE_MAX / itemsize, nonzero_product = 1;
    int empty = 0;
    for (int i = 0; i < array->ndim; i++) {
        uint64_t dim = (uint64_t)array->shape[i];
        if (dim == 0) {
            empty = 1;
            continue;
        }
        if (nonzero_product > max_count / dim) {
            char shape[256];
            npy_shape_text(array->shape, array->ndim, shape, sizeof shape);
            return fail(npy_bad_input, message, message_size,
                        "shape %s: shape[%d] = %lld makes the data size overflow (%llu-byte items, "
                        "at most %llu items)",
                        shape, i, (long long)array->shape[i], (unsigned long long)itemsize,
                        (unsigned long long)max_count);
        }
        nonzero_product *= dim;
    }
    *count = empty ? 0 : nonzero_product;
    return npy_ok;
}

npy_status_t npy_parse_header(const unsigned char *bytes, size_t available, uint64_t file_size,
                              npy_array_t *array, size_t *data_offset, char *message,
                              size_t message_size) {
    size_t prefix_len = 0;
    uint32_t header_len = 0;
    npy_status_t st = parse_header_extent(bytes, available, file_size, &prefix_len, &header_len,
                                          message, message_size);
    if (st != npy_ok)
        return st;
    if (prefix_len + header_len > available)
        return fail(npy_bad_input, message, message_size, "header is incomplete");
    memset(array, 0, sizeof *array);
    st = parse_dict((const char *)bytes + prefix_len, header_len, array, message, message_size);
    if (st != npy_ok)
        return st;

    uint64_t itemsize = (uint64_t)array->dtype, count = 0;
    st = data_count(array, itemsize, &count, message, message_size);
    if (st != npy_ok)
        return st;
    uint64_t need = count * itemsize;
    uint64_t have = file_size - prefix_len - header_len;
    if (need != have) {
        char shape[256];
        npy_shape_text(array->shape, array->ndim, shape, sizeof shape);
        return fail(npy_bad_input, message, message_size,
                    "shape %s of %u-byte items needs %llu data bytes but the file has %llu%s",
                    shape, (unsigned)itemsize, (unsigned long long)need, (unsigned long long)have,
                    need > have ? " (truncated file?)" : "");
    }
    array->count = (size_t)count;
    *data_offset = prefix_len + header_len;
    return npy_ok;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */

static int read_fully(int fd, void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -2 : -1; /* -2: end of file */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static npy_status_t read_error(int rc, char *message, size_t size) {
    if (rc == -2)
        return fail(npy_bad_input, message, size, "file truncated (it changed while reading?)");
    return fail(npy_io_error, message, size, "read failed: %s", strerror(errno));
}

/* Converts count items from src (dtype from) into a new buffer of dtype to. */
static void *convert(const void *src, npy_dtype_t from, npy_dtype_t to, size_t count) {
    if (count > SIZE_MAX / (size_t)to) /* widening f4 to f8 doubles the size */
        return NULL;
    void *dst = malloc(count ? count * (size_t)to : 1);
    if (!dst)
        return NULL;
    if (from == npy_f32 && to == npy_f64)
        for (size_t i = 0; i < count; i++)
            ((double *)dst)[i] = ((const float *)src)[i];
    else
        for (size_t i = 0; i < count; i++)
            ((float *)dst)[i] = (float)((const double *)src)[i];
    return dst;
}

static const char *file_kind(mode_t mode) {
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

/* The size comes from fstat and must match the header exactly, so only a
 * regular file will do. It was opened non-blocking (a FIFO would otherwise
 * have blocked in open until a writer came); reads block again from here. */
static npy_status_t read_open_file(int fd, npy_dtype_t want, npy_array_t *array, char *message,
                                   size_t size) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail(npy_io_error, message, size, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(npy_bad_input, message, size,
                    "is %s: .npy input must be a regular file (its size is checked against the "
                    "header)",
                    file_kind(st.st_mode));
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return fail(npy_io_error, message, size, "cannot clear O_NONBLOCK: %s", strerror(errno));
    uint64_t file_size = (uint64_t)st.st_size;

    unsigned char preamble[NPY_PREAMBLE_MAX];
    size_t got = file_size < sizeof preamble ? (size_t)file_size : sizeof preamble;
    int rc = read_fully(fd, preamble, got);
    if (rc != 0)
        return read_error(rc, message, size);
    size_t prefix_len = 0;
    uint32_t header_len = 0;
    npy_status_t status =
        parse_header_extent(preamble, got, file_size, &prefix_len, &header_len, message, size);
    if (status != npy_ok)
        return status;

    /* total >= got: parse_header_extent refuses a header shorter than
     * NPY_MIN_HEADER_LEN (see the static assertion above). */
    size_t total = prefix_len + header_len;
    unsigned char *header = malloc(total);
    if (!header)
        return fail(npy_no_memory, message, size, "out of memory reading the header");
    memcpy(header, preamble, got);
    rc = read_fully(fd, header + got, total - got);
    size_t data_offset = 0;
    status = rc != 0
                 ? read_error(rc, message, size)
                 : npy_parse_header(header, total, file_size, array, &data_offset, message, size);
    free(header);
    if (status != npy_ok)
        return status;

    size_t bytes = array->count * (size_t)array->dtype;
    void *data = malloc(bytes ? bytes : 1);
    if (!data)
        return fail(npy_no_memory, message, size, "out of memory: %zu bytes of data", bytes);
    rc = read_fully(fd, data, bytes);
    if (rc != 0) {
        free(data);
        return read_error(rc, message, size);
    }
    if (array->dtype != want) {
        void *converted = convert(data, array->dtype, want, array->count);
        free(data);
        if (!converted)
            return fail(npy_no_memory, message, size, "out of memory converting the data");
        data = converted;
        array->dtype = want;
    }
    array->data = data;
    return npy_ok;
}

npy_status_t npy_read(const char *path, npy_dtype_t want, npy_array_t *array, char *message,
                      size_t message_size) {
    memset(array, 0, sizeof *array);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fail(npy_cannot_open, message, message_size, "cannot open: %s", strerror(errno));
    npy_status_t status = read_open_file(fd, want, array, message, message_size);
    close(fd);
    if (status != npy_ok) {
        npy_array_free(array);
        memset(array, 0, sizeof *array);
    }
    return status;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */

void npy_shape_text(const int64_t *shape, int ndim, char *out, size_t out_size) {
    size_t n = 0;
    n += (size_t)snprintf(out + n, out_size - n, "(");
    for (int i = 0; i < ndim && n < out_size; i++)
        n += (size_t)snprintf(out + n, out_size - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < out_size)
        snprintf(out + n, out_size - n, ndim == 1 ? ",)" : ")");
}

size_t npy_format_header(const npy_array_t *array, char *out, size_t out_size) {
    char dict[NPY_MAX_DIMS * 24 + 128], shape[NPY_MAX_DIMS * 24 + 8];
    npy_shape_text(array->shape, array->ndim, shape, sizeof shape);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     array->dtype == npy_f64 ? "<f8" : "<f4", shape);
    if (array->ndim > 0) {
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)array->shape[0]);
        for (int i = digits; i < NPY_GROWTH_AXIS_DIGITS; i++)
            dict[n++] = ' ';
        dict[n] = '\0';
    }
    /* Version 1.0 when the length fits 16 bits, else 2.0; padded with spaces
     * and a final '\n' so the data starts at a multiple of 64 (NumPy adds a
     * full 64 spaces when it is already aligned). */
    size_t hlen = (size_t)n + 1;
    size_t prefix = NPY_MAGIC_LEN + 2 + 2;
    size_t pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
    if (hlen + pad > 65535) {
        prefix = NPY_MAGIC_LEN + 2 + 4;
        pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
    }
    size_t total = prefix + hlen + pad;
    if (total > out_size)
        return 0;
    size_t len = hlen + pad;
    memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
    out[6] = prefix == 10 ? 1 : 2;
    out[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++)
        out[8 + i] = (char)((len >> (8 * i)) & 0xff);
    memcpy(out + prefix, dict, (size_t)n);
    memset(out + prefix + n, ' ', pad);
    out[total - 1] = '\n';
    return total;
}

npy_status_t npy_write(FILE *file, const npy_array_t *array, char *message, size_t message_size) {
    /* Never a header npy_parse_header (and NumPy) would refuse: an empty
     * array read from float32 as float64 can outgrow the size rule. */
    uint64_t count = 0;
    npy_status_t st = data_count(array, (uint64_t)array->dtype, &count, message, message_size);
    if (st != npy_ok)
        return st;
    char header[NPY_MAX_DIMS * 24 + 256];
    size_t len = npy_format_header(array, header, sizeof header);
    if (len == 0)
        return fail(npy_bad_input, message, message_size, "header too long");
    size_t bytes = array->count * (size_t)array->dtype;
    errno = 0;
    if (fwrite(header, 1, len, file) != len ||
        (bytes && fwrite(array->data, 1, bytes, file) != bytes))
        return fail(npy_io_error, message, message_size, "write failed: %s",
                    errno ? strerror(errno) : "short write");
    return npy_ok;
}

void npy_array_free(npy_array_t *array) {
    if (array) {
        free(array->data);
        array->data = NULL;
    }
}
