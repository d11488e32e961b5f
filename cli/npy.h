/* SPDX-License-Identifier: Apache-2.0 */
/* Reading and writing NumPy .npy files (float32/float64, C order,
 * little-endian). Readers distrust every header field: a malformed, truncated
 * or lying file is reported as bad input before any large allocation. */
#ifndef TCONV_CLI_NPY_H
#define TCONV_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Most dimensions an array may have (NumPy allows 64). */
#define NPY_MAX_DIMS 64

/** Outcome of an .npy operation. */
typedef enum npy_status {
    npy_ok = 0,
    npy_bad_input = 1,   /**< The file is not a usable .npy (message says why). */
    npy_no_memory = 2,   /**< Allocation failed. */
    npy_io_error = 3,    /**< Reading or writing failed (message has errno text). */
    npy_cannot_open = 4, /**< The file cannot be opened (message has errno text). */
} npy_status_t;

/** Element type of an array's data. */
typedef enum npy_dtype {
    npy_f32 = 4, /**< '<f4', value is the item size. */
    npy_f64 = 8, /**< '<f8'. */
} npy_dtype_t;

/** An array in host memory, C order. */
typedef struct npy_array {
    npy_dtype_t dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    size_t count; /**< Product of shape (1 for a 0-d array). */
    void *data;   /**< count items of dtype; owned, free with npy_array_free. */
} npy_array_t;

/** Reads @p path into @p array, converting the data to @p want.
 *  @param message Receives the reason on failure (without the file name). */
npy_status_t npy_read(const char *path, npy_dtype_t want, npy_array_t *array, char *message,
                      size_t message_size);

/** Parses an .npy header held in memory: magic, version, dict. On success
 *  sets the dtype, ndim, shape and count of @p array (data stays NULL) and
 *  the byte offset where the data begins. @p file_size is the whole file's
 *  size: the data must fill the rest of the file exactly. */
npy_status_t npy_parse_header(const unsigned char *bytes, size_t available, uint64_t file_size,
                              npy_array_t *array, size_t *data_offset, char *message,
                              size_t message_size);

/** Writes a version 1.0 .npy header (padded to 64 bytes like NumPy) and the
 *  data of @p array to @p file. */
npy_status_t npy_write(FILE *file, const npy_array_t *array, char *message, size_t message_size);

/** Formats the NumPy header of @p array (magic through the final '\n') into
 *  @p out; returns its length, or 0 if it does not fit. */
size_t npy_format_header(const npy_array_t *array, char *out, size_t out_size);

/** Releases the data of @p array (NULL data is fine). */
void npy_array_free(npy_array_t *array);

/** "(2, 3)"-style text of a shape, for messages. */
void npy_shape_text(const int64_t *shape, int ndim, char *out, size_t out_size);

#endif /* TCONV_CLI_NPY_H */
