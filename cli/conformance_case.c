/* SPDX-License-Identifier: Apache-2.0 */
/* Case files (generate.py) into tconv_problem_t. The mapping is the contract
 * between the generator and tconv; it is spelled out in
 * tests/conformance/README.md. */
#include "conformance_case.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_json.h"

static int fail(char *message, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, size, fmt, ap);
    va_end(ap);
    return -1;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1))) {
            if (fread(text, 1, (size_t)size, f) != (size_t)size) {
                free(text);
                text = NULL;
            } else {
                text[size] = '\0';
            }
        }
    }
    fclose(f);
    return text;
}

static const char *get_string(const mj_value_t *root, const char *key) {
    const mj_value_t *v = mj_get(root, key);
    return v && v->type == mj_string ? v->string : NULL;
}

/* An integer member; missing or not a number is an error. */
static int get_int(const mj_value_t *root, const char *key, int64_t *out, char *message,
                   size_t size) {
    const mj_value_t *v = mj_get(root, key);
    if (!v || v->type != mj_number)
        return fail(message, size, "'%s' is missing or not a number", key);
    *out = (int64_t)v->number;
    return 0;
}

/* An array of @p rank integers; JSON null leaves *present = 0. */
static int get_list(const mj_value_t *root, const char *key, int rank, int64_t *out, int *present,
                    char *message, size_t size) {
    const mj_value_t *v = mj_get(root, key);
    if (present)
        *present = 0;
    if (v && v->type == mj_null && present)
        return 0;
    if (!v || v->type != mj_array || (int)v->count != rank)
        return fail(message, size, "'%s' must be a list of %d integers", key, rank);
    for (int i = 0; i < rank; i++) {
        if (v->items[i].type != mj_number)
            return fail(message, size, "'%s'[%d] is not a number", key, i);
        out[i] = (int64_t)v->items[i].number;
    }
    if (present)
        *present = 1;
    return 0;
}

static void sibling_path(const char *json_path, const char *file, char *out) {
    const char *slash = strrchr(json_path, '/');
    int dir_len = slash ? (int)(slash - json_path) : 1;
    snprintf(out, CASE_PATH_MAX, "%.*s/%s", dir_len, slash ? json_path : ".", file);
}

static int map_padding(const char *name, tconv_padding_t *padding) {
    static const struct {
        const char *name;
        tconv_padding_t value;
    } table[] = {{"explicit", tconv_padding_explicit},
                 {"valid", tconv_padding_valid},
                 {"same", tconv_padding_same},
                 {"same_upper", tconv_padding_same_upper},
                 {"same_lower", tconv_padding_same_lower}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) == 0) {
            *padding = table[i].value;
            return 0;
        }
    }
    return -1;
}

static int fill_problem(const mj_value_t *root, conformance_case_t *c, char *message, size_t size) {
    tconv_problem_t *p = &c->problem;
    int64_t rank = 0, groups = 0;
    if (get_int(root, "spatial_rank", &rank, message, size) != 0)
        return -1;
    if (rank < 1 || rank > 3 || tconv_problem_init(p, (int)rank) != tconv_success)
        return fail(message, size, "spatial_rank %lld is not 1, 2 or 3", (long long)rank);
    const char *dtype = get_string(root, "dtype");
    const char *padding = get_string(root, "padding");
    const char *format = get_string(root, "data_format");
    const char *layout = get_string(root, "kernel_layout");
    const char *activation = get_string(root, "activation");
    if (!dtype || !padding || !format || !layout || !activation)
        return fail(message, size,
                    "dtype, padding, data_format, kernel_layout and activation "
                    "must be strings");
    p->dtype = strcmp(dtype, "float64") == 0 ? tconv_f64 : tconv_f32;
    snprintf(c->padding_name, sizeof c->padding_name, "%s", padding);
    /* A word tconv has no value for (Keras's refused 'causal', 'foo') reaches
     * the C API as an out-of-range enum: it must be refused the same way. */
    if (map_padding(padding, &p->padding) != 0)
        p->padding = (tconv_padding_t)99;
    p->data_format =
        strcmp(format, "channels_first") == 0 ? tconv_channels_first : tconv_channels_last;
    p->kernel_layout = strcmp(layout, "torch") == 0 ? tconv_kernel_torch : tconv_kernel_keras;
    if (tconv_activation_from_name(activation, &p->activation) != tconv_success)
        return fail(message, size, "activation '%s': %s", activation, tconv_get_last_error());
    const mj_value_t *alpha = mj_get(root, "activation_alpha");
    p->activation_alpha = alpha && alpha->type == mj_number ? alpha->number : NAN;
    const mj_value_t *bias = mj_get(root, "use_bias");
    p->use_bias = bias && bias->type == mj_bool && bias->boolean;
    int r = (int)rank, has_shape;
    if (get_int(root, "batch", &p->batch, message, size) != 0 ||
        get_int(root, "in_channels", &p->in_channels, message, size) != 0 ||
        get_int(root, "out_channels", &p->out_channels, message, size) != 0 ||
        get_int(root, "groups", &groups, message, size) != 0 ||
        get_list(root, "input_size", r, p->input_size, NULL, message, size) != 0 ||
        get_list(root, "kernel_size", r, p->kernel_size, NULL, message, size) != 0 ||
        get_list(root, "strides", r, p->strides, NULL, message, size) != 0 ||
        get_list(root, "dilation", r, p->dilation, NULL, message, size) != 0 ||
        get_list(root, "pads_begin", r, p->pads_begin, NULL, message, size) != 0 ||
        get_list(root, "pads_end", r, p->pads_end, NULL, message, size) != 0 ||
        get_list(root, "output_padding", r, p->output_padding, &p->has_output_padding, message,
                 size) != 0 ||
        get_list(root, "output_shape", r, p->output_shape, &has_shape, message, size) != 0)
        return -1;
    p->groups = groups;
    return 0;
}

int case_load(const char *json_path, conformance_case_t *c, char *message, size_t message_size) {
    memset(c, 0, sizeof *c);
    char *text = read_text(json_path);
    if (!text)
        return fail(message, message_size, "cannot read %s", json_path);
    mj_value_t root;
    int rc = mj_parse(text, &root, message, message_size);
    free(text);
    if (rc != 0)
        return -1;
    rc = -1;
    const char *name = get_string(&root, "name");
    const char *framework = get_string(&root, "framework");
    const mj_value_t *files = mj_get(&root, "files");
    if (!name || !framework || !files || files->type != mj_object) {
        fail(message, message_size, "name, framework and files are required");
        goto done;
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->framework, sizeof c->framework, "%s", framework);
    const mj_value_t *error = mj_get(&root, "expect_error");
    c->expect_error = error && error->type == mj_bool && error->boolean;
    const char *kind = get_string(&root, "kind");
    if (kind && strcmp(kind, "gradient") != 0) {
        fail(message, message_size, "kind '%s': only \"gradient\" (or no kind: forward)", kind);
        goto done;
    }
    c->gradient = kind != NULL;
    const mj_value_t *tolerance = mj_get(&root, "tolerance");
    c->tolerance = tolerance && tolerance->type == mj_number ? tolerance->number : 0.0;
    if (fill_problem(&root, c, message, message_size) != 0)
        goto done;
    struct {
        const char *role;
        char *path;
    } roles[] = {{"input", c->input},
                 {"kernel", c->kernel},
                 {"bias", c->bias},
                 {"output", c->output},
                 {"grad_output", c->grad_output},
                 {"grad_input", c->grad_input},
                 {"grad_kernel", c->grad_kernel},
                 {"grad_bias", c->grad_bias}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        const char *file = get_string(files, roles[i].role);
        if (file)
            sibling_path(json_path, file, roles[i].path);
    }
    if (!c->input[0] || !c->kernel[0]) {
        fail(message, message_size, "files: input and kernel are required");
        goto done;
    }
    if (c->gradient && (c->expect_error || !c->grad_output[0] || !c->grad_input[0] ||
                        !c->grad_kernel[0] || !c->bias[0] != !c->grad_bias[0])) {
        fail(message, message_size,
             "a gradient case needs files grad_output, grad_input, grad_kernel, and "
             "grad_bias exactly when it has a bias (and cannot be an error case)");
        goto done;
    }
    if (!c->gradient && !c->expect_error && !c->output[0]) {
        fail(message, message_size, "files: output is required (unless an error case)");
        goto done;
    }
    rc = 0;
done:
    mj_free(&root);
    return rc;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void case_list_free(char **paths, size_t count) {
    for (size_t i = 0; paths && i < count; i++)
        free(paths[i]);
    free(paths);
}

int case_list(const char *dir, char ***paths, size_t *count) {
    *paths = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = -1;
                break;
            }
            names = grown;
        }
        size_t size = strlen(dir) + len + 2;
        if (!(names[n] = malloc(size))) {
            rc = -1;
            break;
        }
        snprintf(names[n++], size, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (rc != 0) {
        case_list_free(names, n);
        errno = ENOMEM;
        return -1;
    }
    if (n > 0)
        qsort(names, n, sizeof *names, compare_names);
    *paths = names;
    *count = n;
    return 0;
}
