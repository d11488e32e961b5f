/* Replacing a file atomically: write a temporary file in the same directory,
 * fsync it, then rename it over the target. A failed run never leaves a
 * partial file and never touches an existing one. */
#ifndef TCONV_CLI_ATOMIC_FILE_H
#define TCONV_CLI_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct atomic_file {
    FILE *file;        /**< Write here between open and commit/abort. */
    char *temp_path;   /**< "<target>.tmp.XXXXXX". */
    char *target_path; /**< The final name. */
} atomic_file_t;

/** Creates the temporary file next to @p target_path.
 *  @returns 0, or -1 with a message (errno text). */
int atomic_file_open(atomic_file_t *af, const char *target_path, char *message,
                     size_t message_size);

/** Flushes, fsyncs and renames the temporary file onto the target; on
 *  failure removes the temporary file. Releases @p af either way.
 *  @returns 0, or -1 with a message. */
int atomic_file_commit(atomic_file_t *af, char *message, size_t message_size);

/** Closes and removes the temporary file; releases @p af. Safe to call on a
 *  zeroed or already released struct. */
void atomic_file_abort(atomic_file_t *af);

#endif /* TCONV_CLI_ATOMIC_FILE_H */
