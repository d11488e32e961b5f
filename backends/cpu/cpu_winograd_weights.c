/* SPDX-License-Identifier: Apache-2.0 */
/* The backward weights pass by Winograd F(2, 2) per axis, for layers whose
 * kernel is twice the stride (the suite's gan_g3: k 4, s 2), dilation 1,
 * float32, channels_last, one group, a vector of output channels or more.
 * Its direct pass runs at the FMA ceiling for tconv and oneDNN alike
 * (0.97-1.06x oneDNN in the suite).
 *
 * Per axis, with tap t = s*u + v (class v < s, u < 2), dW_v[u] = sum over
 * x points i of x[i] * dz_v[i + u], dz_v[j] = dz[s*j + v - c]. Over a tile
 * of two x points i = 2T + j' this is the correlation y[u] = sum over j' of
 * d[u + j'] g[j'] with g = the tile's x and d = dz_v[2T .. 2T + 2], which
 * F(2, 2) computes as y = A^T [(G g) . (B^T d)]:
 *     G g = (g0, g0 + g1, g1), B^T d = (d0 - d1, d1, d2 - d1),
 *     A^T m = (m0 + m1, m1 + m2),
 * and the sum over tiles moves inside A^T. In 3-D, for each class v and
 * transform point p (27), M_vp[ci][co] = sum over tiles X_p[tile][ci] *
 * Z_vp[tile][co] is an outer-product GEMM (the backward weights tiles of
 * the kernel, over a box of every tile of the batch), and A^T turns M_v's
 * 27 points into its 8 taps: 27 products per class and tile where the
 * direct pass has 64 (2.4x fewer).
 *
 * Three parallel jobs: the transforms (tiles split among the threads; X by
 * G here, Z by the kernel's F(2, 2) input transform), the GEMMs (the (v, p)
 * pairs split among the threads, each M_vp summed by one thread in tile
 * order), and A^T with the write in the kernel's layout ((v, ci) split).
 * The result never depends on the thread count. The transformed operands
 * are kept for the whole batch (3.4x x and dz, and 27/8 of dW), so the pass
 * is taken only within a memory budget; the bias gradient stays with the
 * direct pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_winograd_weights.h"

#include "cpu_backward.h"
#include "cpu_winograd.h"

/* The transformed operands and M at most this many times the bytes of x,
 * dz and dW together: each is 27/8 of its tensor, more with the half-empty
 * tiles of odd sizes. */
#define BUDGET_FACTOR 8.0

struct cpu_wino_wgrad {
    int64_t s[3], crop[3], xlen[3], zlen[3], ntiles[3];
    int64_t tiles;   /* per sample */
    int64_t total;   /* tiles of the plan's batch */
    int64_t classes; /* s_d * s_h * s_w */
    int64_t cin, cout;
    int64_t zrow; /* floats per tile of Z_vp: Cout rounded up to a vector */
    int64_t mrow; /* floats per row of M_vp: Cout rounded up to a vector */
    float *x;     /* X [27][total][cin] */
    float *z;     /* Z [classes][27][total][zrow] */
    float *m;     /* M [classes][27][cin][mrow] */
    float *taps;  /* per thread: the 8 taps of one (v, ci) [8][zrow] */
};

/* Kernel = 2 x stride with dilation 1 on every axis, and the rest of the
 * GEMM Winograd's conditions (cpu_wino_fits without the 3-tap shapes). */
static int shape_fits(const cpu_plan_t *fwd) {
    const tconv_canonical_t *p = &fwd->p;
    if (!cpu_wino_enabled() || p->groups != 1 || p->data_format != tconv_channels_last ||
        p->dtype != tconv_f32 || fwd->cout_g < fwd->kernel->vl) {
        return 0;
    }
    for (int a = 0; a < 3; ++a) {
        if (p->kernel_size[a] != 2 * p->strides[a] || p->dilation[a] != 1) {
            return 0;
        }
    }
    return 1;
}

/* The pass's shape for @p fwd's problem and batch: every field but the
 * buffers. */
static void geometry(const cpu_plan_t *fwd, cpu_wino_wgrad_t *w) {
    const tconv_canonical_t *p = &fwd->p;
    const int64_t vl = fwd->kernel->vl;
    w->classes = 1;
    w->tiles = 1;
    for (int a = 0; a < 3; ++a) {
        w->s[a] = p->strides[a];
        w->crop[a] = p->crop_begin[a];
        w->xlen[a] = p->input_size[a];
        w->zlen[a] = p->output_size[a];
        w->ntiles[a] = (w->xlen[a] + 1) / 2;
        w->tiles *= w->ntiles[a];
        w->classes *= w->s[a];
    }
    w->total = w->tiles * p->batch;
    w->cin = p->in_channels;
    w->cout = p->out_channels;
    w->zrow = (w->cout + vl - 1) / vl * vl;
    w->mrow = w->zrow; /* the last chunk's tiles write whole vectors */
}

/* Floats of X, Z and M (counted in double: the budget decides before any
 * product is formed in int64_t). */
static double x_floats(const cpu_wino_wgrad_t *w) {
    return 27.0 * (double)w->total * (double)w->cin;
}
static double z_floats(const cpu_wino_wgrad_t *w) {
    return (double)w->classes * 27.0 * (double)w->total * (double)w->zrow;
}
static double m_floats(const cpu_wino_wgrad_t *w) {
    return (double)w->classes * 27.0 * (double)w->cin * (double)w->mrow;
}

int cpu_wino_wgrad_fits(const cpu_plan_t *fwd) {
    if (!shape_fits(fwd)) {
        return 0;
    }
    const tconv_canonical_t *p = &fwd->p;
    cpu_wino_wgrad_t g;
    memset(&g, 0, sizeof(g));
    geometry(fwd, &g);
    double xs = 1, zs = 1, ws = (double)fwd->taps * (double)p->in_channels * p->out_channels;
    for (int a = 0; a < 3; ++a) {
        xs *= (double)p->input_size[a];
        zs *= (double)p->output_size[a];
    }
    const double have =
        (xs * (double)p->in_channels + zs * (double)p->out_channels) * (double)p->batch + ws;
    return x_floats(&g) + z_floats(&g) + m_floats(&g) <= BUDGET_FACTOR * have;
}

tconv_status_t cpu_wino_wgrad_create(const cpu_plan_t *fwd, cpu_wino_wgrad_t **out, char *msg,
                                     size_t msg_size) {
    *out = NULL;
    cpu_wino_wgrad_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(msg, msg_size, "cpu plan: allocating the Winograd weights plan failed");
        return tconv_out_of_memory;
    }
    geometry(fwd, w);
    tconv_status_t st = cpu_plan_alloc_table((void **)&w->x, (int64_t)x_floats(w), sizeof(float), 1,
                                             "the Winograd x transform", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->z, (int64_t)z_floats(w), sizeof(float), 1,
                                  "the Winograd dz transform", msg, msg_size);
    }
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->m, (int64_t)m_floats(w), sizeof(float), 1,
                                  "the Winograd weight sums", msg, msg_size);
    }
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->taps, (int64_t)fwd->nthreads * 8 * w->zrow,
                                  sizeof(float), 1, "the Winograd taps", msg, msg_size);
    }
    if (st != tconv_success) {
        cpu_wino_wgrad_destroy(w);
        return st;
    }
    *out = w;
    return tconv_success;
}

typedef struct wgw_ctx {
    const cpu_plan_t *fwd;
    const cpu_wino_wgrad_t *w;
    const float *x, *dz;
    float *dw;
} wgw_ctx_t;

/* G along one axis of 3 x 3 x 3: transform point a of tile points (i0, i1)
 * sums i0 (a = 0), both (a = 1), i1 (a = 2). */
static int g_uses(int a, int i) {
    return a == 1 || a == 2 * i;
}

/* X of tile t (global index g of the batch) and its Z for every class. */
static void transform_tile(const wgw_ctx_t *ctx, int64_t g) {
    const cpu_plan_t *fwd = ctx->fwd;
    const cpu_wino_wgrad_t *w = ctx->w;
    const int64_t n = g / w->tiles, tile = g % w->tiles;
    const int64_t t[3] = {tile / (w->ntiles[1] * w->ntiles[2]), tile / w->ntiles[2] % w->ntiles[1],
                          tile % w->ntiles[2]};
    /* x: the tile's 2 x 2 x 2 points (NULL past the end: zeros) */
    const float *xp[8];
    for (int q = 0; q < 8; ++q) {
        const int64_t i[3] = {2 * t[0] + (q >> 2), 2 * t[1] + ((q >> 1) & 1), 2 * t[2] + (q & 1)};
        xp[q] =
            i[0] < w->xlen[0] && i[1] < w->xlen[1] && i[2] < w->xlen[2]
                ? ctx->x + n * fwd->xs.n + i[0] * fwd->xs.d + i[1] * fwd->xs.h + i[2] * fwd->xs.w
                : NULL;
    }
    for (int q = 0; q < 27; ++q) {
        const int a[3] = {q / 9, q / 3 % 3, q % 3};
        float *dst = w->x + (q * w->total + g) * w->cin;
        memset(dst, 0, (size_t)w->cin * sizeof(float));
        for (int k = 0; k < 8; ++k) {
            if (xp[k] && g_uses(a[0], k >> 2) && g_uses(a[1], (k >> 1) & 1) &&
                g_uses(a[2], k & 1)) {
                for (int64_t c = 0; c < w->cin; ++c) {
                    dst[c] += xp[k][c];
                }
            }
        }
    }
    /* dz: class v's 3 x 3 x 3 points s*(2T + j) + v - c, by the kernel's B^T */
    for (int64_t cls = 0; cls < w->classes; ++cls) {
        const int64_t v[3] = {cls / (w->s[1] * w->s[2]), cls / w->s[2] % w->s[1], cls % w->s[2]};
        int64_t z[3][3];
        int in[3][3];
        for (int a = 0; a < 3; ++a) {
            for (int j = 0; j < 3; ++j) {
                z[a][j] = w->s[a] * (2 * t[a] + j) + v[a] - w->crop[a];
                in[a][j] = z[a][j] >= 0 && z[a][j] < w->zlen[a];
            }
        }
        const void *pts[27];
        for (int q = 0; q < 27; ++q) {
            const int i = q / 9, j = q / 3 % 3, k = q % 3;
            pts[q] = in[0][i] && in[1][j] && in[2][k]
                         ? ctx->dz + n * fwd->ys.n + z[0][i] * fwd->ys.d + z[1][j] * fwd->ys.h +
                               z[2][k] * fwd->ys.w
                         : NULL;
        }
        fwd->kernel->wino_in[0](pts, w->cout, w->z + (cls * 27 * w->total + g) * w->zrow,
                                (ptrdiff_t)(w->total * w->zrow));
    }
}

static void transform_job(void *opaque, size_t thread, size_t threads) {
    const wgw_ctx_t *ctx = opaque;
    const int64_t first = cpu_share_start(ctx->w->total, (int64_t)thread, (int64_t)threads);
    const int64_t end = cpu_share_start(ctx->w->total, (int64_t)thread + 1, (int64_t)threads);
    for (int64_t g = first; g < end; ++g) {
        transform_tile(ctx, g);
    }
}

/* M_vp for the (v, p) pairs of this thread: the backward weights tiles over
 * a box of every tile of the batch, a block of dW's input channels by a
 * chunk of its output channels at a time. */
static void gemm_job(void *opaque, size_t thread, size_t threads) {
    const wgw_ctx_t *ctx = opaque;
    const cpu_wino_wgrad_t *w = ctx->w;
    const cpu_kernel_t *kern = ctx->fwd->kernel;
    const int64_t vl = kern->vl;
    const int64_t first = cpu_share_start(w->classes * 27, (int64_t)thread, (int64_t)threads);
    const int64_t end = cpu_share_start(w->classes * 27, (int64_t)thread + 1, (int64_t)threads);
    cpu_wgrad_args_t args;
    memset(&args, 0, sizeof(args));
    args.a_step[2] = (ptrdiff_t)w->cin;
    args.b_step[2] = (ptrdiff_t)w->zrow;
    args.count[0] = args.count[1] = 1;
    args.count[2] = w->total;
    args.acc_stride = (ptrdiff_t)w->mrow;
    args.nt = 1;
    for (int64_t vp = first; vp < end; ++vp) {
        const int64_t p = vp % 27;
        float *m = w->m + vp * w->cin * w->mrow;
        memset(m, 0, (size_t)(w->cin * w->mrow) * sizeof(float));
        for (int64_t co = 0; co < w->cout; co += (int64_t)kern->nv_max * vl) {
            const int64_t left = w->cout - co;
            const int nv = (int)(left < kern->nv_max * vl ? (left + vl - 1) / vl : kern->nv_max);
            const int64_t nm_max = kern->np_max[nv];
            args.nv = nv;
            args.tail =
                (int)(left - (int64_t)(nv - 1) * vl < vl ? left - (int64_t)(nv - 1) * vl : vl);
            args.b = w->z + vp * w->total * w->zrow + co;
            for (int64_t ci = 0; ci < w->cin; ci += nm_max) {
                args.nm = (int)(w->cin - ci < nm_max ? w->cin - ci : nm_max);
                args.a = w->x + p * w->total * w->cin + ci;
                args.acc = m + ci * w->mrow + co;
                kern->wgrad(&args);
            }
        }
    }
}

/* A^T of M_v's 27 points into its 8 taps, for the (v, ci) pairs of this
 * thread, written in the kernel's layout. */
static void taps_job(void *opaque, size_t thread, size_t threads) {
    const wgw_ctx_t *ctx = opaque;
    const cpu_plan_t *fwd = ctx->fwd;
    const tconv_canonical_t *p = &fwd->p;
    const cpu_wino_wgrad_t *w = ctx->w;
    float *buf = w->taps + (int64_t)thread * 8 * w->zrow;
    void *out[8];
    for (int q = 0; q < 8; ++q) {
        out[q] = buf + q * w->zrow;
    }
    const int64_t first = cpu_share_start(w->classes * w->cin, (int64_t)thread, (int64_t)threads);
    const int64_t end = cpu_share_start(w->classes * w->cin, (int64_t)thread + 1, (int64_t)threads);
    for (int64_t vc = first; vc < end; ++vc) {
        const int64_t cls = vc / w->cin, ci = vc % w->cin;
        const int64_t v[3] = {cls / (w->s[1] * w->s[2]), cls / w->s[2] % w->s[1], cls % w->s[2]};
        fwd->kernel->wino_out[0](w->m + (cls * 27 * w->cin + ci) * w->mrow,
                                 (ptrdiff_t)(w->cin * w->mrow), w->cout, NULL, out);
        for (int q = 0; q < 8;
             ++q) { /* tap s*u + v on each axis, u = (q >> 2, q >> 1 & 1, q & 1) */
            const int64_t td = w->s[0] * (q >> 2) + v[0], th = w->s[1] * ((q >> 1) & 1) + v[1];
            const int64_t tw = w->s[2] * (q & 1) + v[2];
            const int64_t tap = (td * p->kernel_size[1] + th) * p->kernel_size[2] + tw;
            for (int64_t co = 0; co < w->cout; ++co) {
                ctx->dw[cpu_kernel_element(p, fwd->taps, tap, ci, co)] = buf[q * w->zrow + co];
            }
        }
    }
}

void cpu_wino_wgrad_execute(const cpu_plan_t *fwd, const cpu_wino_wgrad_t *w, const void *input,
                            const void *grad_output, void *grad_kernel) {
    wgw_ctx_t ctx = {fwd, w, input, grad_output, grad_kernel};
    cpu_thread_pool_run(fwd->pool, transform_job, &ctx);
    cpu_thread_pool_run(fwd->pool, gemm_job, &ctx);
    cpu_thread_pool_run(fwd->pool, taps_job, &ctx);
}

int cpu_wino_wgrad_describe(const cpu_wino_wgrad_t *w, char *buf, size_t size) {
    return snprintf(buf, size,
                    "backward weights: Winograd F(2,2) per axis, %lld classes x 27 GEMMs over "
                    "%lld tiles",
                    (long long)w->classes, (long long)w->total);
}

void cpu_wino_wgrad_destroy(cpu_wino_wgrad_t *w) {
    if (!w) {
        return;
    }
    free(w->x);
    free(w->z);
    free(w->m);
    free(w->taps);
    free(w);
}
