/* SPDX-License-Identifier: Apache-2.0 */
/* Running a command (the tconv CLI) from a test and capturing its output. */
#ifndef TCONV_TEST_PROCESS_H
#define TCONV_TEST_PROCESS_H

#include <stddef.h>

/** Runs argv[0] with @p argv (NULL-terminated, no shell) and waits. Its
 *  stdout and stderr go to *out and *err (malloc'd, NUL-terminated; free
 *  them). Returns the exit code, 128 + signal if killed, -1 if it could not
 *  run. */
int tp_run(char *const argv[], char **out, char **err);

/** tp_run of @p program with the arguments that follow @p err, up to a
 *  NULL (at most 62 of them). */
int tp_run_args(const char *program, char **out, char **err, ...);

/** The command line as one string, for failure messages. */
void tp_format(char *const argv[], char *buf, size_t size);

#endif /* TCONV_TEST_PROCESS_H */
