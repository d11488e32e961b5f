/* Plan construction: validation, the phase-decomposed tap tables and the
 * weight packing. Every tap of the canonical definition
 *     o = i*stride + t*dilation - crop_begin,  0 <= o < L,  0 <= i < n
 * is enumerated here once, per output coordinate, so the compute loop never
 * tests bounds or multiplies by inserted zeros. */
#include "cpu_plan.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tconv_status_t fail(tconv_status_t status, char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static tconv_status_t fail(tconv_status_t status, char *msg, size_t msg_size, const char *fmt,
                           ...) {
    if (msg && msg_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_size, fmt, ap);
        va_end(ap);
    }
    return status;
}

static const char *const axis_names[3] = {"D", "H", "W"};

tconv_status_t cpu_problem_check(const tconv_canonical_t *p, char *msg, size_t msg_size) {
    if (!p) {
        return fail(tconv_invalid_arguments, msg, msg_size, "problem is NULL");
    }
    if (p->dtype != tconv_f32 && p->dtype != tconv_f64) {
        return fail(tconv_unimplemented, msg, msg_size,
                    "dtype %d: the cpu backend computes f32 and f64 only", (int)p->dtype);
    }
    if (p->batch < 1 || p->in_channels < 1 || p->out_channels < 1 || p->groups < 1) {
        return fail(tconv_invalid_arguments, msg, msg_size,
                    "batch, in_channels, out_channels and groups must be >= 1");
    }
    if (p->in_channels % p->groups || p->out_channels % p->groups) {
        return fail(tconv_invalid_arguments, msg, msg_size,
                    "groups = %lld must divide in_channels = %lld and out_channels = %lld",
                    (long long)p->groups, (long long)p->in_channels, (long long)p->out_channels);
    }
    for (int a = 0; a < 3; ++a) {
        if (p->input_size[a] < 1 || p->kernel_size[a] < 1 || p->strides[a] < 1 ||
            p->dilation[a] < 1 || p->output_size[a] < 1) {
            return fail(tconv_invalid_arguments, msg, msg_size,
                        "axis %s: input, kernel, stride, dilation and output sizes must be >= 1",
                        axis_names[a]);
        }
    }
    if (p->data_format != tconv_channels_last && p->data_format != tconv_channels_first) {
        return fail(tconv_invalid_arguments, msg, msg_size, "data_format %d is unknown",
                    (int)p->data_format);
    }
    if (p->kernel_layout != tconv_kernel_keras && p->kernel_layout != tconv_kernel_torch) {
        return fail(tconv_invalid_arguments, msg, msg_size, "kernel_layout %d is unknown",
                    (int)p->kernel_layout);
    }
    if ((unsigned)p->activation >= TCONV_ACTIVATION_COUNT) {
        return fail(tconv_invalid_arguments, msg, msg_size, "activation %d is unknown",
                    (int)p->activation);
    }
    return tconv_success;
}

/* Input index for output o and tap t on an axis, or -1 when the tap does not
 * land there (not divisible by the stride, or outside the input). */
static int64_t axis_input_index(const tconv_canonical_t *p, int a, int64_t o, int64_t t) {
    int64_t num = o + p->crop_begin[a] - t * p->dilation[a];
    if (num < 0 || num % p->strides[a] != 0) {
        return -1;
    }
    int64_t i = num / p->strides[a];
    return i < p->input_size[a] ? i : -1;
}

/* Does output o of axis a have exactly the taps of run r, at input in0 + j? */
static int run_matches(const tconv_canonical_t *p, int a, const cpu_axis_runs_t *ar,
                       const cpu_run_t *r, int64_t o, int64_t j) {
    int64_t n = 0;
    for (int64_t t = 0; t < p->kernel_size[a]; ++t) {
        int64_t i = axis_input_index(p, a, o, t);
        if (i < 0) {
            continue;
        }
        if (n >= r->ntaps || ar->tap[r->first + n] != t || ar->in0[r->first + n] + j != i) {
            return 0;
        }
        ++n;
    }
    return n == r->ntaps;
}

/* Splits each phase of axis a (outputs r, r+s, ...) into runs sharing a tap
 * set: at most 2k+1 per phase, since taps only drop out near the two edges. */
static int build_axis_runs(const tconv_canonical_t *p, int a, cpu_axis_runs_t *ar) {
    int64_t len = p->output_size[a], s = p->strides[a], k = p->kernel_size[a];
    int64_t phases = s < len ? s : len;
    int64_t max_runs = phases * (2 * k + 1);
    ar->runs = malloc((size_t)max_runs * sizeof(cpu_run_t));
    ar->tap = malloc((size_t)(max_runs * k) * sizeof(int64_t));
    ar->in0 = malloc((size_t)(max_runs * k) * sizeof(int64_t));
    if (!ar->runs || !ar->tap || !ar->in0) {
        return -1;
    }
    int64_t nruns = 0, ntap_entries = 0;
    for (int64_t r0 = 0; r0 < phases; ++r0) {
        cpu_run_t *cur = NULL;
        for (int64_t o = r0; o < len; o += s) {
            if (cur && run_matches(p, a, ar, cur, o, cur->count)) {
                cur->count++;
                continue;
            }
            if (nruns == max_runs) {
                return -1; /* cannot happen: tap sets change at most 2k times */
            }
            cur = &ar->runs[nruns++];
            cur->o0 = o;
            cur->count = 1;
            cur->first = ntap_entries;
            cur->ntaps = 0;
            for (int64_t t = 0; t < k; ++t) {
                int64_t i = axis_input_index(p, a, o, t);
                if (i >= 0) {
                    ar->tap[ntap_entries] = t;
                    ar->in0[ntap_entries] = i;
                    ++ntap_entries;
                    cur->ntaps++;
                }
            }
        }
    }
    ar->nruns = nruns;
    return 0;
}

/* Relative cost of one output point (per chunk): its FMA vectors plus the
 * epilogue, in the same unit. */
static double point_cost(const cpu_plan_t *plan, int64_t ntaps) {
    return (double)ntaps * (double)plan->cin_g + 16.0;
}

/* Input bytes an item may read so that it stays in a core's L2 while the
 * item's (chunk, D run, H run) siblings reuse it. */
#define ITEM_INPUT_BUDGET (1u << 20)
/* channels_first: bytes of output rows staged before they are transposed out. */
#define STAGE_BYTES (128.0 * 1024)

/* Cost of one D output of the box (D run d, H run h): all its H x W points. */
static double slab_cost(const cpu_plan_t *plan, const cpu_run_t *d, const cpu_run_t *h) {
    const cpu_axis_runs_t *aw = &plan->axis[2];
    double cost = 0;
    for (int64_t rw = 0; rw < aw->nruns; ++rw) {
        cost += (double)(h->count * aw->runs[rw].count) *
                point_cost(plan, d->ntaps * h->ntaps * aw->runs[rw].ntaps);
    }
    return cost;
}

/* The input planes D block b (of `blocks`) reads, over every D run: range
 * [0, 0) when no tap of the block lands in the input. */
static void block_input_planes(const cpu_plan_t *plan, int64_t b, int64_t blocks,
                               int64_t range[2]) {
    const cpu_axis_runs_t *ad = &plan->axis[0];
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        const cpu_run_t *d = &ad->runs[rd];
        int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
        for (int64_t e = d->first; jd0 < jd1 && e < d->first + d->ntaps; ++e) {
            lo = ad->in0[e] + jd0 < lo ? ad->in0[e] + jd0 : lo;
            hi = ad->in0[e] + jd1 > hi ? ad->in0[e] + jd1 : hi;
        }
    }
    range[0] = lo <= hi ? lo : 0;
    range[1] = lo <= hi ? hi : 0;
}

/* Lists the work items and splits them into equal-cost contiguous ranges, one
 * per thread. Each D run is cut into up to `blocks` blocks of D outputs, and
 * items are ordered (n, block, chunk, D run, H run): consecutive items read
 * the same slab of input planes (about ITEM_INPUT_BUDGET bytes), so it is
 * fetched from memory once and reused from cache by every phase and chunk. */
static int build_items(cpu_plan_t *plan) {
    const tconv_canonical_t *p = &plan->p;
    const cpu_axis_runs_t *ad = &plan->axis[0], *ah = &plan->axis[1];
    int64_t gq_count = p->groups * plan->nchunk;
    int64_t max_count = 0;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        max_count = ad->runs[rd].count > max_count ? ad->runs[rd].count : max_count;
    }
    /* D outputs of one run per block: input planes that fit the budget
     * (a run advances one input plane per output). */
    double plane = (double)plan->xs.d * (double)plan->esize;
    int64_t per_block = (int64_t)((double)ITEM_INPUT_BUDGET / plane);
    per_block = per_block < 1 ? 1 : per_block;
    int64_t blocks = (max_count + per_block - 1) / per_block;
    /* Enough items for the threads to balance. */
    int64_t want = 16 * (int64_t)plan->nthreads;
    int64_t per_block_items = p->batch * gq_count * ad->nruns * ah->nruns;
    if (blocks * per_block_items < want) {
        blocks = (want + per_block_items - 1) / per_block_items;
    }
    blocks = blocks < max_count ? blocks : max_count;

    int64_t max_items = p->batch * blocks * per_block_items;
    plan->items = malloc((size_t)max_items * sizeof(cpu_item_t));
    plan->block_planes = malloc((size_t)(2 * blocks) * sizeof(int64_t));
    double *prefix = malloc((size_t)(max_items + 1) * sizeof(double));
    plan->thread_first = malloc((plan->nthreads + 1) * sizeof(int64_t));
    if (!plan->items || !prefix || !plan->thread_first || !plan->block_planes) {
        free(prefix);
        return -1;
    }
    for (int64_t b = 0; b < blocks; ++b) {
        block_input_planes(plan, b, blocks, &plan->block_planes[2 * b]);
    }
    int64_t ni = 0;
    prefix[0] = 0;
    for (int64_t n = 0; n < p->batch; ++n) {
        for (int64_t b = 0; b < blocks; ++b) {
            for (int64_t gq = 0; gq < gq_count; ++gq) {
                for (int64_t rd = 0; rd < ad->nruns; ++rd) {
                    const cpu_run_t *d = &ad->runs[rd];
                    /* Block b of this run; runs shorter than `blocks` have
                     * one-output blocks and skip the empty ones. */
                    int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
                    if (jd0 == jd1) {
                        continue;
                    }
                    for (int64_t rh = 0; rh < ah->nruns; ++rh) {
                        cpu_item_t *it = &plan->items[ni];
                        it->gq = gq;
                        it->n = n;
                        it->rd = rd;
                        it->rh = rh;
                        it->block = b;
                        it->jd0 = jd0;
                        it->jd1 = jd1;
                        prefix[ni + 1] =
                            prefix[ni] + slab_cost(plan, d, &ah->runs[rh]) * (double)(jd1 - jd0);
                        ++ni;
                    }
                }
            }
        }
    }
    plan->nitems = ni;
    /* Thread t starts at the first item whose cost prefix reaches t/T. */
    int64_t item = 0;
    for (size_t t = 0; t <= plan->nthreads; ++t) {
        double target = prefix[ni] * (double)t / (double)plan->nthreads;
        while (item < ni && prefix[item] < target) {
            ++item;
        }
        plan->thread_first[t] = t == plan->nthreads ? ni : item;
    }
    free(prefix);
    return 0;
}

/* Dot tiles pay when they need fewer vector operations per output point: a
 * Cout-vectorised tile spends taps x Cin FMAs per vector of (zero-padded)
 * output channels, a dot tile taps x ceil(Cin/VL) FMAs plus a horizontal sum
 * (about 2 log2(VL) operations) per output channel. */
static int choose_dot_tiles(const tconv_canonical_t *p, const cpu_kernel_t *kernel, int64_t cin_g,
                            int64_t cout_g, int64_t nblk) {
    if (!kernel->dot) {
        return 0;
    }
    double taps = 1, reduce = 0;
    for (int a = 0; a < 3; ++a) {
        taps *= (double)p->kernel_size[a] / (double)p->strides[a];
    }
    taps = taps < 1 ? 1 : taps;
    for (int lanes = kernel->vl; lanes > 1; lanes /= 2) {
        reduce += 2;
    }
    double cin_vectors = (double)((cin_g + kernel->vl - 1) / kernel->vl);
    double std_cost = taps * (double)cin_g * (double)nblk;
    double dot_cost = (double)cout_g * (taps * cin_vectors + reduce);
    return dot_cost < std_cost;
}

static cpu_strides_t tensor_strides(const tconv_canonical_t *p, int64_t channels,
                                    const int64_t *size) {
    cpu_strides_t s;
    ptrdiff_t spatial = (ptrdiff_t)(size[0] * size[1] * size[2]);
    if (p->data_format == tconv_channels_last) {
        s.c = 1;
        s.w = (ptrdiff_t)channels;
        s.h = s.w * (ptrdiff_t)size[2];
        s.d = s.h * (ptrdiff_t)size[1];
        s.n = s.d * (ptrdiff_t)size[0];
    } else {
        s.w = 1;
        s.h = (ptrdiff_t)size[2];
        s.d = s.h * (ptrdiff_t)size[1];
        s.c = spatial;
        s.n = spatial * (ptrdiff_t)channels;
    }
    return s;
}

/* a * b into *out; nonzero when it overflows or exceeds SIZE_MAX/16 (so byte
 * counts derived from it stay representable). */
static int mul_checked(int64_t a, int64_t b, int64_t *out) {
    return __builtin_mul_overflow(a, b, out) || *out < 0 || (uint64_t)*out > SIZE_MAX / 16;
}

tconv_status_t cpu_plan_create(const tconv_canonical_t *p, const cpu_kernel_t *kernel,
                               cpu_thread_pool_t *pool, cpu_plan_t **out, char *msg,
                               size_t msg_size) {
    *out = NULL;
    tconv_status_t st = cpu_problem_check(p, msg, msg_size);
    if (st != tconv_success) {
        return st;
    }
    cpu_plan_t *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        return fail(tconv_out_of_memory, msg, msg_size, "cpu plan: allocating the plan failed");
    }
    plan->p = *p;
    plan->kernel = kernel;
    plan->pool = pool;
    plan->esize = p->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    plan->cin_g = p->in_channels / p->groups;
    plan->cout_g = p->out_channels / p->groups;
    plan->nblk = (plan->cout_g + kernel->vl - 1) / kernel->vl;
    plan->dot = choose_dot_tiles(p, kernel, plan->cin_g, plan->cout_g, plan->nblk);
    if (plan->dot) {
        /* Chunks as equal as they can be, of at most CPU_DOT_NCO_MAX. */
        plan->nchunk = (plan->cout_g + CPU_DOT_NCO_MAX - 1) / CPU_DOT_NCO_MAX;
        plan->chunk_cout = (plan->cout_g + plan->nchunk - 1) / plan->nchunk;
        plan->packed_cout_g = plan->cout_g;
    } else {
        plan->nchunk = (plan->nblk + kernel->nv_max - 1) / kernel->nv_max;
        plan->chunk_cout = (int64_t)kernel->nv_max * kernel->vl;
        plan->packed_cout_g = plan->nblk * kernel->vl;
    }
    plan->xs = tensor_strides(p, p->in_channels, p->input_size);
    plan->ys = tensor_strides(p, p->out_channels, p->output_size);

    int64_t taps, packed;
    if (mul_checked(p->kernel_size[0], p->kernel_size[1], &taps) ||
        mul_checked(taps, p->kernel_size[2], &taps) ||
        mul_checked(plan->packed_cout_g, p->groups, &packed) ||
        mul_checked(packed, plan->cin_g, &packed) || mul_checked(packed, taps, &packed)) {
        cpu_plan_destroy(plan);
        return fail(tconv_invalid_arguments, msg, msg_size,
                    "cpu plan: kernel or packed weight size overflows");
    }
    plan->taps = taps;
    plan->nthreads = cpu_thread_pool_size(pool);
    /* Per thread: tap offsets and one tile of sums, on separate cache lines. */
    if (p->data_format == tconv_channels_first) {
        /* Output rows staged channels_last, then written one contiguous W row
         * per channel: about STAGE_BYTES of them. */
        double row_bytes = (double)p->output_size[2] * (double)plan->chunk_cout * plan->esize;
        plan->stage_rows = (int64_t)(STAGE_BYTES / row_bytes);
        plan->stage_rows = plan->stage_rows < 1 ? 1 : plan->stage_rows;
        plan->stage_elems =
            (size_t)plan->stage_rows * (size_t)p->output_size[2] * (size_t)plan->chunk_cout;
    }
    plan->offsets_stride =
        ((size_t)(2 * taps + 2 * CPU_NP_MAX + plan->stage_rows) + 7) & ~(size_t)7;

    plan->wpack = aligned_alloc(64, (((size_t)packed * plan->esize) + 63) & ~(size_t)63);
    plan->bias = calloc((size_t)(p->groups * plan->packed_cout_g), plan->esize);
    plan->thread_offsets = malloc(plan->nthreads * plan->offsets_stride * sizeof(ptrdiff_t));
    if (plan->stage_rows) {
        plan->thread_stage = malloc(plan->nthreads * plan->stage_elems * plan->esize);
    }
    if (!plan->wpack || !plan->bias || !plan->thread_offsets ||
        (plan->stage_rows && !plan->thread_stage) || build_axis_runs(p, 0, &plan->axis[0]) ||
        build_axis_runs(p, 1, &plan->axis[1]) || build_axis_runs(p, 2, &plan->axis[2]) ||
        build_items(plan)) {
        cpu_plan_destroy(plan);
        return fail(tconv_out_of_memory, msg, msg_size,
                    "cpu plan: allocating %lld packed weights and tap tables failed",
                    (long long)packed);
    }
    if (p->data_format == tconv_channels_first) {
        /* Read the input through a channels_last slab per thread (the
         * kernel's channel loop then walks contiguous memory). */
        plan->transpose_input = 1;
        plan->xc.c = 1;
        plan->xc.w = (ptrdiff_t)p->in_channels;
        plan->xc.h = plan->xc.w * (ptrdiff_t)p->input_size[2];
        plan->xc.d = plan->xc.h * (ptrdiff_t)p->input_size[1];
        plan->xc.n = 0;
        int64_t planes = 0;
        for (int64_t i = 0; i < plan->nitems; ++i) {
            const int64_t *r = &plan->block_planes[2 * plan->items[i].block];
            planes = r[1] - r[0] > planes ? r[1] - r[0] : planes;
        }
        plan->slab_elems = (size_t)planes * (size_t)plan->xc.d;
        plan->thread_slab =
            malloc(plan->nthreads * (plan->slab_elems ? plan->slab_elems : 1) * plan->esize);
        if (!plan->thread_slab) {
            cpu_plan_destroy(plan);
            return fail(tconv_out_of_memory, msg, msg_size,
                        "cpu plan: allocating %zu threads' input slabs of %zu elements failed",
                        plan->nthreads, plan->slab_elems);
        }
    } else {
        plan->xc = plan->xs;
    }
    *out = plan;
    return tconv_success;
}

/* Kernel element for tap, output channel j of group g, input channel c of
 * group g, in the problem's kernel layout. */
static size_t kernel_index(const cpu_plan_t *plan, int64_t tap, int64_t g, int64_t j, int64_t c) {
    const tconv_canonical_t *p = &plan->p;
    int64_t ic = g * plan->cin_g + c;
    if (p->kernel_layout == tconv_kernel_keras) {
        return (size_t)((tap * plan->cout_g + j) * p->in_channels + ic);
    }
    return (size_t)((ic * plan->cout_g + j) * plan->taps + tap);
}

tconv_status_t cpu_plan_set_weights(cpu_plan_t *plan, const void *kernel, const void *bias,
                                    char *msg, size_t msg_size) {
    if (!kernel) {
        return fail(tconv_invalid_arguments, msg, msg_size, "kernel is NULL");
    }
    if (plan->p.use_bias && !bias) {
        return fail(tconv_invalid_arguments, msg, msg_size, "bias is NULL but use_bias is set");
    }
    const int is_f64 = plan->p.dtype == tconv_f64;
    const int64_t cin_g = plan->cin_g;
    size_t dst = 0;
    for (int64_t g = 0; g < plan->p.groups; ++g) {
        for (int64_t q = 0; q < plan->nchunk; ++q) {
            int64_t width, j0 = q * plan->chunk_cout;
            cpu_plan_chunk(plan, q, &width);
            for (int64_t tap = 0; tap < plan->taps; ++tap) {
                /* Element e of the tap's [cin][width] block ([width][cin] for
                 * dot tiles). */
                for (int64_t e = 0; e < cin_g * width; ++e, ++dst) {
                    int64_t c = plan->dot ? e % cin_g : e / width;
                    int64_t j = j0 + (plan->dot ? e / cin_g : e % width);
                    int inside = j < plan->cout_g;
                    size_t src = inside ? kernel_index(plan, tap, g, j, c) : 0;
                    if (is_f64) {
                        ((double *)plan->wpack)[dst] = inside ? ((const double *)kernel)[src] : 0;
                    } else {
                        ((float *)plan->wpack)[dst] = inside ? ((const float *)kernel)[src] : 0;
                    }
                }
            }
        }
    }
    if (plan->p.use_bias) {
        for (int64_t g = 0; g < plan->p.groups; ++g) {
            memcpy((char *)plan->bias + (size_t)(g * plan->packed_cout_g) * plan->esize,
                   (const char *)bias + (size_t)(g * plan->cout_g) * plan->esize,
                   (size_t)plan->cout_g * plan->esize);
        }
    }
    plan->weights_set = 1;
    return tconv_success;
}

void cpu_plan_destroy(cpu_plan_t *plan) {
    if (!plan) {
        return;
    }
    for (int a = 0; a < 3; ++a) {
        free(plan->axis[a].runs);
        free(plan->axis[a].tap);
        free(plan->axis[a].in0);
    }
    free(plan->items);
    free(plan->thread_first);
    free(plan->block_planes);
    free(plan->thread_slab);
    free(plan->thread_stage);
    free(plan->wpack);
    free(plan->bias);
    free(plan->thread_offsets);
    free(plan);
}
