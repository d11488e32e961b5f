/* SPDX-License-Identifier: Apache-2.0 */
/* OpenCL interop (tconv_opencl.h): plans on the caller's queue, passes on
 * the caller's cl_mem. The core knows nothing of OpenCL beyond the types in
 * the headers (it never links the ICD loader): it finds the loaded plugin
 * named "opencl" with the native slots (plan_create_native,
 * buffer_wrap_native), makes the plan through it, and for each call wraps
 * the cl_mem arguments as buffers of the plan's device (buffer_wrap_native
 * retains them), runs the buffer path of plan_enqueue.c with the caller's
 * events (tconv_native_sync_t) and drops the wrappers again: OpenCL keeps a
 * memory object alive while queued commands use it. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include "tconv/tconv_opencl.h"

#include <stdint.h>
#include <string.h>

#include "buffer.h"
#include "error.h"
#include "plan.h"
#include "plan_enqueue.h"
#include "plugin_loader.h"

#define OPENCL_BACKEND_NAME "opencl"

/* Sets *device to the context device of the first device of the OpenCL
 * plugin; fails naming @p context when there is none or it lacks the native
 * slots. */
static tconv_status_t find_opencl_plugin(struct tconv_context *context, size_t *device) {
    /* Its devices are listed once the plugin started (plugin_loader.h). */
    const size_t plugin = tconv_plugin_find(context, OPENCL_BACKEND_NAME);
    if (plugin != SIZE_MAX) {
        const tconv_status_t st = tconv_plugin_start(context, plugin);
        if (st != tconv_success)
            return st;
    }
    const size_t count = tconv_context_device_count(context);
    for (size_t d = 0; d < count; d++) {
        const tconv_backend_t *b = tconv_device_backend(context, d);
        if (strcmp(b->name, OPENCL_BACKEND_NAME) != 0)
            continue;
        if (b->plan_create_native == NULL || b->buffer_wrap_native == NULL)
            return tconv_set_error(tconv_unimplemented,
                                   "context: its OpenCL plugin has no native interop slots "
                                   "(plan_create_native, buffer_wrap_native: plugin ABI 1.2); "
                                   "use the OpenCL plugin of this tconv");
        *device = d;
        return tconv_success;
    }
    return tconv_set_error(tconv_no_device, "context: no OpenCL plugin with devices is loaded (see "
                                            "tconv_context_get_plugin_report, or `tconv devices`)");
}

/* Interop calls take plans of tconv_opencl_plan_create only. */
static tconv_status_t require_interop_plan(const struct tconv_plan *plan) {
    if (plan == NULL)
        return tconv_set_error(tconv_invalid_arguments, "plan: must not be NULL");
    if (!plan->native)
        return tconv_set_error(tconv_invalid_arguments,
                               "plan: not an OpenCL interop plan (made by tconv_plan_create); "
                               "make it with tconv_opencl_plan_create, or use tconv buffers "
                               "(tconv_plan_enqueue)");
    return tconv_success;
}

/* The wrappers of one call's cl_mem arguments. */
typedef struct wrapped_args {
    struct tconv_buffer buffers[5];
    bool made[5];
} wrapped_args_t;

/* Wraps @p memory (argument @p name; NULL: not given, *out NULL) as a
 * buffer of the plan's device. */
static tconv_status_t wrap(const struct tconv_plan *plan, cl_mem memory, const char *name,
                           wrapped_args_t *args, size_t slot, const struct tconv_buffer **out) {
    *out = NULL;
    if (memory == NULL)
        return tconv_success;
    struct tconv_buffer *b = &args->buffers[slot];
    memset(b, 0, sizeof *b);
    b->context = plan->context;
    b->device = plan->device;
    b->wrapped = true;
    char msg[1024] = "";
    int st = plan->backend->buffer_wrap_native(
        tconv_device_state(plan->context, plan->device),
        tconv_context_device(plan->context, plan->device)->backend_device, memory, &b->size,
        &b->handle, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (st != tconv_success) {
        const tconv_status_t status = tconv_status_sanitize(st);
        return tconv_set_error(status == tconv_success ? tconv_runtime_error : status, "%s: %s: %s",
                               name, tconv_plan_device_id(plan),
                               msg[0] ? msg : "buffer_wrap_native failed");
    }
    args->made[slot] = true;
    *out = b;
    return tconv_success;
}

/* Drops the call's wrappers (the plugin releases its retain of each cl_mem;
 * queued commands keep them alive). */
static void unwrap_all(const struct tconv_plan *plan, wrapped_args_t *args) {
    for (size_t i = 0; i < 5; i++)
        if (args->made[i])
            plan->backend->buffer_destroy(
                tconv_device_state(plan->context, plan->device),
                tconv_context_device(plan->context, plan->device)->backend_device,
                args->buffers[i].handle);
}

/* The caller's events, checked (OpenCL's rule: a list exactly when the
 * count is not 0). */
static tconv_status_t make_sync(cl_uint num_events, const cl_event *wait_list, cl_event *event,
                                tconv_native_sync_t *sync) {
    if (num_events > 0 && wait_list == NULL)
        return tconv_set_error(tconv_invalid_arguments,
                               "wait_list: must not be NULL when num_events = %u", num_events);
    if (num_events == 0 && wait_list != NULL)
        return tconv_set_error(tconv_invalid_arguments,
                               "wait_list: must be NULL when num_events = 0");
    if (event != NULL)
        *event = NULL;
    *sync = (tconv_native_sync_t){num_events, wait_list, event};
    return tconv_success;
}

static tconv_status_t opencl_plan_create(tconv_plan_t *plan, tconv_context_t context,
                                         const tconv_problem_t *problem, cl_command_queue queue) {
    TCONV_REQUIRE_NONNULL(plan);
    *plan = NULL;
    TCONV_REQUIRE_NONNULL(context);
    TCONV_REQUIRE_NONNULL(problem);
    TCONV_REQUIRE_NONNULL(queue);
    size_t device = SIZE_MAX;
    tconv_status_t st = find_opencl_plugin(context, &device);
    if (st != tconv_success)
        return st;
    return tconv_plan_create_native(plan, context, problem, device, (void *)queue, "queue");
}

static tconv_status_t opencl_plan_set_weights(tconv_plan_t plan, cl_mem kernel, cl_mem bias) {
    tconv_status_t st = require_interop_plan(plan);
    if (st != tconv_success)
        return st;
    wrapped_args_t args = {0};
    const struct tconv_buffer *k = NULL, *b = NULL;
    st = wrap(plan, kernel, "kernel", &args, 0, &k);
    if (st == tconv_success)
        st = wrap(plan, bias, "bias", &args, 1, &b);
    if (st == tconv_success)
        st = tconv_plan_set_weights_from(plan, k, b);
    unwrap_all(plan, &args);
    return st;
}

static tconv_status_t opencl_plan_execute(tconv_plan_t plan, cl_mem input, cl_mem output,
                                          cl_uint num_events, const cl_event *wait_list,
                                          cl_event *event) {
    tconv_status_t st = require_interop_plan(plan);
    if (st != tconv_success)
        return st;
    TCONV_REQUIRE_NONNULL(input);
    TCONV_REQUIRE_NONNULL(output);
    const tconv_named_region_t mems[] = {{"input", input, 1, false}, {"output", output, 1, true}};
    tconv_native_sync_t sync;
    st = tconv_require_disjoint(mems, 2, true);
    if (st == tconv_success)
        st = make_sync(num_events, wait_list, event, &sync);
    if (st != tconv_success)
        return st;
    wrapped_args_t args = {0};
    const struct tconv_buffer *in = NULL, *out = NULL;
    st = wrap(plan, input, "input", &args, 0, &in);
    if (st == tconv_success)
        st = wrap(plan, output, "output", &args, 1, &out);
    if (st == tconv_success)
        st = tconv_plan_enqueue_forward(plan, in, out, &sync);
    unwrap_all(plan, &args);
    return st;
}

static tconv_status_t opencl_plan_execute_backward(tconv_plan_t plan, cl_mem input,
                                                   cl_mem grad_output, cl_mem grad_input,
                                                   cl_mem grad_kernel, cl_mem grad_bias,
                                                   cl_uint num_events, const cl_event *wait_list,
                                                   cl_event *event) {
    tconv_status_t st = require_interop_plan(plan);
    if (st != tconv_success)
        return st;
    const tconv_named_region_t mems[] = {
        {"input", input, 1, false},          {"grad_output", grad_output, 1, false},
        {"grad_input", grad_input, 1, true}, {"grad_kernel", grad_kernel, 1, true},
        {"grad_bias", grad_bias, 1, true},
    };
    /* Which arguments are given is checked first, as for host memory. */
    st = tconv_plan_check_backward_request(plan, input != NULL, grad_output != NULL,
                                           grad_input != NULL, grad_kernel != NULL,
                                           grad_bias != NULL);
    tconv_native_sync_t sync;
    if (st == tconv_success)
        st = tconv_require_disjoint(mems, 5, true);
    if (st == tconv_success)
        st = make_sync(num_events, wait_list, event, &sync);
    if (st != tconv_success)
        return st;
    wrapped_args_t args = {0};
    const struct tconv_buffer *b[5] = {NULL};
    for (size_t i = 0; i < 5 && st == tconv_success; i++)
        st = wrap(plan, (cl_mem)mems[i].data, mems[i].name, &args, i, &b[i]);
    if (st == tconv_success)
        st = tconv_plan_enqueue_backward_passes(plan, b[0], b[1], b[2], b[3], b[4], &sync);
    unwrap_all(plan, &args);
    return st;
}

/* ---------------------------------------------------------------------- */
/* Public entry points, with the context's log sink active (log.h). */

TCONV_API tconv_status_t tconv_opencl_plan_create(tconv_plan_t *plan, tconv_context_t context,
                                                  const tconv_problem_t *problem,
                                                  cl_command_queue queue) {
    const tconv_log_sink_t *previous =
        tconv_log_sink_enter(context != NULL ? &context->log_sink : NULL);
    const tconv_status_t st = opencl_plan_create(plan, context, problem, queue);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_opencl_plan_set_weights(tconv_plan_t plan, cl_mem kernel,
                                                       cl_mem bias) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = opencl_plan_set_weights(plan, kernel, bias);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_opencl_plan_execute(tconv_plan_t plan, cl_mem input, cl_mem output,
                                                   cl_uint num_events, const cl_event *wait_list,
                                                   cl_event *event) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st =
        opencl_plan_execute(plan, input, output, num_events, wait_list, event);
    tconv_log_sink_restore(previous);
    return st;
}

TCONV_API tconv_status_t tconv_opencl_plan_execute_backward(
    tconv_plan_t plan, cl_mem input, cl_mem grad_output, cl_mem grad_input, cl_mem grad_kernel,
    cl_mem grad_bias, cl_uint num_events, const cl_event *wait_list, cl_event *event) {
    const tconv_log_sink_t *previous = tconv_plan_log_enter(plan);
    const tconv_status_t st = opencl_plan_execute_backward(
        plan, input, grad_output, grad_input, grad_kernel, grad_bias, num_events, wait_list, event);
    tconv_log_sink_restore(previous);
    return st;
}
