/* SPDX-License-Identifier: Apache-2.0 */
/* npy_compare A.npy B.npy [TOLERANCE]
 * Compares two float .npy files (any of <f4/<f8): same shape, and every
 * element within TOLERANCE * max(1, |a|, |b|) (default 1e-9). Prints the
 * largest difference. Exit 0 if they match, 1 if not, 2 on unreadable input.
 * Used by shell tests that compare the outputs of two devices. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "npy_test_io.h"

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: npy_compare A.npy B.npy [TOLERANCE]\n");
        return 2;
    }
    double tol = argc == 4 ? strtod(argv[3], NULL) : 1e-9;
    double *a = NULL, *b = NULL;
    int64_t sa[64], sb[64];
    int na, nb, ia, ib;
    char msg[512];
    if (tn_read(argv[1], &a, sa, &na, &ia, msg, sizeof msg) != 0 ||
        tn_read(argv[2], &b, sb, &nb, &ib, msg, sizeof msg) != 0) {
        fprintf(stderr, "npy_compare: %s\n", msg);
        return 2;
    }
    size_t count = 1;
    int same_shape = na == nb;
    for (int i = 0; same_shape && i < na; i++) {
        same_shape = sa[i] == sb[i];
        count *= (size_t)sa[i];
    }
    if (!same_shape) {
        fprintf(stderr, "npy_compare: shapes differ (%d vs %d dimensions)\n", na, nb);
        return 1;
    }
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        double scale = fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        double d = fabs(a[i] - b[i]) / scale;
        if (!(d <= worst)) { /* NaN counts as the worst */
            worst = isnan(d) ? INFINITY : d;
            at = i;
        }
    }
    printf("npy_compare: %zu elements, max scaled difference %.3g at %zu (tolerance %.1g)\n", count,
           worst, at, tol);
    free(a);
    free(b);
    return worst <= tol ? 0 : 1;
}
