/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv bench`: times one layer given by shapes, with random data. The
 * benchmark suite is tconv-bench (bench/), a program of its own. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "bench_resident.h"
#include "commands.h"
#include "json.h"
#include "npy.h"
#include "status.h"

#define COMMAND "tconv bench"

void cmd_bench_usage(FILE *out) {
    fputs("Usage: tconv bench --input-shape N,D,H,W,C --filters F --kernel-size K [options]\n"
          "Times one pass of the layer on random data (seeded) and prints the median time,\n"
          "GFLOP/s (2*N*D*H*W*Cin*Cout/G*kd*kh*kw per pass, three for training / median),\n"
          "min and max, and the device.\n"
          "  --input-shape LIST        N, spatial..., C (channels_first: N, C, spatial...);\n"
          "                            3, 4 or 5 values for 1-D, 2-D or 3-D\n"
          "  --filters F               output channels (Cout)\n"
          "  --kernel-size LIST        kernel size per spatial axis\n"
          "  --use-bias                add a bias\n"
          "  --pass PASS               forward (default: tconv_plan_execute), backward_data\n"
          "                            (dL/dx), backward_weights (dL/dw, and dL/db with a\n"
          "                            bias) or training (forward, then every gradient)\n"
          "  --repeat R                timed runs (default 10)\n"
          "  --warmup W                untimed runs first (default 2)\n"
          "  --seed S                  random seed (default 1)\n"
          "  --json                    one JSON object on stdout\n",
          out);
    bench_resident_usage(out);
    layer_options_usage(out);
    fputs("\nThe benchmark suite (real-network layers, FMA peak, oneDNN, SVG) is the\n"
          "tconv-bench program: tconv-bench --help.\n",
          out);
}

/* `tconv bench --suite` was the suite before it moved to tconv-bench: say
 * where it went instead of calling --suite an unknown option. */
static int suite_moved(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--suite") == 0) {
            cli_error(COMMAND, "--suite: the benchmark suite is now the tconv-bench program: run "
                               "`tconv-bench` with the same options (it is installed with "
                               "-DTCONV_INSTALL_BENCH=ON; in a build tree: bin/tconv-bench)");
            return 1;
        }
    }
    return 0;
}

typedef struct bench_args {
    cli_int_list_t input_shape, kernel_size;
    int64_t filters, repeat, warmup, seed, batch;
    int use_bias, json, resident, pass_given;
    bench_pass_t pass;
    const char *devices; /**< --devices: the devices --resident compares, comma-separated. */
} bench_args_t;

/* The bench-only options; returns 1 consumed, 0 not one of them, -1 error. */
static int parse_bench_option(bench_args_t *b, cli_args_t *args, const char *name) {
    const char *value;
    if (strcmp(name, "--json") == 0 || strcmp(name, "--use-bias") == 0 ||
        strcmp(name, "--resident") == 0) {
        if (cli_args_flag(args) != 0)
            return -1;
        if (strcmp(name, "--json") == 0)
            b->json = 1;
        else if (strcmp(name, "--resident") == 0)
            b->resident = 1;
        else
            b->use_bias = 1;
        return 1;
    }
    int64_t *number = strcmp(name, "--filters") == 0  ? &b->filters
                      : strcmp(name, "--repeat") == 0 ? &b->repeat
                      : strcmp(name, "--warmup") == 0 ? &b->warmup
                      : strcmp(name, "--seed") == 0   ? &b->seed
                      : strcmp(name, "--batch") == 0  ? &b->batch
                                                      : NULL;
    cli_int_list_t *list = strcmp(name, "--input-shape") == 0   ? &b->input_shape
                           : strcmp(name, "--kernel-size") == 0 ? &b->kernel_size
                                                                : NULL;
    if (strcmp(name, "--pass") == 0) {
        if (cli_args_value(args, &value) != 0)
            return -1;
        if (bench_pass_parse(value, &b->pass) != 0) {
            cli_error(args->command, "--pass: '%s' is not one of %s", value, bench_pass_choices());
            return -1;
        }
        b->pass_given = 1;
        return 1;
    }
    if (strcmp(name, "--devices") == 0) {
        if (cli_args_value(args, &value) != 0)
            return -1;
        b->devices = value;
        return 1;
    }
    if (!number && !list)
        return 0;
    if (cli_args_value(args, &value) != 0)
        return -1;
    if (list)
        return cli_parse_int_list(args->command, name, value, 1, CLI_MAX_LIST, list) == 0 ? 1 : -1;
    int64_t min = number == &b->warmup || number == &b->seed ? 0 : 1;
    if (cli_parse_int64(args->command, name, value, min, number) != 0)
        return -1;
    if ((number == &b->repeat || number == &b->warmup) && *number > 1000000) {
        cli_error(args->command, "%s: value %lld must be <= 1000000", name, (long long)*number);
        return -1;
    }
    return 1;
}

typedef struct bench_parse {
    bench_args_t *bench;
    cli_layer_options_t *opts;
} bench_parse_t;

/* One option of `tconv bench` (cli_option_fn). */
static int bench_option(void *state, cli_args_t *args, const char *name) {
    bench_parse_t *p = state;
    const int rc = parse_bench_option(p->bench, args, name);
    return rc != 0 ? rc : layer_options_parse(p->opts, args, name);
}

/* Splits --devices (comma-separated ids or selectors) into @p config. */
static int split_devices(const char *list, bench_resident_config_t *config) {
    static char copy[1024];
    if (strlen(list) >= sizeof copy) {
        cli_error(COMMAND, "--devices: longer than %zu characters", sizeof copy - 1);
        return -1;
    }
    strcpy(copy, list);
    char *save = NULL;
    for (char *d = strtok_r(copy, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        if (config->device_count == BENCH_RESIDENT_MAX_DEVICES) {
            cli_error(COMMAND, "--devices: at most %d devices", BENCH_RESIDENT_MAX_DEVICES);
            return -1;
        }
        config->devices[config->device_count++] = d;
    }
    if (config->device_count == 0) {
        cli_error(COMMAND, "--devices: must name at least one device (e.g. cpu:0,opencl:0)");
        return -1;
    }
    return 0;
}

/* --resident times a fixed decoder: the one-layer options do not apply. */
static int check_resident_args(const bench_args_t *b) {
    const char *single = b->input_shape.count   ? "--input-shape"
                         : b->filters           ? "--filters"
                         : b->kernel_size.count ? "--kernel-size"
                         : b->use_bias          ? "--use-bias"
                         : b->pass_given        ? "--pass"
                                                : NULL;
    if (b->resident && single) {
        cli_error(COMMAND,
                  "%s: not with --resident (its decoder's layers are fixed: see tconv "
                  "bench --help)",
                  single);
        return -1;
    }
    if (!b->resident && b->batch) {
        cli_error(COMMAND, "--batch: only with --resident (else the batch is --input-shape's N)");
        return -1;
    }
    if (!b->resident && b->devices) {
        cli_error(COMMAND, "--devices: only with --resident (one layer runs on --device)");
        return -1;
    }
    return 0;
}

/* Returns 0, 1 after --help, -1 on error (printed). */
static int parse_args(int argc, char **argv, bench_args_t *b, cli_layer_options_t *opts) {
    bench_parse_t p = {b, opts};
    const int rc = cli_args_parse(COMMAND, argc, argv, cmd_bench_usage, bench_option, &p);
    if (rc != 0)
        return rc;
    if (check_resident_args(b) != 0)
        return -1;
    if (b->resident)
        return 0;
    const char *missing = !b->input_shape.count   ? "--input-shape"
                          : !b->filters           ? "--filters"
                          : !b->kernel_size.count ? "--kernel-size"
                                                  : NULL;
    if (missing) {
        cli_error(COMMAND, "%s is required (see tconv bench --help)", missing);
        return -1;
    }
    return 0;
}

static void print_text(const tconv_problem_t *p, bench_pass_t pass, const bench_result_t *r) {
    int64_t in_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims = 0;
    char in_text[128] = "?", out_text[128] = "?";
    if (tconv_problem_get_shapes(p, in_dims, NULL, out_dims, &ndims) == tconv_success) {
        npy_shape_text(in_dims, ndims, in_text, sizeof in_text);
        npy_shape_text(out_dims, ndims, out_text, sizeof out_text);
    }
    printf("device:  %s (%s)\n", r->device, r->device_name);
    printf("layer:   input %s -> output %s, %s, %.3f GFLOP\n", in_text, out_text,
           p->dtype == tconv_f64 ? "float64" : "float32", r->flops * 1e-9);
    printf("pass:    %s\n", bench_pass_name(pass));
    printf("plan:    %.2f ms\n", r->plan_ms);
    printf("median:  %.3f ms  %.1f GFLOP/s  (min %.3f ms, max %.3f ms, %d runs)\n", r->median_ms,
           r->gflops, r->min_ms, r->max_ms, r->repeat);
}

static void print_json(const tconv_problem_t *p, bench_pass_t pass, const bench_result_t *r,
                       int warmup) {
    json_writer_t w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key(&w, "device");
    json_string(&w, r->device);
    json_key(&w, "device_name");
    json_string(&w, r->device_name);
    json_key(&w, "pass");
    json_string(&w, bench_pass_name(pass));
    json_key(&w, "dtype");
    json_string(&w, p->dtype == tconv_f64 ? "float64" : "float32");
    json_key(&w, "flops");
    json_number(&w, r->flops);
    json_key(&w, "plan_ms");
    json_number(&w, r->plan_ms);
    json_key(&w, "median_ms");
    json_number(&w, r->median_ms);
    json_key(&w, "min_ms");
    json_number(&w, r->min_ms);
    json_key(&w, "max_ms");
    json_number(&w, r->max_ms);
    json_key(&w, "gflops");
    json_number(&w, r->gflops);
    json_key(&w, "repeat");
    json_int(&w, r->repeat);
    json_key(&w, "warmup");
    json_int(&w, warmup);
    int64_t in_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims = 0;
    if (tconv_problem_get_shapes(p, in_dims, NULL, out_dims, &ndims) == tconv_success) {
        json_key(&w, "input_shape");
        json_begin_array(&w);
        for (int i = 0; i < ndims; i++)
            json_int(&w, in_dims[i]);
        json_end_array(&w);
        json_key(&w, "output_shape");
        json_begin_array(&w);
        for (int i = 0; i < ndims; i++)
            json_int(&w, out_dims[i]);
        json_end_array(&w);
    }
    json_end_object(&w);
    json_finish(&w);
}

int cmd_bench(int argc, char **argv) {
    if (suite_moved(argc, argv))
        return CLI_EXIT_BAD_INPUT;
    bench_args_t b = {.repeat = 10, .warmup = 2, .seed = 1};
    cli_layer_options_t opts;
    layer_options_init(&opts);
    int rc = parse_args(argc, argv, &b, &opts);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
    if (b.resident) {
        bench_resident_config_t config = {.batch = b.batch ? b.batch : 1,
                                          .dtype = opts.dtype,
                                          .warmup = (int)b.warmup,
                                          .repeat = (int)b.repeat,
                                          .seed = (uint64_t)b.seed,
                                          .json = b.json};
        if (b.devices && split_devices(b.devices, &config) != 0)
            return CLI_EXIT_BAD_INPUT;
        if (config.device_count == 0)
            config.devices[config.device_count++] = opts.device;
        return bench_resident_run(&config);
    }

    tconv_problem_t p;
    if (layer_problem_from_input(&opts, COMMAND, "--input-shape", b.input_shape.values,
                                 b.input_shape.count, &p) != 0 ||
        cli_expand_list(COMMAND, "--kernel-size", &b.kernel_size, p.spatial_rank, p.kernel_size) !=
            0)
        return CLI_EXIT_BAD_INPUT;
    p.out_channels = b.filters;
    p.use_bias = b.use_bias;
    tconv_canonical_t canonical;
    tconv_status_t st = tconv_problem_resolve(&p, &canonical);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "invalid layer", st);

    tconv_context_t ctx = NULL;
    st = tconv_context_create(&ctx, NULL);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    bench_config_t config = {opts.device, (int)b.warmup, (int)b.repeat, (uint64_t)b.seed, b.pass};
    bench_result_t result;
    char message[1024];
    st = bench_run_layer(ctx, &p, &config, &result, message, sizeof message);
    if (st != tconv_success) {
        cli_error(COMMAND, "%s", message);
        rc = cli_exit_code(st);
    } else if (b.json) {
        print_json(&p, b.pass, &result, config.warmup);
    } else {
        print_text(&p, b.pass, &result);
    }
    tconv_context_destroy(ctx);
    return rc;
}
