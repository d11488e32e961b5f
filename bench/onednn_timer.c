/* SPDX-License-Identifier: Apache-2.0 */
/* oneDNN's C API, 2.x and 3.x: deconvolution forward, backward data and
 * backward weights (with the bias gradient) with format_tag_any layouts,
 * bias, optional ReLU post-op on the forward pass; only the primitives'
 * executions are timed (the caller times onednn_layer_execute). The two
 * majors differ in memory descriptors (2.x: structs filled by
 * dnnl_memory_desc_init_by_tag; 3.x: opaque handles from
 * dnnl_memory_desc_create_with_tag, destroyed by the caller), in primitive
 * descriptors (2.x: an operation descriptor from
 * dnnl_dilated_deconvolution_*_desc_init, then dnnl_primitive_desc_create
 * with the hint; 3.x: one dnnl_deconvolution_*_primitive_desc_create taking
 * the hint) and in dnnl_post_ops_append_eltwise (3.x has no scale): the md_*
 * and *_pd_create wrappers below hide them. */
#include "onednn_timer.h"

#include <stdio.h>
#include <string.h>

#ifdef TCONV_HAVE_ONEDNN

#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <time.h>

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

/* Untimed wait after each execution while oneDNN's OpenMP threads spin.
 * libgomp's default wait policy has them spin (pause loops) for a while at
 * the end of a parallel region before they sleep; on 2 cores that takes the
 * cores from whatever the suite times next: tconv's backward data of gan_g5
 * measured 29-33 ms in the suite by default, 46-50 ms with
 * OMP_WAIT_POLICY=active, 26 ms with passive and 24.3-24.7 ms with a 10 or
 * 50 ms wait here, oneDNN's own time the same in every case (22.4-24.4 ms).
 * ONEDNN_SETTLE_MS outlasts the default spin with room to spare; nothing to
 * wait for when the user chose a passive policy. */
#define ONEDNN_SETTLE_MS 30

static void settle_openmp(void) {
    const char *policy = getenv("OMP_WAIT_POLICY");
    if (policy && (!strcmp(policy, "passive") || !strcmp(policy, "PASSIVE")))
        return;
    const struct timespec pause = {0, ONEDNN_SETTLE_MS * 1000000L};
    nanosleep(&pause, NULL);
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

/* One primitive and the arguments it executes with. */
typedef struct onednn_step {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    int nargs;
    dnnl_exec_arg_t args[5];
} onednn_step_t;

/* The most tensors a prepared pass owns: training has 4 forward (src,
 * weights, bias, dst), 3 backward data (diff_dst, weights, diff_src) and 4
 * backward weights (src, diff_dst, diff_weights, diff_bias). */
#define ONEDNN_MAX_MEMORIES 12
/* The descriptors: src, weights, dst "any", bias, and the plain src,
 * weights and dst the data are written in. */
#define ONEDNN_MDS 7

/* Everything a prepared pass owns. */
struct onednn_layer {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t post_ops;
    dnnl_primitive_desc_t hint; /* forward_training, for the backward passes */
    onednn_step_t steps[3];
    int nsteps;
    dnnl_memory_t memories[ONEDNN_MAX_MEMORIES];
    int nmemories;
    md_t mds[ONEDNN_MDS];
    uint64_t rng;
};

void onednn_layer_release(onednn_layer_t *s) {
    if (!s)
        return;
    for (int i = 0; i < s->nmemories; i++)
        dnnl_memory_destroy(s->memories[i]);
    for (int i = 0; i < s->nsteps; i++) {
        if (s->steps[i].primitive)
            dnnl_primitive_destroy(s->steps[i].primitive);
        if (s->steps[i].pd)
            dnnl_primitive_desc_destroy(s->steps[i].pd);
    }
    if (s->hint)
        dnnl_primitive_desc_destroy(s->hint);
    if (s->post_ops)
        dnnl_post_ops_destroy(s->post_ops);
    if (s->attr)
        dnnl_primitive_attr_destroy(s->attr);
    if (s->stream)
        dnnl_stream_destroy(s->stream);
    if (s->engine)
        dnnl_engine_destroy(s->engine);
    for (int i = 0; i < ONEDNN_MDS; i++)
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

/* Memory of layout @p md, owned by @p s. */
static dnnl_status_t make_memory(onednn_layer_t *s, md_ref_t md, dnnl_memory_t *out) {
    if (s->nmemories == ONEDNN_MAX_MEMORIES)
        return dnnl_out_of_memory;
    dnnl_status_t st = dnnl_memory_create(out, md, s->engine, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success)
        s->memories[s->nmemories++] = *out;
    return st;
}

/* Makes memory of the primitive's chosen layout @p chosen and fills it with
 * random values given in the plain layout @p plain (a reorder, untimed). */
static dnnl_status_t make_filled_memory(onednn_layer_t *s, md_ref_t plain, md_ref_t chosen,
                                        dnnl_memory_t *out) {
    dnnl_memory_t user = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_status_t st = dnnl_memory_create(&user, plain, s->engine, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success) {
        void *data = NULL;
        st = dnnl_memory_get_data_handle(user, &data);
        if (st == dnnl_success)
            bench_fill_uniform(data, dnnl_memory_desc_get_size(plain) / sizeof(float), tconv_f32,
                               &s->rng);
    }
    if (st == dnnl_success)
        st = make_memory(s, chosen, out);
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
typedef struct layer_geometry {
    dnnl_dims_t src, weights, dst, bias, strides, dilates, pad_l, pad_r;
} layer_geometry_t;

static void layer_geometry(const tconv_canonical_t *c, layer_geometry_t *g) {
    g->src[0] = g->dst[0] = c->batch;
    g->src[1] = g->weights[1] = c->in_channels;
    g->dst[1] = g->weights[0] = c->out_channels;
    g->bias[0] = c->out_channels;
    for (int a = 0; a < 3; a++) {
        g->src[2 + a] = c->input_size[a];
        g->dst[2 + a] = c->output_size[a];
        g->weights[2 + a] = c->kernel_size[a];
        g->strides[a] = c->strides[a];
        g->dilates[a] = c->dilation[a] - 1;
        g->pad_l[a] = c->crop_begin[a];
        int64_t full =
            (c->input_size[a] - 1) * c->strides[a] + (c->kernel_size[a] - 1) * c->dilation[a] + 1;
        g->pad_r[a] = full - c->crop_begin[a] - c->output_size[a];
    }
}

static tconv_status_t check_layer(const tconv_canonical_t *c, bench_pass_t pass, char *message,
                                  size_t size) {
    const char *why =
        c->dtype != tconv_f32 ? "only float32 is compared"
        : c->groups != 1      ? "only groups = 1 is compared"
        : c->activation != tconv_activation_linear && c->activation != tconv_activation_relu
            ? "only linear and relu activations are compared"
        : c->activation != tconv_activation_linear && pass != BENCH_PASS_FORWARD
            ? "the backward passes are compared without activation (oneDNN's post-op is "
              "forward only)"
            : NULL;
    if (why) {
        snprintf(message, size, "oneDNN: %s", why);
        return tconv_unimplemented;
    }
    return tconv_success;
}

/* The descriptors of every pass: "any" layouts (oneDNN picks its blocked
 * formats, its best case), the bias and the plain layouts tconv's data come
 * in (channels_last input and output, weights as OIDHW). */
enum { MD_SRC_ANY, MD_W_ANY, MD_DST_ANY, MD_BIAS, MD_SRC_PLAIN, MD_W_PLAIN, MD_DST_PLAIN };

static dnnl_status_t init_descriptors(onednn_layer_t *s, const layer_geometry_t *g) {
    dnnl_status_t st = md_init(&s->mds[MD_SRC_ANY], 5, g->src, dnnl_format_tag_any);
    if (st == dnnl_success)
        st = md_init(&s->mds[MD_W_ANY], 5, g->weights, dnnl_format_tag_any);
    if (st == dnnl_success)
        st = md_init(&s->mds[MD_DST_ANY], 5, g->dst, dnnl_format_tag_any);
    if (st == dnnl_success)
        st = md_init(&s->mds[MD_BIAS], 1, g->bias, dnnl_x);
    if (st == dnnl_success)
        st = md_init(&s->mds[MD_SRC_PLAIN], 5, g->src, dnnl_ndhwc);
    if (st == dnnl_success)
        st = md_init(&s->mds[MD_W_PLAIN], 5, g->weights, dnnl_oidhw);
    if (st == dnnl_success)
        st = md_init(&s->mds[MD_DST_PLAIN], 5, g->dst, dnnl_ndhwc);
    return st;
}

/* The forward primitive descriptor (@p prop: inference or training). */
static dnnl_status_t forward_pd_create(onednn_layer_t *s, const layer_geometry_t *g,
                                       dnnl_prop_kind_t prop, int use_bias,
                                       dnnl_primitive_desc_t *pd) {
    md_ref_t bias = use_bias ? MD_REF(s->mds[MD_BIAS]) : NULL;
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_deconvolution_forward_primitive_desc_create(
        pd, s->engine, prop, dnnl_deconvolution_direct, MD_REF(s->mds[MD_SRC_ANY]),
        MD_REF(s->mds[MD_W_ANY]), bias, MD_REF(s->mds[MD_DST_ANY]), g->strides, g->dilates,
        g->pad_l, g->pad_r, s->attr);
#else
    dnnl_deconvolution_desc_t desc;
    dnnl_status_t st = dnnl_dilated_deconvolution_forward_desc_init(
        &desc, prop, dnnl_deconvolution_direct, MD_REF(s->mds[MD_SRC_ANY]),
        MD_REF(s->mds[MD_W_ANY]), bias, MD_REF(s->mds[MD_DST_ANY]), g->strides, g->dilates,
        g->pad_l, g->pad_r);
    return st == dnnl_success ? dnnl_primitive_desc_create(pd, &desc, s->attr, s->engine, NULL)
                              : st;
#endif
}

/* The backward data primitive descriptor, hinted by s->hint. */
static dnnl_status_t backward_data_pd_create(onednn_layer_t *s, const layer_geometry_t *g,
                                             dnnl_primitive_desc_t *pd) {
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_deconvolution_backward_data_primitive_desc_create(
        pd, s->engine, dnnl_deconvolution_direct, MD_REF(s->mds[MD_SRC_ANY]),
        MD_REF(s->mds[MD_W_ANY]), MD_REF(s->mds[MD_DST_ANY]), g->strides, g->dilates, g->pad_l,
        g->pad_r, s->hint, NULL);
#else
    dnnl_deconvolution_desc_t desc;
    dnnl_status_t st = dnnl_dilated_deconvolution_backward_data_desc_init(
        &desc, dnnl_deconvolution_direct, MD_REF(s->mds[MD_SRC_ANY]), MD_REF(s->mds[MD_W_ANY]),
        MD_REF(s->mds[MD_DST_ANY]), g->strides, g->dilates, g->pad_l, g->pad_r);
    return st == dnnl_success ? dnnl_primitive_desc_create(pd, &desc, NULL, s->engine, s->hint)
                              : st;
#endif
}

/* The backward weights primitive descriptor (with the bias gradient when
 * the layer has a bias), hinted by s->hint. */
static dnnl_status_t backward_weights_pd_create(onednn_layer_t *s, const layer_geometry_t *g,
                                                int use_bias, dnnl_primitive_desc_t *pd) {
    md_ref_t diff_bias = use_bias ? MD_REF(s->mds[MD_BIAS]) : NULL;
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_deconvolution_backward_weights_primitive_desc_create(
        pd, s->engine, dnnl_deconvolution_direct, MD_REF(s->mds[MD_SRC_ANY]),
        MD_REF(s->mds[MD_W_ANY]), diff_bias, MD_REF(s->mds[MD_DST_ANY]), g->strides, g->dilates,
        g->pad_l, g->pad_r, s->hint, NULL);
#else
    dnnl_deconvolution_desc_t desc;
    dnnl_status_t st = dnnl_dilated_deconvolution_backward_weights_desc_init(
        &desc, dnnl_deconvolution_direct, MD_REF(s->mds[MD_SRC_ANY]), MD_REF(s->mds[MD_W_ANY]),
        diff_bias, MD_REF(s->mds[MD_DST_ANY]), g->strides, g->dilates, g->pad_l, g->pad_r);
    return st == dnnl_success ? dnnl_primitive_desc_create(pd, &desc, NULL, s->engine, s->hint)
                              : st;
#endif
}

/* An argument of a step: memory of the layout the step's pd reports for
 * (@p query, @p index), filled from @p plain when given, else left as is. */
static dnnl_status_t add_argument(onednn_layer_t *s, onednn_step_t *step, int arg,
                                  dnnl_query_t query, int index, const md_t *plain) {
    md_ref_t chosen = dnnl_primitive_desc_query_md(step->pd, query, index);
    dnnl_memory_t memory = NULL;
    dnnl_status_t st = plain ? make_filled_memory(s, MD_REF(*plain), chosen, &memory)
                             : make_memory(s, chosen, &memory);
    if (st == dnnl_success)
        step->args[step->nargs++] = (dnnl_exec_arg_t){arg, memory};
    return st;
}

/* The step's primitive and its tensors, each in the layout it chose. */
static dnnl_status_t finish_step(onednn_layer_t *s, onednn_step_t *step, bench_pass_t kind,
                                 int use_bias) {
    dnnl_status_t st = dnnl_primitive_create(&step->primitive, step->pd);
    const md_t *mds = s->mds;
    switch (kind) {
    case BENCH_PASS_FORWARD:
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_SRC, dnnl_query_src_md, 0, &mds[MD_SRC_PLAIN]);
        if (st == dnnl_success)
            st =
                add_argument(s, step, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &mds[MD_W_PLAIN]);
        if (st == dnnl_success && use_bias)
            st = add_argument(s, step, DNNL_ARG_BIAS, dnnl_query_weights_md, 1, &mds[MD_BIAS]);
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_DST, dnnl_query_dst_md, 0, NULL);
        break;
    case BENCH_PASS_BACKWARD_DATA:
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0,
                              &mds[MD_DST_PLAIN]);
        if (st == dnnl_success)
            st =
                add_argument(s, step, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &mds[MD_W_PLAIN]);
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, NULL);
        break;
    default: /* backward weights */
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_SRC, dnnl_query_src_md, 0, &mds[MD_SRC_PLAIN]);
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0,
                              &mds[MD_DST_PLAIN]);
        if (st == dnnl_success)
            st = add_argument(s, step, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, NULL);
        if (st == dnnl_success && use_bias)
            st = add_argument(s, step, DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, 1, NULL);
        break;
    }
    return st;
}

/* Appends the implementation name of @p pd ("a/b/c" for several steps). */
static void append_implementation(dnnl_primitive_desc_t pd, char *text, size_t size) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
        impl = "?";
    size_t used = strlen(text);
    if (used < size)
        snprintf(text + used, size - used, "%s%s", used ? "/" : "", impl);
}

tconv_status_t onednn_layer_prepare(const tconv_canonical_t *c, bench_pass_t pass, uint64_t seed,
                                    onednn_layer_t **prepared, char *implementation,
                                    size_t implementation_size, char *message,
                                    size_t message_size) {
    *prepared = NULL;
    if (implementation_size)
        implementation[0] = '\0';
    tconv_status_t status = check_layer(c, pass, message, message_size);
    if (status != tconv_success)
        return status;
    onednn_layer_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(message, message_size, "oneDNN: out of memory");
        return tconv_out_of_memory;
    }
    match_threads();
    s->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    layer_geometry_t g;
    layer_geometry(c, &g);
    DNNL_TRY(init_descriptors(s, &g), "memory descriptors");
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

    /* The steps of the pass, in execution order. */
    const int forward = pass == BENCH_PASS_FORWARD || pass == BENCH_PASS_TRAINING;
    const int data = pass == BENCH_PASS_BACKWARD_DATA || pass == BENCH_PASS_TRAINING;
    const int weights = pass == BENCH_PASS_BACKWARD_WEIGHTS || pass == BENCH_PASS_TRAINING;
    if (pass != BENCH_PASS_FORWARD)
        DNNL_TRY(forward_pd_create(s, &g, dnnl_forward_training, c->use_bias, &s->hint),
                 "deconvolution forward_training (the backward passes' hint)");
    if (forward) {
        onednn_step_t *step = &s->steps[s->nsteps++];
        DNNL_TRY(forward_pd_create(s, &g,
                                   pass == BENCH_PASS_FORWARD ? dnnl_forward_inference
                                                              : dnnl_forward_training,
                                   c->use_bias, &step->pd),
                 "deconvolution forward");
        append_implementation(step->pd, implementation, implementation_size);
        DNNL_TRY(finish_step(s, step, BENCH_PASS_FORWARD, c->use_bias),
                 "deconvolution forward primitive and tensors");
    }
    if (data) {
        onednn_step_t *step = &s->steps[s->nsteps++];
        DNNL_TRY(backward_data_pd_create(s, &g, &step->pd), "deconvolution backward_data");
        append_implementation(step->pd, implementation, implementation_size);
        DNNL_TRY(finish_step(s, step, BENCH_PASS_BACKWARD_DATA, c->use_bias),
                 "deconvolution backward_data primitive and tensors");
    }
    if (weights) {
        onednn_step_t *step = &s->steps[s->nsteps++];
        DNNL_TRY(backward_weights_pd_create(s, &g, c->use_bias, &step->pd),
                 "deconvolution backward_weights");
        append_implementation(step->pd, implementation, implementation_size);
        DNNL_TRY(finish_step(s, step, BENCH_PASS_BACKWARD_WEIGHTS, c->use_bias),
                 "deconvolution backward_weights primitive and tensors");
    }
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
    for (int i = 0; i < s->nsteps; i++)
        DNNL_TRY(dnnl_primitive_execute(s->steps[i].primitive, s->stream, s->steps[i].nargs,
                                        s->steps[i].args),
                 "primitive_execute");
    DNNL_TRY(dnnl_stream_wait(s->stream), "stream_wait");
done:
    *ms = bench_now_ms() - start;
    settle_openmp();
    return status;
}

#else /* !TCONV_HAVE_ONEDNN */

int onednn_timer_available(void) {
    return 0;
}

void onednn_timer_describe(char *text, size_t text_size) {
    snprintf(text, text_size, "oneDNN: not built in");
}

tconv_status_t onednn_layer_prepare(const tconv_canonical_t *layer, bench_pass_t pass,
                                    uint64_t seed, onednn_layer_t **prepared, char *implementation,
                                    size_t implementation_size, char *message,
                                    size_t message_size) {
    (void)layer, (void)pass, (void)seed;
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
