/* SPDX-License-Identifier: Apache-2.0 */
/* The fused activations on host memory, one implementation compiled into
 * both the core (libtconv) and the native CPU backend:
 *   - the CPU backend applies act(z) to the outputs it computes;
 *   - the core applies act(z) and dL/dz = dL/dy * act'(z) for plans with a
 *     backward pass, whose backend runs with a linear activation (it returns
 *     the pre-activation z; docs/backward.md).
 * Formulas: activation_impl.h (values) and activation_grad_impl.h
 * (derivatives). Internal: never installed, hidden in both binaries. */
#ifndef TCONV_COMMON_ACTIVATION_EVAL_H
#define TCONV_COMMON_ACTIVATION_EVAL_H

#include <stddef.h>

#include "tconv/tconv_types.h"

/* v[k] = act(v[k]) for k < n, in place. */
void activation_forward_f32(float *v, size_t n, tconv_activation_t act, double alpha);
void activation_forward_f64(double *v, size_t n, tconv_activation_t act, double alpha);

/* dz[k] = dy[k] * act'(z[k]) for k < n; @p dz may alias @p z. */
void activation_backward_f32(float *dz, const float *dy, const float *z, size_t n,
                             tconv_activation_t act, double alpha);
void activation_backward_f64(double *dz, const double *dy, const double *z, size_t n,
                             tconv_activation_t act, double alpha);

/* The same, on arrays of element type @p dtype. */
void activation_forward(tconv_dtype_t dtype, void *v, size_t n, tconv_activation_t act,
                        double alpha);
void activation_backward(tconv_dtype_t dtype, void *dz, const void *dy, const void *z, size_t n,
                         tconv_activation_t act, double alpha);

#endif /* TCONV_COMMON_ACTIVATION_EVAL_H */
