/* SPDX-License-Identifier: Apache-2.0 */
/* What `tconv conformance` gathers over a run: counts per framework and
 * pass, the worst error per framework, the failed and the unsupported
 * cases; and the two ways it prints them (text, one JSON object). */
#ifndef TCONV_CONFORMANCE_REPORT_H
#define TCONV_CONFORMANCE_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "conformance_check.h"

#define CONFORMANCE_MAX_FRAMEWORKS 16

/* A forward case checks the output (or a refusal); a backward case the gradients. */
enum { CONFORMANCE_FORWARD, CONFORMANCE_BACKWARD, CONFORMANCE_PASSES };
extern const char *const conformance_pass_names[CONFORMANCE_PASSES];

typedef struct conformance_counts {
    long passed, failed, unsupported;
} conformance_counts_t;

/** The comparison of a framework's cases closest to its tolerance. */
typedef struct conformance_worst {
    int set;
    double error, tolerance;
    char case_name[128];
    const char *what; /**< "output", "grad_input", ... */
} conformance_worst_t;

typedef struct conformance_framework {
    char name[32];
    conformance_counts_t counts[CONFORMANCE_PASSES];
    conformance_worst_t worst;
} conformance_framework_t;

/** A failed or unsupported case and why. */
typedef struct conformance_entry {
    char *case_name, *framework, *message;
    int pass;
} conformance_entry_t;

typedef struct conformance_list {
    conformance_entry_t *items;
    size_t count, capacity;
} conformance_list_t;

typedef struct conformance_report {
    conformance_framework_t frameworks[CONFORMANCE_MAX_FRAMEWORKS];
    size_t framework_count;
    conformance_counts_t total;
    conformance_list_t failures, unsupported;
} conformance_report_t;

/** What the run was: printed with the report. */
typedef struct conformance_run_info {
    const char *device_id, *device_name, *device_vendor;
    const char *data_dir;
    const char *dtype, *pass, *case_pattern; /**< the filters ("all"; pattern NULL: none) */
    size_t cases_found, cases_selected;
    const char *zero_reason; /**< why no case ran, or NULL */
    int verbose;             /**< list every unsupported case and failure */
} conformance_run_info_t;

void conformance_report_init(conformance_report_t *report);
void conformance_report_free(conformance_report_t *report);

/** Counts one case's result (its failure or reason kept).
 *  @returns 0, or -1 when out of memory. */
int conformance_report_add(conformance_report_t *report, const char *case_name,
                           const char *framework, int pass, const conformance_result_t *result);

/** The cases that ran: passed + failed. */
long conformance_report_ran(const conformance_report_t *report);

/** The line printed for one case as it finishes ("FAIL name (framework,
 *  pass): why"); passed cases only when @p verbose. */
void conformance_print_case(FILE *out, const char *case_name, const char *framework, int pass,
                            const conformance_result_t *result, int verbose);

/** The summary: counts per framework and pass, worst errors, the
 *  unsupported cases, then "N passed, M failed[, K not supported]". */
void conformance_print_text(FILE *out, const conformance_report_t *report,
                            const conformance_run_info_t *info);

/** One JSON object with the run, the counts, the worst errors, the
 *  failures and the unsupported cases (see `tconv conformance --help`). */
void conformance_print_json(FILE *out, const conformance_report_t *report,
                            const conformance_run_info_t *info);

#endif /* TCONV_CONFORMANCE_REPORT_H */
