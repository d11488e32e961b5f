/* SPDX-License-Identifier: Apache-2.0 */
/* Device buffers (see ocl_buffer.h). */
#include "ocl_buffer.h"

#include <stdio.h>
#include <stdlib.h>

#include "ocl_errors.h"

/* The device @p device of the state, with its context and device queue
 * made; NULL (with the reason) when the index is out of range or they
 * cannot be made. */
static ocl_device_t *open_device(ocl_state_t *st, size_t device, char *msg, size_t msg_size,
                                 tconv_status_t *status) {
    if (!st || device >= st->device_count) {
        ocl_msg(msg, msg_size, "device index %zu: the backend has %zu device(s)", device,
                st ? st->device_count : 0);
        *status = tconv_invalid_arguments;
        return NULL;
    }
    ocl_device_t *dev = &st->devices[device];
    *status = ocl_device_open(st, dev, msg, msg_size);
    return *status == tconv_success ? dev : NULL;
}

tconv_status_t ocl_buffer_create(tconv_backend_state_t state, size_t device, size_t size,
                                 void **buffer, char *msg, size_t msg_size) {
    *buffer = NULL;
    tconv_status_t status;
    ocl_device_t *dev = open_device(state, device, msg, msg_size, &status);
    if (!dev)
        return status;
    if (size == 0) {
        ocl_msg(msg, msg_size, "size is 0: a buffer holds at least one byte");
        return tconv_invalid_arguments;
    }
    ocl_buffer_t *b = calloc(1, sizeof(*b));
    if (!b) {
        ocl_msg(msg, msg_size, "out of host memory for a buffer handle");
        return tconv_out_of_memory;
    }
    cl_int err = CL_SUCCESS;
    b->mem = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, size, NULL, &err);
    if (err != CL_SUCCESS || !b->mem) {
        free(b);
        char call[96];
        snprintf(call, sizeof(call), "clCreateBuffer (%zu bytes on opencl:%zu)", size, device);
        return ocl_fail(err, call, msg, msg_size);
    }
    b->size = size;
    b->context = dev->context;
    *buffer = b;
    return tconv_success;
}

tconv_status_t ocl_buffer_wrap_native(tconv_backend_state_t state, size_t device,
                                      void *native_memory, size_t *size, void **buffer, char *msg,
                                      size_t msg_size) {
    *buffer = NULL;
    ocl_state_t *st = state;
    if (!st || device >= st->device_count) {
        ocl_msg(msg, msg_size, "device index %zu: the backend has %zu device(s)", device,
                st ? st->device_count : 0);
        return tconv_invalid_arguments;
    }
    const ocl_device_t *dev = &st->devices[device];
    cl_mem mem = native_memory;
    cl_context context = NULL;
    size_t bytes = 0;
    cl_mem_object_type type = 0;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_TYPE, sizeof(type), &type, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof(context), &context, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof(bytes), &bytes, NULL);
    if (err != CL_SUCCESS) {
        ocl_msg(msg, msg_size, "the memory object is not a valid cl_mem (clGetMemObjectInfo: %s)",
                ocl_error_name(err));
        return tconv_invalid_arguments;
    }
    if (type != CL_MEM_OBJECT_BUFFER) {
        ocl_msg(msg, msg_size, "the memory object is an image (type 0x%x), not a buffer",
                (unsigned)type);
        return tconv_invalid_arguments;
    }
    if (!ocl_context_has_device(context, dev)) {
        ocl_msg(msg, msg_size, "the cl_mem's context does not hold opencl:%zu (%s)", device,
                dev->name);
        return tconv_invalid_arguments;
    }
    ocl_buffer_t *b = calloc(1, sizeof(*b));
    if (!b) {
        ocl_msg(msg, msg_size, "out of host memory for a buffer handle");
        return tconv_out_of_memory;
    }
    err = clRetainMemObject(mem);
    if (err != CL_SUCCESS) {
        free(b);
        return ocl_fail(err, "clRetainMemObject", msg, msg_size);
    }
    b->mem = mem;
    b->size = bytes;
    b->context = context;
    *size = bytes;
    *buffer = b;
    return tconv_success;
}

/* OpenCL keeps a released cl_mem until the commands using it have run, so
 * the work queued on it completes first without a wait here. */
void ocl_buffer_destroy(tconv_backend_state_t state, size_t device, void *buffer) {
    (void)state;
    (void)device;
    ocl_buffer_t *b = buffer;
    if (!b)
        return;
    clReleaseMemObject(b->mem);
    free(b);
}

/* The device queue for a transfer of @p size bytes at @p offset of @p b. */
static ocl_stream_t *transfer_stream(ocl_state_t *st, size_t device, const ocl_buffer_t *b,
                                     size_t offset, size_t size, const void *host,
                                     const char *host_name, char *msg, size_t msg_size,
                                     tconv_status_t *status) {
    ocl_device_t *dev = open_device(st, device, msg, msg_size, status);
    if (!dev)
        return NULL;
    *status = tconv_invalid_arguments;
    if (!b || !host) {
        ocl_msg(msg, msg_size, "%s is NULL", b ? host_name : "buffer");
        return NULL;
    }
    if (offset > b->size || size > b->size - offset) {
        ocl_msg(msg, msg_size,
                "offset %zu + size %zu exceeds the buffer's %zu bytes (offset + size must not)",
                offset, size, b->size);
        return NULL;
    }
    if (b->context != dev->context) {
        ocl_msg(msg, msg_size,
                "the buffer is a caller's cl_mem of another OpenCL context: read and write it "
                "on the caller's own queue");
        return NULL;
    }
    *status = tconv_success;
    return dev->stream;
}

tconv_status_t ocl_buffer_write(tconv_backend_state_t state, size_t device, void *buffer,
                                size_t offset, const void *src, size_t size, char *msg,
                                size_t msg_size) {
    tconv_status_t status;
    ocl_buffer_t *b = buffer;
    ocl_stream_t *s =
        transfer_stream(state, device, b, offset, size, src, "src", msg, msg_size, &status);
    if (!s || size == 0)
        return status;
    ocl_chain_t c;
    ocl_stream_order(s, 1);
    ocl_chain_begin(&c, s->queue, NULL, 1);
    /* Blocking: returns when src may be reused (the queue runs what came
     * before first, in order). */
    cl_int err =
        clEnqueueWriteBuffer(s->queue, b->mem, CL_TRUE, offset, size, src, OCL_CHAIN_SYNC(&c));
    ocl_chain_commit(&c, err);
    if (err != CL_SUCCESS)
        status = ocl_fail(err, "clEnqueueWriteBuffer (tconv_buffer_write)", msg, msg_size);
    status = ocl_chain_end(&c, s, "buffer write", NULL, NULL, status, msg, msg_size);
    ocl_stream_order(s, 0);
    return status;
}

tconv_status_t ocl_buffer_read(tconv_backend_state_t state, size_t device, const void *buffer,
                               size_t offset, void *dst, size_t size, char *msg, size_t msg_size) {
    tconv_status_t status;
    const ocl_buffer_t *b = buffer;
    ocl_stream_t *s =
        transfer_stream(state, device, b, offset, size, dst, "dst", msg, msg_size, &status);
    if (!s)
        return status;
    ocl_stream_order(s, 1);
    cl_int err =
        size ? clEnqueueReadBuffer(s->queue, b->mem, CL_TRUE, offset, size, dst, 0, NULL, NULL)
             : clFinish(s->queue);
    ocl_stream_order(s, 0);
    /* Everything before the read has run: its first failure comes first. */
    status = ocl_stream_collect(s, msg, msg_size);
    if (status == tconv_success && err != CL_SUCCESS)
        status = ocl_fail(err, "clEnqueueReadBuffer (tconv_buffer_read)", msg, msg_size);
    return status;
}

tconv_status_t ocl_buffer_check(const ocl_buffer_t *b, const char *what, cl_context context,
                                uint64_t bytes, cl_mem *mem, char *msg, size_t msg_size) {
    *mem = NULL;
    if (!b) {
        ocl_msg(msg, msg_size, "%s is NULL", what);
        return tconv_invalid_arguments;
    }
    if (b->context != context) {
        ocl_msg(msg, msg_size,
                "%s: the buffer belongs to another OpenCL context than the plan's (a plan made "
                "on a caller's queue takes that context's cl_mem; other plans tconv's buffers)",
                what);
        return tconv_invalid_arguments;
    }
    if ((uint64_t)b->size < bytes) {
        ocl_msg(msg, msg_size,
                "%s holds %zu bytes; the pass needs %llu (it must hold at least that)", what,
                b->size, (unsigned long long)bytes);
        return tconv_invalid_arguments;
    }
    *mem = b->mem;
    return tconv_success;
}
