/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing shared by `tconv run` and `tconv bench`: an option
 * iterator, strict number parsing, and the layer options (strides, padding,
 * formats, activation, device, dtype) that turn into a tconv_problem_t.
 * Every error is printed as "<command>: --option: rule" and reported as -1. */
#ifndef TCONV_CLI_ARGS_H
#define TCONV_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "tconv/tconv.h"

/* ---------------------------------------------------------------------- */
/* Option iteration                                                        */

typedef struct cli_args {
    const char *command; /**< "tconv run", for messages. */
    int argc;
    char **argv;
    int next;                 /**< Index of the next argv entry. */
    const char *inline_value; /**< Value of "--name=value", else NULL. */
    char name[64];            /**< The current option's name ("--strides"). */
} cli_args_t;

/** Starts iterating argv[first..argc). */
void cli_args_init(cli_args_t *args, const char *command, int argc, char **argv, int first);

/** Moves to the next option. @returns 1 with *name set, 0 at the end, -1
 *  (printed) for an argument that is not an option. */
int cli_args_next(cli_args_t *args, const char **name);

/** The current option's value (inline or the next argument).
 *  @returns 0, or -1 (printed) when it is missing. */
int cli_args_value(cli_args_t *args, const char **value);

/** Checks that the current option, a flag, was not given a value. */
int cli_args_flag(cli_args_t *args);

/** Reports the current option as unknown; returns -1. */
int cli_args_unknown(cli_args_t *args);

/** Takes one option of a command: 1 taken, 0 not this command's, -1 error
 *  (printed). @p state is the command's own. */
typedef int (*cli_option_fn)(void *state, cli_args_t *args, const char *name);

/** Walks argv[1..argc) of @p command: "--help" prints @p usage to stdout and
 *  returns 1; every other option goes to @p option, and one it does not take
 *  is an error. @returns 0 when all were taken, 1 after --help, -1 (printed). */
int cli_args_parse(const char *command, int argc, char **argv, void (*usage)(FILE *out),
                   cli_option_fn option, void *state);

/* ---------------------------------------------------------------------- */
/* Strict numbers                                                          */

/** Parses a whole decimal integer >= @p min ("3x", "", overflow rejected). */
int cli_parse_int64(const char *command, const char *option, const char *text, int64_t min,
                    int64_t *value);

/** Looks @p value up (case-insensitively) in the NULL-terminated @p names;
 *  *choice is its index. An unknown value prints "--option: expected
 *  <expected>, got 'value'" and returns -1. */
int cli_parse_choice(const char *command, const char *option, const char *value,
                     const char *const *names, const char *expected, int *choice);

/** Parses a whole finite decimal number. */
int cli_parse_double(const char *command, const char *option, const char *text, double *value);

/** Most values a list option takes (begins and ends of three axes). */
#define CLI_MAX_LIST (2 * TCONV_MAX_SPATIAL)

/** A comma-separated integer list; count 0 means the option was not given. */
typedef struct cli_int_list {
    int count;
    int64_t values[CLI_MAX_LIST];
} cli_int_list_t;

/** Parses "a,b,c" with each value >= @p min and at most @p max_count values. */
int cli_parse_int_list(const char *command, const char *option, const char *text, int64_t min,
                       int max_count, cli_int_list_t *list);

/** Expands a list given as one value or one per axis into @p out[rank].
 *  @returns 0, or -1 (printed: "expected 1 or 3 values, got 2"). */
int cli_expand_list(const char *command, const char *option, const cli_int_list_t *list, int rank,
                    int64_t *out);

/* ---------------------------------------------------------------------- */
/* Layer options                                                           */

typedef enum cli_padding_kind {
    cli_padding_unset = 0,
    cli_padding_valid,    /**< Keras "valid". */
    cli_padding_same,     /**< Keras "same". */
    cli_padding_explicit, /**< Integers. */
} cli_padding_kind_t;

typedef struct cli_layer_options {
    cli_int_list_t strides, dilation, output_padding, output_shape;
    cli_padding_kind_t padding_kind;
    cli_int_list_t padding;   /**< Integers of an explicit --padding. */
    int has_auto_pad;         /**< --auto-pad given. */
    tconv_padding_t auto_pad; /**< Its mode (explicit for notset/valid). */
    int64_t groups;
    tconv_data_format_t data_format;
    tconv_kernel_layout_t kernel_layout;
    tconv_activation_t activation;
    double activation_alpha; /**< NaN: the activation's default. */
    const char *device;      /**< Selector; "auto" by default. */
    tconv_dtype_t dtype;     /**< Compute and output dtype. */
} cli_layer_options_t;

void layer_options_init(cli_layer_options_t *options);

/** Handles the current option if it is a layer option.
 *  @returns 1 if consumed, 0 if not a layer option, -1 on error (printed). */
int layer_options_parse(cli_layer_options_t *options, cli_args_t *args, const char *name);

/** Builds a problem from an input shape (N, spatial..., C or N, C,
 *  spatial... by the data format; 3 to 5 entries) and the options. Kernel
 *  size and output channels are left for the caller.
 *  @param argument Names the shape's source in messages ("--input").
 *  @returns 0, or -1 (printed). */
int layer_problem_from_input(const cli_layer_options_t *options, const char *command,
                             const char *argument, const int64_t *shape, int ndim,
                             tconv_problem_t *problem);

/** Prints the layer options' help text. */
void layer_options_usage(FILE *out);

#endif /* TCONV_CLI_ARGS_H */
