/* SPDX-License-Identifier: Apache-2.0 */
/* Removing registered files when a terminating signal arrives. The handler
 * may run on any thread (the backends run worker threads) and at any point
 * of the main thread, so the registry is fixed-size static storage guarded
 * by lock-free atomics: a slot is claimed, filled, then published, and the
 * handler only reads published slots. */
#include "signal_cleanup.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define CLEANUP_SLOTS 4 /* tconv backward has the most outputs open at once: three */

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs lock-free atomics");

enum { slot_free = 0, slot_filling = 1, slot_published = 2 };

static char slot_paths[CLEANUP_SLOTS][PATH_MAX];
static atomic_int slot_states[CLEANUP_SLOTS];
static const int terminating_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define TERMINATING_SIGNAL_COUNT (sizeof terminating_signals / sizeof terminating_signals[0])

void signal_cleanup_unlink_all(void) {
    for (int i = 0; i < CLEANUP_SLOTS; i++)
        if (atomic_load(&slot_states[i]) == slot_published)
            (void)unlink(slot_paths[i]);
}

/* What each signal did before our handler: the default action, or another
 * library's handler (PoCL installs its own to remove its cache files). */
static struct sigaction previous_actions[TERMINATING_SIGNAL_COUNT];

static size_t signal_index(int sig) {
    size_t i = 0;
    while (i + 1 < TERMINATING_SIGNAL_COUNT && terminating_signals[i] != sig)
        i++;
    return i;
}

/* Removes our files, then hands the signal on: to the handler that was
 * there before (restored first, so it sees itself installed), or, for the
 * default action, re-raised: it stays pending while this handler runs and
 * then ends the process as it would have. */
static void on_terminating_signal(int sig, siginfo_t *info, void *ucontext) {
    signal_cleanup_unlink_all();
    const struct sigaction *previous = &previous_actions[signal_index(sig)];
    (void)sigaction(sig, previous, NULL);
    if (previous->sa_flags & SA_SIGINFO)
        previous->sa_sigaction(sig, info, ucontext);
    else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN)
        previous->sa_handler(sig);
    else
        (void)raise(sig);
}

static int is_ours(const struct sigaction *action) {
    return (action->sa_flags & SA_SIGINFO) && action->sa_sigaction == on_terminating_signal;
}

/* Checked at every registration, since a library may have put its own
 * handler in since the last one; ours then goes in front of it. A signal
 * left ignored (SIGHUP under nohup, SIGINT in a background job) stays so. */
static void install_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_terminating_signal;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < TERMINATING_SIGNAL_COUNT; i++)
        sigaddset(&action.sa_mask, terminating_signals[i]);
    for (size_t i = 0; i < TERMINATING_SIGNAL_COUNT; i++) {
        struct sigaction current;
        if (sigaction(terminating_signals[i], NULL, &current) != 0 || is_ours(&current) ||
            (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN))
            continue;
        previous_actions[i] = current;
        (void)sigaction(terminating_signals[i], &action, NULL);
    }
}

int signal_cleanup_add(const char *path) {
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return -1;
    install_handlers();
    for (int i = 0; i < CLEANUP_SLOTS; i++) {
        int expected = slot_free;
        if (atomic_compare_exchange_strong(&slot_states[i], &expected, slot_filling)) {
            memcpy(slot_paths[i], path, len + 1);
            atomic_store(&slot_states[i], slot_published);
            return i;
        }
    }
    return -1;
}

void signal_cleanup_remove(int handle) {
    if (handle >= 0 && handle < CLEANUP_SLOTS)
        atomic_store(&slot_states[handle], slot_free);
}
