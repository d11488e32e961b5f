/* SPDX-License-Identifier: Apache-2.0 */
/* Generation-counted fork/join pool: the caller publishes a job and bumps the
 * generation, workers run their share and count down; the caller runs share 0
 * itself and waits for the count to reach zero. */
#include "cpu_thread_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct cpu_thread_pool {
    size_t count;             /* threads taking part, caller included */
    pthread_t *workers;       /* count - 1 of them */
    pthread_mutex_t run_lock; /* serialises jobs from different callers */
    pthread_mutex_t lock;
    pthread_cond_t start;
    pthread_cond_t done;
    unsigned long generation;
    size_t pending; /* workers still running the current job */
    int stopping;
    cpu_pool_job_fn job;
    void *ctx;
};

typedef struct worker_arg {
    cpu_thread_pool_t *pool;
    size_t index;
} worker_arg_t;

static void *worker_main(void *arg) {
    worker_arg_t self = *(worker_arg_t *)arg;
    free(arg);
    cpu_thread_pool_t *pool = self.pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && pool->generation == seen) {
            pthread_cond_wait(&pool->start, &pool->lock);
        }
        if (pool->stopping) {
            break;
        }
        seen = pool->generation;
        cpu_pool_job_fn job = pool->job;
        void *ctx = pool->ctx;
        pthread_mutex_unlock(&pool->lock);
        job(ctx, self.index, pool->count);
        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0) {
            pthread_cond_signal(&pool->done);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

static void stop_workers(cpu_thread_pool_t *pool, size_t started) {
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (size_t w = 0; w < started; ++w) {
        pthread_join(pool->workers[w], NULL);
    }
}

cpu_thread_pool_t *cpu_thread_pool_create(size_t thread_count) {
    if (thread_count < 1) {
        thread_count = 1;
    }
    cpu_thread_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool) {
        errno = ENOMEM;
        return NULL;
    }
    pool->count = thread_count;
    pool->workers = calloc(thread_count, sizeof(pthread_t));
    if (!pool->workers) {
        free(pool);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&pool->run_lock, NULL);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (size_t w = 0; w + 1 < thread_count; ++w) {
        worker_arg_t *arg = malloc(sizeof(*arg));
        if (arg) {
            arg->pool = pool;
            arg->index = w + 1;
        }
        int error = arg ? pthread_create(&pool->workers[w], NULL, worker_main, arg) : ENOMEM;
        if (error != 0) {
            free(arg);
            stop_workers(pool, w); /* leaves stopping set: destroy joins nothing more */
            cpu_thread_pool_destroy(pool);
            errno = error;
            return NULL;
        }
    }
    return pool;
}

size_t cpu_thread_pool_size(const cpu_thread_pool_t *pool) {
    return pool->count;
}

void cpu_thread_pool_run(cpu_thread_pool_t *pool, cpu_pool_job_fn job, void *ctx) {
    pthread_mutex_lock(&pool->run_lock);
    if (pool->count > 1) {
        pthread_mutex_lock(&pool->lock);
        pool->job = job;
        pool->ctx = ctx;
        pool->pending = pool->count - 1;
        pool->generation++;
        pthread_cond_broadcast(&pool->start);
        pthread_mutex_unlock(&pool->lock);
    }
    job(ctx, 0, pool->count);
    if (pool->count > 1) {
        pthread_mutex_lock(&pool->lock);
        while (pool->pending > 0) {
            pthread_cond_wait(&pool->done, &pool->lock);
        }
        pthread_mutex_unlock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->run_lock);
}

void cpu_thread_pool_destroy(cpu_thread_pool_t *pool) {
    if (!pool) {
        return;
    }
    if (!pool->stopping) {
        stop_workers(pool, pool->count - 1);
    }
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->run_lock);
    free(pool->workers);
    free(pool);
}
