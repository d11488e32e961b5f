/* SPDX-License-Identifier: Apache-2.0 */
/* One context shared by many threads (docs/internals.md, "Thread safety"):
 * 8 threads on ONE context each create, execute and destroy plans on every
 * device (cpu:0, opencl:0 when PoCL is there, and `auto`, which measures
 * and caches its decisions in the context and in the cache directory),
 * while 2 more threads create and destroy contexts of their own (plugin
 * loading under the loader's lock, a plan on cpu:0 in each). The shared
 * context starts its plugins while the threads plan (each when first
 * needed), and one thread lists its devices meanwhile. Every result
 * must be bitwise what a single-threaded run computed on the same device,
 * and within tolerance of the float64 reference.
 *
 * Meant for ThreadSanitizer above all (scripts/test-sanitizers.sh runs it
 * in its TSan tree), and ASan. Option: --rounds N (default 3) plans per
 * thread and device. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "temp_dir.h"
#include "test_support.h"

#define SHARING_THREADS 8 /* on the one context */
#define CONTEXT_THREADS 2 /* creating and destroying contexts */
#define PROBLEMS        4
#define MAX_DEVICES     3 /* cpu:0, opencl:0, auto */

static const char *devices[MAX_DEVICES];
static int device_count;
static int rounds = 3;
static tc_tensors_t tensors[PROBLEMS];
/* The single-threaded outputs per (device, problem). */
static void *single_outputs[MAX_DEVICES][PROBLEMS];
static char cache_dir[256];

/* Problem @p k: the tests' small problem in four variants (dtype, stride,
 * layout), each its own plan and program. */
static void make_problem(int k, tconv_problem_t *p) {
    tc_small_problem(p, k % 2 ? tconv_f64 : tconv_f32);
    if (k >= 2) {
        p->strides[1] = 1;
        p->data_format = tconv_channels_first;
        p->activation = tconv_activation_tanh;
    }
}

static size_t output_bytes(int k) {
    return (size_t)tensors[k].out_count * (tensors[k].canonical.dtype == tconv_f64 ? 8 : 4);
}

/* Plans problem @p k on @p selector in @p ctx, runs it into a new buffer
 * (*output) and destroys the plan (tc_run_plan on a view of the shared,
 * read-only tensors). Returns 0, or -1 with the reason. */
static int plan_run_destroy(tconv_context_t ctx, const char *selector, int k, void **output,
                            char *failure, size_t failure_size) {
    tconv_problem_t p;
    make_problem(k, &p);
    tc_tensors_t view = tensors[k];
    view.dev_out = *output = malloc(output_bytes(k));
    if (*output == NULL) {
        snprintf(failure, failure_size, "problem %d: out of memory", k);
        return -1;
    }
    char msg[1024];
    if (tc_run_plan(ctx, selector, &p, &view, msg, sizeof msg) != tconv_success) {
        snprintf(failure, failure_size, "problem %d on '%s': %s", k, selector, msg);
        free(*output);
        *output = NULL;
        return -1;
    }
    return 0;
}

/* The output of problem @p k, run on device index @p d (MAX_DEVICES for a
 * device `auto` chose): within tolerance of the reference, and bitwise the
 * single-threaded result of that device (for `auto`, of one of them). */
static int check_output(int d, int k, const void *output, char *failure, size_t failure_size) {
    tc_tensors_t view = tensors[k];
    view.dev_out = (void *)output;
    int64_t worst;
    double err = tc_tensors_max_error(&view, &worst);
    if (!(err <= tc_tolerance(view.canonical.dtype))) {
        snprintf(failure, failure_size, "problem %d on %s: error %g at output %lld", k, devices[d],
                 err, (long long)worst);
        return -1;
    }
    int same = 0;
    for (int e = 0; e < device_count && !same; e++)
        if (e == d || strcmp(devices[d], "auto") == 0)
            same = memcmp(output, single_outputs[e][k], output_bytes(k)) == 0;
    if (!same) {
        snprintf(failure, failure_size,
                 "problem %d on %s: differs from the single-threaded run on the same device", k,
                 devices[d]);
        return -1;
    }
    return 0;
}

typedef struct worker {
    int index;
    tconv_context_t shared; /* NULL: this worker makes contexts of its own */
    int plans;              /* plans made and checked */
    char failure[2048];     /* "" when everything worked */
} worker_t;

/* Lists the shared context's devices while the other threads start its
 * plugins (each starts when first needed): the listing must be every
 * device, by backend name, whichever plugin started first. */
static int check_listing(tconv_context_t ctx, char *failure, size_t failure_size) {
    size_t count = 0;
    if (tconv_context_get_device_count(ctx, &count) != tconv_success) {
        snprintf(failure, failure_size, "device count: %s", tconv_get_last_error());
        return -1;
    }
    const size_t listed = (size_t)device_count - 1; /* the ids in devices[] but auto */
    for (size_t i = 0; i < count || i < listed; i++) {
        tconv_device_info_t info = {.struct_size = sizeof info};
        if (i >= count || i >= listed ||
            tconv_context_get_device_info(ctx, i, &info) != tconv_success ||
            strcmp(info.id, devices[i]) != 0) {
            snprintf(failure, failure_size, "listing: device %zu of %zu is '%s', want '%s'", i,
                     count, info.id, i < listed ? devices[i] : "none");
            return -1;
        }
    }
    return 0;
}

/* A thread on the shared context: every round, every device, one problem
 * that depends on the thread and the round, so that threads overlap on
 * the same plans and on different ones. The last one lists the devices
 * first. */
static void *share_context(void *arg) {
    worker_t *w = arg;
    if (w->index == SHARING_THREADS - 1 && check_listing(w->shared, w->failure, sizeof w->failure))
        return NULL;
    for (int r = 0; r < rounds && !w->failure[0]; r++) {
        for (int d = 0; d < device_count && !w->failure[0]; d++) {
            const int k = (w->index + r + d) % PROBLEMS;
            void *output = NULL;
            if (plan_run_destroy(w->shared, devices[d], k, &output, w->failure,
                                 sizeof w->failure) == 0 &&
                check_output(d, k, output, w->failure, sizeof w->failure) == 0)
                w->plans++;
            free(output);
        }
    }
    return NULL;
}

/* A thread making contexts while the others plan: create, a plan on cpu:0,
 * destroy, a few times. */
static void *cycle_contexts(void *arg) {
    worker_t *w = arg;
    for (int r = 0; r < rounds * 2 && !w->failure[0]; r++) {
        tconv_context_t ctx = NULL;
        if (tconv_context_create(&ctx, NULL) != tconv_success) {
            snprintf(w->failure, sizeof w->failure, "context %d: %s", r, tconv_get_last_error());
            break;
        }
        const int k = (w->index + r) % PROBLEMS;
        void *output = NULL;
        if (plan_run_destroy(ctx, devices[0], k, &output, w->failure, sizeof w->failure) == 0 &&
            check_output(0, k, output, w->failure, sizeof w->failure) == 0)
            w->plans++;
        free(output);
        tconv_context_destroy(ctx);
    }
    return NULL;
}

static void test_threads_share_one_context(void **state) {
    (void)state;
    tconv_context_t shared = NULL;
    assert_int_equal(tconv_context_create(&shared, NULL), tconv_success);
    static worker_t workers[SHARING_THREADS + CONTEXT_THREADS];
    pthread_t threads[SHARING_THREADS + CONTEXT_THREADS];
    int started = 0;
    for (; started < SHARING_THREADS + CONTEXT_THREADS; started++) {
        worker_t *w = &workers[started];
        memset(w, 0, sizeof *w);
        w->index = started;
        w->shared = started < SHARING_THREADS ? shared : NULL;
        if (pthread_create(&threads[started], NULL,
                           started < SHARING_THREADS ? share_context : cycle_contexts, w) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    tconv_context_destroy(shared);
    assert_int_equal(started, SHARING_THREADS + CONTEXT_THREADS);
    int plans = 0;
    for (int i = 0; i < started; i++) {
        if (workers[i].failure[0])
            fail_msg("thread %d: %s", i, workers[i].failure);
        plans += workers[i].plans;
    }
    assert_int_equal(plans, SHARING_THREADS * rounds * device_count + CONTEXT_THREADS * rounds * 2);
    print_message("%d plans on %d devices by %d threads sharing one context, %d contexts made "
                  "alongside\n",
                  plans - CONTEXT_THREADS * rounds * 2, device_count, SHARING_THREADS,
                  CONTEXT_THREADS * rounds * 2);
}

/* Tensors and reference of every problem, the devices to use, and the
 * single-threaded result of every problem on every device. */
static int prepare(void) {
    for (int k = 0; k < PROBLEMS; k++) {
        tconv_problem_t p;
        make_problem(k, &p);
        tc_rng_t rng;
        tc_rng_seed(&rng, 500 + (uint64_t)k);
        char msg[1024];
        if (tc_tensors_make(&p, &rng, &tensors[k], msg, sizeof msg) != 0) {
            fprintf(stderr, "problem %d: %s\n", k, msg);
            return 1;
        }
    }
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, NULL) != tconv_success) {
        fprintf(stderr, "context: %s\n", tconv_get_last_error());
        return 1;
    }
    devices[device_count++] = "cpu:0";
    if (tc_has_device(ctx, "opencl:0"))
        devices[device_count++] = "opencl:0";
    devices[device_count++] = "auto";
    int rc = device_count == 3 ? 0 : tc_cannot_run("no OpenCL device (opencl:0)");
    for (int d = 0; d < device_count && rc == 0; d++)
        for (int k = 0; k < PROBLEMS && rc == 0; k++) {
            char failure[2048];
            if (plan_run_destroy(ctx, devices[d], k, &single_outputs[d][k], failure,
                                 sizeof failure) != 0) {
                fprintf(stderr, "single-threaded: %s\n", failure);
                rc = 1;
            }
        }
    tconv_context_destroy(ctx);
    return rc;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "argument %d '%s': expected --rounds N (N >= 1)\n", i, argv[i]);
            return 2;
        }
    }
    tc_clean_environment();
    /* `auto` measures even these small problems (the measured decisions
     * are what the context shares); one backend thread each on 2 cores. */
    setenv("TCONV_SELECT_MIN_MS", "0", 1);
    setenv("TCONV_NUM_THREADS", "1", 1);
    /* The single-threaded run caches nothing on disk; then the threads
     * start from an empty cache directory of their own and fill and read
     * the selection cache and the OpenCL program cache together. */
    setenv("TCONV_CACHE_DIR", "off", 1);
    int rc = prepare();
    if (rc == 0 && tc_temp_dir_create(cache_dir, sizeof cache_dir, "shared_context") != 0)
        rc = 1;
    if (rc == 0) {
        setenv("TCONV_CACHE_DIR", cache_dir, 1);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_threads_share_one_context),
        };
        rc = cmocka_run_group_tests_name("shared_context_stress", tests, NULL, NULL);
    }
    for (int d = 0; d < MAX_DEVICES; d++)
        for (int k = 0; k < PROBLEMS; k++)
            free(single_outputs[d][k]);
    for (int k = 0; k < PROBLEMS; k++)
        tc_tensors_free(&tensors[k]);
    if (cache_dir[0])
        tc_temp_dir_remove(cache_dir);
    return rc;
}
