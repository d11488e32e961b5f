/* SPDX-License-Identifier: Apache-2.0 */
/* Ground truth for tests: a naive float64 transposed convolution written
 * straight from the definition of tconv_canonical_t (tconv_types.h), and
 * the canonical form of a user's problem written again from the
 * frameworks' rules (tconv_reference_resolve).
 *
 * It shares no code with the library or any backend: only the type
 * definitions. Slow on purpose; meant for small problems. */
#ifndef TCONV_REFERENCE_H
#define TCONV_REFERENCE_H

#include "tconv/tconv_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The fused activation @p act applied to @p x in float64, from its Keras
 *  definition. @p alpha is the resolved parameter (leaky_relu, elu, celu,
 *  hard_shrink, soft_shrink, squareplus); other activations ignore it. */
double tconv_reference_activation(tconv_activation_t act, double alpha, double x);

/** Computes act(bias + conv) for the canonical problem @p p.
 *  Tensors are float64 in the layouts of @p p (data format, kernel layout),
 *  regardless of p->dtype. @p bias is read only when p->use_bias is nonzero.
 *  @p out receives N*Cout*D*H*W values. */
void tconv_reference_forward(const tconv_canonical_t *p, const double *in, const double *kernel,
                             const double *bias, double *out);

/** Per output element, the sum of the absolute values of every term that
 *  forms its pre-activation value: |bias| + sum |x * w|. Scales the error
 *  tolerance (a sum of many terms loses precision relative to this, not to
 *  its result). Same arguments and output layout as tconv_reference_forward. */
void tconv_reference_forward_abs(const tconv_canonical_t *p, const double *in, const double *kernel,
                                 const double *bias, double *out_abs);

/** The derivative act'(x) of tconv_reference_activation, in float64, from
 *  the activation's formula. NaN gives NaN; at a kink it is the value
 *  PyTorch and TensorFlow use (the clipped linear pieces count their end
 *  points as outside: relu'(0) = relu6'(0) = relu6'(6) = 0, hard_tanh'(+-1)
 *  = 0, hard_sigmoid'(+-3) = 0, hard_silu'(-3) = 0 and hard_silu'(3) = 1;
 *  leaky_relu'(0) = alpha; the shrinks' derivative is 0 at |x| = alpha);
 *  +-inf gives the limit. */
double tconv_reference_activation_grad(tconv_activation_t act, double alpha, double x);

/** Naive float64 adjoint written from the definition: given dL/dy of
 *  act(bias + conv), computes dL/dx, dL/dw, dL/db (each may be NULL) in the
 *  layouts of p (activation derivative at the pre-activation, recomputed
 *  inside). Same tensor conventions as tconv_reference_forward:
 *    dL/dz[n, oc, o] = dL/dy[n, oc, o] * act'(z[n, oc, o]),
 *    dL/dx[n, ic, i] = sum over taps t and oc in ic's group of dL/dz[n, oc, o] * w[ic, oc, t],
 *    dL/dw[ic, oc, t] = sum over n, i of x[n, ic, i] * dL/dz[n, oc, o],
 *    dL/db[oc] = sum over n and the output points of dL/dz[n, oc, .],
 *  with o = i*stride + t*dilation - crop_begin per axis, 0 <= o < output_size.
 *  @p in may be NULL when neither dL/dw nor act' needs it (linear
 *  activation); @p bias is read only when p->use_bias is nonzero and the
 *  activation is not linear. dL/db is computed whenever @p grad_bias is
 *  given, with or without a bias in the forward pass. */
void tconv_reference_backward(const tconv_canonical_t *p, const double *in, const double *kernel,
                              const double *bias, const double *grad_out, double *grad_in,
                              double *grad_kernel, double *grad_bias);

/** Per gradient element, the sum of the absolute values of the terms of its
 *  sum, with each output point o weighted by @p grad_z_abs[o] >= 0 (|dL/dz|,
 *  or a bound on it the caller chooses):
 *    grad_in_abs = sum |w| * grad_z_abs, grad_kernel_abs = sum |x| *
 *    grad_z_abs, grad_bias_abs = sum grad_z_abs.
 *  Scales the error tolerance of the gradients, as
 *  tconv_reference_forward_abs does for the output. Any output may be NULL;
 *  @p in may be NULL when @p grad_kernel_abs is. */
void tconv_reference_backward_abs(const tconv_canonical_t *p, const double *in,
                                  const double *kernel, const double *grad_z_abs,
                                  double *grad_in_abs, double *grad_kernel_abs,
                                  double *grad_bias_abs);

/** The canonical form of the user's problem @p p, resolved from each
 *  framework's documented rules (tconv_reference_shape.c) without the
 *  library: per axis the output length and begin crop of Keras (valid,
 *  same), PyTorch / ONNX explicit pads, and ONNX output_shape / auto_pad;
 *  the activation parameter's Keras default for NaN. Lower ranks get unit
 *  leading axes. Assumes a valid problem (it checks only that every
 *  output length is >= 1). Returns 0, or -1 with the reason in @p why. */
int tconv_reference_resolve(const tconv_problem_t *p, tconv_canonical_t *c, char *why,
                            size_t why_size);

/** The tensor shapes a user of @p c's rank and layouts passes: input and
 *  output (N, C, spatial...) or (N, spatial..., C), kernel (k..., Cout/G,
 *  Cin) or (Cin, Cout/G, k...); *ndims = spatial rank + 2 (unused entries
 *  1). */
void tconv_reference_user_shapes(const tconv_canonical_t *c, int64_t input_dims[TCONV_MAX_DIMS],
                                 int64_t kernel_dims[TCONV_MAX_DIMS],
                                 int64_t output_dims[TCONV_MAX_DIMS], int *ndims);

/** Number of elements of each tensor of @p p. */
int64_t tconv_reference_input_count(const tconv_canonical_t *p);
int64_t tconv_reference_kernel_count(const tconv_canonical_t *p);
int64_t tconv_reference_output_count(const tconv_canonical_t *p);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_REFERENCE_H */
