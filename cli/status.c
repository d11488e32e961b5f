/* Status to exit code, and error printing in one format. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

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
