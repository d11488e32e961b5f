/* SPDX-License-Identifier: Apache-2.0 */
/* Host thread count (host_threads.h). */
#include "host_threads.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int tconv_online_cores(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        return 1;
    return cores > TCONV_MAX_THREADS ? TCONV_MAX_THREADS : (int)cores;
}

int tconv_host_threads(const char **rejected) {
    if (rejected != NULL)
        *rejected = NULL;
    const char *v = getenv("TCONV_NUM_THREADS");
    if (v == NULL || *v == '\0')
        return tconv_online_cores();
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > TCONV_MAX_THREADS) {
        if (rejected != NULL)
            *rejected = v;
        return tconv_online_cores();
    }
    return (int)n;
}
