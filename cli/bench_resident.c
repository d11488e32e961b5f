/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv bench --resident` (see bench_resident.h). Each round times, on
 * every device in turn and in a rotating order so that no way always runs
 * first:
 *   resident     three tconv_plan_enqueue calls on device buffers, one
 *                tconv_plan_wait: the tensors stay on the device;
 *   resident_io  the same with the input written before (tconv_buffer_write)
 *                and the output read after (tconv_buffer_read);
 *   host         three tconv_plan_execute calls on host arrays.
 * The same plans serve every way; the last layer's outputs of resident and
 * host are compared at the end. */
#include "bench_resident.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "json.h"
#include "npy.h"
#include "status.h"

#define COMMAND "tconv bench"
#define LAYERS  3
#define WAYS    3

typedef struct decoder_layer {
    const char *name;
    const char *origin;
    int64_t in_channels, out_channels, kernel, stride, pads, output_padding;
    tconv_activation_t activation;
} decoder_layer_t;

/* tconv-bench's keras_k3s2, then nnunet_up1's channels at k2 s2, then a
 * 3D-GAN-like output layer (Cout 1, k4 s2 p1): each layer doubles every
 * spatial length. */
static const decoder_layer_t decoder[LAYERS] = {
    {"keras_k3s2", "tconv-bench's Keras k3 s2 same", 128, 64, 3, 2, 1, 1, tconv_activation_relu},
    {"up_k2s2", "nnU-Net-like k2 s2", 64, 32, 2, 2, 0, 0, tconv_activation_relu},
    {"out_k4s2", "3D-GAN-like output, k4 s2 p1", 32, 1, 4, 2, 1, 0, tconv_activation_linear},
};
static const int64_t decoder_input[3] = {16, 32, 32};

static const char *const way_names[WAYS] = {"resident", "resident_io", "host"};

void bench_resident_usage(FILE *out) {
    fprintf(
        out,
        "  --resident                a 3-layer decoder, input (N, %lld, %lld, %lld, %lld), with\n"
        "                            its tensors on the device vs through host memory:\n",
        (long long)decoder_input[0], (long long)decoder_input[1], (long long)decoder_input[2],
        (long long)decoder[0].in_channels);
    for (int l = 0; l < LAYERS; l++)
        fprintf(out, "                              %-10s %lld->%lld k%lld s%lld (%s)\n",
                decoder[l].name, (long long)decoder[l].in_channels,
                (long long)decoder[l].out_channels, (long long)decoder[l].kernel,
                (long long)decoder[l].stride, decoder[l].origin);
    fputs("  --devices LIST            with --resident: the devices to compare, comma-separated\n"
          "                            (default: --device)\n"
          "  --batch N                 with --resident: samples per layer (default 1)\n",
          out);
}

static void layer_problem(int l, const bench_resident_config_t *config, tconv_problem_t *p) {
    const decoder_layer_t *d = &decoder[l];
    tconv_problem_init(p, 3);
    p->dtype = config->dtype;
    p->batch = config->batch;
    p->in_channels = d->in_channels;
    p->out_channels = d->out_channels;
    p->padding = tconv_padding_explicit;
    p->has_output_padding = 1;
    int64_t length[3] = {decoder_input[0], decoder_input[1], decoder_input[2]};
    for (int before = 0; before < l; before++)
        for (int a = 0; a < 3; a++)
            length[a] = (length[a] - 1) * decoder[before].stride - 2 * decoder[before].pads +
                        decoder[before].kernel + decoder[before].output_padding;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = length[a];
        p->kernel_size[a] = d->kernel;
        p->strides[a] = d->stride;
        p->pads_begin[a] = p->pads_end[a] = d->pads;
        p->output_padding[a] = d->output_padding;
    }
    p->data_format = tconv_channels_last;
    p->kernel_layout = tconv_kernel_keras;
    p->use_bias = 1;
    p->activation = d->activation;
}

/* One device: plans, host arrays and buffers of the activations (0 the
 * input, l+1 layer l's output), and the times of each way. */
typedef struct device_run {
    const char *selector;
    char id[64], name[128];
    tconv_plan_t plans[LAYERS];
    void *host[LAYERS + 1];
    tconv_buffer_t buffers[LAYERS + 1];
    size_t bytes[LAYERS + 1];
    double *times[WAYS];
    double median[WAYS], min[WAYS], max[WAYS];
    double max_abs_diff;
    int equal;
} device_run_t;

/* "<device>: <stage>: <last error>", printed; the exit code. */
static int failed(const device_run_t *run, const char *stage, tconv_status_t st) {
    const char *text = tconv_get_last_error();
    cli_error(COMMAND, "--resident on %s: %s: %s", run->id[0] ? run->id : run->selector, stage,
              text && *text ? text : tconv_status_name(st));
    return cli_exit_code(st);
}

static void run_release(device_run_t *run) {
    for (int i = 0; i <= LAYERS; i++) {
        tconv_buffer_destroy(run->buffers[i]);
        free(run->host[i]);
    }
    for (int l = 0; l < LAYERS; l++)
        tconv_plan_destroy(run->plans[l]);
    for (int w = 0; w < WAYS; w++)
        free(run->times[w]);
}

/* Plans with random weights, the input, host arrays and buffers. */
static int run_prepare(tconv_context_t ctx, const bench_resident_config_t *config,
                       device_run_t *run) {
    uint64_t state = config->seed * 0x9e3779b97f4a7c15ull + 1;
    for (int w = 0; w < WAYS; w++) {
        run->times[w] = malloc(sizeof(double) * (size_t)config->repeat);
        if (!run->times[w])
            return failed(run, "memory", tconv_out_of_memory);
    }
    for (int l = 0; l < LAYERS; l++) {
        tconv_problem_t p;
        layer_problem(l, config, &p);
        size_t n_in = 0, n_k = 0, n_out = 0;
        tconv_status_t st = bench_tensor_counts(&p, &n_in, &n_k, &n_out);
        if (st != tconv_success)
            return failed(run, "shapes", st);
        const size_t item = p.dtype == tconv_f64 ? sizeof(double) : sizeof(float);
        if (l == 0) {
            run->bytes[0] = n_in * item;
            run->host[0] = malloc(run->bytes[0]);
            if (!run->host[0])
                return failed(run, "memory", tconv_out_of_memory);
            bench_fill_uniform(run->host[0], n_in, p.dtype, &state);
        }
        run->bytes[l + 1] = n_out * item;
        run->host[l + 1] = malloc(run->bytes[l + 1]);
        void *kernel = malloc(n_k * item), *bias = malloc((size_t)p.out_channels * item);
        if (!run->host[l + 1] || !kernel || !bias) {
            free(kernel);
            free(bias);
            return failed(run, "memory", tconv_out_of_memory);
        }
        bench_fill_uniform(kernel, n_k, p.dtype, &state);
        bench_fill_uniform(bias, (size_t)p.out_channels, p.dtype, &state);
        st = tconv_plan_create(&run->plans[l], ctx, &p, run->selector);
        if (st == tconv_success)
            st = tconv_plan_set_weights(run->plans[l], kernel, bias);
        free(kernel);
        free(bias);
        if (st != tconv_success)
            return failed(run, decoder[l].name, st);
    }
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (tconv_plan_get_device_info(run->plans[0], &info) == tconv_success) {
        snprintf(run->id, sizeof run->id, "%s", info.id);
        snprintf(run->name, sizeof run->name, "%s", info.name);
    }
    for (int i = 0; i <= LAYERS; i++) {
        tconv_status_t st =
            tconv_buffer_create(&run->buffers[i], run->plans[i ? i - 1 : 0], run->bytes[i]);
        if (st != tconv_success)
            return failed(run, "buffers", st);
    }
    tconv_status_t st = tconv_buffer_write(run->buffers[0], 0, run->host[0], run->bytes[0]);
    return st == tconv_success ? 0 : failed(run, "input upload", st);
}

/* One timed run of @p way; *ms receives its wall time. */
static tconv_status_t run_way(device_run_t *run, int way, double *ms, const char **stage) {
    double start = bench_now_ms();
    tconv_status_t st = tconv_success;
    if (way == 2) {
        *stage = "tconv_plan_execute";
        for (int l = 0; l < LAYERS && st == tconv_success; l++)
            st = tconv_plan_execute(run->plans[l], run->host[l], run->host[l + 1]);
    } else {
        *stage = "tconv_buffer_write";
        if (way == 1)
            st = tconv_buffer_write(run->buffers[0], 0, run->host[0], run->bytes[0]);
        for (int l = 0; l < LAYERS && st == tconv_success; l++) {
            *stage = "tconv_plan_enqueue";
            st = tconv_plan_enqueue(run->plans[l], run->buffers[l], run->buffers[l + 1]);
        }
        if (st == tconv_success && way == 0) {
            *stage = "tconv_plan_wait";
            st = tconv_plan_wait(run->plans[LAYERS - 1]);
        } else if (st == tconv_success) {
            *stage = "tconv_buffer_read";
            st = tconv_buffer_read(run->buffers[LAYERS], 0, run->host[LAYERS], run->bytes[LAYERS]);
        }
    }
    *ms = bench_now_ms() - start;
    return st;
}

/* The last layer's output on the device against the host way's. */
static int compare_outputs(device_run_t *run, tconv_dtype_t dtype) {
    const size_t bytes = run->bytes[LAYERS];
    void *device = malloc(bytes);
    if (!device)
        return failed(run, "memory", tconv_out_of_memory);
    const char *stage = "";
    double ms = 0;
    tconv_status_t st = run_way(run, 2, &ms, &stage); /* host arrays: the host way's output */
    if (st == tconv_success)
        st = tconv_buffer_read(run->buffers[LAYERS], 0, device, bytes);
    if (st != tconv_success) {
        free(device);
        return failed(run, "comparing the outputs", st);
    }
    run->equal = memcmp(device, run->host[LAYERS], bytes) == 0;
    run->max_abs_diff = 0;
    const size_t count = bytes / (dtype == tconv_f64 ? sizeof(double) : sizeof(float));
    for (size_t i = 0; i < count; i++) {
        double a = dtype == tconv_f64 ? ((double *)device)[i] : ((float *)device)[i];
        double b =
            dtype == tconv_f64 ? ((double *)run->host[LAYERS])[i] : ((float *)run->host[LAYERS])[i];
        if (fabs(a - b) > run->max_abs_diff || isnan(a - b))
            run->max_abs_diff = fabs(a - b);
    }
    free(device);
    return 0;
}

static void shape_text(int l, int output, const bench_resident_config_t *config, char *text,
                       size_t size) {
    tconv_problem_t p;
    layer_problem(l, config, &p);
    int64_t in_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims = 0;
    snprintf(text, size, "?");
    if (tconv_problem_get_shapes(&p, in_dims, NULL, out_dims, &ndims) == tconv_success)
        npy_shape_text(output ? out_dims : in_dims, ndims, text, size);
}

static double decoder_flops(const bench_resident_config_t *config) {
    double total = 0;
    for (int l = 0; l < LAYERS; l++) {
        tconv_problem_t p;
        layer_problem(l, config, &p);
        double flops = 0;
        if (tconv_problem_get_flops(&p, &flops) == tconv_success)
            total += flops;
    }
    return total;
}

static void print_text(const bench_resident_config_t *config, const device_run_t *runs) {
    char in_text[96], out_text[96];
    printf("decoder (%s, batch %lld, %.2f GFLOP):\n",
           config->dtype == tconv_f64 ? "float64" : "float32", (long long)config->batch,
           decoder_flops(config) * 1e-9);
    for (int l = 0; l < LAYERS; l++) {
        shape_text(l, 0, config, in_text, sizeof in_text);
        shape_text(l, 1, config, out_text, sizeof out_text);
        printf("  %-10s %s -> %s  (%s)\n", decoder[l].name, in_text, out_text, decoder[l].origin);
    }
    printf("median (min-max) of %d interleaved rounds after %d warm-up, ms:\n", config->repeat,
           config->warmup);
    printf("  %-10s %-29s %-29s %-29s %s\n", "device", "resident (enqueue x3, wait)",
           "resident_io (+write, read)", "host (execute x3)", "host/resident");
    for (int d = 0; d < config->device_count; d++) {
        const device_run_t *r = &runs[d];
        char cells[WAYS][48];
        for (int w = 0; w < WAYS; w++)
            snprintf(cells[w], sizeof cells[w], "%.2f (%.2f-%.2f)", r->median[w], r->min[w],
                     r->max[w]);
        printf("  %-10s %-29s %-29s %-29s %.2fx\n", r->id, cells[0], cells[1], cells[2],
               r->median[0] > 0 ? r->median[2] / r->median[0] : 0.0);
    }
    for (int d = 0; d < config->device_count; d++)
        printf("  %s: %s; outputs %s (max |diff| %.3g)\n", runs[d].id, runs[d].name,
               runs[d].equal ? "bitwise equal" : "differ", runs[d].max_abs_diff);
}

static void print_json(const bench_resident_config_t *config, const device_run_t *runs) {
    json_writer_t w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key(&w, "benchmark");
    json_string(&w, "resident");
    json_key(&w, "dtype");
    json_string(&w, config->dtype == tconv_f64 ? "float64" : "float32");
    json_key(&w, "batch");
    json_int(&w, config->batch);
    json_key(&w, "flops");
    json_number(&w, decoder_flops(config));
    json_key(&w, "warmup");
    json_int(&w, config->warmup);
    json_key(&w, "repeat");
    json_int(&w, config->repeat);
    json_key(&w, "layers");
    json_begin_array(&w);
    for (int l = 0; l < LAYERS; l++) {
        char in_text[96], out_text[96];
        shape_text(l, 0, config, in_text, sizeof in_text);
        shape_text(l, 1, config, out_text, sizeof out_text);
        json_begin_object(&w);
        json_key(&w, "name");
        json_string(&w, decoder[l].name);
        json_key(&w, "input_shape");
        json_string(&w, in_text);
        json_key(&w, "output_shape");
        json_string(&w, out_text);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key(&w, "devices");
    json_begin_array(&w);
    for (int d = 0; d < config->device_count; d++) {
        const device_run_t *r = &runs[d];
        json_begin_object(&w);
        json_key(&w, "device");
        json_string(&w, r->id);
        json_key(&w, "device_name");
        json_string(&w, r->name);
        for (int k = 0; k < WAYS; k++) {
            json_key(&w, way_names[k]);
            json_begin_object(&w);
            json_key(&w, "median_ms");
            json_number(&w, r->median[k]);
            json_key(&w, "min_ms");
            json_number(&w, r->min[k]);
            json_key(&w, "max_ms");
            json_number(&w, r->max[k]);
            json_end_object(&w);
        }
        json_key(&w, "host_over_resident");
        json_number(&w, r->median[0] > 0 ? r->median[2] / r->median[0] : 0.0);
        json_key(&w, "outputs_equal");
        json_bool(&w, r->equal);
        json_key(&w, "max_abs_diff");
        json_number(&w, r->max_abs_diff);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
    json_finish(&w);
}

int bench_resident_run(const bench_resident_config_t *config) {
    tconv_context_t ctx = NULL;
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    device_run_t *runs = calloc((size_t)config->device_count, sizeof *runs);
    if (!runs) {
        tconv_context_destroy(ctx);
        return cli_fail_status(COMMAND, "--resident", tconv_out_of_memory);
    }
    int rc = 0;
    for (int d = 0; d < config->device_count && rc == 0; d++) {
        runs[d].selector = config->devices[d];
        rc = run_prepare(ctx, config, &runs[d]);
    }
    /* Rounds: every device, every way, the ways' order rotating. */
    const int rounds = config->warmup + config->repeat;
    for (int r = 0; r < rounds && rc == 0; r++)
        for (int d = 0; d < config->device_count && rc == 0; d++)
            for (int k = 0; k < WAYS && rc == 0; k++) {
                const int way = (k + r) % WAYS;
                const char *stage = "";
                double ms = 0;
                st = run_way(&runs[d], way, &ms, &stage);
                if (st != tconv_success)
                    rc = failed(&runs[d], stage, st);
                else if (r >= config->warmup)
                    runs[d].times[way][r - config->warmup] = ms;
            }
    for (int d = 0; d < config->device_count && rc == 0; d++) {
        for (int k = 0; k < WAYS; k++)
            bench_summarize_times(runs[d].times[k], config->repeat, &runs[d].median[k],
                                  &runs[d].min[k], &runs[d].max[k]);
        rc = compare_outputs(&runs[d], config->dtype);
    }
    if (rc == 0 && config->json)
        print_json(config, runs);
    else if (rc == 0)
        print_text(config, runs);
    for (int d = 0; d < config->device_count; d++)
        run_release(&runs[d]);
    free(runs);
    tconv_context_destroy(ctx);
    return rc;
}
