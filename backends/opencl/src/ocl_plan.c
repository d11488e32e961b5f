/* SPDX-License-Identifier: Apache-2.0 */
/* Plan lifecycle: geometry, build options, program, buffers, weight upload,
 * and the tiled execution (upload raw input tile, pad it, gather, read the
 * output tile back), all on one in-order queue per plan. */
#include "ocl_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_backward.h"
#include "ocl_errors.h"
#include "ocl_geometry.h"
#include "ocl_pack.h"
#include "ocl_program.h"

typedef struct ocl_plan {
    ocl_state_t *st;
    ocl_device_t *dev;
    tconv_canonical_t p;
    ocl_geometry_t geo;
    cl_command_queue queue;
    cl_program program;
    cl_kernel pad;
    cl_kernel gather;
    cl_mem raw, xpad, weights, bias, out;
    size_t pad_global[3], pad_local[3];
    size_t main_global[3], main_local[3];
    int weights_set;
    int in_place; /**< Kernels use the caller's input/output memory (CL_MEM_USE_HOST_PTR). */
    ocl_backward_t *backward; /**< Only when the passes ask for a backward pass. */
    pthread_mutex_t lock;     /**< One execute at a time (shared buffers and kernel args). */
} ocl_plan_t;

/* Device memory the forward pass's buffers take. */
static uint64_t forward_bytes(const ocl_geometry_t *g) {
    return g->raw_bytes + g->pad_bytes + g->out_bytes + g->weight_bytes + g->bias_bytes;
}

tconv_status_t ocl_plan_check(const ocl_device_t *dev, const tconv_canonical_t *p, char *msg,
                              size_t msg_size) {
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
        s = ocl_backward_check(dev, p, forward_bytes(&geo), msg, msg_size);
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
    OPT(&o, "NB", g->nb);
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
    *out = clCreateBuffer(pl->dev->context, flags, (size_t)(bytes ? bytes : 1), NULL, &err);
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

/* Sets the arguments and enqueues both kernels for one tile. */
static tconv_status_t enqueue_tile(ocl_plan_t *pl, cl_mem raw, cl_mem out, cl_int jd0, cl_int r0,
                                   cl_int nvalid, char *msg, size_t msg_size) {
    cl_int err = CL_SUCCESS;
    err |= clSetKernelArg(pl->pad, 0, sizeof(cl_mem), &raw);
    err |= clSetKernelArg(pl->pad, 1, sizeof(cl_mem), &pl->xpad);
    err |= clSetKernelArg(pl->pad, 2, sizeof(cl_int), &jd0);
    err |= clSetKernelArg(pl->pad, 3, sizeof(cl_int), &r0);
    err |= clSetKernelArg(pl->pad, 4, sizeof(cl_int), &nvalid);
    if (err != CL_SUCCESS)
        return ocl_fail(CL_INVALID_KERNEL_ARGS, "clSetKernelArg(tconv_pad_input)", msg, msg_size);
    err |= clSetKernelArg(pl->gather, 0, sizeof(cl_mem), &pl->xpad);
    err |= clSetKernelArg(pl->gather, 1, sizeof(cl_mem), &pl->weights);
    err |= clSetKernelArg(pl->gather, 2, sizeof(cl_mem), &pl->bias);
    err |= clSetKernelArg(pl->gather, 3, sizeof(cl_mem), &out);
    err |= clSetKernelArg(pl->gather, 4, sizeof(cl_int), &jd0);
    err |= clSetKernelArg(pl->gather, 5, sizeof(cl_int), &nvalid);
    if (err != CL_SUCCESS)
        return ocl_fail(CL_INVALID_KERNEL_ARGS, "clSetKernelArg(tconv_gather)", msg, msg_size);
    err = clEnqueueNDRangeKernel(pl->queue, pl->pad, 3, NULL, pl->pad_global, pl->pad_local, 0,
                                 NULL, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clEnqueueNDRangeKernel(tconv_pad_input)", msg, msg_size);
    err = clEnqueueNDRangeKernel(pl->queue, pl->gather, 3, NULL, pl->main_global, pl->main_local, 0,
                                 NULL, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clEnqueueNDRangeKernel(tconv_gather)", msg, msg_size);
    return tconv_success;
}

static tconv_status_t plan_setup(ocl_plan_t *pl, char *msg, size_t msg_size) {
    const tconv_canonical_t *p = &pl->p;
    ocl_geometry_t *g = &pl->geo;
    ocl_device_t *dev = pl->dev;
    tconv_status_t s =
        ocl_geometry_init(p, ocl_device_max_alloc(dev), dev->global_mem, g, msg, msg_size);
    if (s != tconv_success)
        return s;
    s = ocl_device_open(pl->st, dev, msg, msg_size);
    if (s != tconv_success)
        return s;
    cl_int err = CL_SUCCESS;
    pl->queue = clCreateCommandQueue(dev->context, dev->id, 0, &err);
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
    s = ocl_program_get(pl->st, dev, ocl_sources_forward, options, &pl->program, &fresh, msg,
                        msg_size);
    if (s == tconv_success)
        s = create_kernel(pl, "tconv_pad_input", &pl->pad, msg, msg_size);
    if (s == tconv_success)
        s = create_kernel(pl, "tconv_gather", &pl->gather, msg, msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_ONLY, g->raw_bytes, &pl->raw, "raw input", msg, msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_WRITE, g->pad_bytes, &pl->xpad, "padded input", msg,
                          msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_ONLY, g->weight_bytes, &pl->weights, "weights", msg,
                          msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_READ_ONLY, g->bias_bytes, &pl->bias, "bias", msg, msg_size);
    if (s == tconv_success)
        s = create_buffer(pl, CL_MEM_WRITE_ONLY, g->out_bytes, &pl->out, "output", msg, msg_size);
    if (s != tconv_success)
        return s;

    pl->pad_global[0] = (size_t)g->xw;
    pl->pad_global[1] = (size_t)g->xh;
    pl->pad_global[2] = (size_t)(g->nb * g->xd);
    size_t phases = (size_t)(g->ax[0].s * g->ax[1].s * g->ax[2].s);
    size_t blocks = (size_t)(p->groups * g->nocb);
    pl->main_global[0] = (size_t)(g->jht * g->wt) * (g->phase_fast ? phases : 1);
    pl->main_global[1] = (size_t)(g->nb * g->jdt);
    pl->main_global[2] = blocks * (g->phase_fast ? 1 : phases);
    ocl_choose_local(pl->pad_global, kernel_wg_size(pl, pl->pad), 64, pl->pad_local);
    const char *lt = getenv("TCONV_OPENCL_LOCAL");
    ocl_choose_local(pl->main_global, kernel_wg_size(pl, pl->gather), lt ? (size_t)atoi(lt) : 4,
                     pl->main_local);

    /* Warm-up with no valid sample: drivers such as PoCL compile the
     * work-group function at the first enqueue; do it now, not at execute. */
    s = enqueue_tile(pl, pl->in_place ? pl->xpad : pl->raw, pl->in_place ? pl->xpad : pl->out, 0, 0,
                     0, msg, msg_size);
    if (s == tconv_success && (err = clFinish(pl->queue)) != CL_SUCCESS)
        s = ocl_fail(err, "clFinish", msg, msg_size);
    if (s == tconv_success)
        s = ocl_program_persist(pl->st, dev, ocl_sources_forward, options, pl->program, fresh, msg,
                                msg_size);
    if (s == tconv_success && ocl_backward_wanted(p))
        s = ocl_backward_create(pl->st, dev, pl->queue, p, forward_bytes(g), &pl->backward, msg,
                                msg_size);
    return s;
}

tconv_status_t ocl_plan_create(tconv_backend_state_t state, size_t device,
                               const tconv_canonical_t *p, tconv_backend_plan_t *plan, char *msg,
                               size_t msg_size) {
    ocl_state_t *st = state;
    *plan = NULL;
    if (device >= st->device_count) {
        ocl_msg(msg, msg_size, "device index %zu: the backend has %zu device(s)", device,
                st->device_count);
        return tconv_invalid_arguments;
    }
    ocl_device_t *dev = &st->devices[device];
    tconv_status_t s = ocl_plan_check(dev, p, msg, msg_size);
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
    pthread_mutex_init(&pl->lock, NULL);
    s = plan_setup(pl, msg, msg_size);
    if (s != tconv_success) {
        ocl_plan_destroy(pl);
        return s;
    }
    *plan = pl;
    return tconv_success;
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

static tconv_status_t run_tiles(ocl_plan_t *pl, const void *input, void *output, char *msg,
                                size_t msg_size) {
    const tconv_canonical_t *p = &pl->p;
    const ocl_geometry_t *g = &pl->geo;
    const ocl_axis_t *ad = &g->ax[0];
    for (int64_t n0 = 0; n0 < p->batch; n0 += g->nb) {
        int64_t nvalid = p->batch - n0 < g->nb ? p->batch - n0 : g->nb;
        for (int64_t jd0 = 0; jd0 < ad->jmax; jd0 += g->jdt) {
            /* Raw input depth range this tile's padded buffer needs. */
            int64_t lo = jd0 + ad->min_off;
            int64_t r0 = lo > 0 ? lo : 0;
            int64_t r1 = lo + g->xd < ad->in ? lo + g->xd : ad->in;
            cl_int err;
            if (r1 > r0) {
                ocl_rect_t r = ocl_tile_rect(p, g->elem, 0, r0, r1, g->rd, n0, nvalid);
                err = clEnqueueWriteBufferRect(pl->queue, pl->raw, CL_FALSE, r.buf_origin,
                                               r.host_origin, r.region, r.buf_row, r.buf_slice,
                                               r.host_row, r.host_slice, input, 0, NULL, NULL);
                if (err != CL_SUCCESS)
                    return ocl_fail(err, "clEnqueueWriteBufferRect(input)", msg, msg_size);
            }
            tconv_status_t s = enqueue_tile(pl, pl->raw, pl->out, (cl_int)jd0, (cl_int)r0,
                                            (cl_int)nvalid, msg, msg_size);
            if (s != tconv_success)
                return s;
            int64_t od0 = ad->s * jd0;
            int64_t od1 = ad->s * (jd0 + g->jdt) < ad->out ? ad->s * (jd0 + g->jdt) : ad->out;
            ocl_rect_t r = ocl_tile_rect(p, g->elem, 1, od0, od1, g->odt, n0, nvalid);
            err = clEnqueueReadBufferRect(pl->queue, pl->out, CL_FALSE, r.buf_origin, r.host_origin,
                                          r.region, r.buf_row, r.buf_slice, r.host_row,
                                          r.host_slice, output, 0, NULL, NULL);
            if (err != CL_SUCCESS)
                return ocl_fail(err, "clEnqueueReadBufferRect(output)", msg, msg_size);
        }
    }
    return tconv_success;
}

/* One tile on the caller's memory: the kernels read the input and write
 * the output in place; mapping the output makes it coherent for the host. */
static tconv_status_t run_in_place(ocl_plan_t *pl, const void *input, void *output, char *msg,
                                   size_t msg_size) {
    const ocl_geometry_t *g = &pl->geo;
    cl_int err = CL_SUCCESS;
    tconv_status_t s = tconv_success;
    cl_mem in = clCreateBuffer(pl->dev->context, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR,
                               (size_t)g->raw_bytes, (void *)input, &err);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clCreateBuffer(input, CL_MEM_USE_HOST_PTR)", msg, msg_size);
    cl_mem out = clCreateBuffer(pl->dev->context, CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR,
                                (size_t)g->out_bytes, output, &err);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(in);
        return ocl_fail(err, "clCreateBuffer(output, CL_MEM_USE_HOST_PTR)", msg, msg_size);
    }
    s = enqueue_tile(pl, in, out, 0, 0, (cl_int)pl->p.batch, msg, msg_size);
    if (s == tconv_success) {
        void *mapped = clEnqueueMapBuffer(pl->queue, out, CL_TRUE, CL_MAP_READ, 0,
                                          (size_t)g->out_bytes, 0, NULL, NULL, &err);
        if (err != CL_SUCCESS)
            s = ocl_fail(err, "clEnqueueMapBuffer(output)", msg, msg_size);
        else if ((err = clEnqueueUnmapMemObject(pl->queue, out, mapped, 0, NULL, NULL)) !=
                 CL_SUCCESS)
            s = ocl_fail(err, "clEnqueueUnmapMemObject(output)", msg, msg_size);
    }
    clFinish(pl->queue);
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
        s = pl->in_place ? run_in_place(pl, input, output, msg, msg_size)
                         : run_tiles(pl, input, output, msg, msg_size);
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
    if (s == tconv_success)
        s = ocl_backward_data(pl->backward, grad_output, grad_input, msg, msg_size);
    pthread_mutex_unlock(&pl->lock);
    return s;
}

tconv_status_t ocl_plan_backward_weights(tconv_backend_plan_t plan, const void *input,
                                         const void *grad_output, void *grad_kernel,
                                         void *grad_bias, char *msg, size_t msg_size) {
    ocl_plan_t *pl = plan;
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
    pthread_mutex_lock(&pl->lock);
    tconv_status_t s = backward_ready(pl, msg, msg_size);
    if (s == tconv_success)
        s = ocl_backward_weights(pl->backward, input, grad_output, grad_kernel, grad_bias, msg,
                                 msg_size);
    pthread_mutex_unlock(&pl->lock);
    return s;
}

void ocl_plan_destroy(tconv_backend_plan_t plan) {
    ocl_plan_t *pl = plan;
    if (!pl)
        return;
    if (pl->queue)
        clFinish(pl->queue);
    ocl_backward_destroy(pl->backward);
    cl_mem bufs[] = {pl->raw, pl->xpad, pl->weights, pl->bias, pl->out};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    if (pl->pad)
        clReleaseKernel(pl->pad);
    if (pl->gather)
        clReleaseKernel(pl->gather);
    if (pl->program)
        clReleaseProgram(pl->program);
    if (pl->queue)
        clReleaseCommandQueue(pl->queue);
    pthread_mutex_destroy(&pl->lock);
    free(pl);
}
