/* Plans: a resolved problem bound to the first device (in selector order)
 * whose backend accepts it; weights and execution are forwarded to it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "log.h"
#include "measure.h"
#include "problem.h"
#include "selection.h"

struct tconv_plan {
    struct tconv_context *context; /* retained: keeps the plugin loaded */
    size_t device;                 /* index into context->devices */
    const tconv_backend_t *backend;
    tconv_backend_plan_t backend_plan;
    tconv_canonical_t canonical;
    size_t input_bytes;
    size_t output_bytes;
    int weights_set;
    char *reason; /* selection explanation */
};

static const char *device_id(const struct tconv_plan *plan) {
    return plan->context->devices[plan->device].info.id;
}

/* Turns a backend failure into the API error "<id>: <backend message>". */
static tconv_status_t backend_error(const char *id, const char *what, int status, const char *msg) {
    tconv_status_t st = tconv_status_sanitize(status);
    if (st == tconv_success) /* cannot happen; keep callers honest */
        st = tconv_runtime_error;
    return tconv_set_error(st, "%s: %s", id, msg[0] ? msg : what);
}

/* Tries the selected devices in order; returns the index of the one whose
 * plan_create accepted, SIZE_MAX if all declined, or sets *error. When the
 * tries reach two or more CPU-class devices placed by automatic ranking,
 * those are first told apart by measurement (measure.h); the measured
 * winner's plan is kept rather than built again. */
static size_t create_on_first_accepting(struct tconv_context *ctx, tconv_selection_t *sel,
                                        const tconv_canonical_t *canonical,
                                        tconv_backend_plan_t *backend_plan, tconv_status_t *error) {
    *error = tconv_success;
    bool measured = false;
    for (size_t i = 0; i < sel->count; i++) {
        const size_t run = measured ? 0 : tconv_measure_run_length(ctx, sel, i);
        if (run >= 2) {
            measured = true;
            *error = tconv_measure_decide(ctx, sel, i, run, canonical, backend_plan);
            if (*error != tconv_success)
                return SIZE_MAX;
            if (*backend_plan != NULL)
                return sel->order[i];
        }
        const size_t d = sel->order[i];
        if (sel->declined[d] != NULL) /* declined while measured */
            continue;
        const tconv_backend_t *b = tconv_device_backend(ctx, d);
        char msg[1024] = "";
        int st = b->plan_create(tconv_device_state(ctx, d), ctx->devices[d].backend_device,
                                canonical, backend_plan, msg, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        if (st == tconv_success)
            return d;
        if (st == tconv_unimplemented) {
            char reason[1100];
            snprintf(reason, sizeof reason, "plan_create declined: %s",
                     msg[0] ? msg : "no reason given");
            tconv_log(1, "%s: %s", ctx->devices[d].info.id, reason);
            if (!tconv_selection_decline(sel, d, reason)) {
                *error = tconv_set_error(tconv_out_of_memory, "out of memory creating a plan");
                return SIZE_MAX;
            }
            continue;
        }
        *error = backend_error(ctx->devices[d].info.id, "plan_create failed", st, msg);
        return SIZE_MAX;
    }
    return SIZE_MAX;
}

TCONV_API tconv_status_t tconv_plan_create(tconv_plan_t *plan, tconv_context_t context,
                                           const tconv_problem_t *problem, const char *selector) {
    TCONV_REQUIRE_NONNULL(plan);
    *plan = NULL;
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(problem);
    struct tconv_plan *p = calloc(1, sizeof *p);
    if (p == NULL)
        return tconv_set_error(tconv_out_of_memory, "out of memory allocating a plan");
    tconv_status_t st = tconv_problem_resolve(problem, &p->canonical);
    if (st != tconv_success) {
        free(p);
        return st;
    }
    tconv_selection_t sel;
    st = tconv_select(context, &p->canonical, selector, &sel);
    if (st != tconv_success) {
        free(p);
        return st;
    }
    size_t chosen = create_on_first_accepting(context, &sel, &p->canonical, &p->backend_plan, &st);
    if (st == tconv_success) {
        p->reason = tconv_selection_explain(context, &sel, chosen);
        if (p->reason == NULL)
            st = tconv_set_error(tconv_out_of_memory, "out of memory explaining the selection");
        else if (chosen == SIZE_MAX)
            st = tconv_set_error(tconv_no_device, "no device accepts the problem: %s", p->reason);
        else
            tconv_log(1, "%s", p->reason);
        if (st != tconv_success && chosen != SIZE_MAX)
            tconv_device_backend(context, chosen)->plan_destroy(p->backend_plan);
    }
    tconv_selection_free(&sel);
    if (st != tconv_success) {
        free(p->reason);
        free(p);
        return st;
    }
    p->context = context;
    p->device = chosen;
    p->backend = tconv_device_backend(context, chosen);
    p->input_bytes = tconv_canonical_input_bytes(&p->canonical);
    p->output_bytes = tconv_canonical_output_bytes(&p->canonical);
    tconv_context_retain(context);
    *plan = p;
    return tconv_success;
}

TCONV_API tconv_status_t tconv_plan_set_weights(tconv_plan_t plan, const void *kernel,
                                                const void *bias) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(kernel);
    if (plan->canonical.use_bias && bias == NULL)
        return tconv_set_error(tconv_invalid_arguments,
                               "bias: must not be NULL when the problem has use_bias set");
    if (!plan->canonical.use_bias && bias != NULL)
        return tconv_set_error(tconv_invalid_arguments,
                               "bias: must be NULL when the problem has use_bias = 0");
    char msg[1024] = "";
    int st = plan->backend->plan_set_weights(plan->backend_plan, kernel, bias, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (st != tconv_success) {
        /* The backend may have dropped the old weights half-way. */
        plan->weights_set = 0;
        return backend_error(device_id(plan), "plan_set_weights failed", st, msg);
    }
    plan->weights_set = 1;
    return tconv_success;
}

static int ranges_overlap(const void *a, size_t a_size, const void *b, size_t b_size) {
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + b_size && b0 < a0 + a_size;
}

TCONV_API tconv_status_t tconv_plan_execute(tconv_plan_t plan, const void *input, void *output) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(input);
    TCONV_REQUIRE_NONNULL(output);
    if (!plan->weights_set)
        return tconv_set_error(tconv_invalid_arguments,
                               "weights not set: call tconv_plan_set_weights first");
    if (ranges_overlap(input, plan->input_bytes, output, plan->output_bytes))
        return tconv_set_error(tconv_invalid_arguments,
                               "output: overlaps input (%zu-byte input at %p, %zu-byte output "
                               "at %p); use separate buffers",
                               plan->input_bytes, input, plan->output_bytes, output);
    char msg[1024] = "";
    int st = plan->backend->plan_execute(plan->backend_plan, input, output, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (st != tconv_success)
        return backend_error(device_id(plan), "plan_execute failed", st, msg);
    return tconv_success;
}

TCONV_API tconv_status_t tconv_plan_get_device_info(tconv_plan_t plan, tconv_device_info_t *info) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(info);
    return tconv_context_get_device_info(plan->context, plan->device, info);
}

TCONV_API const char *tconv_plan_get_selection_reason(tconv_plan_t plan) {
    if (plan == NULL || plan->reason == NULL)
        return "";
    return plan->reason;
}

TCONV_API tconv_status_t tconv_plan_get_canonical(tconv_plan_t plan, tconv_canonical_t *resolved) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(resolved);
    *resolved = plan->canonical;
    return tconv_success;
}

TCONV_API void tconv_plan_destroy(tconv_plan_t plan) {
    if (plan == NULL)
        return;
    plan->backend->plan_destroy(plan->backend_plan);
    struct tconv_context *ctx = plan->context;
    free(plan->reason);
    free(plan);
    tconv_context_release(ctx); /* may fini the backend and close its module */
}
