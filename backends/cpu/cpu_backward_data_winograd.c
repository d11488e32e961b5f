/* SPDX-License-Identifier: Apache-2.0 */
/* The backward data pass by Winograd's minimal filtering, F(2, 2) per axis,
 * for layers whose kernel is twice the stride on every axis (dilation 1,
 * one group, channels_last, float32): the suite's gan_g3 and gan_g5 (k 4,
 * s 2), whose direct pass runs at the FMA ceiling for tconv and oneDNN alike.
 *
 * Per axis, dx[i] = sum over t < 2s of dz[s*i + t - c] * w[t] (c: the begin
 * crop). With t = s*u + v (class v < s, u in {0, 1}) that is, per class, the
 * stride-1 correlation of dz_v[j] = dz[s*j + v - c] with the two taps
 * g_v[u] = w[s*u + v]: dx[i] = sum over v of dz_v[i] g_v[0] + dz_v[i+1] g_v[1].
 * F(2, 2) computes two outputs of such a correlation from three inputs with
 * three products instead of four:
 *     V = B^T d: (d0 - d1, d1, d2 - d1)      U = G g: (g0, g0 + g1, g1)
 *     y = A^T (U V): (m0 + m1, m1 + m2)
 * (integer coefficients: no rounding beyond the sums'). In 3-D a tile of
 * 2 x 2 x 2 dx points takes 27 products per (class, dz channel, dx channel)
 * instead of 64: for each of the 27 transform points p, the tiles' V_p
 * (tiles x K, K = s^3 classes x Cout, the classes summed in the transform
 * domain) times U_p (K x Cin) is a GEMM, run by the forward register tiles
 * (one tap of K channels); then A^T turns each tile's 27 sums into its 8 dx
 * points. 2.4x fewer multiplications on gan_g3 and gan_g5.
 *
 * Work: blocks of up to `block` consecutive tiles of one sample (tiles in
 * D, H, W order), a contiguous range of the batch's blocks per thread; each
 * thread transforms its block's dz into its scratch V, runs the 27 GEMMs
 * into its scratch M and writes the block's dx. A tile's dx depends only on
 * the problem, never on the thread count (bit-identical for any). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backward.h"

/* Transform points per axis (F(2, 2): 3) and per tile (27). */
#define WT  3
#define WT3 27
/* Bytes of V_p (one transform point's tiles x K) and of M (every transform
 * point's sums of a block) a block aims at: V_p stays in L2 while the GEMM
 * reads it once per channel chunk, M while A^T reads it back. */
#define V_BYTES (256.0 * 1024)
#define M_BYTES (1024.0 * 1024)

struct cpu_wino {
    int64_t s[3];      /* strides */
    int64_t ntiles[3]; /* tiles per axis: ceil(dx length / 2) */
    int64_t tiles;     /* per sample */
    int64_t classes;   /* s_d * s_h * s_w */
    int64_t k;         /* GEMM depth: classes * Cout */
    int64_t cin, cpad; /* dx channels, rounded up to whole chunks */
    int64_t chunkw;    /* channels per chunk: nv_max * VL */
    int64_t nchunk;
    int64_t block;      /* tiles per block */
    int64_t per_sample; /* blocks per sample */
    int64_t batch;      /* the batch the thread split is for */
    float *u;           /* [27][nchunk][k][chunkw] */
    float *scratch;     /* per thread: V [27][block][k], then M [27][block][cpad] */
    size_t scratch_elems;
    float *zeros;          /* chunkw zeros: the tiles' bias */
    int64_t *thread_first; /* thread t: the batch's blocks [first[t], first[t+1]) */
};

int cpu_wino_fits(const cpu_plan_t *fwd) {
    const tconv_canonical_t *p = &fwd->p;
    const char *env = getenv("TCONV_CPU_WINOGRAD");
    if (env && !strcmp(env, "0")) {
        return 0;
    }
    /* Both channel counts fill vectors: the transforms work a vector of dz
     * channels at a time, and with one output channel (gan_g5: K = 8) the
     * GEMM's depth is too short to repay them (0.35x measured). */
    if (p->groups != 1 || p->data_format != tconv_channels_last || p->dtype != tconv_f32 ||
        fwd->cin_g < fwd->kernel->vl || fwd->cout_g < fwd->kernel->vl) {
        return 0;
    }
    for (int a = 0; a < 3; ++a) {
        if (p->dilation[a] != 1 || p->kernel_size[a] != 2 * p->strides[a]) {
            return 0;
        }
    }
    return 1;
}

static void split_blocks(cpu_wino_t *w, size_t nthreads) {
    const int64_t n = w->batch * w->per_sample;
    for (size_t t = 0; t <= nthreads; ++t) {
        w->thread_first[t] = (int64_t)((__int128)n * (int64_t)t / (int64_t)nthreads);
    }
}

tconv_status_t cpu_wino_create(const cpu_plan_t *fwd, cpu_wino_t **out, char *msg,
                               size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    const cpu_kernel_t *kern = fwd->kernel;
    *out = NULL;
    cpu_wino_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(msg, msg_size, "cpu plan: allocating the Winograd backward data plan failed");
        return tconv_out_of_memory;
    }
    w->classes = 1;
    w->tiles = 1;
    for (int a = 0; a < 3; ++a) {
        w->s[a] = p->strides[a];
        w->ntiles[a] = (p->input_size[a] + 1) / 2;
        w->classes *= w->s[a];
        w->tiles *= w->ntiles[a];
    }
    w->k = w->classes * p->out_channels;
    w->cin = p->in_channels;
    w->chunkw = (int64_t)kern->nv_max * kern->vl;
    w->nchunk = (w->cin + w->chunkw - 1) / w->chunkw;
    w->cpad = w->nchunk * w->chunkw;
    /* As many tiles as keep V_p and M near their budgets, whole register
     * tiles of points, at least one. */
    const int64_t np = kern->np_max[kern->nv_max];
    double b = V_BYTES / ((double)w->k * sizeof(float));
    const double bm = M_BYTES / ((double)WT3 * (double)w->cpad * sizeof(float));
    b = bm < b ? bm : b;
    b = b > (double)w->tiles ? (double)w->tiles : b;
    w->block = (int64_t)b / np * np;
    w->block = w->block < np ? (w->tiles < np ? w->tiles : np) : w->block;
    w->per_sample = (w->tiles + w->block - 1) / w->block;
    w->batch = p->batch;
    w->scratch_elems = (size_t)(WT3 * w->block * (w->k + w->cpad));
    tconv_status_t st =
        cpu_plan_alloc_table((void **)&w->u, WT3 * w->nchunk * w->k * w->chunkw, sizeof(float), 1,
                             "the Winograd weights", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->scratch,
                                  (int64_t)w->scratch_elems * (int64_t)fwd->nthreads, sizeof(float),
                                  1, "the Winograd scratch", msg, msg_size);
    }
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->zeros, w->chunkw, sizeof(float), 1,
                                  "the Winograd bias", msg, msg_size);
    }
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->thread_first, (int64_t)fwd->nthreads + 1,
                                  sizeof(int64_t), 0, "the Winograd thread table", msg, msg_size);
    }
    if (st != tconv_success) {
        cpu_wino_destroy(w);
        return st;
    }
    memset(w->zeros, 0, (size_t)w->chunkw * sizeof(float));
    split_blocks(w, fwd->nthreads);
    *out = w;
    return tconv_success;
}

void cpu_wino_set_batch(cpu_wino_t *w, const cpu_plan_t *fwd, int64_t batch) {
    w->batch = batch;
    split_blocks(w, fwd->nthreads);
}

/* U_p = G g per axis, G rows (1, 0), (1, 1), (0, 1): g taps u = 0, 1. */
static float g_row(int r, float g0, float g1) {
    return r == 0 ? g0 : r == 1 ? g0 + g1 : g1;
}

void cpu_wino_set_weights(cpu_wino_t *w, const cpu_plan_t *fwd, const void *kernel) {
    const tconv_canonical_t *p = &fwd->p;
    const float *kw = (const float *)kernel;
    const int64_t cout = p->out_channels;
    memset(w->u, 0, (size_t)(WT3 * w->nchunk * w->k * w->chunkw) * sizeof(float));
    for (int64_t cls = 0; cls < w->classes; ++cls) {
        const int64_t v[3] = {cls / (w->s[1] * w->s[2]), cls / w->s[2] % w->s[1], cls % w->s[2]};
        for (int64_t co = 0; co < cout; ++co) {
            const int64_t row = cls * cout + co;
            for (int64_t ci = 0; ci < w->cin; ++ci) {
                float g[2][2][2];
                for (int ud = 0; ud < 2; ++ud) {
                    for (int uh = 0; uh < 2; ++uh) {
                        for (int uw = 0; uw < 2; ++uw) {
                            const int64_t tap = ((w->s[0] * ud + v[0]) * p->kernel_size[1] +
                                                 (w->s[1] * uh + v[1])) *
                                                    p->kernel_size[2] +
                                                w->s[2] * uw + v[2];
                            g[ud][uh][uw] = kw[cpu_kernel_element(p, fwd->taps, tap, ci, co)];
                        }
                    }
                }
                for (int a = 0; a < WT; ++a) {
                    for (int b = 0; b < WT; ++b) {
                        for (int c = 0; c < WT; ++c) {
                            float gw[2][2], gh[2];
                            for (int ud = 0; ud < 2; ++ud) {
                                for (int uh = 0; uh < 2; ++uh) {
                                    gw[ud][uh] = g_row(c, g[ud][uh][0], g[ud][uh][1]);
                                }
                                gh[ud] = g_row(b, gw[ud][0], gw[ud][1]);
                            }
                            const int64_t pt = (a * WT + b) * WT + c, q = ci / w->chunkw;
                            w->u[((pt * w->nchunk + q) * w->k + row) * w->chunkw + ci % w->chunkw] =
                                g_row(a, gh[0], gh[1]);
                        }
                    }
                }
            }
        }
    }
}

/* V of tile t of sample n into v[q * vstride + class * Cout + co]: per
 * class, the 3 x 3 x 3 dz points s*j + class - c (j = 2*t .. 2*t + 2 on each
 * axis; zeros outside dz), transformed by the kernel's wino_in. */
static void input_transform(const cpu_wino_t *w, const cpu_plan_t *fwd, const float *dz, int64_t n,
                            const int64_t t[3], float *v, int64_t vstride) {
    const tconv_canonical_t *p = &fwd->p;
    const int64_t cout = p->out_channels;
    for (int64_t cls = 0; cls < w->classes; ++cls) {
        const int64_t cv[3] = {cls / (w->s[1] * w->s[2]), cls / w->s[2] % w->s[1], cls % w->s[2]};
        int64_t z[3][WT];
        int in[3][WT];
        for (int a = 0; a < 3; ++a) {
            for (int j = 0; j < WT; ++j) {
                z[a][j] = w->s[a] * (2 * t[a] + j) + cv[a] - p->crop_begin[a];
                in[a][j] = z[a][j] >= 0 && z[a][j] < p->output_size[a];
            }
        }
        const void *pts[WT3];
        for (int i = 0; i < WT; ++i) {
            for (int j = 0; j < WT; ++j) {
                for (int k = 0; k < WT; ++k) {
                    pts[(i * WT + j) * WT + k] = in[0][i] && in[1][j] && in[2][k]
                                                     ? dz + n * fwd->ys.n + z[0][i] * fwd->ys.d +
                                                           z[1][j] * fwd->ys.h + z[2][k] * fwd->ys.w
                                                     : NULL;
                }
            }
        }
        fwd->kernel->wino_in(pts, cout, v + cls * cout, (ptrdiff_t)vstride);
    }
}

/* dx of tile t of sample n from its 27 sums m[q * mstride + ci] (the
 * kernel's wino_out); points past dx's end are dropped. */
static void output_transform(const cpu_wino_t *w, const cpu_plan_t *fwd, float *dx, int64_t n,
                             const int64_t t[3], const float *m, int64_t mstride) {
    const tconv_canonical_t *p = &fwd->p;
    int64_t lim[3];
    for (int a = 0; a < 3; ++a) {
        lim[a] = p->input_size[a] - 2 * t[a] < 2 ? p->input_size[a] - 2 * t[a] : 2;
    }
    void *o[8];
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
            for (int k = 0; k < 2; ++k) {
                o[(i * 2 + j) * 2 + k] = i < lim[0] && j < lim[1] && k < lim[2]
                                             ? dx + n * fwd->xs.n + (2 * t[0] + i) * fwd->xs.d +
                                                   (2 * t[1] + j) * fwd->xs.h +
                                                   (2 * t[2] + k) * fwd->xs.w
                                             : NULL;
            }
        }
    }
    fwd->kernel->wino_out(m, (ptrdiff_t)mstride, w->cin, o);
}

typedef struct wino_ctx {
    const cpu_plan_t *fwd;
    const cpu_wino_t *w;
    const float *dz;
    float *dx;
} wino_ctx_t;

/* Tile index -> (td, th, tw). */
static void tile_axes(const cpu_wino_t *w, int64_t tile, int64_t t[3]) {
    t[2] = tile % w->ntiles[2];
    t[1] = tile / w->ntiles[2] % w->ntiles[1];
    t[0] = tile / (w->ntiles[2] * w->ntiles[1]);
}

static void run_block(const wino_ctx_t *ctx, int64_t blk, float *v, float *m) {
    const cpu_plan_t *fwd = ctx->fwd;
    const cpu_wino_t *w = ctx->w;
    const cpu_kernel_t *kern = fwd->kernel;
    const int64_t n = blk / w->per_sample;
    const int64_t first = blk % w->per_sample * w->block;
    const int64_t count = first + w->block <= w->tiles ? w->block : w->tiles - first;
    for (int64_t i = 0; i < count; ++i) {
        int64_t t[3];
        tile_axes(w, first + i, t);
        input_transform(w, fwd, ctx->dz, n, t, v + i * w->k, w->block * w->k);
    }
    ptrdiff_t xoff[1] = {0}, woff[1] = {0}, xpoint[CPU_NP_MAX], ooff[CPU_NP_MAX];
    cpu_tile_args_t args;
    memset(&args, 0, sizeof(args));
    args.xoff = xoff;
    args.woff = woff;
    args.xpoint = xpoint;
    args.ooff = ooff;
    args.ntaps = 1;
    args.cin = w->k;
    args.x_cstride = 1;
    args.bias = w->zeros;
    for (int64_t pt = 0; pt < WT3; ++pt) {
        const float *vp = v + pt * w->block * w->k;
        float *mp = m + pt * w->block * w->cpad;
        for (int64_t q = 0; q < w->nchunk; ++q) {
            /* Whole chunks: the last one's padding channels have zero weights
             * and land in M's padding. */
            const int nv = kern->nv_max;
            const int64_t np_max = kern->np_max[nv];
            args.w = w->u + (pt * w->nchunk + q) * w->k * w->chunkw;
            args.nv = nv;
            args.nvalid = nv * kern->vl;
            for (int64_t i = 0; i < count; i += np_max) {
                const int np = (int)(count - i < np_max ? count - i : np_max);
                for (int j = 0; j < np; ++j) {
                    xpoint[j] = (ptrdiff_t)((i + j) * w->k);
                    ooff[j] = (ptrdiff_t)((i + j) * w->cpad);
                }
                args.np = np;
                args.x = vp;
                args.out = mp + q * w->chunkw;
                kern->tile(&args);
            }
        }
    }
    for (int64_t i = 0; i < count; ++i) {
        int64_t t[3];
        tile_axes(w, first + i, t);
        output_transform(w, fwd, ctx->dx, n, t, m + i * w->cpad, w->block * w->cpad);
    }
}

static void wino_job(void *arg, size_t thread, size_t threads) {
    (void)threads;
    const wino_ctx_t *ctx = arg;
    const cpu_wino_t *w = ctx->w;
    float *v = w->scratch + thread * w->scratch_elems;
    float *m = v + WT3 * w->block * w->k;
    for (int64_t b = w->thread_first[thread]; b < w->thread_first[thread + 1]; ++b) {
        run_block(ctx, b, v, m);
    }
}

void cpu_wino_execute(const cpu_plan_t *fwd, const cpu_wino_t *w, const void *grad_output,
                      void *grad_input) {
    wino_ctx_t ctx = {fwd, w, grad_output, grad_input};
    cpu_thread_pool_run(fwd->pool, wino_job, &ctx);
}

int cpu_wino_describe(const cpu_wino_t *w, char *buf, size_t size) {
    return snprintf(buf, size,
                    "backward data: Winograd F(2,2) per axis, %lld classes x Cout = K %lld, "
                    "%lld tiles per sample in blocks of %lld",
                    (long long)w->classes, (long long)w->k, (long long)w->tiles,
                    (long long)w->block);
}

void cpu_wino_destroy(cpu_wino_t *w) {
    if (!w) {
        return;
    }
    free(w->u);
    free(w->scratch);
    free(w->zeros);
    free(w->thread_first);
    free(w);
}
