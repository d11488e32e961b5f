/* SPDX-License-Identifier: Apache-2.0 */
/* Growing a malloc'd array geometrically (candidate lists, reports, paths). */
#ifndef TCONV_CORE_ARRAY_H
#define TCONV_CORE_ARRAY_H

#include <stdbool.h>
#include <stdlib.h>

/* Makes room for one more element after @p count in *items (of *capacity
 * elements of @p elem_size bytes). Returns false, leaving the array as it
 * was, when out of memory. */
static inline bool tconv_array_reserve_one(void **items, size_t *capacity, size_t count,
                                           size_t elem_size) {
    if (count < *capacity)
        return true;
    size_t cap = *capacity ? 2 * *capacity : 8;
    size_t bytes;
    if (cap < *capacity || __builtin_mul_overflow(cap, elem_size, &bytes))
        return false; /* the doubled size would wrap: as good as out of memory */
    void *grown = realloc(*items, bytes);
    if (grown == NULL)
        return false;
    *items = grown;
    *capacity = cap;
    return true;
}

#endif /* TCONV_CORE_ARRAY_H */
