/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenCL backend's entry point and function table: discovery at init
 * (no contexts), device properties, a cheap cost model for query, the plan
 * slots (ocl_plan.c) and the ABI 1.2 buffer group (ocl_buffer.c) with
 * native interop on a caller's queue, and plan options (the binary flow's
 * paths). */
#include <stdlib.h>
#include <string.h>

#include "ocl_buffer.h"
#include "ocl_errors.h"
#include "ocl_plan.h"
#include "ocl_state.h"

static tconv_status_t ocl_init(const tconv_host_t *host, tconv_backend_state_t *state, char *msg,
                               size_t msg_size) {
    *state = NULL;
    ocl_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        ocl_msg(msg, msg_size, "out of host memory for the backend state");
        return tconv_out_of_memory;
    }
    st->host = host;
    pthread_mutex_init(&st->lock, NULL);
    tconv_status_t s = ocl_devices_discover(st, msg, msg_size);
    if (s != tconv_success) {
        ocl_devices_release(st);
        pthread_mutex_destroy(&st->lock);
        free(st);
        return s;
    }
    *state = st;
    return tconv_success;
}

static void ocl_fini(tconv_backend_state_t state) {
    ocl_state_t *st = state;
    if (!st)
        return;
    ocl_devices_release(st);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static tconv_status_t ocl_get_device_count(tconv_backend_state_t state, size_t *count) {
    ocl_state_t *st = state;
    *count = st ? st->device_count : 0;
    return tconv_success;
}

static tconv_status_t ocl_get_device_info(tconv_backend_state_t state, size_t device,
                                          tconv_device_info_t *info) {
    ocl_state_t *st = state;
    if (!st || !info || device >= st->device_count)
        return tconv_invalid_arguments;
    ocl_device_fill_info(&st->devices[device], info);
    return tconv_success;
}

/* Flops per cycle per compute unit the model assumes: a CPU core runs one
 * work-group at a time with vector FMAs (PoCL reaches about this with the
 * explicit float16 kernels); a GPU compute unit has many lanes. float64
 * runs at half the lanes on CPUs and much lower rates on most GPUs. */
static double flops_per_cycle(const ocl_device_t *d, tconv_dtype_t dt) {
    if (d->cl_type & CL_DEVICE_TYPE_CPU)
        return dt == tconv_f64 ? 16.0 : 32.0;
    return dt == tconv_f64 ? 16.0 : 128.0;
}

static tconv_status_t ocl_query(tconv_backend_state_t state, size_t device,
                                const tconv_canonical_t *p, double *est_seconds, char *msg,
                                size_t msg_size) {
    ocl_state_t *st = state;
    if (!st || device >= st->device_count) {
        ocl_msg(msg, msg_size, "device index %zu out of range", device);
        return tconv_invalid_arguments;
    }
    const ocl_device_t *d = &st->devices[device];
    const ocl_binary_options_t binaries = ocl_binary_options_from_env();
    tconv_status_t s = ocl_plan_check(d, p, &binaries, msg, msg_size);
    if (s != tconv_success)
        return s;
    double flops =
        2.0 * (double)p->batch * (double)p->in_channels * (double)(p->out_channels / p->groups);
    for (int a = 0; a < 3; a++)
        flops *= (double)p->input_size[a] * (double)p->kernel_size[a];
    double rate = (double)(d->compute_units ? d->compute_units : 1) *
                  (double)(d->clock_mhz ? d->clock_mhz : 1000) * 1e6 * flops_per_cycle(d, p->dtype);
    /* Host transfers of input and output (copies even on a CPU device). */
    double elems = (double)p->batch * ((double)p->in_channels * (double)p->input_size[0] *
                                           (double)p->input_size[1] * (double)p->input_size[2] +
                                       (double)p->out_channels * (double)p->output_size[0] *
                                           (double)p->output_size[1] * (double)p->output_size[2]);
    double bytes = elems * (p->dtype == tconv_f64 ? 8.0 : 4.0);
    *est_seconds = flops / rate + bytes / 8e9;
    return tconv_success;
}

static const tconv_backend_t ocl_backend = {
    .struct_size = sizeof(tconv_backend_t),
    .abi_major = TCONV_BACKEND_ABI_MAJOR,
    .abi_minor = TCONV_BACKEND_ABI_MINOR,
    .name = "opencl",
    .description = "OpenCL devices through the ICD loader (phase-decomposed gather kernels)",
    .init = ocl_init,
    .fini = ocl_fini,
    .get_device_count = ocl_get_device_count,
    .get_device_info = ocl_get_device_info,
    .query = ocl_query,
    .plan_create = ocl_plan_create,
    .plan_set_weights = ocl_plan_set_weights,
    .plan_execute = ocl_plan_execute,
    .plan_destroy = ocl_plan_destroy,
    .plan_backward_data = ocl_plan_backward_data,
    .plan_backward_weights = ocl_plan_backward_weights,
    .plan_set_batch = ocl_plan_set_batch,
    .buffer_create = ocl_buffer_create,
    .buffer_wrap_native = ocl_buffer_wrap_native,
    .buffer_destroy = ocl_buffer_destroy,
    .buffer_write = ocl_buffer_write,
    .buffer_read = ocl_buffer_read,
    .plan_set_weights_buffers = ocl_plan_set_weights_buffers,
    .plan_enqueue = ocl_plan_enqueue,
    .plan_enqueue_backward_data = ocl_plan_enqueue_backward_data,
    .plan_enqueue_backward_weights = ocl_plan_enqueue_backward_weights,
    .plan_wait = ocl_plan_wait,
    .plan_create_native = ocl_plan_create_native,
    .plan_create_with_options = ocl_plan_create_with_options,
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void) {
    return &ocl_backend;
}
