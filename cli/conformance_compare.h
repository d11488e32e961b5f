/* SPDX-License-Identifier: Apache-2.0 */
/* Comparing tconv's output with a framework's golden output, with a
 * tolerance scaled to the size of the sums being computed. */
#ifndef TCONV_CONFORMANCE_COMPARE_H
#define TCONV_CONFORMANCE_COMPARE_H

#include <stddef.h>

#include "conformance_case.h"
#include "npy.h"

/** Default relative tolerances: the frameworks compute in the case's dtype
 *  with other summation orders, so results differ by rounding only. */
#define CONFORMANCE_RTOL_F32 1e-5
#define CONFORMANCE_RTOL_F64 1e-12

/** The absolute tolerance of a case:
 *      rtol * max(1, max|golden|, B),
 *  B = max|x| * max|w| * (Cin/G) * prod_i ceil(k_i / (s_i / gcd(s_i, d_i))) + max|b|,
 *  an upper bound of sum |terms| for any output element (at most that many
 *  taps of each axis land on one output index). rtol is the case's own
 *  "tolerance" if it has one, else the dtype's default. */
double case_tolerance(const conformance_case_t *c, const npy_array_t *input,
                      const npy_array_t *kernel, const npy_array_t *bias,
                      const npy_array_t *golden);

/** Relative tolerances of the gradient cases, against max(1, max|golden|) of
 *  each gradient: the goldens are sums over batch and space (dL/dw, dL/db)
 *  or over taps and channels (dL/dx) whose order differs between
 *  frameworks, devices and thread counts. */
#define CONFORMANCE_GRAD_RTOL_F32 2e-4
#define CONFORMANCE_GRAD_RTOL_F64 1e-10

/** The absolute tolerance of one golden gradient:
 *  rtol * max(1, max|golden|), rtol the dtype's CONFORMANCE_GRAD_RTOL_*. */
double gradient_tolerance(tconv_dtype_t dtype, const npy_array_t *golden);

/** Largest |got - golden| over the @p golden->count values of @p got (same
 *  dtype as golden), and the index of that element in @p where (0 when
 *  golden is empty). NaN anywhere gives +inf, at the first NaN's index. */
double max_abs_error_at(const npy_array_t *golden, const void *got, size_t *where);

/** Value @p i of an array, as double. */
double array_value(const npy_array_t *a, size_t i);

#endif /* TCONV_CONFORMANCE_COMPARE_H */
