/* `tconv bench --suite`: the real-network layers of the performance guide,
 * timed on every device (or the selected one) next to oneDNN's best case and
 * the FMA peak measured at that moment; a text table, JSON or an SVG chart. */
#ifndef TCONV_CLI_BENCH_SUITE_H
#define TCONV_CLI_BENCH_SUITE_H

#include <stdio.h>

/** Nonzero when argv[1..argc) contains "--suite": `tconv bench` then runs
 *  the suite instead of a single layer. */
int bench_suite_requested(int argc, char **argv);

/** Runs the suite; argv starts at "bench". Returns the exit code. */
int cmd_bench_suite(int argc, char **argv);

/** The suite's part of `tconv bench --help`. */
void bench_suite_usage(FILE *out);

#endif /* TCONV_CLI_BENCH_SUITE_H */
