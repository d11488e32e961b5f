/* SPDX-License-Identifier: Apache-2.0 */
/* Per-device locks of the core's queue order (device_queue.h): a striped
 * table, so that contexts need no lock objects of their own. */
#include "device_queue.h"

#include <pthread.h>
#include <stdint.h>

/* A power of two; more stripes than a process has devices in practice. */
#define DEVICE_QUEUE_STRIPES 64

static pthread_mutex_t stripes[DEVICE_QUEUE_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void) {
    for (size_t i = 0; i < DEVICE_QUEUE_STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
}

static pthread_mutex_t *stripe_of(const struct tconv_context *context, size_t device) {
    pthread_once(&stripes_once, stripes_init);
    /* Contexts are heap objects (aligned, so the low bits carry nothing). */
    uint64_t key = ((uint64_t)(uintptr_t)context >> 4) * 0x9E3779B97F4A7C15ull + device;
    key ^= key >> 29;
    return &stripes[key & (DEVICE_QUEUE_STRIPES - 1)];
}

void tconv_device_queue_lock(const struct tconv_context *context, size_t device) {
    pthread_mutex_lock(stripe_of(context, device));
}

void tconv_device_queue_unlock(const struct tconv_context *context, size_t device) {
    pthread_mutex_unlock(stripe_of(context, device));
}
