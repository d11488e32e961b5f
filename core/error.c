/* SPDX-License-Identifier: Apache-2.0 */
/* Thread-local last error and status names. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

/* One buffer per thread: messages of concurrent calls never mix. */
static _Thread_local char last_error[2048];

tconv_status_t tconv_set_error(tconv_status_t status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return status;
}

tconv_status_t tconv_status_sanitize(int status) {
    switch (status) {
    case tconv_success:
    case tconv_out_of_memory:
    case tconv_invalid_arguments:
    case tconv_unimplemented:
    case tconv_runtime_error:
    case tconv_no_device:
        return (tconv_status_t)status;
    default:
        return tconv_runtime_error;
    }
}

TCONV_API const char *tconv_get_last_error(void) {
    return last_error;
}

TCONV_API const char *tconv_status_name(tconv_status_t status) {
    switch (status) {
    case tconv_success:
        return "success";
    case tconv_out_of_memory:
        return "out_of_memory";
    case tconv_invalid_arguments:
        return "invalid_arguments";
    case tconv_unimplemented:
        return "unimplemented";
    case tconv_runtime_error:
        return "runtime_error";
    case tconv_no_device:
        return "no_device";
    }
    return "unknown_status";
}
