/* SPDX-License-Identifier: Apache-2.0 */
/* Single-layer timing shared by bench, demo and the benchmark suite. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/monotonic_clock.h"

static const char *const pass_names[BENCH_PASS_COUNT] = {"forward", "backward_data",
                                                         "backward_weights", "training"};

const char *bench_pass_name(bench_pass_t pass) {
    return (unsigned)pass < BENCH_PASS_COUNT ? pass_names[pass] : "?";
}

int bench_pass_parse(const char *text, bench_pass_t *pass) {
    for (int i = 0; i < BENCH_PASS_COUNT; i++)
        if (strcmp(text, pass_names[i]) == 0) {
            *pass = (bench_pass_t)i;
            return 0;
        }
    return -1;
}

const char *bench_pass_choices(void) {
    return "forward|backward_data|backward_weights|training";
}

int bench_pass_flop_multiple(bench_pass_t pass) {
    return pass == BENCH_PASS_TRAINING ? 3 : 1;
}

/* The plan passes a run of @p pass needs. */
static uint32_t pass_bits(bench_pass_t pass) {
    switch (pass) {
    case BENCH_PASS_BACKWARD_DATA:
        return TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_DATA;
    case BENCH_PASS_BACKWARD_WEIGHTS:
        return TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_WEIGHTS;
    case BENCH_PASS_TRAINING:
        return TCONV_PASS_TRAINING;
    default:
        return TCONV_PASS_FORWARD;
    }
}

double bench_now_ms(void) {
    return tconv_monotonic_seconds() * 1e3;
}

void bench_fill_uniform(void *data, size_t count, tconv_dtype_t dtype, uint64_t *state) {
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
        if (dtype == tconv_f64)
            ((double *)data)[i] = u;
        else
            ((float *)data)[i] = (float)u;
    }
    *state = x;
}

static int product(const int64_t *dims, int ndims, size_t *count) {
    size_t n = 1;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] < 0 || (dims[i] != 0 && n > SIZE_MAX / 8 / (size_t)dims[i]))
            return -1;
        n *= (size_t)dims[i];
    }
    *count = n;
    return 0;
}

tconv_status_t bench_tensor_counts(const tconv_problem_t *problem, size_t *input, size_t *kernel,
                                   size_t *output) {
    int64_t in_dims[TCONV_MAX_DIMS], k_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims = 0;
    tconv_status_t st = tconv_problem_get_shapes(problem, in_dims, k_dims, out_dims, &ndims);
    if (st != tconv_success)
        return st;
    if (product(in_dims, ndims, input) || product(k_dims, ndims, kernel) ||
        product(out_dims, ndims, output))
        return tconv_invalid_arguments;
    return tconv_success;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_summarize_times(double *times, int count, double *median, double *min, double *max) {
    qsort(times, (size_t)count, sizeof(double), compare_double);
    *min = times[0];
    *max = times[count - 1];
    *median = count % 2 ? times[count / 2] : 0.5 * (times[count / 2 - 1] + times[count / 2]);
}

tconv_status_t bench_time_plan(tconv_plan_t plan, const void *input, void *output, int warmup,
                               int repeat, bench_result_t *result) {
    double *times = malloc(sizeof(double) * (size_t)(repeat > 0 ? repeat : 1));
    if (!times)
        return tconv_out_of_memory;
    tconv_status_t st = tconv_success;
    for (int i = 0; i < warmup && st == tconv_success; i++)
        st = tconv_plan_execute(plan, input, output);
    for (int i = 0; i < repeat && st == tconv_success; i++) {
        double start = bench_now_ms();
        st = tconv_plan_execute(plan, input, output);
        times[i] = bench_now_ms() - start;
    }
    if (st == tconv_success && repeat > 0) {
        bench_summarize_times(times, repeat, &result->median_ms, &result->min_ms, &result->max_ms);
        result->repeat = repeat;
        result->gflops = result->median_ms > 0 ? result->flops / (result->median_ms * 1e6) : 0.0;
    }
    free(times);
    return st;
}

static tconv_status_t stage_failed(tconv_status_t st, const char *stage, char *message,
                                   size_t size) {
    const char *text = tconv_get_last_error();
    snprintf(message, size, "%s: %s", stage,
             st == tconv_out_of_memory && (!text || !*text) ? "out of memory"
             : text && *text                                ? text
                                                            : tconv_status_name(st));
    return st;
}

void bench_layer_release(bench_layer_t *layer) {
    tconv_plan_destroy(layer->plan);
    free(layer->input);
    free(layer->kernel);
    free(layer->bias);
    free(layer->output);
    free(layer->grad_output);
    free(layer->grad_input);
    free(layer->grad_kernel);
    free(layer->grad_bias);
    memset(layer, 0, sizeof *layer);
}

/* A tensor's memory, 64-byte aligned as frameworks allocate theirs (PyTorch's
 * CPU allocator does) and as oneDNN allocates its own side's: malloc's large
 * blocks start 16 bytes past a page, so every vector store of a
 * channels_last row would straddle two cache lines (gan_g5's backward data,
 * 134 MB of dL/dx: 3% more CPU time than from an aligned buffer). Released
 * with free. */
static void *tensor_alloc(size_t bytes) {
    return bytes > SIZE_MAX - 63 ? NULL : aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

/* The gradients the pass reads (dL/dy, random) and writes. */
static int allocate_gradients(bench_layer_t *layer, size_t n_in, size_t n_k, size_t n_out,
                              size_t n_bias, size_t item) {
    const bench_pass_t pass = layer->pass;
    if (pass == BENCH_PASS_FORWARD)
        return 0;
    layer->grad_output = tensor_alloc(n_out * item);
    if (pass != BENCH_PASS_BACKWARD_WEIGHTS)
        layer->grad_input = tensor_alloc(n_in * item);
    if (pass != BENCH_PASS_BACKWARD_DATA) {
        layer->grad_kernel = tensor_alloc(n_k * item);
        layer->grad_bias = n_bias ? tensor_alloc(n_bias * item) : NULL;
    }
    return !layer->grad_output || (pass != BENCH_PASS_BACKWARD_WEIGHTS && !layer->grad_input) ||
                   (pass != BENCH_PASS_BACKWARD_DATA &&
                    (!layer->grad_kernel || (n_bias && !layer->grad_bias)))
               ? -1
               : 0;
}

tconv_status_t bench_layer_prepare(tconv_context_t context, const tconv_problem_t *problem,
                                   const bench_config_t *config, bench_layer_t *layer,
                                   bench_result_t *result, char *message, size_t message_size) {
    memset(layer, 0, sizeof *layer);
    memset(result, 0, sizeof *result);
    size_t n_in, n_k, n_out;
    tconv_status_t st = bench_tensor_counts(problem, &n_in, &n_k, &n_out);
    if (st != tconv_success)
        return stage_failed(st, "shapes", message, message_size);
    st = tconv_problem_get_flops(problem, &result->flops);
    if (st != tconv_success)
        return stage_failed(st, "flops", message, message_size);
    result->flops *= bench_pass_flop_multiple(config->pass);
    tconv_problem_t for_pass = *problem;
    for_pass.passes = pass_bits(config->pass);
    layer->pass = config->pass;

    size_t item = problem->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    size_t n_bias = problem->use_bias ? (size_t)problem->out_channels : 0;
    layer->input = tensor_alloc(n_in * item);
    layer->kernel = tensor_alloc(n_k * item);
    layer->bias = n_bias ? tensor_alloc(n_bias * item) : NULL;
    layer->output = tensor_alloc(n_out * item);
    if (!layer->input || !layer->kernel || !layer->output || (n_bias && !layer->bias) ||
        allocate_gradients(layer, n_in, n_k, n_out, n_bias, item) != 0) {
        snprintf(message, message_size, "memory: cannot allocate the tensors of the %s pass",
                 bench_pass_name(config->pass));
        st = tconv_out_of_memory;
        goto failed;
    }
    uint64_t state = config->seed * 0x9e3779b97f4a7c15ull + 1;
    bench_fill_uniform(layer->input, n_in, problem->dtype, &state);
    bench_fill_uniform(layer->kernel, n_k, problem->dtype, &state);
    bench_fill_uniform(layer->bias, n_bias, problem->dtype, &state);
    if (layer->grad_output)
        bench_fill_uniform(layer->grad_output, n_out, problem->dtype, &state);

    double start = bench_now_ms();
    st = tconv_plan_create(&layer->plan, context, &for_pass, config->selector);
    if (st != tconv_success) {
        stage_failed(st, "plan", message, message_size);
        goto failed;
    }
    st = tconv_plan_set_weights(layer->plan, layer->kernel, layer->bias);
    if (st != tconv_success) {
        stage_failed(st, "weights", message, message_size);
        goto failed;
    }
    result->plan_ms = bench_now_ms() - start;
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    if (tconv_plan_get_device_info(layer->plan, &info) == tconv_success) {
        snprintf(result->device, sizeof result->device, "%s", info.id);
        snprintf(result->device_name, sizeof result->device_name, "%s", info.name);
    }
    return tconv_success;
failed:
    bench_layer_release(layer);
    return st;
}

tconv_status_t bench_layer_execute(bench_layer_t *layer, double *ms, char *message,
                                   size_t message_size) {
    double start = bench_now_ms();
    tconv_status_t st = tconv_success;
    const char *stage = "execute";
    if (layer->pass == BENCH_PASS_FORWARD || layer->pass == BENCH_PASS_TRAINING)
        st = tconv_plan_execute(layer->plan, layer->input, layer->output);
    if (st == tconv_success && layer->pass != BENCH_PASS_FORWARD) {
        stage = "execute_backward";
        st = tconv_plan_execute_backward(layer->plan, layer->input, layer->grad_output,
                                         layer->grad_input, layer->grad_kernel, layer->grad_bias);
    }
    *ms = bench_now_ms() - start;
    return st == tconv_success ? st : stage_failed(st, stage, message, message_size);
}

tconv_status_t bench_run_layer(tconv_context_t context, const tconv_problem_t *problem,
                               const bench_config_t *config, bench_result_t *result, char *message,
                               size_t message_size) {
    bench_layer_t layer;
    tconv_status_t st =
        bench_layer_prepare(context, problem, config, &layer, result, message, message_size);
    if (st != tconv_success)
        return st;
    const int repeat = config->repeat > 0 ? config->repeat : 1;
    double *times = malloc(sizeof(double) * (size_t)repeat);
    if (!times) {
        bench_layer_release(&layer);
        snprintf(message, message_size, "memory: cannot allocate %d timing records", repeat);
        return tconv_out_of_memory;
    }
    double ms = 0.0;
    for (int i = 0; i < config->warmup && st == tconv_success; i++)
        st = bench_layer_execute(&layer, &ms, message, message_size);
    for (int i = 0; i < repeat && st == tconv_success; i++)
        st = bench_layer_execute(&layer, &times[i], message, message_size);
    if (st == tconv_success) {
        bench_summarize_times(times, repeat, &result->median_ms, &result->min_ms, &result->max_ms);
        result->repeat = repeat;
        result->gflops = result->median_ms > 0 ? result->flops / (result->median_ms * 1e6) : 0.0;
    }
    free(times);
    bench_layer_release(&layer);
    return st;
}
