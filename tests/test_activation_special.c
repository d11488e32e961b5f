/* SPDX-License-Identifier: Apache-2.0 */
/* Every fused activation at special values, on the devices of one backend,
 * against the float64 reference (docs/semantics.md, "Activations at special
 * values"): NaN in gives NaN out, +-inf gives the limit, huge finite inputs
 * the saturated value.
 *
 *   test_activation_special --backend cpu|opencl
 *
 * cpu runs every ISA in turn (TCONV_CPU_ISA = avx512, avx2, c; the backend
 * reads it when a context starts it, so one context per ISA); an ISA this
 * CPU lacks is left out with a message, and the entry then exits 77 once
 * the others passed (even under CI, which cannot give its runner's CPU an
 * ISA: tests/README.md). opencl runs every OpenCL device
 * and checks that it agrees with cpu:0 too. With no OpenCL device the suite
 * exits 77 (ctest: Skipped), unless CI=true, where that is a failure.
 *
 * The values ride on 1x1 kernels (weights 1), so the pre-activation is
 * exactly the value, in two shapes that take different CPU kernels:
 *   lanes:  Cin 1, Cout = one channel per value, bias = the values, input 0,
 *           13 points: the Cout-vectorised tiles, with the fused ReLU of the
 *           vector kernels and a partial last vector;
 *   points: Cin 16, Cout 1, one point per value carried by input channel 0,
 *           bias 0: the dot tiles (few output channels), with their scalar
 *           fused ReLU.
 * OpenCL runs the lanes shape only (each plan is a program build).
 *
 * An output must be NaN where the reference is NaN; exactly the reference's
 * value (rounded to the dtype) at +-inf and wherever the reference has
 * reached the activation's limit (tanh(1e4) = 1, gelu_tanh(-1e4) = 0, ...);
 * elsewhere within the suite's relative tolerance, or two subnormal steps. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reference/tconv_reference.h"
#include "test_support.h"

#define MAX_DEVICES           8
#define MAX_VALUES            32
#define MAX_REPORTED_FAILURES 12
#define LANES_POINTS          13 /* one full tile of the widest kernels plus one point */
#define POINTS_CIN            16 /* enough input channels for the dot tiles */

/* A device to test: its context (one per forced ISA) and a label. */
typedef struct device_under_test {
    tconv_context_t ctx;
    char id[64];
    char label[96];
} device_under_test_t;

static struct {
    const char *backend;
    device_under_test_t devices[MAX_DEVICES];
    int device_count;
    /* opencl: cpu:0 of the first context, which every device must agree with. */
    int compare_with_cpu;
    char isas_lacking[64]; /* cpu: the ISAs this CPU lacks, left out */
} g = {"cpu", {{0}}, 0, 0, ""};

typedef enum shape { shape_lanes, shape_points } shape_t;
static const char *const shape_names[] = {"lanes", "points"};

static double round_to(tconv_dtype_t dtype, double v) {
    return dtype == tconv_f32 ? (double)(float)v : v;
}

/* The special values for an activation whose resolved parameter is alpha,
 * each representable in dtype. Returns how many. */
static int special_values(tconv_dtype_t dtype, double alpha, double *v) {
    const double subnormal = dtype == tconv_f32 ? 1e-40 : 1e-310;
    const double fixed[] = {NAN, INFINITY, -INFINITY, 1e30, -1e30, 1e4,  -1e4,      30,
                            -30, 6,        5,         -5,   3,     -3,   2,         -2,
                            1,   -1,       0.5,       -0.5, 0.0,   -0.0, subnormal, -subnormal};
    int n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        v[n++] = round_to(dtype, fixed[i]);
    /* The shrinks' kinks (and the parameter of the others: harmless). */
    v[n++] = round_to(dtype, alpha);
    v[n++] = round_to(dtype, -alpha);
    return n;
}

static void set_value(tc_tensors_t *t, double *values, void *dev, int64_t i, double v) {
    values[i] = v;
    if (t->canonical.dtype == tconv_f64)
        ((double *)dev)[i] = v;
    else
        ((float *)dev)[i] = (float)v;
}

static double output_at(const tc_tensors_t *t, const void *out, int64_t i) {
    return t->canonical.dtype == tconv_f64 ? ((const double *)out)[i]
                                           : (double)((const float *)out)[i];
}

/* The problem of a shape carrying nvalues values (rank 1, kernel 1). */
static void make_problem(shape_t shape, tconv_dtype_t dtype, tconv_activation_t act, int nvalues,
                         tconv_problem_t *p) {
    tconv_problem_init(p, 1);
    p->dtype = dtype;
    p->batch = 1;
    p->in_channels = shape == shape_lanes ? 1 : POINTS_CIN;
    p->out_channels = shape == shape_lanes ? nvalues : 1;
    p->input_size[0] = shape == shape_lanes ? LANES_POINTS : nvalues;
    p->kernel_size[0] = 1;
    p->strides[0] = 1;
    p->padding = tconv_padding_valid;
    p->use_bias = 1;
    p->activation = act;
}

/* Weights 1 and the values in the bias (lanes) or in input channel 0
 * (points); everything else 0. Then the reference and its pre-activation. */
static void load_values(shape_t shape, tc_tensors_t *t, const double *values) {
    for (int64_t i = 0; i < t->kernel_count; i++)
        set_value(t, t->kernel, t->dev_kernel, i, 1.0);
    for (int64_t i = 0; i < t->canonical.out_channels; i++)
        set_value(t, t->bias, t->dev_bias, i, shape == shape_lanes ? values[i] : 0.0);
    for (int64_t i = 0; i < t->in_count; i++) {
        int channel0 = i % t->canonical.in_channels == 0; /* channels_last */
        double v = shape == shape_points && channel0 ? values[i / t->canonical.in_channels] : 0.0;
        set_value(t, t->in, t->dev_in, i, v);
    }
    tconv_canonical_t linear = t->canonical;
    linear.activation = tconv_activation_linear;
    tconv_reference_forward(&t->canonical, t->in, t->kernel, t->bias, t->ref);
    tconv_reference_forward(&linear, t->in, t->kernel, t->bias, t->ref_pre);
}

typedef struct expectation {
    double want;  /* the reference, rounded to the dtype */
    int exact;    /* the output must equal want (0 == -0) */
    double slack; /* otherwise |got - want| may reach this */
} expectation_t;

static expectation_t expect(const tc_tensors_t *t, int64_t i) {
    const tconv_canonical_t *c = &t->canonical;
    const double pre = t->ref_pre[i];
    expectation_t e;
    e.want = round_to(c->dtype, t->ref[i]);
    /* The limit at the infinity on pre's side: an output that has reached it
     * is a saturated value and must be exact. */
    double limit = round_to(c->dtype, tconv_reference_activation(c->activation, c->activation_alpha,
                                                                 copysign(INFINITY, pre)));
    e.exact = isinf(pre) || isinf(e.want) || e.want == limit;
    double subnormal_step = c->dtype == tconv_f32 ? FLT_TRUE_MIN : DBL_TRUE_MIN;
    e.slack = (isnan(e.want) ? 0 : tc_tolerance(c->dtype) * fabs(e.want)) + 2 * subnormal_step;
    return e;
}

static int meets(const expectation_t *e, double got) {
    if (isnan(e->want))
        return isnan(got);
    if (e->exact)
        return got == e->want;
    return fabs(got - e->want) <= e->slack;
}

/* Two devices agree: both NaN, or equal where exact, or within twice the
 * slack (each may be off the reference by the slack). */
static int agree(const expectation_t *e, double a, double b) {
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (e->exact)
        return a == b;
    return fabs(a - b) <= 2 * e->slack;
}

typedef struct case_def {
    tconv_dtype_t dtype;
    tconv_activation_t act;
    char name[48];
} case_def_t;

/* Runs one shape on every device; returns the number of wrong outputs (each
 * reported, up to a limit shared through *reported). */
static int run_shape(const case_def_t *cd, shape_t shape, int *reported) {
    tconv_problem_t p;
    tconv_canonical_t canonical;
    make_problem(shape, cd->dtype, cd->act, 1, &p);
    assert_int_equal(tconv_problem_resolve(&p, &canonical), tconv_success);
    double values[MAX_VALUES];
    int nvalues = special_values(cd->dtype, canonical.activation_alpha, values);
    make_problem(shape, cd->dtype, cd->act, nvalues, &p);

    tc_rng_t rng;
    tc_rng_seed(&rng, 1);
    tc_tensors_t t;
    char msg[512];
    if (tc_tensors_make(&p, &rng, &t, msg, sizeof msg) != 0)
        fail_msg("%s: %s", cd->name, msg);
    load_values(shape, &t, values);

    size_t out_bytes = (size_t)t.out_count * (cd->dtype == tconv_f64 ? 8 : 4);
    void *cpu_out = NULL;
    if (g.compare_with_cpu) {
        if (tc_run_plan(g.devices[0].ctx, "cpu:0", &p, &t, msg, sizeof msg) != tconv_success)
            fail_msg("%s on cpu:0: %s", cd->name, msg);
        cpu_out = malloc(out_bytes);
        assert_non_null(cpu_out);
        memcpy(cpu_out, t.dev_out, out_bytes);
    }
    int wrong = 0;
    /* The lanes shape repeats each value on every point: report it once. */
    const int64_t values_per_row = shape == shape_lanes ? nvalues : t.out_count;
    for (int d = 0; d < g.device_count; d++) {
        const device_under_test_t *dev = &g.devices[d];
        if (tc_run_plan(dev->ctx, dev->id, &p, &t, msg, sizeof msg) != tconv_success)
            fail_msg("%s on %s: %s", cd->name, dev->label, msg);
        for (int64_t i = 0; i < t.out_count; i++) {
            expectation_t e = expect(&t, i);
            double got = output_at(&t, t.dev_out, i);
            double cpu = cpu_out ? output_at(&t, cpu_out, i) : got;
            int right = meets(&e, got), agrees = agree(&e, got, cpu);
            if (right && agrees)
                continue;
            wrong++;
            if (i >= values_per_row || ++*reported > MAX_REPORTED_FAILURES)
                continue;
            print_message("%s on %s, %s shape: act(%.17g) = %.17g, want %.17g (%s)", cd->name,
                          dev->label, shape_names[shape], t.ref_pre[i], got, e.want,
                          isnan(e.want) ? "NaN" : (e.exact ? "exact" : "within tolerance"));
            if (cpu_out)
                print_message("; cpu:0 gives %.17g%s", cpu, agrees ? "" : ", which disagrees");
            print_message("\n");
        }
    }
    free(cpu_out);
    tc_tensors_free(&t);
    return wrong;
}

static void test_case(void **state) {
    const case_def_t *cd = *state;
    int reported = 0;
    int wrong = run_shape(cd, shape_lanes, &reported);
    if (strcmp(g.backend, "opencl") != 0)
        wrong += run_shape(cd, shape_points, &reported);
    if (wrong)
        fail_msg("%s: %d wrong outputs", cd->name, wrong);
}

/* Adds the devices of g.backend in ctx; for cpu, labelled with the ISA. */
static void add_devices(tconv_context_t ctx, const char *isa) {
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count && g.device_count < MAX_DEVICES; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tconv_context_get_device_info(ctx, i, &info) != tconv_success ||
            strcmp(info.backend, g.backend) != 0)
            continue;
        device_under_test_t *d = &g.devices[g.device_count++];
        d->ctx = ctx;
        snprintf(d->id, sizeof d->id, "%s", info.id);
        snprintf(d->label, sizeof d->label, "%s%s%s", info.id, isa ? " isa " : "", isa ? isa : "");
    }
}

/* The CPU backend names its ISA at the end of driver_version ("tconv-cpu
 * avx2"). 0: the forced ISA is in effect; 1: this CPU lacks it (skip it);
 * -1: it was ignored (a failure). */
static int isa_in_effect(tconv_context_t ctx, const char *isa) {
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    size_t count = 0;
    tconv_context_get_device_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        if (tconv_context_get_device_info(ctx, i, &info) == tconv_success &&
            !strcmp(info.id, "cpu:0"))
            break;
    }
    size_t len = strlen(info.driver_version), isa_len = strlen(isa);
    if (len > isa_len && info.driver_version[len - isa_len - 1] == ' ' &&
        !strcmp(info.driver_version + len - isa_len, isa))
        return 0;
    int lacks = (!strcmp(isa, "avx512") && !__builtin_cpu_supports("avx512f")) ||
                (!strcmp(isa, "avx2") && !__builtin_cpu_supports("avx2"));
    if (lacks) {
        printf("skipped ISA %s: this CPU lacks it (cpu:0 reports '%s')\n", isa,
               info.driver_version);
        return 1;
    }
    fprintf(stderr, "FAILED: TCONV_CPU_ISA=%s was set but cpu:0 reports driver_version '%s'\n", isa,
            info.driver_version);
    return -1;
}

static tconv_context_t open_context(void) {
    tconv_context_t ctx = NULL;
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    if (st != tconv_success) {
        fprintf(stderr, "FAILED: tconv_context_create -> %s: %s\n", tconv_status_name(st),
                tconv_get_last_error());
        return NULL;
    }
    return ctx;
}

/* Opens the contexts and lists the devices. Returns 0, or the exit code:
 * tc_cannot_run's without an OpenCL device, 1 on a failure. */
static int open_devices(tconv_context_t *contexts, int *ncontexts) {
    *ncontexts = 0;
    if (strcmp(g.backend, "cpu") == 0) {
        static const char *const isas[] = {"avx512", "avx2", "c"};
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            setenv("TCONV_CPU_ISA", isas[i], 1);
            tconv_context_t ctx = open_context();
            if (!ctx)
                return 1;
            contexts[(*ncontexts)++] = ctx;
            int rc = isa_in_effect(ctx, isas[i]);
            if (rc < 0)
                return 1;
            if (rc == 0)
                add_devices(ctx, isas[i]);
            else
                snprintf(g.isas_lacking + strlen(g.isas_lacking),
                         sizeof g.isas_lacking - strlen(g.isas_lacking), "%s%s",
                         g.isas_lacking[0] ? ", " : "", isas[i]);
        }
        unsetenv("TCONV_CPU_ISA");
        return g.device_count > 0 ? 0 : 1;
    }
    tconv_context_t ctx = open_context();
    if (!ctx)
        return 1;
    contexts[(*ncontexts)++] = ctx;
    add_devices(ctx, NULL);
    if (g.device_count == 0) {
        if (strcmp(g.backend, "opencl") == 0)
            return tc_cannot_run("no OpenCL device");
        fprintf(stderr, "FAILED: no device of backend '%s'\n", g.backend);
        return 1;
    }
    g.compare_with_cpu = 1;
    return 0;
}

int main(int argc, char **argv) {
    tc_clean_environment();
    if (argc == 3 && !strcmp(argv[1], "--backend")) {
        g.backend = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: test_activation_special [--backend cpu|opencl]\n");
        return 2;
    }
    tconv_context_t contexts[4];
    int ncontexts = 0;
    int rc = open_devices(contexts, &ncontexts);
    for (int d = 0; rc == 0 && d < g.device_count; d++)
        printf("device %s\n", g.devices[d].label);

    /* One cmocka test per (dtype, activation), named like "gelu_tanh_f32". */
    static case_def_t cases[2 * TCONV_ACTIVATION_COUNT];
    static struct CMUnitTest tests[2 * TCONV_ACTIVATION_COUNT];
    for (int i = 0; i < 2 * TCONV_ACTIVATION_COUNT; i++) {
        case_def_t *cd = &cases[i];
        cd->dtype = i < TCONV_ACTIVATION_COUNT ? tconv_f32 : tconv_f64;
        cd->act = (tconv_activation_t)(i % TCONV_ACTIVATION_COUNT);
        snprintf(cd->name, sizeof cd->name, "%s_%s", tconv_activation_name(cd->act),
                 cd->dtype == tconv_f32 ? "f32" : "f64");
        tests[i] = (struct CMUnitTest){cd->name, test_case, NULL, NULL, cd};
    }
    if (rc == 0)
        rc = cmocka_run_group_tests_name(g.backend, tests, NULL, NULL);
    if (rc == 0 && g.isas_lacking[0]) {
        /* Not tc_cannot_run: CI cannot give its runner's CPU an ISA. */
        printf("skipped: this CPU lacks %s: the other ISAs passed\n", g.isas_lacking);
        rc = TC_EXIT_SKIP;
    }
    for (int i = 0; i < ncontexts; i++)
        tconv_context_destroy(contexts[i]);
    return rc;
}
