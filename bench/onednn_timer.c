/* oneDNN's C API, 2.x and 3.x: deconvolution forward with format_tag_any
 * layouts, bias, optional ReLU post-op; only the primitive's executions are
 * timed (the caller times onednn_layer_execute). The two majors differ in
 * memory descriptors (2.x: structs filled by dnnl_memory_desc_init_by_tag;
 * 3.x: opaque handles from dnnl_memory_desc_create_with_tag, destroyed by
 * the caller), in primitive descriptors (2.x: an operation descriptor, then
 * dnnl_primitive_desc_create; 3.x: one
 * dnnl_deconvolution_forward_primitive_desc_create) and in
 * dnnl_post_ops_append_eltwise (3.x has no scale): the md_* and
 * deconvolution_pd_create wrappers below hide them. */
#include "onednn_timer.h"

#include <stdio.h>
#include <string.h>

#ifdef TCONV_HAVE_ONEDNN

#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>

#include "bench.h"
#include "bench_peak.h"

#if DNNL_VERSION_MAJOR >= 3
typedef dnnl_memory_desc_t md_t;           /* an owned handle */
typedef const_dnnl_memory_desc_t md_ref_t; /* how the API takes one */
#define MD_REF(md) (md)
static dnnl_status_t md_init(md_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    return dnnl_memory_desc_create_with_tag(md, ndims, dims, dnnl_f32, tag);
}
static void md_release(md_t *md) {
    if (*md)
        dnnl_memory_desc_destroy(*md);
}
#else
typedef dnnl_memory_desc_t md_t; /* a struct, nothing to release */
typedef const dnnl_memory_desc_t *md_ref_t;
#define MD_REF(md) (&(md))
static dnnl_status_t md_init(md_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    return dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag);
}
static void md_release(md_t *md) {
    (void)md;
}
#endif

/* oneDNN runs on OpenMP, which libdnnl pulls in; declared weak so that this
 * file needs no OpenMP flags and still sets and reports the thread count. */
extern int omp_get_max_threads(void) __attribute__((weak));
extern void omp_set_num_threads(int threads) __attribute__((weak));

/* Same threads as tconv's host backends (TCONV_NUM_THREADS, else the online
 * cores) unless the user chose OMP_NUM_THREADS for oneDNN explicitly. */
static void match_threads(void) {
    const char *omp = getenv("OMP_NUM_THREADS");
    if ((omp == NULL || *omp == '\0') && omp_set_num_threads)
        omp_set_num_threads(bench_peak_threads());
}

int onednn_timer_available(void) {
    return 1;
}

void onednn_timer_describe(char *text, size_t text_size) {
    const dnnl_version_t *v = dnnl_version();
    match_threads();
    int threads = omp_get_max_threads ? omp_get_max_threads() : 0;
    snprintf(text, text_size, "oneDNN %d.%d.%d (OpenMP, %d threads)", v->major, v->minor, v->patch,
             threads);
}

/* Everything a prepared layer owns. */
struct onednn_layer {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t post_ops;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t deconv;
    dnnl_memory_t src, weights, bias, dst;
    /* The memory descriptors made here: src, weights, dst "any", bias, and
     * the plain src and weights the data are written in. */
    md_t mds[6];
    int nargs;
    dnnl_exec_arg_t args[4];
};

void onednn_layer_release(onednn_layer_t *s) {
    if (!s)
        return;
    if (s->src)
        dnnl_memory_destroy(s->src);
    if (s->weights)
        dnnl_memory_destroy(s->weights);
    if (s->bias)
        dnnl_memory_destroy(s->bias);
    if (s->dst)
        dnnl_memory_destroy(s->dst);
    if (s->deconv)
        dnnl_primitive_destroy(s->deconv);
    if (s->pd)
        dnnl_primitive_desc_destroy(s->pd);
    if (s->post_ops)
        dnnl_post_ops_destroy(s->post_ops);
    if (s->attr)
        dnnl_primitive_attr_destroy(s->attr);
    if (s->stream)
        dnnl_stream_destroy(s->stream);
    if (s->engine)
        dnnl_engine_destroy(s->engine);
    for (int i = 0; i < 6; i++)
        md_release(&s->mds[i]);
    free(s);
}

static const char *dnnl_status_text(dnnl_status_t st) {
    switch (st) {
    case dnnl_success:
        return "success";
    case dnnl_out_of_memory:
        return "out of memory";
    case dnnl_invalid_arguments:
        return "invalid arguments";
    case dnnl_unimplemented:
        return "unimplemented";
#if DNNL_VERSION_MAJOR >= 3
    case dnnl_last_impl_reached: /* 2.x: dnnl_iterator_ends */
        return "last implementation reached";
#else
    case dnnl_iterator_ends:
        return "iterator ends";
#endif
    case dnnl_runtime_error:
        return "runtime error";
    case dnnl_not_required:
        return "not required";
    default:
        return "unknown status";
    }
}

/* Maps a failed oneDNN call to a tconv status and a message naming the call. */
static tconv_status_t fail(dnnl_status_t st, const char *call, char *message, size_t size) {
    snprintf(message, size, "oneDNN %s: %s", call, dnnl_status_text(st));
    return st == dnnl_out_of_memory       ? tconv_out_of_memory
           : st == dnnl_unimplemented     ? tconv_unimplemented
           : st == dnnl_invalid_arguments ? tconv_invalid_arguments
                                          : tconv_runtime_error;
}

#define DNNL_TRY(call, name)                                                                       \
    do {                                                                                           \
        dnnl_status_t try_status_ = (call);                                                        \
        if (try_status_ != dnnl_success) {                                                         \
            status = fail(try_status_, name, message, message_size);                               \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Makes memory of the primitive's chosen layout @p chosen and fills it with
 * random values given in the plain layout @p plain (a reorder, untimed). */
static dnnl_status_t make_filled_memory(onednn_layer_t *s, md_ref_t plain, md_ref_t chosen,
                                        uint64_t *rng, dnnl_memory_t *out) {
    dnnl_memory_t user = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_status_t st = dnnl_memory_create(&user, plain, s->engine, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success) {
        void *data = NULL;
        st = dnnl_memory_get_data_handle(user, &data);
        if (st == dnnl_success)
            bench_fill_uniform(data, dnnl_memory_desc_get_size(plain) / sizeof(float), tconv_f32,
                               rng);
    }
    if (st == dnnl_success)
        st = dnnl_memory_create(out, chosen, s->engine, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&rpd, plain, s->engine, chosen, s->engine, NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_create(&reorder, rpd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *out}};
        st = dnnl_primitive_execute(reorder, s->stream, 2, args);
    }
    if (st == dnnl_success)
        st = dnnl_stream_wait(s->stream);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (user)
        dnnl_memory_destroy(user);
    return st;
}

/* The layer as oneDNN descriptors: dims, strides, dilates (oneDNN counts
 * the gaps: d - 1), padding_l = the begin crop and padding_r from the output
 * length, oh = (ih-1)*s - pl - pr + (k-1)*d + 1. */
static void layer_geometry(const tconv_canonical_t *c, dnnl_dims_t src, dnnl_dims_t weights,
                           dnnl_dims_t dst, dnnl_dims_t strides, dnnl_dims_t dilates,
                           dnnl_dims_t pad_l, dnnl_dims_t pad_r) {
    src[0] = dst[0] = c->batch;
    src[1] = weights[1] = c->in_channels;
    dst[1] = weights[0] = c->out_channels;
    for (int a = 0; a < 3; a++) {
        src[2 + a] = c->input_size[a];
        dst[2 + a] = c->output_size[a];
        weights[2 + a] = c->kernel_size[a];
        strides[a] = c->strides[a];
        dilates[a] = c->dilation[a] - 1;
        pad_l[a] = c->crop_begin[a];
        int64_t full =
            (c->input_size[a] - 1) * c->strides[a] + (c->kernel_size[a] - 1) * c->dilation[a] + 1;
        pad_r[a] = full - c->crop_begin[a] - c->output_size[a];
    }
}

static tconv_status_t check_layer(const tconv_canonical_t *c, char *message, size_t size) {
    const char *why =
        c->dtype != tconv_f32 ? "only float32 is compared"
        : c->groups != 1      ? "only groups = 1 is compared"
        : c->activation != tconv_activation_linear && c->activation != tconv_activation_relu
            ? "only linear and relu activations are compared"
            : NULL;
    if (why) {
        snprintf(message, size, "oneDNN: %s", why);
        return tconv_unimplemented;
    }
    return tconv_success;
}

tconv_status_t onednn_layer_prepare(const tconv_canonical_t *c, uint64_t seed,
                                    onednn_layer_t **prepared, char *implementation,
                                    size_t implementation_size, char *message,
                                    size_t message_size) {
    *prepared = NULL;
    if (implementation_size)
        implementation[0] = '\0';
    tconv_status_t status = check_layer(c, message, message_size);
    if (status != tconv_success)
        return status;
    onednn_layer_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(message, message_size, "oneDNN: out of memory");
        return tconv_out_of_memory;
    }
    match_threads();
    dnnl_dims_t src_dims, w_dims, dst_dims, strides, dilates, pad_l, pad_r;
    dnnl_dims_t bias_dims = {c->out_channels};
    layer_geometry(c, src_dims, w_dims, dst_dims, strides, dilates, pad_l, pad_r);

    /* "any" layouts: oneDNN picks its blocked formats, its best case. The
     * data arrive as tconv's: channels_last input; weights as OIDHW. */
    md_t *src_any = &s->mds[0], *w_any = &s->mds[1], *dst_any = &s->mds[2];
    md_t *bias_md = &s->mds[3], *src_plain = &s->mds[4], *w_plain = &s->mds[5];
    DNNL_TRY(md_init(src_any, 5, src_dims, dnnl_format_tag_any), "memory descriptor (src)");
    DNNL_TRY(md_init(w_any, 5, w_dims, dnnl_format_tag_any), "memory descriptor (weights)");
    DNNL_TRY(md_init(dst_any, 5, dst_dims, dnnl_format_tag_any), "memory descriptor (dst)");
    DNNL_TRY(md_init(bias_md, 1, bias_dims, dnnl_x), "memory descriptor (bias)");
    DNNL_TRY(md_init(src_plain, 5, src_dims, dnnl_ndhwc), "memory descriptor (src ndhwc)");
    DNNL_TRY(md_init(w_plain, 5, w_dims, dnnl_oidhw), "memory descriptor (weights oidhw)");

    DNNL_TRY(dnnl_engine_create(&s->engine, dnnl_cpu, 0), "engine_create");
    DNNL_TRY(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags), "stream_create");
    DNNL_TRY(dnnl_primitive_attr_create(&s->attr), "primitive_attr_create");
    if (c->activation == tconv_activation_relu) {
        DNNL_TRY(dnnl_post_ops_create(&s->post_ops), "post_ops_create");
#if DNNL_VERSION_MAJOR >= 3
        DNNL_TRY(dnnl_post_ops_append_eltwise(s->post_ops, dnnl_eltwise_relu, 0.0f, 0.0f),
                 "post_ops_append_eltwise(relu)");
#else
        DNNL_TRY(dnnl_post_ops_append_eltwise(s->post_ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f),
                 "post_ops_append_eltwise(relu)");
#endif
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(s->attr, s->post_ops),
                 "primitive_attr_set_post_ops");
    }
    md_ref_t bias_ref = c->use_bias ? MD_REF(*bias_md) : NULL;
#if DNNL_VERSION_MAJOR >= 3
    DNNL_TRY(dnnl_deconvolution_forward_primitive_desc_create(
                 &s->pd, s->engine, dnnl_forward_inference, dnnl_deconvolution_direct,
                 MD_REF(*src_any), MD_REF(*w_any), bias_ref, MD_REF(*dst_any), strides, dilates,
                 pad_l, pad_r, s->attr),
             "deconvolution_forward_primitive_desc_create");
#else
    dnnl_deconvolution_desc_t desc;
    DNNL_TRY(dnnl_dilated_deconvolution_forward_desc_init(
                 &desc, dnnl_forward_inference, dnnl_deconvolution_direct, MD_REF(*src_any),
                 MD_REF(*w_any), bias_ref, MD_REF(*dst_any), strides, dilates, pad_l, pad_r),
             "dilated_deconvolution_forward_desc_init");
    DNNL_TRY(dnnl_primitive_desc_create(&s->pd, &desc, s->attr, s->engine, NULL),
             "primitive_desc_create(deconvolution)");
#endif
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(s->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
        impl)
        snprintf(implementation, implementation_size, "%s", impl);
    DNNL_TRY(dnnl_primitive_create(&s->deconv, s->pd), "primitive_create(deconvolution)");

    uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
    DNNL_TRY(make_filled_memory(s, MD_REF(*src_plain),
                                dnnl_primitive_desc_query_md(s->pd, dnnl_query_src_md, 0), &rng,
                                &s->src),
             "reorder(src)");
    DNNL_TRY(make_filled_memory(s, MD_REF(*w_plain),
                                dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 0), &rng,
                                &s->weights),
             "reorder(weights)");
    if (c->use_bias)
        DNNL_TRY(make_filled_memory(s, MD_REF(*bias_md),
                                    dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 1),
                                    &rng, &s->bias),
                 "reorder(bias)");
    DNNL_TRY(dnnl_memory_create(&s->dst, dnnl_primitive_desc_query_md(s->pd, dnnl_query_dst_md, 0),
                                s->engine, DNNL_MEMORY_ALLOCATE),
             "memory_create(dst)");

    s->args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
    s->args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->weights};
    s->args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
    s->args[3] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    s->nargs = c->use_bias ? 4 : 3;
    *prepared = s;
    return tconv_success;
done:
    onednn_layer_release(s);
    return status;
}

tconv_status_t onednn_layer_execute(onednn_layer_t *s, double *ms, char *message,
                                    size_t message_size) {
    tconv_status_t status = tconv_success;
    double start = bench_now_ms();
    DNNL_TRY(dnnl_primitive_execute(s->deconv, s->stream, s->nargs, s->args), "primitive_execute");
    DNNL_TRY(dnnl_stream_wait(s->stream), "stream_wait");
done:
    *ms = bench_now_ms() - start;
    return status;
}

#else /* !TCONV_HAVE_ONEDNN */

int onednn_timer_available(void) {
    return 0;
}

void onednn_timer_describe(char *text, size_t text_size) {
    snprintf(text, text_size, "oneDNN: not built in");
}

tconv_status_t onednn_layer_prepare(const tconv_canonical_t *layer, uint64_t seed,
                                    onednn_layer_t **prepared, char *implementation,
                                    size_t implementation_size, char *message,
                                    size_t message_size) {
    (void)layer, (void)seed;
    *prepared = NULL;
    if (implementation_size)
        implementation[0] = '\0';
    snprintf(message, message_size, "oneDNN: not built in");
    return tconv_unimplemented;
}

tconv_status_t onednn_layer_execute(onednn_layer_t *prepared, double *ms, char *message,
                                    size_t message_size) {
    (void)prepared;
    *ms = 0.0;
    snprintf(message, message_size, "oneDNN: not built in");
    return tconv_unimplemented;
}

void onednn_layer_release(onednn_layer_t *prepared) {
    (void)prepared;
}

#endif
