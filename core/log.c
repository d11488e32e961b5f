/* SPDX-License-Identifier: Apache-2.0 */
/* Logging (to stderr per TCONV_VERBOSE, or to a context's sink) and the host
 * services struct handed to plugins. One rule for the verbosity: the
 * context's option if set, else TCONV_VERBOSE read at the moment of each
 * log line (tconv_verbose_level); the core's lines, the plugins' lines
 * (host_log) and the level a plugin asks for (tconv_host_t.verbosity) all
 * take it from there. tconv_host_t.verbose is that level at context
 * creation, for plugins built before the verbosity slot. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/host_threads.h"

/* The sink of the public call this thread is in (NULL: the defaults). A
 * thread-local rather than a context argument, because plugins log through
 * tconv_host_t.log, which carries no context (plugin ABI 1.0). */
static _Thread_local const tconv_log_sink_t *active_sink;

const tconv_log_sink_t *tconv_log_sink_enter(const tconv_log_sink_t *sink) {
    const tconv_log_sink_t *previous = active_sink;
    active_sink = sink;
    return previous;
}

void tconv_log_sink_restore(const tconv_log_sink_t *previous) {
    active_sink = previous;
}

static int environment_verbosity(void) {
    const char *v = getenv("TCONV_VERBOSE");
    if (v == NULL || *v == '\0')
        return 0;
    char *end;
    long level = strtol(v, &end, 10);
    if (*end != '\0' || level < 0)
        return 0;
    return level > 2 ? 2 : (int)level;
}

int tconv_verbose_level(void) {
    const tconv_log_sink_t *sink = active_sink;
    if (sink != NULL && sink->verbosity >= 0)
        return sink->verbosity > 2 ? 2 : sink->verbosity;
    return environment_verbosity();
}

/* Formats the whole line first so concurrent threads print whole lines; a
 * sink's callback gets it without the newline. */
static void write_line(int level, const char *prefix, const char *fmt, va_list args) {
    char line[2048];
    int n = snprintf(line, sizeof line, "%s", prefix);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, args);
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n') {
        if (len + 1 >= sizeof line)
            len = sizeof line - 2;
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    const tconv_log_sink_t *sink = active_sink;
    if (sink != NULL && sink->callback != NULL) {
        line[strlen(line) - 1] = '\0'; /* the newline added above */
        sink->callback(sink->user_data, level, line);
        return;
    }
    fputs(line, stderr);
}

void tconv_log(int min_level, const char *fmt, ...) {
    if (tconv_verbose_level() < min_level)
        return;
    va_list args;
    va_start(args, fmt);
    write_line(min_level, "tconv: ", fmt, args);
    va_end(args);
}

static void host_log(tconv_log_level_t level, const char *backend, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_log(tconv_log_level_t level, const char *backend, const char *fmt, ...) {
    const int needed = level == tconv_log_debug ? 2 : 1;
    if (fmt == NULL || tconv_verbose_level() < needed)
        return;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "tconv[%.40s]: ", backend ? backend : "?");
    va_list args;
    va_start(args, fmt);
    write_line(needed, prefix, fmt, args);
    va_end(args);
}

/* TCONV_NUM_THREADS if it is a sane positive integer, else the online cores. */
static int environment_threads(void) {
    const char *rejected;
    const int threads = tconv_host_threads(&rejected);
    if (rejected != NULL)
        tconv_log(1, "TCONV_NUM_THREADS = '%s': must be an integer in 1..%d; using %d", rejected,
                  TCONV_MAX_THREADS, threads);
    return threads;
}

void tconv_host_init(tconv_host_t *host, int verbosity, int threads) {
    memset(host, 0, sizeof *host);
    host->struct_size = sizeof *host;
    host->abi_major = TCONV_BACKEND_ABI_MAJOR;
    host->abi_minor = TCONV_BACKEND_ABI_MINOR;
    host->log = host_log;
    /* Called inside the context's public calls, so the active sink is
     * the context's own: the same level host_log filters by. */
    host->verbosity = tconv_verbose_level;
    host->verbose = verbosity >= 0 ? (verbosity > 2 ? 2 : verbosity) : environment_verbosity();
    host->num_threads = threads > 0 ? threads : environment_threads();
}
