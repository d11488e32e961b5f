/* SPDX-License-Identifier: Apache-2.0 */
/* The context object shared by the loader, selection and plans. */
#ifndef TCONV_CORE_CONTEXT_H
#define TCONV_CORE_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "tconv/tconv.h"
#include "tconv/tconv_backend.h"

/* A plugin whose module is open and whose table passed the checks: its
 * table as the core knows it, its module, and once started (init and
 * device enumeration, run when its devices are first needed:
 * tconv_plugin_start in plugin_loader.h) its instance and devices. */
typedef struct tconv_loaded_plugin {
    tconv_backend_t table; /* zeroed local copy of min(struct_size, sizeof) bytes */
    void *module;          /* lt_dlhandle */
    size_t report;         /* index of its report in tconv_context.reports */
    /* Set (release) once the start ran, whatever its outcome; the fields
     * below are written before, under the context's plugin_start_lock, and
     * never again. A start that ran out of memory leaves it unset (tried
     * again on the next use). */
    atomic_bool started;
    bool has_instance;           /* init succeeded and fini is owed */
    tconv_backend_state_t state; /* what init returned */
    size_t device_count;         /* devices the backend reported */
    size_t first_device;         /* its entries in tconv_context.devices: */
    size_t listed_devices;       /* [first_device, first_device + listed_devices) */
    char path[1024];
} tconv_loaded_plugin_t;

/* One device. Users see them ordered by backend name, then index (the
 * listing order); the context's table holds them in the order their
 * plugins started (see tconv_context.devices). */
typedef struct tconv_device_entry {
    size_t plugin;         /* index into tconv_context.plugins */
    size_t backend_device; /* the device's index inside its backend */
    tconv_device_info_t info;
} tconv_device_entry_t;

struct tconv_selection_cache; /* selection_cache.h */

struct tconv_context {
    atomic_int refcount;            /* the user's reference plus one per live plan */
    tconv_host_t host;              /* services given to every plugin; lives as long as they do */
    tconv_loaded_plugin_t *plugins; /* sorted by backend name; fixed after creation */
    size_t plugin_count;
    /* The devices of the started plugins. A plugin's start appends its
     * devices to a copy and publishes it (devices, then device_count), so an
     * index, once below a device_count read, names the same device for the
     * life of the context, and a table another thread is reading stays
     * valid: the replaced ones wait in retired_tables until the context is
     * freed. Read device_count once per operation (selection sizes its
     * arrays by it). The order is the plugins' start order, each plugin's
     * devices together by index; tconv_device_listed_before gives the
     * listing order. */
    tconv_device_entry_t *_Atomic devices;
    _Atomic size_t device_count;
    tconv_device_entry_t **retired_tables; /* room for plugin_count tables */
    size_t retired_count;
    pthread_mutex_t plugin_start_lock; /* plugin starts and the table's growth */
    tconv_plugin_report_t *reports;    /* one per candidate; a started plugin's is final */
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

/* The published device table and its length, read as the atomics they are
 * (acquire: a table's entries are written before it is published). Every
 * read of the table goes through these: GCC compiles a plain read of an
 * _Atomic member as a plain load, which ThreadSanitizer then reports as a
 * race with the publishing store (seen in thread_stress_shared_context). */
static inline const tconv_device_entry_t *
tconv_context_devices(const struct tconv_context *context) {
    return atomic_load_explicit(&((struct tconv_context *)context)->devices, memory_order_acquire);
}
static inline size_t tconv_context_device_count(const struct tconv_context *context) {
    return atomic_load_explicit(&((struct tconv_context *)context)->device_count,
                                memory_order_acquire);
}
/* Entry @p device (below a device count read before) of the table. */
static inline const tconv_device_entry_t *tconv_context_device(const struct tconv_context *context,
                                                               size_t device) {
    return &tconv_context_devices(context)[device];
}

/* The backend table of a device. */
static inline const tconv_backend_t *tconv_device_backend(const struct tconv_context *context,
                                                          size_t device) {
    return &context->plugins[tconv_context_device(context, device)->plugin].table;
}

/* Whether device @p a comes before @p b in the listing order, (backend
 * name, index): plugins are sorted by name. */
static inline bool tconv_device_listed_before(const struct tconv_context *context, size_t a,
                                              size_t b) {
    const tconv_device_entry_t *devices = tconv_context_devices(context);
    if (devices[a].plugin != devices[b].plugin)
        return devices[a].plugin < devices[b].plugin;
    return devices[a].backend_device < devices[b].backend_device;
}

/* Fills @p order with the devices below @p count (a device_count read by
 * the caller) in listing order. */
void tconv_devices_in_listing_order(const struct tconv_context *context, size_t count,
                                    size_t *order);

/* The listing index (what tconv_context_get_device_info takes) of device
 * @p device; every plugin is started first, since the plugins listed before
 * it count. Fails only when a start does (out of memory). */
tconv_status_t tconv_device_listing_index(struct tconv_context *context, size_t device,
                                          size_t *listing_index);

/* tconv_context_get_device_info for device @p device of the context's table
 * (a plan's device), without starting any plugin. */
tconv_status_t tconv_device_info_copy(const struct tconv_context *context, size_t device,
                                      tconv_device_info_t *info);

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
    return context->plugins[tconv_context_device(context, device)->plugin].state;
}

/* The backend plan of device @p device for @p problem: plan_create, or with
 * @p options (NULL when no field is set) plan_create_with_options, which
 * the caller made sure the device's plugin has. */
static inline int tconv_device_plan_create(const struct tconv_context *context, size_t device,
                                           const tconv_canonical_t *problem,
                                           const tconv_plan_options_t *options,
                                           tconv_backend_plan_t *plan, char *msg, size_t msg_size) {
    const tconv_backend_t *b = tconv_device_backend(context, device);
    const size_t backend_device = tconv_context_device(context, device)->backend_device;
    if (options != NULL)
        return b->plan_create_with_options(tconv_device_state(context, device), backend_device,
                                           problem, options, plan, msg, msg_size);
    return b->plan_create(tconv_device_state(context, device), backend_device, problem, plan, msg,
                          msg_size);
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

/* The body of an options struct's *_init_sized: writes @p defaults into the
 * caller's struct of @p struct_size bytes (tconv_copy_sized), refusing a
 * size that cannot hold struct_size itself, with @p type (the struct's
 * name) in the message. */
tconv_status_t tconv_options_init(void *options, size_t struct_size, const void *defaults,
                                  size_t defaults_size, const char *type);

/* Reads a caller's options struct @p given (first field its size_t
 * struct_size) over @p dst, which holds the defaults in @p dst_size bytes:
 * only the bytes both know are copied (fields past the caller's size keep
 * their defaults), and dst's struct_size becomes @p dst_size. Refuses a
 * struct_size that cannot hold itself (not set by @p init, named). */
tconv_status_t tconv_options_read(void *dst, size_t dst_size, const void *given, const char *init);

#endif /* TCONV_CORE_CONTEXT_H */
