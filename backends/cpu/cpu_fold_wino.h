/* SPDX-License-Identifier: Apache-2.0 */
/* The forward pass of one output channel, kernel 4, stride 2 on every axis
 * (the suite's gan_g5) by Winograd F(2, 2) with tiles in the vector lanes
 * (cpu_fold_wino.c). */
#ifndef TCONV_CPU_FOLD_WINO_H
#define TCONV_CPU_FOLD_WINO_H

#include <stddef.h>

#include "cpu_plan.h"

typedef struct cpu_fwino cpu_fwino_t;

/** Whether @p plan's forward pass runs by this path: the kernel has it
 *  (AVX-512 float32), one group of one output channel, channels_last,
 *  kernel 4, stride 2, dilation 1 and begin crop 1 on every axis (Keras
 *  'same', PyTorch padding 1), output twice the input, input D and H even
 *  and W a multiple of 32, input channels a multiple of 16, and
 *  TCONV_CPU_WINOGRAD is not "0". */
int cpu_fwino_fits(const cpu_plan_t *plan);
/** The pass's tables and per-thread scratch. */
tconv_status_t cpu_fwino_create(const cpu_plan_t *plan, cpu_fwino_t **out, char *msg,
                                size_t msg_size);
/** Transforms @p kernel (the problem's layout) and keeps @p bias (NULL: none). */
void cpu_fwino_set_weights(cpu_fwino_t *w, const cpu_plan_t *plan, const void *kernel,
                           const void *bias);
/** The pass for the plan's current batch: y from x. */
void cpu_fwino_execute(const cpu_plan_t *plan, const cpu_fwino_t *w, const void *x, void *y);
/** One line on the pass, as snprintf. */
int cpu_fwino_describe(const cpu_fwino_t *w, char *buf, size_t size);
void cpu_fwino_destroy(cpu_fwino_t *w);

#endif /* TCONV_CPU_FOLD_WINO_H */
