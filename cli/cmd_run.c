/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv run`: one transposed convolution on .npy files. Shapes come from
 * the arrays; options say how to read them and what padding rule applies.
 * The output is written atomically: a failed run leaves no trace. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "commands.h"
#include "layer_io.h"
#include "npy.h"
#include "status.h"

#define COMMAND "tconv run"

void cmd_run_usage(FILE *out) {
    fputs("Usage: tconv run --input X.npy --kernel W.npy [--bias B.npy] --output Y.npy [options]\n"
          "Computes Y = activation(conv_transpose(X, W) + B) on the chosen device.\n"
          "Arrays: .npy float32 or float64, C order, little-endian. X has rank 3, 4 or 5\n"
          "(1-D, 2-D or 3-D spatial): (N, spatial..., C) channels_last or (N, C, spatial...)\n"
          "channels_first. W: (k..., Cout/G, Cin) keras or (Cin, Cout/G, k...) torch.\n"
          "B: (Cout,) with Cout = groups * Cout/G. Arrays of the other dtype are converted;\n"
          "Y is written in X's data format with the --dtype type.\n"
          "  --input FILE, --kernel FILE, --output FILE   required\n"
          "  --bias FILE               optional bias\n"
          "  --verbose                 print the device, shapes and time on stderr\n",
          out);
    layer_options_usage(out);
    fputs("Exit codes: 0 ok, 2 bad arguments or input, 3 device/runtime failure, 4 out of "
          "memory.\n",
          out);
}

typedef struct run_files {
    const char *input, *kernel, *bias, *output;
    int verbose;
} run_files_t;

typedef struct run_args {
    run_files_t *files;
    cli_layer_options_t *opts;
} run_args_t;

/* One option of `tconv run` (cli_option_fn). */
static int run_option(void *state, cli_args_t *args, const char *name) {
    run_args_t *r = state;
    const char **file = strcmp(name, "--input") == 0    ? &r->files->input
                        : strcmp(name, "--kernel") == 0 ? &r->files->kernel
                        : strcmp(name, "--bias") == 0   ? &r->files->bias
                        : strcmp(name, "--output") == 0 ? &r->files->output
                                                        : NULL;
    if (strcmp(name, "--verbose") == 0) {
        if (cli_args_flag(args) != 0)
            return -1;
        r->files->verbose = 1;
        return 1;
    }
    if (file == NULL)
        return layer_options_parse(r->opts, args, name);
    if (cli_args_value(args, file) != 0)
        return -1;
    if ((*file)[0] == '\0') {
        cli_error(COMMAND, "%s: the file name is empty", name);
        return -1;
    }
    return 1;
}

/* Parses the command line; returns 0, 1 after --help, or -1 (printed). */
static int parse_run_args(int argc, char **argv, run_files_t *files, cli_layer_options_t *opts) {
    run_args_t r = {files, opts};
    const int rc = cli_args_parse(COMMAND, argc, argv, cmd_run_usage, run_option, &r);
    if (rc != 0)
        return rc;
    const char *missing = !files->input    ? "--input"
                          : !files->kernel ? "--kernel"
                          : !files->output ? "--output"
                                           : NULL;
    if (missing) {
        cli_error(COMMAND, "%s is required (see tconv run --help)", missing);
        return -1;
    }
    return 0;
}

/* Plans and runs the problem on the selected device into out->data. */
static int compute(const tconv_problem_t *p, const char *selector, const npy_array_t *input,
                   const npy_array_t *kernel, const npy_array_t *bias, npy_array_t *out,
                   int verbose) {
    layer_plan_t lp;
    int rc = layer_plan_open(COMMAND, p, selector, kernel, bias, &lp);
    if (rc != CLI_EXIT_OK)
        return rc;
    const double start = bench_now_ms();
    tconv_status_t st = tconv_plan_execute(lp.plan, input->data, out->data);
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, "execute", st);
    } else if (verbose) {
        char shape[256];
        npy_shape_text(out->shape, out->ndim, shape, sizeof shape);
        fprintf(stderr, "%s: device %s (%s); output %s; plan %.2f ms, execute %.2f ms\n", COMMAND,
                lp.device.id, lp.device.name, shape, lp.plan_ms, bench_now_ms() - start);
    }
    layer_plan_close(&lp);
    return rc;
}

/* Builds the problem from the arrays and options, and allocates the output. */
static int prepare(const cli_layer_options_t *opts, const npy_array_t *input,
                   const npy_array_t *kernel, const npy_array_t *bias, tconv_problem_t *p,
                   npy_array_t *out) {
    int rc = layer_problem_from_arrays(COMMAND, opts, input, kernel, bias, p);
    if (rc != CLI_EXIT_OK)
        return rc;
    int64_t shape[TCONV_MAX_DIMS];
    int ndim = 0;
    tconv_status_t st = tconv_problem_get_shapes(p, NULL, NULL, shape, &ndim);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "output shape", st);
    return layer_alloc_array(COMMAND, "--output", p->dtype, shape, ndim, out);
}

int cmd_run(int argc, char **argv) {
    run_files_t files = {0};
    cli_layer_options_t opts;
    layer_options_init(&opts);
    int rc = parse_run_args(argc, argv, &files, &opts);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
    if ((rc = layer_check_output_path(COMMAND, "--output", files.output)) != CLI_EXIT_OK)
        return rc;

    npy_array_t input = {0}, kernel = {0}, bias = {0}, out = {0};
    tconv_problem_t problem;
    rc = layer_load_array(COMMAND, "--input", files.input, opts.dtype, &input);
    if (rc == CLI_EXIT_OK)
        rc = layer_load_array(COMMAND, "--kernel", files.kernel, opts.dtype, &kernel);
    if (rc == CLI_EXIT_OK && files.bias)
        rc = layer_load_array(COMMAND, "--bias", files.bias, opts.dtype, &bias);
    if (rc == CLI_EXIT_OK)
        rc = prepare(&opts, &input, &kernel, files.bias ? &bias : NULL, &problem, &out);
    if (rc == CLI_EXIT_OK)
        rc = compute(&problem, opts.device, &input, &kernel, files.bias ? &bias : NULL, &out,
                     files.verbose);
    if (rc == CLI_EXIT_OK)
        rc = layer_write_output(COMMAND, "--output", files.output, &out);
    npy_array_free(&input);
    npy_array_free(&kernel);
    npy_array_free(&bias);
    npy_array_free(&out);
    return rc;
}
