/* SPDX-License-Identifier: Apache-2.0 */
/* Copies one tile of the raw input (the caller's layout, uploaded as is) into
 * a zero-padded buffer covering exactly
 * the input indices the gather kernel reads, so the gather needs no bounds
 * checks. Layout (n, XD, XH, XW, CIN) for the channel path, (n, XD, XH,
 * CIN, XW) for the W path (WVEC: vectors along W are contiguous). Padded index p on an axis is input index p + MIN_OFF_<axis> (plus
 * the tile's first depth index jd0 on D); outside the input it holds zero.
 *
 * Build options: CIN, IN_D, IN_H, IN_W, RD (raw depth capacity of a tile),
 * XD, XH, XW, MIN_OFF_D, MIN_OFF_H, MIN_OFF_W, IN_CL (1 = channels-last). The
 * batch is no build option: dim 2 of the NDRange is (samples launched) x XD
 * and samples from nvalid on are zero (one program serves every batch). */
__kernel void tconv_pad_input(__global const REAL *restrict raw, __global REAL *restrict xp,
                              const int jd0, const int r0, const int nvalid) {
    const int w = get_global_id(0);
    const int h = get_global_id(1);
    const int nd = get_global_id(2); /* the NDRange holds the samples launched exactly */
    if (w >= XW || h >= XH)
        return;
    const int n = nd / XD;
    const int dl = nd % XD;
    const int gd = jd0 + MIN_OFF_D + dl;
    const int gh = h + MIN_OFF_H;
    const int gw = w + MIN_OFF_W;
#if WVEC
    __global REAL *dst = xp + (((size_t)n * XD + dl) * XH + h) * CIN * XW + w;
#define DST(c) dst[(size_t)(c) * XW]
#else
    __global REAL *dst = xp + ((((size_t)n * XD + dl) * XH + h) * XW + w) * CIN;
#define DST(c) dst[c]
#endif
    const bool inside = n < nvalid && gd >= 0 && gd < IN_D && gh >= 0 && gh < IN_H && gw >= 0 &&
                        gw < IN_W;
    if (!inside) {
        for (int c = 0; c < CIN; c++)
            DST(c) = (REAL)0;
        return;
    }
    const int rd = gd - r0;
#if IN_CL
    __global const REAL *src = raw + ((((size_t)n * RD + rd) * IN_H + gh) * IN_W + gw) * CIN;
    for (int c = 0; c < CIN; c++)
        DST(c) = src[c];
#else
    __global const REAL *src = raw + (((size_t)n * CIN * RD + rd) * IN_H + gh) * IN_W + gw;
    for (int c = 0; c < CIN; c++)
        DST(c) = src[(size_t)c * RD * IN_H * IN_W];
#endif
}
