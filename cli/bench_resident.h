/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv bench --resident`: a 3-layer decoder timed with its tensors on the
 * device (three tconv_plan_enqueue calls on device buffers, one
 * tconv_plan_wait) against the same layers through host memory (three
 * tconv_plan_execute calls), on each selected device. */
#ifndef TCONV_CLI_BENCH_RESIDENT_H
#define TCONV_CLI_BENCH_RESIDENT_H

#include <stdint.h>
#include <stdio.h>

#include "tconv/tconv.h"

/** Devices a run compares at most. */
#define BENCH_RESIDENT_MAX_DEVICES 16

typedef struct bench_resident_config {
    const char *devices[BENCH_RESIDENT_MAX_DEVICES]; /**< Selectors, in order. */
    int device_count;                                /**< >= 1. */
    int64_t batch;                                   /**< Samples (N of every layer). */
    tconv_dtype_t dtype;
    int warmup, repeat; /**< Untimed and timed rounds (each round times every way once). */
    uint64_t seed;
    int json; /**< One JSON object on stdout instead of the table. */
} bench_resident_config_t;

/** Prints the decoder's layers (for the usage text). */
void bench_resident_usage(FILE *out);

/** Runs the comparison and prints it; returns the command's exit code
 *  (errors printed as "tconv bench: ..."). */
int bench_resident_run(const bench_resident_config_t *config);

#endif /* TCONV_CLI_BENCH_RESIDENT_H */
