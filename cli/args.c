/* SPDX-License-Identifier: Apache-2.0 */
/* Option iteration, strict number parsing and the layer options shared by
 * `tconv run` and `tconv bench`. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status.h"

/* ---------------------------------------------------------------------- */
/* Option iteration                                                        */

void cli_args_init(cli_args_t *args, const char *command, int argc, char **argv, int first) {
    memset(args, 0, sizeof *args);
    args->command = command;
    args->argc = argc;
    args->argv = argv;
    args->next = first;
}

/* Whether argv[first..upto) already held the option @p name. */
static int seen_before(const cli_args_t *args, int upto, const char *name, size_t len) {
    for (int i = 0; i < upto; i++) {
        const char *a = args->argv[i];
        if (strncmp(a, name, len) == 0 && (a[len] == '\0' || a[len] == '='))
            return 1;
    }
    return 0;
}

int cli_args_next(cli_args_t *args, const char **name) {
    if (args->next >= args->argc)
        return 0;
    int index = args->next++;
    const char *arg = args->argv[index];
    args->inline_value = NULL;
    if (strcmp(arg, "-h") == 0)
        arg = "--help";
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
        cli_error(args->command, "unexpected argument '%s' (options start with --; see --help)",
                  arg);
        return -1;
    }
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len >= sizeof args->name) {
        cli_error(args->command, "unknown option '%s' (see --help)", arg);
        return -1;
    }
    memcpy(args->name, arg, len);
    args->name[len] = '\0';
    args->inline_value = eq ? eq + 1 : NULL;
    /* Options may appear once: a repeated one is almost always a mistake. */
    if (strcmp(args->name, "--help") != 0 && seen_before(args, index, args->name, len)) {
        cli_error(args->command, "%s: given more than once", args->name);
        return -1;
    }
    *name = args->name;
    return 1;
}

int cli_args_value(cli_args_t *args, const char **value) {
    if (args->inline_value) {
        *value = args->inline_value;
        return 0;
    }
    if (args->next >= args->argc || strncmp(args->argv[args->next], "--", 2) == 0) {
        cli_error(args->command, "%s: missing value", args->name);
        return -1;
    }
    *value = args->argv[args->next++];
    return 0;
}

int cli_args_flag(cli_args_t *args) {
    if (args->inline_value) {
        cli_error(args->command, "%s: takes no value", args->name);
        return -1;
    }
    return 0;
}

int cli_args_unknown(cli_args_t *args) {
    cli_error(args->command, "unknown option '%s' (see %s --help)", args->name, args->command);
    return -1;
}

int cli_args_parse(const char *command, int argc, char **argv, void (*usage)(FILE *out),
                   cli_option_fn option, void *state) {
    cli_args_t args;
    const char *name;
    int rc;
    cli_args_init(&args, command, argc, argv, 1);
    while ((rc = cli_args_next(&args, &name)) == 1) {
        if (strcmp(name, "--help") == 0) {
            usage(stdout);
            return 1;
        }
        rc = option(state, &args, name);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return cli_args_unknown(&args);
    }
    return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Strict numbers                                                          */

int cli_parse_int64(const char *command, const char *option, const char *text, int64_t min,
                    int64_t *value) {
    /* strtoll skips leading spaces and accepts "" as 0: refuse both. */
    if (!((text[0] >= '0' && text[0] <= '9') ||
          ((text[0] == '-' || text[0] == '+') && text[1] >= '0' && text[1] <= '9'))) {
        cli_error(command, "%s: '%s' is not an integer", option, text);
        return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*end != '\0') {
        cli_error(command, "%s: '%s' is not an integer", option, text);
        return -1;
    }
    if (errno == ERANGE) {
        cli_error(command, "%s: '%s' is out of range", option, text);
        return -1;
    }
    if (v < min) {
        cli_error(command, "%s: value %lld must be >= %lld", option, v, (long long)min);
        return -1;
    }
    *value = v;
    return 0;
}

int cli_parse_double(const char *command, const char *option, const char *text, double *value) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || text[0] == ' ' || *end != '\0' || !isfinite(v) || errno == ERANGE) {
        cli_error(command, "%s: '%s' is not a finite number", option, text);
        return -1;
    }
    *value = v;
    return 0;
}

int cli_parse_int_list(const char *command, const char *option, const char *text, int64_t min,
                       int max_count, cli_int_list_t *list) {
    char item[64];
    list->count = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (list->count == max_count) {
            cli_error(command, "%s: expected at most %d values in '%s'", option, max_count, text);
            return -1;
        }
        if (len == 0 || len >= sizeof item) {
            cli_error(command, "%s: '%s' is not a comma-separated list of integers", option, text);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (cli_parse_int64(command, option, item, min, &list->values[list->count]) != 0)
            return -1;
        list->count++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int cli_expand_list(const char *command, const char *option, const cli_int_list_t *list, int rank,
                    int64_t *out) {
    if (list->count == 1) {
        for (int i = 0; i < rank; i++)
            out[i] = list->values[0];
        return 0;
    }
    if (list->count == rank) {
        memcpy(out, list->values, sizeof(int64_t) * (size_t)rank);
        return 0;
    }
    if (rank == 1)
        cli_error(command, "%s: expected 1 value, got %d", option, list->count);
    else
        cli_error(command, "%s: expected 1 or %d values, got %d", option, rank, list->count);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Layer options                                                           */

void layer_options_init(cli_layer_options_t *o) {
    memset(o, 0, sizeof *o);
    o->groups = 1;
    o->data_format = tconv_channels_last;
    o->kernel_layout = tconv_kernel_keras;
    o->activation = tconv_activation_linear;
    o->activation_alpha = NAN;
    o->device = "auto";
    o->dtype = tconv_f32;
}

static int parse_padding(cli_layer_options_t *o, const char *command, const char *value) {
    if (strcasecmp(value, "valid") == 0) {
        o->padding_kind = cli_padding_valid;
        return 0;
    }
    if (strcasecmp(value, "same") == 0) {
        o->padding_kind = cli_padding_same;
        return 0;
    }
    if (!((value[0] >= '0' && value[0] <= '9') || value[0] == '-' || value[0] == '+')) {
        cli_error(command, "--padding: expected valid, same or integers, got '%s'", value);
        return -1;
    }
    o->padding_kind = cli_padding_explicit;
    return cli_parse_int_list(command, "--padding", value, 0, CLI_MAX_LIST, &o->padding);
}

static int parse_auto_pad(cli_layer_options_t *o, const char *command, const char *value) {
    o->has_auto_pad = 1;
    if (strcasecmp(value, "same_upper") == 0)
        o->auto_pad = tconv_padding_same_upper;
    else if (strcasecmp(value, "same_lower") == 0)
        o->auto_pad = tconv_padding_same_lower;
    else if (strcasecmp(value, "notset") == 0 || strcasecmp(value, "valid") == 0)
        o->auto_pad = tconv_padding_explicit; /* ONNX: pads (default 0) apply */
    else {
        cli_error(command, "--auto-pad: expected same_upper, same_lower, notset or valid, got '%s'",
                  value);
        return -1;
    }
    return 0;
}

/* Looks @p value up in a NULL-terminated list of names; -1 if absent. */
static int choose(const char *value, const char *const *names) {
    for (int i = 0; names[i]; i++)
        if (strcasecmp(value, names[i]) == 0)
            return i;
    return -1;
}

int cli_parse_choice(const char *command, const char *option, const char *value,
                     const char *const *names, const char *expected, int *choice) {
    *choice = choose(value, names);
    if (*choice < 0) {
        cli_error(command, "%s: expected %s, got '%s'", option, expected, value);
        return -1;
    }
    return 0;
}

static int parse_activation(cli_layer_options_t *o, const char *command, const char *value) {
    tconv_status_t st = tconv_activation_from_name(value, &o->activation);
    if (st != tconv_success) {
        cli_error(command, "--activation: %s", tconv_get_last_error());
        return -1;
    }
    return 0;
}

int layer_options_parse(cli_layer_options_t *o, cli_args_t *args, const char *name) {
    static const char *const formats[] = {"channels_last", "channels_first", NULL};
    static const char *const layouts[] = {"keras", "torch", "pytorch", "onnx", NULL};
    static const char *const dtypes[] = {"float32", "float64", "f32", "f64", NULL};
    const char *cmd = args->command, *value;
    int choice;
    cli_int_list_t *list = NULL;
    int64_t min = 1;
    if (strcmp(name, "--strides") == 0)
        list = &o->strides;
    else if (strcmp(name, "--dilation-rate") == 0 || strcmp(name, "--dilation") == 0)
        list = &o->dilation;
    else if (strcmp(name, "--output-padding") == 0)
        list = &o->output_padding, min = 0;
    else if (strcmp(name, "--output-shape") == 0)
        list = &o->output_shape;
    else if (strcmp(name, "--padding") != 0 && strcmp(name, "--auto-pad") != 0 &&
             strcmp(name, "--groups") != 0 && strcmp(name, "--data-format") != 0 &&
             strcmp(name, "--kernel-layout") != 0 && strcmp(name, "--activation") != 0 &&
             strcmp(name, "--activation-alpha") != 0 && strcmp(name, "--device") != 0 &&
             strcmp(name, "--dtype") != 0)
        return 0;
    if (cli_args_value(args, &value) != 0)
        return -1;
    if (list)
        return cli_parse_int_list(cmd, name, value, min, CLI_MAX_LIST, list) ? -1 : 1;
    int rc = 0;
    if (strcmp(name, "--padding") == 0) {
        rc = parse_padding(o, cmd, value);
    } else if (strcmp(name, "--auto-pad") == 0) {
        rc = parse_auto_pad(o, cmd, value);
    } else if (strcmp(name, "--groups") == 0) {
        rc = cli_parse_int64(cmd, name, value, 1, &o->groups);
    } else if (strcmp(name, "--data-format") == 0) {
        rc =
            cli_parse_choice(cmd, name, value, formats, "channels_last or channels_first", &choice);
        o->data_format = choice == 1 ? tconv_channels_first : tconv_channels_last;
    } else if (strcmp(name, "--kernel-layout") == 0) {
        rc = cli_parse_choice(cmd, name, value, layouts, "keras or torch", &choice);
        o->kernel_layout = choice >= 1 ? tconv_kernel_torch : tconv_kernel_keras;
    } else if (strcmp(name, "--activation") == 0) {
        rc = parse_activation(o, cmd, value);
    } else if (strcmp(name, "--activation-alpha") == 0) {
        rc = cli_parse_double(cmd, name, value, &o->activation_alpha);
    } else if (strcmp(name, "--device") == 0) {
        if (value[0] == '\0') {
            cli_error(cmd, "--device: must not be empty (use auto, an id such as cpu:0, ...)");
            rc = -1;
        }
        o->device = value;
    } else {
        rc = cli_parse_choice(cmd, name, value, dtypes, "float32 or float64", &choice);
        o->dtype = choice % 2 == 1 ? tconv_f64 : tconv_f32;
    }
    return rc ? -1 : 1;
}

/* Padding options into the problem: Keras words, explicit integers, ONNX
 * auto_pad and output_shape. */
static int apply_padding(const cli_layer_options_t *o, const char *cmd, int rank,
                         tconv_problem_t *p) {
    if (o->has_auto_pad && o->padding_kind != cli_padding_unset &&
        !(o->auto_pad == tconv_padding_explicit && o->padding_kind == cli_padding_explicit)) {
        cli_error(cmd, "--auto-pad: cannot be combined with --padding (except notset with "
                       "integer pads)");
        return -1;
    }
    if (o->padding_kind == cli_padding_valid)
        p->padding = tconv_padding_valid;
    else if (o->padding_kind == cli_padding_same)
        p->padding = tconv_padding_same;
    else if (o->has_auto_pad)
        p->padding = o->auto_pad;
    else if (o->padding_kind == cli_padding_explicit || o->output_shape.count)
        p->padding = tconv_padding_explicit; /* ONNX NOTSET: pads default to 0 */

    if (o->padding_kind == cli_padding_explicit) {
        const cli_int_list_t *l = &o->padding;
        if (l->count == 2 * rank) {
            memcpy(p->pads_begin, l->values, sizeof(int64_t) * (size_t)rank);
            memcpy(p->pads_end, l->values + rank, sizeof(int64_t) * (size_t)rank);
        } else if (l->count == 1 || l->count == rank) {
            cli_expand_list(cmd, "--padding", l, rank, p->pads_begin);
            memcpy(p->pads_end, p->pads_begin, sizeof(int64_t) * (size_t)rank);
        } else {
            if (rank == 1)
                cli_error(cmd, "--padding: expected 1 or 2 values, got %d", l->count);
            else
                cli_error(cmd, "--padding: expected 1, %d or %d values, got %d", rank, 2 * rank,
                          l->count);
            return -1;
        }
    }
    if (o->output_shape.count &&
        cli_expand_list(cmd, "--output-shape", &o->output_shape, rank, p->output_shape) != 0)
        return -1;
    return 0;
}

int layer_problem_from_input(const cli_layer_options_t *o, const char *cmd, const char *argument,
                             const int64_t *shape, int ndim, tconv_problem_t *p) {
    if (ndim < 3 || ndim > 5) {
        cli_error(cmd,
                  "%s: expected 3, 4 or 5 dimensions (batch, channels and 1 to 3 spatial axes), "
                  "got %d",
                  argument, ndim);
        return -1;
    }
    int rank = ndim - 2;
    tconv_status_t st = tconv_problem_init(p, rank);
    if (st != tconv_success)
        return cli_fail_status(cmd, "problem", st), -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) {
            cli_error(cmd, "%s: dimension %d is %lld: every dimension must be >= 1", argument, i,
                      (long long)shape[i]);
            return -1;
        }
    }
    int first = o->data_format == tconv_channels_first;
    p->batch = shape[0];
    p->in_channels = first ? shape[1] : shape[ndim - 1];
    for (int i = 0; i < rank; i++)
        p->input_size[i] = shape[1 + first + i];

    p->dtype = o->dtype;
    p->groups = o->groups;
    p->data_format = o->data_format;
    p->kernel_layout = o->kernel_layout;
    p->activation = o->activation;
    p->activation_alpha = o->activation_alpha;
    if ((o->strides.count &&
         cli_expand_list(cmd, "--strides", &o->strides, rank, p->strides) != 0) ||
        (o->dilation.count &&
         cli_expand_list(cmd, "--dilation-rate", &o->dilation, rank, p->dilation) != 0))
        return -1;
    if (o->output_padding.count) {
        p->has_output_padding = 1;
        if (cli_expand_list(cmd, "--output-padding", &o->output_padding, rank, p->output_padding) !=
            0)
            return -1;
    }
    return apply_padding(o, cmd, rank, p);
}

void layer_options_usage(FILE *out) {
    fputs("Layer options (LIST = one integer, or one per spatial axis, comma-separated):\n"
          "  --strides LIST            stride per axis (default 1)\n"
          "  --dilation-rate LIST      dilation per axis (default 1)\n"
          "  --output-padding LIST     extra output length at the end of each axis\n"
          "  --padding MODE            valid | same (Keras, case-insensitive; default valid)\n"
          "                            P: every begin and end crop is P\n"
          "                            Pd,Ph,Pw: begin = end per axis (PyTorch)\n"
          "                            Bd,Bh,Bw,Ed,Eh,Ew: begins then ends (ONNX pads)\n"
          "  --auto-pad MODE           ONNX auto_pad: same_upper | same_lower | notset | valid\n"
          "  --output-shape LIST       ONNX output_shape (spatial lengths)\n"
          "  --groups G                grouped convolution (default 1)\n"
          "  --data-format FMT         channels_last (default) | channels_first\n"
          "  --kernel-layout L         keras (k..., Cout/G, Cin; default) | torch (Cin, Cout/G, "
          "k...)\n"
          "  --activation NAME         fused activation, e.g. relu, leaky_relu, gelu (default "
          "linear)\n"
          "  --activation-alpha A      the activation's parameter (default: Keras's)\n"
          "  --device SEL              auto (default), an id (cpu:0, opencl:0), a backend,\n"
          "                            a class (gpu), a comma list, -term exclusions\n"
          "  --dtype T                 float32 (default) | float64: compute and output type\n",
          out);
}
