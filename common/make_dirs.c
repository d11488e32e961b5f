/* SPDX-License-Identifier: Apache-2.0 */
/* mkdir -p (make_dirs.h). */
#include "make_dirs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

bool tconv_make_dirs(const char *dir, char *why, size_t why_size) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        snprintf(why, why_size, "directory path longer than %zu bytes", sizeof buf - 1);
        return false;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        const char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            snprintf(why, why_size, "cannot create directory %s: %s", buf, strerror(errno));
            return false;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "%s is not a directory", buf);
        return false;
    }
    return true;
}
