/* SPDX-License-Identifier: Apache-2.0 */
/* tconv-bench: the benchmark harness (the real-network layer suite, the FMA
 * peak loop, the SVG chart, the optional oneDNN comparison), kept out of the
 * `tconv` command so that the command has only the library's run-time
 * dependencies. `tconv bench` still times one layer. */
#include <stdio.h>
#include <string.h>

#include "bench_suite.h"
#include "status.h"
#include "tconv/tconv.h"

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("tconv-bench %s (library %s)\n", TCONV_VERSION_STRING,
               tconv_get_version(NULL, NULL, NULL));
        return CLI_EXIT_OK;
    }
    /* Line-buffered so progress lines and error messages interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cmd_bench_suite(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tconv-bench: writing to standard output failed\n");
        return rc ? rc : CLI_EXIT_RUNTIME;
    }
    return rc;
}
