/* SPDX-License-Identifier: Apache-2.0 */
/* The demo layer, in one place so `devices` and `demo` agree. */
#include "demo_layer.h"

const char demo_layer_description[] =
    "3D U-Net decoder step: input 1x16x16x16x64 (NDHWC), 32 filters, kernel 3, stride 2, "
    "padding same, output_padding 1, bias, relu, float32 -> output 1x32x32x32x32";

tconv_status_t demo_layer_problem(tconv_problem_t *p) {
    tconv_status_t st = tconv_problem_init(p, 3);
    if (st != tconv_success)
        return st;
    /* tconv_problem_init gave float32, groups 1, dilation 1, channels_last and
     * the Keras kernel layout; set only what differs. */
    p->in_channels = 64;
    p->out_channels = 32;
    for (int i = 0; i < 3; i++) {
        p->input_size[i] = 16;
        p->kernel_size[i] = 3;
        p->strides[i] = 2;
        p->output_padding[i] = 1;
    }
    p->padding = tconv_padding_same;
    p->has_output_padding = 1;
    p->use_bias = 1;
    p->activation = tconv_activation_relu;
    return tconv_success;
}
