/* The embedded OpenCL C program source (the kernels directory, in build order). */
#ifndef TCONV_OCL_KERNEL_SOURCE_H
#define TCONV_OCL_KERNEL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

/** The source strings, to pass to clCreateProgramWithSource. */
const char *const *ocl_kernel_sources(size_t *count);

/** FNV-1a 64 over all source strings (part of every program cache key). */
uint64_t ocl_kernel_source_hash(void);

#endif /* TCONV_OCL_KERNEL_SOURCE_H */
