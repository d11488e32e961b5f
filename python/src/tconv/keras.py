# SPDX-License-Identifier: Apache-2.0
"""Keras 3 layers computed by tconv: Conv1DTranspose, Conv2DTranspose,
Conv3DTranspose.

Each is a subclass of the keras.layers class of the same name: the
constructor, get_config / from_config, the weights (kernel (k..., filters,
in), bias (filters,)) with their names, initializers, regularizers and
constraints are Keras's own, so set_weights(native.get_weights()) works both
ways. call() runs tconv for the forward pass and registers tconv's backward
pass as the gradient:

- TensorFlow backend: tf.custom_gradient around tf.numpy_function, so it works
  eagerly and in graph mode (model.fit's tf.function); not under XLA, so the
  layers report supports_jit = False and jit_compile="auto" leaves XLA off.
- PyTorch backend: the torch.autograd.Function of tconv.torch (CPU tensors).
- NumPy backend: forward only.

The activation is fused into tconv when it is one of Keras's built-in
element-wise activations with its default parameter (tconv computes its
derivative too); any other callable is applied after tconv by Keras.
The layers are registered as serializable (package "tconv"), so a saved
.keras model that uses them reloads once tconv.keras is imported.
"""

import keras
import numpy as np

from . import _api
from ._errors import UnimplementedError

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"]

# Keras built-in activations tconv computes with the same default parameter
# (tconv_activation_default_alpha is Keras's default for each).
_FUSABLE_ACTIVATIONS = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "hard_silu", "tanh",
    "softplus", "softsign", "silu", "gelu", "exponential", "log_sigmoid", "mish", "celu",
    "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "sparse_plus", "squareplus",
)


def _fusable_table():
    table = {}
    for name in _FUSABLE_ACTIVATIONS:
        fn = getattr(keras.activations, name, None)
        if fn is not None:
            table[fn] = name
    return table


_FUSABLE = _fusable_table()
_LINEAR = keras.activations.linear


def _fused_activation_name(activation):
    """tconv's name for a Keras activation it can fuse, else None."""
    try:
        return _FUSABLE.get(activation)
    except TypeError:  # an unhashable callable
        return None


def _np_dtype(dtype_name):
    name = keras.backend.standardize_dtype(dtype_name)
    if name not in ("float32", "float64"):
        return None
    return np.dtype(name)


# ---------------------------------------------------------------------------
# The op on each backend


def _tensorflow_op(x, kernel, bias, options, output_shape):
    import tensorflow as tf

    dtype = np.dtype(x.dtype.as_numpy_dtype)
    has_bias = bias is not None

    def forward_np(x_np, k_np, *b_np):
        return _api.run_forward(options, dtype, _api.as_c_array(x_np, dtype, "x"),
                                _api.as_c_array(k_np, dtype, "kernel"),
                                _api.as_c_array(b_np[0], dtype, "bias") if has_bias else None)

    def backward_np(x_np, k_np, *rest):
        b_np = rest[0] if has_bias else None
        gy_np = rest[-1]
        x_np = _api.as_c_array(x_np, dtype, "x")
        gx, gk, gb = _api.run_backward(
            options, dtype, x_np.shape, x_np, _api.as_c_array(k_np, dtype, "kernel"),
            None if b_np is None else _api.as_c_array(b_np, dtype, "bias"),
            _api.as_c_array(gy_np, dtype, "grad_output"), (True, True, has_bias))
        return (gx, gk, gb) if has_bias else (gx, gk)

    @tf.custom_gradient
    def op(*args):
        y = tf.numpy_function(forward_np, list(args), x.dtype, stateful=False, name="tconv_forward")
        y.set_shape(output_shape)

        def grad(gy):
            grads = tf.numpy_function(backward_np, list(args) + [gy], [x.dtype] * len(args),
                                      stateful=False, name="tconv_backward")
            for g, a in zip(grads, args):
                g.set_shape(a.shape)
            return list(grads)

        return y, grad

    return op(x, kernel, bias) if has_bias else op(x, kernel)


def _torch_op(x, kernel, bias, options):
    from .torch import conv_transpose_function

    return conv_transpose_function(x, kernel, bias, options)


def _numpy_op(x, kernel, bias, options):
    dtype = np.dtype(x.dtype)
    return _api.run_forward(options, dtype, _api.as_c_array(x, dtype, "x"),
                            _api.as_c_array(kernel, dtype, "kernel"),
                            None if bias is None else _api.as_c_array(bias, dtype, "bias"))


# ---------------------------------------------------------------------------
# Layers


class _TconvCall:
    """call() of the tconv layers; everything else is the Keras class's."""

    # tf.numpy_function cannot be compiled by XLA: model.fit's
    # jit_compile="auto" checks every layer's supports_jit.
    @property
    def supports_jit(self):
        return False

    @supports_jit.setter
    def supports_jit(self, value):
        pass  # Layer.__init__ sets True; this layer never supports XLA

    def _tconv_options(self, activation_name):
        return _api.LayerOptions.make(
            self.rank, strides=self.strides, padding=self.padding,
            output_padding=self.output_padding, dilation_rate=self.dilation_rate, groups=1,
            data_format=self.data_format, kernel_layout="keras", activation=activation_name)

    def call(self, inputs):
        backend = keras.backend.backend()
        activation_name = _fused_activation_name(self.activation)
        options = self._tconv_options(activation_name)
        compute_dtype = keras.backend.standardize_dtype(inputs.dtype)
        run_dtype = compute_dtype if _np_dtype(compute_dtype) is not None else "float32"
        x = keras.ops.cast(inputs, run_dtype) if run_dtype != compute_dtype else inputs
        kernel = keras.ops.cast(keras.ops.convert_to_tensor(self.kernel), run_dtype)
        bias = keras.ops.cast(keras.ops.convert_to_tensor(self.bias), run_dtype) \
            if self.use_bias else None
        if backend == "tensorflow":
            outputs = _tensorflow_op(x, kernel, bias, options, self.compute_output_shape(x.shape))
        elif backend == "torch":
            outputs = _torch_op(x, kernel, bias, options)
        elif backend == "numpy":
            outputs = _numpy_op(x, kernel, bias, options)
        else:
            raise UnimplementedError(
                f"tconv.keras runs on the tensorflow, torch and numpy Keras backends, not on "
                f"'{backend}'")
        if run_dtype != compute_dtype:
            outputs = keras.ops.cast(outputs, compute_dtype)
        if activation_name is None and self.activation is not None and self.activation is not _LINEAR:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="tconv")
class Conv1DTranspose(_TconvCall, keras.layers.Conv1DTranspose):
    """keras.layers.Conv1DTranspose computed by tconv."""


@keras.saving.register_keras_serializable(package="tconv")
class Conv2DTranspose(_TconvCall, keras.layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose computed by tconv."""


@keras.saving.register_keras_serializable(package="tconv")
class Conv3DTranspose(_TconvCall, keras.layers.Conv3DTranspose):
    """keras.layers.Conv3DTranspose computed by tconv."""
