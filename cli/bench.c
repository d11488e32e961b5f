/* Single-layer timing shared by bench, demo and the benchmark suite. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/monotonic_clock.h"

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
    memset(layer, 0, sizeof *layer);
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

    size_t item = problem->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    size_t n_bias = problem->use_bias ? (size_t)problem->out_channels : 0;
    layer->input = malloc(n_in * item);
    layer->kernel = malloc(n_k * item);
    layer->bias = n_bias ? malloc(n_bias * item) : NULL;
    layer->output = malloc(n_out * item);
    if (!layer->input || !layer->kernel || !layer->output || (n_bias && !layer->bias)) {
        snprintf(message, message_size, "memory: cannot allocate the tensors (%zu bytes)",
                 (n_in + n_k + n_out + n_bias) * item);
        st = tconv_out_of_memory;
        goto failed;
    }
    uint64_t state = config->seed * 0x9e3779b97f4a7c15ull + 1;
    bench_fill_uniform(layer->input, n_in, problem->dtype, &state);
    bench_fill_uniform(layer->kernel, n_k, problem->dtype, &state);
    bench_fill_uniform(layer->bias, n_bias, problem->dtype, &state);

    double start = bench_now_ms();
    st = tconv_plan_create(&layer->plan, context, problem, config->selector);
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
    tconv_status_t st = tconv_plan_execute(layer->plan, layer->input, layer->output);
    *ms = bench_now_ms() - start;
    return st == tconv_success ? st : stage_failed(st, "execute", message, message_size);
}

tconv_status_t bench_run_layer(tconv_context_t context, const tconv_problem_t *problem,
                               const bench_config_t *config, bench_result_t *result, char *message,
                               size_t message_size) {
    bench_layer_t layer;
    tconv_status_t st =
        bench_layer_prepare(context, problem, config, &layer, result, message, message_size);
    if (st != tconv_success)
        return st;
    st = bench_time_plan(layer.plan, layer.input, layer.output, config->warmup, config->repeat,
                         result);
    if (st != tconv_success)
        stage_failed(st, "execute", message, message_size);
    bench_layer_release(&layer);
    return st;
}
