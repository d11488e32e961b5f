/* SPDX-License-Identifier: Apache-2.0 */
/* Scratch directories for tests: mkdtemp, and a depth-first removal that
 * never follows a link out of the directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "temp_dir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int tc_temp_dir_create(char *dir, size_t size, const char *tag) {
    int n = snprintf(dir, size, "/tmp/tconv_%s_XXXXXX", tag);
    return n > 0 && (size_t)n < size && mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int tc_temp_dir_remove(const char *dir) {
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
