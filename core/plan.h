/* SPDX-License-Identifier: Apache-2.0 */
/* The plan object, shared by the files that implement its calls: creation
 * and the host passes (plan.c), the run-time batch (plan_batch.c), buffers
 * and enqueues (buffer.c, plan_enqueue.c) and OpenCL interop
 * (opencl_interop.c). */
#ifndef TCONV_CORE_PLAN_H
#define TCONV_CORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "log.h"
#include "tconv/tconv.h"
#include "tconv/tconv_backend.h"

struct tconv_plan {
    struct tconv_context *context; /* retained: keeps the plugin loaded */
    size_t device;                 /* index into context->devices */
    const tconv_backend_t *backend;
    tconv_backend_plan_t backend_plan;
    tconv_canonical_t canonical; /* what the user asked for */
    /* What the backend computes: the same, but with a linear activation when
     * the plan has a backward pass and the core applies the activation
     * (core_activation), so the backend's forward pass yields the
     * pre-activation z. */
    tconv_canonical_t backend_canonical;
    bool core_activation;
    /* Made by plan_create_native (tconv_opencl_plan_create): it enqueues on
     * the caller's queue and takes the caller's memory objects only. */
    bool native;
    /* Bytes of one sample of the input and output, of the kernel and of the
     * bias (0 without bias). A tensor's bytes at the current batch are
     * sample bytes x batch (tconv_plan_input_bytes). */
    size_t input_sample_bytes;
    size_t output_sample_bytes;
    size_t kernel_bytes;
    size_t bias_bytes;
    /* The batch passes run (tconv_plan_set_batch), 1..canonical.batch. */
    int64_t batch;
    /* A backend without plan_set_batch runs a smaller batch padded with
     * zeros to canonical.batch in these (input- and output-sized at the
     * full batch; made by the first tconv_plan_set_batch below it). */
    void *pad_input;
    void *pad_output;
    /* Backward-pass workspace, allocated at plan creation: z and then dL/dz
     * (output-sized at the full batch, only with core_activation), and
     * dL/dw, dL/db staged there until every backend call succeeded (nothing
     * written on failure). */
    void *grad_output_workspace;
    void *grad_weights_workspace;
    /* core_activation on a plugin with device buffers: the host copies a
     * pass is staged through (plan_enqueue.c), made at the first such pass:
     * input, output and grad_input sized at the full batch, and the weight
     * gradients (kernel + bias bytes). */
    void *stage_input;
    void *stage_output;
    void *stage_grad_input;
    void *stage_grad_weights;
    int weights_set;
    char *reason; /* selection explanation */
};

/* The device id of the plan ("cpu:0"), for messages. */
static inline const char *tconv_plan_device_id(const struct tconv_plan *plan) {
    return tconv_context_device(plan->context, plan->device)->info.id;
}

/* Bytes of the input and output at the current batch. */
static inline size_t tconv_plan_input_bytes(const struct tconv_plan *plan) {
    return plan->input_sample_bytes * (size_t)plan->batch;
}
static inline size_t tconv_plan_output_bytes(const struct tconv_plan *plan) {
    return plan->output_sample_bytes * (size_t)plan->batch;
}

/* Whether the plan's plugin has the buffer group (device memory and
 * enqueues; the loader checked that it is complete). */
static inline bool tconv_plan_has_device_buffers(const struct tconv_plan *plan) {
    return plan->backend->buffer_create != NULL;
}

/* Makes the context's log sink the active one for a public call on @p plan
 * (NULL: the defaults); undo with tconv_log_sink_restore. */
static inline const tconv_log_sink_t *tconv_plan_log_enter(const struct tconv_plan *plan) {
    return tconv_log_sink_enter(plan != NULL && plan->context != NULL ? &plan->context->log_sink
                                                                      : NULL);
}

/* Turns a backend failure into the API error "<id>: <backend message>"
 * (@p what when the backend gave none). */
tconv_status_t tconv_backend_error(const char *id, const char *what, int status, const char *msg);

/* The outcome of a backend call on @p plan: tconv_success, or its error
 * with the device id (@p what when the backend gave no message). */
tconv_status_t tconv_plan_backend_status(const struct tconv_plan *plan, const char *what, int st,
                                         char *msg, size_t msg_size);

/* A memory region or buffer argument of a call, for tconv_require_disjoint. */
typedef struct tconv_named_region {
    const char *name;
    const void *data; /* NULL: not given */
    size_t bytes;
    bool written;
} tconv_named_region_t;

/* Every written region of @p regions must not overlap any other given one.
 * With @p whole_objects the entries are buffers (data is the object,
 * bytes 1), compared as objects and named so in the message. */
tconv_status_t tconv_require_disjoint(const tconv_named_region_t *regions, size_t count,
                                      bool whole_objects);

/* A plan on the device and queue of @p native_queue, made by the
 * plan_create_native slot of the plugin of context device @p plugin_device
 * (any device of that plugin): the OpenCL interop's constructor. The error
 * of a queue that is none of the plugin's devices names @p queue_name. */
tconv_status_t tconv_plan_create_native(struct tconv_plan **plan, struct tconv_context *context,
                                        const tconv_problem_t *problem, size_t plugin_device,
                                        void *native_queue, const char *queue_name);

/* The host passes behind tconv_plan_execute / tconv_plan_execute_backward,
 * after their argument checks, at the current batch: the backend's host
 * slots (padded when the backend has no plan_set_batch) and the activation
 * when the core applies it. Errors carry the device id. */
tconv_status_t tconv_plan_run_forward(struct tconv_plan *plan, const void *input, void *output);
tconv_status_t tconv_plan_run_backward(struct tconv_plan *plan, const void *input,
                                       const void *grad_output, void *grad_input, void *grad_kernel,
                                       void *grad_bias);

/* The backend's host slots at the current batch (plan_batch.c): directly
 * when the batch is the plan's or the backend sets batches itself, else
 * through the zero-padded workspaces. */
tconv_status_t tconv_plan_backend_forward(struct tconv_plan *plan, const void *input, void *output);
tconv_status_t tconv_plan_backend_backward_data(struct tconv_plan *plan, const void *grad_output,
                                                void *grad_input);
tconv_status_t tconv_plan_backend_backward_weights(struct tconv_plan *plan, const void *input,
                                                   const void *grad_output, void *grad_kernel,
                                                   void *grad_bias);

/* Records the outcome of a backend's weights call (@p st, @p msg; @p what
 * names the slot): the plan has weights after a success and none after a
 * failure (the backend may have dropped the old ones half-way). */
tconv_status_t tconv_plan_weights_outcome(struct tconv_plan *plan, const char *what, int st,
                                          char *msg, size_t msg_size);

/* The weights rule shared by tconv_plan_set_weights and its buffer and
 * OpenCL forms: @p kernel_given must hold, and @p bias_given exactly when
 * the problem has a bias. */
tconv_status_t tconv_plan_check_weights_arguments(const struct tconv_plan *plan, bool kernel_given,
                                                  bool bias_given);

/* The checks tconv_plan_execute_backward makes before any buffer is looked
 * at (which gradients, the plan's passes, input needed, weights set), on
 * which arguments are given. */
tconv_status_t tconv_plan_check_backward_request(const struct tconv_plan *plan, bool input,
                                                 bool grad_output, bool grad_input,
                                                 bool grad_kernel, bool grad_bias);

#endif /* TCONV_CORE_PLAN_H */
