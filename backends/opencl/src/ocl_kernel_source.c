/* SPDX-License-Identifier: Apache-2.0 */
/* The kernels, embedded at build time by cmake/embed_kernel.cmake. */
#include "ocl_kernel_source.h"

#include <string.h>

#include "activation.cl.h"
#include "ocl_cache_file.h"
#include "pack_weights.cl.h"
#include "pad_input.cl.h"
#include "tconv_backward_data.cl.h"
#include "tconv_backward_weights.cl.h"
#include "tconv_gather.cl.h"
#include "tconv_gather_wvec.cl.h"

static const char *const ocl_forward_sources[] = {
    tconv_ocl_src_activation_cl,   tconv_ocl_src_pad_input_cl,
    tconv_ocl_src_tconv_gather_cl, tconv_ocl_src_tconv_gather_wvec_cl,
    tconv_ocl_src_pack_weights_cl,
};

/* activation.cl first for its common macros (REAL, VT, VLOAD, ...). */
static const char *const ocl_backward_sources[] = {
    tconv_ocl_src_activation_cl,
    tconv_ocl_src_tconv_backward_data_cl,
    tconv_ocl_src_tconv_backward_weights_cl,
};

const char *const *ocl_kernel_sources(ocl_source_set_t set, size_t *count) {
    if (set == ocl_sources_backward) {
        *count = sizeof(ocl_backward_sources) / sizeof(ocl_backward_sources[0]);
        return ocl_backward_sources;
    }
    *count = sizeof(ocl_forward_sources) / sizeof(ocl_forward_sources[0]);
    return ocl_forward_sources;
}

uint64_t ocl_kernel_source_hash(ocl_source_set_t set) {
    size_t count = 0;
    const char *const *sources = ocl_kernel_sources(set, &count);
    uint64_t h = OCL_FNV_OFFSET;
    for (size_t i = 0; i < count; i++)
        h = ocl_fnv1a64(h, sources[i], strlen(sources[i]) + 1);
    return h;
}
