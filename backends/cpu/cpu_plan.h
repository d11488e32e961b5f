/* SPDX-License-Identifier: Apache-2.0 */
/* A CPU plan: the problem, its phase-decomposed tap tables, the packed
 * weights and per-thread scratch. Built by cpu_plan_create, filled by
 * cpu_plan_set_weights, run by cpu_plan_execute (cpu_execute.c). */
#ifndef TCONV_CPU_PLAN_H
#define TCONV_CPU_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_kernel.h"
#include "cpu_thread_pool.h"
#include "tconv/tconv_types.h"

/** Outputs o0, o0+s, ... (count of them, one phase of one axis) that share
 *  a tap set: tap k of the run reads input in0[k] + j for the j-th output. */
typedef struct cpu_run {
    int64_t o0;
    int64_t count;
    int64_t first; /**< Index of the run's first tap in the axis' tap/in0. */
    int64_t ntaps;
} cpu_run_t;

/** The runs of one axis; every output coordinate is in exactly one run. */
typedef struct cpu_axis_runs {
    cpu_run_t *runs;
    int64_t nruns;
    int64_t *tap;
    int64_t *in0;
} cpu_axis_runs_t;

/** A unit of parallel work: one channel chunk of one group, one sample
 *  (relative: see cpu_plan_t.thread_first), the box of a D run (outputs
 *  jd0..jd1-1 of it) x an H run x the whole W axis. Fold plans' items
 *  (rd = rh = -1) are a whole D block of a group: every run's outputs in it. */
typedef struct cpu_item {
    int64_t gq; /**< group * nchunk + chunk */
    int64_t n;
    int64_t rd, rh; /**< D and H run indices */
    int64_t block;  /**< D block (items of one block read one input slab) */
    int64_t jd0, jd1;
} cpu_item_t;

/** Element strides of a 5-D tensor in the plan's data format. */
typedef struct cpu_strides {
    ptrdiff_t n, c, d, h, w;
} cpu_strides_t;

typedef struct cpu_plan {
    tconv_canonical_t p;
    const cpu_kernel_t *kernel;
    cpu_thread_pool_t *pool;
    size_t esize; /**< Bytes per element. */

    int64_t cin_g, cout_g; /**< Channels per group. */
    /** Dot tiles (kernel->dot): input channels in the lanes, for layers with
     *  too few output channels to fill a vector. Weights packed [tap][j][cin]. */
    int dot;
    /** Fold tiles (kernel->fold, set only with dot): one output channel per
     *  group, W kernel 4, stride 2, dilation 1, channels_last: each output
     *  row is walked in tiles of CPU_FOLD_POINTS outputs of both W phases
     *  (cpu_fold_args_t) instead of phase by phase. */
    int fold;
    /** Tiles store the output around the caches (non-temporal,
     *  cpu_tile_args_t.stream) when the caller's array is 64-byte aligned;
     *  cpu_plan_choose_streaming's choice, for the plan that runs the
     *  forward pass and for the backward data plan (dx). */
    int stream_output;
    int64_t nblk;          /**< VL-wide channel blocks per group (Cout/G rounded up). */
    int64_t nchunk;        /**< Channel chunks per group (one tile's channels). */
    int64_t chunk_cout;    /**< Channels in a full chunk: nv_max * VL (dot: <= CPU_DOT_NCO_MAX). */
    int64_t packed_cout_g; /**< Packed channels per group: nblk * VL (dot: Cout/G). */
    int64_t taps;          /**< kd * kh * kw. */
    cpu_strides_t xs, ys;  /**< Input and output strides. */
    /** Strides the micro-kernel reads the input with: xs, or for channels_first
     *  the channels_last slab each thread transposes the input into. */
    cpu_strides_t xc;
    int transpose_input; /**< channels_first: read through the slab. */

    cpu_axis_runs_t axis[3]; /**< D, H, W runs. */
    /** Work items, (n, D block, chunk, D run, H run) order. A forward plan
     *  lists one sample's (n = 0): every sample has the same ones. */
    cpu_item_t *items;
    int64_t nitems;
    /** Thread t runs the items [thread_first[t], thread_first[t+1]) of the
     *  batch's list, whose item m * nitems + i is items[i] for sample
     *  m + items[i].n (a list of every sample's items just stops at nitems). */
    int64_t *thread_first;
    /** Cost of one sample's items [0, i) at [i] (nitems + 1 entries): kept
     *  to split the items of another batch (cpu_plan_set_batch). */
    double *item_cost;
    int64_t max_batch;     /**< The problem's batch; p.batch is the current one. */
    int64_t nblocks;       /**< D blocks. */
    int64_t *block_planes; /**< Per D block: first and last+1 input plane it reads. */

    void *wpack; /**< [G][chunk][tap][cin_g][nv*VL], zero-padded channels (dot:
                      [G][chunk][tap][width][cin_g]). */
    void *bias;  /**< [G][packed_cout_g]: the bias, zero-padded like the weights (zeros
                      without one). */
    int weights_set;

    size_t nthreads;
    ptrdiff_t *thread_offsets; /**< Per thread: 2*taps (x, w), 2*CPU_NP_MAX (point in,
                                    out), stage_rows (row out). */
    size_t offsets_stride;     /**< Entries between threads' offsets. */
    int64_t stage_rows;        /**< channels_first: output rows staged per flush (else 0). */
    void *thread_stage;        /**< Per thread: stage_rows x out W x chunk channels. */
    size_t stage_elems;        /**< Elements of one thread's staging rows. */
    void *thread_slab;         /**< transpose_input: per thread, one block's input planes. */
    size_t slab_elems;         /**< Elements of one thread's slab. */

    /** Input points between consecutive outputs of a run, per axis: 0 (= 1,
     *  adjacent) in a forward plan; the strides in the backward data plan,
     *  a strided convolution run by the same executor (cpu_backward_data.c). */
    int64_t read_step[3];
    /** The W taps of a run read adjacent input points (dilation 1 along W,
     *  consecutive tap indices) whose channels follow each other in memory
     *  (channels_last, one group): the kernel then reads a box's W taps as
     *  one tap of ntaps_w x Cin/G channels, with less per-tap overhead when
     *  Cin/G is small. Set by the backward data plan (cpu_backward_data.c),
     *  whose runs list consecutive taps; the forward plan's list every s-th. */
    int merge_w_taps;
    /** Backward passes (cpu_backward.h), made when p.passes asks for them.
     *  backward_weights is the weights pass of the current batch: its
     *  blocks, splits and sums depend on the batch, so that a plan at batch
     *  b sums in the order of a plan made for b. It is weights_full (made
     *  at plan creation) at the problem's batch, else weights_other (made
     *  by the last cpu_backward_set_batch to another batch, kept). */
    struct cpu_plan *backward_data;
    /** The backward data pass by Winograd (cpu_winograd.c) when it fits,
     *  instead of backward_data (then NULL). */
    struct cpu_wino *wino;
    /** The forward pass by Winograd (cpu_winograd.c; stride-1 layers), chosen
     *  by cpu_plan_choose_forward; runs instead of the tiles, whose packed
     *  weights (wpack) it then frees. */
    struct cpu_wino *wino_fwd;
    /** The forward pass of one output channel, k 4 s 2, by Winograd with the
     *  tiles in the lanes (cpu_fold_wino.c), chosen by cpu_plan_choose_forward
     *  like wino_fwd (and like it frees wpack). */
    struct cpu_fwino *fold_wino;
    struct cpu_wgrad *backward_weights;
    struct cpu_wgrad *weights_full, *weights_other;
    /** dL/dW by Winograd (cpu_winograd_weights.c) when it fits, at the
     *  batch it was made for; the bias gradient and other batches stay with
     *  the direct pass. */
    struct cpu_wino_wgrad *wino_wgrad;
    /** The forward pass with the W phases merged into the output channels
     *  (cpu_plan_forward.c), which cpu_plan_execute runs and
     *  cpu_plan_set_weights packs instead; NULL when the layer does not fit
     *  or would not gain. */
    struct cpu_plan *w_merged;
    /** In a w_merged plan: the user's W kernel (= stride) s, whose kernel
     *  and bias cpu_plan_set_weights packs (channel kw*Cout + co of tap t is
     *  channel co of the user's tap t*s + kw); 0 in any other plan. */
    int64_t merged_w_taps;
} cpu_plan_t;

/** Element strides of a kernel layout: w[ic, j, tap] (input channel ic, output
 *  channel j of ic's group, tap) is element ic * s.ic + j * s.j + tap * s.tap. */
typedef struct cpu_kernel_strides {
    ptrdiff_t ic, j, tap;
} cpu_kernel_strides_t;

/** The strides of @p p's kernel layout for @p taps taps and @p cout_g output
 *  channels per group: Keras (kd, kh, kw, Cout/G, Cin) or torch (Cin, Cout/G,
 *  kd, kh, kw). */
static inline cpu_kernel_strides_t cpu_kernel_layout(const tconv_canonical_t *p, int64_t taps,
                                                     int64_t cout_g) {
    if (p->kernel_layout == tconv_kernel_keras) {
        return (cpu_kernel_strides_t){1, (ptrdiff_t)p->in_channels,
                                      (ptrdiff_t)(cout_g * p->in_channels)};
    }
    return (cpu_kernel_strides_t){(ptrdiff_t)(cout_g * taps), (ptrdiff_t)taps, 1};
}

/** The plan that runs @p plan's forward pass: its W-merged plan or itself. */
static inline struct cpu_plan *cpu_plan_forward(cpu_plan_t *plan) {
    return plan->w_merged ? plan->w_merged : plan;
}

/** Chunk q of a group: sets *width to its packed channels and returns the
 *  tile's nv (channel vectors, or for dot tiles output channels). */
static inline int cpu_plan_chunk(const cpu_plan_t *plan, int64_t q, int64_t *width) {
    if (plan->dot) {
        int64_t rest = plan->cout_g - q * plan->chunk_cout;
        *width = rest < plan->chunk_cout ? rest : plan->chunk_cout;
        return (int)*width;
    }
    const int64_t nv_max = plan->kernel->nv_max;
    int nv = (int)(plan->nblk - q * nv_max < nv_max ? plan->nblk - q * nv_max : nv_max);
    *width = (int64_t)nv * plan->kernel->vl;
    return nv;
}

/** Input points between consecutive outputs of a run along axis a. */
static inline int64_t cpu_plan_read_step(const cpu_plan_t *plan, int a) {
    return plan->read_step[a] > 1 ? plan->read_step[a] : 1;
}

/** Fold plans: the first input point (W) a fold tile of outputs ow0.. reads. */
int64_t cpu_plan_fold_base(const cpu_plan_t *plan, int64_t ow0);

/** Checks what the backend needs of @p p; tconv_success or an error with
 *  the field and rule in msg (tconv_unimplemented for an unsupported dtype). */
tconv_status_t cpu_problem_check(const tconv_canonical_t *p, char *msg, size_t msg_size);

/** Validates @p p and builds its tables with @p kernel; threads from @p pool. */
tconv_status_t cpu_plan_create(const tconv_canonical_t *p, const cpu_kernel_t *kernel,
                               cpu_thread_pool_t *pool, cpu_plan_t **plan, char *msg,
                               size_t msg_size);
/** Packs a copy of the kernel (and bias, NULL iff !use_bias). */
tconv_status_t cpu_plan_set_weights(cpu_plan_t *plan, const void *kernel, const void *bias,
                                    char *msg, size_t msg_size);
/** Computes the output for @p input into @p output (cpu_execute.c). */
tconv_status_t cpu_plan_execute(cpu_plan_t *plan, const void *input, void *output, char *msg,
                                size_t msg_size);
/** Sets the batch later passes run (1..max_batch): the batch's items are
 *  split among the threads anew; each sample's items, hence every output
 *  element's sums, stay those of a plan made for that batch. */
tconv_status_t cpu_plan_set_batch(cpu_plan_t *plan, int64_t batch, char *msg, size_t msg_size);
/** A forward plan's choices, once after cpu_plan_create (cpu_plan_forward.c):
 *  plan->w_merged when the W phases can be merged into the output channels
 *  and that pays, and stream_output of the plan that runs the pass. */
tconv_status_t cpu_plan_choose_forward(cpu_plan_t *plan, char *msg, size_t msg_size);
/** Whether @p plan's tiles should stream its output (cpu_plan_t.stream_output):
 *  the layout must allow whole aligned vectors (channels_last channel-vector
 *  tiles, 64-byte strided points); TCONV_CPU_STREAM=0 / 1 forces it off / on
 *  there, else outputs larger than the last-level cache stream. */
int cpu_plan_choose_streaming(const cpu_plan_t *plan);
/** Whether an output of @p bytes whose points are @p point_bytes apart (a
 *  multiple of 64: whole aligned vectors) should stream: TCONV_CPU_STREAM=0
 *  / 1 forces it, else outputs larger than the last-level cache stream. */
int cpu_choose_streaming(size_t point_bytes, double bytes);
/** Releases the plan; NULL is ignored. */
void cpu_plan_destroy(cpu_plan_t *plan);

/** Allocates @p count elements of @p size bytes (64-byte aligned when
 *  @p aligned) for the table @p what, or fails with tconv_out_of_memory
 *  naming it when the size overflows, exceeds the host's memory or malloc
 *  fails: how every plan table is allocated. */
tconv_status_t cpu_plan_alloc_table(void **out, int64_t count, size_t size, int aligned,
                                    const char *what, char *msg, size_t msg_size);
/** Sets plan->thread_first: equal-cost ranges of the batch's items (one
 *  sample's items[0, nitems), prefix[i] the cost of items [0, i)), and
 *  keeps @p prefix (malloc'd; the plan frees it) for cpu_plan_set_batch. */
void cpu_plan_split_items(cpu_plan_t *plan, double *prefix);

#endif /* TCONV_CPU_PLAN_H */
