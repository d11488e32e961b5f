/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands of `tconv`. Each takes argv starting at its own name and
 * returns the process exit code (status.h). */
#ifndef TCONV_CLI_COMMANDS_H
#define TCONV_CLI_COMMANDS_H

#include <stdio.h>

int cmd_devices(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_backward(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_conformance(int argc, char **argv);

void cmd_devices_usage(FILE *out);
void cmd_run_usage(FILE *out);
void cmd_backward_usage(FILE *out);
void cmd_bench_usage(FILE *out);
void cmd_demo_usage(FILE *out);
void cmd_conformance_usage(FILE *out);

#endif /* TCONV_CLI_COMMANDS_H */
