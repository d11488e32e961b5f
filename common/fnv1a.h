/* SPDX-License-Identifier: Apache-2.0 */
/* FNV-1a 64, the checksum of the selection cache lines (core) and of the
 * OpenCL program cache entries (backends/opencl): one implementation for
 * both. Internal: compiled into the core and the plugins, never installed. */
#ifndef TCONV_COMMON_FNV1A_H
#define TCONV_COMMON_FNV1A_H

#include <stddef.h>
#include <stdint.h>

/** The FNV-1a 64 offset basis: the hash of nothing. */
#define TCONV_FNV1A64_OFFSET 0xcbf29ce484222325ULL

/** FNV-1a 64 of @p len bytes at @p data, continuing from @p hash (start with
 *  TCONV_FNV1A64_OFFSET). */
static inline uint64_t tconv_fnv1a64(uint64_t hash, const void *data, size_t len) {
    const unsigned char *bytes = data;
    for (size_t i = 0; i < len; i++) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

#endif /* TCONV_COMMON_FNV1A_H */
