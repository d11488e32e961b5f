/* SPDX-License-Identifier: Apache-2.0 */
/* OpenCL error codes to names and tconv statuses, and message helpers. */
#ifndef TCONV_OCL_ERRORS_H
#define TCONV_OCL_ERRORS_H

#include <stddef.h>

#include <CL/cl.h>

#include "tconv/tconv_types.h"

/** Name of an OpenCL error code ("CL_INVALID_WORK_GROUP_SIZE"), or
 *  "CL_UNKNOWN_ERROR" for a code this table does not know. */
const char *ocl_error_name(cl_int err);

/** tconv status for a failed OpenCL call: the allocation failures map to
 *  tconv_out_of_memory, everything else to tconv_runtime_error. */
tconv_status_t ocl_status_from_cl(cl_int err);

/** Writes "<call>: <NAME> (<code>)" and returns ocl_status_from_cl(err). */
tconv_status_t ocl_fail(cl_int err, const char *call, char *msg, size_t msg_size);

/** snprintf into msg when msg is not NULL. */
void ocl_msg(char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* TCONV_OCL_ERRORS_H */
