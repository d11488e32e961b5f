/* SPDX-License-Identifier: Apache-2.0 */
/* Default slot implementations shared by the misbehaving test plugins. */
#include "faulty_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-instance state: how many devices this instance exposes, and the
 * host it was given. */
typedef struct faulty_state {
    size_t device_count;
    const tconv_host_t *host;
} faulty_state_t;

/* A plan only remembers that it exists (these plugins never compute). */
typedef struct faulty_plan {
    int weights_set;
} faulty_plan_t;

void faulty_message(char *msg, size_t msg_size, const char *text) {
    if (msg && msg_size > 0)
        snprintf(msg, msg_size, "%s", text);
}

static tconv_status_t init_with(size_t devices, const tconv_host_t *host,
                                tconv_backend_state_t *state, char *msg, size_t msg_size) {
    faulty_state_t *s = calloc(1, sizeof *s);
    if (!s) {
        faulty_message(msg, msg_size, "faulty: out of memory");
        return tconv_out_of_memory;
    }
    s->device_count = devices;
    s->host = host;
    *state = s;
    return tconv_success;
}

tconv_status_t faulty_init_one_device(const tconv_host_t *host, tconv_backend_state_t *state,
                                      char *msg, size_t msg_size) {
    return init_with(1, host, state, msg, msg_size);
}

tconv_status_t faulty_init_no_devices(const tconv_host_t *host, tconv_backend_state_t *state,
                                      char *msg, size_t msg_size) {
    faulty_message(msg, msg_size, "no simulated hardware present");
    return init_with(0, host, state, msg, msg_size);
}

const tconv_host_t *faulty_host(tconv_backend_state_t state) {
    return ((const faulty_state_t *)state)->host;
}

void faulty_fini(tconv_backend_state_t state) {
    free(state);
}

tconv_status_t faulty_get_device_count(tconv_backend_state_t state, size_t *count) {
    *count = ((faulty_state_t *)state)->device_count;
    return tconv_success;
}

tconv_status_t faulty_get_device_info(tconv_backend_state_t state, size_t device,
                                      tconv_device_info_t *info) {
    info->type = tconv_device_custom;
    info->flags = 0;
    snprintf(info->name, sizeof info->name, "faulty test device %zu", device);
    snprintf(info->vendor, sizeof info->vendor, "tconv tests");
    snprintf(info->driver_version, sizeof info->driver_version, "0");
    info->compute_units = 1;
    info->dtypes = TCONV_DTYPE_BIT(tconv_f32) | TCONV_DTYPE_BIT(tconv_f64);
    return tconv_success;
}

tconv_status_t faulty_plan_create_decline(tconv_backend_state_t state, size_t device,
                                          const tconv_canonical_t *problem,
                                          tconv_backend_plan_t *plan, char *msg, size_t msg_size) {
    faulty_message(msg, msg_size, "faulty plugins never compute");
    return tconv_unimplemented;
}

tconv_status_t faulty_plan_create_accept(tconv_backend_state_t state, size_t device,
                                         const tconv_canonical_t *problem,
                                         tconv_backend_plan_t *plan, char *msg, size_t msg_size) {
    faulty_plan_t *p = calloc(1, sizeof *p);
    if (!p) {
        faulty_message(msg, msg_size, "faulty: out of memory");
        return tconv_out_of_memory;
    }
    *plan = p;
    return tconv_success;
}

tconv_status_t faulty_plan_set_weights(tconv_backend_plan_t plan, const void *kernel,
                                       const void *bias, char *msg, size_t msg_size) {
    ((faulty_plan_t *)plan)->weights_set = 1;
    return tconv_success;
}

tconv_status_t faulty_plan_execute_fail(tconv_backend_plan_t plan, const void *input, void *output,
                                        char *msg, size_t msg_size) {
    faulty_message(msg, msg_size, "simulated kernel launch failure (CL_OUT_OF_RESOURCES)");
    return tconv_runtime_error;
}

void faulty_plan_destroy(tconv_backend_plan_t plan) {
    free(plan);
}
