/* SPDX-License-Identifier: Apache-2.0 */
/* Weight and bias packing (see ocl_pack.h). */
#include "ocl_pack.h"

#include <string.h>

/* Index of weight (group gg, input channel ic within the group, output
 * channel j within the group, taps td/th/tw) in the caller's layout. */
static size_t source_index(const tconv_canonical_t *p, const ocl_geometry_t *g, int64_t gg,
                           int64_t ic, int64_t j, int64_t td, int64_t th, int64_t tw) {
    const int64_t kd = p->kernel_size[0], kh = p->kernel_size[1], kw = p->kernel_size[2];
    const int64_t cin = p->in_channels, ci = gg * g->cing + ic;
    if (p->kernel_layout == tconv_kernel_keras)
        return (size_t)((((td * kh + th) * kw + tw) * g->coutg + j) * cin + ci);
    return (size_t)((((ci * g->coutg + j) * kd + td) * kh + th) * kw + tw);
}

#define PACK_WEIGHTS(T)                                                                            \
    do {                                                                                           \
        const T *src = kernel;                                                                     \
        T *dst = packed;                                                                           \
        size_t o = 0;                                                                              \
        for (int64_t gg = 0; gg < p->groups; gg++)                                                 \
            for (int64_t b = 0; b < g->nocb; b++)                                                  \
                for (int64_t td = 0; td < p->kernel_size[0]; td++)                                 \
                    for (int64_t th = 0; th < p->kernel_size[1]; th++)                             \
                        for (int64_t tw = 0; tw < p->kernel_size[2]; tw++)                         \
                            for (int64_t ic = 0; ic < g->cing; ic++)                               \
                                for (int64_t l = 0; l < g->blk; l++, o++) {                        \
                                    int64_t j = b * g->blk + l;                                    \
                                    dst[o] = j < g->coutg                                          \
                                                 ? src[source_index(p, g, gg, ic, j, td, th, tw)]  \
                                                 : (T)0;                                           \
                                }                                                                  \
    } while (0)

void ocl_pack_weights(const tconv_canonical_t *p, const ocl_geometry_t *g, const void *kernel,
                      void *packed) {
    if (p->dtype == tconv_f64)
        PACK_WEIGHTS(double);
    else
        PACK_WEIGHTS(float);
}

void ocl_pack_bias(const tconv_canonical_t *p, const ocl_geometry_t *g, const void *bias,
                   void *packed) {
    memset(packed, 0, (size_t)g->bias_bytes);
    if (!bias)
        return;
    for (int64_t gg = 0; gg < p->groups; gg++)
        memcpy((char *)packed + (size_t)(gg * g->coutg_pad) * g->elem,
               (const char *)bias + (size_t)(gg * g->coutg) * g->elem, (size_t)g->coutg * g->elem);
}
