/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: init fails with a message (as when a driver library is
 * missing). The core must report init_failed carrying the plugin's text. */
#include "faulty_base.h"

static tconv_status_t init_fails(const tconv_host_t *host, tconv_backend_state_t *state, char *msg,
                                 size_t msg_size) {
    faulty_message(msg, msg_size, "simulated driver failure: libfakedriver.so.1 missing");
    return tconv_runtime_error;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("init_fails"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.init = init_fails;
    return &copy;
}
