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

/** Bytes of the kernel of @p p. */
size_t example_kernel_bytes(const tconv_canonical_t *p);

#endif /* TCONV_EXAMPLE_COMPUTE_H */
