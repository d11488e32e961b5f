/* SPDX-License-Identifier: Apache-2.0 */
/* The representative layer `tconv demo` runs and `tconv devices` uses to say
 * which device `auto` would pick: a 3D U-Net-like decoder step. */
#ifndef TCONV_CLI_DEMO_LAYER_H
#define TCONV_CLI_DEMO_LAYER_H

#include "tconv/tconv.h"

/** One-line description of the layer, for output. */
extern const char demo_layer_description[];

/** Fills @p problem with the demo layer: N=1, 16^3 x 64 channels in, 32
 *  filters, kernel 3, stride 2, Keras "same" padding, output_padding 1, bias,
 *  relu, channels_last, float32 (output 32^3 x 32). */
tconv_status_t demo_layer_problem(tconv_problem_t *problem);

#endif /* TCONV_CLI_DEMO_LAYER_H */
