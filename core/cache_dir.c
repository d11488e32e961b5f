/* SPDX-License-Identifier: Apache-2.0 */
/* The cache directory rule (cache_dir.h). */
#include "cache_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "<base><suffix>" (malloc'd), or NULL with the reason. */
static char *join(const char *base, const char *suffix, char *why, size_t why_size) {
    const size_t len = strlen(base) + strlen(suffix) + 1;
    char *path = malloc(len);
    if (path == NULL)
        snprintf(why, why_size, "out of memory resolving the cache directory");
    else
        snprintf(path, len, "%s%s", base, suffix);
    return path;
}

char *tconv_cache_dir_resolve(char *why, size_t why_size) {
    /* secure_getenv: in a set-user-ID program the caller's environment never
     * chooses where the library writes. */
    const char *dir = secure_getenv("TCONV_CACHE_DIR");
    if (dir != NULL && dir[0] != '\0') {
        if (strcmp(dir, "off") == 0) {
            snprintf(why, why_size, "TCONV_CACHE_DIR=off");
            return NULL;
        }
        if (dir[0] != '/') {
            snprintf(why, why_size,
                     "TCONV_CACHE_DIR = '%.200s': must be an absolute path (or off); no cache",
                     dir);
            return NULL;
        }
        return join(dir, "", why, why_size);
    }
    dir = secure_getenv("XDG_CACHE_HOME");
    if (dir != NULL && dir[0] == '/') /* relative: ignored (XDG Base Directory spec) */
        return join(dir, "/tconv", why, why_size);
    dir = secure_getenv("HOME");
    if (dir != NULL && dir[0] == '/')
        return join(dir, "/.cache/tconv", why, why_size);
    snprintf(why, why_size,
             "no cache directory: TCONV_CACHE_DIR is unset and HOME is unset or not absolute");
    return NULL;
}
