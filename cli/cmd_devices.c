/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv devices`: every device, what `auto` would pick for the demo layer
 * and why, and every plugin candidate that was skipped or failed. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "demo_layer.h"
#include "json.h"
#include "plugin_report_names.h"
#include "status.h"
#include "tconv/tconv_backend.h"

#define COMMAND "tconv devices"

void cmd_devices_usage(FILE *out) {
    fputs("Usage: tconv devices [--json] [--device SEL]\n"
          "Lists the devices of every loaded backend plugin, which device the selector\n"
          "(default auto) picks for the demo layer and why, and every plugin file that was\n"
          "skipped or failed to load, with the reason.\n"
          "  --json        one JSON object: "
          "{\"library\":{\"version\",\"major\",\"minor\",\"patch\"},\n"
          "                \"plugin_abi\":{\"major\",\"minor\"}, \"devices\":[...],\n"
          "                \"auto\":{\"device\",\"reason\"},\n"
          "                \"plugins\":[{\"path\",\"name\",\"state\",\"reason\",\"message\"}...]}\n"
          "  --device SEL  explain this selector instead of auto; exits 3 when it picks no\n"
          "                device (it names none, or every device it names declines)\n"
          "Environment: TCONV_PLUGINS, TCONV_PLUGIN_PATH, TCONV_DEVICE, TCONV_VERBOSE.\n",
          out);
}

static const char *device_type_name(tconv_device_type_t type) {
    switch (type) {
    case tconv_device_cpu:
        return "cpu";
    case tconv_device_gpu:
        return "gpu";
    case tconv_device_accelerator:
        return "accelerator";
    default:
        return "custom";
    }
}

static void format_bytes(uint64_t bytes, char *out, size_t size) {
    if (bytes == 0)
        snprintf(out, size, "unknown");
    else if (bytes >= (1ull << 30))
        snprintf(out, size, "%.1f GiB", (double)bytes / (double)(1ull << 30));
    else
        snprintf(out, size, "%.1f MiB", (double)bytes / (double)(1ull << 20));
}

static void dtype_list(uint32_t dtypes, char *out, size_t size) {
    snprintf(out, size, "%s%s%s", dtypes & TCONV_DTYPE_BIT(tconv_f32) ? "float32" : "",
             (dtypes & TCONV_DTYPE_BIT(tconv_f32)) && (dtypes & TCONV_DTYPE_BIT(tconv_f64)) ? ", "
                                                                                            : "",
             dtypes & TCONV_DTYPE_BIT(tconv_f64) ? "float64" : "");
}

/* What the command gathered from the context. */
typedef struct device_listing {
    size_t device_count, plugin_count;
    int auto_ok;
    tconv_status_t auto_status; /* of the selection, when auto_ok is 0 */
    size_t auto_index;
    char auto_id[64];
    char reason[4096];
} device_listing_t;

static void print_text(tconv_context_t ctx, const device_listing_t *l, const char *selector) {
    printf("Devices (%zu):\n", l->device_count);
    for (size_t i = 0; i < l->device_count; i++) {
        tconv_device_info_t d;
        memset(&d, 0, sizeof d);
        if (tconv_context_get_device_info(ctx, i, &d) != tconv_success)
            continue;
        char mem[32], dtypes[32];
        format_bytes(d.global_mem_bytes, mem, sizeof mem);
        dtype_list(d.dtypes, dtypes, sizeof dtypes);
        printf("  %-12s %-11s %s%s\n", d.id, device_type_name(d.type), d.name,
               l->auto_ok && i == l->auto_index ? "   <- auto" : "");
        printf("               vendor: %s, compute units: %u, memory: %s, dtypes: %s\n", d.vendor,
               d.compute_units, mem, dtypes);
        if (d.driver_version[0] || d.language_version[0])
            printf("               driver: %s%s%s\n", d.driver_version,
                   d.language_version[0] ? ", " : "", d.language_version);
    }
    if (l->device_count == 0)
        printf("  (none: see the plugin reports below)\n");
    printf("\nSelector '%s' for the demo layer (%s):\n", selector, demo_layer_description);
    printf("  picks: %s\n  reason: %s\n", l->auto_ok ? l->auto_id : "none", l->reason);

    printf("\nPlugins (%zu candidates):\n", l->plugin_count);
    for (size_t i = 0; i < l->plugin_count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        if (tconv_context_get_plugin_report(ctx, i, &r) != tconv_success)
            continue;
        if (r.state == tconv_plugin_loaded)
            printf("  loaded   %s (backend %s, %zu device%s)\n", r.path, r.name, r.device_count,
                   r.device_count == 1 ? "" : "s");
        else
            printf("  %-8s %s%s%s%s: %s: %s\n", plugin_state_name(r.state), r.path,
                   r.name[0] ? " (backend " : "", r.name, r.name[0] ? ")" : "",
                   plugin_reason_name(r.reason), r.message);
    }
    if (l->plugin_count == 0)
        printf("  (no plugin files found; set TCONV_PLUGIN_PATH or TCONV_PLUGINS)\n");
}

static void json_device(json_writer_t *w, const tconv_device_info_t *d) {
    json_begin_object(w);
    json_key(w, "id");
    json_string(w, d->id);
    json_key(w, "backend");
    json_string(w, d->backend);
    json_key(w, "index");
    json_uint(w, d->index);
    json_key(w, "type");
    json_string(w, device_type_name(d->type));
    json_key(w, "name");
    json_string(w, d->name);
    json_key(w, "vendor");
    json_string(w, d->vendor);
    json_key(w, "driver_version");
    json_string(w, d->driver_version);
    json_key(w, "language_version");
    json_string(w, d->language_version);
    json_key(w, "compute_units");
    json_uint(w, d->compute_units);
    json_key(w, "clock_mhz");
    json_uint(w, d->clock_mhz);
    json_key(w, "global_mem_bytes");
    json_uint(w, d->global_mem_bytes);
    json_key(w, "local_mem_bytes");
    json_uint(w, d->local_mem_bytes);
    json_key(w, "max_alloc_bytes");
    json_uint(w, d->max_alloc_bytes);
    json_key(w, "max_work_group_size");
    json_uint(w, d->max_work_group_size);
    json_key(w, "dtypes");
    json_begin_array(w);
    if (d->dtypes & TCONV_DTYPE_BIT(tconv_f32))
        json_string(w, "float32");
    if (d->dtypes & TCONV_DTYPE_BIT(tconv_f64))
        json_string(w, "float64");
    json_end_array(w);
    json_key(w, "has_fp16");
    json_bool(w, d->has_fp16 != 0);
    json_key(w, "host_native");
    json_bool(w, (d->flags & TCONV_DEVICE_FLAG_HOST_NATIVE) != 0);
    json_key(w, "unified_memory");
    json_bool(w, (d->flags & TCONV_DEVICE_FLAG_UNIFIED_MEMORY) != 0);
    json_end_object(w);
}

static void print_json(tconv_context_t ctx, const device_listing_t *l, const char *selector) {
    json_writer_t w;
    json_init(&w, stdout);
    json_begin_object(&w);
    /* Which library and plugin ABI the listing comes from: a vendor's
     * plugin report is read against these. */
    int major, minor, patch;
    const char *version = tconv_get_version(&major, &minor, &patch);
    json_key(&w, "library");
    json_begin_object(&w);
    json_key(&w, "version");
    json_string(&w, version);
    json_key(&w, "major");
    json_int(&w, major);
    json_key(&w, "minor");
    json_int(&w, minor);
    json_key(&w, "patch");
    json_int(&w, patch);
    json_end_object(&w);
    json_key(&w, "plugin_abi");
    json_begin_object(&w);
    json_key(&w, "major");
    json_int(&w, TCONV_BACKEND_ABI_MAJOR);
    json_key(&w, "minor");
    json_int(&w, TCONV_BACKEND_ABI_MINOR);
    json_end_object(&w);
    json_key(&w, "devices");
    json_begin_array(&w);
    for (size_t i = 0; i < l->device_count; i++) {
        tconv_device_info_t d;
        memset(&d, 0, sizeof d);
        if (tconv_context_get_device_info(ctx, i, &d) == tconv_success)
            json_device(&w, &d);
    }
    json_end_array(&w);
    json_key(&w, "auto");
    json_begin_object(&w);
    json_key(&w, "selector");
    json_string(&w, selector);
    json_key(&w, "problem");
    json_string(&w, demo_layer_description);
    json_key(&w, "device");
    json_string(&w, l->auto_ok ? l->auto_id : NULL);
    json_key(&w, "reason");
    json_string(&w, l->reason);
    json_end_object(&w);
    json_key(&w, "plugins");
    json_begin_array(&w);
    for (size_t i = 0; i < l->plugin_count; i++) {
        tconv_plugin_report_t r;
        memset(&r, 0, sizeof r);
        if (tconv_context_get_plugin_report(ctx, i, &r) != tconv_success)
            continue;
        json_begin_object(&w);
        json_key(&w, "path");
        json_string(&w, r.path);
        json_key(&w, "name");
        json_string(&w, r.name);
        json_key(&w, "state");
        json_string(&w, plugin_state_name(r.state));
        json_key(&w, "reason");
        json_string(&w, plugin_reason_name(r.reason));
        json_key(&w, "message");
        json_string(&w, r.message);
        json_key(&w, "abi_major");
        json_uint(&w, r.abi_major);
        json_key(&w, "abi_minor");
        json_uint(&w, r.abi_minor);
        json_key(&w, "device_count");
        json_uint(&w, r.device_count);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
    json_finish(&w);
}

/* Asks the library which device the selector picks for the demo layer. */
static void explain_selection(tconv_context_t ctx, const char *selector, device_listing_t *l) {
    tconv_problem_t problem;
    tconv_status_t st = demo_layer_problem(&problem);
    if (st == tconv_success)
        st = tconv_context_select_device(ctx, &problem, selector, &l->auto_index, l->reason,
                                         sizeof l->reason);
    l->auto_ok = st == tconv_success;
    l->auto_status = st;
    if (!l->auto_ok) {
        snprintf(l->reason, sizeof l->reason, "%s: %s", tconv_status_name(st),
                 tconv_get_last_error());
        return;
    }
    tconv_device_info_t d;
    memset(&d, 0, sizeof d);
    if (tconv_context_get_device_info(ctx, l->auto_index, &d) == tconv_success)
        snprintf(l->auto_id, sizeof l->auto_id, "%s", d.id);
}

int cmd_devices(int argc, char **argv) {
    cli_args_t args;
    const char *name, *selector = "auto";
    int json = 0, selector_given = 0, rc;
    cli_args_init(&args, COMMAND, argc, argv, 1);
    while ((rc = cli_args_next(&args, &name)) == 1) {
        if (strcmp(name, "--help") == 0) {
            cmd_devices_usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(name, "--json") == 0) {
            if (cli_args_flag(&args) != 0)
                return CLI_EXIT_BAD_INPUT;
            json = 1;
        } else if (strcmp(name, "--device") == 0) {
            if (cli_args_value(&args, &selector) != 0)
                return CLI_EXIT_BAD_INPUT;
            selector_given = 1;
        } else {
            return cli_args_unknown(&args), CLI_EXIT_BAD_INPUT;
        }
    }
    if (rc < 0)
        return CLI_EXIT_BAD_INPUT;

    tconv_context_t ctx = NULL;
    tconv_status_t st = tconv_context_create(&ctx, NULL);
    if (st != tconv_success)
        return cli_fail_status(COMMAND, "creating the context", st);
    device_listing_t listing;
    memset(&listing, 0, sizeof listing);
    if ((st = tconv_context_get_device_count(ctx, &listing.device_count)) != tconv_success ||
        (st = tconv_context_get_plugin_count(ctx, &listing.plugin_count)) != tconv_success) {
        rc = cli_fail_status(COMMAND, "listing", st);
        tconv_context_destroy(ctx);
        return rc;
    }
    explain_selection(ctx, selector, &listing);
    if (json)
        print_json(ctx, &listing, selector);
    else
        print_text(ctx, &listing, selector);
    tconv_context_destroy(ctx);
    /* The listing is the answer to a plain `tconv devices`, whatever auto
     * finds; a selector the user asked about must name a device that runs. */
    if (selector_given && !listing.auto_ok) {
        cli_error(COMMAND, "--device '%s': picks no device: %s", selector, listing.reason);
        return cli_exit_code(listing.auto_status);
    }
    return CLI_EXIT_OK;
}
