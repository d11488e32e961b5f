/* SPDX-License-Identifier: Apache-2.0 */
/* mkdir -p for the cache directory, shared by the core (selection cache) and
 * the OpenCL plugin (program cache). Internal: compiled in, never installed. */
#ifndef TCONV_COMMON_MAKE_DIRS_H
#define TCONV_COMMON_MAKE_DIRS_H

#include <stdbool.h>
#include <stddef.h>

/** Creates @p dir and any missing parents, new ones with mode 0700 (caches
 *  are private). True when @p dir then is a directory; false with the reason
 *  ("cannot create directory X: ...", "X is not a directory") in @p why. */
bool tconv_make_dirs(const char *dir, char *why, size_t why_size);

#endif /* TCONV_COMMON_MAKE_DIRS_H */
