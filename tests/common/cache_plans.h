/* SPDX-License-Identifier: Apache-2.0 */
/* Plans that make tconv write both of its caches: a measured selection (the
 * selection cache) and a plan on opencl:0 (the OpenCL program cache), for the
 * tests of where those caches go (test_cache_dir, test_context_options). */
#ifndef TCONV_TEST_CACHE_PLANS_H
#define TCONV_TEST_CACHE_PLANS_H

#include <stddef.h>

#include "tconv/tconv.h"

/** In @p ctx, which must have loaded the slow_cpu test plugin: an `auto`
 *  plan measured between cpu:0 and slow_cpu:0 (TCONV_SELECT_MIN_MS=0 for
 *  the call), its reason in @p reason; then, with @p opencl, a plan on
 *  opencl:0 for a shape of its own (built, not found built). Fails the
 *  cmocka test on an error (with @p opencl, also when there is no opencl:0:
 *  the entry that asks for it checks first, tc_device_present). */
void tc_plans_that_cache(tconv_context_t ctx, int opencl, char *reason, size_t reason_size);

/** Whether @p dir holds an OpenCL program cache entry (opencl-*). */
int tc_has_program_entry(const char *dir);

#endif /* TCONV_TEST_CACHE_PLANS_H */
