/* SPDX-License-Identifier: Apache-2.0 */
/* The backward data pass, and the forward pass of stride-1 layers, by
 * Winograd's minimal filtering F(2, r) per axis (float32, channels_last, one
 * group), for layers whose direct passes run at the FMA ceiling for tconv and
 * oneDNN alike: the suite's gan_g3 and gan_g5 (backward data; k 4, s 2:
 * r = 2) and dilated_k3d2 (both passes; k 3, d 2, s 1: r = 3).
 *
 * The forward pass of a stride-1 layer is the backward data pass's shape
 * with the roles swapped: y[o] = sum over t of x[o + t*d - c'] * w[k-1-t],
 * c' = (k - 1) d - c, the taps reversed; bias and activation follow A^T.
 *
 * Per axis, dx[i] = sum over t of dz[s*i + t*d - c] * w[t] (c: the begin
 * crop). Two shapes reduce to stride-1 correlations with r taps, r = 2 or 3
 * (the same r on every axis):
 *   - d = 1, k = r*s: with t = s*u + v (class v < s, u < r), per class the
 *     correlation of dz_v[j] = dz[s*j + v - c] with g_v[u] = w[s*u + v];
 *     the classes are summed;
 *   - s = 1, k = r, any d: dx points i = d*q + pi of one parity pi < d are
 *     the correlation of dz_pi[j] = dz[d*j + pi - c] with the taps.
 * Both: dx point d*(2T + o) + pi (o < 2) of tile (pi, T) reads dz points
 * s*d*(2T + j) + s*pi + v - c, j < r + 1. F(2, r) computes the tile's two
 * outputs with r + 1 products instead of 2r:
 *     r = 2: V = B^T d = (d0 - d1, d1, d2 - d1), U = G g = (g0, g0 + g1, g1),
 *            y = A^T m = (m0 + m1, m1 + m2)
 *     r = 3: V = (d0 - d2, d1 + d2, d2 - d1, d1 - d3),
 *            U = (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2),
 *            y = (m0 + m1 + m2, m1 - m2 - m3)
 * (coefficients 0, +-1, +-1/2: exact in binary). In 3-D a tile of 2 x 2 x 2 dx
 * points takes (r+1)^3 products per (class, dz channel, dx channel) instead
 * of 8 r^3: 27 for 64 (r = 2), 64 for 216 (r = 3). For each transform point
 * p, the tiles' V_p (tiles x K, K = classes x Cout, the classes summed in
 * the transform domain) times U_p (K x Cin) is a GEMM, run by the forward
 * register tiles (one tap of K channels); then A^T turns each tile's sums
 * into its 8 dx points. The transforms work a vector of channels at a time
 * (cpu_kernel_winograd_template.h).
 *
 * One dz channel (the suite's gan_g5: Cout 1, k 4, s 2): K is the 8 classes
 * only, too short a GEMM to repay M's trip through memory (0.35x measured).
 * The fused pass instead keeps each tile's 27 sums in registers: V is a
 * tile's 6 x 6 x 6 block of dz scalars transformed in place (point e of an
 * axis is class e % 2's point e / 2), and per vector of dx channels the
 * kernel's wino_fused runs the 8 x 27 products of two tiles at a time
 * against each weight vector loaded, then A^T and the stores (non-temporal
 * for a dx larger than the last-level cache). 27 x 8 products per tile
 * instead of 64 x 8. Its blocks are up to 16 consecutive tiles along W, a
 * vector lane each: the transform splits each dz row into its 4 phases
 * (point 4 i + k of tile i) with a few shuffles for all 16 tiles at once,
 * and the products run D slice by D slice over the block, so that the
 * slice's U and V lines stay in L1.
 *
 * Work: blocks of up to `block` consecutive tiles of one sample (tiles in
 * D, H, W order; fused: of one row along W), a contiguous range of the
 * batch's blocks per thread; each thread transforms its block's dz into its
 * scratch V, runs the GEMMs into its scratch M and writes the block's dx.
 * A tile's dx depends only on the problem, never on the thread count
 * (bit-identical for any). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_winograd.h"

#include "common/activation_eval.h"
#include "cpu_backward.h"

/* Most transform points per axis (F(2, 3): 4) and per tile. */
#define WMAX  4
#define WMAX3 64
/* Bytes of V_p (one transform point's tiles x K) and of M (every transform
 * point's sums of a block) a block aims at: V_p stays in L2 while the GEMM
 * reads it once per channel chunk, M while A^T reads it back. */
#define V_BYTES (256.0 * 1024)
#define M_BYTES (1024.0 * 1024)
struct cpu_wino {
    int r, alpha;       /* taps per class and axis; transform points per axis (r + 1) */
    int64_t npts;       /* transform points per tile: alpha^3 */
    int forward;        /* 1: the forward pass (stride 1), 0: backward data */
    int64_t s[3], d[3]; /* strides (classes) and dilations (parities) */
    /* The tensor read (dz; forward: x) and the one written (dx; forward: y):
     * strides, lengths, channels; the read tensor's begin crop (forward:
     * (k - 1) d - c, the taps reversed). */
    cpu_strides_t in_s, out_s;
    int64_t in_len[3], out_len[3], in_ch, out_ch, crop[3];
    tconv_activation_t act; /* forward: applied after the bias */
    double act_alpha;
    float *bias;       /* forward with a bias: cpad elements, else NULL */
    int64_t half[3];   /* tiles per parity and axis: ceil(ceil(L / d) / 2) */
    int64_t ntiles[3]; /* tiles per axis: d * half */
    int64_t tiles;     /* per sample */
    int64_t classes;   /* s_d * s_h * s_w */
    int64_t k;         /* GEMM depth: classes * Cout */
    int64_t cin, cpad; /* dx channels, rounded up to whole chunks */
    int64_t chunkw;    /* channels per chunk: nv_max * VL (fused: VL) */
    int64_t nchunk;
    int fused;          /* one dz channel: M in registers (the kernel's wino_fused) */
    int stream;         /* fused: dx by non-temporal stores (cpu_choose_streaming) */
    int64_t block;      /* tiles per block (fused: along W, of one row of tiles) */
    int64_t wblocks;    /* fused: blocks per row of tiles along W */
    int64_t per_sample; /* blocks per sample */
    int64_t batch;      /* the batch the thread split is for */
    float *u;           /* [npts][nchunk][k][chunkw]; fused: [cpad / VL][tile block][VL] */
    float *scratch;     /* per thread: V [npts][block][k], then M [npts][block][cpad];
                           fused: V [CPU_WINO_FUSED_TILE][CPU_WINO_FUSED_BLOCK] */
    size_t scratch_elems;
    int64_t u_elems;
    float *zeros;          /* chunkw zeros: the tiles' bias (not fused) */
    int64_t *thread_first; /* thread t: the batch's blocks [first[t], first[t+1]) */
};

/* Taps per class of axis a (2 or 3), or 0 when the axis has neither shape. */
static int axis_taps(const tconv_canonical_t *p, int a) {
    const int64_t k = p->kernel_size[a], s = p->strides[a], d = p->dilation[a];
    if (d == 1 && (k == 2 * s || k == 3 * s)) {
        return (int)(k / s);
    }
    if (s == 1 && (k == 2 || k == 3)) {
        return (int)k;
    }
    return 0;
}

int cpu_wino_enabled(void) {
    const char *env = getenv("TCONV_CPU_WINOGRAD");
    return !env || strcmp(env, "0") != 0;
}

/* What both passes need: float32 channels_last, one group, the same r on
 * every axis; TCONV_CPU_WINOGRAD=0 turns both off. */
static int wino_fits(const cpu_plan_t *fwd) {
    const tconv_canonical_t *p = &fwd->p;
    if (!cpu_wino_enabled()) {
        return 0;
    }
    if (p->groups != 1 || p->data_format != tconv_channels_last || p->dtype != tconv_f32) {
        return 0;
    }
    const int r = axis_taps(p, 0);
    return r && axis_taps(p, 1) == r && axis_taps(p, 2) == r;
}

/* Backward data with one dz channel (the suite's gan_g5: Cout 1) and kernel
 * 4, stride 2, dilation 1 on every axis (F(2, 2) on 6-point blocks): the
 * GEMMs' depth, the classes, is too short to repay a trip of M through
 * memory (0.35x measured), so the sums stay in registers. */
static int wino_is_fused(const cpu_plan_t *fwd, int forward) {
    const tconv_canonical_t *p = &fwd->p;
    int k4s2 = 1;
    for (int a = 0; a < 3; ++a) {
        k4s2 &= p->kernel_size[a] == 4 && p->strides[a] == 2 && p->dilation[a] == 1;
    }
    return !forward && fwd->cout_g == 1 && k4s2;
}

int cpu_wino_fits(const cpu_plan_t *fwd, int forward) {
    /* A vector of the written tensor's channels; and of the read tensor's,
     * which the input transforms work a vector at a time, unless fused. */
    const int64_t vl = fwd->kernel->vl;
    const int64_t read = forward ? fwd->cin_g : fwd->cout_g;
    const int64_t written = forward ? fwd->cout_g : fwd->cin_g;
    if (!wino_fits(fwd) || written < vl || (read < vl && !wino_is_fused(fwd, forward))) {
        return 0;
    }
    for (int a = 0; a < 3 && forward; ++a) {
        if (fwd->p.strides[a] != 1) {
            return 0;
        }
    }
    return 1;
}

static void split_blocks(cpu_wino_t *w, size_t nthreads) {
    const int64_t n = w->batch * w->per_sample;
    for (size_t t = 0; t <= nthreads; ++t) {
        w->thread_first[t] = cpu_share_start(n, (int64_t)t, (int64_t)nthreads);
    }
}

/* a * b, or INT64_MAX when it overflows (an allocation then refuses it). */
static int64_t mul_or_max(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

tconv_status_t cpu_wino_create(const cpu_plan_t *fwd, int forward, cpu_wino_t **out, char *msg,
                               size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    const cpu_kernel_t *kern = fwd->kernel;
    *out = NULL;
    cpu_wino_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(msg, msg_size, "cpu plan: allocating the Winograd plan failed");
        return tconv_out_of_memory;
    }
    w->r = axis_taps(p, 0);
    w->alpha = w->r + 1;
    w->npts = (int64_t)w->alpha * w->alpha * w->alpha;
    w->classes = 1;
    w->tiles = 1;
    w->forward = forward;
    w->in_s = forward ? fwd->xs : fwd->ys;
    w->out_s = forward ? fwd->ys : fwd->xs;
    w->in_ch = forward ? p->in_channels : p->out_channels;
    w->out_ch = forward ? p->out_channels : p->in_channels;
    w->act = forward ? p->activation : tconv_activation_linear;
    w->act_alpha = p->activation_alpha;
    for (int a = 0; a < 3; ++a) {
        w->s[a] = p->strides[a];
        w->d[a] = p->dilation[a];
        w->in_len[a] = forward ? p->input_size[a] : p->output_size[a];
        w->out_len[a] = forward ? p->output_size[a] : p->input_size[a];
        w->crop[a] = forward ? (p->kernel_size[a] - 1) * p->dilation[a] - p->crop_begin[a]
                             : p->crop_begin[a];
        w->half[a] = ((w->out_len[a] + w->d[a] - 1) / w->d[a] + 1) / 2;
        w->ntiles[a] = w->d[a] * w->half[a];
        w->classes *= w->s[a];
        w->tiles = mul_or_max(w->tiles, w->ntiles[a]);
    }
    w->k = mul_or_max(w->classes, w->in_ch);
    w->cin = w->out_ch;
    w->fused = wino_is_fused(fwd, forward);
    w->chunkw = w->fused ? kern->vl : (int64_t)kern->nv_max * kern->vl;
    w->nchunk = (w->cin + w->chunkw - 1) / w->chunkw;
    w->cpad = w->nchunk * w->chunkw;
    if (w->fused) { /* V of a block and a vector's U (18 KB each) near L1 */
        w->block = w->ntiles[2] < CPU_WINO_FUSED_BLOCK ? w->ntiles[2] : CPU_WINO_FUSED_BLOCK;
        w->wblocks = (w->ntiles[2] + w->block - 1) / w->block;
        w->stream = cpu_choose_streaming((size_t)w->out_s.w * sizeof(float),
                                         (double)p->batch * (double)w->out_s.n * sizeof(float));
    } else { /* as many tiles as keep V_p and M near their budgets, whole
              * register tiles of points, at least one */
        const int64_t np = kern->np_max[kern->nv_max];
        double b = V_BYTES / ((double)w->k * sizeof(float));
        const double bm = M_BYTES / ((double)w->npts * (double)w->cpad * sizeof(float));
        b = bm < b ? bm : b;
        b = b > (double)w->tiles ? (double)w->tiles : b;
        w->block = (int64_t)b / np * np;
        w->block = w->block < np ? (w->tiles < np ? w->tiles : np) : w->block;
    }
    w->per_sample = w->fused ? mul_or_max(w->ntiles[0] * w->ntiles[1], w->wblocks)
                             : (w->tiles + w->block - 1) / w->block;
    w->batch = p->batch;
    const int64_t scratch =
        w->fused ? CPU_WINO_FUSED_TILE * CPU_WINO_FUSED_BLOCK
                 : mul_or_max(mul_or_max(w->npts, w->block),
                              w->k > INT64_MAX - w->cpad ? INT64_MAX : w->k + w->cpad);
    w->scratch_elems = (size_t)scratch;
    w->u_elems = w->fused ? w->nchunk * CPU_WINO_FUSED_TILE * w->chunkw
                          : mul_or_max(mul_or_max(w->npts * w->nchunk, w->k), w->chunkw);
    tconv_status_t st = cpu_plan_alloc_table((void **)&w->u, w->u_elems, sizeof(float), 1,
                                             "the Winograd weights", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->scratch, mul_or_max(scratch, (int64_t)fwd->nthreads),
                                  sizeof(float), 1, "the Winograd scratch", msg, msg_size);
    }
    if (st == tconv_success && !w->fused) {
        st = cpu_plan_alloc_table((void **)&w->zeros, w->chunkw, sizeof(float), 1,
                                  "the Winograd zero bias", msg, msg_size);
    }
    if (st == tconv_success && forward && p->use_bias) {
        st = cpu_plan_alloc_table((void **)&w->bias, w->cpad, sizeof(float), 1, "the Winograd bias",
                                  msg, msg_size);
    }
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&w->thread_first, (int64_t)fwd->nthreads + 1,
                                  sizeof(int64_t), 0, "the Winograd thread table", msg, msg_size);
    }
    if (st != tconv_success) {
        cpu_wino_destroy(w);
        return st;
    }
    if (w->zeros) {
        memset(w->zeros, 0, (size_t)w->chunkw * sizeof(float));
    }
    split_blocks(w, fwd->nthreads);
    *out = w;
    return tconv_success;
}

void cpu_wino_set_batch(cpu_wino_t *w, const cpu_plan_t *fwd, int64_t batch) {
    w->batch = batch;
    split_blocks(w, fwd->nthreads);
}

/* Row `row` of G applied to the r taps g: r = 2: (g0, g0 + g1, g1);
 * r = 3: (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2). */
static float g_row(int r, int row, const float *g) {
    if (r == 2) {
        return row == 0 ? g[0] : row == 1 ? g[0] + g[1] : g[1];
    }
    switch (row) {
    case 0:
        return g[0];
    case 1:
        return (g[0] + g[1] + g[2]) * 0.5f;
    case 2:
        return (g[0] - g[1] + g[2]) * 0.5f;
    default:
        return g[2];
    }
}

void cpu_wino_set_weights(cpu_wino_t *w, const cpu_plan_t *fwd, const void *kernel,
                          const void *bias) {
    const tconv_canonical_t *p = &fwd->p;
    const float *kw = (const float *)kernel;
    const int64_t cout = w->in_ch; /* channels per class of the GEMM's depth */
    if (w->bias) {
        memset(w->bias, 0, (size_t)w->cpad * sizeof(float));
        memcpy(w->bias, bias, (size_t)w->out_ch * sizeof(float));
    }
    const int r = w->r, al = w->alpha;
    memset(w->u, 0, (size_t)w->u_elems * sizeof(float));
    for (int64_t cls = 0; cls < w->classes; ++cls) {
        const int64_t v[3] = {cls / (w->s[1] * w->s[2]), cls / w->s[2] % w->s[1], cls % w->s[2]};
        for (int64_t co = 0; co < cout; ++co) {
            const int64_t row = cls * cout + co;
            for (int64_t ci = 0; ci < w->cin; ++ci) {
                float g[3][3][3];
                for (int ud = 0; ud < r; ++ud) {
                    for (int uh = 0; uh < r; ++uh) {
                        for (int uw = 0; uw < r; ++uw) {
                            int64_t t[3] = {w->s[0] * ud + v[0], w->s[1] * uh + v[1],
                                            w->s[2] * uw + v[2]};
                            for (int a = 0; a < 3 && w->forward; ++a) {
                                t[a] = p->kernel_size[a] - 1 - t[a]; /* reversed */
                            }
                            const int64_t tap =
                                (t[0] * p->kernel_size[1] + t[1]) * p->kernel_size[2] + t[2];
                            /* w[input channel][output channel][tap] of the problem */
                            g[ud][uh][uw] =
                                kw[w->forward ? cpu_kernel_element(p, fwd->taps, tap, co, ci)
                                              : cpu_kernel_element(p, fwd->taps, tap, ci, co)];
                        }
                    }
                }
                const int64_t q = ci / w->chunkw;
                for (int a = 0; a < al; ++a) {
                    for (int b = 0; b < al; ++b) {
                        for (int c = 0; c < al; ++c) {
                            float gh[3];
                            for (int ud = 0; ud < r; ++ud) {
                                float gw[3];
                                for (int uh = 0; uh < r; ++uh) {
                                    gw[uh] = g_row(r, c, g[ud][uh]);
                                }
                                gh[ud] = g_row(r, b, gw);
                            }
                            const int64_t pt = (a * al + b) * al + c;
                            /* fused: the point's position in the tile's 6 x 6 x 6 block */
                            const int64_t pos =
                                ((2 * a + v[0]) * 6 + 2 * b + v[1]) * 8 + 2 * c + v[2];
                            const int64_t at =
                                w->fused
                                    ? (q * CPU_WINO_FUSED_TILE + pos) * w->chunkw + ci % w->chunkw
                                    : ((pt * w->nchunk + q) * w->k + row) * w->chunkw +
                                          ci % w->chunkw;
                            w->u[at] = g_row(r, a, gh);
                        }
                    }
                }
            }
        }
    }
}

/* The alpha^3 dz points of class cls of tile t of sample n: s*d*(2T + j) +
 * s*pi + v - c on each axis for the tile's (parity pi, index T); NULL for
 * points outside dz (zeros). */
static void tile_points(const cpu_wino_t *w, const float *dz, int64_t n, const int64_t t[3],
                        int64_t cls, const void **pts) {
    const int al = w->alpha;
    const int64_t cv[3] = {cls / (w->s[1] * w->s[2]), cls / w->s[2] % w->s[1], cls % w->s[2]};
    int64_t z[3][WMAX];
    int in[3][WMAX];
    for (int a = 0; a < 3; ++a) {
        const int64_t pi = t[a] / w->half[a], tt = t[a] % w->half[a];
        for (int j = 0; j < al; ++j) {
            z[a][j] = w->s[a] * (w->d[a] * (2 * tt + j) + pi) + cv[a] - w->crop[a];
            in[a][j] = z[a][j] >= 0 && z[a][j] < w->in_len[a];
        }
    }
    for (int i = 0; i < al; ++i) {
        for (int j = 0; j < al; ++j) {
            for (int k = 0; k < al; ++k) {
                pts[(i * al + j) * al + k] = in[0][i] && in[1][j] && in[2][k]
                                                 ? dz + n * w->in_s.n + z[0][i] * w->in_s.d +
                                                       z[1][j] * w->in_s.h + z[2][k] * w->in_s.w
                                                 : NULL;
            }
        }
    }
}

/* V of tile t of sample n into v[q * vstride + class * Cout + co]: per
 * class, its points transformed by the kernel's wino_in. */
static void input_transform(const cpu_wino_t *w, const cpu_plan_t *fwd, const float *dz, int64_t n,
                            const int64_t t[3], float *v, int64_t vstride) {
    for (int64_t cls = 0; cls < w->classes; ++cls) {
        const void *pts[WMAX3];
        tile_points(w, dz, n, t, cls, pts);
        fwd->kernel->wino_in[w->r - 2](pts, w->in_ch, v + cls * w->in_ch, (ptrdiff_t)vstride);
    }
}

/* A block of the fused pass: up to CPU_WINO_FUSED_BLOCK consecutive tiles
 * (td, th, tw0 + i), i < count, along W of one row of sample n. */
typedef struct fused_block {
    int64_t n, td, th, tw0;
    int count;
} fused_block_t;

static fused_block_t fused_block(const cpu_wino_t *w, int64_t blk) {
    fused_block_t b;
    const int64_t row = blk % w->per_sample / w->wblocks;
    b.n = blk / w->per_sample;
    b.td = row / w->ntiles[1];
    b.th = row % w->ntiles[1];
    b.tw0 = blk % w->wblocks * w->block;
    b.count = (int)(w->ntiles[2] - b.tw0 < w->block ? w->ntiles[2] - b.tw0 : w->block);
    return b;
}

/* The dz rows a block reads: rows[d * 6 + h] at D, H 4T - c + d, 4T - c + h
 * (NULL outside dz), each at its W point 0. dz's one channel makes a row's
 * points contiguous. */
static void fused_rows(const cpu_wino_t *w, const float *dz, const fused_block_t *b,
                       const void **rows) {
    const int64_t zd0 = 4 * b->td - w->crop[0], zh0 = 4 * b->th - w->crop[1];
    for (int r = 0; r < 36; ++r) {
        const int64_t zd = zd0 + r / 6, zh = zh0 + r % 6;
        rows[r] = zd >= 0 && zd < w->in_len[0] && zh >= 0 && zh < w->in_len[1]
                      ? dz + b->n * w->in_s.n + zd * w->in_s.d + zh * w->in_s.h
                      : NULL;
    }
}

/* The fused pass's V of block b (one dz channel; k 4, s 2 on every axis):
 * tile i a lane of v[pos * CPU_WINO_FUSED_BLOCK + i], pos = (d * 6 + h) * 8
 * + w. Tile T reads the 6 x 6 x 6 block of dz points 4T - c + e, e < 6, on
 * each axis: point e is tap-class e % 2's point e / 2 there, so B^T along
 * an axis is (e0 - e2, e1 - e3, e2, e3, e4 - e2, e5 - e3) on the block (the
 * kernel's wino_fused_in). */
static void input_transform_fused(const cpu_wino_t *w, const cpu_plan_t *fwd, const float *dz,
                                  const float *dz_end, const fused_block_t *b, float *v) {
    const void *rows[36];
    fused_rows(w, dz, b, rows);
    fwd->kernel->wino_fused_in(rows, 4 * b->tw0 - w->crop[2], w->in_len[2], b->count, dz, dz_end,
                               v);
}

/* The 8 points of the written tensor (dx; forward: y) of tile t of sample
 * n: d*(2T + o) + pi on each axis, NULL past the tensor's end. */
static void tile_outputs(const cpu_wino_t *w, float *dx, int64_t n, const int64_t t[3], void **o) {
    int64_t x[3][2];
    for (int a = 0; a < 3; ++a) {
        const int64_t pi = t[a] / w->half[a], tt = t[a] % w->half[a];
        for (int j = 0; j < 2; ++j) {
            x[a][j] = w->d[a] * (2 * tt + j) + pi;
        }
    }
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
            for (int k = 0; k < 2; ++k) {
                o[(i * 2 + j) * 2 + k] =
                    x[0][i] < w->out_len[0] && x[1][j] < w->out_len[1] && x[2][k] < w->out_len[2]
                        ? dx + n * w->out_s.n + x[0][i] * w->out_s.d + x[1][j] * w->out_s.h +
                              x[2][k] * w->out_s.w
                        : NULL;
            }
        }
    }
}

/* The tile's written points from its sums m[q * mstride + ci] (the
 * kernel's wino_out, with the bias). The forward pass's activation follows
 * (ReLU and the others alike). */
static void output_transform(const cpu_wino_t *w, const cpu_plan_t *fwd, float *dx, int64_t n,
                             const int64_t t[3], const float *m, int64_t mstride) {
    void *o[8];
    tile_outputs(w, dx, n, t, o);
    fwd->kernel->wino_out[w->r - 2](m, (ptrdiff_t)mstride, w->cin, w->bias, o);
    if (w->act != tconv_activation_linear) {
        for (int q = 0; q < 8; ++q) {
            if (o[q]) {
                activation_forward_f32((float *)o[q], (size_t)w->cin, w->act, w->act_alpha);
            }
        }
    }
}

typedef struct wino_ctx {
    const cpu_plan_t *fwd;
    const cpu_wino_t *w;
    const float *dz;
    float *dx;
    const float *dz_end; /* past the read tensor's last element */
} wino_ctx_t;

/* Tile index -> (td, th, tw). */
static void tile_axes(const cpu_wino_t *w, int64_t tile, int64_t t[3]) {
    t[2] = tile % w->ntiles[2];
    t[1] = tile / w->ntiles[2] % w->ntiles[1];
    t[0] = tile / (w->ntiles[2] * w->ntiles[1]);
}

/* The dx channels of chunk q (chunkw but for the last). */
static int chunk_lanes(const cpu_wino_t *w, int64_t q) {
    const int64_t left = w->cin - q * w->chunkw;
    return (int)(left < w->chunkw ? left : w->chunkw);
}

/* The fused pass's block `blk` of the batch: its V, then per vector of dx
 * channels (its U in L1) every tile's sums, A^T and stores
 * (cpu_wino_fused_fn). */
static void run_block_fused(const wino_ctx_t *ctx, int64_t blk, float *v) {
    const cpu_wino_t *w = ctx->w;
    const fused_block_t b = fused_block(w, blk);
    void *out[CPU_WINO_FUSED_BLOCK * 8];
    input_transform_fused(w, ctx->fwd, ctx->dz, ctx->dz_end, &b, v);
    for (int i = 0; i < b.count; ++i) {
        const int64_t t[3] = {b.td, b.th, b.tw0 + i};
        tile_outputs(w, ctx->dx, b.n, t, out + i * 8);
    }
    const cpu_kernel_t *kern = ctx->fwd->kernel;
    for (int64_t q = 0; q < w->nchunk;) {
        const int64_t c = q * w->chunkw;
        const float *u = w->u + q * CPU_WINO_FUSED_TILE * w->chunkw;
        if (kern->wino_fused2 && q + 1 < w->nchunk) { /* two vectors: fewer loads per FMA */
            kern->wino_fused2(v, b.count, u, out, c, chunk_lanes(w, q), chunk_lanes(w, q + 1),
                              w->stream);
            q += 2;
        } else {
            kern->wino_fused(v, b.count, u, out, c, chunk_lanes(w, q), w->stream);
            q += 1;
        }
    }
}

static void run_block(const wino_ctx_t *ctx, int64_t blk, float *v, float *m) {
    const cpu_plan_t *fwd = ctx->fwd;
    const cpu_wino_t *w = ctx->w;
    const cpu_kernel_t *kern = fwd->kernel;
    if (w->fused) {
        run_block_fused(ctx, blk, v);
        return;
    }
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
    for (int64_t pt = 0; pt < w->npts; ++pt) {
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
    float *m = v + w->npts * w->block * w->k;
    for (int64_t b = w->thread_first[thread]; b < w->thread_first[thread + 1]; ++b) {
        run_block(ctx, b, v, m);
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence(); /* non-temporal stores are visible before the pool's join */
#endif
}

void cpu_wino_execute(const cpu_plan_t *fwd, const cpu_wino_t *w, const void *in, void *out) {
    const float *dz = in;
    const int64_t last = (w->batch - 1) * w->in_s.n + (w->in_len[0] - 1) * w->in_s.d +
                         (w->in_len[1] - 1) * w->in_s.h + (w->in_len[2] - 1) * w->in_s.w;
    wino_ctx_t ctx = {fwd, w, dz, out, dz + last + w->in_ch};
    cpu_thread_pool_run(fwd->pool, wino_job, &ctx);
}

int cpu_wino_describe(const cpu_wino_t *w, char *buf, size_t size) {
    return snprintf(buf, size,
                    "%s: Winograd F(2,%d) per axis, %lld classes x %lld channels = K %lld%s, "
                    "%lld tiles per sample in blocks of %lld%s",
                    w->forward ? "forward" : "backward data", w->r, (long long)w->classes,
                    (long long)w->in_ch, (long long)w->k, w->fused ? " (sums in registers)" : "",
                    (long long)w->tiles, (long long)w->block,
                    w->stream ? ", non-temporal dx stores" : "");
}

void cpu_wino_destroy(cpu_wino_t *w) {
    if (!w) {
        return;
    }
    free(w->u);
    free(w->scratch);
    free(w->zeros);
    free(w->bias);
    free(w->thread_first);
    free(w);
}
