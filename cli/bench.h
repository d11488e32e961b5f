/* Timing one transposed-convolution layer: random data, a plan on the chosen
 * device, warm-up runs, then the median of timed tconv_plan_execute calls.
 * `tconv bench`, `tconv demo` and the benchmark suite share these. */
#ifndef TCONV_CLI_BENCH_H
#define TCONV_CLI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv.h"

/** How to time a layer. */
typedef struct bench_config {
    const char *selector; /**< Device selector ("auto", "cpu:0", ...). */
    int warmup;           /**< Untimed runs first (>= 0). */
    int repeat;           /**< Timed runs (>= 1). */
    uint64_t seed;        /**< Seed of the random input and weights. */
} bench_config_t;

/** Timings of a layer. */
typedef struct bench_result {
    char device[64];       /**< Device id the plan ran on. */
    char device_name[128]; /**< Its name. */
    double flops;          /**< tconv_problem_get_flops. */
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

/** A layer ready to run: seeded random tensors and a plan with its weights. */
typedef struct bench_layer {
    tconv_plan_t plan;
    void *input, *kernel, *bias, *output;
} bench_layer_t;

/** Allocates and fills the tensors, creates the plan on config->selector and
 *  sets the weights (config's warmup and repeat are not used). Fills
 *  result->flops, plan_ms, device and device_name.
 *  On failure @p message receives "<stage>: <reason>" and nothing is left
 *  allocated. */
tconv_status_t bench_layer_prepare(tconv_context_t context, const tconv_problem_t *problem,
                                   const bench_config_t *config, bench_layer_t *layer,
                                   bench_result_t *result, char *message, size_t message_size);

/** One tconv_plan_execute of @p layer; @p ms receives its wall time. */
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
