/* SPDX-License-Identifier: Apache-2.0 */
/* How the OpenCL backend made a plan, read from its TCONV_VERBOSE=2 plan
 * line while the plan is created: on the caller's arrays in place
 * (CL_MEM_USE_HOST_PTR, one tile) or staged through device buffers
 * (clEnqueue{Write,Read}BufferRect), and in how many tiles. On top of it,
 * the one implementation of the forced paths the OpenCL test entries run
 * (--opencl-staging copy, --opencl-max-alloc BYTES|half), shared by the
 * random suites, test_forward_fixed and run_conformance: the variables set,
 * the cap per plan, and the proof from the plan lines that each plan took
 * the path forced (a plan made in place under copy fails; under a cap at
 * least one plan must tile, and only a decline naming the allocation limit
 * counts as a decline). */
#ifndef TCONV_TEST_OPENCL_PLAN_LOG_H
#define TCONV_TEST_OPENCL_PLAN_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "tconv/tconv.h"

/** Counts of the plan lines read: one per forward plan, one per set of
 *  backward stages; built: programs built from source (not from a cache). */
typedef struct tc_opencl_paths {
    int plans, in_place, buffered, multi_tile, built;
} tc_opencl_paths_t;

typedef struct tc_opencl_log {
    int saved_stderr; /* the real stderr while it goes to the file */
    FILE *file;       /* NULL when tc_opencl_log_begin failed */
} tc_opencl_log_t;

/** Sends stderr to a temporary file and sets TCONV_VERBOSE=2 (the core reads
 *  it at every log call). Returns 0, or -1 (nothing changed, log->file
 *  NULL). */
int tc_opencl_log_begin(tc_opencl_log_t *log);

/** Restores stderr and unsets TCONV_VERBOSE; adds the OpenCL plan lines of
 *  the file to @p paths and copies every line that is not tconv's own log
 *  (a driver's build messages) to the real stderr. Calls nothing of
 *  libtconv, so its last error stays as it was. Does nothing when begin
 *  failed. */
void tc_opencl_log_end(tc_opencl_log_t *log, tc_opencl_paths_t *paths);

/** The OpenCL paths a test run forces. The backend reads both variables at
 *  every plan (docs/internals.md), so one context serves every cap. */
typedef struct tc_opencl_force {
    int copy; /**< --opencl-staging copy: TCONV_OPENCL_NO_IN_PLACE=1 */
    const char
        *max_alloc; /**< --opencl-max-alloc: NULL, "half" or bytes (TCONV_OPENCL_MAX_ALLOC) */
} tc_opencl_force_t;

/** The usage text of the two options. */
#define TC_OPENCL_FORCE_USAGE "[--opencl-staging copy] [--opencl-max-alloc BYTES|half]"

/** Reads command-line option @p name with its @p value into @p f. Returns 1
 *  when @p name is --opencl-staging with "copy" or --opencl-max-alloc with a
 *  positive byte count or "half"; 0 when @p name is neither option; -1 when
 *  it is one with a value the rule above refuses. */
int tc_opencl_force_option(tc_opencl_force_t *f, const char *name, const char *value);

/** Nonzero when @p f forces anything. */
int tc_opencl_force_any(const tc_opencl_force_t *f);

/** Sets TCONV_OPENCL_NO_IN_PLACE=1 under copy and TCONV_OPENCL_MAX_ALLOC to
 *  a cap given in bytes ("half" is set per plan, tc_opencl_force_begin). */
void tc_opencl_force_apply(const tc_opencl_force_t *f);

/** The sizes, in elements, of the tensors of one plan: what "half" caps. */
typedef struct tc_opencl_sizes {
    tconv_dtype_t dtype;
    int64_t input, output, kernel, out_channels;
} tc_opencl_sizes_t;

/** Before one OpenCL plan is made: under --opencl-max-alloc half sets
 *  TCONV_OPENCL_MAX_ALLOC to half the larger of the input and the output
 *  (so the plan must split the batch or the output depth, or decline when
 *  one slice is larger), at least twice the weights, which must fit in one
 *  allocation (packed, channels rounded up to the vector width); then
 *  tc_opencl_log_begin. */
void tc_opencl_force_begin(const tc_opencl_force_t *f, const tc_opencl_sizes_t *sizes,
                           tc_opencl_log_t *log);

/** After the plan: tc_opencl_log_end, adding its plan lines to @p total.
 *  Returns 0, or -1 after printing @p where and the reason on stderr when
 *  @p made_plan is nonzero and no plan line was logged (how the plan stages
 *  its tensors is unknown), or when under copy a plan line says in place.
 *  Calls nothing of libtconv (its last error stays). */
int tc_opencl_force_end(const tc_opencl_force_t *f, tc_opencl_log_t *log, int made_plan,
                        const char *where, tc_opencl_paths_t *total);

/** Whether a plan the device declined with @p message counts as declined
 *  under @p f: only with a cap, and only when the message names the
 *  allocation limit (the backend's "max allocation" / "per allocation"
 *  reasons); any other decline is a failure. */
int tc_opencl_force_declined(const tc_opencl_force_t *f, const char *message);

/** Prints how the plans in @p counted staged their tensors (in place,
 *  through buffers, in more than one tile, programs built), after
 *  @p label. Returns 1 (a failure) when a cap was given and plans were
 *  made, none in more than one tile; else 0 (a run that made no plan at
 *  all fails on its own terms: nothing ran). */
int tc_opencl_force_report(const tc_opencl_force_t *f, const char *label,
                           const tc_opencl_paths_t *counted);

/** @p now minus @p before, field by field. */
tc_opencl_paths_t tc_opencl_paths_since(const tc_opencl_paths_t *now,
                                        const tc_opencl_paths_t *before);

#endif /* TCONV_TEST_OPENCL_PLAN_LOG_H */
