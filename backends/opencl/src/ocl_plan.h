/* SPDX-License-Identifier: Apache-2.0 */
/* Plans: one problem on one OpenCL device (program, kernels, buffers). */
#ifndef TCONV_OCL_PLAN_H
#define TCONV_OCL_PLAN_H

#include "ocl_state.h"

/** Declines (tconv_unimplemented) what the device cannot run: float64
 *  without cl_khr_fp64, weights or a minimal tile above its allocation
 *  limit. Cheap; used by query and plan_create. */
tconv_status_t ocl_plan_check(const ocl_device_t *dev, const tconv_canonical_t *p, char *msg,
                              size_t msg_size);

tconv_status_t ocl_plan_create(tconv_backend_state_t state, size_t device,
                               const tconv_canonical_t *p, tconv_backend_plan_t *plan, char *msg,
                               size_t msg_size);
tconv_status_t ocl_plan_set_weights(tconv_backend_plan_t plan, const void *kernel, const void *bias,
                                    char *msg, size_t msg_size);
tconv_status_t ocl_plan_execute(tconv_backend_plan_t plan, const void *input, void *output,
                                char *msg, size_t msg_size);
/* ABI 1.1 backward slots (ocl_backward.c does the work). */
tconv_status_t ocl_plan_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                      void *grad_input, char *msg, size_t msg_size);
tconv_status_t ocl_plan_backward_weights(tconv_backend_plan_t plan, const void *input,
                                         const void *grad_output, void *grad_kernel,
                                         void *grad_bias, char *msg, size_t msg_size);
void ocl_plan_destroy(tconv_backend_plan_t plan);

/** Local work size: per dimension the largest divisor of global[i] within
 *  what is left of min(target, kernel_max) (so global sizes need no rounding). */
void ocl_choose_local(const size_t global[3], size_t kernel_max, size_t target, size_t local[3]);

/** A depth range [d0, d1) of samples [n0, n0 + nb) of a tensor, as the
 *  rectangle between the host tensor (depth `full`) and a tile buffer (depth
 *  `cap`): per sample, `rows` rows (1 channels-last, C channels-first) of
 *  `unit` bytes per depth plane. For clEnqueue{Read,Write}BufferRect. */
typedef struct ocl_rect {
    size_t buf_origin[3], host_origin[3], region[3];
    size_t buf_row, buf_slice, host_row, host_slice;
} ocl_rect_t;

/** The rectangle of the input (@p output 0) or output (1) tensor of @p p. */
ocl_rect_t ocl_tile_rect(const tconv_canonical_t *p, size_t elem, int output, int64_t d0,
                         int64_t d1, int64_t cap, int64_t n0, int64_t nb);

#endif /* TCONV_OCL_PLAN_H */
