/* Cache-file lines as the core writes them (selection_file.h). */
#include "selection_file.h"

#include <stdint.h>
#include <stdio.h>

static uint64_t fnv1a64(const char *text) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (; *text; text++) {
        hash ^= (unsigned char)*text;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

int tc_selection_line(char *buf, size_t size, const char *key, const char *winner, const char *id0,
                      double t0, const char *id1, double t1) {
    char body[8192];
    int n = snprintf(body, sizeof body, "%s\t%s\t%s=%.9g,%s=%.9g", key, winner, id0, t0, id1, t1);
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    n = snprintf(buf, size, "%s\t%016llx\n", body, (unsigned long long)fnv1a64(body));
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
