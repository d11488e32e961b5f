/* SPDX-License-Identifier: Apache-2.0 */
/* How the OpenCL backend made a plan, read from its TCONV_VERBOSE=2 plan
 * line while the plan is created: on the caller's arrays in place
 * (CL_MEM_USE_HOST_PTR, one tile) or staged through device buffers
 * (clEnqueue{Write,Read}BufferRect), and in how many tiles. The random
 * suites use it to show, and under --opencl-staging copy to require, the
 * path their OpenCL entries exercise. */
#ifndef TCONV_TEST_OPENCL_PLAN_LOG_H
#define TCONV_TEST_OPENCL_PLAN_LOG_H

#include <stdio.h>

/** Counts of the plan lines read: one per forward plan, one per set of
 *  backward stages. */
typedef struct tc_opencl_paths {
    int plans, in_place, buffered, multi_tile;
} tc_opencl_paths_t;

typedef struct tc_opencl_log {
    int saved_stderr; /* the real stderr while it goes to the file */
    FILE *file;
} tc_opencl_log_t;

/** Sends stderr to a temporary file and sets TCONV_VERBOSE=2 (the core reads
 *  it at every log call). Returns 0, or -1 (nothing changed). */
int tc_opencl_log_begin(tc_opencl_log_t *log);

/** Restores stderr and unsets TCONV_VERBOSE; adds the OpenCL plan lines of
 *  the file to @p paths and copies every line that is not tconv's own log
 *  (a driver's build messages) to the real stderr. Calls nothing of
 *  libtconv, so its last error stays as it was. */
void tc_opencl_log_end(tc_opencl_log_t *log, tc_opencl_paths_t *paths);

#endif /* TCONV_TEST_OPENCL_PLAN_LOG_H */
