/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: a required slot (plan_execute) is NULL. The core must report
 * bad_table naming the slot, not call through it later. */
#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("null_slot"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.plan_execute = NULL;
    return &copy;
}
