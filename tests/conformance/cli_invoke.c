/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI equivalent of a case's tconv_problem_t (see README.md for the
 * option contract), run with fork/exec: no shell, no quoting. */
#define _POSIX_C_SOURCE 200809L
#include "cli_invoke.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 48
#define ARG_TEXT 8192

typedef struct argv_builder {
    char *argv[MAX_ARGS];
    int argc;
    char text[ARG_TEXT];
    size_t used;
} argv_builder_t;

static void add(argv_builder_t *b, const char *arg) {
    size_t n = strlen(arg) + 1;
    if (b->argc + 1 >= MAX_ARGS || b->used + n > ARG_TEXT)
        return; /* cannot happen for the options below; the CLI would then refuse */
    memcpy(b->text + b->used, arg, n);
    b->argv[b->argc++] = b->text + b->used;
    b->argv[b->argc] = NULL;
    b->used += n;
}

static void add_list(argv_builder_t *b, const char *option, const int64_t *v, int n) {
    char text[256];
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%lld", i ? "," : "",
                                (long long)v[i]);
    add(b, option);
    add(b, text);
}

/* `OPTION PATH`, unless the case has no such file (""). */
static void add_file(argv_builder_t *b, const char *option, const char *path) {
    if (!path[0])
        return;
    add(b, option);
    add(b, path);
}

/* `tconv COMMAND --input X --kernel W [--bias B]`: the start of both command lines. */
static void add_layer_arrays(argv_builder_t *b, const char *tconv, const char *command,
                             const conformance_case_t *c) {
    add(b, tconv);
    add(b, command);
    add_file(b, "--input", c->input);
    add_file(b, "--kernel", c->kernel);
    add_file(b, "--bias", c->bias);
}

/* The layer options shared by `tconv run` and `tconv backward`. */
static void add_layer_options(argv_builder_t *b, const conformance_case_t *c, const char *device) {
    const tconv_problem_t *p = &c->problem;
    int r = p->spatial_rank;
    add_list(b, "--strides", p->strides, r);
    add_list(b, "--dilation-rate", p->dilation, r);
    if (strcmp(c->padding_name, "explicit") == 0) {
        int64_t pads[2 * TCONV_MAX_SPATIAL];
        memcpy(pads, p->pads_begin, sizeof(int64_t) * (size_t)r);
        memcpy(pads + r, p->pads_end, sizeof(int64_t) * (size_t)r);
        add_list(b, "--padding", pads, 2 * r);
    } else if (strcmp(c->padding_name, "same_upper") == 0 ||
               strcmp(c->padding_name, "same_lower") == 0) {
        add(b, "--auto-pad");
        add(b, c->padding_name);
    } else {
        add(b, "--padding"); /* valid, same, or a word Keras refuses */
        add(b, c->padding_name);
    }
    if (p->has_output_padding)
        add_list(b, "--output-padding", p->output_padding, r);
    int has_shape = 0;
    for (int i = 0; i < r; i++)
        has_shape |= p->output_shape[i] != 0;
    if (has_shape)
        add_list(b, "--output-shape", p->output_shape, r);
    char text[64];
    snprintf(text, sizeof text, "%lld", (long long)p->groups);
    add(b, "--groups");
    add(b, text);
    add(b, "--data-format");
    add(b, p->data_format == tconv_channels_first ? "channels_first" : "channels_last");
    add(b, "--kernel-layout");
    add(b, p->kernel_layout == tconv_kernel_torch ? "torch" : "keras");
    add(b, "--activation");
    add(b, tconv_activation_name(p->activation));
    if (!isnan(p->activation_alpha)) {
        snprintf(text, sizeof text, "%.17g", p->activation_alpha);
        add(b, "--activation-alpha");
        add(b, text);
    }
    add(b, "--device");
    add(b, device);
    add(b, "--dtype");
    add(b, p->dtype == tconv_f64 ? "float64" : "float32");
}

/* Runs @p b's command line with stdin from /dev/null and stdout+stderr into
 * @p log_path; returns its exit status or -1 (see cli_run_case). */
static int run_command(const argv_builder_t *b, const char *log_path, char *command_line,
                       size_t command_line_size, char *message, size_t message_size) {
    size_t len = 0;
    command_line[0] = '\0';
    for (int i = 0; i < b->argc && len < command_line_size; i++)
        len += (size_t)snprintf(command_line + len, command_line_size - len, "%s%s", i ? " " : "",
                                b->argv[i]);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log_fd < 0) {
        snprintf(message, message_size, "cannot create %s: %s", log_path, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        snprintf(message, message_size, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, STDIN_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execv(b->argv[0], b->argv);
        fprintf(stderr, "exec %s: %s\n", b->argv[0], strerror(errno));
        _exit(127);
    }
    close(log_fd);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(message, message_size, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    snprintf(message, message_size, "killed by signal %d",
             WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

int cli_run_case(const char *tconv, const conformance_case_t *c, const char *device,
                 const char *output_path, const char *log_path, char *command_line,
                 size_t command_line_size, char *message, size_t message_size) {
    argv_builder_t b = {.argc = 0, .used = 0};
    add_layer_arrays(&b, tconv, "run", c);
    add_file(&b, "--output", output_path);
    add_layer_options(&b, c, device);
    return run_command(&b, log_path, command_line, command_line_size, message, message_size);
}

int cli_backward_case(const char *tconv, const conformance_case_t *c, const char *device,
                      const char *const grad_paths[3], const char *log_path, char *command_line,
                      size_t command_line_size, char *message, size_t message_size) {
    argv_builder_t b = {.argc = 0, .used = 0};
    add_layer_arrays(&b, tconv, "backward", c);
    add_file(&b, "--grad-output", c->grad_output);
    add_file(&b, "--grad-input", grad_paths[0]);
    add_file(&b, "--grad-kernel", grad_paths[1]);
    if (c->bias[0])
        add_file(&b, "--grad-bias", grad_paths[2]);
    add_layer_options(&b, c, device);
    return run_command(&b, log_path, command_line, command_line_size, message, message_size);
}
