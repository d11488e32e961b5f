/* Context lifecycle (reference counted), device and plugin-report queries. */
#include "context.h"

#include <stdlib.h>
#include <string.h>

#include "cache_dir.h"
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

static void context_free(struct tconv_context *ctx) {
    tconv_plugins_unload(ctx);
    tconv_selection_cache_destroy(ctx->selection_cache);
    free(ctx->cache_dir);
    free(ctx->devices);
    free(ctx->reports);
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

TCONV_API tconv_status_t tconv_context_create(tconv_context_t *context, const char *search_path) {
    TCONV_REQUIRE_NONNULL(context);
    *context = NULL;
    struct tconv_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return tconv_set_error(tconv_out_of_memory, "out of memory allocating the context");
    atomic_init(&ctx->refcount, 1);
    tconv_host_init(&ctx->host);
    ctx->cache_dir = tconv_cache_dir_resolve(ctx->cache_dir_why, sizeof ctx->cache_dir_why);
    ctx->host.cache_dir = ctx->cache_dir;
    ctx->selection_cache = tconv_selection_cache_create(); /* optional: NULL keeps nothing */
    tconv_status_t st = tconv_plugins_load(ctx, search_path);
    if (st != tconv_success) {
        context_free(ctx);
        return st;
    }
    *context = ctx;
    return tconv_success;
}

TCONV_API void tconv_context_destroy(tconv_context_t context) {
    if (context != NULL)
        tconv_context_release(context);
}

TCONV_API tconv_status_t tconv_context_get_device_count(tconv_context_t context, size_t *count) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(count);
    *count = context->device_count;
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

TCONV_API tconv_status_t tconv_context_get_device_info(tconv_context_t context, size_t index,
                                                       tconv_device_info_t *info) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(info);
    return copy_indexed("info", "device", index, context->device_count, info,
                        index < context->device_count ? &context->devices[index].info : NULL,
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
    return copy_indexed("report", "plugin", index, context->report_count, report,
                        index < context->report_count ? &context->reports[index] : NULL,
                        sizeof(tconv_plugin_report_t), TCONV_PLUGIN_REPORT_SIZE_0_1);
}
