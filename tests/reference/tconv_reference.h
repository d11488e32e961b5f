/* Ground truth for tests: a naive float64 transposed convolution written
 * straight from the definition of tconv_canonical_t (tconv_types.h).
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

/** Number of elements of each tensor of @p p. */
int64_t tconv_reference_input_count(const tconv_canonical_t *p);
int64_t tconv_reference_kernel_count(const tconv_canonical_t *p);
int64_t tconv_reference_output_count(const tconv_canonical_t *p);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_REFERENCE_H */
