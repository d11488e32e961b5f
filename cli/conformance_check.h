/* SPDX-License-Identifier: Apache-2.0 */
/* One conformance case on one device: its arrays, the checks of its shapes,
 * the run through the C API and the comparison with the goldens. Shared by
 * `tconv conformance` and the conformance ctests' runner (which also runs
 * the cases through the command line and compares those results here). */
#ifndef TCONV_CONFORMANCE_CHECK_H
#define TCONV_CONFORMANCE_CHECK_H

#include <stddef.h>

#include "conformance_case.h"
#include "npy.h"
#include "tconv/tconv.h"

/* The gradients of a gradient case, in the order they are checked. */
enum { CONFORMANCE_GRAD_INPUT, CONFORMANCE_GRAD_KERNEL, CONFORMANCE_GRAD_BIAS, CONFORMANCE_GRADS };
extern const char *const conformance_grad_names[CONFORMANCE_GRADS];

/** The arrays of one case, in the case's dtype. */
typedef struct conformance_arrays {
    npy_array_t input, kernel, bias, golden; /**< golden: forward cases only */
    int has_bias;
    npy_array_t grad_output;              /**< gradient cases: dL/dy */
    npy_array_t grads[CONFORMANCE_GRADS]; /**< golden dL/dx, dL/dw, dL/db (none without bias) */
} conformance_arrays_t;

/** Reads every array @p c names. @returns 0, or -1 with the file and the
 *  reason in @p message (nothing is then held). */
int conformance_arrays_load(const conformance_case_t *c, conformance_arrays_t *a, char *message,
                            size_t message_size);

void conformance_arrays_free(conformance_arrays_t *a);

typedef enum conformance_outcome {
    conformance_passed,
    conformance_failed,
    /** The device declined the problem (a dtype or a pass it does not
     *  have): nothing was compared; the message holds its reason. */
    conformance_unsupported,
} conformance_outcome_t;

/** What one case gave on one device. */
typedef struct conformance_result {
    conformance_outcome_t outcome;
    char message[2048]; /**< failed: every check that failed; unsupported: why */
    /** Nonzero when a result was compared: the comparison closest to its
     *  tolerance (largest error / tolerance) and the largest |error|. */
    int compared;
    double worst_error, worst_tolerance;
    const char *worst_what; /**< "output", "grad_input", ... (static) */
    double max_error;
} conformance_result_t;

void conformance_result_init(conformance_result_t *r);

/** Marks @p r failed and appends the reason to its message ("; " between
 *  reasons). */
void conformance_fail(conformance_result_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Checks that the arrays have the shapes the case's problem gives: a
 *  mismatch is a wrong case description (or a wrong shape rule), a failure.
 *  @returns 0, or -1 (recorded in @p r). */
int conformance_check_shapes(const conformance_case_t *c, const conformance_arrays_t *a,
                             conformance_result_t *r);

/** Compares the output @p got (the case's dtype, the golden's count) of a
 *  forward case with the golden, within case_tolerance. */
void conformance_compare_output(const conformance_case_t *c, const conformance_arrays_t *a,
                                const void *got, conformance_result_t *r);

/** Compares the gradients @p got (got[CONFORMANCE_GRAD_BIAS] unused without
 *  bias) of a gradient case with the goldens, each within
 *  gradient_tolerance; every gradient that is off is reported with its
 *  worst element. */
void conformance_compare_gradients(const conformance_case_t *c, const conformance_arrays_t *a,
                                   const void *const got[CONFORMANCE_GRADS],
                                   conformance_result_t *r);

/** Runs case @p c on device @p device (an id) through the C API and checks
 *  it: a forward case through tconv_plan_create, tconv_plan_set_weights and
 *  tconv_plan_execute; a gradient case through a plan with
 *  problem.passes = TCONV_PASS_TRAINING and tconv_plan_execute_backward; a
 *  case the framework refused must be refused with tconv_invalid_arguments
 *  by tconv_problem_resolve and tconv_plan_create. A device that declines
 *  the plan gives conformance_unsupported. */
void conformance_run_api(tconv_context_t context, const conformance_case_t *c,
                         const conformance_arrays_t *a, const char *device,
                         conformance_result_t *r);

#endif /* TCONV_CONFORMANCE_CHECK_H */
