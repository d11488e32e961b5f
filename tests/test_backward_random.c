/* SPDX-License-Identifier: Apache-2.0 */
/* Seeded random training problems over every option, run through
 * tconv_plan_execute_backward on every device of one backend and compared
 * with the float64 reference adjoint (tests/reference).
 *
 *   test_backward_random --backend cpu|opencl|NAME [--isa avx512|avx2|c]
 *                        [--dtype f32|f64] [--cases N] [--seed S] [--plugin PATH]
 *                        [--allow-decline] [--opencl-staging copy]
 *                        [--opencl-max-alloc BYTES|half]
 *
 * Options as test_forward_random's (tests/common/random_suite.h). Each case:
 *   - a random problem (every rank, padding rule, layout, group count,
 *     activation, bias on/off) with problem.passes = TCONV_PASS_TRAINING, or
 *     in one case of four only the passes its outputs need;
 *   - a random non-empty subset of dL/dx, dL/dw, dL/db (NULL = not wanted),
 *     and input = NULL where the API allows it (no dL/dw, linear);
 *   - the outputs are filled with NaN first, so an element never written
 *     fails; buffers not asked for and the inputs must be left untouched;
 *   - two runs on the same plan must be bit-identical;
 *   - the plan's forward pass must still match the forward reference.
 * Error of a gradient element: |got - ref| / max(1, sum|terms|), each
 * output point's terms weighted by |dL/dy| times act' (at least 1) plus how
 * much act' moves within the forward tolerance of z (tc_gradients_make):
 * f32 must stay <= 1e-5, f64 <= 1e-12. A failing case prints every
 * parameter of its problem.
 *
 * OpenCL: with no OpenCL device the suite exits 77 (skipped), unless
 * CI=true. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "random_suite.h"
#include "reference/tconv_reference.h"
#include "test_support.h"

typedef long long ll;

static tc_suite_t g = {
    .program = "test_backward_random", .backend = "cpu", .cases = 200, .seed = 20240715};

/* Worst error per device, dtype (f32, f64) and gradient, for the summary. */
static double worst_error[TC_SUITE_MAX_DEVICES][2][tc_grad_count];

static int dtype_slot(tconv_dtype_t dtype) {
    return dtype == tconv_f64;
}

/* What one case asks tconv_plan_execute_backward for. */
typedef struct request {
    int wanted[tc_grad_count]; /* which outputs are given (not NULL) */
    int input_null;            /* input passed as NULL */
} request_t;

static void describe_request(const request_t *r, const tconv_problem_t *p, char *buf, size_t size) {
    snprintf(buf, size, "passes=0x%x outputs={%s%s%s } input=%s", p->passes,
             r->wanted[tc_grad_input] ? " grad_input" : "",
             r->wanted[tc_grad_kernel] ? " grad_kernel" : "",
             r->wanted[tc_grad_bias] ? " grad_bias" : "", r->input_null ? "NULL" : "given");
}

/* A random non-empty subset of the outputs the problem allows (dL/db only
 * with a bias), the passes it runs with, and whether input may be NULL. */
static request_t random_request(tc_rng_t *rng, tconv_problem_t *p) {
    request_t r;
    memset(&r, 0, sizeof r);
    do {
        for (int k = 0; k < tc_grad_count; k++)
            r.wanted[k] = (int)tc_rng_range(rng, 0, 1);
        if (!p->use_bias)
            r.wanted[tc_grad_bias] = 0;
    } while (!r.wanted[tc_grad_input] && !r.wanted[tc_grad_kernel] && !r.wanted[tc_grad_bias]);
    p->passes = TCONV_PASS_TRAINING;
    if (tc_rng_range(rng, 0, 3) == 0) /* only what the outputs need */
        p->passes =
            TCONV_PASS_FORWARD | (r.wanted[tc_grad_input] ? TCONV_PASS_BACKWARD_DATA : 0) |
            (r.wanted[tc_grad_kernel] || r.wanted[tc_grad_bias] ? TCONV_PASS_BACKWARD_WEIGHTS : 0);
    int input_optional = !r.wanted[tc_grad_kernel] && p->activation == tconv_activation_linear;
    r.input_null = input_optional && tc_rng_range(rng, 0, 1);
    return r;
}

static size_t bytes_of(int64_t count, tconv_dtype_t dtype) {
    return (size_t)count * (dtype == tconv_f64 ? sizeof(double) : sizeof(float));
}

/* Whether every element of a buffer is NaN (as tc_gradients_poison left it). */
static int all_nan(const void *buffer, int64_t count, tconv_dtype_t dtype) {
    for (int64_t i = 0; i < count; i++)
        if (!isnan(tc_element(buffer, dtype, i)))
            return 0;
    return 1;
}

/* One tconv_plan_execute_backward on poisoned outputs, then the checks that
 * need no reference: status, inputs and unwanted outputs untouched. */
static int run_backward(tconv_plan_t plan, const tc_tensors_t *t, tc_gradients_t *gr,
                        const request_t *r, const void *input_copy, const void *grad_out_copy,
                        const char *where) {
    tconv_dtype_t dt = t->canonical.dtype;
    tc_gradients_poison(gr, dt);
    tconv_status_t st =
        tconv_plan_execute_backward(plan, r->input_null ? NULL : t->dev_in, gr->dev_grad_out,
                                    r->wanted[tc_grad_input] ? gr->dev[tc_grad_input] : NULL,
                                    r->wanted[tc_grad_kernel] ? gr->dev[tc_grad_kernel] : NULL,
                                    r->wanted[tc_grad_bias] ? gr->dev[tc_grad_bias] : NULL);
    if (st != tconv_success) {
        print_error("%s\n  tconv_plan_execute_backward -> %s: %s\n", where, tconv_status_name(st),
                    tconv_get_last_error());
        return -1;
    }
    if (memcmp(input_copy, t->dev_in, bytes_of(t->in_count, dt)) ||
        memcmp(grad_out_copy, gr->dev_grad_out, bytes_of(t->out_count, dt))) {
        print_error("%s\n  the backward pass wrote into input or grad_output\n", where);
        return -1;
    }
    for (int k = 0; k < tc_grad_count; k++)
        if (!r->wanted[k] && !all_nan(gr->dev[k], gr->count[k], dt)) {
            print_error("%s\n  %s was not asked for but changed\n", where,
                        tc_gradient_name((tc_gradient_t)k));
            return -1;
        }
    return 0;
}

/* Compares the wanted gradients with the reference; returns the largest
 * error, or -1 after printing the first one over the tolerance. */
static double check_gradients(const tc_tensors_t *t, const tc_gradients_t *gr, const request_t *r,
                              double worst[tc_grad_count], const char *where) {
    tconv_dtype_t dt = t->canonical.dtype;
    double case_max = 0;
    for (int k = 0; k < tc_grad_count; k++) {
        if (!r->wanted[k])
            continue;
        int64_t at;
        double err = tc_gradients_max_error(gr, (tc_gradient_t)k, dt, &at);
        if (!(err <= tc_tolerance(dt))) {
            print_error("%s\n  %s error %.3g > %.0e at element %lld of %lld: got %.9g, reference "
                        "%.9g (error scale %.3g)\n",
                        where, tc_gradient_name((tc_gradient_t)k), err, tc_tolerance(dt), (ll)at,
                        (ll)gr->count[k], tc_element(gr->dev[k], dt, at), gr->ref[k][at],
                        gr->scale[k][at]);
            return -1;
        }
        worst[k] = fmax(worst[k], err);
        case_max = fmax(case_max, err);
    }
    return case_max;
}

/* The plan's forward pass (the core applies the activation for training
 * plans) against the forward reference. */
static double check_forward(tconv_plan_t plan, tc_tensors_t *t, const char *where) {
    tc_tensors_poison_output(t);
    tconv_status_t st = tconv_plan_execute(plan, t->dev_in, t->dev_out);
    if (st != tconv_success) {
        print_error("%s\n  tconv_plan_execute -> %s: %s\n", where, tconv_status_name(st),
                    tconv_get_last_error());
        return -1;
    }
    int64_t at;
    double err = tc_tensors_max_error(t, &at);
    if (!(err <= tc_tolerance(t->canonical.dtype))) {
        print_error("%s\n  forward error %.3g at output element %lld: got %.9g, reference %.9g\n",
                    where, err, (ll)at, tc_element(t->dev_out, t->canonical.dtype, at), t->ref[at]);
        return -1;
    }
    return err;
}

static int run_case(tc_suite_t *suite, const tconv_device_info_t *dev, tconv_problem_t *p,
                    int case_index, tc_rng_t *rng, double *max_err) {
    request_t r = random_request(rng, p);
    char desc[2048], req[160], where[2400], msg[2048];
    tc_format_problem(p, desc, sizeof desc);
    describe_request(&r, p, req, sizeof req);
    snprintf(where, sizeof where, "case %d on %s (%s)\n  problem: %s", case_index, dev->id, req,
             desc);
    tc_tensors_t t;
    tc_gradients_t gr;
    if (tc_tensors_make(p, rng, &t, msg, sizeof msg) != 0) {
        print_error("%s\n  %s\n", where, msg);
        return -1;
    }
    if (tc_gradients_make(&t, rng, &gr, msg, sizeof msg) != 0) {
        print_error("%s\n  %s\n", where, msg);
        tc_tensors_free(&t);
        return -1;
    }
    tconv_dtype_t dt = p->dtype;
    size_t in_bytes = bytes_of(t.in_count, dt), out_bytes = bytes_of(t.out_count, dt);
    void *input_copy = malloc(in_bytes ? in_bytes : 1);
    void *grad_out_copy = malloc(out_bytes ? out_bytes : 1);
    void *first[tc_grad_count] = {NULL, NULL, NULL};
    tconv_plan_t plan = NULL;
    int result = tc_suite_plan(suite, dev, p, &t, where, &plan);
    if (result != 0)
        goto done;
    result = -1;
    memcpy(input_copy, t.dev_in, in_bytes);
    memcpy(grad_out_copy, gr.dev_grad_out, out_bytes);
    for (int k = 0; k < tc_grad_count; k++) {
        first[k] = malloc(bytes_of(gr.count[k], dt) + 1);
        if (first[k] == NULL)
            goto done;
    }
    for (int run = 0; run < 2; run++) {
        if (run_backward(plan, &t, &gr, &r, input_copy, grad_out_copy, where) != 0)
            goto done;
        for (int k = 0; k < tc_grad_count; k++) {
            size_t bytes = bytes_of(gr.count[k], dt);
            if (run == 0) {
                memcpy(first[k], gr.dev[k], bytes);
            } else if (r.wanted[k] && memcmp(first[k], gr.dev[k], bytes) != 0) {
                print_error("%s\n  a second run of the same plan gave a different %s\n", where,
                            tc_gradient_name((tc_gradient_t)k));
                goto done;
            }
        }
    }
    double grad_err =
        check_gradients(&t, &gr, &r, worst_error[dev - suite->devices][dtype_slot(dt)], where);
    if (grad_err < 0)
        goto done;
    double forward_err = check_forward(plan, &t, where);
    if (forward_err < 0)
        goto done;
    *max_err = fmax(grad_err, forward_err);
    result = 0;
done:
    for (int k = 0; k < tc_grad_count; k++)
        free(first[k]);
    free(input_copy);
    free(grad_out_copy);
    tconv_plan_destroy(plan);
    tc_gradients_free(&gr);
    tc_tensors_free(&t);
    return result;
}

/* The worst error of each gradient on each device, after the summary line. */
static void print_worst_errors(const tc_suite_t *suite, tconv_dtype_t dtype) {
    for (size_t d = 0; d < suite->device_count; d++) {
        const double *worst = worst_error[d][dtype_slot(dtype)];
        print_message("%s %s: worst relative error grad_input %.2g, grad_kernel %.2g, "
                      "grad_bias %.2g\n",
                      suite->devices[d].id, dtype == tconv_f64 ? "f64" : "f32",
                      worst[tc_grad_input], worst[tc_grad_kernel], worst[tc_grad_bias]);
    }
}

int main(int argc, char **argv) {
    return tc_suite_main(&g, argc, argv, "backward_random", run_case, print_worst_errors);
}
