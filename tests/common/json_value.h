/* SPDX-License-Identifier: Apache-2.0 */
/* A small JSON reader for tests that check the CLI's JSON by value (types,
 * ranges, consistency), not by the presence of a key in the text. Parses a
 * whole document (RFC 8259; strings keep \uXXXX escapes as written) into a
 * tree. */
#ifndef TCONV_TEST_JSON_VALUE_H
#define TCONV_TEST_JSON_VALUE_H

#include <stddef.h>

typedef enum tc_json_type {
    tc_json_null,
    tc_json_bool,
    tc_json_number,
    tc_json_string,
    tc_json_array,
    tc_json_object
} tc_json_type_t;

typedef struct tc_json {
    tc_json_type_t type;
    double number;         /* tc_json_number; tc_json_bool: 0 or 1 */
    char *string;          /* tc_json_string */
    char *key;             /* set for the members of an object */
    struct tc_json *items; /* array elements or object members */
    size_t count;
} tc_json_t;

/** Parses @p text (the whole of it, surrounding white space allowed).
 *  Returns the tree (free with tc_json_free), or NULL with the byte offset
 *  and what was expected in @p err. */
tc_json_t *tc_json_parse(const char *text, char *err, size_t err_size);

void tc_json_free(tc_json_t *value);

/** The member @p key of an object, or NULL (also when @p object is NULL or
 *  no object). */
const tc_json_t *tc_json_get(const tc_json_t *object, const char *key);

/** The member @p key if it has type @p type, else NULL. */
const tc_json_t *tc_json_get_typed(const tc_json_t *object, const char *key, tc_json_type_t type);

#endif /* TCONV_TEST_JSON_VALUE_H */
