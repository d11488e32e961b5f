/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous work on an in-order command queue (ABI 1.2, the buffer
 * group): a stream is a queue with the events of the work enqueued on it
 * since the last wait, so that a failure of the work itself (a negative
 * execution status) is returned by the next wait or read, with a message
 * naming the pass. The device queue of each device is a stream
 * (ocl_state.h), and so is the caller's queue of a plan made by
 * plan_create_native.
 *
 * A chain is the commands of one call (a pass, a weight upload): the first
 * command waits for the caller's wait list, the queue orders the others, and
 * the last one's event is what the caller gets back. The host-path calls use
 * a chain without events (nothing to track: they finish before returning). */
#ifndef TCONV_OCL_STREAM_H
#define TCONV_OCL_STREAM_H

#include <pthread.h>
#include <stddef.h>

#include <CL/cl.h>

#include "tconv/tconv_backend.h"

/** One tracked command: its event and the call it belongs to. */
typedef struct ocl_pending {
    cl_event event;
    const char *what; /**< Static text: "forward pass", "weight upload", ... */
} ocl_pending_t;

typedef struct ocl_stream {
    cl_command_queue queue; /**< Retained by the stream. */
    size_t device_index;    /**< opencl:<index>, for messages. */
    /** Held by a call while it enqueues all its commands (ocl_stream_order),
     *  so the calls of several threads do not interleave. */
    pthread_mutex_t order;
    pthread_mutex_t lock; /**< Guards the pending list and the failure. */
    ocl_pending_t *pending;
    size_t count, cap;
    /** The first failure found among completed events not yet reported. */
    tconv_status_t failure;
    char failure_msg[512];
} ocl_stream_t;

/** A stream on @p queue, which it retains. */
tconv_status_t ocl_stream_create(cl_command_queue queue, size_t device_index, ocl_stream_t **out,
                                 char *msg, size_t msg_size);

/** Waits for the tracked work (not the whole queue: it may be a caller's),
 *  releases the events and the queue. NULL is ignored. */
void ocl_stream_destroy(ocl_stream_t *s);

/** clFinish, then the first failure of the work tracked since the last
 *  wait (cleared). */
tconv_status_t ocl_stream_wait(ocl_stream_t *s, char *msg, size_t msg_size);

/** After a blocking command on the queue (which completes everything
 *  before it): the first failure tracked since the last wait (cleared). */
tconv_status_t ocl_stream_collect(ocl_stream_t *s, char *msg, size_t msg_size);

/** Takes (1) or gives back (0) the stream's order lock. NULL is ignored. */
void ocl_stream_order(ocl_stream_t *s, int take);

/** The commands of one call. */
typedef struct ocl_chain {
    cl_command_queue queue;
    cl_uint num_wait; /**< The wait list, until the first command takes it. */
    const cl_event *wait;
    int track;        /**< Events are collected (enqueue calls). */
    cl_event *events; /**< Collected events, in command order. */
    size_t count, cap;
    cl_event spare; /**< Event slot handed to the call being made. */
} ocl_chain_t;

/** A chain on @p queue; @p sync (NULL: none) gives the wait list. @p track
 *  0: no events (the host path). */
void ocl_chain_begin(ocl_chain_t *c, cl_command_queue queue, const tconv_native_sync_t *sync,
                     int track);

/** The three last arguments of a clEnqueue* call in the chain: the wait
 *  list for the first command, none after; an event slot when tracking. */
#define OCL_CHAIN_SYNC(c) (c)->num_wait, (c)->wait, ocl_chain_event_slot(c)
cl_event *ocl_chain_event_slot(ocl_chain_t *c);

/** Records the outcome of the call just made with OCL_CHAIN_SYNC. */
void ocl_chain_commit(ocl_chain_t *c, cl_int err);

/** Ends the chain: when @p status is a success and the caller wants an
 *  event (sync->event), retains the last command's (a marker if the chain
 *  enqueued none, so the wait list is still honoured); hands every event to
 *  @p s as pending work named @p what (also after a failure: commands
 *  already queued run anyway); replaces *@p last (when not NULL) with the
 *  last event, retained. Returns @p status, or the failure to enqueue the
 *  marker. */
tconv_status_t ocl_chain_end(ocl_chain_t *c, ocl_stream_t *s, const char *what,
                             const tconv_native_sync_t *sync, cl_event *last, tconv_status_t status,
                             char *msg, size_t msg_size);

#endif /* TCONV_OCL_STREAM_H */
