/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side packing of weights and bias into the layout the gather kernel
 * reads: weights [G][NOCB][KD][KH][KW][CING][BLK], bias [G][COUTG_PAD], with
 * zeros in the padding channels. */
#ifndef TCONV_OCL_PACK_H
#define TCONV_OCL_PACK_H

#include "ocl_geometry.h"

/** Packs @p kernel (layout and dtype of @p p) into @p packed
 *  (geo->weight_bytes bytes). */
void ocl_pack_weights(const tconv_canonical_t *p, const ocl_geometry_t *geo, const void *kernel,
                      void *packed);

/** Packs @p bias (NULL: zeros) into @p packed (geo->bias_bytes bytes). */
void ocl_pack_bias(const tconv_canonical_t *p, const ocl_geometry_t *geo, const void *bias,
                   void *packed);

#endif /* TCONV_OCL_PACK_H */
