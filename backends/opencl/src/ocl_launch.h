/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel launches of the forward and backward plans: the arguments set one
 * by one, each call's status checked on its own, then the NDRange enqueued
 * in a chain. A failing clSetKernelArg is reported with its own code and the
 * argument's index: OR-ing the codes of several calls gave a code no call
 * returned (and every failure was reported as CL_INVALID_KERNEL_ARGS, so an
 * out-of-memory one was not tconv_out_of_memory). */
#ifndef TCONV_OCL_LAUNCH_H
#define TCONV_OCL_LAUNCH_H

#include <stddef.h>

#include <CL/cl.h>

#include "ocl_stream.h"
#include "tconv/tconv_types.h"

/** A kernel argument: a cl_mem (@p mem points to it) or a cl_int value. */
typedef struct ocl_arg {
    const cl_mem *mem; /**< NULL for an integer argument. */
    cl_int value;      /**< The integer argument when mem is NULL. */
} ocl_arg_t;

/** A cl_mem argument (an lvalue: its address is taken). */
#define OCL_MEM(m) ((ocl_arg_t){&(m), 0})
/** A cl_int argument. */
#define OCL_INT(v) ((ocl_arg_t){NULL, (cl_int)(v)})

/** Sets arguments 0 .. @p nargs - 1 of @p k in order, stopping at the first
 *  failure.
 *  @param k The kernel.
 *  @param name The kernel's name, for the message.
 *  @param args The arguments, in the kernel's order.
 *  @param nargs How many.
 *  @param msg, msg_size Receive "clSetKernelArg(<name>, argument <i>):
 *                       <CL name> (<code>)" on failure.
 *  @returns ocl_status_from_cl of the failing call's own code, or success. */
tconv_status_t ocl_set_args(cl_kernel k, const char *name, const ocl_arg_t *args, size_t nargs,
                            char *msg, size_t msg_size);

/** ocl_set_args, then clEnqueueNDRangeKernel of @p k (3 dimensions) in
 *  chain @p c.
 *  @param c The chain the launch belongs to (its wait list and events).
 *  @param k, name, args, nargs As ocl_set_args.
 *  @param global The global size.
 *  @param local The local size (NULL: the driver's choice).
 *  @param msg, msg_size Receive the failing call and its code.
 *  @returns The status of the first failing call, or success. */
tconv_status_t ocl_launch(ocl_chain_t *c, cl_kernel k, const char *name, const size_t *global,
                          const size_t *local, const ocl_arg_t *args, size_t nargs, char *msg,
                          size_t msg_size);

/** ocl_launch with the arguments listed inline: OCL_LAUNCH(c, k, name,
 *  global, local, msg, msg_size, OCL_MEM(x), OCL_INT(n), ...). */
#define OCL_LAUNCH(c, k, name, global, local, msg, msg_size, ...)                                  \
    ocl_launch((c), (k), (name), (global), (local), (const ocl_arg_t[]){__VA_ARGS__},              \
               sizeof((const ocl_arg_t[]){__VA_ARGS__}) / sizeof(ocl_arg_t), (msg), (msg_size))

#endif /* TCONV_OCL_LAUNCH_H */
