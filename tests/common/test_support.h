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

/** Resolves @p p (must succeed), fills random tensors and computes the
 *  reference. Returns 0 on success, -1 (with a message in buf) otherwise. */
int tc_tensors_make(const tconv_problem_t *p, tc_rng_t *rng, tc_tensors_t *t, char *msg,
                    size_t msg_size);
void tc_tensors_free(tc_tensors_t *t);

/** Rounds the float64 inputs, kernel and bias to float (also in the device
 *  buffers) and recomputes the reference: for f64 problems fed from float32
 *  files. */
void tc_tensors_round_to_float(tc_tensors_t *t);

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
 *  plugins, verbosity, CPU ISA, threads, selection mode, OpenCL tuning), so
 *  every test starts from the same state. TCONV_CACHE_DIR (ctest points it
 *  into the build tree) and TCONV_OPENCL_MAX_ALLOC (set by the tiling test
 *  entry) are kept. */
void tc_clean_environment(void);

/** Whether @p haystack contains @p needle (case-sensitive); NULL-safe. */
int tc_contains(const char *haystack, const char *needle);

#endif /* TCONV_TEST_SUPPORT_H */
