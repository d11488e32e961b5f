/* SPDX-License-Identifier: Apache-2.0 */
/* Plans: a resolved problem bound to the first device (in selector order)
 * whose backend accepts it; weights and execution are forwarded to it. The
 * device choice here is also tconv_context_select_device's, so the device
 * it names is the one a plan gets. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation_eval.h"
#include "context.h"
#include "error.h"
#include "log.h"
#include "measure.h"
#include "plan.h"
#include "problem.h"
#include "selection.h"

static const char *device_id(const struct tconv_plan *plan) {
    return tconv_plan_device_id(plan);
}

tconv_status_t tconv_backend_error(const char *id, const char *what, int status, const char *msg) {
    tconv_status_t st = tconv_status_sanitize(status);
    if (st == tconv_success) /* cannot happen; keep callers honest */
        st = tconv_runtime_error;
    return tconv_set_error(st, "%s: %s", id, msg[0] ? msg : what);
}

/* Devices the selector let compete: those to try and those that declined
 * already (in query). */
static size_t devices_considered(const tconv_selection_t *sel) {
    size_t n = sel->count;
    for (size_t d = 0; d < sel->device_count; d++)
        n += sel->declined[d] != NULL;
    return n;
}

/* Sets the error for a selection whose every device ran out of memory. */
static tconv_status_t all_out_of_memory(const struct tconv_context *ctx,
                                        const tconv_selection_t *sel) {
    char *why = tconv_selection_explain(ctx, sel, SIZE_MAX);
    tconv_status_t st =
        tconv_set_error(tconv_out_of_memory, "every device ran out of memory creating the plan: %s",
                        why ? why : "(out of memory explaining the selection)");
    free(why);
    return st;
}

/* Tries the selected devices in order; returns the index of the one whose
 * plan_create (plan_create_with_options when @p options is not NULL)
 * accepted, SIZE_MAX if all declined, or sets *error. When the
 * tries reach two or more CPU-class devices placed by automatic ranking,
 * those are first told apart by measurement (measure.h); the measured
 * winner's plan is kept rather than built again. When the selector lets
 * more than one device compete, one that runs out of memory is passed over
 * like one that declines (the next may well have the memory); the error is
 * out of memory only when every device ran out of it. */
static size_t create_on_first_accepting(struct tconv_context *ctx, tconv_selection_t *sel,
                                        const tconv_canonical_t *canonical,
                                        const tconv_plan_options_t *options,
                                        tconv_backend_plan_t *backend_plan, tconv_status_t *error) {
    *error = tconv_success;
    bool measured = false;
    const size_t considered = devices_considered(sel);
    const char *slot = options ? "plan_create_with_options" : "plan_create";
    size_t out_of_memory = 0;
    for (size_t i = 0; i < sel->count; i++) {
        const size_t run = measured ? 0 : tconv_measure_run_length(ctx, sel, i);
        if (run >= 2) {
            measured = true;
            *error = tconv_measure_decide(ctx, sel, i, run, canonical, options, backend_plan);
            if (*error != tconv_success)
                return SIZE_MAX;
            if (*backend_plan != NULL)
                return sel->order[i];
        }
        const size_t d = sel->order[i];
        if (sel->declined[d] != NULL) /* declined while measured */
            continue;
        char msg[1024] = "";
        int st =
            tconv_device_plan_create(ctx, d, canonical, options, backend_plan, msg, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        if (st == tconv_success)
            return d;
        const bool ran_out = st == tconv_out_of_memory && considered > 1;
        if (st == tconv_unimplemented || ran_out) {
            char reason[1100];
            snprintf(reason, sizeof reason, "%s %s: %s", slot,
                     ran_out ? "ran out of memory" : "declined", msg[0] ? msg : "no reason given");
            tconv_log(1, "%s: %s", tconv_context_device(ctx, d)->info.id, reason);
            if (!tconv_selection_decline(sel, d, reason)) {
                *error = tconv_set_error(tconv_out_of_memory, "out of memory creating a plan");
                return SIZE_MAX;
            }
            out_of_memory += ran_out;
            continue;
        }
        *error = tconv_backend_error(
            tconv_context_device(ctx, d)->info.id,
            options ? "plan_create_with_options failed" : "plan_create failed", st, msg);
        return SIZE_MAX;
    }
    if (out_of_memory > 0 && out_of_memory == considered)
        *error = all_out_of_memory(ctx, sel);
    return SIZE_MAX;
}

/* The plan options that are set, for messages: "program_binary",
 * "program_binary_save" or both. */
static const char *options_set(const tconv_plan_options_t *options) {
    if (options->program_binary != NULL && options->program_binary_save != NULL)
        return "program_binary, program_binary_save";
    return options->program_binary != NULL ? "program_binary" : "program_binary_save";
}

/* With plan options set, the devices of the order whose plugin cannot take
 * them decline (so "auto" moves on, and a named device says why). False
 * when out of memory. */
static bool decline_without_options(const struct tconv_context *ctx, tconv_selection_t *sel,
                                    const tconv_plan_options_t *options) {
    for (size_t i = 0; options != NULL && i < sel->count; i++) {
        const size_t d = sel->order[i];
        const tconv_backend_t *b = tconv_device_backend(ctx, d);
        if (sel->declined[d] != NULL || b->plan_create_with_options != NULL)
            continue;
        char reason[300];
        snprintf(reason, sizeof reason,
                 "plan option %s: backend '%s' (plugin ABI %u.%u) takes no plan options (no "
                 "plan_create_with_options slot)",
                 options_set(options), b->name, b->abi_major, b->abi_minor);
        tconv_log(2, "%s: %s", tconv_context_device(ctx, d)->info.id, reason);
        if (!tconv_selection_decline(sel, d, reason))
            return false;
    }
    return true;
}

/* The one device choice, shared by tconv_plan_create(_with_options) and
 * tconv_context_select_device: the selector's order (selection.h), devices
 * that cannot take the plan @p options (NULL: none set) declined, CPU-class
 * runs told apart by measurement (measure.h), then the first device whose
 * plan_create accepts. With @p canonical NULL no backend is asked: the first
 * device of the order. On success *chosen is the device, *backend_plan its
 * plan (NULL without a problem) and *reason the explanation (malloc'd).
 * Fails with no_device when no device accepts (the message explains), else
 * with the selection's or the backend's error. */
static tconv_status_t choose_device(struct tconv_context *ctx, const tconv_canonical_t *canonical,
                                    const char *selector, const tconv_plan_options_t *options,
                                    size_t *chosen, tconv_backend_plan_t *backend_plan,
                                    char **reason) {
    *chosen = SIZE_MAX;
    *backend_plan = NULL;
    *reason = NULL;
    tconv_selection_t sel;
    tconv_status_t st = tconv_select(ctx, canonical, selector, &sel);
    if (st != tconv_success)
        return st;
    if (!decline_without_options(ctx, &sel, options))
        st = tconv_set_error(tconv_out_of_memory, "out of memory declining a device");
    size_t device = SIZE_MAX;
    if (canonical != NULL && st == tconv_success)
        device = create_on_first_accepting(ctx, &sel, canonical, options, backend_plan, &st);
    for (size_t i = 0; canonical == NULL && i < sel.count && device == SIZE_MAX; i++)
        if (sel.declined[sel.order[i]] == NULL)
            device = sel.order[i];
    if (st == tconv_success) {
        char *text = tconv_selection_explain(ctx, &sel, device);
        if (text == NULL)
            st = tconv_set_error(tconv_out_of_memory, "out of memory explaining the selection");
        else if (device == SIZE_MAX)
            st = tconv_set_error(tconv_no_device, "no device accepts the problem: %s", text);
        else
            tconv_log(1, "%s", text);
        if (st == tconv_success)
            *reason = text;
        else
            free(text);
        if (st != tconv_success && *backend_plan != NULL) {
            tconv_device_backend(ctx, device)->plan_destroy(*backend_plan);
            *backend_plan = NULL;
        }
    }
    tconv_selection_free(&sel);
    if (st == tconv_success)
        *chosen = device;
    return st;
}

/* What the backend computes for @p canonical: the same, but with a linear
 * activation when a backward pass is asked for and the activation is not
 * linear (the core then applies it). Returns whether it does. */
static bool backend_form(const tconv_canonical_t *canonical, tconv_canonical_t *backend) {
    *backend = *canonical;
    const uint32_t backward = TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS;
    if (!(canonical->passes & backward) || canonical->activation == tconv_activation_linear)
        return false;
    backend->activation = tconv_activation_linear;
    backend->activation_alpha = 0.0;
    return true;
}

/* Frees a plan that has no backend plan (yet) and no context reference. */
static void plan_free_unbound(struct tconv_plan *p) {
    free(p->grad_output_workspace);
    free(p->grad_weights_workspace);
    free(p->reason);
    free(p);
}

/* A new plan for @p problem, resolved, with its sizes and backward-pass
 * workspace, not yet bound to a device. */
static tconv_status_t plan_new(const tconv_problem_t *problem, struct tconv_plan **out) {
    *out = NULL;
    struct tconv_plan *p = calloc(1, sizeof *p);
    if (p == NULL)
        return tconv_set_error(tconv_out_of_memory, "out of memory allocating a plan");
    tconv_status_t st = tconv_problem_resolve(problem, &p->canonical);
    if (st != tconv_success) {
        free(p);
        return st;
    }
    p->core_activation = backend_form(&p->canonical, &p->backend_canonical);
    const uint32_t backward = TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS;
    const size_t samples = (size_t)p->canonical.batch;
    const size_t output_bytes = tconv_canonical_output_bytes(&p->canonical);
    p->input_sample_bytes = tconv_canonical_input_bytes(&p->canonical) / samples;
    p->output_sample_bytes = output_bytes / samples;
    p->batch = p->canonical.batch;
    p->kernel_bytes = tconv_canonical_kernel_bytes(&p->canonical);
    p->bias_bytes = p->canonical.use_bias
                        ? (size_t)p->canonical.out_channels * tconv_dtype_size(p->canonical.dtype)
                        : 0;
    if (p->canonical.passes & backward) {
        if (p->core_activation)
            p->grad_output_workspace = malloc(output_bytes ? output_bytes : 1);
        p->grad_weights_workspace = malloc(p->kernel_bytes + p->bias_bytes);
        if ((p->core_activation && p->grad_output_workspace == NULL) ||
            p->grad_weights_workspace == NULL) {
            const size_t bytes =
                (p->core_activation ? output_bytes : 0) + p->kernel_bytes + p->bias_bytes;
            plan_free_unbound(p);
            return tconv_set_error(tconv_out_of_memory,
                                   "out of memory allocating the backward-pass workspace (%zu "
                                   "bytes)",
                                   bytes);
        }
    }
    *out = p;
    return tconv_success;
}

/* Binds @p p to context device @p device and its backend plan. */
static void plan_bind(struct tconv_plan *p, struct tconv_context *context, size_t device,
                      tconv_backend_plan_t backend_plan) {
    p->context = context;
    p->device = device;
    p->backend = tconv_device_backend(context, device);
    p->backend_plan = backend_plan;
    tconv_context_retain(context);
}

static void plan_options_defaults(tconv_plan_options_t *options) {
    memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
}

TCONV_API tconv_status_t tconv_plan_options_init_sized(tconv_plan_options_t *options,
                                                       size_t struct_size) {
    TCONV_REQUIRE_NONNULL(options);
    tconv_plan_options_t defaults;
    plan_options_defaults(&defaults);
    return tconv_options_init(options, struct_size, &defaults, sizeof defaults,
                              "tconv_plan_options_t");
}

/* The caller's plan options over the defaults (fields past its struct_size
 * keep theirs), each checked. *active is @p options when a field is set,
 * NULL when none is (the plan is then made as tconv_plan_create makes it). */
static tconv_status_t read_plan_options(const tconv_plan_options_t *given,
                                        tconv_plan_options_t *options,
                                        const tconv_plan_options_t **active) {
    plan_options_defaults(options);
    *active = NULL;
    if (given == NULL)
        return tconv_success;
    /* The plugin receives this copy: a whole struct as the core knows it. */
    tconv_status_t st =
        tconv_options_read(options, sizeof *options, given, "tconv_plan_options_init");
    if (st != tconv_success)
        return st;
    /* An empty path is a mistake, not "unset": say so rather than fall back
     * to the environment. */
    const struct {
        const char *name, *path;
    } paths[] = {{"program_binary", options->program_binary},
                 {"program_binary_save", options->program_binary_save}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (paths[i].path != NULL && paths[i].path[0] == '\0')
            return tconv_set_error(tconv_invalid_arguments,
                                   "options->%s = '': must be a file path or NULL", paths[i].name);
        if (paths[i].path != NULL)
            *active = options;
    }
    return tconv_success;
}

static tconv_status_t plan_create(tconv_plan_t *plan, tconv_context_t context,
                                  const tconv_problem_t *problem, const char *selector,
                                  const tconv_plan_options_t *given) {
    TCONV_REQUIRE_NONNULL(plan);
    *plan = NULL;
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(problem);
    tconv_plan_options_t options;
    const tconv_plan_options_t *active;
    tconv_status_t st = read_plan_options(given, &options, &active);
    if (st != tconv_success)
        return st;
    struct tconv_plan *p;
    st = plan_new(problem, &p);
    if (st != tconv_success)
        return st;
    size_t chosen;
    tconv_backend_plan_t backend_plan;
    st = choose_device(context, &p->backend_canonical, selector, active, &chosen, &backend_plan,
                       &p->reason);
    if (st != tconv_success) {
        plan_free_unbound(p);
        return st;
    }
    plan_bind(p, context, chosen, backend_plan);
    *plan = p;
    return tconv_success;
}

/* The context device of @p plugin's backend index @p backend_device, or
 * SIZE_MAX when the context lists no such device. */
static size_t context_device_of(const struct tconv_context *ctx, size_t plugin,
                                size_t backend_device) {
    const size_t count = tconv_context_device_count(ctx);
    const tconv_device_entry_t *devices = tconv_context_devices(ctx);
    for (size_t d = 0; d < count; d++)
        if (devices[d].plugin == plugin && devices[d].backend_device == backend_device)
            return d;
    return SIZE_MAX;
}

tconv_status_t tconv_plan_create_native(struct tconv_plan **plan, struct tconv_context *context,
                                        const tconv_problem_t *problem, size_t plugin_device,
                                        void *native_queue, const char *queue_name) {
    *plan = NULL;
    const tconv_backend_t *b = tconv_device_backend(context, plugin_device);
    const char *backend_name = b->name;
    struct tconv_plan *p;
    tconv_status_t st = plan_new(problem, &p);
    if (st != tconv_success)
        return st;
    if (p->core_activation) {
        /* The core would apply it on host memory, between passes queued on
         * the caller's queue, which it cannot order. */
        st = tconv_set_error(tconv_unimplemented,
                             "problem: activation '%s' with a backward pass is not available on "
                             "a %s interop plan (the core applies it on host memory); use a "
                             "linear activation and apply it in your own kernels, or "
                             "tconv_plan_create",
                             tconv_activation_name(p->canonical.activation), backend_name);
        plan_free_unbound(p);
        return st;
    }
    const char *missing = tconv_backend_missing_pass(b, &p->backend_canonical);
    if (missing != NULL) {
        st = tconv_set_error(tconv_unimplemented,
                             "problem: passes ask for %s, which the %s plugin does not have",
                             missing, backend_name);
        plan_free_unbound(p);
        return st;
    }
    char msg[1024] = "";
    size_t backend_device = SIZE_MAX;
    tconv_backend_plan_t backend_plan = NULL;
    int bst =
        b->plan_create_native(tconv_device_state(context, plugin_device), &p->backend_canonical,
                              native_queue, &backend_device, &backend_plan, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (bst != tconv_success) {
        plan_free_unbound(p);
        if (bst == tconv_no_device)
            return tconv_set_error(tconv_no_device,
                                   "%s: its device is none of the %s plugin's (%s)", queue_name,
                                   backend_name, msg[0] ? msg : "no reason given");
        return tconv_backend_error(backend_name, "plan_create_native failed", bst, msg);
    }
    const size_t device = context_device_of(
        context, tconv_context_device(context, plugin_device)->plugin, backend_device);
    if (device == SIZE_MAX) {
        b->plan_destroy(backend_plan);
        plan_free_unbound(p);
        return tconv_set_error(tconv_no_device,
                               "%s: the %s plugin placed it on its device %zu, which this context "
                               "does not list",
                               queue_name, backend_name, backend_device);
    }
    p->native = true;
    plan_bind(p, context, device, backend_plan);
    tconv_log(1, "%s: interop plan on the caller's queue", tconv_plan_device_id(p));
    *plan = p;
    return tconv_success;
}

tconv_status_t tconv_plan_check_weights_arguments(const struct tconv_plan *plan, bool kernel_given,
                                                  bool bias_given) {
    if (!kernel_given)
        return tconv_set_error(tconv_invalid_arguments, "kernel: must not be NULL");
    if (plan->canonical.use_bias && !bias_given)
        return tconv_set_error(tconv_invalid_arguments,
                               "bias: must not be NULL when the problem has use_bias set");
    if (!plan->canonical.use_bias && bias_given)
        return tconv_set_error(tconv_invalid_arguments,
                               "bias: must be NULL when the problem has use_bias = 0");
    return tconv_success;
}

tconv_status_t tconv_plan_backend_status(const struct tconv_plan *plan, const char *what, int st,
                                         char *msg, size_t msg_size) {
    msg[msg_size - 1] = '\0';
    if (st == tconv_success)
        return tconv_success;
    return tconv_backend_error(device_id(plan), what, st, msg);
}

tconv_status_t tconv_plan_weights_outcome(struct tconv_plan *plan, const char *what, int st,
                                          char *msg, size_t msg_size) {
    /* After a failure the backend may have dropped the old weights. */
    const tconv_status_t status = tconv_plan_backend_status(plan, what, st, msg, msg_size);
    plan->weights_set = status == tconv_success;
    return status;
}

static tconv_status_t plan_set_weights(tconv_plan_t plan, const void *kernel, const void *bias) {
    TCONV_REQUIRE_NONNULL(plan);
    tconv_status_t status = tconv_plan_check_weights_arguments(plan, kernel != NULL, bias != NULL);
    if (status != tconv_success)
        return status;
    char msg[1024] = "";
    int st = plan->backend->plan_set_weights(plan->backend_plan, kernel, bias, msg, sizeof msg);
    return tconv_plan_weights_outcome(plan, "plan_set_weights failed", st, msg, sizeof msg);
}

static int ranges_overlap(const void *a, size_t a_size, const void *b, size_t b_size) {
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + b_size && b0 < a0 + a_size;
}

tconv_status_t tconv_plan_run_forward(struct tconv_plan *plan, const void *input, void *output) {
    tconv_status_t st = tconv_plan_backend_forward(plan, input, output);
    if (st != tconv_success)
        return st;
    if (plan->core_activation) /* the backend returned the pre-activation */
        activation_forward(plan->canonical.dtype, output,
                           tconv_plan_output_bytes(plan) / tconv_dtype_size(plan->canonical.dtype),
                           plan->canonical.activation, plan->canonical.activation_alpha);
    return tconv_success;
}

static tconv_status_t plan_execute(tconv_plan_t plan, const void *input, void *output) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(input);
    TCONV_REQUIRE_NONNULL(output);
    if (!plan->weights_set)
        return tconv_set_error(tconv_invalid_arguments,
                               "weights not set: call tconv_plan_set_weights first");
    const size_t input_bytes = tconv_plan_input_bytes(plan);
    const size_t output_bytes = tconv_plan_output_bytes(plan);
    if (ranges_overlap(input, input_bytes, output, output_bytes))
        return tconv_set_error(tconv_invalid_arguments,
                               "output: overlaps input (%zu-byte input at %p, %zu-byte output "
                               "at %p); use separate buffers",
                               input_bytes, input, output_bytes, output);
    return tconv_plan_run_forward(plan, input, output);
}

tconv_status_t tconv_require_disjoint(const tconv_named_region_t *r, size_t n, bool whole_objects) {
    for (size_t i = 0; i < n; i++) {
        if (r[i].data == NULL || !r[i].written)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (j == i || r[j].data == NULL || (r[j].written && j < i))
                continue;
            if (!ranges_overlap(r[i].data, r[i].bytes, r[j].data, r[j].bytes))
                continue;
            if (whole_objects)
                return tconv_set_error(tconv_invalid_arguments,
                                       "%s: the same buffer as %s; use separate buffers", r[i].name,
                                       r[j].name);
            return tconv_set_error(tconv_invalid_arguments,
                                   "%s: overlaps %s (%zu bytes at %p and %zu bytes at %p); use "
                                   "separate buffers",
                                   r[i].name, r[j].name, r[i].bytes, r[i].data, r[j].bytes,
                                   r[j].data);
        }
    }
    return tconv_success;
}

tconv_status_t tconv_plan_check_backward_request(const struct tconv_plan *plan, bool input,
                                                 bool grad_output, bool grad_input,
                                                 bool grad_kernel, bool grad_bias) {
    if (!grad_output)
        return tconv_set_error(tconv_invalid_arguments, "grad_output: must not be NULL");
    if (!grad_input && !grad_kernel && !grad_bias)
        return tconv_set_error(tconv_invalid_arguments,
                               "grad_input, grad_kernel, grad_bias: all NULL; ask for at least "
                               "one gradient");
    const uint32_t passes = plan->canonical.passes;
    if (grad_input && !(passes & TCONV_PASS_BACKWARD_DATA))
        return tconv_set_error(tconv_invalid_arguments,
                               "grad_input: the plan was made without TCONV_PASS_BACKWARD_DATA "
                               "(problem.passes = 0x%x); set it before tconv_plan_create",
                               passes);
    if ((grad_kernel || grad_bias) && !(passes & TCONV_PASS_BACKWARD_WEIGHTS))
        return tconv_set_error(tconv_invalid_arguments,
                               "%s: the plan was made without TCONV_PASS_BACKWARD_WEIGHTS "
                               "(problem.passes = 0x%x); set it before tconv_plan_create",
                               grad_kernel ? "grad_kernel" : "grad_bias", passes);
    if (grad_bias && !plan->canonical.use_bias)
        return tconv_set_error(tconv_invalid_arguments,
                               "grad_bias: must be NULL when the problem has use_bias = 0");
    if (!input && grad_kernel)
        return tconv_set_error(tconv_invalid_arguments,
                               "input: must not be NULL when grad_kernel is asked for (dL/dw "
                               "sums input * dL/dz)");
    if (!input && plan->core_activation)
        return tconv_set_error(tconv_invalid_arguments,
                               "input: must not be NULL with activation '%s' (its derivative is "
                               "taken at the pre-activation, recomputed from the input)",
                               tconv_activation_name(plan->canonical.activation));
    if (!plan->weights_set)
        return tconv_set_error(tconv_invalid_arguments,
                               "weights not set: call tconv_plan_set_weights first");
    return tconv_success;
}

/* The arguments of tconv_plan_execute_backward against the plan's passes. */
static tconv_status_t check_backward_arguments(const struct tconv_plan *plan, const void *input,
                                               const void *grad_output, const void *grad_input,
                                               const void *grad_kernel, const void *grad_bias) {
    tconv_status_t st = tconv_plan_check_backward_request(plan, input != NULL, grad_output != NULL,
                                                          grad_input != NULL, grad_kernel != NULL,
                                                          grad_bias != NULL);
    if (st != tconv_success)
        return st;
    const tconv_named_region_t buffers[] = {
        {"input", input, tconv_plan_input_bytes(plan), false},
        {"grad_output", grad_output, tconv_plan_output_bytes(plan), false},
        {"grad_input", grad_input, tconv_plan_input_bytes(plan), true},
        {"grad_kernel", grad_kernel, plan->kernel_bytes, true},
        {"grad_bias", grad_bias, plan->bias_bytes, true},
    };
    return tconv_require_disjoint(buffers, sizeof buffers / sizeof buffers[0], false);
}

tconv_status_t tconv_plan_run_backward(struct tconv_plan *plan, const void *input,
                                       const void *grad_output, void *grad_input, void *grad_kernel,
                                       void *grad_bias) {
    tconv_status_t st;
    /* dL/dz = dL/dy * act'(z), z recomputed by the backend's forward pass. */
    const void *grad_z = grad_output;
    if (plan->core_activation) {
        void *z = plan->grad_output_workspace;
        st = tconv_plan_backend_forward(plan, input, z);
        if (st != tconv_success)
            return st;
        activation_backward(plan->canonical.dtype, z, grad_output, z,
                            tconv_plan_output_bytes(plan) / tconv_dtype_size(plan->canonical.dtype),
                            plan->canonical.activation, plan->canonical.activation_alpha);
        grad_z = z;
    }

    /* Weights first, into the plan's workspace: they are small, and the
     * caller's buffers are then written only once every call succeeded. */
    unsigned char *staged_kernel = plan->grad_weights_workspace;
    unsigned char *staged_bias = staged_kernel + plan->kernel_bytes;
    if (grad_kernel != NULL || grad_bias != NULL) {
        st = tconv_plan_backend_backward_weights(plan, input, grad_z,
                                                 grad_kernel != NULL ? staged_kernel : NULL,
                                                 grad_bias != NULL ? staged_bias : NULL);
        if (st != tconv_success)
            return st;
    }
    if (grad_input != NULL) {
        st = tconv_plan_backend_backward_data(plan, grad_z, grad_input);
        if (st != tconv_success)
            return st;
    }
    if (grad_kernel != NULL)
        memcpy(grad_kernel, staged_kernel, plan->kernel_bytes);
    if (grad_bias != NULL)
        memcpy(grad_bias, staged_bias, plan->bias_bytes);
    return tconv_success;
}

static tconv_status_t plan_execute_backward(tconv_plan_t plan, const void *input,
                                            const void *grad_output, void *grad_input,
                                            void *grad_kernel, void *grad_bias) {
    TCONV_REQUIRE_NONNULL(plan);
    tconv_status_t status =
        check_backward_arguments(plan, input, grad_output, grad_input, grad_kernel, grad_bias);
    if (status != tconv_success)
        return status;
    return tconv_plan_run_backward(plan, input, grad_output, grad_input, grad_kernel, grad_bias);
}

TCONV_API tconv_status_t tconv_plan_get_device_info(tconv_plan_t plan, tconv_device_info_t *info) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(info);
    return tconv_device_info_copy(plan->context, plan->device, info); /* no plugin started */
}

TCONV_API const char *tconv_plan_get_selection_reason(tconv_plan_t plan) {
    if (plan == NULL || plan->reason == NULL)
        return "";
    return plan->reason;
}

TCONV_API tconv_status_t tconv_plan_get_canonical_sized(tconv_plan_t plan,
                                                        tconv_canonical_t *resolved,
                                                        size_t resolved_size) {
    TCONV_REQUIRE_NONNULL(plan);
    TCONV_REQUIRE_NONNULL(resolved);
    return tconv_canonical_write(resolved, resolved_size, "resolved", &plan->canonical);
}

/* The 0.1 entry point (tconv.h makes the plain name a macro). */
TCONV_API tconv_status_t(tconv_plan_get_canonical)(tconv_plan_t plan, tconv_canonical_t *resolved) {
    return tconv_plan_get_canonical_sized(plan, resolved, TCONV_CANONICAL_SIZE_0_1);
}

static void plan_destroy(tconv_plan_t plan) {
    plan->backend->plan_destroy(plan->backend_plan);
    struct tconv_context *ctx = plan->context;
    free(plan->grad_output_workspace);
    free(plan->grad_weights_workspace);
    free(plan->pad_input);
    free(plan->pad_output);
    free(plan->stage_input);
    free(plan->stage_output);
    free(plan->stage_grad_input);
    free(plan->stage_grad_weights);
    free(plan->reason);
    free(plan);
    tconv_context_release(ctx); /* may fini the backend and close its module */
}

static tconv_status_t context_select_device(tconv_context_t context, const tconv_problem_t *problem,
                                            const char *selector, size_t *device_index,
                                            char *reason, size_t reason_size) {
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(device_index);
    if (reason != NULL && reason_size > 0)
        reason[0] = '\0';
    tconv_canonical_t canonical, backend;
    if (problem != NULL) {
        tconv_status_t st = tconv_problem_resolve(problem, &canonical);
        if (st != tconv_success)
            return st;
        backend_form(&canonical, &backend);
    }
    /* Exactly what tconv_plan_create would do; the plan is then dropped. */
    size_t chosen;
    tconv_backend_plan_t plan;
    char *text;
    tconv_status_t st =
        choose_device(context, problem ? &backend : NULL, selector, NULL, &chosen, &plan, &text);
    if (st != tconv_success)
        return st;
    if (plan != NULL)
        tconv_device_backend(context, chosen)->plan_destroy(plan);
    /* The caller's index counts in the listing (tconv_context_get_device_info). */
    st = tconv_device_listing_index(context, chosen, device_index);
    if (st == tconv_success && reason != NULL && reason_size > 0)
        snprintf(reason, reason_size, "%s", text);
    free(text);
    return st;
}

/* ---------------------------------------------------------------------- */
/* Public entry points: each runs with its context's log sink active, so the
 * messages of the core and of the plugins it calls go where the context's
 * options say (log.h). */

static const tconv_log_sink_t *enter_context(const struct tconv_context *context) {
    return tconv_log_sink_enter(context != NULL ? &context->log_sink : NULL);
}

static const tconv_log_sink_t *enter_plan(const struct tconv_plan *plan) {
    return tconv_plan_log_enter(plan);
}

TCONV_API tconv_status_t tconv_plan_create(tconv_plan_t *plan, tconv_context_t context,
                                           const tconv_problem_t *problem, const char *selector) {
    const tconv_log_sink_t *previous = enter_context(context);
    const tconv_status_t st = plan_create(plan, context, problem, selector, NULL);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_create_with_options(tconv_plan_t *plan, tconv_context_t context,
                                                        const tconv_problem_t *problem,
                                                        const char *selector,
                                                        const tconv_plan_options_t *options) {
    const tconv_log_sink_t *previous = enter_context(context);
    const tconv_status_t st = plan_create(plan, context, problem, selector, options);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_set_weights(tconv_plan_t plan, const void *kernel,
                                                const void *bias) {
    const tconv_log_sink_t *previous = enter_plan(plan);
    const tconv_status_t st = plan_set_weights(plan, kernel, bias);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_execute(tconv_plan_t plan, const void *input, void *output) {
    const tconv_log_sink_t *previous = enter_plan(plan);
    const tconv_status_t st = plan_execute(plan, input, output);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_plan_execute_backward(tconv_plan_t plan, const void *input,
                                                     const void *grad_output, void *grad_input,
                                                     void *grad_kernel, void *grad_bias) {
    const tconv_log_sink_t *previous = enter_plan(plan);
    const tconv_status_t st =
        plan_execute_backward(plan, input, grad_output, grad_input, grad_kernel, grad_bias);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API void tconv_plan_destroy(tconv_plan_t plan) {
    if (plan == NULL)
        return;
    /* The sink lives in the context, which plan_destroy may free last. */
    const tconv_log_sink_t *previous = enter_plan(plan);
    struct tconv_context *context = plan->context;
    tconv_context_retain(context);
    plan_destroy(plan);
    tconv_log_sink_restore(previous);
    tconv_context_release(context);
}

TCONV_API tconv_status_t tconv_context_select_device(tconv_context_t context,
                                                     const tconv_problem_t *problem,
                                                     const char *selector, size_t *device_index,
                                                     char *reason, size_t reason_size) {
    const tconv_log_sink_t *previous = enter_context(context);
    const tconv_status_t st =
        context_select_device(context, problem, selector, device_index, reason, reason_size);
    tconv_log_sink_restore(previous);
    return st;
}
