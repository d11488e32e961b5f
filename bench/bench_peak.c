/* Peak float32 FMA throughput: independent multiply-add chains in registers,
 * on every thread the host backends would use, for a fixed wall time. */
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

typedef struct peak_worker {
    pthread_t thread;
    start_gate_t *gate;
    peak_kernel_t kernel;
    double seconds;
    double start_ms, end_ms;
    uint64_t iterations;
    volatile float sink; /* keeps the kernels' results alive */
} peak_worker_t;

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

static void *peak_worker_main(void *arg) {
    peak_worker_t *w = arg;
    if (!wait_for_start(w->gate))
        return NULL;
    w->start_ms = bench_now_ms();
    double deadline = w->start_ms + w->seconds * 1e3, now;
    do {
        w->sink = w->kernel.run(PEAK_CHUNK);
        w->iterations += PEAK_CHUNK;
        now = bench_now_ms();
    } while (now < deadline);
    w->end_ms = now;
    return NULL;
}

int bench_peak_measure(double seconds, bench_peak_t *peak, char *message, size_t message_size) {
    memset(peak, 0, sizeof *peak);
    const int threads = bench_peak_threads();
    peak_kernel_t kernel = choose_kernel();
    peak_worker_t *workers = calloc((size_t)threads, sizeof *workers);
    if (!workers) {
        snprintf(message, message_size, "peak: cannot allocate %d thread records", threads);
        return -1;
    }
    start_gate_t gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    /* Warm the core up to its loaded clock (and the code into cache) first:
     * the measured window then sees the steady state. */
    (void)kernel.run(PEAK_CHUNK);
    int started = 0, err = 0;
    for (; started < threads; started++) {
        workers[started] = (peak_worker_t){.gate = &gate, .kernel = kernel, .seconds = seconds};
        err = pthread_create(&workers[started].thread, NULL, peak_worker_main, &workers[started]);
        if (err != 0)
            break;
    }
    open_gate(&gate, err ? 2 : 1);
    double first_start = 0.0, last_end = 0.0, flops = 0.0;
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        if (i == 0 || workers[i].start_ms < first_start)
            first_start = workers[i].start_ms;
        if (workers[i].end_ms > last_end)
            last_end = workers[i].end_ms;
        flops += (double)workers[i].iterations * kernel.flops_per_iteration;
    }
    free(workers);
    if (err != 0) {
        snprintf(message, message_size, "peak: cannot start thread %d of %d: %s", started + 1,
                 threads, strerror(err));
        return -1;
    }
    double wall_s = (last_end - first_start) * 1e-3;
    peak->threads = threads;
    peak->isa = kernel.isa;
    peak->seconds = wall_s;
    peak->gflops = wall_s > 0 ? flops / wall_s * 1e-9 : 0.0;
    return 0;
}
