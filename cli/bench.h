/* SPDX-License-Identifier: Apache-2.0 */
/* Timing one transposed-convolution layer: random data, a plan on the chosen
 * device, warm-up runs, then the median of timed tconv_plan_execute calls.
 * `tconv bench`, `tconv demo` and the benchmark suite share these. */
#ifndef TCONV_CLI_BENCH_H
#define TCONV_CLI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv.h"

/** What one timed run computes. */
typedef enum bench_pass {
    BENCH_PASS_FORWARD = 0,      /**< y from x (tconv_plan_execute). */
    BENCH_PASS_BACKWARD_DATA,    /**< dL/dx from dL/dy. */
    BENCH_PASS_BACKWARD_WEIGHTS, /**< dL/dw and dL/db from x and dL/dy. */
    BENCH_PASS_TRAINING,         /**< forward, then dL/dx, dL/dw and dL/db: one training step. */
    BENCH_PASS_COUNT
} bench_pass_t;

/** "forward", "backward_data", "backward_weights", "training". */
const char *bench_pass_name(bench_pass_t pass);

/** Parses one of the names of bench_pass_name; returns 0, or -1 (unknown). */
int bench_pass_parse(const char *text, bench_pass_t *pass);

/** "forward|backward_data|backward_weights|training", for messages and usage. */
const char *bench_pass_choices(void);

/** How many times the layer's FLOP count a run of @p pass does: oneDNN counts
 *  2*N*Cin*Cout/G*prod(input)*prod(kernel) for each of the three passes (the
 *  bias gradient's additions are not counted), so training counts three. */
int bench_pass_flop_multiple(bench_pass_t pass);

/** How to time a layer. */
typedef struct bench_config {
    const char *selector; /**< Device selector ("auto", "cpu:0", ...). */
    int warmup;           /**< Untimed runs first (>= 0). */
    int repeat;           /**< Timed runs (>= 1). */
    uint64_t seed;        /**< Seed of the random input and weights. */
    bench_pass_t pass;    /**< What a run computes (default: forward). */
} bench_config_t;

/** Timings of a layer. */
typedef struct bench_result {
    char device[64];       /**< Device id the plan ran on. */
    char device_name[128]; /**< Its name. */
    double flops;          /**< tconv_problem_get_flops x bench_pass_flop_multiple. */
    double plan_ms;        /**< tconv_plan_create + tconv_plan_set_weights. */
    double median_ms, min_ms, max_ms;
    double gflops; /**< flops / median. */
    int repeat;
} bench_result_t;

/** Milliseconds on CLOCK_MONOTONIC. */
double bench_now_ms(void);

/** Fills @p count values of @p dtype with uniform numbers in [-1, 1) from a
 *  xorshift generator whose state is @p state (never 0). */
void bench_fill_uniform(void *data, size_t count, tconv_dtype_t dtype, uint64_t *state);

/** Element counts of the input, kernel and output of @p problem.
 *  @returns tconv_invalid_arguments (with a message) if a product overflows. */
tconv_status_t bench_tensor_counts(const tconv_problem_t *problem, size_t *input, size_t *kernel,
                                   size_t *output);

/** The one statistics policy of every timer (tconv and oneDNN alike): sorts
 *  @p times (@p count >= 1 values, ms) in place and stores the median (mean
 *  of the middle two for an even count), the minimum and the maximum. */
void bench_summarize_times(double *times, int count, double *median, double *min, double *max);

/** Runs @p plan @p warmup times, then @p repeat timed times; fills the
 *  timing fields of @p result (median, min, max, gflops from result->flops). */
tconv_status_t bench_time_plan(tconv_plan_t plan, const void *input, void *output, int warmup,
                               int repeat, bench_result_t *result);

/** A layer ready to run: seeded random tensors and a plan with its weights;
 *  the gradients a backward pass needs (dL/dy random, the outputs allocated). */
typedef struct bench_layer {
    tconv_plan_t plan;
    bench_pass_t pass;
    void *input, *kernel, *bias, *output;
    void *grad_output, *grad_input, *grad_kernel, *grad_bias;
} bench_layer_t;

/** Allocates and fills the tensors, creates the plan on config->selector for
 *  config->pass (problem->passes set to what the pass needs) and sets the
 *  weights (config's warmup and repeat are not used). Fills result->flops,
 *  plan_ms, device and device_name.
 *  On failure @p message receives "<stage>: <reason>" and nothing is left
 *  allocated. */
tconv_status_t bench_layer_prepare(tconv_context_t context, const tconv_problem_t *problem,
                                   const bench_config_t *config, bench_layer_t *layer,
                                   bench_result_t *result, char *message, size_t message_size);

/** One run of the layer's pass (tconv_plan_execute, then for training
 *  tconv_plan_execute_backward with every gradient); @p ms receives its wall
 *  time. */
tconv_status_t bench_layer_execute(bench_layer_t *layer, double *ms, char *message,
                                   size_t message_size);

/** Destroys the plan and frees the tensors; safe on a released layer. */
void bench_layer_release(bench_layer_t *layer);

/** The whole benchmark of one layer: random tensors, plan, weights, timing.
 *  On failure @p message receives "<stage>: <reason>" (stage: "plan",
 *  "weights", "execute", "memory"). */
tconv_status_t bench_run_layer(tconv_context_t context, const tconv_problem_t *problem,
                               const bench_config_t *config, bench_result_t *result, char *message,
                               size_t message_size);

#endif /* TCONV_CLI_BENCH_H */
