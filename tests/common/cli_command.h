/* SPDX-License-Identifier: Apache-2.0 */
/* Building `tconv` command lines in the CLI tests: an argv with its own
 * storage, and the layer options that state a problem (shapes come from the
 * .npy files), as a user would type them. */
#ifndef TCONV_TEST_CLI_COMMAND_H
#define TCONV_TEST_CLI_COMMAND_H

#include "tconv/tconv.h"

typedef struct tc_cli_command {
    char *argv[64];
    int argc;
    char storage[64][320];
} tc_cli_command_t;

/** Appends one argument. */
void tc_cli_push(tc_cli_command_t *a, const char *s);

/** Appends an option and its value. */
void tc_cli_push2(tc_cli_command_t *a, const char *opt, const char *value);

/** Appends the options of `tconv run` / `tconv backward` that state @p p
 *  (strides, dilation, padding form, output padding/shape, groups, layouts,
 *  activation, dtype). */
void tc_cli_push_layer_options(tc_cli_command_t *a, const tconv_problem_t *p);

#endif /* TCONV_TEST_CLI_COMMAND_H */
