/* SPDX-License-Identifier: Apache-2.0 */
/* tconv: 3-D transposed convolution (Keras Conv3DTranspose, PyTorch
 * ConvTranspose3d, ONNX ConvTranspose) on any compute device, through backend
 * plugins loaded at run time.
 *
 * Workflow:
 *   tconv_context_create()      discover and load plugins (each starts when needed)
 *   tconv_problem_init()        fill a problem with defaults, then set fields
 *   tconv_plan_create()         validate, resolve shapes, pick a device, prepare
 *   tconv_plan_set_weights()    hand over (and let the backend pack) weights
 *   tconv_plan_execute()        run the forward pass, as often as needed
 *   tconv_plan_execute_backward()  gradients (plans made with passes set)
 *   tconv_plan_destroy(), tconv_context_destroy()
 *
 * Every function returns a tconv_status_t; on failure a message naming the
 * argument and the rule is available from tconv_get_last_error() in the
 * calling thread. Nothing is written to outputs on failure.
 */
#ifndef TCONV_TCONV_H
#define TCONV_TCONV_H

#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv_types.h"
#include "tconv/tconv_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TCONV_BUILDING_LIBRARY)
#define TCONV_API __attribute__((visibility("default")))
#else
#define TCONV_API
#endif

/* ---------------------------------------------------------------------- */
/* Library                                                                 */

/** Library version numbers.
 *  @param major Receives the major version; NULL to ignore.
 *  @param minor Receives the minor version; NULL to ignore.
 *  @param patch Receives the patch version; NULL to ignore.
 *  @returns The version as a string, e.g. "0.2.0" (static storage). */
TCONV_API const char *tconv_get_version(int *major, int *minor, int *patch);

/** The message of the last failed call made by this thread ("" if none).
 *  @returns Thread-local storage, valid until the next tconv call in this
 *           thread. */
TCONV_API const char *tconv_get_last_error(void);

/** A short name for a status code, e.g. "invalid_arguments" (static). */
TCONV_API const char *tconv_status_name(tconv_status_t status);

/* ---------------------------------------------------------------------- */
/* Context: plugins and devices                                            */

/** Creates a context: finds plugin files, loads them and checks their
 *  tables. A plugin starts (its init runs and its devices are enumerated)
 *  when its devices are first needed: by a plan or a selection whose
 *  selector can place them (a backend or an id names one plugin; "auto" and
 *  classes need every plugin), by the device count or a device's info, or
 *  by its plugin report. So a context that only plans on "cpu" never starts
 *  the OpenCL plugin, nor loads an OpenCL driver.
 *  Search order: @p search_path, TCONV_PLUGINS (files), TCONV_PLUGIN_PATH
 *  (directories), the "tconv" directory next to libtconv, the installed
 *  plugin directory. Never the current directory.
 *  @param context Receives the new context. Must not be NULL.
 *  @param search_path ':'-separated absolute files or directories searched
 *                     before everything else; NULL or "" for none.
 *  @returns tconv_success even when no device was found (see the plugin
 *           reports); an error only when the context itself cannot be made. */
TCONV_API tconv_status_t tconv_context_create(tconv_context_t *context, const char *search_path);

/** Receives the context's log lines instead of stderr.
 *  @param user_data tconv_context_options_t.log_user_data.
 *  @param level 1 for information (shown from verbosity 1 on), 2 for debug
 *               details (verbosity 2).
 *  @param message One line, "tconv: ..." or "tconv[<backend>]: ...", without
 *                 the newline; valid during the call only. The callback may
 *                 be called from any thread that calls into tconv with this
 *                 context, at the same time. */
typedef void (*tconv_log_callback_t)(void *user_data, int level, const char *message);

/** Where a context keeps the files it reuses across processes (the measured
 *  device choices, plugins' compiled programs). */
typedef enum tconv_cache_mode {
    /** TCONV_CACHE_DIR ("off": none), else $XDG_CACHE_HOME/tconv, else
     *  $HOME/.cache/tconv. */
    tconv_cache_default = 0,
    /** No cache: nothing is written anywhere. */
    tconv_cache_off = 1,
    /** tconv_context_options_t.cache_dir (absolute; created when needed). */
    tconv_cache_directory = 2,
} tconv_cache_mode_t;

/** tconv_context_options_t.plugin_flags: TCONV_PLUGINS and
 *  TCONV_PLUGIN_PATH are not read. */
#define TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT 0x1u
/** tconv_context_options_t.plugin_flags: the default plugin directories
 *  (next to libtconv, the install directory) are not searched: only the
 *  search path (and the variables, unless ignored too). */
#define TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS 0x2u
/** tconv_context_options_t.verbosity: TCONV_VERBOSE decides. */
#define TCONV_VERBOSITY_DEFAULT (-1)

/** How a host application configures a context without environment
 *  variables. tconv_context_options_init() sets the defaults, which are what
 *  tconv_context_create() does: every field left at its default falls back
 *  to the environment variable of the same purpose. */
typedef struct tconv_context_options {
    size_t struct_size; /**< Set by tconv_context_options_init(). */
    /** ':'-separated absolute plugin files or directories searched first
     *  (as tconv_context_create's search_path); NULL for none. */
    const char *search_path;
    /** TCONV_CONTEXT_IGNORE_PLUGIN_ENVIRONMENT, TCONV_CONTEXT_NO_DEFAULT_PLUGIN_DIRS. */
    uint32_t plugin_flags;
    tconv_cache_mode_t cache_mode; /**< Default: tconv_cache_default. */
    const char *cache_dir;         /**< For tconv_cache_directory: an absolute path. */
    /** 0 quiet, 1 information, 2 debug; TCONV_VERBOSITY_DEFAULT (the
     *  default): TCONV_VERBOSE. */
    int verbosity;
    /** Threads a CPU backend uses, 1..4096; 0 (the default):
     *  TCONV_NUM_THREADS, else the online cores. */
    int num_threads;
    /** Log lines go here instead of stderr (NULL, the default: stderr). */
    tconv_log_callback_t log_callback;
    void *log_user_data; /**< Passed to log_callback. */
} tconv_context_options_t;

/** Fills @p options with the defaults (struct_size included); use the macro
 *  tconv_context_options_init(options), which passes the caller's size. */
TCONV_API tconv_status_t tconv_context_options_init_sized(tconv_context_options_t *options,
                                                          size_t struct_size);
#define tconv_context_options_init(options)                                                        \
    tconv_context_options_init_sized((options), sizeof(tconv_context_options_t))

/** Creates a context as tconv_context_create() does, configured by
 *  @p options instead of (or on top of) the environment.
 *  @param context Receives the new context. Must not be NULL.
 *  @param options Made by tconv_context_options_init(), then changed; NULL
 *                 is the defaults.
 *  @returns tconv_invalid_arguments naming the field and the rule for a bad
 *           option (a relative cache_dir, num_threads out of range, ...). */
TCONV_API tconv_status_t tconv_context_create_with_options(tconv_context_t *context,
                                                           const tconv_context_options_t *options);

/** Releases the context. Plans made from it keep it (and its plugins) alive
 *  until they are destroyed. NULL is accepted and ignored. */
TCONV_API void tconv_context_destroy(tconv_context_t context);

/** Number of devices the loaded plugins expose. Starts every plugin not
 *  started yet (see tconv_context_create).
 *  @param context The context. Must not be NULL.
 *  @param count Receives the count. Must not be NULL.
 *  @returns tconv_out_of_memory when starting a plugin runs out of it. */
TCONV_API tconv_status_t tconv_context_get_device_count(tconv_context_t context, size_t *count);

/** Properties of one device. Starts every plugin not started yet.
 *  @param context The context. Must not be NULL.
 *  @param index 0 <= index < device count. Devices are ordered by plugin name
 *               then backend index (stable, never directory order, nor the
 *               order in which plugins started).
 *  @param info Receives the properties; set info->struct_size first to the
 *              bytes the caller's struct has (sizeof); only those are
 *              written. 0 means the tconv 0.1 size. Must not be NULL. */
TCONV_API tconv_status_t tconv_context_get_device_info(tconv_context_t context, size_t index,
                                                       tconv_device_info_t *info);

/** Number of plugin candidate files considered (loaded, skipped or failed).
 *  @param context The context. Must not be NULL.
 *  @param count Receives the count. Must not be NULL. */
TCONV_API tconv_status_t tconv_context_get_plugin_count(tconv_context_t context, size_t *count);

/** What happened to one plugin candidate file, and why. A loaded plugin is
 *  started first (its init and devices decide its report).
 *  @param context The context. Must not be NULL.
 *  @param index 0 <= index < plugin count.
 *  @param report Receives the report; set report->struct_size first (sizeof;
 *                0 means the tconv 0.1 size): only that many bytes are
 *                written. Must not be NULL. */
TCONV_API tconv_status_t tconv_context_get_plugin_report(tconv_context_t context, size_t index,
                                                         tconv_plugin_report_t *report);

/** Chooses the device a plan for @p problem would run on, without making the
 *  plan, and explains the choice.
 *  @param context The context. Must not be NULL.
 *  @param problem The problem; NULL ranks devices without asking backends
 *                 about a particular problem.
 *  @param selector Device selector (see tconv_plan_create); NULL or "auto"
 *                  means TCONV_DEVICE if set, else automatic ranking.
 *  @param device_index Receives the chosen device's index, as
 *                      tconv_context_get_device_info takes it (so every
 *                      plugin is started). Must not be NULL.
 *  @param reason Receives a one-paragraph explanation (ranking and every
 *                declined device with its reason); NULL to skip.
 *  @param reason_size Size of @p reason in bytes. */
TCONV_API tconv_status_t tconv_context_select_device(tconv_context_t context,
                                                     const tconv_problem_t *problem,
                                                     const char *selector, size_t *device_index,
                                                     char *reason, size_t reason_size);

/* ---------------------------------------------------------------------- */
/* Problem description                                                     */

/* Struct sizes across versions. Structs only grow at their end, and each
 * carries struct_size: the library reads and writes only the bytes the
 * caller's struct_size covers. The three calls below have no struct_size
 * argument of their own, so each is a macro passing sizeof of the struct as
 * the caller's header knows it to a *_sized function; the exported function
 * of the plain name is the one binaries built against tconv 0.1 call, and
 * it assumes the 0.1 size (the struct without the fields appended since).
 * Taking the plain name's address (&tconv_problem_init) gets that 0.1
 * function too. */

/** Fills @p problem with defaults for a spatial rank: batch 1, one channel in
 *  and out, kernel 1, strides 1, dilation 1, groups 1, Keras "valid" padding
 *  with output_padding None, channels_last, Keras kernel layout, no bias,
 *  linear activation with its default parameter, float32, the forward pass.
 *  Writes exactly @p struct_size bytes (fields it does not know are zeroed)
 *  and sets problem->struct_size to it.
 *  @param problem The problem to fill. Must not be NULL.
 *  @param struct_size The caller's sizeof(tconv_problem_t); at least the 0.1
 *                     size (the struct up to activation_alpha).
 *  @param spatial_rank 1, 2 or 3. */
TCONV_API tconv_status_t tconv_problem_init_sized(tconv_problem_t *problem, size_t struct_size,
                                                  int spatial_rank);
/** tconv 0.1's entry point: tconv_problem_init_sized with the 0.1 size. */
TCONV_API tconv_status_t tconv_problem_init(tconv_problem_t *problem, int spatial_rank);
/** Fills @p problem with defaults (tconv_problem_init_sized with this header's size). */
#define tconv_problem_init(problem, spatial_rank)                                                  \
    tconv_problem_init_sized((problem), sizeof(tconv_problem_t), (spatial_rank))

/** Validates @p problem and resolves it into the canonical form every backend
 *  computes (per-axis begin crop and output length). Reads only the fields
 *  problem->struct_size covers (older callers get the defaults of newer
 *  fields, e.g. passes = TCONV_PASS_FORWARD).
 *  @param problem The problem. Must not be NULL.
 *  @param resolved Receives the canonical form: @p resolved_size bytes, with
 *                  resolved->struct_size set to the bytes written. Must not
 *                  be NULL.
 *  @param resolved_size The caller's sizeof(tconv_canonical_t); at least the
 *                       0.1 size (up to activation_alpha). */
TCONV_API tconv_status_t tconv_problem_resolve_sized(const tconv_problem_t *problem,
                                                     tconv_canonical_t *resolved,
                                                     size_t resolved_size);
/** tconv 0.1's entry point: tconv_problem_resolve_sized with the 0.1 size. */
TCONV_API tconv_status_t tconv_problem_resolve(const tconv_problem_t *problem,
                                               tconv_canonical_t *resolved);
/** Resolves @p problem (tconv_problem_resolve_sized with this header's size). */
#define tconv_problem_resolve(problem, resolved)                                                   \
    tconv_problem_resolve_sized((problem), (resolved), sizeof(tconv_canonical_t))

/** Shapes of the four tensors, in the problem's layouts, without running.
 *  Each shape has 2 + spatial_rank dimensions; entries past ndims are 1.
 *  The bias, when used, has out_channels values.
 *  @param problem The problem. Must not be NULL.
 *  @param input_dims Receives the input shape; NULL to skip.
 *  @param kernel_dims Receives the kernel shape; NULL to skip.
 *  @param output_dims Receives the output shape; NULL to skip.
 *  @param ndims Receives 2 + spatial_rank; NULL to skip. */
TCONV_API tconv_status_t tconv_problem_get_shapes(const tconv_problem_t *problem,
                                                  int64_t input_dims[TCONV_MAX_DIMS],
                                                  int64_t kernel_dims[TCONV_MAX_DIMS],
                                                  int64_t output_dims[TCONV_MAX_DIMS], int *ndims);

/** Number of floating-point operations of one forward pass,
 *  2*N*D*H*W*Cin*(Cout/groups)*kd*kh*kw (the convention oneDNN reports).
 *  @param problem The problem. Must not be NULL.
 *  @param flops Receives the count. Must not be NULL. */
TCONV_API tconv_status_t tconv_problem_get_flops(const tconv_problem_t *problem, double *flops);

/** Parses an activation name (case-insensitive; Keras spellings such as
 *  "swish" and "hard_swish" are accepted).
 *  @param name The name. Must not be NULL.
 *  @param activation Receives the kind. Must not be NULL. */
TCONV_API tconv_status_t tconv_activation_from_name(const char *name,
                                                    tconv_activation_t *activation);

/** The canonical name of an activation, or NULL for an unknown value. */
TCONV_API const char *tconv_activation_name(tconv_activation_t activation);

/** Keras's default parameter of an activation (leaky_relu 0.2, elu and celu
 *  1.0, hard_shrink and soft_shrink 0.5, squareplus 4.0; others 0). */
TCONV_API double tconv_activation_default_alpha(tconv_activation_t activation);

/* ---------------------------------------------------------------------- */
/* Plans                                                                   */

/** Validates and resolves @p problem, selects a device and lets its backend
 *  prepare (index tables, compiled kernels, ...).
 *  @param plan Receives the plan. Must not be NULL.
 *  @param context The context. Must not be NULL.
 *  @param problem The problem. Must not be NULL. Copied.
 *  @param selector Which device: NULL or "auto" (TCONV_DEVICE if set, else
 *         automatic ranking); a device id "opencl:1"; a backend name
 *         "opencl" (its devices in order); a type "gpu", "accelerator",
 *         "cpu_type"; a comma list tried in order, where "auto" stands for
 *         the ranked rest; and "-name" terms that exclude devices or
 *         backends, e.g. "auto,-opencl".
 *  @returns tconv_no_device when nothing matches or every candidate
 *           declined (the message lists each one's reason). */
TCONV_API tconv_status_t tconv_plan_create(tconv_plan_t *plan, tconv_context_t context,
                                           const tconv_problem_t *problem, const char *selector);

/** Fills @p options (tconv_plan_options_t, in tconv_types.h) with the
 *  defaults, struct_size included; use the macro tconv_plan_options_init(options),
 *  which passes the caller's size. */
TCONV_API tconv_status_t tconv_plan_options_init_sized(tconv_plan_options_t *options,
                                                       size_t struct_size);
#define tconv_plan_options_init(options)                                                           \
    tconv_plan_options_init_sized((options), sizeof(tconv_plan_options_t))

/** tconv_plan_create with plan options, such as the device binary of the
 *  FPGA flow. A device whose plugin cannot take plan options (no
 *  plan_create_with_options slot: the CPU backend, plugins built before it)
 *  declines when a field is set, with the option named in its reason: an
 *  "auto" or list selector moves on to the next device, a selector that
 *  names only such devices fails with tconv_no_device. Devices are then
 *  tried in order as tconv_plan_create does (CPU-class devices measured
 *  with the options too).
 *  @param plan Receives the plan. Must not be NULL.
 *  @param context The context. Must not be NULL.
 *  @param problem The problem. Must not be NULL. Copied.
 *  @param selector Which device, as for tconv_plan_create.
 *  @param options Made by tconv_plan_options_init(), then changed; copied
 *                 (the plan keeps no pointer into it). NULL, or every field
 *                 at its default: exactly tconv_plan_create.
 *  @returns tconv_invalid_arguments naming the field and the rule for a bad
 *           option (struct_size not set, an empty path). */
TCONV_API tconv_status_t tconv_plan_create_with_options(tconv_plan_t *plan, tconv_context_t context,
                                                        const tconv_problem_t *problem,
                                                        const char *selector,
                                                        const tconv_plan_options_t *options);

/** Hands the weights (and bias) to the plan, which copies or packs them; the
 *  caller may free its buffers afterwards. May be called again to swap
 *  weights.
 *  @param plan The plan. Must not be NULL.
 *  @param kernel Kernel in the problem's kernel layout and dtype. Must not be
 *                NULL.
 *  @param bias Cout values of the problem's dtype; must be NULL exactly when
 *              the problem has use_bias = 0. */
TCONV_API tconv_status_t tconv_plan_set_weights(tconv_plan_t plan, const void *kernel,
                                                const void *bias);

/** Runs the forward pass on host memory. One thread at a time per plan;
 *  different plans may run concurrently.
 *  @param plan The plan, with weights set. Must not be NULL.
 *  @param input Input in the problem's data format and dtype. Not NULL.
 *  @param output Output buffer of the size tconv_problem_get_shapes gives.
 *                Not NULL, must not overlap @p input. */
TCONV_API tconv_status_t tconv_plan_execute(tconv_plan_t plan, const void *input, void *output);

/** Runs the backward pass on host memory: for y = act(conv_transpose(x, w)
 *  + b) and dL/dy, computes any subset of dL/dx, dL/dw and dL/db. The
 *  activation's derivative is taken at the pre-activation z, which is
 *  recomputed from @p input with one forward pass (activations other than
 *  linear only); the plan keeps one output-sized workspace for it. Same
 *  thread rule as tconv_plan_execute; nothing is written on failure.
 *  @param plan The plan, with weights set, created with problem->passes
 *              holding TCONV_PASS_BACKWARD_DATA for @p grad_input and
 *              TCONV_PASS_BACKWARD_WEIGHTS for @p grad_kernel / @p grad_bias.
 *  @param input The forward input x (input's shape, layout and dtype).
 *               Needed for @p grad_kernel and for any activation other
 *               than linear; may be NULL otherwise.
 *  @param grad_output dL/dy, in the output's shape, layout and dtype. Not
 *                     NULL.
 *  @param grad_input Receives dL/dx (input's shape and layout); NULL = not
 *                    wanted.
 *  @param grad_kernel Receives dL/dw (kernel's shape and layout); NULL = not
 *                     wanted.
 *  @param grad_bias Receives dL/db (out_channels values); NULL = not wanted;
 *                   must be NULL when the problem has use_bias = 0.
 *  At least one of the three outputs must be given; outputs must not
 *  overlap each other or the inputs. */
TCONV_API tconv_status_t tconv_plan_execute_backward(tconv_plan_t plan, const void *input,
                                                     const void *grad_output, void *grad_input,
                                                     void *grad_kernel, void *grad_bias);

/** Sets the batch later passes of @p plan run, from 1 to the problem's
 *  batch (the default), so that a framework's smaller last batch needs no
 *  new plan (and no OpenCL build). Applies to every execute and enqueue
 *  call made after it; inputs and outputs then hold @p batch samples (the
 *  first ones of the problem's shapes: the batch is outermost). The
 *  results equal those of a plan made for @p batch. A backend that cannot
 *  change its batch runs the problem's, the core padding the samples with
 *  zeros in host workspaces it allocates at the first smaller batch (and
 *  copying the first @p batch samples in and out). On failure the batch
 *  stays what it was.
 *  @param plan The plan. Must not be NULL.
 *  @param batch 1 <= batch <= the problem's batch. */
TCONV_API tconv_status_t tconv_plan_set_batch(tconv_plan_t plan, int64_t batch);

/* ---------------------------------------------------------------------- */
/* Device buffers and asynchronous execution                              */
/*
 * A buffer is memory on a plan's device: an OpenCL buffer on an OpenCL
 * device, host memory on the CPU backend (zero copies) and on any plugin
 * without device memory (the core then runs the plugin's host passes on it,
 * at once: such a pass is done when its enqueue returns, and its errors are
 * returned by the enqueue itself).
 * Slow path: a plan whose problem asks for a backward pass and has an
 * activation other than linear gets the activation from the core, on host
 * memory. On a device with its own memory each pass of such a plan is
 * staged: its inputs are read back (which waits for the work before it),
 * the host pass runs, its results are written; the enqueue returns when
 * that is done. Keep such activations out of the plan (linear, with the
 * activation in your own code) for device-resident training.
 * Model (oneDNN's in-order stream): all buffer calls and enqueues for one
 * device of a context run in call order on one queue of that device, so
 * the output of one plan can be the input of the next with no wait in
 * between. tconv_plan_enqueue* return once the work is queued; the results
 * are there after tconv_plan_wait or a tconv_buffer_read (both wait for
 * everything queued before them on that device). Errors found at enqueue
 * time are returned at once; an error of the queued work itself is
 * returned, with its message, by the next wait or read on that device.
 * Thread rules: one thread at a time per plan (as for execute); buffer
 * calls may come from any thread, the order between threads is the order
 * the calls are made. A buffer must outlive the work queued on it
 * (tconv_buffer_destroy waits for it), and belongs to its context. */

/** Opaque device buffer. */
typedef struct tconv_buffer *tconv_buffer_t;

/** Allocates a buffer on the device @p plan runs on; any plan of the same
 *  context and device may use it.
 *  @param buffer Receives the buffer. Must not be NULL.
 *  @param plan A plan on the device. Must not be NULL.
 *  @param size Bytes, > 0 (tconv_problem_get_shapes gives the tensors'). */
TCONV_API tconv_status_t tconv_buffer_create(tconv_buffer_t *buffer, tconv_plan_t plan,
                                             size_t size);

/** Copies host memory into the buffer, in queue order; returns when @p src
 *  may be reused. A new buffer holds zeros on host memory, and unspecified
 *  bytes on a device until written. size 0 does nothing.
 *  @param buffer The buffer. Must not be NULL.
 *  @param offset Byte offset into the buffer.
 *  @param src Host memory. Must not be NULL.
 *  @param size Bytes; offset + size must not exceed the buffer's size. */
TCONV_API tconv_status_t tconv_buffer_write(tconv_buffer_t buffer, size_t offset, const void *src,
                                            size_t size);

/** Copies the buffer to host memory once everything queued before on its
 *  device has run; returns that work's first error if it failed (then
 *  @p dst is unspecified), with its message, and clears it. size 0 does
 *  nothing.
 *  @param buffer The buffer. Must not be NULL.
 *  @param offset Byte offset into the buffer.
 *  @param dst Host memory. Must not be NULL.
 *  @param size Bytes; offset + size must not exceed the buffer's size. */
TCONV_API tconv_status_t tconv_buffer_read(tconv_buffer_t buffer, size_t offset, void *dst,
                                           size_t size);

/** The buffer's size in bytes.
 *  @param buffer The buffer. Must not be NULL.
 *  @param size Receives it. Must not be NULL. */
TCONV_API tconv_status_t tconv_buffer_get_size(tconv_buffer_t buffer, size_t *size);

/** Releases the buffer after the work queued on it. NULL is ignored. */
TCONV_API void tconv_buffer_destroy(tconv_buffer_t buffer);

/** tconv_plan_set_weights from buffers of the plan's device (its context
 *  and device, as every buffer argument below), in queue order; the
 *  buffers may be reused once the call returns.
 *  @param plan The plan. Must not be NULL.
 *  @param kernel Kernel buffer (the kernel's size or more). Not NULL.
 *  @param bias Bias buffer; NULL exactly when the problem has use_bias = 0. */
TCONV_API tconv_status_t tconv_plan_set_weights_buffers(tconv_plan_t plan, tconv_buffer_t kernel,
                                                        tconv_buffer_t bias);

/** Queues the forward pass on buffers of the plan's device and returns.
 *  Not for OpenCL interop plans (tconv_opencl_plan_execute).
 *  @param plan The plan, with weights set. Must not be NULL.
 *  @param input Holds the input (batch as set by tconv_plan_set_batch);
 *               at least the input's bytes at that batch. Not NULL.
 *  @param output Receives the output (at least its bytes at that batch);
 *                not NULL, not @p input. */
TCONV_API tconv_status_t tconv_plan_enqueue(tconv_plan_t plan, tconv_buffer_t input,
                                            tconv_buffer_t output);

/** Queues the backward pass on buffers: the arguments and rules of
 *  tconv_plan_execute_backward, with buffers for host pointers (each at
 *  least its tensor's bytes at the current batch; a buffer written must be
 *  none of the other arguments). */
TCONV_API tconv_status_t tconv_plan_enqueue_backward(tconv_plan_t plan, tconv_buffer_t input,
                                                     tconv_buffer_t grad_output,
                                                     tconv_buffer_t grad_input,
                                                     tconv_buffer_t grad_kernel,
                                                     tconv_buffer_t grad_bias);

/** Waits until everything queued on the plan's device (or, for an OpenCL
 *  interop plan, everything tconv queued on the caller's queue) has run.
 *  @param plan The plan. Must not be NULL.
 *  @returns The first error of that work since the last wait or read, with
 *           its message ("<device id>: ...") in tconv_get_last_error, which
 *           is then cleared; tconv_success otherwise. */
TCONV_API tconv_status_t tconv_plan_wait(tconv_plan_t plan);

/** Properties of the device the plan runs on.
 *  @param plan The plan. Must not be NULL.
 *  @param info Receives the properties. Must not be NULL. */
TCONV_API tconv_status_t tconv_plan_get_device_info(tconv_plan_t plan, tconv_device_info_t *info);

/** Why the plan's device was chosen (same text as tconv_context_select_device).
 *  @returns Storage owned by the plan; never NULL. */
TCONV_API const char *tconv_plan_get_selection_reason(tconv_plan_t plan);

/** The canonical form the plan computes.
 *  @param plan The plan. Must not be NULL.
 *  @param resolved Receives it: @p resolved_size bytes, with
 *                  resolved->struct_size set to the bytes written. Must not
 *                  be NULL.
 *  @param resolved_size The caller's sizeof(tconv_canonical_t); at least the
 *                       0.1 size. */
TCONV_API tconv_status_t tconv_plan_get_canonical_sized(tconv_plan_t plan,
                                                        tconv_canonical_t *resolved,
                                                        size_t resolved_size);
/** tconv 0.1's entry point: tconv_plan_get_canonical_sized with the 0.1 size. */
TCONV_API tconv_status_t tconv_plan_get_canonical(tconv_plan_t plan, tconv_canonical_t *resolved);
/** The plan's canonical form (tconv_plan_get_canonical_sized with this header's size). */
#define tconv_plan_get_canonical(plan, resolved)                                                   \
    tconv_plan_get_canonical_sized((plan), (resolved), sizeof(tconv_canonical_t))

/** Releases the plan. NULL is accepted and ignored. */
TCONV_API void tconv_plan_destroy(tconv_plan_t plan);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_TCONV_H */
