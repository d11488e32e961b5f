/* SPDX-License-Identifier: Apache-2.0 */
/* OpenCL interop: tconv on the caller's OpenCL context, queue and cl_mem
 * (CLBlast's model). Needs only the OpenCL headers; the calls reach the
 * OpenCL plugin through the context, which must have loaded it.
 *
 * Ownership: tconv retains the queue of a plan (released in
 * tconv_plan_destroy) and nothing else: weights are copied into the plan's
 * own device memory; the cl_mem of an execute call must stay valid until
 * that call's work has run, as for any clEnqueue* call.
 * Ordering: work goes on the caller's queue after @p wait_list; nothing
 * blocks the host (no clFinish inside). The returned event (retained for the
 * caller, who releases it) completes when the whole pass has run.
 * Thread rules: one thread at a time per plan; the queue may be used by the
 * caller meanwhile (OpenCL's own rules apply). Errors of queued work show in
 * the event's status and in tconv_plan_wait.
 * An interop plan takes cl_mem only (tconv_plan_enqueue and tconv buffers
 * refuse it); tconv_plan_set_batch, tconv_plan_wait and the host-memory
 * calls (tconv_plan_set_weights, tconv_plan_execute*) work on it. Problems
 * with a backward pass and an activation other than linear are refused
 * (tconv_unimplemented): the core would apply it on host memory between
 * commands of your queue.
 * Libraries built without the OpenCL headers have none of these calls and
 * do not install this header. */
#ifndef TCONV_TCONV_OPENCL_H
#define TCONV_TCONV_OPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "tconv/tconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Creates a plan on the device of @p queue, in its context, enqueueing on
 *  it; programs come from the same cache as other OpenCL plans.
 *  @returns tconv_no_device when @p context has no OpenCL plugin with
 *           devices or @p queue's device is none of them (the message names
 *           the argument).
 *  @param plan Receives the plan. Must not be NULL.
 *  @param context A tconv context that loaded the OpenCL plugin. Not NULL.
 *  @param problem The problem. Must not be NULL. Copied.
 *  @param queue An in-order command queue. Must not be NULL. Retained. */
TCONV_API tconv_status_t tconv_opencl_plan_create(tconv_plan_t *plan, tconv_context_t context,
                                                  const tconv_problem_t *problem,
                                                  cl_command_queue queue);

/** Copies the weights from device memory, in queue order.
 *  @param plan An OpenCL interop plan. Must not be NULL.
 *  @param kernel Kernel in the problem's layout and dtype. Not NULL.
 *  @param bias Cout values, or NULL exactly when the problem has no bias. */
TCONV_API tconv_status_t tconv_opencl_plan_set_weights(tconv_plan_t plan, cl_mem kernel,
                                                       cl_mem bias);

/** Enqueues the forward pass on the plan's queue.
 *  @param plan An OpenCL interop plan with weights set. Must not be NULL.
 *  @param input The input (batch as set by tconv_plan_set_batch). Not NULL.
 *  @param output The output. Not NULL, not @p input.
 *  @param num_events Entries of @p wait_list.
 *  @param wait_list Events the pass waits for, or NULL when num_events is 0.
 *  @param event Receives an event of the pass, or NULL: none wanted. */
TCONV_API tconv_status_t tconv_opencl_plan_execute(tconv_plan_t plan, cl_mem input, cl_mem output,
                                                   cl_uint num_events, const cl_event *wait_list,
                                                   cl_event *event);

/** Enqueues the backward pass: the arguments and rules of
 *  tconv_plan_execute_backward with cl_mem for host pointers (NULL = not
 *  wanted for the three outputs), then those of tconv_opencl_plan_execute.
 *  The weights pass goes first (after @p wait_list), the data pass after
 *  it; @p event is the last one's. If the second fails to enqueue, the
 *  first stays queued and no event is returned. */
TCONV_API tconv_status_t tconv_opencl_plan_execute_backward(
    tconv_plan_t plan, cl_mem input, cl_mem grad_output, cl_mem grad_input, cl_mem grad_kernel,
    cl_mem grad_bias, cl_uint num_events, const cl_event *wait_list, cl_event *event);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_TCONV_OPENCL_H */
