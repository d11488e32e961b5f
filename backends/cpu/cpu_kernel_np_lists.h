/* SPDX-License-Identifier: Apache-2.0 */
/* Lists of np values for the TILE_LIST_NV<n> macros of cpu_kernel_<isa>.c,
 * shared by the forward and backward weights templates. Included by each
 * template and #undefined at its end, so it has no include guard. */
#define NP_UPTO_4(M, nv)  M(nv, 1) M(nv, 2) M(nv, 3) M(nv, 4)
#define NP_UPTO_6(M, nv)  NP_UPTO_4(M, nv) M(nv, 5) M(nv, 6)
#define NP_UPTO_8(M, nv)  NP_UPTO_6(M, nv) M(nv, 7) M(nv, 8)
#define NP_UPTO_12(M, nv) NP_UPTO_8(M, nv) M(nv, 9) M(nv, 10) M(nv, 11) M(nv, 12)
#define NP_UPTO_16(M, nv) NP_UPTO_12(M, nv) M(nv, 13) M(nv, 14) M(nv, 15) M(nv, 16)
