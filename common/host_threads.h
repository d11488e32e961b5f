/* SPDX-License-Identifier: Apache-2.0 */
/* How many host threads tconv uses: TCONV_NUM_THREADS, else the online
 * cores. One rule for the core (tconv_host_t.num_threads, which the CPU
 * backend uses), and the CLI's peak-FLOP/s estimate. Internal: compiled in,
 * never installed. */
#ifndef TCONV_COMMON_HOST_THREADS_H
#define TCONV_COMMON_HOST_THREADS_H

/** Most threads: beyond it a count is surely a typo or bogus. */
#define TCONV_MAX_THREADS 4096

/** Online cores (sysconf), in 1..TCONV_MAX_THREADS. */
int tconv_online_cores(void);

/** TCONV_NUM_THREADS when it is an integer in 1..TCONV_MAX_THREADS, else
 *  tconv_online_cores(). When the variable is set but unusable, *rejected
 *  (if not NULL) receives its value (else NULL), for the caller to report. */
int tconv_host_threads(const char **rejected);

#endif /* TCONV_COMMON_HOST_THREADS_H */
