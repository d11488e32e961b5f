/* SPDX-License-Identifier: Apache-2.0 */
/* Runs every conformance case (tests/conformance/data, written by
 * generate.py from the real frameworks) on every device tconv finds, through
 * the C API and/or the `tconv run` command, and compares with the golden
 * outputs. Cases the framework refused must be refused: the C API with
 * tconv_invalid_arguments, the CLI with exit status 2. Gradient cases run
 * tconv_plan_execute_backward on a plan with TCONV_PASS_TRAINING (and
 * `tconv backward`) and compare dL/dx, dL/dw and dL/db with the framework's
 * autograd.
 *
 * Usage: run_conformance [--api] [--cli PATH/TO/tconv] [--cli-every N]
 *                        [--sample-every N] [--devices ID,ID...] DATA_DIR
 * The OpenCL backend compiles one program per problem (about a second each on
 * PoCL, cached afterwards), so ctest runs a sample of the cases on devices
 * other than the native CPU; TCONV_CONFORMANCE_FULL=1 runs every case.
 * Prints one line per framework, device, path and kind (outputs, gradients),
 * then "N passed, M failed". A device and path on which no case of a kind
 * ran is a failure. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_invoke.h"
#include "compare.h"
#include "conformance_case.h"
#include "npy.h"
#include "tconv/tconv.h"

#define MAX_DEVICES         16
#define MAX_FAILURE_REPORTS 60

static const char *const FRAMEWORKS[] = {"keras", "tensorflow", "torch", "onnx"};
#define N_FRAMEWORKS 4
enum { PATH_API = 0, PATH_CLI = 1 };
/* What a case checks: the forward output, or the three gradients. */
enum { KIND_FORWARD = 0, KIND_GRADIENT = 1, N_KINDS = 2 };
static const char *const KIND_SUFFIX[N_KINDS] = {"", " gradients"};

typedef enum outcome { outcome_pass, outcome_fail, outcome_skip } outcome_t;

typedef struct tally {
    long passed, failed, skipped;
} tally_t;

typedef struct device {
    char id[64];
    int has_f64;
    int sampled; /* not the native CPU backend: every sample_every-th case only */
} device_t;

/* The largest errors seen for one kind of case. */
typedef struct error_stats {
    double worst_ratio; /* largest error / tolerance */
    char worst_where[256];
    double worst_abs[3]; /* largest |error| per dtype (index tconv_f32, tconv_f64) */
} error_stats_t;

/* Everything the run accumulates. */
typedef struct run {
    tconv_context_t context;
    device_t devices[MAX_DEVICES];
    size_t device_count;
    const char *only;   /* comma list of device ids to run, or NULL for all */
    const char *cli;    /* tconv executable, or NULL */
    int api;            /* run through the C API */
    int cli_every;      /* CLI: every Nth non-error case (error cases always) */
    int sample_every;   /* devices other than the native CPU: every Nth non-error case */
    char temp_dir[256]; /* CLI outputs and logs */
    tally_t tally[N_FRAMEWORKS][MAX_DEVICES][2][N_KINDS];
    long failure_reports;
    error_stats_t stats[N_KINDS];
} run_t;

/* The gradients of a gradient case, in the order they are checked. */
enum { GRAD_INPUT, GRAD_KERNEL, GRAD_BIAS, N_GRADS };
static const char *const GRAD_NAMES[N_GRADS] = {"grad_input", "grad_kernel", "grad_bias"};

/* The arrays of one case, in the case's dtype. */
typedef struct arrays {
    npy_array_t input, kernel, bias, golden;
    int has_bias, has_golden;
    npy_array_t grad_output;
    npy_array_t grads[N_GRADS]; /* golden dL/dx, dL/dw, dL/db (the last empty without bias) */
} arrays_t;

static void report_failure(run_t *run, const char *path, const char *device,
                           const conformance_case_t *c, const char *fmt, ...) {
    if (run->failure_reports++ >= MAX_FAILURE_REPORTS)
        return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("FAIL %s %s %s: %s\n", c->name, device, path, text);
}

static int framework_index(const char *name) {
    for (int i = 0; i < N_FRAMEWORKS; i++)
        if (strcmp(name, FRAMEWORKS[i]) == 0)
            return i;
    return -1;
}

static void shape_text(const int64_t *shape, int ndim, char *out, size_t size) {
    npy_shape_text(shape, ndim, out, size);
}

static int same_shape(const int64_t *a, const int64_t *b, int ndim) {
    for (int i = 0; i < ndim; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* @p what: "" for an output, else the gradient's name. */
static void note_error(run_t *run, const conformance_case_t *c, const char *device,
                       const char *path, const char *what, double error, double tolerance) {
    error_stats_t *stats = &run->stats[c->gradient ? KIND_GRADIENT : KIND_FORWARD];
    double *worst = &stats->worst_abs[c->problem.dtype == tconv_f64 ? 2 : 1];
    if (error > *worst)
        *worst = error;
    double ratio = tolerance > 0 ? error / tolerance : 0.0;
    if (ratio > stats->worst_ratio) {
        stats->worst_ratio = ratio;
        snprintf(stats->worst_where, sizeof stats->worst_where,
                 "%s%s%s on %s (%s): |error| %.3g, "
                 "tolerance %.3g",
                 c->name, what[0] ? " " : "", what, device, path, error, tolerance);
    }
}

/* Checks that the case's arrays have the shapes its problem describes: a
 * mismatch is a wrong case description, reported as such. */
static outcome_t check_case_shapes(run_t *run, const conformance_case_t *c, const arrays_t *a,
                                   const char *device, const char *path) {
    int64_t in_dims[TCONV_MAX_DIMS], k_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims;
    tconv_status_t st = tconv_problem_get_shapes(&c->problem, in_dims, k_dims, out_dims, &ndims);
    if (st != tconv_success) {
        report_failure(run, path, device, c, "tconv_problem_get_shapes: %s (%s)",
                       tconv_status_name(st), tconv_get_last_error());
        return outcome_fail;
    }
    char want[128], got[128];
    const npy_array_t *output = c->gradient ? &a->grad_output : &a->golden;
    if (ndims != output->ndim || !same_shape(out_dims, output->shape, ndims)) {
        shape_text(out_dims, ndims, want, sizeof want);
        shape_text(output->shape, output->ndim, got, sizeof got);
        report_failure(run, path, device, c, "tconv's output shape %s, the framework's %s%s", want,
                       got, c->gradient ? " (grad_output)" : "");
        return outcome_fail;
    }
    if (a->input.ndim != ndims || !same_shape(in_dims, a->input.shape, ndims) ||
        a->kernel.ndim != ndims || !same_shape(k_dims, a->kernel.shape, ndims)) {
        report_failure(run, path, device, c,
                       "case description: input/kernel shapes differ "
                       "from the problem's");
        return outcome_fail;
    }
    if (!c->gradient)
        return outcome_pass;
    /* The golden gradients have the shapes of what they differentiate. */
    const npy_array_t *of[N_GRADS] = {&a->input, &a->kernel, &a->bias};
    for (int g = 0; g < N_GRADS; g++) {
        const npy_array_t *grad = &a->grads[g];
        if (g == GRAD_BIAS && !a->has_bias)
            continue;
        if (grad->ndim != of[g]->ndim || !same_shape(grad->shape, of[g]->shape, grad->ndim)) {
            shape_text(grad->shape, grad->ndim, got, sizeof got);
            shape_text(of[g]->shape, of[g]->ndim, want, sizeof want);
            report_failure(run, path, device, c, "case description: %s has shape %s, not %s",
                           GRAD_NAMES[g], got, want);
            return outcome_fail;
        }
    }
    return outcome_pass;
}

static outcome_t api_error_case(run_t *run, const conformance_case_t *c, const char *device) {
    tconv_canonical_t canonical;
    tconv_status_t st = tconv_problem_resolve(&c->problem, &canonical);
    if (st != tconv_invalid_arguments) {
        report_failure(run, "api", device, c,
                       "tconv_problem_resolve returned %s, expected "
                       "invalid_arguments",
                       tconv_status_name(st));
        return outcome_fail;
    }
    tconv_plan_t plan = NULL;
    st = tconv_plan_create(&plan, run->context, &c->problem, device);
    if (st != tconv_invalid_arguments) {
        report_failure(run, "api", device, c,
                       "tconv_plan_create returned %s, expected "
                       "invalid_arguments (%s)",
                       tconv_status_name(st), tconv_get_last_error());
        tconv_plan_destroy(plan);
        return outcome_fail;
    }
    return outcome_pass;
}

static outcome_t api_case(run_t *run, const conformance_case_t *c, const arrays_t *a,
                          const device_t *dev) {
    if (c->expect_error)
        return api_error_case(run, c, dev->id);
    if (check_case_shapes(run, c, a, dev->id, "api") != outcome_pass)
        return outcome_fail;
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, run->context, &c->problem, dev->id);
    if (st != tconv_success) {
        if (c->problem.dtype == tconv_f64 && !dev->has_f64)
            return outcome_skip;
        report_failure(run, "api", dev->id, c, "tconv_plan_create: %s (%s)", tconv_status_name(st),
                       tconv_get_last_error());
        return outcome_fail;
    }
    outcome_t result = outcome_fail;
    size_t item = c->problem.dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    void *out = malloc(a->golden.count * item + 1);
    if (!out) {
        report_failure(run, "api", dev->id, c, "out of memory");
    } else if ((st = tconv_plan_set_weights(plan, a->kernel.data,
                                            a->has_bias ? a->bias.data : NULL)) != tconv_success) {
        report_failure(run, "api", dev->id, c, "tconv_plan_set_weights: %s (%s)",
                       tconv_status_name(st), tconv_get_last_error());
    } else if ((st = tconv_plan_execute(plan, a->input.data, out)) != tconv_success) {
        report_failure(run, "api", dev->id, c, "tconv_plan_execute: %s (%s)", tconv_status_name(st),
                       tconv_get_last_error());
    } else {
        double tol =
            case_tolerance(c, &a->input, &a->kernel, a->has_bias ? &a->bias : NULL, &a->golden);
        double err = max_abs_error(&a->golden, out);
        note_error(run, c, dev->id, "api", "", err, tol);
        if (err <= tol)
            result = outcome_pass;
        else
            report_failure(run, "api", dev->id, c, "max |y - golden| = %.6g > tolerance %.6g", err,
                           tol);
    }
    free(out);
    tconv_plan_destroy(plan);
    return result;
}

/* "(n, c, d, h, w)" of flat index @p flat in an array of @p shape. */
static void index_text(const int64_t *shape, int ndim, size_t flat, char *out, size_t size) {
    int64_t index[TCONV_MAX_DIMS];
    for (int i = ndim - 1; i >= 0; i--) {
        index[i] = shape[i] > 0 ? (int64_t)(flat % (size_t)shape[i]) : 0;
        flat = shape[i] > 0 ? flat / (size_t)shape[i] : 0;
    }
    size_t len = (size_t)snprintf(out, size, "(");
    for (int i = 0; i < ndim && len < size; i++)
        len +=
            (size_t)snprintf(out + len, size - len, "%s%lld", i ? ", " : "", (long long)index[i]);
    if (len < size)
        snprintf(out + len, size - len, ")");
}

/* Compares tconv's gradients @p got (the case's dtype; got[GRAD_BIAS] unused
 * without bias) with the goldens; reports every gradient that is off, with
 * its worst element. @p command: the CLI command line, or NULL. */
static outcome_t compare_gradients(run_t *run, const conformance_case_t *c, const arrays_t *a,
                                   const char *device, const char *path,
                                   const void *const got[N_GRADS], const char *command) {
    outcome_t result = outcome_pass;
    for (int g = 0; g < N_GRADS; g++) {
        if (g == GRAD_BIAS && !a->has_bias)
            continue;
        const npy_array_t *golden = &a->grads[g];
        size_t at;
        double err = max_abs_error_at(golden, got[g], &at);
        double tol = gradient_tolerance(c->problem.dtype, golden);
        note_error(run, c, device, path, GRAD_NAMES[g], err, tol);
        if (err <= tol)
            continue;
        char where[128];
        index_text(golden->shape, golden->ndim, at, where, sizeof where);
        double value =
            golden->dtype == npy_f64 ? ((const double *)got[g])[at] : ((const float *)got[g])[at];
        report_failure(run, path, device, c,
                       "%s: max |error| %.6g > tolerance %.6g at %s: tconv %.17g, golden %.17g%s%s",
                       GRAD_NAMES[g], err, tol, where, value, array_value(golden, at),
                       command ? ": " : "", command ? command : "");
        result = outcome_fail;
    }
    return result;
}

/* A gradient case through the API: a TCONV_PASS_TRAINING plan and
 * tconv_plan_execute_backward for all three gradients at once. */
static outcome_t api_gradient_case(run_t *run, const conformance_case_t *c, const arrays_t *a,
                                   const device_t *dev) {
    if (check_case_shapes(run, c, a, dev->id, "api") != outcome_pass)
        return outcome_fail;
    tconv_problem_t problem = c->problem;
    problem.passes = TCONV_PASS_TRAINING;
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, run->context, &problem, dev->id);
    if (st != tconv_success) {
        if (problem.dtype == tconv_f64 && !dev->has_f64)
            return outcome_skip;
        report_failure(run, "api", dev->id, c, "tconv_plan_create (passes = training): %s (%s)",
                       tconv_status_name(st), tconv_get_last_error());
        return outcome_fail;
    }
    outcome_t result = outcome_fail;
    size_t item = problem.dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    void *got[N_GRADS] = {NULL, NULL, NULL};
    int allocated = 1;
    for (int g = 0; g < N_GRADS; g++)
        if (g != GRAD_BIAS || a->has_bias)
            allocated &= (got[g] = malloc(a->grads[g].count * item + 1)) != NULL;
    if (!allocated) {
        report_failure(run, "api", dev->id, c, "out of memory");
    } else if ((st = tconv_plan_set_weights(plan, a->kernel.data,
                                            a->has_bias ? a->bias.data : NULL)) != tconv_success) {
        report_failure(run, "api", dev->id, c, "tconv_plan_set_weights: %s (%s)",
                       tconv_status_name(st), tconv_get_last_error());
    } else if ((st = tconv_plan_execute_backward(plan, a->input.data, a->grad_output.data,
                                                 got[GRAD_INPUT], got[GRAD_KERNEL],
                                                 got[GRAD_BIAS])) != tconv_success) {
        report_failure(run, "api", dev->id, c, "tconv_plan_execute_backward: %s (%s)",
                       tconv_status_name(st), tconv_get_last_error());
    } else {
        result = compare_gradients(run, c, a, dev->id, "api", (const void *const *)got, NULL);
    }
    for (int g = 0; g < N_GRADS; g++)
        free(got[g]);
    tconv_plan_destroy(plan);
    return result;
}

static void print_log(const char *log_path) {
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[512];
    for (int n = 0; n < 6 && fgets(line, sizeof line, f); n++)
        printf("    | %s", line);
    fclose(f);
}

/* The outcome of a CLI run that exited with @p code != 0: skipped where the
 * device has no float64, else a failure reported with the command and the
 * start of its log. */
static outcome_t cli_failed(run_t *run, const conformance_case_t *c, const device_t *dev, int code,
                            const char *message, const char *command, const char *log_path) {
    if (c->problem.dtype == tconv_f64 && !dev->has_f64)
        return outcome_skip;
    report_failure(run, "cli", dev->id, c, "exit status %d %s: %s", code, code < 0 ? message : "",
                   command);
    print_log(log_path);
    return outcome_fail;
}

static outcome_t cli_case(run_t *run, const conformance_case_t *c, const arrays_t *a,
                          const device_t *dev) {
    if (!c->expect_error && check_case_shapes(run, c, a, dev->id, "cli") != outcome_pass)
        return outcome_fail;
    char out_path[512], log_path[512], command[4096], message[512];
    snprintf(out_path, sizeof out_path, "%s/out.npy", run->temp_dir);
    snprintf(log_path, sizeof log_path, "%s/log.txt", run->temp_dir);
    unlink(out_path);
    int code = cli_run_case(run->cli, c, dev->id, out_path, log_path, command, sizeof command,
                            message, sizeof message);
    if (c->expect_error) {
        if (code == 2)
            return outcome_pass;
        report_failure(run, "cli", dev->id, c, "exit status %d, expected 2: %s", code, command);
        print_log(log_path);
        return outcome_fail;
    }
    if (code != 0)
        return cli_failed(run, c, dev, code, message, command, log_path);
    npy_array_t got;
    npy_dtype_t want = c->problem.dtype == tconv_f64 ? npy_f64 : npy_f32;
    if (npy_read(out_path, want, &got, message, sizeof message) != npy_ok) {
        report_failure(run, "cli", dev->id, c, "reading its output: %s", message);
        return outcome_fail;
    }
    outcome_t result = outcome_fail;
    if (got.ndim != a->golden.ndim || !same_shape(got.shape, a->golden.shape, got.ndim)) {
        char g[128], w[128];
        shape_text(got.shape, got.ndim, g, sizeof g);
        shape_text(a->golden.shape, a->golden.ndim, w, sizeof w);
        report_failure(run, "cli", dev->id, c, "output shape %s, the framework's %s", g, w);
    } else {
        double tol =
            case_tolerance(c, &a->input, &a->kernel, a->has_bias ? &a->bias : NULL, &a->golden);
        double err = max_abs_error(&a->golden, got.data);
        note_error(run, c, dev->id, "cli", "", err, tol);
        if (err <= tol)
            result = outcome_pass;
        else
            report_failure(run, "cli", dev->id, c, "max |y - golden| = %.6g > tolerance %.6g: %s",
                           err, tol, command);
    }
    npy_array_free(&got);
    return result;
}

/* A gradient case through `tconv backward`, all three gradients at once. */
static outcome_t cli_gradient_case(run_t *run, const conformance_case_t *c, const arrays_t *a,
                                   const device_t *dev) {
    if (check_case_shapes(run, c, a, dev->id, "cli") != outcome_pass)
        return outcome_fail;
    char paths[N_GRADS][512], log_path[512], command[4096], message[512];
    const char *grad_paths[N_GRADS];
    for (int g = 0; g < N_GRADS; g++) {
        snprintf(paths[g], sizeof paths[g], "%s/%s.npy", run->temp_dir, GRAD_NAMES[g]);
        unlink(paths[g]);
        grad_paths[g] = paths[g];
    }
    snprintf(log_path, sizeof log_path, "%s/log.txt", run->temp_dir);
    int code = cli_backward_case(run->cli, c, dev->id, grad_paths, log_path, command,
                                 sizeof command, message, sizeof message);
    if (code != 0)
        return cli_failed(run, c, dev, code, message, command, log_path);
    npy_array_t got[N_GRADS];
    memset(got, 0, sizeof got);
    npy_dtype_t want = c->problem.dtype == tconv_f64 ? npy_f64 : npy_f32;
    outcome_t result = outcome_pass;
    for (int g = 0; g < N_GRADS && result == outcome_pass; g++) {
        if (g == GRAD_BIAS && !a->has_bias)
            continue;
        const npy_array_t *golden = &a->grads[g];
        if (npy_read(paths[g], want, &got[g], message, sizeof message) != npy_ok) {
            report_failure(run, "cli", dev->id, c, "reading its %s: %s", GRAD_NAMES[g], message);
            result = outcome_fail;
        } else if (got[g].ndim != golden->ndim ||
                   !same_shape(got[g].shape, golden->shape, golden->ndim)) {
            char s1[128], s2[128];
            shape_text(got[g].shape, got[g].ndim, s1, sizeof s1);
            shape_text(golden->shape, golden->ndim, s2, sizeof s2);
            report_failure(run, "cli", dev->id, c, "%s shape %s, the framework's %s", GRAD_NAMES[g],
                           s1, s2);
            result = outcome_fail;
        }
    }
    if (result == outcome_pass) {
        const void *data[N_GRADS] = {got[0].data, got[1].data, got[2].data};
        result = compare_gradients(run, c, a, dev->id, "cli", data, command);
    }
    for (int g = 0; g < N_GRADS; g++) {
        npy_array_free(&got[g]);
        unlink(paths[g]);
    }
    return result;
}

static int load_array(const char *path, npy_dtype_t dtype, npy_array_t *a, const char *name) {
    char message[512];
    if (npy_read(path, dtype, a, message, sizeof message) != npy_ok) {
        printf("FAIL %s: reading %s: %s\n", name, path, message);
        return -1;
    }
    return 0;
}

static void free_arrays(arrays_t *a) {
    npy_array_free(&a->input);
    npy_array_free(&a->kernel);
    npy_array_free(&a->bias);
    npy_array_free(&a->golden);
    npy_array_free(&a->grad_output);
    for (int g = 0; g < N_GRADS; g++)
        npy_array_free(&a->grads[g]);
}

static void count(tally_t *t, outcome_t o) {
    if (o == outcome_pass)
        t->passed++;
    else if (o == outcome_fail)
        t->failed++;
    else
        t->skipped++;
}

/* Runs one case file on every device; returns -1 if it could not be read. */
static int run_case_file(run_t *run, const char *json_path, long ordinal) {
    conformance_case_t c;
    char message[512];
    if (case_load(json_path, &c, message, sizeof message) != 0) {
        printf("FAIL %s: %s\n", json_path, message);
        return -1;
    }
    int fw = framework_index(c.framework);
    if (fw < 0) {
        printf("FAIL %s: unknown framework '%s'\n", c.name, c.framework);
        return -1;
    }
    arrays_t a;
    memset(&a, 0, sizeof a);
    npy_dtype_t dt = c.problem.dtype == tconv_f64 ? npy_f64 : npy_f32;
    int rc =
        load_array(c.input, dt, &a.input, c.name) | load_array(c.kernel, dt, &a.kernel, c.name);
    if (c.bias[0]) {
        a.has_bias = 1;
        rc |= load_array(c.bias, dt, &a.bias, c.name);
    }
    if (c.output[0]) {
        a.has_golden = 1;
        rc |= load_array(c.output, dt, &a.golden, c.name);
    }
    if (c.gradient) {
        const char *grad_files[N_GRADS] = {c.grad_input, c.grad_kernel, c.grad_bias};
        rc |= load_array(c.grad_output, dt, &a.grad_output, c.name);
        for (int g = 0; g < N_GRADS; g++)
            if (grad_files[g][0])
                rc |= load_array(grad_files[g], dt, &a.grads[g], c.name);
    }
    if (rc != 0) {
        free_arrays(&a);
        return -1;
    }
    int kind = c.gradient ? KIND_GRADIENT : KIND_FORWARD;
    for (size_t d = 0; d < run->device_count; d++) {
        const device_t *dev = &run->devices[d];
        if (dev->sampled && !c.expect_error && ordinal % run->sample_every != 0)
            continue;
        if (run->api)
            count(&run->tally[fw][d][PATH_API][kind],
                  c.gradient ? api_gradient_case(run, &c, &a, dev) : api_case(run, &c, &a, dev));
        if (run->cli && (c.expect_error || ordinal % run->cli_every == 0))
            count(&run->tally[fw][d][PATH_CLI][kind],
                  c.gradient ? cli_gradient_case(run, &c, &a, dev) : cli_case(run, &c, &a, dev));
    }
    free_arrays(&a);
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The case files of @p dir, sorted (the order is the same everywhere). */
static char **list_cases(const char *dir, size_t *count) {
    DIR *d = opendir(dir);
    *count = 0;
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 256;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        size_t size = strlen(dir) + n + 2;
        if (!(names[*count] = malloc(size)))
            break;
        snprintf(names[*count], size, "%s/%s", dir, e->d_name);
        (*count)++;
    }
    closedir(d);
    qsort(names, *count, sizeof *names, compare_names);
    return names;
}

/* Whether @p id is an item of the comma-separated @p list. */
static int listed(const char *list, const char *id) {
    size_t n = strlen(id);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, id, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Lists the devices; returns how many OpenCL devices there are. */
static int find_devices(run_t *run) {
    size_t n = 0;
    int opencl = 0;
    tconv_context_get_device_count(run->context, &n);
    for (size_t i = 0; i < n && run->device_count < MAX_DEVICES; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        if (tconv_context_get_device_info(run->context, i, &info) != tconv_success)
            continue;
        opencl += strcmp(info.backend, "opencl") == 0;
        if (run->only && !listed(run->only, info.id))
            continue;
        device_t *d = &run->devices[run->device_count++];
        snprintf(d->id, sizeof d->id, "%s", info.id);
        d->has_f64 = (info.dtypes & TCONV_DTYPE_BIT(tconv_f64)) != 0;
        d->sampled = strcmp(info.backend, "cpu") != 0 && run->sample_every > 1;
        printf("device %s: %s (%s)%s%s\n", info.id, info.name, info.vendor,
               d->has_f64 ? "" : ", no float64",
               d->sampled ? ": a sample of the cases (TCONV_CONFORMANCE_FULL=1 runs all)" : "");
    }
    return opencl;
}

/* Why the OpenCL backend has no device, from the plugin reports. */
static void opencl_absence_reason(tconv_context_t context, char *out, size_t size) {
    size_t n = 0;
    snprintf(out, size, "no OpenCL platform");
    tconv_context_get_plugin_count(context, &n);
    for (size_t i = 0; i < n; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        if (tconv_context_get_plugin_report(context, i, &r) == tconv_success &&
            strstr(r.path, "opencl") && r.state != tconv_plugin_loaded && r.message[0])
            snprintf(out, size, "%s%s",
                     strstr(r.message, "OpenCL platform") ? "" : "no OpenCL platform: ", r.message);
    }
}

static void usage(FILE *out) {
    fputs("usage: run_conformance [--api] [--cli PATH/TO/tconv] [--cli-every N]\n"
          "                       [--sample-every N] [--devices ID,ID...] DATA_DIR\n"
          "  --api             run the cases through the C API\n"
          "  --cli PATH        run them through `PATH run ...` (the tconv command)\n"
          "  --cli-every N     CLI: every Nth case only (error cases always)\n"
          "  --sample-every N  devices other than the native CPU backend: every Nth case\n"
          "                    (error cases always); TCONV_CONFORMANCE_FULL=1 forces all\n"
          "  --devices LIST    only these device ids (default: every device)\n",
          out);
}

int main(int argc, char **argv) {
    static run_t run;
    const char *data_dir = NULL;
    run.cli_every = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--api") == 0)
            run.api = 1;
        else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
            run.cli = argv[++i];
        else if (strcmp(argv[i], "--sample-every") == 0 && i + 1 < argc)
            run.sample_every = atoi(argv[++i]);
        else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
            run.only = argv[++i];
        else if (strcmp(argv[i], "--cli-every") == 0 && i + 1 < argc)
            run.cli_every = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (argv[i][0] != '-' && !data_dir)
            data_dir = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    const char *full = getenv("TCONV_CONFORMANCE_FULL");
    if (full && strcmp(full, "1") == 0)
        run.sample_every = run.cli_every = 1;
    if (!data_dir || (!run.api && !run.cli)) {
        usage(stderr);
        return 2;
    }
    /* The devices are the ones the build tree provides, whatever the shell holds. */
    unsetenv("TCONV_PLUGINS");
    unsetenv("TCONV_PLUGIN_PATH");
    unsetenv("TCONV_DEVICE");
    unsetenv("TCONV_VERBOSE");

    if (tconv_context_create(&run.context, NULL) != tconv_success) {
        printf("FAIL: tconv_context_create: %s\n0 passed, 1 failed\n", tconv_get_last_error());
        return 1;
    }
    long extra_failures = 0;
    int opencl = find_devices(&run);
    if (opencl == 0) {
        char reason[700];
        opencl_absence_reason(run.context, reason, sizeof reason);
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0) {
            printf("opencl: FAILED (%s; CI=true requires an OpenCL device)\n", reason);
            extra_failures++;
        } else {
            printf("opencl: skipped (%s)\n", reason);
        }
    }
    if (run.cli) {
        const char *tmp = getenv("TMPDIR");
        snprintf(run.temp_dir, sizeof run.temp_dir, "%s/tconv-conformance-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(run.temp_dir)) {
            printf("FAIL: cannot create a temporary directory\n0 passed, 1 failed\n");
            return 1;
        }
    }
    size_t n_cases = 0;
    char **cases = list_cases(data_dir, &n_cases);
    if (n_cases == 0) {
        printf("FAIL: no case files in %s\n", data_dir);
        extra_failures++;
    }
    for (size_t i = 0; i < n_cases; i++) {
        if (run_case_file(&run, cases[i], (long)i) != 0)
            extra_failures++;
        free(cases[i]);
    }
    free(cases);

    long passed = 0, failed = extra_failures, skipped = 0;
    static const char *const path_names[] = {"api", "cli"};
    for (int k = 0; k < N_KINDS; k++) {
        for (int p = 0; p < 2; p++) {
            if (!(p == PATH_API ? run.api : run.cli != NULL))
                continue;
            for (size_t d = 0; d < run.device_count; d++) {
                long ran = 0;
                for (int f = 0; f < N_FRAMEWORKS; f++) {
                    tally_t *t = &run.tally[f][d][p][k];
                    if (t->passed + t->failed + t->skipped == 0)
                        continue;
                    printf("%s %s %s%s: %ld passed, %ld failed", FRAMEWORKS[f], run.devices[d].id,
                           path_names[p], KIND_SUFFIX[k], t->passed, t->failed);
                    if (t->skipped)
                        printf(", %ld skipped (float64 unsupported)", t->skipped);
                    printf("\n");
                    passed += t->passed;
                    failed += t->failed;
                    skipped += t->skipped;
                    ran += t->passed + t->failed;
                }
                if (ran == 0) { /* an empty or filtered data set must not pass */
                    printf("FAIL: no %s case ran on %s through the %s\n",
                           k == KIND_GRADIENT ? "gradient" : "forward", run.devices[d].id,
                           path_names[p]);
                    failed++;
                }
            }
        }
    }
    if (run.failure_reports > MAX_FAILURE_REPORTS)
        printf("(%ld more failures not shown)\n", run.failure_reports - MAX_FAILURE_REPORTS);
    for (int k = 0; k < N_KINDS; k++) {
        const error_stats_t *st = &run.stats[k];
        printf("%s largest |error|: float32 %.3g, float64 %.3g; closest to its tolerance: %s "
               "(%.3g of it)\n",
               k == KIND_GRADIENT ? "gradients" : "outputs", st->worst_abs[1], st->worst_abs[2],
               st->worst_where[0] ? st->worst_where : "-", st->worst_ratio);
    }
    if (run.cli) {
        char path[512];
        snprintf(path, sizeof path, "%s/out.npy", run.temp_dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/log.txt", run.temp_dir);
        unlink(path);
        rmdir(run.temp_dir);
    }
    tconv_context_destroy(run.context);
    if (skipped)
        printf("%ld passed, %ld failed, %ld skipped\n", passed, failed, skipped);
    else
        printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
