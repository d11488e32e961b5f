/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin for tests/test_context_options.c: one custom device whose
 * plan_create reports what the plugin sees of the verbosity, then declines.
 * Its message is "verbose V, verbosity N" (V: tconv_host_t.verbose, the
 * level at context creation; N: tconv_host_get_verbosity, the level in
 * effect), and it logs "plan_create sees verbosity N" at debug level through
 * host->log: the test checks that the level a plugin sees is the one its log
 * lines are filtered by. Built into a directory of its own, so the contexts
 * of other tests never load it. The other slots come from
 * plugins/faulty/faulty_base.c. */
#include <stdio.h>

#include "faulty_base.h"

static tconv_status_t plan_create_report(tconv_backend_state_t state, size_t device,
                                         const tconv_canonical_t *problem,
                                         tconv_backend_plan_t *plan, char *msg, size_t msg_size) {
    (void)device;
    (void)problem;
    const tconv_host_t *host = faulty_host(state);
    *plan = NULL;
    const int level = tconv_host_get_verbosity(host);
    host->log(tconv_log_debug, "verbosity", "plan_create sees verbosity %d", level);
    snprintf(msg, msg_size, "verbose %d, verbosity %d", host->verbose, level);
    return tconv_unimplemented;
}

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t table = {FAULTY_TABLE_INIT("verbosity")};
    table.plan_create = plan_create_report;
    return &table;
}
