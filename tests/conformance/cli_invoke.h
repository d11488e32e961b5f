/* SPDX-License-Identifier: Apache-2.0 */
/* Running a conformance case through the `tconv run` and `tconv backward`
 * command lines. */
#ifndef TCONV_CONFORMANCE_CLI_INVOKE_H
#define TCONV_CONFORMANCE_CLI_INVOKE_H

#include <stddef.h>

#include "conformance_case.h"

/** Runs `@p tconv run` for case @p c on device @p device, writing the result
 *  to @p output_path and the command's stdout+stderr to @p log_path.
 *  @returns the exit status (0..255), or -1 if it could not be run or was
 *  killed by a signal (the reason is in @p message). The command line is
 *  written to @p command_line for reports. */
int cli_run_case(const char *tconv, const conformance_case_t *c, const char *device,
                 const char *output_path, const char *log_path, char *command_line,
                 size_t command_line_size, char *message, size_t message_size);

/** Runs `@p tconv backward` for gradient case @p c on device @p device,
 *  writing dL/dx, dL/dw and (when the case has a bias) dL/db to
 *  @p grad_paths[0..2]; otherwise as cli_run_case. */
int cli_backward_case(const char *tconv, const conformance_case_t *c, const char *device,
                      const char *const grad_paths[3], const char *log_path, char *command_line,
                      size_t command_line_size, char *message, size_t message_size);

#endif /* TCONV_CONFORMANCE_CLI_INVOKE_H */
