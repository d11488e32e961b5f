/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv conformance`: the conformance kit a plugin vendor runs. Every
 * framework golden case (Keras 3, TensorFlow, PyTorch, ONNX forward outputs
 * and autograd gradients, installed in share/tconv/conformance) through the
 * C API on one device, compared with the goldens; counts per framework and
 * pass, the worst error per framework, the cases the device declined.
 * Exits 0 only when at least one case ran and none failed. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "commands.h"
#include "conformance_check.h"
#include "conformance_report.h"
#include "demo_layer.h"
#include "plugin_report_names.h"
#include "status.h"

#define COMMAND "tconv conformance"

void cmd_conformance_usage(FILE *out) {
    fputs("Usage: tconv conformance [--device SEL] [--plugin FILE] [--dtype f32|f64|all]\n"
          "                         [--pass forward|backward|all] [--case GLOB] [--data DIR]\n"
          "                         [--json] [--verbose]\n"
          "The conformance kit: every framework golden case (forward outputs and gradients of\n"
          "Keras 3, TensorFlow, PyTorch and ONNX) through the C API on one device, compared\n"
          "with the goldens. Prints counts per framework and pass, the worst error per\n"
          "framework (its value, tolerance and case), every failure, and the cases the\n"
          "device declined (not supported: an f64 case without fp64, a backward case on a\n"
          "plugin without the backward slots), which are not counted as passed.\n"
          "  --device SEL    the device: an id (example:0), a backend name (its first\n"
          "                  device) or a selector; default: the --plugin's first device,\n"
          "                  else the one auto picks for the demo layer\n"
          "  --plugin FILE   load this plugin file too (before the usual search path); a\n"
          "                  file that does not load is an error with the loader's report\n"
          "  --dtype T       f32 | f64 | all (default): the cases of this dtype only\n"
          "  --pass P        forward | backward | all (default): output or gradient cases\n"
          "  --case GLOB     the cases whose name matches GLOB, a shell pattern ('torch3d_*')\n"
          "  --data DIR      the goldens (default: share/tconv/conformance of this install,\n"
          "                  the source tree's tests/conformance/data in a build tree)\n"
          "  --json          one JSON object: {\"version\", "
          "\"device\":{\"id\",\"name\",\"vendor\"},\n"
          "                  \"data\", \"filters\", \"cases\":{\"found\",\"selected\"},\n"
          "                  \"counts\":{\"passed\",\"failed\",\"not_supported\"},\n"
          "                  \"frameworks\":{NAME:{\"forward\",\"backward\",\"worst\"}},\n"
          "                  \"failures\":[{\"case\",\"framework\",\"pass\",\"message\"}],\n"
          "                  \"not_supported\":[{...,\"reason\"}], \"ok\", \"message\"}\n"
          "  --verbose       a line for every case, and every unsupported case listed\n"
          "Exit codes: 0 at least one case ran and none failed, 1 a case failed or no case\n"
          "ran (the message says why: no data, everything filtered out or declined, a\n"
          "plugin that did not load), 2 bad arguments, 3 runtime failure, 4 out of memory.\n",
          out);
}

typedef struct conformance_options {
    const char *device, *plugin, *data, *case_pattern;
    const char *dtype_name, *pass_name;
    int dtype; /* tconv_dtype_t, or -1: all */
    int pass;  /* CONFORMANCE_FORWARD/BACKWARD, or -1: all */
    int json, verbose;
    char plugin_path[PATH_MAX]; /* --plugin made absolute */
} conformance_options_t;

/* A flag or an option's value; @returns 1 taken, 0 not ours, -1 (printed). */
static int conformance_option(void *state, cli_args_t *args, const char *name) {
    static const char *const dtypes[] = {"f32", "f64", "all", "float32", "float64", NULL};
    static const char *const passes[] = {"forward", "backward", "all", NULL};
    conformance_options_t *o = state;
    int *flag = strcmp(name, "--json") == 0      ? &o->json
                : strcmp(name, "--verbose") == 0 ? &o->verbose
                                                 : NULL;
    if (flag) {
        *flag = 1;
        return cli_args_flag(args) == 0 ? 1 : -1;
    }
    const char **value = strcmp(name, "--device") == 0   ? &o->device
                         : strcmp(name, "--plugin") == 0 ? &o->plugin
                         : strcmp(name, "--data") == 0   ? &o->data
                         : strcmp(name, "--case") == 0   ? &o->case_pattern
                         : strcmp(name, "--dtype") == 0  ? &o->dtype_name
                         : strcmp(name, "--pass") == 0   ? &o->pass_name
                                                         : NULL;
    if (!value)
        return 0;
    if (cli_args_value(args, value) != 0)
        return -1;
    if ((*value)[0] == '\0') {
        cli_error(COMMAND, "%s: the value is empty", name);
        return -1;
    }
    int choice;
    if (value == &o->dtype_name) {
        if (cli_parse_choice(COMMAND, name, *value, dtypes, "f32, f64 or all", &choice) != 0)
            return -1;
        o->dtype = choice == 2 ? -1 : choice % 3 == 1 ? (int)tconv_f64 : (int)tconv_f32;
    } else if (value == &o->pass_name) {
        if (cli_parse_choice(COMMAND, name, *value, passes, "forward, backward or all", &choice) !=
            0)
            return -1;
        o->pass = choice == 2 ? -1 : choice;
    }
    return 1;
}

/* Checks the paths given: --data a directory, --plugin a regular file
 * (made absolute: the core takes absolute paths only). */
static int check_paths(conformance_options_t *o) {
    struct stat st;
    if (o->data && stat(o->data, &st) != 0) {
        cli_error(COMMAND, "--data %s: %s", o->data, strerror(errno));
        return -1;
    }
    if (o->data && !S_ISDIR(st.st_mode)) {
        cli_error(COMMAND, "--data %s: not a directory (give the directory of the case files)",
                  o->data);
        return -1;
    }
    if (!o->plugin)
        return 0;
    if (!realpath(o->plugin, o->plugin_path)) {
        cli_error(COMMAND, "--plugin %s: %s", o->plugin, strerror(errno));
        return -1;
    }
    if (stat(o->plugin_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_error(COMMAND, "--plugin %s: not a regular file (give the tconv_backend_*.so file)",
                  o->plugin);
        return -1;
    }
    if (strchr(o->plugin_path, ':')) {
        cli_error(COMMAND,
                  "--plugin %s: the path holds ':', which separates plugin search "
                  "path entries",
                  o->plugin_path);
        return -1;
    }
    return 0;
}

/* Parses the command line; returns 0, 1 after --help, or -1 (printed). */
static int parse_options(int argc, char **argv, conformance_options_t *o) {
    memset(o, 0, sizeof *o);
    o->dtype = o->pass = -1;
    o->dtype_name = o->pass_name = "all";
    const int rc =
        cli_args_parse(COMMAND, argc, argv, cmd_conformance_usage, conformance_option, o);
    if (rc != 0)
        return rc;
    return check_paths(o);
}

/* The installed goldens: share/tconv/conformance found from this program's
 * own location (the install is relocatable; in a build tree it is a link
 * to the source tree's data). */
static void default_data_dir(char *out, size_t size) {
    char *exe = realpath("/proc/self/exe", NULL);
    char *slash = exe ? strrchr(exe, '/') : NULL;
    if (slash)
        *slash = '\0';
    snprintf(out, size, "%s/%s", slash ? exe : ".", TCONV_CONFORMANCE_DATA_FROM_BIN);
    free(exe);
    char *real = realpath(out, NULL);
    if (real) {
        snprintf(out, size, "%s", real);
        free(real);
    }
}

/* Checks that the --plugin file was loaded; its backend name goes to
 * @p backend. @returns an exit code (printed unless CLI_EXIT_OK). */
static int check_plugin(tconv_context_t ctx, const conformance_options_t *o, char *backend,
                        size_t backend_size) {
    size_t n = 0;
    tconv_status_t st = tconv_context_get_plugin_count(ctx, &n);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "plugin reports", st);
    for (size_t i = 0; i < n; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        if (tconv_context_get_plugin_report(ctx, i, &r) != tconv_success)
            continue;
        char *real = realpath(r.path, NULL);
        const int same = strcmp(real ? real : r.path, o->plugin_path) == 0;
        free(real);
        if (!same)
            continue;
        if (r.state == tconv_plugin_loaded) {
            snprintf(backend, backend_size, "%s", r.name);
            return CLI_EXIT_OK;
        }
        cli_error(COMMAND, "--plugin %s: not loaded (%s, %s): %s", o->plugin,
                  plugin_state_name(r.state), plugin_reason_name(r.reason), r.message);
        return CLI_EXIT_CHECK_FAILED;
    }
    cli_error(COMMAND, "--plugin %s: the plugin loader did not consider it (see tconv devices)",
              o->plugin);
    return CLI_EXIT_CHECK_FAILED;
}

/* The device @p selector names: a device id or a backend name (its first
 * device) directly, anything else as the library's selection for the demo
 * layer. @returns an exit code (printed unless CLI_EXIT_OK). */
static int choose_device(tconv_context_t ctx, const char *selector, int given,
                         tconv_device_info_t *device) {
    size_t n = 0;
    tconv_status_t st = tconv_context_get_device_count(ctx, &n);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "devices", st);
    for (int by_backend = 0; by_backend < 2; by_backend++) {
        for (size_t i = 0; i < n; i++) {
            memset(device, 0, sizeof *device);
            device->struct_size = sizeof *device;
            if (tconv_context_get_device_info(ctx, i, device) == tconv_success &&
                strcmp(by_backend ? device->backend : device->id, selector) == 0)
                return CLI_EXIT_OK;
        }
    }
    tconv_problem_t problem;
    size_t index = 0;
    char reason[2048];
    st = demo_layer_problem(&problem);
    if (st == tconv_success)
        st = tconv_context_select_device(ctx, &problem, selector, &index, reason, sizeof reason);
    if (st == tconv_success) {
        memset(device, 0, sizeof *device);
        device->struct_size = sizeof *device;
        st = tconv_context_get_device_info(ctx, index, device);
    }
    if (st == tconv_success)
        return CLI_EXIT_OK;
    if (st == tconv_out_of_memory)
        return cli_error_out_of_memory(COMMAND, "choosing the device");
    if (given) {
        cli_error(COMMAND, "--device: %s", tconv_get_last_error());
        return CLI_EXIT_BAD_INPUT;
    }
    cli_error(COMMAND, "0 cases run: no device to run them on (%s); see tconv devices",
              tconv_get_last_error());
    return CLI_EXIT_CHECK_FAILED;
}

/* Whether a case of @p dtype and @p pass named @p name is one to run. */
static int selected(const conformance_options_t *o, const char *name, int dtype, int pass) {
    return (o->dtype < 0 || o->dtype == dtype) && (o->pass < 0 || o->pass == pass) &&
           (!o->case_pattern || fnmatch(o->case_pattern, name, 0) == 0);
}

/* The case name of a file that could not be read: its file name without
 * ".json". */
static void name_from_path(const char *path, char *name, size_t size) {
    const char *slash = strrchr(path, '/');
    snprintf(name, size, "%s", slash ? slash + 1 : path);
    size_t len = strlen(name);
    if (len > 5)
        name[len - 5] = '\0';
}

typedef struct conformance_run {
    tconv_context_t ctx;
    const conformance_options_t *options;
    const char *device;
    FILE *progress; /* FAIL lines (and every case with --verbose) */
    conformance_report_t report;
    size_t selected;
} conformance_run_t;

/* Loads, filters, runs and counts one case file. @returns 0, or -1 when
 * out of memory. */
static int run_case_file(conformance_run_t *run, const char *path) {
    const conformance_options_t *o = run->options;
    conformance_case_t c;
    conformance_arrays_t arrays;
    conformance_result_t result;
    char message[1024];
    conformance_result_init(&result);
    if (case_load(path, &c, message, sizeof message) != 0) {
        /* An unreadable case fails whatever the dtype and pass filters
         * say: a damaged data set must not pass. */
        name_from_path(path, c.name, sizeof c.name);
        if (o->case_pattern && fnmatch(o->case_pattern, c.name, 0) != 0)
            return 0;
        snprintf(c.framework, sizeof c.framework, "unknown");
        c.gradient = strncmp(c.name, "grad_", 5) == 0;
        conformance_fail(&result, "case file %s: %s", path, message);
    } else {
        if (!selected(o, c.name, (int)c.problem.dtype,
                      c.gradient ? CONFORMANCE_BACKWARD : CONFORMANCE_FORWARD))
            return 0;
        if (conformance_arrays_load(&c, &arrays, message, sizeof message) != 0) {
            conformance_fail(&result, "case files: %s", message);
        } else {
            conformance_run_api(run->ctx, &c, &arrays, run->device, &result);
            conformance_arrays_free(&arrays);
        }
    }
    run->selected++;
    const int pass = c.gradient ? CONFORMANCE_BACKWARD : CONFORMANCE_FORWARD;
    if (run->progress)
        conformance_print_case(run->progress, c.name, c.framework, pass, &result, o->verbose);
    return conformance_report_add(&run->report, c.name, c.framework, pass, &result);
}

/* Why no case ran, for the message and the JSON "message". */
static void zero_reason(const conformance_run_t *run, const conformance_run_info_t *info, char *out,
                        size_t size) {
    const conformance_options_t *o = run->options;
    if (info->cases_found == 0)
        snprintf(out, size, "0 cases: no case files (*.json) in %s", info->data_dir);
    else if (run->selected == 0)
        snprintf(out, size, "0 cases: none of the %zu cases in %s matches --dtype %s --pass %s%s%s",
                 info->cases_found, info->data_dir, o->dtype_name, o->pass_name,
                 o->case_pattern ? " --case " : "", o->case_pattern ? o->case_pattern : "");
    else
        snprintf(out, size, "0 cases run: %s declined all %zu selected cases (not supported)",
                 run->device, run->selected);
}

/* Runs every case of the data directory on the chosen device and prints
 * the report. @returns the exit code. */
static int run_cases(conformance_run_t *run, const tconv_device_info_t *device,
                     const char *data_dir) {
    const conformance_options_t *o = run->options;
    char **paths = NULL;
    size_t count = 0;
    if (case_list(data_dir, &paths, &count) != 0) {
        if (errno == ENOMEM)
            return cli_error_out_of_memory(COMMAND, "listing the cases");
        if (o->data) {
            cli_error(COMMAND, "--data %s: %s", data_dir, strerror(errno));
            return CLI_EXIT_BAD_INPUT;
        }
    }
    conformance_run_info_t info = {
        .device_id = device->id,
        .device_name = device->name,
        .device_vendor = device->vendor,
        .data_dir = data_dir,
        .dtype = o->dtype_name,
        .pass = o->pass_name,
        .case_pattern = o->case_pattern,
        .cases_found = count,
        .verbose = o->verbose,
    };
    if (!o->json)
        printf("tconv conformance %s: device %s (%s, %s)\ngoldens: %s (%zu cases; --dtype %s "
               "--pass %s%s%s)\n",
               tconv_get_version(NULL, NULL, NULL), device->id, device->name, device->vendor,
               data_dir, count, o->dtype_name, o->pass_name, o->case_pattern ? " --case " : "",
               o->case_pattern ? o->case_pattern : "");
    run->progress = o->json ? (o->verbose ? stderr : NULL) : stdout;
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < count && rc == CLI_EXIT_OK; i++)
        if (run_case_file(run, paths[i]) != 0)
            rc = cli_error_out_of_memory(COMMAND, "counting the results");
    case_list_free(paths, count);
    if (rc != CLI_EXIT_OK)
        return rc;
    info.cases_selected = run->selected;
    char reason[PATH_MAX + 256];
    const int none_ran = conformance_report_ran(&run->report) == 0;
    if (none_ran) {
        if (!o->data && count == 0)
            snprintf(reason, sizeof reason,
                     "0 cases: no conformance data at %s (tconv was installed without "
                     "TCONV_INSTALL_CONFORMANCE; give --data DIR)",
                     data_dir);
        else
            zero_reason(run, &info, reason, sizeof reason);
        info.zero_reason = reason;
    }
    if (o->json)
        conformance_print_json(stdout, &run->report, &info);
    else
        conformance_print_text(stdout, &run->report, &info);
    if (none_ran) {
        cli_error(COMMAND, "%s", reason);
        return CLI_EXIT_CHECK_FAILED;
    }
    return run->report.total.failed ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
}

int cmd_conformance(int argc, char **argv) {
    conformance_options_t o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
    char data_dir[PATH_MAX];
    if (o.data)
        snprintf(data_dir, sizeof data_dir, "%s", o.data);
    else
        default_data_dir(data_dir, sizeof data_dir);

    tconv_context_options_t options;
    tconv_context_options_init(&options);
    options.search_path = o.plugin ? o.plugin_path : NULL;
    tconv_context_t ctx = NULL;
    tconv_status_t st = tconv_context_create_with_options(&ctx, &options);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    char backend[64] = "";
    tconv_device_info_t device;
    rc = o.plugin ? check_plugin(ctx, &o, backend, sizeof backend) : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK) {
        const char *selector = o.device ? o.device : backend[0] ? backend : "auto";
        rc = choose_device(ctx, selector, o.device != NULL, &device);
    }
    if (rc == CLI_EXIT_OK) {
        conformance_run_t run;
        memset(&run, 0, sizeof run);
        run.ctx = ctx;
        run.options = &o;
        run.device = device.id;
        conformance_report_init(&run.report);
        rc = run_cases(&run, &device, data_dir);
        conformance_report_free(&run.report);
    }
    tconv_context_destroy(ctx);
    return rc;
}
