/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin "async_fault": the plugin ABI 1.2 buffer group over host
 * memory, with a device queue that really defers. An enqueue only records
 * the pass (with the plan's batch at that moment); the queue runs when
 * something must see its results: buffer_read, buffer_write, plan_wait,
 * set_weights, a host slot, a destroy. The arithmetic is the example
 * plugin's (plugins/example/example_compute.c), so passes on it can be
 * checked against the host path and the reference.
 *
 * A planted failure: TCONV_TEST_ASYNC_FAIL_ENQUEUE=N (read at init; the
 * enqueues of an instance counted from 1) makes the N-th enqueue succeed and
 * its pass fail when the queue runs it (its outputs are left as they were),
 * with "simulated device fault in enqueue N"; the next plan_wait or
 * buffer_read returns that failure and clears it, as a device's
 * asynchronous error. tests/test_buffers.c checks the core's side. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../example/example_compute.h"
#include "faulty_base.h"

typedef enum af_pass { af_pass_forward, af_pass_backward_data, af_pass_backward_weights } af_pass_t;

typedef struct af_plan af_plan_t;

/* One recorded pass: its plan, its batch at enqueue time, its buffers'
 * memory (inputs a, b; outputs c, d; NULL where not given). */
typedef struct af_op {
    af_pass_t pass;
    af_plan_t *plan;
    int64_t batch;
    const void *a, *b;
    void *c, *d;
    long number; /* which enqueue of the instance it was */
} af_op_t;

typedef struct af_state {
    pthread_mutex_t lock; /* the queue, the counters and the error */
    af_op_t *ops;
    size_t op_count, op_capacity;
    long enqueues;
    long fail_at; /* 0: no planted failure */
    char error[256];
} af_state_t;

struct af_plan {
    af_state_t *state;
    tconv_canonical_t problem; /* batch: the current one */
    void *kernel, *bias;
};

typedef struct af_buffer {
    size_t size;
    unsigned char *data;
} af_buffer_t;

static tconv_status_t fail(char *msg, size_t msg_size, tconv_status_t st, const char *text) {
    faulty_message(msg, msg_size, text);
    return st;
}

static size_t element_size(const tconv_canonical_t *p) {
    return p->dtype == tconv_f64 ? sizeof(double) : sizeof(float);
}

/* Runs every recorded pass in order; the caller holds the lock. */
static void run_queue(af_state_t *s) {
    for (size_t i = 0; i < s->op_count; i++) {
        const af_op_t *op = &s->ops[i];
        if (op->number == s->fail_at) {
            if (s->error[0] == '\0')
                snprintf(s->error, sizeof s->error, "simulated device fault in enqueue %ld",
                         op->number);
            continue;
        }
        tconv_canonical_t p = op->plan->problem;
        p.batch = op->batch;
        if (op->pass == af_pass_forward)
            example_forward(&p, op->plan->kernel, op->plan->bias, op->a, op->c);
        else if (op->pass == af_pass_backward_data)
            example_backward_data(&p, op->plan->kernel, op->a, op->c);
        else
            example_backward_weights(&p, op->a, op->b, op->c, op->d);
    }
    s->op_count = 0;
}

static void flush(af_state_t *s) {
    pthread_mutex_lock(&s->lock);
    run_queue(s);
    pthread_mutex_unlock(&s->lock);
}

/* Flushes, then returns (and clears) the first failure of the work. */
static tconv_status_t flush_and_report(af_state_t *s, char *msg, size_t msg_size) {
    pthread_mutex_lock(&s->lock);
    run_queue(s);
    tconv_status_t st = tconv_success;
    if (s->error[0] != '\0') {
        faulty_message(msg, msg_size, s->error);
        s->error[0] = '\0';
        st = tconv_runtime_error;
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static tconv_status_t enqueue(af_plan_t *plan, af_pass_t pass, const void *a, const void *b,
                              void *c, void *d, char *msg, size_t msg_size) {
    af_state_t *s = plan->state;
    if (plan->kernel == NULL)
        return fail(msg, msg_size, tconv_invalid_arguments, "weights not set");
    pthread_mutex_lock(&s->lock);
    if (s->op_count == s->op_capacity) {
        size_t capacity = s->op_capacity ? 2 * s->op_capacity : 16;
        af_op_t *grown = realloc(s->ops, capacity * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&s->lock);
            return fail(msg, msg_size, tconv_out_of_memory, "out of memory queueing a pass");
        }
        s->ops = grown;
        s->op_capacity = capacity;
    }
    s->ops[s->op_count++] = (af_op_t){pass, plan, plan->problem.batch, a, b, c, d, ++s->enqueues};
    pthread_mutex_unlock(&s->lock);
    return tconv_success;
}

/* ---- instance */

static tconv_status_t af_init(const tconv_host_t *host, tconv_backend_state_t *state, char *msg,
                              size_t msg_size) {
    af_state_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fail(msg, msg_size, tconv_out_of_memory, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    const char *fail_at = getenv("TCONV_TEST_ASYNC_FAIL_ENQUEUE");
    s->fail_at = fail_at != NULL ? strtol(fail_at, NULL, 10) : 0;
    *state = s;
    return tconv_success;
}

static void af_fini(tconv_backend_state_t state) {
    af_state_t *s = state;
    pthread_mutex_destroy(&s->lock);
    free(s->ops);
    free(s);
}

static tconv_status_t af_device_count(tconv_backend_state_t state, size_t *count) {
    *count = 1;
    return tconv_success;
}

/* ---- plans and host slots (each runs the queue first: in order) */

static tconv_status_t af_plan_create(tconv_backend_state_t state, size_t device,
                                     const tconv_canonical_t *problem, tconv_backend_plan_t *out,
                                     char *msg, size_t msg_size) {
    if (problem->dtype != tconv_f32 && problem->dtype != tconv_f64)
        return fail(msg, msg_size, tconv_unimplemented, "async_fault: f32 and f64 only");
    af_plan_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return fail(msg, msg_size, tconv_out_of_memory, "out of memory");
    p->state = state;
    p->problem = *problem;
    *out = p;
    return tconv_success;
}

static tconv_status_t af_set_weights(tconv_backend_plan_t plan, const void *kernel,
                                     const void *bias, char *msg, size_t msg_size) {
    af_plan_t *p = plan;
    flush(p->state);
    const size_t kernel_bytes = example_kernel_bytes(&p->problem);
    const size_t bias_bytes = (size_t)p->problem.out_channels * element_size(&p->problem);
    void *k = malloc(kernel_bytes ? kernel_bytes : 1);
    void *b = bias != NULL ? malloc(bias_bytes) : NULL;
    if (k == NULL || (bias != NULL && b == NULL)) {
        free(k);
        free(b);
        return fail(msg, msg_size, tconv_out_of_memory, "out of memory copying the weights");
    }
    memcpy(k, kernel, kernel_bytes);
    if (bias != NULL)
        memcpy(b, bias, bias_bytes);
    free(p->kernel);
    free(p->bias);
    p->kernel = k;
    p->bias = b;
    return tconv_success;
}

static tconv_status_t af_execute(tconv_backend_plan_t plan, const void *input, void *output,
                                 char *msg, size_t msg_size) {
    af_plan_t *p = plan;
    flush(p->state);
    example_forward(&p->problem, p->kernel, p->bias, input, output);
    return tconv_success;
}

static tconv_status_t af_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                       void *grad_input, char *msg, size_t msg_size) {
    af_plan_t *p = plan;
    flush(p->state);
    example_backward_data(&p->problem, p->kernel, grad_output, grad_input);
    return tconv_success;
}

static tconv_status_t af_backward_weights(tconv_backend_plan_t plan, const void *input,
                                          const void *grad_output, void *grad_kernel,
                                          void *grad_bias, char *msg, size_t msg_size) {
    af_plan_t *p = plan;
    flush(p->state);
    example_backward_weights(&p->problem, input, grad_output, grad_kernel, grad_bias);
    return tconv_success;
}

static void af_plan_destroy(tconv_backend_plan_t plan) {
    af_plan_t *p = plan;
    flush(p->state); /* its queued passes still run */
    free(p->kernel);
    free(p->bias);
    free(p);
}

static tconv_status_t af_set_batch(tconv_backend_plan_t plan, int64_t batch, char *msg,
                                   size_t msg_size) {
    ((af_plan_t *)plan)->problem.batch = batch; /* later enqueues capture it */
    return tconv_success;
}

/* ---- buffers */

static tconv_status_t af_buffer_create(tconv_backend_state_t state, size_t device, size_t size,
                                       void **buffer, char *msg, size_t msg_size) {
    af_buffer_t *b = calloc(1, sizeof *b);
    if (b != NULL)
        b->data = malloc(size);
    if (b == NULL || b->data == NULL) {
        free(b);
        return fail(msg, msg_size, tconv_out_of_memory, "out of device memory");
    }
    /* Not zeroed, as device memory: a pass that reads what was never
     * written shows in the tests as garbage, not as zeros. */
    memset(b->data, 0xA5, size);
    b->size = size;
    *buffer = b;
    return tconv_success;
}

static void af_buffer_destroy(tconv_backend_state_t state, size_t device, void *buffer) {
    flush(state); /* work queued on it completes first */
    af_buffer_t *b = buffer;
    free(b->data);
    free(b);
}

static tconv_status_t af_buffer_write(tconv_backend_state_t state, size_t device, void *buffer,
                                      size_t offset, const void *src, size_t size, char *msg,
                                      size_t msg_size) {
    af_buffer_t *b = buffer;
    flush(state);
    if (offset > b->size || size > b->size - offset)
        return fail(msg, msg_size, tconv_invalid_arguments, "write past the buffer's end");
    memcpy(b->data + offset, src, size);
    return tconv_success;
}

static tconv_status_t af_buffer_read(tconv_backend_state_t state, size_t device, const void *buffer,
                                     size_t offset, void *dst, size_t size, char *msg,
                                     size_t msg_size) {
    const af_buffer_t *b = buffer;
    tconv_status_t st = flush_and_report(state, msg, msg_size);
    if (st != tconv_success)
        return st;
    if (offset > b->size || size > b->size - offset)
        return fail(msg, msg_size, tconv_invalid_arguments, "read past the buffer's end");
    memcpy(dst, b->data + offset, size);
    return tconv_success;
}

static const void *mem(const void *buffer) {
    return buffer != NULL ? ((const af_buffer_t *)buffer)->data : NULL;
}

static void *mem_out(void *buffer) {
    return buffer != NULL ? ((af_buffer_t *)buffer)->data : NULL;
}

static tconv_status_t af_set_weights_buffers(tconv_backend_plan_t plan, const void *kernel,
                                             const void *bias, char *msg, size_t msg_size) {
    return af_set_weights(plan, mem(kernel), mem(bias), msg, msg_size);
}

static tconv_status_t af_enqueue(tconv_backend_plan_t plan, const void *input, void *output,
                                 const tconv_native_sync_t *sync, char *msg, size_t msg_size) {
    return enqueue(plan, af_pass_forward, mem(input), NULL, mem_out(output), NULL, msg, msg_size);
}

static tconv_status_t af_enqueue_backward_data(tconv_backend_plan_t plan, const void *grad_output,
                                               void *grad_input, const tconv_native_sync_t *sync,
                                               char *msg, size_t msg_size) {
    return enqueue(plan, af_pass_backward_data, mem(grad_output), NULL, mem_out(grad_input), NULL,
                   msg, msg_size);
}

static tconv_status_t af_enqueue_backward_weights(tconv_backend_plan_t plan, const void *input,
                                                  const void *grad_output, void *grad_kernel,
                                                  void *grad_bias, const tconv_native_sync_t *sync,
                                                  char *msg, size_t msg_size) {
    return enqueue(plan, af_pass_backward_weights, mem(input), mem(grad_output),
                   mem_out(grad_kernel), mem_out(grad_bias), msg, msg_size);
}

static tconv_status_t af_wait(tconv_backend_plan_t plan, char *msg, size_t msg_size) {
    return flush_and_report(((af_plan_t *)plan)->state, msg, msg_size);
}

static const tconv_backend_t base = {
    FAULTY_TABLE_INIT("async_fault"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t table;
    table = base;
    table.description = "test plugin: deferred device queue over host memory, planted failures";
    table.init = af_init;
    table.fini = af_fini;
    table.get_device_count = af_device_count;
    table.plan_create = af_plan_create;
    table.plan_set_weights = af_set_weights;
    table.plan_execute = af_execute;
    table.plan_destroy = af_plan_destroy;
    table.plan_backward_data = af_backward_data;
    table.plan_backward_weights = af_backward_weights;
    table.plan_set_batch = af_set_batch;
    table.buffer_create = af_buffer_create;
    table.buffer_destroy = af_buffer_destroy;
    table.buffer_write = af_buffer_write;
    table.buffer_read = af_buffer_read;
    table.plan_set_weights_buffers = af_set_weights_buffers;
    table.plan_enqueue = af_enqueue;
    table.plan_enqueue_backward_data = af_enqueue_backward_data;
    table.plan_enqueue_backward_weights = af_enqueue_backward_weights;
    table.plan_wait = af_wait;
    return &table;
}
