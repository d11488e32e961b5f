/* SPDX-License-Identifier: Apache-2.0 */
/* The register-tile micro-kernels and their runtime ISA dispatch.
 *
 * A tile is np output points that share a tap set (one phase, away from the
 * edges in the same way; anywhere in a box of the output) x nv vectors of VL
 * output channels. It accumulates, over a list of taps and the input channels of one
 * group, x[point, c] (broadcast) times the prepacked weights w[tap][c][nv*VL]
 * (contiguous), then adds the bias, applies ReLU if asked and writes the output
 * points (cpu_execute.c applies any other activation in place after it).
 * When there are too few output channels to fill the vectors, dot tiles put
 * the input channels in the lanes instead (cpu_kernel_dot_template.h). */
#ifndef TCONV_CPU_KERNEL_H
#define TCONV_CPU_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv_types.h"

/** Most channel vectors in one tile (the prepacking chunk is nv_max*VL). */
#define CPU_NV_MAX 4
/** Most points in one tile, over all kernels. */
#define CPU_NP_MAX 16
/** Most output channels in one dot tile (see cpu_kernel_t.dot). */
#define CPU_DOT_NCO_MAX 4

typedef struct cpu_tile_args {
    const void *x;           /**< Input base: the box's first point, channel 0 of the group. */
    const ptrdiff_t *xoff;   /**< Per tap: element offset added to x. */
    const ptrdiff_t *xpoint; /**< Per tile point: element offset added to x. */
    const ptrdiff_t *woff;   /**< Per tap: element offset added to w. */
    int ntaps;               /**< Taps in the lists (0: the tile is all zeros). */
    int64_t cin;             /**< Input channels of the group. */
    ptrdiff_t x_cstride;     /**< Elements between input channels. */
    const void *w;           /**< Packed weights of the channel chunk: [tap][cin][nv*VL]
                                  (dot tiles: [tap][nv][cin]). */
    int nv;                  /**< Channel vectors, 1..kernel nv_max (dot tiles: output
                                  channels, 1..CPU_DOT_NCO_MAX). */
    int np;                  /**< Points, 1..kernel np_max[nv]. */
    /* The epilogue, fused: out[ooff[p] + l] = act(sum + bias[l]) for l < nvalid. */
    void *out;             /**< Output base (the output, or channels_first staging rows). */
    const ptrdiff_t *ooff; /**< Per tile point: element offset of its first channel. */
    const void *bias;      /**< The chunk's bias, zero-padded to nv*VL (zeros if none). */
    int nvalid;            /**< Channels to store: nv*VL or fewer (dot tiles: nv). */
    int relu;              /**< Nonzero: max(0, .) after the bias; else linear. */
    /** Nonzero: every store is of full vectors to 64-byte aligned addresses,
     *  and goes around the caches (non-temporal); the caller fences. */
    int stream;
    /* Software prefetch of the next tile's input while this one runs: per
     * tap, prefetch_lines cache lines from x + xoff[tap] + prefetch_off, one
     * per channel step (at most cin). For inputs read once from memory (the
     * backward data pass's dz), whose misses the hardware prefetchers, with
     * a stream per tap row, leave exposed; 0 lines: none. */
    ptrdiff_t prefetch_off; /**< Element offset of the next tile's first point. */
    int prefetch_lines;     /**< Lines per tap to prefetch (0: none). */
    /* And of the next tile's output, for writing (its store misses then
     * start early): prefetch_out_lines lines from out + prefetch_out_off,
     * spread over the taps. */
    ptrdiff_t prefetch_out_off; /**< Element offset of the next tile's output. */
    int prefetch_out_lines;     /**< Output lines to prefetch (0: none). */
} cpu_tile_args_t;

typedef void (*cpu_tile_fn)(const cpu_tile_args_t *args);

/** Outputs of one fold tile: consecutive W points of one output row. */
#define CPU_FOLD_POINTS 16

/** The fold tile (one output channel, W kernel 4, stride 2, dilation 1):
 *  CPU_FOLD_POINTS consecutive outputs ow0.. of one output row, both W phases
 *  at once. Output ow0 + 2j + ph reads input points base + j + i + (parity &&
 *  ph) (slots i = 0, 1, with W taps 3 - 2i or 2 - 2i), so a tile reads
 *  9 + parity input points, each loaded once per channel vector and used by
 *  up to four outputs; the input channels fill the lanes and the 16 sums are
 *  reduced together into one vector of the 16 outputs. */
typedef struct cpu_fold_args {
    const void *x;         /**< Input point `base` of the row of (D, H) tap 0's offset 0,
                                channel 0 of the group (may lie before the row: lo = 0). */
    const ptrdiff_t *xoff; /**< Per (D, H) tap: element offset added to x. */
    const ptrdiff_t *woff; /**< Per (D, H) tap: element offset of its W tap 0 in w. */
    int ntaps;             /**< (D, H) taps (0: the tile is the bias). */
    int64_t cin;           /**< Input channels of the group. */
    ptrdiff_t xstep;       /**< Elements between input points along W. */
    int parity;            /**< (ow0 + W begin crop) & 1. */
    int lo, hi;            /**< Nonzero: the tile's first / last input point is inside the
                                row (else it reads as zeros; every other one must be inside). */
    const void *w;         /**< Packed weights of the group: [tap][cin]. */
    void *out;             /**< Output ow0. */
    ptrdiff_t ostride;     /**< Elements between consecutive outputs along W. */
    const void *bias;      /**< The output channel's bias (zero if none). */
    int relu;              /**< Nonzero: max(0, .) after the bias; else linear. */
} cpu_fold_args_t;

typedef void (*cpu_fold_fn)(const cpu_fold_args_t *args);

/** The backward weights tile (cpu_kernel_bwd_weights_template.h): nm
 *  broadcast channels x nv vectors of VL channels, summed over a box of points;
 *  or, with nt > 1 (and nm = 1), one broadcast channel of nt taps x nv
 *  vectors: the taps share the vector operand, loaded once per point. */
typedef struct cpu_wgrad_args {
    const void *a;          /**< Broadcast operand at the box's first point, first of its nm
                                 channels (contiguous). */
    const void *b;          /**< Vector operand at the box's first point, first of its
                                 channels (contiguous). */
    ptrdiff_t a_step[3];    /**< Elements between consecutive points of a along D, H, W. */
    ptrdiff_t b_step[3];    /**< The same for b. */
    int64_t count[3];       /**< Points of the box along D, H, W (each >= 1). */
    int nm;                 /**< Broadcast channels, 1..kernel np_max[nv]. */
    int nv;                 /**< Channel vectors, 1..kernel nv_max. */
    int tail;               /**< Channels of b in the last vector, 1..VL (masked loads). */
    void *acc;              /**< acc[m * acc_stride + l] += sum over the box of
                                 a[m] * b[l], l < nv*VL (lanes past the channels of b load
                                 zeros: the caller's rows are padded to nv*VL). */
    ptrdiff_t acc_stride;   /**< Elements between the nm rows of acc. */
    int nt;                 /**< Taps of the tile, 1..kernel np_max[nv] (nm = 1 when > 1). */
    ptrdiff_t a_tap;        /**< nt > 1: elements between the taps' broadcast values. */
    ptrdiff_t acc_tap;      /**< nt > 1: elements between the taps' rows of acc. */
    const void *prefetch;   /**< The first of prefetch_lines cache lines to prefetch into L2, */
    int64_t prefetch_lines; /**< one per point from the box's first (at most its points). */
} cpu_wgrad_args_t;

typedef void (*cpu_wgrad_fn)(const cpu_wgrad_args_t *args);
/** acc[l] += sum over r < rows of src[r * row_stride + l], l < width. */
typedef void (*cpu_colsum_fn)(const void *src, int64_t rows, ptrdiff_t row_stride, int64_t width,
                              void *acc);
/** Sum of src[0..n) (one value of the kernel's dtype into *sum). */
typedef void (*cpu_spansum_fn)(const void *src, int64_t n, void *sum);

/** Winograd F(2, r) input transform of alpha^3 points (alpha = r + 1; D, H,
 *  W order; pts[q] their first channel, NULL for zeros): v[q * vstride + c],
 *  c < channels, for the alpha^3 transform points q (B^T along each axis). */
typedef void (*cpu_wino_in_fn)(const void *const *pts, int64_t channels, void *v,
                               ptrdiff_t vstride);
/** Its output transform (A^T along each axis): from the alpha^3 rows m + q *
 *  mstride (whole vectors, even past @p channels) plus @p bias (whole
 *  vectors; NULL: none) to the 2 x 2 x 2 points out[4 d + 2 h + w] (NULL:
 *  not stored). */
typedef void (*cpu_wino_out_fn)(const void *m, ptrdiff_t mstride, int64_t channels,
                                const void *bias, void *const *out);

/** Transform points of a tile's V in the fused Winograd pass: its 6 x 6
 *  block of dz rows, each 6 points padded to 8 (pos = (d * 6 + h) * 8 + w). */
#define CPU_WINO_FUSED_TILE 288
/** Most tiles of a block of the fused pass: consecutive tiles along W, one
 *  lane each of V's rows v[pos * CPU_WINO_FUSED_BLOCK + tile]. */
#define CPU_WINO_FUSED_BLOCK 16

/** Winograd F(2, 2) of backward data with one dz channel and kernel 4,
 *  stride 2, for one vector of dx channels [c, c + n): for each of @p ntiles
 *  tiles of a block, the 27 transform points' sums M[p] = sum over the 8
 *  classes of v[pos * CPU_WINO_FUSED_BLOCK + tile] (scalars) times u[pos *
 *  VL + lane], pos the class's point's position in the tile's block of dz,
 *  kept in registers, then A^T into the tile's points out[tile * 8 + 4 d + 2
 *  h + w] + c (NULL: not stored); @p stream: whole aligned vectors by
 *  non-temporal stores. */
typedef void (*cpu_wino_fused_fn)(const void *v, int64_t ntiles, const void *u, void *const *out,
                                  int64_t c, int n, int stream);
/** cpu_wino_fused_fn for two vectors of dx channels at once: channels c (n
 *  of them) and c + VL (n2), the second's U CPU_WINO_FUSED_TILE vectors
 *  after the first's. */
typedef void (*cpu_wino_fused2_fn)(const void *v, int64_t ntiles, const void *u, void *const *out,
                                   int64_t c, int n, int n2, int stream);
/** The fused pass's input transform of a block of @p ntiles (at most
 *  CPU_WINO_FUSED_BLOCK) consecutive tiles along W: B^T along W, H and D of
 *  each tile's 6 x 6 x 6 block of dz points into its lane of v[pos *
 *  CPU_WINO_FUSED_BLOCK + tile]. rows[d * 6 + h]: the dz row's point 0, its
 *  points contiguous (NULL: a row of zeros); tile i reads the row's points
 *  z0 + 4 i + e, e < 6, zeros outside [0, len). [begin, end): the dz
 *  tensor, which whole-vector reads past a row's ends may touch. */
typedef void (*cpu_wino_fused_in_fn)(const void *const *rows, int64_t z0, int64_t len, int ntiles,
                                     const void *begin, const void *end, void *v);

/** Tiles of the one-output-channel Winograd forward pass (cpu_fold_wino.c)
 *  in one W block: a vector lane each. */
#define CPU_FWINO_LANES 16

/** One W block of CPU_FWINO_LANES tiles of that pass for one or two tile rows
 *  (cpu_fold_wino.c): per transform point, the GEMM over the input channels
 *  of V (B^T along H and D of the W-transformed rows, on the fly) and the 8
 *  classes' weights; then A^T, the bias, and the output rows' stores. */
typedef struct cpu_fwino_args {
    /** W-transformed input rows (cpu_fwino_row_fn) [D point][H point]: H
     *  points 0..2 for tile row 0, 2..4 for tile row 1. */
    const float *xw[3][5];
    int rows;       /**< Tile rows: 1 or 2 (H tiles Th and Th + 1). */
    int64_t cin;    /**< Input channels, a multiple of CPU_FWINO_LANES. */
    const float *u; /**< Transformed weights [27 points][cin][8 classes]. */
    float bias;
    float *m; /**< Scratch: [2][27][8][CPU_FWINO_LANES] floats. */
    /** Output rows [tile row][D output 0..3][H output 0..3] at the block's
     *  first W output (4 per lane; with skip_first its second), NULL: not
     *  written. */
    float *y[2][4][4];
    int skip_first; /**< The block's first W output lies before the row: not stored. */
    /** Input the next block reads first: pf_lines 64-byte lines from each
     *  pf[i] (prefetched into L2, one line per GEMM step). */
    const char *pf[3];
    int64_t pf_lines;
} cpu_fwino_args_t;

/** B^T along W of one W block of one input row into xw[3][cin][lanes]: tile
 *  T reads points 2T - 1, 2T, 2T + 1 of the block (row: its point 0, points
 *  @p cin apart, NULL: zeros; prev: point -1, NULL: zero). */
typedef void (*cpu_fwino_row_fn)(const float *row, const float *prev, int64_t cin, float *xw);
typedef void (*cpu_fwino_block_fn)(const cpu_fwino_args_t *args);
/** The outputs the tiles do not cover, up to 16 along a line: out[j *
 *  ostride] = bias + sum over i < n (at most 8) of the dot product of x[i] +
 *  j * xstep and w[i] (cin elements each, a multiple of CPU_FWINO_LANES),
 *  for j < count; the sums reduced together like the fold tile's. */
typedef void (*cpu_fwino_line_fn)(const float *const *x, ptrdiff_t xstep, const float *const *w,
                                  int n, int64_t cin, float bias, int count, float *out,
                                  ptrdiff_t ostride);

/** Instruction sets, best last. */
typedef enum cpu_isa {
    cpu_isa_c = 0,      /**< Portable C (GCC vector extensions). */
    cpu_isa_avx2 = 1,   /**< AVX2 + FMA. */
    cpu_isa_avx512 = 2, /**< AVX-512F + VL + DQ. */
} cpu_isa_t;

/** One micro-kernel: an ISA and dtype with its tile shapes. */
typedef struct cpu_kernel {
    cpu_isa_t isa;
    tconv_dtype_t dtype;
    int vl;                     /**< Lanes per vector. */
    int nv_max;                 /**< Channel vectors per chunk. */
    int np_max[CPU_NV_MAX + 1]; /**< Most points for nv vectors (index nv). */
    cpu_tile_fn tile;
    /** Most points of a dot tile for nv output channels (index nv). */
    int dot_np_max[CPU_DOT_NCO_MAX + 1];
    /** Dot tile, for a few output channels: input channels in the lanes, each
     *  output a horizontal sum. Needs x_cstride == 1 (channels contiguous). */
    cpu_tile_fn dot;
    /** Fold tile (one output channel, W k4 s2; see cpu_fold_args_t), over the
     *  dot tiles' packed weights; NULL where there is none (then dot tiles). */
    cpu_fold_fn fold;
    /** Backward weights tiles; the widest nm for nv vectors is np_max[nv]. */
    cpu_wgrad_fn wgrad;
    /** Column sums of rows of channels (bias gradient, channels_last). */
    cpu_colsum_fn colsum;
    /** Sum of a contiguous span (bias gradient, channels_first). */
    cpu_spansum_fn spansum;
    /** Winograd F(2, 2) and F(2, 3) transforms of the backward data pass
     *  (cpu_kernel_winograd_template.h), index r - 2. */
    cpu_wino_in_fn wino_in[2];
    cpu_wino_out_fn wino_out[2];
    /** F(2, 2) of backward data with one dz channel (cpu_winograd.c). */
    cpu_wino_fused_fn wino_fused;
    /** The same, two vectors at a time (NULL: one at a time; the kernels
     *  with 32 vector registers). */
    cpu_wino_fused2_fn wino_fused2;
    cpu_wino_fused_in_fn wino_fused_in;
    /** The one-output-channel Winograd forward pass (cpu_fold_wino.c);
     *  NULL where there is none (then the fold or dot tiles). */
    cpu_fwino_row_fn fwino_row;
    cpu_fwino_block_fn fwino_block;
    cpu_fwino_line_fn fwino_line;
} cpu_kernel_t;

extern const cpu_kernel_t cpu_kernel_c_f32, cpu_kernel_c_f64;
extern const cpu_kernel_t cpu_kernel_avx2_f32, cpu_kernel_avx2_f64;
extern const cpu_kernel_t cpu_kernel_avx512_f32, cpu_kernel_avx512_f64;
/** The common/cpu_features.h bits each SIMD family is compiled for (from its
 *  #pragma GCC target): the family runs only on a CPU with all of them. */
extern const unsigned cpu_kernel_avx2_features, cpu_kernel_avx512_features;

/** Best ISA a CPU with the common/cpu_features.h bits @p features runs:
 *  a SIMD family needs every feature it is compiled for (AVX-512F alone
 *  does not run the AVX-512 kernels, which use VL and DQ instructions). */
cpu_isa_t cpu_isa_for_features(unsigned features);
/** Best ISA this CPU runs (tconv_cpu_features, which tests narrow with
 *  TCONV_CPU_ISA_MASK). */
cpu_isa_t cpu_isa_detect(void);
/** Parses TCONV_CPU_ISA ("avx512", "avx2", "c"); returns 0 and sets *isa, or
 *  -1 for an unknown name. */
int cpu_isa_parse(const char *name, cpu_isa_t *isa);
/** Short name of an ISA ("avx512", "avx2", "c"). */
const char *cpu_isa_name(cpu_isa_t isa);
/** The kernel for an ISA and dtype (NULL for an unsupported dtype). */
const cpu_kernel_t *cpu_kernel_select(cpu_isa_t isa, tconv_dtype_t dtype);

#endif /* TCONV_CPU_KERNEL_H */
