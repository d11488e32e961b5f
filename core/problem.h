/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers around problems and their canonical form. */
#ifndef TCONV_CORE_PROBLEM_H
#define TCONV_CORE_PROBLEM_H

#include <stddef.h>

#include "tconv/tconv.h"

/* Sizes of the structs in tconv 0.1, the first release: the smallest
 * struct_size a caller may pass, and what the 0.1 entry points (the exported
 * tconv_problem_init, tconv_problem_resolve, tconv_plan_get_canonical; see
 * tconv.h) assume. Fields appended since (passes) lie beyond them. */
#define TCONV_PROBLEM_SIZE_0_1   (offsetof(tconv_problem_t, activation_alpha) + sizeof(double))
#define TCONV_CANONICAL_SIZE_0_1 (offsetof(tconv_canonical_t, activation_alpha) + sizeof(double))
#define TCONV_PROBLEM_MIN_SIZE   TCONV_PROBLEM_SIZE_0_1

/* Writes the first @p size bytes of @p c into the caller's @p out (at most
 * sizeof(tconv_canonical_t)), with out->struct_size = the bytes written.
 * Fails (naming @p what) when @p size is below the 0.1 size. */
tconv_status_t tconv_canonical_write(tconv_canonical_t *out, size_t size, const char *what,
                                     const tconv_canonical_t *c);

/* Bytes of one element of @p dtype (the dtype must be valid). */
size_t tconv_dtype_size(tconv_dtype_t dtype);

/* Byte sizes of the input and output tensors of a resolved problem (the
 * resolution already checked that they fit). */
size_t tconv_canonical_input_bytes(const tconv_canonical_t *c);
size_t tconv_canonical_output_bytes(const tconv_canonical_t *c);
size_t tconv_canonical_kernel_bytes(const tconv_canonical_t *c);

/* Validates an activation and its parameter; resolves NaN alpha to the
 * default. Sets the last error on failure. */
tconv_status_t tconv_activation_validate(tconv_activation_t activation, double alpha,
                                         double *resolved_alpha);

#endif /* TCONV_CORE_PROBLEM_H */
