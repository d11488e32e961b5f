# SPDX-License-Identifier: Apache-2.0
"""tconv: 3-D transposed convolution (Keras Conv3DTranspose, PyTorch
ConvTranspose3d, ONNX ConvTranspose) on any device tconv's plugins find.

    import tconv
    y = tconv.conv_transpose(x, kernel, bias, strides=2, padding="same")
    gx, gk, gb = tconv.conv_transpose_backward(x, kernel, gy, bias, strides=2, padding="same")

PyTorch modules: tconv.torch (ConvTranspose1d/2d/3d); Keras 3 layers:
tconv.keras (Conv1DTranspose/Conv2DTranspose/Conv3DTranspose). Both are
imported on demand, so `import tconv` needs neither framework.
"""

from ._api import (
    LayerOptions,
    Plan,
    activation_names,
    clear_plan_cache,
    conv_transpose,
    conv_transpose_backward,
    devices,
    library_path,
    library_version,
    plugin_reports,
)
from ._errors import (
    DeviceError,
    Error,
    InvalidArgumentError,
    NoDeviceError,
    OutOfMemoryError,
    UnimplementedError,
)

try:
    from importlib.metadata import PackageNotFoundError, version as _dist_version

    try:
        __version__ = _dist_version("tconv")
    except PackageNotFoundError:  # sources used in place (TCONV_LIBRARY)
        __version__ = library_version()
except ImportError:  # Python < 3.8
    __version__ = library_version()

ACTIVATIONS = tuple(activation_names())

__all__ = [
    "ACTIVATIONS",
    "DeviceError",
    "Error",
    "InvalidArgumentError",
    "LayerOptions",
    "NoDeviceError",
    "OutOfMemoryError",
    "Plan",
    "UnimplementedError",
    "__version__",
    "clear_plan_cache",
    "conv_transpose",
    "conv_transpose_backward",
    "devices",
    "library_path",
    "library_version",
    "plugin_reports",
]
