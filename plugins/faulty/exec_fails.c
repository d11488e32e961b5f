/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: one device that accepts every problem and makes plans, but
 * whose plan_execute fails with tconv_runtime_error and a message. The error
 * and message must reach the caller, and the output must stay untouched. */
#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("exec_fails"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.plan_create = faulty_plan_create_accept;
    return &copy;
}
