/* SPDX-License-Identifier: Apache-2.0 */
/* Building `tconv` command lines in the CLI tests. */
#include "cli_command.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef long long ll;

/* Appends "v0,v1,..." of @p rank values to @p out. */
static void list(char *out, size_t size, const int64_t *v, int rank) {
    size_t used = 0;
    for (int i = 0; i < rank; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%lld", i ? "," : "", (ll)v[i]);
}

void tc_cli_push(tc_cli_command_t *a, const char *s) {
    snprintf(a->storage[a->argc], sizeof a->storage[a->argc], "%s", s);
    a->argv[a->argc] = a->storage[a->argc];
    a->argc++;
    a->argv[a->argc] = NULL;
}

void tc_cli_push2(tc_cli_command_t *a, const char *opt, const char *value) {
    tc_cli_push(a, opt);
    tc_cli_push(a, value);
}

/* The CLI options that state problem @p p (shapes come from the files). */
void tc_cli_push_layer_options(tc_cli_command_t *a, const tconv_problem_t *p) {
    char buf[128];
    int r = p->spatial_rank;
    list(buf, sizeof buf, p->strides, r);
    tc_cli_push2(a, "--strides", buf);
    list(buf, sizeof buf, p->dilation, r);
    tc_cli_push2(a, "--dilation-rate", buf);
    int has_shape = p->output_shape[0] != 0;
    switch (p->padding) {
    case tconv_padding_valid:
    case tconv_padding_same:
        tc_cli_push2(a, "--padding", p->padding == tconv_padding_valid ? "valid" : "same");
        break;
    case tconv_padding_explicit:
        if (!has_shape) {
            int64_t pads[6];
            memcpy(pads, p->pads_begin, sizeof(int64_t) * (size_t)r);
            memcpy(pads + r, p->pads_end, sizeof(int64_t) * (size_t)r);
            list(buf, sizeof buf, pads, 2 * r);
            tc_cli_push2(a, "--padding", buf);
        } else {
            tc_cli_push2(a, "--auto-pad", "notset");
        }
        break;
    case tconv_padding_same_upper:
        tc_cli_push2(a, "--auto-pad", "same_upper");
        break;
    case tconv_padding_same_lower:
        tc_cli_push2(a, "--auto-pad", "same_lower");
        break;
    }
    if (has_shape) {
        list(buf, sizeof buf, p->output_shape, r);
        tc_cli_push2(a, "--output-shape", buf);
    }
    if (p->has_output_padding) {
        list(buf, sizeof buf, p->output_padding, r);
        tc_cli_push2(a, "--output-padding", buf);
    }
    snprintf(buf, sizeof buf, "%lld", (ll)p->groups);
    tc_cli_push2(a, "--groups", buf);
    tc_cli_push2(a, "--data-format",
                 p->data_format == tconv_channels_first ? "channels_first" : "channels_last");
    tc_cli_push2(a, "--kernel-layout", p->kernel_layout == tconv_kernel_torch ? "torch" : "keras");
    tc_cli_push2(a, "--activation", tconv_activation_name(p->activation));
    if (!isnan(p->activation_alpha)) {
        snprintf(buf, sizeof buf, "%.17g", p->activation_alpha);
        tc_cli_push2(a, "--activation-alpha", buf);
    }
    tc_cli_push2(a, "--dtype", p->dtype == tconv_f64 ? "float64" : "float32");
}
