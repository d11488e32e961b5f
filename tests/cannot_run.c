/* SPDX-License-Identifier: Apache-2.0 */
/* cannot_run WHAT
 * For shell tests: what a test that cannot run here exits with
 * (tc_cannot_run): prints "skipped: WHAT" and exits 77 (ctest: Skipped), or
 * under CI=true prints "FAILED: WHAT" and exits 1. A shell test ends with
 * `"$cannot_run" "no OpenCL platform"; exit $?`, so the tests read CI in one
 * place (tests/common/test_support.c). */
#include <stdio.h>

#include "test_support.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: cannot_run WHAT\n");
        return 2;
    }
    return tc_cannot_run("%s", argv[1]);
}
