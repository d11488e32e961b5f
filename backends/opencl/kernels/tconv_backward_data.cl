/* SPDX-License-Identifier: Apache-2.0 */
/* Backward pass, data gradient (built only for plans whose passes ask for a
 * backward pass; src/ocl_backward.c sets every constant below as a build
 * option). Per axis (input i, tap t, output q): q = i*S + t*DIL - CROP, and
 *
 *   dx[n, ci, i] = sum over taps t with 0 <= q < O (per axis) and the
 *                  group's output channels o of dz[n, o, q] * w[ci, o, t].
 *
 * A gather: one work-item owns TW consecutive input points along W times
 * NVEC vectors of VEC input channels of one group, sums over exactly the
 * taps that land inside the output (ranges per axis, no multiply by a zero)
 * and writes each dx element once: no atomics. The summation order of every
 * element is fixed by the plan (td, th ascending; then the W taps the whole
 * W tile shares, then the point's own others; o ascending inside each tap),
 * and the W tiles do not depend on the batch and depth tiles, so tiling does
 * not change the result.
 *
 * Buffers of one tile (n samples, DT input depths starting at d0, a slab of
 * SLAB output depths starting at q0 that covers every q the tile reads):
 *   dz  [n][SLAB][OH][OW][COUT]   channels last (tconv_to_channels_last
 *                                 converts a channels-first tile first)
 *   wb  [G][KD][KH][KW][COUTG][CING]   packed at set_weights
 *   dx  the caller's layout, depth capacity DT:
 *       IN_CL: [n][DT][IN_H][IN_W][CIN], else [n][CIN][DT][IN_H][IN_W]
 * The batch is no build option: the launch covers the samples of the tile
 * (one program serves every batch of a plan, tconv_plan_set_batch).
 *
 * NDRange: dim0 = IN_H * WT (W tile fastest), dim1 = n * DT, dim2 = G * NCB
 * (NCB blocks of BLK = VEC*NVEC channels, BLK divides CING): neighbouring
 * work-items share one block's weights. */

/* Integer floor of a / b for b > 0 (C division truncates toward zero). */
inline int floor_div(const int a, const int b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The indices j in [0, count) with 0 <= base + j*step < len (step > 0) are
 * range_lo .. range_hi inclusive (empty when lo > hi). Serves both "taps of
 * an input point" (base = i*S - CROP, step = DIL, count = K) and "input
 * points of a tap" (base = t*DIL - CROP, step = S, count = IN). */
inline int range_lo(const int base, const int step) {
    return max(0, -floor_div(base, step));
}

inline int range_hi(const int base, const int step, const int len, const int count) {
    return min(count - 1, floor_div(len - 1 - base, step));
}

/* [n][C][P] -> [n][P][C] for the first nvalid samples: channels-first
 * tiles of dz (C = COUT, P = SLAB*OH*OW) or x (C = CIN, P = DT*IN_H*IN_W)
 * into the channels-last layout the backward kernels read. */
__kernel void tconv_to_channels_last(__global const REAL *restrict src,
                                     __global REAL *restrict dst, const int channels,
                                     const int plane, const int nvalid) {
    const int pt = get_global_id(0);
    const int c = get_global_id(1);
    const int n = get_global_id(2);
    if (pt >= plane || c >= channels || n >= nvalid)
        return;
    const size_t base = (size_t)n * channels * plane;
    dst[base + (size_t)pt * channels + c] = src[base + (size_t)c * plane + pt];
}

/* The caller's kernel (KERNEL_KERAS: (kd, kh, kw, Cout/G, Cin), else torch
 * (Cin, Cout/G, kd, kh, kw)) into wb's [G][KD][KH][KW][COUTG][CING], one
 * work-item per element of the caller's kernel (plan_set_weights_buffers;
 * the host packs the same layout for plan_set_weights). count 0: the
 * warm-up run, nothing read or written. */
__kernel void tconv_pack_backward_weights(__global const REAL *restrict src,
                                          __global REAL *restrict wb, const int count) {
    const int e = get_global_id(0);
    if (e >= count)
        return;
    const int ktot = KD * KH * KW;
#if KERNEL_KERAS
    const int c = e % CIN;
    const int o = (e / CIN) % COUTG;
    const int tap = e / (CIN * COUTG);
#else
    const int tap = e % ktot;
    const int o = (e / ktot) % COUTG;
    const int c = e / (ktot * COUTG);
#endif
    wb[(((size_t)(c / CING) * ktot + tap) * COUTG + o) * CING + c % CING] = src[e];
}

#define BLK (VEC * NVEC)

/* W taps TW_LO..TW_HI of points U_FIRST .. U_FIRST + U_COUNT - 1 (every
 * one of those taps lands inside the output for each of those points). */
#define BWD_DATA_TAPS(U_FIRST, U_COUNT, TW_LO, TW_HI)                                              \
    for (int tw = (TW_LO); tw <= (TW_HI); tw++) {                                                  \
        __global const REAL *zs = zrow + (size_t)(bw0 + tw * DW) * COUT;                           \
        __global const REAL *ws = wrow + (size_t)tw * COUTG * CING;                                \
        for (int o = 0; o < COUTG; o++) {                                                          \
            VT wv[NVEC];                                                                           \
            _Pragma("unroll") for (int v = 0; v < NVEC; v++) wv[v] =                               \
                VLOAD(ws + o * CING + v * VEC);                                                    \
            _Pragma("unroll") for (int u = (U_FIRST); u < (U_FIRST) + (U_COUNT); u++) {            \
                const VT a = (VT)(zs[(size_t)u * SW * COUT + o]);                                  \
                _Pragma("unroll") for (int v = 0; v < NVEC; v++) acc[u][v] =                       \
                    fma(a, wv[v], acc[u][v]);                                                      \
            }                                                                                      \
        }                                                                                          \
    }

__kernel void tconv_backward_data(__global const REAL *restrict dz,
                                  __global const REAL *restrict wb, __global REAL *restrict dx,
                                  const int d0, const int q0, const int nvalid, const int dvalid) {
    const int i0 = get_global_id(0);
    const int i1 = get_global_id(1);
    const int i2 = get_global_id(2);
    if (i0 >= IN_H * WT || i2 >= G * NCB) /* dim 1: samples launched x DT, exactly */
        return;
    const int wt = i0 % WT;
    const int h = i0 / WT;
    const int dl = i1 % DT;
    const int n = i1 / DT;
    const int g = i2 / NCB;
    const int cb = i2 % NCB;
    if (n >= nvalid || dl >= dvalid)
        return;
    const int w0 = wt * TW;
    const int bd = (d0 + dl) * SD - CROP_D; /* q = b + t*DIL per axis */
    const int bh = h * SH - CROP_H;
    const int bw0 = w0 * SW - CROP_W;
    const int td_lo = range_lo(bd, DD), td_hi = range_hi(bd, DD, OD, KD);
    const int th_lo = range_lo(bh, DH), th_hi = range_hi(bh, DH, OH, KH);
    /* The W taps every point of the tile has (ilo..ihi) run for all TW
     * points at once; each point's other taps run for that point alone. With
     * none shared (or a tile past the end of W) the shared range is empty
     * and placed after the last tap, so "below" covers each point's taps. */
    int ilo = 0, ihi = KW - 1;
#pragma unroll
    for (int u = 0; u < TW; u++) {
        ilo = max(ilo, range_lo(bw0 + u * SW, DW));
        ihi = min(ihi, range_hi(bw0 + u * SW, DW, OW, KW));
    }
    if (w0 + TW > IN_W || ilo > ihi) {
        ilo = KW;
        ihi = KW - 1;
    }

    VT acc[TW][NVEC];
#pragma unroll
    for (int u = 0; u < TW; u++)
#pragma unroll
        for (int v = 0; v < NVEC; v++)
            acc[u][v] = V(0.0);

    __global const REAL *dzn = dz + (size_t)n * SLAB * OH * OW * COUT + g * COUTG;
    __global const REAL *wg = wb + (size_t)g * KD * KH * KW * COUTG * CING + cb * BLK;
#pragma unroll 1
    for (int td = td_lo; td <= td_hi; td++) {
        const int qd = bd + td * DD - q0; /* depth within the slab */
#pragma unroll 1
        for (int th = th_lo; th <= th_hi; th++) {
            const int qh = bh + th * DH;
            __global const REAL *zrow = dzn + ((size_t)qd * OH + qh) * OW * COUT;
            __global const REAL *wrow = wg + (size_t)((td * KH + th) * KW) * COUTG * CING;
            BWD_DATA_TAPS(0, TW, ilo, ihi)
#pragma unroll
            for (int u0 = 0; u0 < TW; u0++) {
                /* Points past IN_W get an empty range (a break would keep
                 * the loop from unrolling). */
                const int bw = bw0 + u0 * SW;
                const int lo = range_lo(bw, DW);
                const int hi = w0 + u0 < IN_W ? range_hi(bw, DW, OW, KW) : -1;
                BWD_DATA_TAPS(u0, 1, lo, min(hi, ilo - 1))
                BWD_DATA_TAPS(u0, 1, max(lo, ihi + 1), hi)
            }
        }
    }

    /* One store per dx element. */
#pragma unroll
    for (int v = 0; v < NVEC; v++) {
        const int ci = g * CING + cb * BLK + v * VEC;
#pragma unroll
        for (int u = 0; u < TW; u++) {
            const int w = w0 + u;
            if (w >= IN_W)
                break;
#if IN_CL
            VSTORE(acc[u][v], dx + ((((size_t)n * DT + dl) * IN_H + h) * IN_W + w) * CIN + ci);
#else
            __global REAL *xo = dx + ((((size_t)n * CIN + ci) * DT + dl) * IN_H + h) * IN_W + w;
#if VEC == 1
            xo[0] = acc[u][v];
#else
            REAL lanes[VEC];
            VSTORE(acc[u][v], lanes);
#pragma unroll
            for (int l = 0; l < VEC; l++)
                xo[(size_t)l * DT * IN_H * IN_W] = lanes[l];
#endif
#endif
        }
    }
}
