/* SPDX-License-Identifier: Apache-2.0 */
/* Replacing a file atomically: write a temporary file in the same directory,
 * fsync it, then rename it over the target, which keeps its owner and mode.
 * A failed run never leaves a partial file and never touches an existing
 * one. A symbolic link is followed (its target is replaced, the link stays);
 * a path that names neither a regular file nor nothing (a device such as
 * /dev/null, a FIFO) cannot be replaced and is written in place. SIGINT,
 * SIGTERM or SIGHUP during the write removes the temporary file
 * (signal_cleanup.h). */
#ifndef TCONV_CLI_ATOMIC_FILE_H
#define TCONV_CLI_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct atomic_file {
    FILE *file;         /**< Write here between open and commit/abort. */
    char *temp_path;    /**< "<target's directory>/.tconv-XXXXXX"; NULL when in place. */
    char *target_path;  /**< The final name, symbolic links followed. */
    int cleanup_handle; /**< The temporary file's signal_cleanup registration, or -1. */
} atomic_file_t;

/** Creates the temporary file next to @p target_path (or, for a device or
 *  FIFO, opens it for writing: a FIFO blocks until it has a reader).
 *  @returns 0, or -1 with a message and errno set. */
int atomic_file_open(atomic_file_t *af, const char *target_path, char *message,
                     size_t message_size);

/** Checks, creating nothing, that atomic_file_open can be expected to work
 *  on @p target_path: not a directory, and its directory writable (or, when
 *  written in place, the file itself). For failing early, before the work
 *  that produces the data. @returns 0, or -1 with a message and errno set. */
int atomic_file_check(const char *target_path, char *message, size_t message_size);

/** Flushes, fsyncs and renames the temporary file onto the target; on
 *  failure removes the temporary file. Releases @p af either way.
 *  @returns 0, or -1 with a message and errno set. */
int atomic_file_commit(atomic_file_t *af, char *message, size_t message_size);

/** Closes and removes the temporary file; releases @p af. Safe to call on a
 *  zeroed or already released struct. */
void atomic_file_abort(atomic_file_t *af);

#endif /* TCONV_CLI_ATOMIC_FILE_H */
