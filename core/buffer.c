/* SPDX-License-Identifier: Apache-2.0 */
/* tconv_buffer_*: a buffer remembers its context (retained, so the plugin
 * that made it stays loaded), its device, its size and the plugin's handle;
 * on a plugin without the buffer group the handle is host memory of the
 * core's own. Calls on a device run under its queue lock
 * (device_queue.h). */
#include "buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_queue.h"
#include "error.h"
#include "log.h"
#include "plan.h"

static const char *buffer_device_id(const struct tconv_buffer *buffer) {
    return tconv_context_device(buffer->context, buffer->device)->info.id;
}

static size_t backend_device(const struct tconv_buffer *buffer) {
    return tconv_context_device(buffer->context, buffer->device)->backend_device;
}

bool tconv_backend_buffer_group_complete(const tconv_backend_t *t, char *why, size_t why_size) {
    const struct {
        const char *slot;
        bool present;
    } group[] = {
        {"buffer_destroy", t->buffer_destroy != NULL},
        {"buffer_write", t->buffer_write != NULL},
        {"buffer_read", t->buffer_read != NULL},
        {"plan_set_weights_buffers", t->plan_set_weights_buffers != NULL},
        {"plan_enqueue", t->plan_enqueue != NULL},
        {"plan_enqueue_backward_data", t->plan_enqueue_backward_data != NULL},
        {"plan_enqueue_backward_weights", t->plan_enqueue_backward_weights != NULL},
        {"plan_wait", t->plan_wait != NULL},
        {"plan_set_batch", t->plan_set_batch != NULL},
    };
    for (size_t i = 0; i < sizeof group / sizeof group[0]; i++) {
        if (t->buffer_create != NULL && !group[i].present) {
            snprintf(why, why_size,
                     "buffer group incomplete: buffer_create is set but %s is NULL (a plugin "
                     "with device buffers fills every slot from buffer_create to plan_wait, "
                     "and plan_set_batch)",
                     group[i].slot);
            return false;
        }
        /* plan_set_batch stands alone; the others need buffer_create. */
        if (t->buffer_create == NULL && group[i].present &&
            strcmp(group[i].slot, "plan_set_batch") != 0) {
            snprintf(why, why_size,
                     "buffer group incomplete: %s is set but buffer_create is NULL (the core "
                     "uses the group only as a whole)",
                     group[i].slot);
            return false;
        }
    }
    if (t->buffer_create == NULL && (t->buffer_wrap_native != NULL || t->plan_create_native)) {
        snprintf(why, why_size,
                 "buffer group incomplete: %s is set but buffer_create is NULL (native interop "
                 "needs the buffer group)",
                 t->buffer_wrap_native != NULL ? "buffer_wrap_native" : "plan_create_native");
        return false;
    }
    return true;
}

tconv_status_t tconv_buffer_check(const struct tconv_plan *plan, const struct tconv_buffer *buffer,
                                  const char *name, size_t bytes) {
    if (buffer == NULL)
        return tconv_set_error(tconv_invalid_arguments, "%s: must not be NULL", name);
    if (buffer->context != plan->context)
        return tconv_set_error(tconv_invalid_arguments,
                               "%s: a buffer of another context than the plan's; a buffer serves "
                               "the plans of its own context and device",
                               name);
    if (buffer->device != plan->device)
        return tconv_set_error(tconv_invalid_arguments,
                               "%s: a buffer of device %s, but the plan runs on %s; a buffer "
                               "serves the plans of its own device",
                               name, buffer_device_id(buffer), tconv_plan_device_id(plan));
    if (buffer->size < bytes)
        return tconv_set_error(tconv_invalid_arguments,
                               "%s: %zu bytes, smaller than the %zu the plan's tensor needs at "
                               "batch %lld",
                               name, buffer->size, bytes, (long long)plan->batch);
    return tconv_success;
}

static tconv_status_t buffer_create(tconv_buffer_t *buffer, tconv_plan_t plan, size_t size) {
    TCONV_REQUIRE_NONNULL(buffer);
    *buffer = NULL;
    TCONV_REQUIRE_NONNULL(plan);
    if (size == 0)
        return tconv_set_error(tconv_invalid_arguments, "size = 0: must be > 0");
    if (plan->native)
        return tconv_set_error(tconv_invalid_arguments,
                               "plan: an OpenCL interop plan works on the caller's cl_mem "
                               "(tconv_opencl_plan_execute); make tconv buffers with a plan from "
                               "tconv_plan_create");
    struct tconv_buffer *b = calloc(1, sizeof *b);
    if (b == NULL)
        return tconv_set_error(tconv_out_of_memory, "out of memory allocating a buffer");
    b->context = plan->context;
    b->device = plan->device;
    b->size = size;
    if (tconv_plan_has_device_buffers(plan)) {
        char msg[1024] = "";
        int st = plan->backend->buffer_create(tconv_device_state(plan->context, plan->device),
                                              backend_device(b), size, &b->handle, msg, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        if (st != tconv_success) {
            free(b);
            return tconv_backend_error(tconv_plan_device_id(plan), "buffer_create failed", st, msg);
        }
    } else {
        /* Zeroed: a buffer never written reads as zeros, not as old heap. */
        b->handle = calloc(1, size);
        b->host = true;
        if (b->handle == NULL) {
            free(b);
            return tconv_set_error(tconv_out_of_memory,
                                   "out of memory allocating a %zu-byte buffer of %s (host "
                                   "memory)",
                                   size, tconv_plan_device_id(plan));
        }
    }
    tconv_context_retain(b->context);
    *buffer = b;
    return tconv_success;
}

/* offset + size within the buffer (without overflow). */
static tconv_status_t check_range(const struct tconv_buffer *buffer, size_t offset, size_t size) {
    if (offset > buffer->size || size > buffer->size - offset)
        return tconv_set_error(tconv_invalid_arguments,
                               "offset + size = %zu + %zu: exceeds the buffer's %zu bytes", offset,
                               size, buffer->size);
    return tconv_success;
}

/* A copy between host memory @p host and the buffer, in queue order:
 * into the buffer (@p write) or out of it (which also returns the first
 * error of the work queued before on the device). */
static tconv_status_t buffer_transfer(tconv_buffer_t buffer, size_t offset, void *host, size_t size,
                                      bool write) {
    TCONV_REQUIRE_NONNULL(buffer);
    if (host == NULL)
        return tconv_set_error(tconv_invalid_arguments, "%s: must not be NULL",
                               write ? "src" : "dst");
    tconv_status_t st = check_range(buffer, offset, size);
    if (st != tconv_success || size == 0)
        return st;
    tconv_device_queue_lock(buffer->context, buffer->device);
    unsigned char *memory = (unsigned char *)buffer->handle + offset;
    if (buffer->host && write) {
        memcpy(memory, host, size);
    } else if (buffer->host) {
        memcpy(host, memory, size);
    } else {
        char msg[1024] = "";
        const tconv_backend_t *b = tconv_device_backend(buffer->context, buffer->device);
        tconv_backend_state_t state = tconv_device_state(buffer->context, buffer->device);
        int bst = write ? b->buffer_write(state, backend_device(buffer), buffer->handle, offset,
                                          host, size, msg, sizeof msg)
                        : b->buffer_read(state, backend_device(buffer), buffer->handle, offset,
                                         host, size, msg, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        if (bst != tconv_success)
            st =
                tconv_backend_error(buffer_device_id(buffer),
                                    write ? "buffer_write failed" : "buffer_read failed", bst, msg);
    }
    tconv_device_queue_unlock(buffer->context, buffer->device);
    return st;
}

static void buffer_destroy(tconv_buffer_t buffer) {
    struct tconv_context *context = buffer->context;
    tconv_device_queue_lock(context, buffer->device);
    if (buffer->host)
        free(buffer->handle);
    else
        tconv_device_backend(context, buffer->device)
            ->buffer_destroy(tconv_device_state(context, buffer->device), backend_device(buffer),
                             buffer->handle);
    tconv_device_queue_unlock(context, buffer->device);
    free(buffer);
}

/* ---------------------------------------------------------------------- */
/* Public entry points, with the context's log sink active (log.h). */

static const tconv_log_sink_t *enter_buffer(const struct tconv_buffer *buffer) {
    return tconv_log_sink_enter(buffer != NULL ? &buffer->context->log_sink : NULL);
}

TCONV_API tconv_status_t tconv_buffer_create(tconv_buffer_t *buffer, tconv_plan_t plan,
                                             size_t size) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = buffer_create(buffer, plan, size);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_buffer_write(tconv_buffer_t buffer, size_t offset, const void *src,
                                            size_t size) {
    const tconv_log_sink_t *previous = enter_buffer(buffer);
    const tconv_status_t st = buffer_transfer(buffer, offset, (void *)src, size, true);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_buffer_read(tconv_buffer_t buffer, size_t offset, void *dst,
                                           size_t size) {
    const tconv_log_sink_t *previous = enter_buffer(buffer);
    const tconv_status_t st = buffer_transfer(buffer, offset, dst, size, false);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_buffer_get_size(tconv_buffer_t buffer, size_t *size) {
    TCONV_REQUIRE_NONNULL(buffer);
    TCONV_REQUIRE_NONNULL(size);
    *size = buffer->size;
    return tconv_success;
}

TCONV_API void tconv_buffer_destroy(tconv_buffer_t buffer) {
    if (buffer == NULL)
        return;
    /* The sink lives in the context, which the release below may free. */
    struct tconv_context *context = buffer->context;
    const tconv_log_sink_t *previous = tconv_log_sink_enter(&context->log_sink);
    buffer_destroy(buffer);
    tconv_log_sink_restore(previous);
    tconv_context_release(context);
}
