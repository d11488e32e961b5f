/* SPDX-License-Identifier: Apache-2.0 */
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
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backward.h"

/* First t in [0, k) with v[t] <= i (k if none); v is non-increasing. */
static int64_t first_at_most(const int64_t *v, int64_t k, int64_t i) {
    int64_t lo = 0, hi = k;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= i) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

static int compare_int64(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The runs of axis a of the strided convolution, in closed form. Tap t
 * reaches the input points [lo_t, hi_t) (cpu_tap_interval); both ends fall
 * as t grows, so the taps of point i are the interval [first t with
 * lo_t <= i, first t with hi_t <= i), which changes only where i passes an
 * lo_t or hi_t: at most 2k+1 runs, found by sorting those ends (time
 * k log k plus the table). Run fields: o0 is the run's first input point,
 * in0[e] the dz index its tap e reads there. */
static tconv_status_t build_runs(const tconv_canonical_t *p, int a, cpu_axis_runs_t *ar, char *msg,
                                 size_t msg_size) {
    const int64_t n = p->input_size[a], k = p->kernel_size[a], s = p->strides[a];
    const int64_t shift = -p->crop_begin[a];
    int64_t *ends = NULL, *cuts = NULL;
    tconv_status_t st = cpu_plan_alloc_table((void **)&ends, 2 * k, sizeof(int64_t), 0,
                                             "the backward data tap ranges", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&cuts, 2 * k + 1, sizeof(int64_t), 0,
                                  "the backward data tap ranges", msg, msg_size);
    }
    if (st != tconv_success) {
        free(ends);
        return st;
    }
    int64_t *lo = ends, *hi = ends + k, ncuts = 0;
    cuts[ncuts++] = 0;
    for (int64_t t = 0; t < k; ++t) {
        cpu_tap_interval(p, a, t, &lo[t], &hi[t]);
        if (lo[t] < hi[t]) {
            cuts[ncuts++] = lo[t];
            cuts[ncuts++] = hi[t];
        }
    }
    qsort(cuts, (size_t)ncuts, sizeof(int64_t), compare_int64);
    /* Pass 0 counts the runs and tap entries, pass 1 fills the tables. */
    int64_t nruns = 0, entries = 0;
    for (int pass = 0; pass < 2 && st == tconv_success; ++pass) {
        int64_t runs = 0, used = 0, prev_first = -1, prev_end = -1;
        for (int64_t c = 0, c2; c < ncuts && cuts[c] < n; c = c2) {
            const int64_t i = cuts[c];
            for (c2 = c + 1; c2 < ncuts && cuts[c2] == i; ++c2) {
            }
            const int64_t next = c2 < ncuts && cuts[c2] < n ? cuts[c2] : n;
            const int64_t first = first_at_most(lo, k, i);
            int64_t end = first_at_most(hi, k, i);
            end = end > first ? end : first;
            if (runs && first == prev_first && end == prev_end) {
                if (pass == 1) {
                    ar->runs[runs - 1].count += next - i;
                }
                continue;
            }
            if (pass == 1) {
                ar->runs[runs] =
                    (cpu_run_t){.o0 = i, .count = next - i, .first = used, .ntaps = end - first};
                for (int64_t t = first; t < end; ++t) {
                    ar->tap[used + t - first] = t;
                    ar->in0[used + t - first] = i * s + t * p->dilation[a] + shift;
                }
            }
            ++runs;
            if (__builtin_add_overflow(used, end - first, &used)) {
                used = INT64_MAX; /* too many to list: the allocation refuses */
            }
            prev_first = first;
            prev_end = end;
        }
        if (pass == 0) {
            nruns = runs;
            entries = used;
            if ((st = cpu_plan_alloc_table((void **)&ar->runs, nruns, sizeof(cpu_run_t), 0,
                                           "the backward data run table", msg, msg_size)) ==
                    tconv_success &&
                (st = cpu_plan_alloc_table((void **)&ar->tap, entries, sizeof(int64_t), 0,
                                           "the backward data tap table", msg, msg_size)) ==
                    tconv_success) {
                st = cpu_plan_alloc_table((void **)&ar->in0, entries, sizeof(int64_t), 0,
                                          "the backward data tap table", msg, msg_size);
            }
        }
    }
    ar->nruns = st == tconv_success ? nruns : 0;
    free(ends);
    free(cuts);
    return st;
}

/* Input (dz) bytes a block of items may read, as the forward plan's budget. */
#define ITEM_INPUT_BUDGET (1u << 20)
/* Work items to aim at for balance: a constant, where the forward plan takes
 * 16 per thread, so that the tiles, and with them the dot tiles' order of
 * summation, do not depend on the thread count: dx is bit-identical for any
 * number of threads. */
#define MIN_ITEMS 256.0

/* Sums over the W runs that make an item's cost closed-form: the W points,
 * and the W points weighted by their taps. */
typedef struct w_sums {
    double points, tapped;
} w_sums_t;

/* Cost of one D point of a box (D run d, H run h): its H x W points, each
 * its FMA vectors plus the epilogue (the forward plan's measure). */
static double row_cost(const cpu_plan_t *bp, const w_sums_t *w, const cpu_run_t *d,
                       const cpu_run_t *h) {
    return (double)h->count *
           ((double)(d->ntaps * h->ntaps) * (double)bp->cin_g * w->tapped + 16.0 * w->points);
}

/* The dz planes D block b (of `blocks`) reads over every D run, [0, 0) when
 * none: a run's j-th point reads planes in0[e] + j*s, and in0 rises with e. */
static void block_planes(const cpu_plan_t *bp, int64_t b, int64_t blocks, int64_t range[2]) {
    const cpu_axis_runs_t *ad = &bp->axis[0];
    const int64_t s = cpu_plan_read_step(bp, 0);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        const cpu_run_t *d = &ad->runs[rd];
        const int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
        if (jd0 == jd1 || d->ntaps == 0) {
            continue;
        }
        const int64_t low = ad->in0[d->first] + jd0 * s;
        const int64_t high = ad->in0[d->first + d->ntaps - 1] + (jd1 - 1) * s + 1;
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
    }
    range[0] = lo <= hi ? lo : 0;
    range[1] = lo <= hi ? hi : 0;
}

/* One sample's work items (D block, channel chunk, D run, H run), every
 * sample having the same (n = 0, cpu_plan_t.thread_first), and the threads'
 * equal-cost ranges of the batch's: ordered as the forward plan's, so that
 * consecutive items read the same block of dz planes. */
static tconv_status_t build_items(cpu_plan_t *bp, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &bp->p;
    const cpu_axis_runs_t *ad = &bp->axis[0], *ah = &bp->axis[1], *aw = &bp->axis[2];
    const int64_t gq_count = p->groups * bp->nchunk;
    int64_t max_count = 0;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        max_count = ad->runs[rd].count > max_count ? ad->runs[rd].count : max_count;
    }
    /* A D point advances s dz planes. */
    const double plane = (double)bp->xs.d * (double)bp->esize * (double)cpu_plan_read_step(bp, 0);
    double per_block = floor((double)ITEM_INPUT_BUDGET / plane);
    per_block = per_block < 1 ? 1 : per_block;
    int64_t blocks = (int64_t)ceil((double)max_count / per_block);
    const double batch_items =
        (double)p->batch * (double)gq_count * (double)ad->nruns * (double)ah->nruns;
    if ((double)blocks * batch_items < MIN_ITEMS) {
        blocks = (int64_t)ceil(MIN_ITEMS / batch_items);
    }
    blocks = blocks < max_count ? blocks : max_count;
    int64_t pairs = 0, nitems; /* pairs: (D run, block) pairs with points */
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        pairs += ad->runs[rd].count < blocks ? ad->runs[rd].count : blocks;
    }
    if (__builtin_mul_overflow(pairs, gq_count, &nitems) ||
        __builtin_mul_overflow(nitems, ah->nruns, &nitems)) {
        nitems = INT64_MAX; /* the allocation refuses it */
    }
    double *prefix = NULL;
    tconv_status_t st;
    if ((st = cpu_plan_alloc_table((void **)&bp->items, nitems, sizeof(cpu_item_t), 0,
                                   "the backward data work items", msg, msg_size)) !=
            tconv_success ||
        (st = cpu_plan_alloc_table((void **)&prefix, nitems + 1, sizeof(double), 0,
                                   "the backward data work item costs", msg, msg_size)) !=
            tconv_success ||
        (st = cpu_plan_alloc_table((void **)&bp->block_planes, 2 * blocks, sizeof(int64_t), 0,
                                   "the backward data blocks", msg, msg_size)) != tconv_success ||
        (st = cpu_plan_alloc_table((void **)&bp->thread_first, (int64_t)bp->nthreads + 1,
                                   sizeof(int64_t), 0, "the backward data thread table", msg,
                                   msg_size)) != tconv_success) {
        free(prefix);
        return st;
    }
    for (int64_t b = 0; b < blocks; ++b) {
        block_planes(bp, b, blocks, &bp->block_planes[2 * b]);
    }
    w_sums_t w = {0, 0};
    for (int64_t rw = 0; rw < aw->nruns; ++rw) {
        w.points += (double)aw->runs[rw].count;
        w.tapped += (double)aw->runs[rw].count * (double)aw->runs[rw].ntaps;
    }
    int64_t ni = 0;
    prefix[0] = 0;
    for (int64_t b = 0; b < blocks; ++b) {
        for (int64_t gq = 0; gq < gq_count; ++gq) {
            for (int64_t rd = 0; rd < ad->nruns; ++rd) {
                const cpu_run_t *d = &ad->runs[rd];
                const int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
                for (int64_t rh = 0; jd0 < jd1 && rh < ah->nruns; ++rh, ++ni) {
                    bp->items[ni] = (cpu_item_t){
                        .gq = gq, .n = 0, .rd = rd, .rh = rh, .block = b, .jd0 = jd0, .jd1 = jd1};
                    prefix[ni + 1] =
                        prefix[ni] + row_cost(bp, &w, d, &ah->runs[rh]) * (double)(jd1 - jd0);
                }
            }
        }
    }
    bp->nitems = ni;
    bp->nblocks = blocks;
    cpu_plan_split_items(bp, prefix);
    return tconv_success;
}

/* channels_first: one dz slab per thread, as large as the largest block. */
static tconv_status_t alloc_slabs(cpu_plan_t *bp, char *msg, size_t msg_size) {
    free(bp->thread_slab);
    bp->thread_slab = NULL;
    bp->slab_elems = 0;
    if (!bp->transpose_input) {
        return tconv_success;
    }
    int64_t planes = 1, elems, count; /* at least one element per thread */
    for (int64_t b = 0; b < bp->nblocks; ++b) {
        const int64_t *r = &bp->block_planes[2 * b];
        planes = r[1] - r[0] > planes ? r[1] - r[0] : planes;
    }
    if (__builtin_mul_overflow(planes, (int64_t)bp->xc.d, &elems) ||
        __builtin_mul_overflow(elems, (int64_t)bp->nthreads, &count)) {
        count = INT64_MAX;
    }
    tconv_status_t st = cpu_plan_alloc_table(&bp->thread_slab, count, bp->esize, 0,
                                             "the backward data slabs", msg, msg_size);
    bp->slab_elems = st == tconv_success ? (size_t)elems : 0;
    return st;
}

/* Replaces the tables cpu_plan_create made for the swapped problem (a
 * transposed convolution of stride 1) by the strided convolution's. */
static tconv_status_t build_tables(cpu_plan_t *bp, const tconv_canonical_t *p, char *msg,
                                   size_t msg_size) {
    for (int a = 0; a < 3; ++a) {
        free(bp->axis[a].runs);
        free(bp->axis[a].tap);
        free(bp->axis[a].in0);
        bp->axis[a] = (cpu_axis_runs_t){0};
        bp->read_step[a] = p->strides[a];
    }
    bp->fold = 0; /* fold tiles walk forward runs (stride 1 here: never chosen) */
    free(bp->items);
    free(bp->block_planes);
    free(bp->thread_first);
    free(bp->item_cost);
    bp->items = NULL;
    bp->block_planes = NULL;
    bp->thread_first = NULL;
    bp->item_cost = NULL;
    tconv_status_t st = tconv_success;
    for (int a = 0; a < 3 && st == tconv_success; ++a) {
        st = build_runs(p, a, &bp->axis[a], msg, msg_size);
    }
    if (st == tconv_success) {
        st = build_items(bp, msg, msg_size);
    }
    /* A run's W taps are consecutive (build_runs) and read dz points d apart:
     * with d = 1 and dz's channels of one group adjacent (channels_last, or
     * the channels_last slab of channels_first), and the packed weights
     * [tap][Cout/G][width] of consecutive taps adjacent too (not dot tiles),
     * they are one run of ntaps_w x Cout/G channels in both. */
    bp->merge_w_taps = !bp->dot && p->dilation[2] == 1 && bp->xc.c == 1 && bp->xc.w == bp->cin_g;
    return st == tconv_success ? alloc_slabs(bp, msg, msg_size) : st;
}

tconv_status_t cpu_backward_data_create(const cpu_plan_t *fwd, cpu_plan_t **out, char *msg,
                                        size_t msg_size) {
    *out = NULL;
    const tconv_canonical_t *p = &fwd->p;
    /* The swapped problem: dz in, dx out, stride 1 (outputs written
     * adjacently), no bias, kernel given transposed in keras layout. Its own
     * tables are replaced below, so its begin crop puts every tap past the
     * end (o = i + t*d + L): none lands, and they cost nothing to build. */
    tconv_canonical_t q = *p;
    q.in_channels = p->out_channels;
    q.out_channels = p->in_channels;
    for (int a = 0; a < 3; ++a) {
        q.input_size[a] = p->output_size[a];
        q.output_size[a] = p->input_size[a];
        q.strides[a] = 1;
        q.crop_begin[a] = -q.output_size[a];
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
    st = build_tables(bp, p, msg, msg_size);
    if (st != tconv_success) {
        cpu_plan_destroy(bp);
        return st;
    }
    bp->stream_output = cpu_plan_choose_streaming(bp);
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
