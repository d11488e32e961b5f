/* SPDX-License-Identifier: Apache-2.0 */
/* tconv-bench: the layer table, the options, and the timing of
 * each layer on every device next to oneDNN's best case (interleaved rounds)
 * with the FMA peak measured around it. Reports: bench_suite_report.c. */
#include "bench_suite.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "atomic_file.h"
#include "bench.h"
#include "bench_peak.h"
#include "bench_suite_results.h"
#include "onednn_timer.h"
#include "status.h"

#define COMMAND SUITE_COMMAND

/* Seconds of FMA loop per peak measurement (two per run). */
#define SUITE_PEAK_SECONDS 0.2
/* Seconds of copy loop per bandwidth measurement (two per run). */
#define SUITE_BANDWIDTH_SECONDS 0.2

/* ---------------------------------------------------------------------- */
/* The layers (docs/benchmarks.md and guide/performance.md list the same)  */

/* name, origin, N, Cin, Cout, input D,H,W, kernel, strides, p, op, dilation */
// clang-format off
static const suite_layer_t suite_layers[] = {
    {"unet3d_up2",   "3D U-Net decoder",                 8, 256, 256, {10, 14, 14}, {2, 2, 2}, {2, 2, 2}, 0, 0, 1},
    {"vnet_up32",    "V-Net decoder",                    2,  64,  16, {32, 64, 64}, {2, 2, 2}, {2, 2, 2}, 0, 0, 1},
    {"gan_g3",       "3D-GAN generator",                 8, 256, 128, {8, 8, 8},    {4, 4, 4}, {2, 2, 2}, 1, 0, 1},
    {"gan_g5",       "3D-GAN generator output",         16,  64,   1, {32, 32, 32}, {4, 4, 4}, {2, 2, 2}, 1, 0, 1},
    {"nnunet_up4",   "nnU-Net decoder",                  8, 320, 256, {8, 8, 8},    {2, 2, 2}, {2, 2, 2}, 0, 0, 1},
    {"nnunet_up1",   "nnU-Net decoder",                  2,  64,  32, {64, 64, 64}, {2, 2, 2}, {2, 2, 2}, 0, 0, 1},
    {"nnunet_aniso", "nnU-Net anisotropic decoder",      2,  64,  32, {40, 80, 80}, {1, 2, 2}, {1, 2, 2}, 0, 0, 1},
    {"keras_k3s2",   "Keras Conv3DTranspose k3 s2 same", 2, 128,  64, {16, 32, 32}, {3, 3, 3}, {2, 2, 2}, 1, 1, 1},
    {"dilated_k3d2", "dilated stride-1 layer",           1,  64,  64, {32, 32, 32}, {3, 3, 3}, {1, 1, 1}, 2, 0, 2},
};
// clang-format on
#define SUITE_LAYER_COUNT ((int)(sizeof suite_layers / sizeof suite_layers[0]))
_Static_assert(sizeof suite_layers / sizeof suite_layers[0] <= SUITE_MAX_LAYERS,
               "raise SUITE_MAX_LAYERS");

/* The problem of a layer. Its FLOP count is checked against the table's own
 * 2*N*D*H*W*Cin*Cout*kd*kh*kw, so the table and the library cannot drift. */
static int layer_problem(const suite_layer_t *l, int relu, tconv_problem_t *p) {
    if (tconv_problem_init(p, 3) != tconv_success)
        return -1;
    p->dtype = tconv_f32;
    p->batch = l->batch;
    p->in_channels = l->in_channels;
    p->out_channels = l->out_channels;
    p->padding = tconv_padding_explicit;
    p->has_output_padding = 1;
    for (int a = 0; a < 3; a++) {
        p->input_size[a] = l->input_size[a];
        p->kernel_size[a] = l->kernel_size[a];
        p->strides[a] = l->strides[a];
        p->dilation[a] = l->dilation;
        p->pads_begin[a] = p->pads_end[a] = l->padding;
        p->output_padding[a] = l->output_padding;
    }
    p->data_format = tconv_channels_last;
    p->kernel_layout = tconv_kernel_keras;
    p->use_bias = 1;
    p->activation = relu ? tconv_activation_relu : tconv_activation_linear;
    return 0;
}

static double layer_flops(const suite_layer_t *l) {
    double f = 2.0 * (double)l->batch * (double)l->in_channels * (double)l->out_channels;
    for (int a = 0; a < 3; a++)
        f *= (double)l->input_size[a] * (double)l->kernel_size[a];
    return f;
}

/* The bytes a pass must move at least: input, output and weights (kernel
 * and bias) each read or written once; for training once per pass (the
 * forward pass reads x and w and writes y, backward data reads dy and w and
 * writes dx, backward weights reads x and dy and writes dw and db). */
static double layer_bytes(const tconv_problem_t *p, bench_pass_t pass) {
    size_t input, kernel, output;
    if (bench_tensor_counts(p, &input, &kernel, &output) != tconv_success)
        return NAN;
    const double bias = p->use_bias ? (double)p->out_channels : 0.0;
    return ((double)input + (double)output + (double)kernel + bias) * sizeof(float) *
           bench_pass_flop_multiple(pass);
}

/* ---------------------------------------------------------------------- */
/* Options                                                                 */

void bench_suite_usage(FILE *out) {
    fputs("Usage: tconv-bench [options]\n"
          "Times the real-network layers of docs/benchmarks.md (float32, channels_last input,\n"
          "bias) on every device, with the FMA peak and the copy bandwidth measured around\n"
          "each layer (and its roofline from them) and, when built with oneDNN, oneDNN's\n"
          "deconvolution on the same layer and pass (its own blocked layouts, reorders\n"
          "untimed). Progress on stderr; a table (or JSON) on stdout.\n"
          "  --device SEL|all          all devices (default) or one selector\n"
          "  --layers NAME,NAME        a subset of the layers (default: all)\n"
          "  --pass PASS,PASS|all      forward (default), backward_data, backward_weights\n"
          "                            (with the bias gradient), training (forward, then\n"
          "                            every gradient); each pass of each layer is timed\n"
          "                            on its own, next to oneDNN's same pass\n"
          "  --relu                    fused ReLU for tconv and oneDNN (a post-op; the\n"
          "                            backward passes are compared to oneDNN without it)\n"
          "  --repeat R                timed rounds; each runs oneDNN and every device once\n"
          "                            (default 10); the median per contender is reported\n"
          "  --warmup W                untimed rounds first (default 2)\n"
          "  --seed S                  random seed (default 1)\n"
          "  --dtype float32           the only type the suite runs\n"
          "  --json                    one JSON object on stdout\n"
          "  --svg FILE                a bar chart of GFLOP/s per layer and device, with peak\n"
          "Layers:",
          out);
    int column = 7;
    for (int i = 0; i < SUITE_LAYER_COUNT; i++) {
        int width = (int)strlen(suite_layers[i].name) + 2;
        if (column + width > 80) {
            fputs("\n       ", out);
            column = 7;
        }
        fprintf(out, " %s%s", suite_layers[i].name, i + 1 < SUITE_LAYER_COUNT ? "," : "");
        column += width;
    }
    fputc('\n', out);
}

static int parse_layer_names(suite_options_t *o, const char *value) {
    memset(o->selected, 0, sizeof o->selected);
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < SUITE_LAYER_COUNT && found < 0; i++)
            if (strlen(suite_layers[i].name) == len && strncmp(suite_layers[i].name, p, len) == 0)
                found = i;
        if (found < 0) {
            char known[512] = "";
            for (int i = 0; i < SUITE_LAYER_COUNT; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                         suite_layers[i].name);
            cli_error(COMMAND, "--layers: unknown layer '%.*s' (known: %s)", (int)len, p, known);
            return -1;
        }
        o->selected[found] = 1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* --pass: a comma list of passes, or "all". */
static int parse_pass_names(suite_options_t *o, const char *value) {
    memset(o->passes, 0, sizeof o->passes);
    if (strcmp(value, "all") == 0) {
        for (int i = 0; i < BENCH_PASS_COUNT; i++)
            o->passes[i] = 1;
        return 0;
    }
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        bench_pass_t pass;
        int known = len < sizeof name;
        if (known) {
            memcpy(name, p, len);
            name[len] = '\0';
            known = bench_pass_parse(name, &pass) == 0;
        }
        if (!known) {
            cli_error(COMMAND, "--pass: '%.*s' is not one of %s (or all)", (int)len, p,
                      bench_pass_choices());
            return -1;
        }
        o->passes[pass] = 1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* One option of tconv-bench (cli_option_fn): 1 taken, 0 not ours, -1 error. */
static int parse_option(void *state, cli_args_t *args, const char *name) {
    suite_options_t *o = state;
    const char *value;
    if (strcmp(name, "--json") == 0 || strcmp(name, "--relu") == 0) {
        if (cli_args_flag(args) != 0)
            return -1;
        if (strcmp(name, "--json") == 0)
            o->json = 1;
        else if (strcmp(name, "--relu") == 0)
            o->relu = 1;
        return 1;
    }
    int64_t *number = strcmp(name, "--repeat") == 0   ? &o->repeat
                      : strcmp(name, "--warmup") == 0 ? &o->warmup
                      : strcmp(name, "--seed") == 0   ? &o->seed
                                                      : NULL;
    if (!number && strcmp(name, "--device") != 0 && strcmp(name, "--svg") != 0 &&
        strcmp(name, "--layers") != 0 && strcmp(name, "--dtype") != 0 &&
        strcmp(name, "--pass") != 0)
        return 0;
    if (cli_args_value(args, &value) != 0)
        return -1;
    if (number) {
        if (cli_parse_int64(COMMAND, name, value, number == &o->repeat ? 1 : 0, number) != 0)
            return -1;
        if (number != &o->seed && *number > 1000000) {
            cli_error(COMMAND, "%s: value %lld must be <= 1000000", name, (long long)*number);
            return -1;
        }
        return 1;
    }
    if (value[0] == '\0') {
        cli_error(COMMAND, "%s: must not be empty", name);
        return -1;
    }
    if (strcmp(name, "--device") == 0)
        o->device = value;
    else if (strcmp(name, "--svg") == 0)
        o->svg_path = value;
    else if (strcmp(name, "--layers") == 0)
        return parse_layer_names(o, value) == 0 ? 1 : -1;
    else if (strcmp(name, "--pass") == 0)
        return parse_pass_names(o, value) == 0 ? 1 : -1;
    else if (strcmp(value, "float32") != 0 && strcmp(value, "f32") != 0) {
        cli_error(COMMAND,
                  "--dtype: '%s': the suite runs float32 only (the type oneDNN and the peak "
                  "loop measure)",
                  value);
        return -1;
    }
    return 1;
}

/* Returns 0, 1 after --help, -1 on error (printed). */
static int parse_suite_args(int argc, char **argv, suite_options_t *o) {
    return cli_args_parse(COMMAND, argc, argv, bench_suite_usage, parse_option, o);
}

/* ---------------------------------------------------------------------- */
/* Running                                                                 */

/* Whether device @p id is CPU-class (the host's peak applies to it). */
static int device_is_cpu(tconv_context_t ctx, const char *id) {
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success &&
            strcmp(info.id, id) == 0)
            return info.type == tconv_device_cpu;
    }
    return 0;
}

/* The selectors to run: every device id for "all", else the one given. */
static int collect_targets(suite_t *s) {
    size_t count = 0;
    if (strcmp(s->options.device, "all") != 0) {
        /* A selector that matches nothing fails now, not after the first
         * layer's oneDNN timing. */
        size_t index;
        tconv_status_t st =
            tconv_context_select_device(s->context, NULL, s->options.device, &index, NULL, 0);
        if (st != tconv_success)
            return cli_fail_status(COMMAND, "--device", st);
        s->targets = calloc(1, sizeof *s->targets);
        if (!s->targets)
            return cli_error_out_of_memory(COMMAND, "--device");
        snprintf(s->targets[0], sizeof s->targets[0], "%s", s->options.device);
        s->target_count = 1;
        return CLI_EXIT_OK;
    }
    tconv_status_t st = tconv_context_get_device_count(s->context, &count);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "listing devices", st);
    if (count == 0) {
        cli_error(COMMAND, "no device found (see tconv devices for the plugin reports)");
        return CLI_EXIT_RUNTIME;
    }
    s->targets = calloc(count, sizeof *s->targets);
    if (!s->targets)
        return cli_error_out_of_memory(COMMAND, "listing devices");
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        st = tconv_context_get_device_info(s->context, i, &info);
        if (st != tconv_success)
            return cli_fail_status(COMMAND, "device info", st);
        snprintf(s->targets[s->target_count++], sizeof s->targets[0], "%s", info.id);
    }
    return CLI_EXIT_OK;
}

/* Problems, canonical forms, FLOP and byte counts of the selected layers,
 * one run per selected pass. */
static int prepare_runs(suite_t *s) {
    for (int p = 0; p < BENCH_PASS_COUNT; p++)
        s->pass_count += s->options.passes[p];
    for (int i = 0; i < SUITE_LAYER_COUNT; i++) {
        for (int p = 0; p < BENCH_PASS_COUNT && s->options.selected[i]; p++) {
            if (!s->options.passes[p])
                continue;
            suite_layer_run_t *r = &s->runs[s->run_count++];
            r->layer = &suite_layers[i];
            r->pass = (bench_pass_t)p;
            tconv_status_t st = tconv_success;
            if (layer_problem(r->layer, s->options.relu, &r->problem) != 0 ||
                (st = tconv_problem_resolve(&r->problem, &r->canonical)) != tconv_success ||
                (st = tconv_problem_get_flops(&r->problem, &r->flops)) != tconv_success)
                return cli_fail_status(COMMAND, r->layer->name, st);
            if (fabs(r->flops - layer_flops(r->layer)) > 0.5) {
                cli_error(COMMAND, "%s: the library counts %.0f FLOP, the suite's table %.0f",
                          r->layer->name, r->flops, layer_flops(r->layer));
                return CLI_EXIT_RUNTIME;
            }
            r->flops *= bench_pass_flop_multiple(r->pass);
            r->bytes = layer_bytes(&r->problem, r->pass);
        }
    }
    return CLI_EXIT_OK;
}

/* One stderr line per run, once all its measurements are done. */
static void print_progress(const suite_t *s, int index, const suite_row_t *rows) {
    const suite_layer_run_t *r = &s->runs[index];
    char line[2048];
    size_t n = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (n < sizeof line)                                                                       \
            n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__);                         \
    } while (0)
    APPEND("[%d/%d] %s %s (%.2f GFLOP): peak %.0f/%.0f GFLOP/s, copy %.1f/%.1f GB/s;", index + 1,
           s->run_count, r->layer->name, bench_pass_name(r->pass), r->flops * 1e-9,
           r->peak_ok[0] ? r->peak[0].gflops : NAN, r->peak_ok[1] ? r->peak[1].gflops : NAN,
           r->bandwidth_ok[0] ? r->bandwidth[0].gbytes : NAN,
           r->bandwidth_ok[1] ? r->bandwidth[1].gbytes : NAN);
    if (s->with_onednn) {
        if (r->onednn_status == tconv_success)
            APPEND(" oneDNN %.2f ms %.0f GFLOP/s (%s);", r->onednn.median_ms,
                   suite_onednn_gflops(r), r->onednn.implementation);
        else
            APPEND(" %s;", r->onednn_error);
    }
    for (int t = 0; t < s->target_count; t++) {
        const suite_row_t *row = &rows[t];
        if (row->status == tconv_success)
            APPEND(" %s %.2f ms %.0f GFLOP/s;", row->device, row->timing.median_ms,
                   row->timing.gflops);
        else
            APPEND(" %s failed: %s;", row->device, row->error);
    }
#undef APPEND
    if (n > 0 && n < sizeof line && line[n - 1] == ';')
        line[n - 1] = '\0';
    fprintf(stderr, "%s\n", line);
}

/* The ceilings next to a run's timings, index 0 before and 1 after: a
 * shared machine's speed drifts. */
static void measure_ceilings(suite_layer_run_t *r, int index) {
    char message[256];
    r->peak_ok[index] =
        bench_peak_measure(SUITE_PEAK_SECONDS, &r->peak[index], message, sizeof message) == 0;
    if (!r->peak_ok[index])
        cli_error(COMMAND, "%s", message);
    r->bandwidth_ok[index] = bench_bandwidth_measure(SUITE_BANDWIDTH_SECONDS, &r->bandwidth[index],
                                                     message, sizeof message) == 0;
    if (!r->bandwidth_ok[index])
        cli_error(COMMAND, "%s", message);
}

/* Everything timed on one layer: oneDNN (contender 0) and every device. */
typedef struct layer_contenders {
    onednn_layer_t *onednn;
    bench_layer_t *devices; /* [target_count] */
    double *times;          /* [1 + target_count][repeat] */
} layer_contenders_t;

static void prepare_contenders(const suite_t *s, suite_layer_run_t *r, suite_row_t *rows,
                               layer_contenders_t *c) {
    r->onednn_status = tconv_unimplemented; /* until prepared */
    if (s->with_onednn)
        r->onednn_status = onednn_layer_prepare(
            &r->canonical, r->pass, (uint64_t)s->options.seed, &c->onednn, r->onednn.implementation,
            sizeof r->onednn.implementation, r->onednn_error, sizeof r->onednn_error);
    for (int t = 0; t < s->target_count; t++) {
        suite_row_t *row = &rows[t];
        bench_config_t config = {s->targets[t], (int)s->options.warmup, (int)s->options.repeat,
                                 (uint64_t)s->options.seed, r->pass};
        row->run = r;
        row->status = bench_layer_prepare(s->context, &r->problem, &config, &c->devices[t],
                                          &row->timing, row->error, sizeof row->error);
        snprintf(row->device, sizeof row->device, "%s",
                 row->timing.device[0] ? row->timing.device : s->targets[t]);
        snprintf(row->device_name, sizeof row->device_name, "%s", row->timing.device_name);
        row->device_is_cpu = device_is_cpu(s->context, row->device);
    }
}

/* Runs contender @p which once; a failure ends its timing (status kept). */
static double execute_contender(suite_layer_run_t *r, suite_row_t *rows, layer_contenders_t *c,
                                int which) {
    double ms = NAN;
    if (which == 0) {
        if (r->onednn_status == tconv_success)
            r->onednn_status =
                onednn_layer_execute(c->onednn, &ms, r->onednn_error, sizeof r->onednn_error);
    } else {
        suite_row_t *row = &rows[which - 1];
        if (row->status == tconv_success)
            row->status =
                bench_layer_execute(&c->devices[which - 1], &ms, row->error, sizeof row->error);
    }
    return ms;
}

/* Interleaved rounds: every round runs each contender once, starting with a
 * different one each time, so a change in the machine's load lands on all of
 * them alike. Warm-up rounds first, then the timed ones between two peak
 * measurements. */
static void time_contenders(const suite_t *s, suite_layer_run_t *r, suite_row_t *rows,
                            layer_contenders_t *c) {
    const int n = 1 + s->target_count, warmup = (int)s->options.warmup,
              repeat = (int)s->options.repeat;
    for (int round = 0; round < warmup + repeat; round++) {
        if (round == warmup)
            measure_ceilings(r, 0);
        for (int k = 0; k < n; k++) {
            int which = (round + k) % n;
            double ms = execute_contender(r, rows, c, which);
            if (round >= warmup)
                c->times[which * repeat + (round - warmup)] = ms;
        }
    }
    measure_ceilings(r, 1);
    if (r->onednn_status == tconv_success)
        bench_summarize_times(c->times, repeat, &r->onednn.median_ms, &r->onednn.min_ms,
                              &r->onednn.max_ms);
    for (int t = 0; t < s->target_count; t++) {
        bench_result_t *timing = &rows[t].timing;
        if (rows[t].status != tconv_success)
            continue;
        bench_summarize_times(c->times + (size_t)(t + 1) * (size_t)repeat, repeat,
                              &timing->median_ms, &timing->min_ms, &timing->max_ms);
        timing->repeat = repeat;
        timing->gflops = timing->median_ms > 0 ? timing->flops / (timing->median_ms * 1e6) : 0.0;
    }
}

static int run_layer(const suite_t *s, suite_layer_run_t *r, suite_row_t *rows) {
    layer_contenders_t c = {NULL, NULL, NULL};
    c.devices = calloc((size_t)s->target_count, sizeof *c.devices);
    c.times = calloc((size_t)(1 + s->target_count) * (size_t)s->options.repeat, sizeof *c.times);
    if (!c.devices || !c.times) {
        free(c.devices);
        free(c.times);
        cli_error(COMMAND, "%s: cannot allocate the timing records", r->layer->name);
        return -1;
    }
    prepare_contenders(s, r, rows, &c);
    time_contenders(s, r, rows, &c);
    onednn_layer_release(c.onednn);
    for (int t = 0; t < s->target_count; t++)
        bench_layer_release(&c.devices[t]);
    free(c.devices);
    free(c.times);
    return 0;
}

static int run_suite(suite_t *s) {
    s->rows = calloc((size_t)s->run_count * (size_t)s->target_count, sizeof *s->rows);
    if (!s->rows) {
        cli_error(COMMAND, "cannot allocate the result rows");
        return CLI_EXIT_NO_MEMORY;
    }
    for (int i = 0; i < s->run_count; i++) {
        suite_row_t *rows = &s->rows[s->row_count];
        if (run_layer(s, &s->runs[i], rows) != 0)
            return CLI_EXIT_NO_MEMORY;
        s->row_count += s->target_count;
        print_progress(s, i, rows);
    }
    for (int i = 0; i < s->row_count; i++)
        if (s->rows[i].status != tconv_success)
            return cli_exit_code(s->rows[i].status);
    return CLI_EXIT_OK;
}

/* Fails early on an unwritable --svg path rather than after minutes of
 * measurements. Only a check: opening a FIFO would wait for its reader and
 * then hand it an empty document. */
static int probe_svg_path(const char *path) {
    char message[512];
    if (atomic_file_check(path, message, sizeof message) != 0) {
        const int err = errno;
        cli_error(COMMAND, "--svg %s: %s", path, message);
        return cli_exit_code_for_errno(err);
    }
    return CLI_EXIT_OK;
}

int cmd_bench_suite(int argc, char **argv) {
    suite_t s;
    memset(&s, 0, sizeof s);
    s.options = (suite_options_t){.device = "all", .repeat = 10, .warmup = 2, .seed = 1};
    for (int i = 0; i < SUITE_LAYER_COUNT; i++)
        s.options.selected[i] = 1;
    s.options.passes[BENCH_PASS_FORWARD] = 1;
    int rc = parse_suite_args(argc, argv, &s.options);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
    if (s.options.svg_path && (rc = probe_svg_path(s.options.svg_path)) != CLI_EXIT_OK)
        return rc;

    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc))
        strftime(s.date, sizeof s.date, "%Y-%m-%d %H:%M UTC", &utc);
    s.with_onednn = onednn_timer_available();
    onednn_timer_describe(s.onednn_text, sizeof s.onednn_text);

    tconv_status_t st = tconv_context_create(&s.context, NULL);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    rc = collect_targets(&s);
    if (rc == CLI_EXIT_OK)
        rc = prepare_runs(&s);
    if (rc == CLI_EXIT_OK) {
        fprintf(stderr, "%s: %d layers x %d pass(es) x %d device(s); %s\n", COMMAND,
                s.run_count / (s.pass_count ? s.pass_count : 1), s.pass_count, s.target_count,
                s.onednn_text);
        rc = run_suite(&s);
        if (s.options.json)
            suite_print_json(&s);
        else
            suite_print_table(&s);
        if (s.options.svg_path) {
            int svg_rc = suite_write_svg(&s);
            if (rc == CLI_EXIT_OK)
                rc = svg_rc;
        }
    }
    free(s.rows);
    free(s.targets);
    bench_bandwidth_release();
    tconv_context_destroy(s.context);
    return rc;
}
