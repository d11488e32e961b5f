/* SPDX-License-Identifier: Apache-2.0 */
/* Streaming JSON writer (RFC 8259). */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_init(json_writer_t *w, FILE *out) {
    memset(w, 0, sizeof *w);
    w->out = out;
}

/* Writes the comma a new item needs, unless it is the value of a key. */
static void begin_item(json_writer_t *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->has_items[w->depth])
        fputc(',', w->out);
    w->has_items[w->depth] = 1;
}

static void open_level(json_writer_t *w, char bracket) {
    begin_item(w);
    fputc(bracket, w->out);
    if (w->depth + 1 < JSON_MAX_DEPTH)
        w->depth++;
    w->has_items[w->depth] = 0;
}

static void close_level(json_writer_t *w, char bracket) {
    fputc(bracket, w->out);
    if (w->depth > 0)
        w->depth--;
}

void json_begin_object(json_writer_t *w) {
    open_level(w, '{');
}
void json_end_object(json_writer_t *w) {
    close_level(w, '}');
}
void json_begin_array(json_writer_t *w) {
    open_level(w, '[');
}
void json_end_array(json_writer_t *w) {
    close_level(w, ']');
}

void json_key(json_writer_t *w, const char *key) {
    begin_item(w);
    json_write_escaped(w->out, key);
    fputc(':', w->out);
    w->after_key = 1;
}

void json_string(json_writer_t *w, const char *value) {
    begin_item(w);
    if (value)
        json_write_escaped(w->out, value);
    else
        fputs("null", w->out);
}

void json_number(json_writer_t *w, double value) {
    begin_item(w);
    if (isfinite(value))
        fprintf(w->out, "%.10g", value);
    else
        fputs("null", w->out);
}

void json_int(json_writer_t *w, int64_t value) {
    begin_item(w);
    fprintf(w->out, "%" PRId64, value);
}

void json_uint(json_writer_t *w, uint64_t value) {
    begin_item(w);
    fprintf(w->out, "%" PRIu64, value);
}

void json_bool(json_writer_t *w, int value) {
    begin_item(w);
    fputs(value ? "true" : "false", w->out);
}

void json_null(json_writer_t *w) {
    begin_item(w);
    fputs("null", w->out);
}

void json_finish(json_writer_t *w) {
    fputc('\n', w->out);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is invalid. */
static int utf8_sequence_length(const unsigned char *s) {
    unsigned c = s[0];
    int len = c < 0x80             ? 1
              : (c & 0xe0) == 0xc0 ? 2
              : (c & 0xf0) == 0xe0 ? 3
              : (c & 0xf8) == 0xf0 ? 4
                                   : 0;
    if (len == 0 || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
        return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (len == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong or surrogate */
    if (len == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0; /* overlong or beyond U+10FFFF */
    return len;
}

void json_write_escaped(FILE *out, const char *value) {
    const unsigned char *s = (const unsigned char *)value;
    fputc('"', out);
    while (*s) {
        unsigned c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            s++;
        } else if (c < 0x20) {
            const char *named = c == '\n'   ? "\\n"
                                : c == '\t' ? "\\t"
                                : c == '\r' ? "\\r"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                            : NULL;
            if (named)
                fputs(named, out);
            else
                fprintf(out, "\\u%04x", c);
            s++;
        } else {
            int len = utf8_sequence_length(s);
            if (len == 0) {
                fputs("\\ufffd", out);
                s++;
            } else {
                fwrite(s, 1, (size_t)len, out);
                s += len;
            }
        }
    }
    fputc('"', out);
}
