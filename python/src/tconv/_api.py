# SPDX-License-Identifier: Apache-2.0
"""The NumPy API: devices, plans, conv_transpose and conv_transpose_backward.

One process-wide tconv context (plugins loaded once, on first use). Plans are
cached by problem and device selector, so repeated calls on one shape reuse
the device choice and the backend's tables; each plan has a lock because a
tconv plan runs on one thread at a time.
"""

import collections
import ctypes
import math
import os
import sys
import threading
import warnings

import numpy as np

from . import _lib
from ._errors import Error, InvalidArgumentError, error_for_status

_lib_handle = _lib.load()

_state_lock = threading.Lock()
_context = None
# Incremented in a child after os.fork(): plans and the context of the parent
# belong to threads that do not exist in the child, so they are left alone.
_generation = 0

_PLAN_CACHE_SIZE = 64
_plan_cache = collections.OrderedDict()
_plan_cache_lock = threading.Lock()


def _forget_state_after_fork():
    global _context, _generation, _plan_cache_lock, _state_lock
    _generation += 1
    _context = None
    _plan_cache.clear()
    _plan_cache_lock = threading.Lock()
    _state_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_state_after_fork)


def _decode(raw):
    return raw.decode("utf-8", "replace") if raw else ""


def _check(status, what=None):
    if status != _lib.SUCCESS:
        message = _decode(_lib_handle.tconv_get_last_error())
        if not message:
            message = f"{what or 'tconv call'} failed: {_decode(_lib_handle.tconv_status_name(status))}"
        raise error_for_status(status, message)


def _tensorflow_loaded():
    if "tensorflow" in sys.modules:
        return True
    try:
        with open("/proc/self/maps") as maps:
            return "libtensorflow" in maps.read()
    except OSError:
        return False


def _opencl_plugin():
    """The bundled OpenCL plugin's path, or None when it must not be loaded.

    TensorFlow's libtensorflow_framework exports its copy of LLVM's symbols to
    the whole process; an OpenCL driver built on LLVM (PoCL, the CPU driver
    tconv tests with) then binds to TensorFlow's LLVM when the ICD loader
    opens it, and crashes in its static initialisers. So the package keeps
    its OpenCL plugin outside the directory the core scans and hands it over
    only when TensorFlow is not loaded; plugins named in TCONV_PLUGINS or
    TCONV_PLUGIN_PATH are the caller's choice and load as always."""
    path = os.path.join(os.path.dirname(_lib.bundled_library_path()), "opencl",
                        "tconv_backend_opencl.so")
    if os.environ.get("TCONV_LIBRARY") or not os.path.exists(path):
        return None
    if _tensorflow_loaded():
        warnings.warn("tconv: TensorFlow is loaded in this process, so tconv's OpenCL backend is "
                      "not (OpenCL drivers built on LLVM crash next to TensorFlow's LLVM); tconv "
                      "runs on its native CPU backend and any other plugin", RuntimeWarning,
                      stacklevel=3)
        return None
    return path


def _get_context():
    global _context
    if _context is None:
        with _state_lock:
            if _context is None:
                handle = ctypes.c_void_p()
                opencl = _opencl_plugin()
                _check(_lib_handle.tconv_context_create(
                    ctypes.byref(handle), opencl.encode() if opencl else None),
                    "tconv_context_create")
                _context = handle
    return _context


def library_version():
    """The version of the loaded libtconv, e.g. "0.1.0"."""
    return _decode(_lib_handle.tconv_get_version(None, None, None))


def library_path():
    """Absolute path of the libtconv.so this package loaded."""
    return _lib.library_path()


# ---------------------------------------------------------------------------
# Devices


def _dtype_names(bits):
    names = []
    if bits & (1 << _lib.F32):
        names.append("float32")
    if bits & (1 << _lib.F64):
        names.append("float64")
    return names


def _device_dict(info):
    return {
        "id": _decode(info.id),
        "backend": _decode(info.backend),
        "index": info.index,
        "type": _lib.DEVICE_TYPES.get(info.type, f"type {info.type}"),
        "name": _decode(info.name),
        "vendor": _decode(info.vendor),
        "driver_version": _decode(info.driver_version),
        "language_version": _decode(info.language_version),
        "compute_units": info.compute_units,
        "clock_mhz": info.clock_mhz,
        "global_mem_bytes": info.global_mem_bytes,
        "local_mem_bytes": info.local_mem_bytes,
        "max_alloc_bytes": info.max_alloc_bytes,
        "max_work_group_size": info.max_work_group_size,
        "dtypes": _dtype_names(info.dtypes),
        "has_fp16": bool(info.has_fp16),
        "host_native": bool(info.flags & _lib.DEVICE_FLAG_HOST_NATIVE),
        "unified_memory": bool(info.flags & _lib.DEVICE_FLAG_UNIFIED_MEMORY),
    }


def _enumerate(get_count, get_item, struct_class):
    """Every item of a context's list (devices, plugin reports) as a struct."""
    ctx = _get_context()
    count = ctypes.c_size_t()
    _check(get_count(ctx, ctypes.byref(count)))
    items = []
    for index in range(count.value):
        item = struct_class()
        item.struct_size = ctypes.sizeof(item)
        _check(get_item(ctx, index, ctypes.byref(item)))
        items.append(item)
    return items


def devices():
    """The devices the loaded plugins expose, as a list of dicts (id, backend,
    index, type, name, vendor, driver_version, compute_units, memory sizes,
    dtypes, ...), in tconv's stable order."""
    return [_device_dict(info) for info in _enumerate(
        _lib_handle.tconv_context_get_device_count, _lib_handle.tconv_context_get_device_info,
        _lib.DeviceInfo)]


_PLUGIN_STATES = {0: "loaded", 1: "skipped", 2: "failed"}


def plugin_reports():
    """What happened to each plugin candidate file (path, name, state, message,
    abi, device_count), e.g. to see why a vendor plugin was not loaded."""
    reports = _enumerate(_lib_handle.tconv_context_get_plugin_count,
                         _lib_handle.tconv_context_get_plugin_report, _lib.PluginReport)
    return [{
        "path": _decode(report.path),
        "name": _decode(report.name),
        "state": _PLUGIN_STATES.get(report.state, str(report.state)),
        "reason": report.reason,
        "message": _decode(report.message),
        "abi": (report.abi_major, report.abi_minor),
        "device_count": report.device_count,
    } for report in reports]


# ---------------------------------------------------------------------------
# Layer options -> tconv_problem_t


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _per_axis(name, value, rank, allow_none=False):
    """One int for every axis, or a sequence of rank ints."""
    if value is None and allow_none:
        return None
    if _is_int(value):
        return (int(value),) * rank
    try:
        values = tuple(value)
    except TypeError:
        raise InvalidArgumentError(
            f"{name} = {value!r}: must be an int or a sequence of {rank} ints (one per spatial axis)"
        ) from None
    if len(values) != rank or not all(_is_int(v) for v in values):
        raise InvalidArgumentError(
            f"{name} = {value!r}: must be an int or a sequence of {rank} ints (one per spatial axis)"
        )
    return tuple(int(v) for v in values)


_KERAS_PADDINGS = {"valid": _lib.PADDING_VALID, "same": _lib.PADDING_SAME}
_AUTO_PADDINGS = {"same_upper": _lib.PADDING_SAME_UPPER, "same_lower": _lib.PADDING_SAME_LOWER}


def _padding_mode(padding, rank):
    """(mode, pads_begin, pads_end) for the padding argument."""
    if isinstance(padding, str):
        word = padding.lower()
        if word in _KERAS_PADDINGS:
            return _KERAS_PADDINGS[word], (0,) * rank, (0,) * rank
        if word in _AUTO_PADDINGS:
            return _AUTO_PADDINGS[word], (0,) * rank, (0,) * rank
        raise InvalidArgumentError(
            f"padding = '{padding}': must be 'valid' or 'same' (Keras), 'same_upper' or 'same_lower' "
            f"(ONNX auto_pad), an int or {rank} ints (PyTorch) or {2 * rank} ints (ONNX begins "
            "then ends)"
        )
    if _is_int(padding):
        return _lib.PADDING_EXPLICIT, (int(padding),) * rank, (int(padding),) * rank
    try:
        values = tuple(padding)
    except TypeError:
        values = None
    if values is None or not all(_is_int(v) for v in values) or len(values) not in (rank, 2 * rank):
        raise InvalidArgumentError(
            f"padding = {padding!r}: must be 'valid' or 'same' (Keras), an int or {rank} ints "
            f"(PyTorch, both sides) or {2 * rank} ints (ONNX: begins then ends)"
        )
    values = tuple(int(v) for v in values)
    if len(values) == rank:
        return _lib.PADDING_EXPLICIT, values, values
    return _lib.PADDING_EXPLICIT, values[:rank], values[rank:]


def _activation_code(activation):
    if activation is None:
        return 0
    if not isinstance(activation, str):
        raise InvalidArgumentError(
            f"activation = {activation!r}: must be None or the name of an activation "
            "(e.g. 'relu', 'gelu'; see tconv.ACTIVATIONS)"
        )
    code = ctypes.c_int()
    _check(_lib_handle.tconv_activation_from_name(activation.encode(), ctypes.byref(code)))
    return code.value


_DATA_FORMATS = {"channels_last": _lib.CHANNELS_LAST, "channels_first": _lib.CHANNELS_FIRST}
_KERNEL_LAYOUTS = {"keras": _lib.KERNEL_KERAS, "torch": _lib.KERNEL_TORCH,
                   "onnx": _lib.KERNEL_TORCH}


def _choice(name, value, table):
    key = value.lower() if isinstance(value, str) else value
    if key not in table:
        options = ", ".join(f"'{k}'" for k in table)
        raise InvalidArgumentError(f"{name} = {value!r}: must be one of {options}")
    return table[key]


class LayerOptions(collections.namedtuple(
        "LayerOptions",
        "rank strides padding_mode pads_begin pads_end output_padding dilation groups "
        "data_format kernel_layout activation activation_alpha output_shape")):
    """The layer options of conv_transpose, normalised and hashable (the key of
    the plan cache, with the shapes, the dtype and the device)."""

    __slots__ = ()

    @classmethod
    def make(cls, rank, *, strides=1, padding="valid", output_padding=None, dilation_rate=1,
             groups=1, data_format="channels_last", kernel_layout="keras", activation=None,
             activation_alpha=None, output_shape=None):
        if rank not in (1, 2, 3):
            raise InvalidArgumentError(f"spatial rank {rank}: must be 1, 2 or 3")
        mode, begins, ends = _padding_mode(padding, rank)
        if not _is_int(groups):
            raise InvalidArgumentError(f"groups = {groups!r}: must be an int")
        alpha = float(activation_alpha) if activation_alpha is not None else math.nan
        if math.isnan(alpha):
            alpha = math.nan  # one NaN object: LayerOptions are cache keys (NaN != NaN)
        return cls(
            rank=rank,
            strides=_per_axis("strides", strides, rank),
            padding_mode=mode,
            pads_begin=begins,
            pads_end=ends,
            output_padding=_per_axis("output_padding", output_padding, rank, allow_none=True),
            dilation=_per_axis("dilation_rate", dilation_rate, rank),
            groups=int(groups),
            data_format=_choice("data_format", data_format, _DATA_FORMATS),
            kernel_layout=_choice("kernel_layout", kernel_layout, _KERNEL_LAYOUTS),
            activation=_activation_code(activation),
            activation_alpha=alpha,
            output_shape=_per_axis("output_shape", output_shape, rank, allow_none=True),
        )

    def channel_axis(self):
        return 1 if self.data_format == _lib.CHANNELS_FIRST else self.rank + 1

    def spatial_axes(self):
        return range(2, 2 + self.rank) if self.data_format == _lib.CHANNELS_FIRST else range(1, 1 + self.rank)

    def problem(self, dtype_code, input_shape, kernel_shape, use_bias, passes):
        """The tconv_problem_t for arrays of these shapes (shapes already checked
        to have rank + 2 dimensions)."""
        rank = self.rank
        p = _lib.Problem()
        _check(_lib_handle.tconv_problem_init_sized(ctypes.byref(p), ctypes.sizeof(p), rank))
        p.dtype = dtype_code
        p.batch = input_shape[0]
        p.in_channels = input_shape[self.channel_axis()]
        if self.kernel_layout == _lib.KERNEL_KERAS:  # (k..., Cout/G, Cin)
            out_per_group, ks = kernel_shape[rank], kernel_shape[:rank]
        else:  # (Cin, Cout/G, k...)
            out_per_group, ks = kernel_shape[1], kernel_shape[2:]
        p.groups = self.groups
        p.out_channels = out_per_group * self.groups
        spatial = [input_shape[a] for a in self.spatial_axes()]
        for i in range(rank):
            p.input_size[i] = spatial[i]
            p.kernel_size[i] = ks[i]
            p.strides[i] = self.strides[i]
            p.dilation[i] = self.dilation[i]
            p.pads_begin[i] = self.pads_begin[i]
            p.pads_end[i] = self.pads_end[i]
            if self.output_padding is not None:
                p.output_padding[i] = self.output_padding[i]
            if self.output_shape is not None:
                p.output_shape[i] = self.output_shape[i]
        p.padding = self.padding_mode
        p.has_output_padding = int(self.output_padding is not None)
        p.data_format = self.data_format
        p.kernel_layout = self.kernel_layout
        p.use_bias = int(bool(use_bias))
        p.activation = self.activation
        p.activation_alpha = self.activation_alpha
        p.passes = passes
        return p


def _shapes(problem):
    dims = [(ctypes.c_int64 * _lib.MAX_DIMS)() for _ in range(3)]
    ndims = ctypes.c_int()
    _check(_lib_handle.tconv_problem_get_shapes(ctypes.byref(problem), *[ctypes.byref(d) for d in dims],
                                                ctypes.byref(ndims)))
    n = ndims.value
    return tuple(tuple(d[:n]) for d in dims)


# ---------------------------------------------------------------------------
# Arrays


_DTYPE_CODES = {np.dtype(np.float32): _lib.F32, np.dtype(np.float64): _lib.F64}


def compute_dtype(x):
    """The dtype tconv computes a call in: float32 for float32 (and float16)
    input, float64 otherwise (float64, integers, bool)."""
    dt = np.asarray(x).dtype if not hasattr(x, "dtype") else np.dtype(x.dtype)
    if dt.kind == "c":
        raise InvalidArgumentError(f"x.dtype = {dt}: complex input is not supported (float32 or float64)")
    if dt.kind not in "fiub":
        raise InvalidArgumentError(f"x.dtype = {dt}: must be a real number type (float32 or float64)")
    if dt.kind == "f" and dt.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_c_array(value, dtype, name):
    """@p value as a C-contiguous, aligned, native-order array of @p dtype:
    the same object when it already is one (no copy), else a converted copy."""
    arr = np.asarray(value)
    if arr.dtype != dtype or not arr.flags.c_contiguous or not arr.flags.aligned:
        if arr.dtype.kind == "c":
            raise InvalidArgumentError(f"{name}.dtype = {arr.dtype}: complex arrays are not supported")
        arr = np.ascontiguousarray(arr, dtype=dtype)
    return arr


# Arrays the package allocates start on a cache line, as PyTorch's tensors do:
# the CPU backend stores large outputs around the caches only at 64-byte
# aligned addresses, and NumPy's large arrays start 16 bytes past one.
_ALIGNMENT = 64


def aligned_empty(shape, dtype=np.float32):
    """An uninitialized C-contiguous array of @p shape and @p dtype whose data
    starts at a 64-byte boundary (numpy.empty's may not)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dtype.itemsize + _ALIGNMENT, np.uint8)
    skip = -raw.ctypes.data % _ALIGNMENT
    return raw[skip:skip + count * dtype.itemsize].view(dtype).reshape(shape)


def _check_out(out, shape, dtype, name):
    if not isinstance(out, np.ndarray):
        raise InvalidArgumentError(f"{name}: must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise InvalidArgumentError(
            f"{name}: shape {out.shape} and dtype {out.dtype}: must be {tuple(shape)} and {dtype}")
    if not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        raise InvalidArgumentError(f"{name}: must be C-contiguous, aligned and writeable")
    return out


def _ptr(arr):
    return None if arr is None else arr.ctypes.data


_memcmp = ctypes.CDLL(None).memcmp
_memcmp.restype = ctypes.c_int
_memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]


def _same_bytes(a, b):
    """Whether two C-contiguous arrays (or None) hold the same bytes."""
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype and \
        _memcmp(a.ctypes.data, b.ctypes.data, a.nbytes) == 0


# ---------------------------------------------------------------------------
# Plans


class Plan:
    """A tconv plan: one problem (shapes, dtype, layer options) on one device,
    reusable for any number of calls. Make one with Plan(input_shape,
    kernel_shape, ...) (the options of conv_transpose), hand it the weights
    with set_weights, then call execute (and backward, if made with
    training=True). One thread at a time uses a plan (calls are serialised by
    a lock); different plans run concurrently.
    """

    def __init__(self, input_shape, kernel_shape, *, dtype="float32", use_bias=False,
                 training=False, strides=1, padding="valid", output_padding=None,
                 dilation_rate=1, groups=1, data_format="channels_last", kernel_layout="keras",
                 activation=None, activation_alpha=None, output_shape=None, device="auto"):
        input_shape = tuple(int(v) for v in input_shape)
        kernel_shape = tuple(int(v) for v in kernel_shape)
        options = LayerOptions.make(
            len(input_shape) - 2, strides=strides, padding=padding, output_padding=output_padding,
            dilation_rate=dilation_rate, groups=groups, data_format=data_format,
            kernel_layout=kernel_layout, activation=activation, activation_alpha=activation_alpha,
            output_shape=output_shape)
        dtype = np.dtype(dtype)
        if dtype not in _DTYPE_CODES:
            raise InvalidArgumentError(f"dtype = {dtype}: must be float32 or float64")
        if len(kernel_shape) != len(input_shape):
            raise InvalidArgumentError(
                f"kernel has {len(kernel_shape)} dimensions: must have {len(input_shape)} like the "
                "input (spatial rank + 2)")
        self._init(options, dtype, input_shape, kernel_shape, use_bias,
                   _lib.PASS_TRAINING if training else _lib.PASS_FORWARD, device)

    @classmethod
    def _create(cls, options, dtype, input_shape, kernel_shape, use_bias, passes, device):
        plan = cls.__new__(cls)
        plan._init(options, dtype, input_shape, kernel_shape, use_bias, passes, device)
        return plan

    def _init(self, options, dtype, input_shape, kernel_shape, use_bias, passes, device):
        self._handle = None
        self._generation = _generation
        self._lock = threading.Lock()
        self.options = options
        self.dtype = dtype
        self.use_bias = bool(use_bias)
        self.passes = passes
        problem = options.problem(_DTYPE_CODES[dtype], input_shape, kernel_shape, use_bias, passes)
        self.input_shape, self.kernel_shape, self.output_shape = _shapes(problem)
        if tuple(kernel_shape) != self.kernel_shape:
            layout = "(k..., out/groups, in)" if options.kernel_layout == _lib.KERNEL_KERAS \
                else "(in, out/groups, k...)"
            raise InvalidArgumentError(
                f"kernel shape {tuple(kernel_shape)}: must be {self.kernel_shape} for input shape "
                f"{tuple(input_shape)} and groups = {options.groups} (kernel layout "
                f"{'keras' if options.kernel_layout == _lib.KERNEL_KERAS else 'torch'} {layout})")
        self.bias_shape = (self.output_shape[options.channel_axis()],) if use_bias else None
        if not isinstance(device, str):
            raise InvalidArgumentError(f"device = {device!r}: must be a device selector string "
                                       "('auto', 'cpu', 'opencl:0', ...)")
        handle = ctypes.c_void_p()
        _check(_lib_handle.tconv_plan_create(ctypes.byref(handle), _get_context(), ctypes.byref(problem),
                                             device.encode()))
        self._handle = handle
        self._weights_set = False
        self._last_weights = None  # copies of the weights set last (see _set_weights_locked)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value and self._generation == _generation \
                and _lib_handle is not None:
            _lib_handle.tconv_plan_destroy(handle)
            self._handle = None

    def close(self):
        """Releases the plan now (otherwise when it is garbage collected)."""
        with self._lock:
            self.__del__()

    def _live_handle(self):
        if self._handle is None or not self._handle.value:
            raise Error("the plan was closed")
        if self._generation != _generation:
            raise Error("the plan was made before os.fork(): make a new plan in this process")
        return self._handle

    @property
    def training(self):
        return self.passes & _lib.PASS_BACKWARD_DATA != 0

    @property
    def device(self):
        """The id of the device the plan runs on, e.g. "cpu:0"."""
        return self.device_info["id"]

    @property
    def device_info(self):
        info = _lib.DeviceInfo()
        info.struct_size = ctypes.sizeof(info)
        _check(_lib_handle.tconv_plan_get_device_info(self._live_handle(), ctypes.byref(info)))
        return _device_dict(info)

    @property
    def selection_reason(self):
        """Why the plan's device was chosen."""
        return _decode(_lib_handle.tconv_plan_get_selection_reason(self._live_handle()))

    @property
    def canonical(self):
        """The canonical form the plan computes (per axis the begin crop and the
        output length, 3-D), as a dict."""
        c = _lib.Canonical()
        _check(_lib_handle.tconv_plan_get_canonical_sized(self._live_handle(), ctypes.byref(c),
                                                          ctypes.sizeof(c)))
        result = {}
        for name, _ in c._fields_:
            value = getattr(c, name)
            result[name] = tuple(value) if isinstance(value, ctypes.Array) else value
        return result

    # -- weights and passes -------------------------------------------------

    def _prepare_weights(self, kernel, bias):
        kernel = as_c_array(kernel, self.dtype, "kernel")
        if kernel.shape != self.kernel_shape:
            raise InvalidArgumentError(f"kernel shape {kernel.shape}: must be {self.kernel_shape} "
                                       "(the plan's)")
        if self.use_bias:
            if bias is None:
                raise InvalidArgumentError("bias = None: the plan was made with a bias "
                                           f"of shape {self.bias_shape}")
            bias = as_c_array(bias, self.dtype, "bias")
            if bias.shape != self.bias_shape:
                raise InvalidArgumentError(f"bias shape {bias.shape}: must be {self.bias_shape} "
                                           "(out_channels)")
        elif bias is not None:
            raise InvalidArgumentError("bias given: the plan was made without a bias (use_bias=False)")
        return kernel, bias

    def _set_weights_locked(self, kernel, bias, remember=False):
        """Hands the weights over. With @p remember (the functions' cached
        plans), the plan keeps a copy, and weights byte-equal to it are not
        handed over (packed) again: calling conv_transpose in a loop with the
        same weights costs what Plan.execute does, plus one memcmp. Bytes, not
        identities or version counters, so no in-place change is missed."""
        kernel, bias = self._prepare_weights(kernel, bias)
        if remember and self._weights_set and self._last_weights is not None \
                and _same_bytes(kernel, self._last_weights[0]) \
                and _same_bytes(bias, self._last_weights[1]):
            return
        self._last_weights = None
        _check(_lib_handle.tconv_plan_set_weights(self._live_handle(), _ptr(kernel), _ptr(bias)))
        self._weights_set = True
        if remember:
            self._last_weights = (kernel.copy(), None if bias is None else bias.copy())

    def set_weights(self, kernel, bias=None):
        """Hands the kernel (and bias) to the plan, which copies or packs them."""
        with self._lock:
            self._set_weights_locked(kernel, bias)

    def _input(self, x, name="x"):
        x = as_c_array(x, self.dtype, name)
        if x.shape != self.input_shape:
            raise InvalidArgumentError(f"{name} shape {x.shape}: must be {self.input_shape} (the plan's)")
        return x

    def _execute_locked(self, x, out):
        if not self._weights_set:
            raise InvalidArgumentError("the plan has no weights: call set_weights(kernel, bias) first")
        x = self._input(x)
        if out is None:
            out = aligned_empty(self.output_shape, self.dtype)
        else:
            _check_out(out, self.output_shape, self.dtype, "out")
        _check(_lib_handle.tconv_plan_execute(self._live_handle(), _ptr(x), _ptr(out)))
        return out

    def execute(self, x, out=None):
        """The forward pass: returns y (written into @p out when given, which must
        be a C-contiguous array of the output's shape and the plan's dtype)."""
        with self._lock:
            return self._execute_locked(x, out)

    __call__ = execute

    def _backward_locked(self, x, grad_output, grad_input, grad_kernel, grad_bias):
        if self.passes != _lib.PASS_TRAINING:
            raise InvalidArgumentError("backward: the plan was made for the forward pass only; "
                                       "make it with Plan(..., training=True)")
        if not self._weights_set:
            raise InvalidArgumentError("the plan has no weights: call set_weights(kernel, bias) first")
        grad_output = as_c_array(grad_output, self.dtype, "grad_output")
        if grad_output.shape != self.output_shape:
            raise InvalidArgumentError(f"grad_output shape {grad_output.shape}: must be the output's "
                                       f"{self.output_shape}")
        if x is not None:
            x = self._input(x)
        if grad_bias and not self.use_bias:
            grad_bias = False
        gx = aligned_empty(self.input_shape, self.dtype) if grad_input else None
        gk = aligned_empty(self.kernel_shape, self.dtype) if grad_kernel else None
        gb = aligned_empty(self.bias_shape, self.dtype) if grad_bias else None
        if gx is None and gk is None and gb is None:
            return None, None, None
        _check(_lib_handle.tconv_plan_execute_backward(self._live_handle(), _ptr(x), _ptr(grad_output),
                                                       _ptr(gx), _ptr(gk), _ptr(gb)))
        return gx, gk, gb

    def backward(self, x, grad_output, *, grad_input=True, grad_kernel=True, grad_bias=True):
        """The gradients of the loss for dL/dy = @p grad_output: returns
        (grad_input, grad_kernel, grad_bias), each None when not asked for
        (grad_bias is None without a bias). @p x is needed for grad_kernel and
        for any activation other than linear. Needs a plan made with
        training=True."""
        with self._lock:
            return self._backward_locked(x, grad_output, grad_input, grad_kernel, grad_bias)

    def __repr__(self):
        state = "closed" if self._handle is None else self.device
        return (f"<tconv.Plan input {self.input_shape} kernel {self.kernel_shape} -> "
                f"{self.output_shape} {self.dtype} {'training' if self.training else 'forward'} on "
                f"{state}>")


def cached_plan(options, dtype, input_shape, kernel_shape, use_bias, passes, device):
    """A plan from the process-wide cache (least recently used ones dropped
    past 64). A forward call reuses a training plan of the same problem."""
    base = (options, dtype.str, tuple(input_shape), tuple(kernel_shape), bool(use_bias), device)
    with _plan_cache_lock:
        for candidate_passes in ((passes,) if passes != _lib.PASS_FORWARD
                                 else (_lib.PASS_FORWARD, _lib.PASS_TRAINING)):
            plan = _plan_cache.get(base + (candidate_passes,))
            if plan is not None:
                _plan_cache.move_to_end(base + (candidate_passes,))
                return plan
    plan = Plan._create(options, dtype, tuple(input_shape), tuple(kernel_shape), use_bias, passes,
                        device)
    with _plan_cache_lock:
        _plan_cache[base + (passes,)] = plan
        while len(_plan_cache) > _PLAN_CACHE_SIZE:
            _plan_cache.popitem(last=False)
    return plan


def clear_plan_cache():
    """Drops every cached plan (they are released once no call uses them)."""
    with _plan_cache_lock:
        _plan_cache.clear()


def run_forward(options, dtype, x, kernel, bias, passes=_lib.PASS_FORWARD, device="auto"):
    """y for arrays already of @p dtype (a cached plan; weights set under the
    plan's lock together with the run, so concurrent callers cannot swap
    them in between; unchanged weights are not packed again). @p passes:
    PASS_TRAINING when a backward call follows, so both use one plan."""
    plan = cached_plan(options, dtype, x.shape, kernel.shape, bias is not None, passes, device)
    with plan._lock:
        plan._set_weights_locked(kernel, bias, remember=True)
        return plan._execute_locked(x, None)


def run_backward(options, dtype, input_shape, x, kernel, bias, grad_output,
                 want=(True, True, True), device="auto"):
    """(grad_input, grad_kernel, grad_bias) for arrays of @p dtype; @p want says
    which are computed (the others are None). @p x may be None when neither
    grad_kernel nor a non-linear activation needs it."""
    plan = cached_plan(options, dtype, input_shape, kernel.shape, bias is not None, _lib.PASS_TRAINING,
                       device)
    with plan._lock:
        plan._set_weights_locked(kernel, bias, remember=True)
        return plan._backward_locked(x, grad_output, *want)


def _prepare_call(x, kernel, bias, options_kwargs):
    dtype = compute_dtype(x)
    x = as_c_array(x, dtype, "x")
    if x.ndim not in (3, 4, 5):
        raise InvalidArgumentError(
            f"x.ndim = {x.ndim}: must be 3, 4 or 5 (batch, channels and 1-3 spatial axes)")
    kernel = as_c_array(kernel, dtype, "kernel")
    if kernel.ndim != x.ndim:
        raise InvalidArgumentError(f"kernel.ndim = {kernel.ndim}: must be x.ndim = {x.ndim}")
    if bias is not None:
        bias = as_c_array(bias, dtype, "bias")
    options = LayerOptions.make(x.ndim - 2, **options_kwargs)
    return options, dtype, x, kernel, bias


def conv_transpose(x, kernel, bias=None, *, strides=1, padding="valid", output_padding=None,
                   dilation_rate=1, groups=1, data_format="channels_last", kernel_layout="keras",
                   activation=None, activation_alpha=None, output_shape=None, device="auto"):
    """Transposed convolution of @p x (N, spatial..., C) or (N, C, spatial...)
    with @p kernel, plus @p bias, then @p activation. Returns a new NumPy array
    of x's dtype (float32 or float64; float16 computes in float32, integers
    in float64). The spatial rank (1-3) is x.ndim - 2.

    padding: "valid" / "same" (Keras rules, with output_padding None or
    given), an int or one int per axis (PyTorch, both sides), 2 x rank ints
    (ONNX: begins then ends), or "same_upper" / "same_lower" (ONNX auto_pad,
    with output_shape). kernel_layout: "keras" (k..., out/groups, in) or
    "torch" (in, out/groups, k...). device: a tconv selector ("auto", "cpu",
    "opencl:0", ...). Arrays that are C-contiguous and of the computed dtype
    are passed to the library without copies.
    """
    options_kwargs = dict(strides=strides, padding=padding, output_padding=output_padding,
                          dilation_rate=dilation_rate, groups=groups, data_format=data_format,
                          kernel_layout=kernel_layout, activation=activation,
                          activation_alpha=activation_alpha, output_shape=output_shape)
    options, dtype, x, kernel, bias = _prepare_call(x, kernel, bias, options_kwargs)
    return run_forward(options, dtype, x, kernel, bias, _lib.PASS_FORWARD, device)


def conv_transpose_backward(x, kernel, grad_output, bias=None, *, strides=1, padding="valid",
                            output_padding=None, dilation_rate=1, groups=1,
                            data_format="channels_last", kernel_layout="keras", activation=None,
                            activation_alpha=None, output_shape=None, device="auto"):
    """Gradients of conv_transpose (same options) for dL/dy = @p grad_output:
    returns (grad_input, grad_kernel, grad_bias) in the layouts of x, kernel
    and bias; grad_bias is None without a bias. The activation's derivative is
    taken at the pre-activation."""
    options_kwargs = dict(strides=strides, padding=padding, output_padding=output_padding,
                          dilation_rate=dilation_rate, groups=groups, data_format=data_format,
                          kernel_layout=kernel_layout, activation=activation,
                          activation_alpha=activation_alpha, output_shape=output_shape)
    options, dtype, x, kernel, bias = _prepare_call(x, kernel, bias, options_kwargs)
    return run_backward(options, dtype, x.shape, x, kernel, bias,
                        as_c_array(grad_output, dtype, "grad_output"),
                        (True, True, bias is not None), device)


def activation_names():
    """The activations tconv fuses (canonical names)."""
    names = []
    code = 0
    while True:
        name = _lib_handle.tconv_activation_name(code)
        if not name:
            return names
        names.append(_decode(name))
        code += 1
