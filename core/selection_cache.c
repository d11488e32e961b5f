/* SPDX-License-Identifier: Apache-2.0 */
/* Remembered measured selections (selection_cache.h). The file has one line
 * per decision, fields separated by tabs:
 *     key  winner  id=seconds,id=seconds...  measured_at  measurements
 *     fnv1a64(first five fields)
 * measured_at is the Unix time of the last measurement, measurements how
 * often the decision was measured (measure.c measures a close call again and
 * an old one anew).
 * Anything that does not parse, or whose checksum or times disagree, is
 * ignored: a half-written or hand-edited line can never steer selection.
 *
 * Thread and process safety: many contexts, in many threads and processes,
 * read and write the same file. Parsing keeps no hidden state (strtok_r
 * only); writers serialise on an flock of "<file>.lock" and, under it, read
 * the current file, merge their line in and rename a complete new file over
 * it, so no writer loses another's lines and readers never see a partial
 * file. Something other than a regular file at the path (a FIFO, a
 * directory) is never opened for blocking I/O: it counts as no cache. */
#include "selection_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "common/fnv1a.h"
#include "common/make_dirs.h"
#include "log.h"
#include "strbuf.h"

/* v2 added measured_at and measurements; v1 files are left alone. */
#define FILE_NAME "selection-v2.tsv"
#define FIELDS    6
/* Bounds that keep a corrupt or runaway file from costing much. */
#define MAX_FILE_BYTES     (4u << 20)
#define MAX_FILE_LINES     2000
#define MAX_MEMORY_ENTRIES 4096

/* ---------------------------------------------------------------------- */
/* Key                                                                      */

/* Device strings come from drivers: escape what would break the line format. */
static void append_escaped(tconv_strbuf_t *sb, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || strchr("%;|=,", *p) != NULL)
            tconv_strbuf_appendf(sb, "%%%02X", *p);
        else
            tconv_strbuf_appendf(sb, "%c", *p);
    }
}

static void append_axes(tconv_strbuf_t *sb, const char *name, const int64_t v[3]) {
    tconv_strbuf_appendf(sb, " %s%" PRId64 "x%" PRId64 "x%" PRId64, name, v[0], v[1], v[2]);
}

char *tconv_selection_key(const tconv_canonical_t *c, const tconv_device_info_t *const *devices,
                          size_t count, int host_threads) {
    tconv_strbuf_t sb = {0};
    const char *activation = tconv_activation_name(c->activation);
    tconv_strbuf_appendf(
        &sb, "tconv %s;threads %d;rank%d %s n%" PRId64 " ci%" PRId64 " co%" PRId64 " g%" PRId64,
        TCONV_VERSION_STRING, host_threads, c->spatial_rank,
        c->dtype == tconv_f64   ? "f64"
        : c->dtype == tconv_f32 ? "f32"
                                : "dt?",
        c->batch, c->in_channels, c->out_channels, c->groups);
    append_axes(&sb, "in", c->input_size);
    append_axes(&sb, "k", c->kernel_size);
    append_axes(&sb, "s", c->strides);
    append_axes(&sb, "d", c->dilation);
    append_axes(&sb, "crop", c->crop_begin);
    append_axes(&sb, "out", c->output_size);
    tconv_strbuf_appendf(&sb, " df%d kl%d bias%d %s(%d) alpha%a", (int)c->data_format,
                         (int)c->kernel_layout, c->use_bias ? 1 : 0, activation ? activation : "?",
                         (int)c->activation, c->activation_alpha);
    for (size_t i = 0; i < count; i++) {
        const tconv_device_info_t *d = devices[i];
        tconv_strbuf_appendf(&sb, ";%s=", d->id);
        append_escaped(&sb, d->name);
        tconv_strbuf_appendf(&sb, "|");
        append_escaped(&sb, d->driver_version);
        tconv_strbuf_appendf(&sb, "|%" PRIu32, d->compute_units);
    }
    return tconv_strbuf_take(&sb);
}

/* ---------------------------------------------------------------------- */
/* In-process table                                                         */

typedef struct memory_entry {
    char *key;
    tconv_measured_t decision;
} memory_entry_t;

struct tconv_selection_cache {
    pthread_mutex_t lock;
    memory_entry_t *entries;
    size_t count;
    size_t capacity;
};

tconv_selection_cache_t *tconv_selection_cache_create(void) {
    tconv_selection_cache_t *cache = calloc(1, sizeof *cache);
    if (cache != NULL && pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache);
        return NULL;
    }
    return cache;
}

void tconv_selection_cache_destroy(tconv_selection_cache_t *cache) {
    if (cache == NULL)
        return;
    for (size_t i = 0; i < cache->count; i++)
        free(cache->entries[i].key);
    free(cache->entries);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static memory_entry_t *find_entry(tconv_selection_cache_t *cache, const char *key) {
    for (size_t i = 0; i < cache->count; i++)
        if (strcmp(cache->entries[i].key, key) == 0)
            return &cache->entries[i];
    return NULL;
}

bool tconv_selection_cache_lookup(tconv_selection_cache_t *cache, const char *key,
                                  tconv_measured_t *found) {
    if (cache == NULL)
        return false;
    pthread_mutex_lock(&cache->lock);
    memory_entry_t *e = find_entry(cache, key);
    if (e != NULL)
        *found = e->decision;
    pthread_mutex_unlock(&cache->lock);
    return e != NULL;
}

void tconv_selection_cache_store(tconv_selection_cache_t *cache, const char *key,
                                 const tconv_measured_t *decision) {
    if (cache == NULL)
        return;
    pthread_mutex_lock(&cache->lock);
    memory_entry_t *e = find_entry(cache, key);
    if (e != NULL) {
        e->decision = *decision;
    } else {
        char *copy = strdup(key);
        if (copy != NULL && cache->count == MAX_MEMORY_ENTRIES) { /* forget the oldest */
            free(cache->entries[0].key);
            memmove(cache->entries, cache->entries + 1,
                    (cache->count - 1) * sizeof *cache->entries);
            cache->count--;
        }
        if (copy != NULL && tconv_array_reserve_one((void **)&cache->entries, &cache->capacity,
                                                    cache->count, sizeof *cache->entries)) {
            cache->entries[cache->count].key = copy;
            cache->entries[cache->count].decision = *decision;
            cache->count++;
        } else {
            free(copy); /* out of memory: remembering is optional */
        }
    }
    pthread_mutex_unlock(&cache->lock);
}

/* ---------------------------------------------------------------------- */
/* File location                                                            */

bool tconv_selection_file_path(const char *dir, const char *dir_why, char *path, size_t size,
                               char *why, size_t why_size) {
    if (dir == NULL) {
        snprintf(why, why_size, "%s", dir_why);
        return false;
    }
    const int n = snprintf(path, size, "%s/" FILE_NAME, dir);
    if (n < 0 || (size_t)n >= size) {
        snprintf(why, why_size, "cache directory path longer than %zu bytes", size - 1);
        return false;
    }
    return true;
}

void tconv_selection_file_display(const char *path, char *out, size_t size) {
    const char *home = getenv("HOME");
    size_t len = home ? strlen(home) : 0;
    while (len > 1 && home[len - 1] == '/')
        len--;
    if (len > 1 && strncmp(path, home, len) == 0 && path[len] == '/')
        snprintf(out, size, "~%s", path + len);
    else
        snprintf(out, size, "%s", path);
}

/* mkdir -p of the directory part of @p path, new directories mode 0700. */
static bool make_parent_dirs(const char *path, char *why, size_t why_size) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return true;
    if ((size_t)(slash - path) >= sizeof dir) {
        snprintf(why, why_size, "path too long");
        return false;
    }
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return tconv_make_dirs(dir, why, why_size);
}

/* ---------------------------------------------------------------------- */
/* Lines                                                                    */

static uint64_t fnv1a64(const char *data, size_t len) {
    return tconv_fnv1a64(TCONV_FNV1A64_OFFSET, data, len);
}

/* A decimal integer field in [min, max]. */
static bool parse_integer(const char *text, long long min, long long max, long long *value) {
    char *end;
    errno = 0;
    const long long v = strtoll(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *value = v;
    return true;
}

/* "id=seconds,..." into @p d; false on anything unexpected. */
static bool parse_times(char *text, tconv_measured_t *d) {
    d->count = 0;
    /* strtok_r, never strtok: other threads parse their own copies at the
     * same time, and strtok's hidden cursor would hop between them. */
    char *save = NULL;
    for (char *item = strtok_r(text, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL || eq == item || (size_t)(eq - item) >= sizeof d->ids[0] ||
            d->count == TCONV_MEASURED_MAX)
            return false;
        char *end;
        errno = 0;
        double s = strtod(eq + 1, &end);
        if (*end != '\0' || errno != 0 || !isfinite(s) || s <= 0.0 || s > 1e6)
            return false;
        memcpy(d->ids[d->count], item, (size_t)(eq - item));
        d->ids[d->count][eq - item] = '\0';
        d->seconds[d->count] = s;
        d->count++;
    }
    return d->count >= 2;
}

/* Splits one line (modified in place) into its key and decision. The winner
 * must be listed and have the smallest time, up to the tie margin. */
static bool parse_line(char *line, const char **key, tconv_measured_t *d) {
    char *field[FIELDS];
    size_t n = 0;
    char *p = line;
    while (n < FIELDS) {
        field[n++] = p;
        p = strchr(p, '\t');
        if (p == NULL)
            break;
        *p++ = '\0';
    }
    if (n != FIELDS || p != NULL)
        return false;
    char *sum_text = field[FIELDS - 1];
    if (strlen(sum_text) != 16 || field[0][0] == '\0')
        return false;
    char *end;
    errno = 0;
    uint64_t sum = strtoull(sum_text, &end, 16);
    if (*end != '\0' || errno != 0)
        return false;
    /* The checksum covers every field before it: rebuild the tabs for it. */
    const size_t covered = (size_t)(sum_text - 1 - field[0]);
    for (size_t i = 1; i < FIELDS - 1; i++)
        field[i][-1] = '\t';
    const bool sum_ok = fnv1a64(field[0], covered) == sum;
    for (size_t i = 1; i < FIELDS - 1; i++)
        field[i][-1] = '\0';
    if (!sum_ok || strlen(field[1]) >= sizeof d->winner)
        return false;
    memset(d, 0, sizeof *d);
    long long measured_at, measurements;
    if (!parse_times(field[2], d) || !parse_integer(field[3], 0, INT64_MAX, &measured_at) ||
        !parse_integer(field[4], 1, TCONV_MEASURED_COUNT_MAX, &measurements))
        return false;
    d->measured_at = measured_at;
    d->measurements = (unsigned)measurements;
    snprintf(d->winner, sizeof d->winner, "%s", field[1]);
    size_t w = SIZE_MAX;
    for (size_t i = 0; i < d->count; i++)
        if (strcmp(d->ids[i], d->winner) == 0)
            w = i;
    if (w == SIZE_MAX)
        return false;
    for (size_t i = 0; i < d->count; i++) /* 1e-6: the file rounds to 9 digits */
        if (d->seconds[i] * (1.0 + TCONV_MEASURED_TIE_MARGIN + 1e-6) < d->seconds[w])
            return false;
    *key = field[0];
    return true;
}

/* The line for @p d, with its checksum and newline (malloc'd), or NULL. */
static char *format_line(const char *key, const tconv_measured_t *d) {
    tconv_strbuf_t sb = {0};
    tconv_strbuf_appendf(&sb, "%s\t%s\t", key, d->winner);
    for (size_t i = 0; i < d->count; i++)
        tconv_strbuf_appendf(&sb, "%s%s=%.9g", i ? "," : "", d->ids[i], d->seconds[i]);
    tconv_strbuf_appendf(&sb, "\t%" PRId64 "\t%u", d->measured_at, d->measurements);
    const char *text = tconv_strbuf_text(&sb);
    uint64_t sum = fnv1a64(text, strlen(text));
    tconv_strbuf_appendf(&sb, "\t%016" PRIx64 "\n", sum);
    return tconv_strbuf_take(&sb);
}

typedef enum file_read_result {
    FILE_READ,     /* *text holds the contents */
    FILE_MISSING,  /* no file yet: an empty cache */
    FILE_UNUSABLE, /* not a regular file, unreadable, or out of memory: why says */
} file_read_result_t;

/* Opens @p path for reading without ever blocking (a FIFO would wait for a
 * writer forever) and only if it is a regular file. Returns the descriptor,
 * or -1 with FILE_MISSING or FILE_UNUSABLE (and the reason) in *result. */
static int open_regular_file(const char *path, int flags, file_read_result_t *result, char *why,
                             size_t why_size) {
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        *result = errno == ENOENT ? FILE_MISSING : FILE_UNUSABLE;
        snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *result = FILE_UNUSABLE;
        snprintf(why, why_size, "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads at most MAX_FILE_BYTES of the file into *text (NUL-terminated,
 * malloc'd). */
static file_read_result_t read_file(const char *path, char **text, char *why, size_t why_size) {
    *text = NULL;
    file_read_result_t result;
    int fd = open_regular_file(path, O_RDONLY, &result, why, why_size);
    if (fd < 0)
        return result;
    char *buf = malloc(MAX_FILE_BYTES + 1);
    size_t used = 0;
    result = FILE_READ;
    while (buf != NULL && used < MAX_FILE_BYTES) {
        ssize_t n = read(fd, buf + used, MAX_FILE_BYTES - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
            result = FILE_UNUSABLE;
        }
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    if (buf == NULL) {
        snprintf(why, why_size, "out of memory reading %s", path);
        return FILE_UNUSABLE;
    }
    if (result != FILE_READ) {
        free(buf);
        return result;
    }
    buf[used] = '\0';
    *text = buf;
    return FILE_READ;
}

bool tconv_selection_file_lookup(const char *path, const char *key, tconv_measured_t *found) {
    char *text, why[600];
    file_read_result_t result = read_file(path, &text, why, sizeof why);
    if (result == FILE_UNUSABLE)
        tconv_log(1, "selection cache ignored: %s", why);
    if (result != FILE_READ)
        return false;
    bool any = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *line_key;
        tconv_measured_t d;
        if (parse_line(line, &line_key, &d) && strcmp(line_key, key) == 0) {
            *found = d; /* the last one wins: it is the newest */
            any = true;
        }
    }
    free(text);
    return any;
}

/* Whether a line of the old file stays: well-formed and for another key. */
static bool keep_line(const char *line, const char *key) {
    char *probe = strdup(line); /* parse_line cuts its argument into fields */
    const char *k;
    tconv_measured_t d;
    bool keep = probe != NULL && parse_line(probe, &k, &d) && strcmp(k, key) != 0;
    free(probe);
    return keep;
}

/* Writes the newest MAX_FILE_LINES - 1 kept lines of @p old, then @p line. */
static void write_merged(FILE *f, char *old, const char *key, const char *line) {
    char **kept = NULL;
    size_t count = 0, capacity = 0;
    char *save = NULL;
    for (char *l = old ? strtok_r(old, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
        if (keep_line(l, key) &&
            tconv_array_reserve_one((void **)&kept, &capacity, count, sizeof *kept))
            kept[count++] = l;
    for (size_t i = count > MAX_FILE_LINES - 1 ? count - (MAX_FILE_LINES - 1) : 0; i < count; i++)
        fprintf(f, "%s\n", kept[i]);
    free(kept);
    fputs(line, f);
}

/* Takes the writers' lock, "<path>.lock" (created if needed, a regular
 * file only). Returns its descriptor, or -1 with the reason. Every call
 * opens the file anew: flock locks belong to an open file description, so
 * threads of one process exclude each other as processes do. */
static int lock_writers(const char *path, char *why, size_t why_size) {
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    file_read_result_t result;
    int fd = open_regular_file(lock_path, O_RDWR | O_CREAT, &result, why, why_size);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            snprintf(why, why_size, "cannot lock %s: %s", lock_path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void unlock_writers(int lock_fd) {
    flock(lock_fd, LOCK_UN);
    close(lock_fd);
}

bool tconv_selection_file_store(const char *path, const char *key, const tconv_measured_t *d,
                                char *why, size_t why_size) {
    if (!make_parent_dirs(path, why, why_size))
        return false;
    char *line = format_line(key, d);
    char tmp_path[4200];
    if (line == NULL) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    snprintf(tmp_path, sizeof tmp_path, "%s.XXXXXX", path);
    /* Unlocked, two writers would each merge into the file as it was before
     * either wrote, and the second rename would drop the first one's line. */
    int lock_fd = lock_writers(path, why, why_size);
    if (lock_fd < 0) {
        free(line);
        return false;
    }
    /* Whatever stands at the path must be read before it is replaced: an
     * unreadable file or a FIFO is left alone rather than clobbered. */
    char *old = NULL;
    if (read_file(path, &old, why, why_size) == FILE_UNUSABLE) {
        unlock_writers(lock_fd);
        free(line);
        return false;
    }
    bool ok = false;
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        snprintf(why, why_size, "cannot create a temporary file next to %s: %s", path,
                 strerror(errno));
    } else {
        FILE *f = fdopen(fd, "w");
        if (f == NULL) {
            close(fd);
        } else {
            write_merged(f, old, key, line);
            ok = !ferror(f);
            ok = fclose(f) == 0 && ok;
        }
        if (!ok)
            snprintf(why, why_size, "cannot write %s: %s", tmp_path, strerror(errno));
        else if (rename(tmp_path, path) != 0) {
            snprintf(why, why_size, "cannot rename %s to %s: %s", tmp_path, path, strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(tmp_path);
    }
    unlock_writers(lock_fd);
    free(old);
    free(line);
    return ok;
}
