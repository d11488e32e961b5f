/* SPDX-License-Identifier: Apache-2.0 */
/* The driver the seeded random suites share (test_forward_random,
 * test_backward_random): the command line, the context and the devices of
 * one backend (skips and failures when there are none), and the loop that
 * runs every case on every device for one dtype and prints a summary. */
#ifndef TCONV_RANDOM_SUITE_H
#define TCONV_RANDOM_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include "opencl_plan_log.h"
#include "tconv/tconv.h"
#include "test_support.h"

#define TC_SUITE_MAX_DEVICES 16

typedef struct tc_suite {
    const char *program; /* for the usage line */
    const char *backend; /* --backend NAME (default "cpu") */
    const char *isa;     /* --isa avx512|avx2|c: sets TCONV_CPU_ISA, checked in effect */
    const char *plugin;  /* --plugin PATH: an extra plugin, via the context's search_path */
    int allow_decline;   /* --allow-decline: a plan the device declines counts as declined */
    int cases;           /* --cases N */
    uint64_t seed;       /* --seed S */
    tconv_context_t ctx;
    size_t device_count;
    tconv_device_info_t devices[TC_SUITE_MAX_DEVICES];
    unsigned dtypes;         /* --dtype f32|f64: TCONV_DTYPE_BIT mask (default both) */
    tc_opencl_force_t force; /* --opencl-staging copy, --opencl-max-alloc BYTES|half */
    char unavailable[256];   /* a part of the run that cannot run here ("" if none) */
    tc_opencl_paths_t paths; /* OpenCL plans made so far (backend opencl only) */
} tc_suite_t;

/** Parses the options into @p s (whose fields hold the defaults), creates
 *  the context and collects the devices of s->backend, printing them.
 *  Returns -1 when the suite can run; otherwise the exit code to return
 *  (tests/README.md): 2 for bad usage, 77 (skip) when there is no OpenCL
 *  platform (tc_cannot_run: a failure, 1, under CI=true) or the CPU lacks
 *  the --isa asked for (a skip even under CI: the runner's CPU is what it
 *  is), 1 for any other failure (message on stderr). A device without one
 *  of the dtypes asked for is noted in s->unavailable: tc_suite_main runs
 *  the rest and then exits as tc_cannot_run unless something failed. */
int tc_suite_open(tc_suite_t *s, int argc, char **argv);

/** Destroys the context. */
void tc_suite_close(tc_suite_t *s);

/** One case on one device: returns 0 when right (with its error in
 *  *max_err), 1 when the device declined it (only with allow_decline), -1
 *  when it failed (after printing why). @p p is a fresh random problem the
 *  case may adjust (e.g. its passes). */
typedef int (*tc_suite_case_fn)(tc_suite_t *s, const tconv_device_info_t *dev, tconv_problem_t *p,
                                int case_index, tc_rng_t *rng, double *max_err);

/** Optional: prints what a suite measured beyond the summary line after
 *  every dtype's run. */
typedef void (*tc_suite_summary_fn)(const tc_suite_t *s, tconv_dtype_t dtype);

/** The whole program: tc_suite_open, then the cmocka group @p group_name
 *  with one test per dtype asked for (f32, f64), each tc_suite_run_dtype
 *  with @p run_case, then @p summary (may be NULL); returns the exit code:
 *  1 if any case failed, else tc_cannot_run if s->unavailable names a
 *  part that could not run, else 0. */
int tc_suite_main(tc_suite_t *s, int argc, char **argv, const char *group_name,
                  tc_suite_case_fn run_case, tc_suite_summary_fn summary);

/** Makes the case's plan: tconv_plan_create on @p dev (which it must run
 *  on) and tconv_plan_set_weights with t's kernel and bias. Returns 0 with
 *  *plan ready; 1 when the device declined (tconv_no_device) and
 *  s->allow_decline is set (under an allocation cap: only for the
 *  allocation limit, tc_opencl_force_declined); -1 after printing @p where
 *  and the failure. On OpenCL it reads how the plan stages its tensors
 *  (s->paths) and fails a plan made in place under --opencl-staging copy
 *  (tc_opencl_force_end). */
int tc_suite_plan(tc_suite_t *s, const tconv_device_info_t *dev, const tconv_problem_t *p,
                  const tc_tensors_t *t, const char *where, tconv_plan_t *plan);

/** Prints how the OpenCL plans made since @p before staged their tensors
 *  (tc_opencl_force_report), after @p label. Returns 1 (a failure) when
 *  --opencl-max-alloc gave no plan more than one tile, else 0.
 *  (--opencl-staging copy fails each plan made in place, in
 *  tc_suite_plan.) */
int tc_suite_check_opencl_paths(const tc_suite_t *s, const char *label,
                                const tc_opencl_paths_t *before);

/** Closes the suite and returns the program's exit code: 1 if @p failed
 *  (cmocka's count of failed tests) is nonzero, else tc_cannot_run if
 *  s->unavailable names a part that could not run, else 0. */
int tc_suite_finish(tc_suite_t *s, int failed);

/** Runs s->cases random problems of @p dtype (tc_random_problem, seeded
 *  from s->seed and the dtype) on every device that supports the dtype,
 *  prints a line per device (cases, failures, declines, largest error) and
 *  returns the number of failures (a device that declined every case
 *  counts as one). */
int tc_suite_run_dtype(tc_suite_t *s, tconv_dtype_t dtype, tc_suite_case_fn run_case);

#endif /* TCONV_RANDOM_SUITE_H */
