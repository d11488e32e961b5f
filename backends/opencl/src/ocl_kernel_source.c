/* The kernels, embedded at build time by cmake/embed_kernel.cmake. */
#include "ocl_kernel_source.h"

#include <string.h>

#include "activation.cl.h"
#include "ocl_cache_file.h"
#include "pad_input.cl.h"
#include "tconv_gather.cl.h"
#include "tconv_gather_wvec.cl.h"

static const char *const ocl_sources[] = {
    tconv_ocl_src_activation_cl,
    tconv_ocl_src_pad_input_cl,
    tconv_ocl_src_tconv_gather_cl,
    tconv_ocl_src_tconv_gather_wvec_cl,
};

const char *const *ocl_kernel_sources(size_t *count) {
    *count = sizeof(ocl_sources) / sizeof(ocl_sources[0]);
    return ocl_sources;
}

uint64_t ocl_kernel_source_hash(void) {
    uint64_t h = OCL_FNV_OFFSET;
    for (size_t i = 0; i < sizeof(ocl_sources) / sizeof(ocl_sources[0]); i++)
        h = ocl_fnv1a64(h, ocl_sources[i], strlen(ocl_sources[i]) + 1);
    return h;
}
