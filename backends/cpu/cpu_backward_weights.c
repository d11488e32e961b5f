/* SPDX-License-Identifier: Apache-2.0 */
/* The backward weights pass:
 *     dw[ci, o, t] = sum over n, i of x[n, i, ci] * dz[n, i*s + t*d - c, o]
 *     db[o] = sum over n and output points of dz[n, ., o]
 * For one tap the points i it reaches form a box (per axis an interval), so
 * dw of the tap is a GEMM of x^T (Cin/G x points) with the tap's strided
 * view of dz (points x Cout/G), reduced over the points. Register tiles
 * (cpu_kernel_bwd_weights_template.h) hold nm x nv vectors of sums: the
 * vectors run over whichever of Cin/G and Cout/G fills them better (dz's
 * channels when tied), nm channels of the other are broadcast.
 *
 * Work: a unit is (group, vector chunk, tap, broadcast tile), a disjoint
 * block of dw. The input points are cut into blocks (sample, D planes,
 * H rows; about BLOCK_BYTES of x and dz) and the blocks into `nsplits`
 * contiguous splits. A piece is (split, unit); each thread takes a
 * contiguous, equal-cost range of pieces in (split, unit) order and, for
 * each block of a split, runs its units of that split over the block, so
 * the block stays in cache while every tap and channel tile reads it.
 * channels_first data is first transposed, block by block, into a
 * per-thread channels_last slab (only the channels the thread's units use).
 * channels_last: while the units run over a block, they prefetch the next
 * block's x and dz into L2, each unit a share, one line per point (the
 * tensors of the k = s layers are far larger than the L3 cache; 1.1-1.3x).
 *
 * Determinism: each piece sums into its own region of the accumulators of
 * its split (no two threads write the same element, nothing is atomic), in
 * a fixed order of blocks and points; dw is then the splits' sums added in
 * split order. nsplits, the blocks and the units depend only on the problem
 * and the kernel ISA, never on the thread count, so the result is
 * bit-identical for any number of threads. db: channels_last, every block
 * owns the dz rows of its input rows (a partition of dz: rows no tap
 * reaches count too), and consecutive blocks of a split form chunks (at most
 * DB_MAX_CHUNKS); a chunk's column sums go into its partial row, summed by
 * the thread that owns the chunk's unit while it runs that unit's block (dz
 * is in cache then: one read of dz for dw and db), and the partial rows are
 * added in chunk order; channels_first sums each channel's spans in sample
 * order. Also bit-identical across thread counts, and the same whether dw
 * is asked for or not.
 *
 * Workspace (allocated at plan creation): the accumulators, nsplits x G x
 * kd*kh*kw x M x V elements (M, V: Cin/G and Cout/G in tile order, V rounded
 * up to the vector length; nsplits is 1 unless the problem has fewer than
 * MIN_PIECES units), the db partial rows (at most DB_MAX_CHUNKS x Cout),
 * for channels_first one x slab and one dz slab per thread (about
 * BLOCK_BYTES each), and the unit, block and thread tables. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backward.h"

/* x and dz bytes one block aims at (fits the L2 cache with room to spare). */
#define BLOCK_BYTES (512.0 * 1024)
/* Input points a block holds at least, bytes or not: a tile's call costs
 * its sums' loads and stores and the box's setup, which a box of a few
 * dozen points (a narrow layer with many channels: gan_g3's 8 x 8 planes)
 * does not repay; L3 then serves what L2 cannot hold. */
#define MIN_BLOCK_POINTS 512.0
/* Fewer units than this: the blocks are split so there are enough pieces
 * for the threads to balance (a constant, so that the result does not
 * depend on the thread count). */
#define MIN_PIECES 64
/* db, channels_last: most partial rows (chunks of blocks). */
#define DB_MAX_CHUNKS 64

/* One disjoint block of dw: taps [tap, tap + nt) (nt > 1: W taps of one
 * D and H tap, fused, see tap_group_size), group g, broadcast channels
 * [m0, m0+nm) and vector channels [v0, v0 + nv*VL) of the group (the last
 * vector holds `tail` of them). */
typedef struct wg_unit {
    int64_t g, tap, m0, v0;
    int nm, nv, tail, nt;
} wg_unit_t;

/* Input points D planes [d0, d1) x H rows [h0, h1) x every W of a sample,
 * and the dz planes and rows [zd0, zd1) x [zh0, zh1) any tap of them reads.
 * Every sample has the same blocks: block b of sample n is number
 * n * per_sample + b of the batch's. */
typedef struct wg_block {
    int64_t d0, d1, h0, h1;
    int64_t zd0, zd1, zh0, zh1;
    int64_t od0, od1, oh0, oh1; /* the dz planes and rows it owns for db */
} wg_block_t;

struct cpu_wgrad {
    int64_t batch;          /* the batch its blocks cover */
    int vec_cout;           /* 1: vectors over Cout/G (dz), broadcasts over Cin/G (x) */
    int64_t mch, vch, vpad; /* broadcast and vector channels per group; vch padded */
    wg_unit_t *units;
    int64_t nunits;
    int64_t *tap_range[3]; /* per axis and tap: input points [lo, hi) it reaches */
    wg_block_t *blocks;    /* one sample's */
    int64_t per_sample;    /* blocks per sample */
    int64_t nblocks;       /* the batch's: batch * per_sample */
    int64_t nsplits;
    int64_t *split_first;  /* split s: the batch's blocks [split_first[s], split_first[s+1]) */
    int64_t *thread_first; /* thread t: pieces (s * nunits + u) [first[t], first[t+1]) */
    void *acc;             /* [nsplits][G][taps][mch][vpad] */
    size_t acc_elems;      /* per split */
    /* channels_first */
    int64_t *thread_channels; /* per thread: x channels [0],[1), dz channels [2],[3) */
    void *slab;               /* per thread: x slab then dz slab */
    size_t x_slab_elems, z_slab_elems;
    /* db */
    /* db, channels_last: chunk c holds the batch's blocks [chunk_block[c],
     * chunk_block[c+1]) of one split, split s the chunks [split_chunk[s],
     * split_chunk[s+1]); chunk_unit[c] is the unit (of its split) whose
     * thread sums it. */
    int64_t db_chunks;
    int64_t *db_chunk_block, *db_chunk_unit, *db_split_chunk;
    void *db_partial; /* [db_chunks][Cout] */
};

/* The tap's extent [lo, hi) on axis a clipped to [b0, b1); 0 when empty. */
static int64_t clip(const cpu_wgrad_t *wg, int a, int64_t t, int64_t b0, int64_t b1, int64_t *lo) {
    int64_t l = wg->tap_range[a][2 * t], h = wg->tap_range[a][2 * t + 1];
    *lo = l > b0 ? l : b0;
    h = h < b1 ? h : b1;
    return h > *lo ? h - *lo : 0;
}

static void tap_axes(const tconv_canonical_t *p, int64_t tap, int64_t t[3]) {
    t[2] = tap % p->kernel_size[2];
    t[1] = tap / p->kernel_size[2] % p->kernel_size[1];
    t[0] = tap / (p->kernel_size[2] * p->kernel_size[1]);
}

/* Where tap t of axis a meets a block's inputs b0..b1-1: the first input i0,
 * the output o0 it writes, and how many inputs (0: none). */
typedef struct tap_span {
    int64_t i0, o0, count;
} tap_span_t;

static tap_span_t tap_span(const cpu_wgrad_t *wg, const tconv_canonical_t *p, int a, int64_t t,
                           int64_t b0, int64_t b1) {
    tap_span_t s;
    s.count = clip(wg, a, t, b0, b1, &s.i0);
    s.o0 = s.i0 * p->strides[a] + t * p->dilation[a] - p->crop_begin[a];
    return s;
}

/* W taps one unit of nv vectors fuses: with vectors over Cin and one
 * broadcast channel (Cout/G = 1), a tile of one tap has only nv sums and
 * loads nv vectors of x per nv FMAs; the W taps of one D and H tap read the
 * same x point, so a tile of several of them (their dz values d*Cout apart)
 * loads x once for nt x nv FMAs. 1: no fusion. */
static int64_t tap_group_size(const cpu_plan_t *fwd, const cpu_wgrad_t *wg, int64_t nv) {
    if (wg->vec_cout || wg->mch != 1) {
        return 1;
    }
    const int64_t kw = fwd->p.kernel_size[2], most = fwd->kernel->np_max[nv];
    return kw < most ? kw : most;
}

/* The units of the taps of one vector chunk of nv vectors: a unit per W tap
 * group of every D and H tap, times the broadcast tiles. */
static int64_t chunk_units(const cpu_plan_t *fwd, const cpu_wgrad_t *wg, int64_t nv) {
    const int64_t kw = fwd->p.kernel_size[2], group = tap_group_size(fwd, wg, nv);
    const int64_t tiles = (wg->mch + fwd->kernel->np_max[nv] - 1) / fwd->kernel->np_max[nv];
    return fwd->taps / kw * ((kw + group - 1) / group) * tiles;
}

/* Units in (group, vector chunk, tap, broadcast tile) order: the tiles of
 * one tap read the same view of dz one after the other. As many as the
 * weights have tiles, so the table follows the kernel's size. */
static tconv_status_t build_units(const cpu_plan_t *fwd, cpu_wgrad_t *wg, char *msg,
                                  size_t msg_size) {
    const cpu_kernel_t *k = fwd->kernel;
    const int64_t nvblk = (wg->vch + k->vl - 1) / k->vl;
    const int64_t nvq = (nvblk + k->nv_max - 1) / k->nv_max;
    const int64_t kw = fwd->p.kernel_size[2];
    int64_t count = 0; /* units of the vector chunks of a group */
    for (int64_t vq = 0; vq < nvq; ++vq) {
        const int64_t nv = nvblk - vq * k->nv_max < k->nv_max ? nvblk - vq * k->nv_max : k->nv_max;
        if (__builtin_add_overflow(count, chunk_units(fwd, wg, nv), &count)) {
            count = INT64_MAX;
        }
    }
    if (__builtin_mul_overflow(count, fwd->p.groups, &count)) {
        count = INT64_MAX; /* the allocation refuses it */
    }
    tconv_status_t st = cpu_plan_alloc_table((void **)&wg->units, count, sizeof(wg_unit_t), 0,
                                             "the backward weights units", msg, msg_size);
    if (st != tconv_success) {
        return st;
    }
    wg_unit_t *u = wg->units;
    for (int64_t g = 0; g < fwd->p.groups; ++g) {
        for (int64_t vq = 0; vq < nvq; ++vq) {
            const int nv =
                (int)(nvblk - vq * k->nv_max < k->nv_max ? nvblk - vq * k->nv_max : k->nv_max);
            const int64_t v0 = vq * k->nv_max * k->vl;
            const int64_t last = wg->vch - v0 - (int64_t)(nv - 1) * k->vl;
            const int64_t ntiles = (wg->mch + k->np_max[nv] - 1) / k->np_max[nv];
            const int64_t group = tap_group_size(fwd, wg, nv);
            for (int64_t row = 0; row < fwd->taps / kw; ++row) {
                for (int64_t t2 = 0; t2 < kw; t2 += group) {
                    const int nt = (int)(kw - t2 < group ? kw - t2 : group);
                    for (int64_t mt = 0; mt < ntiles; ++mt, ++u) {
                        const int64_t m0 = wg->mch * mt / ntiles;
                        const int64_t m1 = wg->mch * (mt + 1) / ntiles;
                        *u = (wg_unit_t){
                            .g = g,
                            .tap = row * kw + t2,
                            .m0 = m0,
                            .v0 = v0,
                            .nm = (int)(m1 - m0),
                            .nv = nv,
                            .tail = (int)(last < k->vl ? last : k->vl),
                            .nt = nt,
                        };
                    }
                }
            }
        }
    }
    wg->nunits = count;
    return tconv_success;
}

/* The dz range [z0, z1) the taps of axis a read from input points [b0, b1). */
static void block_dz_range(const tconv_canonical_t *p, const cpu_wgrad_t *wg, int a, int64_t b0,
                           int64_t b1, int64_t *z0, int64_t *z1) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t t = 0; t < p->kernel_size[a]; ++t) {
        int64_t i0, n = clip(wg, a, t, b0, b1, &i0);
        if (n) {
            const int64_t shift = t * p->dilation[a] - p->crop_begin[a];
            lo = i0 * p->strides[a] + shift < lo ? i0 * p->strides[a] + shift : lo;
            hi = (i0 + n - 1) * p->strides[a] + shift + 1 > hi
                     ? (i0 + n - 1) * p->strides[a] + shift + 1
                     : hi;
        }
    }
    *z0 = lo <= hi ? lo : 0;
    *z1 = lo <= hi ? hi : 0;
}

/* The first dz coordinate input point i owns along axis a for db: dz
 * coordinate z belongs to input point clamp(floor((z + crop) / s), 0, n-1),
 * so every z of [0, L) has one owner and a block's share is the range
 * [owned_start(its first), owned_start(its end)). */
static int64_t owned_start(const tconv_canonical_t *p, int a, int64_t i) {
    if (i <= 0) {
        return 0;
    }
    if (i >= p->input_size[a]) {
        return p->output_size[a];
    }
    const int64_t z = i * p->strides[a] - p->crop_begin[a];
    return z < 0 ? 0 : z > p->output_size[a] ? p->output_size[a] : z;
}

/* One sample's blocks of (D planes, H rows) of about BLOCK_BYTES of x and
 * dz (at least MIN_BLOCK_POINTS input points), fine enough for
 * nsplits = min(ceil(MIN_PIECES / units), the batch's blocks) splits. */
static tconv_status_t build_blocks(const cpu_plan_t *fwd, cpu_wgrad_t *wg, char *msg,
                                   size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    const int64_t nd = p->input_size[0], nh = p->input_size[1];
    const double x_row = (double)p->input_size[2] * (double)p->in_channels;
    const double z_row = (double)p->strides[0] * (double)p->strides[1] * (double)p->output_size[2] *
                         (double)p->out_channels;
    double rows = floor(BLOCK_BYTES / ((x_row + z_row) * (double)fwd->esize));
    const double min_rows = ceil(MIN_BLOCK_POINTS / (double)p->input_size[2]);
    rows = rows < min_rows ? min_rows : rows;
    int64_t hb = rows < (double)nh ? (int64_t)rows : nh;
    int64_t db = rows < (double)nh
                     ? 1
                     : (rows / (double)nh < (double)nd ? (int64_t)(rows / (double)nh) : nd);
    const int64_t want = (MIN_PIECES + wg->nunits - 1) / wg->nunits;
    int64_t per_sample;
    for (;;) {
        per_sample = ((nd + db - 1) / db) * ((nh + hb - 1) / hb);
        if ((double)p->batch * (double)per_sample >= (double)want || (db == 1 && hb == 1)) {
            break;
        }
        if (db > 1) {
            db = (db + 1) / 2;
        } else {
            hb = (hb + 1) / 2;
        }
    }
    if (__builtin_mul_overflow(p->batch, per_sample, &wg->nblocks)) {
        return cpu_plan_alloc_table((void **)&wg->blocks, INT64_MAX, sizeof(wg_block_t), 0,
                                    "the backward weights blocks", msg, msg_size);
    }
    wg->nsplits = want < wg->nblocks ? want : wg->nblocks;
    tconv_status_t st = cpu_plan_alloc_table((void **)&wg->blocks, per_sample, sizeof(wg_block_t),
                                             0, "the backward weights blocks", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&wg->split_first, wg->nsplits + 1, sizeof(int64_t), 0,
                                  "the backward weights splits", msg, msg_size);
    }
    if (st != tconv_success) {
        return st;
    }
    wg_block_t *blk = wg->blocks;
    for (int64_t d0 = 0; d0 < nd; d0 += db) {
        for (int64_t h0 = 0; h0 < nh; h0 += hb, ++blk) {
            blk->d0 = d0;
            blk->d1 = d0 + db < nd ? d0 + db : nd;
            blk->h0 = h0;
            blk->h1 = h0 + hb < nh ? h0 + hb : nh;
            block_dz_range(p, wg, 0, blk->d0, blk->d1, &blk->zd0, &blk->zd1);
            block_dz_range(p, wg, 1, blk->h0, blk->h1, &blk->zh0, &blk->zh1);
            blk->od0 = owned_start(p, 0, blk->d0);
            blk->od1 = owned_start(p, 0, blk->d1);
            blk->oh0 = owned_start(p, 1, blk->h0);
            blk->oh1 = owned_start(p, 1, blk->h1);
        }
    }
    wg->per_sample = per_sample;
    for (int64_t s = 0; s <= wg->nsplits; ++s) {
        wg->split_first[s] = cpu_share_start(wg->nblocks, s, wg->nsplits);
    }
    return tconv_success;
}

/* The threads' equal-cost ranges of pieces. A piece's cost is its unit's
 * FMA vectors over the tap's points in the split (a sample's points times
 * the split's share of the blocks) plus an overhead per block. */
static tconv_status_t split_pieces(const cpu_plan_t *fwd, cpu_wgrad_t *wg, char *msg,
                                   size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    const int64_t npieces = wg->nsplits * wg->nunits;
    double *prefix = NULL;
    tconv_status_t st = cpu_plan_alloc_table((void **)&prefix, npieces + 1, sizeof(double), 0,
                                             "the backward weights piece costs", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&wg->thread_first, (int64_t)fwd->nthreads + 1,
                                  sizeof(int64_t), 0, "the backward weights thread table", msg,
                                  msg_size);
    }
    if (st != tconv_success) {
        free(prefix);
        return st;
    }
    prefix[0] = 0;
    for (int64_t s = 0; s < wg->nsplits; ++s) {
        const double blocks = (double)(wg->split_first[s + 1] - wg->split_first[s]);
        const double samples = blocks / (double)wg->per_sample;
        for (int64_t u = 0; u < wg->nunits; ++u) {
            const wg_unit_t *un = &wg->units[u];
            double points = 0;
            for (int k = 0; k < un->nt; ++k) {
                int64_t t[3], lo;
                tap_axes(p, un->tap + k, t);
                double tap_points = samples;
                for (int a = 0; a < 3; ++a) {
                    tap_points *= (double)clip(wg, a, t[a], 0, p->input_size[a], &lo);
                }
                points += tap_points;
            }
            const int64_t i = s * wg->nunits + u;
            prefix[i + 1] = prefix[i] + points * (double)(un->nm * un->nv) + blocks * 64.0;
        }
    }
    cpu_split_by_cost(prefix, npieces, fwd->nthreads, wg->thread_first);
    free(prefix);
    return tconv_success;
}

/* channels_first: each thread's channel ranges and a slab as large as the
 * largest block (x: planes x rows x W x Cin; dz: likewise with Cout). */
static tconv_status_t alloc_slabs(const cpu_plan_t *fwd, cpu_wgrad_t *wg, char *msg,
                                  size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    double x_elems = 0, z_elems = 0;
    for (int64_t b = 0; b < wg->per_sample; ++b) {
        const wg_block_t *blk = &wg->blocks[b];
        const double xe = (double)(blk->d1 - blk->d0) * (double)(blk->h1 - blk->h0) *
                          (double)p->input_size[2] * (double)p->in_channels;
        const double ze = (double)(blk->zd1 - blk->zd0) * (double)(blk->zh1 - blk->zh0) *
                          (double)p->output_size[2] * (double)p->out_channels;
        x_elems = xe > x_elems ? xe : x_elems;
        z_elems = ze > z_elems ? ze : z_elems;
    }
    const double total = (double)fwd->nthreads * (x_elems + z_elems + 1);
    tconv_status_t st =
        cpu_plan_alloc_table(&wg->slab, total < 0x1p62 ? (int64_t)total : INT64_MAX, fwd->esize, 0,
                             "the backward weights slabs", msg, msg_size);
    if (st == tconv_success) {
        st = cpu_plan_alloc_table((void **)&wg->thread_channels, 4 * (int64_t)fwd->nthreads,
                                  sizeof(int64_t), 0, "the backward weights thread channels", msg,
                                  msg_size);
    }
    if (st != tconv_success) {
        return st;
    }
    wg->x_slab_elems = (size_t)x_elems;
    wg->z_slab_elems = (size_t)z_elems;
    for (size_t t = 0; t < fwd->nthreads; ++t) {
        int64_t *ch = &wg->thread_channels[4 * t];
        ch[0] = ch[2] = INT64_MAX;
        ch[1] = ch[3] = INT64_MIN;
        for (int64_t i = wg->thread_first[t]; i < wg->thread_first[t + 1]; ++i) {
            const wg_unit_t *u = &wg->units[i % wg->nunits];
            const int64_t m1 = u->m0 + u->nm;
            const int64_t v1 = u->v0 + (u->nv - 1) * fwd->kernel->vl + u->tail;
            const int64_t x0 = wg->vec_cout ? u->m0 : u->v0, x1 = wg->vec_cout ? m1 : v1;
            const int64_t z0 = wg->vec_cout ? u->v0 : u->m0, z1 = wg->vec_cout ? v1 : m1;
            const int64_t xg = u->g * fwd->cin_g, zg = u->g * fwd->cout_g;
            ch[0] = xg + x0 < ch[0] ? xg + x0 : ch[0];
            ch[1] = xg + x1 > ch[1] ? xg + x1 : ch[1];
            ch[2] = zg + z0 < ch[2] ? zg + z0 : ch[2];
            ch[3] = zg + z1 > ch[3] ? zg + z1 : ch[3];
        }
    }
    return tconv_success;
}

/* The dw sums of every split and the db partial rows. */
static tconv_status_t alloc_sums(const cpu_plan_t *fwd, cpu_wgrad_t *wg, char *msg,
                                 size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    int64_t elems, total;
    if (__builtin_mul_overflow(p->groups * fwd->taps, wg->mch, &elems) ||
        __builtin_mul_overflow(elems, wg->vpad, &elems) ||
        __builtin_mul_overflow(elems, wg->nsplits, &total)) {
        elems = total = INT64_MAX;
    }
    wg->acc_elems = (size_t)elems;
    tconv_status_t st = cpu_plan_alloc_table(&wg->acc, total, fwd->esize, 1,
                                             "the backward weights sums", msg, msg_size);
    if (st != tconv_success) {
        return st;
    }
    if (p->data_format != tconv_channels_last) {
        return tconv_success;
    }
    /* db chunks: each split's blocks in up to DB_MAX_CHUNKS / nsplits runs
     * (nsplits <= MIN_PIECES <= DB_MAX_CHUNKS), owned by units spread over
     * the split's so that every thread sums its share. */
    const int64_t per_split = DB_MAX_CHUNKS / wg->nsplits > 1 ? DB_MAX_CHUNKS / wg->nsplits : 1;
    int64_t chunks = 0;
    for (int64_t sp = 0; sp < wg->nsplits; ++sp) {
        const int64_t blocks = wg->split_first[sp + 1] - wg->split_first[sp];
        chunks += blocks < per_split ? blocks : per_split;
    }
    if ((st = cpu_plan_alloc_table((void **)&wg->db_chunk_block, chunks + 1, sizeof(int64_t), 0,
                                   "the bias gradient's chunks", msg, msg_size)) != tconv_success ||
        (st = cpu_plan_alloc_table((void **)&wg->db_chunk_unit, chunks, sizeof(int64_t), 0,
                                   "the bias gradient's chunks", msg, msg_size)) != tconv_success ||
        (st = cpu_plan_alloc_table((void **)&wg->db_split_chunk, wg->nsplits + 1, sizeof(int64_t),
                                   0, "the bias gradient's chunks", msg, msg_size)) !=
            tconv_success) {
        return st;
    }
    int64_t c = 0;
    for (int64_t sp = 0; sp < wg->nsplits; ++sp) {
        const int64_t first = wg->split_first[sp], blocks = wg->split_first[sp + 1] - first;
        const int64_t n = blocks < per_split ? blocks : per_split;
        wg->db_split_chunk[sp] = c;
        for (int64_t k = 0; k < n; ++k, ++c) {
            wg->db_chunk_block[c] = first + cpu_share_start(blocks, k, n);
            wg->db_chunk_unit[c] = wg->nunits * k / n;
        }
    }
    wg->db_split_chunk[wg->nsplits] = c;
    wg->db_chunk_block[c] = wg->nblocks;
    wg->db_chunks = chunks;
    return cpu_plan_alloc_table(&wg->db_partial, chunks * p->out_channels, fwd->esize, 0,
                                "the bias gradient's partial sums", msg, msg_size);
}

tconv_status_t cpu_wgrad_create(const cpu_plan_t *fwd, cpu_wgrad_t **out, char *msg,
                                size_t msg_size) {
    const tconv_canonical_t *p = &fwd->p;
    const int64_t vl = fwd->kernel->vl;
    *out = NULL;
    cpu_wgrad_t *wg = calloc(1, sizeof(*wg));
    if (!wg) {
        snprintf(msg, msg_size, "cpu plan: allocating the backward weights plan failed");
        return tconv_out_of_memory;
    }
    wg->batch = p->batch;
    /* Vectors over the channels that waste fewer lanes. */
    const int64_t cin_g = fwd->cin_g, cout_g = fwd->cout_g;
    wg->vec_cout = cin_g * ((cout_g + vl - 1) / vl) <= cout_g * ((cin_g + vl - 1) / vl);
    wg->mch = wg->vec_cout ? cin_g : cout_g;
    wg->vch = wg->vec_cout ? cout_g : cin_g;
    wg->vpad = (wg->vch + vl - 1) / vl * vl;
    tconv_status_t st = build_units(fwd, wg, msg, msg_size);
    for (int a = 0; a < 3 && st == tconv_success; ++a) {
        st =
            cpu_plan_alloc_table((void **)&wg->tap_range[a], 2 * p->kernel_size[a], sizeof(int64_t),
                                 0, "the backward weights tap ranges", msg, msg_size);
        for (int64_t t = 0; st == tconv_success && t < p->kernel_size[a]; ++t) {
            cpu_tap_interval(p, a, t, &wg->tap_range[a][2 * t], &wg->tap_range[a][2 * t + 1]);
        }
    }
    if (st == tconv_success) {
        st = build_blocks(fwd, wg, msg, msg_size);
    }
    if (st == tconv_success) {
        st = split_pieces(fwd, wg, msg, msg_size);
    }
    if (st == tconv_success && p->data_format == tconv_channels_first) {
        st = alloc_slabs(fwd, wg, msg, msg_size);
    }
    if (st == tconv_success) {
        st = alloc_sums(fwd, wg, msg, msg_size);
    }
    if (st != tconv_success) {
        cpu_wgrad_destroy(wg);
        return st;
    }
    *out = wg;
    return tconv_success;
}

int64_t cpu_wgrad_batch(const cpu_wgrad_t *wg) {
    return wg->batch;
}

int cpu_wgrad_describe(const cpu_wgrad_t *wg, char *buf, size_t size) {
    return snprintf(buf, size,
                    "backward weights: vectors over %s, %lld units, %lld blocks in %lld splits",
                    wg->vec_cout ? "Cout" : "Cin", (long long)wg->nunits, (long long)wg->nblocks,
                    (long long)wg->nsplits);
}

void cpu_wgrad_destroy(cpu_wgrad_t *wg) {
    if (!wg) {
        return;
    }
    free(wg->units);
    for (int a = 0; a < 3; ++a) {
        free(wg->tap_range[a]);
    }
    free(wg->blocks);
    free(wg->split_first);
    free(wg->thread_first);
    free(wg->acc);
    free(wg->thread_channels);
    free(wg->slab);
    free(wg->db_partial);
    free(wg->db_chunk_block);
    free(wg->db_chunk_unit);
    free(wg->db_split_chunk);
    free(wg);
}

/* ---- execution */

/* Where a block's points are read: a tensor of one sample, or a slab
 * (channels_last, starting at plane d0 and row h0). */
typedef struct wg_view {
    const char *base;
    int64_t d0, h0;
    ptrdiff_t sd, sh, sw;
} wg_view_t;

typedef struct wg_ctx {
    const cpu_plan_t *fwd;
    cpu_wgrad_t *wg;
    const char *x, *z;
    void *grad_kernel, *grad_bias;
} wg_ctx_t;

/* Copies channels [c0, c1) of D planes [d0, d1) x H rows [h0, h1) of sample
 * n of a channels_first tensor (s: its strides, width W, C channels) into a
 * channels_last box [d - d0][h - h0][w][C]. */
static void transpose_box(const char *src, const cpu_strides_t *s, int64_t n, int64_t channels,
                          int64_t width, const int64_t c[2], const int64_t d[2], const int64_t h[2],
                          char *dst, size_t es) {
    for (int64_t ch = c[0]; ch < c[1]; ++ch) {
        for (int64_t pd = d[0]; pd < d[1]; ++pd) {
            for (int64_t ph = h[0]; ph < h[1]; ++ph) {
                const size_t from = (size_t)(n * s->n + ch * s->c + pd * s->d + ph * s->h);
                const size_t to =
                    (size_t)(((pd - d[0]) * (h[1] - h[0]) + ph - h[0]) * width * channels + ch);
                if (es == sizeof(float)) {
                    const float *in = (const float *)src + from;
                    float *o = (float *)dst + to;
                    for (int64_t w = 0; w < width; ++w) {
                        o[w * channels] = in[w];
                    }
                } else {
                    const double *in = (const double *)src + from;
                    double *o = (double *)dst + to;
                    for (int64_t w = 0; w < width; ++w) {
                        o[w * channels] = in[w];
                    }
                }
            }
        }
    }
}

/* The views of block b: the tensors themselves (channels_last) or the
 * thread's slabs, filled with the thread's channels (channels_first). */
static void block_views(const wg_ctx_t *ctx, int64_t n, const wg_block_t *b, size_t thread,
                        wg_view_t *xv, wg_view_t *zv) {
    const cpu_plan_t *fwd = ctx->fwd;
    const tconv_canonical_t *p = &fwd->p;
    const cpu_wgrad_t *wg = ctx->wg;
    const size_t es = fwd->esize;
    if (p->data_format == tconv_channels_last) {
        *xv = (wg_view_t){
            ctx->x + (size_t)(n * fwd->xs.n) * es, 0, 0, fwd->xs.d, fwd->xs.h, fwd->xs.w};
        *zv = (wg_view_t){
            ctx->z + (size_t)(n * fwd->ys.n) * es, 0, 0, fwd->ys.d, fwd->ys.h, fwd->ys.w};
        return;
    }
    char *xslab = (char *)wg->slab + thread * (wg->x_slab_elems + wg->z_slab_elems + 1) * es;
    char *zslab = xslab + wg->x_slab_elems * es;
    const int64_t *ch = &wg->thread_channels[4 * thread];
    const int64_t xd[2] = {b->d0, b->d1}, xh[2] = {b->h0, b->h1};
    const int64_t zd[2] = {b->zd0, b->zd1}, zh[2] = {b->zh0, b->zh1};
    if (ch[0] < ch[1] && ctx->x) {
        transpose_box(ctx->x, &fwd->xs, n, p->in_channels, p->input_size[2], &ch[0], xd, xh, xslab,
                      es);
    }
    if (ch[2] < ch[3]) {
        transpose_box(ctx->z, &fwd->ys, n, p->out_channels, p->output_size[2], &ch[2], zd, zh,
                      zslab, es);
    }
    const ptrdiff_t xw = (ptrdiff_t)p->in_channels, zw = (ptrdiff_t)p->out_channels;
    const ptrdiff_t xrow = xw * (ptrdiff_t)p->input_size[2];
    const ptrdiff_t zrow = zw * (ptrdiff_t)p->output_size[2];
    *xv = (wg_view_t){xslab, b->d0, b->h0, xrow * (b->h1 - b->h0), xrow, xw};
    *zv = (wg_view_t){zslab, b->zd0, b->zh0, zrow * (b->zh1 - b->zh0), zrow, zw};
}

/* The kernel arguments of tap `tap` of unit u over the points of block b
 * whose W lies in [w0, w1) (acc: the split's sums); 0 when it reaches none. */
static int tap_args(const wg_ctx_t *ctx, const wg_unit_t *u, int64_t tap, const wg_block_t *b,
                    int64_t w0, int64_t w1, const wg_view_t *xv, const wg_view_t *zv, char *acc,
                    cpu_wgrad_args_t *args) {
    const cpu_plan_t *fwd = ctx->fwd;
    const tconv_canonical_t *p = &fwd->p;
    const cpu_wgrad_t *wg = ctx->wg;
    const size_t es = fwd->esize;
    int64_t t[3];
    tap_axes(p, tap, t);
    const tap_span_t d = tap_span(wg, p, 0, t[0], b->d0, b->d1);
    const tap_span_t h = tap_span(wg, p, 1, t[1], b->h0, b->h1);
    const tap_span_t w = tap_span(wg, p, 2, t[2], w0, w1);
    if (!d.count || !h.count || !w.count) {
        return 0;
    }
    const int64_t xc = u->g * fwd->cin_g + (wg->vec_cout ? u->m0 : u->v0);
    const int64_t zc = u->g * fwd->cout_g + (wg->vec_cout ? u->v0 : u->m0);
    const char *xp =
        xv->base +
        (size_t)((d.i0 - xv->d0) * xv->sd + (h.i0 - xv->h0) * xv->sh + w.i0 * xv->sw + xc) * es;
    const char *zp =
        zv->base +
        (size_t)((d.o0 - zv->d0) * zv->sd + (h.o0 - zv->h0) * zv->sh + w.o0 * zv->sw + zc) * es;
    /* Field by field, no local arrays: copies of those were vectorized into
     * 16-byte loads of pairs of 8-byte stores, which are not forwarded and
     * stalled every call (3.6 % of nnunet_up4's pass, 1.1 % without). */
    ptrdiff_t *xstep = wg->vec_cout ? args->a_step : args->b_step;
    ptrdiff_t *zstep = wg->vec_cout ? args->b_step : args->a_step;
    xstep[0] = xv->sd;
    xstep[1] = xv->sh;
    xstep[2] = xv->sw;
    zstep[0] = zv->sd * p->strides[0];
    zstep[1] = zv->sh * p->strides[1];
    zstep[2] = zv->sw * p->strides[2];
    args->count[0] = d.count;
    args->count[1] = h.count;
    args->count[2] = w.count;
    args->a = wg->vec_cout ? xp : zp;
    args->b = wg->vec_cout ? zp : xp;
    args->nm = u->nm;
    args->nv = u->nv;
    args->tail = u->tail;
    args->acc =
        acc + (size_t)(((u->g * fwd->taps + tap) * wg->mch + u->m0) * wg->vpad + u->v0) * es;
    args->acc_stride = (ptrdiff_t)wg->vpad;
    args->nt = 1;
    args->a_tap = args->acc_tap = 0;
    args->prefetch = NULL;
    args->prefetch_lines = 0;
    return 1;
}

/* Lines of the next block a unit prefetches: *at on, `lines` of them. */
typedef struct wg_prefetch {
    const char *at;
    int64_t lines;
} wg_prefetch_t;

/* Gives the kernel call of args as many of pf's lines as it visits points
 * (one per point), and leaves pf with the rest. */
static void hand_prefetch(cpu_wgrad_args_t *args, wg_prefetch_t *pf) {
    const int64_t points = args->count[0] * args->count[1] * args->count[2];
    const int64_t n = pf->lines < points ? pf->lines : points;
    args->prefetch = pf->at;
    args->prefetch_lines = n;
    if (n > 0) { /* pf->at is NULL when there is nothing to prefetch */
        pf->at += 64 * n;
        pf->lines -= n;
    }
}

/* Adds unit u's products over the points of block b to acc (its split's).
 * A unit of nt > 1 W taps runs them fused over the W points every one of
 * them reaches, then each tap alone over the W points only it reaches (near
 * the W edges): a fixed order, whatever the thread count. */
static void run_unit(const wg_ctx_t *ctx, const wg_unit_t *u, const wg_block_t *b,
                     const wg_view_t *xv, const wg_view_t *zv, char *acc, wg_prefetch_t *pf) {
    const cpu_plan_t *fwd = ctx->fwd;
    const int64_t width = fwd->p.input_size[2];
    cpu_wgrad_args_t args;
    if (u->nt == 1) {
        if (tap_args(ctx, u, u->tap, b, 0, width, xv, zv, acc, &args)) {
            hand_prefetch(&args, pf);
            fwd->kernel->wgrad(&args);
        }
        return;
    }
    const cpu_wgrad_t *wg = ctx->wg;
    const int64_t t2 = u->tap % fwd->p.kernel_size[2];
    int64_t lo = 0, hi = width; /* W points all nt taps reach */
    for (int k = 0; k < u->nt; ++k) {
        lo = wg->tap_range[2][2 * (t2 + k)] > lo ? wg->tap_range[2][2 * (t2 + k)] : lo;
        hi = wg->tap_range[2][2 * (t2 + k) + 1] < hi ? wg->tap_range[2][2 * (t2 + k) + 1] : hi;
    }
    if (lo < hi && tap_args(ctx, u, u->tap, b, lo, hi, xv, zv, acc, &args)) {
        args.nt = u->nt;
        args.a_tap = (ptrdiff_t)fwd->p.dilation[2] * zv->sw; /* a is dz: vectors over Cin */
        args.acc_tap = (ptrdiff_t)(wg->mch * wg->vpad);
        hand_prefetch(&args, pf);
        fwd->kernel->wgrad(&args);
    }
    for (int k = 0; k < u->nt; ++k) {
        const int64_t ranges[2][2] = {{0, lo < hi ? lo : width}, {lo < hi ? hi : width, width}};
        for (int r = 0; r < 2; ++r) {
            if (tap_args(ctx, u, u->tap + k, b, ranges[r][0], ranges[r][1], xv, zv, acc, &args)) {
                fwd->kernel->wgrad(&args);
            }
        }
    }
}

/* Zeroes unit u's block of acc. */
static void zero_unit(const cpu_plan_t *fwd, const cpu_wgrad_t *wg, const wg_unit_t *u, char *acc) {
    const size_t es = fwd->esize;
    for (int k = 0; k < u->nt; ++k) {
        for (int m = 0; m < u->nm; ++m) {
            size_t at =
                (size_t)(((u->g * fwd->taps + u->tap + k) * wg->mch + u->m0 + m) * wg->vpad +
                         u->v0);
            memset(acc + at * es, 0, (size_t)u->nv * (size_t)fwd->kernel->vl * es);
        }
    }
}

/* db, channels_last: adds the column sums of the dz rows block b owns to
 * chunk c's partial row (zeroed at the chunk's first block). */
static void bias_block(const wg_ctx_t *ctx, int64_t b, int64_t c) {
    const cpu_plan_t *fwd = ctx->fwd;
    const tconv_canonical_t *p = &fwd->p;
    const cpu_wgrad_t *wg = ctx->wg;
    const size_t es = fwd->esize;
    const int64_t cout = p->out_channels;
    char *row = (char *)wg->db_partial + (size_t)(c * cout) * es;
    if (b == wg->db_chunk_block[c]) {
        memset(row, 0, (size_t)cout * es);
    }
    const wg_block_t *blk = &wg->blocks[b % wg->per_sample];
    const char *z = ctx->z + (size_t)(b / wg->per_sample * fwd->ys.n) * es;
    const int64_t points = (blk->oh1 - blk->oh0) * p->output_size[2];
    for (int64_t d = blk->od0; d < blk->od1 && points > 0; ++d) {
        /* The owned rows of a plane are adjacent: one run of points. */
        fwd->kernel->colsum(z + (size_t)(d * fwd->ys.d + blk->oh0 * fwd->ys.h) * es, points,
                            (ptrdiff_t)cout, cout, row);
    }
}

/* The run of memory block b reads (channels_last: its x planes, then its
 * dz planes, in the tensors themselves): bytes per x plane and per dz plane,
 * and its x part's length (0 without x). */
static void block_run(const wg_ctx_t *ctx, const wg_block_t *blk, int64_t *xlen, int64_t *zlen,
                      int64_t *xbytes) {
    const cpu_plan_t *fwd = ctx->fwd;
    const int64_t es = (int64_t)fwd->esize;
    *xlen = (blk->h1 - blk->h0) * fwd->xs.h * es;
    *zlen = (blk->zh1 - blk->zh0) * fwd->ys.h * es;
    *xbytes = ctx->x ? (blk->d1 - blk->d0) * *xlen : 0;
}

/* Byte `off` of block b's run: its address in *at, and the bytes from there
 * to the end of its plane (0 past the run). */
static int64_t block_piece(const wg_ctx_t *ctx, int64_t b, int64_t off, const char **at) {
    const cpu_plan_t *fwd = ctx->fwd;
    const cpu_wgrad_t *wg = ctx->wg;
    const wg_block_t *blk = &wg->blocks[b % wg->per_sample];
    const int64_t n = b / wg->per_sample, es = (int64_t)fwd->esize;
    int64_t xlen, zlen, xbytes;
    block_run(ctx, blk, &xlen, &zlen, &xbytes);
    if (off < xbytes) {
        *at = ctx->x +
              (n * fwd->xs.n + (blk->d0 + off / xlen) * fwd->xs.d + blk->h0 * fwd->xs.h) * es +
              off % xlen;
        return xlen - off % xlen;
    }
    off -= xbytes;
    if (off >= (blk->zd1 - blk->zd0) * zlen) {
        return 0;
    }
    *at = ctx->z +
          (n * fwd->ys.n + (blk->zd0 + off / zlen) * fwd->ys.d + blk->zh0 * fwd->ys.h) * es +
          off % zlen;
    return zlen - off % zlen;
}

/* The bytes of block b's run. */
static int64_t block_bytes(const wg_ctx_t *ctx, int64_t b) {
    const wg_block_t *blk = &ctx->wg->blocks[b % ctx->wg->per_sample];
    int64_t xlen, zlen, xbytes;
    block_run(ctx, blk, &xlen, &zlen, &xbytes);
    return xbytes + (blk->zd1 - blk->zd0) * zlen;
}

/* Prefetches bytes [off, end) of block b's run into L2 at once, plane by plane. */
static void prefetch_now(const wg_ctx_t *ctx, int64_t b, int64_t off, int64_t end) {
    while (off < end) {
        const char *at;
        const int64_t piece = block_piece(ctx, b, off, &at);
        if (piece <= 0) {
            return;
        }
        const int64_t stop = off + piece < end ? off + piece : end;
        for (int64_t o = off; o < stop; o += 64) {
            __builtin_prefetch(at + (o - off), 0, 2);
        }
        off = stop;
    }
}

/* The thread's pieces, split by split: zero their sums, then block by block
 * every unit over the block, and the db of the blocks of the chunks whose
 * unit it owns (channels_last). */
static void weights_share(const wg_ctx_t *ctx, size_t thread) {
    const cpu_plan_t *fwd = ctx->fwd;
    cpu_wgrad_t *wg = ctx->wg;
    const int64_t first = wg->thread_first[thread], last = wg->thread_first[thread + 1];
    if (first == last) {
        return;
    }
    for (int64_t s = first / wg->nunits; s <= (last - 1) / wg->nunits; ++s) {
        const int64_t u0 = (first > s * wg->nunits ? first : s * wg->nunits) - s * wg->nunits;
        const int64_t u1 =
            (last < (s + 1) * wg->nunits ? last : (s + 1) * wg->nunits) - s * wg->nunits;
        char *acc = (char *)wg->acc + (size_t)s * wg->acc_elems * fwd->esize;
        for (int64_t u = u0; u < u1; ++u) {
            zero_unit(fwd, wg, &wg->units[u], acc);
        }
        int64_t c = wg->db_chunks ? wg->db_split_chunk[s] : 0;
        for (int64_t b = wg->split_first[s]; b < wg->split_first[s + 1]; ++b) {
            const wg_block_t *blk = &wg->blocks[b % wg->per_sample];
            wg_view_t xv, zv;
            block_views(ctx, b / wg->per_sample, blk, thread, &xv, &zv);
            /* The next block is prefetched while the units run over this one,
             * each unit a share of its lines, one per point its kernel
             * visits: without it the first unit over a block waits on DRAM for
             * every line its strided rows touch (the tensors of the k = s
             * layers are far larger than the L3 cache), the hardware
             * prefetchers starting too late on rows of a few dozen points.
             * Not when blocks outgrow BLOCK_BYTES twice (MIN_BLOCK_POINTS:
             * gan_g3, nnunet_up4 and unet3d_up2 have blocks of 2.6-4.8 MB):
             * the next block would evict the one the units read from L2. */
            int64_t next_bytes = 0;
            if (fwd->p.data_format == tconv_channels_last && b + 1 < wg->nblocks) {
                next_bytes = block_bytes(ctx, b + 1);
                next_bytes = next_bytes <= (int64_t)(2 * BLOCK_BYTES) ? next_bytes : 0;
            }
            for (int64_t u = u0; u < u1; ++u) {
                const int64_t k = u - u0, n = u1 - u0;
                const int64_t off = cpu_share_start(next_bytes, k, n);
                const int64_t end = cpu_share_start(next_bytes, k + 1, n);
                wg_prefetch_t pf = {NULL, 0};
                int64_t done = off;
                if (off < end) {
                    const int64_t piece = block_piece(ctx, b + 1, off, &pf.at);
                    done = off + (piece < end - off ? piece : end - off);
                    pf.lines = (done - off + 63) / 64;
                }
                run_unit(ctx, &wg->units[u], blk, &xv, &zv, acc, &pf);
                for (int64_t l = 0; l < pf.lines; ++l) { /* more lines than points */
                    __builtin_prefetch(pf.at + 64 * l, 0, 2);
                }
                prefetch_now(ctx, b + 1, done, end); /* past the end of a plane */
            }
            if (ctx->grad_bias && wg->db_chunks) {
                while (b >= wg->db_chunk_block[c + 1]) {
                    ++c;
                }
                if (wg->db_chunk_unit[c] >= u0 && wg->db_chunk_unit[c] < u1) {
                    bias_block(ctx, b, c);
                }
            }
        }
    }
}

/* db without dw, first half. channels_last: the thread's chunks, each
 * summed as weights_share sums it. channels_first: the thread's channels,
 * whole. */
static void bias_share(const wg_ctx_t *ctx, size_t thread, size_t threads) {
    const cpu_plan_t *fwd = ctx->fwd;
    const tconv_canonical_t *p = &fwd->p;
    const cpu_wgrad_t *wg = ctx->wg;
    const size_t es = fwd->esize;
    const int64_t cout = p->out_channels;
    if (p->data_format == tconv_channels_last) {
        const int64_t c0 = wg->db_chunks * (int64_t)thread / (int64_t)threads;
        const int64_t c1 = wg->db_chunks * (int64_t)(thread + 1) / (int64_t)threads;
        for (int64_t c = c0; c < c1; ++c) {
            for (int64_t b = wg->db_chunk_block[c]; b < wg->db_chunk_block[c + 1]; ++b) {
                bias_block(ctx, b, c);
            }
        }
        return;
    }
    const int64_t points = p->output_size[0] * p->output_size[1] * p->output_size[2];
    const int64_t o0 = cout * (int64_t)thread / (int64_t)threads;
    const int64_t o1 = cout * (int64_t)(thread + 1) / (int64_t)threads;
    for (int64_t o = o0; o < o1; ++o) {
        double part64 = 0;
        float part32 = 0;
        for (int64_t n = 0; n < p->batch; ++n) {
            const char *span = ctx->z + (size_t)(n * fwd->ys.n + o * fwd->ys.c) * es;
            if (es == sizeof(float)) {
                float s;
                fwd->kernel->spansum(span, points, &s);
                part32 += s;
            } else {
                double s;
                fwd->kernel->spansum(span, points, &s);
                part64 += s;
            }
        }
        if (es == sizeof(float)) {
            ((float *)ctx->grad_bias)[o] = part32;
        } else {
            ((double *)ctx->grad_bias)[o] = part64;
        }
    }
}

static void sums_job(void *opaque, size_t thread, size_t threads) {
    const wg_ctx_t *ctx = opaque;
    if (ctx->grad_kernel) {
        weights_share(ctx, thread); /* and db, channels_last */
    }
    if (ctx->grad_bias && (!ctx->grad_kernel || !ctx->wg->db_chunks)) {
        bias_share(ctx, thread, threads);
    }
}

/* Rows [0, nm) x columns [0, nv) of the split sums (row m of split s at
 * acc + s * split_elems + m * row_stride), added in split order, into
 * out[m * dm + v * dv], in blocks of UNPACK_BLOCK x UNPACK_BLOCK so that
 * whichever of the reads and the writes is strided stays within a few lines
 * of L1 (row by row, the strided side crossed a new line per element: 14.6 %
 * of nnunet_up4's pass at batch 1 on one thread, 11.7 % in blocks). */
#define UNPACK_BLOCK 16
#define UNPACK_BLOCKS(NAME, REAL)                                                                  \
    static void NAME(const REAL *acc, size_t split_elems, int64_t nsplits, ptrdiff_t row_stride,   \
                     int64_t nm, int64_t nv, REAL *out, ptrdiff_t dm, ptrdiff_t dv) {              \
        for (int64_t m0 = 0; m0 < nm; m0 += UNPACK_BLOCK) {                                        \
            const int64_t m1 = m0 + UNPACK_BLOCK < nm ? m0 + UNPACK_BLOCK : nm;                    \
            for (int64_t v0 = 0; v0 < nv; v0 += UNPACK_BLOCK) {                                    \
                const int64_t v1 = v0 + UNPACK_BLOCK < nv ? v0 + UNPACK_BLOCK : nv;                \
                for (int64_t v = v0; v < v1; ++v) {                                                \
                    for (int64_t m = m0; m < m1; ++m) {                                            \
                        const REAL *a = acc + m * row_stride + v;                                  \
                        REAL sum = a[0];                                                           \
                        for (int64_t s = 1; s < nsplits; ++s) {                                    \
                            sum += a[(size_t)s * split_elems];                                     \
                        }                                                                          \
                        out[m * dm + v * dv] = sum;                                                \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
UNPACK_BLOCKS(unpack_blocks_f32, float)
UNPACK_BLOCKS(unpack_blocks_f64, double)
#undef UNPACK_BLOCKS

/* dw in the kernel's layout: the splits' sums added in split order; db
 * (channels_last): the partial rows added in chunk order. */
static void unpack_job(void *opaque, size_t thread, size_t threads) {
    const wg_ctx_t *ctx = opaque;
    const cpu_plan_t *fwd = ctx->fwd;
    const tconv_canonical_t *p = &fwd->p;
    const cpu_wgrad_t *wg = ctx->wg;
    const int is_f64 = p->dtype == tconv_f64;
    if (ctx->grad_kernel) {
        /* Sum (m, v) of pair (g, tap) goes to base + m * dm + v * dv. */
        const cpu_kernel_strides_t ks =
            cpu_kernel_layout(p, fwd->taps, p->out_channels / p->groups);
        const ptrdiff_t dm = wg->vec_cout ? ks.ic : ks.j, dv = wg->vec_cout ? ks.j : ks.ic;
        const int64_t pairs = p->groups * fwd->taps;
        const int64_t q0 = pairs * (int64_t)thread / (int64_t)threads;
        const int64_t q1 = pairs * (int64_t)(thread + 1) / (int64_t)threads;
        for (int64_t q = q0; q < q1; ++q) {
            const int64_t g = q / fwd->taps, tap = q % fwd->taps;
            const ptrdiff_t base = g * fwd->cin_g * ks.ic + tap * ks.tap;
            const size_t at = (size_t)(q * wg->mch * wg->vpad);
            if (is_f64) {
                unpack_blocks_f64((const double *)wg->acc + at, wg->acc_elems, wg->nsplits,
                                  (ptrdiff_t)wg->vpad, wg->mch, wg->vch,
                                  (double *)ctx->grad_kernel + base, dm, dv);
            } else {
                unpack_blocks_f32((const float *)wg->acc + at, wg->acc_elems, wg->nsplits,
                                  (ptrdiff_t)wg->vpad, wg->mch, wg->vch,
                                  (float *)ctx->grad_kernel + base, dm, dv);
            }
        }
    }
    if (ctx->grad_bias && p->data_format == tconv_channels_last) {
        const int64_t cout = p->out_channels;
        const int64_t o0 = cout * (int64_t)thread / (int64_t)threads;
        const int64_t o1 = cout * (int64_t)(thread + 1) / (int64_t)threads;
        for (int64_t o = o0; o < o1; ++o) {
            if (is_f64) {
                const double *part = wg->db_partial;
                double sum = 0;
                for (int64_t c = 0; c < wg->db_chunks; ++c) {
                    sum += part[c * cout + o];
                }
                ((double *)ctx->grad_bias)[o] = sum;
            } else {
                const float *part = wg->db_partial;
                float sum = 0;
                for (int64_t c = 0; c < wg->db_chunks; ++c) {
                    sum += part[c * cout + o];
                }
                ((float *)ctx->grad_bias)[o] = sum;
            }
        }
    }
}

void cpu_wgrad_execute(const cpu_plan_t *fwd, cpu_wgrad_t *wg, const void *input,
                       const void *grad_output, void *grad_kernel, void *grad_bias) {
    wg_ctx_t ctx = {fwd, wg, input, grad_output, grad_kernel, grad_bias};
    cpu_thread_pool_run(fwd->pool, sums_job, &ctx);
    cpu_thread_pool_run(fwd->pool, unpack_job, &ctx);
}
