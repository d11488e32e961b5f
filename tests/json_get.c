/* SPDX-License-Identifier: Apache-2.0 */
/* json_get FILE PATH
 * Prints the value at PATH in the JSON document FILE, for shell tests that
 * check values rather than grep the text: PATH is dot-separated member
 * names and array indices ("rows.0.median_ms"). Numbers print with 17
 * significant digits, strings as they are, true/false/null as words.
 * Exit 0, 1 when PATH names nothing, 2 on bad usage or an unreadable or
 * malformed file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_value.h"
#include "npy_test_io.h"

/* Follows one PATH step from @p v: a member name, or an index of an array. */
static const tc_json_t *step(const tc_json_t *v, const char *name) {
    if (v->type == tc_json_array) {
        char *end;
        unsigned long i = strtoul(name, &end, 10);
        return *end == '\0' && end != name && i < v->count ? &v->items[i] : NULL;
    }
    return tc_json_get(v, name);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: json_get FILE PATH\n");
        return 2;
    }
    unsigned char *bytes = NULL;
    size_t size = 0;
    if (tn_read_file(argv[1], &bytes, &size) != 0) {
        fprintf(stderr, "json_get: cannot read %s\n", argv[1]);
        return 2;
    }
    char *text = realloc(bytes, size + 1);
    if (text == NULL)
        return 2;
    text[size] = '\0';
    char why[256];
    tc_json_t *doc = tc_json_parse(text, why, sizeof why);
    free(text);
    if (doc == NULL) {
        fprintf(stderr, "json_get: %s: %s\n", argv[1], why);
        return 2;
    }
    const tc_json_t *v = doc;
    char *path = strdup(argv[2]);
    for (char *save = NULL, *name = strtok_r(path, ".", &save); v != NULL && name != NULL;
         name = strtok_r(NULL, ".", &save))
        v = step(v, name);
    free(path);
    int rc = 0;
    if (v == NULL) {
        fprintf(stderr, "json_get: %s has no %s\n", argv[1], argv[2]);
        rc = 1;
    } else if (v->type == tc_json_number) {
        printf("%.17g\n", v->number);
    } else if (v->type == tc_json_string) {
        printf("%s\n", v->string);
    } else if (v->type == tc_json_bool || v->type == tc_json_null) {
        printf("%s\n", v->type == tc_json_null ? "null" : v->number ? "true" : "false");
    } else {
        fprintf(stderr, "json_get: %s in %s is an object or array\n", argv[2], argv[1]);
        rc = 1;
    }
    tc_json_free(doc);
    return rc;
}
