/* SPDX-License-Identifier: Apache-2.0 */
/* Reading and writing self-describing program binaries (see the header for
 * the layout): never trusted unless magic, version, lengths and checksums
 * all match; always written through a temporary file and rename. */
#include "ocl_cache_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl_errors.h"

typedef struct ocl_entry_header {
    char magic[8];
    uint32_t version;
    uint32_t key_len;
    uint64_t key_hash;
    uint64_t bin_len;
    uint64_t bin_hash;
} ocl_entry_header_t;

static const char ocl_entry_magic[8] = {'T', 'C', 'O', 'N', 'V', 'C', 'L', 'B'};

const char *ocl_cache_dir(const tconv_host_t *host) {
    const size_t end = offsetof(tconv_host_t, cache_dir) + sizeof host->cache_dir;
    if (host == NULL || host->struct_size < end)
        return NULL;
    return host->cache_dir;
}

static int read_all(FILE *f, void *buf, size_t len) {
    return fread(buf, 1, len, f) == len;
}

/* @p path opened for reading if it is a regular file. Opened non-blocking
 * first: a FIFO at the path (planted, or left by a broken tool) would
 * otherwise block the open, and so the plan, until a writer came. NULL with
 * errno set (ENOENT: no entry) and the reason in @p why. */
static FILE *open_regular(const char *path, char *why, size_t why_size) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int saved = errno;
        ocl_msg(why, why_size, "cannot open %s: %s", path, strerror(saved));
        errno = saved;
        return NULL;
    }
    struct stat st;
    int flags = -1;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        ocl_msg(why, why_size, "%s: not a regular file", path);
    else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
             (f = fdopen(fd, "rb")) == NULL)
        ocl_msg(why, why_size, "cannot open %s: %s", path, strerror(errno));
    if (f == NULL) {
        close(fd);
        errno = EINVAL;
    }
    return f;
}

ocl_entry_result_t ocl_entry_read(const char *path, char **key_out, unsigned char **bin_out,
                                  size_t *bin_len_out, char *why, size_t why_size) {
    *key_out = NULL;
    *bin_out = NULL;
    *bin_len_out = 0;
    FILE *f = open_regular(path, why, why_size);
    if (!f)
        return errno == ENOENT ? ocl_entry_missing : ocl_entry_corrupt;
    ocl_entry_result_t result = ocl_entry_corrupt;
    char *key = NULL;
    unsigned char *bin = NULL;
    ocl_entry_header_t h;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !read_all(f, &h, sizeof(h))) {
        ocl_msg(why, why_size, "%s: truncated header", path);
        goto done;
    }
    if (memcmp(h.magic, ocl_entry_magic, sizeof(h.magic)) != 0) {
        ocl_msg(why, why_size, "%s: not a tconv OpenCL binary (bad magic)", path);
        goto done;
    }
    if (h.version != OCL_ENTRY_VERSION) {
        ocl_msg(why, why_size, "%s: format version %u, expected %u", path, h.version,
                OCL_ENTRY_VERSION);
        goto done;
    }
    uint64_t expected = sizeof(h) + (uint64_t)h.key_len + h.bin_len;
    if (h.bin_len == 0 || h.bin_len > (uint64_t)st.st_size || (uint64_t)st.st_size != expected) {
        ocl_msg(why, why_size, "%s: size %lld bytes, header says %llu (truncated or corrupt)", path,
                (long long)st.st_size, (unsigned long long)expected);
        goto done;
    }
    key = malloc((size_t)h.key_len + 1);
    bin = malloc((size_t)h.bin_len);
    if (!key || !bin) {
        ocl_msg(why, why_size, "%s: out of host memory", path);
        goto done;
    }
    if (!read_all(f, key, h.key_len) || !read_all(f, bin, (size_t)h.bin_len)) {
        ocl_msg(why, why_size, "%s: truncated body", path);
        goto done;
    }
    key[h.key_len] = '\0';
    if (strlen(key) != h.key_len || ocl_fnv1a64(OCL_FNV_OFFSET, key, h.key_len) != h.key_hash) {
        ocl_msg(why, why_size, "%s: key checksum mismatch (corrupt)", path);
        goto done;
    }
    if (ocl_fnv1a64(OCL_FNV_OFFSET, bin, (size_t)h.bin_len) != h.bin_hash) {
        ocl_msg(why, why_size, "%s: binary checksum mismatch (corrupt)", path);
        goto done;
    }
    *key_out = key;
    *bin_out = bin;
    *bin_len_out = (size_t)h.bin_len;
    key = NULL;
    bin = NULL;
    result = ocl_entry_ok;
done:
    free(key);
    free(bin);
    fclose(f);
    return result;
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        p += w;
        len -= (size_t)w;
    }
    return 1;
}

int ocl_entry_write(const char *path, const char *key, const unsigned char *bin, size_t bin_len,
                    unsigned mode, char *why, size_t why_size) {
    ocl_entry_header_t h;
    memcpy(h.magic, ocl_entry_magic, sizeof(h.magic));
    h.version = OCL_ENTRY_VERSION;
    h.key_len = (uint32_t)strlen(key);
    h.key_hash = ocl_fnv1a64(OCL_FNV_OFFSET, key, h.key_len);
    h.bin_len = bin_len;
    h.bin_hash = ocl_fnv1a64(OCL_FNV_OFFSET, bin, bin_len);

    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
        ocl_msg(why, why_size, "%s: path too long", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ocl_msg(why, why_size, "cannot create a temporary file next to %s: %s", path,
                strerror(errno));
        return -1;
    }
    int ok = fchmod(fd, (mode_t)mode) == 0 && write_all(fd, &h, sizeof(h)) &&
             write_all(fd, key, h.key_len) && write_all(fd, bin, bin_len);
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        ocl_msg(why, why_size, "cannot write %s: %s", tmp, strerror(saved));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        ocl_msg(why, why_size, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Length of the line starting at s (without the newline). */
static size_t line_len(const char *s) {
    const char *nl = strchr(s, '\n');
    return nl ? (size_t)(nl - s) : strlen(s);
}

int ocl_key_diff(const char *expected, const char *found, char *why, size_t why_size) {
    const char *a = expected, *b = found;
    while (*a || *b) {
        size_t la = line_len(a), lb = line_len(b);
        if (la != lb || memcmp(a, b, la) != 0) {
            const char *eq = memchr(a, '=', la);
            int field = eq ? (int)(eq - a) : (int)la;
            const char *va = eq ? eq + 1 : a;
            const char *vb = memchr(b, '=', lb);
            vb = vb ? vb + 1 : b;
            ocl_msg(why, why_size, "%.*s is '%.*s' but the binary has '%.*s'", field, a,
                    (int)(la - (size_t)(va - a)), va, (int)(lb - (size_t)(vb - b)), vb);
            return 1;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    return 0;
}
