/* SPDX-License-Identifier: Apache-2.0 */
/* Recursive-descent JSON parser (see mini_json.h). Depth is bounded so a
 * malformed file cannot exhaust the stack. */
#include "mini_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MJ_MAX_DEPTH 64

typedef struct parser {
    const char *text;
    size_t pos;
    char *message;
    size_t message_size;
    int failed;
} parser_t;

static void fail(parser_t *p, const char *fmt, ...) {
    if (p->failed)
        return;
    p->failed = 1;
    char reason[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (p->message && p->message_size)
        snprintf(p->message, p->message_size, "JSON: %s at byte %zu", reason, p->pos);
}

static void skip_space(parser_t *p) {
    while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n' ||
           p->text[p->pos] == '\r')
        p->pos++;
}

static int parse_value(parser_t *p, mj_value_t *v, int depth);

static int hex4(parser_t *p, unsigned *code) {
    *code = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->text[p->pos++];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else {
            fail(p, "bad \\u escape");
            return -1;
        }
        *code = *code * 16 + d;
    }
    return 0;
}

static size_t put_utf8(char *out, unsigned code) {
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

/* Parses a string starting at the opening quote; the result is malloc'd.
 * Escapes never lengthen the text, so the raw length bounds the output. */
static char *parse_string(parser_t *p) {
    size_t start = ++p->pos, end = start;
    while (p->text[end] && p->text[end] != '"')
        end += p->text[end] == '\\' && p->text[end + 1] ? 2 : 1;
    if (p->text[end] != '"') {
        fail(p, "unterminated string");
        return NULL;
    }
    char *out = malloc(end - start + 1);
    if (!out) {
        fail(p, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (p->pos < end) {
        char c = p->text[p->pos++];
        if ((unsigned char)c < 0x20) {
            free(out);
            fail(p, "control character in string");
            return NULL;
        }
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        char e = p->text[p->pos++];
        unsigned code;
        switch (e) {
        case '"':
            out[n++] = '"';
            break;
        case '\\':
            out[n++] = '\\';
            break;
        case '/':
            out[n++] = '/';
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u':
            if (hex4(p, &code) != 0) {
                free(out);
                return NULL;
            }
            if (code >= 0xD800 && code < 0xDC00 && p->text[p->pos] == '\\' &&
                p->text[p->pos + 1] == 'u') {
                unsigned low;
                p->pos += 2;
                if (hex4(p, &low) != 0) {
                    free(out);
                    return NULL;
                }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            n += put_utf8(out + n, code);
            break;
        default:
            free(out);
            fail(p, "bad escape '\\%c'", e);
            return NULL;
        }
    }
    out[n] = '\0';
    p->pos = end + 1;
    return out;
}

static int parse_number(parser_t *p, mj_value_t *v) {
    const char *begin = p->text + p->pos;
    char *end;
    v->type = mj_number;
    v->number = strtod(begin, &end);
    if (end == begin) {
        fail(p, "expected a value");
        return -1;
    }
    p->pos += (size_t)(end - begin);
    return 0;
}

static int append(parser_t *p, mj_value_t *v, char *key) {
    mj_value_t *items = realloc(v->items, (v->count + 1) * sizeof *items);
    if (!items) {
        free(key);
        fail(p, "out of memory");
        return -1;
    }
    v->items = items;
    memset(&v->items[v->count], 0, sizeof *items);
    if (v->type == mj_object) {
        char **keys = realloc(v->keys, (v->count + 1) * sizeof *keys);
        if (!keys) {
            free(key);
            fail(p, "out of memory");
            return -1;
        }
        v->keys = keys;
        v->keys[v->count] = key;
    }
    v->count++;
    return 0;
}

static int parse_container(parser_t *p, mj_value_t *v, int depth) {
    int object = p->text[p->pos] == '{';
    char close = object ? '}' : ']';
    v->type = object ? mj_object : mj_array;
    p->pos++;
    skip_space(p);
    if (p->text[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_space(p);
        if (object) {
            if (p->text[p->pos] != '"') {
                fail(p, "expected a member name");
                return -1;
            }
            if (!(key = parse_string(p)))
                return -1;
            skip_space(p);
            if (p->text[p->pos] != ':') {
                free(key);
                fail(p, "expected ':'");
                return -1;
            }
            p->pos++;
        }
        if (append(p, v, key) != 0 || parse_value(p, &v->items[v->count - 1], depth + 1) != 0)
            return -1;
        skip_space(p);
        if (p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->text[p->pos] == close) {
            p->pos++;
            return 0;
        }
        fail(p, "expected ',' or '%c'", close);
        return -1;
    }
}

static int parse_value(parser_t *p, mj_value_t *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > MJ_MAX_DEPTH) {
        fail(p, "nested deeper than %d", MJ_MAX_DEPTH);
        return -1;
    }
    skip_space(p);
    const char *s = p->text + p->pos;
    if (*s == '{' || *s == '[')
        return parse_container(p, v, depth);
    if (*s == '"') {
        v->type = mj_string;
        return (v->string = parse_string(p)) ? 0 : -1;
    }
    if (strncmp(s, "true", 4) == 0 || strncmp(s, "false", 5) == 0) {
        v->type = mj_bool;
        v->boolean = *s == 't';
        p->pos += v->boolean ? 4 : 5;
        return 0;
    }
    if (strncmp(s, "null", 4) == 0) {
        v->type = mj_null;
        p->pos += 4;
        return 0;
    }
    if (strncmp(s, "NaN", 3) == 0) { /* Python's json writes NaN for float('nan') */
        v->type = mj_number;
        v->number = strtod("nan", NULL);
        p->pos += 3;
        return 0;
    }
    return parse_number(p, v);
}

int mj_parse(const char *text, mj_value_t *out, char *message, size_t message_size) {
    parser_t p = {text, 0, message, message_size, 0};
    if (parse_value(&p, out, 0) == 0) {
        skip_space(&p);
        if (text[p.pos] == '\0')
            return 0;
        fail(&p, "unexpected text after the document");
    }
    mj_free(out);
    return -1;
}

void mj_free(mj_value_t *value) {
    if (!value)
        return;
    for (size_t i = 0; i < value->count; i++) {
        mj_free(&value->items[i]);
        if (value->keys)
            free(value->keys[i]);
    }
    free(value->items);
    free(value->keys);
    free(value->string);
    memset(value, 0, sizeof *value);
}

const mj_value_t *mj_get(const mj_value_t *object, const char *key) {
    if (!object || object->type != mj_object)
        return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    return NULL;
}
