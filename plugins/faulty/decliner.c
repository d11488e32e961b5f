/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: one device that declines every problem, in query and in
 * plan_create, with a reason. Selection must move on to the next device and
 * the selection reason must carry this plugin's text. */
#include "faulty_base.h"

#define DECLINE_REASON "decliner declines every problem by design"

static tconv_status_t decline_query(tconv_backend_state_t state, size_t device,
                                    const tconv_canonical_t *problem, double *est_seconds,
                                    char *msg, size_t msg_size) {
    faulty_message(msg, msg_size, DECLINE_REASON " (query)");
    return tconv_unimplemented;
}

static tconv_status_t decline_plan(tconv_backend_state_t state, size_t device,
                                   const tconv_canonical_t *problem, tconv_backend_plan_t *plan,
                                   char *msg, size_t msg_size) {
    faulty_message(msg, msg_size, DECLINE_REASON " (plan_create)");
    return tconv_unimplemented;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("decliner"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.query = decline_query;
    copy.plan_create = decline_plan;
    return &copy;
}
