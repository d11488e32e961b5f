/* SPDX-License-Identifier: Apache-2.0 */
/* Seconds on the monotonic clock, for the measured device selection (core),
 * OpenCL build timings and the CLI's benchmarks: one implementation for all.
 * Internal: compiled in, never installed. */
#ifndef TCONV_COMMON_MONOTONIC_CLOCK_H
#define TCONV_COMMON_MONOTONIC_CLOCK_H

#include <time.h>

/** Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): only
 *  differences mean anything; never jumps with the wall clock. */
static inline double tconv_monotonic_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif /* TCONV_COMMON_MONOTONIC_CLOCK_H */
