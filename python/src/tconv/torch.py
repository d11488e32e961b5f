# SPDX-License-Identifier: Apache-2.0
"""PyTorch modules computed by tconv: ConvTranspose1d, ConvTranspose2d,
ConvTranspose3d.

Each is a subclass of the torch.nn module of the same name, so the constructor,
the parameters (weight (in, out/groups, k...), bias (out,)), their default
initialisation and state_dict are torch's own (load_state_dict from the native
module works both ways); only forward differs: it runs tconv, and autograd runs
tconv's backward pass (conv_transpose_function, a torch.autograd.Function).
CPU tensors of float32 or float64 only; other devices and dtypes raise
tconv.InvalidArgumentError naming the tensor.
"""

import numpy as np
import torch

from . import _api, _lib
from ._errors import InvalidArgumentError

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "conv_transpose_function",
           "conv_transpose"]

_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}


def _check_tensor(name, t, dtype=None):
    if t.device.type != "cpu":
        raise InvalidArgumentError(
            f"{name} is on device '{t.device}': tconv.torch takes CPU tensors only (tconv picks its "
            "own compute device; move the tensor with .cpu())")
    if t.dtype not in _DTYPES:
        raise InvalidArgumentError(f"{name}.dtype = {t.dtype}: must be torch.float32 or torch.float64")
    if dtype is not None and t.dtype != dtype:
        raise InvalidArgumentError(f"{name}.dtype = {t.dtype}: must be the input's dtype {dtype}")
    if t.is_sparse or t.layout != torch.strided:
        raise InvalidArgumentError(f"{name}: must be a dense (strided) tensor")


def _numpy_view(t):
    """A NumPy array sharing memory with @p t (a copy only when @p t is not
    contiguous)."""
    return t.detach().contiguous().numpy()


class _ConvTransposeFunction(torch.autograd.Function):
    """y = act(conv_transpose(x, weight) + bias) with tconv; backward with
    tconv's backward pass (only the gradients autograd asks for)."""

    @staticmethod
    def forward(ctx, x, weight, bias, options, device, wants_grad):
        _check_tensor("input", x)
        _check_tensor("weight", weight, x.dtype)
        if bias is not None:
            _check_tensor("bias", bias, x.dtype)
        dtype = _DTYPES[x.dtype]
        # A plan made for training also runs the forward pass: one plan per
        # layer shape when a backward call follows.
        passes = _lib.PASS_TRAINING if wants_grad else _lib.PASS_FORWARD
        y = _api.run_forward(options, dtype, _numpy_view(x), _numpy_view(weight),
                             None if bias is None else _numpy_view(bias), passes, device)
        ctx.options = options
        ctx.device = device
        ctx.save_for_backward(x, weight, bias)
        return torch.from_numpy(y)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        x, weight, bias = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = need_b and bias is not None
        if not (need_x or need_w or need_b):
            return None, None, None, None, None, None
        gy = grad_output if grad_output.dtype == x.dtype else grad_output.to(x.dtype)
        _check_tensor("grad_output", gy)
        needs_input_values = need_w or ctx.options.activation != 0
        gx, gw, gb = _api.run_backward(
            ctx.options, _DTYPES[x.dtype], tuple(x.shape),
            _numpy_view(x) if needs_input_values else None, _numpy_view(weight),
            None if bias is None else _numpy_view(bias), _numpy_view(gy), (need_x, need_w, need_b),
            ctx.device)
        as_tensor = (lambda a: None if a is None else torch.from_numpy(a))
        return as_tensor(gx), as_tensor(gw), as_tensor(gb), None, None, None


def conv_transpose_function(x, weight, bias, options, device="auto"):
    """Applies tconv to torch tensors with autograd: @p options is a
    tconv.LayerOptions (any layout, padding rule and activation)."""
    wants_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, bias))
    return _ConvTransposeFunction.apply(x, weight, bias, options, device, wants_grad)


def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                   dilation=1, *, device="auto"):
    """torch.nn.functional.conv_transpose{1,2,3}d computed by tconv (batched
    or unbatched input, channels first, weight (in, out/groups, k...))."""
    rank = weight.dim() - 2
    if rank not in (1, 2, 3):
        raise InvalidArgumentError(f"weight.dim() = {weight.dim()}: must be 3, 4 or 5")
    unbatched = input.dim() == rank + 1
    if not unbatched and input.dim() != rank + 2:
        raise InvalidArgumentError(
            f"input.dim() = {input.dim()}: must be {rank + 1} (unbatched) or {rank + 2} (batched) "
            f"for a weight of {weight.dim()} dimensions")
    if unbatched:
        input = input.unsqueeze(0)
    options = _api.LayerOptions.make(
        rank, strides=stride, padding=padding, output_padding=output_padding, dilation_rate=dilation,
        groups=groups, data_format="channels_first", kernel_layout="torch")
    y = conv_transpose_function(input, weight, bias, options, device)
    return y.squeeze(0) if unbatched else y


class _TconvForward:
    """forward() of the tconv modules: torch's output_size rule, then tconv."""

    _spatial_rank = None
    #: tconv device selector used by forward ("auto", "cpu", "opencl:0", ...).
    tconv_device = "auto"

    def forward(self, input, output_size=None):
        if self.padding_mode != "zeros":
            raise ValueError(f"Only `zeros` padding mode is supported for {type(self).__name__}")
        rank = self._spatial_rank
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, rank, self.dilation)
        return conv_transpose(input, self.weight, self.bias, self.stride, self.padding,
                              output_padding, self.groups, self.dilation, device=self.tconv_device)


class ConvTranspose1d(_TconvForward, torch.nn.ConvTranspose1d):
    """torch.nn.ConvTranspose1d computed by tconv."""

    _spatial_rank = 1


class ConvTranspose2d(_TconvForward, torch.nn.ConvTranspose2d):
    """torch.nn.ConvTranspose2d computed by tconv."""

    _spatial_rank = 2


class ConvTranspose3d(_TconvForward, torch.nn.ConvTranspose3d):
    """torch.nn.ConvTranspose3d computed by tconv."""

    _spatial_rank = 3
