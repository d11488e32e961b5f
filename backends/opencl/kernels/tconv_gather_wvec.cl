/* SPDX-License-Identifier: Apache-2.0 */
/* The W path of the gather (WVEC = 1), for few or odd output channels per
 * group, where vectors of channels would be mostly empty: VT vectors hold
 * VEC consecutive outputs along W of one phase (inputs j..j+VEC-1, which are
 * contiguous in the padded (n, XD, XH, CIN, XW) tile), and a work-item
 * computes TW/VEC such vectors times TH rows of H times NVEC output channels,
 * broadcasting one weight per channel. Same phase and tap rules, NDRange
 * order (GATHER_IDS), weight packing ([G][NOCB][KD][KH][KW][CING][NVEC]) and epilogue as
 * the channel path in tconv_gather.cl (where first_tap and GATHER_IDS are). */
#if WVEC
#define TWN (TW / VEC)

__kernel void tconv_gather(__global const REAL *restrict xp, __global const REAL *restrict wp,
                           __global const REAL *restrict bp, __global REAL *restrict y,
                           const int jd0, const int nvalid) {
    GATHER_IDS;
    const int jh0 = jht * TH;
    const int odl = pd + SD * jdl;
    const int od = odl + SD * jd0;
    const int oh0 = ph + SH * jh0;
    const int ow0 = pw + SW * TW * wt;
    if (n >= nvalid || od >= OD || oh0 >= OH || ow0 >= OW)
        return;

    VT acc[NVEC][TH][TWN];
#pragma unroll
    for (int c = 0; c < NVEC; c++)
#pragma unroll
        for (int r = 0; r < TH; r++)
#pragma unroll
            for (int q = 0; q < TWN; q++)
                acc[c][r][q] = V(0.0);

    __global const REAL *wblock = wp + (size_t)gb * (KD * KH * KW * CING * NVEC);
    __global const REAL *xn = xp + (size_t)n * XD * XH * CIN * XW + (size_t)g * CING * XW;

    TAP_LOOP_BEGIN(jh0)
        __global const REAL *xs = xn + ((size_t)id * XH + ih) * CIN * XW + iw;
        __global const REAL *ws = wblock + tap * (CING * NVEC);
        for (int ic = 0; ic < CING; ic++) {
            VT xv[TH][TWN];
#pragma unroll
            for (int r = 0; r < TH; r++)
#pragma unroll
                for (int q = 0; q < TWN; q++)
                    xv[r][q] = VLOAD(xs + ((size_t)r * CIN + ic) * XW + q * VEC);
#pragma unroll
            for (int c = 0; c < NVEC; c++) {
                const VT w = (VT)(ws[ic * NVEC + c]);
#pragma unroll
                for (int r = 0; r < TH; r++)
#pragma unroll
                    for (int q = 0; q < TWN; q++)
                        acc[c][r][q] = fma(xv[r][q], w, acc[c][r][q]);
            }
        }
    TAP_LOOP_END

    /* Epilogue: bias, activation, one store per output (lanes are W points
     * SW apart; contiguous only for channels-first with SW == 1). */
#pragma unroll
    for (int c = 0; c < NVEC; c++) {
        const int ocl = ocb * NVEC + c;
        if (ocl >= COUTG)
            break;
        const int oc = g * COUTG + ocl;
#if USE_BIAS
        const VT b = (VT)(bp[g * COUTG_PAD + ocl]);
#endif
#pragma unroll
        for (int r = 0; r < TH; r++) {
            const int oh = oh0 + SH * r;
            if (oh >= OH)
                break;
#pragma unroll
            for (int q = 0; q < TWN; q++) {
                const int owq = ow0 + SW * VEC * q;
                if (owq >= OW)
                    break;
#if USE_BIAS
                const VT v = activate(acc[c][r][q] + b);
#else
                const VT v = activate(acc[c][r][q]);
#endif
#if OUT_CL
                __global REAL *yo =
                    y + ((((size_t)n * ODT + odl) * OH + oh) * OW + owq) * COUT + oc;
#define OUT_STEP ((size_t)SW * COUT)
#else
                __global REAL *yo = y + ((((size_t)n * COUT + oc) * ODT + odl) * OH + oh) * OW + owq;
#define OUT_STEP ((size_t)SW)
#if SW == 1
                if (owq + VEC <= OW) {
                    VSTORE(v, yo);
                    continue;
                }
#endif
#endif
                REAL lanes[VEC];
                VSTORE(v, lanes);
#pragma unroll
                for (int l = 0; l < VEC; l++)
                    if (owq + SW * l < OW)
                        yo[l * OUT_STEP] = lanes[l];
#undef OUT_STEP
            }
        }
    }
}
#endif /* WVEC */
