/* SPDX-License-Identifier: Apache-2.0 */
/* Linux/glibc pieces of plugin discovery: paths, directory listing, dladdr,
 * and a bind-now pre-open with dlopen. */
#include "os.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "tconv/tconv.h"

#define PLUGIN_PREFIX "tconv_backend_"
#define PLUGIN_SUFFIX ".so"

tconv_path_kind_t tconv_os_path_kind(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return tconv_path_missing;
    return S_ISDIR(st.st_mode) ? tconv_path_directory : tconv_path_file;
}

bool tconv_os_path_is_absolute(const char *path) {
    return path[0] == '/';
}

char *tconv_os_realpath(const char *path) {
    return realpath(path, NULL);
}

char *tconv_os_library_dir(void) {
    Dl_info info;
    struct link_map *map = NULL;
    /* Any function of this library gives the file it was loaded from. A
     * static core is part of the main program, whose link map has no name
     * (dladdr would give argv[0], which may be relative or a bare name): the
     * kernel knows its file. */
    if (dladdr1((void *)&tconv_get_version, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 ||
        map == NULL)
        return NULL;
    char *real = realpath(map->l_name[0] != '\0' ? map->l_name : "/proc/self/exe", NULL);
    if (real == NULL)
        return NULL;
    char *slash = strrchr(real, '/');
    if (slash == NULL) {
        free(real);
        return NULL;
    }
    if (slash == real)
        slash[1] = '\0'; /* library in "/" */
    else
        *slash = '\0';
    return real;
}

/* Owner and mode rules of tconv_os_plugin_path_trusted for one path. */
static bool owner_and_mode_trusted(const char *path, const char *what, bool sticky_ok, char *why,
                                   size_t why_size) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, why_size, "%s %s: %s", what, path, strerror(errno));
        return false;
    }
    const uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0) {
        snprintf(why, why_size,
                 "%s %s is owned by uid %lu, neither this user (uid %lu) nor root: refused (its "
                 "owner could make this process run any code)",
                 what, path, (unsigned long)st.st_uid, (unsigned long)me);
        return false;
    }
    if ((st.st_mode & S_IWOTH) && !(sticky_ok && (st.st_mode & S_ISVTX))) {
        snprintf(why, why_size,
                 "%s %s is writable by every user (mode %04o): refused (anyone could make this "
                 "process run any code; chmod o-w it)",
                 what, path, (unsigned)(st.st_mode & 07777));
        return false;
    }
    return true;
}

bool tconv_os_plugin_path_trusted(const char *path, bool directory, char *why, size_t why_size) {
    if (directory)
        return owner_and_mode_trusted(path, "plugin directory", false, why, why_size);
    if (!owner_and_mode_trusted(path, "plugin file", false, why, why_size))
        return false;
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
        snprintf(why, why_size, "plugin file path longer than %zu bytes", sizeof parent - 1);
        return false;
    }
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        return true; /* relative paths are refused before this */
    slash[slash == parent ? 1 : 0] = '\0';
    return owner_and_mode_trusted(parent, "the plugin file's directory", true, why, why_size);
}

static bool is_plugin_name(const char *name) {
    const size_t len = strlen(name), pre = strlen(PLUGIN_PREFIX), suf = strlen(PLUGIN_SUFFIX);
    return len > pre + suf && strncmp(name, PLUGIN_PREFIX, pre) == 0 &&
           strcmp(name + len - suf, PLUGIN_SUFFIX) == 0;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool tconv_os_list_plugin_files(const char *dir, char ***paths, size_t *count) {
    *paths = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return true;
    char **list = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_plugin_name(e->d_name))
            continue;
        if (!tconv_array_reserve_one((void **)&list, &cap, n, sizeof *list)) {
            ok = false;
            break;
        }
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        list[n] = malloc(len);
        if (list[n] == NULL) {
            ok = false;
            break;
        }
        snprintf(list[n], len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        n++;
    }
    closedir(d);
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return false;
    }
    /* Sorted: device order must never depend on readdir order. */
    if (n > 1)
        qsort(list, n, sizeof *list, compare_strings);
    *paths = list;
    *count = n;
    return true;
}

void *tconv_os_open_bound(const char *path, char *err, size_t err_size) {
    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *msg = dlerror();
        snprintf(err, err_size, "%s", msg ? msg : "dlopen failed");
    }
    return handle;
}

void tconv_os_close_bound(void *handle) {
    if (handle != NULL)
        dlclose(handle);
}
