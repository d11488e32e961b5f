/* SPDX-License-Identifier: Apache-2.0 */
/* The run-time batch (tconv_plan_set_batch) and the backend's host slots at
 * that batch. A backend with plan_set_batch runs the batch itself. For one
 * without, the core pads: the first `batch` samples are copied into host
 * workspaces of the plan's full batch whose tail is zero, the backend runs
 * the full batch, and the first `batch` samples of its result are copied
 * out. Samples are independent in the forward and backward data passes;
 * in the weights pass a zero input and a zero dL/dz add nothing to dL/dw
 * and dL/db. Every layout has the batch outermost, so the samples a call
 * holds are a prefix of the full tensor. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "plan.h"

/* Whether host slots must go through the padded workspaces. */
static bool padded(const struct tconv_plan *plan) {
    return plan->batch < plan->canonical.batch && plan->backend->plan_set_batch == NULL;
}

/* Copies @p bytes of @p src into @p workspace of @p full bytes, zeroing the
 * rest; returns the workspace. */
static void *pad(void *workspace, size_t full, const void *src, size_t bytes) {
    memcpy(workspace, src, bytes);
    memset((unsigned char *)workspace + bytes, 0, full - bytes);
    return workspace;
}

static size_t full_input_bytes(const struct tconv_plan *plan) {
    return plan->input_sample_bytes * (size_t)plan->canonical.batch;
}

static size_t full_output_bytes(const struct tconv_plan *plan) {
    return plan->output_sample_bytes * (size_t)plan->canonical.batch;
}

tconv_status_t tconv_plan_backend_forward(struct tconv_plan *plan, const void *input,
                                          void *output) {
    char msg[1024] = "";
    const tconv_backend_t *b = plan->backend;
    if (!padded(plan))
        return tconv_plan_backend_status(
            plan, "plan_execute failed",
            b->plan_execute(plan->backend_plan, input, output, msg, sizeof msg), msg, sizeof msg);
    const void *x =
        pad(plan->pad_input, full_input_bytes(plan), input, tconv_plan_input_bytes(plan));
    tconv_status_t st = tconv_plan_backend_status(
        plan, "plan_execute failed",
        b->plan_execute(plan->backend_plan, x, plan->pad_output, msg, sizeof msg), msg, sizeof msg);
    if (st == tconv_success)
        memcpy(output, plan->pad_output, tconv_plan_output_bytes(plan));
    return st;
}

tconv_status_t tconv_plan_backend_backward_data(struct tconv_plan *plan, const void *grad_output,
                                                void *grad_input) {
    char msg[1024] = "";
    const tconv_backend_t *b = plan->backend;
    if (!padded(plan))
        return tconv_plan_backend_status(
            plan, "plan_backward_data failed",
            b->plan_backward_data(plan->backend_plan, grad_output, grad_input, msg, sizeof msg),
            msg, sizeof msg);
    const void *dz =
        pad(plan->pad_output, full_output_bytes(plan), grad_output, tconv_plan_output_bytes(plan));
    tconv_status_t st = tconv_plan_backend_status(
        plan, "plan_backward_data failed",
        b->plan_backward_data(plan->backend_plan, dz, plan->pad_input, msg, sizeof msg), msg,
        sizeof msg);
    if (st == tconv_success)
        memcpy(grad_input, plan->pad_input, tconv_plan_input_bytes(plan));
    return st;
}

tconv_status_t tconv_plan_backend_backward_weights(struct tconv_plan *plan, const void *input,
                                                   const void *grad_output, void *grad_kernel,
                                                   void *grad_bias) {
    char msg[1024] = "";
    const tconv_backend_t *b = plan->backend;
    const void *x = input, *dz = grad_output;
    if (padded(plan)) {
        if (input != NULL)
            x = pad(plan->pad_input, full_input_bytes(plan), input, tconv_plan_input_bytes(plan));
        dz = pad(plan->pad_output, full_output_bytes(plan), grad_output,
                 tconv_plan_output_bytes(plan));
    }
    return tconv_plan_backend_status(plan, "plan_backward_weights failed",
                                     b->plan_backward_weights(plan->backend_plan, x, dz,
                                                              grad_kernel, grad_bias, msg,
                                                              sizeof msg),
                                     msg, sizeof msg);
}

/* The padded workspaces, made once (at the full batch, so every smaller
 * batch fits). */
static tconv_status_t make_pad_workspaces(struct tconv_plan *plan) {
    if (plan->pad_input == NULL)
        plan->pad_input = malloc(full_input_bytes(plan) ? full_input_bytes(plan) : 1);
    if (plan->pad_output == NULL)
        plan->pad_output = malloc(full_output_bytes(plan) ? full_output_bytes(plan) : 1);
    if (plan->pad_input == NULL || plan->pad_output == NULL)
        return tconv_set_error(tconv_out_of_memory,
                               "out of memory allocating the workspaces that pad a batch of less "
                               "than %lld samples for %s (%zu bytes)",
                               (long long)plan->canonical.batch, tconv_plan_device_id(plan),
                               full_input_bytes(plan) + full_output_bytes(plan));
    return tconv_success;
}

static tconv_status_t plan_set_batch(struct tconv_plan *plan, int64_t batch) {
    TCONV_REQUIRE_NONNULL(plan);
    if (batch < 1 || batch > plan->canonical.batch)
        return tconv_set_error(tconv_invalid_arguments,
                               "batch = %lld: must be in 1..%lld (the problem's batch)",
                               (long long)batch, (long long)plan->canonical.batch);
    const tconv_backend_t *b = plan->backend;
    if (b->plan_set_batch != NULL) {
        char msg[1024] = "";
        tconv_status_t st = tconv_plan_backend_status(
            plan, "plan_set_batch failed",
            b->plan_set_batch(plan->backend_plan, batch, msg, sizeof msg), msg, sizeof msg);
        if (st != tconv_success)
            return st; /* the batch stays what it was */
    } else if (batch < plan->canonical.batch) {
        tconv_status_t st = make_pad_workspaces(plan);
        if (st != tconv_success)
            return st;
    }
    plan->batch = batch;
    return tconv_success;
}

TCONV_API tconv_status_t tconv_plan_set_batch(tconv_plan_t plan, int64_t batch) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = plan_set_batch(plan, batch);
    tconv_log_sink_restore(previous);
    return st;
}
