/* SPDX-License-Identifier: Apache-2.0 */
/* The backward data pass, and the forward pass of stride-1 layers, by
 * Winograd's F(2, r) per axis (cpu_winograd.c). */
#ifndef TCONV_CPU_WINOGRAD_H
#define TCONV_CPU_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_plan.h"

typedef struct cpu_wino cpu_wino_t;

/** Whether @p fwd's forward pass (@p forward) or backward data pass runs by
 *  Winograd: on every axis the same r in {2, 3}, with kernel = r x stride
 *  and dilation 1 (backward data only, unless the stride is 1), or stride 1
 *  and kernel r (any dilation); one group, channels_last, float32, at least
 *  a vector of input and of output channels, or for backward data with
 *  kernel 4 and stride 2, one output channel (the fused pass).
 *  TCONV_CPU_WINOGRAD=0 turns it off. */
int cpu_wino_fits(const cpu_plan_t *fwd, int forward);
/** Whether the Winograd passes may run at all: TCONV_CPU_WINOGRAD is not
 *  "0" (read each time a plan is made). */
int cpu_wino_enabled(void);
/** The pass's tables and per-thread scratch for @p fwd's problem. */
tconv_status_t cpu_wino_create(const cpu_plan_t *fwd, int forward, cpu_wino_t **out, char *msg,
                               size_t msg_size);
/** Transforms @p kernel (the problem's layout) and keeps @p bias (forward
 *  with a bias; else ignored). */
void cpu_wino_set_weights(cpu_wino_t *w, const cpu_plan_t *fwd, const void *kernel,
                          const void *bias);
/** Splits @p batch samples' blocks among the threads. */
void cpu_wino_set_batch(cpu_wino_t *w, const cpu_plan_t *fwd, int64_t batch);
/** The pass: the written tensor (dL/dx, or y) from the read one (dL/dz, or x). */
void cpu_wino_execute(const cpu_plan_t *fwd, const cpu_wino_t *w, const void *in, void *out);
/** One line on the pass, as snprintf. */
int cpu_wino_describe(const cpu_wino_t *w, char *buf, size_t size);
void cpu_wino_destroy(cpu_wino_t *w);

#endif /* TCONV_CPU_WINOGRAD_H */
