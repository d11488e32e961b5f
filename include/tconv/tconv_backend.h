/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin ABI: what a backend plugin exports so the tconv core can load it.
 *
 * A plugin is a shared module that exports one C symbol,
 *     const tconv_backend_t *tconv_backend_entry(void);
 * returning a static, versioned table of function pointers. Rules:
 *   - The table starts with struct_size, abi_major, abi_minor. The core refuses
 *     a different abi_major, accepts any abi_minor, and reads only the fields
 *     below min(struct_size, sizeof(tconv_backend_t)) as it knows it.
 *   - Fields are only ever appended (new minor). A NULL optional slot means
 *     "unsupported"; the required slots are marked below.
 *   - init and get_device_* must be cheap: query the driver only, create no
 *     contexts, queues or programs. Those belong in plan_create.
 *   - Every function that can fail writes a human-readable message into
 *     (msg, msg_size) naming what failed; the core prefixes the device id.
 *   - Build plugins with hidden visibility; export only the entry symbol
 *     (TCONV_BACKEND_EXPORT below).
 * See plugins/example for a complete out-of-tree plugin. */
#ifndef TCONV_TCONV_BACKEND_H
#define TCONV_TCONV_BACKEND_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TCONV_BACKEND_ABI_MAJOR 1 /**< Changes only on incompatible changes. */
#define TCONV_BACKEND_ABI_MINOR 2 /**< Grows when slots are appended. */

/** Name of the symbol every plugin exports. */
#define TCONV_BACKEND_ENTRY_SYMBOL "tconv_backend_entry"

/** Marks the entry point as the plugin's only exported symbol. */
#define TCONV_BACKEND_EXPORT __attribute__((visibility("default")))

/** Log levels for tconv_host_t.log. */
typedef enum tconv_log_level {
    tconv_log_error = 0, /**< Always shown on TCONV_VERBOSE=1 and above. */
    tconv_log_info = 1,  /**< Shown on TCONV_VERBOSE=1 and above. */
    tconv_log_debug = 2, /**< Shown on TCONV_VERBOSE=2. */
} tconv_log_level_t;

/** Services the core offers a plugin (passed to init, valid until fini).
 *
 *  When the environment is read (docs/internals.md has the table): what
 *  configures a context (plugins, cache directory, threads) once, at context
 *  creation, and the context options override it; TCONV_VERBOSE, unless the
 *  context's verbosity option is set, at every call (every log line), so a
 *  change between two calls applies to the next one, in the core's lines and
 *  in the plugins' alike. A plugin's own variables are the plugin's business:
 *  the in-tree OpenCL plugin reads its TCONV_OPENCL_* variables at every plan,
 *  the CPU plugin TCONV_CPU_ISA when it starts. */
typedef struct tconv_host {
    size_t struct_size; /**< sizeof(tconv_host_t) as the core knows it. */
    uint32_t abi_major; /**< Core's TCONV_BACKEND_ABI_MAJOR. */
    uint32_t abi_minor; /**< Core's TCONV_BACKEND_ABI_MINOR. */
    /** printf-style logging: the line is shown (or goes to the context's
     *  log callback) when its level needs no more than the verbosity in
     *  effect at this call (tconv_host_get_verbosity). */
    void (*log)(tconv_log_level_t level, const char *backend, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /** The verbosity at context creation (0, 1, 2): the context's option,
     *  else TCONV_VERBOSE at that moment. A snapshot, kept for plugins built
     *  before verbosity below: log filters by the verbosity in effect at
     *  each call, which tconv_host_get_verbosity gives. */
    int verbose;
    /** Number of host threads a CPU backend should use (from TCONV_NUM_THREADS
     *  or the number of online cores). */
    int num_threads;
    /* Appended after ABI 1.1: read it only when struct_size covers it
     * (offsetof(tconv_host_t, cache_dir) + sizeof(const char *)); an older
     * core passes a shorter struct, and the plugin then caches nothing. */
    /** The directory where a plugin may keep files across processes (an
     *  absolute path the core resolved from TCONV_CACHE_DIR, XDG_CACHE_HOME or
     *  HOME, perhaps not created yet), or NULL: caching is off. Plugins use
     *  it rather than reading the environment themselves. */
    const char *cache_dir;
    /* Appended after cache_dir (ABI 1.2): read it only when struct_size
     * covers it, as tconv_host_get_verbosity does. */
    /** The verbosity log applies at this moment on the calling thread (0, 1,
     *  2): the context's verbosity option when it set one, else TCONV_VERBOSE
     *  as it is now. Cheap; call it before preparing costly log output. */
    int (*verbosity)(void);
} tconv_host_t;

/** The verbosity in effect now, the one tconv_host_t.log filters by:
 *  host->verbosity() from a core that provides it, else host->verbose (an
 *  older core, whose log filter may follow TCONV_VERBOSE while verbose
 *  stays the level at context creation). */
static inline int tconv_host_get_verbosity(const tconv_host_t *host) {
    const size_t end = offsetof(tconv_host_t, verbosity) + sizeof(host->verbosity);
    return host->struct_size >= end && host->verbosity != NULL ? host->verbosity() : host->verbose;
}

/** Native synchronisation for the ABI 1.2 enqueue slots: what an interop
 *  caller (tconv_opencl.h) passes through. NULL means plain in-order
 *  execution on the plan's queue. For OpenCL, wait_events is a cl_event
 *  array and event a cl_event * (the plugin returns a retained event). */
typedef struct tconv_native_sync {
    uint32_t num_wait_events; /**< Entries of wait_events. */
    const void *wait_events;  /**< Native events the work must wait for, or NULL. */
    void *event;              /**< Receives a native event of the work, or NULL. */
} tconv_native_sync_t;

/** Opaque per-instance backend state (what init returns). */
typedef void *tconv_backend_state_t;
/** Opaque backend plan. */
typedef void *tconv_backend_plan_t;

/** The function table. Required slots: name, init, fini, get_device_count,
 *  get_device_info, plan_create, plan_set_weights, plan_execute,
 *  plan_destroy. Optional: query (NULL: accepts everything, speed unknown),
 *  the ABI 1.1 backward slots (NULL or absent: no backward pass; the core
 *  then skips the device for problems whose passes ask for one), and the
 *  ABI 1.2 batch, buffer, interop and plan-options slots (see there). */
typedef struct tconv_backend {
    size_t struct_size;      /**< sizeof(tconv_backend_t) as the plugin was built. */
    uint32_t abi_major;      /**< TCONV_BACKEND_ABI_MAJOR the plugin was built with. */
    uint32_t abi_minor;      /**< TCONV_BACKEND_ABI_MINOR the plugin was built with. */
    const char *name;        /**< Short backend name, [a-z0-9_]+, e.g. "opencl". */
    const char *description; /**< One line for `tconv devices`. */

    /** Initialises one instance (a context may create several over time).
     *  Cheap: no device contexts. Returning success with zero devices is the
     *  right answer when there is no hardware (say why in msg).
     *  @param host Core services, valid until fini.
     *  @param state Receives the instance state. */
    tconv_status_t (*init)(const tconv_host_t *host, tconv_backend_state_t *state, char *msg,
                           size_t msg_size);
    /** Releases the instance; called after every plan of it is destroyed. */
    void (*fini)(tconv_backend_state_t state);

    /** Number of devices (cheap). */
    tconv_status_t (*get_device_count)(tconv_backend_state_t state, size_t *count);
    /** Properties of device @p device. The core fills id, backend and index;
     *  info->struct_size says how much the core's struct holds. */
    tconv_status_t (*get_device_info)(tconv_backend_state_t state, size_t device,
                                      tconv_device_info_t *info);

    /** Optional. Would this device run @p problem? tconv_success to accept
     *  (with an estimated time in seconds, or a negative value if unknown),
     *  tconv_unimplemented to decline with the reason in msg. Cheap. */
    tconv_status_t (*query)(tconv_backend_state_t state, size_t device,
                            const tconv_canonical_t *problem, double *est_seconds, char *msg,
                            size_t msg_size);

    /** Prepares a plan (may compile kernels, build index tables). May decline
     *  with tconv_unimplemented; the core then tries the next device. */
    tconv_status_t (*plan_create)(tconv_backend_state_t state, size_t device,
                                  const tconv_canonical_t *problem, tconv_backend_plan_t *plan,
                                  char *msg, size_t msg_size);
    /** Copies/packs weights (layout and dtype as in the problem); bias is
     *  NULL exactly when problem->use_bias is 0. */
    tconv_status_t (*plan_set_weights)(tconv_backend_plan_t plan, const void *kernel,
                                       const void *bias, char *msg, size_t msg_size);
    /** Forward pass on host memory; called only after plan_set_weights. */
    tconv_status_t (*plan_execute)(tconv_backend_plan_t plan, const void *input, void *output,
                                   char *msg, size_t msg_size);
    /** Releases a plan. */
    void (*plan_destroy)(tconv_backend_plan_t plan);
    /* ABI 1.0 ends here. */

    /* ABI 1.1: the backward pass. The core calls these only on plans whose
     * problem->passes has the pass's bit, and only after plan_set_weights.
     * The activation never reaches a backend's backward pass: for a plan
     * with a backward pass the core creates the backend plan with a linear
     * activation (the backend's forward pass then returns the
     * pre-activation z = conv_transpose(x, w) + b) and applies the
     * activation and its derivative itself, so @p grad_output below is
     * dL/dz, in the output's layout and dtype.
     * A plan_create that cannot do a requested backward pass declines with
     * tconv_unimplemented. Outputs are overwritten, not accumulated. */

    /** Optional. dL/dx (input's shape and layout) from dL/dz:
     *  dx[n, ci, i] = sum over taps t and the group's output channels o of
     *  dz[n, o, i*stride + t*dilation - crop_begin] * w[ci, o, t]. */
    tconv_status_t (*plan_backward_data)(tconv_backend_plan_t plan, const void *grad_output,
                                         void *grad_input, char *msg, size_t msg_size);
    /** Optional. dL/dw (kernel's shape and layout) and dL/db (Cout values)
     *  from the forward input x and dL/dz:
     *  dw[ci, o, t] = sum over n, i of x[n, ci, i] * dz[n, o, i*stride + t*dilation - crop_begin],
     *  db[o] = sum over n and output points of dz[n, o, .].
     *  Either output may be NULL (not wanted), never both; @p grad_bias is
     *  NULL whenever problem->use_bias is 0. */
    tconv_status_t (*plan_backward_weights)(tconv_backend_plan_t plan, const void *input,
                                            const void *grad_output, void *grad_kernel,
                                            void *grad_bias, char *msg, size_t msg_size);
    /* ABI 1.1 ends here. */

    /* ABI 1.2: device memory, asynchronous execution, run-time batch,
     * native interop and plan options. All optional; the first two in two
     * groups (plan_create_with_options, last, stands alone):
     *  - plan_set_batch alone: the host slots above then run the first
     *    `batch` samples. Without it the core pads a smaller batch to the
     *    plan's with zeros through host workspaces.
     *  - the buffer group (buffer_create .. plan_wait): a plugin that has
     *    buffer_create must fill every slot of the group and plan_set_batch
     *    (buffer_wrap_native and plan_create_native stay optional); the
     *    loader refuses a table with part of the group (bad_table).
     *    Without the group the core makes host-memory buffers itself and
     *    runs the host slots on them, synchronously (zero copies on a
     *    host-memory device such as the CPU backend, which has no group).
     *    Plans whose activation the core applies (a backward pass and a
     *    non-linear activation) never reach the enqueue slots: the core
     *    stages their passes with buffer_read, the host slots and
     *    buffer_write.
     * Ordering: every buffer_write/buffer_read and every enqueue of one
     * device (of one backend instance) runs in call order on one in-order
     * queue (the device queue), except for plans made by plan_create_native,
     * which enqueue on the caller's queue. The core serialises calls on one
     * plan; buffer calls may come from any thread. Errors found while
     * enqueueing are returned at once; errors of the work itself are kept
     * and returned (with their message) by the next plan_wait or
     * buffer_read of that queue, then cleared. A buffer handle is the
     * plugin's own (e.g. a struct holding a cl_mem); the core never looks
     * inside. */

    /** The number of samples later passes of @p plan run: 1..problem->batch
     *  (checked by the core). Host and enqueue slots alike; an enqueue
     *  captures it when called. Results must equal those of a plan made for
     *  that batch. On failure the plan keeps its previous batch. */
    tconv_status_t (*plan_set_batch)(tconv_backend_plan_t plan, int64_t batch, char *msg,
                                     size_t msg_size);

    /** Allocates @p size bytes (> 0) of device memory on @p device. */
    tconv_status_t (*buffer_create)(tconv_backend_state_t state, size_t device, size_t size,
                                    void **buffer, char *msg, size_t msg_size);
    /** Makes a buffer handle for a native memory object of @p device (a
     *  cl_mem for OpenCL) without copying: the plugin retains the object and
     *  releases it in buffer_destroy. @p size receives its size in bytes.
     *  Optional within the group (NULL: no native interop). */
    tconv_status_t (*buffer_wrap_native)(tconv_backend_state_t state, size_t device,
                                         void *native_memory, size_t *size, void **buffer,
                                         char *msg, size_t msg_size);
    /** Releases a buffer; work already enqueued on it completes first. */
    void (*buffer_destroy)(tconv_backend_state_t state, size_t device, void *buffer);
    /** Copies @p size bytes of host memory into the buffer at @p offset, in
     *  order on the device queue; returns when @p src may be reused. */
    tconv_status_t (*buffer_write)(tconv_backend_state_t state, size_t device, void *buffer,
                                   size_t offset, const void *src, size_t size, char *msg,
                                   size_t msg_size);
    /** Copies @p size bytes at @p offset to host memory after every earlier
     *  call on the device queue; returns the first failure of that earlier
     *  work, if any (then @p dst is unspecified). */
    tconv_status_t (*buffer_read)(tconv_backend_state_t state, size_t device, const void *buffer,
                                  size_t offset, void *dst, size_t size, char *msg,
                                  size_t msg_size);
    /** plan_set_weights from buffers of the plan's device (bias NULL exactly
     *  when problem->use_bias is 0); in queue order; the buffers may be
     *  changed or destroyed once the call returns. */
    tconv_status_t (*plan_set_weights_buffers)(tconv_backend_plan_t plan, const void *kernel,
                                               const void *bias, char *msg, size_t msg_size);
    /** Enqueues the forward pass on buffers (sizes checked by the core). */
    tconv_status_t (*plan_enqueue)(tconv_backend_plan_t plan, const void *input, void *output,
                                   const tconv_native_sync_t *sync, char *msg, size_t msg_size);
    /** Enqueues plan_backward_data on buffers (same contract). */
    tconv_status_t (*plan_enqueue_backward_data)(tconv_backend_plan_t plan, const void *grad_output,
                                                 void *grad_input, const tconv_native_sync_t *sync,
                                                 char *msg, size_t msg_size);
    /** Enqueues plan_backward_weights on buffers (same contract; either
     *  output may be NULL, never both). */
    tconv_status_t (*plan_enqueue_backward_weights)(tconv_backend_plan_t plan, const void *input,
                                                    const void *grad_output, void *grad_kernel,
                                                    void *grad_bias,
                                                    const tconv_native_sync_t *sync, char *msg,
                                                    size_t msg_size);
    /** Waits for everything enqueued on the plan's queue; returns the first
     *  failure of that work since the last wait (and clears it). plan_destroy
     *  may come with work of the plan still queued: it must not free what
     *  that work uses before it has run. */
    tconv_status_t (*plan_wait)(tconv_backend_plan_t plan, char *msg, size_t msg_size);
    /** Optional within the group: plan_create on the device and queue of a
     *  native queue handle (a cl_command_queue for OpenCL), which the plan
     *  retains and enqueues on. @p device receives the plugin's index of the
     *  queue's device; tconv_no_device if it is none of the plugin's. The
     *  core passes such a plan buffers from buffer_wrap_native only (made
     *  per call, destroyed right after the enqueue returns), never asks it
     *  for a pass whose activation the core applies, and may call its host
     *  slots (tconv_plan_set_weights, tconv_plan_execute*: they run on the
     *  caller's queue and return when done). */
    tconv_status_t (*plan_create_native)(tconv_backend_state_t state,
                                         const tconv_canonical_t *problem, void *native_queue,
                                         size_t *device, tconv_backend_plan_t *plan, char *msg,
                                         size_t msg_size);
    /** Optional, on its own (no group): plan_create with plan options
     *  (tconv_plan_create_with_options), such as a device binary to load
     *  the plan's programs from instead of compiling them (the FPGA flow).
     *  The core calls it instead of plan_create only when the caller set a
     *  field; without it such a device declines, with the option named. The
     *  core passes its own copy: struct_size is sizeof(tconv_plan_options_t)
     *  as the core knows it, fields past it are absent (read only what
     *  struct_size covers), a field the caller left at NULL is NULL (the
     *  plugin's environment variable of the same purpose may fill it), and
     *  @p options is valid during the call only (copy what the plan keeps).
     *  Decline (tconv_unimplemented) a set field the device cannot honour,
     *  naming the option; messages name the option that gave a value
     *  ("plan option program_binary '<path>': ...") rather than an
     *  environment variable. Same contract as plan_create otherwise. */
    tconv_status_t (*plan_create_with_options)(tconv_backend_state_t state, size_t device,
                                               const tconv_canonical_t *problem,
                                               const tconv_plan_options_t *options,
                                               tconv_backend_plan_t *plan, char *msg,
                                               size_t msg_size);
    /* ABI 1.2 ends here. Append new slots below and bump the minor. */
} tconv_backend_t;

/** Signature of the entry symbol. */
typedef const tconv_backend_t *(*tconv_backend_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_TCONV_BACKEND_H */
