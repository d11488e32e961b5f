/* SPDX-License-Identifier: Apache-2.0 */
/* Temporary file + fsync + rename for regular files; in place for
 * everything else a path can name (devices, FIFOs). Symbolic links are
 * followed first, so the link stays a link and its target is replaced. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "signal_cleanup.h"

/* The temporary file's name in the target's directory: short, so that any
 * name the directory takes (up to NAME_MAX) can be the target. */
#define TEMP_NAME        ".tconv-XXXXXX"
#define TEMP_RANDOM_LEN  6   /* the X's */
#define TEMP_ATTEMPTS    100 /* names tried before giving up (EEXIST) */
#define MAX_SYMLINK_HOPS 40  /* the kernel's own limit before ELOOP */

static void release(atomic_file_t *af) {
    free(af->temp_path);
    free(af->target_path);
    memset(af, 0, sizeof *af);
    af->cleanup_handle = -1;
}

/* Unlinks the temporary file, then forgets it for the signal handler (in
 * this order: a signal in between finds a file to remove or none at all). */
static void remove_temporary(atomic_file_t *af) {
    unlink(af->temp_path);
    signal_cleanup_remove(af->cleanup_handle);
    af->cleanup_handle = -1;
}

/* Length of the directory part of @p path including its final '/'; 0 for a
 * name in the current directory. */
static size_t directory_length(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* The path a write to @p path lands on: symbolic links in the last component
 * followed, a relative link text taken from its link's directory. A dangling
 * link leads to the file it would create. Returns a malloc'd path, or NULL
 * with errno (ENOMEM, ELOOP, ENAMETOOLONG or readlink's). */
static char *follow_symlinks(const char *path) {
    char *current = strdup(path);
    for (int hops = 0; current != NULL; hops++) {
        struct stat st;
        if (lstat(current, &st) != 0 || !S_ISLNK(st.st_mode))
            return current; /* not a link, or missing: the caller's stat reports it */
        char link[PATH_MAX];
        ssize_t n = hops < MAX_SYMLINK_HOPS ? readlink(current, link, sizeof link) : -1;
        if (hops >= MAX_SYMLINK_HOPS || n == (ssize_t)sizeof link) {
            errno = hops >= MAX_SYMLINK_HOPS ? ELOOP : ENAMETOOLONG;
            n = -1;
        }
        if (n < 0) {
            int err = errno;
            free(current);
            errno = err;
            return NULL;
        }
        size_t keep = link[0] == '/' ? 0 : directory_length(current);
        char *next = malloc(keep + (size_t)n + 1);
        if (next) {
            memcpy(next, current, keep);
            memcpy(next + keep, link, (size_t)n);
            next[keep + (size_t)n] = '\0';
        }
        free(current);
        current = next;
    }
    errno = ENOMEM;
    return NULL;
}

/* Fills @p message with "<what>: <errno text>" ("is a directory" for a
 * directory), naming the link's target when @p resolved is not the path the
 * user gave. */
static void describe_failure(const char *given, const char *resolved, const char *what, int err,
                             char *message, size_t message_size) {
    const int through_link = resolved && strcmp(given, resolved) != 0;
    if (err == ENOMEM) /* from strdup or malloc here, whatever step was under way */
        snprintf(message, message_size, "out of memory");
    else if (err == EISDIR)
        snprintf(message, message_size, "%s%s%sis a directory",
                 through_link ? "the link's target " : "", through_link ? resolved : "",
                 through_link ? " " : "");
    else if (through_link)
        snprintf(message, message_size, "%s (the link's target %s): %s", what, resolved,
                 strerror(err));
    else
        snprintf(message, message_size, "%s: %s", what, strerror(err));
}

static int open_failed(atomic_file_t *af, const char *given, const char *what, int err,
                       char *message, size_t message_size) {
    describe_failure(given, af->target_path, what, err, message, message_size);
    if (af->file)
        fclose(af->file);
    release(af);
    errno = err;
    return -1;
}

/* The temporary file starts as 0600; give a new file the mode a plain fopen
 * would. */
static void apply_umask_mode(int fd) {
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
}

/* The replacement keeps the replaced file's owner and mode, as writing into
 * it would. Best effort: only root may give a file away, and a file that
 * stays ours with a narrower group is still the user's own file. Owner
 * first: chown clears the set-id bits that chmod then restores. */
static void keep_owner_and_mode(int fd, const struct stat *old) {
    (void)fchown(fd, old->st_uid, old->st_gid);
    (void)fchmod(fd, old->st_mode & 07777);
}

/* Devices and FIFOs cannot be replaced: /dev/null stays /dev/null. */
static int open_in_place(atomic_file_t *af, const char *given, char *message, size_t message_size) {
    int fd = open(af->target_path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return open_failed(af, given, "cannot open for writing", errno, message, message_size);
    af->file = fdopen(fd, "wb");
    if (!af->file) {
        int err = errno;
        close(fd);
        return open_failed(af, given, "cannot open for writing", err, message, message_size);
    }
    return 0;
}

/* Six name characters from a splitmix64 stream seeded by the time, the
 * process and a counter: unique enough, and O_EXCL settles any collision. */
static void fill_random_name(char *x) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static uint64_t counter;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t z = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
                 (++counter * 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    for (int i = 0; i < TEMP_RANDOM_LEN; i++, z /= sizeof alphabet - 1)
        x[i] = alphabet[z % (sizeof alphabet - 1)];
}

/* Creates the temporary file like mkstemp (O_EXCL, mode 0600), but names it
 * to the signal handler before it exists: a signal at any moment, on any
 * thread, finds every temporary file that exists registered. (Registering
 * after mkstemp left a window in which SIGTERM left the file behind.) */
static int create_registered_temporary(atomic_file_t *af) {
    char *x = af->temp_path + strlen(af->temp_path) - TEMP_RANDOM_LEN;
    for (int attempt = 0; attempt < TEMP_ATTEMPTS; attempt++) {
        fill_random_name(x);
        if (access(af->temp_path, F_OK) == 0)
            continue; /* taken: never register a name that is another file's */
        af->cleanup_handle = signal_cleanup_add(af->temp_path);
        int fd = open(af->temp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            return fd;
        int err = errno;
        signal_cleanup_remove(af->cleanup_handle);
        af->cleanup_handle = -1;
        if (err != EEXIST) {
            errno = err;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

static int open_temporary(atomic_file_t *af, const char *given, const struct stat *existing,
                          char *message, size_t message_size) {
    size_t dir_len = directory_length(af->target_path);
    af->temp_path = malloc(dir_len + sizeof TEMP_NAME);
    if (!af->temp_path)
        return open_failed(af, given, "cannot name a temporary file", ENOMEM, message,
                           message_size);
    memcpy(af->temp_path, af->target_path, dir_len);
    memcpy(af->temp_path + dir_len, TEMP_NAME, sizeof TEMP_NAME);
    int fd = create_registered_temporary(af);
    if (fd < 0) {
        free(af->temp_path);
        af->temp_path = NULL;
        return open_failed(af, given, "cannot create a temporary file next to it", errno, message,
                           message_size);
    }
    if (existing)
        keep_owner_and_mode(fd, existing);
    else
        apply_umask_mode(fd);
    af->file = fdopen(fd, "wb");
    if (!af->file) {
        int err = errno;
        close(fd);
        remove_temporary(af);
        return open_failed(af, given, "cannot open the temporary file", err, message, message_size);
    }
    return 0;
}

int atomic_file_open(atomic_file_t *af, const char *target_path, char *message,
                     size_t message_size) {
    memset(af, 0, sizeof *af);
    af->cleanup_handle = -1;
    af->target_path = follow_symlinks(target_path);
    if (!af->target_path)
        return open_failed(af, target_path, "cannot follow the symbolic link", errno, message,
                           message_size);
    struct stat st;
    int exists = lstat(af->target_path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return open_failed(af, target_path, "cannot write to it", EISDIR, message, message_size);
    if (exists && !S_ISREG(st.st_mode))
        return open_in_place(af, target_path, message, message_size);
    return open_temporary(af, target_path, exists ? &st : NULL, message, message_size);
}

int atomic_file_check(const char *target_path, char *message, size_t message_size) {
    char *resolved = follow_symlinks(target_path);
    if (!resolved) {
        int err = errno;
        describe_failure(target_path, NULL, "cannot follow the symbolic link", err, message,
                         message_size);
        errno = err;
        return -1;
    }
    struct stat st;
    int exists = lstat(resolved, &st) == 0, err = 0;
    const char *what = NULL;
    if (exists && S_ISDIR(st.st_mode)) {
        what = "cannot write to it";
        err = EISDIR;
    } else if (exists && !S_ISREG(st.st_mode)) {
        if (access(resolved, W_OK) != 0) {
            what = "cannot write to it";
            err = errno;
        }
    } else {
        /* The temporary file goes into the directory: it must take a new name. */
        size_t dir_len = directory_length(resolved);
        size_t cut = dir_len > 1 ? dir_len - 1 : dir_len; /* "/" stays, "d/" becomes "d" */
        char saved = resolved[cut];
        resolved[cut] = '\0';
        if (access(dir_len ? resolved : ".", W_OK | X_OK) != 0) {
            err = errno;
            snprintf(message, message_size,
                     "the directory '%s' is not writable or does not exist: %s",
                     dir_len ? resolved : ".", strerror(err));
        }
        resolved[cut] = saved;
    }
    if (what)
        describe_failure(target_path, resolved, what, err, message, message_size);
    free(resolved);
    errno = err;
    return err ? -1 : 0;
}

/* Makes the rename itself durable; failure here is not worth failing the run. */
static void sync_directory(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

int atomic_file_commit(atomic_file_t *af, char *message, size_t message_size) {
    const char *step = "write";
    int in_place = af->temp_path == NULL;
    int failed = fflush(af->file) != 0 || ferror(af->file);
    if (!failed) {
        step = "fsync";
        /* Character devices and FIFOs have nothing to sync (EINVAL). */
        failed = fsync(fileno(af->file)) != 0 && !(in_place && errno == EINVAL);
    }
    int err = errno;
    if (fclose(af->file) != 0 && !failed) {
        step = "close";
        failed = 1;
        err = errno;
    }
    af->file = NULL;
    if (!failed && !in_place && rename(af->temp_path, af->target_path) != 0) {
        step = "rename";
        failed = 1;
        err = errno;
    }
    if (failed) {
        snprintf(message, message_size, "%s failed: %s", step, strerror(err));
        if (!in_place)
            remove_temporary(af);
        release(af);
        errno = err;
        return -1;
    }
    if (!in_place) {
        signal_cleanup_remove(af->cleanup_handle); /* renamed: nothing left to remove */
        sync_directory(af->target_path);
    }
    release(af);
    return 0;
}

void atomic_file_abort(atomic_file_t *af) {
    if (af->file) {
        fclose(af->file);
        af->file = NULL;
    }
    if (af->temp_path)
        remove_temporary(af);
    release(af);
}
