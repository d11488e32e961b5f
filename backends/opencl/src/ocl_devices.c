/* SPDX-License-Identifier: Apache-2.0 */
/* Device discovery through the ICD loader: every platform, every device,
 * properties from clGetDeviceInfo. Creates no contexts (that happens at the
 * first plan, ocl_device_open). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CL/cl_ext.h>

#include "ocl_errors.h"
#include "ocl_state.h"

static void query_string(cl_device_id dev, cl_device_info what, char *out, size_t size) {
    out[0] = '\0';
    if (clGetDeviceInfo(dev, what, size, out, NULL) != CL_SUCCESS)
        out[0] = '\0';
    out[size - 1] = '\0';
}

/* Fixed-size properties; left at zero when the driver refuses. */
#define QUERY_VALUE(dev, what, var)                                                                \
    do {                                                                                           \
        if (clGetDeviceInfo((dev), (what), sizeof(var), &(var), NULL) != CL_SUCCESS)               \
            memset(&(var), 0, sizeof(var));                                                        \
    } while (0)

static int has_extension(cl_device_id dev, const char *ext) {
    size_t size = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS || size == 0)
        return 0;
    char *list = malloc(size + 1);
    if (!list)
        return 0;
    int found = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, size, list, NULL) == CL_SUCCESS) {
        list[size] = '\0';
        size_t len = strlen(ext);
        for (char *p = strstr(list, ext); p && !found; p = strstr(p + 1, ext))
            found = (p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0');
    }
    free(list);
    return found;
}

static void describe_device(ocl_device_t *d) {
    query_string(d->id, CL_DEVICE_NAME, d->name, sizeof(d->name));
    query_string(d->id, CL_DEVICE_VENDOR, d->vendor, sizeof(d->vendor));
    query_string(d->id, CL_DRIVER_VERSION, d->driver_version, sizeof(d->driver_version));
    query_string(d->id, CL_DEVICE_OPENCL_C_VERSION, d->c_version, sizeof(d->c_version));
    d->platform_version[0] = '\0';
    if (clGetPlatformInfo(d->platform, CL_PLATFORM_VERSION, sizeof(d->platform_version),
                          d->platform_version, NULL) != CL_SUCCESS)
        d->platform_version[0] = '\0';
    d->platform_version[sizeof(d->platform_version) - 1] = '\0';
    QUERY_VALUE(d->id, CL_DEVICE_TYPE, d->cl_type);
    QUERY_VALUE(d->id, CL_DEVICE_MAX_COMPUTE_UNITS, d->compute_units);
    QUERY_VALUE(d->id, CL_DEVICE_MAX_CLOCK_FREQUENCY, d->clock_mhz);
    QUERY_VALUE(d->id, CL_DEVICE_GLOBAL_MEM_SIZE, d->global_mem);
    QUERY_VALUE(d->id, CL_DEVICE_LOCAL_MEM_SIZE, d->local_mem);
    QUERY_VALUE(d->id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, d->max_alloc);
    QUERY_VALUE(d->id, CL_DEVICE_MAX_WORK_GROUP_SIZE, d->max_work_group);
    cl_bool unified = CL_FALSE;
    QUERY_VALUE(d->id, CL_DEVICE_HOST_UNIFIED_MEMORY, unified);
    d->host_unified = unified == CL_TRUE;
    cl_device_fp_config fp64 = 0;
    QUERY_VALUE(d->id, CL_DEVICE_DOUBLE_FP_CONFIG, fp64);
    d->has_fp64 = fp64 != 0 || has_extension(d->id, "cl_khr_fp64");
    d->has_fp16 = has_extension(d->id, "cl_khr_fp16");
}

/* Appends the devices of one platform; a platform without devices is skipped. */
static tconv_status_t add_platform_devices(ocl_state_t *st, cl_platform_id platform, char *msg,
                                           size_t msg_size) {
    cl_uint n = 0;
    cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && n == 0))
        return tconv_success;
    if (err != CL_SUCCESS) {
        OCL_LOG(st, tconv_log_info, "clGetDeviceIDs: %s (%d); platform skipped",
                ocl_error_name(err), (int)err);
        return tconv_success;
    }
    cl_device_id *ids = calloc(n, sizeof(*ids));
    ocl_device_t *grown = realloc(st->devices, (st->device_count + n) * sizeof(*grown));
    if (!ids || !grown) {
        free(ids);
        if (grown)
            st->devices = grown;
        ocl_msg(msg, msg_size, "out of host memory listing %u OpenCL devices", n);
        return tconv_out_of_memory;
    }
    st->devices = grown;
    err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, ids, NULL);
    if (err != CL_SUCCESS) {
        free(ids);
        return ocl_fail(err, "clGetDeviceIDs", msg, msg_size);
    }
    for (cl_uint i = 0; i < n; i++) {
        ocl_device_t *d = &st->devices[st->device_count];
        memset(d, 0, sizeof(*d));
        d->index = st->device_count;
        d->platform = platform;
        d->id = ids[i];
        describe_device(d);
        st->device_count++;
    }
    free(ids);
    return tconv_success;
}

tconv_status_t ocl_devices_discover(ocl_state_t *st, char *msg, size_t msg_size) {
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && np == 0)) {
        if (err == CL_SUCCESS)
            ocl_msg(msg, msg_size, "no OpenCL platform (clGetPlatformIDs: 0 platforms)");
        else
            ocl_msg(msg, msg_size, "no OpenCL platform (clGetPlatformIDs: %s %d)",
                    ocl_error_name(err), (int)err);
        return tconv_success;
    }
    if (err != CL_SUCCESS)
        return ocl_fail(err, "clGetPlatformIDs", msg, msg_size);
    cl_platform_id *platforms = calloc(np, sizeof(*platforms));
    if (!platforms) {
        ocl_msg(msg, msg_size, "out of host memory listing %u OpenCL platforms", np);
        return tconv_out_of_memory;
    }
    err = clGetPlatformIDs(np, platforms, NULL);
    if (err != CL_SUCCESS) {
        free(platforms);
        return ocl_fail(err, "clGetPlatformIDs", msg, msg_size);
    }
    tconv_status_t status = tconv_success;
    for (cl_uint p = 0; p < np && status == tconv_success; p++)
        status = add_platform_devices(st, platforms[p], msg, msg_size);
    free(platforms);
    if (status == tconv_success) {
        if (st->device_count == 0)
            ocl_msg(msg, msg_size, "no OpenCL device on %u platform(s)", np);
        else
            ocl_msg(msg, msg_size, "%zu OpenCL device(s) on %u platform(s)", st->device_count, np);
    }
    return status;
}

static tconv_device_type_t map_type(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU)
        return tconv_device_gpu;
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return tconv_device_accelerator;
    if (t & CL_DEVICE_TYPE_CPU)
        return tconv_device_cpu;
    return tconv_device_custom;
}

/* Copies a field only when the caller's struct (info->struct_size) holds it. */
#define FITS(info, size, field)                                                                    \
    (offsetof(tconv_device_info_t, field) + sizeof((info)->field) <= (size))

static void copy_string(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src);
}

void ocl_device_fill_info(const ocl_device_t *d, tconv_device_info_t *info) {
    size_t size = info->struct_size ? info->struct_size : sizeof(*info);
    if (FITS(info, size, type))
        info->type = map_type(d->cl_type);
    if (FITS(info, size, flags))
        info->flags = (d->host_unified && (d->cl_type & CL_DEVICE_TYPE_GPU))
                          ? TCONV_DEVICE_FLAG_UNIFIED_MEMORY
                          : 0;
    if (FITS(info, size, name))
        copy_string(info->name, sizeof(info->name), d->name);
    if (FITS(info, size, vendor))
        copy_string(info->vendor, sizeof(info->vendor), d->vendor);
    if (FITS(info, size, driver_version))
        copy_string(info->driver_version, sizeof(info->driver_version), d->driver_version);
    if (FITS(info, size, language_version))
        copy_string(info->language_version, sizeof(info->language_version), d->c_version);
    if (FITS(info, size, compute_units))
        info->compute_units = d->compute_units;
    if (FITS(info, size, clock_mhz))
        info->clock_mhz = d->clock_mhz;
    if (FITS(info, size, global_mem_bytes))
        info->global_mem_bytes = d->global_mem;
    if (FITS(info, size, local_mem_bytes))
        info->local_mem_bytes = d->local_mem;
    if (FITS(info, size, max_alloc_bytes))
        info->max_alloc_bytes = d->max_alloc;
    if (FITS(info, size, max_work_group_size))
        info->max_work_group_size = d->max_work_group;
    if (FITS(info, size, dtypes))
        info->dtypes = TCONV_DTYPE_BIT(tconv_f32) | (d->has_fp64 ? TCONV_DTYPE_BIT(tconv_f64) : 0);
    if (FITS(info, size, has_fp16))
        info->has_fp16 = (uint32_t)d->has_fp16;
}

tconv_status_t ocl_device_open(ocl_state_t *st, ocl_device_t *dev, char *msg, size_t msg_size) {
    tconv_status_t status = tconv_success;
    pthread_mutex_lock(&st->lock);
    if (!dev->context) {
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform,
                                         0};
        cl_int err = CL_SUCCESS;
        dev->context = clCreateContext(props, 1, &dev->id, NULL, NULL, &err);
        if (err != CL_SUCCESS || !dev->context) {
            dev->context = NULL;
            status = ocl_fail(err, "clCreateContext", msg, msg_size);
        } else {
            OCL_LOG(st, tconv_log_debug, "opencl:%zu: context created on %s", dev->index,
                    dev->name);
        }
    }
    if (status == tconv_success && !dev->stream) {
        cl_int err = CL_SUCCESS;
        cl_command_queue queue = clCreateCommandQueue(dev->context, dev->id, 0, &err);
        if (err != CL_SUCCESS || !queue) {
            status = ocl_fail(err, "clCreateCommandQueue (device queue)", msg, msg_size);
        } else {
            status = ocl_stream_create(queue, dev->index, &dev->stream, msg, msg_size);
            clReleaseCommandQueue(queue); /* the stream holds it */
        }
    }
    pthread_mutex_unlock(&st->lock);
    return status;
}

void ocl_devices_release(ocl_state_t *st) {
    for (size_t i = 0; i < st->device_count; i++) {
        ocl_device_t *d = &st->devices[i];
        for (ocl_program_entry_t *e = d->programs, *next; e; e = next) {
            next = e->next;
            clReleaseProgram(e->program);
            free(e->key);
            free(e);
        }
        d->programs = NULL;
        ocl_stream_destroy(d->stream);
        d->stream = NULL;
        if (d->context)
            clReleaseContext(d->context);
        d->context = NULL;
    }
    free(st->devices);
    st->devices = NULL;
    st->device_count = 0;
}

uint64_t ocl_device_max_alloc(const ocl_device_t *dev) {
    uint64_t limit = dev->max_alloc;
    const char *cap = getenv("TCONV_OPENCL_MAX_ALLOC");
    if (cap && *cap) {
        char *end = NULL;
        unsigned long long v = strtoull(cap, &end, 10);
        if (end && *end == '\0' && v > 0 && (limit == 0 || v < limit))
            limit = v;
    }
    return limit;
}

ocl_device_t *ocl_device_by_id(ocl_state_t *st, cl_device_id id) {
    for (size_t i = 0; i < st->device_count; i++)
        if (st->devices[i].id == id)
            return &st->devices[i];
    return NULL;
}

int ocl_context_has_device(cl_context context, const ocl_device_t *dev) {
    if (context == dev->context)
        return 1;
    size_t bytes = 0;
    if (clGetContextInfo(context, CL_CONTEXT_DEVICES, 0, NULL, &bytes) != CL_SUCCESS || !bytes)
        return 0;
    cl_device_id *ids = malloc(bytes);
    int found = 0;
    if (ids && clGetContextInfo(context, CL_CONTEXT_DEVICES, bytes, ids, NULL) == CL_SUCCESS)
        for (size_t i = 0; i < bytes / sizeof(*ids) && !found; i++)
            found = ids[i] == dev->id;
    free(ids);
    return found;
}
