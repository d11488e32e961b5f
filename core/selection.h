/* SPDX-License-Identifier: Apache-2.0 */
/* Device selection: selector parsing, automatic ranking, explanations. */
#ifndef TCONV_CORE_SELECTION_H
#define TCONV_CORE_SELECTION_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"

/* The outcome of a selector for one problem: the devices to try, in order,
 * and why the others are not in the list. */
typedef struct tconv_selection {
    char label[320];  /* "auto", "selector 'x'" or "TCONV_DEVICE 'x'" */
    bool ranked_only; /* the selector was plain auto */
    size_t *order;    /* devices to try, best first */
    size_t count;
    size_t device_count; /* size of the per-device arrays below: the devices
                          * there were when the selection started */
    size_t *listed;      /* those devices in listing order (backend name, index) */
    double *est_seconds; /* per device: the backend's estimate, < 0 unknown */
    bool *excluded;      /* per device: removed by a "-term" */
    char **declined;     /* per device: reason it declined (malloc'd) or NULL */
    bool *by_auto;       /* per device: placed by automatic ranking ("auto") */
    char *measure_note;  /* how CPU devices were told apart (measure.h), or NULL */
    char *skipped_note;  /* list terms that matched no device and were passed over, or NULL */
} tconv_selection_t;

/* Orders the context's devices for @p problem (NULL: rank without asking the
 * backends) under @p selector (NULL/"auto": TCONV_DEVICE, else auto),
 * starting first the plugins whose devices the selector can place (a
 * backend or id term: that backend only; auto or a class: every plugin not
 * excluded by a "-backend" term). Fails with out_of_memory when such a
 * start runs out of it, with invalid_arguments for bad syntax, and with
 * no_device when the only
 * term, or every term of a list, matches nothing (a list passes over a term
 * that matches nothing, noted in skipped_note); an empty order is not an
 * error here. The device choice itself (measurement, plan_create) is
 * tconv_choose_device's, in plan.c. */
tconv_status_t tconv_select(struct tconv_context *context, const tconv_canonical_t *problem,
                            const char *selector, tconv_selection_t *selection);

/* Records that @p device declined (e.g. in plan_create); false if out of memory. */
bool tconv_selection_decline(tconv_selection_t *selection, size_t device, const char *reason);

/* The one-paragraph explanation; @p chosen is a device index or SIZE_MAX for
 * none. Returns a malloc'd string, NULL when out of memory. */
char *tconv_selection_explain(const struct tconv_context *context,
                              const tconv_selection_t *selection, size_t chosen);

void tconv_selection_free(tconv_selection_t *selection);

#endif /* TCONV_CORE_SELECTION_H */
