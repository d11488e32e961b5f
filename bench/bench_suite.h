/* SPDX-License-Identifier: Apache-2.0 */
/* tconv-bench: the real-network layers of the performance guide, timed on
 * every device (or the selected one) next to oneDNN's best case and the FMA
 * peak measured at that moment; a text table, JSON or an SVG chart. */
#ifndef TCONV_BENCH_SUITE_H
#define TCONV_BENCH_SUITE_H

#include <stdio.h>

/** Runs the suite; argv starts at the program name. Returns the exit code. */
int cmd_bench_suite(int argc, char **argv);

/** The suite's options (tconv-bench --help). */
void bench_suite_usage(FILE *out);

#endif /* TCONV_BENCH_SUITE_H */
