/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: struct_size says the table ends before the required slots
 * (as if built against a header that did not have them). The core must read
 * only struct_size bytes and report bad_table. */
#include <stddef.h>

#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("small_table"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.struct_size = offsetof(tconv_backend_t, init);
    return &copy;
}
