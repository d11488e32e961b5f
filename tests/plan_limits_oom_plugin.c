/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin for tests/test_plan_limits.c: one custom-class device (ranked
 * above CPU devices by `auto`) whose plan_create always runs out of memory,
 * as a backend does when a plan's tables do not fit. Built twice, as
 * tconv_backend_oom_a.so and tconv_backend_oom_b.so (OOM_BACKEND_NAME), so a
 * selector can list two devices that both run out of memory. The shared
 * slots come from plugins/faulty/faulty_base.c. */
#include "faulty_base.h"

#define OOM_REASON "simulated: the plan's tables need more memory than this device has"

static tconv_status_t plan_create_out_of_memory(tconv_backend_state_t state, size_t device,
                                                const tconv_canonical_t *problem,
                                                tconv_backend_plan_t *plan, char *msg,
                                                size_t msg_size) {
    *plan = NULL;
    faulty_message(msg, msg_size, OOM_REASON);
    return tconv_out_of_memory;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT(OOM_BACKEND_NAME),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.plan_create = plan_create_out_of_memory;
    return &copy;
}
