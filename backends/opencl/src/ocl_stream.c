/* SPDX-License-Identifier: Apache-2.0 */
/* Streams and chains (see ocl_stream.h). */
#include "ocl_stream.h"

#include <stdlib.h>
#include <string.h>

#include "ocl_errors.h"

/* Past this many pending events, each new call first drops the completed
 * ones (a loop of enqueues without a wait must not grow without bound). */
#define OCL_STREAM_PRUNE_AT 256

tconv_status_t ocl_stream_create(cl_command_queue queue, size_t device_index, ocl_stream_t **out,
                                 char *msg, size_t msg_size) {
    *out = NULL;
    ocl_stream_t *s = calloc(1, sizeof(*s));
    if (!s) {
        ocl_msg(msg, msg_size, "out of host memory for a command stream");
        return tconv_out_of_memory;
    }
    cl_int err = clRetainCommandQueue(queue);
    if (err != CL_SUCCESS) {
        free(s);
        return ocl_fail(err, "clRetainCommandQueue", msg, msg_size);
    }
    s->queue = queue;
    s->device_index = device_index;
    s->failure = tconv_success;
    pthread_mutex_init(&s->order, NULL);
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return tconv_success;
}

/* Drops the completed events (under the lock); the first negative status
 * not yet reported becomes the stream's failure. */
static void drop_completed(ocl_stream_t *s) {
    size_t kept = 0;
    for (size_t i = 0; i < s->count; i++) {
        ocl_pending_t *e = &s->pending[i];
        cl_int status = CL_QUEUED;
        cl_int err = clGetEventInfo(e->event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(status),
                                    &status, NULL);
        if (err != CL_SUCCESS)
            status = err; /* an event the driver no longer knows: report it */
        if (status > CL_COMPLETE) {
            s->pending[kept++] = *e;
            continue;
        }
        if (status < 0 && s->failure == tconv_success) {
            s->failure = ocl_status_from_cl(status);
            ocl_msg(s->failure_msg, sizeof(s->failure_msg),
                    "%s on opencl:%zu failed on the device: execution status %d (%s)%s", e->what,
                    s->device_index, (int)status, ocl_error_name(status),
                    status == -1 ? "; the driver's code when an event waited for failed" : "");
        }
        clReleaseEvent(e->event);
    }
    s->count = kept;
}

static tconv_status_t take_failure(ocl_stream_t *s, char *msg, size_t msg_size) {
    tconv_status_t status = s->failure;
    if (status != tconv_success)
        ocl_msg(msg, msg_size, "%s", s->failure_msg);
    s->failure = tconv_success;
    s->failure_msg[0] = '\0';
    return status;
}

tconv_status_t ocl_stream_collect(ocl_stream_t *s, char *msg, size_t msg_size) {
    pthread_mutex_lock(&s->lock);
    drop_completed(s);
    tconv_status_t status = take_failure(s, msg, msg_size);
    pthread_mutex_unlock(&s->lock);
    return status;
}

tconv_status_t ocl_stream_wait(ocl_stream_t *s, char *msg, size_t msg_size) {
    cl_int err = clFinish(s->queue);
    tconv_status_t status = ocl_stream_collect(s, msg, msg_size);
    if (status == tconv_success && err != CL_SUCCESS)
        status = ocl_fail(err, "clFinish", msg, msg_size);
    return status;
}

void ocl_stream_order(ocl_stream_t *s, int take) {
    if (!s)
        return;
    if (take)
        pthread_mutex_lock(&s->order);
    else
        pthread_mutex_unlock(&s->order);
}

/* Waits for the stream's own pending work only: the queue may be a
 * caller's, with work of its own tconv must not wait for. */
void ocl_stream_destroy(ocl_stream_t *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++) {
        clWaitForEvents(1, &s->pending[i].event);
        clReleaseEvent(s->pending[i].event);
    }
    free(s->pending);
    clReleaseCommandQueue(s->queue);
    pthread_mutex_destroy(&s->order);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- chains ----------------------------------------------------------- */

void ocl_chain_begin(ocl_chain_t *c, cl_command_queue queue, const tconv_native_sync_t *sync,
                     int track) {
    memset(c, 0, sizeof(*c));
    c->queue = queue;
    c->track = track;
    if (sync && sync->num_wait_events > 0) {
        c->num_wait = sync->num_wait_events;
        c->wait = sync->wait_events;
    }
}

cl_event *ocl_chain_event_slot(ocl_chain_t *c) {
    c->spare = NULL;
    if (!c->track)
        return NULL;
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        cl_event *grown = realloc(c->events, cap * sizeof(*grown));
        if (!grown)
            return NULL; /* untracked: the pass still runs, its status is not seen */
        c->events = grown;
        c->cap = cap;
    }
    return &c->spare;
}

void ocl_chain_commit(ocl_chain_t *c, cl_int err) {
    if (err != CL_SUCCESS)
        return;
    c->num_wait = 0;
    c->wait = NULL;
    if (c->spare) {
        c->events[c->count++] = c->spare;
        c->spare = NULL;
    }
}

/* Appends the chain's events to the stream's pending list (under its
 * lock); an event that does not fit is waited for here. */
static void hand_over(ocl_chain_t *c, ocl_stream_t *s, const char *what) {
    if (s->count + c->count > OCL_STREAM_PRUNE_AT)
        drop_completed(s);
    if (s->count + c->count > s->cap) {
        size_t cap = s->cap ? s->cap : 16;
        while (cap < s->count + c->count)
            cap *= 2;
        ocl_pending_t *grown = realloc(s->pending, cap * sizeof(*grown));
        if (grown) {
            s->pending = grown;
            s->cap = cap;
        }
    }
    for (size_t i = 0; i < c->count; i++) {
        if (s->count < s->cap) {
            s->pending[s->count++] = (ocl_pending_t){c->events[i], what};
        } else {
            clWaitForEvents(1, &c->events[i]);
            clReleaseEvent(c->events[i]);
        }
    }
}

tconv_status_t ocl_chain_end(ocl_chain_t *c, ocl_stream_t *s, const char *what,
                             const tconv_native_sync_t *sync, cl_event *last, tconv_status_t status,
                             char *msg, size_t msg_size) {
    cl_event *want = sync ? (cl_event *)sync->event : NULL;
    if (want)
        *want = NULL;
    if (status == tconv_success && c->track && (c->count == 0 || c->num_wait > 0)) {
        /* Nothing took the wait list (or nothing was enqueued): a marker
         * does, so the returned event still follows it. */
        cl_int err = clEnqueueMarkerWithWaitList(c->queue, OCL_CHAIN_SYNC(c));
        ocl_chain_commit(c, err);
        if (err != CL_SUCCESS)
            status = ocl_fail(err, "clEnqueueMarkerWithWaitList", msg, msg_size);
    }
    cl_event final = c->count ? c->events[c->count - 1] : NULL;
    if (final && status == tconv_success && want && clRetainEvent(final) == CL_SUCCESS)
        *want = final;
    if (final && last) {
        if (*last)
            clReleaseEvent(*last);
        *last = clRetainEvent(final) == CL_SUCCESS ? final : NULL;
    }
    if (s && c->count) {
        pthread_mutex_lock(&s->lock);
        hand_over(c, s, what);
        pthread_mutex_unlock(&s->lock);
    } else {
        for (size_t i = 0; i < c->count; i++)
            clReleaseEvent(c->events[i]);
    }
    free(c->events);
    c->events = NULL;
    c->count = c->cap = 0;
    return status;
}
