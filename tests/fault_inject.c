/* SPDX-License-Identifier: Apache-2.0 */
/* An LD_PRELOAD module that makes tconv's own system and library calls
 * fail on demand, for the tests of failures a test cannot otherwise cause
 * (a full disk, no memory left):
 *   TCONV_FAULT_CREATE_ERRNO=N   every open with O_CREAT from the code in
 *                                scope (below; the main program by default)
 *                                fails with errno N (how the CLI creates its
 *                                temporary output files);
 *   TCONV_FAULT_ALLOC=K          the K-th malloc, calloc, realloc, strdup,
 *                                strndup, aligned_alloc or posix_memalign
 *                                called from the code in scope (counted from
 *                                1) returns NULL/ENOMEM; calls made by other
 *                                code (libc, PoCL, the test itself) are
 *                                passed through and not counted;
 *   TCONV_FAULT_ALLOC_SCOPE=LIST whose calls count, a comma list of: main
 *                                (the main program; the default), library
 *                                (libtconv.so*), plugins (tconv_backend_*).
 * At exit it reports "fault_inject: <count> allocations, failed <one|none>"
 * on stderr when TCONV_FAULT_ALLOC was set, so a test knows when K went past
 * the last allocation.
 *
 * A test in the same process drives the allocation failures itself through
 * tconv_fault_alloc_arm (found with dlsym: the module is preloaded, not
 * linked): fail the K-th allocation from now on, count again from 0.
 *
 * glibc only. The real allocator is glibc's (__libc_malloc and friends),
 * or in a program built with AddressSanitizer ASan's (__interceptor_malloc
 * ...), so that every allocation stays checked and leak-tracked; preload the
 * module in front of ASan's runtime with ASAN_OPTIONS=
 * verify_asan_link_order=0. The module itself is never instrumented (its
 * code runs before any sanitizer has started). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The real allocator: a sanitizer's when the program has one (its
 * interceptors, weak here: NULL in a plain program), else glibc's. */
extern void *__interceptor_malloc(size_t size) __attribute__((weak));
extern void *__interceptor_calloc(size_t count, size_t size) __attribute__((weak));
extern void *__interceptor_realloc(void *ptr, size_t size) __attribute__((weak));
extern void *__interceptor_aligned_alloc(size_t alignment, size_t size) __attribute__((weak));
extern int __interceptor_posix_memalign(void **out, size_t alignment, size_t size)
    __attribute__((weak));
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static void *real_malloc(size_t size) {
    return __interceptor_malloc ? __interceptor_malloc(size) : __libc_malloc(size);
}

static void *real_calloc(size_t count, size_t size) {
    return __interceptor_calloc ? __interceptor_calloc(count, size) : __libc_calloc(count, size);
}

static void *real_realloc(void *ptr, size_t size) {
    return __interceptor_realloc ? __interceptor_realloc(ptr, size) : __libc_realloc(ptr, size);
}

static void *real_aligned_alloc(size_t alignment, size_t size) {
    if (__interceptor_aligned_alloc)
        return __interceptor_aligned_alloc(alignment, size);
    return __libc_memalign(alignment, size);
}

static int real_posix_memalign(void **out, size_t alignment, size_t size) {
    if (__interceptor_posix_memalign)
        return __interceptor_posix_memalign(out, alignment, size);
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

/* Address ranges of the code whose allocations count. */
#define MAX_RANGES 64
enum { SCOPE_MAIN = 1, SCOPE_LIBRARY = 2, SCOPE_PLUGINS = 4 };

static struct {
    uintptr_t begin[MAX_RANGES], end[MAX_RANGES];
    _Atomic int ranges; /* published after the entries are written */
    int scope;
    _Atomic long fail_at; /* 0: never */
    _Atomic long count;   /* allocations seen from the code in scope */
    _Atomic int failed;   /* the fail_at-th one was failed */
    int create_errno;
    int report; /* TCONV_FAULT_ALLOC was set: report at exit */
} fault;

static pthread_mutex_t ranges_mutex = PTHREAD_MUTEX_INITIALIZER;

static int in_scope(const char *path, int first) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return ((fault.scope & SCOPE_MAIN) && first) ||
           ((fault.scope & SCOPE_LIBRARY) && strncmp(base, "libtconv.so", 11) == 0) ||
           ((fault.scope & SCOPE_PLUGINS) && strncmp(base, "tconv_backend_", 14) == 0);
}

/* Adds the executable segments of every object in scope not yet recorded. */
static int record_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    int *index = data;
    int first = (*index)++ == 0;
    if (!in_scope(info->dlpi_name ? info->dlpi_name : "", first))
        return 0;
    int n = atomic_load(&fault.ranges);
    for (int i = 0; i < info->dlpi_phnum && n < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t begin = info->dlpi_addr + ph->p_vaddr, end = begin + ph->p_memsz;
        int known = 0;
        for (int r = 0; r < n && !known; r++)
            known = fault.begin[r] == begin;
        if (!known) {
            fault.begin[n] = begin;
            fault.end[n] = end;
            atomic_store(&fault.ranges, ++n);
        }
    }
    return 0;
}

/* Called at start and after every dlopen (plugins arrive that way; tconv
 * keeps them loaded, so a recorded range never goes stale). */
static void record_ranges(void) {
    pthread_mutex_lock(&ranges_mutex);
    int index = 0;
    dl_iterate_phdr(record_object, &index);
    pthread_mutex_unlock(&ranges_mutex);
}

static int parse_scope(const char *list) {
    if (list == NULL)
        return SCOPE_MAIN;
    int scope = 0;
    scope |= strstr(list, "main") ? SCOPE_MAIN : 0;
    scope |= strstr(list, "library") ? SCOPE_LIBRARY : 0;
    scope |= strstr(list, "plugins") ? SCOPE_PLUGINS : 0;
    return scope;
}

__attribute__((constructor)) static void fault_init(void) {
    const char *alloc = getenv("TCONV_FAULT_ALLOC");
    const char *create = getenv("TCONV_FAULT_CREATE_ERRNO");
    fault.report = alloc != NULL;
    atomic_store(&fault.fail_at, alloc ? strtol(alloc, NULL, 10) : 0);
    fault.create_errno = create ? (int)strtol(create, NULL, 10) : 0;
    fault.scope = parse_scope(getenv("TCONV_FAULT_ALLOC_SCOPE"));
    record_ranges();
}

__attribute__((destructor)) static void fault_report(void) {
    if (!fault.report)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "fault_inject: %ld allocations, failed %s\n",
                     atomic_load(&fault.count), atomic_load(&fault.failed) ? "one" : "none");
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n);
}

/* For a test in the same process: the @p fail_at-th allocation in scope
 * from now on fails (0: none); counting starts again. */
void tconv_fault_alloc_arm(long fail_at) {
    atomic_store(&fault.fail_at, 0);
    atomic_store(&fault.count, 0);
    atomic_store(&fault.failed, 0);
    atomic_store(&fault.fail_at, fail_at);
}

/** Allocations in scope since the last arm, and whether one was failed. */
long tconv_fault_alloc_count(void) {
    return atomic_load(&fault.count);
}
int tconv_fault_alloc_failed(void) {
    return atomic_load(&fault.failed);
}

static int from_scope(const void *caller) {
    uintptr_t at = (uintptr_t)caller;
    int n = atomic_load(&fault.ranges);
    for (int i = 0; i < n; i++)
        if (at >= fault.begin[i] && at < fault.end[i])
            return 1;
    return 0;
}

/* Counts a call from the code in scope; 1 if this one must fail. */
static int should_fail(const void *caller) {
    if (atomic_load(&fault.fail_at) <= 0 || !from_scope(caller))
        return 0;
    if (atomic_fetch_add(&fault.count, 1) + 1 != atomic_load(&fault.fail_at))
        return 0;
    atomic_store(&fault.failed, 1);
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : real_malloc(size);
}

void *calloc(size_t count, size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : real_calloc(count, size);
}

void *realloc(void *ptr, size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : real_realloc(ptr, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : real_aligned_alloc(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    return should_fail(__builtin_return_address(0)) ? ENOMEM
                                                    : real_posix_memalign(out, alignment, size);
}

static char *copy_string(const char *s, size_t len) {
    char *copy = real_malloc(len + 1);
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

/* Plugins arrive by dlopen (through libltdl): their code joins the scope. */
void *dlopen(const char *file, int mode) {
    static void *(*real_dlopen)(const char *, int);
    if (real_dlopen == NULL)
        real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    void *handle = real_dlopen(file, mode);
    if (handle != NULL && (fault.scope & SCOPE_PLUGINS))
        record_ranges();
    return handle;
}

/* The real open is the system call: no dlsym (which may allocate) needed. */
static int open_checked(const void *caller, const char *path, int flags, mode_t mode) {
    if (fault.create_errno && (flags & O_CREAT) && from_scope(caller)) {
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
