/* SPDX-License-Identifier: Apache-2.0 */
/* tconv example backend: a complete vendor plugin in one file of plumbing.
 *
 * What every plugin must do (include/tconv/tconv_backend.h):
 *   1. Export exactly one symbol, tconv_backend_entry, returning a static
 *      table that starts with struct_size, abi_major, abi_minor.
 *   2. Keep init and get_device_* cheap: ask the driver what exists, create
 *      nothing. Contexts, queues and compiled kernels belong in plan_create.
 *   3. Say no politely: query/plan_create return tconv_unimplemented with a
 *      reason for problems the device cannot run; the core then tries the
 *      next device and tells the user why.
 *   4. Never crash, never print: write a message into (msg, msg_size) and
 *      return a status. The core prefixes the device id.
 *
 * The arithmetic lives in example_compute.c (direct loops on the host, for
 * the forward pass and both backward passes); a real backend replaces it
 * with its device code and keeps this file's shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_compute.h"
#include "tconv/tconv_backend.h"

#define BACKEND_NAME "example"

/* One instance per context: what init learned (here: one device, and the
 * host services for logging). */
typedef struct example_state {
    const tconv_host_t *host;
    size_t device_count;
} example_state_t;

/* A plan: the problem it was made for and its own copy of the weights (the
 * caller may free theirs after set_weights). */
typedef struct example_plan {
    tconv_canonical_t problem;
    void *kernel;
    void *bias;
} example_plan_t;

static void set_message(char *msg, size_t msg_size, const char *text) {
    if (msg != NULL && msg_size > 0)
        snprintf(msg, msg_size, "%s", text);
}

static size_t element_size(tconv_dtype_t dtype) {
    return dtype == tconv_f64 ? sizeof(double) : sizeof(float);
}

static tconv_status_t example_init(const tconv_host_t *host, tconv_backend_state_t *state,
                                   char *msg, size_t msg_size) {
    /* Only the first struct_size bytes of host exist in older cores. */
    example_state_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_message(msg, msg_size, "out of memory for the backend state");
        return tconv_out_of_memory;
    }
    s->host = host;
    /* A real backend asks its driver here (cheaply). With no hardware it
     * returns success, zero devices and a reason in msg. */
    s->device_count = 1;
    *state = s;
    return tconv_success;
}

static void example_fini(tconv_backend_state_t state) {
    free(state);
}

static tconv_status_t example_get_device_count(tconv_backend_state_t state, size_t *count) {
    *count = ((example_state_t *)state)->device_count;
    return tconv_success;
}

static tconv_status_t example_get_device_info(tconv_backend_state_t state, size_t device,
                                              tconv_device_info_t *info) {
    (void)state;
    (void)device;
    /* The core filled id, backend and index and zeroed the rest; fill only
     * what is known (0 / "" means unknown). */
    info->type = tconv_device_custom;
    info->flags = TCONV_DEVICE_FLAG_HOST_NATIVE;
    snprintf(info->name, sizeof info->name, "example direct-loop device");
    snprintf(info->vendor, sizeof info->vendor, "tconv example vendor");
    snprintf(info->driver_version, sizeof info->driver_version, "example 1.0");
    info->compute_units = 1;
    info->dtypes = TCONV_DTYPE_BIT(tconv_f32) | TCONV_DTYPE_BIT(tconv_f64);
    return tconv_success;
}

/* Which problems this backend cannot run, with the reason; NULL if it can.
 * The example runs everything the core can describe. */
static const char *decline_reason(const tconv_canonical_t *p) {
    if (p->dtype != tconv_f32 && p->dtype != tconv_f64)
        return "example backend: only float32 and float64";
    return NULL;
}

static tconv_status_t example_query(tconv_backend_state_t state, size_t device,
                                    const tconv_canonical_t *problem, double *est_seconds,
                                    char *msg, size_t msg_size) {
    (void)state;
    (void)device;
    const char *reason = decline_reason(problem);
    if (reason != NULL) {
        set_message(msg, msg_size, reason);
        return tconv_unimplemented;
    }
    /* A rough estimate helps ranking among devices of the same class; a
     * negative value means "unknown". This loop manages about 0.5 GFLOP/s. */
    double flops = 2.0 * (double)problem->batch * (double)problem->in_channels *
                   (double)(problem->out_channels / problem->groups);
    for (int a = 0; a < 3; a++)
        flops *= (double)problem->input_size[a] * (double)problem->kernel_size[a];
    *est_seconds = flops / 0.5e9;
    return tconv_success;
}

static tconv_status_t example_plan_create(tconv_backend_state_t state, size_t device,
                                          const tconv_canonical_t *problem,
                                          tconv_backend_plan_t *plan, char *msg, size_t msg_size) {
    (void)state;
    (void)device;
    const char *reason = decline_reason(problem);
    if (reason != NULL) { /* query may not have been asked: check again */
        set_message(msg, msg_size, reason);
        return tconv_unimplemented;
    }
    example_plan_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        set_message(msg, msg_size, "out of memory for the plan");
        return tconv_out_of_memory;
    }
    p->problem = *problem;
    *plan = p;
    return tconv_success;
}

static tconv_status_t example_plan_set_weights(tconv_backend_plan_t plan, const void *kernel,
                                               const void *bias, char *msg, size_t msg_size) {
    example_plan_t *p = plan;
    size_t kernel_bytes = example_kernel_bytes(&p->problem);
    size_t bias_bytes = (size_t)p->problem.out_channels * element_size(p->problem.dtype);
    void *k = malloc(kernel_bytes ? kernel_bytes : 1);
    void *b = bias != NULL ? malloc(bias_bytes) : NULL;
    if (k == NULL || (bias != NULL && b == NULL)) {
        free(k);
        free(b);
        set_message(msg, msg_size, "out of memory copying the weights");
        return tconv_out_of_memory;
    }
    memcpy(k, kernel, kernel_bytes);
    if (bias != NULL)
        memcpy(b, bias, bias_bytes);
    free(p->kernel);
    free(p->bias);
    p->kernel = k;
    p->bias = b;
    return tconv_success;
}

static tconv_status_t example_plan_execute(tconv_backend_plan_t plan, const void *input,
                                           void *output, char *msg, size_t msg_size) {
    example_plan_t *p = plan;
    if (p->kernel == NULL) { /* the core prevents this; a plugin still checks */
        set_message(msg, msg_size, "weights not set");
        return tconv_invalid_arguments;
    }
    example_forward(&p->problem, p->kernel, p->bias, input, output);
    return tconv_success;
}

/* The backward passes (ABI 1.1). The core calls them only on plans made
 * with the pass's bit in problem->passes and after plan_set_weights; it
 * creates those plans with a linear activation and applies the activation's
 * derivative itself, so grad_output is dL/dz, the gradient at conv + bias.
 * A device that cannot run a backward pass leaves the slot NULL (the core
 * then skips it for training problems), or declines in plan_create when
 * problem->passes asks for what it cannot do. */
static tconv_status_t example_plan_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                                 void *grad_input, char *msg, size_t msg_size) {
    example_plan_t *p = plan;
    if (p->kernel == NULL) {
        set_message(msg, msg_size, "weights not set");
        return tconv_invalid_arguments;
    }
    example_backward_data(&p->problem, p->kernel, grad_output, grad_input);
    return tconv_success;
}

static tconv_status_t example_plan_backward_weights(tconv_backend_plan_t plan, const void *input,
                                                    const void *grad_output, void *grad_kernel,
                                                    void *grad_bias, char *msg, size_t msg_size) {
    example_plan_t *p = plan;
    if (p->kernel == NULL) {
        set_message(msg, msg_size, "weights not set");
        return tconv_invalid_arguments;
    }
    example_backward_weights(&p->problem, input, grad_output, grad_kernel, grad_bias);
    return tconv_success;
}

static void example_plan_destroy(tconv_backend_plan_t plan) {
    example_plan_t *p = plan;
    if (p == NULL)
        return;
    free(p->kernel);
    free(p->bias);
    free(p);
}

static const tconv_backend_t example_table = {
    .struct_size = sizeof(tconv_backend_t),
    .abi_major = TCONV_BACKEND_ABI_MAJOR,
    .abi_minor = TCONV_BACKEND_ABI_MINOR,
    .name = BACKEND_NAME,
    .description = "example vendor plugin: direct loops on the host (f32, f64)",
    .init = example_init,
    .fini = example_fini,
    .get_device_count = example_get_device_count,
    .get_device_info = example_get_device_info,
    .query = example_query,
    .plan_create = example_plan_create,
    .plan_set_weights = example_plan_set_weights,
    .plan_execute = example_plan_execute,
    .plan_destroy = example_plan_destroy,
    /* ABI 1.1 (abi_minor = TCONV_BACKEND_ABI_MINOR >= 1): the backward pass. */
    .plan_backward_data = example_plan_backward_data,
    .plan_backward_weights = example_plan_backward_weights,
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    return &example_table;
}
