/* SPDX-License-Identifier: Apache-2.0 */
/* Which device a selector leads to, through the public API, for tests of
 * the selection rules. */
#ifndef TCONV_TEST_DEVICE_QUERY_H
#define TCONV_TEST_DEVICE_QUERY_H

#include <stddef.h>

#include "tconv/tconv.h"

/** Creates a plan for @p problem on @p selector, puts its device id and
 *  selection reason in (id, id_size) and (reason, reason_size), destroys
 *  it. Returns tconv_plan_create's status (id and reason "" on failure). */
tconv_status_t tc_plan_device(tconv_context_t ctx, const char *selector,
                              const tconv_problem_t *problem, char *id, size_t id_size,
                              char *reason, size_t reason_size);

/** Whether @p ctx has a device of class @p type. */
int tc_has_device_type(tconv_context_t ctx, tconv_device_type_t type);

#endif /* TCONV_TEST_DEVICE_QUERY_H */
