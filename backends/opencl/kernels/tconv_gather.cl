/* SPDX-License-Identifier: Apache-2.0 */
/* Transposed convolution as a phase-decomposed gather (output-stationary).
 *
 * Per axis (input i, tap t, output o): o = i*S + t*DIL - CROP. Outputs are
 * grouped by phase p = o % S; for o = p + S*j the taps that land on it are
 * those with (p + CROP - t*DIL) % S == 0, i.e. t = t0(p) + m*SG (SG = S /
 * gcd(S, DIL)), and tap t reads input i = j + (p + CROP - t*DIL) / S. So no
 * multiply by an inserted zero, no atomics, every output is written once.
 *
 * One work-item computes a register tile: TW outputs along W (same phase,
 * consecutive j) times NVEC vectors of VEC output channels, summing over
 * CING input channels and the phase's taps, then adds the bias and applies
 * the activation. The input is the zero-padded channels-last tile built by
 * tconv_pad_input; weights are packed on the host as
 * [G][NOCB][KD][KH][KW][CING][BLK] (BLK = VEC*NVEC, zero-padded channels).
 *
 * NDRange (decoded by GATHER_IDS): dim0 = JHT*WT (H tile, W tile), dim1 =
 * samples launched x JDT (sample, D index in this depth tile; the batch is
 * a run-time size, never a build option), dim2 = G*NOCB*SD*SH*SW
 * (channel block, phases): consecutive work-items share one phase's weights
 * (kept in cache) and only the slowest dimension switches weight sets. When
 * all weights are small (PHASE_FAST), the phases move to the fastest
 * position of dim0 instead, so the phases reuse each input from cache rather
 * than streaming the whole input once per phase. Every shape constant
 * is a build option, so the register-tile loops unroll and index math folds
 * (the tap loops are kept rolled: they run few times and unrolling them
 * multiplied build times). */
#if PHASE_FAST
#define GATHER_GLOBAL0 (SD * SH * SW * JHT * WT)
#define GATHER_GLOBAL2 (G * NOCB)
#define GATHER_PHASE_IDX i0
#define GATHER_TILE_IDX (i0 / (SD * SH * SW))
#define GATHER_BLOCK_IDX i2
#else
#define GATHER_GLOBAL0 (JHT * WT)
#define GATHER_GLOBAL2 (G * NOCB * SD * SH * SW)
#define GATHER_PHASE_IDX i2
#define GATHER_TILE_IDX i0
#define GATHER_BLOCK_IDX (i2 / (SD * SH * SW))
#endif

/* Decodes the work-item's ids into W tile wt, H tile jht, depth index jdl,
 * sample n, phases pw/ph/pd and channel block gb (group g, block ocb). */
#define GATHER_IDS                                                                                 \
    const int i0 = get_global_id(0);                                                               \
    const int i1 = get_global_id(1);                                                               \
    const int i2 = get_global_id(2);                                                               \
    if (i0 >= GATHER_GLOBAL0 || i2 >= GATHER_GLOBAL2)                                              \
        return;                                                                                    \
    const int wt = GATHER_TILE_IDX % WT;                                                           \
    const int jht = GATHER_TILE_IDX / WT;                                                          \
    const int jdl = i1 % JDT;                                                                      \
    const int n = i1 / JDT;                                                                        \
    const int pw = GATHER_PHASE_IDX % SW;                                                          \
    const int ph = (GATHER_PHASE_IDX / SW) % SH;                                                   \
    const int pd = (GATHER_PHASE_IDX / (SW * SH)) % SD;                                            \
    const int gb = GATHER_BLOCK_IDX;                                                               \
    const int g = gb / NOCB;                                                                       \
    const int ocb = gb % NOCB

/* First tap of a phase on one axis (c = phase + crop), or K if none lands. */
inline int first_tap(const int c, const int s, const int dil, const int sg, const int k) {
    for (int t = 0; t < sg && t < k; t++)
        if ((((c - t * dil) % s) + s) % s == 0)
            return t;
    return k;
}

/* Opens the loops over the taps that land on this work-item's phase (close
 * them with TAP_LOOP_END). Inside: td/th/tw, the padded input indices id,
 * ih, iw of the work-item's first output (H row JH0) and tap, the tap's
 * index (td*KH + th)*KW + tw. The loops stay rolled (see above). */
#define TAP_LOOP_BEGIN(JH0)                                                                        \
    const int cd = pd + CROP_D, ch = ph + CROP_H, cw = pw + CROP_W;                                \
    const int td0 = first_tap(cd, SD, DD, SGD, KD);                                                \
    const int th0 = first_tap(ch, SH, DH, SGH, KH);                                                \
    const int tw0 = first_tap(cw, SW, DW, SGW, KW);                                                \
    _Pragma("unroll 1") for (int md = 0; md < MTD; md++) {                                         \
        const int td = td0 + md * SGD;                                                             \
        if (td >= KD)                                                                              \
            break;                                                                                 \
        const int id = jdl + (cd - td * DD) / SD - MIN_OFF_D;                                      \
        _Pragma("unroll 1") for (int mh = 0; mh < MTH; mh++) {                                     \
            const int th = th0 + mh * SGH;                                                         \
            if (th >= KH)                                                                          \
                break;                                                                             \
            const int ih = (JH0) + (ch - th * DH) / SH - MIN_OFF_H;                                \
            _Pragma("unroll 1") for (int mw = 0; mw < MTW; mw++) {                                 \
                const int tw = tw0 + mw * SGW;                                                     \
                if (tw >= KW)                                                                      \
                    break;                                                                         \
                const int iw = TW * wt + (cw - tw * DW) / SW - MIN_OFF_W;                          \
                const int tap = (td * KH + th) * KW + tw;

#define TAP_LOOP_END                                                                               \
    }                                                                                              \
    }                                                                                              \
    }

#if !WVEC
#define BLK (VEC * NVEC)

__kernel void tconv_gather(__global const REAL *restrict xp, __global const REAL *restrict wp,
                           __global const REAL *restrict bp, __global REAL *restrict y,
                           const int jd0, const int nvalid) {
    GATHER_IDS;
    const int jh = jht; /* TH == 1 on this path */
    const int odl = pd + SD * jdl; /* depth within this tile's output buffer */
    const int od = odl + SD * jd0;
    const int oh = ph + SH * jh;
    const int ow0 = pw + SW * TW * wt;
    if (n >= nvalid || od >= OD || oh >= OH || ow0 >= OW)
        return;

    VT acc[TW][NVEC];
#pragma unroll
    for (int u = 0; u < TW; u++)
#pragma unroll
        for (int v = 0; v < NVEC; v++)
            acc[u][v] = V(0.0);

    __global const REAL *wblock = wp + (size_t)gb * (KD * KH * KW * CING * BLK);
    __global const REAL *xn = xp + (size_t)n * XD * XH * XW * CIN + g * CING;

    TAP_LOOP_BEGIN(jh)
        __global const REAL *xs = xn + (((size_t)id * XH + ih) * XW + iw) * CIN;
        __global const REAL *ws = wblock + tap * (CING * BLK);
        for (int ic = 0; ic < CING; ic++) {
            VT wv[NVEC];
#pragma unroll
            for (int v = 0; v < NVEC; v++)
                wv[v] = VLOAD(ws + ic * BLK + v * VEC);
#pragma unroll
            for (int u = 0; u < TW; u++) {
                const VT a = (VT)(xs[u * CIN + ic]);
#pragma unroll
                for (int v = 0; v < NVEC; v++)
                    acc[u][v] = fma(a, wv[v], acc[u][v]);
            }
        }
    TAP_LOOP_END

    /* Epilogue: bias, activation, one store per output. */
#pragma unroll
    for (int v = 0; v < NVEC; v++) {
        const int ocl = ocb * BLK + v * VEC; /* channel within the group */
        if (ocl >= COUTG)
            break;
        const int oc = g * COUTG + ocl;
#if USE_BIAS
        const VT b = VLOAD(bp + g * COUTG_PAD + ocl);
#endif
#pragma unroll
        for (int u = 0; u < TW; u++) {
            const int ow = ow0 + SW * u;
            if (ow >= OW)
                break;
#if USE_BIAS
            const VT r = activate(acc[u][v] + b);
#else
            const VT r = activate(acc[u][v]);
#endif
#if OUT_CL
            VSTORE(r, y + ((((size_t)n * ODT + odl) * OH + oh) * OW + ow) * COUT + oc);
#else
            __global REAL *yo = y + ((((size_t)n * COUT + oc) * ODT + odl) * OH + oh) * OW + ow;
#if VEC == 1
            yo[0] = r;
#else
            REAL lanes[VEC];
            VSTORE(r, lanes);
#pragma unroll
            for (int l = 0; l < VEC; l++)
                yo[(size_t)l * ODT * OH * OW] = lanes[l];
#endif
#endif
        }
    }
}
#endif /* !WVEC */
