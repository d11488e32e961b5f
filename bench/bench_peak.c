/* SPDX-License-Identifier: Apache-2.0 */
/* The machine's ceilings, measured now on every thread the host backends
 * would use, for a fixed wall time: peak float32 FMA throughput (independent
 * multiply-add chains in registers) and copy bandwidth (a STREAM-like copy
 * of buffers larger than the caches). */
#include "bench_peak.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common/cpu_features.h"
#include "common/host_threads.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PEAK_X86 1
#endif

/* Iterations between clock reads: tens of microseconds, so the clock costs
 * nothing and the deadline is overshot by little. */
#define PEAK_CHUNK 16384

int bench_peak_threads(void) {
    return tconv_host_threads(NULL); /* the core's rule for host backends */
}

/* Each kernel runs @p iterations of its chains and returns a value that
 * depends on every accumulator, so nothing can be optimised away. The chains
 * compute acc = acc * a + b with a just below 1: values stay normal. */
typedef float (*fma_kernel_t)(uint64_t iterations);

#if PEAK_X86
/* 24 zmm chains: Zen 5 and recent Intel cores need latency (4) x FMA ports
 * (2) = 8 chains in flight; 24 leaves slack and still fits the 32 registers
 * with the two operands. */
#define AVX512_CHAINS  24
#define AVX512_STEP(i) acc##i = _mm512_fmadd_ps(acc##i, a, b)
__attribute__((target("avx512f"))) static float fma_avx512(uint64_t iterations) {
    const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
    /* Distinct starting values: equal chains would be merged by the compiler. */
    __m512 acc0 = _mm512_set1_ps(0.50f), acc1 = _mm512_set1_ps(0.51f), acc2 = _mm512_set1_ps(0.52f),
           acc3 = _mm512_set1_ps(0.53f), acc4 = _mm512_set1_ps(0.54f), acc5 = _mm512_set1_ps(0.55f),
           acc6 = _mm512_set1_ps(0.56f), acc7 = _mm512_set1_ps(0.57f), acc8 = _mm512_set1_ps(0.58f),
           acc9 = _mm512_set1_ps(0.59f), acc10 = _mm512_set1_ps(0.60f),
           acc11 = _mm512_set1_ps(0.61f), acc12 = _mm512_set1_ps(0.62f),
           acc13 = _mm512_set1_ps(0.63f), acc14 = _mm512_set1_ps(0.64f),
           acc15 = _mm512_set1_ps(0.65f), acc16 = _mm512_set1_ps(0.66f),
           acc17 = _mm512_set1_ps(0.67f), acc18 = _mm512_set1_ps(0.68f),
           acc19 = _mm512_set1_ps(0.69f), acc20 = _mm512_set1_ps(0.70f),
           acc21 = _mm512_set1_ps(0.71f), acc22 = _mm512_set1_ps(0.72f),
           acc23 = _mm512_set1_ps(0.73f);
    for (uint64_t it = 0; it < iterations; it++) {
        AVX512_STEP(0), AVX512_STEP(1), AVX512_STEP(2), AVX512_STEP(3), AVX512_STEP(4);
        AVX512_STEP(5), AVX512_STEP(6), AVX512_STEP(7), AVX512_STEP(8), AVX512_STEP(9);
        AVX512_STEP(10), AVX512_STEP(11), AVX512_STEP(12), AVX512_STEP(13), AVX512_STEP(14);
        AVX512_STEP(15), AVX512_STEP(16), AVX512_STEP(17), AVX512_STEP(18), AVX512_STEP(19);
        AVX512_STEP(20), AVX512_STEP(21), AVX512_STEP(22), AVX512_STEP(23);
    }
    __m512 s = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)),
                      _mm512_add_ps(_mm512_add_ps(acc4, acc5), _mm512_add_ps(acc6, acc7))),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc8, acc9), _mm512_add_ps(acc10, acc11)),
                      _mm512_add_ps(_mm512_add_ps(acc12, acc13), _mm512_add_ps(acc14, acc15))));
    s = _mm512_add_ps(
        s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc16, acc17), _mm512_add_ps(acc18, acc19)),
                         _mm512_add_ps(_mm512_add_ps(acc20, acc21), _mm512_add_ps(acc22, acc23))));
    return _mm512_reduce_add_ps(s);
}

/* 14 ymm chains: AVX2 has 16 registers and the two operands need two. */
#define AVX2_CHAINS  14
#define AVX2_STEP(i) acc##i = _mm256_fmadd_ps(acc##i, a, b)
__attribute__((target("avx2,fma"))) static float fma_avx2(uint64_t iterations) {
    const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
    __m256 acc0 = _mm256_set1_ps(0.50f), acc1 = _mm256_set1_ps(0.51f), acc2 = _mm256_set1_ps(0.52f),
           acc3 = _mm256_set1_ps(0.53f), acc4 = _mm256_set1_ps(0.54f), acc5 = _mm256_set1_ps(0.55f),
           acc6 = _mm256_set1_ps(0.56f), acc7 = _mm256_set1_ps(0.57f), acc8 = _mm256_set1_ps(0.58f),
           acc9 = _mm256_set1_ps(0.59f), acc10 = _mm256_set1_ps(0.60f),
           acc11 = _mm256_set1_ps(0.61f), acc12 = _mm256_set1_ps(0.62f),
           acc13 = _mm256_set1_ps(0.63f);
    for (uint64_t it = 0; it < iterations; it++) {
        AVX2_STEP(0), AVX2_STEP(1), AVX2_STEP(2), AVX2_STEP(3), AVX2_STEP(4), AVX2_STEP(5);
        AVX2_STEP(6), AVX2_STEP(7), AVX2_STEP(8), AVX2_STEP(9), AVX2_STEP(10), AVX2_STEP(11);
        AVX2_STEP(12), AVX2_STEP(13);
    }
    __m256 s = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)),
                      _mm256_add_ps(_mm256_add_ps(acc4, acc5), _mm256_add_ps(acc6, acc7))),
        _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc8, acc9), _mm256_add_ps(acc10, acc11)),
                      _mm256_add_ps(acc12, acc13)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

/* Portable fallback: 16 scalar chains (a multiply and an add each when the
 * target has no FMA: the same 2 FLOP). */
#define SCALAR_CHAINS 16
static float fma_scalar(uint64_t iterations) {
    const float a = 0.9999999f, b = 1e-7f;
    float acc[SCALAR_CHAINS];
    for (int i = 0; i < SCALAR_CHAINS; i++)
        acc[i] = 0.5f + 0.01f * (float)i;
    for (uint64_t it = 0; it < iterations; it++)
        for (int i = 0; i < SCALAR_CHAINS; i++)
            acc[i] = acc[i] * a + b;
    float s = 0.0f;
    for (int i = 0; i < SCALAR_CHAINS; i++)
        s += acc[i];
    return s;
}

typedef struct peak_kernel {
    const char *isa;
    fma_kernel_t run;
    double flops_per_iteration; /* chains x lanes x 2 */
} peak_kernel_t;

static peak_kernel_t choose_kernel(void) {
#if PEAK_X86
    /* The features each kernel's target attribute names. */
    const unsigned have = tconv_cpu_features();
    if (tconv_cpu_has_all(have, TCONV_CPU_AVX512F))
        return (peak_kernel_t){"avx512f", fma_avx512, AVX512_CHAINS * 16 * 2};
    if (tconv_cpu_has_all(have, TCONV_CPU_AVX2 | TCONV_CPU_FMA))
        return (peak_kernel_t){"avx2+fma", fma_avx2, AVX2_CHAINS * 8 * 2};
#endif
    return (peak_kernel_t){"scalar", fma_scalar, SCALAR_CHAINS * 2};
}

const char *bench_peak_isa(void) {
    return choose_kernel().isa;
}

/* The start signal: workers wait until every thread exists, so the measured
 * window has all of them running; "abort" releases them when one could not be
 * created. */
typedef struct start_gate {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int state; /* 0 waiting, 1 go, 2 abort */
} start_gate_t;

/* One step of a measured loop: does a fixed piece of work on the worker's
 * @p state and returns its size (FLOP or bytes). */
typedef double (*work_step_t)(void *state);

typedef struct ceiling_worker {
    pthread_t thread;
    start_gate_t *gate;
    work_step_t step;
    void *state;
    double seconds;
    double start_ms, end_ms;
    double work; /* FLOP or bytes done in [start_ms, end_ms] */
} ceiling_worker_t;

static int wait_for_start(start_gate_t *gate) {
    pthread_mutex_lock(&gate->lock);
    while (gate->state == 0)
        pthread_cond_wait(&gate->changed, &gate->lock);
    int go = gate->state == 1;
    pthread_mutex_unlock(&gate->lock);
    return go;
}

static void open_gate(start_gate_t *gate, int state) {
    pthread_mutex_lock(&gate->lock);
    gate->state = state;
    pthread_cond_broadcast(&gate->changed);
    pthread_mutex_unlock(&gate->lock);
}

static void *ceiling_worker_main(void *arg) {
    ceiling_worker_t *w = arg;
    if (!wait_for_start(w->gate))
        return NULL;
    w->start_ms = bench_now_ms();
    double deadline = w->start_ms + w->seconds * 1e3, now;
    do {
        w->work += w->step(w->state);
        now = bench_now_ms();
    } while (now < deadline);
    w->end_ms = now;
    return NULL;
}

/* Runs @p step on @p threads threads (thread t on the t-th of the states of
 * @p state_size bytes at @p states) for about @p seconds; returns the work
 * per second of all threads together and the wall time, or -1 with
 * @p message set. */
static int run_on_threads(work_step_t step, void *states, size_t state_size, int threads,
                          double seconds, double *rate, double *wall_s, char *message,
                          size_t message_size) {
    ceiling_worker_t *workers = calloc((size_t)threads, sizeof *workers);
    if (!workers) {
        snprintf(message, message_size, "cannot allocate %d thread records", threads);
        return -1;
    }
    start_gate_t gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int started = 0, err = 0;
    for (; started < threads; started++) {
        workers[started] =
            (ceiling_worker_t){.gate = &gate,
                               .step = step,
                               .state = (char *)states + (size_t)started * state_size,
                               .seconds = seconds};
        err =
            pthread_create(&workers[started].thread, NULL, ceiling_worker_main, &workers[started]);
        if (err != 0)
            break;
    }
    open_gate(&gate, err ? 2 : 1);
    double first_start = 0.0, last_end = 0.0, work = 0.0;
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        if (i == 0 || workers[i].start_ms < first_start)
            first_start = workers[i].start_ms;
        if (workers[i].end_ms > last_end)
            last_end = workers[i].end_ms;
        work += workers[i].work;
    }
    free(workers);
    if (err != 0) {
        snprintf(message, message_size, "cannot start thread %d of %d: %s", started + 1, threads,
                 strerror(err));
        return -1;
    }
    *wall_s = (last_end - first_start) * 1e-3;
    *rate = *wall_s > 0 ? work / *wall_s : 0.0;
    return 0;
}

/* The FMA loop's state: the kernel and a sink that keeps its results alive. */
typedef struct fma_state {
    peak_kernel_t kernel;
    volatile float sink;
} fma_state_t;

static double fma_step(void *opaque) {
    fma_state_t *f = opaque;
    f->sink = f->kernel.run(PEAK_CHUNK);
    return PEAK_CHUNK * f->kernel.flops_per_iteration;
}

int bench_peak_measure(double seconds, bench_peak_t *peak, char *message, size_t message_size) {
    memset(peak, 0, sizeof *peak);
    const int threads = bench_peak_threads();
    peak_kernel_t kernel = choose_kernel();
    fma_state_t *states = calloc((size_t)threads, sizeof *states);
    if (!states) {
        snprintf(message, message_size, "peak: cannot allocate %d thread records", threads);
        return -1;
    }
    for (int t = 0; t < threads; t++)
        states[t].kernel = kernel;
    /* Warm the core up to its loaded clock (and the code into cache) first:
     * the measured window then sees the steady state. */
    (void)kernel.run(PEAK_CHUNK);
    char reason[200];
    double rate = 0.0, wall_s = 0.0;
    int rc = run_on_threads(fma_step, states, sizeof *states, threads, seconds, &rate, &wall_s,
                            reason, sizeof reason);
    free(states);
    if (rc != 0) {
        snprintf(message, message_size, "peak: %s", reason);
        return -1;
    }
    peak->threads = threads;
    peak->isa = kernel.isa;
    peak->seconds = wall_s;
    peak->gflops = rate * 1e-9;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Copy bandwidth                                                          */

/* Each thread copies its own source slice to its own destination slice, a
 * chunk per step, round and round. Together the slices are 4x the largest
 * last-level cache we expect (32 MiB here), so every pass goes to memory. */
#define COPY_TOTAL_BYTES (256u << 20) /* source + destination, all threads */
#define COPY_CHUNK_BYTES (1u << 20)

typedef struct copy_state {
    char *src, *dst;
    size_t bytes; /* of each slice, a multiple of COPY_CHUNK_BYTES */
    size_t at;
} copy_state_t;

/* The buffers, allocated at the first measurement and kept for the next
 * (first-touching 256 MiB twice per layer would cost more than the loop). */
static struct {
    char *memory;
    int threads;
} copy_buffers;

static double copy_step(void *opaque) {
    copy_state_t *c = opaque;
    /* memcpy, as STREAM's Copy compiles to: the stores a kernel makes
     * (regular, so the destination's lines are read first, as a kernel's
     * output lines are; STREAM counts only the bytes copied). */
    memcpy(c->dst + c->at, c->src + c->at, COPY_CHUNK_BYTES);
    c->at = c->at + COPY_CHUNK_BYTES < c->bytes ? c->at + COPY_CHUNK_BYTES : 0;
    return 2.0 * COPY_CHUNK_BYTES; /* read + written */
}

/* First touch by the thread that will copy it: the pages land where it runs. */
static double touch_step(void *opaque) {
    copy_state_t *c = opaque;
    memset(c->src, 1, c->bytes);
    memset(c->dst, 2, c->bytes);
    return 0.0;
}

int bench_bandwidth_measure(double seconds, bench_bandwidth_t *bandwidth, char *message,
                            size_t message_size) {
    memset(bandwidth, 0, sizeof *bandwidth);
    const int threads = bench_peak_threads();
    const size_t slice =
        (COPY_TOTAL_BYTES / 2 / (size_t)threads) / COPY_CHUNK_BYTES * COPY_CHUNK_BYTES;
    if (slice == 0) {
        snprintf(message, message_size, "bandwidth: %d threads: too many for %u MiB of buffers",
                 threads, COPY_TOTAL_BYTES >> 20);
        return -1;
    }
    copy_state_t *states = calloc((size_t)threads, sizeof *states);
    int fresh = 0;
    if (states && (!copy_buffers.memory || copy_buffers.threads != threads)) {
        bench_bandwidth_release();
        copy_buffers.memory = malloc(2 * slice * (size_t)threads);
        copy_buffers.threads = threads;
        fresh = 1;
    }
    if (!states || !copy_buffers.memory) {
        free(states);
        snprintf(message, message_size, "bandwidth: cannot allocate %zu MiB of copy buffers",
                 (2 * slice * (size_t)threads) >> 20);
        return -1;
    }
    for (int t = 0; t < threads; t++) {
        char *mine = copy_buffers.memory + 2 * slice * (size_t)t;
        states[t] = (copy_state_t){mine, mine + slice, slice, 0};
    }
    char reason[200];
    double rate = 0.0, wall_s = 0.0;
    int rc = 0;
    if (fresh)
        rc = run_on_threads(touch_step, states, sizeof *states, threads, 0.0, &rate, &wall_s,
                            reason, sizeof reason);
    if (rc == 0)
        rc = run_on_threads(copy_step, states, sizeof *states, threads, seconds, &rate, &wall_s,
                            reason, sizeof reason);
    free(states);
    if (rc != 0) {
        snprintf(message, message_size, "bandwidth: %s", reason);
        return -1;
    }
    bandwidth->threads = threads;
    bandwidth->seconds = wall_s;
    bandwidth->gbytes = rate * 1e-9;
    return 0;
}

void bench_bandwidth_release(void) {
    free(copy_buffers.memory);
    copy_buffers.memory = NULL;
    copy_buffers.threads = 0;
}
