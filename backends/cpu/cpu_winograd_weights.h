/* SPDX-License-Identifier: Apache-2.0 */
/* The backward weights pass by Winograd F(2, 2) per axis
 * (cpu_winograd_weights.c). */
#ifndef TCONV_CPU_WINOGRAD_WEIGHTS_H
#define TCONV_CPU_WINOGRAD_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_plan.h"

typedef struct cpu_wino_wgrad cpu_wino_wgrad_t;

/** Whether @p fwd's dL/dW runs by Winograd: kernel = 2 x stride and
 *  dilation 1 on every axis, one group, channels_last, float32, at least a
 *  vector of output channels, and the transformed operands within 8x the
 *  bytes of x, dz and dW. TCONV_CPU_WINOGRAD=0 turns it off. */
int cpu_wino_wgrad_fits(const cpu_plan_t *fwd);
/** The pass's buffers for @p fwd's batch (the only batch it runs: the
 *  caller runs the direct pass at any other). */
tconv_status_t cpu_wino_wgrad_create(const cpu_plan_t *fwd, cpu_wino_wgrad_t **out, char *msg,
                                     size_t msg_size);
/** dL/dW (the problem's kernel layout) from x and dL/dz. */
void cpu_wino_wgrad_execute(const cpu_plan_t *fwd, const cpu_wino_wgrad_t *w, const void *input,
                            const void *grad_output, void *grad_kernel);
/** One line on the pass, as snprintf. */
int cpu_wino_wgrad_describe(const cpu_wino_wgrad_t *w, char *buf, size_t size);
void cpu_wino_wgrad_destroy(cpu_wino_wgrad_t *w);

#endif /* TCONV_CPU_WINOGRAD_WEIGHTS_H */
