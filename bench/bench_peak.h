/* The machine's float32 FMA peak, measured now: the denominator of the
 * suite's "% of peak". A shared VM's speed drifts with its neighbours, so the
 * suite measures it next to every layer instead of quoting a data sheet. */
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

#endif /* TCONV_BENCH_PEAK_H */
