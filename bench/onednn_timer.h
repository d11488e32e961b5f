/* SPDX-License-Identifier: Apache-2.0 */
/* oneDNN's deconvolution of the same layer and pass (forward, backward data,
 * backward weights with the bias gradient, or the three of a training step),
 * prepared once and then executed one timed run at a time, for the benchmark
 * suite's comparison.
 * oneDNN is optional: without it (configure found no libdnnl, or
 * TCONV_WITH_ONEDNN=OFF) every call reports "oneDNN: not built in" and the
 * suite leaves its columns out. */
#ifndef TCONV_BENCH_ONEDNN_TIMER_H
#define TCONV_BENCH_ONEDNN_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "tconv/tconv.h"

/** Nonzero when this build can time oneDNN. */
int onednn_timer_available(void);

/** "oneDNN 2.6.3 (OpenMP, 2 threads)" or "oneDNN: not built in". */
void onednn_timer_describe(char *text, size_t text_size);

/** oneDNN deconvolution primitives ready to execute (opaque). */
typedef struct onednn_layer onednn_layer_t;

/** Prepares oneDNN's primitives for @p pass of @p layer (float32, groups 1)
 *  in their best case: every tensor in the blocked layout the primitive
 *  chooses (format_tag_any), seeded random data reordered into them here
 *  (untimed), each primitive with tensors of its own so that no reorder runs
 *  between them; bias as @p layer says (and its gradient in the backward
 *  weights pass); the forward pass with a ReLU eltwise post-op when
 *  layer->activation is relu. Forward: forward_inference. Backward data and
 *  backward weights: their primitive with a forward_training primitive
 *  descriptor as the hint. Training: forward_training, backward data and
 *  backward weights, one after the other.
 *  oneDNN's OpenMP threads are set to bench_peak_threads() (tconv's host
 *  thread count) unless OMP_NUM_THREADS is set.
 *  @param implementation Receives oneDNN's implementation name, e.g.
 *         "jit:avx512_core" (training: the three names, '/'-separated).
 *  @returns tconv_success; tconv_unimplemented when oneDNN is not built in
 *           or cannot express the layer (other dtypes, groups, activations,
 *           an activation with a backward pass); tconv_out_of_memory or
 *           tconv_runtime_error when oneDNN fails. @p message says why;
 *           nothing is left allocated on failure. */
tconv_status_t onednn_layer_prepare(const tconv_canonical_t *layer, bench_pass_t pass,
                                    uint64_t seed, onednn_layer_t **prepared, char *implementation,
                                    size_t implementation_size, char *message, size_t message_size);

/** One execution of the pass (each primitive's dnnl_primitive_execute, then
 *  dnnl_stream_wait); @p ms receives its wall time. Then, untimed, a 30 ms
 *  wait while oneDNN's OpenMP threads spin before they sleep (unless
 *  OMP_WAIT_POLICY=passive), so they do not slow what runs next. */
tconv_status_t onednn_layer_execute(onednn_layer_t *prepared, double *ms, char *message,
                                    size_t message_size);

/** Releases everything; NULL is accepted. */
void onednn_layer_release(onednn_layer_t *prepared);

#endif /* TCONV_BENCH_ONEDNN_TIMER_H */
