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
#define NTG (KTOT / NT)           /* tap groups (NT consecutive W taps) per group */
#define JT (NT * BO)              /* dz values per point of a work-item */
/* Rows summed in registers before their sum goes to the chunk's: about 64
 * points, so short rows (W = 8) do not pay a memory update each. */
#define RROWS (IN_W >= 64 ? 1 : 64 / IN_W)

/* One W point of a work-item's row: NCI x vectors times JT dz values (NT W
 * taps x BO output channels). CHECKED: the point may lie outside some taps'
 * W ranges; those taps read a clamped dz (inside the row) and add zero. */
#define BWD_WEIGHTS_POINT(w, CHECKED)                                                              \
    do {                                                                                           \
        __global const REAL *xs = xr + (size_t)(w) * CIN;                                          \
        VT xv[NCI];                                                                                \
        _Pragma("unroll") for (int c = 0; c < NCI; c++) xv[c] = VLOAD(xs + c * VEC);               \
        _Pragma("unroll") for (int t = 0; t < NT; t++) {                                           \
            int q = (w) * SW + bw0 + t * DW;                                                       \
            const int in = !(CHECKED) || ((w) >= wlo[t] && (w) <= whi[t]);                         \
            if (CHECKED)                                                                           \
                q = clamp(q, 0, OW - 1);                                                           \
            __global const REAL *zs = zr + (size_t)q * COUT;                                       \
            _Pragma("unroll") for (int j = 0; j < BO; j++) {                                       \
                const VT a = (VT)(in ? zs[j] : LIT(0.0));                                          \
                _Pragma("unroll") for (int c = 0; c < NCI; c++) row[c][t * BO + j] =               \
                    fma(xv[c], a, row[c][t * BO + j]);                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The registers' sum of up to RROWS rows into the chunk's sum; zeroed. */
#define BWD_WEIGHTS_FLUSH()                                                                        \
    do {                                                                                           \
        _Pragma("unroll") for (int t = 0; t < NT; t++)                                             \
        _Pragma("unroll") for (int j = 0; j < BO; j++)                                             \
        _Pragma("unroll") for (int c = 0; c < NCI; c++) {                                          \
            __global REAL *e = pp + ((size_t)t * COUTG + j) * CING + c * VEC;                      \
            VSTORE(fresh ? row[c][t * BO + j] : VLOAD(e) + row[c][t * BO + j], e);                 \
            row[c][t * BO + j] = V(0.0);                                                           \
        }                                                                                          \
        fresh = 0;                                                                                 \
    } while (0)

__kernel void tconv_backward_weights(__global const REAL *restrict x,
                                     __global const REAL *restrict dz,
                                     __global REAL *restrict part, const int d0, const int q0,
                                     const int nvalid, const int dvalid, const int accumulate) {
    const int i0 = get_global_id(0);
    const int i1 = get_global_id(1);
    const int chunk = get_global_id(2); /* dim 2: the tile's chunks, exactly */
    if (i0 >= NCIB * NOB || i1 >= G * NTG)
        return;
    const int ob = i0 % NOB;
    const int cib = i0 / NOB;
    const int g = i1 / NTG;
    const int tap0 = (i1 % NTG) * NT; /* first of NT consecutive W taps */
    const int tw0 = tap0 % KW;
    const int th = (tap0 / KW) % KH;
    const int td = tap0 / (KW * KH);
    /* q = i*S + b per axis; the input points whose q lands in the output. */
    const int bd = td * DD - CROP_D, bh = th * DH - CROP_H, bw0 = tw0 * DW - CROP_W;
    const int h_lo = range_lo(bh, SH), h_hi = range_hi(bh, SH, OH, IN_H);
    /* Each tap's W range; [lo, hi] their union, [clo, chi] their common part. */
    int wlo[NT], whi[NT];
    int lo = IN_W, hi = -1, clo = 0, chi = IN_W - 1;
#pragma unroll
    for (int t = 0; t < NT; t++) {
        wlo[t] = range_lo(bw0 + t * DW, SW);
        whi[t] = range_hi(bw0 + t * DW, SW, OW, IN_W);
        if (wlo[t] <= whi[t]) {
            lo = min(lo, wlo[t]);
            hi = max(hi, whi[t]);
        }
        clo = max(clo, wlo[t]);
        chi = min(chi, whi[t]);
    }
    /* Checked points [lo, a_end), unchecked [clo, chi], checked [c_start, hi]. */
    const int a_end = min(clo, hi + 1);
    const int c_start = max(chi + 1, clo);

    /* The chunk's sum lives in part (its own slice, vectors of input
     * channels contiguous): each row's register sum is added to it, so
     * the registers hold one level of sums only. */
    __global REAL *pp = part + (((size_t)(chunk * G + g) * KTOT + tap0) * COUTG + ob * BO) * CING +
                        cib * (NCI * VEC);
    int fresh = !accumulate; /* the slice holds nothing of this tile's yet */
    int pending = 0;         /* rows in the registers' sum */
    VT row[NCI][JT];
#pragma unroll
    for (int c = 0; c < NCI; c++)
#pragma unroll
        for (int j = 0; j < JT; j++)
            row[c][j] = V(0.0);

    const int r_end = min((chunk + 1) * CHUNK_ROWS, nvalid * DT * IN_H);
#pragma unroll 1
    for (int r = chunk * CHUNK_ROWS; r < r_end; r++) {
        const int h = r % IN_H;
        const int dl = (r / IN_H) % DT;
        const int n = r / (IN_H * DT);
        const int qd = (d0 + dl) * SD + bd;
        if (n >= nvalid || dl >= dvalid || h < h_lo || h > h_hi || qd < 0 || qd >= OD || lo > hi)
            continue;
        const int qh = h * SH + bh;
        __global const REAL *xr = x + (((size_t)n * DT + dl) * IN_H + h) * IN_W * CIN +
                                  g * CING + cib * (NCI * VEC);
        __global const REAL *zr = dz + (((size_t)n * SLAB + (qd - q0)) * OH + qh) * OW * COUT +
                                  g * COUTG + ob * BO;
#pragma unroll 1
        for (int w = lo; w < a_end; w++)
            BWD_WEIGHTS_POINT(w, 1);
#pragma unroll 1
        for (int w = clo; w <= chi; w++)
            BWD_WEIGHTS_POINT(w, 0);
#pragma unroll 1
        for (int w = c_start; w <= hi; w++)
            BWD_WEIGHTS_POINT(w, 1);
        if (++pending == RROWS) {
            BWD_WEIGHTS_FLUSH();
            pending = 0;
        }
    }
    if (pending)
        BWD_WEIGHTS_FLUSH();
    if (fresh) /* no row of the chunk reaches these taps */
#pragma unroll
        for (int t = 0; t < NT; t++)
#pragma unroll
            for (int j = 0; j < BO; j++)
#pragma unroll
                for (int c = 0; c < NCI; c++)
                    VSTORE(V(0.0), pp + ((size_t)t * COUTG + j) * CING + c * VEC);
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
    __global const REAL *p = part + (((size_t)g * KTOT + tap) * COUTG + o) * CING + ci;
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
