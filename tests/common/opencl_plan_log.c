/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the OpenCL backend's plan lines; see opencl_plan_log.h. */
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
        return -1;
    }
    setenv("TCONV_VERBOSE", "2", 1);
    return 0;
}

/* A plan line: "tconv[opencl]: opencl:0: channel path, in place, ... 1 tile(s)
 * of ..." (forward) or "... backward data weights in place, ... 2 tile(s) of
 * ..." (ocl_plan.c, ocl_backward.c). */
static void count_plan_line(const char *line, tc_opencl_paths_t *paths) {
    if (strncmp(line, "tconv[opencl]: opencl:", 22) != 0)
        return;
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
}
