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
#define TCONV_BACKEND_ABI_MINOR 1 /**< Grows when slots are appended. */

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

/** Services the core offers a plugin (passed to init, valid until fini). */
typedef struct tconv_host {
    size_t struct_size; /**< sizeof(tconv_host_t) as the core knows it. */
    uint32_t abi_major; /**< Core's TCONV_BACKEND_ABI_MAJOR. */
    uint32_t abi_minor; /**< Core's TCONV_BACKEND_ABI_MINOR. */
    /** printf-style logging, shown according to TCONV_VERBOSE. */
    void (*log)(tconv_log_level_t level, const char *backend, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /** Verbosity from TCONV_VERBOSE (0, 1, 2). */
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
} tconv_host_t;

/** Opaque per-instance backend state (what init returns). */
typedef void *tconv_backend_state_t;
/** Opaque backend plan. */
typedef void *tconv_backend_plan_t;

/** The function table. Required slots: name, init, fini, get_device_count,
 *  get_device_info, plan_create, plan_set_weights, plan_execute,
 *  plan_destroy. Optional: query (NULL: accepts everything, speed unknown),
 *  and the ABI 1.1 backward slots (NULL or absent: no backward pass; the core
 *  then skips the device for problems whose passes ask for one). */
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
    /* ABI 1.1 ends here. Append new slots below and bump the minor. */
} tconv_backend_t;

/** Signature of the entry symbol. */
typedef const tconv_backend_t *(*tconv_backend_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_TCONV_BACKEND_H */
