/* SPDX-License-Identifier: Apache-2.0 */
/* One conformance case through the C API, and the comparisons with the
 * framework's goldens (see conformance_check.h). */
#include "conformance_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_compare.h"

const char *const conformance_grad_names[CONFORMANCE_GRADS] = {"grad_input", "grad_kernel",
                                                               "grad_bias"};

void conformance_result_init(conformance_result_t *r) {
    memset(r, 0, sizeof *r);
    r->outcome = conformance_passed;
    r->worst_what = "";
}

void conformance_fail(conformance_result_t *r, const char *fmt, ...) {
    r->outcome = conformance_failed;
    size_t used = strlen(r->message);
    if (used > 0 && used + 2 < sizeof r->message) {
        memcpy(r->message + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message + used, sizeof r->message - used, fmt, ap);
    va_end(ap);
}

/* Marks @p r unsupported with the device's own reason: the part of the
 * core's "no device accepts the problem: ... declined: <device>: <reason>."
 * after the device, else the whole message. */
static void unsupported(conformance_result_t *r, const char *device, const char *message) {
    char marker[128];
    snprintf(marker, sizeof marker, "declined: %s: ", device);
    const char *reason = strstr(message, marker);
    reason = reason ? reason + strlen(marker) : message;
    size_t len = strlen(reason);
    if (len > 0 && reason[len - 1] == '.')
        len--;
    r->outcome = conformance_unsupported;
    snprintf(r->message, sizeof r->message, "%.*s", (int)len, reason);
}

/* ---------------------------------------------------------------------- */
/* Arrays                                                                  */

static int load_array(const char *path, npy_dtype_t dtype, npy_array_t *a, char *message,
                      size_t message_size) {
    char why[512];
    if (npy_read(path, dtype, a, why, sizeof why) == npy_ok)
        return 0;
    snprintf(message, message_size, "reading %s: %s", path, why);
    return -1;
}

void conformance_arrays_free(conformance_arrays_t *a) {
    npy_array_free(&a->input);
    npy_array_free(&a->kernel);
    npy_array_free(&a->bias);
    npy_array_free(&a->golden);
    npy_array_free(&a->grad_output);
    for (int g = 0; g < CONFORMANCE_GRADS; g++)
        npy_array_free(&a->grads[g]);
}

int conformance_arrays_load(const conformance_case_t *c, conformance_arrays_t *a, char *message,
                            size_t message_size) {
    memset(a, 0, sizeof *a);
    const npy_dtype_t dt = c->problem.dtype == tconv_f64 ? npy_f64 : npy_f32;
    const char *const grad_files[CONFORMANCE_GRADS] = {c->grad_input, c->grad_kernel, c->grad_bias};
    struct {
        const char *path;
        npy_array_t *array;
    } files[] = {{c->input, &a->input},
                 {c->kernel, &a->kernel},
                 {c->bias, &a->bias},
                 {c->output, &a->golden},
                 {c->gradient ? c->grad_output : "", &a->grad_output},
                 {c->gradient ? grad_files[0] : "", &a->grads[0]},
                 {c->gradient ? grad_files[1] : "", &a->grads[1]},
                 {c->gradient ? grad_files[2] : "", &a->grads[2]}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!files[i].path[0])
            continue;
        if (load_array(files[i].path, dt, files[i].array, message, message_size) != 0) {
            conformance_arrays_free(a);
            return -1;
        }
    }
    a->has_bias = c->bias[0] != '\0';
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Shapes and comparisons                                                  */

static int same_shape(const int64_t *a, const int64_t *b, int ndim) {
    for (int i = 0; i < ndim; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

int conformance_check_shapes(const conformance_case_t *c, const conformance_arrays_t *a,
                             conformance_result_t *r) {
    int64_t in_dims[TCONV_MAX_DIMS], k_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims;
    tconv_status_t st = tconv_problem_get_shapes(&c->problem, in_dims, k_dims, out_dims, &ndims);
    if (st != tconv_success) {
        conformance_fail(r, "tconv_problem_get_shapes: %s (%s)", tconv_status_name(st),
                         tconv_get_last_error());
        return -1;
    }
    char want[128], got[128];
    const npy_array_t *output = c->gradient ? &a->grad_output : &a->golden;
    if (ndims != output->ndim || !same_shape(out_dims, output->shape, ndims)) {
        npy_shape_text(out_dims, ndims, want, sizeof want);
        npy_shape_text(output->shape, output->ndim, got, sizeof got);
        conformance_fail(r, "tconv's output shape %s, the framework's %s%s", want, got,
                         c->gradient ? " (grad_output)" : "");
        return -1;
    }
    if (a->input.ndim != ndims || !same_shape(in_dims, a->input.shape, ndims) ||
        a->kernel.ndim != ndims || !same_shape(k_dims, a->kernel.shape, ndims)) {
        conformance_fail(r, "case description: input/kernel shapes differ from the problem's");
        return -1;
    }
    if (!c->gradient)
        return 0;
    /* The golden gradients have the shapes of what they differentiate. */
    const npy_array_t *of[CONFORMANCE_GRADS] = {&a->input, &a->kernel, &a->bias};
    for (int g = 0; g < CONFORMANCE_GRADS; g++) {
        const npy_array_t *grad = &a->grads[g];
        if (g == CONFORMANCE_GRAD_BIAS && !a->has_bias)
            continue;
        if (grad->ndim != of[g]->ndim || !same_shape(grad->shape, of[g]->shape, grad->ndim)) {
            npy_shape_text(grad->shape, grad->ndim, got, sizeof got);
            npy_shape_text(of[g]->shape, of[g]->ndim, want, sizeof want);
            conformance_fail(r, "case description: %s has shape %s, not %s",
                             conformance_grad_names[g], got, want);
            return -1;
        }
    }
    return 0;
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

/* One result array against its golden within @p tolerance: the error is
 * noted, and a failure names the worst element and both values. */
static void compare_array(conformance_result_t *r, const char *what, const npy_array_t *golden,
                          const void *got, double tolerance) {
    size_t at;
    const double error = max_abs_error_at(golden, got, &at);
    const double ratio = tolerance > 0 ? error / tolerance : 0.0;
    const double worst_ratio = r->worst_tolerance > 0 ? r->worst_error / r->worst_tolerance : 0.0;
    if (!r->compared || ratio > worst_ratio) {
        r->worst_error = error;
        r->worst_tolerance = tolerance;
        r->worst_what = what;
    }
    r->max_error = r->compared ? fmax(r->max_error, error) : error;
    r->compared = 1;
    if (error <= tolerance)
        return;
    char where[128];
    index_text(golden->shape, golden->ndim, at, where, sizeof where);
    const double value =
        golden->dtype == npy_f64 ? ((const double *)got)[at] : ((const float *)got)[at];
    conformance_fail(r, "%s: max |error| %.6g > tolerance %.6g at %s: tconv %.17g, golden %.17g",
                     what, error, tolerance, where, value, array_value(golden, at));
}

void conformance_compare_output(const conformance_case_t *c, const conformance_arrays_t *a,
                                const void *got, conformance_result_t *r) {
    const double tolerance =
        case_tolerance(c, &a->input, &a->kernel, a->has_bias ? &a->bias : NULL, &a->golden);
    compare_array(r, "output", &a->golden, got, tolerance);
}

void conformance_compare_gradients(const conformance_case_t *c, const conformance_arrays_t *a,
                                   const void *const got[CONFORMANCE_GRADS],
                                   conformance_result_t *r) {
    for (int g = 0; g < CONFORMANCE_GRADS; g++) {
        if (g == CONFORMANCE_GRAD_BIAS && !a->has_bias)
            continue;
        compare_array(r, conformance_grad_names[g], &a->grads[g], got[g],
                      gradient_tolerance(c->problem.dtype, &a->grads[g]));
    }
}

/* ---------------------------------------------------------------------- */
/* Through the C API                                                       */

/* A case the framework refused: tconv must refuse its arguments too. */
static void run_error_case(tconv_context_t context, const conformance_case_t *c, const char *device,
                           conformance_result_t *r) {
    tconv_canonical_t canonical;
    tconv_status_t st = tconv_problem_resolve(&c->problem, &canonical);
    if (st != tconv_invalid_arguments) {
        conformance_fail(r, "tconv_problem_resolve returned %s, expected invalid_arguments",
                         tconv_status_name(st));
        return;
    }
    tconv_plan_t plan = NULL;
    st = tconv_plan_create(&plan, context, &c->problem, device);
    if (st != tconv_invalid_arguments)
        conformance_fail(r, "tconv_plan_create returned %s, expected invalid_arguments (%s)",
                         tconv_status_name(st), tconv_get_last_error());
    tconv_plan_destroy(plan);
}

/* Makes the plan on @p device; a device that declines the problem (the
 * selector names one device, so that is no_device, or unimplemented) marks
 * the case unsupported. @returns the plan, or NULL (recorded in @p r). */
static tconv_plan_t create_plan(tconv_context_t context, const tconv_problem_t *problem,
                                const char *device, const char *what, conformance_result_t *r) {
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, context, problem, device);
    if (st == tconv_success)
        return plan;
    if (st == tconv_no_device || st == tconv_unimplemented)
        unsupported(r, device, tconv_get_last_error());
    else
        conformance_fail(r, "%s: %s (%s)", what, tconv_status_name(st), tconv_get_last_error());
    return NULL;
}

/* Whether the call @p what returned success; a failure is recorded. */
static int succeeded(conformance_result_t *r, const char *what, tconv_status_t st) {
    if (st == tconv_success)
        return 1;
    conformance_fail(r, "%s: %s (%s)", what, tconv_status_name(st), tconv_get_last_error());
    return 0;
}

/* The case's kernel and bias into @p plan. */
static tconv_status_t set_weights(tconv_plan_t plan, const conformance_arrays_t *a) {
    return tconv_plan_set_weights(plan, a->kernel.data, a->has_bias ? a->bias.data : NULL);
}

static void run_forward_case(tconv_context_t context, const conformance_case_t *c,
                             const conformance_arrays_t *a, const char *device,
                             conformance_result_t *r) {
    tconv_plan_t plan = create_plan(context, &c->problem, device, "tconv_plan_create", r);
    if (!plan)
        return;
    const size_t item = c->problem.dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    void *out = malloc(a->golden.count * item + 1);
    if (!out)
        conformance_fail(r, "out of memory");
    else if (succeeded(r, "tconv_plan_set_weights", set_weights(plan, a)) &&
             succeeded(r, "tconv_plan_execute", tconv_plan_execute(plan, a->input.data, out)))
        conformance_compare_output(c, a, out, r);
    free(out);
    tconv_plan_destroy(plan);
}

/* All three gradients at once, from a TCONV_PASS_TRAINING plan. */
static void run_gradient_case(tconv_context_t context, const conformance_case_t *c,
                              const conformance_arrays_t *a, const char *device,
                              conformance_result_t *r) {
    tconv_problem_t problem = c->problem;
    problem.passes = TCONV_PASS_TRAINING;
    tconv_plan_t plan =
        create_plan(context, &problem, device, "tconv_plan_create (passes = training)", r);
    if (!plan)
        return;
    const size_t item = problem.dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    void *got[CONFORMANCE_GRADS] = {NULL, NULL, NULL};
    int allocated = 1;
    for (int g = 0; g < CONFORMANCE_GRADS; g++)
        if (g != CONFORMANCE_GRAD_BIAS || a->has_bias)
            allocated &= (got[g] = malloc(a->grads[g].count * item + 1)) != NULL;
    if (!allocated)
        conformance_fail(r, "out of memory");
    else if (succeeded(r, "tconv_plan_set_weights", set_weights(plan, a)) &&
             succeeded(r, "tconv_plan_execute_backward",
                       tconv_plan_execute_backward(
                           plan, a->input.data, a->grad_output.data, got[CONFORMANCE_GRAD_INPUT],
                           got[CONFORMANCE_GRAD_KERNEL], got[CONFORMANCE_GRAD_BIAS])))
        conformance_compare_gradients(c, a, (const void *const *)got, r);
    for (int g = 0; g < CONFORMANCE_GRADS; g++)
        free(got[g]);
    tconv_plan_destroy(plan);
}

void conformance_run_api(tconv_context_t context, const conformance_case_t *c,
                         const conformance_arrays_t *a, const char *device,
                         conformance_result_t *r) {
    conformance_result_init(r);
    if (c->expect_error)
        run_error_case(context, c, device, r);
    else if (conformance_check_shapes(c, a, r) != 0)
        return;
    else if (c->gradient)
        run_gradient_case(context, c, a, device, r);
    else
        run_forward_case(context, c, a, device, r);
}
