/* SPDX-License-Identifier: Apache-2.0 */
/* The order of the buffer calls and enqueues the core makes for one device
 * of a context (tconv.h: one in-order queue per device). Each such call, and
 * each sequence of plugin calls the core makes for one (a pass staged
 * through host memory: read, compute, write), runs under the device's lock,
 * so calls from several threads run one after the other in the order they
 * take it, and no other call lands inside a sequence. Plugins with device
 * buffers keep the order of the work itself; for the core's own host
 * buffers the lock is the whole queue. */
#ifndef TCONV_CORE_DEVICE_QUEUE_H
#define TCONV_CORE_DEVICE_QUEUE_H

#include <stddef.h>

struct tconv_context;

/* Takes (and releases) the lock of context device @p device. The locks are a
 * fixed table keyed by (context, device): two devices may share one, which
 * only serialises them; a thread holds at most one at a time (the core never
 * takes a second inside), so sharing cannot deadlock. */
void tconv_device_queue_lock(const struct tconv_context *context, size_t device);
void tconv_device_queue_unlock(const struct tconv_context *context, size_t device);

#endif /* TCONV_CORE_DEVICE_QUEUE_H */
