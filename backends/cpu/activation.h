/* Fused element-wise activations of the CPU backend (Keras definitions, see
 * tconv_types.h), applied in place to a contiguous span of outputs. */
#ifndef TCONV_CPU_ACTIVATION_H
#define TCONV_CPU_ACTIVATION_H

#include <stddef.h>

#include "tconv/tconv_types.h"

/** Applies @p act with parameter @p alpha to v[0..n) in place (f32). */
void cpu_activation_apply_f32(float *v, size_t n, tconv_activation_t act, double alpha);
/** Applies @p act with parameter @p alpha to v[0..n) in place (f64). */
void cpu_activation_apply_f64(double *v, size_t n, tconv_activation_t act, double alpha);

#endif /* TCONV_CPU_ACTIVATION_H */
