/* Seeded random problems over every option, run through the public API on
 * every device of one backend and compared with the float64 reference.
 *
 *   test_forward_random --backend cpu|opencl|NAME [--isa avx512|avx2|c]
 *                       [--cases N] [--seed S] [--plugin PATH]
 *
 * --allow-decline counts a plan the device declines (tconv_no_device with
 * its reason, e.g. under TCONV_OPENCL_MAX_ALLOC) as declined, not failed;
 * at least one case per dtype must still run.
 *
 * --plugin loads an extra plugin (e.g. plugins/example) through the
 * context's search_path, to run the same suite on it.
 *
 * Error of an output element: |y - ref| / (max(1, sum|terms|) * activation
 * slope); f32 must stay <= 1e-5 and f64 <= 1e-12. The output buffer is
 * filled with NaN first, so an element the device never writes fails. Each
 * case runs twice on the same plan: the second result must be bit-identical.
 * A failing case prints every parameter of its problem.
 *
 * OpenCL: with no OpenCL device the suite prints "skipped: no OpenCL
 * platform" and exits 77 (ctest: Skipped), unless CI=true, where an OpenCL
 * device is required and its absence fails. */
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

typedef long long ll;

#define SKIP_EXIT_CODE        77
#define MAX_REPORTED_FAILURES 8

static struct {
    const char *backend;
    const char *isa;
    const char *plugin;
    int allow_decline;
    int cases;
    uint64_t seed;
    tconv_context_t ctx;
    size_t device_count;
    tconv_device_info_t devices[16];
} g = {"cpu", NULL, NULL, 0, 200, 20240601, NULL, 0, {{0}}};

static double elem(const tc_tensors_t *t, int64_t i) {
    return t->canonical.dtype == tconv_f64 ? ((const double *)t->dev_out)[i]
                                           : (double)((const float *)t->dev_out)[i];
}

/* Runs one case on one device. Returns 0 when right, 1 when declined (only
 * with --allow-decline); prints and returns -1 otherwise. *max_err receives the case's error. */
static int run_case(const tconv_device_info_t *dev, const tconv_problem_t *p, int case_index,
                    tc_rng_t *rng, double *max_err) {
    char desc[2048], msg[2048];
    tc_format_problem(p, desc, sizeof desc);
    tc_tensors_t t;
    if (tc_tensors_make(p, rng, &t, msg, sizeof msg) != 0) {
        print_error("case %d: %s\n  problem: %s\n", case_index, msg, desc);
        return -1;
    }
    int result = -1;
    void *first = NULL;
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, g.ctx, p, dev->id);
    if (st == tconv_no_device && g.allow_decline) {
        result = 1; /* declined, with its reason in the message */
        goto done;
    }
    if (st != tconv_success) {
        print_error("case %d on %s: tconv_plan_create -> %s: %s\n  problem: %s\n", case_index,
                    dev->id, tconv_status_name(st), tconv_get_last_error(), desc);
        goto done;
    }
    tconv_device_info_t used;
    memset(&used, 0, sizeof used);
    used.struct_size = sizeof used;
    if (tconv_plan_get_device_info(plan, &used) != tconv_success || strcmp(used.id, dev->id)) {
        print_error("case %d: plan asked for %s runs on '%s'\n", case_index, dev->id, used.id);
        goto done;
    }
    st = tconv_plan_set_weights(plan, t.dev_kernel, p->use_bias ? t.dev_bias : NULL);
    if (st != tconv_success) {
        print_error("case %d on %s: set_weights -> %s: %s\n  problem: %s\n", case_index, dev->id,
                    tconv_status_name(st), tconv_get_last_error(), desc);
        goto done;
    }
    size_t bytes = (size_t)t.out_count * (p->dtype == tconv_f64 ? 8 : 4);
    first = malloc(bytes ? bytes : 1);
    for (int run = 0; run < 2; run++) {
        tc_tensors_poison_output(&t);
        st = tconv_plan_execute(plan, t.dev_in, t.dev_out);
        if (st != tconv_success) {
            print_error("case %d on %s: execute #%d -> %s: %s\n  problem: %s\n", case_index,
                        dev->id, run + 1, tconv_status_name(st), tconv_get_last_error(), desc);
            goto done;
        }
        if (run == 0)
            memcpy(first, t.dev_out, bytes);
    }
    if (memcmp(first, t.dev_out, bytes) != 0) {
        print_error("case %d on %s: a second execute of the same plan gave a different result\n"
                    "  problem: %s\n",
                    case_index, dev->id, desc);
        goto done;
    }
    int64_t worst;
    *max_err = tc_tensors_max_error(&t, &worst);
    if (!(*max_err <= tc_tolerance(p->dtype))) {
        print_error("case %d on %s: error %.3g > %.0e at output element %lld of %lld: got %.9g, "
                    "reference %.9g (pre-activation %.9g, sum|terms| %.3g)\n  problem: %s\n",
                    case_index, dev->id, *max_err, tc_tolerance(p->dtype), (ll)worst,
                    (ll)t.out_count, elem(&t, worst), t.ref[worst], t.ref_pre[worst],
                    t.ref_abs[worst], desc);
        goto done;
    }
    result = 0;
done:
    free(first);
    tconv_plan_destroy(plan);
    tc_tensors_free(&t);
    return result;
}

static void run_dtype(tconv_dtype_t dtype) {
    const char *dname = dtype == tconv_f64 ? "f64" : "f32";
    int total_failures = 0;
    for (size_t d = 0; d < g.device_count; d++) {
        const tconv_device_info_t *dev = &g.devices[d];
        char label[160];
        snprintf(label, sizeof label, "%s%s%s %s", dev->id, g.isa ? " isa=" : "",
                 g.isa ? g.isa : "", dname);
        if (!(dev->dtypes & TCONV_DTYPE_BIT(dtype))) {
            /* A device may lack a dtype (OpenCL without fp64); say so. */
            print_message("%s: skipped: device %s does not support %s\n", label, dev->name, dname);
            continue;
        }
        tc_rng_t rng;
        tc_rng_seed(&rng, g.seed + (uint64_t)dtype);
        double max_err = 0;
        int failures = 0, ran = 0, declined = 0;
        for (int c = 0; c < g.cases; c++, ran++) {
            tconv_problem_t p;
            tc_random_problem(&rng, c, dtype, &p);
            double err = 0;
            int rc = run_case(dev, &p, c, &rng, &err);
            if (rc == 1) {
                declined++;
            } else if (rc != 0) {
                if (++failures >= MAX_REPORTED_FAILURES) {
                    print_error("%s: stopping after %d failing cases\n", label, failures);
                    ran++;
                    break;
                }
            } else if (err > max_err) {
                max_err = err;
            }
        }
        print_message("%s: %d cases, %d failed, %d declined, max rel err %.2g (tolerance %.0e, "
                      "seed %llu)\n",
                      label, ran, failures, declined, max_err, tc_tolerance(dtype),
                      (unsigned long long)g.seed);
        if (declined == ran) {
            print_error("%s: every case was declined: nothing was tested\n", label);
            failures++;
        }
        total_failures += failures;
    }
    if (total_failures)
        fail_msg("%d failing %s cases (details above)", total_failures, dname);
}

static void test_random_f32(void **state) {
    (void)state;
    run_dtype(tconv_f32);
}

static void test_random_f64(void **state) {
    (void)state;
    run_dtype(tconv_f64);
}

/* The CPU backend names its ISA at the end of driver_version ("tconv-cpu
 * avx2"). A forced ISA must be the one in effect, or every kernel but one
 * would go untested; a CPU that lacks it is a visible skip. */
static int check_isa_in_effect(const tconv_device_info_t *dev) {
    size_t len = strlen(dev->driver_version), isa_len = strlen(g.isa);
    if (len > isa_len && dev->driver_version[len - isa_len - 1] == ' ' &&
        !strcmp(dev->driver_version + len - isa_len, g.isa))
        return 0;
    int lacks = (!strcmp(g.isa, "avx512") && !__builtin_cpu_supports("avx512f")) ||
                (!strcmp(g.isa, "avx2") && !__builtin_cpu_supports("avx2"));
    if (lacks) {
        printf("skipped: this CPU has no %s (device reports '%s')\n", g.isa, dev->driver_version);
        return SKIP_EXIT_CODE;
    }
    fprintf(stderr,
            "FAILED: TCONV_CPU_ISA=%s was set but %s reports driver_version '%s' (expected it "
            "to end with ' %s')\n",
            g.isa, dev->id, dev->driver_version, g.isa);
    return 1;
}

static int usage(void) {
    fprintf(stderr, "usage: test_forward_random --backend NAME [--isa ISA] [--cases N] "
                    "[--seed S] [--plugin PATH]\n");
    return 2;
}

int main(int argc, char **argv) {
    tc_clean_environment();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allow-decline")) {
            g.allow_decline = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (!strcmp(argv[i], "--backend"))
            g.backend = argv[++i];
        else if (!strcmp(argv[i], "--isa"))
            g.isa = argv[++i];
        else if (!strcmp(argv[i], "--cases"))
            g.cases = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--plugin"))
            g.plugin = argv[++i];
        else if (!strcmp(argv[i], "--seed"))
            g.seed = strtoull(argv[++i], NULL, 10);
        else
            return usage();
    }
    /* The CPU backend reads its ISA when a context initialises it. */
    if (g.isa)
        setenv("TCONV_CPU_ISA", g.isa, 1);

    tconv_status_t st = tconv_context_create(&g.ctx, g.plugin);
    if (st != tconv_success) {
        fprintf(stderr, "tconv_context_create -> %s: %s\n", tconv_status_name(st),
                tconv_get_last_error());
        return 1;
    }
    size_t count = 0;
    tconv_context_get_device_count(g.ctx, &count);
    for (size_t i = 0; i < count && g.device_count < 16; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tconv_context_get_device_info(g.ctx, i, &info) == tconv_success &&
            !strcmp(info.backend, g.backend))
            g.devices[g.device_count++] = info;
    }
    if (g.device_count == 0) {
        const char *ci = getenv("CI");
        int in_ci = ci && (!strcmp(ci, "true") || !strcmp(ci, "1"));
        tconv_context_destroy(g.ctx);
        if (!strcmp(g.backend, "opencl") && !in_ci) {
            printf("skipped: no OpenCL platform (no device of backend 'opencl'; with CI=true "
                   "this is a failure)\n");
            return SKIP_EXIT_CODE;
        }
        fprintf(stderr, "FAILED: no device of backend '%s'%s\n", g.backend,
                in_ci ? " (CI=true requires one)" : "");
        return 1;
    }
    for (size_t d = 0; d < g.device_count; d++)
        printf("device %s: %s (%s, %s)\n", g.devices[d].id, g.devices[d].name, g.devices[d].vendor,
               g.devices[d].driver_version);
    if (g.isa && !strcmp(g.backend, "cpu")) {
        int rc = check_isa_in_effect(&g.devices[0]);
        if (rc != 0) {
            tconv_context_destroy(g.ctx);
            return rc;
        }
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_f32),
        cmocka_unit_test(test_random_f64),
    };
    int failed = cmocka_run_group_tests_name("forward_random", tests, NULL, NULL);
    tconv_context_destroy(g.ctx);
    return failed;
}
