/* TCONV_VERBOSE logging for the core and the host services given to plugins. */
#ifndef TCONV_CORE_LOG_H
#define TCONV_CORE_LOG_H

#include "tconv/tconv_backend.h"

/* TCONV_VERBOSE as 0, 1 or 2 (read on every call, so tests may change it). */
int tconv_verbose_level(void);

/* Writes "tconv: <message>\n" to stderr when TCONV_VERBOSE >= @p min_level. */
void tconv_log(int min_level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills the services a plugin receives in init (log, verbosity, threads). */
void tconv_host_init(tconv_host_t *host);

#endif /* TCONV_CORE_LOG_H */
