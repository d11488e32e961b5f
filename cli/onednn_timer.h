/* Timing oneDNN's forward deconvolution on the same layer, for the benchmark
 * suite's comparison column. oneDNN is optional: without it (configure found
 * no libdnnl, or TCONV_WITH_ONEDNN=OFF) every call reports "oneDNN: not built
 * in" and the suite leaves its columns out. */
#ifndef TCONV_CLI_ONEDNN_TIMER_H
#define TCONV_CLI_ONEDNN_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv.h"

/** Timings of one oneDNN primitive. */
typedef struct onednn_result {
    double median_ms, min_ms, max_ms;
    char implementation[128]; /**< oneDNN's implementation name, e.g. "jit:avx512_core". */
} onednn_result_t;

/** Nonzero when this build can time oneDNN. */
int onednn_timer_available(void);

/** "oneDNN 2.6.3 (OpenMP, 2 threads)" or "oneDNN: not built in". */
void onednn_timer_describe(char *text, size_t text_size);

/** Times oneDNN's deconvolution of @p layer (float32, groups 1; its best
 *  case: source, weights and destination in blocked layouts oneDNN chooses,
 *  random data reordered into them untimed; bias as @p layer says; a ReLU
 *  eltwise post-op when layer->activation is relu). oneDNN's OpenMP threads
 *  are set to bench_peak_threads() (tconv's host thread count) unless
 *  OMP_NUM_THREADS is set. Runs @p warmup untimed
 *  executions, then @p repeat timed ones summarised by bench_summarize_times.
 *  @returns tconv_success; tconv_unimplemented when oneDNN is not built in
 *           or cannot express the layer (other dtypes, groups, activations);
 *           tconv_out_of_memory or tconv_runtime_error when oneDNN fails.
 *           @p message says why. */
tconv_status_t onednn_time_layer(const tconv_canonical_t *layer, int warmup, int repeat,
                                 uint64_t seed, onednn_result_t *result, char *message,
                                 size_t message_size);

#endif /* TCONV_CLI_ONEDNN_TIMER_H */
