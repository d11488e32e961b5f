/* SPDX-License-Identifier: Apache-2.0 */
/* Program builds and their caches (see ocl_program.h, README.md). A cached or
 * supplied binary is used only when its header matches this device, driver,
 * source and options exactly; a cache entry that fails any check is rebuilt
 * from source and rewritten. */
#include "ocl_program.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/make_dirs.h"
#include "common/monotonic_clock.h"
#include "ocl_cache_file.h"
#include "ocl_errors.h"
#include "ocl_kernel_source.h"

static char *make_key(const ocl_device_t *dev, ocl_source_set_t set, const char *options) {
    const char *fmt =
        "device=%s\ndriver=%s\nplatform=%s\nsource_hash=%016llx\noptions_hash=%016llx\n";
    unsigned long long src = (unsigned long long)ocl_kernel_source_hash(set);
    unsigned long long opt =
        (unsigned long long)ocl_fnv1a64(OCL_FNV_OFFSET, options, strlen(options));
    int n = snprintf(NULL, 0, fmt, dev->name, dev->driver_version, dev->platform_version, src, opt);
    char *key = malloc((size_t)n + 1);
    if (key)
        snprintf(key, (size_t)n + 1, fmt, dev->name, dev->driver_version, dev->platform_version,
                 src, opt);
    return key;
}

/* Writes "<what> on opencl:<i> (<name>): <call>: <ERR> (<n>)\n<build log>". */
static tconv_status_t build_failure(const ocl_device_t *dev, cl_program prog, cl_int err,
                                    const char *call, char *msg, size_t msg_size) {
    char head[512];
    snprintf(head, sizeof(head), "%s: %s (%d) on opencl:%zu (%s)", call, ocl_error_name(err),
             (int)err, dev->index, dev->name);
    size_t log_size = 0;
    char *log = NULL;
    if (prog &&
        clGetProgramBuildInfo(prog, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) ==
            CL_SUCCESS &&
        log_size > 1 && (log = malloc(log_size + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, dev->id, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) !=
            CL_SUCCESS)
            log[0] = '\0';
        log[log_size] = '\0';
    }
    ocl_msg(msg, msg_size, "%s%s%s", head, log && *log ? "; build log: " : "", log ? log : "");
    free(log);
    return err == CL_BUILD_PROGRAM_FAILURE ? tconv_runtime_error : ocl_status_from_cl(err);
}

static tconv_status_t build_from_source(ocl_device_t *dev, cl_context context, ocl_source_set_t set,
                                        const char *options, cl_program *out, char *msg,
                                        size_t msg_size) {
    size_t count = 0;
    const char *const *srcs = ocl_kernel_sources(set, &count);
    cl_int err = CL_SUCCESS;
    cl_program prog =
        clCreateProgramWithSource(context, (cl_uint)count, (const char **)srcs, NULL, &err);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clCreateProgramWithSource", msg, msg_size);
    err = clBuildProgram(prog, 1, &dev->id, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        tconv_status_t status = build_failure(dev, prog, err, "clBuildProgram", msg, msg_size);
        clReleaseProgram(prog);
        return status;
    }
    *out = prog;
    return tconv_success;
}

static tconv_status_t build_from_binary(ocl_device_t *dev, cl_context context, const char *options,
                                        const unsigned char *bin, size_t len, cl_program *out,
                                        char *msg, size_t msg_size) {
    cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
    cl_program prog =
        clCreateProgramWithBinary(context, 1, &dev->id, &len, &bin, &bin_status, &err);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (prog)
            clReleaseProgram(prog);
        return ocl_fail(err != CL_SUCCESS ? err : bin_status, "clCreateProgramWithBinary", msg,
                        msg_size);
    }
    err = clBuildProgram(prog, 1, &dev->id, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        tconv_status_t status =
            build_failure(dev, prog, err, "clBuildProgram (from binary)", msg, msg_size);
        clReleaseProgram(prog);
        return status;
    }
    *out = prog;
    return tconv_success;
}

/* The device binary of a built program (one device). */
static tconv_status_t program_binary(cl_program prog, unsigned char **bin, size_t *len, char *msg,
                                     size_t msg_size) {
    size_t size = 0;
    cl_int err = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)", msg, msg_size);
    if (size == 0) {
        ocl_msg(msg, msg_size, "clGetProgramInfo: the driver returned an empty program binary");
        return tconv_runtime_error;
    }
    unsigned char *buf = malloc(size);
    if (!buf) {
        ocl_msg(msg, msg_size, "out of host memory for a %zu-byte program binary", size);
        return tconv_out_of_memory;
    }
    unsigned char *ptrs[1] = {buf};
    err = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof(ptrs), ptrs, NULL);
    if (err != CL_SUCCESS) {
        free(buf);
        return ocl_fail(err, "clGetProgramInfo(CL_PROGRAM_BINARIES)", msg, msg_size);
    }
    *bin = buf;
    *len = size;
    return tconv_success;
}

ocl_binary_options_t ocl_binary_options_from_env(void) {
    const char *binary = secure_getenv("TCONV_OPENCL_BINARY");
    const char *save = secure_getenv("TCONV_OPENCL_BINARY_SAVE");
    ocl_binary_options_t o = {.binary = binary && *binary ? binary : NULL,
                              .binary_save = save && *save ? save : NULL,
                              .binary_name = "TCONV_OPENCL_BINARY",
                              .binary_save_name = "TCONV_OPENCL_BINARY_SAVE"};
    return o;
}

ocl_binary_options_t ocl_binary_options_from_plan(const tconv_plan_options_t *options) {
    ocl_binary_options_t o = ocl_binary_options_from_env();
    if (!options)
        return o;
    /* The core passes its own full copy; a newer core's larger struct still
     * starts with these fields. */
    const size_t end = offsetof(tconv_plan_options_t, program_binary_save) + sizeof(const char *);
    if (options->struct_size < end)
        return o;
    if (options->program_binary) {
        o.binary = options->program_binary;
        o.binary_name = "program_binary";
        o.binary_option = 1;
    }
    if (options->program_binary_save) {
        o.binary_save = options->program_binary_save;
        o.binary_save_name = "program_binary_save";
        o.binary_save_option = 1;
    }
    return o;
}

void ocl_binary_describe(const char *name, int option, const char *path, char *out, size_t size) {
    if (option)
        snprintf(out, size, "plan option %s '%s'", name, path);
    else
        snprintf(out, size, "%s=%s", name, path);
}

/* FPGA flow: the program comes from the supplied binary and nothing else.
 * Messages name what gave it: the plan option or the environment variable. */
static tconv_status_t load_supplied_binary(ocl_device_t *dev, cl_context context,
                                           const ocl_binary_options_t *binaries, const char *key,
                                           const char *options, cl_program *out, char *msg,
                                           size_t msg_size) {
    const char *path = binaries->binary;
    char *found = NULL;
    unsigned char *bin = NULL;
    size_t len = 0;
    char why[1024], given[4200];
    ocl_binary_describe(binaries->binary_name, binaries->binary_option, path, given, sizeof(given));
    ocl_entry_result_t r = ocl_entry_read(path, &found, &bin, &len, why, sizeof(why));
    if (r != ocl_entry_ok) {
        /* why names the path already. */
        ocl_msg(msg, msg_size, "%s%s: %s%s", binaries->binary_option ? "plan option " : "",
                binaries->binary_name, why,
                r == ocl_entry_missing ? " (the binary flow never compiles from source)" : "");
        return tconv_runtime_error;
    }
    tconv_status_t status = tconv_success;
    if (ocl_key_diff(key, found, why, sizeof(why))) {
        ocl_msg(msg, msg_size, "%s does not match this plan: %s", given, why);
        status = tconv_runtime_error;
    } else {
        char inner[768];
        status = build_from_binary(dev, context, options, bin, len, out, inner, sizeof(inner));
        if (status != tconv_success)
            ocl_msg(msg, msg_size, "%s: %s", given, inner);
    }
    free(found);
    free(bin);
    return status;
}

/* Disk cache lookup: a usable program, or 0 (missing, corrupt, stale or
 * refused by the driver; the caller rebuilds and rewrites). */
static int load_cached(ocl_state_t *st, ocl_device_t *dev, cl_context context, const char *path,
                       const char *key, const char *options, cl_program *out) {
    char *found = NULL;
    unsigned char *bin = NULL;
    size_t len = 0;
    char why[1024];
    int ok = 0;
    ocl_entry_result_t r = ocl_entry_read(path, &found, &bin, &len, why, sizeof(why));
    if (r == ocl_entry_corrupt) {
        OCL_LOG(st, tconv_log_info, "program cache: %s; rebuilding", why);
    } else if (r == ocl_entry_ok) {
        if (ocl_key_diff(key, found, why, sizeof(why))) {
            OCL_LOG(st, tconv_log_info, "program cache: %s is stale (%s); rebuilding", path, why);
        } else if (build_from_binary(dev, context, options, bin, len, out, why, sizeof(why)) ==
                   tconv_success) {
            ok = 1;
        } else {
            OCL_LOG(st, tconv_log_info, "program cache: %s refused (%s); rebuilding", path, why);
        }
    }
    free(found);
    free(bin);
    return ok;
}

static void remember(ocl_state_t *st, ocl_device_t *dev, const char *key, cl_program prog) {
    ocl_program_entry_t *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return;
    }
    clRetainProgram(prog);
    e->program = prog;
    pthread_mutex_lock(&st->lock);
    e->next = dev->programs;
    dev->programs = e;
    pthread_mutex_unlock(&st->lock);
}

static cl_program recall(ocl_state_t *st, ocl_device_t *dev, const char *key) {
    cl_program prog = NULL;
    pthread_mutex_lock(&st->lock);
    for (ocl_program_entry_t *e = dev->programs; e && !prog; e = e->next)
        if (strcmp(e->key, key) == 0) {
            prog = e->program;
            clRetainProgram(prog);
        }
    pthread_mutex_unlock(&st->lock);
    return prog;
}

static tconv_status_t save_binary(cl_program prog, const char *path, const char *key, unsigned mode,
                                  char *msg, size_t msg_size) {
    unsigned char *bin = NULL;
    size_t len = 0;
    tconv_status_t status = program_binary(prog, &bin, &len, msg, msg_size);
    if (status != tconv_success)
        return status;
    char why[1024];
    if (ocl_entry_write(path, key, bin, len, mode, why, sizeof(why)) != 0) {
        ocl_msg(msg, msg_size, "%s", why);
        status = tconv_runtime_error;
    }
    free(bin);
    return status;
}

/* Path of the cache entry for @p key in the core's cache directory, or 0
 * when the disk cache is off. */
static int cache_path(const ocl_state_t *st, const char *key, char *path, size_t path_size) {
    const char *dir = ocl_cache_dir(st->host);
    if (!dir)
        return 0;
    uint64_t key_hash = ocl_fnv1a64(OCL_FNV_OFFSET, key, strlen(key));
    return snprintf(path, path_size, "%s/opencl-%016llx.bin", dir, (unsigned long long)key_hash) <
           (int)path_size;
}

tconv_status_t ocl_program_get(ocl_state_t *st, ocl_device_t *dev, cl_context context,
                               ocl_source_set_t set, const char *options,
                               const ocl_binary_options_t *binaries, cl_program *program,
                               int *fresh, char *msg, size_t msg_size) {
    *program = NULL;
    *fresh = 0;
    char *key = make_key(dev, set, options);
    if (!key) {
        ocl_msg(msg, msg_size, "out of host memory for the program key");
        return tconv_out_of_memory;
    }
    tconv_status_t status = tconv_success;
    cl_program prog = NULL;
    const int own_context = context == dev->context;
    double t0 = tconv_monotonic_seconds();
    if (binaries->binary) {
        status = load_supplied_binary(dev, context, binaries, key, options, &prog, msg, msg_size);
        if (status == tconv_success) {
            char given[4200];
            ocl_binary_describe(binaries->binary_name, binaries->binary_option, binaries->binary,
                                given, sizeof(given));
            OCL_LOG(st, tconv_log_info, "opencl:%zu: program loaded from %s", dev->index, given);
        }
    } else if (!own_context || (prog = recall(st, dev, key)) == NULL) {
        char path[4200];
        int cache = cache_path(st, key, path, sizeof(path));
        if (cache && load_cached(st, dev, context, path, key, options, &prog)) {
            OCL_LOG(st, tconv_log_debug, "opencl:%zu: program from cache %s (%.3f s)", dev->index,
                    path, tconv_monotonic_seconds() - t0);
        } else {
            status = build_from_source(dev, context, set, options, &prog, msg, msg_size);
            *fresh = status == tconv_success;
            if (status == tconv_success)
                OCL_LOG(st, tconv_log_debug, "opencl:%zu: program built from source (%.3f s)",
                        dev->index, tconv_monotonic_seconds() - t0);
        }
        if (status == tconv_success && own_context)
            remember(st, dev, key, prog);
    }
    free(key);
    *program = prog;
    return status;
}

tconv_status_t ocl_program_persist(ocl_state_t *st, ocl_device_t *dev, ocl_source_set_t set,
                                   const char *options, const ocl_binary_options_t *binaries,
                                   cl_program program, int fresh, char *msg, size_t msg_size) {
    char *key = make_key(dev, set, options);
    if (!key) {
        ocl_msg(msg, msg_size, "out of host memory for the program key");
        return tconv_out_of_memory;
    }
    char path[4200], why[1024] = "";
    if (fresh && cache_path(st, key, path, sizeof(path)) &&
        (!tconv_make_dirs(ocl_cache_dir(st->host), why, sizeof(why)) ||
         save_binary(program, path, key, 0600, why, sizeof(why)) != tconv_success))
        OCL_LOG(st, tconv_log_info, "program cache: not written to %s: %s", path, why);
    tconv_status_t status = tconv_success;
    /* The binary flow holds one program: the forward one. */
    const char *save = binaries->binary_save;
    if (save && set == ocl_sources_forward) {
        char inner[768];
        status = save_binary(program, save, key, 0644, inner, sizeof(inner));
        if (status != tconv_success) {
            char given[4200];
            ocl_binary_describe(binaries->binary_save_name, binaries->binary_save_option, save,
                                given, sizeof(given));
            ocl_msg(msg, msg_size, "%s: %s", given, inner);
        }
    }
    free(key);
    return status;
}
