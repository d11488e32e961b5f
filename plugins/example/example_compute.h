/* SPDX-License-Identifier: Apache-2.0 */
/* The example backend's arithmetic: a direct (gather) transposed convolution
 * over the canonical problem, in the problem's dtype. Kept apart from the
 * plugin plumbing (example_backend.c) so a vendor replaces only this file
 * with calls into their device. */
#ifndef TCONV_EXAMPLE_COMPUTE_H
#define TCONV_EXAMPLE_COMPUTE_H

#include "tconv/tconv_types.h"

/** Computes act(bias + conv) of @p p. kernel/bias/input/output are in the
 *  problem's layouts and dtype (float or double); bias is NULL without
 *  use_bias. */
void example_forward(const tconv_canonical_t *p, const void *kernel, const void *bias,
                     const void *input, void *output);

/** The backward pass for the input: @p grad_input = dL/dx from @p
 *  grad_output = dL/dz (the gradient at the pre-activation; the core
 *  applies the activation's derivative). Every element is written. */
void example_backward_data(const tconv_canonical_t *p, const void *kernel, const void *grad_output,
                           void *grad_input);

/** The backward pass for the weights: @p grad_kernel = dL/dw (kernel
 *  layout) from @p input and @p grad_output = dL/dz, and @p grad_bias =
 *  dL/db (out_channels values). Either output may be NULL (not wanted). */
void example_backward_weights(const tconv_canonical_t *p, const void *input,
                              const void *grad_output, void *grad_kernel, void *grad_bias);

/** Bytes of the kernel of @p p. */
size_t example_kernel_bytes(const tconv_canonical_t *p);

#endif /* TCONV_EXAMPLE_COMPUTE_H */
