/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: buffer_create without the rest of the ABI 1.2 buffer group.
 * The core must refuse the table (bad_table, naming the first missing slot)
 * instead of calling a NULL slot later (tests/test_buffers.c). */
#include "faulty_base.h"

static tconv_status_t never_create(tconv_backend_state_t state, size_t device, size_t size,
                                   void **buffer, char *msg, size_t msg_size) {
    faulty_message(msg, msg_size, "partial_group: never called");
    return tconv_runtime_error;
}

static const tconv_backend_t base = {
    FAULTY_TABLE_INIT("partial_group"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t table;
    table = base;
    table.buffer_create = never_create;
    return &table;
}
