/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: get_device_count reports a billion devices. The device table
 * for that used to make the whole context fail out of memory; the core must
 * refuse this one plugin with bad_table and load the others. */
#include "faulty_base.h"

static tconv_status_t count_a_billion(tconv_backend_state_t state, size_t *count) {
    *count = 1000000000;
    return tconv_success;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("count_billion"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.get_device_count = count_a_billion;
    return &copy;
}
