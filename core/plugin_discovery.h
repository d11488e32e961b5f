/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin candidate discovery: which files to try, in which order. */
#ifndef TCONV_CORE_PLUGIN_DISCOVERY_H
#define TCONV_CORE_PLUGIN_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tconv_candidate {
    char *path;  /* as listed or found (absolute unless the user gave a relative one) */
    bool listed; /* named explicitly rather than found by scanning a directory */
    /* Not NULL: a directory refused before it was scanned (untrusted, see
     * tconv_os_plugin_path_trusted); the loader reports it failed with
     * tconv_plugin_insecure and this reason (malloc'd). */
    char *refused;
} tconv_candidate_t;

typedef struct tconv_candidate_list {
    tconv_candidate_t *items;
    size_t count;
    size_t capacity;
} tconv_candidate_list_t;

/* Candidates in search order: @p search_path, TCONV_PLUGINS, TCONV_PLUGIN_PATH
 * (both read with secure_getenv: never from a set-user-ID caller's
 * environment), then the implicit directories of this build or install
 * (<dir of libtconv>/tconv; the compiled-in plugin directory only when the
 * library runs from its install location; see add_default_dirs).
 * @p flags (TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT,
 * TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS) leave out the variables or the
 * implicit directories. Directories contribute their tconv_backend_*.so files sorted; a directory
 * reached twice is scanned once; an untrusted directory is not scanned but
 * becomes a refused candidate. Relative and missing entries are kept as
 * candidates so the loader reports them. Returns false only when out of
 * memory. */
bool tconv_discover_candidates(const char *search_path, uint32_t flags,
                               tconv_candidate_list_t *list);

void tconv_candidate_list_free(tconv_candidate_list_t *list);

#endif /* TCONV_CORE_PLUGIN_DISCOVERY_H */
