/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a layer's .npy arrays and writing its results, for the commands
 * that take them (`tconv run`, `tconv backward`). Every error is printed as
 * "<command>: --option: file: rule" and returned as an exit code (status.h). */
#include "layer_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "bench.h"
#include "status.h"

/* Reads one array; maps .npy failures to exit codes with the argument named. */
int layer_load_array(const char *command, const char *option, const char *path, tconv_dtype_t dtype,
                     npy_array_t *array) {
    char message[512];
    npy_status_t st =
        npy_read(path, dtype == tconv_f64 ? npy_f64 : npy_f32, array, message, sizeof message);
    if (st == npy_ok)
        return CLI_EXIT_OK;
    cli_error(command, "%s: %s: %s", option, path, message);
    return st == npy_no_memory  ? CLI_EXIT_NO_MEMORY
           : st == npy_io_error ? CLI_EXIT_RUNTIME
                                : CLI_EXIT_BAD_INPUT;
}

/* Kernel size, Cout/G and the kernel's Cin by layout; checks them against
 * the input. */
int layer_apply_kernel_shape(const char *command, const npy_array_t *kernel,
                             const npy_array_t *input, tconv_problem_t *p) {
    int rank = p->spatial_rank;
    if (kernel->ndim != input->ndim) {
        cli_error(command, "--kernel: rank %d does not match --input rank %d (kernel: %s)",
                  kernel->ndim, input->ndim,
                  p->kernel_layout == tconv_kernel_keras ? "k..., Cout/G, Cin"
                                                         : "Cin, Cout/G, k...");
        return -1;
    }
    for (int i = 0; i < kernel->ndim; i++) {
        if (kernel->shape[i] < 1) {
            cli_error(command, "--kernel: dimension %d is %lld: every dimension must be >= 1", i,
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
        cli_error(command,
                  "--kernel: in_channels %lld (%s axis, %s layout) does not match --input "
                  "channels %lld",
                  (long long)kernel_cin, keras ? "last" : "first", keras ? "keras" : "torch",
                  (long long)p->in_channels);
        return -1;
    }
    if (cout_per_group > INT64_MAX / p->groups) {
        cli_error(command, "--kernel: groups * Cout/G overflows");
        return -1;
    }
    p->out_channels = p->groups * cout_per_group;
    return 0;
}

int layer_check_bias(const char *command, const npy_array_t *bias, const tconv_problem_t *p) {
    if (bias->ndim != 1 || bias->shape[0] != p->out_channels) {
        char shape[128];
        npy_shape_text(bias->shape, bias->ndim, shape, sizeof shape);
        cli_error(command, "--bias: expected shape (%lld,) (Cout = groups * kernel Cout/G), got %s",
                  (long long)p->out_channels, shape);
        return -1;
    }
    return 0;
}

/* Refuses an output path that cannot take the file (atomic_file_check),
 * before any time is spent computing. */
int layer_check_output_path(const char *command, const char *option, const char *path) {
    char message[512];
    if (atomic_file_check(path, message, sizeof message) == 0)
        return CLI_EXIT_OK;
    const int err = errno;
    if (err == ENOMEM)
        return cli_error_out_of_memory(command, option);
    cli_error(command, "%s: %s: %s", option, path, message);
    return cli_exit_code_for_errno(err);
}

int layer_write_output(const char *command, const char *option, const char *path,
                       const npy_array_t *out) {
    char message[512];
    atomic_file_t af;
    if (atomic_file_open(&af, path, message, sizeof message) != 0) {
        const int err = errno; /* ENOSPC, EDQUOT: exit 3, not a bad argument */
        if (err == ENOMEM)
            return cli_error_out_of_memory(command, option);
        cli_error(command, "%s: %s: %s", option, path, message);
        return cli_exit_code_for_errno(err);
    }
    if (npy_write(af.file, out, message, sizeof message) != npy_ok) {
        atomic_file_abort(&af);
        cli_error(command, "%s: %s: %s", option, path, message);
        return CLI_EXIT_RUNTIME;
    }
    if (atomic_file_commit(&af, message, sizeof message) != 0) {
        cli_error(command, "%s: %s: %s", option, path, message);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

int layer_problem_from_arrays(const char *command, const cli_layer_options_t *opts,
                              const npy_array_t *input, const npy_array_t *kernel,
                              const npy_array_t *bias, tconv_problem_t *p) {
    if (layer_problem_from_input(opts, command, "--input", input->shape, input->ndim, p) != 0 ||
        layer_apply_kernel_shape(command, kernel, input, p) != 0)
        return CLI_EXIT_BAD_INPUT;
    p->use_bias = bias != NULL;
    if (bias && layer_check_bias(command, bias, p) != 0)
        return CLI_EXIT_BAD_INPUT;
    tconv_canonical_t canonical;
    tconv_status_t st = tconv_problem_resolve(p, &canonical);
    if (st != tconv_success)
        return cli_fail_status(command, "invalid layer", st);
    return CLI_EXIT_OK;
}

int layer_alloc_array(const char *command, const char *option, tconv_dtype_t dtype,
                      const int64_t *shape, int ndim, npy_array_t *array) {
    memset(array, 0, sizeof *array);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && count > SIZE_MAX / 8 / (size_t)shape[i])) {
            cli_error(command, "%s: the array's size overflows", option);
            return CLI_EXIT_BAD_INPUT;
        }
        count *= (size_t)shape[i];
        array->shape[i] = shape[i];
    }
    array->ndim = ndim;
    array->dtype = dtype == tconv_f64 ? npy_f64 : npy_f32;
    array->count = count;
    array->data = malloc(count ? count * (size_t)array->dtype : 1);
    if (!array->data) {
        cli_error(command, "%s: out of memory for %zu values", option, count);
        return CLI_EXIT_NO_MEMORY;
    }
    return CLI_EXIT_OK;
}

int layer_plan_open(const char *command, const tconv_problem_t *p, const char *selector,
                    const npy_array_t *kernel, const npy_array_t *bias, layer_plan_t *lp) {
    memset(lp, 0, sizeof *lp);
    tconv_status_t st = tconv_context_create(&lp->context, NULL);
    if (st != tconv_success)
        return cli_fail_status(command, "creating the context", st);
    const double start = bench_now_ms();
    st = tconv_plan_create(&lp->plan, lp->context, p, selector);
    if (st == tconv_success)
        st = tconv_plan_set_weights(lp->plan, kernel->data, bias ? bias->data : NULL);
    lp->plan_ms = bench_now_ms() - start;
    if (st != tconv_success) {
        int rc = cli_fail_status(command, lp->plan ? "weights" : "plan", st);
        layer_plan_close(lp);
        return rc;
    }
    tconv_plan_get_device_info(lp->plan, &lp->device);
    return CLI_EXIT_OK;
}

void layer_plan_close(layer_plan_t *lp) {
    tconv_plan_destroy(lp->plan);
    tconv_context_destroy(lp->context);
    memset(lp, 0, sizeof *lp);
}
