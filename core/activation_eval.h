/* The fused activations evaluated by the core, for plans with a backward
 * pass: their backend runs with a linear activation (it returns the
 * pre-activation z), and the core applies act(z) for the forward pass and
 * act'(z) for the backward pass. Same formulas as the CPU backend's. */
#ifndef TCONV_CORE_ACTIVATION_EVAL_H
#define TCONV_CORE_ACTIVATION_EVAL_H

#include <stddef.h>

#include "tconv/tconv_types.h"

/* v[k] = act(v[k]) for k < n, in place, in the element type @p dtype. */
void tconv_activation_forward(tconv_dtype_t dtype, void *v, size_t n, tconv_activation_t act,
                              double alpha);

/* dz[k] = dy[k] * act'(z[k]) for k < n; @p dz may alias @p z. */
void tconv_activation_backward(tconv_dtype_t dtype, void *dz, const void *dy, const void *z,
                               size_t n, tconv_activation_t act, double alpha);

#endif /* TCONV_CORE_ACTIVATION_EVAL_H */
