/* SPDX-License-Identifier: Apache-2.0 */
/* Exit codes of the tconv command and the mapping from library statuses. */
#ifndef TCONV_CLI_STATUS_H
#define TCONV_CLI_STATUS_H

#include "tconv/tconv.h"

enum {
    CLI_EXIT_OK = 0,           /**< Success. */
    CLI_EXIT_CHECK_FAILED = 1, /**< `tconv conformance`: a case failed, or none ran. */
    CLI_EXIT_BAD_INPUT = 2,    /**< Bad arguments or bad input. */
    CLI_EXIT_RUNTIME = 3,      /**< No device, device or runtime failure, unimplemented. */
    CLI_EXIT_NO_MEMORY = 4,    /**< Out of memory. */
};

/** The exit code for a library status. */
int cli_exit_code(tconv_status_t status);

/** The exit code for a failed system call on a path the user gave: a path
 *  that cannot be used as given (EACCES, ENOENT, EISDIR, EROFS, ...) is a bad
 *  argument; ENOMEM is out of memory; anything else (ENOSPC, EDQUOT, EIO,
 *  EMFILE, ...) is a runtime failure of this machine, not of the arguments. */
int cli_exit_code_for_errno(int err);

/** Prints "<command>: <what>: out of memory" to stderr without allocating
 *  (plain writes of the given strings) and returns CLI_EXIT_NO_MEMORY. */
int cli_error_out_of_memory(const char *command, const char *what);

/** Prints "<command>: <what>: <last library error>" (or the status name when
 *  the library gave no text) to stderr and returns the exit code. */
int cli_fail_status(const char *command, const char *what, tconv_status_t status);

/** Prints "<command>: <message>" to stderr (printf-style). */
void cli_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* TCONV_CLI_STATUS_H */
