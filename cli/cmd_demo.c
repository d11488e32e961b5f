/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv demo`: the newcomer's first run. A realistic 3-D decoder layer on
 * the automatically chosen device: which devices were considered and why one
 * was chosen, plan and execution time, and the error against the float64
 * reference (tests/reference). Exit 0 only if every output's error is within
 * the float32 rounding-error bound of its sum (demo_tolerance). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "commands.h"
#include "demo_layer.h"
#include "status.h"
#include "tconv_reference.h"

#define COMMAND "tconv demo"

/* float32's unit roundoff (round to nearest): 2^-24. */
#define F32_UNIT_ROUNDOFF 0x1p-24
/* Higham and Mary's probabilistic bound ("A New Approach to Probabilistic
 * Rounding Error Analysis", SIAM J. Sci. Comput. 41(5), 2019): a sum of n
 * products computed in floating point, in any order, is off by at most
 * lambda * sqrt(n) * u * sum |terms| (to first order) with probability at
 * least 1 - 2n exp(-lambda^2 (1-u)^2 / 2), the rounding errors being
 * independent and of mean zero (round to nearest on random data). lambda = 9
 * puts that failure probability below 3e-9 over all 32^3 x 32 outputs of 513
 * terms each; the worst-case bound n * u is 2.5 times looser, and the 1e-4
 * used before was 8 times looser. */
#define DEMO_LAMBDA 9.0

void cmd_demo_usage(FILE *out) {
    fputs("Usage: tconv demo [--device SEL] [--repeat R]\n"
          "Runs a 3D U-Net decoder layer (16^3 x 64 -> 32^3 x 32, kernel 3, stride 2, same\n"
          "padding, output_padding 1, bias, relu, float32) on the chosen device (default\n"
          "auto), shows which devices were considered and why one was chosen, the plan and\n"
          "median execution time, GFLOP/s, and the error against a float64 reference.\n"
          "Exit 0 only if every |y - ref| is within 9 sqrt(n) 2^-24 of its sum of |terms|\n"
          "(n terms: float32's probabilistic rounding-error bound; 1.2e-5 here).\n"
          "  --device SEL   device selector (default auto)\n"
          "  --repeat R     timed runs (default 10, after 3 untimed)\n",
          out);
}

/* The demo's tensors, float32 for the library and float64 for the reference. */
typedef struct demo_data {
    size_t n_in, n_k, n_bias, n_out;
    float *in, *kernel, *bias, *out;
    double *in64, *kernel64, *bias64, *ref, *ref_abs;
} demo_data_t;

static void demo_data_free(demo_data_t *d) {
    void *buffers[] = {d->in,       d->kernel, d->bias, d->out,    d->in64,
                       d->kernel64, d->bias64, d->ref,  d->ref_abs};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    memset(d, 0, sizeof *d);
}

static double *widen(const float *src, size_t count) {
    double *dst = malloc((count ? count : 1) * sizeof(double));
    for (size_t i = 0; dst && i < count; i++)
        dst[i] = src[i];
    return dst;
}

static int demo_data_make(const tconv_problem_t *p, demo_data_t *d) {
    memset(d, 0, sizeof *d);
    if (bench_tensor_counts(p, &d->n_in, &d->n_k, &d->n_out) != tconv_success)
        return -1;
    d->n_bias = (size_t)p->out_channels;
    d->in = malloc(d->n_in * sizeof(float));
    d->kernel = malloc(d->n_k * sizeof(float));
    d->bias = malloc(d->n_bias * sizeof(float));
    d->out = malloc(d->n_out * sizeof(float));
    d->ref = malloc(d->n_out * sizeof(double));
    d->ref_abs = malloc(d->n_out * sizeof(double));
    if (!d->in || !d->kernel || !d->bias || !d->out || !d->ref || !d->ref_abs)
        return -1;
    uint64_t state = 0x5eed5eed12345678ull;
    bench_fill_uniform(d->in, d->n_in, tconv_f32, &state);
    bench_fill_uniform(d->kernel, d->n_k, tconv_f32, &state);
    bench_fill_uniform(d->bias, d->n_bias, tconv_f32, &state);
    /* The reference sees exactly the float32 values the library sees. */
    d->in64 = widen(d->in, d->n_in);
    d->kernel64 = widen(d->kernel, d->n_k);
    d->bias64 = widen(d->bias, d->n_bias);
    return d->in64 && d->kernel64 && d->bias64 ? 0 : -1;
}

static void print_devices(tconv_context_t ctx) {
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    printf("Devices considered (%zu):\n", count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success)
            printf("  %-12s %s (%s, %u compute units)\n", info.id, info.name, info.vendor,
                   info.compute_units);
    }
    if (count == 0)
        printf("  none: run `tconv devices` to see why each plugin was skipped\n");
}

/* Errors of the library's output against the reference. */
typedef struct demo_error {
    double max_abs; /**< max |y - ref| */
    double max_ref; /**< max |ref| */
    double scaled;  /**< max |y - ref| / sum |terms| per element */
    double simple;  /**< max_abs / max(1, max_ref) */
} demo_error_t;

static demo_error_t compare(const demo_data_t *d) {
    demo_error_t e = {0, 0, 0, 0};
    for (size_t i = 0; i < d->n_out; i++) {
        double err = fabs((double)d->out[i] - d->ref[i]);
        if (!(err <= e.max_abs)) /* NaN propagates */
            e.max_abs = err;
        if (fabs(d->ref[i]) > e.max_ref)
            e.max_ref = fabs(d->ref[i]);
        double scaled = err == 0.0 ? 0.0 : err / d->ref_abs[i];
        if (!(scaled <= e.scaled))
            e.scaled = scaled;
    }
    e.simple = e.max_abs / (e.max_ref > 1.0 ? e.max_ref : 1.0);
    return e;
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b != 0) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* The most terms one output's sum has: per axis the taps that land on one
 * output (every s/gcd(s, d)-th tap), times Cin/G products, plus the bias. */
static double most_terms(const tconv_canonical_t *c) {
    double terms = (double)(c->in_channels / c->groups);
    for (int a = 0; a < 3; a++) {
        const int64_t step = c->strides[a] / gcd64(c->strides[a], c->dilation[a]);
        terms *= (double)((c->kernel_size[a] + step - 1) / step);
    }
    return terms + (c->use_bias ? 1 : 0);
}

/* The largest error relative to sum |terms| the float32 result may have:
 * DEMO_LAMBDA sqrt(n) u (relu adds no rounding). */
static double demo_tolerance(const tconv_canonical_t *c) {
    return DEMO_LAMBDA * sqrt(most_terms(c)) * F32_UNIT_ROUNDOFF;
}

/* Plans, times and checks; returns the exit code. */
static int run_demo(tconv_context_t ctx, const tconv_problem_t *p, const char *selector,
                    int repeat) {
    demo_data_t d;
    if (demo_data_make(p, &d) != 0) {
        demo_data_free(&d);
        cli_error(COMMAND, "out of memory allocating the demo tensors");
        return CLI_EXIT_NO_MEMORY;
    }
    tconv_plan_t plan = NULL;
    int rc = CLI_EXIT_OK;
    double start = bench_now_ms();
    tconv_status_t st = tconv_plan_create(&plan, ctx, p, selector);
    if (st == tconv_success)
        st = tconv_plan_set_weights(plan, d.kernel, d.bias);
    double plan_ms = bench_now_ms() - start;
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, plan ? "weights" : "plan", st);
        goto done;
    }
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    tconv_plan_get_device_info(plan, &info);
    printf("Chosen: %s (%s)\n  why: %s\n", info.id, info.name,
           tconv_plan_get_selection_reason(plan));
    printf("Plan:      %.1f ms (plan + weights)\n", plan_ms);

    bench_result_t timing;
    memset(&timing, 0, sizeof timing);
    tconv_problem_get_flops(p, &timing.flops);
    st = bench_time_plan(plan, d.in, d.out, 3, repeat, &timing);
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, "execute", st);
        goto done;
    }
    printf("Execute:   median %.2f ms over %d runs (min %.2f, max %.2f): %.1f GFLOP/s "
           "(%.3f GFLOP)\n",
           timing.median_ms, timing.repeat, timing.min_ms, timing.max_ms, timing.gflops,
           timing.flops * 1e-9);

    tconv_canonical_t canonical;
    st = tconv_plan_get_canonical(plan, &canonical);
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, "canonical form", st);
        goto done;
    }
    start = bench_now_ms();
    tconv_reference_forward(&canonical, d.in64, d.kernel64, d.bias64, d.ref);
    tconv_reference_forward_abs(&canonical, d.in64, d.kernel64, d.bias64, d.ref_abs);
    printf("Reference: naive float64, %.0f ms\n", bench_now_ms() - start);

    demo_error_t e = compare(&d);
    const double tolerance = demo_tolerance(&canonical);
    int pass = e.scaled <= tolerance;
    printf("Error:     max |y - ref| = %.3g (max |ref| = %.3g); relative to sum |terms| = %.3g, "
           "to max(1, max |ref|) = %.3g\n",
           e.max_abs, e.max_ref, e.scaled, e.simple);
    printf("Result:    %s (tolerance %.2g relative to sum |terms|: float32 rounding of %.0f "
           "terms)\n",
           pass ? "PASS" : "FAIL", tolerance, most_terms(&canonical));
    if (!pass) {
        cli_error(COMMAND, "%s: error %.3g relative to sum |terms| exceeds the tolerance %.2g",
                  info.id, e.scaled, tolerance);
        rc = CLI_EXIT_RUNTIME;
    }
done:
    tconv_plan_destroy(plan);
    demo_data_free(&d);
    return rc;
}

int cmd_demo(int argc, char **argv) {
    cli_args_t args;
    const char *name, *selector = "auto", *value;
    int64_t repeat = 10;
    int rc;
    cli_args_init(&args, COMMAND, argc, argv, 1);
    while ((rc = cli_args_next(&args, &name)) == 1) {
        if (strcmp(name, "--help") == 0) {
            cmd_demo_usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(name, "--device") == 0) {
            if (cli_args_value(&args, &selector) != 0)
                return CLI_EXIT_BAD_INPUT;
        } else if (strcmp(name, "--repeat") == 0) {
            if (cli_args_value(&args, &value) != 0 ||
                cli_parse_int64(COMMAND, name, value, 1, &repeat) != 0)
                return CLI_EXIT_BAD_INPUT;
            if (repeat > 1000) {
                cli_error(COMMAND, "--repeat: value %lld must be <= 1000", (long long)repeat);
                return CLI_EXIT_BAD_INPUT;
            }
        } else {
            return cli_args_unknown(&args), CLI_EXIT_BAD_INPUT;
        }
    }
    if (rc < 0)
        return CLI_EXIT_BAD_INPUT;

    printf("tconv demo: %s\n", demo_layer_description);
    tconv_problem_t problem;
    tconv_status_t st = demo_layer_problem(&problem);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "demo layer", st);
    tconv_context_t ctx = NULL;
    st = tconv_context_create(&ctx, NULL);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    print_devices(ctx);
    rc = run_demo(ctx, &problem, selector, (int)repeat);
    tconv_context_destroy(ctx);
    return rc;
}
