/* SPDX-License-Identifier: Apache-2.0 */
/* The random suites' driver; see random_suite.h. */
#define _POSIX_C_SOURCE 200809L
#include "random_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A device stops after this many failing cases: the first ones say it all. */
#define MAX_REPORTED_FAILURES 8

static int usage(const tc_suite_t *s) {
    fprintf(stderr,
            "usage: %s --backend NAME [--isa avx512|avx2|c] [--dtype f32|f64] [--cases N] "
            "[--seed S] [--plugin PATH] [--allow-decline] " TC_OPENCL_FORCE_USAGE "\n",
            s->program);
    return 2;
}

static int parse_options(tc_suite_t *s, int argc, char **argv) {
    s->dtypes = TCONV_DTYPE_BIT(tconv_f32) | TCONV_DTYPE_BIT(tconv_f64);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allow-decline")) {
            s->allow_decline = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage(s);
        const char *value = argv[++i];
        const int force = tc_opencl_force_option(&s->force, argv[i - 1], value);
        if (force < 0)
            return usage(s);
        if (force > 0)
            continue;
        if (!strcmp(argv[i - 1], "--backend"))
            s->backend = value;
        else if (!strcmp(argv[i - 1], "--isa"))
            s->isa = value;
        else if (!strcmp(argv[i - 1], "--cases"))
            s->cases = atoi(value);
        else if (!strcmp(argv[i - 1], "--plugin"))
            s->plugin = value;
        else if (!strcmp(argv[i - 1], "--seed"))
            s->seed = strtoull(value, NULL, 10);
        else if (!strcmp(argv[i - 1], "--dtype") &&
                 (!strcmp(value, "f32") || !strcmp(value, "f64")))
            s->dtypes = TCONV_DTYPE_BIT(!strcmp(value, "f64") ? tconv_f64 : tconv_f32);
        else
            return usage(s);
    }
    return -1;
}

/* Rank of a CPU kernel family name: c < avx2 < avx512 (-1 if unknown). */
static int isa_rank(const char *isa) {
    static const char *const order[] = {"c", "avx2", "avx512"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(isa, order[i]))
            return i;
    return -1;
}

/* The CPU backend names its ISA at the end of driver_version ("tconv-cpu
 * avx2"). A forced ISA must be the one in effect, or every kernel but one
 * would go untested; a CPU that lacks it is a visible skip. The backend
 * falls back to the best family the CPU runs (every feature the family is
 * compiled for, common/cpu_features.h) only when the forced one is out of
 * reach, so a lower family in effect means the CPU lacks the forced one. */
static int check_isa_in_effect(const tc_suite_t *s, const tconv_device_info_t *dev) {
    size_t len = strlen(dev->driver_version), isa_len = strlen(s->isa);
    if (len > isa_len && dev->driver_version[len - isa_len - 1] == ' ' &&
        !strcmp(dev->driver_version + len - isa_len, s->isa))
        return -1;
    const char *space = strrchr(dev->driver_version, ' ');
    const int in_effect = space ? isa_rank(space + 1) : -1;
    int lacks = in_effect >= 0 && in_effect < isa_rank(s->isa);
    if (lacks) {
        /* Not tc_cannot_run: CI cannot give its runner's CPU an ISA. */
        printf("skipped: this CPU has no %s (device reports '%s')\n", s->isa, dev->driver_version);
        return TC_EXIT_SKIP;
    }
    fprintf(stderr,
            "FAILED: TCONV_CPU_ISA=%s was set but %s reports driver_version '%s' (expected it "
            "to end with ' %s')\n",
            s->isa, dev->id, dev->driver_version, s->isa);
    return 1;
}

/* With no device of the backend: OpenCL may have no platform here (a skip,
 * or a failure under CI); any other backend (cpu, a --plugin) must exist. */
static int no_device_exit_code(const tc_suite_t *s) {
    if (!strcmp(s->backend, "opencl"))
        return tc_cannot_run("no OpenCL platform (no device of backend 'opencl')");
    fprintf(stderr, "FAILED: no device of backend '%s'\n", s->backend);
    return 1;
}

/* Notes the first (device, dtype) asked for that the device lacks. */
static void note_missing_dtypes(tc_suite_t *s) {
    for (size_t d = 0; d < s->device_count && !s->unavailable[0]; d++)
        for (int dt = tconv_f32; dt <= tconv_f64 && !s->unavailable[0]; dt++)
            if ((s->dtypes & TCONV_DTYPE_BIT(dt)) && !(s->devices[d].dtypes & TCONV_DTYPE_BIT(dt)))
                snprintf(s->unavailable, sizeof s->unavailable, "%s (%s) does not support %s",
                         s->devices[d].id, s->devices[d].name, dt == tconv_f64 ? "f64" : "f32");
}

int tc_suite_open(tc_suite_t *s, int argc, char **argv) {
    tc_clean_environment();
    int rc = parse_options(s, argc, argv);
    if (rc >= 0)
        return rc;
    s->cases = tc_case_budget(s->cases);
    /* The CPU backend reads its ISA when a context initialises it. */
    if (s->isa)
        setenv("TCONV_CPU_ISA", s->isa, 1);
    /* The OpenCL backend reads these per plan (testing switches,
     * docs/internals.md). */
    tc_opencl_force_apply(&s->force);
    tconv_status_t st = tconv_context_create(&s->ctx, s->plugin);
    if (st != tconv_success) {
        fprintf(stderr, "tconv_context_create -> %s: %s\n", tconv_status_name(st),
                tconv_get_last_error());
        return 1;
    }
    size_t count = 0;
    tconv_context_get_device_count(s->ctx, &count);
    for (size_t i = 0; i < count && s->device_count < TC_SUITE_MAX_DEVICES; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tconv_context_get_device_info(s->ctx, i, &info) == tconv_success &&
            !strcmp(info.backend, s->backend))
            s->devices[s->device_count++] = info;
    }
    if (s->device_count == 0)
        rc = no_device_exit_code(s);
    for (size_t d = 0; d < s->device_count; d++)
        printf("device %s: %s (%s, %s)\n", s->devices[d].id, s->devices[d].name,
               s->devices[d].vendor, s->devices[d].driver_version);
    if (rc < 0 && s->isa && !strcmp(s->backend, "cpu"))
        rc = check_isa_in_effect(s, &s->devices[0]);
    note_missing_dtypes(s);
    if (rc >= 0)
        tc_suite_close(s);
    return rc;
}

void tc_suite_close(tc_suite_t *s) {
    tconv_context_destroy(s->ctx);
    s->ctx = NULL;
}

/* tconv_plan_create on an OpenCL device under the forced paths, reading
 * how the backend made the plan from its debug log (opencl_plan_log.h). */
static tconv_status_t create_opencl_plan(tc_suite_t *s, const tconv_device_info_t *dev,
                                         const tconv_problem_t *p, const tc_tensors_t *t,
                                         const char *where, tconv_plan_t *plan, int *wrong_path) {
    const tc_opencl_sizes_t sizes = {p->dtype, t->in_count, t->out_count, t->kernel_count,
                                     p->out_channels};
    tc_opencl_log_t log;
    tc_opencl_force_begin(&s->force, &sizes, &log);
    tconv_status_t st = tconv_plan_create(plan, s->ctx, p, dev->id);
    /* No tconv call in between: the last error stays. */
    *wrong_path = tc_opencl_force_end(&s->force, &log, st == tconv_success, where, &s->paths);
    return st;
}

int tc_suite_plan(tc_suite_t *s, const tconv_device_info_t *dev, const tconv_problem_t *p,
                  const tc_tensors_t *t, const char *where, tconv_plan_t *plan) {
    *plan = NULL;
    int wrong_path = 0;
    tconv_status_t st = !strcmp(dev->backend, "opencl")
                            ? create_opencl_plan(s, dev, p, t, where, plan, &wrong_path)
                            : tconv_plan_create(plan, s->ctx, p, dev->id);
    /* Declined, with its reason in the message: under a cap only for the
     * allocation limit the cap sets. */
    if (st == tconv_no_device && s->allow_decline &&
        (s->force.max_alloc == NULL || tc_opencl_force_declined(&s->force, tconv_get_last_error())))
        return 1;
    if (st != tconv_success) {
        fprintf(stderr, "%s\n  tconv_plan_create -> %s: %s\n", where, tconv_status_name(st),
                tconv_get_last_error());
        return -1;
    }
    if (wrong_path) {
        tconv_plan_destroy(*plan);
        *plan = NULL;
        return -1;
    }
    tconv_device_info_t used;
    memset(&used, 0, sizeof used);
    used.struct_size = sizeof used;
    if (tconv_plan_get_device_info(*plan, &used) != tconv_success || strcmp(used.id, dev->id)) {
        fprintf(stderr, "%s\n  the plan asked for %s runs on '%s'\n", where, dev->id, used.id);
        return -1;
    }
    st = tconv_plan_set_weights(*plan, t->dev_kernel, p->use_bias ? t->dev_bias : NULL);
    if (st != tconv_success) {
        fprintf(stderr, "%s\n  tconv_plan_set_weights -> %s: %s\n", where, tconv_status_name(st),
                tconv_get_last_error());
        return -1;
    }
    return 0;
}

int tc_suite_check_opencl_paths(const tc_suite_t *s, const char *label,
                                const tc_opencl_paths_t *before) {
    const tc_opencl_paths_t since = tc_opencl_paths_since(&s->paths, before);
    return tc_opencl_force_report(&s->force, label, &since);
}

int tc_suite_run_dtype(tc_suite_t *s, tconv_dtype_t dtype, tc_suite_case_fn run_case) {
    const char *dname = dtype == tconv_f64 ? "f64" : "f32";
    int total_failures = 0;
    for (size_t d = 0; d < s->device_count; d++) {
        const tconv_device_info_t *dev = &s->devices[d];
        char label[160];
        snprintf(label, sizeof label, "%s%s%s %s", dev->id, s->isa ? " isa=" : "",
                 s->isa ? s->isa : "", dname);
        if (!(dev->dtypes & TCONV_DTYPE_BIT(dtype))) {
            /* A device may lack a dtype (OpenCL without fp64): noted in
             * s->unavailable, so the entry cannot pass. */
            printf("%s: skipped: device %s does not support %s\n", label, dev->name, dname);
            continue;
        }
        const tc_opencl_paths_t paths_before = s->paths;
        tc_rng_t rng;
        tc_rng_seed(&rng, s->seed + (uint64_t)dtype);
        double max_err = 0;
        int failures = 0, ran = 0, declined = 0;
        for (int c = 0; c < s->cases; c++, ran++) {
            tconv_problem_t p;
            tc_random_problem(&rng, c, dtype, &p);
            double err = 0;
            int rc = run_case(s, dev, &p, c, &rng, &err);
            if (rc == 1) {
                declined++;
            } else if (rc != 0) {
                if (++failures >= MAX_REPORTED_FAILURES) {
                    fprintf(stderr, "%s: stopping after %d failing cases\n", label, failures);
                    ran++;
                    break;
                }
            } else if (err > max_err) {
                max_err = err;
            }
        }
        printf("%s: %d cases, %d failed, %d declined, max rel err %.2g (tolerance %.0e, "
               "seed %llu)\n",
               label, ran, failures, declined, max_err, tc_tolerance(dtype),
               (unsigned long long)s->seed);
        if (declined == ran) {
            fprintf(stderr, "%s: every case was declined: nothing was tested\n", label);
            failures++;
        }
        if (!strcmp(dev->backend, "opencl"))
            failures += tc_suite_check_opencl_paths(s, label, &paths_before);
        total_failures += failures;
    }
    return total_failures;
}

/* What the cmocka tests of tc_suite_main run (cmocka passes no context). */
static struct {
    tc_suite_t *suite;
    tc_suite_case_fn run_case;
    tc_suite_summary_fn summary;
} main_run;

static void run_dtype(tconv_dtype_t dtype) {
    int failures = tc_suite_run_dtype(main_run.suite, dtype, main_run.run_case);
    if (main_run.summary != NULL)
        main_run.summary(main_run.suite, dtype);
    if (failures)
        fail_msg("%d failing %s cases (details above)", failures,
                 dtype == tconv_f64 ? "f64" : "f32");
}

static void test_random_f32(void **state) {
    (void)state;
    run_dtype(tconv_f32);
}

static void test_random_f64(void **state) {
    (void)state;
    run_dtype(tconv_f64);
}

int tc_suite_main(tc_suite_t *s, int argc, char **argv, const char *group_name,
                  tc_suite_case_fn run_case, tc_suite_summary_fn summary) {
    int rc = tc_suite_open(s, argc, argv);
    if (rc >= 0)
        return rc;
    main_run.suite = s;
    main_run.run_case = run_case;
    main_run.summary = summary;
    const struct CMUnitTest all[] = {
        cmocka_unit_test(test_random_f32),
        cmocka_unit_test(test_random_f64),
    };
    struct CMUnitTest tests[2];
    size_t count = 0;
    if (s->dtypes & TCONV_DTYPE_BIT(tconv_f32))
        tests[count++] = all[0];
    if (s->dtypes & TCONV_DTYPE_BIT(tconv_f64))
        tests[count++] = all[1];
    int failed = _cmocka_run_group_tests(group_name, tests, count, NULL, NULL);
    return tc_suite_finish(s, failed);
}

int tc_suite_finish(tc_suite_t *s, int failed) {
    tc_suite_close(s);
    if (failed)
        return 1;
    return s->unavailable[0] ? tc_cannot_run("%s", s->unavailable) : 0;
}
