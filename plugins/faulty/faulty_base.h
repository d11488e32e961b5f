/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the misbehaving test plugins: a well-behaved default for
 * every slot, so each plugin file only states the one thing it gets wrong.
 * These plugins are loaded on purpose by tests/test_plugins.c; they are built
 * into build/tests/plugins (never into lib/tconv, which is auto-discovered). */
#ifndef TCONV_FAULTY_BASE_H
#define TCONV_FAULTY_BASE_H

#include "tconv/tconv_backend.h"

/* Writes a message into (msg, msg_size), truncating. */
void faulty_message(char *msg, size_t msg_size, const char *text);

/* Defaults: init succeeds with one custom device; query accepts; plan_create
 * declines (these plugins never compute); set_weights/execute fail. */
tconv_status_t faulty_init_one_device(const tconv_host_t *host, tconv_backend_state_t *state,
                                      char *msg, size_t msg_size);
tconv_status_t faulty_init_no_devices(const tconv_host_t *host, tconv_backend_state_t *state,
                                      char *msg, size_t msg_size);
void faulty_fini(tconv_backend_state_t state);
/* The host an instance made by faulty_init_* was given. */
const tconv_host_t *faulty_host(tconv_backend_state_t state);
tconv_status_t faulty_get_device_count(tconv_backend_state_t state, size_t *count);
tconv_status_t faulty_get_device_info(tconv_backend_state_t state, size_t device,
                                      tconv_device_info_t *info);
tconv_status_t faulty_plan_create_decline(tconv_backend_state_t state, size_t device,
                                          const tconv_canonical_t *problem,
                                          tconv_backend_plan_t *plan, char *msg, size_t msg_size);
tconv_status_t faulty_plan_create_accept(tconv_backend_state_t state, size_t device,
                                         const tconv_canonical_t *problem,
                                         tconv_backend_plan_t *plan, char *msg, size_t msg_size);
tconv_status_t faulty_plan_set_weights(tconv_backend_plan_t plan, const void *kernel,
                                       const void *bias, char *msg, size_t msg_size);
tconv_status_t faulty_plan_execute_fail(tconv_backend_plan_t plan, const void *input, void *output,
                                        char *msg, size_t msg_size);
void faulty_plan_destroy(tconv_backend_plan_t plan);

/* A complete, valid table for backend @p name: one device, declines plans. */
#define FAULTY_TABLE_INIT(backend_name)                                                            \
    .struct_size = sizeof(tconv_backend_t), .abi_major = TCONV_BACKEND_ABI_MAJOR,                  \
    .abi_minor = TCONV_BACKEND_ABI_MINOR, .name = backend_name,                                    \
    .description = "misbehaving test plugin", .init = faulty_init_one_device, .fini = faulty_fini, \
    .get_device_count = faulty_get_device_count, .get_device_info = faulty_get_device_info,        \
    .query = NULL, .plan_create = faulty_plan_create_decline,                                      \
    .plan_set_weights = faulty_plan_set_weights, .plan_execute = faulty_plan_execute_fail,         \
    .plan_destroy = faulty_plan_destroy

#endif /* TCONV_FAULTY_BASE_H */
