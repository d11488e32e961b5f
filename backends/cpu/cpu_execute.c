/* The forward pass: output-stationary, phase by phase.
 *
 * Work items are (group, channel chunk, output row (n, od, oh)); threads take
 * equal contiguous ranges, chunk-major, so a thread keeps one chunk's packed
 * weights hot while it walks rows. Within a row, each W run (one phase, one
 * tap set) is cut into tiles of np points; the micro-kernel sums
 * taps x input channels for np points x nv*VL channels, and the epilogue adds
 * the bias, applies the activation and writes every output exactly once
 * (contiguously for channels_last, channel-strided for channels_first). */
#include <stdio.h>
#include <string.h>

#include "activation.h"
#include "cpu_plan.h"

typedef struct exec_ctx {
    const cpu_plan_t *plan;
    const char *x;
    char *y;
} exec_ctx_t;

/* Bias + activation + store for np points of one tile. acc holds [np][width]
 * sums; out is the first point's first channel; points are pstride apart. */
#define DEFINE_EPILOGUE(REAL, SUFFIX)                                                              \
    static void epilogue_##SUFFIX(const cpu_plan_t *plan, REAL *acc, int np, int64_t width,        \
                                  int64_t nvalid, REAL *out, ptrdiff_t pstride, int64_t oc0) {     \
        const REAL *bias = plan->bias ? (const REAL *)plan->bias + oc0 : NULL;                     \
        const ptrdiff_t cs = plan->ys.c;                                                           \
        for (int p = 0; p < np; ++p) {                                                             \
            REAL *a = acc + p * width;                                                             \
            REAL *o = out + p * pstride;                                                           \
            /* channels_last: finish in place in the output span. */                               \
            REAL *span = cs == 1 ? o : a;                                                          \
            if (bias) {                                                                            \
                for (int64_t l = 0; l < nvalid; ++l) {                                             \
                    span[l] = a[l] + bias[l];                                                      \
                }                                                                                  \
            } else if (span != a) {                                                                \
                memcpy(span, a, (size_t)nvalid * sizeof(REAL));                                    \
            }                                                                                      \
            cpu_activation_apply_##SUFFIX(span, (size_t)nvalid, plan->p.activation,                \
                                          plan->p.activation_alpha);                               \
            if (cs != 1) {                                                                         \
                for (int64_t l = 0; l < nvalid; ++l) {                                             \
                    o[l * cs] = a[l];                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_EPILOGUE(float, f32)
DEFINE_EPILOGUE(double, f64)

/* Computes work item `item` (see the file comment). xoff/woff hold room for
 * plan->taps offsets each; acc for one tile. */
static void run_item(const exec_ctx_t *ctx, int64_t item, ptrdiff_t *xoff, ptrdiff_t *woff,
                     void *acc) {
    const cpu_plan_t *plan = ctx->plan;
    const tconv_canonical_t *p = &plan->p;
    const cpu_kernel_t *k = plan->kernel;
    const size_t es = plan->esize;

    int64_t gq = item / plan->rows, row = item % plan->rows;
    int64_t g = gq / plan->nchunk, q = gq % plan->nchunk;
    int64_t oh = row % p->output_size[1];
    row /= p->output_size[1];
    int64_t od = row % p->output_size[0], n = row / p->output_size[0];

    int nv = (int)(plan->nblk - q * k->nv_max < k->nv_max ? plan->nblk - q * k->nv_max : k->nv_max);
    int64_t width = (int64_t)nv * k->vl;
    int64_t oc_in_group = q * plan->chunk_cout;
    int64_t nvalid = plan->cout_g - oc_in_group < width ? plan->cout_g - oc_in_group : width;
    int64_t oc0 = g * plan->cout_g + oc_in_group;

    cpu_tile_args_t args;
    args.xoff = xoff;
    args.woff = woff;
    args.cin = plan->cin_g;
    args.x_cstride = plan->xs.c;
    args.x_pstride = plan->xs.w;
    args.w = (const char *)plan->wpack +
             (size_t)((g * plan->nblk * k->vl + oc_in_group) * plan->taps * plan->cin_g) * es;
    args.acc = acc;
    args.nv = nv;
    const char *x_base = ctx->x + (size_t)(n * plan->xs.n + g * plan->cin_g * plan->xs.c) * es;
    char *y_row =
        ctx->y +
        (size_t)(n * plan->ys.n + od * plan->ys.d + oh * plan->ys.h + oc0 * plan->ys.c) * es;

    const cpu_axis_taps_t *dt = &plan->d_taps, *ht = &plan->h_taps;
    const int64_t kh = p->kernel_size[1], kw = p->kernel_size[2], s = p->strides[2];
    for (int64_t r = 0; r < plan->nruns; ++r) {
        const cpu_w_run_t *run = &plan->runs[r];
        int nt = 0;
        for (int64_t a = dt->start[od]; a < dt->start[od + 1]; ++a) {
            for (int64_t b = ht->start[oh]; b < ht->start[oh + 1]; ++b) {
                ptrdiff_t x_dh = (ptrdiff_t)(dt->in[a] * plan->xs.d + ht->in[b] * plan->xs.h);
                int64_t tap_dh = (dt->tap[a] * kh + ht->tap[b]) * kw;
                for (int64_t e = run->first; e < run->first + run->ntaps; ++e) {
                    xoff[nt] = x_dh + (ptrdiff_t)(plan->run_in0[e] * plan->xs.w);
                    woff[nt] = (ptrdiff_t)((tap_dh + plan->run_tap[e]) * plan->cin_g * width);
                    ++nt;
                }
            }
        }
        args.ntaps = nt;
        /* Equal tiles no larger than the kernel's widest for nv vectors. */
        int64_t np_max = k->np_max[nv];
        int64_t ntiles = (run->count + np_max - 1) / np_max;
        int64_t np = (run->count + ntiles - 1) / ntiles;
        for (int64_t j0 = 0; j0 < run->count; j0 += np) {
            args.np = (int)(run->count - j0 < np ? run->count - j0 : np);
            args.x = x_base + (size_t)(j0 * plan->xs.w) * es;
            k->tile(&args);
            size_t o_off = (size_t)((run->o0 + j0 * s) * plan->ys.w) * es;
            ptrdiff_t pstride = (ptrdiff_t)s * plan->ys.w;
            if (p->dtype == tconv_f64) {
                epilogue_f64(plan, acc, args.np, width, nvalid, (double *)(y_row + o_off), pstride,
                             oc0);
            } else {
                epilogue_f32(plan, acc, args.np, width, nvalid, (float *)(y_row + o_off), pstride,
                             oc0);
            }
        }
    }
}

static void execute_job(void *opaque, size_t thread_index, size_t thread_count) {
    const exec_ctx_t *ctx = opaque;
    const cpu_plan_t *plan = ctx->plan;
    int64_t items = plan->p.groups * plan->nchunk * plan->rows;
    int64_t begin = (int64_t)((__int128)items * thread_index / thread_count);
    int64_t end = (int64_t)((__int128)items * (thread_index + 1) / thread_count);
    ptrdiff_t *xoff = plan->thread_offsets + thread_index * 2 * (size_t)plan->taps;
    ptrdiff_t *woff = xoff + plan->taps;
    void *acc = (char *)plan->thread_acc + thread_index * plan->acc_stride;
    for (int64_t item = begin; item < end; ++item) {
        run_item(ctx, item, xoff, woff, acc);
    }
}

tconv_status_t cpu_plan_execute(cpu_plan_t *plan, const void *input, void *output, char *msg,
                                size_t msg_size) {
    if (!plan->weights_set) {
        snprintf(msg, msg_size, "plan_execute: weights were never set (call plan_set_weights)");
        return tconv_invalid_arguments;
    }
    if (!input || !output) {
        snprintf(msg, msg_size, "plan_execute: %s is NULL", !input ? "input" : "output");
        return tconv_invalid_arguments;
    }
    exec_ctx_t ctx = {plan, input, output};
    cpu_thread_pool_run(plan->pool, execute_job, &ctx);
    return tconv_success;
}
