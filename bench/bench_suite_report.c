/* Reports of the benchmark suite: text table, JSON (cli/json.c) and SVG
 * (cli/bench_plot.c), and the figures derived from the timings. */
#include "bench_suite_results.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_plot.h"
#include "json.h"
#include "status.h"

/* The peak of a layer: the mean of the measurements before and after its
 * timed rounds (NaN when neither worked). */
double suite_layer_peak(const suite_layer_run_t *r) {
    double sum = 0.0;
    int count = 0;
    for (int i = 0; i < 2; i++)
        if (r->peak_ok[i]) {
            sum += r->peak[i].gflops;
            count++;
        }
    return count ? sum / count : NAN;
}

double suite_percent_of_peak(const suite_row_t *row) {
    double peak = suite_layer_peak(row->run);
    if (row->status != tconv_success || !row->device_is_cpu || !(peak > 0))
        return NAN;
    return 100.0 * row->timing.gflops / peak;
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

void suite_print_table(const suite_t *s) {
    printf("# tconv-bench, %s: float32, channels_last input, bias, activation %s;\n"
           "# median of %lld runs after %lld warm-ups; peak: %s FMA loop on %d threads, measured "
           "before and after each layer's timed rounds (mean)\n"
           "# contenders run in interleaved rounds (oneDNN and every device once per round)\n",
           s->date, activation_text(s), (long long)s->options.repeat, (long long)s->options.warmup,
           bench_peak_isa(), bench_peak_threads());
    if (s->with_onednn)
        printf("# %s: deconvolution forward, layouts of its choice, reorders untimed; "
               "ratio = oneDNN ms / tconv ms (> 1: tconv faster)\n",
               s->onednn_text);
    else
        printf("# %s\n", s->onednn_text);
    printf("%-13s %-10s %7s %10s %8s %6s %7s", "layer", "device", "GFLOP", "median_ms", "GFLOP/s",
           "peak", "%peak");
    if (s->with_onednn)
        printf(" %10s %8s %6s", "oneDNN_ms", "oneDNN/s", "ratio");
    putchar('\n');
    for (int i = 0; i < s->row_count; i++) {
        const suite_row_t *row = &s->rows[i];
        const suite_layer_run_t *r = row->run;
        printf("%-13s %-10s %7.2f", r->layer->name, row->device, r->flops * 1e-9);
        if (row->status != tconv_success) {
            printf(" failed: %s\n", row->error);
            continue;
        }
        double pct = suite_percent_of_peak(row);
        printf(" %10.3f %8.1f", row->timing.median_ms, row->timing.gflops);
        if (isfinite(suite_layer_peak(r)))
            printf(" %6.0f", suite_layer_peak(r));
        else
            printf(" %6s", "-");
        if (isfinite(pct))
            printf(" %6.1f%%", pct);
        else
            printf(" %7s", "-");
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
    json_key(w, "peak_gflops_before");
    json_number(w, r->peak_ok[0] ? r->peak[0].gflops : NAN);
    json_key(w, "peak_gflops_after");
    json_number(w, r->peak_ok[1] ? r->peak[1].gflops : NAN);
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
    for (int i = 0; i < s->layer_count; i++)
        json_layer(&w, &s->layers[i]);
    json_end_array(&w);
    json_key(&w, "rows");
    json_begin_array(&w);
    for (int i = 0; i < s->row_count; i++)
        json_row(&w, &s->rows[i]);
    json_end_array(&w);
    json_end_object(&w);
    json_finish(&w);
}

/* GFLOP/s per layer (groups) and device (+ oneDNN) with the peak line. */
int suite_write_svg(const suite_t *s) {
    const int series = s->target_count + (s->with_onednn ? 1 : 0);
    const char **categories = calloc((size_t)s->layer_count, sizeof *categories);
    const char **names = calloc((size_t)series, sizeof *names);
    double *values = calloc((size_t)s->layer_count * (size_t)series, sizeof *values);
    double *peaks = calloc((size_t)s->layer_count, sizeof *peaks);
    int rc = CLI_EXIT_OK;
    if (!categories || !names || !values || !peaks) {
        cli_error(SUITE_COMMAND, "--svg: out of memory");
        rc = CLI_EXIT_NO_MEMORY;
        goto done;
    }
    for (int t = 0; t < s->target_count; t++) {
        names[t] = s->targets[t];
        /* A selector names the device it resolved to once one row ran. */
        for (int i = 0; i < s->layer_count; i++)
            if (s->rows[i * s->target_count + t].status == tconv_success) {
                names[t] = s->rows[i * s->target_count + t].device;
                break;
            }
    }
    if (s->with_onednn)
        names[s->target_count] = "oneDNN";
    for (int i = 0; i < s->layer_count; i++) {
        const suite_layer_run_t *r = &s->layers[i];
        categories[i] = r->layer->name;
        peaks[i] = suite_layer_peak(r);
        for (int t = 0; t < s->target_count; t++) {
            const suite_row_t *row = &s->rows[i * s->target_count + t];
            values[i * series + t] = row->status == tconv_success ? row->timing.gflops : NAN;
        }
        if (s->with_onednn)
            values[i * series + s->target_count] = suite_onednn_gflops(r);
    }
    char subtitle[256], message[1024];
    snprintf(subtitle, sizeof subtitle,
             "%s; float32, channels_last input, bias, activation %s; median of %lld runs", s->date,
             activation_text(s), (long long)s->options.repeat);
    bench_plot_t plot = {"tconv-bench: GFLOP/s per layer",
                         subtitle,
                         "GFLOP/s",
                         s->layer_count,
                         categories,
                         series,
                         names,
                         values,
                         peaks,
                         "FMA peak (mean of before and after the layer)"};
    if (bench_plot_write_svg(s->options.svg_path, &plot, message, sizeof message) != 0) {
        const int err = errno;
        cli_error(SUITE_COMMAND, "%s", message);
        rc = cli_exit_code_for_errno(err);
    }
done:
    free(categories);
    free(names);
    free(values);
    free(peaks);
    return rc;
}
