/* SPDX-License-Identifier: Apache-2.0 */
/* Cache-file lines as the core writes them (selection_file.h). */
#include "selection_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/fnv1a.h" /* the core's checksum */

int tc_selection_line(char *buf, size_t size, const char *key, const char *winner, const char *id0,
                      double t0, const char *id1, double t1, int64_t measured_at,
                      unsigned measurements) {
    char body[8192];
    int n = snprintf(body, sizeof body, "%s\t%s\t%s=%.9g,%s=%.9g\t%" PRId64 "\t%u", key, winner,
                     id0, t0, id1, t1, measured_at, measurements);
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    const uint64_t sum = tconv_fnv1a64(TCONV_FNV1A64_OFFSET, body, strlen(body));
    n = snprintf(buf, size, "%s\t%016llx\n", body, (unsigned long long)sum);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
