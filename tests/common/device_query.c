/* SPDX-License-Identifier: Apache-2.0 */
/* Devices selectors lead to (device_query.h). */
#include "device_query.h"

#include <stdio.h>
#include <string.h>

tconv_status_t tc_plan_device(tconv_context_t ctx, const char *selector,
                              const tconv_problem_t *problem, char *id, size_t id_size,
                              char *reason, size_t reason_size) {
    snprintf(id, id_size, "%s", "");
    snprintf(reason, reason_size, "%s", "");
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, problem, selector);
    if (st != tconv_success)
        return st;
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    st = tconv_plan_get_device_info(plan, &info);
    snprintf(id, id_size, "%s", info.id);
    snprintf(reason, reason_size, "%s", tconv_plan_get_selection_reason(plan));
    tconv_plan_destroy(plan);
    return st;
}

int tc_has_device_type(tconv_context_t ctx, tconv_device_type_t type) {
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success && info.type == type)
            return 1;
    }
    return 0;
}
