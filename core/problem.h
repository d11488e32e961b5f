/* Internal helpers around problems and their canonical form. */
#ifndef TCONV_CORE_PROBLEM_H
#define TCONV_CORE_PROBLEM_H

#include <stddef.h>

#include "tconv/tconv.h"

/* Smallest struct_size a caller may pass: everything up to the last field. */
#define TCONV_PROBLEM_MIN_SIZE (offsetof(tconv_problem_t, activation_alpha) + sizeof(double))

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
