/* SPDX-License-Identifier: Apache-2.0 */
/* Forward plans whose W phases are merged into the output channels.
 *
 * When the W axis has kernel = stride (s > 1, dilation 1, no crop, no output
 * padding), channels_last and one group, output W point w*s + kw, channel co
 * is element (w, kw*Cout + co) of the same memory seen as W_in points of
 * s*Cout channels. So the forward pass is also the problem with kw = sw = 1
 * and s*Cout output channels, on the same input and output arrays. Its tiles
 * hold the s W phases of a point side by side: a layer with few output
 * channels (V-Net's 64->16 k2 s2, nnU-Net's 64->32) fills s times as many
 * channel vectors per broadcast input value, and each input row is read once
 * instead of once per W phase (1.2-1.4x on those layers, one thread).
 *
 * The plan keeps its own tables (the backward passes use them, and the
 * problem the user asked for); only plan execution runs the merged plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_plan.h"

/* The merged problem computes the same output (see above), and pays: the
 * plan's channel chunk is not full (fewer than nv_max vectors of output
 * channels), and its tiles are channel-vector tiles. */
static int w_merge_fits(const cpu_plan_t *plan) {
    const tconv_canonical_t *p = &plan->p;
    return p->groups == 1 && p->data_format == tconv_channels_last && p->strides[2] > 1 &&
           p->kernel_size[2] == p->strides[2] && p->dilation[2] == 1 && p->crop_begin[2] == 0 &&
           p->output_size[2] == p->input_size[2] * p->strides[2] && !plan->dot &&
           plan->nblk < plan->kernel->nv_max;
}

tconv_status_t cpu_plan_merge_w_phases(cpu_plan_t *plan, char *msg, size_t msg_size) {
    if (!w_merge_fits(plan)) {
        return tconv_success;
    }
    tconv_canonical_t q = plan->p;
    q.out_channels = plan->p.out_channels * plan->p.strides[2];
    q.kernel_size[2] = q.strides[2] = 1;
    q.output_size[2] = q.input_size[2];
    q.kernel_layout = tconv_kernel_keras;
    q.passes = TCONV_PASS_FORWARD;
    return cpu_plan_create(&q, plan->kernel, plan->pool, &plan->w_merged, msg, msg_size);
}

/* The merged plan's weights and bias from the problem's: Keras layout
 * [kd][kh][1][s*Cout][Cin], channel kw*Cout + co of (kd, kh) being tap
 * (kd, kh, kw), channel co, of the kernel; the bias repeated s times. */
tconv_status_t cpu_plan_merge_w_set_weights(cpu_plan_t *plan, const void *kernel, const void *bias,
                                            char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &plan->p;
    const int64_t s = p->strides[2], cout = p->out_channels, cin = p->in_channels;
    const int64_t taps_dh = p->kernel_size[0] * p->kernel_size[1];
    const size_t esize = plan->esize;
    void *wq = NULL, *bq = NULL;
    tconv_status_t st = cpu_plan_alloc_table(&wq, plan->taps * cout * cin, esize, 0,
                                             "merged W-phase weights", msg, msg_size);
    if (st == tconv_success && bias) {
        st = cpu_plan_alloc_table(&bq, s * cout, esize, 0, "merged W-phase bias", msg, msg_size);
    }
    if (st != tconv_success) {
        free(wq);
        plan->w_merged->weights_set = 0; /* no stale weights run: execute refuses */
        return st;
    }
    for (int64_t t = 0; t < taps_dh; ++t) {
        for (int64_t kw = 0; kw < s; ++kw) {
            for (int64_t co = 0; co < cout; ++co) {
                for (int64_t c = 0; c < cin; ++c) {
                    const int64_t tap = t * s + kw;
                    const size_t src = p->kernel_layout == tconv_kernel_keras
                                           ? (size_t)((tap * cout + co) * cin + c)
                                           : (size_t)((c * cout + co) * plan->taps + tap);
                    const size_t dst = (size_t)(((t * s + kw) * cout + co) * cin + c);
                    memcpy((char *)wq + dst * esize, (const char *)kernel + src * esize, esize);
                }
            }
        }
    }
    for (int64_t kw = 0; bq && kw < s; ++kw) {
        memcpy((char *)bq + (size_t)(kw * cout) * esize, bias, (size_t)cout * esize);
    }
    st = cpu_plan_set_weights(plan->w_merged, wq, bq, msg, msg_size);
    free(wq);
    free(bq);
    return st;
}
