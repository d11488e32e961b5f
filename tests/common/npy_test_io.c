/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal .npy I/O for the tests; see npy_test_io.h. */
#include "npy_test_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tn_write_raw(const char *path, const char *dict, const void *data, size_t data_bytes) {
    size_t dict_len = strlen(dict);
    size_t total = 10 + dict_len + 1; /* magic(6) version(2) len(2) dict '\n' */
    size_t padded = (total + 63) / 64 * 64;
    size_t header_len = padded - 10;
    if (header_len > 65535)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(header_len & 0xff),
                             (unsigned char)(header_len >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, dict_len, f) == dict_len;
    for (size_t i = dict_len; ok && i < header_len - 1; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    if (ok && data_bytes)
        ok = fwrite(data, 1, data_bytes, f) == data_bytes;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int tn_write(const char *path, int item, const int64_t *shape, int ndim, const double *values) {
    char dict[512];
    int n =
        snprintf(dict, sizeof dict, "{'descr': '<f%d', 'fortran_order': False, 'shape': (", item);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)shape[i],
                      ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        count *= (size_t)shape[i];
    }
    snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    unsigned char *data = malloc(count * (size_t)item + 1);
    if (!data)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (item == 4) {
            float f = (float)values[i];
            memcpy(data + 4 * i, &f, 4); /* x86-64: little-endian */
        } else {
            memcpy(data + 8 * i, &values[i], 8);
        }
    }
    int rc = tn_write_raw(path, dict, data, count * (size_t)item);
    free(data);
    return rc;
}

int tn_read_file(const char *path, unsigned char **bytes, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    *bytes = buf;
    *size = len;
    return 0;
}

int tn_read(const char *path, double **values, int64_t *shape, int *ndim, int *item, char *msg,
            size_t msg_size) {
    unsigned char *bytes;
    size_t size;
    if (tn_read_file(path, &bytes, &size) != 0) {
        snprintf(msg, msg_size, "%s: cannot read", path);
        return -1;
    }
    int rc = -1;
    if (size < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0) {
        snprintf(msg, msg_size, "%s: not an .npy file", path);
        goto done;
    }
    size_t header_len = bytes[8] | (size_t)bytes[9] << 8, data_at = 10 + header_len;
    if (bytes[6] != 1 || data_at > size) {
        snprintf(msg, msg_size, "%s: unsupported version or short header", path);
        goto done;
    }
    char header[65536];
    memcpy(header, bytes + 10, header_len);
    header[header_len] = '\0';
    const char *descr = strstr(header, "'descr':"), *fo = strstr(header, "'fortran_order':"),
               *sh = strstr(header, "'shape':");
    if (!descr || !fo || !sh) {
        snprintf(msg, msg_size, "%s: header lacks descr/fortran_order/shape: %s", path, header);
        goto done;
    }
    if (strstr(descr, "'<f4'") == descr + 9)
        *item = 4;
    else if (strstr(descr, "'<f8'") == descr + 9)
        *item = 8;
    else {
        snprintf(msg, msg_size, "%s: dtype is not <f4 or <f8: %s", path, header);
        goto done;
    }
    if (strncmp(fo + 17, "False", 5) != 0) {
        snprintf(msg, msg_size, "%s: not C order: %s", path, header);
        goto done;
    }
    const char *p = strchr(sh, '(');
    *ndim = 0;
    size_t count = 1;
    while (p && *++p && *p != ')') {
        if (*p == ' ' || *p == ',')
            continue;
        char *end;
        long long v = strtoll(p, &end, 10);
        shape[(*ndim)++] = v;
        count *= (size_t)v;
        p = end - 1;
    }
    if (size - data_at != count * (size_t)*item) {
        snprintf(msg, msg_size, "%s: %zu data bytes for %zu items of %d bytes", path,
                 size - data_at, count, *item);
        goto done;
    }
    *values = malloc((count ? count : 1) * sizeof(double));
    for (size_t i = 0; i < count; i++) {
        if (*item == 4) {
            float f;
            memcpy(&f, bytes + data_at + 4 * i, 4);
            (*values)[i] = f;
        } else {
            memcpy(&(*values)[i], bytes + data_at + 8 * i, 8);
        }
    }
    rc = 0;
done:
    free(bytes);
    return rc;
}
