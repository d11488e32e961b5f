/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv backward`: the gradients of one transposed-convolution layer on
 * .npy files. The layer is stated exactly as for `tconv run` (same arrays,
 * same options); dL/dy comes in, any subset of dL/dx, dL/dw, dL/db goes
 * out. Every output is written to a temporary file first and all are
 * renamed only when every one was written: a failed run leaves no trace. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "atomic_file.h"
#include "bench.h"
#include "commands.h"
#include "layer_io.h"
#include "npy.h"
#include "status.h"

#define COMMAND "tconv backward"

void cmd_backward_usage(FILE *out) {
    fputs(
        "Usage: tconv backward --input X.npy --kernel W.npy [--bias B.npy] --grad-output GY.npy\n"
        "                      [--grad-input GX.npy] [--grad-kernel GW.npy] [--grad-bias GB.npy]\n"
        "                      [options]\n"
        "For Y = activation(conv_transpose(X, W) + B) and GY = dL/dY, computes GX = dL/dX,\n"
        "GW = dL/dW and GB = dL/dB (at least one). Arrays and options are those of\n"
        "`tconv run`: GY has Y's shape, GX X's, GW W's (same kernel layout), GB (Cout,).\n"
        "The activation's derivative is taken at the pre-activation, recomputed from X.\n"
        "  --input FILE, --kernel FILE, --grad-output FILE   required\n"
        "  --bias FILE               the layer's bias (required for --grad-bias)\n"
        "  --grad-input FILE         write dL/dX\n"
        "  --grad-kernel FILE        write dL/dW\n"
        "  --grad-bias FILE          write dL/dB\n"
        "  --verbose                 print the device, shapes and time on stderr\n",
        out);
    layer_options_usage(out);
    fputs("Exit codes: 0 ok, 2 bad arguments or input, 3 device/runtime failure, 4 out of "
          "memory.\n",
          out);
}

/* The three results, in the order they are reported and written. */
enum { GRAD_INPUT, GRAD_KERNEL, GRAD_BIAS, GRAD_COUNT };
static const char *const grad_option[GRAD_COUNT] = {"--grad-input", "--grad-kernel", "--grad-bias"};

typedef struct backward_files {
    const char *input, *kernel, *bias, *grad_output;
    const char *grads[GRAD_COUNT]; /* NULL: not wanted */
    int verbose;
} backward_files_t;

typedef struct backward_args {
    backward_files_t *files;
    cli_layer_options_t *opts;
} backward_args_t;

/* The file option @p name refers to, or NULL. */
static const char **file_option(backward_files_t *f, const char *name) {
    if (strcmp(name, "--input") == 0)
        return &f->input;
    if (strcmp(name, "--kernel") == 0)
        return &f->kernel;
    if (strcmp(name, "--bias") == 0)
        return &f->bias;
    if (strcmp(name, "--grad-output") == 0)
        return &f->grad_output;
    for (int g = 0; g < GRAD_COUNT; g++)
        if (strcmp(name, grad_option[g]) == 0)
            return &f->grads[g];
    return NULL;
}

/* One option of `tconv backward` (cli_option_fn). */
static int backward_option(void *state, cli_args_t *args, const char *name) {
    backward_args_t *b = state;
    if (strcmp(name, "--verbose") == 0) {
        if (cli_args_flag(args) != 0)
            return -1;
        b->files->verbose = 1;
        return 1;
    }
    const char **file = file_option(b->files, name);
    if (file == NULL)
        return layer_options_parse(b->opts, args, name);
    if (cli_args_value(args, file) != 0)
        return -1;
    if ((*file)[0] == '\0') {
        cli_error(COMMAND, "%s: the file name is empty", name);
        return -1;
    }
    return 1;
}

/* Parses and checks the command line; returns 0, 1 after --help, or -1
 * (printed). */
static int parse_backward_args(int argc, char **argv, backward_files_t *f,
                               cli_layer_options_t *opts) {
    backward_args_t b = {f, opts};
    const int rc = cli_args_parse(COMMAND, argc, argv, cmd_backward_usage, backward_option, &b);
    if (rc != 0)
        return rc;
    const char *missing = !f->input         ? "--input"
                          : !f->kernel      ? "--kernel"
                          : !f->grad_output ? "--grad-output"
                                            : NULL;
    if (missing) {
        cli_error(COMMAND, "%s is required (see tconv backward --help)", missing);
        return -1;
    }
    if (!f->grads[GRAD_INPUT] && !f->grads[GRAD_KERNEL] && !f->grads[GRAD_BIAS]) {
        cli_error(COMMAND, "no output: give at least one of --grad-input, --grad-kernel, "
                           "--grad-bias");
        return -1;
    }
    if (f->grads[GRAD_BIAS] && !f->bias) {
        cli_error(COMMAND, "--grad-bias: needs --bias (a layer without bias has no dL/dB)");
        return -1;
    }
    for (int g = 0; g < GRAD_COUNT; g++)
        for (int h = g + 1; h < GRAD_COUNT; h++)
            if (f->grads[g] && f->grads[h] && strcmp(f->grads[g], f->grads[h]) == 0) {
                cli_error(COMMAND, "%s: %s: the same file as %s; each output needs its own file",
                          grad_option[h], f->grads[h], grad_option[g]);
                return -1;
            }
    return 0;
}

/* Checks that dL/dY has the layer's output shape. */
static int check_grad_output(const npy_array_t *grad_output, const int64_t *shape, int ndim) {
    int same = grad_output->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = grad_output->shape[i] == shape[i];
    if (same)
        return CLI_EXIT_OK;
    char got[256], want[256];
    npy_shape_text(grad_output->shape, grad_output->ndim, got, sizeof got);
    npy_shape_text(shape, ndim, want, sizeof want);
    cli_error(COMMAND, "--grad-output: shape %s: must be the layer's output shape %s", got, want);
    return CLI_EXIT_BAD_INPUT;
}

/* Plans the layer with the backward passes it needs and runs them. */
static int compute(tconv_problem_t *p, const char *selector, const npy_array_t *input,
                   const npy_array_t *kernel, const npy_array_t *bias,
                   const npy_array_t *grad_output, npy_array_t *grads, const backward_files_t *f) {
    p->passes = TCONV_PASS_FORWARD;
    if (f->grads[GRAD_INPUT])
        p->passes |= TCONV_PASS_BACKWARD_DATA;
    if (f->grads[GRAD_KERNEL] || f->grads[GRAD_BIAS])
        p->passes |= TCONV_PASS_BACKWARD_WEIGHTS;
    layer_plan_t lp;
    int rc = layer_plan_open(COMMAND, p, selector, kernel, bias, &lp);
    if (rc != CLI_EXIT_OK)
        return rc;
    const double start = bench_now_ms();
    tconv_status_t st =
        tconv_plan_execute_backward(lp.plan, input->data, grad_output->data, grads[GRAD_INPUT].data,
                                    grads[GRAD_KERNEL].data, grads[GRAD_BIAS].data);
    if (st != tconv_success)
        rc = cli_fail_status(COMMAND, "backward", st);
    else if (f->verbose)
        fprintf(stderr, "%s: device %s (%s); plan %.2f ms, backward %.2f ms\n", COMMAND,
                lp.device.id, lp.device.name, lp.plan_ms, bench_now_ms() - start);
    layer_plan_close(&lp);
    return rc;
}

/* Writes every wanted result to its temporary file, then renames them all;
 * any failure before the renames removes every temporary file. */
static int write_results(const backward_files_t *f, const npy_array_t *grads) {
    atomic_file_t files[GRAD_COUNT];
    memset(files, 0, sizeof files);
    char message[512];
    int rc = CLI_EXIT_OK;
    int g = 0;
    for (; g < GRAD_COUNT && rc == CLI_EXIT_OK; g++) {
        if (!f->grads[g])
            continue;
        if (atomic_file_open(&files[g], f->grads[g], message, sizeof message) != 0)
            rc = cli_exit_code_for_errno(errno);
        else if (npy_write(files[g].file, &grads[g], message, sizeof message) != npy_ok)
            rc = CLI_EXIT_RUNTIME;
        if (rc != CLI_EXIT_OK)
            cli_error(COMMAND, "%s: %s: %s", grad_option[g], f->grads[g], message);
    }
    for (g = 0; g < GRAD_COUNT; g++) {
        if (!f->grads[g] || files[g].file == NULL)
            continue;
        if (rc != CLI_EXIT_OK) {
            atomic_file_abort(&files[g]);
        } else if (atomic_file_commit(&files[g], message, sizeof message) != 0) {
            cli_error(COMMAND, "%s: %s: %s", grad_option[g], f->grads[g], message);
            rc = CLI_EXIT_RUNTIME;
        }
    }
    return rc;
}

/* Builds the problem, checks dL/dY and allocates the wanted results. */
static int prepare(const cli_layer_options_t *opts, const backward_files_t *f,
                   const npy_array_t *arrays, tconv_problem_t *p, npy_array_t *grads) {
    const npy_array_t *input = &arrays[0], *kernel = &arrays[1], *bias = &arrays[2],
                      *grad_output = &arrays[3];
    int rc = layer_problem_from_arrays(COMMAND, opts, input, kernel, f->bias ? bias : NULL, p);
    if (rc != CLI_EXIT_OK)
        return rc;
    int64_t in_shape[TCONV_MAX_DIMS], k_shape[TCONV_MAX_DIMS], out_shape[TCONV_MAX_DIMS];
    int ndim = 0;
    tconv_status_t st = tconv_problem_get_shapes(p, in_shape, k_shape, out_shape, &ndim);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "shapes", st);
    if ((rc = check_grad_output(grad_output, out_shape, ndim)) != CLI_EXIT_OK)
        return rc;
    const int64_t bias_shape[1] = {p->out_channels};
    const int64_t *shapes[GRAD_COUNT] = {in_shape, k_shape, bias_shape};
    const int ndims[GRAD_COUNT] = {ndim, ndim, 1};
    for (int g = 0; g < GRAD_COUNT && rc == CLI_EXIT_OK; g++)
        if (f->grads[g])
            rc = layer_alloc_array(COMMAND, grad_option[g], p->dtype, shapes[g], ndims[g],
                                   &grads[g]);
    return rc;
}

int cmd_backward(int argc, char **argv) {
    backward_files_t files;
    memset(&files, 0, sizeof files);
    cli_layer_options_t opts;
    layer_options_init(&opts);
    int rc = parse_backward_args(argc, argv, &files, &opts);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
    for (int g = 0; g < GRAD_COUNT; g++)
        if (files.grads[g] &&
            (rc = layer_check_output_path(COMMAND, grad_option[g], files.grads[g])) != CLI_EXIT_OK)
            return rc;

    /* input, kernel, bias, grad_output */
    npy_array_t arrays[4], grads[GRAD_COUNT];
    memset(arrays, 0, sizeof arrays);
    memset(grads, 0, sizeof grads);
    const char *const options[4] = {"--input", "--kernel", "--bias", "--grad-output"};
    const char *const paths[4] = {files.input, files.kernel, files.bias, files.grad_output};
    rc = CLI_EXIT_OK;
    for (int i = 0; i < 4 && rc == CLI_EXIT_OK; i++)
        if (paths[i])
            rc = layer_load_array(COMMAND, options[i], paths[i], opts.dtype, &arrays[i]);
    tconv_problem_t problem;
    if (rc == CLI_EXIT_OK)
        rc = prepare(&opts, &files, arrays, &problem, grads);
    if (rc == CLI_EXIT_OK)
        rc = compute(&problem, opts.device, &arrays[0], &arrays[1], files.bias ? &arrays[2] : NULL,
                     &arrays[3], grads, &files);
    if (rc == CLI_EXIT_OK)
        rc = write_results(&files, grads);
    for (int i = 0; i < 4; i++)
        npy_array_free(&arrays[i]);
    for (int g = 0; g < GRAD_COUNT; g++)
        npy_array_free(&grads[g]);
    return rc;
}
