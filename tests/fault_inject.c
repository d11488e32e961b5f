/* An LD_PRELOAD module that makes the tconv command's own system and
 * library calls fail on demand, for the exit-code tests of failures a test
 * cannot otherwise cause (a full disk, no memory left):
 *   TCONV_FAULT_CREATE_ERRNO=N   every open with O_CREAT from the main
 *                                program's code fails with errno N (how the
 *                                CLI creates its temporary output files);
 *   TCONV_FAULT_ALLOC=K          the K-th malloc, calloc, realloc, strdup or
 *                                strndup called from the main program's own
 *                                code (counted from 1) returns NULL/ENOMEM;
 *                                calls made inside libc, libtconv or the
 *                                plugins are passed through and not counted.
 * At exit it reports "fault_inject: <count> allocations, failed <K|none>" on
 * stderr, so a test knows when K went past the last allocation.
 * glibc only (__libc_malloc and friends); not usable under a sanitizer,
 * whose allocator must come first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);

#define MAX_SEGMENTS 16

static struct {
    uintptr_t begin[MAX_SEGMENTS], end[MAX_SEGMENTS];
    int segments;
    long fail_at; /* 0: never */
    long count;   /* allocations seen from the main program */
    int failed;   /* the fail_at-th one was failed */
    int create_errno;
} fault;

/* The main program is the first object dl_iterate_phdr reports. */
static int record_main_program(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum && fault.segments < MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        fault.begin[fault.segments] = info->dlpi_addr + ph->p_vaddr;
        fault.end[fault.segments] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        fault.segments++;
    }
    return 1; /* stop after the first object */
}

__attribute__((constructor)) static void fault_init(void) {
    const char *alloc = getenv("TCONV_FAULT_ALLOC");
    const char *create = getenv("TCONV_FAULT_CREATE_ERRNO");
    fault.fail_at = alloc ? strtol(alloc, NULL, 10) : 0;
    fault.create_errno = create ? (int)strtol(create, NULL, 10) : 0;
    dl_iterate_phdr(record_main_program, NULL);
}

__attribute__((destructor)) static void fault_report(void) {
    if (fault.fail_at <= 0)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "fault_inject: %ld allocations, failed %s\n", fault.count,
                     fault.failed ? "one" : "none");
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n);
}

static int from_main_program(const void *caller) {
    uintptr_t at = (uintptr_t)caller;
    for (int i = 0; i < fault.segments; i++)
        if (at >= fault.begin[i] && at < fault.end[i])
            return 1;
    return 0;
}

/* Counts a call from the main program; 1 if this one must fail. */
static int should_fail(const void *caller) {
    if (fault.fail_at <= 0 || !from_main_program(caller))
        return 0;
    if (++fault.count != fault.fail_at)
        return 0;
    fault.failed = 1;
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : __libc_realloc(ptr, size);
}

static char *copy_string(const char *s, size_t len) {
    char *copy = __libc_malloc(len + 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

char *strdup(const char *s) {
    return should_fail(__builtin_return_address(0)) ? NULL : copy_string(s, strlen(s));
}

char *strndup(const char *s, size_t max) {
    return should_fail(__builtin_return_address(0)) ? NULL : copy_string(s, strnlen(s, max));
}

/* The real open is the system call: no dlsym (which may allocate) needed. */
static int open_checked(const void *caller, const char *path, int flags, mode_t mode) {
    if (fault.create_errno && (flags & O_CREAT) && from_main_program(caller)) {
        errno = fault.create_errno;
        return -1;
    }
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open_checked(__builtin_return_address(0), path, flags, mode);
}

/* The large-file name of the same call (identical on 64-bit systems). */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
