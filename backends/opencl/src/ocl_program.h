/* Getting a built program for a device and a set of build options: from the
 * in-memory list, the on-disk cache, a precompiled binary
 * (TCONV_OPENCL_BINARY) or the embedded source, in that order of preference. */
#ifndef TCONV_OCL_PROGRAM_H
#define TCONV_OCL_PROGRAM_H

#include "ocl_state.h"

/** Returns a built program (the caller releases it) for @p dev, whose
 *  context must exist. Honours TCONV_CACHE_DIR, TCONV_OPENCL_BINARY and
 *  TCONV_OPENCL_BINARY_SAVE (see README.md). */
tconv_status_t ocl_program_get(ocl_state_t *st, ocl_device_t *dev, const char *options,
                               cl_program *program, char *msg, size_t msg_size);

#endif /* TCONV_OCL_PROGRAM_H */
