/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: get_device_count reports SIZE_MAX devices (a corrupt counter
 * or an unsigned -1). Summing it into the device table used to wrap and
 * overflow the heap; the core must refuse the plugin with bad_table and keep
 * the context and every other plugin working. */
#include <stdint.h>

#include "faulty_base.h"

static tconv_status_t count_size_max(tconv_backend_state_t state, size_t *count) {
    *count = SIZE_MAX;
    return tconv_success;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("count_max"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.get_device_count = count_size_max;
    return &copy;
}
