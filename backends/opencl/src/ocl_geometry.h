/* SPDX-License-Identifier: Apache-2.0 */
/* Plan geometry computed on the host: per-axis phase/tap facts, the register
 * tile and vector width, the padded input tile, and the split into tiles
 * (batch, then output depth) that keeps every buffer under the device's
 * allocation limit. Everything here becomes build options or buffer sizes. */
#ifndef TCONV_OCL_GEOMETRY_H
#define TCONV_OCL_GEOMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv_types.h"

/** One spatial axis. o = i*s + t*d - crop; phase p = o % s. */
typedef struct ocl_axis {
    int64_t in, out, k, s, d, crop;
    int64_t sg;      /**< Tap step inside a phase: s / gcd(s, d). */
    int64_t mt;      /**< Most taps any phase has: ceil(k / sg). */
    int64_t jmax;    /**< Outputs of phase 0 (the most of any phase): ceil(out / s). */
    int has_taps;    /**< Some tap lands on some output. */
    int64_t min_off; /**< Smallest (p + crop - t*d) / s over landing taps (0 if none). */
    int64_t max_off; /**< Largest one. */
} ocl_axis_t;

typedef struct ocl_geometry {
    ocl_axis_t ax[3]; /**< D, H, W. */
    size_t elem;      /**< Bytes per element. */
    int wvec;         /**< 1: vectors run along W (few or odd output channels). */
    int vec;          /**< Lanes per accumulator vector (1 = scalar path). */
    int nvec;         /**< Channel path: vectors of channels; W path: channels per work-item. */
    int tw;           /**< Outputs along W per work-item. */
    int th;           /**< Outputs along H per work-item (W path; 1 otherwise). */
    int64_t cing, coutg;
    int64_t blk;       /**< Channels per block: vec * nvec (channel path), nvec (W path). */
    int64_t nocb;      /**< Channel blocks per group. */
    int64_t coutg_pad; /**< nocb * blk. */
    int64_t wt;        /**< W tiles per phase: ceil(jmax_w / tw). */
    int64_t jht;       /**< H tiles per phase: ceil(jmax_h / th). */
    int phase_fast;    /**< Phases vary fastest in the NDRange (small weights). */
    int64_t xh, xw;    /**< Padded input tile H, W. */
    /* Tiling. */
    int64_t nb;    /**< Samples per tile. */
    int64_t jdt;   /**< Depth indices (per phase) per tile. */
    int64_t xd;    /**< Padded input depth per tile. */
    int64_t rd;    /**< Raw input depth uploaded per tile (at most). */
    int64_t odt;   /**< Output depth per tile buffer: s_d * jdt. */
    int64_t tiles; /**< Number of tiles. */
    int exact;     /**< One tile whose raw input and output buffers are laid out exactly
                        as the caller's tensors (rd = input depth, odt = output depth). */
    uint64_t raw_bytes, pad_bytes, out_bytes, weight_bytes, bias_bytes;
} ocl_geometry_t;

/** Computes the geometry for @p p on a device whose single allocations may
 *  not exceed @p max_alloc and whose buffers together may not exceed
 *  @p global_mem. tconv_unimplemented (with the reason) when even the
 *  smallest tile or the packed weights do not fit. */
tconv_status_t ocl_geometry_init(const tconv_canonical_t *p, uint64_t max_alloc,
                                 uint64_t global_mem, ocl_geometry_t *geo, char *msg,
                                 size_t msg_size);

#endif /* TCONV_OCL_GEOMETRY_H */
