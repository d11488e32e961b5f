/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a layer's .npy arrays and writing its results, shared by the
 * commands that take them (`tconv run`, `tconv backward`). @p command names
 * the command in messages ("tconv run"), @p option the argument ("--input"). */
#ifndef TCONV_CLI_LAYER_IO_H
#define TCONV_CLI_LAYER_IO_H

#include <stdint.h>

#include "args.h"
#include "npy.h"
#include "tconv/tconv.h"

/** Reads one array converted to @p dtype.
 *  @returns CLI_EXIT_OK, or the exit code of the failure (printed). */
int layer_load_array(const char *command, const char *option, const char *path, tconv_dtype_t dtype,
                     npy_array_t *array);

/** Takes kernel size and Cout from @p kernel (in p->kernel_layout) and checks
 *  its Cin against the input's. @returns 0, or -1 (printed). */
int layer_apply_kernel_shape(const char *command, const npy_array_t *kernel,
                             const npy_array_t *input, tconv_problem_t *p);

/** Checks that @p bias has shape (Cout,). @returns 0, or -1 (printed). */
int layer_check_bias(const char *command, const npy_array_t *bias, const tconv_problem_t *p);

/** Refuses an output path that cannot take the file (a directory, an
 *  unwritable directory or device), before any time is spent computing.
 *  @returns CLI_EXIT_OK, or the exit code of the failure (printed). */
int layer_check_output_path(const char *command, const char *option, const char *path);

/** Writes @p out to @p path atomically (temporary file, then rename).
 *  @returns CLI_EXIT_OK, or the exit code of the failure (printed). */
int layer_write_output(const char *command, const char *option, const char *path,
                       const npy_array_t *out);

/** Builds and validates the problem of the arrays (shapes from @p input and
 *  @p kernel; @p bias NULL for none) and the layer options.
 *  @returns CLI_EXIT_OK, or the exit code of the failure (printed). */
int layer_problem_from_arrays(const char *command, const cli_layer_options_t *opts,
                              const npy_array_t *input, const npy_array_t *kernel,
                              const npy_array_t *bias, tconv_problem_t *p);

/** Allocates an uninitialised array of @p shape and @p dtype for a result.
 *  @returns CLI_EXIT_OK, or the exit code of the failure (printed). */
int layer_alloc_array(const char *command, const char *option, tconv_dtype_t dtype,
                      const int64_t *shape, int ndim, npy_array_t *array);

/** A context and a plan with its weights set, for one command's run. */
typedef struct layer_plan {
    tconv_context_t context;
    tconv_plan_t plan;
    tconv_device_info_t device; /**< The plan's device. */
    double plan_ms;             /**< Time to create the plan and set the weights. */
} layer_plan_t;

/** Creates a context and a plan for @p p on @p selector, and sets the
 *  weights (@p bias NULL for none).
 *  @returns CLI_EXIT_OK, or the exit code of the failure (printed; nothing
 *           to close). */
int layer_plan_open(const char *command, const tconv_problem_t *p, const char *selector,
                    const npy_array_t *kernel, const npy_array_t *bias, layer_plan_t *lp);

/** Destroys the plan and the context. */
void layer_plan_close(layer_plan_t *lp);

#endif /* TCONV_CLI_LAYER_IO_H */
