/* SPDX-License-Identifier: Apache-2.0 */
/* The CPU backend's plugin table: one device (the host CPU), plans that run
 * the phase-decomposed micro-kernels of the best ISA (or TCONV_CPU_ISA's),
 * and a thread pool made at the first plan and torn down in fini. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/host_threads.h"
#include "cpu_backward.h"
#include "cpu_device.h"
#include "cpu_fold_wino.h"
#include "cpu_kernel.h"
#include "cpu_plan.h"
#include "cpu_winograd.h"
#include "tconv/tconv_backend.h"

typedef struct cpu_state {
    const tconv_host_t *host;
    cpu_isa_t isa;
    size_t num_threads;
    pthread_mutex_t pool_lock; /* guards the lazy creation of pool */
    cpu_thread_pool_t *pool;
} cpu_state_t;

static const char backend_name[] = "cpu";

static tconv_status_t cpu_init(const tconv_host_t *host, tconv_backend_state_t *out, char *msg,
                               size_t msg_size) {
    *out = NULL;
    cpu_isa_t best = cpu_isa_detect(), isa = best;
    const char *forced = getenv("TCONV_CPU_ISA");
    if (forced && *forced) {
        if (cpu_isa_parse(forced, &isa) != 0) {
            snprintf(msg, msg_size, "TCONV_CPU_ISA = '%s': must be avx512, avx2 or c", forced);
            return tconv_invalid_arguments;
        }
        if (isa > best) {
            if (host && host->log) {
                host->log(tconv_log_info, backend_name,
                          "TCONV_CPU_ISA=%s is not supported by this CPU; using %s", forced,
                          cpu_isa_name(best));
            }
            isa = best;
        }
    }
    cpu_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(msg, msg_size, "allocating the cpu backend state failed");
        return tconv_out_of_memory;
    }
    st->host = host;
    st->isa = isa;
    st->num_threads =
        (size_t)(host && host->num_threads > 0 ? host->num_threads : tconv_online_cores());
    pthread_mutex_init(&st->pool_lock, NULL);
    if (host && host->log) {
        host->log(tconv_log_debug, backend_name, "kernels %s, %zu threads", cpu_isa_name(isa),
                  st->num_threads);
    }
    *out = st;
    return tconv_success;
}

static void cpu_fini(tconv_backend_state_t state) {
    cpu_state_t *st = state;
    if (!st) {
        return;
    }
    cpu_thread_pool_destroy(st->pool);
    pthread_mutex_destroy(&st->pool_lock);
    free(st);
}

static tconv_status_t cpu_get_device_count(tconv_backend_state_t state, size_t *count) {
    *count = 1;
    return tconv_success;
}

static tconv_status_t cpu_get_device_info(tconv_backend_state_t state, size_t device,
                                          tconv_device_info_t *info) {
    cpu_state_t *st = state;
    if (device != 0 || !info) {
        return tconv_invalid_arguments;
    }
    cpu_device_describe(info, (unsigned)st->num_threads, cpu_isa_name(st->isa));
    return tconv_success;
}

/* Sustained GFLOP/s per thread we expect of each kernel family (f32; f64 is
 * half), measured on AVX-512 hardware at about 60% of the FMA peak. */
static double assumed_gflops_per_thread(cpu_isa_t isa) {
    switch (isa) {
    case cpu_isa_avx512:
        return 60.0;
    case cpu_isa_avx2:
        return 30.0;
    case cpu_isa_c:
        return 4.0;
    }
    return 4.0;
}

/* The device index and the problem, as query and plan_create need them. */
static tconv_status_t check_request(size_t device, const tconv_canonical_t *p, char *msg,
                                    size_t msg_size) {
    if (device != 0) {
        snprintf(msg, msg_size, "device %zu: the cpu backend has one device (0)", device);
        return tconv_invalid_arguments;
    }
    return cpu_problem_check(p, msg, msg_size);
}

static tconv_status_t cpu_query(tconv_backend_state_t state, size_t device,
                                const tconv_canonical_t *p, double *est_seconds, char *msg,
                                size_t msg_size) {
    cpu_state_t *st = state;
    tconv_status_t status = check_request(device, p, msg, msg_size);
    if (status != tconv_success) {
        return status;
    }
    double flops =
        2.0 * (double)p->batch * (double)(p->in_channels / p->groups) * (double)p->out_channels;
    for (int a = 0; a < 3; ++a) {
        flops *= (double)p->input_size[a] * (double)p->kernel_size[a];
    }
    double rate = assumed_gflops_per_thread(st->isa) * 1e9 * (double)st->num_threads;
    if (p->dtype == tconv_f64) {
        rate /= 2;
    }
    if (est_seconds) {
        *est_seconds = flops / rate;
    }
    return tconv_success;
}

static tconv_status_t cpu_plan_create_slot(tconv_backend_state_t state, size_t device,
                                           const tconv_canonical_t *p, tconv_backend_plan_t *out,
                                           char *msg, size_t msg_size) {
    cpu_state_t *st = state;
    *out = NULL;
    tconv_status_t status = check_request(device, p, msg, msg_size);
    if (status != tconv_success) {
        return status;
    }
    pthread_mutex_lock(&st->pool_lock);
    int pool_error = 0;
    if (!st->pool) {
        st->pool = cpu_thread_pool_create(st->num_threads);
        pool_error = errno;
    }
    cpu_thread_pool_t *pool = st->pool;
    pthread_mutex_unlock(&st->pool_lock);
    if (!pool) {
        /* Out of memory is said as such (the selection then moves on, the
         * caller gets tconv_out_of_memory); other failures of
         * pthread_create are the system's. */
        snprintf(msg, msg_size, "creating the pool of %zu cpu threads failed: %s", st->num_threads,
                 strerror(pool_error));
        return pool_error == ENOMEM ? tconv_out_of_memory : tconv_runtime_error;
    }
    cpu_plan_t *plan = NULL;
    status = cpu_plan_create(p, cpu_kernel_select(st->isa, p->dtype), pool, &plan, msg, msg_size);
    if (status == tconv_success) {
        status = cpu_plan_choose_forward(plan, msg, msg_size);
        if (status == tconv_success) {
            status = cpu_backward_create(plan, msg, msg_size);
        }
        if (status != tconv_success) {
            cpu_plan_destroy(plan);
            plan = NULL;
        }
    }
    if (status == tconv_success && st->host && st->host->log) {
        st->host->log(tconv_log_debug, backend_name,
                      "plan: %s %s tiles, runs D/H/W %lld/%lld/%lld, %lld work items per sample, "
                      "%lld channel chunks of %lld, %zu threads%s%s",
                      cpu_isa_name(st->isa), plan->dot ? "dot" : "channel-vector",
                      (long long)plan->axis[0].nruns, (long long)plan->axis[1].nruns,
                      (long long)plan->axis[2].nruns, (long long)plan->nitems,
                      (long long)plan->nchunk, (long long)plan->chunk_cout, plan->nthreads,
                      plan->w_merged ? "; W phases merged into the channels" : "",
                      cpu_plan_forward(plan)->stream_output
                          ? "; non-temporal output stores (64-byte aligned outputs)"
                          : "");
    }
    if (status == tconv_success && st->host && st->host->log &&
        (plan->wino_fwd || plan->fold_wino)) { /* the forward pass instead of the tiles */
        char line[256];
        if (plan->wino_fwd) {
            cpu_wino_describe(plan->wino_fwd, line, sizeof line);
        } else {
            cpu_fwino_describe(plan->fold_wino, line, sizeof line);
        }
        st->host->log(tconv_log_debug, backend_name, "plan: %s", line);
    }
    if (status == tconv_success && st->host && st->host->log &&
        (plan->backward_data || plan->wino || plan->backward_weights)) {
        char line[384];
        cpu_backward_describe(plan, line, sizeof line);
        st->host->log(tconv_log_debug, backend_name, "plan: %s", line);
    }
    *out = plan;
    return status;
}

static tconv_status_t cpu_plan_set_weights_slot(tconv_backend_plan_t plan, const void *kernel,
                                                const void *bias, char *msg, size_t msg_size) {
    tconv_status_t status = cpu_plan_set_weights(plan, kernel, bias, msg, msg_size);
    return status == tconv_success ? cpu_backward_set_weights(plan, kernel, msg, msg_size) : status;
}

static tconv_status_t cpu_plan_execute_slot(tconv_backend_plan_t plan, const void *input,
                                            void *output, char *msg, size_t msg_size) {
    return cpu_plan_execute(plan, input, output, msg, msg_size);
}

/* The batch of the forward plan and of its backward passes; all of them
 * at the previous batch again when one cannot follow. */
static tconv_status_t cpu_plan_set_batch_slot(tconv_backend_plan_t plan, int64_t batch, char *msg,
                                              size_t msg_size) {
    cpu_plan_t *p = plan;
    const int64_t previous = p->p.batch;
    tconv_status_t status = cpu_plan_set_batch(p, batch, msg, msg_size);
    if (status == tconv_success) {
        status = cpu_backward_set_batch(p, batch, msg, msg_size);
    }
    if (status != tconv_success) {
        char ignored[64];
        cpu_plan_set_batch(p, previous, ignored, sizeof ignored);
        cpu_backward_set_batch(p, previous, ignored, sizeof ignored); /* tables kept: no alloc */
    }
    return status;
}

static void cpu_plan_destroy_slot(tconv_backend_plan_t plan) {
    cpu_backward_destroy(plan);
    cpu_plan_destroy(plan);
}

static tconv_status_t cpu_plan_backward_data_slot(tconv_backend_plan_t plan,
                                                  const void *grad_output, void *grad_input,
                                                  char *msg, size_t msg_size) {
    return cpu_backward_data(plan, grad_output, grad_input, msg, msg_size);
}

static tconv_status_t cpu_plan_backward_weights_slot(tconv_backend_plan_t plan, const void *input,
                                                     const void *grad_output, void *grad_kernel,
                                                     void *grad_bias, char *msg, size_t msg_size) {
    return cpu_backward_weights(plan, input, grad_output, grad_kernel, grad_bias, msg, msg_size);
}

static const tconv_backend_t cpu_backend = {
    .struct_size = sizeof(tconv_backend_t),
    .abi_major = TCONV_BACKEND_ABI_MAJOR,
    .abi_minor = TCONV_BACKEND_ABI_MINOR,
    .name = backend_name,
    .description = "native CPU: phase-decomposed, multithreaded AVX-512/AVX2/C kernels",
    .init = cpu_init,
    .fini = cpu_fini,
    .get_device_count = cpu_get_device_count,
    .get_device_info = cpu_get_device_info,
    .query = cpu_query,
    .plan_create = cpu_plan_create_slot,
    .plan_set_weights = cpu_plan_set_weights_slot,
    .plan_execute = cpu_plan_execute_slot,
    .plan_destroy = cpu_plan_destroy_slot,
    .plan_backward_data = cpu_plan_backward_data_slot,
    .plan_backward_weights = cpu_plan_backward_weights_slot,
    /* ABI 1.2: the batch, natively (a loop bound of every pass). No buffer
     * group: the core's host buffers are this device's memory, so passes
     * on buffers run the slots above with zero copies. */
    .plan_set_batch = cpu_plan_set_batch_slot,
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void) {
    return &cpu_backend;
}
