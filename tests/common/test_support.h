/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the tconv tests: a seeded random generator, random
 * problems over every option, a printable description of a problem (so a
 * failing case can be reproduced), tensors in both dtypes, and comparison
 * against the float64 reference with relative tolerances. */
#ifndef TCONV_TEST_SUPPORT_H
#define TCONV_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv.h"

/* ---- random numbers (splitmix64: tiny, seedable, same on every machine) */
typedef struct tc_rng {
    uint64_t state;
} tc_rng_t;

void tc_rng_seed(tc_rng_t *rng, uint64_t seed);
uint64_t tc_rng_next(tc_rng_t *rng);
/** Uniform integer in [lo, hi]. */
int64_t tc_rng_range(tc_rng_t *rng, int64_t lo, int64_t hi);
/** Uniform double in [-1, 1). */
double tc_rng_signed_unit(tc_rng_t *rng);

/* ---- problems */

/** Writes every field of @p p as a C-like initialiser, one line. */
void tc_format_problem(const tconv_problem_t *p, char *buf, size_t size);

/** A random valid problem for case number @p case_index (activations cycle
 *  through all 25 so every one is covered). @p dtype is forced. */
void tc_random_problem(tc_rng_t *rng, int case_index, tconv_dtype_t dtype, tconv_problem_t *p);

/* ---- tensors: values are generated in float64 and, for f32 problems,
 * rounded to float first so the reference sees exactly what the device sees. */
typedef struct tc_tensors {
    tconv_canonical_t canonical;
    int64_t in_count, kernel_count, out_count;
    double *in, *kernel, *bias;      /* float64 copies (bias NULL without bias) */
    double *ref, *ref_pre, *ref_abs; /* reference output, pre-activation, sum|terms| */
    void *dev_in, *dev_kernel, *dev_bias, *dev_out; /* buffers in the problem's dtype */
} tc_tensors_t;

/** Resolves @p p with the reference's own framework rules
 *  (tconv_reference_resolve, into t->canonical), checks that the library
 *  gives the same tensor shapes (tconv_problem_get_shapes) and output
 *  lengths and crops (tconv_problem_resolve), fills random tensors and
 *  computes the reference. Returns 0 on success, -1 (with a message in
 *  buf) otherwise. */
int tc_tensors_make(const tconv_problem_t *p, tc_rng_t *rng, tc_tensors_t *t, char *msg,
                    size_t msg_size);
void tc_tensors_free(tc_tensors_t *t);

/** As tc_tensors_make with the given float64 values (input, kernel, and
 *  bias when p->use_bias; in the problem's layouts) instead of random ones,
 *  rounded to float for f32 problems. */
int tc_tensors_from_values(const tconv_problem_t *p, const double *in, const double *kernel,
                           const double *bias, tc_tensors_t *t, char *msg, size_t msg_size);

/** Puts @p values (out_count of them, e.g. read from a file) into dev_out
 *  in the problem's dtype, for tc_tensors_max_error. */
void tc_tensors_set_output(tc_tensors_t *t, const double *values);

/** Rounds the float64 inputs, kernel and bias to float (also in the device
 *  buffers) and recomputes the reference: for f64 problems fed from float32
 *  files. */
void tc_tensors_round_to_float(tc_tensors_t *t);

/** Element @p i of a buffer of @p dtype, as a double. */
double tc_element(const void *buffer, tconv_dtype_t dtype, int64_t i);

/** Fills dev_out with NaN, so an element the device never writes shows. */
void tc_tensors_poison_output(tc_tensors_t *t);

/** Compares dev_out with the reference. Error of an element:
 *      |y - ref| / (max(1, sum|terms|) * max(1, activation slope there)).
 *  Returns the largest; *worst receives its index (or the first NaN's). A NaN
 *  or infinite y where the reference is finite gives +INFINITY. */
double tc_tensors_max_error(const tc_tensors_t *t, int64_t *worst);

/** The relative tolerance a dtype must meet (1e-5 for f32, 1e-12 for f64). */
double tc_tolerance(tconv_dtype_t dtype);

/** Runs @p p on @p selector through the public API (plan, weights, execute)
 *  into t->dev_out. Returns the first failing status; the stage and message
 *  go to msg. */
tconv_status_t tc_run_plan(tconv_context_t ctx, const char *selector, const tconv_problem_t *p,
                           tc_tensors_t *t, char *msg, size_t msg_size);

/** A small fixed problem every device must run: rank 3, stride 2, bias, relu. */
void tc_small_problem(tconv_problem_t *p, tconv_dtype_t dtype);

/** Runs tc_small_problem on @p selector and checks it against the reference.
 *  Returns 0 when the result is right; -1 with a message otherwise. */
int tc_check_small_plan(tconv_context_t ctx, const char *selector, char *msg, size_t msg_size);

/** Unsets the TCONV_* variables a developer's shell may hold (device,
 *  plugins, verbosity, CPU ISA, threads, selection mode, OpenCL tuning and
 *  staging), so
 *  every test starts from the same state. TCONV_CACHE_DIR (ctest points it
 *  into the build tree) and TCONV_OPENCL_MAX_ALLOC (set by the tiling test
 *  entry) are kept. */
void tc_clean_environment(void);

/** Fails the current cmocka test unless @p call returns tconv_success,
 *  naming the call, its status and tconv_get_last_error(). */
#define TC_CHECK_OK(call)                                                                          \
    do {                                                                                           \
        tconv_status_t tc_status_ = (call);                                                        \
        if (tc_status_ != tconv_success)                                                           \
            fail_msg("%s -> %s: %s", #call, tconv_status_name(tc_status_),                         \
                     tconv_get_last_error());                                                      \
    } while (0)

/** The exit code ctest reports as Skipped (SKIP_RETURN_CODE; see
 *  tests/README.md for what every exit code means). */
#define TC_EXIT_SKIP 77

/** Whether the tests run under CI (CI=true or CI=1): there a device a test
 *  needs and cannot find (PoCL's opencl:0) is a failure instead of a skip.
 *  The only place the tests read CI (shell tests ask the cannot_run tool). */
int tc_in_ci(void);

/** The exit code of a test entry that cannot run here because of what the
 *  printf-style message names ("no OpenCL platform"): prints "skipped:
 *  ..." and returns TC_EXIT_SKIP, or under CI prints "FAILED: ..." and
 *  returns 1. */
int tc_cannot_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** How many cases a seeded random test runs: @p wanted, or fewer when the
 *  environment variable TCONV_TEST_MAX_CASES (a positive integer) is
 *  smaller. The sanitizer job (scripts/test-sanitizers.sh) sets it: the
 *  first cases of the same seeds, under ASan and UBSan, in a fraction of
 *  the time. */
int tc_case_budget(int wanted);

/** Whether @p haystack contains @p needle (case-sensitive); NULL-safe. */
int tc_contains(const char *haystack, const char *needle);

/** Whether @p ctx has the device @p id ("cpu:0"). */
int tc_has_device(tconv_context_t ctx, const char *id);

/** The report of the plugin whose backend is @p name ("cpu") into @p out.
 *  Returns 1 when found, 0 otherwise. */
int tc_plugin_report_named(tconv_context_t ctx, const char *name, tconv_plugin_report_t *out);

/** Log lines of a context, each ending in a newline (the oldest kept when
 *  the buffer is full). */
typedef struct tc_log {
    char text[16384];
} tc_log_t;

/** A log callback (tconv_log_callback_t) appending each line and a newline
 *  to the tc_log_t @p user_data. */
void tc_log_append(void *user_data, int level, const char *message);

/** A context of the default plugins at @p verbosity (0..2) whose log lines
 *  go to @p log (cleared first; clear it again with log->text[0] = 0). */
tconv_status_t tc_context_create_logged(tconv_context_t *ctx, int verbosity, tc_log_t *log);

/** The part of a test program an entry runs (one ctest entry per part that
 *  can be missing): "--part NAME", NAME one of the '|'-separated @p parts,
 *  then at most one more argument when @p more describes it for the usage
 *  ("[PATTERN]"; NULL: none). Returns NAME's index in @p parts, or -1 after
 *  printing the usage. */
int tc_part(int argc, char **argv, const char *parts, const char *more);

/** Whether a context of the default plugins has the device @p id: for an
 *  entry to decide whether it can run (else tc_cannot_run). */
int tc_device_present(const char *id);

/** Makes the programs this one starts from now on preload @p module
 *  (LD_PRELOAD; unset it to stop), in a sanitizer build too: ASan refuses to
 *  run behind a library loaded before its runtime unless told not to check
 *  (verify_asan_link_order=0 is appended to ASAN_OPTIONS). */
void tc_preload(const char *module);

/* ---- gradients: dL/dy, the reference gradients and their error scales */

/** The three gradients, in the order of tconv_plan_execute_backward. */
typedef enum tc_gradient {
    tc_grad_input,
    tc_grad_kernel,
    tc_grad_bias,
    tc_grad_count
} tc_gradient_t;

typedef struct tc_gradients {
    int64_t count[tc_grad_count]; /* elements: input's, kernel's, out_channels */
    double *grad_out;             /* dL/dy in float64 (rounded to float for f32) */
    void *dev_grad_out;           /* the same in the problem's dtype */
    double *ref[tc_grad_count];   /* the reference gradients */
    double *scale[tc_grad_count]; /* per element: the sum of |terms| its error is relative to */
    void *dev[tc_grad_count];     /* output buffers in the problem's dtype */
} tc_gradients_t;

/** The name of a gradient as the API calls it ("grad_input", ...). */
const char *tc_gradient_name(tc_gradient_t which);

/** Random dL/dy for the problem of @p t (made with tc_tensors_make), the
 *  reference gradients (tconv_reference_backward; dL/db even without a
 *  bias) and their error scales. An element's scale is the sum of |terms|
 *  of its sum (tconv_reference_backward_abs) with every output point
 *  weighted by |dL/dy| * (max(1, |act'(z)|) + u / tolerance), where u is how
 *  much act' moves when z moves by its own tolerance (tolerance * max(1,
 *  sum|terms| of z)): the device computes act' at its own z, so near a kink
 *  either side is right, as tc_tensors_max_error's slope allows in the
 *  forward pass. Returns 0, or -1 with a message. */
int tc_gradients_make(const tc_tensors_t *t, tc_rng_t *rng, tc_gradients_t *g, char *msg,
                      size_t msg_size);
void tc_gradients_free(tc_gradients_t *g);

/** Fills the output buffers with NaN, so an element never written shows. */
void tc_gradients_poison(tc_gradients_t *g, tconv_dtype_t dtype);

/** The largest error |got - ref| / max(1, scale) of gradient @p which;
 *  *worst receives its index. A NaN or infinite element where the
 *  reference is finite gives +INFINITY. */
double tc_gradients_max_error(const tc_gradients_t *g, tc_gradient_t which, tconv_dtype_t dtype,
                              int64_t *worst);

#endif /* TCONV_TEST_SUPPORT_H */
