/* SPDX-License-Identifier: Apache-2.0 */
/* tconv: command-line front end of the tconv library. Dispatches to the
 * subcommands (commands.h); each one parses its own options. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "status.h"
#include "tconv/tconv.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *out);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"devices", cmd_devices, cmd_devices_usage, "list devices, the auto choice and plugin reports"},
    {"run", cmd_run, cmd_run_usage, "transposed convolution of .npy arrays"},
    {"backward", cmd_backward, cmd_backward_usage, "gradients of a layer for dL/dy (.npy arrays)"},
    {"bench", cmd_bench, cmd_bench_usage, "time one layer on random data"},
    {"demo", cmd_demo, cmd_demo_usage, "a 3-D decoder layer: device choice, speed, accuracy"},
    {"conformance", cmd_conformance, cmd_conformance_usage,
     "the framework goldens on one device (plugin conformance kit)"},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fputs("Usage: tconv <command> [options]\n"
          "3-D (and 1-D/2-D) transposed convolution, Keras/PyTorch/ONNX semantics, on any\n"
          "device a backend plugin provides.\n\nCommands:\n",
          out);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fputs("  help [COMMAND]  this text, or a command's options\n"
          "\n`tconv <command> --help` shows a command's options. `tconv --version` prints the\n"
          "version. Exit codes: 0 ok, 1 a conformance case failed (or none ran), 2 bad\n"
          "arguments or input, 3 device/runtime failure, 4 out of memory.\n",
          out);
}

static const command_t *find_command(const char *name) {
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int help(int argc, char **argv) {
    if (argc < 3) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    const command_t *command = find_command(argv[2]);
    if (!command || argc > 3) {
        fprintf(stderr, "tconv help: unknown command '%s'\n", argv[argc > 3 ? 3 : 2]);
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    command->usage(stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("tconv %s (library %s)\n", TCONV_CLI_VERSION, tconv_get_version(NULL, NULL, NULL));
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return help(argc, argv);
    const command_t *command = find_command(name);
    if (!command) {
        fprintf(stderr, "tconv: unknown command '%s'\n", name);
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    /* Line-buffered so progress lines and error messages interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = command->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tconv %s: writing to standard output failed\n", name);
        return rc ? rc : CLI_EXIT_RUNTIME;
    }
    return rc;
}
