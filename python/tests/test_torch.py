# SPDX-License-Identifier: Apache-2.0
"""tconv.torch against torch.nn.ConvTranspose1d/2d/3d: parameters, outputs,
gradients, gradcheck, output_size, errors."""

import numpy as np
import pytest

from conftest import require

torch = require("torch")
tconv_torch = require("tconv.torch")
import tconv  # noqa: E402

NATIVE = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}
TCONV = {1: tconv_torch.ConvTranspose1d, 2: tconv_torch.ConvTranspose2d, 3: tconv_torch.ConvTranspose3d}

# (rank, in, out, kernel, stride, padding, output_padding, groups, bias, dilation, input spatial)
CONFIGS = [
    (1, 3, 4, 3, 2, 1, 1, 1, True, 1, (5,)),
    (1, 4, 6, 2, 3, 0, 2, 2, False, 2, (4,)),
    (2, 2, 3, (3, 2), (2, 1), (1, 0), (1, 0), 1, True, 1, (4, 3)),
    (2, 4, 4, 3, 2, 2, 0, 4, True, (2, 1), (3, 3)),
    (3, 2, 3, 3, 2, 1, 1, 1, True, 1, (3, 3, 2)),
    (3, 4, 2, (2, 3, 1), (1, 2, 3), (0, 1, 0), (0, 1, 2), 2, False, (2, 1, 1), (2, 3, 2)),
    (3, 3, 3, 1, 1, 0, 0, 1, True, 1, (2, 2, 2)),
]


def pair(rank, cin, cout, k, s, p, op, g, bias, d, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    native = NATIVE[rank](cin, cout, k, stride=s, padding=p, output_padding=op, groups=g,
                          bias=bias, dilation=d, dtype=dtype)
    ours = TCONV[rank](cin, cout, k, stride=s, padding=p, output_padding=op, groups=g, bias=bias,
                       dilation=d, dtype=dtype)
    ours.load_state_dict(native.state_dict())
    return native, ours


def test_same_parameters_and_initialisation():
    for rank, cin, cout, k, s, p, op, g, bias, d, _ in CONFIGS:
        torch.manual_seed(7)
        native = NATIVE[rank](cin, cout, k, stride=s, padding=p, output_padding=op, groups=g,
                              bias=bias, dilation=d)
        torch.manual_seed(7)
        ours = TCONV[rank](cin, cout, k, stride=s, padding=p, output_padding=op, groups=g,
                           bias=bias, dilation=d)
        assert isinstance(ours, NATIVE[rank])
        native_state, our_state = native.state_dict(), ours.state_dict()
        assert list(native_state) == list(our_state)
        for key in native_state:
            assert torch.equal(native_state[key], our_state[key]), key
        native.load_state_dict(our_state)  # and back


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0]}d")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outputs_and_gradients_match_native(config, dtype):
    rank, cin, cout, k, s, p, op, g, bias, d, spatial = config
    native, ours = pair(rank, cin, cout, k, s, p, op, g, bias, d, dtype)
    x = torch.randn((2, cin) + spatial, dtype=dtype)
    x_native, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_native, y_ours = native(x_native), ours(x_ours)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(y_ours, y_native, **tol)
    gy = torch.randn_like(y_native)
    y_native.backward(gy)
    y_ours.backward(gy)
    torch.testing.assert_close(x_ours.grad, x_native.grad, **tol)
    torch.testing.assert_close(ours.weight.grad, native.weight.grad, **tol)
    if bias:
        torch.testing.assert_close(ours.bias.grad, native.bias.grad, **tol)


@pytest.mark.parametrize("config", CONFIGS[::2], ids=lambda c: f"{c[0]}d")
def test_gradcheck(config):
    rank, cin, cout, k, s, p, op, g, bias, d, spatial = config
    _, ours = pair(rank, cin, cout, k, s, p, op, g, bias, d, torch.float64)
    x = torch.randn((1, cin) + spatial, dtype=torch.float64, requires_grad=True)
    params = [ours.weight] + ([ours.bias] if bias else [])
    fn = (lambda x, w, *b: tconv_torch.conv_transpose(x, w, b[0] if b else None, s, p, op, g, d))
    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-8)


def test_output_size():
    native, ours = pair(2, 2, 3, 3, 2, 1, 0, 1, True, 1)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64)
    for size in ([8, 10], [1, 3, 7, 9], (7, 10)):
        torch.testing.assert_close(ours(x, output_size=size), native(x, output_size=size))
    with pytest.raises(ValueError, match="requested an output size"):
        ours(x, output_size=[20, 20])


def test_unbatched_input():
    native, ours = pair(3, 2, 3, 2, 2, 0, 1, 1, True, 1)
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(ours(x), native(x))


def test_no_grad_and_requires_grad_subsets():
    native, ours = pair(1, 2, 2, 3, 2, 0, 0, 1, True, 1)
    x = torch.randn(1, 2, 4, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), native(x))
    ours.weight.requires_grad_(False)
    xg = x.clone().requires_grad_()
    ours(xg).sum().backward()
    assert ours.weight.grad is None and ours.bias.grad is not None and xg.grad is not None


def test_non_cpu_tensors_and_dtypes_are_refused():
    _, ours = pair(1, 2, 2, 3, 1, 0, 0, 1, True, 1, torch.float32)
    meta = torch.empty(1, 2, 4, device="meta")
    with pytest.raises(tconv.InvalidArgumentError, match="device 'meta'.*CPU tensors only"):
        ours(meta)
    with pytest.raises(tconv.InvalidArgumentError, match="float16"):
        ours.half()(torch.randn(1, 2, 4).half())


def test_channels_last_keras_layout_with_activation():
    # The autograd Function takes any tconv layout and a fused activation.
    options = tconv.LayerOptions.make(2, strides=2, padding="same", data_format="channels_last",
                                      kernel_layout="keras", activation="tanh")
    x = torch.randn(1, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 3, 4, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: tconv_torch.conv_transpose_function(x, w, b, options), (x, w, b))


def test_weights_changed_through_data_are_seen():
    # .data writes bypass autograd's version counter: tconv compares bytes.
    native, ours = pair(2, 2, 2, 3, 2, 1, 1, 1, True, 1)
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x), native(x))
    with torch.no_grad():
        ours.weight.data.mul_(-2.0)
        native.weight.data.mul_(-2.0)
        ours.bias.data.add_(1.0)
        native.bias.data.add_(1.0)
    torch.testing.assert_close(ours(x), native(x))
