/* SPDX-License-Identifier: Apache-2.0 */
/* Plan construction: validation, the phase-decomposed tap tables, the work
 * items and the weight packing. The taps of the canonical definition
 *     o = i*stride + t*dilation - crop_begin,  0 <= o < L,  0 <= i < n
 * are grouped here into runs of outputs that share a tap set, so the compute
 * loop never tests bounds or multiplies by inserted zeros. Every table is
 * sized by the work (the taps that land, the output rows, one sample's
 * items), never by products such as stride x kernel or batch^2, and a table
 * that would not fit in the host's memory is refused, not asked of malloc. */
#include "cpu_plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_fold_wino.h"
#include "cpu_winograd.h"

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

/* Bytes of host memory: a table larger than that is refused outright (malloc
 * might overcommit it, or abort under a sanitizer). */
static uint64_t host_memory_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : UINT64_MAX;
}

/* Allocates @p count elements of @p size bytes (64-byte aligned when
 * @p aligned) for the table @p what, or fails with out_of_memory naming it
 * when the size overflows, exceeds the host's memory or malloc fails. */
static tconv_status_t alloc_table(void **out, int64_t count, size_t size, int aligned,
                                  const char *what, char *msg, size_t msg_size) {
    *out = NULL;
    size_t bytes;
    if (count < 0 || __builtin_mul_overflow((size_t)count, size, &bytes) ||
        bytes > host_memory_bytes() - 64) {
        return fail(tconv_out_of_memory, msg, msg_size,
                    "cpu plan: %s needs %lld x %zu bytes, more than this host's %llu bytes of "
                    "memory",
                    what, (long long)count, size, (unsigned long long)host_memory_bytes());
    }
    bytes = bytes ? bytes : 1;
    *out = aligned ? aligned_alloc(64, (bytes + 63) & ~(size_t)63) : malloc(bytes);
    if (!*out) {
        return fail(tconv_out_of_memory, msg, msg_size,
                    "cpu plan: allocating %zu bytes for %s failed", bytes, what);
    }
    return tconv_success;
}

/* The tables' index arithmetic stays within int64 when every quantity of an
 * axis is below 2^61: sums of three of them cannot overflow. */
#define AXIS_LIMIT ((int64_t)1 << 61)

/* One axis of the problem, as the run builder needs it. */
typedef struct axis_shape {
    int64_t n, len, k, s, d, crop;
    int64_t phases; /* min(s, len): phases that own outputs */
} axis_shape_t;

static tconv_status_t axis_shape_init(const tconv_canonical_t *p, int a, axis_shape_t *g, char *msg,
                                      size_t msg_size) {
    g->n = p->input_size[a];
    g->len = p->output_size[a];
    g->k = p->kernel_size[a];
    g->s = p->strides[a];
    g->d = p->dilation[a];
    g->crop = p->crop_begin[a];
    g->phases = g->s < g->len ? g->s : g->len;
    int64_t reach; /* (k-1)*d */
    if (__builtin_mul_overflow(g->k - 1, g->d, &reach) || reach >= AXIS_LIMIT ||
        g->n >= AXIS_LIMIT || g->len >= AXIS_LIMIT || g->s >= AXIS_LIMIT || g->crop >= AXIS_LIMIT ||
        g->crop <= -AXIS_LIMIT) {
        return fail(tconv_unimplemented, msg, msg_size,
                    "axis %s: the cpu backend needs input, output, stride, crop and kernel reach "
                    "(kernel-1)*dilation below 2^61",
                    axis_names[a]);
    }
    return tconv_success;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Taps [*lo, *hi] that can land at all: t*d - crop between -(n-1)*s (last
 * input, first output) and len-1 (first input, last output). */
static void candidate_taps(const axis_shape_t *g, int64_t *lo, int64_t *hi) {
    const __int128 low = (__int128)g->crop - (__int128)(g->n - 1) * g->s;
    const int64_t high = g->len - 1 + g->crop;
    *lo = low <= 0 ? 0 : (int64_t)((low + g->d - 1) / g->d);
    *hi = high < 0 ? -1 : (high / g->d < g->k - 1 ? high / g->d : g->k - 1);
}

/* Outputs of phase r. */
static int64_t phase_count(const axis_shape_t *g, int64_t r) {
    return (g->len - r + g->s - 1) / g->s;
}

/* Tap t belongs to phase *r (o = r + j*s reads input j + *base); returns
 * whether it lands on some output of it: its window of j, [max(0, -base),
 * min(count, n - base)), is not empty. */
static int tap_lands(const axis_shape_t *g, int64_t t, int64_t *r, int64_t *base) {
    const int64_t q = floor_div(t * g->d - g->crop, g->s);
    *r = t * g->d - g->crop - q * g->s;
    if (*r >= g->phases) {
        return 0;
    }
    *base = -q;
    const int64_t enter = *base < 0 ? -*base : 0, count = phase_count(g, *r);
    const int64_t leave = g->n - *base < count ? g->n - *base : count;
    return enter < leave;
}

/* One phase's taps that land somewhere, in increasing tap order: tap[q]
 * reads input j + base[q] for the phase's output j (o = r + j*s). */
typedef struct phase_taps {
    const int64_t *tap, *base;
    int64_t m;
} phase_taps_t;

/* Phase r's stretch of the taps grouped by phase (ends[r]: its end). */
static phase_taps_t phase_list(const int64_t *ends, const int64_t *tap, const int64_t *base,
                               int64_t r) {
    const int64_t first = r ? ends[r - 1] : 0;
    return (phase_taps_t){tap + first, base + first, ends[r] - first};
}

/* Walks the runs of phase r: base falls as q grows, so both ends of tap q's
 * window [max(0, -base[q]), min(count, n - base[q])) rise with q; at any j
 * the taps that land are a stretch [left, entered) of the list, and the set
 * changes only at window ends (at most 2m times). With ar->runs set, the runs
 * and their taps are appended to ar (at nruns and *entries); either way
 * *entries grows by their tap count and the return value is the run count. */
static int64_t split_phase(const axis_shape_t *g, int64_t r, phase_taps_t pt, cpu_axis_runs_t *ar,
                           int64_t *entries) {
    const int64_t count = phase_count(g, r);
    int64_t entered = 0, left = 0, runs = 0;
    for (int64_t j = 0; j < count; ++runs) {
        while (entered < pt.m && -pt.base[entered] <= j) {
            ++entered;
        }
        while (left < pt.m && g->n - pt.base[left] <= j) {
            ++left;
        }
        int64_t next = count;
        if (entered < pt.m && -pt.base[entered] < next) {
            next = -pt.base[entered];
        }
        if (left < pt.m && g->n - pt.base[left] < next) {
            next = g->n - pt.base[left];
        }
        if (ar->runs) {
            cpu_run_t *run = &ar->runs[ar->nruns++];
            run->o0 = r + j * g->s;
            run->count = next - j;
            run->first = *entries;
            run->ntaps = entered - left;
            for (int64_t q = left; q < entered; ++q) {
                ar->tap[*entries + q - left] = pt.tap[q];
                ar->in0[*entries + q - left] = pt.base[q] + j;
            }
        }
        if (__builtin_add_overflow(*entries, entered - left, entries)) {
            *entries = INT64_MAX; /* too many to list: alloc_table refuses */
        }
        j = next;
    }
    return runs;
}

/* The runs of axis a, in closed form: only the taps that can land are
 * visited (grouped by phase with a counting sort), and each phase is split
 * at its taps' window ends. Time and memory are bounded by the kernel, the
 * output length and the taps that land (each run lists only its own),
 * never by phases x kernel. */
static tconv_status_t build_axis_runs(const tconv_canonical_t *p, int a, cpu_axis_runs_t *ar,
                                      char *msg, size_t msg_size) {
    axis_shape_t g;
    tconv_status_t st = axis_shape_init(p, a, &g, msg, msg_size);
    if (st != tconv_success) {
        return st;
    }
    int64_t lo, hi, r, base;
    candidate_taps(&g, &lo, &hi);
    /* ends[r]: the number of phase r's taps, then where they start, and
     * after the fill where they end. */
    int64_t *ends = NULL, *tap = NULL, *bases = NULL;
    st =
        alloc_table((void **)&ends, g.phases, sizeof(int64_t), 0, "the phase table", msg, msg_size);
    if (st != tconv_success) {
        return st;
    }
    memset(ends, 0, (size_t)g.phases * sizeof(int64_t));
    int64_t landing = 0;
    for (int64_t t = lo; t <= hi; ++t) {
        if (tap_lands(&g, t, &r, &base)) {
            ends[r]++;
            landing++;
        }
    }
    if ((st = alloc_table((void **)&tap, landing, sizeof(int64_t), 0, "the phase taps", msg,
                          msg_size)) != tconv_success ||
        (st = alloc_table((void **)&bases, landing, sizeof(int64_t), 0, "the phase taps", msg,
                          msg_size)) != tconv_success) {
        free(ends);
        free(tap);
        return st;
    }
    for (r = 0, landing = 0; r < g.phases; ++r) { /* counts to starts */
        int64_t m = ends[r];
        ends[r] = landing;
        landing += m;
    }
    for (int64_t t = lo; t <= hi; ++t) { /* starts to ends */
        if (tap_lands(&g, t, &r, &base)) {
            tap[ends[r]] = t;
            bases[ends[r]++] = base;
        }
    }
    /* Count the runs and their taps (ar->runs is still NULL), then list them. */
    int64_t nruns = 0, entries = 0;
    for (r = 0; r < g.phases; ++r) {
        nruns += split_phase(&g, r, phase_list(ends, tap, bases, r), ar, &entries);
    }
    if ((st = alloc_table((void **)&ar->runs, nruns, sizeof(cpu_run_t), 0, "the run table", msg,
                          msg_size)) == tconv_success &&
        (st = alloc_table((void **)&ar->tap, entries, sizeof(int64_t), 0, "the tap table", msg,
                          msg_size)) == tconv_success &&
        (st = alloc_table((void **)&ar->in0, entries, sizeof(int64_t), 0, "the tap table", msg,
                          msg_size)) == tconv_success) {
        ar->nruns = 0;
        entries = 0;
        for (r = 0; r < g.phases; ++r) {
            split_phase(&g, r, phase_list(ends, tap, bases, r), ar, &entries);
        }
    }
    free(ends);
    free(tap);
    free(bases);
    return st;
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

/* Sums over the W runs that make the cost of a box closed-form: the W
 * outputs, and the W outputs weighted by their taps. */
typedef struct w_sums {
    double outputs, tapped;
} w_sums_t;

/* Cost of one D output of the box (D run d, H run h): all its H x W points,
 * sum over W runs w of h->count * w->count * point_cost(d x h x w taps). */
static double slab_cost(const cpu_plan_t *plan, const w_sums_t *w, const cpu_run_t *d,
                        const cpu_run_t *h) {
    return (double)h->count *
           ((double)d->ntaps * (double)h->ntaps * (double)plan->cin_g * w->tapped +
            point_cost(plan, 0) * w->outputs);
}

/* The input planes D block b (of `blocks`) reads, over every D run: range
 * [0, 0) when no tap of the block lands in the input. A run lists its taps
 * in increasing order, so its first reads the highest plane and its last
 * the lowest. */
static void block_input_planes(const cpu_plan_t *plan, int64_t b, int64_t blocks,
                               int64_t range[2]) {
    const cpu_axis_runs_t *ad = &plan->axis[0];
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        const cpu_run_t *d = &ad->runs[rd];
        int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
        if (jd0 == jd1 || d->ntaps == 0) {
            continue;
        }
        int64_t low = ad->in0[d->first + d->ntaps - 1] + jd0;
        int64_t high = ad->in0[d->first] + jd1;
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
    }
    range[0] = lo <= hi ? lo : 0;
    range[1] = lo <= hi ? hi : 0;
}

/* First index i in [0, n] with prefix[i] >= target (prefix is ascending). */
static int64_t first_reaching(const double *prefix, int64_t n, double target) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (prefix[mid] < target) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Splits the batch's items (sample n's item i is number n * nitems + i) into
 * equal-cost contiguous ranges, one per thread: thread t starts where the
 * cost reaches t/T of the total, i.e. in sample floor(batch*t/T), at the item
 * whose cost prefix within the sample reaches the fraction left over. */
static void split_among_threads(cpu_plan_t *plan, const double *prefix) {
    const int64_t batch = plan->p.batch, threads = (int64_t)plan->nthreads;
    for (int64_t t = 0; t <= threads; ++t) {
        int64_t whole = batch / threads * t + batch % threads * t / threads;
        int64_t part = batch % threads * t % threads; /* of `threads` */
        int64_t i = part ? first_reaching(prefix, plan->nitems,
                                          prefix[plan->nitems] * (double)part / (double)threads)
                         : 0;
        plan->thread_first[t] = whole * plan->nitems + i;
    }
}

/* Lists one sample's work items and splits the batch's among the threads.
 * Each D run is cut into up to `blocks` blocks of D outputs, and items are
 * ordered (block, chunk, D run, H run) within a sample: consecutive items
 * read the same slab of input planes (about ITEM_INPUT_BUDGET bytes), so it
 * is fetched from memory once and reused from cache by every phase and chunk.
 * Every sample has the same items, so the table does not grow with the
 * batch. */
static tconv_status_t build_items(cpu_plan_t *plan, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &plan->p;
    const cpu_axis_runs_t *ad = &plan->axis[0], *ah = &plan->axis[1], *aw = &plan->axis[2];
    const int64_t gq_count = p->groups * plan->nchunk;
    int64_t max_count = 0;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        max_count = ad->runs[rd].count > max_count ? ad->runs[rd].count : max_count;
    }
    /* D outputs of one run per block: input planes that fit the budget
     * (a run advances one input plane per output). */
    double plane = (double)plan->xs.d * (double)plan->esize;
    double per_block = floor((double)ITEM_INPUT_BUDGET / plane);
    per_block = per_block < 1 ? 1 : per_block;
    int64_t blocks = (int64_t)ceil((double)max_count / per_block);
    /* Enough items over the batch for the threads to balance. */
    const double want = 16.0 * (double)plan->nthreads;
    const double per_block_items = (double)p->batch * (double)gq_count *
                                   (plan->fold ? 1.0 : (double)ad->nruns * (double)ah->nruns);
    if ((double)blocks * per_block_items < want) {
        blocks = (int64_t)ceil(want / per_block_items);
    }
    blocks = blocks < max_count ? blocks : max_count;

    /* A run shorter than `blocks` has one-output blocks and skips the rest. */
    int64_t pairs = 0, nitems, batch_items;
    for (int64_t rd = 0; rd < ad->nruns; ++rd) {
        pairs += ad->runs[rd].count < blocks ? ad->runs[rd].count : blocks;
    }
    if (__builtin_mul_overflow(pairs, gq_count, &nitems) ||
        __builtin_mul_overflow(nitems, ah->nruns, &nitems) ||
        __builtin_mul_overflow(nitems, p->batch, &batch_items)) {
        return fail(tconv_out_of_memory, msg, msg_size,
                    "cpu plan: the work items (%lld D blocks x %lld channel chunks x %lld H runs "
                    "per sample, batch %lld) overflow int64",
                    (long long)pairs, (long long)gq_count, (long long)ah->nruns,
                    (long long)p->batch);
    }
    double *prefix = NULL;
    tconv_status_t st;
    if ((st = alloc_table((void **)&plan->items, nitems, sizeof(cpu_item_t), 0,
                          "the work item table", msg, msg_size)) != tconv_success ||
        (st = alloc_table((void **)&prefix, nitems + 1, sizeof(double), 0, "the work item costs",
                          msg, msg_size)) != tconv_success ||
        (st = alloc_table((void **)&plan->block_planes, 2 * blocks, sizeof(int64_t), 0,
                          "the block table", msg, msg_size)) != tconv_success ||
        (st = alloc_table((void **)&plan->thread_first, (int64_t)plan->nthreads + 1,
                          sizeof(int64_t), 0, "the thread table", msg, msg_size)) !=
            tconv_success) {
        free(prefix);
        return st;
    }
    for (int64_t b = 0; b < blocks; ++b) {
        block_input_planes(plan, b, blocks, &plan->block_planes[2 * b]);
    }
    w_sums_t w = {0, 0};
    for (int64_t rw = 0; rw < aw->nruns; ++rw) {
        w.outputs += (double)aw->runs[rw].count;
        w.tapped += (double)aw->runs[rw].count * (double)aw->runs[rw].ntaps;
    }
    int64_t ni = 0;
    prefix[0] = 0;
    for (int64_t b = 0; b < blocks; ++b) {
        for (int64_t gq = 0; gq < gq_count && plan->fold; ++gq) {
            /* Fold plans: one item per block and group, every D and H run
             * (run_item_fold walks the rows in output order). */
            cpu_item_t *it = &plan->items[ni];
            *it = (cpu_item_t){.gq = gq, .n = 0, .rd = -1, .rh = -1, .block = b};
            double cost = 0;
            for (int64_t rd = 0; rd < ad->nruns; ++rd) {
                const cpu_run_t *d = &ad->runs[rd];
                int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
                for (int64_t rh = 0; rh < ah->nruns; ++rh) {
                    cost += slab_cost(plan, &w, d, &ah->runs[rh]) * (double)(jd1 - jd0);
                }
            }
            prefix[ni + 1] = prefix[ni] + cost;
            ++ni;
        }
        for (int64_t gq = 0; gq < gq_count && !plan->fold; ++gq) {
            for (int64_t rd = 0; rd < ad->nruns; ++rd) {
                const cpu_run_t *d = &ad->runs[rd];
                int64_t jd0 = d->count * b / blocks, jd1 = d->count * (b + 1) / blocks;
                if (jd0 == jd1) {
                    continue;
                }
                for (int64_t rh = 0; rh < ah->nruns; ++rh) {
                    cpu_item_t *it = &plan->items[ni];
                    it->gq = gq;
                    it->n = 0;
                    it->rd = rd;
                    it->rh = rh;
                    it->block = b;
                    it->jd0 = jd0;
                    it->jd1 = jd1;
                    prefix[ni + 1] =
                        prefix[ni] + slab_cost(plan, &w, d, &ah->runs[rh]) * (double)(jd1 - jd0);
                    ++ni;
                }
            }
        }
    }
    plan->nitems = ni;
    plan->nblocks = blocks;
    cpu_plan_split_items(plan, prefix);
    return tconv_success;
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

/* floor(a / 2) for any sign of a. */
static int64_t floor_half(int64_t a) {
    return a >= 0 ? a / 2 : -((1 - a) / 2);
}

/* Fold tiles (cpu_plan_t.fold) fit when the kernel has them, each group has
 * one output channel and W is k4 s2 d1 in channels_last, and every W tile of
 * CPU_FOLD_POINTS outputs reads only points inside the input row but for its
 * first and last (which the tile masks). */
static int choose_fold_tiles(const cpu_plan_t *plan) {
    const tconv_canonical_t *p = &plan->p;
    if (!plan->kernel->fold || !plan->dot || plan->cout_g != 1 ||
        p->data_format != tconv_channels_last || p->kernel_size[2] != 4 || p->strides[2] != 2 ||
        p->dilation[2] != 1 || p->output_size[2] % CPU_FOLD_POINTS != 0) {
        return 0;
    }
    for (int64_t ow0 = 0; ow0 < p->output_size[2]; ow0 += CPU_FOLD_POINTS) {
        const int64_t e = ow0 + p->crop_begin[2], base = floor_half(e) - 1;
        if (base + 1 < 0 || base + 8 + (e & 1) - 1 >= p->input_size[2]) {
            return 0;
        }
    }
    return 1;
}

int64_t cpu_plan_fold_base(const cpu_plan_t *plan, int64_t ow0) {
    return floor_half(ow0 + plan->p.crop_begin[2]) - 1;
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

/* The kernel's taps and the packed weights and bias (allocated here). */
static tconv_status_t size_weights(cpu_plan_t *plan, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &plan->p;
    int64_t taps, packed;
    if (mul_checked(p->kernel_size[0], p->kernel_size[1], &taps) ||
        mul_checked(taps, p->kernel_size[2], &taps) ||
        mul_checked(plan->packed_cout_g, p->groups, &packed) ||
        mul_checked(packed, plan->cin_g, &packed) || mul_checked(packed, taps, &packed)) {
        return fail(tconv_invalid_arguments, msg, msg_size,
                    "cpu plan: kernel or packed weight size overflows");
    }
    plan->taps = taps;
    tconv_status_t st =
        alloc_table(&plan->wpack, packed, plan->esize, 1, "the packed weights", msg, msg_size);
    if (st == tconv_success) {
        st = alloc_table(&plan->bias, p->groups * plan->packed_cout_g, plan->esize, 0,
                         "the packed bias", msg, msg_size);
    }
    if (st == tconv_success) {
        memset(plan->bias, 0, (size_t)(p->groups * plan->packed_cout_g) * plan->esize);
    }
    return st;
}

/* Most taps of any run of an axis. */
static int64_t axis_max_taps(const cpu_axis_runs_t *ar) {
    int64_t most = 0;
    for (int64_t r = 0; r < ar->nruns; ++r) {
        most = ar->runs[r].ntaps > most ? ar->runs[r].ntaps : most;
    }
    return most;
}

/* Per-thread scratch, once the runs and items are known: tap offsets (for
 * the whole kernel, as plans that replace these tables may need) and one
 * tile of points, and for channels_first the staged output rows (about
 * STAGE_BYTES) and the input slab of the largest block. */
static tconv_status_t alloc_thread_scratch(cpu_plan_t *plan, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &plan->p;
    const int64_t threads = (int64_t)plan->nthreads;
    int64_t box_taps = 1, count;
    for (int a = 0; a < 3; ++a) {
        if (__builtin_mul_overflow(box_taps, axis_max_taps(&plan->axis[a]), &box_taps) ||
            box_taps > INT32_MAX) {
            return fail(tconv_unimplemented, msg, msg_size,
                        "cpu plan: more than 2^31 taps land on one output (the micro-kernels "
                        "count taps in an int)");
        }
    }
    if (p->data_format == tconv_channels_first) {
        /* Output rows staged channels_last, then written one contiguous W row
         * per channel. */
        double row_bytes = (double)p->output_size[2] * (double)plan->chunk_cout * plan->esize;
        plan->stage_rows = (int64_t)(STAGE_BYTES / row_bytes);
        plan->stage_rows = plan->stage_rows < 1 ? 1 : plan->stage_rows;
        int64_t elems;
        if (__builtin_mul_overflow(plan->stage_rows * plan->chunk_cout, p->output_size[2],
                                   &elems) ||
            __builtin_mul_overflow(elems, threads, &count)) {
            count = INT64_MAX;
        }
        tconv_status_t st = alloc_table(&plan->thread_stage, count, plan->esize, 0,
                                        "the staged output rows", msg, msg_size);
        if (st != tconv_success) {
            return st;
        }
        plan->stage_elems = (size_t)elems;
        /* Read the input through a channels_last slab per thread (the
         * kernel's channel loop then walks contiguous memory). */
        plan->transpose_input = 1;
        plan->xc.c = 1;
        plan->xc.w = (ptrdiff_t)p->in_channels;
        plan->xc.h = plan->xc.w * (ptrdiff_t)p->input_size[2];
        plan->xc.d = plan->xc.h * (ptrdiff_t)p->input_size[1];
        plan->xc.n = 0;
        int64_t planes = 1; /* at least one element per thread */
        for (int64_t b = 0; b < plan->nblocks; ++b) {
            const int64_t *r = &plan->block_planes[2 * b];
            planes = r[1] - r[0] > planes ? r[1] - r[0] : planes;
        }
        if (__builtin_mul_overflow(planes, (int64_t)plan->xc.d, &elems) ||
            __builtin_mul_overflow(elems, threads, &count)) {
            count = INT64_MAX;
        }
        st = alloc_table(&plan->thread_slab, count, plan->esize, 0, "the input slabs", msg,
                         msg_size);
        if (st != tconv_success) {
            return st;
        }
        plan->slab_elems = (size_t)elems;
    }
    /* Tap offsets and one tile of points per thread, on separate cache lines. */
    plan->offsets_stride =
        ((size_t)(2 * plan->taps + 2 * CPU_NP_MAX + plan->stage_rows) + 7) & ~(size_t)7;
    if (__builtin_mul_overflow((int64_t)plan->offsets_stride, threads, &count)) {
        count = INT64_MAX;
    }
    return alloc_table((void **)&plan->thread_offsets, count, sizeof(ptrdiff_t), 0,
                       "the threads' tap offsets", msg, msg_size);
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
    plan->max_batch = p->batch;
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
    plan->fold = choose_fold_tiles(plan);
    plan->xs = tensor_strides(p, p->in_channels, p->input_size);
    plan->ys = tensor_strides(p, p->out_channels, p->output_size);

    plan->nthreads = cpu_thread_pool_size(pool);
    plan->xc = plan->xs;
    if ((st = size_weights(plan, msg, msg_size)) != tconv_success ||
        (st = build_axis_runs(p, 0, &plan->axis[0], msg, msg_size)) != tconv_success ||
        (st = build_axis_runs(p, 1, &plan->axis[1], msg, msg_size)) != tconv_success ||
        (st = build_axis_runs(p, 2, &plan->axis[2], msg, msg_size)) != tconv_success ||
        (st = build_items(plan, msg, msg_size)) != tconv_success ||
        (st = alloc_thread_scratch(plan, msg, msg_size)) != tconv_success) {
        cpu_plan_destroy(plan);
        return st;
    }
    *out = plan;
    return tconv_success;
}

/* Kernel element for tap, output channel j of group g, input channel c of
 * group g, in the problem's kernel layout. A W-merged plan's kernel is the
 * user's, of merged_w_taps times the taps and 1/merged_w_taps the channels:
 * its channel kw*Cout + co of tap t is the user's channel co of tap
 * t*s + kw (cpu_plan_forward.c). */
static size_t kernel_index(const cpu_plan_t *plan, int64_t tap, int64_t g, int64_t j, int64_t c) {
    const tconv_canonical_t *p = &plan->p;
    int64_t taps = plan->taps, cout_g = plan->cout_g;
    if (plan->merged_w_taps) {
        cout_g /= plan->merged_w_taps;
        tap = tap * plan->merged_w_taps + j / cout_g;
        j %= cout_g;
        taps *= plan->merged_w_taps;
    }
    const cpu_kernel_strides_t s = cpu_kernel_layout(p, taps, cout_g);
    return (size_t)((g * plan->cin_g + c) * s.ic + j * s.j + tap * s.tap);
}

tconv_status_t cpu_plan_set_weights(cpu_plan_t *plan, const void *kernel, const void *bias,
                                    char *msg, size_t msg_size) {
    if (!kernel) {
        return fail(tconv_invalid_arguments, msg, msg_size, "kernel is NULL");
    }
    if (plan->p.use_bias && !bias) {
        return fail(tconv_invalid_arguments, msg, msg_size, "bias is NULL but use_bias is set");
    }
    if (plan->w_merged) { /* only the merged plan runs the forward pass */
        return cpu_plan_set_weights(plan->w_merged, kernel, bias, msg, msg_size);
    }
    if (plan->wino_fwd) { /* it runs the forward pass instead of the tiles */
        cpu_wino_set_weights(plan->wino_fwd, plan, kernel, bias);
        plan->weights_set = 1;
        return tconv_success;
    }
    if (plan->fold_wino) {
        cpu_fwino_set_weights(plan->fold_wino, plan, kernel, plan->p.use_bias ? bias : NULL);
        plan->weights_set = 1;
        return tconv_success;
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
        /* A W-merged plan's bias is the user's, once per W phase. */
        const int64_t phases = plan->merged_w_taps ? plan->merged_w_taps : 1;
        const size_t user_cout = (size_t)(plan->cout_g / phases);
        for (int64_t g = 0; g < plan->p.groups; ++g) {
            for (int64_t r = 0; r < phases; ++r) {
                memcpy((char *)plan->bias +
                           ((size_t)(g * plan->packed_cout_g) + (size_t)r * user_cout) *
                               plan->esize,
                       (const char *)bias + (size_t)g * user_cout * plan->esize,
                       user_cout * plan->esize);
            }
        }
    }
    plan->weights_set = 1;
    return tconv_success;
}

void cpu_plan_destroy(cpu_plan_t *plan) {
    if (!plan) {
        return;
    }
    cpu_wino_destroy(plan->wino_fwd);
    cpu_fwino_destroy(plan->fold_wino);
    for (int a = 0; a < 3; ++a) {
        free(plan->axis[a].runs);
        free(plan->axis[a].tap);
        free(plan->axis[a].in0);
    }
    free(plan->items);
    free(plan->thread_first);
    free(plan->item_cost);
    free(plan->block_planes);
    free(plan->thread_slab);
    free(plan->thread_stage);
    free(plan->wpack);
    free(plan->bias);
    free(plan->thread_offsets);
    cpu_plan_destroy(plan->w_merged);
    free(plan);
}

/* Hooks for a plan whose tables another file builds (the backward data plan,
 * cpu_backward_data.c), so that it follows the same rules. */
tconv_status_t cpu_plan_alloc_table(void **out, int64_t count, size_t size, int aligned,
                                    const char *what, char *msg, size_t msg_size) {
    return alloc_table(out, count, size, aligned, what, msg, msg_size);
}

void cpu_plan_split_items(cpu_plan_t *plan, double *prefix) {
    if (plan->item_cost != prefix) {
        free(plan->item_cost);
        plan->item_cost = prefix;
    }
    split_among_threads(plan, prefix);
}

tconv_status_t cpu_plan_set_batch(cpu_plan_t *plan, int64_t batch, char *msg, size_t msg_size) {
    if (batch < 1 || batch > plan->max_batch) {
        return fail(tconv_invalid_arguments, msg, msg_size,
                    "plan_set_batch: batch %lld is not in 1..%lld", (long long)batch,
                    (long long)plan->max_batch);
    }
    plan->p.batch = batch;
    split_among_threads(plan, plan->item_cost);
    if (plan->wino_fwd) {
        cpu_wino_set_batch(plan->wino_fwd, plan, batch);
    }
    return plan->w_merged ? cpu_plan_set_batch(plan->w_merged, batch, msg, msg_size)
                          : tconv_success;
}
