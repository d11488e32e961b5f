/* SPDX-License-Identifier: Apache-2.0 */
/* Growable string used to build explanation texts. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tconv_strbuf_appendf(tconv_strbuf_t *sb, const char *fmt, ...) {
    if (sb->failed)
        return;
    va_list args;
    va_start(args, fmt);
    va_list copy;
    va_copy(copy, args);
    int needed = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (needed < 0) {
        va_end(args);
        return;
    }
    size_t want = sb->length + (size_t)needed + 1;
    if (want > sb->capacity) {
        size_t cap = sb->capacity ? sb->capacity : 128;
        while (cap < want)
            cap *= 2;
        char *grown = realloc(sb->data, cap);
        if (grown == NULL) {
            sb->failed = true;
            va_end(args);
            return;
        }
        sb->data = grown;
        sb->capacity = cap;
    }
    vsnprintf(sb->data + sb->length, sb->capacity - sb->length, fmt, args);
    va_end(args);
    sb->length += (size_t)needed;
}

const char *tconv_strbuf_text(const tconv_strbuf_t *sb) {
    return sb->data != NULL && !sb->failed ? sb->data : "";
}

char *tconv_strbuf_take(tconv_strbuf_t *sb) {
    char *text = NULL;
    if (!sb->failed)
        text = sb->data != NULL ? sb->data : strdup("");
    else
        free(sb->data);
    sb->data = NULL;
    sb->length = sb->capacity = 0;
    sb->failed = false;
    return text;
}

void tconv_strbuf_free(tconv_strbuf_t *sb) {
    free(sb->data);
    sb->data = NULL;
    sb->length = sb->capacity = 0;
    sb->failed = false;
}

void tconv_format_seconds(double s, char *buf, size_t size) {
    if (s < 1e-6)
        snprintf(buf, size, "%.3g ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, size, "%.3g us", s * 1e6);
    else if (s < 1.0)
        snprintf(buf, size, "%.3g ms", s * 1e3);
    else
        snprintf(buf, size, "%.3g s", s);
}
