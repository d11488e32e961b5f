/* SPDX-License-Identifier: Apache-2.0 */
/* Context lifecycle (reference counted), device and plugin-report queries. */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_dir.h"
#include "common/host_threads.h"
#include "error.h"
#include "log.h"
#include "plugin_loader.h"
#include "selection_cache.h"

bool tconv_copy_sized(void *dst, size_t dst_struct_size, size_t legacy_size, const void *src,
                      size_t src_size) {
    size_t n = dst_struct_size == 0 ? legacy_size : dst_struct_size;
    if (n < sizeof(size_t))
        return false;
    if (n > src_size)
        n = src_size;
    memcpy(dst, src, n);
    memcpy(dst, &n, sizeof n); /* struct_size says how much was written */
    return true;
}

tconv_status_t tconv_options_init(void *options, size_t struct_size, const void *defaults,
                                  size_t defaults_size, const char *type) {
    /* Only the caller's struct is written: a caller built against a smaller
     * (older) struct gets the fields it knows. */
    if (!tconv_copy_sized(options, struct_size, 0, defaults, defaults_size))
        return tconv_set_error(tconv_invalid_arguments, "struct_size = %zu: must be sizeof(%s)",
                               struct_size, type);
    return tconv_success;
}

tconv_status_t tconv_options_read(void *dst, size_t dst_size, const void *given, const char *init) {
    size_t n;
    memcpy(&n, given, sizeof n);
    if (n < sizeof(size_t))
        return tconv_set_error(tconv_invalid_arguments,
                               "options->struct_size = %zu: must be set by %s", n, init);
    memcpy(dst, given, n < dst_size ? n : dst_size);
    memcpy(dst, &dst_size, sizeof dst_size); /* the copy is a whole struct */
    return tconv_success;
}

static void context_free(struct tconv_context *ctx) {
    const tconv_log_sink_t *previous = tconv_log_sink_enter(&ctx->log_sink);
    tconv_plugins_unload(ctx);
    tconv_log_sink_restore(previous);
    tconv_selection_cache_destroy(ctx->selection_cache);
    free(ctx->cache_dir);
    for (size_t i = 0; i < ctx->retired_count; i++)
        free(ctx->retired_tables[i]);
    free(ctx->retired_tables);
    free(ctx->devices);
    free(ctx->reports);
    pthread_mutex_destroy(&ctx->plugin_start_lock);
    free(ctx);
}

void tconv_context_retain(struct tconv_context *ctx) {
    atomic_fetch_add_explicit(&ctx->refcount, 1, memory_order_relaxed);
}

void tconv_context_release(struct tconv_context *ctx) {
    /* acq_rel: the last releaser sees every write other holders made. */
    if (atomic_fetch_sub_explicit(&ctx->refcount, 1, memory_order_acq_rel) == 1)
        context_free(ctx);
}

static void options_defaults(tconv_context_options_t *options) {
    memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->cache_mode = tconv_cache_default;
    options->verbosity = TCONV_VERBOSITY_DEFAULT;
}

TCONV_API tconv_status_t tconv_context_options_init_sized(tconv_context_options_t *options,
                                                          size_t struct_size) {
    TCONV_REQUIRE_NONNULL(options);
    tconv_context_options_t defaults;
    options_defaults(&defaults);
    return tconv_options_init(options, struct_size, &defaults, sizeof defaults,
                              "tconv_context_options_t");
}

/* The caller's options over the defaults (fields past its struct_size keep
 * theirs), each checked: the message names the field and the rule. */
static tconv_status_t read_options(const tconv_context_options_t *given,
                                   tconv_context_options_t *options) {
    options_defaults(options);
    if (given == NULL)
        return tconv_success;
    tconv_status_t st =
        tconv_options_read(options, sizeof *options, given, "tconv_context_options_init");
    if (st != tconv_success)
        return st;
    if (options->plugin_flags &
        ~(TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT | TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS))
        return tconv_set_error(tconv_invalid_arguments,
                               "options->plugin_flags = 0x%x: unknown bits 0x%x",
                               options->plugin_flags,
                               options->plugin_flags & ~(TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT |
                                                         TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS));
    switch (options->cache_mode) {
    case tconv_cache_default:
    case tconv_cache_off:
        break;
    case tconv_cache_directory:
        if (options->cache_dir == NULL || options->cache_dir[0] != '/')
            return tconv_set_error(tconv_invalid_arguments,
                                   "options->cache_dir = '%s': must be an absolute path with "
                                   "cache_mode tconv_cache_directory",
                                   options->cache_dir ? options->cache_dir : "(null)");
        break;
    default:
        return tconv_set_error(tconv_invalid_arguments,
                               "options->cache_mode = %d: must be tconv_cache_default, "
                               "tconv_cache_off or tconv_cache_directory",
                               (int)options->cache_mode);
    }
    if (options->verbosity < TCONV_VERBOSITY_DEFAULT || options->verbosity > 2)
        return tconv_set_error(tconv_invalid_arguments,
                               "options->verbosity = %d: must be 0, 1, 2 or "
                               "TCONV_VERBOSITY_DEFAULT (-1)",
                               options->verbosity);
    if (options->num_threads < 0 || options->num_threads > TCONV_MAX_THREADS)
        return tconv_set_error(tconv_invalid_arguments,
                               "options->num_threads = %d: must be 0 (the default) or in 1..%d",
                               options->num_threads, TCONV_MAX_THREADS);
    return tconv_success;
}

/* The cache directory the options ask for (malloc'd), or NULL with the
 * reason in the context. */
static char *choose_cache_dir(const tconv_context_options_t *options, struct tconv_context *ctx) {
    switch (options->cache_mode) {
    case tconv_cache_off:
        snprintf(ctx->cache_dir_why, sizeof ctx->cache_dir_why,
                 "cache off (tconv_context_options_t.cache_mode)");
        return NULL;
    case tconv_cache_directory: {
        char *dir = strdup(options->cache_dir);
        if (dir == NULL)
            snprintf(ctx->cache_dir_why, sizeof ctx->cache_dir_why,
                     "out of memory resolving the cache directory");
        return dir;
    }
    default:
        return tconv_cache_dir_resolve(ctx->cache_dir_why, sizeof ctx->cache_dir_why);
    }
}

TCONV_API tconv_status_t tconv_context_create_with_options(tconv_context_t *context,
                                                           const tconv_context_options_t *given) {
    TCONV_REQUIRE_NONNULL(context);
    *context = NULL;
    tconv_context_options_t options;
    tconv_status_t st = read_options(given, &options);
    if (st != tconv_success)
        return st;
    struct tconv_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return tconv_set_error(tconv_out_of_memory, "out of memory allocating the context");
    atomic_init(&ctx->refcount, 1);
    atomic_init(&ctx->devices, NULL);
    atomic_init(&ctx->device_count, 0);
    if (pthread_mutex_init(&ctx->plugin_start_lock, NULL) != 0) {
        free(ctx);
        return tconv_set_error(tconv_out_of_memory, "out of memory allocating the context");
    }
    ctx->log_sink =
        (tconv_log_sink_t){options.verbosity, options.log_callback, options.log_user_data};
    ctx->plugin_flags = options.plugin_flags;
    /* From here on the context's messages, and its plugins', go to its sink. */
    const tconv_log_sink_t *previous = tconv_log_sink_enter(&ctx->log_sink);
    tconv_host_init(&ctx->host, options.verbosity, options.num_threads);
    ctx->cache_dir = choose_cache_dir(&options, ctx);
    ctx->host.cache_dir = ctx->cache_dir;
    ctx->selection_cache = tconv_selection_cache_create(); /* optional: NULL keeps nothing */
    st = tconv_plugins_load(ctx, options.search_path);
    if (st != tconv_success)
        context_free(ctx);
    else
        *context = ctx;
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_context_create(tconv_context_t *context, const char *search_path) {
    tconv_context_options_t options;
    options_defaults(&options);
    options.search_path = search_path;
    return tconv_context_create_with_options(context, &options);
}

TCONV_API void tconv_context_destroy(tconv_context_t context) {
    if (context != NULL)
        tconv_context_release(context);
}

TCONV_API tconv_status_t tconv_context_get_device_count(tconv_context_t context, size_t *count) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(count);
    /* Counting means every plugin's devices, so every plugin starts. */
    tconv_status_t st = tconv_plugins_start_all(context);
    if (st != tconv_success)
        return st;
    *count = tconv_context_device_count(context);
    return tconv_success;
}

void tconv_devices_in_listing_order(const struct tconv_context *ctx, size_t count, size_t *order) {
    /* Each plugin's devices are together and by index in the table, and the
     * plugins are sorted by name: a pass per plugin lists them in order. */
    const tconv_device_entry_t *devices = ctx->devices;
    size_t n = 0;
    for (size_t pi = 0; pi < ctx->plugin_count && n < count; pi++)
        for (size_t d = 0; d < count; d++)
            if (devices[d].plugin == pi)
                order[n++] = d;
}

tconv_status_t tconv_device_listing_index(struct tconv_context *ctx, size_t device,
                                          size_t *listing_index) {
    tconv_status_t st = tconv_plugins_start_all(ctx);
    if (st != tconv_success)
        return st;
    const size_t plugin = tconv_context_device(ctx, device)->plugin;
    size_t index = device - ctx->plugins[plugin].first_device;
    for (size_t pi = 0; pi < plugin; pi++)
        index += ctx->plugins[pi].listed_devices;
    *listing_index = index;
    return tconv_success;
}

/* Copies item @p index of a table into a caller's struct that starts with
 * struct_size (@p what names both in messages: "info", "device"). */
static tconv_status_t copy_indexed(const char *what, const char *table, size_t index, size_t count,
                                   void *dst, const void *src, size_t src_size,
                                   size_t legacy_size) {
    if (index >= count)
        return tconv_set_error(tconv_invalid_arguments, "index = %zu: must be < the %s count (%zu)",
                               index, table, count);
    size_t dst_size;
    memcpy(&dst_size, dst, sizeof dst_size);
    if (!tconv_copy_sized(dst, dst_size, legacy_size, src, src_size))
        return tconv_set_error(tconv_invalid_arguments,
                               "%s->struct_size = %zu: must be 0 or >= %zu", what, dst_size,
                               sizeof(size_t));
    return tconv_success;
}

tconv_status_t tconv_device_info_copy(const struct tconv_context *ctx, size_t device,
                                      tconv_device_info_t *info) {
    const size_t count = tconv_context_device_count(ctx);
    return copy_indexed("info", "device", device, count, info,
                        device < count ? &tconv_context_device(ctx, device)->info : NULL,
                        sizeof(tconv_device_info_t), TCONV_DEVICE_INFO_SIZE_0_1);
}

TCONV_API tconv_status_t tconv_context_get_device_info(tconv_context_t context, size_t index,
                                                       tconv_device_info_t *info) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(info);
    tconv_status_t st = tconv_plugins_start_all(context);
    if (st != tconv_success)
        return st;
    /* @p index counts in listing order: the plugins by name, each plugin's
     * devices by index. */
    const size_t count = tconv_context_device_count(context);
    size_t device = count; /* past the end: copy_indexed refuses it */
    for (size_t pi = 0, skipped = 0; pi < context->plugin_count; pi++) {
        const tconv_loaded_plugin_t *p = &context->plugins[pi];
        if (index - skipped < p->listed_devices) {
            device = p->first_device + (index - skipped);
            break;
        }
        skipped += p->listed_devices;
    }
    return copy_indexed("info", "device", index, count, info,
                        device < count ? &tconv_context_device(context, device)->info : NULL,
                        sizeof(tconv_device_info_t), TCONV_DEVICE_INFO_SIZE_0_1);
}

TCONV_API tconv_status_t tconv_context_get_plugin_count(tconv_context_t context, size_t *count) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(count);
    *count = context->report_count;
    return tconv_success;
}

TCONV_API tconv_status_t tconv_context_get_plugin_report(tconv_context_t context, size_t index,
                                                         tconv_plugin_report_t *report) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(report);
    /* A loaded plugin's report is complete once the plugin started. */
    for (size_t pi = 0; pi < context->plugin_count; pi++) {
        if (context->plugins[pi].report != index)
            continue;
        tconv_status_t st = tconv_plugin_start(context, pi);
        if (st != tconv_success)
            return st;
    }
    return copy_indexed("report", "plugin", index, context->report_count, report,
                        index < context->report_count ? &context->reports[index] : NULL,
                        sizeof(tconv_plugin_report_t), TCONV_PLUGIN_REPORT_SIZE_0_1);
}
