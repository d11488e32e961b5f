/* SPDX-License-Identifier: Apache-2.0 */
/* The choices a forward plan makes after cpu_plan_create: W phases merged
 * into the output channels (forward only), output stores around the
 * caches (the backward data plan, made by cpu_plan_create too in
 * cpu_backward_data.c, makes that choice by the same rule), and Winograd
 * for stride-1 layers of 2 or 3 taps per axis (cpu_winograd.c).
 *
 * W merge. When the W axis has kernel = stride (s > 1, dilation 1, no crop,
 * no output padding), channels_last and one group, output W point w*s + kw,
 * channel co is element (w, kw*Cout + co) of the same memory seen as W_in
 * points of s*Cout channels. So the forward pass is also the problem with
 * kw = sw = 1 and s*Cout output channels, on the same input and output
 * arrays. Its tiles hold the s W phases of a point side by side: a layer
 * with few output channels (V-Net's 64->16 k2 s2, nnU-Net's 64->32) fills s
 * times as many channel vectors per broadcast input value, and each input
 * row is read once instead of once per W phase (1.2-1.4x on those layers,
 * one thread). The merged plan packs the user's kernel itself
 * (cpu_plan_t.merged_w_taps); the plan keeps its own tables for the
 * backward passes and the problem the user asked for.
 *
 * Streaming. Outputs larger than the last-level cache are stored around
 * it (non-temporal): a cached store first reads the line it overwrites, and
 * such an output does not stay cached for the next layer anyway (1.05-1.15x
 * on the suite's large outputs). The backward data pass's dx likewise:
 * 0.96-1.03x on one thread, but 1.05-1.10x on two for gan_g5, whose 128 MB
 * dx is written from 16 MB of dz (the stores' line reads took the memory
 * bandwidth the two threads share); the other large dx 0.99-1.02x. */
#include <stdlib.h>
#include <string.h>

#include "cpu_device.h"
#include "cpu_fold_wino.h"
#include "cpu_plan.h"
#include "cpu_winograd.h"

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

int cpu_choose_streaming(size_t point_bytes, double bytes) {
    if (point_bytes % 64 != 0) {
        return 0;
    }
    const char *force = getenv("TCONV_CPU_STREAM");
    if (force && (!strcmp(force, "0") || !strcmp(force, "1"))) {
        return *force == '1';
    }
    return bytes > (double)cpu_device_last_level_cache_bytes();
}

int cpu_plan_choose_streaming(const cpu_plan_t *plan) {
    const tconv_canonical_t *p = &plan->p;
    if (plan->dot || plan->fold || p->data_format != tconv_channels_last) {
        return 0;
    }
    return cpu_choose_streaming((size_t)plan->ys.w * plan->esize,
                                (double)p->batch * (double)plan->ys.n * (double)plan->esize);
}

tconv_status_t cpu_plan_choose_forward(cpu_plan_t *plan, char *msg, size_t msg_size) {
    if (w_merge_fits(plan)) {
        tconv_canonical_t q = plan->p;
        q.out_channels = plan->p.out_channels * plan->p.strides[2];
        q.kernel_size[2] = q.strides[2] = 1;
        q.output_size[2] = q.input_size[2];
        q.passes = TCONV_PASS_FORWARD;
        tconv_status_t st =
            cpu_plan_create(&q, plan->kernel, plan->pool, &plan->w_merged, msg, msg_size);
        if (st != tconv_success) {
            return st;
        }
        plan->w_merged->merged_w_taps = plan->p.strides[2];
    }
    cpu_plan_t *run = cpu_plan_forward(plan);
    run->stream_output = cpu_plan_choose_streaming(run);
    tconv_status_t st;
    if (cpu_wino_fits(plan, 1)) { /* stride 1: never W-merged */
        st = cpu_wino_create(plan, 1, &plan->wino_fwd, msg, msg_size);
    } else if (cpu_fwino_fits(plan)) { /* W k4 s2: never W-merged either */
        st = cpu_fwino_create(plan, &plan->fold_wino, msg, msg_size);
    } else {
        return tconv_success;
    }
    free(plan->wpack); /* the tiles' weights: no tile runs the pass */
    plan->wpack = NULL;
    return st;
}
