/* SPDX-License-Identifier: Apache-2.0 */
/* A private scratch directory per test program, removed with its contents
 * at the end (cmocka group setup and teardown). */
#ifndef TCONV_TEST_TEMP_DIR_H
#define TCONV_TEST_TEMP_DIR_H

#include <stddef.h>

/** Creates "/tmp/tconv_<tag>_XXXXXX" (mkdtemp) and puts its path in @p dir.
 *  Returns 0, or -1 if it could not be created. */
int tc_temp_dir_create(char *dir, size_t size, const char *tag);

/** Removes @p dir and everything below it (symbolic links are removed, not
 *  followed). Returns 0, or -1 if something could not be removed. */
int tc_temp_dir_remove(const char *dir);

#endif /* TCONV_TEST_TEMP_DIR_H */
