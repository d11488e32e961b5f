/* SPDX-License-Identifier: Apache-2.0 */
/* Loading plugin candidates into a context (libltdl), with a report each. */
#ifndef TCONV_CORE_PLUGIN_LOADER_H
#define TCONV_CORE_PLUGIN_LOADER_H

#include "context.h"

/* Discovers and loads every candidate (see plugin_discovery.h), fills
 * context->plugins (sorted by backend name), context->devices and
 * context->reports. Fails only when out of memory or libltdl cannot start. */
tconv_status_t tconv_plugins_load(struct tconv_context *context, const char *search_path);

/* Finishes every plugin instance and closes the modules. */
void tconv_plugins_unload(struct tconv_context *context);

#endif /* TCONV_CORE_PLUGIN_LOADER_H */
