/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin loading with libltdl: ABI checks and a report for every candidate
 * when a context is made; each plugin's init and device enumeration when
 * its devices are first needed (docs/internals.md, "Plugin discovery"). */
#include "plugin_loader.h"

#include <errno.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "buffer.h"
#include "error.h"
#include "log.h"
#include "os.h"
#include "plugin_discovery.h"

/* Size of the ABI 1.0 table: everything up to plan_destroy. */
#define ABI_1_0_TABLE_SIZE                                                                         \
    (offsetof(tconv_backend_t, plan_destroy) + sizeof(((tconv_backend_t *)0)->plan_destroy))

/* Most devices one plugin may expose. A count above it is a plugin bug (a
 * corrupt counter, an unsigned -1): such a plugin is refused rather than
 * letting its count size the device table. Documented in docs/internals.md. */
#define TCONV_MAX_DEVICES_PER_PLUGIN 4096

/* libltdl keeps global state (module list, error string) and is not
 * thread-safe: one init for the process, and every lt_dl* call, plus the
 * plugin's entry/init that run while a module is half-registered, under one
 * mutex. */
static pthread_once_t ltdl_once = PTHREAD_ONCE_INIT;
static int ltdl_init_errors;
static pthread_mutex_t loader_mutex = PTHREAD_MUTEX_INITIALIZER;

static void ltdl_start(void) {
    ltdl_init_errors = lt_dlinit();
}

/* Real paths of the candidates already processed, for duplicate detection. */
typedef struct seen_files {
    char **real;
    char **given;
    size_t count;
} seen_files_t;

/* ---------------------------------------------------------------------- */
/* Reports                                                                  */

static tconv_plugin_report_t *new_report(struct tconv_context *ctx, const char *path) {
    if (!tconv_array_reserve_one((void **)&ctx->reports, &ctx->report_capacity, ctx->report_count,
                                 sizeof *ctx->reports))
        return NULL;
    tconv_plugin_report_t *r = &ctx->reports[ctx->report_count++];
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

static void finish_report(tconv_plugin_report_t *r, tconv_plugin_state_t state,
                          tconv_plugin_reason_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish_report(tconv_plugin_report_t *r, tconv_plugin_state_t state,
                          tconv_plugin_reason_t reason, const char *fmt, ...) {
    r->state = state;
    r->reason = reason;
    va_list args;
    va_start(args, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, args);
    va_end(args);
    if (state == tconv_plugin_loaded)
        tconv_log(1, "plugin %s: loaded (%s, %zu device%s)", r->path, r->name, r->device_count,
                  r->device_count == 1 ? "" : "s");
    else
        tconv_log(1, "plugin %s: %s: %s", r->path,
                  state == tconv_plugin_skipped ? "skipped" : "failed", r->message);
}

/* ---------------------------------------------------------------------- */
/* Table checks                                                             */

static bool valid_backend_name(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof(((tconv_plugin_report_t *)0)->name))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Copies the plugin's table into @p table (zeroed, only the bytes both sides
 * know) and checks it. On failure the report is finished. */
static bool read_table(const tconv_backend_t *raw, tconv_backend_t *table,
                       tconv_plugin_report_t *r) {
    if (raw == NULL) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table,
                      "tconv_backend_entry returned NULL");
        return false;
    }
    const size_t header = offsetof(tconv_backend_t, name);
    if (raw->struct_size < header) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table,
                      "table struct_size = %zu: smaller than its header (%zu bytes)",
                      raw->struct_size, header);
        return false;
    }
    r->abi_major = raw->abi_major;
    r->abi_minor = raw->abi_minor;
    if (raw->abi_major != TCONV_BACKEND_ABI_MAJOR) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_abi_mismatch,
                      "plugin ABI %u.%u, core wants %d.x", raw->abi_major, raw->abi_minor,
                      TCONV_BACKEND_ABI_MAJOR);
        return false;
    }
    if (raw->struct_size < ABI_1_0_TABLE_SIZE) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table,
                      "table struct_size = %zu: smaller than the ABI 1.0 table (%zu bytes)",
                      raw->struct_size, (size_t)ABI_1_0_TABLE_SIZE);
        return false;
    }
    memset(table, 0, sizeof *table);
    memcpy(table, raw, raw->struct_size < sizeof *table ? raw->struct_size : sizeof *table);
    if (table->name == NULL || !valid_backend_name(table->name)) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table,
                      "backend name %s%.40s%s: must match [a-z0-9_]+, at most %zu characters",
                      table->name ? "'" : "", table->name ? table->name : "NULL",
                      table->name ? "'" : "", sizeof r->name - 1);
        return false;
    }
    snprintf(r->name, sizeof r->name, "%s", table->name);
    const struct {
        const char *slot;
        bool present;
    } required[] = {
        {"init", table->init != NULL},
        {"fini", table->fini != NULL},
        {"get_device_count", table->get_device_count != NULL},
        {"get_device_info", table->get_device_info != NULL},
        {"plan_create", table->plan_create != NULL},
        {"plan_set_weights", table->plan_set_weights != NULL},
        {"plan_execute", table->plan_execute != NULL},
        {"plan_destroy", table->plan_destroy != NULL},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!required[i].present) {
            finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table,
                          "required slot %s is NULL", required[i].slot);
            return false;
        }
    }
    char why[400];
    if (!tconv_backend_buffer_group_complete(table, why, sizeof why)) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table, "%s", why);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* Loading one candidate                                                    */

static bool name_already_loaded(const struct tconv_context *ctx, const char *name) {
    for (size_t i = 0; i < ctx->plugin_count; i++)
        if (strcmp(ctx->plugins[i].table.name, name) == 0)
            return true;
    return false;
}

/* Refusals before anything is opened: relative, missing, untrusted (owner,
 * mode: tconv_os_plugin_path_trusted), duplicate. Returns
 * false with the report finished; on success records the real path. */
static bool check_path(const tconv_candidate_t *cand, seen_files_t *seen, tconv_plugin_report_t *r,
                       bool *oom) {
    if (!tconv_os_path_is_absolute(cand->path)) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_not_found,
                      "relative path refused: %s (plugin paths must be absolute)", cand->path);
        return false;
    }
    if (cand->refused != NULL) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_insecure, "%s", cand->refused);
        return false;
    }
    char *real = tconv_os_realpath(cand->path);
    if (real == NULL || access(real, R_OK) != 0) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_not_found, "%s: %s", cand->path,
                      strerror(errno));
        free(real);
        return false;
    }
    char why[1200];
    if (!tconv_os_plugin_path_trusted(real, false, why, sizeof why)) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_insecure, "%s", why);
        free(real);
        return false;
    }
    for (size_t i = 0; i < seen->count; i++) {
        if (strcmp(seen->real[i], real) == 0) {
            finish_report(r, tconv_plugin_skipped, tconv_plugin_duplicate,
                          "same file as %s, already considered", seen->given[i]);
            free(real);
            return false;
        }
    }
    char **grown_real = realloc(seen->real, (seen->count + 1) * sizeof(char *));
    if (grown_real != NULL)
        seen->real = grown_real;
    char **grown_given = realloc(seen->given, (seen->count + 1) * sizeof(char *));
    if (grown_given != NULL)
        seen->given = grown_given;
    char *given = strdup(cand->path);
    if (grown_real == NULL || grown_given == NULL || given == NULL) {
        free(real);
        free(given);
        *oom = true;
        return false;
    }
    seen->real[seen->count] = real;
    seen->given[seen->count] = given;
    seen->count++;
    return true;
}

static lt_dlhandle open_module(const char *path, tconv_plugin_report_t *r) {
    char err[512];
    void *bound = tconv_os_open_bound(path, err, sizeof err);
    if (bound == NULL) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_open_failed, "%s", err);
        return NULL;
    }
    lt_dladvise advise;
    lt_dlhandle module = NULL;
    /* Local scope (no symbol clashes between plugins); no extension guessing:
     * we give full paths. */
    if (lt_dladvise_init(&advise) == 0 && lt_dladvise_local(&advise) == 0)
        module = lt_dlopenadvise(path, advise);
    else
        module = NULL;
    lt_dladvise_destroy(&advise);
    if (module == NULL) {
        const char *msg = lt_dlerror();
        finish_report(r, tconv_plugin_failed, tconv_plugin_open_failed, "%s",
                      msg ? msg : "lt_dlopenadvise failed");
    } else {
        /* Once opened, a plugin stays loaded for the life of the process
         * (lt_dlclose then only drops the reference; a later context gets
         * the same module back), as GStreamer keeps its plugins. Unloading
         * runs the plugin's and its libraries' destructors at an arbitrary
         * point: OpenCL drivers have crashed there, and what an ICD loader
         * allocated per context and frees at exit shows as a leak of an
         * "unknown module" once libOpenCL is gone, so leak checking could
         * not stay on. */
        lt_dlmakeresident(module);
    }
    tconv_os_close_bound(bound); /* the ltdl handle keeps the module loaded */
    return module;
}

/* Opens and checks one plugin. On success the plugin is appended to
 * ctx->plugins, not started (tconv_plugin_start). Returns false only when
 * out of memory. */
static bool load_candidate(struct tconv_context *ctx, const tconv_candidate_t *cand,
                           seen_files_t *seen) {
    tconv_plugin_report_t *r = new_report(ctx, cand->path);
    if (r == NULL)
        return false;
    bool oom = false;
    if (!check_path(cand, seen, r, &oom))
        return !oom;

    lt_dlhandle module = open_module(cand->path, r);
    if (module == NULL)
        return true;
    tconv_loaded_plugin_t p;
    memset(&p, 0, sizeof p);
    p.module = module;
    p.report = (size_t)(r - ctx->reports);
    snprintf(p.path, sizeof p.path, "%s", cand->path);

    tconv_backend_entry_fn entry =
        (tconv_backend_entry_fn)lt_dlsym(module, TCONV_BACKEND_ENTRY_SYMBOL);
    if (entry == NULL) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_no_entry,
                      "no symbol %s (is it exported with TCONV_BACKEND_EXPORT?)",
                      TCONV_BACKEND_ENTRY_SYMBOL);
        goto close;
    }
    if (!read_table(entry(), &p.table, r))
        goto close;
    if (name_already_loaded(ctx, p.table.name)) {
        finish_report(r, tconv_plugin_skipped, tconv_plugin_duplicate,
                      "backend '%s' is already loaded from an earlier candidate", p.table.name);
        goto close;
    }
    tconv_loaded_plugin_t *grown =
        realloc(ctx->plugins, (ctx->plugin_count + 1) * sizeof *ctx->plugins);
    if (grown == NULL) {
        lt_dlclose(module);
        return false;
    }
    ctx->plugins = grown;
    ctx->plugins[ctx->plugin_count++] = p;
    /* Final once the plugin starts; no caller sees it before (the report
     * queries start the plugin first). */
    r->state = tconv_plugin_loaded;
    r->reason = tconv_plugin_ok;
    snprintf(r->message, sizeof r->message, "not started yet");
    tconv_log(1, "plugin %s: opened (backend '%s', started when its devices are first needed)",
              r->path, r->name);
    return true;
close:
    lt_dlclose(module);
    return true;
}

/* ---------------------------------------------------------------------- */
/* Device table                                                             */

static void sort_plugins_by_name(struct tconv_context *ctx) {
    for (size_t i = 1; i < ctx->plugin_count; i++) { /* stable insertion sort, few items */
        tconv_loaded_plugin_t key = ctx->plugins[i];
        size_t j = i;
        while (j > 0 && strcmp(ctx->plugins[j - 1].table.name, key.table.name) > 0) {
            ctx->plugins[j] = ctx->plugins[j - 1];
            j--;
        }
        ctx->plugins[j] = key;
    }
}

/* Reads the infos of the @p count devices of plugin @p plugin (@p p) into
 * @p entries (room for @p count); returns how many were listed (a device
 * whose get_device_info fails is left out). */
static size_t read_device_infos(const tconv_loaded_plugin_t *p, size_t plugin, size_t count,
                                tconv_device_entry_t *entries) {
    size_t listed = 0;
    for (size_t d = 0; d < count; d++) {
        tconv_device_entry_t *e = &entries[listed];
        memset(e, 0, sizeof *e);
        e->info.struct_size = sizeof e->info;
        tconv_status_t st = p->table.get_device_info(p->state, d, &e->info);
        if (st != tconv_success) {
            tconv_log(1, "plugin %s: device %zu left out: get_device_info failed (%s)", p->path, d,
                      tconv_status_name(tconv_status_sanitize(st)));
            continue;
        }
        /* The core owns these fields; make every string terminated. */
        e->info.struct_size = sizeof e->info;
        e->info.name[sizeof e->info.name - 1] = '\0';
        e->info.vendor[sizeof e->info.vendor - 1] = '\0';
        e->info.driver_version[sizeof e->info.driver_version - 1] = '\0';
        e->info.language_version[sizeof e->info.language_version - 1] = '\0';
        snprintf(e->info.backend, sizeof e->info.backend, "%s", p->table.name);
        snprintf(e->info.id, sizeof e->info.id, "%s:%zu", p->table.name, d);
        e->info.index = (uint32_t)d;
        e->plugin = plugin;
        e->backend_device = d;
        listed++;
    }
    return listed;
}

/* Appends the devices of started plugin @p plugin to a copy of the table
 * and publishes it (the caller holds plugin_start_lock). False when out of
 * memory, with nothing changed. */
static bool publish_devices(struct tconv_context *ctx, size_t plugin) {
    tconv_loaded_plugin_t *p = &ctx->plugins[plugin];
    tconv_device_entry_t *old = ctx->devices;
    const size_t old_count = ctx->device_count;
    size_t total; /* the per-plugin cap keeps this far from wrapping */
    if (__builtin_add_overflow(old_count, p->device_count, &total))
        return false;
    tconv_device_entry_t *table = malloc((total ? total : 1) * sizeof *table);
    if (table == NULL)
        return false;
    if (old_count > 0)
        memcpy(table, old, old_count * sizeof *table);
    p->first_device = old_count;
    p->listed_devices = read_device_infos(p, plugin, p->device_count, table + old_count);
    if (old != NULL) /* room for one table per plugin was made at load time */
        ctx->retired_tables[ctx->retired_count++] = old;
    /* The table first: a reader that sees the new count sees it too. */
    atomic_store_explicit(&ctx->devices, table, memory_order_release);
    atomic_store_explicit(&ctx->device_count, old_count + p->listed_devices, memory_order_release);
    return true;
}

/* Runs plugin @p plugin's init and device enumeration and completes its
 * report (the caller holds plugin_start_lock and loader_mutex). Fails only
 * when out of memory; the plugin is then as before (no instance). */
static tconv_status_t start_plugin(struct tconv_context *ctx, size_t plugin) {
    tconv_loaded_plugin_t *p = &ctx->plugins[plugin];
    tconv_plugin_report_t *r = &ctx->reports[p->report];
    char msg[512] = "";
    tconv_status_t st = p->table.init(&ctx->host, &p->state, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (st != tconv_success) {
        /* Out of host memory is the process's state, not the plugin's: the
         * call that needed the plugin fails with it (and the next one tries
         * again) rather than go on without the plugin's devices, whose
         * absence a plan would report as no_device. */
        if (tconv_status_sanitize(st) == tconv_out_of_memory)
            return tconv_set_error(tconv_out_of_memory,
                                   "out of memory starting plugin %s: init: %s", p->path,
                                   msg[0] ? msg : "no message");
        finish_report(r, tconv_plugin_failed, tconv_plugin_init_failed, "init failed (%s): %s",
                      tconv_status_name(tconv_status_sanitize(st)), msg[0] ? msg : "no message");
        return tconv_success;
    }
    size_t count = 0;
    char count_msg[64] = "";
    st = p->table.get_device_count(p->state, &count);
    if (st != tconv_success)
        snprintf(count_msg, sizeof count_msg, "get_device_count failed (%s)",
                 tconv_status_name(tconv_status_sanitize(st)));
    if (st != tconv_success || count == 0) {
        finish_report(r, tconv_plugin_skipped, tconv_plugin_no_devices, "%s",
                      count_msg[0] ? count_msg
                      : msg[0]     ? msg
                                   : "no devices");
        p->table.fini(p->state);
        return tconv_success;
    }
    if (count > TCONV_MAX_DEVICES_PER_PLUGIN) {
        finish_report(r, tconv_plugin_failed, tconv_plugin_bad_table,
                      "get_device_count returned %zu: more than the limit of %d devices per plugin",
                      count, TCONV_MAX_DEVICES_PER_PLUGIN);
        p->table.fini(p->state);
        return tconv_success;
    }
    p->device_count = count;
    if (!publish_devices(ctx, plugin)) {
        p->device_count = 0;
        p->table.fini(p->state);
        return tconv_set_error(tconv_out_of_memory,
                               "out of memory listing the devices of plugin %s", p->path);
    }
    p->has_instance = true;
    r->device_count = count;
    finish_report(r, tconv_plugin_loaded, tconv_plugin_ok, "%s%s%s",
                  p->table.description ? p->table.description : p->table.name, msg[0] ? "; " : "",
                  msg);
    return tconv_success;
}

tconv_status_t tconv_plugin_start(struct tconv_context *ctx, size_t plugin) {
    tconv_loaded_plugin_t *p = &ctx->plugins[plugin];
    if (atomic_load_explicit(&p->started, memory_order_acquire))
        return tconv_success;
    /* The plugin's messages go to the context's sink whichever call started it. */
    const tconv_log_sink_t *previous = tconv_log_sink_enter(&ctx->log_sink);
    pthread_mutex_lock(&ctx->plugin_start_lock);
    tconv_status_t st = tconv_success;
    if (!atomic_load_explicit(&p->started, memory_order_relaxed)) {
        /* Plugins' init calls stay serialised across the process, as when
         * every context started its plugins while loading them: a plugin
         * may keep process-wide state, and the ABI never asked init to be
         * reentrant. */
        pthread_mutex_lock(&loader_mutex);
        st = start_plugin(ctx, plugin);
        pthread_mutex_unlock(&loader_mutex);
        if (st == tconv_success)
            atomic_store_explicit(&p->started, true, memory_order_release);
    }
    pthread_mutex_unlock(&ctx->plugin_start_lock);
    tconv_log_sink_restore(previous);
    return st;
}

tconv_status_t tconv_plugins_start_all(struct tconv_context *ctx) {
    for (size_t i = 0; i < ctx->plugin_count; i++) {
        tconv_status_t st = tconv_plugin_start(ctx, i);
        if (st != tconv_success)
            return st;
    }
    return tconv_success;
}

size_t tconv_plugin_find(const struct tconv_context *ctx, const char *name) {
    for (size_t i = 0; i < ctx->plugin_count; i++)
        if (strcmp(ctx->plugins[i].table.name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* ---------------------------------------------------------------------- */

tconv_status_t tconv_plugins_load(struct tconv_context *ctx, const char *search_path) {
    pthread_mutex_lock(&loader_mutex);
    /* Inside the mutex too, so that tools like helgrind see the ordering. */
    pthread_once(&ltdl_once, ltdl_start);
    if (ltdl_init_errors != 0) {
        pthread_mutex_unlock(&loader_mutex);
        return tconv_set_error(tconv_runtime_error, "libltdl failed to initialise (lt_dlinit)");
    }
    tconv_candidate_list_t candidates = {NULL, 0, 0};
    seen_files_t seen = {NULL, NULL, 0};
    bool ok = tconv_discover_candidates(search_path, ctx->plugin_flags, &candidates);
    for (size_t i = 0; ok && i < candidates.count; i++)
        ok = load_candidate(ctx, &candidates.items[i], &seen);
    pthread_mutex_unlock(&loader_mutex);
    for (size_t i = 0; i < seen.count; i++) {
        free(seen.real[i]);
        free(seen.given[i]);
    }
    free(seen.real);
    free(seen.given);
    tconv_candidate_list_free(&candidates);
    if (ok) {
        sort_plugins_by_name(ctx);
        /* One retired table per start at most: retiring never allocates. */
        ctx->retired_tables =
            calloc(ctx->plugin_count ? ctx->plugin_count : 1, sizeof *ctx->retired_tables);
        ok = ctx->retired_tables != NULL;
    }
    if (!ok)
        return tconv_set_error(tconv_out_of_memory, "out of memory while loading plugins");
    tconv_log(1, "%zu plugin candidate(s), %zu opened; each starts when its devices are needed",
              ctx->report_count, ctx->plugin_count);
    return tconv_success;
}

void tconv_plugins_unload(struct tconv_context *ctx) {
    for (size_t i = 0; i < ctx->plugin_count; i++)
        if (ctx->plugins[i].has_instance)
            ctx->plugins[i].table.fini(ctx->plugins[i].state);
    pthread_mutex_lock(&loader_mutex);
    for (size_t i = 0; i < ctx->plugin_count; i++)
        lt_dlclose((lt_dlhandle)ctx->plugins[i].module);
    pthread_mutex_unlock(&loader_mutex);
    free(ctx->plugins);
    ctx->plugins = NULL;
    ctx->plugin_count = 0;
}
