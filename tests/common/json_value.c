/* SPDX-License-Identifier: Apache-2.0 */
/* The tests' JSON reader; see json_value.h. Recursive descent over the
 * text; nesting is bounded so hostile input cannot exhaust the stack. */
#define _POSIX_C_SOURCE 200809L
#include "json_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
    const char *text, *at;
    char *err;
    size_t err_size;
    int failed;
} parser_t;

static void fail(parser_t *ps, const char *expected) {
    if (!ps->failed)
        snprintf(ps->err, ps->err_size, "at byte %td: expected %s", ps->at - ps->text, expected);
    ps->failed = 1;
}

static void skip_space(parser_t *ps) {
    while (*ps->at == ' ' || *ps->at == '\t' || *ps->at == '\n' || *ps->at == '\r')
        ps->at++;
}

static int parse_value(parser_t *ps, tc_json_t *v, int depth);

/* A string's characters, escapes decoded except \uXXXX (kept as written). */
static char *parse_string(parser_t *ps) {
    if (*ps->at != '"')
        return fail(ps, "'\"'"), NULL;
    const char *start = ++ps->at;
    size_t len = 0;
    for (; *ps->at && *ps->at != '"'; ps->at++, len++)
        if (*ps->at == '\\' && ps->at[1])
            ps->at++;
    if (*ps->at != '"')
        return fail(ps, "the closing '\"'"), NULL;
    char *out = malloc(len + 1), *o = out;
    if (out == NULL)
        return fail(ps, "memory"), NULL;
    for (const char *c = start; c < ps->at; c++) {
        if (*c != '\\') {
            *o++ = *c;
            continue;
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = strchr(from, *++c);
        *o++ = e ? to[e - from] : '\\';
        if (!e)
            *o++ = *c; /* \uXXXX: kept as written */
    }
    *o = '\0';
    ps->at++;
    return out;
}

/* Appends an empty element to v->items. */
static tc_json_t *push(parser_t *ps, tc_json_t *v) {
    tc_json_t *items = realloc(v->items, (v->count + 1) * sizeof *items);
    if (items == NULL)
        return fail(ps, "memory"), NULL;
    v->items = items;
    memset(&items[v->count], 0, sizeof items[0]);
    return &items[v->count++];
}

static int parse_container(parser_t *ps, tc_json_t *v, int depth, char close) {
    v->type = close == '}' ? tc_json_object : tc_json_array;
    ps->at++;
    skip_space(ps);
    if (*ps->at == close) {
        ps->at++;
        return 0;
    }
    for (;;) {
        tc_json_t *item = push(ps, v);
        if (item == NULL)
            return -1;
        skip_space(ps);
        if (close == '}') {
            if ((item->key = parse_string(ps)) == NULL)
                return -1;
            skip_space(ps);
            if (*ps->at != ':')
                return fail(ps, "':'"), -1;
            ps->at++;
        }
        if (parse_value(ps, item, depth + 1) != 0)
            return -1;
        skip_space(ps);
        if (*ps->at == close) {
            ps->at++;
            return 0;
        }
        if (*ps->at != ',')
            return fail(ps, close == '}' ? "',' or '}'" : "',' or ']'"), -1;
        ps->at++;
    }
}

static int parse_literal(parser_t *ps, const char *word) {
    size_t n = strlen(word);
    if (strncmp(ps->at, word, n) != 0)
        return fail(ps, "a value"), -1;
    ps->at += n;
    return 0;
}

static int parse_value(parser_t *ps, tc_json_t *v, int depth) {
    if (depth > MAX_DEPTH)
        return fail(ps, "less nesting"), -1;
    skip_space(ps);
    switch (*ps->at) {
    case '{':
        return parse_container(ps, v, depth, '}');
    case '[':
        return parse_container(ps, v, depth, ']');
    case '"':
        v->type = tc_json_string;
        return (v->string = parse_string(ps)) != NULL ? 0 : -1;
    case 't':
        v->type = tc_json_bool;
        v->number = 1;
        return parse_literal(ps, "true");
    case 'f':
        v->type = tc_json_bool;
        return parse_literal(ps, "false");
    case 'n':
        v->type = tc_json_null;
        return parse_literal(ps, "null");
    default: {
        char *end;
        v->type = tc_json_number;
        v->number = strtod(ps->at, &end);
        if (end == ps->at || !(*ps->at == '-' || (*ps->at >= '0' && *ps->at <= '9')))
            return fail(ps, "a value"), -1;
        ps->at = end;
        return 0;
    }
    }
}

static void free_items(tc_json_t *v) {
    for (size_t i = 0; i < v->count; i++)
        free_items(&v->items[i]);
    free(v->items);
    free(v->string);
    free(v->key);
}

void tc_json_free(tc_json_t *value) {
    if (value == NULL)
        return;
    free_items(value);
    free(value);
}

tc_json_t *tc_json_parse(const char *text, char *err, size_t err_size) {
    parser_t ps = {text, text, err, err_size, 0};
    tc_json_t *root = calloc(1, sizeof *root);
    if (root == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (text == NULL || parse_value(&ps, root, 0) != 0) {
        if (text == NULL)
            snprintf(err, err_size, "no text");
        tc_json_free(root);
        return NULL;
    }
    skip_space(&ps);
    if (*ps.at != '\0') {
        fail(&ps, "the end of the document");
        tc_json_free(root);
        return NULL;
    }
    return root;
}

const tc_json_t *tc_json_get(const tc_json_t *object, const char *key) {
    if (object == NULL || object->type != tc_json_object)
        return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->items[i].key, key) == 0)
            return &object->items[i];
    return NULL;
}

const tc_json_t *tc_json_get_typed(const tc_json_t *object, const char *key, tc_json_type_t type) {
    const tc_json_t *v = tc_json_get(object, key);
    return v != NULL && v->type == type ? v : NULL;
}
