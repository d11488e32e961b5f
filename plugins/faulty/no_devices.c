/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: loads fine but exposes no device (no hardware present). The
 * core must report it skipped with no_devices. */
#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("no_devices"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.init = faulty_init_no_devices;
    return &copy;
}
