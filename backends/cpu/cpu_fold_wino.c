/* SPDX-License-Identifier: Apache-2.0 */
/* The forward pass of one output channel, kernel 4, stride 2 on every axis
 * (the suite's gan_g5: 64 -> 1 channels, 32^3 -> 64^3) by Winograd F(2, 2)
 * per output class, with the tiles in the vector lanes.
 *
 * With begin crop 1, output o = 2J + v - 1 of class v (o's parity) sums
 * x[J - 1] w[v + 2] + x[J] w[v] per axis: per class a correlation with two
 * taps. A tile is J = 2T, 2T + 1 on every axis of every class (8 classes x 8
 * outputs = 64 outputs); it reads x points 2T - 1, 2T, 2T + 1 per axis, the
 * same 27 for every class, so B^T runs once per tile for the 8 classes and
 * F(2, 2) takes 27 x 8 products per input channel instead of 64 x 8.
 *
 * The direct fold tiles (cpu_kernel.h) put the input channels in the lanes
 * and pay a horizontal sum per output; here 16 consecutive tiles along W
 * fill the lanes, so each GEMM (per transform point: 16 tiles x Cin times
 * Cin x 8 classes) sums the channels with FMAs, one V vector against 8
 * broadcast weights, and A^T gives whole vectors of outputs. The price is a
 * transpose of each input row, 32 W points x 16 channels at a time
 * (cpu_fwino_row_fn), which also applies B^T along W.
 *
 * Work: a unit is one sample's D tile (input planes 2Td - 1 .. 2Td + 1,
 * outputs 4Td - 1 .. 4Td + 2), H tiles two at a time (the GEMM's 16 sums in
 * registers), W blocks of 16 tiles (32 input points); or the sample's last
 * output plane. The outputs with J = in (o = 2 in - 1, the last on each
 * axis: one tap) have no tile; each is a direct dot product (3 faces of the
 * output, ~5 % of its points at gan_g5's size). A unit's outputs depend
 * only on the problem, never on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_fold_wino.h"

#include "common/activation_eval.h"
#include "cpu_backward.h"
#include "cpu_winograd.h"

/* Input W points per block: two per lane. */
#define WBLOCK (2 * CPU_FWINO_LANES)

struct cpu_fwino {
    int64_t cin;
    int64_t in[3], out[3]; /* D, H, W lengths */
    int64_t tiles_d, tiles_h, wblocks;
    ptrdiff_t xs_n, xs_d, xs_h; /* input strides (W: cin) */
    ptrdiff_t ys_n, ys_d;       /* output strides (H: out W, W: 1) */
    float *u;                   /* [27][cin][8] */
    float *wt;                  /* [64 taps][cin]: the faces' direct sums */
    float bias;
    tconv_activation_t act;
    double act_alpha;
    size_t xw_floats, scratch_floats;
    size_t nthreads;
    float *scratch; /* per thread: xw [W blocks][3][5][xw_floats], m */
};

int cpu_fwino_fits(const cpu_plan_t *plan) {
    const tconv_canonical_t *p = &plan->p;
    if (!plan->kernel->fwino_block || p->dtype != tconv_f32 || p->groups != 1 ||
        p->out_channels != 1 || p->data_format != tconv_channels_last ||
        p->in_channels % CPU_FWINO_LANES != 0 || !cpu_wino_enabled()) {
        return 0;
    }
    for (int a = 0; a < 3; ++a) {
        if (p->kernel_size[a] != 4 || p->strides[a] != 2 || p->dilation[a] != 1 ||
            p->crop_begin[a] != 1 || p->output_size[a] != 2 * p->input_size[a] ||
            p->input_size[a] % (a == 2 ? WBLOCK : 2) != 0) {
            return 0;
        }
    }
    return 1;
}

tconv_status_t cpu_fwino_create(const cpu_plan_t *plan, cpu_fwino_t **out, char *msg,
                                size_t msg_size) {
    const tconv_canonical_t *p = &plan->p;
    cpu_fwino_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(msg, msg_size, "out of memory for the Winograd forward plan");
        return tconv_out_of_memory;
    }
    w->cin = p->in_channels;
    for (int a = 0; a < 3; ++a) {
        w->in[a] = p->input_size[a];
        w->out[a] = p->output_size[a];
    }
    w->tiles_d = w->in[0] / 2;
    w->tiles_h = w->in[1] / 2;
    w->wblocks = w->in[2] / WBLOCK;
    w->xs_h = (ptrdiff_t)(w->in[2] * w->cin);
    w->xs_d = w->xs_h * (ptrdiff_t)w->in[1];
    w->xs_n = w->xs_d * (ptrdiff_t)w->in[0];
    w->ys_d = (ptrdiff_t)(w->out[1] * w->out[2]);
    w->ys_n = w->ys_d * (ptrdiff_t)w->out[0];
    w->act = p->activation;
    w->act_alpha = p->activation_alpha;
    w->xw_floats = (size_t)(3 * w->cin * CPU_FWINO_LANES);
    /* a ring of 5 W-transformed rows per D point and W block, and M */
    w->scratch_floats = 15 * (size_t)w->wblocks * w->xw_floats + 2 * 27 * 8 * CPU_FWINO_LANES;
    w->nthreads = plan->nthreads;
    tconv_status_t st = cpu_plan_alloc_table((void **)&w->u, 27 * 8 * w->cin, sizeof(float), 1,
                                             "the Winograd weights", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->wt, 64 * w->cin, sizeof(float), 1,
                                  "the Winograd weights", msg, msg_size);
    }
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->scratch, (int64_t)(w->scratch_floats * w->nthreads),
                                  sizeof(float), 1, "the Winograd scratch", msg, msg_size);
    }
    if (st != tconv_success) {
        cpu_fwino_destroy(w);
        return st;
    }
    *out = w;
    return tconv_success;
}

void cpu_fwino_set_weights(cpu_fwino_t *w, const cpu_plan_t *plan, const void *kernel,
                           const void *bias) {
    const tconv_canonical_t *p = &plan->p;
    const float *k = kernel;
    static const double G[3][2] = {{1, 0}, {1, 1}, {0, 1}}; /* U = G h per axis */
    for (int64_t tap = 0; tap < 64; ++tap) {
        for (int64_t c = 0; c < w->cin; ++c) {
            w->wt[tap * w->cin + c] = k[cpu_kernel_element(p, plan->taps, tap, c, 0)];
        }
    }
    for (int cls = 0; cls < 8; ++cls) {
        const int v[3] = {cls >> 2, (cls >> 1) & 1, cls & 1};
        for (int64_t c = 0; c < w->cin; ++c) {
            /* h[a][b][e]: index 0 weighs x[J - 1] (tap v + 2), 1 weighs x[J] (tap v) */
            double h[2][2][2];
            for (int a = 0; a < 2; ++a) {
                for (int b = 0; b < 2; ++b) {
                    for (int e = 0; e < 2; ++e) {
                        const int64_t tap = ((v[0] + 2 * (1 - a)) * 4 + v[1] + 2 * (1 - b)) * 4 +
                                            v[2] + 2 * (1 - e);
                        h[a][b][e] = w->wt[tap * w->cin + c];
                    }
                }
            }
            for (int pd = 0; pd < 3; ++pd) {
                for (int ph = 0; ph < 3; ++ph) {
                    for (int pw = 0; pw < 3; ++pw) {
                        double s = 0;
                        for (int a = 0; a < 2; ++a) {
                            for (int b = 0; b < 2; ++b) {
                                for (int e = 0; e < 2; ++e) {
                                    s += G[pd][a] * G[ph][b] * G[pw][e] * h[a][b][e];
                                }
                            }
                        }
                        w->u[(((pd * 3 + ph) * 3 + pw) * w->cin + c) * 8 + cls] = (float)s;
                    }
                }
            }
        }
    }
    w->bias = bias ? *(const float *)bias : 0.0f;
}

/* The taps of output o on axis a (o = 2i + t - 1, 0 <= i < in): how many
 * (0..2), into tap[] and in[]. */
static int output_taps(const cpu_fwino_t *w, int a, int64_t o, int64_t tap[2], int64_t in[2]) {
    int n = 0;
    for (int64_t t = (o + 1) & 1; t < 4; t += 2) {
        const int64_t i = (o + 1 - t) / 2;
        if (i >= 0 && i < w->in[a]) {
            tap[n] = t;
            in[n++] = i;
        }
    }
    return n;
}

/* The taps of a line of outputs along axis L: on the two fixed axes f0 and
 * f1 those of the line's coordinates there, on L nl taps tl reading inputs
 * il. */
typedef struct line_taps {
    int f0, f1, L;
    int n0, n1, nl;
    int64_t t0[2], i0[2], t1[2], i1[2], tl[2], il[2];
} line_taps_t;

/* Every combination of the line's taps: its input point (sample x_n) and
 * weights into xp[] and wp[]; returns how many (at most 8). */
static int line_terms(const cpu_fwino_t *w, const float *x_n, const line_taps_t *lt,
                      const float *xp[8], const float *wp[8]) {
    const ptrdiff_t xs[3] = {w->xs_d, w->xs_h, (ptrdiff_t)w->cin};
    int n = 0;
    for (int a = 0; a < lt->n0; ++a) {
        for (int b = 0; b < lt->n1; ++b) {
            for (int c = 0; c < lt->nl; ++c) {
                int64_t t[3], i[3];
                t[lt->f0] = lt->t0[a], i[lt->f0] = lt->i0[a];
                t[lt->f1] = lt->t1[b], i[lt->f1] = lt->i1[b];
                t[lt->L] = lt->tl[c], i[lt->L] = lt->il[c];
                xp[n] = x_n + i[0] * xs[0] + i[1] * xs[1] + i[2] * xs[2];
                wp[n++] = w->wt + ((t[0] * 4 + t[1]) * 4 + t[2]) * w->cin;
            }
        }
    }
    return n;
}

/* Outputs lo..hi along axis L of the output line through o (o[L] ignored)
 * by direct sums: those whose L taps are both inside run 16 at a time
 * through the kernel's fwino_line, the rest (at most two per parity) one
 * by one. */
static void face_line(const cpu_fwino_t *w, const cpu_kernel_t *kern, const float *x_n, float *y_n,
                      const int64_t o[3], int L, int64_t lo, int64_t hi) {
    const ptrdiff_t xs_l = L == 0 ? w->xs_d : L == 1 ? w->xs_h : (ptrdiff_t)w->cin;
    const ptrdiff_t ys[3] = {w->ys_d, (ptrdiff_t)w->out[2], 1};
    line_taps_t lt;
    lt.L = L;
    lt.f0 = L == 0 ? 1 : 0;
    lt.f1 = L == 2 ? 1 : 2;
    lt.n0 = output_taps(w, lt.f0, o[lt.f0], lt.t0, lt.i0);
    lt.n1 = output_taps(w, lt.f1, o[lt.f1], lt.t1, lt.i1);
    float *y_line = y_n + o[lt.f0] * ys[lt.f0] + o[lt.f1] * ys[lt.f1];
    const float *xp[8], *wp[8];
    for (int64_t ol = lo; ol <= hi; ++ol) { /* outputs with one L tap: one by one */
        lt.nl = output_taps(w, L, ol, lt.tl, lt.il);
        if (lt.nl < 2) {
            const int n = line_terms(w, x_n, &lt, xp, wp);
            kern->fwino_line(xp, 0, wp, n, w->cin, w->bias, 1, y_line + ol * ys[L], 0);
        }
    }
    for (int v = 0; v < 2; ++v) { /* o_L = 2J + v - 1 with both L taps inside: 1 <= J < in */
        int64_t j_lo = (lo + 1 - v + 1) / 2, j_hi = (hi + 1 - v) >> 1;
        j_lo = j_lo < 1 ? 1 : j_lo;
        j_hi = j_hi > w->in[L] - 1 ? w->in[L] - 1 : j_hi;
        for (int64_t j0 = j_lo; j0 <= j_hi; j0 += 16) {
            lt.nl = 2; /* tap v + 2c reads J - c; the next output, J + 1, is xs_l on */
            for (int c = 0; c < 2; ++c) {
                lt.tl[c] = v + 2 * c;
                lt.il[c] = j0 - c;
            }
            const int n = line_terms(w, x_n, &lt, xp, wp);
            const int count = (int)(j_hi - j0 + 1 < 16 ? j_hi - j0 + 1 : 16);
            kern->fwino_line(xp, xs_l, wp, n, w->cin, w->bias, count,
                             y_line + (2 * j0 + v - 1) * ys[L], 2 * ys[L]);
        }
    }
}

/* The activation on n outputs from y, after their bias (none when linear). */
static void activate(const cpu_fwino_t *w, float *y, int64_t n) {
    if (w->act != tconv_activation_linear) {
        activation_forward_f32(y, (size_t)n, w->act, w->act_alpha);
    }
}

/* D tile td of sample n: its output planes 4 td - 1 .. 4 td + 2 (those
 * inside), with their last H row and last W column by face_line. */
static void run_slab(const cpu_fwino_t *w, const cpu_kernel_t *kern, const float *x_n, float *y_n,
                     int64_t td, float *scratch) {
    float *xw = scratch, *m = xw + 15 * (size_t)w->wblocks * w->xw_floats;
    cpu_fwino_args_t a;
    memset(&a, 0, sizeof a);
    a.cin = w->cin;
    a.u = w->u;
    a.bias = w->bias;
    a.m = m;
    for (int64_t th = 0; th < w->tiles_h; th += 2) {
        a.rows = w->tiles_h - th < 2 ? 1 : 2;
        for (int r = 0; r < 2; ++r) {
            for (int q = 0; q < 16; ++q) {
                const int64_t od = 4 * td + q / 4 - 1, oh = 4 * (th + r) + q % 4 - 1;
                a.y[r][q / 4][q % 4] =
                    r < a.rows && od >= 0 && oh >= 0 ? y_n + od * w->ys_d + oh * w->out[2] : NULL;
            }
        }
        /* The rows the next pair reads first (the next D tile's first pair
         * after the last): 4 per plane, prefetched during this pair's GEMMs. */
        const int64_t next_td = th + 2 < w->tiles_h ? td : td + 1;
        const int64_t h_next = th + 2 < w->tiles_h ? 2 * th + 4 : 0;
        const int64_t pf_rows = h_next + 4 <= w->in[1] ? 4 : w->in[1] - h_next;
        const int64_t pf_total = pf_rows * w->xs_h * (ptrdiff_t)sizeof(float) / 64;
        const char *pf_at[3];
        for (int dr = 0; dr < 3; ++dr) {
            const int64_t d = 2 * next_td - 1 + dr;
            pf_at[dr] =
                (const char *)(x_n + (d >= 0 && d < w->in[0] ? d : 0) * w->xs_d + h_next * w->xs_h);
        }
        for (int64_t wb = 0; wb < w->wblocks; ++wb) {
            const int64_t l0 = pf_total * wb / w->wblocks, l1 = pf_total * (wb + 1) / w->wblocks;
            for (int dr = 0; dr < 3; ++dr) {
                a.pf[dr] = pf_at[dr] + 64 * l0;
            }
            a.pf_lines = next_td < w->tiles_d ? l1 - l0 : 0;
            for (int dr = 0; dr < 3; ++dr) {
                for (int hr = 0; hr < 2 * a.rows + 1; ++hr) {
                    /* Row h in slot (h + 1) % 5 of the block's ring: a pair's 5
                     * rows take distinct slots, and its first row is the last
                     * pair's last, transformed then. */
                    const int64_t d = 2 * td - 1 + dr, h = 2 * th - 1 + hr;
                    float *dst = xw + (size_t)((wb * 3 + dr) * 5 + (h + 1) % 5) * w->xw_floats;
                    a.xw[dr][hr] = dst;
                    if (hr == 0 && th > 0) {
                        continue;
                    }
                    const int inside = d >= 0 && d < w->in[0] && h >= 0 && h < w->in[1];
                    const float *row =
                        inside ? x_n + d * w->xs_d + h * w->xs_h + wb * WBLOCK * w->cin : NULL;
                    kern->fwino_row(row, row && wb ? row - w->cin : NULL, w->cin, dst);
                }
            }
            /* Lane 0's first output, W point 64 wb - 1, is before the row in block 0. */
            a.skip_first = wb == 0;
            kern->fwino_block(&a);
            for (int r = 0; r < a.rows; ++r) {
                for (int q = 0; q < 16; ++q) {
                    if (a.y[r][q / 4][q % 4]) {
                        a.y[r][q / 4][q % 4] += wb == 0 ? 2 * WBLOCK - 1 : 2 * WBLOCK;
                    }
                }
            }
        }
    }
    /* The planes' last H row and last W column. */
    const int64_t od_lo = 4 * td - 1 < 0 ? 0 : 4 * td - 1, od_hi = 4 * td + 2;
    for (int64_t od = od_lo; od <= od_hi; ++od) {
        const int64_t o[3] = {od, w->out[1] - 1, w->out[2] - 1};
        face_line(w, kern, x_n, y_n, o, 2, 0, w->out[2] - 1);
        face_line(w, kern, x_n, y_n, o, 1, 0, w->out[1] - 2);
    }
    activate(w, y_n + od_lo * w->ys_d, (od_hi - od_lo + 1) * w->ys_d);
}

/* The sample's last output plane (o = 2 in - 1 along D: one D tap). */
static void run_last_plane(const cpu_fwino_t *w, const cpu_kernel_t *kern, const float *x_n,
                           float *y_n) {
    float *plane = y_n + (w->out[0] - 1) * w->ys_d;
    for (int64_t oh = 0; oh < w->out[1]; ++oh) {
        const int64_t o[3] = {w->out[0] - 1, oh, 0};
        face_line(w, kern, x_n, y_n, o, 2, 0, w->out[2] - 1);
    }
    activate(w, plane, w->ys_d);
}

typedef struct fwino_ctx {
    const cpu_plan_t *plan;
    const cpu_fwino_t *w;
    const float *x;
    float *y;
} fwino_ctx_t;

static void fwino_job(void *arg, size_t thread, size_t threads) {
    const fwino_ctx_t *ctx = arg;
    const cpu_fwino_t *w = ctx->w;
    const int64_t per_sample = w->tiles_d + 1, units = ctx->plan->p.batch * per_sample;
    float *scratch = w->scratch + thread * w->scratch_floats;
    for (int64_t i = cpu_share_start(units, (int64_t)thread, (int64_t)threads);
         i < cpu_share_start(units, (int64_t)thread + 1, (int64_t)threads); ++i) {
        const int64_t n = i / per_sample, td = i % per_sample;
        const float *x_n = ctx->x + n * w->xs_n;
        float *y_n = ctx->y + n * w->ys_n;
        if (td < w->tiles_d) {
            run_slab(w, ctx->plan->kernel, x_n, y_n, td, scratch);
        } else {
            run_last_plane(w, ctx->plan->kernel, x_n, y_n);
        }
    }
}

void cpu_fwino_execute(const cpu_plan_t *plan, const cpu_fwino_t *w, const void *x, void *y) {
    fwino_ctx_t ctx = {plan, w, x, y};
    cpu_thread_pool_run(plan->pool, fwino_job, &ctx);
}

int cpu_fwino_describe(const cpu_fwino_t *w, char *buf, size_t size) {
    return snprintf(buf, size,
                    "forward: Winograd F(2,2) one output channel, 8 classes x 27 points, %lld "
                    "tiles per sample in lanes of %d along W",
                    (long long)(w->tiles_d * w->tiles_h * w->wblocks * CPU_FWINO_LANES),
                    CPU_FWINO_LANES);
}

void cpu_fwino_destroy(cpu_fwino_t *w) {
    if (!w) {
        return;
    }
    free(w->u);
    free(w->wt);
    free(w->scratch);
    free(w);
}
