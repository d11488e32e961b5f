/* SPDX-License-Identifier: Apache-2.0 */
/* OpenCL error names (OpenCL 1.2 plus the ICD loader's) and their mapping
 * to tconv statuses, so every message says which call failed and why. */
#include "ocl_errors.h"

#include <stdarg.h>
#include <stdio.h>

#include <CL/cl_ext.h>

#define OCL_ERR(name)                                                                              \
    { name, #name }

static const struct {
    cl_int code;
    const char *name;
} ocl_error_table[] = {
    OCL_ERR(CL_SUCCESS),
    OCL_ERR(CL_DEVICE_NOT_FOUND),
    OCL_ERR(CL_DEVICE_NOT_AVAILABLE),
    OCL_ERR(CL_COMPILER_NOT_AVAILABLE),
    OCL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE),
    OCL_ERR(CL_OUT_OF_RESOURCES),
    OCL_ERR(CL_OUT_OF_HOST_MEMORY),
    OCL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE),
    OCL_ERR(CL_MEM_COPY_OVERLAP),
    OCL_ERR(CL_IMAGE_FORMAT_MISMATCH),
    OCL_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED),
    OCL_ERR(CL_BUILD_PROGRAM_FAILURE),
    OCL_ERR(CL_MAP_FAILURE),
    OCL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET),
    OCL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST),
    OCL_ERR(CL_COMPILE_PROGRAM_FAILURE),
    OCL_ERR(CL_LINKER_NOT_AVAILABLE),
    OCL_ERR(CL_LINK_PROGRAM_FAILURE),
    OCL_ERR(CL_DEVICE_PARTITION_FAILED),
    OCL_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE),
    OCL_ERR(CL_INVALID_VALUE),
    OCL_ERR(CL_INVALID_DEVICE_TYPE),
    OCL_ERR(CL_INVALID_PLATFORM),
    OCL_ERR(CL_INVALID_DEVICE),
    OCL_ERR(CL_INVALID_CONTEXT),
    OCL_ERR(CL_INVALID_QUEUE_PROPERTIES),
    OCL_ERR(CL_INVALID_COMMAND_QUEUE),
    OCL_ERR(CL_INVALID_HOST_PTR),
    OCL_ERR(CL_INVALID_MEM_OBJECT),
    OCL_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR),
    OCL_ERR(CL_INVALID_IMAGE_SIZE),
    OCL_ERR(CL_INVALID_SAMPLER),
    OCL_ERR(CL_INVALID_BINARY),
    OCL_ERR(CL_INVALID_BUILD_OPTIONS),
    OCL_ERR(CL_INVALID_PROGRAM),
    OCL_ERR(CL_INVALID_PROGRAM_EXECUTABLE),
    OCL_ERR(CL_INVALID_KERNEL_NAME),
    OCL_ERR(CL_INVALID_KERNEL_DEFINITION),
    OCL_ERR(CL_INVALID_KERNEL),
    OCL_ERR(CL_INVALID_ARG_INDEX),
    OCL_ERR(CL_INVALID_ARG_VALUE),
    OCL_ERR(CL_INVALID_ARG_SIZE),
    OCL_ERR(CL_INVALID_KERNEL_ARGS),
    OCL_ERR(CL_INVALID_WORK_DIMENSION),
    OCL_ERR(CL_INVALID_WORK_GROUP_SIZE),
    OCL_ERR(CL_INVALID_WORK_ITEM_SIZE),
    OCL_ERR(CL_INVALID_GLOBAL_OFFSET),
    OCL_ERR(CL_INVALID_EVENT_WAIT_LIST),
    OCL_ERR(CL_INVALID_EVENT),
    OCL_ERR(CL_INVALID_OPERATION),
    OCL_ERR(CL_INVALID_GL_OBJECT),
    OCL_ERR(CL_INVALID_BUFFER_SIZE),
    OCL_ERR(CL_INVALID_MIP_LEVEL),
    OCL_ERR(CL_INVALID_GLOBAL_WORK_SIZE),
    OCL_ERR(CL_INVALID_PROPERTY),
    OCL_ERR(CL_INVALID_IMAGE_DESCRIPTOR),
    OCL_ERR(CL_INVALID_COMPILER_OPTIONS),
    OCL_ERR(CL_INVALID_LINKER_OPTIONS),
    OCL_ERR(CL_INVALID_DEVICE_PARTITION_COUNT),
    OCL_ERR(CL_PLATFORM_NOT_FOUND_KHR),
};

const char *ocl_error_name(cl_int err) {
    for (size_t i = 0; i < sizeof(ocl_error_table) / sizeof(ocl_error_table[0]); i++)
        if (ocl_error_table[i].code == err)
            return ocl_error_table[i].name;
    return "CL_UNKNOWN_ERROR";
}

tconv_status_t ocl_status_from_cl(cl_int err) {
    switch (err) {
    case CL_OUT_OF_RESOURCES:
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_HOST_MEMORY:
        return tconv_out_of_memory;
    default:
        return tconv_runtime_error;
    }
}

tconv_status_t ocl_fail(cl_int err, const char *call, char *msg, size_t msg_size) {
    ocl_msg(msg, msg_size, "%s: %s (%d)", call, ocl_error_name(err), (int)err);
    return ocl_status_from_cl(err);
}

void ocl_msg(char *msg, size_t msg_size, const char *fmt, ...) {
    if (!msg || msg_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_size, fmt, ap);
    va_end(ap);
}
