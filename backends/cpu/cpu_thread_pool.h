/* SPDX-License-Identifier: Apache-2.0 */
/* A persistent pool of worker threads that runs one parallel job at a time:
 * job(ctx, thread_index, thread_count) on every thread, the caller being
 * thread 0. Created lazily by the backend, torn down in fini. */
#ifndef TCONV_CPU_THREAD_POOL_H
#define TCONV_CPU_THREAD_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cpu_thread_pool cpu_thread_pool_t;

/** One parallel job: called once per thread with its index in [0, count). */
typedef void (*cpu_pool_job_fn)(void *ctx, size_t thread_index, size_t thread_count);

/** Starts @p thread_count - 1 workers (the caller is the last thread).
 *  Returns NULL on failure (resources released) with errno set: ENOMEM when
 *  an allocation failed, else pthread_create's error. */
cpu_thread_pool_t *cpu_thread_pool_create(size_t thread_count);
/** Threads that take part in a job, the caller included. */
size_t cpu_thread_pool_size(const cpu_thread_pool_t *pool);
/** Runs @p job on every thread and waits for all of them. Jobs from several
 *  caller threads are serialised. */
void cpu_thread_pool_run(cpu_thread_pool_t *pool, cpu_pool_job_fn job, void *ctx);
/** Stops and joins the workers; NULL is ignored. */
void cpu_thread_pool_destroy(cpu_thread_pool_t *pool);

/** Where part @p k of @p n items split into @p parts contiguous ranges of
 *  near-equal size starts: n * k / parts, without overflow. Part k is
 *  [cpu_share_start(n, k, parts), cpu_share_start(n, k + 1, parts)). */
static inline int64_t cpu_share_start(int64_t n, int64_t k, int64_t parts) {
    return (int64_t)((__int128)n * k / parts);
}

#endif /* TCONV_CPU_THREAD_POOL_H */
