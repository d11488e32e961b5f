/* SPDX-License-Identifier: Apache-2.0 */
/* Loading plugin candidates into a context (libltdl), with a report each. */
#ifndef TCONV_CORE_PLUGIN_LOADER_H
#define TCONV_CORE_PLUGIN_LOADER_H

#include "context.h"

/* Discovers and opens every candidate (see plugin_discovery.h), checks
 * its table, fills context->plugins (sorted by backend name) and
 * context->reports. No plugin is started: its init and devices wait for
 * tconv_plugin_start. Fails only when out of memory or libltdl cannot
 * start. */
tconv_status_t tconv_plugins_load(struct tconv_context *context, const char *search_path);

/* Starts plugin @p plugin (an index into context->plugins) once per
 * context: its init, device count and device infos, its report completed
 * and its devices appended to context->devices. Any thread may call it; it
 * returns at once when the start already ran (whatever its outcome: a
 * plugin whose init fails has no devices and says why in its report).
 * Fails only when out of memory (in the plugin's init or in the core), with
 * a message naming the plugin; the start is then tried again next time. */
tconv_status_t tconv_plugin_start(struct tconv_context *context, size_t plugin);

/* Starts every plugin. */
tconv_status_t tconv_plugins_start_all(struct tconv_context *context);

/* The index in context->plugins of backend @p name, or SIZE_MAX. */
size_t tconv_plugin_find(const struct tconv_context *context, const char *name);

/* Finishes every started plugin instance and closes the modules. */
void tconv_plugins_unload(struct tconv_context *context);

#endif /* TCONV_CORE_PLUGIN_LOADER_H */
