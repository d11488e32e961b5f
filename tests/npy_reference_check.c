/* SPDX-License-Identifier: Apache-2.0 */
/* npy_reference_check Y.npy X.npy W.npy B.npy|- [options]
 * Checks a `tconv run` output Y against the float64 reference
 * (tests/reference) of the layer X, W (and B, or - for none) states:
 * channels_last input (N, spatial..., Cin), keras kernel (k..., Cout, Cin),
 * one group. Options, as `tconv run` spells them:
 *   --strides LIST  --output-padding LIST  --padding valid|same
 *   --activation NAME  --dtype float32|float64 (default float32)
 * LIST is one integer or one per spatial axis. The output length comes from
 * the reference's own framework rules (tconv_reference_resolve), so Y's
 * shape is checked too; the values with the random suites' error measure
 * (tc_tensors_max_error: |y - ref| relative to the sum of |terms|, times the
 * activation's slope) against 1e-5 (float32) or 1e-12 (float64).
 * Prints the largest error. Exit 0 if Y matches, 1 if not, 2 on bad usage
 * or unreadable input. Used by the shell tests instead of a second device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy_test_io.h"
#include "reference/tconv_reference.h"
#include "test_support.h"

typedef long long ll;

/* The activations by their canonical names (tconv_types.h order), kept here
 * so a wrong name table in the library cannot agree with itself. */
static const char *const activation_names[TCONV_ACTIVATION_COUNT] = {
    "linear",      "relu",        "relu6",        "leaky_relu", "elu",
    "selu",        "sigmoid",     "hard_sigmoid", "hard_silu",  "tanh",
    "softplus",    "softsign",    "silu",         "gelu",       "exponential",
    "log_sigmoid", "mish",        "celu",         "hard_tanh",  "hard_shrink",
    "soft_shrink", "tanh_shrink", "sparse_plus",  "squareplus", "gelu_tanh"};

static int usage(void) {
    fprintf(stderr, "usage: npy_reference_check Y.npy X.npy W.npy B.npy|- [--strides LIST] "
                    "[--output-padding LIST] [--padding valid|same] [--activation NAME] "
                    "[--dtype float32|float64]\n");
    return 2;
}

/* One integer or @p rank comma-separated ones into v[0..rank). */
static int parse_list(const char *text, int rank, int64_t *v) {
    int n = 0;
    for (const char *c = text; *c && n < 3;) {
        char *end;
        long long x = strtoll(c, &end, 10);
        if (end == c || x < 0)
            return -1;
        v[n++] = x;
        c = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return -1;
    }
    if (n == 1)
        for (int i = 1; i < rank; i++)
            v[i] = v[0];
    return n == 1 || n == rank ? 0 : -1;
}

typedef struct arrays {
    double *y, *x, *w, *b;
    int64_t ys[8], xs[8], ws[8], bs[8];
    int yn, xn, wn, bn;
} arrays_t;

static int read_arrays(char **argv, arrays_t *a) {
    char msg[512];
    int item;
    if (tn_read(argv[1], &a->y, a->ys, &a->yn, &item, msg, sizeof msg) != 0 ||
        tn_read(argv[2], &a->x, a->xs, &a->xn, &item, msg, sizeof msg) != 0 ||
        tn_read(argv[3], &a->w, a->ws, &a->wn, &item, msg, sizeof msg) != 0 ||
        (strcmp(argv[4], "-") != 0 &&
         tn_read(argv[4], &a->b, a->bs, &a->bn, &item, msg, sizeof msg) != 0)) {
        fprintf(stderr, "npy_reference_check: %s\n", msg);
        return -1;
    }
    return 0;
}

/* The problem X and W state, with the options of argv[5..]. */
static int make_problem(const arrays_t *a, int argc, char **argv, tconv_problem_t *p) {
    const int rank = a->xn - 2;
    if (rank < 1 || rank > 3 || a->wn != rank + 2) {
        fprintf(stderr, "npy_reference_check: X has %d and W %d dimensions: want rank+2 each\n",
                a->xn, a->wn);
        return -1;
    }
    tconv_problem_init(p, rank);
    p->batch = a->xs[0];
    p->in_channels = a->xs[rank + 1];
    p->out_channels = a->ws[rank];
    p->use_bias = a->b != NULL;
    for (int i = 0; i < rank; i++) {
        p->input_size[i] = a->xs[1 + i];
        p->kernel_size[i] = a->ws[i];
    }
    for (int i = 5; i < argc; i++) {
        if (i + 1 >= argc)
            return usage(), -1;
        const char *name = argv[i], *value = argv[++i];
        int ok = 1;
        if (!strcmp(name, "--strides")) {
            ok = parse_list(value, rank, p->strides) == 0;
        } else if (!strcmp(name, "--output-padding")) {
            ok = parse_list(value, rank, p->output_padding) == 0;
            p->has_output_padding = 1;
        } else if (!strcmp(name, "--padding")) {
            ok = !strcmp(value, "valid") || !strcmp(value, "same");
            p->padding = !strcmp(value, "same") ? tconv_padding_same : tconv_padding_valid;
        } else if (!strcmp(name, "--dtype")) {
            ok = !strcmp(value, "float32") || !strcmp(value, "float64");
            p->dtype = !strcmp(value, "float64") ? tconv_f64 : tconv_f32;
        } else if (!strcmp(name, "--activation")) {
            ok = 0;
            for (int k = 0; k < TCONV_ACTIVATION_COUNT; k++)
                if (!strcmp(value, activation_names[k])) {
                    p->activation = (tconv_activation_t)k;
                    ok = 1;
                }
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "npy_reference_check: %s %s: not understood\n", name, value);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5)
        return usage();
    arrays_t a;
    memset(&a, 0, sizeof a);
    tconv_problem_t p;
    tc_tensors_t t;
    char msg[2048];
    int rc = 2;
    if (read_arrays(argv, &a) != 0 || make_problem(&a, argc, argv, &p) != 0)
        goto done;
    if (tc_tensors_from_values(&p, a.x, a.w, a.b, &t, msg, sizeof msg) != 0) {
        fprintf(stderr, "npy_reference_check: %s\n", msg);
        goto done;
    }
    rc = 1;
    int64_t in_dims[TCONV_MAX_DIMS], k_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int nd;
    tconv_reference_user_shapes(&t.canonical, in_dims, k_dims, out_dims, &nd);
    int shape_ok = a.yn == nd;
    for (int i = 0; shape_ok && i < nd; i++)
        shape_ok = a.ys[i] == out_dims[i];
    if (!shape_ok) {
        fprintf(stderr,
                "npy_reference_check: %s has %d dimensions (%lld, %lld, ...), the reference "
                "output %d (%lld, %lld, ...)\n",
                argv[1], a.yn, (ll)a.ys[0], (ll)a.ys[1], nd, (ll)out_dims[0], (ll)out_dims[1]);
    } else {
        tc_tensors_set_output(&t, a.y);
        int64_t worst = 0;
        double err = tc_tensors_max_error(&t, &worst);
        double tol = tc_tolerance(p.dtype);
        printf("npy_reference_check: %lld elements, max relative error %.3g at %lld (got %.9g, "
               "reference %.9g; tolerance %.0e)\n",
               (ll)t.out_count, err, (ll)worst, a.y[worst], t.ref[worst], tol);
        rc = err <= tol ? 0 : 1;
    }
    tc_tensors_free(&t);
done:
    free(a.y);
    free(a.x);
    free(a.w);
    free(a.b);
    return rc;
}
