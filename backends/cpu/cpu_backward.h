/* SPDX-License-Identifier: Apache-2.0 */
/* The CPU backend's backward passes (plugin ABI 1.1), made at plan creation
 * when p.passes asks for them and kept by the forward plan:
 *   - backward data (cpu_backward_data.c): a second cpu_plan_t describing
 *     the strided convolution dx = conv(dz, w^T), run by the forward executor;
 *   - backward weights (cpu_backward_weights.c): per tap a GEMM of x^T with
 *     the tap's strided view of dz, reduced over batch and space by register
 *     tiles (cpu_kernel_bwd_weights_template.h), and the bias gradient.
 * The activation never reaches them (the core applies it and its derivative). */
#ifndef TCONV_CPU_BACKWARD_H
#define TCONV_CPU_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_plan.h"

/** Makes the passes plan->p.passes asks for (nothing for a forward-only
 *  plan). Declines (tconv_unimplemented) a backward pass with a non-linear
 *  activation: the core never asks for one. */
tconv_status_t cpu_backward_create(cpu_plan_t *plan, char *msg, size_t msg_size);
/** After cpu_plan_set_weights: packs the backward data pass's weights. */
tconv_status_t cpu_backward_set_weights(cpu_plan_t *plan, const void *kernel, char *msg,
                                        size_t msg_size);
/** dL/dx (the input's layout) from dL/dz (the output's). */
tconv_status_t cpu_backward_data(cpu_plan_t *plan, const void *grad_output, void *grad_input,
                                 char *msg, size_t msg_size);
/** dL/dw (the kernel's layout) and dL/db from x and dL/dz; either may be NULL. */
tconv_status_t cpu_backward_weights(cpu_plan_t *plan, const void *input, const void *grad_output,
                                    void *grad_kernel, void *grad_bias, char *msg, size_t msg_size);
/** After cpu_plan_set_batch(plan, batch): the backward passes at that
 *  batch. The data pass splits its items anew; the weights pass takes
 *  tables made for the batch (the full batch's, kept from plan creation,
 *  or those of another batch, made here and kept until the next batch
 *  other than the full one), so its sums run in the order of a plan made
 *  for the batch. On failure (out of memory) the passes keep their tables
 *  and the caller sets the previous batch again. */
tconv_status_t cpu_backward_set_batch(cpu_plan_t *plan, int64_t batch, char *msg, size_t msg_size);
/** One line on the backward passes of @p plan ("" without any), for the log. */
void cpu_backward_describe(const cpu_plan_t *plan, char *buf, size_t size);
/** Releases what cpu_backward_create made; the plan itself stays. */
void cpu_backward_destroy(cpu_plan_t *plan);

/* Shared by the two passes. */

/** The backward data plan of @p fwd (cpu_backward_data.c). */
tconv_status_t cpu_backward_data_create(const cpu_plan_t *fwd, cpu_plan_t **out, char *msg,
                                        size_t msg_size);
/** Packs @p kernel (the problem's layout) transposed into @p bp. */
tconv_status_t cpu_backward_data_set_weights(cpu_plan_t *bp, const cpu_plan_t *fwd,
                                             const void *kernel, char *msg, size_t msg_size);

typedef struct cpu_wgrad cpu_wgrad_t;
/** The backward weights tables and workspace of @p fwd (cpu_backward_weights.c). */
tconv_status_t cpu_wgrad_create(const cpu_plan_t *fwd, cpu_wgrad_t **out, char *msg,
                                size_t msg_size);
/** Runs the backward weights pass; grad_kernel or grad_bias may be NULL. */
void cpu_wgrad_execute(const cpu_plan_t *fwd, cpu_wgrad_t *wg, const void *input,
                       const void *grad_output, void *grad_kernel, void *grad_bias);
void cpu_wgrad_destroy(cpu_wgrad_t *wg);
/** The batch @p wg was made for (fwd->p.batch then). */
int64_t cpu_wgrad_batch(const cpu_wgrad_t *wg);
/** One line on how the pass is cut into work, as snprintf. */
int cpu_wgrad_describe(const cpu_wgrad_t *wg, char *buf, size_t size);

/** Index of w[ic, j, tap] (input channel ic, output channel j of ic's
 *  group) in the problem's kernel layout. */
static inline size_t cpu_kernel_element(const tconv_canonical_t *p, int64_t taps, int64_t tap,
                                        int64_t ic, int64_t j) {
    const cpu_kernel_strides_t s = cpu_kernel_layout(p, taps, p->out_channels / p->groups);
    return (size_t)(ic * s.ic + j * s.j + tap * s.tap);
}

/** The input points [*lo, *hi) tap t reaches on axis a, those with
 *  0 <= i*s + t*d - crop < L (an empty range has *lo == *hi). Both ends are
 *  non-increasing in t. */
static inline void cpu_tap_interval(const tconv_canonical_t *p, int a, int64_t t, int64_t *lo,
                                    int64_t *hi) {
    const int64_t s = p->strides[a], shift = t * p->dilation[a] - p->crop_begin[a];
    /* ceil(x / s) for any sign of x */
    const int64_t l = -shift >= 0 ? (-shift + s - 1) / s : -(shift / s);
    const int64_t x = p->output_size[a] - shift;
    const int64_t h = x >= 0 ? (x + s - 1) / s : -((-x) / s);
    *lo = l < 0 ? 0 : l;
    *hi = h > p->input_size[a] ? p->input_size[a] : h;
    *hi = *hi > *lo ? *hi : *lo;
}

/** Splits `count` items into equal-cost contiguous ranges: thread t runs
 *  [first[t], first[t+1]); prefix[i] is the cost of items [0, i). */
void cpu_split_by_cost(const double *prefix, int64_t count, size_t nthreads, int64_t *first);

#endif /* TCONV_CPU_BACKWARD_H */
