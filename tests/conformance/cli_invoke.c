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
#define ARG_TEXT 4096

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

static void build_args(argv_builder_t *b, const char *tconv, const conformance_case_t *c,
                       const char *device, const char *output_path) {
    const tconv_problem_t *p = &c->problem;
    int r = p->spatial_rank;
    add(b, tconv);
    add(b, "run");
    add(b, "--input");
    add(b, c->input);
    add(b, "--kernel");
    add(b, c->kernel);
    if (c->bias[0]) {
        add(b, "--bias");
        add(b, c->bias);
    }
    add(b, "--output");
    add(b, output_path);
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

int cli_run_case(const char *tconv, const conformance_case_t *c, const char *device,
                 const char *output_path, const char *log_path, char *command_line,
                 size_t command_line_size, char *message, size_t message_size) {
    argv_builder_t b = {.argc = 0, .used = 0};
    build_args(&b, tconv, c, device, output_path);
    size_t len = 0;
    command_line[0] = '\0';
    for (int i = 0; i < b.argc && len < command_line_size; i++)
        len += (size_t)snprintf(command_line + len, command_line_size - len, "%s%s", i ? " " : "",
                                b.argv[i]);
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
        execv(tconv, b.argv);
        fprintf(stderr, "exec %s: %s\n", tconv, strerror(errno));
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
