/* SPDX-License-Identifier: Apache-2.0 */
/* Getting a built program for a device and a set of build options: from the
 * in-memory list, the on-disk cache, a precompiled binary
 * (TCONV_OPENCL_BINARY) or the embedded source, in that order of preference. */
#ifndef TCONV_OCL_PROGRAM_H
#define TCONV_OCL_PROGRAM_H

#include "ocl_kernel_source.h"
#include "ocl_state.h"

/** Returns a built program of source set @p set (the caller releases it) for @p dev in
 *  @p context (the device's own, which must exist, or a caller's that holds
 *  the device): from TCONV_OPENCL_BINARY when set (never from source), else
 *  from memory (the device's own context only: the key holds no context),
 *  the disk cache (TCONV_CACHE_DIR) or source. *fresh is set when it was
 *  built from source in this call. */
tconv_status_t ocl_program_get(ocl_state_t *st, ocl_device_t *dev, cl_context context,
                               ocl_source_set_t set, const char *options, cl_program *program,
                               int *fresh, char *msg, size_t msg_size);

/** After the program's kernels ran once (drivers such as PoCL then include
 *  the compiled work-group functions in the binary): writes the disk cache
 *  entry when @p fresh, and (forward set only) the TCONV_OPENCL_BINARY_SAVE
 *  file when set. */
tconv_status_t ocl_program_persist(ocl_state_t *st, ocl_device_t *dev, ocl_source_set_t set,
                                   const char *options, cl_program program, int fresh, char *msg,
                                   size_t msg_size);

#endif /* TCONV_OCL_PROGRAM_H */
