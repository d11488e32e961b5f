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

#define CLEANUP_SLOTS 4 /* a command has at most one or two outputs open at once */

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

/* SA_RESETHAND has restored the default action: the re-raised signal stays
 * pending until the handler returns, then ends the process as it would have. */
static void on_terminating_signal(int sig) {
    signal_cleanup_unlink_all();
    (void)raise(sig);
}

/* Only signals left at their default action: an ignored SIGHUP (nohup) or
 * SIGINT (a background job) must stay ignored. */
static void install_handlers_once(void) {
    static int installed;
    if (installed)
        return;
    installed = 1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_terminating_signal;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < TERMINATING_SIGNAL_COUNT; i++)
        sigaddset(&action.sa_mask, terminating_signals[i]);
    for (size_t i = 0; i < TERMINATING_SIGNAL_COUNT; i++) {
        struct sigaction current;
        if (sigaction(terminating_signals[i], NULL, &current) == 0 &&
            !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL)
            (void)sigaction(terminating_signals[i], &action, NULL);
    }
}

int signal_cleanup_add(const char *path) {
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return -1;
    install_handlers_once();
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
