/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: one custom-class device that accepts every problem with an
 * estimate of 1000 s (far slower than any real backend) and computes
 * nothing. Under `auto` the class rank alone would put it before the native
 * CPU; the estimates must put it after. */
#include "faulty_base.h"

#define ESTIMATE_SECONDS 1000.0

static tconv_status_t slow_query(tconv_backend_state_t state, size_t device,
                                 const tconv_canonical_t *problem, double *est_seconds, char *msg,
                                 size_t msg_size) {
    *est_seconds = ESTIMATE_SECONDS;
    return tconv_success;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("slow_custom"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.query = slow_query;
    copy.plan_create = faulty_plan_create_accept;
    return &copy;
}
