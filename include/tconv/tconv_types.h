/* SPDX-License-Identifier: Apache-2.0 */
/* Types shared by the public API (tconv.h) and the plugin ABI
 * (tconv_backend.h). Enum values are stable: new values are only appended. */
#ifndef TCONV_TCONV_TYPES_H
#define TCONV_TCONV_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most dimensions a tensor has: batch, channels and three spatial axes. */
#define TCONV_MAX_DIMS 5
/** Most spatial axes. */
#define TCONV_MAX_SPATIAL 3

/** Status codes. Small and stable; details are in tconv_get_last_error(). */
typedef enum tconv_status {
    tconv_success = 0,           /**< The call succeeded. */
    tconv_out_of_memory = 1,     /**< A host or device allocation failed. */
    tconv_invalid_arguments = 2, /**< An argument breaks a rule (message says which). */
    tconv_unimplemented = 3,     /**< Valid, but not supported by this backend/device. */
    tconv_runtime_error = 4,     /**< A device, driver or plugin failed. */
    tconv_no_device = 5,         /**< No device matches the selector or accepts the problem. */
} tconv_status_t;

/** Element type of all tensors of a problem (compute and storage). */
typedef enum tconv_dtype {
    tconv_f32 = 1, /**< IEEE-754 binary32. */
    tconv_f64 = 2, /**< IEEE-754 binary64. */
} tconv_dtype_t;

/** Bit of tconv_device_info_t.dtypes for a dtype. */
#define TCONV_DTYPE_BIT(dt) (1u << (unsigned)(dt))

/** Where the channel axis is, for input and output. */
typedef enum tconv_data_format {
    tconv_channels_last = 0,  /**< (N, [D, H,] W, C): Keras's default. */
    tconv_channels_first = 1, /**< (N, C, [D, H,] W): PyTorch and ONNX. */
} tconv_data_format_t;

/** Kernel array layout (spatial axes k... in D, H, W order). */
typedef enum tconv_kernel_layout {
    tconv_kernel_keras = 0, /**< (k..., Cout/groups, Cin): Keras. */
    tconv_kernel_torch = 1, /**< (Cin, Cout/groups, k...): PyTorch and ONNX. */
} tconv_kernel_layout_t;

/** How the begin/end crops and the output length are chosen. */
typedef enum tconv_padding {
    tconv_padding_explicit = 0,   /**< pads_begin/pads_end (PyTorch: both = padding; ONNX pads). */
    tconv_padding_valid = 1,      /**< Keras "valid" (Keras rules and errors apply). */
    tconv_padding_same = 2,       /**< Keras "same" (Keras rules and errors apply). */
    tconv_padding_same_upper = 3, /**< ONNX auto_pad SAME_UPPER (output = input * stride). */
    tconv_padding_same_lower = 4, /**< ONNX auto_pad SAME_LOWER. */
} tconv_padding_t;

/** Fused element-wise activation applied to conv + bias (Keras semantics).
 *  All: NaN in gives NaN out, +-inf the limit, huge |x| the saturated value (semantics.md). */
typedef enum tconv_activation {
    tconv_activation_linear = 0,       /**< x */
    tconv_activation_relu = 1,         /**< max(x, 0) */
    tconv_activation_relu6 = 2,        /**< min(max(x, 0), 6) */
    tconv_activation_leaky_relu = 3,   /**< x >= 0 ? x : alpha*x (alpha 0.2) */
    tconv_activation_elu = 4,          /**< x > 0 ? x : alpha*(exp(x)-1) (alpha 1) */
    tconv_activation_selu = 5,         /**< scale*elu(x, 1.67326...), scale 1.05070... */
    tconv_activation_sigmoid = 6,      /**< 1/(1+exp(-x)) */
    tconv_activation_hard_sigmoid = 7, /**< clip(x/6 + 1/2, 0, 1) (Keras 3) */
    tconv_activation_hard_silu = 8,    /**< x * hard_sigmoid(x); alias hard_swish */
    tconv_activation_tanh = 9,         /**< tanh(x) */
    tconv_activation_softplus = 10,    /**< log(1+exp(x)) */
    tconv_activation_softsign = 11,    /**< x/(1+|x|) */
    tconv_activation_silu = 12,        /**< x*sigmoid(x); alias swish */
    tconv_activation_gelu = 13,        /**< x/2*(1+erf(x/sqrt 2)) (Keras approximate=False) */
    tconv_activation_exponential = 14, /**< exp(x) */
    tconv_activation_log_sigmoid = 15, /**< -softplus(-x) */
    tconv_activation_mish = 16,        /**< x*tanh(softplus(x)) */
    tconv_activation_celu = 17,        /**< max(x,0) + min(0, alpha*(exp(x/alpha)-1)) (alpha 1) */
    tconv_activation_hard_tanh = 18,   /**< clip(x, -1, 1) */
    tconv_activation_hard_shrink = 19, /**< |x| > alpha ? x : 0 (alpha 0.5) */
    tconv_activation_soft_shrink = 20, /**< x - clip(x, -alpha, alpha) (alpha 0.5) */
    tconv_activation_tanh_shrink = 21, /**< x - tanh(x) */
    tconv_activation_sparse_plus = 22, /**< 0 | (x+1)^2/4 | x for x <= -1 | < 1 | >= 1 */
    tconv_activation_squareplus = 23,  /**< (x + sqrt(x^2 + alpha))/2 (alpha = b = 4) */
    tconv_activation_gelu_tanh = 24,   /**< gelu, tanh approximation (Keras approximate=True) */
} tconv_activation_t;

/** Number of tconv_activation_t values. */
#define TCONV_ACTIVATION_COUNT 25

/** tconv_problem_t.passes bits: which passes a plan is made for. The
 *  forward pass is always available; a plan runs a backward pass only when
 *  its bit is set, so device selection can skip devices without it (as
 *  oneDNN's prop_kind forward_inference / forward_training). */
#define TCONV_PASS_FORWARD          0x1u /**< y = act(conv_transpose(x, w) + b). */
#define TCONV_PASS_BACKWARD_DATA    0x2u /**< dL/dx from dL/dy. */
#define TCONV_PASS_BACKWARD_WEIGHTS 0x4u /**< dL/dw and dL/db from x and dL/dy. */
/** Every pass one training step needs. */
#define TCONV_PASS_TRAINING                                                                        \
    (TCONV_PASS_FORWARD | TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS)

/** A transposed-convolution problem, as a framework user states it. Fill with
 *  tconv_problem_init() first. Spatial arrays hold spatial_rank values in
 *  (D,) H, W order; further entries are ignored. */
typedef struct tconv_problem {
    size_t struct_size;   /**< Caller's sizeof(tconv_problem_t); set by tconv_problem_init. */
    int spatial_rank;     /**< 1, 2 or 3 (lower ranks run as 3-D with unit axes). */
    tconv_dtype_t dtype;  /**< Element type of input, kernel, bias and output. */
    int64_t batch;        /**< N >= 1. */
    int64_t in_channels;  /**< Cin >= 1, divisible by groups. */
    int64_t out_channels; /**< Cout >= 1 (Keras "filters"), divisible by groups. */
    int64_t groups;       /**< >= 1. */
    int64_t input_size[TCONV_MAX_SPATIAL];     /**< Input spatial lengths, >= 1. */
    int64_t kernel_size[TCONV_MAX_SPATIAL];    /**< >= 1. */
    int64_t strides[TCONV_MAX_SPATIAL];        /**< >= 1. */
    int64_t dilation[TCONV_MAX_SPATIAL];       /**< >= 1. */
    tconv_padding_t padding;                   /**< Padding rule. */
    int64_t pads_begin[TCONV_MAX_SPATIAL];     /**< Explicit mode: crop at the start, >= 0. */
    int64_t pads_end[TCONV_MAX_SPATIAL];       /**< Explicit mode: crop at the end, >= 0. */
    int has_output_padding;                    /**< Keras modes: 0 means output_padding=None. */
    int64_t output_padding[TCONV_MAX_SPATIAL]; /**< Extra length at the end, >= 0. */
    int64_t output_shape[TCONV_MAX_SPATIAL];   /**< ONNX output_shape; all 0 = not given. */
    tconv_data_format_t data_format;           /**< Input and output layout. */
    tconv_kernel_layout_t kernel_layout;       /**< Kernel layout. */
    int use_bias;                              /**< Nonzero: add a bias of Cout values. */
    tconv_activation_t activation;             /**< Fused activation. */
    double activation_alpha;                   /**< Activation parameter; NaN = Keras's default. */
    /* Appended in 0.2 (read only when struct_size covers it; older callers
     * get TCONV_PASS_FORWARD). */
    uint32_t passes; /**< TCONV_PASS_* bits; tconv_problem_init sets TCONV_PASS_FORWARD. */
} tconv_problem_t;

/** The canonical form every backend computes (guide: semantics.md). Always
 *  3-D: lower ranks have unit leading axes (size 1, kernel 1, stride 1,
 *  dilation 1, crop 0). Per axis, with i input, t tap, o output index:
 *      y[o] += x[i] * w[t]  for o = i*stride + t*dilation - crop_begin,
 *                           0 <= o < output_size.
 *  Channels: y[n, oc] = act(bias[oc] + sum over ic in oc's group).
 *  Layouts (3-D): input (N,D,H,W,Cin) or (N,Cin,D,H,W); output likewise with
 *  Cout; kernel (kd,kh,kw,Cout/G,Cin) or (Cin,Cout/G,kd,kh,kw); bias (Cout). */
typedef struct tconv_canonical {
    size_t struct_size;     /**< Bytes of it written (the caller's size, at most sizeof). */
    int spatial_rank;       /**< Rank the user asked for (informative). */
    tconv_dtype_t dtype;    /**< Element type. */
    int64_t batch;          /**< N. */
    int64_t in_channels;    /**< Cin. */
    int64_t out_channels;   /**< Cout. */
    int64_t groups;         /**< G; Cin/G inputs feed each of Cout/G outputs. */
    int64_t input_size[3];  /**< D, H, W of the input. */
    int64_t kernel_size[3]; /**< kd, kh, kw. */
    int64_t strides[3];     /**< sd, sh, sw. */
    int64_t dilation[3];    /**< dd, dh, dw. */
    int64_t crop_begin[3];  /**< Begin crop per axis; may be negative (ONNX output_shape). */
    int64_t output_size[3]; /**< Output D, H, W. */
    tconv_data_format_t data_format;     /**< Input/output layout. */
    tconv_kernel_layout_t kernel_layout; /**< Kernel layout. */
    int use_bias;                        /**< Nonzero: bias present. */
    tconv_activation_t activation;       /**< Fused activation. */
    double activation_alpha;             /**< Its parameter (resolved, never NaN). */
    /* Appended in plugin ABI 1.1 (a 1.0 plugin never reads it). */
    uint32_t passes; /**< TCONV_PASS_* bits the plan must run (forward always set). */
} tconv_canonical_t;

/** How a plan is made besides its problem and selector
 *  (tconv_plan_create_with_options; plugins receive it through the
 *  plan_create_with_options slot). Fill with tconv_plan_options_init()
 *  first: every field then has its default, which is what
 *  tconv_plan_create does. A backend's environment variable of the same
 *  purpose stays the default of a field left at NULL. Fields are only
 *  appended; the library reads only those struct_size covers. */
typedef struct tconv_plan_options {
    size_t struct_size; /**< Set by tconv_plan_options_init(). */
    /** A device binary the plan's programs are loaded from instead of
     *  compiled (the FPGA flow; on OpenCL what TCONV_OPENCL_BINARY gives),
     *  as written through program_binary_save; NULL: compile (or the
     *  backend's environment). */
    const char *program_binary;
    /** Where the plan's built program binary is written, for
     *  program_binary later (on OpenCL what TCONV_OPENCL_BINARY_SAVE gives);
     *  NULL: not written (or the backend's environment). */
    const char *program_binary_save;
} tconv_plan_options_t;

/** Device classes, from the backend's device query. */
typedef enum tconv_device_type {
    tconv_device_cpu = 1,         /**< A CPU (native or through a driver such as PoCL). */
    tconv_device_gpu = 2,         /**< A GPU. */
    tconv_device_accelerator = 3, /**< FPGA or other accelerator. */
    tconv_device_custom = 4,      /**< Anything else. */
} tconv_device_type_t;

/** tconv_device_info_t.flags bits. */
#define TCONV_DEVICE_FLAG_HOST_NATIVE 0x1u /**< Runs in-process on host memory (no copies). */
#define TCONV_DEVICE_FLAG_UNIFIED_MEMORY                                                           \
    0x2u /**< Shares memory with the host (integrated GPU).                                        \
          */

/** Device properties. Strings are NUL-terminated; numbers 0 when unknown. */
typedef struct tconv_device_info {
    size_t struct_size;           /**< Caller's sizeof(tconv_device_info_t); 0: the 0.1 size. */
    char id[64];                  /**< "<backend>:<index>", e.g. "opencl:0" (set by the core). */
    char backend[32];             /**< Backend (plugin) name (set by the core). */
    uint32_t index;               /**< Index within the backend (set by the core). */
    tconv_device_type_t type;     /**< Device class. */
    uint32_t flags;               /**< TCONV_DEVICE_FLAG_* bits. */
    char name[128];               /**< Device name. */
    char vendor[128];             /**< Vendor. */
    char driver_version[64];      /**< Driver/backend version. */
    char language_version[64];    /**< E.g. "OpenCL C 1.2"; "" if none. */
    uint32_t compute_units;       /**< Cores / compute units. */
    uint32_t clock_mhz;           /**< Nominal clock. */
    uint64_t global_mem_bytes;    /**< Global memory. */
    uint64_t local_mem_bytes;     /**< Local / shared memory per unit. */
    uint64_t max_alloc_bytes;     /**< Largest single allocation. */
    uint64_t max_work_group_size; /**< Largest work-group; 0 for none. */
    uint32_t dtypes;              /**< TCONV_DTYPE_BIT(dtype) of supported dtypes. */
    uint32_t has_fp16;            /**< Nonzero if half precision is supported. */
} tconv_device_info_t;

/** What the core did with a plugin candidate file. */
typedef enum tconv_plugin_state {
    tconv_plugin_loaded = 0,  /**< In use; its devices are listed. */
    tconv_plugin_skipped = 1, /**< Deliberately not used (duplicate, excluded, no devices). */
    tconv_plugin_failed = 2,  /**< Could not be used (the reason says why). */
} tconv_plugin_state_t;

/** Why (reason code of a plugin report). */
typedef enum tconv_plugin_reason {
    tconv_plugin_ok = 0,           /**< Loaded. */
    tconv_plugin_not_found = 1,    /**< The file does not exist or is not readable. */
    tconv_plugin_open_failed = 2,  /**< The dynamic loader refused it (message has dlerror). */
    tconv_plugin_no_entry = 3,     /**< No tconv_backend_entry symbol. */
    tconv_plugin_abi_mismatch = 4, /**< ABI major differs (found/wanted in the report). */
    tconv_plugin_bad_table = 5,    /**< The function table is malformed (size, NULL slots). */
    tconv_plugin_init_failed = 6,  /**< Its init returned an error (message has its text). */
    tconv_plugin_no_devices = 7,   /**< It loaded but exposes no device. */
    tconv_plugin_excluded = 8,     /**< Excluded by TCONV_DEVICE / selector terms. */
    tconv_plugin_duplicate = 9,    /**< Same file, or same backend name, already loaded. */
    tconv_plugin_insecure = 10,    /**< The file or its directory is writable by other users or
                                        owned by a user other than this one or root: refused. */
} tconv_plugin_reason_t;

/** Report for one plugin candidate file. */
typedef struct tconv_plugin_report {
    size_t struct_size;           /**< Caller's sizeof(tconv_plugin_report_t); 0: the 0.1 size. */
    char path[1024];              /**< Absolute path of the candidate. */
    char name[32];                /**< Backend name, if the table was read; else "". */
    tconv_plugin_state_t state;   /**< Loaded, skipped or failed. */
    tconv_plugin_reason_t reason; /**< Reason code. */
    char message[512];            /**< Human-readable reason. */
    uint32_t abi_major;           /**< ABI major the plugin declared (0 if unknown). */
    uint32_t abi_minor;           /**< ABI minor the plugin declared. */
    size_t device_count;          /**< Devices it exposes. */
} tconv_plugin_report_t;

/** Opaque context (plugins and devices). */
typedef struct tconv_context *tconv_context_t;
/** Opaque plan (one problem on one device). */
typedef struct tconv_plan *tconv_plan_t;

#ifdef __cplusplus
}
#endif

#endif /* TCONV_TCONV_TYPES_H */
