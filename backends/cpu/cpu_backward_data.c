/* The backward data pass. dL/dx of a transposed convolution is a strided
 * convolution of dL/dz:
 *     dx[n, i, ci] = sum over taps t and the group's o of w[ci, o, t] * dz[n, i*s + t*d - c, o]
 * (per axis, taps with 0 <= i*s + t*d - c < L). It runs on the forward
 * executor (cpu_execute.c) through a second cpu_plan_t whose roles are
 * swapped: its input is dz (Cout channels, the output's shape), its output
 * dx, its weights w transposed so that Cin is the vector dimension (packed
 * by cpu_plan_set_weights), no bias and a linear activation. Its tables
 * describe the strided convolution: each axis' input points i form runs of
 * adjacent points sharing a tap set (no phases: every dx point is written
 * once, as a gather), and consecutive points of a run read dz `stride`
 * points apart (read_step). The work items, their blocks and the
 * channels_first slabs follow the forward plan's rules (cpu_plan.c).
 *
 * Workspace (allocated at plan creation, kept by the plan): the transposed
 * packed weights (G x Cin/G rounded up to the vector length x kd*kh*kw x
 * Cout/G elements), per thread the tap and point offsets, and for
 * channels_first the per-thread dz slab and dx staging rows, as a forward
 * plan of the swapped problem has. set_weights also allocates and frees a
 * kernel-sized transposed copy of the weights. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backward.h"

/* The runs of axis a of the strided convolution. The taps of input point i
 * are the interval of t with 0 <= i*s + t*d - c < L; both ends only move
 * down as i grows, so an axis has at most 2k+1 runs. Run fields: o0 is the
 * run's first input point, in0[e] the dz index its tap e reads there. */
static int build_runs(const tconv_canonical_t *p, int a, cpu_axis_runs_t *ar) {
    const int64_t n = p->input_size[a], len = p->output_size[a], s = p->strides[a];
    const int64_t d = p->dilation[a], c = p->crop_begin[a], k = p->kernel_size[a];
    const int64_t max_runs = n < 2 * k + 1 ? n : 2 * k + 1;
    ar->runs = malloc((size_t)max_runs * sizeof(cpu_run_t));
    ar->tap = malloc((size_t)(max_runs * k) * sizeof(int64_t));
    ar->in0 = malloc((size_t)(max_runs * k) * sizeof(int64_t));
    if (!ar->runs || !ar->tap || !ar->in0) {
        return -1;
    }
    int64_t nruns = 0, entries = 0, cur_lo = -1, cur_hi = -1;
    for (int64_t i = 0; i < n; ++i) {
        int64_t lo = 0, hi;
        while (lo < k && i * s + lo * d - c < 0) {
            ++lo;
        }
        for (hi = lo; hi < k && i * s + hi * d - c < len; ++hi) {
        }
        if (nruns && lo == cur_lo && hi == cur_hi) {
            ar->runs[nruns - 1].count++;
            continue;
        }
        if (nruns == max_runs) {
            return -1; /* cannot happen: see above */
        }
        cpu_run_t *r = &ar->runs[nruns++];
        r->o0 = i;
        r->count = 1;
        r->first = entries;
        r->ntaps = hi - lo;
        for (int64_t t = lo; t < hi; ++t, ++entries) {
            ar->tap[entries] = t;
            ar->in0[entries] = i * s + t * d - c;
        }
        cur_lo = lo;
        cur_hi = hi;
    }
    ar->nruns = nruns;
    return 0;
}

/* Input (dz) bytes a block of items may read, as the forward plan's budget. */
#define ITEM_INPUT_BUDGET (1u << 20)
/* Work items to aim at for balance: a constant, where the forward plan takes
 * 16 per thread, so that the tiles, and with them the dot tiles' order of
 * summation, do not depend on the thread count: dx is bit-identical for any
 * number of threads. */
#define MIN_ITEMS 256

/* Cost of one D point of a box (D run d, H run h): its H x W points, each
 * its FMA vectors plus the epilogue (the forward plan's measure). */
static double row_cost(const cpu_plan_t *bp, const cpu_run_t *d, const cpu_run_t *h) {
    const cpu_axis_runs_t *aw = &bp->axis[2];
    double cost = 0;
    for (int64_t rw = 0; rw < aw->nruns; ++rw) {
        double taps = (double)(d->ntaps * h->ntaps * aw->runs[rw].ntaps);
        cost += (double)(h->count * aw->runs[rw].count) * (taps * (double)bp->cin_g + 16.0);
    }
    return cost;
}

/* The dz planes D block b (of `blocks`) reads over every D run, [0, 0) when
 * none: a run's j-th point reads planes in0[e] + j*s. */
static void block_planes(const cpu_plan_t *bp, int64_t b, int64_t blocks, int64_t range[2]) {
    const cpu_axis_runs_t *ad = &bp->axis[0];
    const int64_t s = cpu_plan_read_step(bp, 0);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        const cpu_run_t *d = &ad->runs[rd];
        int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
        for (int64_t e = d->first; jd0 < jd1 && e < d->first + d->ntaps; ++e) {
            lo = ad->in0[e] + jd0 * s < lo ? ad->in0[e] + jd0 * s : lo;
            hi = ad->in0[e] + (jd1 - 1) * s + 1 > hi ? ad->in0[e] + (jd1 - 1) * s + 1 : hi;
        }
    }
    range[0] = lo <= hi ? lo : 0;
    range[1] = lo <= hi ? hi : 0;
}

/* Work items (n, D block, channel chunk, D run, H run) and their equal-cost
 * thread ranges, as the forward plan orders them: consecutive items read
 * the same block of dz planes. */
static int build_items(cpu_plan_t *bp) {
    const tconv_canonical_t *p = &bp->p;
    const cpu_axis_runs_t *ad = &bp->axis[0], *ah = &bp->axis[1];
    const int64_t gq_count = p->groups * bp->nchunk;
    int64_t max_count = 0;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        max_count = ad->runs[rd].count > max_count ? ad->runs[rd].count : max_count;
    }
    /* A D point advances s dz planes. */
    double plane = (double)bp->xs.d * (double)bp->esize * (double)cpu_plan_read_step(bp, 0);
    int64_t per_block = (int64_t)((double)ITEM_INPUT_BUDGET / plane);
    per_block = per_block < 1 ? 1 : per_block;
    int64_t blocks = (max_count + per_block - 1) / per_block;
    const int64_t want = MIN_ITEMS;
    const int64_t per_block_items = p->batch * gq_count * ad->nruns * ah->nruns;
    if (blocks * per_block_items < want) {
        blocks = (want + per_block_items - 1) / per_block_items;
    }
    blocks = blocks < max_count ? blocks : max_count;

    const int64_t max_items = p->batch * blocks * per_block_items;
    bp->items = malloc((size_t)max_items * sizeof(cpu_item_t));
    bp->block_planes = malloc((size_t)(2 * blocks) * sizeof(int64_t));
    bp->thread_first = malloc((bp->nthreads + 1) * sizeof(int64_t));
    double *prefix = malloc((size_t)(max_items + 1) * sizeof(double));
    if (!bp->items || !bp->block_planes || !bp->thread_first || !prefix) {
        free(prefix);
        return -1;
    }
    for (int64_t b = 0; b < blocks; ++b) {
        block_planes(bp, b, blocks, &bp->block_planes[2 * b]);
    }
    int64_t ni = 0;
    prefix[0] = 0;
    for (int64_t n = 0; n < p->batch; ++n) {
        for (int64_t b = 0; b < blocks; ++b) {
            for (int64_t gq = 0; gq < gq_count; ++gq) {
                for (int64_t rd = 0; rd < ad->nruns; ++rd) {
                    const cpu_run_t *d = &ad->runs[rd];
                    int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
                    for (int64_t rh = 0; jd0 < jd1 && rh < ah->nruns; ++rh, ++ni) {
                        bp->items[ni] = (cpu_item_t){gq, n, rd, rh, b, jd0, jd1};
                        prefix[ni + 1] =
                            prefix[ni] + row_cost(bp, d, &ah->runs[rh]) * (double)(jd1 - jd0);
                    }
                }
            }
        }
    }
    /* Every sample's items are listed (items[i].n is the sample), so the
     * threads' ranges stay within nitems (cpu_plan_t.thread_first). */
    bp->nitems = ni;
    bp->nblocks = blocks;
    cpu_split_by_cost(prefix, ni, bp->nthreads, bp->thread_first);
    free(prefix);
    return 0;
}

/* channels_first: one dz slab per thread, as large as the largest block. */
static int alloc_slabs(cpu_plan_t *bp) {
    free(bp->thread_slab);
    bp->thread_slab = NULL;
    bp->slab_elems = 0;
    if (!bp->transpose_input) {
        return 0;
    }
    int64_t planes = 0;
    for (int64_t i = 0; i < bp->nitems; ++i) {
        const int64_t *r = &bp->block_planes[2 * bp->items[i].block];
        planes = r[1] - r[0] > planes ? r[1] - r[0] : planes;
    }
    bp->slab_elems = (size_t)planes * (size_t)bp->xc.d;
    bp->thread_slab = malloc(bp->nthreads * (bp->slab_elems ? bp->slab_elems : 1) * bp->esize);
    return bp->thread_slab ? 0 : -1;
}

/* Replaces the tables cpu_plan_create made for the swapped problem (a
 * transposed convolution of stride 1) by the strided convolution's. */
static int build_tables(cpu_plan_t *bp, const tconv_canonical_t *p) {
    for (int a = 0; a < 3; ++a) {
        free(bp->axis[a].runs);
        free(bp->axis[a].tap);
        free(bp->axis[a].in0);
        bp->axis[a] = (cpu_axis_runs_t){0};
        bp->read_step[a] = p->strides[a];
    }
    free(bp->items);
    free(bp->block_planes);
    free(bp->thread_first);
    bp->items = NULL;
    bp->block_planes = NULL;
    bp->thread_first = NULL;
    for (int a = 0; a < 3; ++a) {
        if (build_runs(p, a, &bp->axis[a])) {
            return -1;
        }
    }
    return build_items(bp) || alloc_slabs(bp) ? -1 : 0;
}

tconv_status_t cpu_backward_data_create(const cpu_plan_t *fwd, cpu_plan_t **out, char *msg,
                                        size_t msg_size) {
    *out = NULL;
    const tconv_canonical_t *p = &fwd->p;
    /* The swapped problem: dz in, dx out, stride 1 (outputs written
     * adjacently), no bias, kernel given transposed in keras layout. */
    tconv_canonical_t q = *p;
    q.in_channels = p->out_channels;
    q.out_channels = p->in_channels;
    for (int a = 0; a < 3; ++a) {
        q.input_size[a] = p->output_size[a];
        q.output_size[a] = p->input_size[a];
        q.strides[a] = 1;
        q.crop_begin[a] = 0;
    }
    q.kernel_layout = tconv_kernel_keras;
    q.use_bias = 0;
    q.activation = tconv_activation_linear;
    q.activation_alpha = 0;
    q.passes = TCONV_PASS_FORWARD;
    cpu_plan_t *bp = NULL;
    tconv_status_t st = cpu_plan_create(&q, fwd->kernel, fwd->pool, &bp, msg, msg_size);
    if (st != tconv_success) {
        return st;
    }
    if (build_tables(bp, p)) {
        cpu_plan_destroy(bp);
        snprintf(msg, msg_size,
                 "cpu plan: allocating the backward data tap tables and work items failed");
        return tconv_out_of_memory;
    }
    *out = bp;
    return tconv_success;
}

tconv_status_t cpu_backward_data_set_weights(cpu_plan_t *bp, const cpu_plan_t *fwd,
                                             const void *kernel, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    const int64_t cin_g = fwd->cin_g, cout_g = fwd->cout_g, taps = fwd->taps;
    const size_t count = (size_t)(taps * cin_g * p->out_channels);
    /* The kernel transposed into the swapped problem's keras layout
     * (taps, Cin/G, Cout): element (tap, j, g*Cout/G + o) is w[g*Cin/G + j, o, tap]. */
    void *transposed = malloc(count * fwd->esize);
    if (!transposed) {
        snprintf(msg, msg_size,
                 "cpu plan: allocating %zu elements for the transposed kernel failed", count);
        return tconv_out_of_memory;
    }
    size_t dst = 0;
    for (int64_t tap = 0; tap < taps; ++tap) {
        for (int64_t j = 0; j < cin_g; ++j) {
            for (int64_t oc = 0; oc < p->out_channels; ++oc, ++dst) {
                const int64_t g = oc / cout_g;
                size_t src = cpu_kernel_element(p, taps, tap, g * cin_g + j, oc % cout_g);
                if (p->dtype == tconv_f64) {
                    ((double *)transposed)[dst] = ((const double *)kernel)[src];
                } else {
                    ((float *)transposed)[dst] = ((const float *)kernel)[src];
                }
            }
        }
    }
    tconv_status_t st = cpu_plan_set_weights(bp, transposed, NULL, msg, msg_size);
    free(transposed);
    return st;
}
