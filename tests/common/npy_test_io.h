/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal .npy writing and reading for the tests, independent of the CLI's
 * own npy code (so a bug there cannot hide behind the same bug here). Also
 * writes deliberately broken files for the CLI's error tests. */
#ifndef TCONV_NPY_TEST_IO_H
#define TCONV_NPY_TEST_IO_H

#include <stddef.h>
#include <stdint.h>

/** Writes a version 1.0 .npy with header dict text @p dict (e.g.
 *  "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") and
 *  @p data_bytes bytes of data. Pads the header to 64 bytes as NumPy does.
 *  Returns 0 on success. */
int tn_write_raw(const char *path, const char *dict, const void *data, size_t data_bytes);

/** Writes doubles as a C-order little-endian '<f4' (item 4) or '<f8' (item 8)
 *  array of shape @p shape. Returns 0 on success. */
int tn_write(const char *path, int item, const int64_t *shape, int ndim, const double *values);

/** Reads a '<f4' or '<f8' C-order file into freshly allocated doubles.
 *  Returns 0 on success, -1 with a message otherwise. */
int tn_read(const char *path, double **values, int64_t *shape, int *ndim, int *item, char *msg,
            size_t msg_size);

/** Reads a whole file into memory (for byte-identical checks). */
int tn_read_file(const char *path, unsigned char **bytes, size_t *size);

#endif /* TCONV_NPY_TEST_IO_H */
