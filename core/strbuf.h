/* SPDX-License-Identifier: Apache-2.0 */
/* A growable string for explanation texts (selection reasons, decline lists),
 * and the formatting of times in them. */
#ifndef TCONV_CORE_STRBUF_H
#define TCONV_CORE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tconv_strbuf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t length;
    size_t capacity;
    bool failed; /* an allocation failed: the text is incomplete */
} tconv_strbuf_t;

void tconv_strbuf_appendf(tconv_strbuf_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The text (never NULL: "" when empty or after a failure); owned by @p sb. */
const char *tconv_strbuf_text(const tconv_strbuf_t *sb);

/* Hands the malloc'd text to the caller (NULL when allocation failed). */
char *tconv_strbuf_take(tconv_strbuf_t *sb);

void tconv_strbuf_free(tconv_strbuf_t *sb);

/* Seconds as "1.73 ms", "850 us", "12.5 ns" or "2.1 s" (3 significant digits). */
void tconv_format_seconds(double seconds, char *buf, size_t size);

#endif /* TCONV_CORE_STRBUF_H */
