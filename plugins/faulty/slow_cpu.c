/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: one CPU-class device that accepts every problem but computes
 * nothing and takes 20 ms per execute. Next to the native backend it makes
 * `auto` measure two CPU-class devices (and so use the selection cache)
 * without PoCL; it always loses the measurement, so the plans the tests get
 * run on cpu:0 and their results stay checkable. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c11 */

#include <errno.h>
#include <time.h>

#include "faulty_base.h"

#define EXECUTE_MILLISECONDS 20

static tconv_status_t cpu_class_device_info(tconv_backend_state_t state, size_t device,
                                            tconv_device_info_t *info) {
    tconv_status_t st = faulty_get_device_info(state, device, info);
    info->type = tconv_device_cpu;
    return st;
}

static tconv_status_t slow_execute(tconv_backend_plan_t plan, const void *input, void *output,
                                   char *msg, size_t msg_size) {
    struct timespec delay = {0, EXECUTE_MILLISECONDS * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) /* interrupted: sleep the rest */
        ;
    return tconv_success;
}

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("slow_cpu"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.get_device_info = cpu_class_device_info;
    copy.plan_create = faulty_plan_create_accept;
    copy.plan_execute = slow_execute;
    return &copy;
}
