/* SPDX-License-Identifier: Apache-2.0 */
/* Plans: one problem on one OpenCL device (program, kernels, buffers). */
#ifndef TCONV_OCL_PLAN_H
#define TCONV_OCL_PLAN_H

#include "ocl_program.h"
#include "ocl_state.h"
#include "ocl_stream.h"

/** Declines (tconv_unimplemented) what the device cannot run: float64
 *  without cl_khr_fp64, weights or a minimal tile above its allocation
 *  limit, a backward pass with a supplied binary. Cheap; used by query and
 *  plan_create. */
tconv_status_t ocl_plan_check(const ocl_device_t *dev, const tconv_canonical_t *p,
                              const ocl_binary_options_t *binaries, char *msg, size_t msg_size);

/** plan_create: ocl_plan_create_with_options with no options (the
 *  environment's TCONV_OPENCL_BINARY, TCONV_OPENCL_BINARY_SAVE alone). */
tconv_status_t ocl_plan_create(tconv_backend_state_t state, size_t device,
                               const tconv_canonical_t *p, tconv_backend_plan_t *plan, char *msg,
                               size_t msg_size);
/** plan_create_with_options (ABI 1.2): a plan whose programs come from the
 *  plan options' program_binary / program_binary_save (copied), each
 *  falling back to its environment variable (ocl_binary_options_from_plan),
 *  besides the caches: the FPGA flow without environment variables, one
 *  binary per plan. @p options NULL: the environment alone. */
tconv_status_t ocl_plan_create_with_options(tconv_backend_state_t state, size_t device,
                                            const tconv_canonical_t *p,
                                            const tconv_plan_options_t *options,
                                            tconv_backend_plan_t *plan, char *msg, size_t msg_size);
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

/* ABI 1.2 slots: run-time batch, passes on device buffers (ocl_buffer.h)
 * enqueued on the device queue or, for a plan made on a caller's queue, on
 * that queue; tconv_native_sync_t holds cl_event wait lists and events. */
tconv_status_t ocl_plan_set_batch(tconv_backend_plan_t plan, int64_t batch, char *msg,
                                  size_t msg_size);
tconv_status_t ocl_plan_set_weights_buffers(tconv_backend_plan_t plan, const void *kernel,
                                            const void *bias, char *msg, size_t msg_size);
tconv_status_t ocl_plan_enqueue(tconv_backend_plan_t plan, const void *input, void *output,
                                const tconv_native_sync_t *sync, char *msg, size_t msg_size);
tconv_status_t ocl_plan_enqueue_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                              void *grad_input, const tconv_native_sync_t *sync,
                                              char *msg, size_t msg_size);
tconv_status_t ocl_plan_enqueue_backward_weights(tconv_backend_plan_t plan, const void *input,
                                                 const void *grad_output, void *grad_kernel,
                                                 void *grad_bias, const tconv_native_sync_t *sync,
                                                 char *msg, size_t msg_size);
tconv_status_t ocl_plan_wait(tconv_backend_plan_t plan, char *msg, size_t msg_size);
tconv_status_t ocl_plan_create_native(tconv_backend_state_t state, const tconv_canonical_t *p,
                                      void *native_queue, size_t *device,
                                      tconv_backend_plan_t *plan, char *msg, size_t msg_size);

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

/** The caller's side of a tensor: host memory (host path) or a cl_mem
 *  (a device buffer: enqueue path). */
typedef struct ocl_tensor {
    void *host;
    cl_mem mem;
} ocl_tensor_t;

/** Enqueues, in chain @p c, the copy of rectangle @p r between a tile
 *  buffer and the caller's tensor @p t (@p to_tile 1: tensor to tile):
 *  clEnqueue{Write,Read}BufferRect for host memory (non-blocking: the host
 *  path finishes the queue before returning), clEnqueueCopyBufferRect for a
 *  buffer. Returns the OpenCL status; *@p call names the call. */
cl_int ocl_copy_rect(ocl_chain_t *c, const ocl_rect_t *r, cl_mem tile, ocl_tensor_t t, int to_tile,
                     const char **call);

/** The global size of a launch of @p samples samples, from the size of one
 *  sample (@p unit) whose dimension @p batch_dim grows with the samples. */
void ocl_launch_size(const size_t unit[3], int batch_dim, int64_t samples, size_t global[3]);

#endif /* TCONV_OCL_PLAN_H */
