/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin candidate discovery (docs/internals.md, "Plugin discovery"). */
#include "plugin_discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "os.h"
#include "tconv/tconv.h"

/* Real paths of directories already scanned, so the same directory reached
 * twice (e.g. TCONV_PLUGIN_PATH = the build's lib/tconv) is scanned once. */
typedef struct seen_dirs {
    char **paths;
    size_t count;
} seen_dirs_t;

static bool push_candidate(tconv_candidate_list_t *list, const char *path, size_t path_len,
                           bool listed) {
    if (!tconv_array_reserve_one((void **)&list->items, &list->capacity, list->count,
                                 sizeof *list->items))
        return false;
    char *copy = malloc(path_len + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, path, path_len);
    copy[path_len] = '\0';
    list->items[list->count].path = copy;
    list->items[list->count].listed = listed;
    list->items[list->count].refused = NULL;
    list->count++;
    return true;
}

/* A directory that is not scanned, for the loader to report. */
static bool push_refused_directory(tconv_candidate_list_t *list, const char *dir, const char *why) {
    char *reason = strdup(why);
    if (reason == NULL || !push_candidate(list, dir, strlen(dir), true)) {
        free(reason);
        return false;
    }
    list->items[list->count - 1].refused = reason;
    return true;
}

/* Returns true if @p real was not seen before (and records it). */
static bool first_visit(seen_dirs_t *seen, const char *dir, bool *oom) {
    char *real = tconv_os_realpath(dir);
    if (real == NULL)
        return true; /* unreadable: scanning yields nothing anyway */
    for (size_t i = 0; i < seen->count; i++) {
        if (strcmp(seen->paths[i], real) == 0) {
            free(real);
            return false;
        }
    }
    char **grown = realloc(seen->paths, (seen->count + 1) * sizeof *grown);
    if (grown == NULL) {
        free(real);
        *oom = true;
        return false;
    }
    seen->paths = grown;
    seen->paths[seen->count++] = real;
    return true;
}

static bool scan_directory(tconv_candidate_list_t *list, seen_dirs_t *seen, const char *dir) {
    bool oom = false;
    if (!first_visit(seen, dir, &oom)) {
        if (!oom)
            tconv_log(2, "plugin directory %s: already searched", dir);
        return !oom;
    }
    char *real = tconv_os_realpath(dir);
    char why[1200];
    const bool trusted = real == NULL || tconv_os_plugin_path_trusted(real, true, why, sizeof why);
    free(real);
    if (!trusted) {
        tconv_log(1, "plugin directory %s: not searched: %s", dir, why);
        return push_refused_directory(list, dir, why);
    }
    char **files;
    size_t count;
    if (!tconv_os_list_plugin_files(dir, &files, &count))
        return false;
    tconv_log(2, "plugin directory %s: %zu candidate(s)", dir, count);
    bool ok = true;
    for (size_t i = 0; i < count; i++) {
        if (ok)
            ok = push_candidate(list, files[i], strlen(files[i]), false);
        free(files[i]);
    }
    free(files);
    return ok;
}

/* One ':'-separated list (search_path, TCONV_PLUGINS, TCONV_PLUGIN_PATH):
 * directories are scanned, everything else is a listed candidate (relative
 * and missing ones too, so that the loader reports them). */
static bool add_path_list(tconv_candidate_list_t *list, seen_dirs_t *seen, const char *paths,
                          const char *origin) {
    if (paths == NULL)
        return true;
    const char *p = paths;
    while (*p != '\0') {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            char entry[4096];
            if (len >= sizeof entry) {
                tconv_log(1, "%s: entry of %zu characters ignored (too long)", origin, len);
            } else {
                memcpy(entry, p, len);
                entry[len] = '\0';
                bool ok = tconv_os_path_is_absolute(entry) &&
                                  tconv_os_path_kind(entry) == tconv_path_directory
                              ? scan_directory(list, seen, entry)
                              : push_candidate(list, entry, len, true);
                if (!ok)
                    return false;
            }
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return true;
}

/* An implicit directory (next to libtconv, installed): used only if it exists. */
static bool add_default_dir(tconv_candidate_list_t *list, seen_dirs_t *seen, const char *dir) {
    if (tconv_os_path_kind(dir) != tconv_path_directory)
        return true;
    return scan_directory(list, seen, dir);
}

/* Whether @p a and @p b name the same existing directory. */
static bool same_directory(const char *a, const char *b) {
    char *real_a = tconv_os_realpath(a);
    char *real_b = tconv_os_realpath(b);
    const bool same = real_a != NULL && real_b != NULL && strcmp(real_a, real_b) == 0;
    free(real_a);
    free(real_b);
    return same;
}

/* "<dir>/<leaf>" (malloc'd; "/" as @p dir gives "/<leaf>"), or NULL. */
static char *join_dir(const char *dir, const char *leaf) {
    const char *base = strcmp(dir, "/") == 0 ? "" : dir;
    size_t len = strlen(base) + 1 + strlen(leaf) + 1;
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s/%s", base, leaf);
    return path;
}

/* The implicit plugin directories. A build tree must use only its own
 * plugins and an install only its own, so the compiled-in install directory
 * is searched only when the code of libtconv runs from its install location
 * (after `cmake --install` the build tree would otherwise load every plugin
 * twice, and a relocated install would load the configure-time prefix's):
 *   shared core: <dir of libtconv.so>/tconv, which is also the install
 *     directory when the library is installed, plus the compiled-in plugin
 *     directory when libtconv.so is in the install libdir;
 *   static core (the code runs from the executable): the install layout
 *     around the executable, <exe dir>/../<libdir>/tconv, when it exists (an
 *     install, relocated or not, and tconv's own build tree, laid out the
 *     same way); else the compiled-in plugin directory when the executable
 *     is in the install bindir or libdir; else the plugins built with the
 *     core (an application elsewhere in the build tree of a parent project
 *     that embeds tconv). */
static bool add_default_dirs(tconv_candidate_list_t *list, seen_dirs_t *seen) {
    char *module_dir = tconv_os_library_dir();
    if (module_dir == NULL)
        return true;
    bool ok = true;
    const bool installed =
        same_directory(module_dir, TCONV_INSTALL_FULL_LIBDIR) ||
        (TCONV_CORE_IS_STATIC && same_directory(module_dir, TCONV_INSTALL_FULL_BINDIR));
    char *beside = join_dir(
        module_dir, TCONV_CORE_IS_STATIC ? "../" TCONV_INSTALL_RELATIVE_LIBDIR "/tconv" : "tconv");
    const bool beside_exists = beside != NULL &&
                               tconv_os_path_kind(beside) == tconv_path_directory &&
                               (!TCONV_CORE_IS_STATIC || TCONV_INSTALL_RELATIVE_LIBDIR[0] != '\0');
    if (beside_exists && TCONV_CORE_IS_STATIC) {
        /* "<exe dir>/../lib/tconv" reported as the directory it is. */
        char *real = tconv_os_realpath(beside);
        if (real != NULL) {
            free(beside);
            beside = real;
        }
    }
    ok = beside != NULL && (!beside_exists || scan_directory(list, seen, beside));
    free(beside);
    if (ok && installed)
        ok = add_default_dir(list, seen, TCONV_PLUGIN_INSTALL_DIR);
    else if (ok && TCONV_CORE_IS_STATIC && !beside_exists)
        ok = add_default_dir(list, seen, TCONV_PLUGIN_BUILD_DIR);
    free(module_dir);
    return ok;
}

bool tconv_discover_candidates(const char *search_path, uint32_t flags,
                               tconv_candidate_list_t *list) {
    seen_dirs_t seen = {NULL, 0};
    const bool environment = !(flags & TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT);
    bool ok =
        add_path_list(list, &seen, search_path, "search_path") &&
        (!environment ||
         (add_path_list(list, &seen, secure_getenv("TCONV_PLUGINS"), "TCONV_PLUGINS") &&
          add_path_list(list, &seen, secure_getenv("TCONV_PLUGIN_PATH"), "TCONV_PLUGIN_PATH"))) &&
        ((flags & TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS) || add_default_dirs(list, &seen));
    for (size_t i = 0; i < seen.count; i++)
        free(seen.paths[i]);
    free(seen.paths);
    return ok;
}

void tconv_candidate_list_free(tconv_candidate_list_t *list) {
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].path);
        free(list->items[i].refused);
    }
    free(list->items);
    list->items = NULL;
    list->count = list->capacity = 0;
}
