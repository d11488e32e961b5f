/* SPDX-License-Identifier: Apache-2.0 */
/* Device buffers (ABI 1.2 buffer group): the handle the core passes back to
 * the enqueue slots is a small struct holding the cl_mem and its size.
 * Buffers made by buffer_create live in the device's own context; a wrapped
 * caller's cl_mem (buffer_wrap_native) lives in the caller's context, which
 * must hold the device, and serves the plans of that context (those made by
 * plan_create_native on a queue of it). Writes and reads go on the device
 * queue, in order with the enqueued passes. */
#ifndef TCONV_OCL_BUFFER_H
#define TCONV_OCL_BUFFER_H

#include "ocl_state.h"

typedef struct ocl_buffer {
    cl_mem mem;         /**< Retained by the handle. */
    size_t size;        /**< Bytes. */
    cl_context context; /**< The cl_mem's (held by the cl_mem itself). */
} ocl_buffer_t;

tconv_status_t ocl_buffer_create(tconv_backend_state_t state, size_t device, size_t size,
                                 void **buffer, char *msg, size_t msg_size);
tconv_status_t ocl_buffer_wrap_native(tconv_backend_state_t state, size_t device,
                                      void *native_memory, size_t *size, void **buffer, char *msg,
                                      size_t msg_size);
void ocl_buffer_destroy(tconv_backend_state_t state, size_t device, void *buffer);
tconv_status_t ocl_buffer_write(tconv_backend_state_t state, size_t device, void *buffer,
                                size_t offset, const void *src, size_t size, char *msg,
                                size_t msg_size);
tconv_status_t ocl_buffer_read(tconv_backend_state_t state, size_t device, const void *buffer,
                               size_t offset, void *dst, size_t size, char *msg, size_t msg_size);

/** Checks that @p b (named @p what in messages) is a buffer of @p context
 *  holding at least @p bytes; its cl_mem in *@p mem. */
tconv_status_t ocl_buffer_check(const ocl_buffer_t *b, const char *what, cl_context context,
                                uint64_t bytes, cl_mem *mem, char *msg, size_t msg_size);

#endif /* TCONV_OCL_BUFFER_H */
