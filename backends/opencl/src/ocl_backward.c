/* SPDX-License-Identifier: Apache-2.0 */
/* Backward pass of a plan (see ocl_backward.h and the kernel files
 * kernels/tconv_backward_data.cl, kernels/tconv_backward_weights.cl for the
 * index rules and the summation orders).
 *
 * Tiling: the input is cut into tiles of NB samples (then, when one sample
 * does not fit, DT input depths), each with the slab of output depths it
 * needs, so every buffer stays under the device's allocation limit
 * (TCONV_OPENCL_MAX_ALLOC caps it) and the kernels' 32-bit index range.
 * dx is written tile by tile; dw and db are running sums on the device over
 * the tiles in tile order (in the problem's dtype), so the result depends on
 * the tiling only through that fixed order. */
#include "ocl_backward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_errors.h"
#include "ocl_launch.h"
#include "ocl_plan.h"
#include "ocl_program.h"

/* Points per dw chunk: long enough to amortise a work-item, short enough
 * that float32 chunk sums stay accurate and there are chunks to spread. */
#define OCL_BWD_CHUNK_POINTS 1024
/* Output points per db chunk (tconv_backward_bias_part): float32 chunk
 * sums stay accurate, and the chunks' partial sums stay small. */
#define OCL_BWD_BIAS_POINTS 1024
/* Chunks' partial dw sums take at most this much device memory. */
#define OCL_BWD_PART_LIMIT ((uint64_t)64 << 20)

typedef struct bwd_geometry {
    size_t elem;
    int want_data, want_weights, channels_last;
    int64_t cing, coutg, ktot;
    /* Register tiles: dx VEC x NVEC channels x TW points; dw NCI vectors x BO outputs. */
    int vec, nvec, tw, nci, bo, nt;
    int64_t ncb, wt;
    /* Tiles: NB samples x DT input depths, with a dz slab of up to SLAB depths. */
    int64_t nb, dt, slab, tiles;
    int64_t chunk_rows, split;
    /* db: BVEC output channels per work-item, bias_chunks chunks at most per tile. */
    int bvec;
    int64_t bias_chunks;
    int exact; /**< One tile whose buffers are exactly the caller's tensors. */
    uint64_t in_bytes, in_cl_bytes, dz_bytes, dz_cl_bytes, wpack_bytes, part_bytes, dw_bytes,
        db_bytes, bpart_bytes;
} bwd_geometry_t;

struct ocl_backward {
    ocl_state_t *st;
    ocl_device_t *dev;
    cl_context context;     /* the plan's */
    cl_command_queue queue; /* the plan's own: host passes */
    tconv_canonical_t p;
    bwd_geometry_t geo;
    int in_place; /* host passes use the caller's tensors (CL_MEM_USE_HOST_PTR) */
    cl_program program;
    cl_kernel to_cl, data, weights, reduce, bias, bias_reduce, pack;
    /* in_tile: x for dw, dx for the data pass (never both in one call). */
    cl_mem in_tile, in_cl, dz_tile, dz_cl, wpack, part, dw, db, bpart;
    /* Launch sizes of one sample (ocl_launch_size grows the batch
     * dimension: 2 of to_cl, 1 of data) and local sizes that divide every
     * multiple of them; the weights kernel's dimension 2 is the chunks. */
    size_t in_cl_unit[3], dz_cl_unit[3], data_unit[3], weights_unit[3];
    size_t in_cl_local[3], dz_cl_local[3], data_local[3], weights_local[3];
    size_t reduce_global[3], reduce_local[3], bias_unit[3], bias_local[3];
    size_t bias_reduce_global[3], bias_reduce_local[3];
    size_t pack_global[3], pack_local[3];
};

int ocl_backward_wanted(const tconv_canonical_t *p) {
    return (p->passes & (TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS)) != 0;
}

/* ---- geometry ------------------------------------------------------- */

static int64_t ceil_div64(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Largest divisor of n that is at most cap. */
static int divisor_up_to(int64_t n, int cap) {
    for (int d = cap; d > 1; d--)
        if (n % d == 0)
            return d;
    return 1;
}

/* Output depths of the tile of input depths [d0, d1): [lo, hi) is what the
 * tile reads (dz for dx and dw) joined with its own range [own_lo, own_hi)
 * (db). The own ranges of consecutive tiles partition [0, OD): a tile owns
 * from its first input's first tap to the next tile's. */
static void tile_slab(const tconv_canonical_t *p, int64_t d0, int64_t d1, int64_t *lo, int64_t *hi,
                      int64_t *own_lo, int64_t *own_hi) {
    const int64_t s = p->strides[0], c = p->crop_begin[0], od = p->output_size[0];
    const int64_t reach = (p->kernel_size[0] - 1) * p->dilation[0];
    *own_lo = d0 == 0 ? 0 : clamp64(d0 * s - c, 0, od);
    *own_hi = d1 == p->input_size[0] ? od : clamp64(d1 * s - c, 0, od);
    int64_t need_lo = clamp64(d0 * s - c, 0, od),
            need_hi = clamp64((d1 - 1) * s + reach - c + 1, 0, od);
    *lo = need_lo < *own_lo ? need_lo : *own_lo;
    *hi = need_hi > *own_hi ? need_hi : *own_hi;
    if (*hi < *lo)
        *hi = *lo;
}

/* a * b * ... in bytes; 0 on overflow (never a valid size here). */
static uint64_t product(int count, const int64_t *f) {
    uint64_t r = 1;
    for (int i = 0; i < count; i++)
        if (f[i] < 0 || __builtin_mul_overflow(r, (uint64_t)f[i], &r))
            return 0;
    return r;
}
#define PRODUCT(...)                                                                               \
    product((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* Buffer sizes for tiles of nb samples x dt input depths (split = 1). */
static void tile_bytes(const tconv_canonical_t *p, bwd_geometry_t *g, int64_t nb, int64_t dt) {
    const int64_t e = (int64_t)g->elem, id = p->input_size[0];
    g->slab = 0;
    for (int64_t d0 = 0; d0 < id; d0 += dt) {
        int64_t lo, hi, own_lo, own_hi;
        tile_slab(p, d0, d0 + dt < id ? d0 + dt : id, &lo, &hi, &own_lo, &own_hi);
        if (hi - lo > g->slab)
            g->slab = hi - lo;
    }
    g->in_bytes = PRODUCT(nb, dt, p->input_size[1], p->input_size[2], p->in_channels, e);
    g->in_cl_bytes = g->want_weights && !g->channels_last ? g->in_bytes : 0;
    g->dz_bytes = PRODUCT(nb, g->slab ? g->slab : 1, p->output_size[1], p->output_size[2],
                          p->out_channels, e);
    g->dz_cl_bytes = g->channels_last ? 0 : g->dz_bytes;
}

static int tile_fits(const tconv_canonical_t *p, bwd_geometry_t *g, int64_t nb, int64_t dt,
                     uint64_t cap, uint64_t budget) {
    tile_bytes(p, g, nb, dt);
    if (g->in_bytes == 0 || g->dz_bytes == 0) /* overflow */
        return 0;
    const uint64_t sizes[] = {g->in_bytes, g->in_cl_bytes, g->dz_bytes, g->dz_cl_bytes};
    uint64_t total = g->wpack_bytes + g->dw_bytes + g->db_bytes + g->dw_bytes /* part, split 1 */;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (sizes[i] > cap || __builtin_add_overflow(total, sizes[i], &total))
            return 0;
    return total <= budget;
}

/* The largest v in [1, hi] for which tile_fits(nb = v) (by_depth 0) or
 * tile_fits(1 sample, dt = v) holds (both monotone), or 0. */
static int64_t largest_tile(const tconv_canonical_t *p, bwd_geometry_t *g, int by_depth, int64_t hi,
                            uint64_t cap, uint64_t budget) {
    int64_t lo = 1, best = 0;
    while (lo <= hi) {
        int64_t v = lo + (hi - lo) / 2;
        int ok = by_depth ? tile_fits(p, g, 1, v, cap, budget)
                          : tile_fits(p, g, v, p->input_size[0], cap, budget);
        if (ok) {
            best = v;
            lo = v + 1;
        } else {
            hi = v - 1;
        }
    }
    return best;
}

/* Register tiles: channel vectors of the widest width dividing Cin/G, every
 * block whole (no padded channels). */
static void choose_tiles(const tconv_canonical_t *p, bwd_geometry_t *g) {
    const int widths32[] = {16, 8, 4}, widths64[] = {8, 4};
    const int *widths = p->dtype == tconv_f64 ? widths64 : widths32;
    const int nwidths = p->dtype == tconv_f64 ? 2 : 3;
    g->vec = 1;
    for (int i = 0; i < nwidths && g->vec == 1; i++)
        if (g->cing % widths[i] == 0)
            g->vec = widths[i];
    const int64_t vectors = g->cing / g->vec;
    /* dx: 4 vectors x 4 points when a tap's weights for 4 vectors (Cout/G x
     * 4 x VEC) stay within 32 KiB (an L1 data cache), else 2 vectors x 8
     * points: 16 sums either way, 8 instead of 10 loads per 16 FMAs (vnet_up32
     * and nnunet_aniso 1.6-1.9x, nnunet_up4's 256 x 64 weights per tap 0.8x). */
    const int wide = vectors % 4 == 0 && g->coutg * 4 * g->vec * (int64_t)g->elem <= 32768;
    if (g->vec > 1) {
        g->nvec = wide ? 4 : vectors % 2 == 0 ? 2 : 1;
    } else {
        g->nvec = divisor_up_to(g->cing, 4);
    }
    /* dw: NCI vectors x NT W taps x BO output channels of sums per
     * work-item, about 16 vectors (sums of ~64 points in registers, the
     * chunk's in memory): NCI + NT*BO loads per 16 FMAs. W taps join when BO takes the
     * whole group (few output channels: gan_g5's Cout = 1). */
    g->nci = divisor_up_to(g->vec > 1 ? vectors : g->cing, 4);
    g->bo = divisor_up_to(g->coutg, 16 / g->nci < 8 ? 16 / g->nci : 8);
    g->nt = g->bo == g->coutg ? divisor_up_to(p->kernel_size[2], 16 / (g->nci * g->bo)) : 1;
    g->ncb = g->cing / ((int64_t)g->vec * g->nvec);
    /* Up to 8 (4 vectors: 4) points along W per work-item, balanced over the tiles. */
    const int64_t in_w = p->input_size[2];
    g->wt = ceil_div64(in_w, g->nvec == 4 && g->vec > 1 ? 4 : 8);
    g->tw = (int)ceil_div64(in_w, g->wt);
}

/* Chunks of the dw reduction over a tile's rows (see the kernel). */
static void choose_split(const tconv_canonical_t *p, bwd_geometry_t *g, uint64_t cap) {
    const int64_t rows = g->nb * g->dt * p->input_size[1];
    g->chunk_rows = OCL_BWD_CHUNK_POINTS / p->input_size[2];
    if (g->chunk_rows < 1)
        g->chunk_rows = 1;
    g->split = ceil_div64(rows, g->chunk_rows);
    uint64_t limit = cap < OCL_BWD_PART_LIMIT ? cap : OCL_BWD_PART_LIMIT;
    if (g->dw_bytes && (uint64_t)g->split > limit / g->dw_bytes) {
        g->split = (int64_t)(limit / g->dw_bytes) > 1 ? (int64_t)(limit / g->dw_bytes) : 1;
        g->chunk_rows = ceil_div64(rows, g->split);
        g->split = ceil_div64(rows, g->chunk_rows);
    }
    g->part_bytes = g->want_weights ? (uint64_t)g->split * g->dw_bytes : 0;
}

static tconv_status_t geometry_init(const tconv_canonical_t *p, uint64_t max_alloc,
                                    uint64_t global_mem, uint64_t forward_bytes, bwd_geometry_t *g,
                                    char *msg, size_t msg_size) {
    memset(g, 0, sizeof(*g));
    g->elem = p->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    g->want_data = (p->passes & TCONV_PASS_BACKWARD_DATA) != 0;
    g->want_weights = (p->passes & TCONV_PASS_BACKWARD_WEIGHTS) != 0;
    g->channels_last = p->data_format == tconv_channels_last;
    g->cing = p->in_channels / p->groups;
    g->coutg = p->out_channels / p->groups;
    g->ktot = p->kernel_size[0] * p->kernel_size[1] * p->kernel_size[2];
    choose_tiles(p, g);
    const int64_t e = (int64_t)g->elem;
    const uint64_t kernel_bytes = PRODUCT(g->ktot, g->coutg, p->in_channels, e);
    g->wpack_bytes = g->want_data ? kernel_bytes : 0;
    g->dw_bytes = g->want_weights ? kernel_bytes : 0;
    g->db_bytes = g->want_weights && p->use_bias ? (uint64_t)(p->out_channels * e) : 0;

    if (max_alloc == 0)
        max_alloc = UINT64_MAX;
    const uint64_t int_cap = (uint64_t)INT32_MAX * g->elem; /* 32-bit indices in the kernels */
    const uint64_t cap = max_alloc < int_cap ? max_alloc : int_cap;
    uint64_t budget = global_mem ? global_mem - global_mem / 8 : UINT64_MAX;
    budget = budget > forward_bytes ? budget - forward_bytes : 0;
    if (kernel_bytes == 0 || kernel_bytes > cap) {
        ocl_msg(msg, msg_size,
                "backward pass: the kernel gradient needs %llu bytes, more than the device's max "
                "allocation %llu (or the kernels' 32-bit index range)",
                (unsigned long long)kernel_bytes, (unsigned long long)cap);
        return tconv_unimplemented;
    }
    /* Whole batch if it fits, else the most samples, else split the depth. */
    const int64_t n = p->batch, id = p->input_size[0];
    g->nb = largest_tile(p, g, 0, n, cap, budget);
    g->dt = id;
    if (g->nb == 0) {
        g->nb = 1;
        g->dt = largest_tile(p, g, 1, id, cap, budget);
        if (g->dt == 0) {
            tile_bytes(p, g, 1, 1);
            ocl_msg(msg, msg_size,
                    "backward pass: one input depth of one sample needs buffers of %llu/%llu "
                    "bytes (input/output gradient slab) next to %llu bytes of weight buffers; "
                    "the device allows %llu per allocation",
                    (unsigned long long)g->in_bytes, (unsigned long long)g->dz_bytes,
                    (unsigned long long)(g->wpack_bytes + 2 * g->dw_bytes + g->db_bytes),
                    (unsigned long long)cap);
            return tconv_unimplemented;
        }
    }
    tile_bytes(p, g, g->nb, g->dt);
    g->tiles = ceil_div64(n, g->nb) * ceil_div64(id, g->dt);
    g->exact = g->tiles == 1; /* then nb = N, dt = ID and the slab is [0, OD) */
    uint64_t used = g->in_bytes + g->in_cl_bytes + g->dz_bytes + g->dz_cl_bytes + g->wpack_bytes +
                    g->dw_bytes + g->db_bytes;
    choose_split(p, g, budget > used && budget - used < cap ? budget - used : cap);
    if (g->db_bytes) {
        const int widths[] = {16, 8, 4, 2};
        g->bvec = 1;
        for (int i = 0; i < 4 && g->bvec == 1; i++)
            if (p->out_channels % widths[i] == 0)
                g->bvec = widths[i];
        /* A tile's own depths are at most its slab. */
        g->bias_chunks = g->nb * ceil_div64(g->slab * p->output_size[1] * p->output_size[2],
                                            OCL_BWD_BIAS_POINTS);
        g->bpart_bytes = PRODUCT(g->bias_chunks, p->out_channels, (int64_t)g->elem);
    }
    return tconv_success;
}

tconv_status_t ocl_backward_check(const ocl_device_t *dev, const tconv_canonical_t *p,
                                  uint64_t forward_bytes, const ocl_binary_options_t *binaries,
                                  char *msg, size_t msg_size) {
    if (!ocl_backward_wanted(p))
        return tconv_success;
    if (p->activation != tconv_activation_linear) {
        ocl_msg(msg, msg_size,
                "backward pass with activation %d: the backend computes dL/dz only (the core "
                "applies the activation)",
                (int)p->activation);
        return tconv_unimplemented;
    }
    if (binaries->binary) {
        char given[4200];
        ocl_binary_describe(binaries->binary_name, binaries->binary_option, binaries->binary, given,
                            sizeof(given));
        ocl_msg(msg, msg_size,
                "backward pass: %s holds the forward program only, and the backward kernels "
                "are never compiled from source in that mode",
                given);
        return tconv_unimplemented;
    }
    bwd_geometry_t g;
    return geometry_init(p, ocl_device_max_alloc(dev), dev->global_mem, forward_bytes, &g, msg,
                         msg_size);
}

/* ---- program, kernels, buffers -------------------------------------- */

static int build_options(const tconv_canonical_t *p, const bwd_geometry_t *g, char *out,
                         size_t size) {
    const struct {
        const char *name;
        long long value;
    } defs[] = {
        {"VEC", g->vec},
        {"ACT", tconv_activation_linear},
        {"ALPHA", 0},
        {"DT", g->dt},
        {"SLAB", g->slab},
        {"G", p->groups},
        {"CIN", p->in_channels},
        {"COUT", p->out_channels},
        {"CING", g->cing},
        {"COUTG", g->coutg},
        {"IN_D", p->input_size[0]},
        {"IN_H", p->input_size[1]},
        {"IN_W", p->input_size[2]},
        {"OD", p->output_size[0]},
        {"OH", p->output_size[1]},
        {"OW", p->output_size[2]},
        {"KD", p->kernel_size[0]},
        {"KH", p->kernel_size[1]},
        {"KW", p->kernel_size[2]},
        {"SD", p->strides[0]},
        {"SH", p->strides[1]},
        {"SW", p->strides[2]},
        {"DD", p->dilation[0]},
        {"DH", p->dilation[1]},
        {"DW", p->dilation[2]},
        {"CROP_D", p->crop_begin[0]},
        {"CROP_H", p->crop_begin[1]},
        {"CROP_W", p->crop_begin[2]},
        {"IN_CL", g->channels_last},
        {"KERNEL_KERAS", p->kernel_layout == tconv_kernel_keras},
        {"NVEC", g->nvec},
        {"NCB", g->ncb},
        {"TW", g->tw},
        {"WT", g->wt},
        {"NCI", g->nci},
        {"BO", g->bo},
        {"NT", g->nt},
        {"CHUNK_ROWS", g->chunk_rows},
        {"BVEC", g->bvec ? g->bvec : 1},
        {"BPTS", OCL_BWD_BIAS_POINTS},
    };
    int len =
        snprintf(out, size, "-cl-std=CL1.2 -DREAL=%s%s", p->dtype == tconv_f64 ? "double" : "float",
                 p->dtype == tconv_f64 ? " -DUSE_F64" : "");
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]) && len >= 0 && (size_t)len < size; i++)
        len += snprintf(out + len, size - (size_t)len, " -D%s=%lld", defs[i].name, defs[i].value);
    return len >= 0 && (size_t)len < size;
}

static size_t group_limit(const ocl_backward_t *b, cl_kernel k) {
    size_t wg = 1;
    if (clGetKernelWorkGroupInfo(k, b->dev->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(wg), &wg, NULL) !=
        CL_SUCCESS)
        wg = 1;
    return wg ? wg : 1;
}

/* The launch size @p global (of one sample, where it grows with the batch)
 * and a local size dividing it. */
static void set_range(const ocl_backward_t *b, cl_kernel k, size_t g0, size_t g1, size_t g2,
                      size_t target, size_t global[3], size_t local[3]) {
    global[0] = g0 ? g0 : 1;
    global[1] = g1 ? g1 : 1;
    global[2] = g2 ? g2 : 1;
    ocl_choose_local(global, group_limit(b, k), target, local);
}

static tconv_status_t create_objects(ocl_backward_t *b, char *msg, size_t msg_size) {
    const bwd_geometry_t *g = &b->geo;
    const int cf = !g->channels_last;
    const struct {
        cl_kernel *slot;
        const char *name;
        int wanted;
    } kernels[] = {
        {&b->to_cl, "tconv_to_channels_last", cf},
        {&b->data, "tconv_backward_data", g->want_data},
        {&b->weights, "tconv_backward_weights", g->want_weights},
        {&b->reduce, "tconv_backward_weights_reduce", g->want_weights},
        {&b->bias, "tconv_backward_bias_part", g->want_weights && b->p.use_bias},
        {&b->bias_reduce, "tconv_backward_bias_reduce", g->want_weights && b->p.use_bias},
        {&b->pack, "tconv_pack_backward_weights", g->want_data},
    };
    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
        if (!kernels[i].wanted)
            continue;
        cl_int err = CL_SUCCESS;
        *kernels[i].slot = clCreateKernel(b->program, kernels[i].name, &err);
        if (err != CL_SUCCESS || !*kernels[i].slot) {
            *kernels[i].slot = NULL;
            char call[128];
            snprintf(call, sizeof(call), "clCreateKernel(%s)", kernels[i].name);
            return ocl_fail(err, call, msg, msg_size);
        }
    }
    const int staged = !b->in_place;
    const struct {
        cl_mem *slot;
        uint64_t bytes;
        cl_mem_flags flags;
        const char *what;
    } buffers[] = {
        {&b->in_tile, staged ? g->in_bytes : 0, CL_MEM_READ_WRITE, "input/grad_input tile"},
        {&b->in_cl, g->in_cl_bytes, CL_MEM_READ_WRITE, "channels-last input tile"},
        {&b->dz_tile, staged ? g->dz_bytes : 0, CL_MEM_READ_ONLY, "grad_output slab"},
        {&b->dz_cl, g->dz_cl_bytes, CL_MEM_READ_WRITE, "channels-last grad_output slab"},
        {&b->wpack, g->wpack_bytes, CL_MEM_READ_ONLY, "backward weights"},
        {&b->part, g->part_bytes, CL_MEM_READ_WRITE, "grad_kernel partial sums"},
        {&b->dw, g->dw_bytes, CL_MEM_WRITE_ONLY, "grad_kernel"},
        {&b->db, g->db_bytes, CL_MEM_READ_WRITE, "grad_bias"},
        {&b->bpart, g->bpart_bytes, CL_MEM_READ_WRITE, "grad_bias partial sums"},
    };
    for (size_t i = 0; i < sizeof(buffers) / sizeof(buffers[0]); i++) {
        if (buffers[i].bytes == 0)
            continue;
        cl_int err = CL_SUCCESS;
        *buffers[i].slot =
            clCreateBuffer(b->context, buffers[i].flags, (size_t)buffers[i].bytes, NULL, &err);
        if (err != CL_SUCCESS || !*buffers[i].slot) {
            *buffers[i].slot = NULL;
            char call[160];
            snprintf(call, sizeof(call), "clCreateBuffer (backward %s, %llu bytes)",
                     buffers[i].what, (unsigned long long)buffers[i].bytes);
            return ocl_fail(err, call, msg, msg_size);
        }
    }
    const tconv_canonical_t *p = &b->p;
    if (b->to_cl) {
        set_range(b, b->to_cl, (size_t)(g->dt * p->input_size[1] * p->input_size[2]),
                  (size_t)p->in_channels, 1, 64, b->in_cl_unit, b->in_cl_local);
        set_range(b, b->to_cl, (size_t)(g->slab * p->output_size[1] * p->output_size[2]),
                  (size_t)p->out_channels, 1, 64, b->dz_cl_unit, b->dz_cl_local);
    }
    if (b->data) {
        set_range(b, b->data, (size_t)(p->input_size[1] * g->wt), (size_t)g->dt,
                  (size_t)(p->groups * g->ncb), 4, b->data_unit, b->data_local);
        set_range(b, b->pack, (size_t)(g->ktot * g->coutg * p->in_channels), 1, 1, 64,
                  b->pack_global, b->pack_local);
    }
    if (b->weights) {
        size_t blocks = (size_t)(g->cing / ((int64_t)g->vec * g->nci) * (g->coutg / g->bo));
        set_range(b, b->weights, blocks, (size_t)(p->groups * g->ktot / g->nt), 1, 4,
                  b->weights_unit, b->weights_local);
        set_range(b, b->reduce, (size_t)(g->ktot * g->coutg * p->in_channels), 1, 1, 64,
                  b->reduce_global, b->reduce_local);
    }
    if (b->bias) {
        /* dim 1 (chunks) is a run-time size: a local size of 1 along it. */
        set_range(b, b->bias, (size_t)(p->out_channels / g->bvec), 1, 1, 64, b->bias_unit,
                  b->bias_local);
        set_range(b, b->bias_reduce, (size_t)p->out_channels, 1, 1, 64, b->bias_reduce_global,
                  b->bias_reduce_local);
    }
    return tconv_success;
}

/* ---- enqueueing ----------------------------------------------------- */

/* Launches: OCL_LAUNCH with OCL_MEM / OCL_INT arguments (ocl_launch.h). */

/* The channels-last view of a tile of the caller's layout: converted into
 * @p converted first when the layout is channels first. */
static tconv_status_t channels_last(ocl_backward_t *b, ocl_chain_t *c, cl_mem src, cl_mem converted,
                                    int input, int64_t nvalid, cl_mem *view, char *msg,
                                    size_t msg_size) {
    if (b->geo.channels_last) {
        *view = src;
        return tconv_success;
    }
    *view = converted;
    const size_t *unit = input ? b->in_cl_unit : b->dz_cl_unit;
    const size_t *local = input ? b->in_cl_local : b->dz_cl_local;
    size_t global[3];
    ocl_launch_size(unit, 2, nvalid, global);
    return OCL_LAUNCH(c, b->to_cl, "tconv_to_channels_last", global, local, msg, msg_size,
                      OCL_MEM(src), OCL_MEM(converted), OCL_INT(global[1]), OCL_INT(global[0]),
                      OCL_INT(nvalid));
}

/* One tile of the walk over (samples, input depths), in tile order. */
typedef struct tile {
    int64_t index, n0, nvalid, d0, dvalid, lo, hi, own_lo, own_hi;
} tile_t;

/* The next tile of a pass over @p batch samples (t->index -1 first). */
static int tile_next(const ocl_backward_t *b, int64_t batch, tile_t *t) {
    const tconv_canonical_t *p = &b->p;
    const bwd_geometry_t *g = &b->geo;
    const int64_t depth_tiles = ceil_div64(p->input_size[0], g->dt);
    t->index = t->index < 0 ? 0 : t->index + 1;
    if (t->index >= ceil_div64(batch, g->nb) * depth_tiles)
        return 0;
    t->n0 = t->index / depth_tiles * g->nb;
    t->d0 = t->index % depth_tiles * g->dt;
    t->nvalid = batch - t->n0 < g->nb ? batch - t->n0 : g->nb;
    t->dvalid = p->input_size[0] - t->d0 < g->dt ? p->input_size[0] - t->d0 : g->dt;
    tile_slab(p, t->d0, t->d0 + t->dvalid, &t->lo, &t->hi, &t->own_lo, &t->own_hi);
    return 1;
}

/* The caller's tensor -> tile buffer (output 0: an input-shaped tensor, 1: dz). */
static tconv_status_t upload(ocl_backward_t *b, ocl_chain_t *c, cl_mem buf, ocl_tensor_t src,
                             int output, const tile_t *t, char *msg, size_t msg_size) {
    const bwd_geometry_t *g = &b->geo;
    int64_t d0 = output ? t->lo : t->d0, d1 = output ? t->hi : t->d0 + t->dvalid;
    if (d1 <= d0)
        return tconv_success;
    ocl_rect_t r =
        ocl_tile_rect(&b->p, g->elem, output, d0, d1, output ? g->slab : g->dt, t->n0, t->nvalid);
    const char *call = "";
    cl_int err = ocl_copy_rect(c, &r, buf, src, 1, &call);
    if (err != CL_SUCCESS) {
        char what[96];
        snprintf(what, sizeof(what), "%s(%s)", call, output ? "grad_output" : "input");
        return ocl_fail(err, what, msg, msg_size);
    }
    return tconv_success;
}

/* The tensors of one pass: the caller's (x, dz, dx; host memory or
 * buffers; absent ones zero) and the cl_mem the kernels use for each: the
 * caller's memory itself when direct (one tile laid out as the caller's
 * tensors: host memory wrapped in place, or the caller's buffers), else
 * the tile buffers. */
typedef struct tensors {
    ocl_tensor_t x, dz, dx;
    int direct, wrapped;
    cl_mem mx, mdz, mdx;
} tensors_t;

static tconv_status_t wrap_host(ocl_backward_t *b, const void *host, uint64_t bytes, int write,
                                cl_mem *out, const char *what, char *msg, size_t msg_size) {
    cl_int err = CL_SUCCESS;
    *out = clCreateBuffer(b->context,
                          (write ? CL_MEM_WRITE_ONLY : CL_MEM_READ_ONLY) | CL_MEM_USE_HOST_PTR,
                          (size_t)bytes, (void *)host, &err);
    if (err != CL_SUCCESS || !*out) {
        *out = NULL;
        char call[96];
        snprintf(call, sizeof(call), "clCreateBuffer(%s, CL_MEM_USE_HOST_PTR)", what);
        return ocl_fail(err, call, msg, msg_size);
    }
    return tconv_success;
}

/* Bytes of @p batch samples of the input (@p output 0) or output (1). */
static uint64_t tensor_bytes(const ocl_backward_t *b, int output, int64_t batch) {
    const tconv_canonical_t *p = &b->p;
    const int64_t *sz = output ? p->output_size : p->input_size;
    return (uint64_t)(batch * (output ? p->out_channels : p->in_channels) * sz[0] * sz[1] * sz[2]) *
           b->geo.elem;
}

static tconv_status_t tensors_open(ocl_backward_t *b, int64_t batch, tensors_t *t, char *msg,
                                   size_t msg_size) {
    const int buffers = t->dz.mem != NULL;
    t->direct = buffers ? b->geo.exact : b->in_place;
    t->wrapped = 0;
    if (!t->direct) {
        t->mx = t->x.host || t->x.mem ? b->in_tile : NULL;
        t->mdz = b->dz_tile;
        t->mdx = t->dx.host || t->dx.mem ? b->in_tile : NULL;
        return tconv_success;
    }
    if (buffers) {
        t->mx = t->x.mem;
        t->mdz = t->dz.mem;
        t->mdx = t->dx.mem;
        return tconv_success;
    }
    t->wrapped = 1;
    tconv_status_t s = wrap_host(b, t->dz.host, tensor_bytes(b, 1, batch), 0, &t->mdz,
                                 "grad_output", msg, msg_size);
    if (s == tconv_success && t->x.host)
        s = wrap_host(b, t->x.host, tensor_bytes(b, 0, batch), 0, &t->mx, "input", msg, msg_size);
    if (s == tconv_success && t->dx.host)
        s = wrap_host(b, t->dx.host, tensor_bytes(b, 0, batch), 1, &t->mdx, "grad_input", msg,
                      msg_size);
    return s;
}

static void tensors_close(tensors_t *t) {
    if (!t->wrapped)
        return;
    cl_mem m[] = {t->mx, t->mdz, t->mdx};
    for (size_t i = 0; i < 3; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
}

static tconv_status_t data_tile(ocl_backward_t *b, ocl_chain_t *c, const tensors_t *ts,
                                const tile_t *t, char *msg, size_t msg_size) {
    cl_mem dz;
    tconv_status_t s = channels_last(b, c, ts->mdz, b->dz_cl, 0, t->nvalid, &dz, msg, msg_size);
    if (s != tconv_success)
        return s;
    size_t global[3];
    ocl_launch_size(b->data_unit, 1, t->nvalid, global);
    return OCL_LAUNCH(c, b->data, "tconv_backward_data", global, b->data_local, msg, msg_size,
                      OCL_MEM(dz), OCL_MEM(b->wpack), OCL_MEM(ts->mdx), OCL_INT(t->d0),
                      OCL_INT(t->lo), OCL_INT(t->nvalid), OCL_INT(t->dvalid));
}

/* Chunks of the weights pass over a tile of @p nvalid samples: the first
 * chunks of a full tile's (the rows of sample n come before those of n+1). */
static int64_t tile_chunks(const ocl_backward_t *b, int64_t nvalid) {
    const bwd_geometry_t *g = &b->geo;
    int64_t rows = (nvalid > 0 ? nvalid : 1) * g->dt * b->p.input_size[1];
    int64_t chunks = ceil_div64(rows, g->chunk_rows);
    return chunks < g->split ? chunks : g->split;
}

static tconv_status_t weights_tile(ocl_backward_t *b, ocl_chain_t *c, const tensors_t *ts,
                                   const tile_t *t, cl_mem db, int want_kernel, int want_bias,
                                   char *msg, size_t msg_size) {
    cl_mem dz, x;
    tconv_status_t s = channels_last(b, c, ts->mdz, b->dz_cl, 0, t->nvalid, &dz, msg, msg_size);
    const int accumulate = t->index > 0;
    if (s == tconv_success && want_kernel)
        s = channels_last(b, c, ts->mx, b->in_cl, 1, t->nvalid, &x, msg, msg_size);
    if (s == tconv_success && want_kernel) {
        size_t global[3] = {b->weights_unit[0], b->weights_unit[1],
                            (size_t)tile_chunks(b, t->nvalid)};
        s = OCL_LAUNCH(c, b->weights, "tconv_backward_weights", global, b->weights_local, msg,
                       msg_size, OCL_MEM(x), OCL_MEM(dz), OCL_MEM(b->part), OCL_INT(t->d0),
                       OCL_INT(t->lo), OCL_INT(t->nvalid), OCL_INT(t->dvalid), OCL_INT(accumulate));
    }
    if (s == tconv_success && want_bias) {
        const tconv_canonical_t *p = &b->p;
        const int64_t cps = ceil_div64(
            (t->own_hi - t->own_lo) * p->output_size[1] * p->output_size[2], OCL_BWD_BIAS_POINTS);
        const int64_t chunks = t->nvalid * cps;
        size_t global[3] = {b->bias_unit[0], (size_t)(chunks > 0 ? chunks : 1), 1};
        s = OCL_LAUNCH(c, b->bias, "tconv_backward_bias_part", global, b->bias_local, msg, msg_size,
                       OCL_MEM(dz), OCL_MEM(b->bpart), OCL_INT(t->own_lo - t->lo),
                       OCL_INT(t->own_hi - t->lo), OCL_INT(cps), OCL_INT(chunks));
        if (s == tconv_success)
            s = OCL_LAUNCH(c, b->bias_reduce, "tconv_backward_bias_reduce", b->bias_reduce_global,
                           b->bias_reduce_local, msg, msg_size, OCL_MEM(b->bpart), OCL_MEM(db),
                           OCL_INT(chunks), OCL_INT(accumulate));
    }
    return s;
}

static tconv_status_t enqueue_pack(ocl_backward_t *b, ocl_chain_t *c, cl_mem kernel, int warm_up,
                                   char *msg, size_t msg_size) {
    const int64_t count = warm_up ? 0 : (int64_t)(b->geo.wpack_bytes / b->geo.elem);
    return OCL_LAUNCH(c, b->pack, "tconv_pack_backward_weights", b->pack_global, b->pack_local, msg,
                      msg_size, OCL_MEM(kernel), OCL_MEM(b->wpack), OCL_INT(count));
}

/* Runs every kernel once with no valid sample, so drivers that compile per
 * work-group size (PoCL) do it at plan creation, not in the first call. */
static tconv_status_t warm_up(ocl_backward_t *b, char *msg, size_t msg_size) {
    cl_mem any = b->wpack ? b->wpack : b->part; /* never dereferenced with nvalid = 0 */
    const tensors_t none = {.mx = any, .mdz = any, .mdx = any};
    const tile_t t = {.index = 0, .nvalid = 0, .dvalid = 0};
    ocl_chain_t c;
    ocl_chain_begin(&c, b->queue, NULL, 0);
    tconv_status_t s = tconv_success;
    if (b->data)
        s = data_tile(b, &c, &none, &t, msg, msg_size);
    if (s == tconv_success && b->pack)
        s = enqueue_pack(b, &c, b->wpack, 1, msg, msg_size);
    if (s == tconv_success && b->weights) {
        s = weights_tile(b, &c, &none, &t, b->db, 1, b->bias != NULL, msg, msg_size);
        if (s == tconv_success)
            s = OCL_LAUNCH(&c, b->reduce, "tconv_backward_weights_reduce", b->reduce_global,
                           b->reduce_local, msg, msg_size, OCL_MEM(b->part), OCL_MEM(b->dw),
                           OCL_INT(1));
    }
    cl_int err;
    if (s == tconv_success && (err = clFinish(b->queue)) != CL_SUCCESS)
        s = ocl_fail(err, "clFinish", msg, msg_size);
    return s;
}

tconv_status_t ocl_backward_create(ocl_state_t *st, ocl_device_t *dev, cl_context context,
                                   cl_command_queue queue, const tconv_canonical_t *p,
                                   uint64_t forward_bytes, const ocl_binary_options_t *binaries,
                                   ocl_backward_t **out, char *msg, size_t msg_size) {
    *out = NULL;
    tconv_status_t s = ocl_backward_check(dev, p, forward_bytes, binaries, msg, msg_size);
    if (s != tconv_success)
        return s;
    ocl_backward_t *b = calloc(1, sizeof(*b));
    if (!b) {
        ocl_msg(msg, msg_size, "out of host memory for the backward pass");
        return tconv_out_of_memory;
    }
    b->st = st;
    b->dev = dev;
    b->context = context;
    b->queue = queue;
    b->p = *p;
    bwd_geometry_t *g = &b->geo;
    s = geometry_init(p, ocl_device_max_alloc(dev), dev->global_mem, forward_bytes, g, msg,
                      msg_size);
    b->in_place = s == tconv_success && g->exact && dev->host_unified &&
                  getenv("TCONV_OPENCL_NO_IN_PLACE") == NULL;
    char options[2048];
    if (s == tconv_success && !build_options(p, g, options, sizeof(options))) {
        ocl_msg(msg, msg_size, "backward build options exceed %zu characters", sizeof(options));
        s = tconv_runtime_error;
    }
    int fresh = 0;
    if (s == tconv_success) {
        OCL_LOG(st, tconv_log_debug,
                "opencl:%zu: backward%s%s%s, dx vec %d x %d x tw %d, dw vec %d x %d x bo %d x nt "
                "%d, %lld "
                "chunk(s) of %lld row(s), %lld tile(s) of %lld sample(s) x %lld depth; %s",
                dev->index, g->want_data ? " data" : "", g->want_weights ? " weights" : "",
                b->in_place ? " in place" : "", g->vec, g->nvec, g->tw, g->vec, g->nci, g->bo,
                g->nt, (long long)g->split, (long long)g->chunk_rows, (long long)g->tiles,
                (long long)g->nb, (long long)g->dt, options);
        s = ocl_program_get(st, dev, context, ocl_sources_backward, options, binaries, &b->program,
                            &fresh, msg, msg_size);
    }
    if (s == tconv_success)
        s = create_objects(b, msg, msg_size);
    if (s == tconv_success)
        s = warm_up(b, msg, msg_size);
    if (s == tconv_success)
        s = ocl_program_persist(st, dev, ocl_sources_backward, options, binaries, b->program, fresh,
                                msg, msg_size);
    if (s != tconv_success) {
        ocl_backward_destroy(b);
        return s;
    }
    *out = b;
    return tconv_success;
}

/* ---- weights --------------------------------------------------------- */

/* Walks the caller's kernel in its own order and puts each weight at
 * [g][tap][o][ci] (ci within the group, contiguous for the channel vectors);
 * tconv_pack_backward_weights does the same on the device. */
#define PACK_BACKWARD(T)                                                                           \
    do {                                                                                           \
        const T *src = kernel;                                                                     \
        T *dst = packed;                                                                           \
        size_t e = 0;                                                                              \
        if (p->kernel_layout == tconv_kernel_keras) {                                              \
            for (int64_t tap = 0; tap < g->ktot; tap++)                                            \
                for (int64_t o = 0; o < g->coutg; o++)                                             \
                    for (int64_t c = 0; c < p->in_channels; c++, e++)                              \
                        dst[(((c / g->cing) * g->ktot + tap) * g->coutg + o) * g->cing +           \
                            c % g->cing] = src[e];                                                 \
        } else {                                                                                   \
            for (int64_t c = 0; c < p->in_channels; c++)                                           \
                for (int64_t o = 0; o < g->coutg; o++)                                             \
                    for (int64_t tap = 0; tap < g->ktot; tap++, e++)                               \
                        dst[(((c / g->cing) * g->ktot + tap) * g->coutg + o) * g->cing +           \
                            c % g->cing] = src[e];                                                 \
        }                                                                                          \
    } while (0)

tconv_status_t ocl_backward_set_weights(ocl_backward_t *b, const void *kernel, char *msg,
                                        size_t msg_size) {
    const tconv_canonical_t *p = &b->p;
    const bwd_geometry_t *g = &b->geo;
    if (!b->wpack)
        return tconv_success; /* only the data gradient reads the weights */
    void *packed = malloc((size_t)g->wpack_bytes);
    if (!packed) {
        ocl_msg(msg, msg_size, "out of host memory packing %llu bytes of backward weights",
                (unsigned long long)g->wpack_bytes);
        return tconv_out_of_memory;
    }
    if (p->dtype == tconv_f64)
        PACK_BACKWARD(double);
    else
        PACK_BACKWARD(float);
    cl_int err = clEnqueueWriteBuffer(b->queue, b->wpack, CL_TRUE, 0, (size_t)g->wpack_bytes,
                                      packed, 0, NULL, NULL);
    free(packed);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clEnqueueWriteBuffer(backward weights)", msg, msg_size);
    return tconv_success;
}

tconv_status_t ocl_backward_pack_weights(ocl_backward_t *b, ocl_chain_t *c, cl_mem kernel,
                                         char *msg, size_t msg_size) {
    if (!b->wpack)
        return tconv_success;
    return enqueue_pack(b, c, kernel, 0, msg, msg_size);
}

/* ---- the passes ------------------------------------------------------ */

/* Makes the in-place grad_input coherent for the host (map, unmap). */
static tconv_status_t sync_host(ocl_chain_t *c, cl_mem m, uint64_t bytes, char *msg,
                                size_t msg_size) {
    cl_int err = CL_SUCCESS;
    void *mapped = clEnqueueMapBuffer(c->queue, m, CL_TRUE, CL_MAP_READ, 0, (size_t)bytes, 0, NULL,
                                      NULL, &err);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clEnqueueMapBuffer(grad_input)", msg, msg_size);
    err = clEnqueueUnmapMemObject(c->queue, m, mapped, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clEnqueueUnmapMemObject(grad_input)", msg, msg_size);
    return tconv_success;
}

/* The data pass over @p batch samples in chain @p c (host or enqueue). */
static tconv_status_t data_pass(ocl_backward_t *b, ocl_chain_t *c, int64_t batch, tensors_t *ts,
                                char *msg, size_t msg_size) {
    if (!b->data) {
        ocl_msg(msg, msg_size, "the plan was created without TCONV_PASS_BACKWARD_DATA");
        return tconv_invalid_arguments;
    }
    const bwd_geometry_t *g = &b->geo;
    tconv_status_t s = tensors_open(b, batch, ts, msg, msg_size);
    tile_t t = {.index = -1};
    while (s == tconv_success && tile_next(b, batch, &t)) {
        if (!ts->direct)
            s = upload(b, c, ts->mdz, ts->dz, 1, &t, msg, msg_size);
        if (s == tconv_success)
            s = data_tile(b, c, ts, &t, msg, msg_size);
        if (s != tconv_success || ts->direct)
            continue;
        ocl_rect_t r =
            ocl_tile_rect(&b->p, g->elem, 0, t.d0, t.d0 + t.dvalid, g->dt, t.n0, t.nvalid);
        const char *call = "";
        cl_int err = ocl_copy_rect(c, &r, ts->mdx, ts->dx, 0, &call);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof(what), "%s(grad_input)", call);
            s = ocl_fail(err, what, msg, msg_size);
        }
    }
    if (s == tconv_success && ts->wrapped)
        s = sync_host(c, ts->mdx, tensor_bytes(b, 0, batch), msg, msg_size);
    return s;
}

/* The weights pass over @p batch samples: dw into @p dw (the plan's
 * buffer, or the caller's), db into @p db; NULL: not wanted. */
static tconv_status_t weights_pass(ocl_backward_t *b, ocl_chain_t *c, int64_t batch, tensors_t *ts,
                                   cl_mem dw, cl_mem db, char *msg, size_t msg_size) {
    const int want_kernel = dw != NULL, want_bias = db != NULL;
    if (!b->weights || (want_bias && !b->bias)) {
        ocl_msg(msg, msg_size, "the plan was created without TCONV_PASS_BACKWARD_WEIGHTS%s",
                b->weights ? " and a bias" : "");
        return tconv_invalid_arguments;
    }
    tconv_status_t s = tensors_open(b, batch, ts, msg, msg_size);
    tile_t t = {.index = -1};
    while (s == tconv_success && tile_next(b, batch, &t)) {
        if (!ts->direct) {
            s = upload(b, c, ts->mdz, ts->dz, 1, &t, msg, msg_size);
            if (s == tconv_success && want_kernel)
                s = upload(b, c, ts->mx, ts->x, 0, &t, msg, msg_size);
        }
        if (s == tconv_success)
            s = weights_tile(b, c, ts, &t, db, want_kernel, want_bias, msg, msg_size);
    }
    if (s == tconv_success && want_kernel)
        s = OCL_LAUNCH(c, b->reduce, "tconv_backward_weights_reduce", b->reduce_global,
                       b->reduce_local, msg, msg_size, OCL_MEM(b->part), OCL_MEM(dw),
                       OCL_INT(tile_chunks(b, batch < b->geo.nb ? batch : b->geo.nb)));
    return s;
}

/* Drains the queue (host pointers must not be used after return) and keeps
 * the first failure. */
static tconv_status_t finish(ocl_backward_t *b, tensors_t *ts, tconv_status_t s, char *msg,
                             size_t msg_size) {
    cl_int err = clFinish(b->queue);
    if (s == tconv_success && err != CL_SUCCESS)
        s = ocl_fail(err, "clFinish", msg, msg_size);
    tensors_close(ts);
    return s;
}

tconv_status_t ocl_backward_data(ocl_backward_t *b, int64_t batch, const void *grad_output,
                                 void *grad_input, char *msg, size_t msg_size) {
    ocl_chain_t c;
    ocl_chain_begin(&c, b->queue, NULL, 0);
    tensors_t ts = {.dz = {(void *)grad_output, NULL}, .dx = {grad_input, NULL}};
    tconv_status_t s = data_pass(b, &c, batch, &ts, msg, msg_size);
    return finish(b, &ts, s, msg, msg_size);
}

tconv_status_t ocl_backward_weights(ocl_backward_t *b, int64_t batch, const void *input,
                                    const void *grad_output, void *grad_kernel, void *grad_bias,
                                    char *msg, size_t msg_size) {
    const bwd_geometry_t *g = &b->geo;
    ocl_chain_t c;
    ocl_chain_begin(&c, b->queue, NULL, 0);
    tensors_t ts = {.x = {grad_kernel ? (void *)input : NULL, NULL},
                    .dz = {(void *)grad_output, NULL}};
    tconv_status_t s = weights_pass(b, &c, batch, &ts, grad_kernel ? b->dw : NULL,
                                    grad_bias ? b->db : NULL, msg, msg_size);
    cl_int err;
    if (s == tconv_success && grad_kernel &&
        (err = clEnqueueReadBuffer(b->queue, b->dw, CL_TRUE, 0, (size_t)g->dw_bytes, grad_kernel, 0,
                                   NULL, NULL)) != CL_SUCCESS)
        s = ocl_fail(err, "clEnqueueReadBuffer(grad_kernel)", msg, msg_size);
    if (s == tconv_success && grad_bias &&
        (err = clEnqueueReadBuffer(b->queue, b->db, CL_TRUE, 0, (size_t)g->db_bytes, grad_bias, 0,
                                   NULL, NULL)) != CL_SUCCESS)
        s = ocl_fail(err, "clEnqueueReadBuffer(grad_bias)", msg, msg_size);
    return finish(b, &ts, s, msg, msg_size);
}

tconv_status_t ocl_backward_enqueue_data(ocl_backward_t *b, ocl_chain_t *c, int64_t batch,
                                         cl_mem grad_output, cl_mem grad_input, char *msg,
                                         size_t msg_size) {
    tensors_t ts = {.dz = {NULL, grad_output}, .dx = {NULL, grad_input}};
    return data_pass(b, c, batch, &ts, msg, msg_size);
}

tconv_status_t ocl_backward_enqueue_weights(ocl_backward_t *b, ocl_chain_t *c, int64_t batch,
                                            cl_mem input, cl_mem grad_output, cl_mem grad_kernel,
                                            cl_mem grad_bias, char *msg, size_t msg_size) {
    tensors_t ts = {.x = {NULL, input}, .dz = {NULL, grad_output}};
    return weights_pass(b, c, batch, &ts, grad_kernel, grad_bias, msg, msg_size);
}

void ocl_backward_destroy(ocl_backward_t *b) {
    if (!b)
        return;
    if (b->queue)
        clFinish(b->queue);
    cl_mem bufs[] = {b->in_tile, b->in_cl, b->dz_tile, b->dz_cl, b->wpack,
                     b->part,    b->dw,    b->db,      b->bpart};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    cl_kernel kernels[] = {b->to_cl, b->data,        b->weights, b->reduce,
                           b->bias,  b->bias_reduce, b->pack};
    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
        if (kernels[i])
            clReleaseKernel(kernels[i]);
    if (b->program)
        clReleaseProgram(b->program);
    free(b);
}
