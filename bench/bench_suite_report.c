/* SPDX-License-Identifier: Apache-2.0 */
/* Reports of the benchmark suite: text table, JSON (cli/json.c) and SVG
 * (cli/bench_plot.c), and the figures derived from the timings. */
#include "bench_suite_results.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_plot.h"
#include "json.h"
#include "status.h"

/* The mean of the measurements before and after a run's timed rounds
 * that worked (NaN when neither did). */
static double mean_of_measured(const int ok[2], double before, double after) {
    return ok[0] && ok[1] ? 0.5 * (before + after) : ok[0] ? before : ok[1] ? after : NAN;
}

double suite_layer_peak(const suite_layer_run_t *r) {
    return mean_of_measured(r->peak_ok, r->peak[0].gflops, r->peak[1].gflops);
}

double suite_percent_of_peak(const suite_row_t *row) {
    double peak = suite_layer_peak(row->run);
    if (row->status != tconv_success || !row->device_is_cpu || !(peak > 0))
        return NAN;
    return 100.0 * row->timing.gflops / peak;
}

double suite_layer_bandwidth(const suite_layer_run_t *r) {
    return mean_of_measured(r->bandwidth_ok, r->bandwidth[0].gbytes, r->bandwidth[1].gbytes);
}

double suite_roofline_ms(const suite_layer_run_t *r) {
    const double peak = suite_layer_peak(r), bandwidth = suite_layer_bandwidth(r);
    if (!(peak > 0) || !(bandwidth > 0) || !isfinite(r->bytes))
        return NAN;
    const double compute_ms = r->flops / (peak * 1e6), memory_ms = r->bytes / (bandwidth * 1e6);
    return compute_ms > memory_ms ? compute_ms : memory_ms;
}

double suite_percent_of_roofline(const suite_row_t *row) {
    if (row->status != tconv_success || !row->device_is_cpu || !(row->timing.median_ms > 0))
        return NAN;
    return 100.0 * suite_roofline_ms(row->run) / row->timing.median_ms;
}

double suite_onednn_percent_of_roofline(const suite_layer_run_t *r) {
    if (r->onednn_status != tconv_success || !(r->onednn.median_ms > 0))
        return NAN;
    return 100.0 * suite_roofline_ms(r) / r->onednn.median_ms;
}

double suite_onednn_gflops(const suite_layer_run_t *r) {
    return r->onednn_status == tconv_success && r->onednn.median_ms > 0
               ? r->flops / (r->onednn.median_ms * 1e6)
               : NAN;
}

/* oneDNN ms / tconv ms: above 1, tconv is faster. */
double suite_onednn_ratio(const suite_row_t *row) {
    const suite_layer_run_t *r = row->run;
    if (row->status != tconv_success || r->onednn_status != tconv_success ||
        !(row->timing.median_ms > 0))
        return NAN;
    return r->onednn.median_ms / row->timing.median_ms;
}

static const char *activation_text(const suite_t *s) {
    return s->options.relu ? "relu" : "linear";
}

/* The selected passes, comma-separated. */
static void passes_text(const suite_t *s, char *text, size_t size) {
    size_t used = 0;
    text[0] = '\0';
    for (int p = 0; p < BENCH_PASS_COUNT; p++)
        if (s->options.passes[p] && used < size)
            used += (size_t)snprintf(text + used, size - used, "%s%s", used ? "," : "",
                                     bench_pass_name((bench_pass_t)p));
}

/* A fixed-point column, or "-" for NaN. */
static void print_cell(double value, int width, int decimals, const char *suffix) {
    if (isfinite(value))
        printf(" %*.*f%s", width - (int)strlen(suffix), decimals, value, suffix);
    else
        printf(" %*s", width, "-");
}

void suite_print_table(const suite_t *s) {
    char passes[96];
    passes_text(s, passes, sizeof passes);
    printf("# tconv-bench, %s: float32, channels_last input, bias, activation %s; pass %s\n"
           "# median of %lld runs after %lld warm-ups; peak: %s FMA loop, copy: STREAM-like "
           "memcpy, both on %d threads, measured before and after each layer's timed rounds "
           "(mean)\n"
           "# GFLOP per pass 2*N*Cin*Cout/G*prod(input)*prod(kernel) (training: 3 passes); "
           "roofline = max(GFLOP / peak, bytes of x, y, w once / copy GB/s); %%roof = roofline "
           "/ median\n"
           "# contenders run in interleaved rounds (oneDNN and every device once per round)\n",
           s->date, activation_text(s), passes, (long long)s->options.repeat,
           (long long)s->options.warmup, bench_peak_isa(), bench_peak_threads());
    if (s->with_onednn)
        printf("# %s: deconvolution of the same pass (backward: forward_training hint, diff_bias), "
               "layouts of its choice, reorders untimed; ratio = oneDNN ms / tconv ms (> 1: "
               "tconv faster)\n",
               s->onednn_text);
    else
        printf("# %s\n", s->onednn_text);
    printf("%-13s %-16s %-10s %7s %10s %8s %6s %7s %6s %8s %6s", "layer", "pass", "device", "GFLOP",
           "median_ms", "GFLOP/s", "peak", "%peak", "GB/s", "roof_ms", "%roof");
    if (s->with_onednn)
        printf(" %10s %8s %6s", "oneDNN_ms", "oneDNN/s", "ratio");
    putchar('\n');
    for (int i = 0; i < s->row_count; i++) {
        const suite_row_t *row = &s->rows[i];
        const suite_layer_run_t *r = row->run;
        printf("%-13s %-16s %-10s %7.2f", r->layer->name, bench_pass_name(r->pass), row->device,
               r->flops * 1e-9);
        if (row->status != tconv_success) {
            printf(" failed: %s\n", row->error);
            continue;
        }
        printf(" %10.3f %8.1f", row->timing.median_ms, row->timing.gflops);
        print_cell(suite_layer_peak(r), 6, 0, "");
        print_cell(suite_percent_of_peak(row), 7, 1, "%");
        print_cell(suite_layer_bandwidth(r), 6, 1, "");
        print_cell(suite_roofline_ms(r), 8, 3, "");
        print_cell(suite_percent_of_roofline(row), 6, 0, "%");
        if (s->with_onednn) {
            if (r->onednn_status == tconv_success)
                printf(" %10.3f %8.1f %6.2f", r->onednn.median_ms, suite_onednn_gflops(r),
                       suite_onednn_ratio(row));
            else
                printf(" %10s %8s %6s", "failed", "-", "-");
        }
        putchar('\n');
    }
}

static void json_int3(json_writer_t *w, const char *key, const int64_t v[3]) {
    json_key(w, key);
    json_begin_array(w);
    for (int a = 0; a < 3; a++)
        json_int(w, v[a]);
    json_end_array(w);
}

static void json_layer(json_writer_t *w, const suite_layer_run_t *r) {
    const suite_layer_t *l = r->layer;
    json_begin_object(w);
    json_key(w, "name");
    json_string(w, l->name);
    json_key(w, "pass");
    json_string(w, bench_pass_name(r->pass));
    json_key(w, "origin");
    json_string(w, l->origin);
    json_key(w, "batch");
    json_int(w, l->batch);
    json_key(w, "in_channels");
    json_int(w, l->in_channels);
    json_key(w, "out_channels");
    json_int(w, l->out_channels);
    json_int3(w, "input_size", l->input_size);
    json_int3(w, "kernel_size", l->kernel_size);
    json_int3(w, "strides", l->strides);
    json_key(w, "padding");
    json_int(w, l->padding);
    json_key(w, "output_padding");
    json_int(w, l->output_padding);
    json_key(w, "dilation");
    json_int(w, l->dilation);
    json_int3(w, "output_size", r->canonical.output_size);
    json_key(w, "flops");
    json_number(w, r->flops);
    json_key(w, "bytes");
    json_number(w, r->bytes);
    json_key(w, "peak_gflops_before");
    json_number(w, r->peak_ok[0] ? r->peak[0].gflops : NAN);
    json_key(w, "peak_gflops_after");
    json_number(w, r->peak_ok[1] ? r->peak[1].gflops : NAN);
    json_key(w, "copy_gbytes_before");
    json_number(w, r->bandwidth_ok[0] ? r->bandwidth[0].gbytes : NAN);
    json_key(w, "copy_gbytes_after");
    json_number(w, r->bandwidth_ok[1] ? r->bandwidth[1].gbytes : NAN);
    json_key(w, "roofline_ms");
    json_number(w, suite_roofline_ms(r));
    json_key(w, "onednn");
    if (r->onednn_status == tconv_success) {
        json_begin_object(w);
        json_key(w, "median_ms");
        json_number(w, r->onednn.median_ms);
        json_key(w, "min_ms");
        json_number(w, r->onednn.min_ms);
        json_key(w, "max_ms");
        json_number(w, r->onednn.max_ms);
        json_key(w, "gflops");
        json_number(w, suite_onednn_gflops(r));
        json_key(w, "percent_of_roofline");
        json_number(w, suite_onednn_percent_of_roofline(r));
        json_key(w, "implementation");
        json_string(w, r->onednn.implementation);
        json_end_object(w);
    } else if (r->onednn_error[0]) {
        json_begin_object(w);
        json_key(w, "error");
        json_string(w, r->onednn_error);
        json_end_object(w);
    } else {
        json_null(w);
    }
    json_end_object(w);
}

static void json_row(json_writer_t *w, const suite_row_t *row) {
    const suite_layer_run_t *r = row->run;
    json_begin_object(w);
    json_key(w, "layer");
    json_string(w, r->layer->name);
    json_key(w, "pass");
    json_string(w, bench_pass_name(r->pass));
    json_key(w, "device");
    json_string(w, row->device);
    json_key(w, "device_name");
    json_string(w, row->device_name);
    json_key(w, "ok");
    json_bool(w, row->status == tconv_success);
    if (row->status != tconv_success) {
        json_key(w, "error");
        json_string(w, row->error);
    } else {
        json_key(w, "median_ms");
        json_number(w, row->timing.median_ms);
        json_key(w, "min_ms");
        json_number(w, row->timing.min_ms);
        json_key(w, "max_ms");
        json_number(w, row->timing.max_ms);
        json_key(w, "plan_ms");
        json_number(w, row->timing.plan_ms);
        json_key(w, "gflops");
        json_number(w, row->timing.gflops);
    }
    json_key(w, "flops");
    json_number(w, r->flops);
    json_key(w, "peak_gflops");
    json_number(w, suite_layer_peak(r));
    json_key(w, "percent_of_peak");
    json_number(w, suite_percent_of_peak(row));
    json_key(w, "copy_gbytes");
    json_number(w, suite_layer_bandwidth(r));
    json_key(w, "roofline_ms");
    json_number(w, suite_roofline_ms(r));
    json_key(w, "percent_of_roofline");
    json_number(w, suite_percent_of_roofline(row));
    json_key(w, "onednn_median_ms");
    json_number(w, r->onednn_status == tconv_success ? r->onednn.median_ms : NAN);
    json_key(w, "onednn_gflops");
    json_number(w, suite_onednn_gflops(r));
    json_key(w, "ratio");
    json_number(w, suite_onednn_ratio(row));
    json_end_object(w);
}

void suite_print_json(const suite_t *s) {
    json_writer_t w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key(&w, "suite");
    json_string(&w, "tconv-bench");
    json_key(&w, "tconv_version");
    json_string(&w, tconv_get_version(NULL, NULL, NULL));
    json_key(&w, "date");
    json_string(&w, s->date);
    json_key(&w, "dtype");
    json_string(&w, "float32");
    json_key(&w, "data_format");
    json_string(&w, "channels_last");
    json_key(&w, "bias");
    json_bool(&w, 1);
    json_key(&w, "activation");
    json_string(&w, activation_text(s));
    json_key(&w, "passes");
    json_begin_array(&w);
    for (int p = 0; p < BENCH_PASS_COUNT; p++)
        if (s->options.passes[p])
            json_string(&w, bench_pass_name((bench_pass_t)p));
    json_end_array(&w);
    json_key(&w, "repeat");
    json_int(&w, s->options.repeat);
    json_key(&w, "warmup");
    json_int(&w, s->options.warmup);
    json_key(&w, "seed");
    json_int(&w, s->options.seed);
    json_key(&w, "peak_isa");
    json_string(&w, bench_peak_isa());
    json_key(&w, "threads");
    json_int(&w, bench_peak_threads());
    json_key(&w, "onednn");
    json_string(&w, s->with_onednn ? s->onednn_text : NULL);
    json_key(&w, "layers");
    json_begin_array(&w);
    for (int i = 0; i < s->run_count; i++)
        json_layer(&w, &s->runs[i]);
    json_end_array(&w);
    json_key(&w, "rows");
    json_begin_array(&w);
    for (int i = 0; i < s->row_count; i++)
        json_row(&w, &s->rows[i]);
    json_end_array(&w);
    json_end_object(&w);
    json_finish(&w);
}

/* GFLOP/s per layer and pass (groups) and device (+ oneDNN) with the peak
 * line. A group is named by its layer, and by its pass too when the run
 * has several. */
int suite_write_svg(const suite_t *s) {
    const int series = s->target_count + (s->with_onednn ? 1 : 0);
    const int groups = s->run_count;
    const char **categories = calloc((size_t)groups, sizeof *categories);
    char(*labels)[64] = calloc((size_t)groups, sizeof *labels);
    const char **names = calloc((size_t)series, sizeof *names);
    double *values = calloc((size_t)groups * (size_t)series, sizeof *values);
    double *peaks = calloc((size_t)groups, sizeof *peaks);
    int rc = CLI_EXIT_OK;
    if (!categories || !labels || !names || !values || !peaks) {
        cli_error(SUITE_COMMAND, "--svg: out of memory");
        rc = CLI_EXIT_NO_MEMORY;
        goto done;
    }
    for (int t = 0; t < s->target_count; t++) {
        names[t] = s->targets[t];
        /* A selector names the device it resolved to once one row ran. */
        for (int i = 0; i < groups; i++)
            if (s->rows[i * s->target_count + t].status == tconv_success) {
                names[t] = s->rows[i * s->target_count + t].device;
                break;
            }
    }
    if (s->with_onednn)
        names[s->target_count] = "oneDNN";
    for (int i = 0; i < groups; i++) {
        const suite_layer_run_t *r = &s->runs[i];
        if (s->pass_count > 1)
            snprintf(labels[i], sizeof labels[i], "%s %s", r->layer->name,
                     bench_pass_name(r->pass));
        else
            snprintf(labels[i], sizeof labels[i], "%s", r->layer->name);
        categories[i] = labels[i];
        peaks[i] = suite_layer_peak(r);
        for (int t = 0; t < s->target_count; t++) {
            const suite_row_t *row = &s->rows[i * s->target_count + t];
            values[i * series + t] = row->status == tconv_success ? row->timing.gflops : NAN;
        }
        if (s->with_onednn)
            values[i * series + s->target_count] = suite_onednn_gflops(r);
    }
    char title[160], passes[96], subtitle[320], message[1024];
    passes_text(s, passes, sizeof passes);
    snprintf(title, sizeof title, "tconv-bench: GFLOP/s per layer, pass %s", passes);
    snprintf(subtitle, sizeof subtitle,
             "%s; float32, channels_last input, bias, activation %s; median of %lld runs; "
             "GFLOP per pass as oneDNN counts it (training: 3 passes)",
             s->date, activation_text(s), (long long)s->options.repeat);
    bench_plot_t plot = {
        title,  subtitle, "GFLOP/s", groups, categories,
        series, names,    values,    peaks,  "FMA peak (mean of before and after the layer)"};
    if (bench_plot_write_svg(s->options.svg_path, &plot, message, sizeof message) != 0) {
        const int err = errno;
        cli_error(SUITE_COMMAND, "%s", message);
        rc = cli_exit_code_for_errno(err);
    }
done:
    free(categories);
    free(labels);
    free(names);
    free(values);
    free(peaks);
    return rc;
}
