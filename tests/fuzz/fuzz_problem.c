/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the problem descriptor: every field of a
 * tconv_problem_t comes from the input (small values mostly, any int64 or
 * enum value at times), then tconv_problem_resolve, tconv_problem_get_shapes
 * and tconv_problem_get_flops run on it. When the library accepts the
 * problem and it is small, a plan is made on cpu:0 and run (forward, and
 * the backward passes the problem asks for). Beyond ASan and UBSan, it
 * checks:
 *   - a refusal is tconv_invalid_arguments (or tconv_unimplemented) with a
 *     message; the three functions agree on accepting a problem;
 *   - an accepted problem resolves as the independent reference
 *     (tests/reference: tconv_reference_resolve) does: output lengths and
 *     begin crops;
 *   - the plan is made (or declined with a reason), and its forward output
 *     matches the float64 reference for the linear and relu activations.
 * A broken promise aborts. Run by scripts/test-sanitizers.sh; seeds in
 * tests/fuzz/corpus/problem (tests/fuzz/make_corpus.py writes them).
 *
 * Input format: a sequence of fields in tconv_problem_t order (see
 * read_problem). Each field is one byte b: b < 0xf8 selects a value in the
 * field's usual range (lo + b mod (hi - lo + 1)); b >= 0xf8 takes the next 8
 * bytes as a raw little-endian int64 (doubles: the raw bits). Fields past
 * the end of the input keep tconv_problem_init's defaults. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tconv/tconv.h"
#include "tconv_reference.h"

/* Plans are made only for problems this small (elements per tensor, flops). */
#define MAX_ELEMENTS 4096
#define MAX_FLOPS    2e6

static tconv_context_t ctx;

static void broken(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_problem: %s: %s\n", what, detail);
    abort();
}

typedef struct reader {
    const uint8_t *p, *end;
} reader_t;

static int64_t read_raw(reader_t *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8 && r->p < r->end; i++)
        v |= (uint64_t)*r->p++ << (8 * i);
    return (int64_t)v;
}

/* One field: a value in [lo, hi] mostly, any int64 when the byte says so;
 * @p keep when the input has ended. */
static int64_t read_int(reader_t *r, int64_t lo, int64_t hi, int64_t keep) {
    if (r->p >= r->end)
        return keep;
    uint8_t b = *r->p++;
    if (b >= 0xf8)
        return read_raw(r);
    return lo + (int64_t)(b % (uint64_t)(hi - lo + 1));
}

static double read_alpha(reader_t *r, double keep) {
    static const double table[] = {NAN, 0.0,   0.2,  0.5,      1.0,      -1.0,
                                   4.0, 1e-30, 1e30, INFINITY, -INFINITY};
    if (r->p >= r->end)
        return keep;
    uint8_t b = *r->p++;
    if (b >= 0xf8) {
        int64_t bits = read_raw(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    return table[b % (sizeof table / sizeof table[0])];
}

static void read_axes(reader_t *r, int64_t *axes, int64_t lo, int64_t hi) {
    for (int i = 0; i < TCONV_MAX_SPATIAL; i++)
        axes[i] = read_int(r, lo, hi, axes[i]);
}

static void read_problem(reader_t *r, tconv_problem_t *p) {
    int rank = (int)read_int(r, 0, 4, 3);
    tconv_problem_init(p, rank >= 1 && rank <= 3 ? rank : 3);
    p->spatial_rank = rank;
    p->dtype = (tconv_dtype_t)read_int(r, 0, 3, p->dtype);
    p->batch = read_int(r, 0, 3, 1);
    p->in_channels = read_int(r, 0, 6, 2);
    p->out_channels = read_int(r, 0, 6, 2);
    p->groups = read_int(r, 0, 3, p->groups);
    for (int i = 0; i < TCONV_MAX_SPATIAL; i++)
        p->input_size[i] = 3;
    read_axes(r, p->input_size, 0, 6);
    read_axes(r, p->kernel_size, 0, 5);
    read_axes(r, p->strides, 0, 4);
    read_axes(r, p->dilation, 0, 3);
    p->padding = (tconv_padding_t)read_int(r, 0, 5, p->padding);
    read_axes(r, p->pads_begin, -1, 4);
    read_axes(r, p->pads_end, -1, 4);
    p->has_output_padding = (int)read_int(r, 0, 1, p->has_output_padding);
    read_axes(r, p->output_padding, -1, 3);
    read_axes(r, p->output_shape, 0, 14);
    p->data_format = (tconv_data_format_t)read_int(r, 0, 2, p->data_format);
    p->kernel_layout = (tconv_kernel_layout_t)read_int(r, 0, 2, p->kernel_layout);
    p->use_bias = (int)read_int(r, 0, 1, p->use_bias);
    p->activation = (tconv_activation_t)read_int(r, 0, 26, p->activation);
    p->activation_alpha = read_alpha(r, p->activation_alpha);
    p->passes = (uint32_t)read_int(r, 0, 8, p->passes);
}

static void describe(const tconv_problem_t *p, char *out, size_t size) {
    snprintf(out, size,
             "rank %d dtype %d N %lld Cin %lld Cout %lld G %lld in %lld,%lld,%lld k %lld,%lld,%lld "
             "s %lld,%lld,%lld d %lld,%lld,%lld padding %d act %d passes %u",
             p->spatial_rank, (int)p->dtype, (long long)p->batch, (long long)p->in_channels,
             (long long)p->out_channels, (long long)p->groups, (long long)p->input_size[0],
             (long long)p->input_size[1], (long long)p->input_size[2], (long long)p->kernel_size[0],
             (long long)p->kernel_size[1], (long long)p->kernel_size[2], (long long)p->strides[0],
             (long long)p->strides[1], (long long)p->strides[2], (long long)p->dilation[0],
             (long long)p->dilation[1], (long long)p->dilation[2], (int)p->padding,
             (int)p->activation, p->passes);
}

/* Every integer field within +-2^31. */
static int moderate(const tconv_problem_t *p) {
    const int64_t limit = INT64_C(1) << 31;
    int64_t scalars[] = {p->batch, p->in_channels, p->out_channels, p->groups};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (scalars[i] > limit || scalars[i] < -limit)
            return 0;
    const int64_t *axes[] = {p->input_size, p->kernel_size, p->strides,        p->dilation,
                             p->pads_begin, p->pads_end,    p->output_padding, p->output_shape};
    for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++)
        for (int a = 0; a < TCONV_MAX_SPATIAL; a++)
            if (axes[i][a] > limit || axes[i][a] < -limit)
                return 0;
    return 1;
}

/* Each tensor of @p c has between 1 and MAX_ELEMENTS elements (products
 * checked for overflow: the canonical form may describe a huge problem). */
static int small(const tconv_canonical_t *c) {
    const int64_t in[] = {c->batch, c->in_channels, c->input_size[0], c->input_size[1],
                          c->input_size[2]};
    const int64_t out[] = {c->batch, c->out_channels, c->output_size[0], c->output_size[1],
                           c->output_size[2]};
    const int64_t kernel[] = {c->in_channels, c->groups > 0 ? c->out_channels / c->groups : 0,
                              c->kernel_size[0], c->kernel_size[1], c->kernel_size[2]};
    const int64_t *tensors[] = {in, out, kernel};
    for (int t = 0; t < 3; t++) {
        int64_t count = 1;
        for (int i = 0; i < 5; i++)
            if (tensors[t][i] < 1 || __builtin_mul_overflow(count, tensors[t][i], &count) ||
                count > MAX_ELEMENTS)
                return 0;
    }
    return 1;
}

/* A refusal is invalid_arguments or unimplemented, with a message. */
static void check_refusal(tconv_status_t st, const char *call, const char *desc) {
    if (st == tconv_invalid_arguments || st == tconv_unimplemented) {
        const char *msg = tconv_get_last_error();
        if (msg == NULL || msg[0] == '\0')
            broken(call, "refused without a message");
        return;
    }
    char why[1200];
    snprintf(why, sizeof why, "%s -> %s (%s) for %s", call, tconv_status_name(st),
             tconv_get_last_error(), desc);
    broken("unexpected status", why);
}

/* Deterministic values in [-1, 1] into a tensor of @p count elements. */
static void fill(void *dev, double *ref, int64_t count, tconv_dtype_t dtype, uint32_t seed) {
    for (int64_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        double v = (double)(seed >> 8) / (double)(1u << 24) * 2.0 - 1.0;
        if (dtype == tconv_f64) {
            ((double *)dev)[i] = v;
            ref[i] = v;
        } else {
            ((float *)dev)[i] = (float)v;
            ref[i] = (float)v;
        }
    }
}

static void *alloc_tensor(int64_t count, size_t item) {
    return calloc((size_t)(count > 0 ? count : 1), item);
}

/* Plans @p p on cpu:0, runs it and compares with the reference. */
static void run_plan(const tconv_problem_t *p, const tconv_canonical_t *c, const char *desc) {
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, p, "cpu:0");
    if (st != tconv_success) {
        /* cpu:0 may decline (no_device names the reason) or run out of
         * memory for a degenerate shape; nothing else is acceptable. */
        if (st != tconv_no_device && st != tconv_out_of_memory)
            check_refusal(st, "tconv_plan_create", desc);
        return;
    }
    const size_t item = c->dtype == tconv_f64 ? 8 : 4;
    const int64_t n_in = tconv_reference_input_count(c), n_k = tconv_reference_kernel_count(c),
                  n_out = tconv_reference_output_count(c);
    void *in = alloc_tensor(n_in, item), *kernel = alloc_tensor(n_k, item),
         *bias = alloc_tensor(c->out_channels, item), *out = alloc_tensor(n_out, item);
    double *r_in = calloc((size_t)n_in + 1, 8), *r_k = calloc((size_t)n_k + 1, 8),
           *r_bias = calloc((size_t)c->out_channels + 1, 8), *r_out = calloc((size_t)n_out + 1, 8),
           *r_abs = calloc((size_t)n_out + 1, 8);
    if (!in || !kernel || !bias || !out || !r_in || !r_k || !r_bias || !r_out || !r_abs)
        broken("out of memory in the harness", desc);
    fill(in, r_in, n_in, c->dtype, 1);
    fill(kernel, r_k, n_k, c->dtype, 2);
    fill(bias, r_bias, c->out_channels, c->dtype, 3);
    st = tconv_plan_set_weights(plan, kernel, c->use_bias ? bias : NULL);
    if (st == tconv_success)
        st = tconv_plan_execute(plan, in, out);
    if (st != tconv_success) {
        char why[1200];
        snprintf(why, sizeof why, "%s (%s) for %s", tconv_status_name(st), tconv_get_last_error(),
                 desc);
        broken("a plan cpu:0 made failed to run", why);
    }
    if (c->activation == tconv_activation_linear || c->activation == tconv_activation_relu) {
        tconv_reference_forward(c, r_in, r_k, r_bias, r_out);
        tconv_reference_forward_abs(c, r_in, r_k, r_bias, r_abs);
        const double tolerance = c->dtype == tconv_f64 ? 1e-12 : 1e-5;
        for (int64_t i = 0; i < n_out; i++) {
            double got = c->dtype == tconv_f64 ? ((double *)out)[i] : ((float *)out)[i];
            if (!(fabs(got - r_out[i]) <= tolerance * (r_abs[i] + 1e-30))) {
                char why[1400];
                snprintf(why, sizeof why, "output %lld: %g, reference %g, for %s", (long long)i,
                         got, r_out[i], desc);
                broken("cpu:0 disagrees with the reference", why);
            }
        }
    }
    if (c->passes & (TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS)) {
        void *grad_in = alloc_tensor(n_in, item), *grad_k = alloc_tensor(n_k, item),
             *grad_bias = alloc_tensor(c->out_channels, item);
        if (!grad_in || !grad_k || !grad_bias)
            broken("out of memory in the harness", desc);
        const int data = (c->passes & TCONV_PASS_BACKWARD_DATA) != 0;
        const int weights = (c->passes & TCONV_PASS_BACKWARD_WEIGHTS) != 0;
        st = tconv_plan_execute_backward(plan, in, out, data ? grad_in : NULL,
                                         weights ? grad_k : NULL,
                                         weights && c->use_bias ? grad_bias : NULL);
        if (st != tconv_success) {
            char why[1200];
            snprintf(why, sizeof why, "%s (%s) for %s", tconv_status_name(st),
                     tconv_get_last_error(), desc);
            broken("a training plan failed its backward pass", why);
        }
        free(grad_in);
        free(grad_k);
        free(grad_bias);
    }
    tconv_plan_destroy(plan);
    free(in);
    free(kernel);
    free(bias);
    free(out);
    free(r_in);
    free(r_k);
    free(r_bias);
    free(r_out);
    free(r_abs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* No cache files, one backend thread (small problems; deterministic). */
    setenv("TCONV_CACHE_DIR", "off", 1);
    setenv("TCONV_NUM_THREADS", "1", 1);
    if (tconv_context_create(&ctx, NULL) != tconv_success)
        broken("tconv_context_create", tconv_get_last_error());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader_t r = {data, data + size};
    tconv_problem_t p;
    read_problem(&r, &p);
    char desc[512];
    describe(&p, desc, sizeof desc);

    tconv_canonical_t c;
    memset(&c, 0, sizeof c);
    tconv_status_t resolved = tconv_problem_resolve(&p, &c);
    int64_t in_dims[TCONV_MAX_DIMS], k_dims[TCONV_MAX_DIMS], out_dims[TCONV_MAX_DIMS];
    int ndims = 0;
    tconv_status_t shaped = tconv_problem_get_shapes(&p, in_dims, k_dims, out_dims, &ndims);
    double flops = 0;
    tconv_status_t counted = tconv_problem_get_flops(&p, &flops);
    if ((resolved == tconv_success) != (shaped == tconv_success) ||
        (resolved == tconv_success) != (counted == tconv_success)) {
        char why[700];
        snprintf(why, sizeof why, "resolve %d, get_shapes %d, get_flops %d for %s", (int)resolved,
                 (int)shaped, (int)counted, desc);
        broken("the problem functions disagree on accepting it", why);
    }
    if (resolved != tconv_success) {
        check_refusal(resolved, "tconv_problem_resolve", desc);
        return 0;
    }

    /* Beyond moderate values the reference (plain int64 arithmetic, meant
     * for small problems) could overflow where the library checks. */
    if (!moderate(&p))
        return 0;
    /* The library and the reference resolve the same lengths and crops. */
    tconv_canonical_t want;
    char why[256];
    if (tconv_reference_resolve(&p, &want, why, sizeof why) != 0)
        broken("the reference refuses a problem the library resolved", desc);
    for (int a = 0; a < 3; a++)
        if (want.output_size[a] != c.output_size[a] || want.crop_begin[a] != c.crop_begin[a]) {
            char text[800];
            snprintf(text, sizeof text,
                     "axis %d: output %lld crop %lld, reference output %lld crop %lld, for %s", a,
                     (long long)c.output_size[a], (long long)c.crop_begin[a],
                     (long long)want.output_size[a], (long long)want.crop_begin[a], desc);
            broken("the library and the reference resolve differently", text);
        }

    if (!small(&c) || !(flops <= MAX_FLOPS))
        return 0;
    run_plan(&p, &c, desc);
    return 0;
}
