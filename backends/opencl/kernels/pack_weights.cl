/* SPDX-License-Identifier: Apache-2.0 */
/* Packing of weights and bias on the device (plan_set_weights_buffers, the
 * weights given as a device buffer): the layouts src/ocl_pack.c makes on
 * the host for plan_set_weights, element for element.
 *   weights [G][NOCB][KD][KH][KW][CING][PACK_BLK] from the caller's kernel,
 *           Keras (kd, kh, kw, Cout/G, Cin) or torch (Cin, Cout/G, kd, kh, kw),
 *           zero in the padding channels (j >= COUTG);
 *   bias    [G][COUTG_PAD], zero in the padding channels.
 * One work-item per packed element; count is the number of elements (0 for
 * the warm-up run, which reads and writes nothing). Same build options as
 * the gathers. */
#if WVEC
#define PACK_BLK NVEC
#else
#define PACK_BLK (VEC * NVEC)
#endif

__kernel void tconv_pack_weights(__global const REAL *restrict src, __global REAL *restrict dst,
                                 const int keras, const int count) {
    const int o = get_global_id(0);
    if (o >= count)
        return;
    int r = o;
    const int l = r % PACK_BLK;
    r /= PACK_BLK;
    const int ic = r % CING;
    r /= CING;
    const int tw = r % KW;
    r /= KW;
    const int th = r % KH;
    r /= KH;
    const int td = r % KD;
    r /= KD;
    const int b = r % NOCB;
    const int gg = r / NOCB;
    const int j = b * PACK_BLK + l;
    if (j >= COUTG) {
        dst[o] = (REAL)0;
        return;
    }
    const size_t ci = (size_t)gg * CING + ic;
    const size_t s =
        keras ? (((size_t)(td * KH + th) * KW + tw) * COUTG + j) * CIN + ci
              : (((ci * COUTG + j) * KD + td) * KH + th) * KW + tw;
    dst[o] = src[s];
}

__kernel void tconv_pack_bias(__global const REAL *restrict src, __global REAL *restrict dst,
                              const int count) {
    const int o = get_global_id(0);
    if (o >= count)
        return;
    const int gg = o / COUTG_PAD;
    const int j = o % COUTG_PAD;
    dst[o] = j < COUTG ? src[gg * COUTG + j] : (REAL)0;
}
