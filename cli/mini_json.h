/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal JSON reader for the conformance case files: parses a whole
 * document into a tree of values. Enough of RFC 8259 for files written by
 * Python's json module (objects, arrays, numbers, strings with escapes,
 * true/false/null); nothing is streamed and nothing is written. */
#ifndef TCONV_CONFORMANCE_MINI_JSON_H
#define TCONV_CONFORMANCE_MINI_JSON_H

#include <stddef.h>

typedef enum mj_type {
    mj_null,
    mj_bool,
    mj_number,
    mj_string,
    mj_array,
    mj_object,
} mj_type_t;

/** One value. Arrays hold `count` items; objects hold `count` items with
 *  their `keys` (same index). Strings are NUL-terminated UTF-8. */
typedef struct mj_value {
    mj_type_t type;
    int boolean;
    double number;
    char *string;
    struct mj_value *items;
    char **keys;
    size_t count;
} mj_value_t;

/** Parses @p text (NUL-terminated). On failure returns -1 and writes the
 *  reason with its byte offset into @p message; @p out is then empty. */
int mj_parse(const char *text, mj_value_t *out, char *message, size_t message_size);

/** Releases everything @p value owns (the struct itself is the caller's). */
void mj_free(mj_value_t *value);

/** The member @p key of an object, or NULL (also when @p object is not one). */
const mj_value_t *mj_get(const mj_value_t *object, const char *key);

#endif /* TCONV_CONFORMANCE_MINI_JSON_H */
