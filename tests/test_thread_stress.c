/* SPDX-License-Identifier: Apache-2.0 */
/* Many threads and processes on the measured-selection cache at once
 * (core/selection_cache.c). Writers: 8 threads, each with its own context,
 * and a second process with 4 more create `auto` plans for small problems
 * (three every thread plans, one that only it plans), execute them and
 * compare the results with a single-threaded run; the cache file must then
 * hold one line per problem and the 400 lines planted before for other
 * problems (no writer lost another's lines). Readers: 8
 * threads with fresh contexts, then a fresh process, plan every problem and
 * must find every decision in the file (no measurement anew; a close call,
 * one of them planted, is measured again from the line found).
 *
 * Besides the real plugins every context loads tests/plugins'
 * tconv_backend_slow_cpu.so, a CPU-class device that always loses the
 * measurement: so `auto` measures and uses the cache even without PoCL.
 *
 * Meant for ASan and TSan builds too (docs/internals.md, "Thread safety").
 * Option: --selector S (default "auto"; "auto,-opencl" keeps PoCL out of the
 * plans, e.g. under TSan). Internal: --writer (the second process),
 * --expect-cached (the fresh process). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "selection_file.h"
#include "test_support.h"

#define SLOW_CPU_PLUGIN TCONV_TEST_PLUGIN_DIR "/tconv_backend_slow_cpu.so"

#define THREADS        8 /* in this process */
#define WRITER_THREADS 4 /* in the second process */
#define SHARED         3 /* problems every thread plans */
/* Problem numbers: 0..SHARED-1 shared, then one per thread of this process,
 * then one per thread of the writer process. */
#define FIRST_WRITER_PROBLEM (SHARED + THREADS)
#define PROBLEMS             (FIRST_WRITER_PROBLEM + WRITER_THREADS)
/* Rounds of 8 concurrent readers once the file is complete. */
#define READ_ROUNDS 3
/* Lines for other problems planted before the writers start: every lookup
 * and every merge parses them all, and all must survive the rewrites. */
#define DECOYS       400
#define DECOY_PREFIX "decoy problem "

extern char **environ;

static const char *selector = "auto";
static char self_path[4096];
static char cache_root[4096];
static char cache_file[4200];
static tc_tensors_t tensors[PROBLEMS];
/* The single-threaded run: device id and output of each problem. */
static char single_ids[PROBLEMS][64];
static void *single_outputs[PROBLEMS];

/* Problem @p k: the small problem, with a cache key of its own. They differ
 * in activation_alpha, which relu ignores, so the OpenCL backend builds one
 * program for all the float32 ones (PoCL takes seconds per new shape on a
 * cold machine); problem 1 is the float64 one. */
static void make_problem(int k, tconv_problem_t *p) {
    tc_small_problem(p, k == 1 ? tconv_f64 : tconv_f32);
    p->activation_alpha = 1.0 + k / 8.0;
}

static size_t output_bytes(int k) {
    return (size_t)tensors[k].out_count * (tensors[k].canonical.dtype == tconv_f64 ? 8 : 4);
}

/* Inputs, weights and float64 reference of every problem (read-only while
 * the threads run). Returns 0, or -1 with a message on stderr. */
static int make_all_tensors(void) {
    for (int k = 0; k < PROBLEMS; k++) {
        tconv_problem_t p;
        make_problem(k, &p);
        tc_rng_t rng;
        tc_rng_seed(&rng, 1000 + (uint64_t)k);
        char msg[1024];
        if (tc_tensors_make(&p, &rng, &tensors[k], msg, sizeof msg) != 0) {
            fprintf(stderr, "problem %d: %s\n", k, msg);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* One thread's work                                                        */

typedef struct job {
    int problems[PROBLEMS];
    int problem_count;
    bool expect_cached; /* every decision must come from the cache file */
    /* results, read by the main thread after the join */
    char ids[PROBLEMS][64];
    char reasons[PROBLEMS][1024];
    void *outputs[PROBLEMS];
    char failure[2048]; /* "" when everything worked */
} job_t;

/* Plans problem @p k on @p sel, sets the weights and runs it into a fresh
 * output buffer; no cmocka here (it is not thread-safe): failures are text. */
static int plan_and_run(tconv_context_t ctx, const char *sel, int k, char *id, size_t id_size,
                        char *reason, size_t reason_size, void **output, char *failure,
                        size_t failure_size) {
    tconv_problem_t p;
    make_problem(k, &p);
    const tc_tensors_t *t = &tensors[k];
    *output = malloc(output_bytes(k));
    if (*output == NULL) {
        snprintf(failure, failure_size, "problem %d: out of memory", k);
        return -1;
    }
    memset(*output, 0xff, output_bytes(k)); /* NaN: a value never written shows */
    tconv_plan_t plan = NULL;
    tconv_status_t st = tconv_plan_create(&plan, ctx, &p, sel);
    if (st == tconv_success)
        st = tconv_plan_set_weights(plan, t->dev_kernel, t->dev_bias);
    if (st == tconv_success)
        st = tconv_plan_execute(plan, t->dev_in, *output);
    if (st != tconv_success) {
        snprintf(failure, failure_size, "problem %d on '%s': %s: %s", k, sel, tconv_status_name(st),
                 tconv_get_last_error());
        tconv_plan_destroy(plan);
        return -1;
    }
    tconv_device_info_t info;
    memset(&info, 0, sizeof info);
    tconv_plan_get_device_info(plan, &info);
    snprintf(id, id_size, "%s", info.id);
    snprintf(reason, reason_size, "%s", tconv_plan_get_selection_reason(plan));
    tconv_plan_destroy(plan);
    return 0;
}

/* Whether a fresh context's selection @p reason shows that it found the
 * problem's decision in the cache file: either it used it ("(from cache
 * <path>)", not the context's own memory) or the decision was a close call
 * (the winner led by less than 20%), which measure.c measures again up to
 * three times, keeping the best times of the file's line and the new run.
 * Close calls happen when the machine is loaded or the native backend runs
 * instrumented (the ASan tree: cpu:0 slowed to about PoCL's speed); a lost
 * line says "cached in" with no "measured again". */
static bool found_in_cache_file(const char *reason) {
    if (tc_contains(reason, "(from cache "))
        return !tc_contains(reason, "in this process");
    return tc_contains(reason, "(measured again: a close call");
}

/* A fresh context plans the job's problems. A decision read from the cache
 * file says "(from cache <path>)"; a measurement says "cached in" instead. */
static void *run_job(void *arg) {
    job_t *job = arg;
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, SLOW_CPU_PLUGIN) != tconv_success) {
        snprintf(job->failure, sizeof job->failure, "context: %s", tconv_get_last_error());
        return NULL;
    }
    for (int i = 0; i < job->problem_count; i++) {
        const int k = job->problems[i];
        if (plan_and_run(ctx, selector, k, job->ids[i], sizeof job->ids[i], job->reasons[i],
                         sizeof job->reasons[i], &job->outputs[i], job->failure,
                         sizeof job->failure) != 0)
            break;
        if (job->expect_cached && !found_in_cache_file(job->reasons[i])) {
            snprintf(job->failure, sizeof job->failure,
                     "problem %d: decision not found in the cache file: %s", k, job->reasons[i]);
            break;
        }
    }
    tconv_context_destroy(ctx);
    return NULL;
}

/* Writers: the thread's own problem first, then the shared ones in an order
 * that depends on the thread, so writers of different keys overlap. */
static void assign_writer_problems(job_t *job, int own_problem, int thread) {
    memset(job, 0, sizeof *job);
    job->problems[job->problem_count++] = own_problem;
    for (int i = 0; i < SHARED; i++)
        job->problems[job->problem_count++] = (thread + i) % SHARED;
}

/* Readers: every problem, each thread starting elsewhere, all from the file. */
static void assign_reader_problems(job_t *job, int thread) {
    memset(job, 0, sizeof *job);
    job->expect_cached = true;
    for (int i = 0; i < PROBLEMS; i++)
        job->problems[job->problem_count++] = (thread + i) % PROBLEMS;
}

/* Runs one thread per job and waits for them all. */
static int run_threads(job_t *jobs, int count) {
    pthread_t threads[THREADS];
    int started = 0;
    for (; started < count; started++)
        if (pthread_create(&threads[started], NULL, run_job, &jobs[started]) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return started == count ? 0 : -1;
}

/* Checks one result: within tolerance of the float64 reference and, when
 * it ran where the single-threaded run did, bitwise equal to that run.
 * Returns 0, or -1 with the reason in @p failure. */
static int check_output(int k, const char *id, const void *output, char *failure,
                        size_t failure_size) {
    tc_tensors_t view = tensors[k]; /* the shared reference, this output */
    view.dev_out = (void *)output;
    int64_t worst;
    double err = tc_tensors_max_error(&view, &worst);
    if (!(err <= tc_tolerance(view.canonical.dtype))) {
        snprintf(failure, failure_size, "problem %d on %s: error %g at output %lld", k, id, err,
                 (long long)worst);
        return -1;
    }
    if (strcmp(id, single_ids[k]) == 0 && memcmp(output, single_outputs[k], output_bytes(k)) != 0) {
        snprintf(failure, failure_size,
                 "problem %d on %s: differs from the single-threaded run on the same device", k,
                 id);
        return -1;
    }
    return 0;
}

/* Every job worked and computed what the single-threaded run did. */
static int check_jobs(const job_t *jobs, int count, char *failure, size_t failure_size) {
    for (int j = 0; j < count; j++) {
        if (jobs[j].failure[0] != '\0') {
            snprintf(failure, failure_size, "thread %d: %.2000s", j, jobs[j].failure);
            return -1;
        }
        for (int i = 0; i < jobs[j].problem_count; i++)
            if (check_output(jobs[j].problems[i], jobs[j].ids[i], jobs[j].outputs[i], failure,
                             failure_size) != 0)
                return -1;
    }
    return 0;
}

static void free_jobs(job_t *jobs, int count) {
    for (int j = 0; j < count; j++)
        for (int i = 0; i < jobs[j].problem_count; i++)
            free(jobs[j].outputs[i]);
}

/* ---------------------------------------------------------------------- */
/* The other processes                                                      */

/* Starts this executable with @p mode; its output goes to ours. */
static pid_t spawn_self(const char *mode) {
    char *argv[] = {self_path, (char *)mode, "--selector", (char *)selector, NULL};
    pid_t pid;
    if (posix_spawn(&pid, self_path, NULL, NULL, argv, environ) != 0)
        return -1;
    return pid;
}

static int wait_exit_code(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs @p jobs in threads (or, for one job, in this thread) and prints the
 * first failure. Returns the exit code of a child mode. */
static int run_child_jobs(job_t *jobs, int count, const char *what) {
    if (count == 1)
        run_job(&jobs[0]);
    else if (run_threads(jobs, count) != 0) {
        fprintf(stderr, "%s: could not start its threads\n", what);
        return 1;
    }
    char failure[2100];
    int rc = check_jobs(jobs, count, failure, sizeof failure) == 0 ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", what, failure);
    free_jobs(jobs, count);
    return rc;
}

/* --writer: WRITER_THREADS threads on the shared problems and their own,
 * while the main process runs its threads. --expect-cached: a fresh process
 * finds every decision in the file. */
static int child_main(const char *mode) {
    static job_t jobs[WRITER_THREADS];
    if (strcmp(mode, "--expect-cached") == 0) {
        assign_reader_problems(&jobs[0], 0);
        return run_child_jobs(jobs, 1, "fresh process");
    }
    for (int j = 0; j < WRITER_THREADS; j++)
        assign_writer_problems(&jobs[j], FIRST_WRITER_PROBLEM + j, j);
    return run_child_jobs(jobs, WRITER_THREADS, "writer process");
}

/* ---------------------------------------------------------------------- */
/* The test                                                                 */

/* DECOYS well-formed lines for keys no plan asks for, as a file of an
 * earlier version of this machine's problems would hold. */
static void plant_decoys(void) {
    FILE *f = fopen(cache_file, "w");
    assert_non_null(f);
    for (int i = 0; i < DECOYS; i++) {
        char key[64], line[256];
        snprintf(key, sizeof key, DECOY_PREFIX "%d", i);
        assert_int_equal(tc_selection_line(line, sizeof line, key, "cpu:0", "cpu:0", 1e-3,
                                           "slow_cpu:0", 2e-2, (int64_t)time(NULL), 1),
                         0);
        fputs(line, f);
    }
    assert_int_equal(fclose(f), 0);
}

/* Rewrites the first problem line of the complete cache file as a close
 * call (cpu:0 ahead of slow_cpu:0 by 5%, measured once): the readers must
 * take a decision measured again from the file for one found there. */
static void plant_close_call(void) {
    static char lines[PROBLEMS + DECOYS][16384];
    FILE *f = fopen(cache_file, "r");
    assert_non_null(f);
    int count = 0, planted = 0;
    while (count < PROBLEMS + DECOYS && fgets(lines[count], sizeof lines[0], f) != NULL)
        count++;
    assert_int_equal(fclose(f), 0);
    for (int i = 0; i < count && !planted; i++) {
        const char *tab = strchr(lines[i], '\t');
        if (tab == NULL || strncmp(lines[i], DECOY_PREFIX, strlen(DECOY_PREFIX)) == 0)
            continue;
        char key[2048];
        snprintf(key, sizeof key, "%.*s", (int)(tab - lines[i]), lines[i]);
        assert_int_equal(tc_selection_line(lines[i], sizeof lines[0], key, "cpu:0", "cpu:0", 1e-3,
                                           "slow_cpu:0", 1.05e-3, (int64_t)time(NULL), 1),
                         0);
        planted = 1;
    }
    assert_true(planted);
    f = fopen(cache_file, "w");
    assert_non_null(f);
    for (int i = 0; i < count; i++)
        fputs(lines[i], f);
    assert_int_equal(fclose(f), 0);
}

/* Checks the cache file: six tab-separated fields a line, no key twice,
 * every decoy and one line per problem. Returns 0, or -1 with the reason. */
static int check_cache_lines(char *failure, size_t failure_size) {
    static char keys[PROBLEMS + DECOYS][2048];
    static char line[16384];
    FILE *f = fopen(cache_file, "r");
    if (f == NULL) {
        snprintf(failure, failure_size, "%.1000s: %s", cache_file, strerror(errno));
        return -1;
    }
    int count = 0, decoys = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        char *tab = strchr(line, '\t');
        int tabs = 0;
        for (const char *c = line; *c; c++)
            tabs += *c == '\t';
        size_t key_len = tab ? (size_t)(tab - line) : 0;
        if (tab == NULL || tabs != 5 || key_len >= sizeof keys[0]) {
            snprintf(failure, failure_size, "malformed line %d: %.200s", count + 1, line);
            rc = -1;
            break;
        }
        for (int i = 0; i < count && rc == 0; i++)
            if (strncmp(keys[i], line, key_len) == 0 && keys[i][key_len] == '\0') {
                snprintf(failure, failure_size, "line %d repeats the key of line %d", count + 1,
                         i + 1);
                rc = -1;
            }
        if (rc == 0 && count == PROBLEMS + DECOYS) {
            snprintf(failure, failure_size, "more lines than the %d problems and %d decoys",
                     PROBLEMS, DECOYS);
            rc = -1;
        }
        if (rc == 0) {
            decoys += strncmp(line, DECOY_PREFIX, strlen(DECOY_PREFIX)) == 0;
            snprintf(keys[count++], sizeof keys[0], "%.*s", (int)key_len, line);
        }
    }
    fclose(f);
    if (rc == 0 && (decoys != DECOYS || count - decoys != PROBLEMS)) {
        snprintf(failure, failure_size,
                 "%d decoy lines and %d problem lines, want %d and %d: concurrent writers lost "
                 "lines",
                 decoys, count - decoys, DECOYS, PROBLEMS);
        rc = -1;
    }
    return rc;
}

static void test_concurrent_auto_plans_share_one_cache(void **state) {
    (void)state;
    static job_t jobs[THREADS];
    char failure[2100];
    plant_decoys();
    /* Writers: the writer process starts first and overlaps our threads. */
    pid_t writer = spawn_self("--writer");
    assert_true(writer > 0);
    for (int j = 0; j < THREADS; j++)
        assign_writer_problems(&jobs[j], SHARED + j, j);
    int threads_ok = run_threads(jobs, THREADS);
    int writer_rc = wait_exit_code(writer);
    assert_int_equal(threads_ok, 0);
    if (writer_rc != 0)
        fail_msg("the writer process failed (exit %d); see its messages above", writer_rc);
    if (check_jobs(jobs, THREADS, failure, sizeof failure) != 0)
        fail_msg("%s", failure);
    print_message("thread 0: problem %d on %s: %s\n", jobs[0].problems[0], jobs[0].ids[0],
                  jobs[0].reasons[0]);
    free_jobs(jobs, THREADS);

    /* Every decoy and one line per problem: a lost line shows. */
    if (check_cache_lines(failure, sizeof failure) != 0)
        fail_msg("%s: %s", cache_file, failure);

    /* Readers: every thread's fresh context parses the whole file for every
     * problem, all at once, and must find every decision; one of them a
     * close call, which the first round measures again. */
    plant_close_call();
    for (int round = 0; round < READ_ROUNDS; round++) {
        for (int j = 0; j < THREADS; j++)
            assign_reader_problems(&jobs[j], j);
        assert_int_equal(run_threads(jobs, THREADS), 0);
        int checked = check_jobs(jobs, THREADS, failure, sizeof failure);
        int measured_again = 0;
        for (int j = 0; j < THREADS; j++)
            for (int i = 0; i < jobs[j].problem_count; i++)
                measured_again += tc_contains(jobs[j].reasons[i], "(measured again: a close call");
        free_jobs(jobs, THREADS);
        if (checked != 0)
            fail_msg("concurrent readers, round %d: %s", round + 1, failure);
        if (round == 0 && measured_again == 0)
            fail_msg("concurrent readers: no thread measured the planted close call again");
    }

    /* And so does a fresh process. */
    int fresh_rc = wait_exit_code(spawn_self("--expect-cached"));
    if (fresh_rc != 0)
        fail_msg("a fresh process did not find every decision in %s (exit %d)", cache_file,
                 fresh_rc);
}

/* The single-threaded results, with the cache off so that nothing is
 * written before the threads start. */
static int run_single_threaded(void) {
    setenv("TCONV_CACHE_DIR", "off", 1);
    tconv_context_t ctx = NULL;
    if (tconv_context_create(&ctx, SLOW_CPU_PLUGIN) != tconv_success) {
        fprintf(stderr, "context: %s\n", tconv_get_last_error());
        return -1;
    }
    int rc = 0;
    for (int k = 0; k < PROBLEMS && rc == 0; k++) {
        char reason[4096], failure[2048];
        rc = plan_and_run(ctx, selector, k, single_ids[k], sizeof single_ids[k], reason,
                          sizeof reason, &single_outputs[k], failure, sizeof failure);
        if (rc != 0)
            fprintf(stderr, "single-threaded: %s\n", failure);
        else if (strcmp(single_ids[k], "slow_cpu:0") == 0) {
            fprintf(stderr,
                    "single-threaded: problem %d went to slow_cpu:0, which computes "
                    "nothing: is the cpu backend (lib/tconv) built?\n",
                    k);
            rc = -1;
        }
    }
    tconv_context_destroy(ctx);
    return rc;
}

static int parse_arguments(int argc, char **argv, const char **mode) {
    *mode = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
            selector = argv[++i];
        else if (strcmp(argv[i], "--writer") == 0 || strcmp(argv[i], "--expect-cached") == 0)
            *mode = argv[i];
        else {
            fprintf(stderr, "argument %d '%s': expected --selector S\n", i, argv[i]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *mode;
    if (parse_arguments(argc, argv, &mode) != 0)
        return 2;
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        return 1;
    self_path[n] = '\0';
    if (make_all_tensors() != 0)
        return 1;
    if (mode != NULL) /* a child: the environment came from the parent */
        return child_main(mode);

    tc_clean_environment();
    /* The small problems are estimated under 1 ms: measure them anyway. */
    setenv("TCONV_SELECT_MIN_MS", "0", 1);
    /* Fewer backend threads than the 12 plan threads on a 2-core machine. */
    setenv("TCONV_NUM_THREADS", "1", 1);
    if (run_single_threaded() != 0)
        return 1;

    const char *base = getenv("TMPDIR");
    snprintf(cache_root, sizeof cache_root, "%s/tconv-stress-XXXXXX",
             base && base[0] ? base : "/tmp");
    if (mkdtemp(cache_root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cache_file, sizeof cache_file, "%s/" TC_SELECTION_FILE_NAME, cache_root);
    setenv("TCONV_CACHE_DIR", cache_root, 1);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_auto_plans_share_one_cache),
    };
    int failed = cmocka_run_group_tests_name("thread_stress", tests, NULL, NULL);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cache_root);
    for (int k = 0; k < PROBLEMS; k++) {
        free(single_outputs[k]);
        tc_tensors_free(&tensors[k]);
    }
    return failed;
}
