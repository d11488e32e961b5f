/* SPDX-License-Identifier: Apache-2.0 */
/* Self-describing program binary files, shared by the on-disk program cache
 * and the TCONV_OPENCL_BINARY(_SAVE) flow. Layout (host byte order):
 *   char     magic[8]   "TCONVCLB"
 *   uint32_t version    OCL_ENTRY_VERSION
 *   uint32_t key_len    bytes of the key text that follows the header
 *   uint64_t key_hash   FNV-1a 64 of the key text
 *   uint64_t bin_len    bytes of the program binary
 *   uint64_t bin_hash   FNV-1a 64 of the binary
 *   key text, then the binary.
 * The key text is "field=value\n" lines (device, driver, platform, source
 * hash, build options hash), so a mismatch can be reported by field. */
#ifndef TCONV_OCL_CACHE_FILE_H
#define TCONV_OCL_CACHE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/fnv1a.h"
#include "tconv/tconv_backend.h"

#define OCL_FNV_OFFSET    TCONV_FNV1A64_OFFSET
#define OCL_ENTRY_VERSION 1u

/** FNV-1a 64 of @p len bytes, continuing from @p hash (start: OCL_FNV_OFFSET):
 *  the shared common/fnv1a.h hash under this backend's name. */
static inline uint64_t ocl_fnv1a64(uint64_t hash, const void *data, size_t len) {
    return tconv_fnv1a64(hash, data, len);
}

/** The program cache directory: the core's (tconv_host_t.cache_dir, from
 *  TCONV_CACHE_DIR, XDG_CACHE_HOME or HOME), or NULL when caching is off or
 *  the core is too old to pass one (host->struct_size short of the field).
 *  Never read from the environment here: one rule for every cache. */
const char *ocl_cache_dir(const tconv_host_t *host);

typedef enum ocl_entry_result {
    ocl_entry_ok = 0,
    ocl_entry_missing = 1, /**< No such file. */
    ocl_entry_corrupt = 2, /**< Unreadable, truncated, bad magic/version/checksum. */
} ocl_entry_result_t;

/** Reads and checks an entry; on ocl_entry_ok the caller frees *key and *bin.
 *  @p why receives the reason for anything else. */
ocl_entry_result_t ocl_entry_read(const char *path, char **key, unsigned char **bin,
                                  size_t *bin_len, char *why, size_t why_size);

/** Writes an entry atomically (temporary file in the same directory, then
 *  rename) with permissions @p mode. 0 on success, else -1 with the reason
 *  in @p why. */
int ocl_entry_write(const char *path, const char *key, const unsigned char *bin, size_t bin_len,
                    unsigned mode, char *why, size_t why_size);

/** Compares two key texts; on a difference writes "field: 'a' vs 'b'"
 *  (expected first) into @p why and returns nonzero. */
int ocl_key_diff(const char *expected, const char *found, char *why, size_t why_size);

#endif /* TCONV_OCL_CACHE_FILE_H */
