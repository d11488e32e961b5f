/* SPDX-License-Identifier: Apache-2.0 */
/* Counting and printing a conformance run (see conformance_report.h). */
#include "conformance_report.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tconv/tconv.h"

const char *const conformance_pass_names[CONFORMANCE_PASSES] = {"forward", "backward"};

/* How many unsupported cases the text summary lists without --verbose. */
#define UNSUPPORTED_LISTED 20

void conformance_report_init(conformance_report_t *report) {
    memset(report, 0, sizeof *report);
}

static void list_free(conformance_list_t *list) {
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].case_name);
        free(list->items[i].framework);
        free(list->items[i].message);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

void conformance_report_free(conformance_report_t *report) {
    list_free(&report->failures);
    list_free(&report->unsupported);
}

static char *copy_text(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, text, n);
    return copy;
}

static int list_add(conformance_list_t *list, const char *case_name, const char *framework,
                    int pass, const char *message) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 32;
        conformance_entry_t *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            return -1;
        list->items = grown;
        list->capacity = capacity;
    }
    conformance_entry_t *e = &list->items[list->count];
    e->case_name = copy_text(case_name);
    e->framework = copy_text(framework);
    e->message = copy_text(message);
    e->pass = pass;
    if (!e->case_name || !e->framework || !e->message) {
        free(e->case_name);
        free(e->framework);
        free(e->message);
        return -1;
    }
    list->count++;
    return 0;
}

/* The framework's entry, added on first sight (the last slot takes every
 * name past the limit). */
static conformance_framework_t *framework_entry(conformance_report_t *report, const char *name) {
    for (size_t i = 0; i < report->framework_count; i++)
        if (strcmp(report->frameworks[i].name, name) == 0)
            return &report->frameworks[i];
    if (report->framework_count == CONFORMANCE_MAX_FRAMEWORKS)
        return &report->frameworks[CONFORMANCE_MAX_FRAMEWORKS - 1];
    conformance_framework_t *f = &report->frameworks[report->framework_count++];
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static double ratio(double error, double tolerance) {
    return tolerance > 0 ? error / tolerance : 0.0;
}

int conformance_report_add(conformance_report_t *report, const char *case_name,
                           const char *framework, int pass, const conformance_result_t *result) {
    conformance_framework_t *f = framework_entry(report, framework);
    conformance_counts_t *counts = &f->counts[pass];
    if (result->compared && (!f->worst.set || ratio(result->worst_error, result->worst_tolerance) >
                                                  ratio(f->worst.error, f->worst.tolerance))) {
        f->worst.set = 1;
        f->worst.error = result->worst_error;
        f->worst.tolerance = result->worst_tolerance;
        f->worst.what = result->worst_what;
        snprintf(f->worst.case_name, sizeof f->worst.case_name, "%s", case_name);
    }
    switch (result->outcome) {
    case conformance_passed:
        counts->passed++;
        report->total.passed++;
        return 0;
    case conformance_failed:
        counts->failed++;
        report->total.failed++;
        return list_add(&report->failures, case_name, framework, pass, result->message);
    default:
        counts->unsupported++;
        report->total.unsupported++;
        return list_add(&report->unsupported, case_name, framework, pass, result->message);
    }
}

long conformance_report_ran(const conformance_report_t *report) {
    return report->total.passed + report->total.failed;
}

void conformance_print_case(FILE *out, const char *case_name, const char *framework, int pass,
                            const conformance_result_t *result, int verbose) {
    static const char *const words[] = {"ok", "FAIL", "not supported"};
    if (result->outcome == conformance_passed && !verbose)
        return;
    if (result->outcome == conformance_unsupported && !verbose)
        return;
    fprintf(out, "%s %s (%s, %s)", words[result->outcome], case_name, framework,
            conformance_pass_names[pass]);
    if (result->outcome != conformance_passed)
        fprintf(out, ": %s", result->message);
    else if (result->compared)
        fprintf(out, ": %s |error| %.3g, tolerance %.3g", result->worst_what, result->worst_error,
                result->worst_tolerance);
    else
        fprintf(out, ": refused, as the framework did");
    fputc('\n', out);
}

static void print_counts(FILE *out, const conformance_counts_t *c) {
    fprintf(out, "%ld passed, %ld failed", c->passed, c->failed);
    if (c->unsupported)
        fprintf(out, ", %ld not supported", c->unsupported);
}

void conformance_print_text(FILE *out, const conformance_report_t *report,
                            const conformance_run_info_t *info) {
    for (size_t i = 0; i < report->framework_count; i++) {
        const conformance_framework_t *f = &report->frameworks[i];
        for (int p = 0; p < CONFORMANCE_PASSES; p++) {
            const conformance_counts_t *c = &f->counts[p];
            if (c->passed + c->failed + c->unsupported == 0)
                continue;
            char pass[16];
            snprintf(pass, sizeof pass, "%s:", conformance_pass_names[p]);
            fprintf(out, "%-10s %-9s ", f->name, pass);
            print_counts(out, c);
            fputc('\n', out);
        }
    }
    int any_worst = 0;
    for (size_t i = 0; i < report->framework_count; i++) {
        const conformance_worst_t *w = &report->frameworks[i].worst;
        if (!w->set)
            continue;
        if (!any_worst++)
            fprintf(out,
                    "Worst errors (the comparison closest to its tolerance, per framework):\n");
        fprintf(out, "  %-10s |error| %.3g, tolerance %.3g (%.2g of it): %s %s\n",
                report->frameworks[i].name, w->error, w->tolerance, ratio(w->error, w->tolerance),
                w->case_name, w->what);
    }
    const conformance_list_t *u = &report->unsupported;
    if (u->count > 0) {
        fprintf(out, "Not supported by %s (declined; not counted as passed): %zu case%s\n",
                info->device_id, u->count, u->count == 1 ? "" : "s");
        size_t shown =
            info->verbose || u->count <= UNSUPPORTED_LISTED ? u->count : UNSUPPORTED_LISTED;
        for (size_t i = 0; i < shown; i++)
            fprintf(out, "  %s (%s, %s): %s\n", u->items[i].case_name, u->items[i].framework,
                    conformance_pass_names[u->items[i].pass], u->items[i].message);
        if (shown < u->count)
            fprintf(out, "  (%zu more: --verbose or --json lists them all)\n", u->count - shown);
    }
    if (report->failures.count > 0)
        fprintf(out, "Failed: %zu case%s (each FAIL line above)\n", report->failures.count,
                report->failures.count == 1 ? "" : "s");
    print_counts(out, &report->total);
    fputc('\n', out);
}

/* "key": value members of the current object. */
static void member_string(json_writer_t *w, const char *key, const char *value) {
    json_key(w, key);
    json_string(w, value);
}

static void member_number(json_writer_t *w, const char *key, double value) {
    json_key(w, key);
    json_number(w, value);
}

static void member_int(json_writer_t *w, const char *key, int64_t value) {
    json_key(w, key);
    json_int(w, value);
}

static void json_counts(json_writer_t *w, const conformance_counts_t *c) {
    json_begin_object(w);
    member_int(w, "passed", c->passed);
    member_int(w, "failed", c->failed);
    member_int(w, "not_supported", c->unsupported);
    json_end_object(w);
}

static void json_entries(json_writer_t *w, const conformance_list_t *list, const char *why) {
    json_begin_array(w);
    for (size_t i = 0; i < list->count; i++) {
        const conformance_entry_t *e = &list->items[i];
        json_begin_object(w);
        member_string(w, "case", e->case_name);
        member_string(w, "framework", e->framework);
        member_string(w, "pass", conformance_pass_names[e->pass]);
        member_string(w, why, e->message);
        json_end_object(w);
    }
    json_end_array(w);
}

static void json_worst(json_writer_t *w, const conformance_worst_t *worst) {
    if (!worst->set) {
        json_null(w);
        return;
    }
    json_begin_object(w);
    member_string(w, "case", worst->case_name);
    member_string(w, "what", worst->what);
    member_number(w, "error", worst->error);
    member_number(w, "tolerance", worst->tolerance);
    member_number(w, "ratio", ratio(worst->error, worst->tolerance));
    json_end_object(w);
}

static void json_run(json_writer_t *w, const conformance_run_info_t *info) {
    json_key(w, "device");
    json_begin_object(w);
    member_string(w, "id", info->device_id);
    member_string(w, "name", info->device_name);
    member_string(w, "vendor", info->device_vendor);
    json_end_object(w);
    member_string(w, "data", info->data_dir);
    json_key(w, "filters");
    json_begin_object(w);
    member_string(w, "dtype", info->dtype);
    member_string(w, "pass", info->pass);
    member_string(w, "case", info->case_pattern);
    json_end_object(w);
    json_key(w, "cases");
    json_begin_object(w);
    member_int(w, "found", (int64_t)info->cases_found);
    member_int(w, "selected", (int64_t)info->cases_selected);
    json_end_object(w);
}

void conformance_print_json(FILE *out, const conformance_report_t *report,
                            const conformance_run_info_t *info) {
    json_writer_t w;
    json_init(&w, out);
    json_begin_object(&w);
    member_string(&w, "version", tconv_get_version(NULL, NULL, NULL));
    json_run(&w, info);
    json_key(&w, "counts");
    json_counts(&w, &report->total);
    json_key(&w, "frameworks");
    json_begin_object(&w);
    for (size_t i = 0; i < report->framework_count; i++) {
        const conformance_framework_t *f = &report->frameworks[i];
        json_key(&w, f->name);
        json_begin_object(&w);
        for (int p = 0; p < CONFORMANCE_PASSES; p++) {
            json_key(&w, conformance_pass_names[p]);
            json_counts(&w, &f->counts[p]);
        }
        json_key(&w, "worst");
        json_worst(&w, &f->worst);
        json_end_object(&w);
    }
    json_end_object(&w);
    json_key(&w, "failures");
    json_entries(&w, &report->failures, "message");
    json_key(&w, "not_supported");
    json_entries(&w, &report->unsupported, "reason");
    json_key(&w, "ok");
    json_bool(&w, report->total.failed == 0 && conformance_report_ran(report) > 0);
    member_string(&w, "message", info->zero_reason);
    json_end_object(&w);
    json_finish(&w);
}
