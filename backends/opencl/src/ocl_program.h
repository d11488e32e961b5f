/* SPDX-License-Identifier: Apache-2.0 */
/* Getting a built program for a device and a set of build options: from a
 * precompiled binary (plan option program_binary, else TCONV_OPENCL_BINARY;
 * then nothing else), else the in-memory list, the on-disk cache or the
 * embedded source, in that order of preference. */
#ifndef TCONV_OCL_PROGRAM_H
#define TCONV_OCL_PROGRAM_H

#include "ocl_kernel_source.h"
#include "ocl_state.h"

/** Where a plan's programs come from besides the caches (the FPGA flow): a
 *  supplied binary, loaded with clCreateProgramWithBinary and never built
 *  from source, and a file the forward program's binary is saved to. The
 *  plan options program_binary and program_binary_save, each falling back
 *  to TCONV_OPENCL_BINARY and TCONV_OPENCL_BINARY_SAVE
 *  (ocl_binary_options_from_plan). */
typedef struct ocl_binary_options {
    const char *binary;      /**< NULL: none. */
    const char *binary_save; /**< NULL: none. */
    /** What gave each, for messages (ocl_binary_describe): an environment
     *  variable ("TCONV_OPENCL_BINARY") or, with the *_option flag set, a
     *  plan option ("program_binary"). */
    const char *binary_name, *binary_save_name;
    int binary_option, binary_save_option;
} ocl_binary_options_t;

/** TCONV_OPENCL_BINARY and TCONV_OPENCL_BINARY_SAVE (secure_getenv; empty
 *  counts as unset): the only place the plugin reads them. */
ocl_binary_options_t ocl_binary_options_from_env(void);

/** The plan options over the environment, field by field: a path the
 *  options give wins, a field they leave NULL is the variable's (so a
 *  deployment's TCONV_OPENCL_BINARY_SAVE still applies to a plan that only
 *  names its program_binary). @p options NULL: the environment alone. */
ocl_binary_options_t ocl_binary_options_from_plan(const tconv_plan_options_t *options);

/** What gave a path, for messages: "NAME=path" for an environment variable
 *  (@p option 0), "plan option NAME 'path'" for a plan option. */
void ocl_binary_describe(const char *name, int option, const char *path, char *out, size_t size);

/** Returns a built program of source set @p set (the caller releases it) for @p dev in
 *  @p context (the device's own, which must exist, or a caller's that holds
 *  the device): from binaries->binary when set (never from source), else
 *  from memory (the device's own context only: the key holds no context),
 *  the disk cache (TCONV_CACHE_DIR) or source. *fresh is set when it was
 *  built from source in this call. */
tconv_status_t ocl_program_get(ocl_state_t *st, ocl_device_t *dev, cl_context context,
                               ocl_source_set_t set, const char *options,
                               const ocl_binary_options_t *binaries, cl_program *program,
                               int *fresh, char *msg, size_t msg_size);

/** After the program's kernels ran once (drivers such as PoCL then include
 *  the compiled work-group functions in the binary): writes the disk cache
 *  entry when @p fresh, and (forward set only) binaries->binary_save when
 *  set. */
tconv_status_t ocl_program_persist(ocl_state_t *st, ocl_device_t *dev, ocl_source_set_t set,
                                   const char *options, const ocl_binary_options_t *binaries,
                                   cl_program program, int fresh, char *msg, size_t msg_size);

#endif /* TCONV_OCL_PROGRAM_H */
