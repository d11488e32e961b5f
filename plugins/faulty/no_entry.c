/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: a shared module that exports no tconv_backend_entry symbol
 * (only a misspelt one). The core must report no_entry. */
#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("no_entry"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry_point(void);

const tconv_backend_t *tconv_backend_entry_point(void) {
    return &table;
}
