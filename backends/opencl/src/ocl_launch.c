/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel launches (ocl_launch.h). */
#include "ocl_launch.h"

#include <stdio.h>

#include "ocl_errors.h"

tconv_status_t ocl_set_args(cl_kernel k, const char *name, const ocl_arg_t *args, size_t nargs,
                            char *msg, size_t msg_size) {
    for (size_t i = 0; i < nargs; i++) {
        const cl_int err = args[i].mem
                               ? clSetKernelArg(k, (cl_uint)i, sizeof(cl_mem), args[i].mem)
                               : clSetKernelArg(k, (cl_uint)i, sizeof(cl_int), &args[i].value);
        if (err != CL_SUCCESS) {
            char call[160];
            snprintf(call, sizeof(call), "clSetKernelArg(%s, argument %zu)", name, i);
            return ocl_fail(err, call, msg, msg_size);
        }
    }
    return tconv_success;
}

tconv_status_t ocl_launch(ocl_chain_t *c, cl_kernel k, const char *name, const size_t *global,
                          const size_t *local, const ocl_arg_t *args, size_t nargs, char *msg,
                          size_t msg_size) {
    tconv_status_t s = ocl_set_args(k, name, args, nargs, msg, msg_size);
    if (s != tconv_success)
        return s;
    const cl_int err =
        clEnqueueNDRangeKernel(c->queue, k, 3, NULL, global, local, OCL_CHAIN_SYNC(c));
    ocl_chain_commit(c, err);
    if (err != CL_SUCCESS) {
        char call[160];
        snprintf(call, sizeof(call), "clEnqueueNDRangeKernel(%s)", name);
        return ocl_fail(err, call, msg, msg_size);
    }
    return tconv_success;
}
