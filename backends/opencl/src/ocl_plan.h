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
void ocl_plan_destroy(tconv_backend_plan_t plan);

#endif /* TCONV_OCL_PLAN_H */
