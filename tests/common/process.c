/* SPDX-License-Identifier: Apache-2.0 */
/* Runs a command with posix_spawn, capturing stdout and stderr in temporary
 * files (no pipes: no risk of a full-pipe deadlock). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "process.h"

#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *slurp(FILE *f) {
    fflush(f);
    long len = ftell(f);
    char *buf = malloc(len > 0 ? (size_t)len + 1 : 1);
    if (!buf)
        return NULL;
    rewind(f);
    size_t got = len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    buf[got] = '\0';
    return buf;
}

int tp_run(char *const argv[], char **out, char **err) {
    FILE *fo = tmpfile(), *fe = tmpfile();
    *out = *err = NULL;
    if (!fo || !fe)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(fo), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fileno(fe), STDERR_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int code = -1;
    if (rc == 0) {
        int status;
        if (waitpid(pid, &status, 0) == pid)
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    fseek(fo, 0, SEEK_END);
    fseek(fe, 0, SEEK_END);
    *out = slurp(fo);
    *err = slurp(fe);
    fclose(fo);
    fclose(fe);
    return code;
}

void tp_format(char *const argv[], char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; argv[i] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "", argv[i]);
}

int tp_run_args(const char *program, char **out, char **err, ...) {
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)program;
    va_list ap;
    va_start(ap, err);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 63)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return tp_run(argv, out, err);
}
