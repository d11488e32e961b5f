# SPDX-License-Identifier: Apache-2.0
"""ctypes binding of libtconv: the structs of include/tconv/tconv_types.h mirrored
field by field, and the prototypes of the functions of include/tconv/tconv.h.

The header's tconv_problem_init / tconv_problem_resolve / tconv_plan_get_canonical
are macros passing sizeof to exported *_sized functions; a ctypes caller has no
header, so it calls the *_sized functions with the size of the structs below
(the exported functions of the plain names assume tconv 0.1's smaller structs).
"""

import ctypes
import os

MAX_DIMS = 5
MAX_SPATIAL = 3

# tconv_status_t
SUCCESS = 0
OUT_OF_MEMORY = 1
INVALID_ARGUMENTS = 2
UNIMPLEMENTED = 3
RUNTIME_ERROR = 4
NO_DEVICE = 5

# tconv_dtype_t
F32 = 1
F64 = 2

# tconv_data_format_t, tconv_kernel_layout_t
CHANNELS_LAST = 0
CHANNELS_FIRST = 1
KERNEL_KERAS = 0
KERNEL_TORCH = 1

# tconv_padding_t
PADDING_EXPLICIT = 0
PADDING_VALID = 1
PADDING_SAME = 2
PADDING_SAME_UPPER = 3
PADDING_SAME_LOWER = 4

# problem.passes bits
PASS_FORWARD = 0x1
PASS_BACKWARD_DATA = 0x2
PASS_BACKWARD_WEIGHTS = 0x4
PASS_TRAINING = PASS_FORWARD | PASS_BACKWARD_DATA | PASS_BACKWARD_WEIGHTS

DEVICE_TYPES = {1: "cpu", 2: "gpu", 3: "accelerator", 4: "custom"}
DEVICE_FLAG_HOST_NATIVE = 0x1
DEVICE_FLAG_UNIFIED_MEMORY = 0x2

_i64x3 = ctypes.c_int64 * MAX_SPATIAL
_c_int = ctypes.c_int  # C enums are ints on every ABI tconv builds for


# Leading and trailing fields tconv_problem_t and tconv_canonical_t share.
_PROBLEM_HEAD = [
    ("struct_size", ctypes.c_size_t),
    ("spatial_rank", ctypes.c_int),
    ("dtype", _c_int),
    ("batch", ctypes.c_int64),
    ("in_channels", ctypes.c_int64),
    ("out_channels", ctypes.c_int64),
    ("groups", ctypes.c_int64),
    ("input_size", _i64x3),
    ("kernel_size", _i64x3),
    ("strides", _i64x3),
    ("dilation", _i64x3),
]
_PROBLEM_TAIL = [
    ("data_format", _c_int),
    ("kernel_layout", _c_int),
    ("use_bias", ctypes.c_int),
    ("activation", _c_int),
    ("activation_alpha", ctypes.c_double),
    ("passes", ctypes.c_uint32),  # appended in 0.2 / plugin ABI 1.1
]


class Problem(ctypes.Structure):
    """tconv_problem_t (0.2 layout, with passes)."""

    _fields_ = _PROBLEM_HEAD + [
        ("padding", _c_int),
        ("pads_begin", _i64x3),
        ("pads_end", _i64x3),
        ("has_output_padding", ctypes.c_int),
        ("output_padding", _i64x3),
        ("output_shape", _i64x3),
    ] + _PROBLEM_TAIL


class Canonical(ctypes.Structure):
    """tconv_canonical_t (plugin ABI 1.1 layout, with passes)."""

    _fields_ = _PROBLEM_HEAD + [
        ("crop_begin", _i64x3),
        ("output_size", _i64x3),
    ] + _PROBLEM_TAIL


class DeviceInfo(ctypes.Structure):
    """tconv_device_info_t."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("id", ctypes.c_char * 64),
        ("backend", ctypes.c_char * 32),
        ("index", ctypes.c_uint32),
        ("type", _c_int),
        ("flags", ctypes.c_uint32),
        ("name", ctypes.c_char * 128),
        ("vendor", ctypes.c_char * 128),
        ("driver_version", ctypes.c_char * 64),
        ("language_version", ctypes.c_char * 64),
        ("compute_units", ctypes.c_uint32),
        ("clock_mhz", ctypes.c_uint32),
        ("global_mem_bytes", ctypes.c_uint64),
        ("local_mem_bytes", ctypes.c_uint64),
        ("max_alloc_bytes", ctypes.c_uint64),
        ("max_work_group_size", ctypes.c_uint64),
        ("dtypes", ctypes.c_uint32),
        ("has_fp16", ctypes.c_uint32),
    ]


class PluginReport(ctypes.Structure):
    """tconv_plugin_report_t."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("path", ctypes.c_char * 1024),
        ("name", ctypes.c_char * 32),
        ("state", _c_int),
        ("reason", _c_int),
        ("message", ctypes.c_char * 512),
        ("abi_major", ctypes.c_uint32),
        ("abi_minor", ctypes.c_uint32),
        ("device_count", ctypes.c_size_t),
    ]


def bundled_library_path():
    """libtconv.so installed with the package (python/CMakeLists.txt)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "libtconv.so")


def library_path():
    """The bundled library; TCONV_LIBRARY (an absolute path) overrides it, e.g.
    to run this package's sources against a build tree's lib/libtconv.so."""
    override = os.environ.get("TCONV_LIBRARY")
    if override:
        if not os.path.isabs(override):
            raise OSError(f"TCONV_LIBRARY = '{override}': must be an absolute path")
        return override
    return bundled_library_path()


def _declare(lib):
    status = ctypes.c_int
    vp = ctypes.c_void_p
    sz = ctypes.c_size_t
    protos = {
        "tconv_get_version": (ctypes.c_char_p, [ctypes.POINTER(ctypes.c_int)] * 3),
        "tconv_get_last_error": (ctypes.c_char_p, []),
        "tconv_status_name": (ctypes.c_char_p, [ctypes.c_int]),
        "tconv_context_create": (status, [ctypes.POINTER(vp), ctypes.c_char_p]),
        "tconv_context_destroy": (None, [vp]),
        "tconv_context_get_device_count": (status, [vp, ctypes.POINTER(sz)]),
        "tconv_context_get_device_info": (status, [vp, sz, ctypes.POINTER(DeviceInfo)]),
        "tconv_context_get_plugin_count": (status, [vp, ctypes.POINTER(sz)]),
        "tconv_context_get_plugin_report": (status, [vp, sz, ctypes.POINTER(PluginReport)]),
        "tconv_context_select_device": (
            status,
            [vp, ctypes.POINTER(Problem), ctypes.c_char_p, ctypes.POINTER(sz), ctypes.c_char_p, sz],
        ),
        "tconv_problem_init_sized": (status, [ctypes.POINTER(Problem), sz, ctypes.c_int]),
        "tconv_problem_resolve_sized": (
            status,
            [ctypes.POINTER(Problem), ctypes.POINTER(Canonical), sz],
        ),
        "tconv_problem_get_shapes": (
            status,
            [ctypes.POINTER(Problem)]
            + [ctypes.POINTER(ctypes.c_int64 * MAX_DIMS)] * 3
            + [ctypes.POINTER(ctypes.c_int)],
        ),
        "tconv_problem_get_flops": (status, [ctypes.POINTER(Problem), ctypes.POINTER(ctypes.c_double)]),
        "tconv_activation_from_name": (status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
        "tconv_activation_name": (ctypes.c_char_p, [ctypes.c_int]),
        "tconv_activation_default_alpha": (ctypes.c_double, [ctypes.c_int]),
        "tconv_plan_create": (status, [ctypes.POINTER(vp), vp, ctypes.POINTER(Problem), ctypes.c_char_p]),
        "tconv_plan_set_weights": (status, [vp, vp, vp]),
        "tconv_plan_execute": (status, [vp, vp, vp]),
        "tconv_plan_execute_backward": (status, [vp, vp, vp, vp, vp, vp]),
        "tconv_plan_get_device_info": (status, [vp, ctypes.POINTER(DeviceInfo)]),
        "tconv_plan_get_selection_reason": (ctypes.c_char_p, [vp]),
        "tconv_plan_get_canonical_sized": (status, [vp, ctypes.POINTER(Canonical), sz]),
        "tconv_plan_destroy": (None, [vp]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def load():
    path = library_path()
    try:
        # CDLL releases the GIL around every call: plans run concurrently
        # from Python threads as they do from C threads.
        lib = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:
        raise ImportError(
            f"tconv: cannot load libtconv from '{path}': {e} (reinstall with `pip install ./python`, "
            "or set TCONV_LIBRARY to the absolute path of a libtconv.so)"
        ) from e
    return _declare(lib)
