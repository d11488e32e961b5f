/* SPDX-License-Identifier: Apache-2.0 */
/* Plan lifecycle: geometry, build options, program, buffers, weight upload,
 * and the tiled execution (upload raw input tile, pad it, gather, read the
 * output tile back). Host passes run on the plan's own in-order queue and
 * finish before returning; passes on device buffers (ABI 1.2) are enqueued
 * on the device queue, or on the caller's queue for a plan made by
 * plan_create_native, and return at once. The batch is a run-time size
 * (plan_set_batch): no build option holds it, so one program serves every
 * batch up to the plan's, and plans that differ only in batch share it. */
#include "ocl_plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_backward.h"
#include "ocl_buffer.h"
#include "ocl_errors.h"
#include "ocl_geometry.h"
#include "ocl_launch.h"
#include "ocl_pack.h"
#include "ocl_program.h"

typedef struct ocl_plan {
    ocl_state_t *st;
    ocl_device_t *dev;
    cl_context context; /**< Retained: the device's, or the caller's (native). */
    tconv_canonical_t p;
    ocl_geometry_t geo;
    int64_t batch;          /**< Samples passes run (plan_set_batch): 1..p.batch. */
    cl_command_queue queue; /**< The plan's own: host passes, warm-up. */
    /** Where enqueues go: the device queue, or (native) own_stream. */
    ocl_stream_t *stream;
    ocl_stream_t *own_stream; /**< plan_create_native: the caller's queue. */
    int native;
    /** The last command of the plan's enqueued work: host calls wait for it
     *  (they share the plan's buffers and weights but run on its own queue). */
    cl_event last;
    cl_program program;
    cl_kernel pad;
    cl_kernel gather;
    cl_kernel pack_weights, pack_bias;
    cl_mem raw, xpad, weights, bias, out;
    /* Launch sizes of one sample (the batch dimension grows with the
     * samples: dimension 2 of the padding, 1 of the gather) and local sizes
     * that divide every multiple of them. */
    size_t pad_unit[3], pad_local[3];
    size_t main_unit[3], main_local[3];
    size_t pack_weights_global[3], pack_weights_local[3];
    size_t pack_bias_global[3], pack_bias_local[3];
    uint64_t in_sample_bytes, out_sample_bytes, kernel_bytes; /**< The caller's tensors. */
    int weights_set;
    int in_place; /**< Kernels use the caller's input/output memory (CL_MEM_USE_HOST_PTR). */
    ocl_backward_t *backward; /**< Only when the passes ask for a backward pass. */
    /** Where the programs come from besides the caches (pointing to the
     *  copies below). */
    ocl_binary_options_t binaries;
    char *binary_copy, *binary_save_copy;
    pthread_mutex_t lock; /**< One call at a time (shared buffers and kernel args). */
} ocl_plan_t;

/* Device memory the forward pass's buffers take. */
static uint64_t forward_bytes(const ocl_geometry_t *g) {
    return g->raw_bytes + g->pad_bytes + g->out_bytes + g->weight_bytes + g->bias_bytes;
}

tconv_status_t ocl_plan_check(const ocl_device_t *dev, const tconv_canonical_t *p,
                              const ocl_binary_options_t *binaries, char *msg, size_t msg_size) {
    if (p->dtype == tconv_f64 && !dev->has_fp64) {
        ocl_msg(msg, msg_size, "opencl:%zu (%s) has no cl_khr_fp64", dev->index, dev->name);
        return tconv_unimplemented;
    }
    if (p->dtype != tconv_f32 && p->dtype != tconv_f64) {
        ocl_msg(msg, msg_size, "dtype %d is not supported (float32, float64 only)", (int)p->dtype);
        return tconv_unimplemented;
    }
    ocl_geometry_t geo;
    tconv_status_t s =
        ocl_geometry_init(p, ocl_device_max_alloc(dev), dev->global_mem, &geo, msg, msg_size);
    if (s == tconv_success && ocl_backward_wanted(p))
        s = ocl_backward_check(dev, p, forward_bytes(&geo), binaries, msg, msg_size);
    return s;
}

/* A growing "-DNAME=value" option string. */
typedef struct options {
    char buf[4096];
    size_t len;
    int overflow;
} options_t;

static void opt_add(options_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void opt_add(options_t *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(o->buf) - o->len)
        o->overflow = 1;
    else
        o->len += (size_t)n;
}

#define OPT(o, name, value) opt_add((o), " -D" name "=%lld", (long long)(value))

/* Activation parameter as an exact, typed literal (hex float); 0 for the
 * activations that ignore it, so their plans share one cache entry. */
static void opt_alpha(options_t *o, const tconv_canonical_t *p) {
    int uses_alpha = 0;
    switch (p->activation) {
    case tconv_activation_leaky_relu:
    case tconv_activation_elu:
    case tconv_activation_celu:
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
    case tconv_activation_squareplus:
        uses_alpha = 1;
        break;
    default:
        break;
    }
    double a = uses_alpha ? p->activation_alpha : 0.0;
    if (p->dtype == tconv_f64)
        opt_add(o, " -DALPHA=%a", a);
    else
        opt_add(o, " -DALPHA=%af", (double)(float)a);
}

static int build_options(const tconv_canonical_t *p, const ocl_geometry_t *g, char *out,
                         size_t out_size) {
    options_t o = {.len = 0, .overflow = 0};
    o.buf[0] = '\0';
    opt_add(&o, "-cl-std=CL1.2 -DREAL=%s%s", p->dtype == tconv_f64 ? "double" : "float",
            p->dtype == tconv_f64 ? " -DUSE_F64" : "");
    OPT(&o, "VEC", g->vec);
    OPT(&o, "NVEC", g->nvec);
    OPT(&o, "TW", g->tw);
    OPT(&o, "ACT", p->activation);
    opt_alpha(&o, p);
    OPT(&o, "USE_BIAS", p->use_bias != 0);
    OPT(&o, "IN_CL", p->data_format == tconv_channels_last);
    OPT(&o, "OUT_CL", p->data_format == tconv_channels_last);
    OPT(&o, "G", p->groups);
    OPT(&o, "CIN", p->in_channels);
    OPT(&o, "COUT", p->out_channels);
    OPT(&o, "CING", g->cing);
    OPT(&o, "COUTG", g->coutg);
    OPT(&o, "COUTG_PAD", g->coutg_pad);
    OPT(&o, "NOCB", g->nocb);
    static const char axes[3] = {'D', 'H', 'W'};
    for (int a = 0; a < 3; a++) {
        const ocl_axis_t *x = &g->ax[a];
        char c = axes[a];
        opt_add(&o, " -DIN_%c=%lld -DO%c=%lld -DK%c=%lld -DS%c=%lld -DD%c=%lld -DCROP_%c=%lld", c,
                (long long)x->in, c, (long long)x->out, c, (long long)x->k, c, (long long)x->s, c,
                (long long)x->d, c, (long long)x->crop);
        opt_add(&o, " -DSG%c=%lld -DMT%c=%lld -DMIN_OFF_%c=%lld", c, (long long)x->sg, c,
                (long long)x->mt, c, (long long)x->min_off);
    }
    OPT(&o, "JDT", g->jdt);
    OPT(&o, "JHT", g->jht);
    OPT(&o, "TH", g->th);
    OPT(&o, "WVEC", g->wvec);
    OPT(&o, "PHASE_FAST", g->phase_fast);
    OPT(&o, "WT", g->wt);
    OPT(&o, "ODT", g->odt);
    OPT(&o, "XD", g->xd);
    OPT(&o, "XH", g->xh);
    OPT(&o, "XW", g->xw);
    OPT(&o, "RD", g->rd);
    if (o.overflow)
        return 0;
    snprintf(out, out_size, "%s", o.buf);
    return 1;
}

/* Largest divisor of n not above cap (so global sizes need no rounding). */
static size_t divisor_at_most(size_t n, size_t cap) {
    for (size_t d = cap < n ? cap : n; d > 1; d--)
        if (n % d == 0)
            return d;
    return 1;
}

void ocl_choose_local(const size_t global[3], size_t kernel_max, size_t target, size_t local[3]) {
    size_t budget = target < kernel_max ? target : kernel_max;
    if (budget == 0)
        budget = 1;
    for (int i = 0; i < 3; i++) {
        local[i] = divisor_at_most(global[i], budget);
        budget /= local[i];
        if (budget == 0)
            budget = 1;
    }
}

static tconv_status_t create_buffer(ocl_plan_t *pl, cl_mem_flags flags, uint64_t bytes, cl_mem *out,
                                    const char *what, char *msg, size_t msg_size) {
    cl_int err = CL_SUCCESS;
    *out = clCreateBuffer(pl->context, flags, (size_t)(bytes ? bytes : 1), NULL, &err);
    if (err != CL_SUCCESS || !*out) {
        *out = NULL;
        char call[128];
        snprintf(call, sizeof(call), "clCreateBuffer (%s, %llu bytes)", what,
                 (unsigned long long)bytes);
        return ocl_fail(err, call, msg, msg_size);
    }
    return tconv_success;
}

static tconv_status_t create_kernel(ocl_plan_t *pl, const char *name, cl_kernel *out, char *msg,
                                    size_t msg_size) {
    cl_int err = CL_SUCCESS;
    *out = clCreateKernel(pl->program, name, &err);
    if (err != CL_SUCCESS || !*out) {
        *out = NULL;
        char call[128];
        snprintf(call, sizeof(call), "clCreateKernel(%s)", name);
        return ocl_fail(err, call, msg, msg_size);
    }
    return tconv_success;
}

static size_t kernel_wg_size(ocl_plan_t *pl, cl_kernel k) {
    size_t wg = 0;
    if (clGetKernelWorkGroupInfo(k, pl->dev->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(wg), &wg,
                                 NULL) != CL_SUCCESS ||
        wg == 0)
        wg = 1;
    return wg;
}

void ocl_launch_size(const size_t unit[3], int batch_dim, int64_t samples, size_t global[3]) {
    for (int i = 0; i < 3; i++)
        global[i] = unit[i];
    global[batch_dim] *= (size_t)(samples > 0 ? samples : 1);
}

/* Sets the arguments and enqueues both kernels for one tile of nvalid
 * samples (0: the warm-up, one sample's work-items that all return). */
static tconv_status_t enqueue_tile(ocl_plan_t *pl, ocl_chain_t *c, cl_mem raw, cl_mem out,
                                   cl_int jd0, cl_int r0, cl_int nvalid, char *msg,
                                   size_t msg_size) {
    size_t pad_global[3], main_global[3];
    ocl_launch_size(pl->pad_unit, 2, nvalid, pad_global);
    ocl_launch_size(pl->main_unit, 1, nvalid, main_global);
    tconv_status_t s =
        OCL_LAUNCH(c, pl->pad, "tconv_pad_input", pad_global, pl->pad_local, msg, msg_size,
                   OCL_MEM(raw), OCL_MEM(pl->xpad), OCL_INT(jd0), OCL_INT(r0), OCL_INT(nvalid));
    if (s != tconv_success)
        return s;
    return OCL_LAUNCH(c, pl->gather, "tconv_gather", main_global, pl->main_local, msg, msg_size,
                      OCL_MEM(pl->xpad), OCL_MEM(pl->weights), OCL_MEM(pl->bias), OCL_MEM(out),
                      OCL_INT(jd0), OCL_INT(nvalid));
}

/* Packs the caller's kernel and bias (device buffers; bias NULL: zeros)
 * into the plan's weights on the device. count 0 runs the kernels with no
 * work (warm-up; kernel and bias may then be any buffer). */
static tconv_status_t enqueue_pack(ocl_plan_t *pl, ocl_chain_t *c, cl_mem kernel, cl_mem bias,
                                   int warm_up, char *msg, size_t msg_size) {
    const cl_int keras = pl->p.kernel_layout == tconv_kernel_keras;
    const cl_int wcount = warm_up ? 0 : (cl_int)(pl->geo.weight_bytes / pl->geo.elem);
    const cl_int bcount = warm_up ? 0 : (cl_int)(pl->geo.bias_bytes / pl->geo.elem);
    tconv_status_t s = OCL_LAUNCH(
        c, pl->pack_weights, "tconv_pack_weights", pl->pack_weights_global, pl->pack_weights_local,
        msg, msg_size, OCL_MEM(kernel), OCL_MEM(pl->weights), OCL_INT(keras), OCL_INT(wcount));
    if (s != tconv_success)
        return s;
    if (!bias && !warm_up) {
        const double zero64 = 0.0;
        const float zero32 = 0.0f;
        const void *zero = pl->geo.elem == sizeof(double) ? (const void *)&zero64 : &zero32;
        const cl_int err = clEnqueueFillBuffer(c->queue, pl->bias, zero, pl->geo.elem, 0,
                                               (size_t)pl->geo.bias_bytes, OCL_CHAIN_SYNC(c));
        ocl_chain_commit(c, err);
        if (err != CL_SUCCESS)
            return ocl_fail(err, "clEnqueueFillBuffer(bias)", msg, msg_size);
        return tconv_success;
    }
    cl_mem src = bias ? bias : pl->bias;
    return OCL_LAUNCH(c, pl->pack_bias, "tconv_pack_bias", pl->pack_bias_global,
                      pl->pack_bias_local, msg, msg_size, OCL_MEM(src), OCL_MEM(pl->bias),
                      OCL_INT(bcount));
}

/* The gather's default work-group size target, and the largest
 * TCONV_OPENCL_LOCAL accepted (no device runs more work-items per group). */
#define GATHER_LOCAL_DEFAULT 4
#define GATHER_LOCAL_MAX     4096

/* TCONV_OPENCL_LOCAL (tuning): the most work-items per work-group of the
 * gather, an integer in 1..GATHER_LOCAL_MAX. Anything else is said once per
 * plan at TCONV_VERBOSE=1 and the default used (atoi made "-1" SIZE_MAX, so
 * the device's largest group, and "x" 0). */
static size_t gather_local_target(ocl_state_t *st) {
    const char *v = getenv("TCONV_OPENCL_LOCAL");
    if (v == NULL || *v == '\0')
        return GATHER_LOCAL_DEFAULT;
    char *end = NULL;
    errno = 0;
    const long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > GATHER_LOCAL_MAX) {
        OCL_LOG(st, tconv_log_info,
                "TCONV_OPENCL_LOCAL = '%s': must be an integer in 1..%d; using %d", v,
                GATHER_LOCAL_MAX, GATHER_LOCAL_DEFAULT);
        return GATHER_LOCAL_DEFAULT;
    }
    return (size_t)n;
}

/* The launch sizes of one sample, the local sizes, and the packing's. */
static void choose_launches(ocl_plan_t *pl) {
    const tconv_canonical_t *p = &pl->p;
    const ocl_geometry_t *g = &pl->geo;
    pl->pad_unit[0] = (size_t)g->xw;
    pl->pad_unit[1] = (size_t)g->xh;
    pl->pad_unit[2] = (size_t)g->xd;
    size_t phases = (size_t)(g->ax[0].s * g->ax[1].s * g->ax[2].s);
    size_t blocks = (size_t)(p->groups * g->nocb);
    pl->main_unit[0] = (size_t)(g->jht * g->wt) * (g->phase_fast ? phases : 1);
    pl->main_unit[1] = (size_t)g->jdt;
    pl->main_unit[2] = blocks * (g->phase_fast ? 1 : phases);
    /* Local sizes divide one sample's sizes, so every batch's launch keeps
     * them (drivers that compile per local size, PoCL, do it once, at the
     * warm-up). */
    ocl_choose_local(pl->pad_unit, kernel_wg_size(pl, pl->pad), 64, pl->pad_local);
    ocl_choose_local(pl->main_unit, kernel_wg_size(pl, pl->gather), gather_local_target(pl->st),
                     pl->main_local);
    size_t wcount = (size_t)(g->weight_bytes / g->elem), bcount = (size_t)(g->bias_bytes / g->elem);
    size_t wg[3] = {wcount ? wcount : 1, 1, 1}, bg[3] = {bcount ? bcount : 1, 1, 1};
    memcpy(pl->pack_weights_global, wg, sizeof(wg));
    memcpy(pl->pack_bias_global, bg, sizeof(bg));
    ocl_choose_local(wg, kernel_wg_size(pl, pl->pack_weights), 64, pl->pack_weights_local);
    ocl_choose_local(bg, kernel_wg_size(pl, pl->pack_bias), 64, pl->pack_bias_local);
    int64_t in_sample = p->in_channels, out_sample = p->out_channels;
    for (int a = 0; a < 3; a++) {
        in_sample *= p->input_size[a];
        out_sample *= p->output_size[a];
    }
    pl->in_sample_bytes = (uint64_t)in_sample * g->elem;
    pl->out_sample_bytes = (uint64_t)out_sample * g->elem;
    pl->kernel_bytes = (uint64_t)(p->kernel_size[0] * p->kernel_size[1] * p->kernel_size[2] *
                                  g->coutg * p->in_channels) *
                       g->elem;
}

static tconv_status_t plan_setup(ocl_plan_t *pl, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &pl->p;
    ocl_geometry_t *g = &pl->geo;
    ocl_device_t *dev = pl->dev;
    tconv_status_t s =
        ocl_geometry_init(p, ocl_device_max_alloc(dev), dev->global_mem, g, msg, msg_size);
    if (s != tconv_success)
        return s;
    if (!pl->native) {
        s = ocl_device_open(pl->st, dev, msg, msg_size);
        if (s != tconv_success)
            return s;
        pl->context = dev->context;
        clRetainContext(pl->context);
        pl->stream = dev->stream;
    }
    cl_int err = CL_SUCCESS;
    pl->queue = clCreateCommandQueue(pl->context, dev->id, 0, &err);
    if (err != CL_SUCCESS || !pl->queue) {
        pl->queue = NULL;
        return ocl_fail(err, "clCreateCommandQueue", msg, msg_size);
    }
    /* Host-memory devices (CPU drivers, integrated GPUs) run a one-tile plan
     * on the caller's arrays in place; others get their own buffers. */
    pl->in_place = g->exact && dev->host_unified && getenv("TCONV_OPENCL_NO_IN_PLACE") == NULL;
    char options[4096];
    if (!build_options(p, g, options, sizeof(options))) {
        ocl_msg(msg, msg_size, "build options exceed %zu characters", sizeof(options));
        return tconv_runtime_error;
    }
    OCL_LOG(
        pl->st, tconv_log_debug,
        "opencl:%zu: %s path%s, vec %d x %d, tw %d, th %d, %lld tile(s) of %lld sample(s) x %lld "
        "depth; %s",
        dev->index, g->wvec ? "W" : "channel", pl->in_place ? ", in place" : "", g->vec, g->nvec,
        g->tw, g->th, (long long)g->tiles, (long long)g->nb, (long long)g->odt, options);
    int fresh = 0;
    s = ocl_program_get(pl->st, dev, pl->context, ocl_sources_forward, options, &pl->binaries,
                        &pl->program, &fresh, msg, msg_size);
    if (s == tconv_success)
        s = create_kernel(pl, "tconv_pad_input", &pl->pad, msg, msg_size);
    if (s == tconv_success)
        s = create_kernel(pl, "tconv_gather", &pl->gather, msg, msg_size);
    if (s == tconv_success)
        s = create_kernel(pl, "tconv_pack_weights", &pl->pack_weights, msg, msg_size);
    if (s == tconv_success)
        s = create_kernel(pl, "tconv_pack_bias", &pl->pack_bias, msg, msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_ONLY, g->raw_bytes, &pl->raw, "raw input", msg, msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_WRITE, g->pad_bytes, &pl->xpad, "padded input", msg,
                          msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_WRITE, g->weight_bytes, &pl->weights, "weights", msg,
                          msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_WRITE, g->bias_bytes, &pl->bias, "bias", msg, msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_WRITE, g->out_bytes, &pl->out, "output", msg, msg_size);
    if (s != tconv_success)
        return s;
    choose_launches(pl);

    /* Warm-up with no valid sample: drivers such as PoCL compile the
     * work-group function at the first enqueue; do it now, not at execute. */
    ocl_chain_t c;
    ocl_chain_begin(&c, pl->queue, NULL, 0);
    s = enqueue_tile(pl, &c, pl->in_place ? pl->xpad : pl->raw, pl->in_place ? pl->xpad : pl->out,
                     0, 0, 0, msg, msg_size);
    if (s == tconv_success)
        s = enqueue_pack(pl, &c, pl->weights, pl->bias, 1, msg, msg_size);
    if (s == tconv_success && (err = clFinish(pl->queue)) != CL_SUCCESS)
        s = ocl_fail(err, "clFinish", msg, msg_size);
    if (s == tconv_success)
        s = ocl_program_persist(pl->st, dev, ocl_sources_forward, options, &pl->binaries,
                                pl->program, fresh, msg, msg_size);
    if (s == tconv_success && ocl_backward_wanted(p))
        s = ocl_backward_create(pl->st, dev, pl->context, pl->queue, p, forward_bytes(g),
                                &pl->binaries, &pl->backward, msg, msg_size);
    return s;
}

/* A plan on @p dev: in the device's own context, enqueueing on its device
 * queue, or (@p native_queue not NULL) in @p native_context, enqueueing on
 * that queue; programs from @p binaries besides the caches. */
static tconv_status_t plan_make(ocl_state_t *st, ocl_device_t *dev, const tconv_canonical_t *p,
                                cl_command_queue native_queue, cl_context native_context,
                                const ocl_binary_options_t *binaries, tconv_backend_plan_t *plan,
                                char *msg, size_t msg_size) {
    *plan = NULL;
    tconv_status_t s = ocl_plan_check(dev, p, binaries, msg, msg_size);
    if (s != tconv_success)
        return s;
    ocl_plan_t *pl = calloc(1, sizeof(*pl));
    if (!pl) {
        ocl_msg(msg, msg_size, "out of host memory for the plan");
        return tconv_out_of_memory;
    }
    pl->st = st;
    pl->dev = dev;
    pl->p = *p;
    pl->batch = p->batch;
    pthread_mutex_init(&pl->lock, NULL);
    /* The paths are the caller's: the plan keeps copies. */
    pl->binaries = *binaries;
    pl->binary_copy = binaries->binary ? strdup(binaries->binary) : NULL;
    pl->binary_save_copy = binaries->binary_save ? strdup(binaries->binary_save) : NULL;
    pl->binaries.binary = pl->binary_copy;
    pl->binaries.binary_save = pl->binary_save_copy;
    if ((binaries->binary && !pl->binary_copy) ||
        (binaries->binary_save && !pl->binary_save_copy)) {
        ocl_msg(msg, msg_size, "out of host memory for the plan's binary paths");
        s = tconv_out_of_memory;
    }
    if (s == tconv_success && native_queue) {
        pl->native = 1;
        pl->context = native_context;
        clRetainContext(native_context);
        s = ocl_stream_create(native_queue, dev->index, &pl->own_stream, msg, msg_size);
        pl->stream = pl->own_stream;
    }
    if (s == tconv_success)
        s = plan_setup(pl, msg, msg_size);
    if (s != tconv_success) {
        ocl_plan_destroy(pl);
        return s;
    }
    *plan = pl;
    return tconv_success;
}

tconv_status_t ocl_plan_create_with_options(tconv_backend_state_t state, size_t device,
                                            const tconv_canonical_t *p,
                                            const tconv_plan_options_t *options,
                                            tconv_backend_plan_t *plan, char *msg,
                                            size_t msg_size) {
    ocl_state_t *st = state;
    *plan = NULL;
    if (device >= st->device_count) {
        ocl_msg(msg, msg_size, "device index %zu: the backend has %zu device(s)", device,
                st->device_count);
        return tconv_invalid_arguments;
    }
    const ocl_binary_options_t binaries = ocl_binary_options_from_plan(options);
    return plan_make(st, &st->devices[device], p, NULL, NULL, &binaries, plan, msg, msg_size);
}

tconv_status_t ocl_plan_create(tconv_backend_state_t state, size_t device,
                               const tconv_canonical_t *p, tconv_backend_plan_t *plan, char *msg,
                               size_t msg_size) {
    return ocl_plan_create_with_options(state, device, p, NULL, plan, msg, msg_size);
}

tconv_status_t ocl_plan_create_native(tconv_backend_state_t state, const tconv_canonical_t *p,
                                      void *native_queue, size_t *device,
                                      tconv_backend_plan_t *plan, char *msg, size_t msg_size) {
    ocl_state_t *st = state;
    *plan = NULL;
    cl_command_queue queue = native_queue;
    cl_device_id id = NULL;
    cl_context context = NULL;
    cl_command_queue_properties props = 0;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof(id), &id, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof(context), &context, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof(props), &props, NULL);
    if (err != CL_SUCCESS) {
        ocl_msg(msg, msg_size, "queue is not a valid cl_command_queue (clGetCommandQueueInfo: %s)",
                ocl_error_name(err));
        return tconv_invalid_arguments;
    }
    ocl_device_t *dev = ocl_device_by_id(st, id);
    if (!dev) {
        ocl_msg(msg, msg_size, "the queue's device is none of the %zu device(s) of this backend",
                st->device_count);
        return tconv_no_device;
    }
    *device = dev->index;
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
        ocl_msg(msg, msg_size,
                "queue is out of order (CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE): a pass is "
                "several commands in queue order; give an in-order queue");
        return tconv_invalid_arguments;
    }
    const ocl_binary_options_t binaries = ocl_binary_options_from_env();
    return plan_make(st, dev, p, queue, context, &binaries, plan, msg, msg_size);
}

/* Before a host call: the plan's enqueued work must be done, since it uses
 * the same plan buffers and weights from another queue. (Its failure, if
 * any, is the next wait's to report.) */
static void wait_enqueued(ocl_plan_t *pl) {
    if (!pl->last)
        return;
    clWaitForEvents(1, &pl->last);
    clReleaseEvent(pl->last);
    pl->last = NULL;
}

tconv_status_t ocl_plan_set_weights(tconv_backend_plan_t plan, const void *kernel, const void *bias,
                                    char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    const ocl_geometry_t *g = &pl->geo;
    if (!kernel) {
        ocl_msg(msg, msg_size, "kernel is NULL");
        return tconv_invalid_arguments;
    }
    void *wpk = malloc((size_t)g->weight_bytes);
    void *bpk = malloc((size_t)g->bias_bytes);
    if (!wpk || !bpk) {
        free(wpk);
        free(bpk);
        ocl_msg(msg, msg_size, "out of host memory packing %llu bytes of weights",
                (unsigned long long)g->weight_bytes);
        return tconv_out_of_memory;
    }
    ocl_pack_weights(&pl->p, g, kernel, wpk);
    ocl_pack_bias(&pl->p, g, pl->p.use_bias ? bias : NULL, bpk);
    pthread_mutex_lock(&pl->lock);
    wait_enqueued(pl);
    tconv_status_t s = tconv_success;
    cl_int err = clEnqueueWriteBuffer(pl->queue, pl->weights, CL_TRUE, 0, (size_t)g->weight_bytes,
                                      wpk, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        s = ocl_fail(err, "clEnqueueWriteBuffer(weights)", msg, msg_size);
    if (s == tconv_success) {
        err = clEnqueueWriteBuffer(pl->queue, pl->bias, CL_TRUE, 0, (size_t)g->bias_bytes, bpk, 0,
                                   NULL, NULL);
        if (err != CL_SUCCESS)
            s = ocl_fail(err, "clEnqueueWriteBuffer(bias)", msg, msg_size);
    }
    if (s == tconv_success && pl->backward)
        s = ocl_backward_set_weights(pl->backward, kernel, msg, msg_size);
    pl->weights_set = s == tconv_success;
    pthread_mutex_unlock(&pl->lock);
    free(wpk);
    free(bpk);
    return s;
}

ocl_rect_t ocl_tile_rect(const tconv_canonical_t *p, size_t elem, int output, int64_t d0,
                         int64_t d1, int64_t cap, int64_t n0, int64_t nb) {
    int64_t c = output ? p->out_channels : p->in_channels;
    const int64_t *sz = output ? p->output_size : p->input_size;
    size_t plane = (size_t)(sz[1] * sz[2]) * elem;
    int cl = p->data_format == tconv_channels_last;
    size_t unit = cl ? plane * (size_t)c : plane, rows = cl ? 1 : (size_t)c;
    ocl_rect_t r = {.buf_origin = {0, 0, 0},
                    .host_origin = {(size_t)d0 * unit, 0, (size_t)n0},
                    .region = {(size_t)(d1 - d0) * unit, rows, (size_t)nb},
                    .buf_row = (size_t)cap * unit,
                    .buf_slice = rows * (size_t)cap * unit,
                    .host_row = (size_t)sz[0] * unit,
                    .host_slice = rows * (size_t)sz[0] * unit};
    return r;
}

cl_int ocl_copy_rect(ocl_chain_t *c, const ocl_rect_t *r, cl_mem tile, ocl_tensor_t t, int to_tile,
                     const char **call) {
    cl_int err;
    if (t.mem && to_tile) {
        *call = "clEnqueueCopyBufferRect";
        err = clEnqueueCopyBufferRect(c->queue, t.mem, tile, r->host_origin, r->buf_origin,
                                      r->region, r->host_row, r->host_slice, r->buf_row,
                                      r->buf_slice, OCL_CHAIN_SYNC(c));
    } else if (t.mem) {
        *call = "clEnqueueCopyBufferRect";
        err = clEnqueueCopyBufferRect(c->queue, tile, t.mem, r->buf_origin, r->host_origin,
                                      r->region, r->buf_row, r->buf_slice, r->host_row,
                                      r->host_slice, OCL_CHAIN_SYNC(c));
    } else if (to_tile) {
        *call = "clEnqueueWriteBufferRect";
        err = clEnqueueWriteBufferRect(c->queue, tile, CL_FALSE, r->buf_origin, r->host_origin,
                                       r->region, r->buf_row, r->buf_slice, r->host_row,
                                       r->host_slice, t.host, OCL_CHAIN_SYNC(c));
    } else {
        *call = "clEnqueueReadBufferRect";
        err = clEnqueueReadBufferRect(c->queue, tile, CL_FALSE, r->buf_origin, r->host_origin,
                                      r->region, r->buf_row, r->buf_slice, r->host_row,
                                      r->host_slice, t.host, OCL_CHAIN_SYNC(c));
    }
    ocl_chain_commit(c, err);
    return err;
}

/* The tiles of the current batch through the plan's tile buffers. */
static tconv_status_t run_tiles(ocl_plan_t *pl, ocl_chain_t *c, ocl_tensor_t input,
                                ocl_tensor_t output, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &pl->p;
    const ocl_geometry_t *g = &pl->geo;
    const ocl_axis_t *ad = &g->ax[0];
    const char *call = "";
    char what[96];
    for (int64_t n0 = 0; n0 < pl->batch; n0 += g->nb) {
        int64_t nvalid = pl->batch - n0 < g->nb ? pl->batch - n0 : g->nb;
        for (int64_t jd0 = 0; jd0 < ad->jmax; jd0 += g->jdt) {
            /* Raw input depth range this tile's padded buffer needs. */
            int64_t lo = jd0 + ad->min_off;
            int64_t r0 = lo > 0 ? lo : 0;
            int64_t r1 = lo + g->xd < ad->in ? lo + g->xd : ad->in;
            cl_int err;
            if (r1 > r0) {
                ocl_rect_t r = ocl_tile_rect(p, g->elem, 0, r0, r1, g->rd, n0, nvalid);
                if ((err = ocl_copy_rect(c, &r, pl->raw, input, 1, &call)) != CL_SUCCESS) {
                    snprintf(what, sizeof(what), "%s(input)", call);
                    return ocl_fail(err, what, msg, msg_size);
                }
            }
            tconv_status_t s = enqueue_tile(pl, c, pl->raw, pl->out, (cl_int)jd0, (cl_int)r0,
                                            (cl_int)nvalid, msg, msg_size);
            if (s != tconv_success)
                return s;
            int64_t od0 = ad->s * jd0;
            int64_t od1 = ad->s * (jd0 + g->jdt) < ad->out ? ad->s * (jd0 + g->jdt) : ad->out;
            ocl_rect_t r = ocl_tile_rect(p, g->elem, 1, od0, od1, g->odt, n0, nvalid);
            if ((err = ocl_copy_rect(c, &r, pl->out, output, 0, &call)) != CL_SUCCESS) {
                snprintf(what, sizeof(what), "%s(output)", call);
                return ocl_fail(err, what, msg, msg_size);
            }
        }
    }
    return tconv_success;
}

/* One tile on the caller's memory: the kernels read the input and write
 * the output in place; mapping the output makes it coherent for the host. */
static tconv_status_t run_in_place(ocl_plan_t *pl, ocl_chain_t *c, const void *input, void *output,
                                   char *msg, size_t msg_size) {
    cl_int err = CL_SUCCESS;
    tconv_status_t s = tconv_success;
    const size_t in_bytes = (size_t)(pl->in_sample_bytes * (uint64_t)pl->batch);
    const size_t out_bytes = (size_t)(pl->out_sample_bytes * (uint64_t)pl->batch);
    cl_mem in = clCreateBuffer(pl->context, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, in_bytes,
                               (void *)input, &err);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clCreateBuffer(input, CL_MEM_USE_HOST_PTR)", msg, msg_size);
    cl_mem out = clCreateBuffer(pl->context, CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR, out_bytes,
                                output, &err);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(in);
        return ocl_fail(err, "clCreateBuffer(output, CL_MEM_USE_HOST_PTR)", msg, msg_size);
    }
    s = enqueue_tile(pl, c, in, out, 0, 0, (cl_int)pl->batch, msg, msg_size);
    if (s == tconv_success) {
        void *mapped = clEnqueueMapBuffer(c->queue, out, CL_TRUE, CL_MAP_READ, 0, out_bytes, 0,
                                          NULL, NULL, &err);
        if (err != CL_SUCCESS)
            s = ocl_fail(err, "clEnqueueMapBuffer(output)", msg, msg_size);
        else if ((err = clEnqueueUnmapMemObject(c->queue, out, mapped, 0, NULL, NULL)) !=
                 CL_SUCCESS)
            s = ocl_fail(err, "clEnqueueUnmapMemObject(output)", msg, msg_size);
    }
    clFinish(c->queue);
    clReleaseMemObject(in);
    clReleaseMemObject(out);
    return s;
}

tconv_status_t ocl_plan_execute(tconv_backend_plan_t plan, const void *input, void *output,
                                char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    if (!input || !output) {
        ocl_msg(msg, msg_size, "%s is NULL", input ? "output" : "input");
        return tconv_invalid_arguments;
    }
    pthread_mutex_lock(&pl->lock);
    tconv_status_t s = tconv_success;
    if (!pl->weights_set) {
        ocl_msg(msg, msg_size, "plan_execute before plan_set_weights");
        s = tconv_invalid_arguments;
    } else {
        wait_enqueued(pl);
        ocl_chain_t c;
        ocl_chain_begin(&c, pl->queue, NULL, 0);
        s = pl->in_place ? run_in_place(pl, &c, input, output, msg, msg_size)
                         : run_tiles(pl, &c, (ocl_tensor_t){(void *)input, NULL},
                                     (ocl_tensor_t){output, NULL}, msg, msg_size);
        /* Always drain the queue: the host pointers must not be used after return. */
        cl_int err = clFinish(pl->queue);
        if (s == tconv_success && err != CL_SUCCESS)
            s = ocl_fail(err, "clFinish", msg, msg_size);
    }
    pthread_mutex_unlock(&pl->lock);
    return s;
}

/* What both backward slots need; called under the plan's lock. */
static tconv_status_t backward_ready(const ocl_plan_t *pl, char *msg, size_t msg_size) {
    if (!pl->backward) {
        ocl_msg(msg, msg_size, "the plan was created without a backward pass (canonical passes)");
        return tconv_invalid_arguments;
    }
    if (!pl->weights_set) {
        ocl_msg(msg, msg_size, "backward pass before plan_set_weights");
        return tconv_invalid_arguments;
    }
    return tconv_success;
}

tconv_status_t ocl_plan_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                      void *grad_input, char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    if (!grad_output || !grad_input) {
        ocl_msg(msg, msg_size, "%s is NULL", grad_output ? "grad_input" : "grad_output");
        return tconv_invalid_arguments;
    }
    pthread_mutex_lock(&pl->lock);
    tconv_status_t s = backward_ready(pl, msg, msg_size);
    if (s == tconv_success) {
        wait_enqueued(pl);
        s = ocl_backward_data(pl->backward, pl->batch, grad_output, grad_input, msg, msg_size);
    }
    pthread_mutex_unlock(&pl->lock);
    return s;
}

/* The argument rules of the weights pass (host and enqueue alike). */
static tconv_status_t check_weights_args(const ocl_plan_t *pl, const void *input,
                                         const void *grad_output, const void *grad_kernel,
                                         const void *grad_bias, char *msg, size_t msg_size) {
    const char *bad = NULL;
    if (!grad_output)
        bad = "grad_output is NULL";
    else if (!grad_kernel && !grad_bias)
        bad = "grad_kernel and grad_bias are both NULL: nothing to compute";
    else if (grad_kernel && !input)
        bad = "input is NULL: grad_kernel sums input * grad_output";
    else if (grad_bias && !pl->p.use_bias)
        bad = "grad_bias must be NULL when the problem has use_bias = 0";
    if (bad) {
        ocl_msg(msg, msg_size, "%s", bad);
        return tconv_invalid_arguments;
    }
    return tconv_success;
}

tconv_status_t ocl_plan_backward_weights(tconv_backend_plan_t plan, const void *input,
                                         const void *grad_output, void *grad_kernel,
                                         void *grad_bias, char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    tconv_status_t s =
        check_weights_args(pl, input, grad_output, grad_kernel, grad_bias, msg, msg_size);
    if (s != tconv_success)
        return s;
    pthread_mutex_lock(&pl->lock);
    s = backward_ready(pl, msg, msg_size);
    if (s == tconv_success) {
        wait_enqueued(pl);
        s = ocl_backward_weights(pl->backward, pl->batch, input, grad_output, grad_kernel,
                                 grad_bias, msg, msg_size);
    }
    pthread_mutex_unlock(&pl->lock);
    return s;
}

/* ---- ABI 1.2: run-time batch, buffers, enqueue, wait --------------------- */

/* Opens the chain of one enqueue call on the plan's stream (taking its
 * order, so the calls of several threads do not interleave). */
static void chain_open(ocl_plan_t *pl, ocl_chain_t *c, const tconv_native_sync_t *sync) {
    ocl_stream_order(pl->stream, 1);
    ocl_chain_begin(c, pl->stream->queue, sync, 1);
}

/* Closes it: the events to the stream (named @p what), the last one to the
 * caller (sync) and to pl->last; returns @p status or the closing failure. */
static tconv_status_t chain_close(ocl_plan_t *pl, ocl_chain_t *c, const char *what,
                                  const tconv_native_sync_t *sync, tconv_status_t status, char *msg,
                                  size_t msg_size) {
    status = ocl_chain_end(c, pl->stream, what, sync, &pl->last, status, msg, msg_size);
    ocl_stream_order(pl->stream, 0);
    return status;
}

tconv_status_t ocl_plan_set_batch(tconv_backend_plan_t plan, int64_t batch, char *msg,
                                  size_t msg_size) {
    ocl_plan_t *pl = plan;
    if (batch < 1 || batch > pl->p.batch) {
        ocl_msg(msg, msg_size, "batch %lld: must be 1 to the problem's batch %lld",
                (long long)batch, (long long)pl->p.batch);
        return tconv_invalid_arguments;
    }
    pthread_mutex_lock(&pl->lock);
    pl->batch = batch;
    pthread_mutex_unlock(&pl->lock);
    return tconv_success;
}

tconv_status_t ocl_plan_set_weights_buffers(tconv_backend_plan_t plan, const void *kernel,
                                            const void *bias, char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    cl_mem kmem = NULL, bmem = NULL;
    tconv_status_t s =
        ocl_buffer_check(kernel, "kernel", pl->context, pl->kernel_bytes, &kmem, msg, msg_size);
    if (s == tconv_success && pl->p.use_bias)
        s = ocl_buffer_check(bias, "bias", pl->context, (uint64_t)pl->p.out_channels * pl->geo.elem,
                             &bmem, msg, msg_size);
    if (s == tconv_success && !pl->p.use_bias && bias) {
        ocl_msg(msg, msg_size, "bias must be NULL when the problem has use_bias = 0");
        s = tconv_invalid_arguments;
    }
    if (s != tconv_success)
        return s;
    pthread_mutex_lock(&pl->lock);
    ocl_chain_t c;
    chain_open(pl, &c, NULL);
    s = enqueue_pack(pl, &c, kmem, bmem, 0, msg, msg_size);
    if (s == tconv_success && pl->backward)
        s = ocl_backward_pack_weights(pl->backward, &c, kmem, msg, msg_size);
    s = chain_close(pl, &c, "weight upload (plan_set_weights_buffers)", NULL, s, msg, msg_size);
    pl->weights_set = s == tconv_success;
    pthread_mutex_unlock(&pl->lock);
    return s;
}

tconv_status_t ocl_plan_enqueue(tconv_backend_plan_t plan, const void *input, void *output,
                                const tconv_native_sync_t *sync, char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    pthread_mutex_lock(&pl->lock);
    cl_mem in = NULL, out = NULL;
    const uint64_t n = (uint64_t)pl->batch;
    tconv_status_t s =
        ocl_buffer_check(input, "input", pl->context, pl->in_sample_bytes * n, &in, msg, msg_size);
    if (s == tconv_success)
        s = ocl_buffer_check(output, "output", pl->context, pl->out_sample_bytes * n, &out, msg,
                             msg_size);
    if (s == tconv_success && in == out) {
        ocl_msg(msg, msg_size, "output is the input buffer: they must be distinct");
        s = tconv_invalid_arguments;
    }
    if (s == tconv_success && !pl->weights_set) {
        ocl_msg(msg, msg_size, "plan_enqueue before the weights were set");
        s = tconv_invalid_arguments;
    }
    if (s != tconv_success) {
        pthread_mutex_unlock(&pl->lock);
        return s;
    }
    ocl_chain_t c;
    chain_open(pl, &c, sync);
    /* One tile laid out as the caller's tensors: the kernels read and write
     * the buffers themselves; else tiles through the plan's buffers. */
    s = pl->geo.exact
            ? enqueue_tile(pl, &c, in, out, 0, 0, (cl_int)pl->batch, msg, msg_size)
            : run_tiles(pl, &c, (ocl_tensor_t){NULL, in}, (ocl_tensor_t){NULL, out}, msg, msg_size);
    s = chain_close(pl, &c, "forward pass (plan_enqueue)", sync, s, msg, msg_size);
    pthread_mutex_unlock(&pl->lock);
    return s;
}

tconv_status_t ocl_plan_enqueue_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                              void *grad_input, const tconv_native_sync_t *sync,
                                              char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    pthread_mutex_lock(&pl->lock);
    cl_mem dz = NULL, dx = NULL;
    const uint64_t n = (uint64_t)pl->batch;
    tconv_status_t s = backward_ready(pl, msg, msg_size);
    if (s == tconv_success)
        s = ocl_buffer_check(grad_output, "grad_output", pl->context, pl->out_sample_bytes * n, &dz,
                             msg, msg_size);
    if (s == tconv_success)
        s = ocl_buffer_check(grad_input, "grad_input", pl->context, pl->in_sample_bytes * n, &dx,
                             msg, msg_size);
    if (s != tconv_success) {
        pthread_mutex_unlock(&pl->lock);
        return s;
    }
    ocl_chain_t c;
    chain_open(pl, &c, sync);
    s = ocl_backward_enqueue_data(pl->backward, &c, pl->batch, dz, dx, msg, msg_size);
    s = chain_close(pl, &c, "backward data pass (plan_enqueue_backward_data)", sync, s, msg,
                    msg_size);
    pthread_mutex_unlock(&pl->lock);
    return s;
}

tconv_status_t ocl_plan_enqueue_backward_weights(tconv_backend_plan_t plan, const void *input,
                                                 const void *grad_output, void *grad_kernel,
                                                 void *grad_bias, const tconv_native_sync_t *sync,
                                                 char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    tconv_status_t s =
        check_weights_args(pl, input, grad_output, grad_kernel, grad_bias, msg, msg_size);
    if (s != tconv_success)
        return s;
    pthread_mutex_lock(&pl->lock);
    cl_mem x = NULL, dz = NULL, dw = NULL, db = NULL;
    const uint64_t n = (uint64_t)pl->batch;
    s = backward_ready(pl, msg, msg_size);
    if (s == tconv_success)
        s = ocl_buffer_check(grad_output, "grad_output", pl->context, pl->out_sample_bytes * n, &dz,
                             msg, msg_size);
    if (s == tconv_success && grad_kernel)
        s = ocl_buffer_check(input, "input", pl->context, pl->in_sample_bytes * n, &x, msg,
                             msg_size);
    if (s == tconv_success && grad_kernel)
        s = ocl_buffer_check(grad_kernel, "grad_kernel", pl->context, pl->kernel_bytes, &dw, msg,
                             msg_size);
    if (s == tconv_success && grad_bias)
        s = ocl_buffer_check(grad_bias, "grad_bias", pl->context,
                             (uint64_t)pl->p.out_channels * pl->geo.elem, &db, msg, msg_size);
    if (s != tconv_success) {
        pthread_mutex_unlock(&pl->lock);
        return s;
    }
    ocl_chain_t c;
    chain_open(pl, &c, sync);
    s = ocl_backward_enqueue_weights(pl->backward, &c, pl->batch, x, dz, dw, db, msg, msg_size);
    s = chain_close(pl, &c, "backward weights pass (plan_enqueue_backward_weights)", sync, s, msg,
                    msg_size);
    pthread_mutex_unlock(&pl->lock);
    return s;
}

tconv_status_t ocl_plan_wait(tconv_backend_plan_t plan, char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
    return ocl_stream_wait(pl->stream, msg, msg_size);
}

void ocl_plan_destroy(tconv_backend_plan_t plan) {
    ocl_plan_t *pl = plan;
    if (!pl)
        return;
    wait_enqueued(pl); /* its commands use the plan's buffers and kernels */
    if (pl->queue)
        clFinish(pl->queue);
    ocl_backward_destroy(pl->backward);
    cl_mem bufs[] = {pl->raw, pl->xpad, pl->weights, pl->bias, pl->out};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    cl_kernel kernels[] = {pl->pad, pl->gather, pl->pack_weights, pl->pack_bias};
    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
        if (kernels[i])
            clReleaseKernel(kernels[i]);
    if (pl->program)
        clReleaseProgram(pl->program);
    if (pl->queue)
        clReleaseCommandQueue(pl->queue);
    ocl_stream_destroy(pl->own_stream);
    if (pl->context)
        clReleaseContext(pl->context);
    free(pl->binary_copy);
    free(pl->binary_save_copy);
    pthread_mutex_destroy(&pl->lock);
    free(pl);
}
