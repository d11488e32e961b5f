/* SPDX-License-Identifier: Apache-2.0 */
/* Passes on buffers: tconv_plan_set_weights_buffers, tconv_plan_enqueue,
 * tconv_plan_enqueue_backward and tconv_plan_wait. Three routes:
 *   - a plugin without the buffer group: the buffers are the core's host
 *     memory and the plugin's host slots run on them at once (the pass is
 *     done when the call returns; nothing is deferred);
 *   - a plugin with the group: its enqueue slots, in order on the device
 *     queue (errors of the work come back from plan_wait / buffer_read);
 *   - a plugin with the group and a plan whose activation the core applies
 *     (core_activation: a backward pass and a non-linear activation): the
 *     pass is staged through host memory, buffer_read of its inputs (which
 *     waits for the work before it), the host pass, buffer_write of its
 *     results. Slow, and synchronous; documented in tconv.h.
 * Each route runs under the device's queue lock (device_queue.h), so the
 * steps of a staged pass are never interleaved with another thread's calls
 * on that device. Interop plans enqueue on the caller's queue and take no
 * lock. */
#include "plan_enqueue.h"

#include <stdlib.h>
#include <string.h>

#include "activation_eval.h"
#include "device_queue.h"
#include "error.h"
#include "problem.h"

static size_t backend_device(const struct tconv_plan *plan) {
    return tconv_context_device(plan->context, plan->device)->backend_device;
}

static tconv_backend_state_t backend_state(const struct tconv_plan *plan) {
    return tconv_device_state(plan->context, plan->device);
}

/* The queue lock of the plan's device; interop plans have none (their work
 * goes on the caller's queue). */
static void queue_lock(const struct tconv_plan *plan) {
    if (!plan->native)
        tconv_device_queue_lock(plan->context, plan->device);
}

static void queue_unlock(const struct tconv_plan *plan) {
    if (!plan->native)
        tconv_device_queue_unlock(plan->context, plan->device);
}

static tconv_status_t require_weights(const struct tconv_plan *plan) {
    if (!plan->weights_set)
        return tconv_set_error(tconv_invalid_arguments,
                               "weights not set: call tconv_plan_set_weights or "
                               "tconv_plan_set_weights_buffers first");
    return tconv_success;
}

/* ---------------------------------------------------------------------- */
/* Host memory of the plugin's buffers (core_activation on a buffer plugin) */

static tconv_status_t make_stage(struct tconv_plan *plan, bool backward) {
    const size_t input_bytes = plan->input_sample_bytes * (size_t)plan->canonical.batch;
    const size_t output_bytes = plan->output_sample_bytes * (size_t)plan->canonical.batch;
    void **slots[] = {&plan->stage_input, &plan->stage_output, &plan->stage_grad_input,
                      &plan->stage_grad_weights};
    const size_t sizes[] = {input_bytes, output_bytes, input_bytes,
                            plan->kernel_bytes + plan->bias_bytes};
    const size_t count = backward ? 4 : 2;
    for (size_t i = 0; i < count; i++) {
        if (*slots[i] == NULL)
            *slots[i] = malloc(sizes[i] ? sizes[i] : 1);
        if (*slots[i] == NULL)
            return tconv_set_error(tconv_out_of_memory,
                                   "out of memory allocating the host memory a pass of %s with "
                                   "activation '%s' is staged through (%zu bytes)",
                                   tconv_plan_device_id(plan),
                                   tconv_activation_name(plan->canonical.activation), sizes[i]);
    }
    return tconv_success;
}

static tconv_status_t stage_read(const struct tconv_plan *plan, const struct tconv_buffer *buffer,
                                 void *dst, size_t size) {
    char msg[1024] = "";
    return tconv_plan_backend_status(
        plan, "buffer_read failed",
        plan->backend->buffer_read(backend_state(plan), backend_device(plan), buffer->handle, 0,
                                   dst, size, msg, sizeof msg),
        msg, sizeof msg);
}

static tconv_status_t stage_write(const struct tconv_plan *plan, const struct tconv_buffer *buffer,
                                  const void *src, size_t size) {
    char msg[1024] = "";
    return tconv_plan_backend_status(
        plan, "buffer_write failed",
        plan->backend->buffer_write(backend_state(plan), backend_device(plan), buffer->handle, 0,
                                    src, size, msg, sizeof msg),
        msg, sizeof msg);
}

static tconv_status_t staged_forward(struct tconv_plan *plan, const struct tconv_buffer *input,
                                     const struct tconv_buffer *output) {
    tconv_status_t st = make_stage(plan, false);
    if (st == tconv_success)
        st = stage_read(plan, input, plan->stage_input, tconv_plan_input_bytes(plan));
    if (st == tconv_success)
        st = tconv_plan_run_forward(plan, plan->stage_input, plan->stage_output);
    if (st == tconv_success)
        st = stage_write(plan, output, plan->stage_output, tconv_plan_output_bytes(plan));
    return st;
}

static tconv_status_t staged_backward(struct tconv_plan *plan, const struct tconv_buffer *input,
                                      const struct tconv_buffer *grad_output,
                                      const struct tconv_buffer *grad_input,
                                      const struct tconv_buffer *grad_kernel,
                                      const struct tconv_buffer *grad_bias) {
    /* core_activation always has the input (checked). */
    tconv_status_t st = make_stage(plan, true);
    if (st == tconv_success)
        st = stage_read(plan, input, plan->stage_input, tconv_plan_input_bytes(plan));
    if (st == tconv_success)
        st = stage_read(plan, grad_output, plan->stage_output, tconv_plan_output_bytes(plan));
    unsigned char *kernel = plan->stage_grad_weights;
    unsigned char *bias = kernel + plan->kernel_bytes;
    if (st == tconv_success)
        st = tconv_plan_run_backward(plan, plan->stage_input, plan->stage_output,
                                     grad_input ? plan->stage_grad_input : NULL,
                                     grad_kernel ? kernel : NULL, grad_bias ? bias : NULL);
    if (st == tconv_success && grad_kernel != NULL)
        st = stage_write(plan, grad_kernel, kernel, plan->kernel_bytes);
    if (st == tconv_success && grad_bias != NULL)
        st = stage_write(plan, grad_bias, bias, plan->bias_bytes);
    if (st == tconv_success && grad_input != NULL)
        st = stage_write(plan, grad_input, plan->stage_grad_input, tconv_plan_input_bytes(plan));
    return st;
}

/* ---------------------------------------------------------------------- */
/* Weights, passes, wait                                                    */

tconv_status_t tconv_plan_set_weights_from(struct tconv_plan *plan,
                                           const struct tconv_buffer *kernel,
                                           const struct tconv_buffer *bias) {
    tconv_status_t st = tconv_plan_check_weights_arguments(plan, kernel != NULL, bias != NULL);
    if (st == tconv_success)
        st = tconv_buffer_check(plan, kernel, "kernel", plan->kernel_bytes);
    if (st == tconv_success && bias != NULL)
        st = tconv_buffer_check(plan, bias, "bias", plan->bias_bytes);
    if (st != tconv_success)
        return st;
    const tconv_backend_t *b = plan->backend;
    char msg[1024] = "";
    queue_lock(plan);
    int bst;
    if (kernel->host)
        bst = b->plan_set_weights(plan->backend_plan, kernel->handle, bias ? bias->handle : NULL,
                                  msg, sizeof msg);
    else
        bst = b->plan_set_weights_buffers(plan->backend_plan, kernel->handle,
                                          bias ? bias->handle : NULL, msg, sizeof msg);
    queue_unlock(plan);
    return tconv_plan_weights_outcome(
        plan, kernel->host ? "plan_set_weights failed" : "plan_set_weights_buffers failed", bst,
        msg, sizeof msg);
}

tconv_status_t tconv_plan_enqueue_forward(struct tconv_plan *plan, const struct tconv_buffer *input,
                                          const struct tconv_buffer *output,
                                          const tconv_native_sync_t *sync) {
    if (input != NULL && input == output)
        return tconv_set_error(tconv_invalid_arguments,
                               "output: the same buffer as input; use separate buffers");
    tconv_status_t st = tconv_buffer_check(plan, input, "input", tconv_plan_input_bytes(plan));
    if (st == tconv_success)
        st = tconv_buffer_check(plan, output, "output", tconv_plan_output_bytes(plan));
    if (st == tconv_success)
        st = require_weights(plan);
    if (st != tconv_success)
        return st;
    queue_lock(plan);
    if (input->host) {
        st = tconv_plan_run_forward(plan, input->handle, output->handle);
    } else if (plan->core_activation) {
        st = staged_forward(plan, input, output);
    } else {
        char msg[1024] = "";
        st = tconv_plan_backend_status(plan, "plan_enqueue failed",
                                       plan->backend->plan_enqueue(plan->backend_plan,
                                                                   input->handle, output->handle,
                                                                   sync, msg, sizeof msg),
                                       msg, sizeof msg);
    }
    queue_unlock(plan);
    return st;
}

/* The two enqueue slots of a backward pass: weights, then data (as the host
 * path), the caller's wait list on the first and its event from the last
 * (the queue is in order, so the last completes after the first). */
static tconv_status_t enqueue_backward_slots(struct tconv_plan *plan,
                                             const struct tconv_buffer *input,
                                             const struct tconv_buffer *grad_output,
                                             const struct tconv_buffer *grad_input,
                                             const struct tconv_buffer *grad_kernel,
                                             const struct tconv_buffer *grad_bias,
                                             const tconv_native_sync_t *sync) {
    const tconv_backend_t *b = plan->backend;
    const bool weights = grad_kernel != NULL || grad_bias != NULL;
    const bool data = grad_input != NULL;
    tconv_native_sync_t first, last;
    const tconv_native_sync_t *weights_sync = sync, *data_sync = sync;
    if (sync != NULL && weights && data) {
        first = (tconv_native_sync_t){sync->num_wait_events, sync->wait_events, NULL};
        last = (tconv_native_sync_t){0, NULL, sync->event};
        weights_sync = &first;
        data_sync = &last;
    }
    char msg[1024] = "";
    tconv_status_t st = tconv_success;
    if (weights)
        st = tconv_plan_backend_status(
            plan, "plan_enqueue_backward_weights failed",
            b->plan_enqueue_backward_weights(
                plan->backend_plan, input ? input->handle : NULL, grad_output->handle,
                grad_kernel ? grad_kernel->handle : NULL, grad_bias ? grad_bias->handle : NULL,
                weights_sync, msg, sizeof msg),
            msg, sizeof msg);
    if (st == tconv_success && data)
        st = tconv_plan_backend_status(
            plan, "plan_enqueue_backward_data failed",
            b->plan_enqueue_backward_data(plan->backend_plan, grad_output->handle,
                                          grad_input->handle, data_sync, msg, sizeof msg),
            msg, sizeof msg);
    return st;
}

tconv_status_t tconv_plan_enqueue_backward_passes(struct tconv_plan *plan,
                                                  const struct tconv_buffer *input,
                                                  const struct tconv_buffer *grad_output,
                                                  const struct tconv_buffer *grad_input,
                                                  const struct tconv_buffer *grad_kernel,
                                                  const struct tconv_buffer *grad_bias,
                                                  const tconv_native_sync_t *sync) {
    tconv_status_t st = tconv_plan_check_backward_request(plan, input != NULL, grad_output != NULL,
                                                          grad_input != NULL, grad_kernel != NULL,
                                                          grad_bias != NULL);
    /* Buffers are whole objects: one a pass writes must be none of the
     * call's others (compared as objects: data is the buffer, 1 byte). */
    const tconv_named_region_t buffers[] = {
        {"input", input, 1, false},          {"grad_output", grad_output, 1, false},
        {"grad_input", grad_input, 1, true}, {"grad_kernel", grad_kernel, 1, true},
        {"grad_bias", grad_bias, 1, true},
    };
    const size_t bytes[] = {tconv_plan_input_bytes(plan), tconv_plan_output_bytes(plan),
                            tconv_plan_input_bytes(plan), plan->kernel_bytes, plan->bias_bytes};
    for (size_t i = 0; i < 5 && st == tconv_success; i++)
        if (buffers[i].data != NULL)
            st = tconv_buffer_check(plan, buffers[i].data, buffers[i].name, bytes[i]);
    if (st == tconv_success)
        st = tconv_require_disjoint(buffers, 5, true);
    if (st != tconv_success)
        return st;
    queue_lock(plan);
    if (grad_output->host) {
        st = tconv_plan_run_backward(plan, input ? input->handle : NULL, grad_output->handle,
                                     grad_input ? grad_input->handle : NULL,
                                     grad_kernel ? grad_kernel->handle : NULL,
                                     grad_bias ? grad_bias->handle : NULL);
    } else if (plan->core_activation) {
        st = staged_backward(plan, input, grad_output, grad_input, grad_kernel, grad_bias);
    } else {
        st = enqueue_backward_slots(plan, input, grad_output, grad_input, grad_kernel, grad_bias,
                                    sync);
    }
    queue_unlock(plan);
    return st;
}

/* The public calls take tconv buffers only: an interop plan's work goes on
 * the caller's queue, with the caller's cl_mem (tconv_opencl.h). */
static tconv_status_t require_tconv_plan(const struct tconv_plan *plan, const char *interop_call) {
    if (plan->native)
        return tconv_set_error(tconv_invalid_arguments,
                               "plan: an OpenCL interop plan works on the caller's cl_mem; use "
                               "%s",
                               interop_call);
    return tconv_success;
}

static tconv_status_t plan_set_weights_buffers(tconv_plan_t plan, tconv_buffer_t kernel,
                                               tconv_buffer_t bias) {
    TCONV_REQUIRE_NONNULL(plan);
    tconv_status_t st = require_tconv_plan(plan, "tconv_opencl_plan_set_weights");
    return st == tconv_success ? tconv_plan_set_weights_from(plan, kernel, bias) : st;
}

static tconv_status_t plan_enqueue(tconv_plan_t plan, tconv_buffer_t input, tconv_buffer_t output) {
    TCONV_REQUIRE_NONNULL(plan);
    tconv_status_t st = require_tconv_plan(plan, "tconv_opencl_plan_execute");
    return st == tconv_success ? tconv_plan_enqueue_forward(plan, input, output, NULL) : st;
}

static tconv_status_t plan_enqueue_backward(tconv_plan_t plan, tconv_buffer_t input,
                                            tconv_buffer_t grad_output, tconv_buffer_t grad_input,
                                            tconv_buffer_t grad_kernel, tconv_buffer_t grad_bias) {
    TCONV_REQUIRE_NONNULL(plan);
    tconv_status_t st = require_tconv_plan(plan, "tconv_opencl_plan_execute_backward");
    return st == tconv_success
               ? tconv_plan_enqueue_backward_passes(plan, input, grad_output, grad_input,
                                                    grad_kernel, grad_bias, NULL)
               : st;
}

static tconv_status_t plan_wait(tconv_plan_t plan) {
    TCONV_REQUIRE_NONNULL(plan);
    if (!tconv_plan_has_device_buffers(plan)) {
        /* Host buffers: every pass ran in its call. A pass another thread
         * is running on the device now ends before this returns. */
        queue_lock(plan);
        queue_unlock(plan);
        return tconv_success;
    }
    char msg[1024] = "";
    return tconv_plan_backend_status(plan, "plan_wait failed",
                                     plan->backend->plan_wait(plan->backend_plan, msg, sizeof msg),
                                     msg, sizeof msg);
}

/* ---------------------------------------------------------------------- */
/* Public entry points, with the context's log sink active (log.h). */

TCONV_API tconv_status_t tconv_plan_set_weights_buffers(tconv_plan_t plan, tconv_buffer_t kernel,
                                                        tconv_buffer_t bias) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = plan_set_weights_buffers(plan, kernel, bias);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_enqueue(tconv_plan_t plan, tconv_buffer_t input,
                                            tconv_buffer_t output) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = plan_enqueue(plan, input, output);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_enqueue_backward(tconv_plan_t plan, tconv_buffer_t input,
                                                     tconv_buffer_t grad_output,
                                                     tconv_buffer_t grad_input,
                                                     tconv_buffer_t grad_kernel,
                                                     tconv_buffer_t grad_bias) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st =
        plan_enqueue_backward(plan, input, grad_output, grad_input, grad_kernel, grad_bias);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_wait(tconv_plan_t plan) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = plan_wait(plan);
    tconv_log_sink_restore(previous);
    return st;
}
