/* SPDX-License-Identifier: Apache-2.0 */
/* The machine's float32 FMA peak and its copy bandwidth, measured now: the
 * denominator of the suite's "% of peak" and the two ceilings of its
 * roofline. A shared VM's speed drifts with its neighbours, so the suite
 * measures them next to every layer instead of quoting a data sheet. */
#ifndef TCONV_BENCH_PEAK_H
#define TCONV_BENCH_PEAK_H

#include <stddef.h>

/** One peak measurement. */
typedef struct bench_peak {
    double gflops;   /**< float32 FLOP/s of all threads together, in 1e9. */
    int threads;     /**< Threads that ran the loop. */
    const char *isa; /**< "avx512f", "avx2+fma" or "scalar" (static). */
    double seconds;  /**< Wall time of the measurement. */
} bench_peak_t;

/** Threads the host backends use: TCONV_NUM_THREADS when it is an integer in
 *  1..4096 (the core's rule), else the online cores. */
int bench_peak_threads(void);

/** The widest FMA instruction set this CPU runs ("avx512f", "avx2+fma",
 *  "scalar"); static storage. */
const char *bench_peak_isa(void);

/** Runs independent FMA chains on bench_peak_threads() threads for about
 *  @p seconds and reports the achieved float32 GFLOP/s.
 *  @returns 0, or -1 with @p message set (thread creation failed). */
int bench_peak_measure(double seconds, bench_peak_t *peak, char *message, size_t message_size);

/** One copy-bandwidth measurement. */
typedef struct bench_bandwidth {
    double gbytes;  /**< Bytes read plus bytes written per second, all threads, in 1e9. */
    int threads;    /**< Threads that ran the loop. */
    double seconds; /**< Wall time of the measurement. */
} bench_bandwidth_t;

/** STREAM-like copy bandwidth: each of bench_peak_threads() threads copies
 *  (memcpy, 1 MiB at a time) its own slice of 256 MiB of buffers, larger
 *  than the caches, for about @p seconds; bytes read and written both count,
 *  as in STREAM's Copy. The buffers are allocated and first touched at the
 *  first call and kept for the next (bench_bandwidth_release frees them).
 *  @returns 0, or -1 with @p message set. */
int bench_bandwidth_measure(double seconds, bench_bandwidth_t *bandwidth, char *message,
                            size_t message_size);

/** Frees the copy buffers (a later measurement allocates them again). */
void bench_bandwidth_release(void);

#endif /* TCONV_BENCH_PEAK_H */
