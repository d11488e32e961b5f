/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side geometry of the phase-decomposed gather (see ocl_geometry.h and
 * kernels/tconv_gather.cl for the index rules). */
#include "ocl_geometry.h"

#include <stdlib.h>

#include "ocl_errors.h"

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int64_t floor_mod(int64_t a, int64_t m) {
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

static int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Offset (p + crop - t*d) / s of tap t in the phase p it belongs to,
 * p = (t*d - crop) mod s; it does not grow with t. */
static int64_t tap_offset(const ocl_axis_t *a, int64_t t, int64_t *phase) {
    int64_t c = t * a->d - a->crop;
    *phase = floor_mod(c, a->s);
    return (*phase - c) / a->s;
}

/* Every tap belongs to one phase; the padding bounds are the offsets of the
 * first and the last tap whose phase owns outputs (p < min(s, out)). The
 * phases of taps repeat every sg taps, so each is within sg taps of its end
 * of the kernel, and when out >= s (every phase owns outputs) they are taps
 * 0 and k-1: the scans stop at once. Cost: O(min(k, sg)) at most, for an
 * output shorter than the stride; never O(s x k). */
static void axis_init(ocl_axis_t *a, int64_t in, int64_t out, int64_t k, int64_t s, int64_t d,
                      int64_t crop) {
    a->in = in;
    a->out = out;
    a->k = k;
    a->s = s;
    a->d = d;
    a->crop = crop;
    a->sg = s / gcd64(s, d);
    a->mt = ceil_div(k, a->sg);
    a->jmax = ceil_div(out, s);
    a->has_taps = 0;
    a->min_off = a->max_off = 0;
    const int64_t phases = s < out ? s : out, scan = a->sg < k ? a->sg : k;
    int64_t phase, first = -1, last = -1;
    for (int64_t t = 0; t < scan && first < 0; t++) {
        a->max_off = tap_offset(a, t, &phase);
        first = phase < phases ? t : -1;
    }
    for (int64_t t = k - 1; t >= k - scan && last < 0; t--) {
        a->min_off = tap_offset(a, t, &phase);
        last = phase < phases ? t : -1;
    }
    a->has_taps = first >= 0;
    if (!a->has_taps)
        a->min_off = a->max_off = 0;
}

/* The kernels compute indices in 32-bit ints, as sums of up to four of
 * these quantities of an axis: each stays below 2^29. */
#define AXIS_LIMIT ((int64_t)1 << 29)

static const char axis_letters[3] = {'D', 'H', 'W'};

static tconv_status_t check_axis_range(const tconv_canonical_t *p, int a, char *msg,
                                       size_t msg_size) {
    int64_t reach;
    if (__builtin_mul_overflow(p->kernel_size[a] - 1, p->dilation[a], &reach) ||
        reach >= AXIS_LIMIT || p->input_size[a] >= AXIS_LIMIT || p->output_size[a] >= AXIS_LIMIT ||
        p->strides[a] >= AXIS_LIMIT || p->crop_begin[a] >= AXIS_LIMIT ||
        p->crop_begin[a] <= -AXIS_LIMIT) {
        ocl_msg(msg, msg_size,
                "axis %c: input %lld, output %lld, stride %lld, crop %lld and kernel reach "
                "(kernel-1)*dilation %.0f must stay below 2^29 (the kernels index with 32-bit "
                "ints)",
                axis_letters[a], (long long)p->input_size[a], (long long)p->output_size[a],
                (long long)p->strides[a], (long long)p->crop_begin[a],
                (double)(p->kernel_size[a] - 1) * (double)p->dilation[a]);
        return tconv_unimplemented;
    }
    return tconv_success;
}

/* Channel path: vectors of VEC output channels, NVEC of them per work-item. */
static void choose_channel_tile(const tconv_canonical_t *p, ocl_geometry_t *g) {
    const int widths32[] = {16, 8, 4}, widths64[] = {8, 4};
    const int *widths = p->dtype == tconv_f64 ? widths64 : widths32;
    int nwidths = p->dtype == tconv_f64 ? 2 : 3;
    g->vec = 1;
    for (int i = 0; i < nwidths; i++) {
        if (g->coutg % widths[i] == 0) {
            g->vec = widths[i];
            break;
        }
    }
    if (g->vec > 1)
        g->nvec = g->coutg / g->vec >= 2 ? 2 : 1;
    else
        g->nvec = (int)(g->coutg < 4 ? g->coutg : 4);
    g->tw = 8;
}

/* W path: vectors of VEC outputs along W, TW/VEC of them, TH rows of H and
 * NVEC output channels per work-item, at least 8 accumulators in flight. */
static void choose_w_tile(ocl_geometry_t *g, int full) {
    g->vec = g->ax[2].jmax >= full ? full : full / 2;
    g->nvec = (int)(g->coutg < 4 ? g->coutg : 4);
    int twn = g->ax[2].jmax >= 2 * g->vec ? 2 : 1;
    g->tw = g->vec * twn;
    int chains = g->nvec * twn;
    g->th = chains >= 8 ? 1 : 8 / chains;
}

/* Register tile. TCONV_OPENCL_TILE="tw,nvec[,th]" overrides it (tuning). */
static void choose_tile(const tconv_canonical_t *p, ocl_geometry_t *g) {
    const int full = p->dtype == tconv_f64 ? 8 : 16; /* lanes of a 512-bit vector */
    g->th = 1;
    g->wvec = g->coutg % full != 0 && g->ax[2].jmax >= full / 2;
    if (g->wvec)
        choose_w_tile(g, full);
    else
        choose_channel_tile(p, g);
    const char *env = getenv("TCONV_OPENCL_TILE");
    if (env && *env) {
        int v[3] = {0, 0, 0};
        char *end = (char *)env;
        for (int i = 0; i < 3 && *end; i++) {
            v[i] = (int)strtol(end, &end, 10);
            if (*end == ',')
                end++;
        }
        if (v[0] >= 1 && v[0] <= 64 && (!g->wvec || v[0] % g->vec == 0))
            g->tw = v[0];
        if (v[1] >= 1 && v[1] <= 16)
            g->nvec = v[1];
        if (v[2] >= 1 && v[2] <= 16 && g->wvec)
            g->th = v[2];
    }
    if (g->th > g->ax[1].jmax)
        g->th = (int)g->ax[1].jmax;
    if (g->wvec)
        return;
    /* No more W points than a phase has, and few wasted ones at the edge. */
    int64_t jw = g->ax[2].jmax;
    if (g->tw > jw)
        g->tw = (int)jw;
    int best = g->tw;
    int64_t best_waste = ceil_div(jw, best) * best - jw;
    for (int t = g->tw - 1; t >= (g->tw + 1) / 2 && best_waste > 0; t--) {
        int64_t waste = ceil_div(jw, t) * t - jw;
        if (waste < best_waste) {
            best = t;
            best_waste = waste;
        }
    }
    g->tw = best;
}

/* a * b * ... with overflow detection; returns 0 on overflow. */
static int mul_ok(uint64_t *out, int count, const int64_t *factors) {
    uint64_t r = 1;
    for (int i = 0; i < count; i++) {
        if (factors[i] < 0 || __builtin_mul_overflow(r, (uint64_t)factors[i], &r))
            return 0;
    }
    *out = r;
    return 1;
}

#define MUL(out, ...)                                                                              \
    mul_ok((out), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                       \
           (int64_t[]){__VA_ARGS__})

/* Sizes of the per-tile buffers for nb samples and jdt depth indices. */
static int tile_sizes(const tconv_canonical_t *p, ocl_geometry_t *g, int64_t nb, int64_t jdt) {
    const ocl_axis_t *d = &g->ax[0];
    int64_t e = (int64_t)g->elem;
    g->xd = jdt + d->max_off - d->min_off;
    g->rd = g->xd < d->in ? g->xd : d->in;
    g->odt = d->s * jdt;
    return MUL(&g->raw_bytes, nb, g->rd, g->ax[1].in, g->ax[2].in, p->in_channels, e) &&
           MUL(&g->pad_bytes, nb, g->xd, g->xh, g->xw, p->in_channels, e) &&
           MUL(&g->out_bytes, nb, g->odt, g->ax[1].out, g->ax[2].out, p->out_channels, e);
}

static int tile_fits(const tconv_canonical_t *p, ocl_geometry_t *g, int64_t nb, int64_t jdt,
                     uint64_t max_alloc, uint64_t budget) {
    if (!tile_sizes(p, g, nb, jdt))
        return 0;
    uint64_t total = g->raw_bytes + g->pad_bytes + g->out_bytes + g->weight_bytes + g->bias_bytes;
    return g->raw_bytes <= max_alloc && g->pad_bytes <= max_alloc && g->out_bytes <= max_alloc &&
           total <= budget;
}

/* Largest v in [1, hi] with fits(v) (fits is monotone), or 0 if none. */
#define LARGEST_FITTING(result, hi, fits_expr_of_v)                                                \
    do {                                                                                           \
        int64_t lo_ = 1, hi_ = (hi);                                                               \
        (result) = 0;                                                                              \
        while (lo_ <= hi_) {                                                                       \
            int64_t v = lo_ + (hi_ - lo_) / 2;                                                     \
            if (fits_expr_of_v) {                                                                  \
                (result) = v;                                                                      \
                lo_ = v + 1;                                                                       \
            } else {                                                                               \
                hi_ = v - 1;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The kernels' work-item ids and their NDRange sizes are 32-bit ints:
 * every dimension of both launches (ocl_plan.c) must stay below 2^31. */
static tconv_status_t check_ndrange(const tconv_canonical_t *p, const ocl_geometry_t *g, char *msg,
                                    size_t msg_size) {
    uint64_t phases, dims[6];
    int ok = MUL(&phases, g->ax[0].s, g->ax[1].s, g->ax[2].s) &&
             MUL(&dims[0], g->jht, g->wt, g->phase_fast ? (int64_t)phases : 1) &&
             MUL(&dims[1], g->nb, g->jdt) &&
             MUL(&dims[2], p->groups, g->nocb, g->phase_fast ? 1 : (int64_t)phases) &&
             MUL(&dims[3], g->xw) && MUL(&dims[4], g->xh) && MUL(&dims[5], g->nb, g->xd);
    for (int i = 0; ok && i < 6; i++)
        ok = dims[i] <= INT32_MAX;
    if (!ok) {
        ocl_msg(msg, msg_size,
                "the launch needs 2^31 or more work-items along one dimension (phases %lld x "
                "%lld x %lld, padded input tile %lld x %lld); the kernels index them with "
                "32-bit ints",
                (long long)g->ax[0].s, (long long)g->ax[1].s, (long long)g->ax[2].s,
                (long long)g->xh, (long long)g->xw);
        return tconv_unimplemented;
    }
    return tconv_success;
}

tconv_status_t ocl_geometry_init(const tconv_canonical_t *p, uint64_t max_alloc,
                                 uint64_t global_mem, ocl_geometry_t *g, char *msg,
                                 size_t msg_size) {
    g->elem = p->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    for (int a = 0; a < 3; a++) {
        tconv_status_t s = check_axis_range(p, a, msg, msg_size);
        if (s != tconv_success)
            return s;
    }
    for (int a = 0; a < 3; a++)
        axis_init(&g->ax[a], p->input_size[a], p->output_size[a], p->kernel_size[a], p->strides[a],
                  p->dilation[a], p->crop_begin[a]);
    g->cing = p->in_channels / p->groups;
    g->coutg = p->out_channels / p->groups;
    choose_tile(p, g);
    g->blk = g->wvec ? g->nvec : (int64_t)g->vec * g->nvec;
    g->nocb = ceil_div(g->coutg, g->blk);
    g->coutg_pad = g->nocb * g->blk;
    g->wt = ceil_div(g->ax[2].jmax, g->tw);
    g->jht = ceil_div(g->ax[1].jmax, g->th);
    g->xh = g->jht * g->th + g->ax[1].max_off - g->ax[1].min_off;
    g->xw = g->wt * g->tw + g->ax[2].max_off - g->ax[2].min_off;

    int64_t e = (int64_t)g->elem;
    if (!MUL(&g->weight_bytes, p->groups, g->nocb, p->kernel_size[0], p->kernel_size[1],
             p->kernel_size[2], g->cing, g->blk, e) ||
        !MUL(&g->bias_bytes, p->groups, g->coutg_pad, e)) {
        ocl_msg(msg, msg_size, "packed weight size overflows 64 bits");
        return tconv_invalid_arguments;
    }
    /* Weights that stay in a core's cache let the phases share each input. */
    g->phase_fast = g->weight_bytes <= 256 * 1024;
    if (max_alloc == 0)
        max_alloc = UINT64_MAX;
    /* The kernels index a tile's buffers with 32-bit ints: tile below that. */
    uint64_t int_cap = (uint64_t)INT32_MAX * g->elem;
    uint64_t tile_cap = max_alloc < int_cap ? max_alloc : int_cap;
    uint64_t budget = global_mem ? global_mem - global_mem / 8 : UINT64_MAX;
    if (g->weight_bytes > tile_cap) {
        ocl_msg(msg, msg_size,
                "packed weights need %llu bytes, more than the device's max allocation %llu "
                "(or the kernels' 32-bit index range)",
                (unsigned long long)g->weight_bytes, (unsigned long long)tile_cap);
        return tconv_unimplemented;
    }
    /* Whole batch if it fits, else the most samples, else split depth. */
    int64_t n = p->batch, jd = g->ax[0].jmax;
    int64_t nb, jdt = jd;
    LARGEST_FITTING(nb, n, tile_fits(p, g, v, jd, tile_cap, budget));
    if (nb == 0) {
        nb = 1;
        LARGEST_FITTING(jdt, jd, tile_fits(p, g, 1, v, tile_cap, budget));
        if (jdt == 0) {
            tile_sizes(p, g, 1, 1);
            ocl_msg(msg, msg_size,
                    "one output depth slice of one sample needs buffers of %llu/%llu/%llu bytes "
                    "(raw input/padded input/output); the device allows %llu per allocation",
                    (unsigned long long)g->raw_bytes, (unsigned long long)g->pad_bytes,
                    (unsigned long long)g->out_bytes, (unsigned long long)tile_cap);
            return tconv_unimplemented;
        }
    }
    g->nb = nb;
    g->jdt = jdt;
    tile_sizes(p, g, nb, jdt);
    tconv_status_t s = check_ndrange(p, g, msg, msg_size);
    if (s != tconv_success)
        return s;
    g->tiles = ceil_div(n, nb) * ceil_div(jd, jdt);
    if (g->tiles == 1) {
        /* One tile: make the raw input and output buffers exactly the
         * caller's tensors, so a host-memory device can use them in place. */
        ocl_geometry_t exact = *g;
        exact.rd = g->ax[0].in;
        exact.odt = g->ax[0].out;
        if (MUL(&exact.raw_bytes, n, exact.rd, g->ax[1].in, g->ax[2].in, p->in_channels, e) &&
            MUL(&exact.out_bytes, n, exact.odt, g->ax[1].out, g->ax[2].out, p->out_channels, e) &&
            exact.raw_bytes <= tile_cap &&
            exact.raw_bytes + exact.pad_bytes + exact.out_bytes + g->weight_bytes + g->bias_bytes <=
                budget) {
            *g = exact;
            g->exact = 1;
        }
    }
    return tconv_success;
}
