/* `tconv run`: one transposed convolution on .npy files. Shapes come from
 * the arrays; options say how to read them and what padding rule applies.
 * The output is written atomically: a failed run leaves no trace. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "atomic_file.h"
#include "bench.h"
#include "commands.h"
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

/* Reads one array; maps .npy failures to exit codes with the argument named. */
static int load_array(const char *option, const char *path, tconv_dtype_t dtype,
                      npy_array_t *array) {
    char message[512];
    npy_status_t st =
        npy_read(path, dtype == tconv_f64 ? npy_f64 : npy_f32, array, message, sizeof message);
    if (st == npy_ok)
        return CLI_EXIT_OK;
    cli_error(COMMAND, "%s: %s: %s", option, path, message);
    return st == npy_no_memory ? CLI_EXIT_NO_MEMORY : CLI_EXIT_BAD_INPUT;
}

/* Kernel size, Cout/G and the kernel's Cin by layout; checks them against
 * the input. */
static int apply_kernel_shape(const npy_array_t *kernel, const npy_array_t *input,
                              tconv_problem_t *p) {
    int rank = p->spatial_rank;
    if (kernel->ndim != input->ndim) {
        cli_error(COMMAND, "--kernel: rank %d does not match --input rank %d (kernel: %s)",
                  kernel->ndim, input->ndim,
                  p->kernel_layout == tconv_kernel_keras ? "k..., Cout/G, Cin"
                                                         : "Cin, Cout/G, k...");
        return -1;
    }
    for (int i = 0; i < kernel->ndim; i++) {
        if (kernel->shape[i] < 1) {
            cli_error(COMMAND, "--kernel: dimension %d is %lld: every dimension must be >= 1", i,
                      (long long)kernel->shape[i]);
            return -1;
        }
    }
    int keras = p->kernel_layout == tconv_kernel_keras;
    int64_t kernel_cin = keras ? kernel->shape[rank + 1] : kernel->shape[0];
    int64_t cout_per_group = keras ? kernel->shape[rank] : kernel->shape[1];
    for (int i = 0; i < rank; i++)
        p->kernel_size[i] = kernel->shape[keras ? i : 2 + i];
    if (kernel_cin != p->in_channels) {
        cli_error(COMMAND,
                  "--kernel: in_channels %lld (%s axis, %s layout) does not match --input "
                  "channels %lld",
                  (long long)kernel_cin, keras ? "last" : "first", keras ? "keras" : "torch",
                  (long long)p->in_channels);
        return -1;
    }
    if (cout_per_group > INT64_MAX / p->groups) {
        cli_error(COMMAND, "--kernel: groups * Cout/G overflows");
        return -1;
    }
    p->out_channels = p->groups * cout_per_group;
    return 0;
}

static int check_bias(const npy_array_t *bias, const tconv_problem_t *p) {
    if (bias->ndim != 1 || bias->shape[0] != p->out_channels) {
        char shape[128];
        npy_shape_text(bias->shape, bias->ndim, shape, sizeof shape);
        cli_error(COMMAND, "--bias: expected shape (%lld,) (Cout = groups * kernel Cout/G), got %s",
                  (long long)p->out_channels, shape);
        return -1;
    }
    return 0;
}

/* Refuses an output path whose directory cannot take the file, before any
 * time is spent computing. */
static int check_output_directory(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return CLI_EXIT_NO_MEMORY;
    const char *dir = dirname(copy);
    struct stat st;
    int ok = 0;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        cli_error(COMMAND, "--output: %s: is a directory", path);
    else if (access(dir, W_OK | X_OK) != 0)
        cli_error(COMMAND, "--output: %s: the directory '%s' is not writable or does not exist",
                  path, dir);
    else
        ok = 1;
    free(copy);
    return ok ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
}

static int write_output(const char *path, const npy_array_t *out) {
    char message[512];
    atomic_file_t af;
    if (atomic_file_open(&af, path, message, sizeof message) != 0) {
        cli_error(COMMAND, "--output: %s: %s", path, message);
        return CLI_EXIT_BAD_INPUT;
    }
    if (npy_write(af.file, out, message, sizeof message) != npy_ok) {
        atomic_file_abort(&af);
        cli_error(COMMAND, "--output: %s: %s", path, message);
        return CLI_EXIT_RUNTIME;
    }
    if (atomic_file_commit(&af, message, sizeof message) != 0) {
        cli_error(COMMAND, "--output: %s: %s", path, message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Plans and runs the problem on the selected device into out->data. */
static int compute(const tconv_problem_t *p, const char *selector, const npy_array_t *input,
                   const npy_array_t *kernel, const npy_array_t *bias, npy_array_t *out,
                   int verbose) {
    tconv_context_t ctx = NULL;
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    int rc = CLI_EXIT_OK;
    double start = bench_now_ms();
    st = tconv_plan_create(&plan, ctx, p, selector);
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, "plan", st);
        goto done;
    }
    st = tconv_plan_set_weights(plan, kernel->data, bias ? bias->data : NULL);
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, "weights", st);
        goto done;
    }
    double planned = bench_now_ms();
    st = tconv_plan_execute(plan, input->data, out->data);
    if (st != tconv_success) {
        rc = cli_fail_status(COMMAND, "execute", st);
        goto done;
    }
    if (verbose) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        tconv_plan_get_device_info(plan, &info);
        char shape[256];
        npy_shape_text(out->shape, out->ndim, shape, sizeof shape);
        fprintf(stderr, "%s: device %s (%s); output %s; plan %.2f ms, execute %.2f ms\n", COMMAND,
                info.id, info.name, shape, planned - start, bench_now_ms() - planned);
    }
done:
    tconv_plan_destroy(plan);
    tconv_context_destroy(ctx);
    return rc;
}

/* Builds the problem from the arrays and options, and allocates the output. */
static int prepare(const cli_layer_options_t *opts, const npy_array_t *input,
                   const npy_array_t *kernel, const npy_array_t *bias, tconv_problem_t *p,
                   npy_array_t *out) {
    if (layer_problem_from_input(opts, COMMAND, "--input", input->shape, input->ndim, p) != 0 ||
        apply_kernel_shape(kernel, input, p) != 0)
        return CLI_EXIT_BAD_INPUT;
    p->use_bias = bias != NULL;
    if (bias && check_bias(bias, p) != 0)
        return CLI_EXIT_BAD_INPUT;
    tconv_canonical_t canonical;
    tconv_status_t st = tconv_problem_resolve(p, &canonical);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "invalid layer", st);
    size_t n_in, n_k, n_out;
    st = bench_tensor_counts(p, &n_in, &n_k, &n_out);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "output shape", st);
    memset(out, 0, sizeof *out);
    st = tconv_problem_get_shapes(p, NULL, NULL, out->shape, &out->ndim);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "output shape", st);
    out->dtype = p->dtype == tconv_f64 ? npy_f64 : npy_f32;
    out->count = n_out;
    out->data = malloc(n_out ? n_out * (size_t)out->dtype : 1);
    if (!out->data) {
        cli_error(COMMAND, "--output: out of memory for %zu values", n_out);
        return CLI_EXIT_NO_MEMORY;
    }
    return CLI_EXIT_OK;
}

int cmd_run(int argc, char **argv) {
    run_files_t files = {0};
    cli_layer_options_t opts;
    layer_options_init(&opts);
    int rc = parse_run_args(argc, argv, &files, &opts);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
    if ((rc = check_output_directory(files.output)) != CLI_EXIT_OK)
        return rc;

    npy_array_t input = {0}, kernel = {0}, bias = {0}, out = {0};
    tconv_problem_t problem;
    rc = load_array("--input", files.input, opts.dtype, &input);
    if (rc == CLI_EXIT_OK)
        rc = load_array("--kernel", files.kernel, opts.dtype, &kernel);
    if (rc == CLI_EXIT_OK && files.bias)
        rc = load_array("--bias", files.bias, opts.dtype, &bias);
    if (rc == CLI_EXIT_OK)
        rc = prepare(&opts, &input, &kernel, files.bias ? &bias : NULL, &problem, &out);
    if (rc == CLI_EXIT_OK)
        rc = compute(&problem, opts.device, &input, &kernel, files.bias ? &bias : NULL, &out,
                     files.verbose);
    if (rc == CLI_EXIT_OK)
        rc = write_output(files.output, &out);
    npy_array_free(&input);
    npy_array_free(&kernel);
    npy_array_free(&bias);
    npy_array_free(&out);
    return rc;
}
