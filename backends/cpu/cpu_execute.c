/* SPDX-License-Identifier: Apache-2.0 */
/* The forward pass: output-stationary, phase by phase.
 *
 * A work item is one channel chunk of one group, one sample and a box of
 * outputs: part of a D run x an H run x every W run (cpu_plan.h). All points
 * of a (D run, H run, W run) box share one tap set, so they form one GEMM:
 * points x (taps * Cin/G) x chunk channels. They are cut into tiles of np
 * points that may span rows; the micro-kernel sums a tile, and the epilogue
 * adds the bias, applies the activation and writes each output exactly once
 * (contiguously for channels_last, channel-strided for channels_first).
 * Threads take the equal-cost item ranges the plan computed, ordered so that
 * consecutive items reuse the same input slab from cache (cpu_plan.c). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "activation_eval.h"
#include "cpu_fold_wino.h"
#include "cpu_plan.h"
#include "cpu_winograd.h"

typedef struct exec_ctx {
    const cpu_plan_t *plan;
    const char *x;
    char *y;
} exec_ctx_t;

/* channels_first: copying staged rows out, one contiguous W row per channel. */
#define DEFINE_EPILOGUE(REAL, SUFFIX)                                                              \
    /* channels_first: copies `rows` staged output rows ([row][ow][width]) to                      \
     * the output, one contiguous W row per channel. row_off[r] locates row r. */                  \
    static void flush_rows_##SUFFIX(const cpu_plan_t *plan, const REAL *stage, int64_t rows,       \
                                    const ptrdiff_t *row_off, int64_t width, int64_t nvalid,       \
                                    REAL *out) {                                                   \
        const int64_t ow_count = plan->p.output_size[2];                                           \
        for (int64_t r = 0; r < rows; ++r) {                                                       \
            const REAL *src = stage + r * ow_count * width;                                        \
            for (int64_t l = 0; l < nvalid; ++l) {                                                 \
                REAL *dst = out + row_off[r] + l * plan->ys.c;                                     \
                for (int64_t ow = 0; ow < ow_count; ++ow) {                                        \
                    dst[ow] = src[ow * width + l];                                                 \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_EPILOGUE(float, f32)
DEFINE_EPILOGUE(double, f64)

/* Per-thread scratch for run_item. */
typedef struct thread_scratch {
    ptrdiff_t *xoff, *woff;   /* per tap */
    ptrdiff_t *xpoint, *ooff; /* per tile point */
    ptrdiff_t *row_off;       /* per staged row (channels_first) */
    void *stage;              /* channels_first: staged output rows */
} thread_scratch_t;

/* Fills the tap lists of the box (D run d, H run h, W run w): input offsets
 * (in plan->xc strides, input plane plane0 at offset 0) and packed weight
 * offsets. With plan->merge_w_taps the W taps of the box are one tap (the
 * first's offsets; the kernel reads w->ntaps x Cin/G channels from there). */
static int box_taps(const cpu_plan_t *plan, const cpu_run_t *d, const cpu_run_t *h,
                    const cpu_run_t *w, int64_t width, int64_t plane0, const thread_scratch_t *sc) {
    const cpu_strides_t *xc = &plan->xc;
    const cpu_axis_runs_t *ad = &plan->axis[0], *ah = &plan->axis[1], *aw = &plan->axis[2];
    const int64_t kh = plan->p.kernel_size[1], kw = plan->p.kernel_size[2];
    const int64_t w_taps = plan->merge_w_taps && w->ntaps > 0 ? 1 : w->ntaps;
    int nt = 0;
    for (int64_t a = d->first; a < d->first + d->ntaps; ++a) {
        for (int64_t b = h->first; b < h->first + h->ntaps; ++b) {
            ptrdiff_t x_dh = (ptrdiff_t)((ad->in0[a] - plane0) * xc->d + ah->in0[b] * xc->h);
            int64_t tap_dh = (ad->tap[a] * kh + ah->tap[b]) * kw;
            for (int64_t e = w->first; e < w->first + w_taps; ++e) {
                sc->xoff[nt] = x_dh + (ptrdiff_t)(aw->in0[e] * xc->w);
                sc->woff[nt] = (ptrdiff_t)((tap_dh + aw->tap[e]) * plan->cin_g * width);
                ++nt;
            }
        }
    }
    return nt;
}

/* Offsets of row r (D output it->jd0 + r / h->count of run d, H output
 * r % h->count of run h) of an item's block starting at row r0: its first
 * input point, and its output row (in the staging rows when staging). */
static void row_offsets(const cpu_plan_t *plan, const cpu_item_t *it, const cpu_run_t *d,
                        const cpu_run_t *h, int64_t r0, int64_t r, int64_t width, ptrdiff_t *x_row,
                        ptrdiff_t *o_row) {
    const int64_t jd = it->jd0 + r / h->count, jh = r % h->count;
    *x_row = (ptrdiff_t)(jd * cpu_plan_read_step(plan, 0) * plan->xc.d +
                         jh * cpu_plan_read_step(plan, 1) * plan->xc.h);
    if (plan->stage_rows) {
        *o_row = (ptrdiff_t)((r - r0) * plan->p.output_size[2] * width);
    } else {
        *o_row = (ptrdiff_t)((d->o0 + jd * plan->p.strides[0]) * plan->ys.d +
                             (h->o0 + jh * plan->p.strides[1]) * plan->ys.h);
    }
}

/* Input bytes the rows of one pass of dot tiles may read: the W runs (phases)
 * of the pass then reuse them from L1 (dot tiles load their inputs as whole
 * vectors; the other tiles broadcast them and take every row in one pass). */
#define PASS_INPUT_BUDGET (32.0 * 1024)

/* Output rows per pass over the W runs of a box (D run d x H run h): few
 * enough that the input rows they read fit PASS_INPUT_BUDGET (a pass of R rows
 * reads d->ntaps x (h->ntaps + R - 1) input rows), yet enough points per W run
 * for two full tiles of np_max. */
static int64_t rows_per_pass(const cpu_plan_t *plan, const cpu_run_t *d, const cpu_run_t *h,
                             int64_t np_max) {
    const tconv_canonical_t *p = &plan->p;
    const double row_bytes = (double)p->input_size[2] * (double)plan->cin_g * (double)plan->esize;
    const int64_t dtaps = d->ntaps > 0 ? d->ntaps : 1, htaps = h->ntaps > 0 ? h->ntaps : 1;
    int64_t rows = (int64_t)(PASS_INPUT_BUDGET / ((double)dtaps * row_bytes)) - htaps + 1;
    const int64_t phase_points = (p->output_size[2] + p->strides[2] - 1) / p->strides[2];
    const int64_t min_rows = (2 * np_max + phase_points - 1) / phase_points;
    rows = rows > min_rows ? rows : min_rows;
    return rows > 1 ? rows : 1;
}

/* The run of axis a (stride s) that holds output o, and o's index in it. */
static const cpu_run_t *find_run(const cpu_axis_runs_t *ar, int64_t s, int64_t o, int64_t *j) {
    for (int64_t r = 0; r < ar->nruns; ++r) {
        const cpu_run_t *run = &ar->runs[r];
        if (o >= run->o0 && (o - run->o0) % s == 0 && (o - run->o0) / s < run->count) {
            *j = (o - run->o0) / s;
            return run;
        }
    }
    return NULL;
}

/* Fold plans: the (D, H) taps of output row (od, oh) into xoff and woff (at
 * most kd x kh); returns how many. */
static int fold_row_taps(const cpu_plan_t *plan, const cpu_run_t *d, int64_t jd, const cpu_run_t *h,
                         int64_t jh, int64_t plane0, ptrdiff_t *xoff, ptrdiff_t *woff) {
    const cpu_axis_runs_t *ad = &plan->axis[0], *ah = &plan->axis[1];
    const cpu_strides_t *xs = &plan->xc;
    int nt = 0;
    for (int64_t a = d->first; a < d->first + d->ntaps; ++a) {
        for (int64_t b = h->first; b < h->first + h->ntaps; ++b) {
            xoff[nt] = (ptrdiff_t)((ad->in0[a] + jd - plane0) * xs->d + (ah->in0[b] + jh) * xs->h);
            woff[nt] =
                (ptrdiff_t)((ad->tap[a] * plan->p.kernel_size[1] + ah->tap[b]) * 4 * plan->cin_g);
            ++nt;
        }
    }
    return nt;
}

/* run_item for fold plans (cpu_plan_t.fold): the item is D block it->block
 * of group it->gq, every D and H run. Its output rows go in pairs along D
 * and H, (o, o + 1) with o + begin crop even: with W k4 s2-like D and H axes
 * the 4 rows of such a pair of pairs read the same input rows, so the tiles
 * of one W position run for all 4 rows in turn and reuse those rows' input
 * points from L1 (row by row, gan_g5's input came from L2 or farther). */
static void run_item_fold(const exec_ctx_t *ctx, const cpu_item_t *it, int64_t n, const char *x_n,
                          int64_t plane0, const thread_scratch_t *sc) {
    const cpu_plan_t *plan = ctx->plan;
    const tconv_canonical_t *p = &plan->p;
    const size_t es = plan->esize;
    const cpu_strides_t *xs = &plan->xc, *ys = &plan->ys;
    const cpu_axis_runs_t *ad = &plan->axis[0], *ah = &plan->axis[1];
    const int64_t g = it->gq, ow_count = p->output_size[2], oh_count = p->output_size[1];
    const int64_t blocks = plan->nblocks, b = it->block, sd = p->strides[0], sh = p->strides[1];
    const int64_t row_taps = p->kernel_size[0] * p->kernel_size[1];
    const int post_activation =
        p->activation != tconv_activation_relu && p->activation != tconv_activation_linear;

    cpu_fold_args_t args;
    args.cin = plan->cin_g;
    args.xstep = xs->w;
    args.parity = (int)(p->crop_begin[2] & 1); /* ow0 is even */
    args.w = (const char *)plan->wpack + (size_t)(g * plan->taps * plan->cin_g) * es;
    args.ostride = ys->w;
    args.bias = (const char *)plan->bias + (size_t)g * es;
    args.relu = p->activation == tconv_activation_relu;
    const char *x_g = x_n + (size_t)(g * plan->cin_g * xs->c) * es;
    char *y_g = ctx->y + (size_t)(n * ys->n + g * ys->c) * es;

    /* The block's D outputs: those of each run's jd range for block b. */
    int64_t od_lo = INT64_MAX, od_hi = INT64_MIN;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        const cpu_run_t *d = &ad->runs[rd];
        int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
        if (jd0 < jd1) {
            od_lo = d->o0 + jd0 * sd < od_lo ? d->o0 + jd0 * sd : od_lo;
            od_hi = d->o0 + (jd1 - 1) * sd > od_hi ? d->o0 + (jd1 - 1) * sd : od_hi;
        }
    }
    if (od_lo > od_hi) {
        return;
    }
    od_lo -= (od_lo + p->crop_begin[0]) & 1;
    const int64_t oh_lo = -((p->crop_begin[1]) & 1);
    for (int64_t od0 = od_lo; od0 <= od_hi; od0 += 2) {
        for (int64_t oh0 = oh_lo; oh0 < oh_count; oh0 += 2) {
            /* The pair of pairs' rows in this block: taps and outputs. */
            int nrows = 0, nt[4];
            char *y_row[4];
            for (int64_t od = od0; od < od0 + 2 && od <= od_hi; ++od) {
                int64_t jd = 0, jh = 0;
                const cpu_run_t *d = od >= 0 ? find_run(ad, sd, od, &jd) : NULL;
                if (!d || jd < d->count * b / blocks || jd >= d->count * (b + 1) / blocks) {
                    continue;
                }
                for (int64_t oh = oh0 < 0 ? 0 : oh0; oh < oh0 + 2 && oh < oh_count; ++oh) {
                    const cpu_run_t *h = find_run(ah, sh, oh, &jh);
                    nt[nrows] =
                        fold_row_taps(plan, d, jd, h, jh, plane0, sc->xoff + nrows * row_taps,
                                      sc->woff + nrows * row_taps);
                    y_row[nrows] = y_g + (size_t)(od * ys->d + oh * ys->h) * es;
                    ++nrows;
                }
            }
            /* The next pair of H rows reads these rows' successors (one
             * input row down): those not read now are prefetched into L2, a
             * slice per tile, and no longer waited for from L3 or memory
             * (gan_g5 1.2x). */
            ptrdiff_t pf_row[16];
            int pf_rows = 0;
            for (int r = 0; nrows && r < nt[0] && pf_rows < 16; ++r) {
                const ptrdiff_t next = sc->xoff[r] + xs->h;
                int now = 0;
                for (int q = 0; q < nt[0]; ++q) {
                    now |= sc->xoff[q] == next;
                }
                if (!now) {
                    pf_row[pf_rows++] = next;
                }
            }
            const int64_t pf_lines = (xs->h * (int64_t)es + 63) / 64;
            const int64_t pf_tiles = (ow_count + CPU_FOLD_POINTS - 1) / CPU_FOLD_POINTS;
            for (int64_t ow0 = 0; ow0 < ow_count; ow0 += CPU_FOLD_POINTS) {
                const int64_t tile = ow0 / CPU_FOLD_POINTS;
                for (int r = 0; r < pf_rows; ++r) {
                    const char *row = x_g + pf_row[r] * (ptrdiff_t)es;
                    for (int64_t l = pf_lines * tile / pf_tiles;
                         l < pf_lines * (tile + 1) / pf_tiles; ++l) {
                        __builtin_prefetch(row + 64 * l, 0, 2);
                    }
                }
                const int64_t base = cpu_plan_fold_base(plan, ow0);
                args.x = x_g + (ptrdiff_t)base * xs->w * (ptrdiff_t)es;
                args.lo = base >= 0;
                args.hi = base + 8 + args.parity < p->input_size[2];
                for (int r = 0; r < nrows; ++r) {
                    args.xoff = sc->xoff + r * row_taps;
                    args.woff = sc->woff + r * row_taps;
                    args.ntaps = nt[r];
                    args.out = y_row[r] + (size_t)(ow0 * ys->w) * es;
                    plan->kernel->fold(&args);
                    for (int t = 0; post_activation && t < CPU_FOLD_POINTS; ++t) {
                        activation_forward_f32((float *)args.out + t * ys->w, 1, p->activation,
                                               p->activation_alpha);
                    }
                }
            }
        }
    }
}

/* Computes work item `it` (see the file comment) of sample n, reading that
 * sample's input at x_n (in plan->xc strides, input plane plane0 first). */
static void run_item(const exec_ctx_t *ctx, const cpu_item_t *it, int64_t n, const char *x_n,
                     int64_t plane0, const thread_scratch_t *sc) {
    const cpu_plan_t *plan = ctx->plan;
    if (plan->fold) {
        run_item_fold(ctx, it, n, x_n, plane0, sc);
        return;
    }
    const tconv_canonical_t *p = &plan->p;
    const cpu_kernel_t *k = plan->kernel;
    const size_t es = plan->esize;
    const cpu_strides_t *xs = &plan->xc, *ys = &plan->ys;

    int64_t g = it->gq / plan->nchunk, q = it->gq % plan->nchunk;
    int64_t width;
    int nv = cpu_plan_chunk(plan, q, &width);
    int64_t oc_in_group = q * plan->chunk_cout;
    int64_t nvalid = plan->cout_g - oc_in_group < width ? plan->cout_g - oc_in_group : width;
    int64_t oc0 = g * plan->cout_g + oc_in_group;
    const cpu_tile_fn tile = plan->dot ? k->dot : k->tile;
    /* Channel-vector tiles read their input from memory once, a stream per
     * tap row that the hardware prefetchers follow too late: they prefetch
     * the next tile's rows (backward data of the suite's k = s layers
     * 1.2-1.3x per CPU-second; their forward pass 1.10-1.23x), and the next
     * tile's output lines for writing, whose store misses otherwise queue
     * behind the tile's end (backward data of gan_g5, 128 MiB of dx from
     * 16 MiB of dz: 0.8x without), unless the output is streamed. */
    const int prefetch = !plan->dot;
    const int64_t np_max = plan->dot ? k->dot_np_max[nv] : k->np_max[nv];

    cpu_tile_args_t args;
    args.x = x_n + (size_t)(g * plan->cin_g * xs->c) * es;
    args.xoff = sc->xoff;
    args.xpoint = sc->xpoint;
    args.woff = sc->woff;
    args.cin = plan->cin_g;
    args.x_cstride = xs->c;
    args.w = (const char *)plan->wpack +
             (size_t)((g * plan->packed_cout_g + oc_in_group) * plan->taps * plan->cin_g) * es;
    args.nv = nv;
    args.ooff = sc->ooff;
    args.bias = (const char *)plan->bias + (size_t)(g * plan->packed_cout_g + oc_in_group) * es;
    args.nvalid = (int)nvalid;
    args.relu = p->activation == tconv_activation_relu;
    args.prefetch_off = args.prefetch_out_off = 0;
    args.prefetch_lines = args.prefetch_out_lines = 0;
    /* Any other activation is applied in place after the tile. */
    const int post_activation =
        p->activation != tconv_activation_relu && p->activation != tconv_activation_linear;
    char *y_base = ctx->y + (size_t)(n * ys->n + oc0 * ys->c) * es;
    /* Whole vectors only, to 64-byte aligned points (the plan checked the
     * strides; the caller's array is checked here). */
    args.stream =
        plan->stream_output && (uintptr_t)ctx->y % 64 == 0 && nvalid == width && !post_activation;

    const cpu_run_t *d = &plan->axis[0].runs[it->rd], *h = &plan->axis[1].runs[it->rh];
    const int64_t sd = p->strides[0], sh = p->strides[1], sw = p->strides[2];
    /* The item's output rows (jd, jh), in passes of a few rows over every W
     * run (phase), and at most plan->stage_rows at a time for channels_first. */
    const int64_t rows = (it->jd1 - it->jd0) * h->count;
    int64_t block = plan->dot ? rows_per_pass(plan, d, h, np_max) : rows;
    block = plan->stage_rows && plan->stage_rows < block ? plan->stage_rows : block;
    char *out = sc->stage ? sc->stage : y_base;
    args.out = out;
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
        const int64_t rb = rows - r0 < block ? rows - r0 : block;
        for (int64_t rw = 0; rw < plan->axis[2].nruns; ++rw) {
            const cpu_run_t *w = &plan->axis[2].runs[rw];
            args.ntaps = box_taps(plan, d, h, w, width, plane0, sc);
            args.cin = plan->merge_w_taps && w->ntaps > 0 ? w->ntaps * plan->cin_g : plan->cin_g;
            /* The block's points in (row, jw) order, in equal tiles no larger
             * than the kernel's widest for nv vectors. */
            int64_t points = rb * w->count;
            int64_t ntiles = (points + np_max - 1) / np_max;
            int64_t np = (points + ntiles - 1) / ntiles;
            /* Row r's input and output offsets, updated as the points walk
             * the rows (no divisions per point). */
            int64_t r = r0, jw = 0;
            ptrdiff_t x_row = 0, o_row = 0;
            const ptrdiff_t x_step = (ptrdiff_t)cpu_plan_read_step(plan, 2) * xs->w;
            const ptrdiff_t o_step = sc->stage ? (ptrdiff_t)(sw * width) : (ptrdiff_t)(sw * ys->w);
            const ptrdiff_t o_first =
                sc->stage ? (ptrdiff_t)(w->o0 * width) : (ptrdiff_t)(w->o0 * ys->w);
            row_offsets(plan, it, d, h, r0, r, width, &x_row, &o_row);
            /* The next tile's input span along W, for one tap, and its output
             * when that is one span (channels_last, every channel in one chunk):
             * the lines to prefetch. */
            const int64_t next_lines =
                prefetch ? (((np - 1) * x_step + args.cin) * (int64_t)es + 63) / 64 + 1 : 0;
            const int64_t next_out_lines = prefetch && !args.stream && !sc->stage &&
                                                   o_step == (ptrdiff_t)nvalid &&
                                                   nvalid == plan->cout_g
                                               ? (np * nvalid * (int64_t)es + 63) / 64 + 1
                                               : 0;
            for (int64_t done = 0; done < points; done += args.np) {
                args.np = (int)(points - done < np ? points - done : np);
                for (int t = 0; t < args.np; ++t) {
                    sc->xpoint[t] = x_row + (ptrdiff_t)jw * x_step;
                    sc->ooff[t] = o_row + o_first + (ptrdiff_t)jw * o_step;
                    if (++jw == w->count) {
                        jw = 0;
                        ++r;
                        row_offsets(plan, it, d, h, r0, r, width, &x_row, &o_row);
                    }
                }
                /* (x_row, jw) is now the next tile's first point. */
                const int more = done + args.np < points;
                args.prefetch_off = x_row + (ptrdiff_t)jw * x_step;
                args.prefetch_lines = more ? (int)next_lines : 0;
                args.prefetch_out_off = o_row + o_first + (ptrdiff_t)jw * o_step;
                args.prefetch_out_lines = more ? (int)next_out_lines : 0;
                tile(&args);
                for (int t = 0; post_activation && t < args.np; ++t) {
                    if (p->dtype == tconv_f64) {
                        activation_forward_f64((double *)out + sc->ooff[t], (size_t)nvalid,
                                               p->activation, p->activation_alpha);
                    } else {
                        activation_forward_f32((float *)out + sc->ooff[t], (size_t)nvalid,
                                               p->activation, p->activation_alpha);
                    }
                }
            }
        }
        if (sc->stage) {
            for (int64_t r = 0; r < rb; ++r) {
                int64_t jd = it->jd0 + (r0 + r) / h->count, jh = (r0 + r) % h->count;
                sc->row_off[r] = (ptrdiff_t)((d->o0 + jd * sd) * ys->d + (h->o0 + jh * sh) * ys->h);
            }
            if (p->dtype == tconv_f64) {
                flush_rows_f64(plan, sc->stage, rb, sc->row_off, width, nvalid, (double *)y_base);
            } else {
                flush_rows_f32(plan, sc->stage, rb, sc->row_off, width, nvalid, (float *)y_base);
            }
        }
    }
}

/* Copies input planes [range[0], range[1]) of sample n from channels_first
 * into the channels_last slab (planes x H x W x Cin). */
static void transpose_slab(const cpu_plan_t *plan, const char *x, int64_t n, const int64_t range[2],
                           char *slab) {
    const tconv_canonical_t *p = &plan->p;
    const int64_t hw = p->input_size[1] * p->input_size[2], cin = p->in_channels;
    const size_t es = plan->esize;
    for (int64_t d = range[0]; d < range[1]; ++d) {
        for (int64_t c = 0; c < cin; ++c) {
            const char *src = x + (size_t)(n * plan->xs.n + c * plan->xs.c + d * plan->xs.d) * es;
            char *dst = slab + (size_t)((d - range[0]) * plan->xc.d + c) * es;
            if (es == sizeof(float)) {
                for (int64_t k = 0; k < hw; ++k) {
                    ((float *)dst)[k * cin] = ((const float *)src)[k];
                }
            } else {
                for (int64_t k = 0; k < hw; ++k) {
                    ((double *)dst)[k * cin] = ((const double *)src)[k];
                }
            }
        }
    }
}

static void execute_job(void *opaque, size_t thread_index, size_t thread_count) {
    const exec_ctx_t *ctx = opaque;
    const cpu_plan_t *plan = ctx->plan;
    thread_scratch_t sc;
    sc.xoff = plan->thread_offsets + thread_index * plan->offsets_stride;
    sc.woff = sc.xoff + plan->taps;
    sc.xpoint = sc.woff + plan->taps;
    sc.ooff = sc.xpoint + CPU_NP_MAX;
    sc.row_off = sc.ooff + CPU_NP_MAX;
    sc.stage = plan->stage_rows
                   ? (char *)plan->thread_stage + thread_index * plan->stage_elems * plan->esize
                   : NULL;
    char *slab = plan->transpose_input
                     ? (char *)plan->thread_slab + thread_index * plan->slab_elems * plan->esize
                     : NULL;
    int64_t slab_n = -1, slab_block = -1;
    /* The thread's range of the batch's items: item m * nitems + i is
     * plan->items[i] of sample m + items[i].n (cpu_plan.h). */
    const int64_t first = plan->thread_first[thread_index];
    const int64_t end = plan->thread_first[thread_index + 1];
    int64_t m = first / plan->nitems, i = first % plan->nitems;
    for (int64_t v = first; v < end; ++v) {
        const cpu_item_t *it = &plan->items[i];
        const int64_t n = m + it->n;
        if (!slab) {
            run_item(ctx, it, n, ctx->x + (size_t)(n * plan->xs.n) * plan->esize, 0, &sc);
        } else {
            const int64_t *range = &plan->block_planes[2 * it->block];
            if (n != slab_n || it->block != slab_block) {
                transpose_slab(plan, ctx->x, n, range, slab);
                slab_n = n;
                slab_block = it->block;
            }
            run_item(ctx, it, n, slab, range[0], &sc);
        }
        if (++i == plan->nitems) {
            i = 0;
            ++m;
        }
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence(); /* non-temporal stores are visible before the pool's join */
#endif
}

tconv_status_t cpu_plan_execute(cpu_plan_t *plan, const void *input, void *output, char *msg,
                                size_t msg_size) {
    plan = cpu_plan_forward(plan); /* the same output, W phases as channels */
    if (!plan->weights_set) {
        snprintf(msg, msg_size, "plan_execute: weights were never set (call plan_set_weights)");
        return tconv_invalid_arguments;
    }
    if (!input || !output) {
        snprintf(msg, msg_size, "plan_execute: %s is NULL", !input ? "input" : "output");
        return tconv_invalid_arguments;
    }
    if (plan->wino_fwd) {
        cpu_wino_execute(plan, plan->wino_fwd, input, output);
        return tconv_success;
    }
    if (plan->fold_wino) {
        cpu_fwino_execute(plan, plan->fold_wino, input, output);
        return tconv_success;
    }
    exec_ctx_t ctx = {plan, input, output};
    cpu_thread_pool_run(plan->pool, execute_job, &ctx);
    return tconv_success;
}
