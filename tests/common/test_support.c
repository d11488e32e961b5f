/* SPDX-License-Identifier: Apache-2.0 */
/* Shared test helpers; see test_support.h. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reference/tconv_reference.h"

typedef long long ll;

void tc_rng_seed(tc_rng_t *rng, uint64_t seed) {
    rng->state = seed;
}

uint64_t tc_rng_next(tc_rng_t *rng) {
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int64_t tc_rng_range(tc_rng_t *rng, int64_t lo, int64_t hi) {
    return lo + (int64_t)(tc_rng_next(rng) % (uint64_t)(hi - lo + 1));
}

double tc_rng_signed_unit(tc_rng_t *rng) {
    return (double)(tc_rng_next(rng) >> 11) * 0x1.0p-52 - 1.0;
}

void tc_clean_environment(void) {
    static const char *const names[] = {"TCONV_DEVICE",
                                        "TCONV_PLUGINS",
                                        "TCONV_PLUGIN_PATH",
                                        "TCONV_VERBOSE",
                                        "TCONV_CPU_ISA",
                                        "TCONV_NUM_THREADS",
                                        "TCONV_SELECT",
                                        "TCONV_SELECT_MIN_MS",
                                        "TCONV_OPENCL_BINARY",
                                        "TCONV_OPENCL_BINARY_SAVE",
                                        "TCONV_OPENCL_LOCAL",
                                        "TCONV_OPENCL_TILE",
                                        "TCONV_OPENCL_NO_IN_PLACE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

int tc_in_ci(void) {
    const char *ci = getenv("CI");
    return ci != NULL && (strcmp(ci, "true") == 0 || strcmp(ci, "1") == 0);
}

int tc_case_budget(int wanted) {
    const char *cap = getenv("TCONV_TEST_MAX_CASES");
    long most = cap != NULL ? strtol(cap, NULL, 10) : 0;
    return most > 0 && most < wanted ? (int)most : wanted;
}

int tc_cannot_run(const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (tc_in_ci()) {
        fprintf(stderr, "FAILED: %s (CI=true requires it)\n", what);
        return 1;
    }
    printf("skipped: %s (with CI=true this is a failure)\n", what);
    fflush(stdout);
    return TC_EXIT_SKIP;
}

int tc_contains(const char *haystack, const char *needle) {
    return haystack && needle && strstr(haystack, needle) != NULL;
}

int tc_has_device(tconv_context_t ctx, const char *id) {
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success && !strcmp(info.id, id))
            return 1;
    }
    return 0;
}

int tc_plugin_report_named(tconv_context_t ctx, const char *name, tconv_plugin_report_t *out) {
    size_t count = 0;
    tconv_context_get_plugin_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        memset(out, 0, sizeof *out);
        out->struct_size = sizeof *out;
        if (tconv_context_get_plugin_report(ctx, i, out) == tconv_success &&
            strcmp(out->name, name) == 0)
            return 1;
    }
    return 0;
}

void tc_log_append(void *user_data, int level, const char *message) {
    (void)level;
    tc_log_t *log = user_data;
    const size_t used = strlen(log->text);
    snprintf(log->text + used, sizeof log->text - used, "%s\n", message);
}

tconv_status_t tc_context_create_logged(tconv_context_t *ctx, int verbosity, tc_log_t *log) {
    log->text[0] = '\0';
    tconv_context_options_t options;
    tconv_context_options_init(&options);
    options.verbosity = verbosity;
    options.log_callback = tc_log_append;
    options.log_user_data = log;
    return tconv_context_create_with_options(ctx, &options);
}

int tc_part(int argc, char **argv, const char *parts, const char *more) {
    if (argc >= 3 && strcmp(argv[1], "--part") == 0 && (argc == 3 || (more && argc == 4))) {
        const size_t len = strlen(argv[2]);
        int index = 0;
        for (const char *p = parts;; index++) {
            const size_t n = strcspn(p, "|");
            if (n == len && strncmp(p, argv[2], n) == 0)
                return index;
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
    }
    fprintf(stderr, "usage: %s --part %s%s%s\n", argv[0], parts, more ? " " : "", more ? more : "");
    return -1;
}

int tc_device_present(const char *id) {
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, NULL) != tconv_success)
        return 0;
    const int present = tc_has_device(ctx, id);
    tconv_context_destroy(ctx);
    return present;
}

void tc_preload(const char *module) {
    const char *asan = getenv("ASAN_OPTIONS");
    if (!tc_contains(asan, "verify_asan_link_order=0")) {
        char options[1024];
        snprintf(options, sizeof options, "%s%sverify_asan_link_order=0", asan ? asan : "",
                 asan && asan[0] ? ":" : "");
        setenv("ASAN_OPTIONS", options, 1);
    }
    setenv("LD_PRELOAD", module, 1);
}

/* Appends printf output to (buf, size) at *used, never overflowing. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...) {
    if (*used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

static void append_axes(char *buf, size_t size, size_t *used, const char *name, const int64_t *v,
                        int rank) {
    append(buf, size, used, " %s={", name);
    for (int i = 0; i < rank; i++)
        append(buf, size, used, "%s%lld", i ? "," : "", (ll)v[i]);
    append(buf, size, used, "}");
}

void tc_format_problem(const tconv_problem_t *p, char *buf, size_t size) {
    static const char *const paddings[] = {"explicit", "valid", "same", "same_upper", "same_lower"};
    size_t used = 0;
    const char *act = tconv_activation_name(p->activation);
    int r = p->spatial_rank >= 1 && p->spatial_rank <= 3 ? p->spatial_rank : 3;
    append(buf, size, &used,
           "rank=%d dtype=%s N=%lld Cin=%lld Cout=%lld groups=%lld padding=%s "
           "has_output_padding=%d",
           p->spatial_rank, p->dtype == tconv_f64 ? "f64" : "f32", (ll)p->batch, (ll)p->in_channels,
           (ll)p->out_channels, (ll)p->groups,
           (unsigned)p->padding <= 4 ? paddings[p->padding] : "?", p->has_output_padding);
    append_axes(buf, size, &used, "input", p->input_size, r);
    append_axes(buf, size, &used, "kernel", p->kernel_size, r);
    append_axes(buf, size, &used, "strides", p->strides, r);
    append_axes(buf, size, &used, "dilation", p->dilation, r);
    append_axes(buf, size, &used, "pads_begin", p->pads_begin, r);
    append_axes(buf, size, &used, "pads_end", p->pads_end, r);
    append_axes(buf, size, &used, "output_padding", p->output_padding, r);
    append_axes(buf, size, &used, "output_shape", p->output_shape, r);
    append(buf, size, &used, " format=%s kernel_layout=%s bias=%d activation=%s alpha=%g",
           p->data_format == tconv_channels_first ? "channels_first" : "channels_last",
           p->kernel_layout == tconv_kernel_torch ? "torch" : "keras", p->use_bias, act ? act : "?",
           p->activation_alpha);
}

/* Which padding rule a random case exercises. */
enum random_mode {
    mode_keras_valid,
    mode_keras_valid_op,
    mode_keras_same,
    mode_keras_same_op,
    mode_torch,          /* explicit, pads_begin = pads_end, output_padding */
    mode_onnx_pads,      /* explicit, asymmetric pads */
    mode_onnx_shape,     /* explicit (NOTSET) with output_shape */
    mode_same_upper,     /* ONNX auto_pad */
    mode_same_lower,     /* ONNX auto_pad */
    mode_auto_pad_shape, /* auto_pad with output_shape */
    mode_count
};

/* A custom activation parameter, for the activations that have one. */
static double custom_alpha(tconv_activation_t a) {
    switch (a) {
    case tconv_activation_leaky_relu:
        return 0.1;
    case tconv_activation_elu:
        return 0.7;
    case tconv_activation_celu:
        return 1.5;
    case tconv_activation_hard_shrink:
        return 0.3;
    case tconv_activation_soft_shrink:
        return 0.25;
    case tconv_activation_squareplus:
        return 2.0;
    default:
        return NAN;
    }
}

void tc_random_problem(tc_rng_t *rng, int case_index, tconv_dtype_t dtype, tconv_problem_t *p) {
    int rank = (int)tc_rng_range(rng, 1, 3);
    tconv_problem_init(p, rank);
    p->dtype = dtype;
    p->batch = tc_rng_range(rng, 1, 2);
    /* Mostly tiny problems (every padding corner); one in four "medium", with
     * enough channels and width to reach the vector bodies, register tiles and
     * their tails in optimised kernels, still cheap for the reference. */
    int medium = tc_rng_range(rng, 0, 3) == 0;
    p->groups = tc_rng_range(rng, 0, 9) < 6 ? 1 : tc_rng_range(rng, 2, 3);
    p->in_channels = p->groups * tc_rng_range(rng, 1, medium ? 9 : 3);
    int64_t cout_g = medium ? tc_rng_range(rng, 5, 67) : tc_rng_range(rng, 1, 4);
    p->out_channels = p->groups * cout_g;
    int mode = (int)tc_rng_range(rng, 0, mode_count - 1);
    int keras = mode <= mode_keras_same_op;

    int64_t max_s = 1, max_d = 1;
    for (int i = 0; i < rank; i++) {
        static const int64_t medium_input[4] = {0, 40, 10, 5};
        p->input_size[i] = tc_rng_range(rng, 1, medium ? medium_input[rank] : rank == 3 ? 4 : 6);
        p->kernel_size[i] = tc_rng_range(rng, 1, medium ? 3 : 5);
        p->strides[i] = tc_rng_range(rng, 1, 3);
        p->dilation[i] = tc_rng_range(rng, 0, 1) ? 1 : tc_rng_range(rng, 1, 3);
        max_s = p->strides[i] > max_s ? p->strides[i] : max_s;
        max_d = p->dilation[i] > max_d ? p->dilation[i] : max_d;
    }
    /* Keras refuses strides > 1 together with dilation > 1: keep one of them. */
    if (keras && max_s > 1 && max_d > 1)
        for (int i = 0; i < rank; i++) {
            if (case_index % 2)
                p->dilation[i] = 1;
            else
                p->strides[i] = 1;
        }

    switch (mode) {
    case mode_keras_valid:
    case mode_keras_same:
        p->padding = mode == mode_keras_valid ? tconv_padding_valid : tconv_padding_same;
        break;
    case mode_keras_valid_op:
    case mode_keras_same_op:
        p->padding = mode == mode_keras_valid_op ? tconv_padding_valid : tconv_padding_same;
        p->has_output_padding = 1;
        for (int i = 0; i < rank; i++) {
            p->output_padding[i] = tc_rng_range(rng, 0, p->strides[i] - 1);
            /* "same" with output_padding gives (n-1)*s + ek%2 + op, which is 0
             * for n = 1, an even ek and op = 0: Keras refuses that, so avoid it. */
            int64_t ek = (p->kernel_size[i] - 1) * p->dilation[i] + 1;
            if (mode == mode_keras_same_op && p->input_size[i] == 1 && ek % 2 == 0 &&
                p->output_padding[i] == 0)
                p->input_size[i] = 2;
        }
        break;
    case mode_torch:
    case mode_onnx_pads:
        p->padding = tconv_padding_explicit;
        p->has_output_padding = 1;
        for (int i = 0; i < rank; i++) {
            int64_t s = p->strides[i], d = p->dilation[i];
            int64_t ek = (p->kernel_size[i] - 1) * d + 1;
            int64_t span = (p->input_size[i] - 1) * s + ek;
            /* PyTorch: output_padding < max(stride, dilation). */
            p->output_padding[i] = tc_rng_range(rng, 0, (s > d ? s : d) - 1);
            p->pads_begin[i] = tc_rng_range(rng, 0, ek - 1);
            p->pads_end[i] = mode == mode_torch ? p->pads_begin[i] : tc_rng_range(rng, 0, ek - 1);
            /* Keep the output length >= 1 by trimming the crops. */
            while (span - p->pads_begin[i] - p->pads_end[i] + p->output_padding[i] < 1) {
                if (p->pads_begin[i] > 0)
                    p->pads_begin[i]--;
                if (p->pads_end[i] > 0)
                    p->pads_end[i]--;
            }
        }
        break;
    case mode_onnx_shape:
    case mode_same_upper:
    case mode_same_lower:
    case mode_auto_pad_shape:
        p->padding =
            mode == mode_same_upper   ? tconv_padding_same_upper
            : mode == mode_same_lower ? tconv_padding_same_lower
            : mode == mode_onnx_shape
                ? tconv_padding_explicit
                : (tc_rng_range(rng, 0, 1) ? tconv_padding_same_upper : tconv_padding_same_lower);
        p->has_output_padding = 1;
        for (int i = 0; i < rank; i++) {
            int64_t ek = (p->kernel_size[i] - 1) * p->dilation[i] + 1;
            int64_t span = (p->input_size[i] - 1) * p->strides[i] + ek;
            p->output_padding[i] = tc_rng_range(rng, 0, p->strides[i] - 1);
            if (mode == mode_onnx_shape || mode == mode_auto_pad_shape) {
                /* Shorter and longer than the full span: negative total too. */
                int64_t lo = span - 4 > 1 ? span - 4 : 1;
                p->output_shape[i] = tc_rng_range(rng, lo, span + p->strides[i] + 2);
            }
        }
        break;
    }

    p->data_format = tc_rng_range(rng, 0, 1) ? tconv_channels_first : tconv_channels_last;
    p->kernel_layout = tc_rng_range(rng, 0, 1) ? tconv_kernel_torch : tconv_kernel_keras;
    p->use_bias = (int)tc_rng_range(rng, 0, 1);
    p->activation = (tconv_activation_t)(case_index % TCONV_ACTIVATION_COUNT);
    if (tc_rng_range(rng, 0, 2) == 0)
        p->activation_alpha = custom_alpha(p->activation);
}

static void *alloc_values(int64_t count, size_t elem) {
    return calloc((size_t)(count > 0 ? count : 1), elem);
}

/* Value i, rounded to float for f32 problems, as float64 and into the
 * device buffer in the problem's dtype. */
static void store_value(tconv_dtype_t dtype, double v, double *values, void *dev, int64_t i) {
    if (dtype == tconv_f32) {
        float f = (float)v;
        values[i] = f;
        ((float *)dev)[i] = f;
    } else {
        values[i] = v;
        ((double *)dev)[i] = v;
    }
}

/* Random values in [-1, 1), stored as store_value does. */
static void fill(tc_rng_t *rng, tconv_dtype_t dtype, int64_t count, double *values, void *dev) {
    for (int64_t i = 0; i < count; i++)
        store_value(dtype, tc_rng_signed_unit(rng), values, dev, i);
}

/* Reference output, pre-activation values and sum|terms| from t's inputs. */
static void compute_reference(tc_tensors_t *t) {
    const tconv_canonical_t *c = &t->canonical;
    tconv_canonical_t linear = *c;
    linear.activation = tconv_activation_linear;
    tconv_reference_forward(c, t->in, t->kernel, t->bias, t->ref);
    tconv_reference_forward(&linear, t->in, t->kernel, t->bias, t->ref_pre);
    tconv_reference_forward_abs(c, t->in, t->kernel, t->bias, t->ref_abs);
}

/* Whether the first @p n entries of @p a and @p b are equal. */
static int same_dims(const int64_t *a, const int64_t *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static void format_dims(const int64_t *dims, int n, char *buf, size_t size) {
    size_t used = 0;
    append(buf, size, &used, "(");
    for (int i = 0; i < n; i++)
        append(buf, size, &used, "%s%lld", i ? ", " : "", (ll)dims[i]);
    append(buf, size, &used, ")");
}

/* The library's tensor shapes for @p p (tconv_problem_get_shapes, what a
 * user allocates by) must be the reference's; and its resolved output
 * length and begin crop per axis too, so a disagreement is named before
 * any device runs. Returns 0, or -1 with the first difference in msg. */
static int check_library_resolution(const tconv_problem_t *p, const tconv_canonical_t *want,
                                    char *msg, size_t msg_size) {
    int64_t dims[3][TCONV_MAX_DIMS], want_dims[3][TCONV_MAX_DIMS];
    int nd = 0, want_nd = 0;
    tconv_status_t st = tconv_problem_get_shapes(p, dims[0], dims[1], dims[2], &nd);
    if (st != tconv_success) {
        snprintf(msg, msg_size, "tconv_problem_get_shapes refused a valid problem: %s",
                 tconv_get_last_error());
        return -1;
    }
    tconv_reference_user_shapes(want, want_dims[0], want_dims[1], want_dims[2], &want_nd);
    static const char *const names[3] = {"input", "kernel", "output"};
    for (int k = 0; k < 3; k++) {
        if (nd != want_nd || !same_dims(dims[k], want_dims[k], want_nd)) {
            char got_text[128], want_text[128];
            format_dims(dims[k], nd, got_text, sizeof got_text);
            format_dims(want_dims[k], want_nd, want_text, sizeof want_text);
            snprintf(msg, msg_size,
                     "tconv_problem_get_shapes: %s shape %s, the framework rules give %s", names[k],
                     got_text, want_text);
            return -1;
        }
    }
    tconv_canonical_t got;
    if (tconv_problem_resolve(p, &got) != tconv_success) {
        snprintf(msg, msg_size, "tconv_problem_resolve refused a valid problem: %s",
                 tconv_get_last_error());
        return -1;
    }
    for (int a = 0; a < 3; a++) {
        if (got.output_size[a] != want->output_size[a] ||
            got.crop_begin[a] != want->crop_begin[a]) {
            snprintf(msg, msg_size,
                     "tconv_problem_resolve: canonical axis %d has output length %lld and begin "
                     "crop %lld, the framework rules give %lld and %lld",
                     a, (ll)got.output_size[a], (ll)got.crop_begin[a], (ll)want->output_size[a],
                     (ll)want->crop_begin[a]);
            return -1;
        }
    }
    return 0;
}

/* Resolves @p p (the reference's rules, checked against the library's) into
 * t->canonical and allocates every tensor of t. Returns 0, or -1 with a
 * message. */
static int tensors_alloc(const tconv_problem_t *p, tc_tensors_t *t, char *msg, size_t msg_size) {
    memset(t, 0, sizeof *t);
    /* The reference's own resolution, not the library's: a bug in
     * tconv_problem_resolve must not reach the reference too. */
    char why[256];
    if (tconv_reference_resolve(p, &t->canonical, why, sizeof why) != 0) {
        snprintf(msg, msg_size, "%s", why);
        return -1;
    }
    if (check_library_resolution(p, &t->canonical, msg, msg_size) != 0)
        return -1;
    const tconv_canonical_t *c = &t->canonical;
    size_t es = p->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    t->in_count = tconv_reference_input_count(c);
    t->kernel_count = tconv_reference_kernel_count(c);
    t->out_count = tconv_reference_output_count(c);
    t->in = alloc_values(t->in_count, sizeof(double));
    t->kernel = alloc_values(t->kernel_count, sizeof(double));
    t->ref = alloc_values(t->out_count, sizeof(double));
    t->ref_pre = alloc_values(t->out_count, sizeof(double));
    t->ref_abs = alloc_values(t->out_count, sizeof(double));
    t->dev_in = alloc_values(t->in_count, es);
    t->dev_kernel = alloc_values(t->kernel_count, es);
    t->dev_out = alloc_values(t->out_count, es);
    if (p->use_bias) {
        t->bias = alloc_values(c->out_channels, sizeof(double));
        t->dev_bias = alloc_values(c->out_channels, es);
    }
    if (!t->in || !t->kernel || !t->ref || !t->ref_pre || !t->ref_abs || !t->dev_in ||
        !t->dev_kernel || !t->dev_out || (p->use_bias && (!t->bias || !t->dev_bias))) {
        snprintf(msg, msg_size, "out of host memory for the test tensors");
        tc_tensors_free(t);
        return -1;
    }
    return 0;
}

int tc_tensors_make(const tconv_problem_t *p, tc_rng_t *rng, tc_tensors_t *t, char *msg,
                    size_t msg_size) {
    if (tensors_alloc(p, t, msg, msg_size) != 0)
        return -1;
    fill(rng, p->dtype, t->in_count, t->in, t->dev_in);
    fill(rng, p->dtype, t->kernel_count, t->kernel, t->dev_kernel);
    if (p->use_bias)
        fill(rng, p->dtype, t->canonical.out_channels, t->bias, t->dev_bias);
    compute_reference(t);
    return 0;
}

/* Stores @p count given values as fill does. */
static void store(tconv_dtype_t dtype, int64_t count, const double *from, double *values,
                  void *dev) {
    for (int64_t i = 0; i < count; i++)
        store_value(dtype, from[i], values, dev, i);
}

int tc_tensors_from_values(const tconv_problem_t *p, const double *in, const double *kernel,
                           const double *bias, tc_tensors_t *t, char *msg, size_t msg_size) {
    if (tensors_alloc(p, t, msg, msg_size) != 0)
        return -1;
    store(p->dtype, t->in_count, in, t->in, t->dev_in);
    store(p->dtype, t->kernel_count, kernel, t->kernel, t->dev_kernel);
    if (p->use_bias)
        store(p->dtype, t->canonical.out_channels, bias, t->bias, t->dev_bias);
    compute_reference(t);
    return 0;
}

void tc_tensors_set_output(tc_tensors_t *t, const double *values) {
    for (int64_t i = 0; i < t->out_count; i++) {
        if (t->canonical.dtype == tconv_f64)
            ((double *)t->dev_out)[i] = values[i];
        else
            ((float *)t->dev_out)[i] = (float)values[i];
    }
}

static void round_values(double *values, int64_t count, tconv_dtype_t dtype, void *dev) {
    for (int64_t i = 0; i < count; i++) {
        values[i] = (float)values[i];
        if (dtype == tconv_f64)
            ((double *)dev)[i] = values[i];
        else
            ((float *)dev)[i] = (float)values[i];
    }
}

void tc_tensors_round_to_float(tc_tensors_t *t) {
    tconv_dtype_t dt = t->canonical.dtype;
    round_values(t->in, t->in_count, dt, t->dev_in);
    round_values(t->kernel, t->kernel_count, dt, t->dev_kernel);
    if (t->bias)
        round_values(t->bias, t->canonical.out_channels, dt, t->dev_bias);
    compute_reference(t);
}

void tc_tensors_free(tc_tensors_t *t) {
    free(t->in);
    free(t->kernel);
    free(t->bias);
    free(t->ref);
    free(t->ref_pre);
    free(t->ref_abs);
    free(t->dev_in);
    free(t->dev_kernel);
    free(t->dev_bias);
    free(t->dev_out);
    memset(t, 0, sizeof *t);
}

void tc_tensors_poison_output(tc_tensors_t *t) {
    for (int64_t i = 0; i < t->out_count; i++) {
        if (t->canonical.dtype == tconv_f64)
            ((double *)t->dev_out)[i] = NAN;
        else
            ((float *)t->dev_out)[i] = NAN;
    }
}

double tc_element(const void *buffer, tconv_dtype_t dtype, int64_t i) {
    return dtype == tconv_f64 ? ((const double *)buffer)[i] : (double)((const float *)buffer)[i];
}

/* How much the activation can amplify an error in its input near x: the
 * larger one-sided slope over a step h. A jump (hard_shrink at +-alpha) gives
 * a huge slope, which rightly accepts either side of the jump. */
static double activation_gain(const tconv_canonical_t *c, double x, double h) {
    double f = tconv_reference_activation(c->activation, c->activation_alpha, x);
    double up = tconv_reference_activation(c->activation, c->activation_alpha, x + h);
    double down = tconv_reference_activation(c->activation, c->activation_alpha, x - h);
    double slope = fmax(fabs(up - f), fabs(f - down)) / h;
    return slope > 1 ? slope : 1;
}

/* |got - want| / divisor; +INFINITY for a NaN or infinite got where want
 * is finite, 0 when both are the same infinity. */
static double element_error(double got, double want, double divisor) {
    double err = isfinite(got) ? fabs(got - want) / divisor : INFINITY;
    return !isfinite(want) && got == want ? 0 : err;
}

/* Keeps the largest error (a NaN error counts as larger) and its index;
 * returns nonzero once it is infinite: nothing can be worse. */
static int keep_worst(double err, int64_t i, double *max_err, int64_t *worst) {
    if (!(err <= *max_err)) {
        *max_err = err;
        *worst = i;
    }
    return isinf(*max_err);
}

double tc_tensors_max_error(const tc_tensors_t *t, int64_t *worst) {
    double max_err = 0;
    *worst = 0;
    for (int64_t i = 0; i < t->out_count; i++) {
        double y = tc_element(t->dev_out, t->canonical.dtype, i);
        double scale = t->ref_abs[i] > 1 ? t->ref_abs[i] : 1;
        double gain = activation_gain(&t->canonical, t->ref_pre[i], 1e-4 * scale);
        if (keep_worst(element_error(y, t->ref[i], scale * gain), i, &max_err, worst))
            break;
    }
    return max_err;
}

double tc_tolerance(tconv_dtype_t dtype) {
    return dtype == tconv_f64 ? 1e-12 : 1e-5;
}

tconv_status_t tc_run_plan(tconv_context_t ctx, const char *selector, const tconv_problem_t *p,
                           tc_tensors_t *t, char *msg, size_t msg_size) {
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, p, selector);
    if (st != tconv_success) {
        snprintf(msg, msg_size, "tconv_plan_create(%s) -> %s: %s", selector ? selector : "NULL",
                 tconv_status_name(st), tconv_get_last_error());
        return st;
    }
    st = tconv_plan_set_weights(plan, t->dev_kernel, p->use_bias ? t->dev_bias : NULL);
    if (st != tconv_success) {
        snprintf(msg, msg_size, "tconv_plan_set_weights -> %s: %s", tconv_status_name(st),
                 tconv_get_last_error());
        tconv_plan_destroy(plan);
        return st;
    }
    tc_tensors_poison_output(t);
    st = tconv_plan_execute(plan, t->dev_in, t->dev_out);
    if (st != tconv_success)
        snprintf(msg, msg_size, "tconv_plan_execute -> %s: %s", tconv_status_name(st),
                 tconv_get_last_error());
    tconv_plan_destroy(plan);
    return st;
}

void tc_small_problem(tconv_problem_t *p, tconv_dtype_t dtype) {
    tconv_problem_init(p, 3);
    p->dtype = dtype;
    p->batch = 2;
    p->in_channels = 3;
    p->out_channels = 5;
    for (int i = 0; i < 3; i++) {
        p->input_size[i] = 3;
        p->kernel_size[i] = 3;
        p->strides[i] = 2;
    }
    p->padding = tconv_padding_same;
    p->use_bias = 1;
    p->activation = tconv_activation_relu;
}

int tc_check_small_plan(tconv_context_t ctx, const char *selector, char *msg, size_t msg_size) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    tc_rng_t rng;
    tc_rng_seed(&rng, 42);
    tc_tensors_t t;
    if (tc_tensors_make(&p, &rng, &t, msg, msg_size) != 0)
        return -1;
    int result = 0;
    if (tc_run_plan(ctx, selector, &p, &t, msg, msg_size) != tconv_success) {
        result = -1;
    } else {
        int64_t worst;
        double err = tc_tensors_max_error(&t, &worst);
        if (!(err <= tc_tolerance(p.dtype))) {
            snprintf(msg, msg_size, "small plan on %s: error %g at output %lld (got %g, want %g)",
                     selector, err, (ll)worst, (double)((float *)t.dev_out)[worst], t.ref[worst]);
            result = -1;
        }
    }
    tc_tensors_free(&t);
    return result;
}

/* ---- gradients */

const char *tc_gradient_name(tc_gradient_t which) {
    static const char *const names[] = {"grad_input", "grad_kernel", "grad_bias"};
    return (unsigned)which < tc_grad_count ? names[which] : "?";
}

/* How much the device's dL/dz at output point o may differ from the
 * reference's, per unit of |dL/dy|: its act' is taken at its own z, which
 * may be off by the forward tolerance. */
static double grad_z_weight(const tconv_canonical_t *c, double z, double z_abs, double tolerance) {
    double h = tolerance * (z_abs > 1 ? z_abs : 1);
    double here = tconv_reference_activation_grad(c->activation, c->activation_alpha, z);
    double up = tconv_reference_activation_grad(c->activation, c->activation_alpha, z + h);
    double down = tconv_reference_activation_grad(c->activation, c->activation_alpha, z - h);
    double moves = fmax(fabs(up - here), fabs(down - here));
    return fmax(1, fabs(here)) + moves / tolerance;
}

int tc_gradients_make(const tc_tensors_t *t, tc_rng_t *rng, tc_gradients_t *g, char *msg,
                      size_t msg_size) {
    memset(g, 0, sizeof *g);
    const tconv_canonical_t *c = &t->canonical;
    size_t es = c->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
    g->count[tc_grad_input] = t->in_count;
    g->count[tc_grad_kernel] = t->kernel_count;
    g->count[tc_grad_bias] = c->out_channels;
    g->grad_out = alloc_values(t->out_count, sizeof(double));
    g->dev_grad_out = alloc_values(t->out_count, es);
    double *weights = alloc_values(t->out_count, sizeof(double));
    int ok = g->grad_out && g->dev_grad_out && weights;
    for (int k = 0; k < tc_grad_count; k++) {
        g->ref[k] = alloc_values(g->count[k], sizeof(double));
        g->scale[k] = alloc_values(g->count[k], sizeof(double));
        g->dev[k] = alloc_values(g->count[k], es);
        ok = ok && g->ref[k] && g->scale[k] && g->dev[k];
    }
    if (!ok) {
        snprintf(msg, msg_size, "out of host memory for the gradient tensors");
        free(weights);
        tc_gradients_free(g);
        return -1;
    }
    fill(rng, c->dtype, t->out_count, g->grad_out, g->dev_grad_out);
    tconv_reference_backward(c, t->in, t->kernel, t->bias, g->grad_out, g->ref[tc_grad_input],
                             g->ref[tc_grad_kernel], g->ref[tc_grad_bias]);
    double tolerance = tc_tolerance(c->dtype);
    for (int64_t o = 0; o < t->out_count; o++)
        weights[o] =
            fabs(g->grad_out[o]) * grad_z_weight(c, t->ref_pre[o], t->ref_abs[o], tolerance);
    tconv_reference_backward_abs(c, t->in, t->kernel, weights, g->scale[tc_grad_input],
                                 g->scale[tc_grad_kernel], g->scale[tc_grad_bias]);
    free(weights);
    return 0;
}

void tc_gradients_free(tc_gradients_t *g) {
    free(g->grad_out);
    free(g->dev_grad_out);
    for (int k = 0; k < tc_grad_count; k++) {
        free(g->ref[k]);
        free(g->scale[k]);
        free(g->dev[k]);
    }
    memset(g, 0, sizeof *g);
}

void tc_gradients_poison(tc_gradients_t *g, tconv_dtype_t dtype) {
    for (int k = 0; k < tc_grad_count; k++)
        for (int64_t i = 0; i < g->count[k]; i++) {
            if (dtype == tconv_f64)
                ((double *)g->dev[k])[i] = NAN;
            else
                ((float *)g->dev[k])[i] = NAN;
        }
}

double tc_gradients_max_error(const tc_gradients_t *g, tc_gradient_t which, tconv_dtype_t dtype,
                              int64_t *worst) {
    double max_err = 0;
    *worst = 0;
    for (int64_t i = 0; i < g->count[which]; i++) {
        double got = tc_element(g->dev[which], dtype, i);
        double scale = g->scale[which][i] > 1 ? g->scale[which][i] : 1;
        if (keep_worst(element_error(got, g->ref[which][i], scale), i, &max_err, worst))
            break;
    }
    return max_err;
}
