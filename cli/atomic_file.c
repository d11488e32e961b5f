/* Temporary file + fsync + rename. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(atomic_file_t *af) {
    free(af->temp_path);
    free(af->target_path);
    memset(af, 0, sizeof *af);
}

/* mkstemp makes 0600 files; give the result the mode a plain fopen would. */
static void apply_umask_mode(int fd) {
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
}

int atomic_file_open(atomic_file_t *af, const char *target_path, char *message,
                     size_t message_size) {
    memset(af, 0, sizeof *af);
    size_t len = strlen(target_path);
    af->target_path = strdup(target_path);
    af->temp_path = malloc(len + sizeof ".tmp.XXXXXX");
    if (!af->target_path || !af->temp_path) {
        snprintf(message, message_size, "out of memory");
        release(af);
        errno = ENOMEM;
        return -1;
    }
    memcpy(af->temp_path, target_path, len);
    memcpy(af->temp_path + len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(af->temp_path);
    if (fd < 0) {
        int err = errno;
        snprintf(message, message_size, "cannot create a temporary file next to it: %s",
                 strerror(err));
        release(af);
        errno = err;
        return -1;
    }
    apply_umask_mode(fd);
    af->file = fdopen(fd, "wb");
    if (!af->file) {
        int err = errno;
        close(fd);
        unlink(af->temp_path);
        snprintf(message, message_size, "cannot open the temporary file: %s", strerror(err));
        release(af);
        errno = err;
        return -1;
    }
    return 0;
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
    int failed = fflush(af->file) != 0 || ferror(af->file);
    if (!failed) {
        step = "fsync";
        failed = fsync(fileno(af->file)) != 0;
    }
    int err = errno;
    if (fclose(af->file) != 0 && !failed) {
        step = "close";
        failed = 1;
        err = errno;
    }
    af->file = NULL;
    if (!failed && rename(af->temp_path, af->target_path) != 0) {
        step = "rename";
        failed = 1;
        err = errno;
    }
    if (failed) {
        snprintf(message, message_size, "%s failed: %s", step, strerror(err));
        unlink(af->temp_path);
        release(af);
        errno = err;
        return -1;
    }
    sync_directory(af->target_path);
    release(af);
    return 0;
}

void atomic_file_abort(atomic_file_t *af) {
    if (af->file) {
        fclose(af->file);
        af->file = NULL;
    }
    if (af->temp_path)
        unlink(af->temp_path);
    release(af);
}
