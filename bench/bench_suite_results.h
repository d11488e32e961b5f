/* SPDX-License-Identifier: Apache-2.0 */
/* The benchmark suite's results (bench_suite.c fills them) and their
 * reports: the text table, the JSON object and the SVG chart. */
#ifndef TCONV_BENCH_SUITE_RESULTS_H
#define TCONV_BENCH_SUITE_RESULTS_H

#include <stdint.h>

#include "bench.h"
#include "bench_peak.h"
#include "tconv/tconv.h"

#define SUITE_COMMAND "tconv-bench"

/* Most layers the suite's table may hold. */
#define SUITE_MAX_LAYERS 16
/* Most (layer, pass) runs of one invocation. */
#define SUITE_MAX_RUNS (SUITE_MAX_LAYERS * BENCH_PASS_COUNT)

/* One decoder/generator layer as its network states it, PyTorch-style: a
 * symmetric explicit crop "padding" on every axis and "output_padding" at
 * the end; input channels_last, bias on, float32. */
typedef struct suite_layer {
    const char *name;
    const char *origin;
    int64_t batch, in_channels, out_channels;
    int64_t input_size[3]; /* D, H, W */
    int64_t kernel_size[3];
    int64_t strides[3];
    int64_t padding, output_padding, dilation;
} suite_layer_t;

/* The command line of tconv-bench. */
typedef struct suite_options {
    const char *device; /* "all" or a selector */
    int64_t repeat, warmup, seed;
    int json, relu;
    const char *svg_path;
    int selected[SUITE_MAX_LAYERS]; /* by --layers; all when not given */
    int passes[BENCH_PASS_COUNT];   /* by --pass; forward when not given */
} suite_options_t;

/* oneDNN's timing of a layer. */
typedef struct onednn_timing {
    double median_ms, min_ms, max_ms;
    char implementation[128];
} onednn_timing_t;

/* A pass of a layer, the machine's ceilings around its timed rounds and its
 * oneDNN timing. */
typedef struct suite_layer_run {
    const suite_layer_t *layer;
    bench_pass_t pass;
    tconv_problem_t problem;
    tconv_canonical_t canonical;
    double flops; /* the layer's count x bench_pass_flop_multiple */
    double bytes; /* input + output + weights (+ bias) once, x the same multiple */
    int peak_ok[2];
    bench_peak_t peak[2]; /* right before and right after the timed rounds */
    int bandwidth_ok[2];
    bench_bandwidth_t bandwidth[2]; /* likewise */
    tconv_status_t onednn_status;   /* tconv_unimplemented when not built in */
    onednn_timing_t onednn;
    char onednn_error[256];
} suite_layer_run_t;

/* One pass of a layer on one device. */
typedef struct suite_row {
    const suite_layer_run_t *run;
    char device[64], device_name[128];
    int device_is_cpu; /* % of the host's peak only means something there */
    tconv_status_t status;
    char error[1024];
    bench_result_t timing;
} suite_row_t;

typedef struct suite {
    suite_options_t options;
    tconv_context_t context;
    char (*targets)[64]; /* selectors: every device id, or the one --device */
    int target_count;
    suite_layer_run_t runs[SUITE_MAX_RUNS]; /* layer by layer, each selected pass in turn */
    int run_count;
    int pass_count; /* selected passes */
    suite_row_t *rows;
    int row_count;
    int with_onednn;
    char onednn_text[128];
    char date[32];
} suite_t;

/* The peak of a layer: the mean of the measurements before and after its
 * timed rounds (NaN when neither worked). */
double suite_layer_peak(const suite_layer_run_t *r);

/* The row's GFLOP/s in % of its layer's peak; NaN for failed rows and
 * devices that are not CPU-class. */
double suite_percent_of_peak(const suite_row_t *row);

/* The copy bandwidth of a run: the mean of the measurements before and
 * after its timed rounds, GB/s (NaN when neither worked). */
double suite_layer_bandwidth(const suite_layer_run_t *r);

/* The run's roofline time, ms: max(FLOP / peak, bytes / bandwidth) with the
 * ceilings measured around it; NaN when either is missing. */
double suite_roofline_ms(const suite_layer_run_t *r);

/* Roofline time / measured time in %, for CPU-class devices; NaN otherwise. */
double suite_percent_of_roofline(const suite_row_t *row);

/* oneDNN's roofline time / its measured time in %; NaN when not timed. */
double suite_onednn_percent_of_roofline(const suite_layer_run_t *r);

/* oneDNN's GFLOP/s on the layer; NaN when it was not timed. */
double suite_onednn_gflops(const suite_layer_run_t *r);

/* oneDNN ms / tconv ms (> 1: tconv is faster); NaN when either is missing. */
double suite_onednn_ratio(const suite_row_t *row);

/* The table on stdout. */
void suite_print_table(const suite_t *s);

/* One JSON object on stdout. */
void suite_print_json(const suite_t *s);

/* The SVG chart to s->options.svg_path; returns the exit code. */
int suite_write_svg(const suite_t *s);

#endif /* TCONV_BENCH_SUITE_RESULTS_H */
