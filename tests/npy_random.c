/* SPDX-License-Identifier: Apache-2.0 */
/* npy_random PATH D0,D1,... SEED
 * Writes a float64 C-order .npy of the given shape with seeded values in
 * [-1, 1): test data for shell tests (no Python at test time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy_test_io.h"
#include "test_support.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: npy_random PATH D0,D1,... SEED\n");
        return 2;
    }
    int64_t shape[8];
    int ndim = 0;
    size_t count = 1;
    for (char *p = argv[2]; *p && ndim < 8;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1) {
            fprintf(stderr, "npy_random: bad shape '%s'\n", argv[2]);
            return 2;
        }
        shape[ndim++] = v;
        count *= (size_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    double *values = malloc(count * sizeof *values);
    if (!values)
        return 2;
    tc_rng_t rng;
    tc_rng_seed(&rng, strtoull(argv[3], NULL, 10));
    for (size_t i = 0; i < count; i++)
        values[i] = tc_rng_signed_unit(&rng);
    int rc = tn_write(argv[1], 8, shape, ndim, values);
    free(values);
    if (rc != 0)
        fprintf(stderr, "npy_random: cannot write %s\n", argv[1]);
    return rc ? 2 : 0;
}
