/* SPDX-License-Identifier: Apache-2.0 */
/* Device buffers (tconv.h, "Device buffers and asynchronous execution"):
 * memory of a plugin with the buffer group, or host memory the core
 * allocates for a plugin without it (then every pass on it runs the
 * plugin's host slots, synchronously, with zero copies). */
#ifndef TCONV_CORE_BUFFER_H
#define TCONV_CORE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "tconv/tconv.h"
#include "tconv/tconv_backend.h"

struct tconv_plan;

struct tconv_buffer {
    struct tconv_context *context; /* retained, except by a call's wrapper */
    size_t device;                 /* index into context->devices */
    size_t size;                   /* bytes */
    /* The plugin's handle, or (host) the memory itself. */
    void *handle;
    bool host;
    /* A wrapper of a native object made for one call (opencl_interop.c):
     * holds no context reference. */
    bool wrapped;
};

/* Checks @p buffer, argument @p name of a call on @p plan: not NULL (when
 * @p required), of the plan's context and device, and at least @p bytes
 * long. */
tconv_status_t tconv_buffer_check(const struct tconv_plan *plan, const struct tconv_buffer *buffer,
                                  const char *name, size_t bytes);

/* The slots of the buffer group a plugin's table lacks, as a message into
 * @p why: returns false when @p table has buffer_create but not every slot
 * of the group (or plan_set_batch), or has group slots without
 * buffer_create; true when the group is complete or absent. */
bool tconv_backend_buffer_group_complete(const tconv_backend_t *table, char *why, size_t why_size);

#endif /* TCONV_CORE_BUFFER_H */
