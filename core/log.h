/* SPDX-License-Identifier: Apache-2.0 */
/* Logging for the core and its plugins (TCONV_VERBOSE and stderr, or a
 * context's options) and the host services given to plugins. */
#ifndef TCONV_CORE_LOG_H
#define TCONV_CORE_LOG_H

#include "tconv/tconv.h"
#include "tconv/tconv_backend.h"

struct tconv_context;

/* Where the messages of a context go (tconv_context_options_t): its
 * verbosity (< 0: TCONV_VERBOSE) and its callback (NULL: stderr). */
typedef struct tconv_log_sink {
    int verbosity;
    tconv_log_callback_t callback;
    void *user_data;
} tconv_log_sink_t;

/* Makes @p sink (NULL: the defaults) the one this thread's messages go to,
 * for the duration of a public call on a context: the core's own messages
 * and those its plugins log through tconv_host_t.log from this thread.
 * Returns the previous sink, for tconv_log_sink_restore (calls nest). */
const tconv_log_sink_t *tconv_log_sink_enter(const tconv_log_sink_t *sink);
void tconv_log_sink_restore(const tconv_log_sink_t *previous);

/* The active sink's verbosity, else TCONV_VERBOSE, as 0, 1 or 2 (the
 * variable is read on every call, so a change applies from the next line
 * on). Plugins get this function as tconv_host_t.verbosity. */
int tconv_verbose_level(void);

/* Writes "tconv: <message>" to the active sink (stderr by default) when the
 * verbosity is >= @p min_level. */
void tconv_log(int min_level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills the services a plugin receives in init (log, verbosity, threads):
 * @p verbosity (the context's option; < 0 means TCONV_VERBOSE, read now)
 * gives the snapshot host->verbose, host->verbosity the level at each call;
 * @p threads 0 means TCONV_NUM_THREADS or the online cores, read now. */
void tconv_host_init(tconv_host_t *host, int verbosity, int threads);

#endif /* TCONV_CORE_LOG_H */
