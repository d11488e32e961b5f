/* SPDX-License-Identifier: Apache-2.0 */
/* The context object shared by the loader, selection and plans. */
#ifndef TCONV_CORE_CONTEXT_H
#define TCONV_CORE_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "tconv/tconv.h"
#include "tconv/tconv_backend.h"

/* A plugin in use: its table as the core knows it, its module and instance. */
typedef struct tconv_loaded_plugin {
    tconv_backend_t table;       /* zeroed local copy of min(struct_size, sizeof) bytes */
    void *module;                /* lt_dlhandle */
    tconv_backend_state_t state; /* what init returned */
    size_t device_count;
    char path[1024];
} tconv_loaded_plugin_t;

/* One device, as listed to users (ordered by backend name, then index). */
typedef struct tconv_device_entry {
    size_t plugin;         /* index into tconv_context.plugins */
    size_t backend_device; /* the device's index inside its backend */
    tconv_device_info_t info;
} tconv_device_entry_t;

struct tconv_selection_cache; /* selection_cache.h */

struct tconv_context {
    atomic_int refcount; /* the user's reference plus one per live plan */
    tconv_host_t host;   /* services given to every plugin; lives as long as they do */
    tconv_loaded_plugin_t *plugins;
    size_t plugin_count;
    tconv_device_entry_t *devices;
    size_t device_count;
    tconv_plugin_report_t *reports;
    size_t report_count;
    size_t report_capacity;
    /* Measured CPU-device decisions per problem shape (NULL: none kept). */
    struct tconv_selection_cache *selection_cache;
    /* The cache directory (cache_dir.h), also host.cache_dir; NULL: caching
     * is off, and cache_dir_why says why. */
    char *cache_dir;
    char cache_dir_why[320];
    /* tconv_context_options_t: where messages go (made active during every
     * public call on the context, see log.h) and which plugin sources count. */
    tconv_log_sink_t log_sink;
    uint32_t plugin_flags;
};

/* Reference counting: plans keep their context (and its plugins) alive. */
void tconv_context_retain(struct tconv_context *context);
void tconv_context_release(struct tconv_context *context);

/* The backend table of a device. */
static inline const tconv_backend_t *tconv_device_backend(const struct tconv_context *context,
                                                          size_t device) {
    return &context->plugins[context->devices[device].plugin].table;
}

/* The first pass @p problem asks for that @p backend's table lacks
 * ("backward_data", "backward_weights"), or NULL when it has them all (or
 * @p problem is NULL). */
static inline const char *tconv_backend_missing_pass(const tconv_backend_t *backend,
                                                     const tconv_canonical_t *problem) {
    if (problem == NULL)
        return NULL;
    if ((problem->passes & TCONV_PASS_BACKWARD_DATA) && backend->plan_backward_data == NULL)
        return "backward_data";
    if ((problem->passes & TCONV_PASS_BACKWARD_WEIGHTS) && backend->plan_backward_weights == NULL)
        return "backward_weights";
    return NULL;
}

static inline tconv_backend_state_t tconv_device_state(const struct tconv_context *context,
                                                       size_t device) {
    return context->plugins[context->devices[device].plugin].state;
}

/* Sizes of the output structs in tconv 0.1, the first release: what a
 * caller's struct_size of 0 means (a zero-initialised struct of a 0.1
 * caller), so a struct that grows later is never written past an old
 * caller's end. Up to the last 0.1 field. */
#define TCONV_DEVICE_INFO_SIZE_0_1 (offsetof(tconv_device_info_t, has_fp16) + sizeof(uint32_t))
#define TCONV_PLUGIN_REPORT_SIZE_0_1                                                               \
    (offsetof(tconv_plugin_report_t, device_count) + sizeof(size_t))

/* Copies @p src into a caller's struct of which only @p dst_struct_size bytes
 * may be written (0 = @p legacy_size, the struct's tconv 0.1 size), keeping
 * that size in the copy. Returns false when the size is too small to hold
 * struct_size itself. */
bool tconv_copy_sized(void *dst, size_t dst_struct_size, size_t legacy_size, const void *src,
                      size_t src_size);

#endif /* TCONV_CORE_CONTEXT_H */
