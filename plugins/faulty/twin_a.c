/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: one of two plugins (twin_a, twin_b) with the same backend
 * name "twin". The first in search order is loaded; the other must be
 * reported skipped as a duplicate. */
#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("twin"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    return &table;
}
