/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded OpenCL C program sources (the kernels directory, in build
 * order): one set for the forward program, one for the backward program
 * (built only for plans with a backward pass). */
#ifndef TCONV_OCL_KERNEL_SOURCE_H
#define TCONV_OCL_KERNEL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

/** Which program a source set builds. */
typedef enum ocl_source_set {
    ocl_sources_forward = 0,  /**< pad_input + the gathers + the weight packing. */
    ocl_sources_backward = 1, /**< backward data + backward weights. */
} ocl_source_set_t;

/** The source strings of @p set, to pass to clCreateProgramWithSource. */
const char *const *ocl_kernel_sources(ocl_source_set_t set, size_t *count);

/** FNV-1a 64 over all source strings of @p set (part of every program cache key). */
uint64_t ocl_kernel_source_hash(ocl_source_set_t set);

#endif /* TCONV_OCL_KERNEL_SOURCE_H */
