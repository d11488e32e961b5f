/* Lines of the measured-selection cache file (selection-v1.tsv) written the
 * way core/selection_cache.c writes them, for tests that plant entries. */
#ifndef TCONV_TEST_SELECTION_FILE_H
#define TCONV_TEST_SELECTION_FILE_H

#include <stddef.h>

/** Formats one well-checksummed line, newline included, into (buf, size):
 *  "key \t winner \t id0=t0,id1=t1 \t fnv1a64 of the first three fields".
 *  Returns 0, or -1 when it does not fit. */
int tc_selection_line(char *buf, size_t size, const char *key, const char *winner, const char *id0,
                      double t0, const char *id1, double t1);

#endif /* TCONV_TEST_SELECTION_FILE_H */
