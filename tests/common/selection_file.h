/* SPDX-License-Identifier: Apache-2.0 */
/* Lines of the measured-selection cache file (selection-v2.tsv) written the
 * way core/selection_cache.c writes them, for tests that plant entries. */
#ifndef TCONV_TEST_SELECTION_FILE_H
#define TCONV_TEST_SELECTION_FILE_H

#include <stddef.h>
#include <stdint.h>

/** The cache file's name in TCONV_CACHE_DIR. */
#define TC_SELECTION_FILE_NAME "selection-v2.tsv"

/** Formats one well-checksummed line, newline included, into (buf, size):
 *  "key \t winner \t id0=t0,id1=t1 \t measured_at \t measurements \t
 *  fnv1a64 of the first five fields". @p measured_at is a Unix time,
 *  @p measurements how often the decision was measured (>= 1). Returns 0, or
 *  -1 when it does not fit. */
int tc_selection_line(char *buf, size_t size, const char *key, const char *winner, const char *id0,
                      double t0, const char *id1, double t1, int64_t measured_at,
                      unsigned measurements);

#endif /* TCONV_TEST_SELECTION_FILE_H */
