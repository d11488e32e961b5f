# SPDX-License-Identifier: Apache-2.0
"""Seeded random layers over every option, forward and gradients, against the
NumPy float64 reference of reference.py."""

import numpy as np
import pytest

import tconv
from reference import Layer, keras_to_torch_kernel, to_channels_first, to_channels_last, \
    torch_to_keras_kernel

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "softplus", "silu", "gelu"]


def random_layer(rng):
    rank = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    n = tuple(int(v) for v in rng.integers(1, 5, rank))
    k = tuple(int(v) for v in rng.integers(1, 4, rank))
    mode = rng.choice(["valid", "same", "torch", "onnx"])
    if mode in ("valid", "same"):  # Keras: stride and dilation not together
        if rng.random() < 0.5:
            s, d = tuple(int(v) for v in rng.integers(1, 4, rank)), (1,) * rank
        else:
            s, d = (1,) * rank, tuple(int(v) for v in rng.integers(1, 3, rank))
        op = None if rng.random() < 0.5 else tuple(int(rng.integers(0, si)) for si in s)
        kw = dict(padding=mode, output_padding=op)
        api_padding = mode
    else:
        s = tuple(int(v) for v in rng.integers(1, 4, rank))
        d = tuple(int(v) for v in rng.integers(1, 3, rank))
        op = tuple(int(rng.integers(0, max(si, di))) for si, di in zip(s, d))
        if mode == "torch":
            p = tuple(int(rng.integers(0, 2)) for _ in range(rank))
            pads, api_padding = p + p, p
        else:
            pads = tuple(int(rng.integers(0, 3)) for _ in range(2 * rank))
            api_padding = pads
        kw = dict(padding="explicit", output_padding=op, pads=pads)
    activation = str(rng.choice(ACTIVATIONS))
    layer = Layer(rank, cin, cout, n, k, s, d, groups=groups, activation=activation, **kw)
    if min(layer.out) < 1:
        return None
    options = dict(strides=s, dilation_rate=d, padding=api_padding, groups=groups,
                   output_padding=kw["output_padding"], activation=activation)
    return layer, options


@pytest.mark.parametrize("seed", range(80))
def test_random_layer(seed):
    rng = np.random.default_rng(seed)
    made = None
    while made is None:
        made = random_layer(rng)
    layer, options = made
    batch = int(rng.integers(1, 3))
    x = rng.standard_normal((batch, layer.cin) + layer.n)
    w = rng.standard_normal((layer.cin, layer.cout // layer.groups) + layer.k)
    b = rng.standard_normal(layer.cout) if rng.random() < 0.7 else None
    y_ref = layer.forward(x, w, b)
    gy = rng.standard_normal(y_ref.shape)
    dx_ref, dw_ref, db_ref = layer.backward(x, w, b, gy)
    channels_last = rng.random() < 0.5
    keras_layout = rng.random() < 0.5
    dtype = np.float64 if rng.random() < 0.5 else np.float32
    tol = 1e-10 if dtype == np.float64 else 2e-4
    xi = to_channels_last(x) if channels_last else x
    gyi = to_channels_last(gy) if channels_last else gy
    wi = torch_to_keras_kernel(w) if keras_layout else w
    kw = dict(options, data_format="channels_last" if channels_last else "channels_first",
              kernel_layout="keras" if keras_layout else "torch", device="cpu")
    cast = (lambda a: None if a is None else a.astype(dtype))
    y = tconv.conv_transpose(cast(xi), cast(wi), cast(b), **kw)
    y = to_channels_first(y) if channels_last else y

    def close(got, want, what):
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        err = float(np.abs(got.astype(np.float64) - want).max(initial=0))
        assert err <= tol * scale * 10, f"{what}: {err:g} (layer {options}, {kw})"

    close(y, y_ref, "output")
    gx, gw, gb = tconv.conv_transpose_backward(cast(xi), cast(wi), cast(gyi), cast(b), **kw)
    close(to_channels_first(gx) if channels_last else gx, dx_ref, "grad_input")
    close(keras_to_torch_kernel(gw) if keras_layout else gw, dw_ref, "grad_kernel")
    if b is None:
        assert gb is None
    else:
        close(gb, db_ref, "grad_bias")
