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

/** For the D or H axis: per output coordinate o, the taps that reach it,
 *  entries [start[o], start[o+1]) of tap[] and in[] (input index). */
typedef struct cpu_axis_taps {
    int64_t *start;
    int64_t *tap;
    int64_t *in;
} cpu_axis_taps_t;

/** Along W: outputs o0, o0+s, ... (count of them, one phase) that share a
 *  tap set; tap k of the run reads input in0[k] + j for the j-th point. */
typedef struct cpu_w_run {
    int64_t o0;
    int64_t count;
    int64_t first; /**< Index of the run's first tap in run_tap/run_in0. */
    int64_t ntaps;
} cpu_w_run_t;

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
    int64_t nblk;          /**< VL-wide channel blocks per group (Cout/G rounded up). */
    int64_t nchunk;        /**< Chunks of up to nv_max blocks per group. */
    int64_t chunk_cout;    /**< Channels in a full chunk: nv_max * VL. */
    int64_t taps;          /**< kd * kh * kw. */
    int64_t rows;          /**< N * out D * out H: rows of W outputs. */
    cpu_strides_t xs, ys;  /**< Input and output strides. */

    cpu_axis_taps_t d_taps, h_taps;
    cpu_w_run_t *runs;
    int64_t nruns;
    int64_t *run_tap, *run_in0;

    void *wpack; /**< [G][chunk][tap][cin_g][nv*VL], zero-padded channels. */
    void *bias;  /**< Cout values, or NULL. */
    int weights_set;

    size_t nthreads;
    ptrdiff_t *thread_offsets; /**< Per thread: 2 * taps offsets (x then w). */
    void *thread_acc;          /**< Per thread: one tile of sums. */
    size_t acc_stride;         /**< Bytes between threads' tiles. */
} cpu_plan_t;

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
/** Releases the plan; NULL is ignored. */
void cpu_plan_destroy(cpu_plan_t *plan);

#endif /* TCONV_CPU_PLAN_H */
