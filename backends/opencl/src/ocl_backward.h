/* SPDX-License-Identifier: Apache-2.0 */
/* The backward pass of a plan (ABI 1.1 plan_backward_data and
 * plan_backward_weights): its own geometry and tiling, program
 * (kernels/tconv_backward_*.cl, built only for plans whose passes ask for a
 * backward pass), packed weights and buffers, on the plan's queue. The plan
 * (ocl_plan.c) owns it and serialises the calls under its lock. */
#ifndef TCONV_OCL_BACKWARD_H
#define TCONV_OCL_BACKWARD_H

#include "ocl_program.h"
#include "ocl_state.h"
#include "ocl_stream.h"

typedef struct ocl_backward ocl_backward_t;

/** Whether @p p asks for a backward pass (data or weights). */
int ocl_backward_wanted(const tconv_canonical_t *p);

/** Declines (tconv_unimplemented, reason in msg) the backward passes @p p
 *  asks for that @p dev cannot run: a non-linear activation (the core never
 *  sends one), a supplied binary (@p binaries: one program per plan), buffers that do
 *  not fit next to the forward pass's @p forward_bytes. Cheap. */
tconv_status_t ocl_backward_check(const ocl_device_t *dev, const tconv_canonical_t *p,
                                  uint64_t forward_bytes, const ocl_binary_options_t *binaries,
                                  char *msg, size_t msg_size);

/** Builds (or finds in the caches) the backward program in @p context (the
 *  plan's), creates its kernels and buffers, runs each kernel once with no
 *  work (drivers such as PoCL compile then) and persists the program.
 *  @p queue (the plan's own, for the host passes) stays the caller's. */
tconv_status_t ocl_backward_create(ocl_state_t *st, ocl_device_t *dev, cl_context context,
                                   cl_command_queue queue, const tconv_canonical_t *p,
                                   uint64_t forward_bytes, const ocl_binary_options_t *binaries,
                                   ocl_backward_t **out, char *msg, size_t msg_size);

/** Packs @p kernel (the problem's layout) for the data gradient and uploads it. */
tconv_status_t ocl_backward_set_weights(ocl_backward_t *b, const void *kernel, char *msg,
                                        size_t msg_size);

/** The same from a device buffer, packed on the device in chain @p c. */
tconv_status_t ocl_backward_pack_weights(ocl_backward_t *b, ocl_chain_t *c, cl_mem kernel,
                                         char *msg, size_t msg_size);

/** dx from dz for the first @p batch samples (the plan's weights must be
 *  set); host memory, finished on return. */
tconv_status_t ocl_backward_data(ocl_backward_t *b, int64_t batch, const void *grad_output,
                                 void *grad_input, char *msg, size_t msg_size);

/** dw (NULL: not wanted; then @p input may be NULL) and db (NULL: not
 *  wanted) from x and dz, host memory, finished on return. */
tconv_status_t ocl_backward_weights(ocl_backward_t *b, int64_t batch, const void *input,
                                    const void *grad_output, void *grad_kernel, void *grad_bias,
                                    char *msg, size_t msg_size);

/** The data pass on device buffers, enqueued in chain @p c. */
tconv_status_t ocl_backward_enqueue_data(ocl_backward_t *b, ocl_chain_t *c, int64_t batch,
                                         cl_mem grad_output, cl_mem grad_input, char *msg,
                                         size_t msg_size);

/** The weights pass on device buffers (grad_kernel or grad_bias NULL: not
 *  wanted; dw is written by the reduction, db summed there tile by tile). */
tconv_status_t ocl_backward_enqueue_weights(ocl_backward_t *b, ocl_chain_t *c, int64_t batch,
                                            cl_mem input, cl_mem grad_output, cl_mem grad_kernel,
                                            cl_mem grad_bias, char *msg, size_t msg_size);

void ocl_backward_destroy(ocl_backward_t *b);

#endif /* TCONV_OCL_BACKWARD_H */
