/* SPDX-License-Identifier: Apache-2.0 */
/* int64 arithmetic that reports overflow instead of wrapping (shape products,
 * output lengths): any overflow becomes tconv_invalid_arguments upstream. */
#ifndef TCONV_CORE_CHECKED_MATH_H
#define TCONV_CORE_CHECKED_MATH_H

#include <stdbool.h>
#include <stdint.h>

/* Each returns false on overflow; *out is then unspecified. */
static inline bool checked_mul(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool checked_add(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_sub(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_sub_overflow(a, b, out);
}

/* Python-style floor division (rounds toward -infinity); b > 0. */
static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && (a < 0))
        q -= 1;
    return q;
}

#endif /* TCONV_CORE_CHECKED_MATH_H */
