/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the OpenCL backend's plan lines, and the forced paths; see
 * opencl_plan_log.h. */
#define _POSIX_C_SOURCE 200809L
#include "opencl_plan_log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tc_opencl_log_begin(tc_opencl_log_t *log) {
    fflush(stderr);
    log->file = tmpfile();
    if (log->file == NULL)
        return -1;
    log->saved_stderr = dup(STDERR_FILENO);
    if (log->saved_stderr < 0 || dup2(fileno(log->file), STDERR_FILENO) < 0) {
        if (log->saved_stderr >= 0)
            close(log->saved_stderr);
        fclose(log->file);
        log->file = NULL;
        return -1;
    }
    setenv("TCONV_VERBOSE", "2", 1);
    return 0;
}

/* A plan line: "tconv[opencl]: opencl:0: channel path, in place, ... 1 tile(s)
 * of ..." (forward) or "... backward data weights in place, ... 2 tile(s) of
 * ..." (ocl_plan.c, ocl_backward.c); a build: "... program built from
 * source (...)" (ocl_program.c). */
static void count_plan_line(const char *line, tc_opencl_paths_t *paths) {
    if (strncmp(line, "tconv[opencl]: opencl:", 22) != 0)
        return;
    if (strstr(line, ": program built from source ") != NULL)
        paths->built++;
    const char *tiles = strstr(line, " tile(s) of ");
    if (tiles == NULL)
        return;
    const char *number = tiles;
    while (number > line && number[-1] >= '0' && number[-1] <= '9')
        number--;
    const long long count = atoll(number);
    const char *in_place = strstr(line, "in place");
    paths->plans++;
    if (in_place != NULL && in_place < tiles)
        paths->in_place++;
    else
        paths->buffered++;
    if (count > 1)
        paths->multi_tile++;
}

void tc_opencl_log_end(tc_opencl_log_t *log, tc_opencl_paths_t *paths) {
    if (log->file == NULL)
        return;
    fflush(stderr);
    dup2(log->saved_stderr, STDERR_FILENO);
    close(log->saved_stderr);
    unsetenv("TCONV_VERBOSE");
    rewind(log->file);
    char *line = NULL;
    size_t size = 0;
    while (getline(&line, &size, log->file) >= 0) {
        if (strncmp(line, "tconv", 5) == 0)
            count_plan_line(line, paths);
        else
            fputs(line, stderr);
    }
    free(line);
    fclose(log->file);
    log->file = NULL;
}

int tc_opencl_force_option(tc_opencl_force_t *f, const char *name, const char *value) {
    if (!strcmp(name, "--opencl-staging")) {
        if (strcmp(value, "copy") != 0)
            return -1;
        f->copy = 1;
        return 1;
    }
    if (!strcmp(name, "--opencl-max-alloc")) {
        char *end = NULL;
        if (strcmp(value, "half") != 0 && !(strtoll(value, &end, 10) > 0 && *end == '\0'))
            return -1;
        f->max_alloc = value;
        return 1;
    }
    return 0;
}

int tc_opencl_force_any(const tc_opencl_force_t *f) {
    return f->copy || f->max_alloc != NULL;
}

static int cap_is_half(const tc_opencl_force_t *f) {
    return f->max_alloc != NULL && !strcmp(f->max_alloc, "half");
}

void tc_opencl_force_apply(const tc_opencl_force_t *f) {
    if (f->copy)
        setenv("TCONV_OPENCL_NO_IN_PLACE", "1", 1);
    if (f->max_alloc != NULL && !cap_is_half(f))
        setenv("TCONV_OPENCL_MAX_ALLOC", f->max_alloc, 1);
}

void tc_opencl_force_begin(const tc_opencl_force_t *f, const tc_opencl_sizes_t *sizes,
                           tc_opencl_log_t *log) {
    if (cap_is_half(f)) {
        const int64_t es = sizes->dtype == tconv_f64 ? 8 : 4;
        const int64_t larger = sizes->input > sizes->output ? sizes->input : sizes->output;
        const int64_t weights = 2 * (sizes->kernel + sizes->out_channels) * es;
        const int64_t bytes = larger * es / 2 > weights ? larger * es / 2 : weights;
        char cap[32];
        snprintf(cap, sizeof cap, "%lld", (long long)(bytes > 64 ? bytes : 64));
        setenv("TCONV_OPENCL_MAX_ALLOC", cap, 1);
    }
    tc_opencl_log_begin(log);
}

int tc_opencl_force_end(const tc_opencl_force_t *f, tc_opencl_log_t *log, int made_plan,
                        const char *where, tc_opencl_paths_t *total) {
    tc_opencl_paths_t made = {0, 0, 0, 0, 0};
    tc_opencl_log_end(log, &made);
    total->plans += made.plans;
    total->in_place += made.in_place;
    total->buffered += made.buffered;
    total->multi_tile += made.multi_tile;
    total->built += made.built;
    if (made_plan && made.plans == 0) {
        fprintf(stderr,
                "%s\n  the OpenCL backend logged no plan line at TCONV_VERBOSE=2: cannot tell "
                "how the plan stages its tensors\n",
                where);
        return -1;
    }
    if (f->copy && made.in_place) {
        fprintf(stderr,
                "%s\n  --opencl-staging copy (TCONV_OPENCL_NO_IN_PLACE=1) but the plan runs in "
                "place\n",
                where);
        return -1;
    }
    return 0;
}

int tc_opencl_force_declined(const tc_opencl_force_t *f, const char *message) {
    return f->max_alloc != NULL && message != NULL &&
           (strstr(message, "max allocation") != NULL || strstr(message, "per allocation") != NULL);
}

int tc_opencl_force_report(const tc_opencl_force_t *f, const char *label,
                           const tc_opencl_paths_t *counted) {
    printf("%s: %d OpenCL plans: %d in place, %d staged through buffers, %d in more than one "
           "tile; %d programs built from source%s%s%s\n",
           label, counted->plans, counted->in_place, counted->buffered, counted->multi_tile,
           counted->built, f->copy ? ", TCONV_OPENCL_NO_IN_PLACE=1" : "",
           f->max_alloc ? ", TCONV_OPENCL_MAX_ALLOC=" : "", f->max_alloc ? f->max_alloc : "");
    if (f->max_alloc && counted->plans > 0 && counted->multi_tile == 0) {
        fprintf(stderr, "%s: --opencl-max-alloc %s but no plan had more than one tile\n", label,
                f->max_alloc);
        return 1;
    }
    return 0;
}

tc_opencl_paths_t tc_opencl_paths_since(const tc_opencl_paths_t *now,
                                        const tc_opencl_paths_t *before) {
    tc_opencl_paths_t d = {now->plans - before->plans, now->in_place - before->in_place,
                           now->buffered - before->buffered, now->multi_tile - before->multi_tile,
                           now->built - before->built};
    return d;
}
