# SPDX-License-Identifier: Apache-2.0
"""tconv.keras against keras.layers.Conv1D/2D/3DTranspose on the Keras backend
of this process (KERAS_BACKEND: scripts/test-python.sh runs this file once
with tensorflow and once with torch): constructor, weights, outputs,
gradients, model.fit, get_config/from_config, saving and reloading."""

import inspect
import os

import numpy as np
import pytest

from conftest import require

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
require({"tensorflow": "tensorflow", "torch": "torch"}.get(BACKEND, BACKEND))
keras = require("keras")
tconv_keras = require("tconv.keras")

NATIVE = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
          3: keras.layers.Conv3DTranspose}
TCONV = {1: tconv_keras.Conv1DTranspose, 2: tconv_keras.Conv2DTranspose,
         3: tconv_keras.Conv3DTranspose}

# (rank, filters, kernel_size, strides, padding, output_padding, dilation, activation, bias, spatial, cin)
# Layers both Keras backends run natively (TensorFlow's CPU kernels refuse
# dilation > 1 and "same" with an even kernel and output_padding 0; the torch
# backend's backward refuses dilation and, in float64, one input channel:
# "grad_weight needs to be contiguous"): compared with keras.layers.
CONFIGS = [
    (1, 3, 3, 2, "valid", None, 1, None, True, (5,), 2),
    (1, 2, 4, 3, "valid", 1, 1, "relu", False, (6,), 3),
    (2, 4, 3, (2, 1), "same", (1, 0), 1, "tanh", True, (3, 4), 2),
    (2, 2, 3, 1, "valid", None, 1, "sigmoid", True, (4, 3), 2),
    (3, 3, 3, 2, "same", None, 1, None, True, (3, 2, 3), 2),
    (3, 2, (2, 3, 1), (2, 1, 3), "valid", (1, 0, 2), 1, "gelu", True, (2, 3, 2), 3),
]
# Layers a native backend refuses: compared with the NumPy float64 reference.
REFERENCE_CONFIGS = [
    (1, 2, 4, 1, "same", None, 2, "relu", False, (6,), 3),
    (2, 3, (3, 2), (2, 1), "same", (1, 0), 1, "tanh", True, (3, 4), 2),
    (2, 2, 3, 1, "valid", None, (2, 1), "sigmoid", True, (4, 3), 1),
    (3, 2, (2, 2, 3), 1, "same", None, (1, 2, 2), "elu", True, (2, 3, 3), 2),
    (3, 3, 2, 2, "same", None, 1, None, True, (2, 2, 3), 2),
]


def test_backend_is_the_one_asked_for():
    assert keras.backend.backend() == BACKEND


def test_no_opencl_driver_next_to_tensorflow():
    # OpenCL drivers built on LLVM crash next to TensorFlow's exported LLVM:
    # the package does not load its OpenCL plugin in a TensorFlow process.
    if "tensorflow" not in __import__("sys").modules:
        pytest.skip("TensorFlow is not loaded in this process")
    import tconv

    with pytest.warns(RuntimeWarning, match="TensorFlow is loaded"):
        reports = tconv._api._opencl_plugin()
    assert reports is None
    assert not any(r["name"] == "opencl" for r in tconv.plugin_reports())


def test_constructor_is_keras_own():
    for rank in (1, 2, 3):
        assert inspect.signature(TCONV[rank].__init__) == inspect.signature(NATIVE[rank].__init__)
        assert issubclass(TCONV[rank], NATIVE[rank])


def to_numpy(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


def run_with_gradients(layer, x, gy):
    """y and (dx, dkernel, dbias) of sum(y * gy)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            loss = tf.reduce_sum(y * tf.constant(gy))
        sources = [xt, layer.kernel] + ([layer.bias] if layer.use_bias else [])
        grads = tape.gradient(loss, sources)
    else:
        import torch

        xt = torch.tensor(x, requires_grad=True)
        for v in layer.trainable_variables:
            v.value.grad = None
        y = layer(xt)
        (y * torch.tensor(gy)).sum().backward()
        grads = [xt.grad, layer.kernel.value.grad] + ([layer.bias.value.grad] if layer.use_bias else [])
    return to_numpy(y), [to_numpy(g) for g in grads]


def assert_close(actual, desired, dtype, what):
    """Within float32 rounding for float32; for float64 within 1e-6 relative:
    Keras's TensorFlow gelu and leaky_relu are only float32-accurate in float64
    (tests/conformance/README.md)."""
    scale = max(1.0, float(np.abs(desired).max(initial=0)))
    rtol = 2e-4 if dtype == "float32" else 1e-6
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * 0.1 * scale, err_msg=what)


def make_pair(config, dtype="float32", data_format="channels_last"):
    rank, filters, k, s, padding, op, d, act, bias, spatial, cin = config
    keras.utils.set_random_seed(sum(map(ord, repr(config))))
    kwargs = dict(strides=s, padding=padding, output_padding=op, dilation_rate=d, activation=act,
                  use_bias=bias, dtype=dtype, bias_initializer="glorot_uniform")
    native = NATIVE[rank](filters, k, **kwargs)
    ours = TCONV[rank](filters, k, data_format=data_format, **kwargs)
    shape = (2,) + spatial + (cin,)
    native.build(shape)
    ours.build(shape if data_format == "channels_last" else (2, cin) + spatial)
    ours.set_weights(native.get_weights())
    return native, ours, shape


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0]}d-{c[4]}-{c[7]}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_and_gradients_match_native(config, dtype):
    native, ours, shape = make_pair(config, dtype)
    assert [w.path.split("/")[-1] for w in ours.weights] == [w.path.split("/")[-1] for w in native.weights]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    y_native = to_numpy(native(x))
    gy = rng.standard_normal(y_native.shape).astype(dtype)
    y_native, g_native = run_with_gradients(native, x, gy)
    y_ours, g_ours = run_with_gradients(ours, x, gy)
    assert_close(y_ours, y_native, dtype, "output")
    for name, a, b in zip(("input", "kernel", "bias"), g_ours, g_native):
        assert_close(a, b, dtype, f"grad of {name}")


@pytest.mark.parametrize("config", REFERENCE_CONFIGS, ids=lambda c: f"{c[0]}d-{c[4]}-{c[7]}")
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_outputs_and_gradients_match_reference(config, data_format):
    from reference import Layer, keras_to_torch_kernel

    rank, filters, k, s, padding, op, d, act, bias, spatial, cin = config
    layer = TCONV[rank](filters, k, strides=s, padding=padding, output_padding=op, dilation_rate=d,
                        activation=act, use_bias=bias, dtype="float64", data_format=data_format,
                        bias_initializer="glorot_uniform")
    first = data_format == "channels_first"
    layer.build((2, cin) + spatial if first else (2,) + spatial + (cin,))
    reference = Layer(rank, cin, filters, spatial, k, s, d, padding=padding, output_padding=op,
                      activation=act or "linear")
    weights = layer.get_weights()
    w = keras_to_torch_kernel(weights[0])
    b = weights[1] if bias else None
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, cin) + spatial)  # channels_first, as the reference
    y_ref = reference.forward(x, w, b)
    gy = rng.standard_normal(y_ref.shape)
    dx_ref, dw_ref, db_ref = reference.backward(x, w, b, gy)
    last = (lambda a: a if first else np.moveaxis(a, 1, -1).copy())
    y, grads = run_with_gradients(layer, last(x), last(gy))
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y, last(y_ref), **tol)
    np.testing.assert_allclose(grads[0], last(dx_ref), **tol)
    np.testing.assert_allclose(keras_to_torch_kernel(grads[1]), dw_ref, **tol)
    if bias:
        np.testing.assert_allclose(grads[2], db_ref, **tol)


@pytest.mark.parametrize("config", CONFIGS[::2], ids=lambda c: f"{c[0]}d")
def test_channels_first(config):
    # Compared with the native layer in channels_last on transposed arrays
    # (TensorFlow's CPU kernels refuse channels_first).
    native, ours, shape = make_pair(config, "float64", data_format="channels_first")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    y_native = to_numpy(native(x))
    gy = rng.standard_normal(y_native.shape)
    y_native, g_native = run_with_gradients(native, x, gy)
    x_first, gy_first = np.moveaxis(x, -1, 1).copy(), np.moveaxis(gy, -1, 1).copy()
    y_ours, g_ours = run_with_gradients(ours, x_first, gy_first)
    assert_close(np.moveaxis(y_ours, 1, -1), y_native, "float64", "output")
    assert_close(np.moveaxis(g_ours[0], 1, -1), g_native[0], "float64", "grad of input")
    for a, b in zip(g_ours[1:], g_native[1:]):
        assert_close(a, b, "float64", "grad of a weight")


@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "silu", "softplus", "mish",
                                        "hard_sigmoid", "linear"])
def test_fused_and_unfused_activations(activation):
    for act in (activation, lambda t: keras.ops.tanh(t) * 2.0):  # a callable tconv does not fuse
        config = (2, 3, 3, 2, "same", None, 1, act, True, (3, 3), 2)
        native, ours, shape = make_pair(config, "float64")
        rng = np.random.default_rng(2)
        x = rng.standard_normal(shape)
        gy = rng.standard_normal(to_numpy(native(x)).shape)
        y_native, g_native = run_with_gradients(native, x, gy)
        y_ours, g_ours = run_with_gradients(ours, x, gy)
        assert_close(y_ours, y_native, "float64", f"output with {activation}")
        for a, b in zip(g_ours, g_native):
            assert_close(a, b, "float64", f"a gradient with {activation}")


def test_get_config_from_config_round_trip():
    layer = tconv_keras.Conv3DTranspose(4, 3, strides=2, padding="same", output_padding=1,
                                        activation="relu", use_bias=False, name="up")
    config = layer.get_config()
    assert config == keras.layers.Conv3DTranspose.from_config(config).get_config()
    again = tconv_keras.Conv3DTranspose.from_config(config)
    assert type(again) is tconv_keras.Conv3DTranspose and again.get_config() == config
    assert keras.saving.get_registered_name(tconv_keras.Conv3DTranspose) == "tconv>Conv3DTranspose"


def build_models(seed=0):
    def model(layer_class):
        keras.utils.set_random_seed(seed)
        return keras.Sequential([
            keras.Input((3, 3, 3, 2)),
            layer_class(3, 3, strides=2, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(1),
        ])

    native, ours = model(keras.layers.Conv3DTranspose), model(tconv_keras.Conv3DTranspose)
    ours.set_weights(native.get_weights())
    return native, ours


def test_model_fit_matches_native():
    native, ours = build_models()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 3, 3, 3, 2)).astype("float32")
    y = rng.standard_normal((12, 1)).astype("float32")
    step_losses = []
    for model in (native, ours):
        losses = []
        record = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")  # jit_compile="auto"
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[record])
        step_losses.append(losses)
    assert len(step_losses[1]) == 3  # 12 samples, batches of 4
    assert not ours.jit_compile  # "auto" saw supports_jit = False
    np.testing.assert_allclose(step_losses[1], step_losses[0], rtol=1e-5)
    for a, b in zip(ours.get_weights(), native.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(x, verbose=0), native.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_saved_model_reloads(tmp_path):
    _, ours = build_models(seed=4)
    x = np.random.default_rng(5).standard_normal((2, 3, 3, 3, 2)).astype("float32")
    path = tmp_path / "model.keras"
    ours.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[0]) is tconv_keras.Conv3DTranspose
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(ours(x)), rtol=1e-6)


def test_graph_mode_gradients_on_tensorflow():
    if BACKEND != "tensorflow":
        pytest.skip("TensorFlow graph mode is a TensorFlow-backend test")
    import tensorflow as tf

    native, ours, shape = make_pair(CONFIGS[4], "float32")
    x = tf.constant(np.random.default_rng(6).standard_normal(shape).astype("float32"))

    @tf.function
    def step(layer, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        return loss, tape.gradient(loss, [x, layer.kernel, layer.bias])

    (loss_n, grads_n), (loss_o, grads_o) = step(native, x), step(ours, x)
    np.testing.assert_allclose(loss_o.numpy(), loss_n.numpy(), rtol=1e-5)
    for a, b in zip(grads_o, grads_n):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=2e-5)

