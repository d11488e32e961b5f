/* SPDX-License-Identifier: Apache-2.0 */
/* Backend instance state: the devices found at init, and the per-device
 * objects created lazily at the first plan or buffer (context, device
 * queue, built programs). */
#ifndef TCONV_OCL_STATE_H
#define TCONV_OCL_STATE_H

#include <pthread.h>
#include <stdint.h>

#include <CL/cl.h>

#include "ocl_stream.h"
#include "tconv/tconv_backend.h"

/** A built program kept for reuse by later plans with the same key (only
 *  programs of the device's own context: a caller's context, of a plan made
 *  by plan_create_native, gets programs of its own through the disk cache,
 *  so tconv never keeps the caller's context alive). */
typedef struct ocl_program_entry {
    char *key; /**< Full cache key (device, driver, source, options). */
    cl_program program;
    struct ocl_program_entry *next;
} ocl_program_entry_t;

/** One OpenCL device, in platform-then-device order. */
typedef struct ocl_device {
    size_t index; /**< Position in the backend's list (opencl:<index>). */
    cl_platform_id platform;
    cl_device_id id;
    char name[128];
    char vendor[128];
    char driver_version[64];
    char platform_version[128];
    char c_version[64]; /**< CL_DEVICE_OPENCL_C_VERSION. */
    cl_device_type cl_type;
    cl_uint compute_units;
    cl_uint clock_mhz;
    cl_ulong global_mem;
    cl_ulong local_mem;
    cl_ulong max_alloc;
    size_t max_work_group;
    int host_unified; /**< CL_DEVICE_HOST_UNIFIED_MEMORY. */
    int has_fp64;
    int has_fp16;
    /* Created lazily by ocl_device_open under the state lock. */
    cl_context context;
    /** The device queue (ABI 1.2): every buffer call and every enqueue of a
     *  plan of this device's context runs on it, in call order. */
    ocl_stream_t *stream;
    ocl_program_entry_t *programs;
} ocl_device_t;

typedef struct ocl_state {
    const tconv_host_t *host;
    size_t device_count;
    ocl_device_t *devices;
    pthread_mutex_t lock; /**< Guards contexts and the program lists. */
} ocl_state_t;

/** Logs through the core when it offers a logger. */
#define OCL_LOG(st, level, ...)                                                                    \
    do {                                                                                           \
        if ((st) && (st)->host && (st)->host->log)                                                 \
            (st)->host->log((level), "opencl", __VA_ARGS__);                                       \
    } while (0)

/** Enumerates every platform and device (no contexts). Zero devices is a
 *  success with the reason in msg. */
tconv_status_t ocl_devices_discover(ocl_state_t *st, char *msg, size_t msg_size);

/** Fills the fields of @p info that fit in info->struct_size. */
void ocl_device_fill_info(const ocl_device_t *dev, tconv_device_info_t *info);

/** Creates the device's context and device queue on first use (takes the
 *  state lock). */
tconv_status_t ocl_device_open(ocl_state_t *st, ocl_device_t *dev, char *msg, size_t msg_size);

/** Releases device queues, contexts and programs of every device and frees
 *  the list. */
void ocl_devices_release(ocl_state_t *st);

/** The device whose cl_device_id is @p id, or NULL. */
ocl_device_t *ocl_device_by_id(ocl_state_t *st, cl_device_id id);

/** Whether @p context holds the device @p dev (a caller's context may hold
 *  several devices). */
int ocl_context_has_device(cl_context context, const ocl_device_t *dev);

/** Largest single allocation to use: the device's, capped by
 *  TCONV_OPENCL_MAX_ALLOC when set. */
uint64_t ocl_device_max_alloc(const ocl_device_t *dev);

#endif /* TCONV_OCL_STATE_H */
