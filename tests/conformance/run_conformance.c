/* SPDX-License-Identifier: Apache-2.0 */
/* Runs every conformance case (tests/conformance/data, written by
 * generate.py from the real frameworks) on every device tconv finds, through
 * the C API and/or the `tconv run` command, and compares with the golden
 * outputs. Cases the framework refused must be refused: the C API with
 * tconv_invalid_arguments, the CLI with exit status 2. Gradient cases run
 * tconv_plan_execute_backward on a plan with TCONV_PASS_TRAINING (and
 * `tconv backward`) and compare dL/dx, dL/dw and dL/db with the framework's
 * autograd.
 *
 * Usage: run_conformance [--api] [--cli PATH/TO/tconv] [--cli-every N]
 *                        [--sample-every N] [--devices ID,ID...]
 *                        [--opencl-staging copy]
 *                        [--opencl-max-alloc BYTES|half] DATA_DIR
 * The OpenCL backend compiles one program per problem (about a second each on
 * PoCL, cached afterwards), so ctest runs a sample of the cases on devices
 * other than the native CPU; TCONV_CONFORMANCE_FULL=1 runs every case.
 * Prints one line per framework, device, path and kind (outputs, gradients),
 * then "N passed, M failed". A device and path on which no case of a kind
 * ran is a failure. The ctest entries name their device (--devices cpu:0,
 * --devices opencl:0): a listed device that is not there, or float64 cases
 * a device cannot run, make the run exit 77 once nothing failed (a failure
 * under CI=true: tc_cannot_run, tests/README.md).
 *
 * --opencl-staging copy and --opencl-max-alloc force the OpenCL paths a
 * discrete GPU takes, as in the random suites and with their code
 * (tests/common/opencl_plan_log.h): every OpenCL plan staged through
 * device buffers, and allocations capped (half: per case, at half its
 * larger tensor), so plans tile. API path only. Each API case on an OpenCL
 * device is proven to take the path: a plan made in place under copy is a
 * failure; under a cap at least one plan per device must have more than
 * one tile, and a case the device declines for the allocation limit is
 * counted as declined (never as passed; every other decline fails). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_invoke.h"
#include "conformance_case.h"
#include "conformance_check.h"
#include "npy.h"
#include "opencl_plan_log.h"
#include "tconv/tconv.h"
#include "test_support.h"

#define MAX_DEVICES         16
#define MAX_FAILURE_REPORTS 60
#define MAX_DECLINE_REPORTS 10

static const char *const FRAMEWORKS[] = {"keras", "tensorflow", "torch", "onnx"};
#define N_FRAMEWORKS 4
enum { PATH_API = 0, PATH_CLI = 1 };
/* What a case checks: the forward output, or the three gradients. */
enum { KIND_FORWARD = 0, KIND_GRADIENT = 1, N_KINDS = 2 };
static const char *const KIND_SUFFIX[N_KINDS] = {"", " gradients"};

/* declined: the device declined for the allocation cap the run forces. */
typedef enum outcome { outcome_pass, outcome_fail, outcome_skip, outcome_declined } outcome_t;

typedef struct tally {
    long passed, failed, skipped, declined;
} tally_t;

typedef struct device {
    char id[64];
    int has_f64;
    int sampled;             /* not the native CPU backend: every sample_every-th case only */
    int opencl;              /* backend opencl: the forced paths apply */
    tc_opencl_paths_t paths; /* its API plans, as the plan lines say */
} device_t;

/* The largest errors seen for one kind of case. */
typedef struct error_stats {
    double worst_ratio; /* largest error / tolerance */
    char worst_where[256];
    double worst_abs[3]; /* largest |error| per dtype (index tconv_f32, tconv_f64) */
} error_stats_t;

/* Everything the run accumulates. */
typedef struct run {
    tconv_context_t context;
    device_t devices[MAX_DEVICES];
    size_t device_count;
    const char *only;        /* comma list of device ids to run, or NULL for all */
    const char *cli;         /* tconv executable, or NULL */
    int api;                 /* run through the C API */
    int cli_every;           /* CLI: every Nth non-error case (error cases always) */
    int sample_every;        /* devices other than the native CPU: every Nth non-error case */
    tc_opencl_force_t force; /* --opencl-staging, --opencl-max-alloc (API path) */
    char temp_dir[256];      /* CLI outputs and logs */
    tally_t tally[N_FRAMEWORKS][MAX_DEVICES][2][N_KINDS];
    long failure_reports;
    long decline_reports;
    error_stats_t stats[N_KINDS];
} run_t;

static void report_failure(run_t *run, const char *path, const char *device,
                           const conformance_case_t *c, const char *fmt, ...) {
    if (run->failure_reports++ >= MAX_FAILURE_REPORTS)
        return;
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("FAIL %s %s %s: %s\n", c->name, device, path, text);
}

static int framework_index(const char *name) {
    for (int i = 0; i < N_FRAMEWORKS; i++)
        if (strcmp(name, FRAMEWORKS[i]) == 0)
            return i;
    return -1;
}

/* Keeps the errors of a compared result for the closing lines. */
static void note_errors(run_t *run, const conformance_case_t *c, const char *device,
                        const char *path, const conformance_result_t *r) {
    if (!r->compared)
        return;
    error_stats_t *stats = &run->stats[c->gradient ? KIND_GRADIENT : KIND_FORWARD];
    double *worst = &stats->worst_abs[c->problem.dtype == tconv_f64 ? 2 : 1];
    if (r->max_error > *worst)
        *worst = r->max_error;
    double ratio = r->worst_tolerance > 0 ? r->worst_error / r->worst_tolerance : 0.0;
    if (ratio > stats->worst_ratio) {
        stats->worst_ratio = ratio;
        snprintf(stats->worst_where, sizeof stats->worst_where,
                 "%s %s on %s (%s): |error| %.3g, tolerance %.3g", c->name, r->worst_what, device,
                 path, r->worst_error, r->worst_tolerance);
    }
}

/* The outcome of a checked case: its errors noted, a failure reported
 * (with the command line for the CLI path); a declined case is skipped only
 * where the device has no float64, else it fails (every device must run
 * every case it has the dtype for). */
static outcome_t finish(run_t *run, const conformance_case_t *c, const device_t *dev,
                        const char *path, const conformance_result_t *r, const char *command) {
    note_errors(run, c, dev->id, path, r);
    if (r->outcome == conformance_passed)
        return outcome_pass;
    if (r->outcome == conformance_unsupported && c->problem.dtype == tconv_f64 && !dev->has_f64)
        return outcome_skip;
    if (r->outcome == conformance_unsupported && dev->opencl &&
        tc_opencl_force_declined(&run->force, r->message)) {
        if (run->decline_reports++ < MAX_DECLINE_REPORTS)
            printf("declined %s %s %s: %s\n", c->name, dev->id, path, r->message);
        return outcome_declined;
    }
    report_failure(run, path, dev->id, c, "%s%s%s%s",
                   r->outcome == conformance_unsupported ? "declined: " : "", r->message,
                   command ? ": " : "", command ? command : "");
    return outcome_fail;
}

/* A case through the API on an OpenCL device under the forced paths: the
 * cap set for its tensors, and its plan lines read (into dev->paths) and
 * checked. */
static outcome_t forced_api_case(run_t *run, const conformance_case_t *c,
                                 const conformance_arrays_t *a, device_t *dev) {
    const tc_opencl_sizes_t sizes = {
        c->problem.dtype, (int64_t)a->input.count,
        (int64_t)(c->gradient ? a->grad_output.count : a->golden.count), (int64_t)a->kernel.count,
        c->problem.out_channels};
    conformance_result_t r;
    tc_opencl_log_t log;
    fflush(stdout); /* the checks below write to stderr */
    tc_opencl_force_begin(&run->force, &sizes, &log);
    conformance_run_api(run->context, c, a, dev->id, &r);
    char where[300];
    snprintf(where, sizeof where, "FAIL %s %s api:", c->name, dev->id);
    const int made_plan = r.outcome != conformance_unsupported;
    if (tc_opencl_force_end(&run->force, &log, made_plan, where, &dev->paths) != 0) {
        run->failure_reports++;
        return outcome_fail;
    }
    return finish(run, c, dev, "api", &r, NULL);
}

static outcome_t api_case(run_t *run, const conformance_case_t *c, const conformance_arrays_t *a,
                          device_t *dev) {
    if (dev->opencl && tc_opencl_force_any(&run->force) && !c->expect_error)
        return forced_api_case(run, c, a, dev);
    conformance_result_t r;
    conformance_run_api(run->context, c, a, dev->id, &r);
    return finish(run, c, dev, "api", &r, NULL);
}

static void print_log(const char *log_path) {
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[512];
    for (int n = 0; n < 6 && fgets(line, sizeof line, f); n++)
        printf("    | %s", line);
    fclose(f);
}

/* The outcome of a CLI run that exited with @p code != 0: skipped where the
 * device has no float64, else a failure reported with the command and the
 * start of its log. */
static outcome_t cli_failed(run_t *run, const conformance_case_t *c, const device_t *dev, int code,
                            const char *message, const char *command, const char *log_path) {
    if (c->problem.dtype == tconv_f64 && !dev->has_f64)
        return outcome_skip;
    report_failure(run, "cli", dev->id, c, "exit status %d %s: %s", code, code < 0 ? message : "",
                   command);
    print_log(log_path);
    return outcome_fail;
}

/* Reads a result array the CLI wrote to @p file and checks its shape
 * against @p golden. @returns 0, or -1 (recorded in @p r). */
static int read_cli_result(const conformance_case_t *c, const char *what, const char *file,
                           const npy_array_t *golden, npy_array_t *got, conformance_result_t *r) {
    char message[512];
    npy_dtype_t want = c->problem.dtype == tconv_f64 ? npy_f64 : npy_f32;
    if (npy_read(file, want, got, message, sizeof message) != npy_ok) {
        conformance_fail(r, "reading its %s: %s", what, message);
        return -1;
    }
    int same = got->ndim == golden->ndim;
    for (int i = 0; same && i < got->ndim; i++)
        same = got->shape[i] == golden->shape[i];
    if (same)
        return 0;
    char s1[128], s2[128];
    npy_shape_text(got->shape, got->ndim, s1, sizeof s1);
    npy_shape_text(golden->shape, golden->ndim, s2, sizeof s2);
    conformance_fail(r, "%s shape %s, the framework's %s", what, s1, s2);
    return -1;
}

static outcome_t cli_case(run_t *run, const conformance_case_t *c, const conformance_arrays_t *a,
                          const device_t *dev) {
    conformance_result_t r;
    conformance_result_init(&r);
    if (!c->expect_error && conformance_check_shapes(c, a, &r) != 0)
        return finish(run, c, dev, "cli", &r, NULL);
    char out_path[512], log_path[512], command[4096], message[512];
    snprintf(out_path, sizeof out_path, "%s/out.npy", run->temp_dir);
    snprintf(log_path, sizeof log_path, "%s/log.txt", run->temp_dir);
    unlink(out_path);
    int code = cli_run_case(run->cli, c, dev->id, out_path, log_path, command, sizeof command,
                            message, sizeof message);
    if (c->expect_error) {
        if (code == 2)
            return outcome_pass;
        report_failure(run, "cli", dev->id, c, "exit status %d, expected 2: %s", code, command);
        print_log(log_path);
        return outcome_fail;
    }
    if (code != 0)
        return cli_failed(run, c, dev, code, message, command, log_path);
    npy_array_t got;
    memset(&got, 0, sizeof got);
    if (read_cli_result(c, "output", out_path, &a->golden, &got, &r) == 0)
        conformance_compare_output(c, a, got.data, &r);
    npy_array_free(&got);
    return finish(run, c, dev, "cli", &r, command);
}

/* A gradient case through `tconv backward`, all three gradients at once. */
static outcome_t cli_gradient_case(run_t *run, const conformance_case_t *c,
                                   const conformance_arrays_t *a, const device_t *dev) {
    conformance_result_t r;
    conformance_result_init(&r);
    if (conformance_check_shapes(c, a, &r) != 0)
        return finish(run, c, dev, "cli", &r, NULL);
    char paths[CONFORMANCE_GRADS][512], log_path[512], command[4096], message[512];
    const char *grad_paths[CONFORMANCE_GRADS];
    for (int g = 0; g < CONFORMANCE_GRADS; g++) {
        snprintf(paths[g], sizeof paths[g], "%s/%s.npy", run->temp_dir, conformance_grad_names[g]);
        unlink(paths[g]);
        grad_paths[g] = paths[g];
    }
    snprintf(log_path, sizeof log_path, "%s/log.txt", run->temp_dir);
    int code = cli_backward_case(run->cli, c, dev->id, grad_paths, log_path, command,
                                 sizeof command, message, sizeof message);
    if (code != 0)
        return cli_failed(run, c, dev, code, message, command, log_path);
    npy_array_t got[CONFORMANCE_GRADS];
    memset(got, 0, sizeof got);
    int read = 0;
    for (int g = 0; g < CONFORMANCE_GRADS && read == 0; g++)
        if (g != CONFORMANCE_GRAD_BIAS || a->has_bias)
            read =
                read_cli_result(c, conformance_grad_names[g], paths[g], &a->grads[g], &got[g], &r);
    if (read == 0) {
        const void *data[CONFORMANCE_GRADS] = {got[0].data, got[1].data, got[2].data};
        conformance_compare_gradients(c, a, data, &r);
    }
    for (int g = 0; g < CONFORMANCE_GRADS; g++) {
        npy_array_free(&got[g]);
        unlink(paths[g]);
    }
    return finish(run, c, dev, "cli", &r, command);
}

static void count(tally_t *t, outcome_t o) {
    if (o == outcome_pass)
        t->passed++;
    else if (o == outcome_fail)
        t->failed++;
    else if (o == outcome_declined)
        t->declined++;
    else
        t->skipped++;
}

/* Runs one case file on every device; returns -1 if it could not be read. */
static int run_case_file(run_t *run, const char *json_path, long ordinal) {
    conformance_case_t c;
    char message[1024];
    if (case_load(json_path, &c, message, sizeof message) != 0) {
        printf("FAIL %s: %s\n", json_path, message);
        return -1;
    }
    int fw = framework_index(c.framework);
    if (fw < 0) {
        printf("FAIL %s: unknown framework '%s'\n", c.name, c.framework);
        return -1;
    }
    conformance_arrays_t a;
    if (conformance_arrays_load(&c, &a, message, sizeof message) != 0) {
        printf("FAIL %s: %s\n", c.name, message);
        return -1;
    }
    int kind = c.gradient ? KIND_GRADIENT : KIND_FORWARD;
    for (size_t d = 0; d < run->device_count; d++) {
        device_t *dev = &run->devices[d];
        if (dev->sampled && !c.expect_error && ordinal % run->sample_every != 0)
            continue;
        if (run->api)
            count(&run->tally[fw][d][PATH_API][kind], api_case(run, &c, &a, dev));
        if (run->cli && (c.expect_error || ordinal % run->cli_every == 0))
            count(&run->tally[fw][d][PATH_CLI][kind],
                  c.gradient ? cli_gradient_case(run, &c, &a, dev) : cli_case(run, &c, &a, dev));
    }
    conformance_arrays_free(&a);
    return 0;
}

/* Whether @p id is an item of the comma-separated @p list. */
static int listed(const char *list, const char *id) {
    size_t n = strlen(id);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, id, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Lists the devices (those of --devices only, when given). */
static void find_devices(run_t *run) {
    size_t n = 0;
    tconv_context_get_device_count(run->context, &n);
    for (size_t i = 0; i < n && run->device_count < MAX_DEVICES; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        if (tconv_context_get_device_info(run->context, i, &info) != tconv_success)
            continue;
        if (run->only && !listed(run->only, info.id))
            continue;
        device_t *d = &run->devices[run->device_count++];
        snprintf(d->id, sizeof d->id, "%s", info.id);
        d->has_f64 = (info.dtypes & TCONV_DTYPE_BIT(tconv_f64)) != 0;
        d->sampled = strcmp(info.backend, "cpu") != 0 && run->sample_every > 1;
        d->opencl = strcmp(info.backend, "opencl") == 0;
        printf("device %s: %s (%s)%s%s\n", info.id, info.name, info.vendor,
               d->has_f64 ? "" : ", no float64",
               d->sampled ? ": a sample of the cases (TCONV_CONFORMANCE_FULL=1 runs all)" : "");
    }
}

/* Why there is no device of @p id's backend, from its plugin's report. */
static void absence_reason(tconv_context_t context, const char *id, char *out, size_t size) {
    char file[80];
    snprintf(file, sizeof file, "/tconv_backend_%.*s.so", (int)strcspn(id, ":"), id);
    snprintf(out, size, "no such device");
    size_t n = 0;
    tconv_context_get_plugin_count(context, &n);
    for (size_t i = 0; i < n; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        if (tconv_context_get_plugin_report(context, i, &r) == tconv_success &&
            strstr(r.path, file) && r.state != tconv_plugin_loaded && r.message[0])
            snprintf(out, size, "%s", r.message);
    }
}

/* The devices --devices lists that the context does not have, each with
 * why, into @p out ("" when every one is there). */
static void missing_devices(const run_t *run, char *out, size_t size) {
    out[0] = '\0';
    for (const char *p = run->only; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)strcspn(p, ","), p);
        int found = 0;
        for (size_t d = 0; d < run->device_count && !found; d++)
            found = strcmp(run->devices[d].id, id) == 0;
        if (found)
            continue;
        char why[600];
        absence_reason(run->context, id, why, sizeof why);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%sno device %s (%s)", used ? "; " : "", id, why);
    }
}

static void usage(FILE *out) {
    fputs("usage: run_conformance [--api] [--cli PATH/TO/tconv] [--cli-every N]\n"
          "                       [--sample-every N] [--devices ID,ID...]\n"
          "                       " TC_OPENCL_FORCE_USAGE " DATA_DIR\n"
          "  --api             run the cases through the C API\n"
          "  --cli PATH        run them through `PATH run ...` (the tconv command)\n"
          "  --cli-every N     CLI: every Nth case only (error cases always)\n"
          "  --sample-every N  devices other than the native CPU backend: every Nth case\n"
          "                    (error cases always); TCONV_CONFORMANCE_FULL=1 forces all\n"
          "  --devices LIST    only these device ids (default: every device)\n"
          "  --opencl-staging copy\n"
          "                    API path, OpenCL devices: every plan staged through device\n"
          "                    buffers (TCONV_OPENCL_NO_IN_PLACE); a plan made in place fails\n"
          "  --opencl-max-alloc BYTES|half\n"
          "                    API path, OpenCL devices: allocations capped (half: at half\n"
          "                    the case's larger tensor), so plans tile; one plan at least\n"
          "                    must tile; declines for the cap are counted apart\n",
          out);
}

int main(int argc, char **argv) {
    static run_t run;
    const char *data_dir = NULL;
    run.cli_every = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--api") == 0)
            run.api = 1;
        else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
            run.cli = argv[++i];
        else if (strcmp(argv[i], "--sample-every") == 0 && i + 1 < argc)
            run.sample_every = atoi(argv[++i]);
        else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
            run.only = argv[++i];
        else if (strcmp(argv[i], "--cli-every") == 0 && i + 1 < argc)
            run.cli_every = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (i + 1 < argc && tc_opencl_force_option(&run.force, argv[i], argv[i + 1]) > 0)
            i++;
        else if (argv[i][0] != '-' && !data_dir)
            data_dir = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    const char *full = getenv("TCONV_CONFORMANCE_FULL");
    if (full && strcmp(full, "1") == 0)
        run.sample_every = run.cli_every = 1;
    if (!data_dir || (!run.api && !run.cli)) {
        usage(stderr);
        return 2;
    }
    if (tc_opencl_force_any(&run.force) && (!run.api || run.cli)) {
        /* The CLI runs in another process: nothing there would prove the
         * path its plans took. */
        fprintf(stderr, "run_conformance: --opencl-staging and --opencl-max-alloc apply to the "
                        "API path: give --api and no --cli\n");
        return 2;
    }
    /* The devices are the ones the build tree provides, whatever the shell holds. */
    unsetenv("TCONV_PLUGINS");
    unsetenv("TCONV_PLUGIN_PATH");
    unsetenv("TCONV_DEVICE");
    unsetenv("TCONV_VERBOSE");
    unsetenv("TCONV_OPENCL_NO_IN_PLACE");
    unsetenv("TCONV_OPENCL_MAX_ALLOC");
    /* The OpenCL backend reads these at every plan (docs/internals.md). */
    tc_opencl_force_apply(&run.force);

    if (tconv_context_create(&run.context, NULL) != tconv_success) {
        printf("FAIL: tconv_context_create: %s\n0 passed, 1 failed\n", tconv_get_last_error());
        return 1;
    }
    long extra_failures = 0;
    find_devices(&run);
    char missing[2048];
    missing_devices(&run, missing, sizeof missing);
    if (missing[0] && run.device_count == 0) {
        tconv_context_destroy(run.context);
        return tc_cannot_run("%s", missing);
    }
    int forced_devices = 0;
    for (size_t d = 0; d < run.device_count; d++)
        forced_devices += run.devices[d].opencl;
    if (tc_opencl_force_any(&run.force) && forced_devices == 0 && !missing[0]) {
        printf("FAIL: --opencl-staging / --opencl-max-alloc given, but no OpenCL device is in "
               "the run\n");
        extra_failures++;
    }
    if (run.cli) {
        const char *tmp = getenv("TMPDIR");
        snprintf(run.temp_dir, sizeof run.temp_dir, "%s/tconv-conformance-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(run.temp_dir)) {
            printf("FAIL: cannot create a temporary directory\n0 passed, 1 failed\n");
            return 1;
        }
    }
    size_t n_cases = 0;
    char **cases = NULL;
    if (case_list(data_dir, &cases, &n_cases) != 0 || n_cases == 0) {
        printf("FAIL: no case files in %s\n", data_dir);
        extra_failures++;
    }
    for (size_t i = 0; i < n_cases; i++)
        if (run_case_file(&run, cases[i], (long)i) != 0)
            extra_failures++;
    case_list_free(cases, n_cases);

    long passed = 0, failed = extra_failures, skipped = 0, declined = 0;
    static const char *const path_names[] = {"api", "cli"};
    for (int k = 0; k < N_KINDS; k++) {
        for (int p = 0; p < 2; p++) {
            if (!(p == PATH_API ? run.api : run.cli != NULL))
                continue;
            for (size_t d = 0; d < run.device_count; d++) {
                long ran = 0;
                for (int f = 0; f < N_FRAMEWORKS; f++) {
                    tally_t *t = &run.tally[f][d][p][k];
                    if (t->passed + t->failed + t->skipped + t->declined == 0)
                        continue;
                    printf("%s %s %s%s: %ld passed, %ld failed", FRAMEWORKS[f], run.devices[d].id,
                           path_names[p], KIND_SUFFIX[k], t->passed, t->failed);
                    if (t->skipped)
                        printf(", %ld skipped (float64 unsupported)", t->skipped);
                    if (t->declined)
                        printf(", %ld declined (allocation cap)", t->declined);
                    printf("\n");
                    passed += t->passed;
                    failed += t->failed;
                    skipped += t->skipped;
                    declined += t->declined;
                    ran += t->passed + t->failed;
                }
                if (ran == 0) { /* an empty or filtered data set must not pass */
                    printf("FAIL: no %s case ran on %s through the %s\n",
                           k == KIND_GRADIENT ? "gradient" : "forward", run.devices[d].id,
                           path_names[p]);
                    failed++;
                }
            }
        }
    }
    if (run.api && tc_opencl_force_any(&run.force))
        for (size_t d = 0; d < run.device_count; d++) {
            if (!run.devices[d].opencl)
                continue;
            char label[120];
            snprintf(label, sizeof label, "%s api", run.devices[d].id);
            if (tc_opencl_force_report(&run.force, label, &run.devices[d].paths) != 0) {
                printf("FAIL: %s: the forced tiling was not taken (above)\n", label);
                failed++;
            }
        }
    if (run.failure_reports > MAX_FAILURE_REPORTS)
        printf("(%ld more failures not shown)\n", run.failure_reports - MAX_FAILURE_REPORTS);
    for (int k = 0; k < N_KINDS; k++) {
        const error_stats_t *st = &run.stats[k];
        printf("%s largest |error|: float32 %.3g, float64 %.3g; closest to its tolerance: %s "
               "(%.3g of it)\n",
               k == KIND_GRADIENT ? "gradients" : "outputs", st->worst_abs[1], st->worst_abs[2],
               st->worst_where[0] ? st->worst_where : "-", st->worst_ratio);
    }
    if (run.cli) {
        char path[512];
        snprintf(path, sizeof path, "%s/out.npy", run.temp_dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/log.txt", run.temp_dir);
        unlink(path);
        rmdir(run.temp_dir);
    }
    tconv_context_destroy(run.context);
    printf("%ld passed, %ld failed", passed, failed);
    if (skipped)
        printf(", %ld skipped", skipped);
    if (declined)
        printf(", %ld declined", declined);
    printf("\n");
    if (failed)
        return 1;
    if (missing[0])
        return tc_cannot_run("%s", missing);
    if (skipped)
        return tc_cannot_run("%ld float64 case(s) a device cannot run (above)", skipped);
    return 0;
}
