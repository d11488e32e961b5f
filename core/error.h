/* SPDX-License-Identifier: Apache-2.0 */
/* Thread-local last-error message shared by every public entry point. */
#ifndef TCONV_CORE_ERROR_H
#define TCONV_CORE_ERROR_H

#include "tconv/tconv.h"

/* Formats the calling thread's last-error message and returns @p status, so a
 * failing path can say `return tconv_set_error(tconv_invalid_arguments, ...)`. */
tconv_status_t tconv_set_error(tconv_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Maps anything a plugin returns onto a status the API documents (unknown
 * values become tconv_runtime_error, so callers never see foreign codes). */
tconv_status_t tconv_status_sanitize(int status);

/* Shorthand for the most common check: a pointer argument that must not be NULL. */
#define TCONV_REQUIRE_NONNULL(arg)                                                                 \
    do {                                                                                           \
        if ((arg) == NULL)                                                                         \
            return tconv_set_error(tconv_invalid_arguments, "%s: must not be NULL", #arg);         \
    } while (0)

#endif /* TCONV_CORE_ERROR_H */
