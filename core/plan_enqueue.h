/* SPDX-License-Identifier: Apache-2.0 */
/* Weights, passes and waits on buffers, for the public buffer calls
 * (plan_enqueue.c) and the OpenCL interop (opencl_interop.c), whose
 * buffers are per-call wrappers of the caller's cl_mem and whose passes
 * carry the caller's events (@p sync; NULL for plain in-order work). The
 * arguments are checked here, with messages naming them. */
#ifndef TCONV_CORE_PLAN_ENQUEUE_H
#define TCONV_CORE_PLAN_ENQUEUE_H

#include "buffer.h"
#include "plan.h"

tconv_status_t tconv_plan_set_weights_from(struct tconv_plan *plan,
                                           const struct tconv_buffer *kernel,
                                           const struct tconv_buffer *bias);

tconv_status_t tconv_plan_enqueue_forward(struct tconv_plan *plan, const struct tconv_buffer *input,
                                          const struct tconv_buffer *output,
                                          const tconv_native_sync_t *sync);

tconv_status_t tconv_plan_enqueue_backward_passes(struct tconv_plan *plan,
                                                  const struct tconv_buffer *input,
                                                  const struct tconv_buffer *grad_output,
                                                  const struct tconv_buffer *grad_input,
                                                  const struct tconv_buffer *grad_kernel,
                                                  const struct tconv_buffer *grad_bias,
                                                  const tconv_native_sync_t *sync);

#endif /* TCONV_CORE_PLAN_ENQUEUE_H */
