/* SPDX-License-Identifier: Apache-2.0 */
/* Backward pass, weight and bias gradients (same program and build options
 * as tconv_backward_data.cl, where floor_div and range_lo/range_hi are):
 *
 *   dw[ci, o, t] = sum over n and input points i (with 0 <= q < O per axis,
 *                  q = i*S + t*DIL - CROP) of x[n, ci, i] * dz[n, o, q]
 *   db[o]        = sum over n and every output point of dz[n, o, .]
 *
 * Deterministic: no atomics, and every sum runs in an order fixed by the
 * plan (never by the device's thread count or scheduling):
 * - tconv_backward_weights: a work-item owns one tap, NCI vectors of VEC
 *   input channels and BO output channels of one group, for one chunk of
 *   CHUNK_ROWS rows (a row = one (n, d, h) of the tile, all W points); it
 *   sums each row's points in W order into a row sum, the row sums in row
 *   order into the chunk sum (two levels keep float32 rounding small), and
 *   adds the chunk sum to the running sum of earlier tiles (accumulate).
 *   Partial sums: part[split][G][KD*KH*KW][CING][COUTG]. The chunks are
 *   CHUNK_ROWS rows each from the first row on, so a smaller batch (run-time,
 *   never a build option) has the first chunks of a larger one: split, the
 *   chunks of the first tile, is a kernel argument and the NDRange size.
 * - tconv_backward_weights_reduce: dw = the split chunk sums in chunk order,
 *   written in the problem's kernel layout (KERNEL_KERAS: (kd, kh, kw,
 *   Cout/G, Cin), else torch (Cin, Cout/G, kd, kh, kw)).
 * - tconv_backward_bias_part / _reduce: the tile's own output depths
 *   [own_lo, own_hi) of the slab (the tiles' own ranges partition the output
 *   depth) in chunks of BPTS points, then the chunks in order, added to the
 *   earlier tiles' sum (below).
 *
 * x is the channels-last input tile [n][DT][IN_H][IN_W][CIN] (converted
 * first when the caller's layout is channels first), dz the slab as in
 * tconv_backward_data.cl. */
#define KTOT (KD * KH * KW)
#define NCIB (CING / (VEC * NCI)) /* input-channel blocks per group */
#define NOB (COUTG / BO)          /* output-channel blocks per group */

__kernel void tconv_backward_weights(__global const REAL *restrict x,
                                     __global const REAL *restrict dz,
                                     __global REAL *restrict part, const int d0, const int q0,
                                     const int nvalid, const int dvalid, const int accumulate) {
    const int i0 = get_global_id(0);
    const int i1 = get_global_id(1);
    const int chunk = get_global_id(2); /* dim 2: the tile's chunks, exactly */
    if (i0 >= NCIB * NOB || i1 >= G * KTOT)
        return;
    const int ob = i0 % NOB;
    const int cib = i0 / NOB;
    const int g = i1 / KTOT;
    const int tap = i1 % KTOT;
    const int tw = tap % KW;
    const int th = (tap / KW) % KH;
    const int td = tap / (KW * KH);
    /* q = i*S + b per axis; the input points whose q lands in the output. */
    const int bd = td * DD - CROP_D, bh = th * DH - CROP_H, bw = tw * DW - CROP_W;
    const int h_lo = range_lo(bh, SH), h_hi = range_hi(bh, SH, OH, IN_H);
    const int w_lo = range_lo(bw, SW), w_hi = range_hi(bw, SW, OW, IN_W);

    VT acc[NCI][BO];
#pragma unroll
    for (int c = 0; c < NCI; c++)
#pragma unroll
        for (int j = 0; j < BO; j++)
            acc[c][j] = V(0.0);

    const int r_end = min((chunk + 1) * CHUNK_ROWS, nvalid * DT * IN_H);
#pragma unroll 1
    for (int r = chunk * CHUNK_ROWS; r < r_end; r++) {
        const int h = r % IN_H;
        const int dl = (r / IN_H) % DT;
        const int n = r / (IN_H * DT);
        const int qd = (d0 + dl) * SD + bd;
        if (n >= nvalid || dl >= dvalid || h < h_lo || h > h_hi || qd < 0 || qd >= OD)
            continue;
        const int qh = h * SH + bh;
        __global const REAL *xr = x + (((size_t)n * DT + dl) * IN_H + h) * IN_W * CIN +
                                  g * CING + cib * (NCI * VEC);
        __global const REAL *zr = dz + (((size_t)n * SLAB + (qd - q0)) * OH + qh) * OW * COUT +
                                  g * COUTG + ob * BO;
        VT row[NCI][BO];
#pragma unroll
        for (int c = 0; c < NCI; c++)
#pragma unroll
            for (int j = 0; j < BO; j++)
                row[c][j] = V(0.0);
#pragma unroll 1
        for (int w = w_lo; w <= w_hi; w++) {
            __global const REAL *xs = xr + (size_t)w * CIN;
            __global const REAL *zs = zr + (size_t)(w * SW + bw) * COUT;
            VT xv[NCI];
#pragma unroll
            for (int c = 0; c < NCI; c++)
                xv[c] = VLOAD(xs + c * VEC);
#pragma unroll
            for (int j = 0; j < BO; j++) {
                const VT a = (VT)(zs[j]);
#pragma unroll
                for (int c = 0; c < NCI; c++)
                    row[c][j] = fma(xv[c], a, row[c][j]);
            }
        }
#pragma unroll
        for (int c = 0; c < NCI; c++)
#pragma unroll
            for (int j = 0; j < BO; j++)
                acc[c][j] += row[c][j];
    }

    __global REAL *pp = part + ((size_t)(chunk * G + g) * KTOT + tap) * CING * COUTG;
#pragma unroll
    for (int c = 0; c < NCI; c++) {
        REAL lanes[VEC];
#pragma unroll
        for (int j = 0; j < BO; j++) {
            VSTORE(acc[c][j], lanes);
#pragma unroll
            for (int l = 0; l < VEC; l++) {
                const int ci = cib * (NCI * VEC) + c * VEC + l;
                __global REAL *e = pp + (size_t)ci * COUTG + ob * BO + j;
                *e = accumulate ? *e + lanes[l] : lanes[l];
            }
        }
    }
}

/* One work-item per dw element, in the problem's kernel layout. */
__kernel void tconv_backward_weights_reduce(__global const REAL *restrict part,
                                            __global REAL *restrict dw, const int split) {
    const int e = get_global_id(0);
    if (e >= KTOT * COUTG * CIN)
        return;
#if KERNEL_KERAS
    const int cig = e % CIN;
    const int o = (e / CIN) % COUTG;
    const int tap = e / (CIN * COUTG);
#else
    const int tap = e % KTOT;
    const int o = (e / KTOT) % COUTG;
    const int cig = e / (KTOT * COUTG);
#endif
    const int g = cig / CING;
    const int ci = cig % CING;
    const size_t stride = (size_t)G * KTOT * CING * COUTG;
    __global const REAL *p = part + (((size_t)g * KTOT + tap) * CING + ci) * COUTG + o;
    REAL sum = p[0];
    for (int c = 1; c < split; c++)
        sum += p[(size_t)c * stride];
    dw[e] = sum;
}

/* Bias gradient, two kernels (deterministic, dz read once, contiguously):
 * tconv_backward_bias_part: a work-item per BVEC output channels and chunk
 * of BPTS output points of one sample's own depths [own_lo, own_hi) (chunk k
 * of the tile: sample k / cps, points from (k % cps) * BPTS), summed in
 * point order into bpart[k][COUT]; tconv_backward_bias_reduce: a work-item
 * per output channel adds the tile's chunks in chunk order to the earlier
 * tiles' sum. (The old one-work-item-per-channel kernel read dz with a
 * stride of COUT per work-item: every cache line of dz once per channel
 * vector, the larger part of the pass on the k = s layers.) */
#if BVEC == 1
#define BT           REAL
#define BLOAD(p)     (*(p))
#define BSTORE(v, p) (*(p) = (v))
#else
#define BT           CAT(REAL, BVEC)
#define BLOAD(p)     CAT(vload, BVEC)(0, (p))
#define BSTORE(v, p) CAT(vstore, BVEC)((v), 0, (p))
#endif

__kernel void tconv_backward_bias_part(__global const REAL *restrict dz,
                                       __global REAL *restrict bpart, const int own_lo,
                                       const int own_hi, const int cps, const int chunks) {
    const int cb = get_global_id(0);
    const int k = get_global_id(1);
    if (cb >= COUT / BVEC || k >= chunks)
        return;
    const int n = k / cps;
    const int first = (k % cps) * BPTS;
    const int points = (own_hi - own_lo) * OH * OW;
    const int last = min(first + BPTS, points);
    __global const REAL *zp =
        dz + ((size_t)n * SLAB + own_lo) * OH * OW * COUT + (size_t)first * COUT + cb * BVEC;
    BT sum = (BT)(LIT(0.0));
#pragma unroll 4
    for (int i = first; i < last; i++, zp += COUT)
        sum += BLOAD(zp);
    BSTORE(sum, bpart + (size_t)k * COUT + cb * BVEC);
}

__kernel void tconv_backward_bias_reduce(__global const REAL *restrict bpart,
                                         __global REAL *restrict db, const int chunks,
                                         const int accumulate) {
    const int o = get_global_id(0);
    if (o >= COUT)
        return;
    REAL total = LIT(0.0);
    for (int k = 0; k < chunks; k++)
        total += bpart[(size_t)k * COUT + o];
    db[o] = accumulate ? db[o] + total : total;
}
