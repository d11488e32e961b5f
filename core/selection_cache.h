/* SPDX-License-Identifier: Apache-2.0 */
/* Remembered outcomes of measured device selection, per problem shape:
 * an in-process table (one per context, mutex-protected) and a small text
 * file, selection-v2.tsv, in the tconv cache directory (cache_dir.h). The
 * policy of when a remembered decision is measured again (small margin,
 * age) is measure.c's. */
#ifndef TCONV_CORE_SELECTION_CACHE_H
#define TCONV_CORE_SELECTION_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv.h"

/* Most devices one measured decision compares. */
#define TCONV_MEASURED_MAX 8

/* A host-native device within this fraction of the fastest time wins (the
 * difference is within noise, and it needs no kernel build or copies). */
#define TCONV_MEASURED_TIE_MARGIN 0.05

/* Most measurements one decision records (more are counted as this many). */
#define TCONV_MEASURED_COUNT_MAX 1000

/* One decision: the time of every device that ran, and the winner (the
 * fastest, or a host-native device within the tie margin of it). */
typedef struct tconv_measured {
    size_t count;
    char ids[TCONV_MEASURED_MAX][64];
    double seconds[TCONV_MEASURED_MAX]; /* best median over the measurements, > 0 */
    char winner[64];                    /* one of ids, with the smallest time */
    int64_t measured_at;                /* wall clock (Unix seconds) of the last measurement */
    unsigned measurements;              /* how often it was measured, 1..COUNT_MAX */
} tconv_measured_t;

/* The cache key: the whole canonical problem, the candidates (id, name,
 * driver version, compute units), the host thread count and the library
 * version. Free of tabs and newlines. Returns a malloc'd string or NULL when
 * out of memory. */
char *tconv_selection_key(const tconv_canonical_t *problem,
                          const tconv_device_info_t *const *devices, size_t count,
                          int host_threads);

/* ---- in-process table ---- */
typedef struct tconv_selection_cache tconv_selection_cache_t;

/* NULL when out of memory (callers then simply do without). */
tconv_selection_cache_t *tconv_selection_cache_create(void);
void tconv_selection_cache_destroy(tconv_selection_cache_t *cache);
/* NULL @p cache is accepted by both and finds / keeps nothing. */
bool tconv_selection_cache_lookup(tconv_selection_cache_t *cache, const char *key,
                                  tconv_measured_t *found);
void tconv_selection_cache_store(tconv_selection_cache_t *cache, const char *key,
                                 const tconv_measured_t *decision);

/* ---- the file ---- */

/* Path of selection-v2.tsv in the cache directory @p dir (the context's,
 * cache_dir.h). False when @p dir is NULL (no cache: @p dir_why says why,
 * copied to @p why) or the path does not fit. Creates nothing. Files of
 * older formats (selection-v1.tsv, without the time and count of the
 * measurements) are neither read nor removed. */
bool tconv_selection_file_path(const char *dir, const char *dir_why, char *path, size_t size,
                               char *why, size_t why_size);

/* The last well-formed line of the file with this key. Malformed lines
 * (bad field count, checksum, times, unknown winner) are ignored. Something
 * other than a regular file at @p path (a FIFO, a directory) is never read
 * (it would block) and counts as no cache, logged at TCONV_VERBOSE=1. Safe to
 * call from any number of threads. */
bool tconv_selection_file_lookup(const char *path, const char *key, tconv_measured_t *found);

/* Adds (or replaces) the line for @p key: creates the directory (mode 0700,
 * mkdir -p),
 * takes the writers' flock on "<path>.lock", merges into the current file
 * (dropping malformed lines), writes a temporary file and renames it over the
 * old one, so concurrent writers in any threads and processes keep each
 * other's lines. False with the reason in @p why on failure, also when the
 * lock cannot be taken or @p path is not a regular file (left untouched). */
bool tconv_selection_file_store(const char *path, const char *key, const tconv_measured_t *decision,
                                char *why, size_t why_size);

/* @p path with a leading $HOME shown as "~", for messages. */
void tconv_selection_file_display(const char *path, char *out, size_t size);

#endif /* TCONV_CORE_SELECTION_CACHE_H */
