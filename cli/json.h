/* SPDX-License-Identifier: Apache-2.0 */
/* A small streaming JSON writer: one object or array at a time, commas and
 * string escaping handled here so callers cannot produce invalid JSON. */
#ifndef TCONV_CLI_JSON_H
#define TCONV_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json_writer {
    FILE *out;
    int depth;
    int has_items[JSON_MAX_DEPTH]; /* per level: a comma is due before the next item */
    int after_key;                 /* a key was just written: no comma before the value */
} json_writer_t;

void json_init(json_writer_t *w, FILE *out);
void json_begin_object(json_writer_t *w);
void json_end_object(json_writer_t *w);
void json_begin_array(json_writer_t *w);
void json_end_array(json_writer_t *w);
/** The key of the next member of the current object. */
void json_key(json_writer_t *w, const char *key);
/** A string value; NULL writes null. Invalid UTF-8 bytes become U+FFFD. */
void json_string(json_writer_t *w, const char *value);
/** A number; NaN and infinities write null (JSON has no such numbers). */
void json_number(json_writer_t *w, double value);
void json_int(json_writer_t *w, int64_t value);
void json_uint(json_writer_t *w, uint64_t value);
void json_bool(json_writer_t *w, int value);
void json_null(json_writer_t *w);
/** Ends the document with a newline. */
void json_finish(json_writer_t *w);

/** Writes @p value as a quoted, escaped JSON string to @p out. */
void json_write_escaped(FILE *out, const char *value);

#endif /* TCONV_CLI_JSON_H */
