/* SPDX-License-Identifier: Apache-2.0 */
/* Operating-system and dynamic-loader specifics of plugin discovery, kept
 * apart from the portable loading logic (os_linux.c implements them). */
#ifndef TCONV_CORE_OS_H
#define TCONV_CORE_OS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum tconv_path_kind {
    tconv_path_missing = 0,
    tconv_path_file = 1,
    tconv_path_directory = 2,
} tconv_path_kind_t;

/* What @p path is (following symlinks). */
tconv_path_kind_t tconv_os_path_kind(const char *path);

/* Whether @p path is absolute. */
bool tconv_os_path_is_absolute(const char *path);

/* Canonical absolute path (malloc'd) or NULL with errno set. */
char *tconv_os_realpath(const char *path);

/* Directory of the file this code runs from (malloc'd), or NULL: the
 * libtconv.so, or the executable when the core is linked statically. */
char *tconv_os_library_dir(void);

/* Plugin files in @p dir: names "tconv_backend_*.so", sorted bytewise, as
 * malloc'd full paths. Returns false only when out of memory; a directory
 * that cannot be read yields zero files. */
bool tconv_os_list_plugin_files(const char *dir, char ***paths, size_t *count);

/* Whether a plugin file (@p directory false) or a directory to scan for
 * plugins may be trusted: it must be owned by this user (the effective uid)
 * or root and not be writable by other users, or anyone could make the
 * process run their code. A file's directory must also be owned by this user
 * or root and not writable by others, unless it has the sticky bit (as /tmp:
 * others cannot replace a file they do not own there); a directory to scan
 * may not be world-writable even with the sticky bit (others could add
 * files to it). @p path should be a real path (symbolic links resolved).
 * False with the reason in @p why. */
bool tconv_os_plugin_path_trusted(const char *path, bool directory, char *why, size_t why_size);

/* Opens @p path with every symbol bound now and local scope, so a plugin with
 * an unresolved symbol is refused here with the loader's message instead of
 * crashing at its first call (libltdl itself opens lazily). Returns a handle
 * for tconv_os_close_bound, or NULL with the message in @p err. */
void *tconv_os_open_bound(const char *path, char *err, size_t err_size);
void tconv_os_close_bound(void *handle);

#endif /* TCONV_CORE_OS_H */
