/* SPDX-License-Identifier: Apache-2.0 */
/* Status to exit code, and error printing in one format. */
#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_exit_code(tconv_status_t status) {
    switch (status) {
    case tconv_success:
        return CLI_EXIT_OK;
    case tconv_invalid_arguments:
        return CLI_EXIT_BAD_INPUT;
    case tconv_out_of_memory:
        return CLI_EXIT_NO_MEMORY;
    case tconv_unimplemented:
    case tconv_runtime_error:
    case tconv_no_device:
    default:
        return CLI_EXIT_RUNTIME;
    }
}

int cli_exit_code_for_errno(int err) {
    switch (err) {
    case ENOMEM:
        return CLI_EXIT_NO_MEMORY;
    case EACCES:
    case EPERM:
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EROFS:
    case ENXIO:
    case ETXTBSY:
    case EEXIST:
        return CLI_EXIT_BAD_INPUT;
    default:
        return CLI_EXIT_RUNTIME;
    }
}

/* Straight to the descriptor: stdio may want a buffer, and memory is what
 * just ran out. */
static void write_text(const char *text) {
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

int cli_error_out_of_memory(const char *command, const char *what) {
    write_text(command);
    write_text(": ");
    write_text(what);
    write_text(": out of memory\n");
    return CLI_EXIT_NO_MEMORY;
}

int cli_fail_status(const char *command, const char *what, tconv_status_t status) {
    const char *text = tconv_get_last_error();
    if (!text || !*text)
        text = tconv_status_name(status);
    fprintf(stderr, "%s: %s: %s\n", command, what, text ? text : "failed");
    return cli_exit_code(status);
}

void cli_error(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
