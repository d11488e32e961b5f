/* SPDX-License-Identifier: Apache-2.0 */
/* Files to remove if SIGINT, SIGTERM or SIGHUP ends the process: the
 * temporary files of atomic_file.h, which would otherwise be left behind at
 * full size by an interrupted run. The handler unlinks the registered paths
 * (async-signal-safe), then passes the signal to the handler that was there
 * before it (a library's, such as PoCL's) or re-raises it with its default
 * action, so the exit status still says which signal ended the process. */
#ifndef TCONV_CLI_SIGNAL_CLEANUP_H
#define TCONV_CLI_SIGNAL_CLEANUP_H

/** Registers @p path for removal on a terminating signal; puts the handler
 *  in front of whatever handles each of those signals now (unless ignored).
 *  @returns a handle for signal_cleanup_remove, or -1 if the path was not
 *  registered (all slots busy or path too long): the caller goes on without
 *  the safety net. */
int signal_cleanup_add(const char *path);

/** Forgets a registration (the file was renamed or removed). -1 is ignored. */
void signal_cleanup_remove(int handle);

/** Unlinks every registered path. Async-signal-safe: what the handler does
 *  before re-raising; callable directly. */
void signal_cleanup_unlink_all(void);

#endif /* TCONV_CLI_SIGNAL_CLEANUP_H */
