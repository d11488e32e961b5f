# SPDX-License-Identifier: Apache-2.0
"""NumPy float64 reference of the transposed convolution and its gradients,
written from the frameworks' definitions (not from tconv's code): the output
lengths and crops of Keras (TensorFlow's conv padding rule), PyTorch and ONNX,
then y[o] += x[i] * w[t] for o = i*s + t*d - crop_begin, one tap at a time.
Tensors here are channels_first with the torch kernel layout
(in, out/groups, k...); to_canonical/from_canonical convert."""

import itertools
import math

import numpy as np


def axis_geometry(n, k, s, d, padding, op, pads_begin, pads_end, output_shape):
    """(crop_begin, output length) of one spatial axis."""
    ek = (k - 1) * d + 1
    span = (n - 1) * s + ek  # the full (uncropped) output
    if padding == "valid":
        length = n * s + max(ek - s, 0) if op is None else span + op
        return 0, length
    if padding == "same":
        length = n * s if op is None else span - 2 * (ek // 2) + op
        # TensorFlow pads the forward convolution (length -> n) by
        # max((n-1)*s + ek - length, 0) in total, the smaller half first.
        total = max(span - length, 0)
        return total // 2, length
    op = op or 0
    if padding == "explicit" and output_shape is None:
        return pads_begin, span - pads_begin - pads_end + op
    length = output_shape if output_shape is not None else n * s
    total = span + op - length
    if padding == "same_upper":
        return total // 2, length
    return total - total // 2, length  # same_lower, and ONNX NOTSET with output_shape


ACTIVATIONS = {
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "leaky_relu": (lambda z: np.where(z >= 0, z, 0.2 * z), lambda z: np.where(z >= 0, 1.0, 0.2)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
            lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z))),
    "silu": (lambda z: z / (1 + np.exp(-z)),
             lambda z: 1 / (1 + np.exp(-z)) * (1 + z * (1 - 1 / (1 + np.exp(-z))))),
    "gelu": (lambda z: 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2))),
             lambda z: 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
             + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
}


class Layer:
    """A transposed convolution layer in the reference's conventions."""

    def __init__(self, rank, in_channels, out_channels, input_size, kernel_size, strides=1,
                 dilation=1, padding="valid", output_padding=None, pads=None, output_shape=None,
                 groups=1, activation="linear"):
        per_axis = (lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * rank)
        self.rank, self.cin, self.cout, self.groups = rank, in_channels, out_channels, groups
        self.n, self.k = per_axis(input_size), per_axis(kernel_size)
        self.s, self.d = per_axis(strides), per_axis(dilation)
        self.activation = activation
        begins, ends = (pads[:rank], pads[rank:]) if pads is not None else ((0,) * rank, (0,) * rank)
        ops = per_axis(output_padding) if output_padding is not None else (None,) * rank
        shape = per_axis(output_shape) if output_shape is not None else (None,) * rank
        geometry = [axis_geometry(self.n[i], self.k[i], self.s[i], self.d[i], padding, ops[i],
                                  begins[i], ends[i], shape[i]) for i in range(rank)]
        self.crop = tuple(g[0] for g in geometry)
        self.out = tuple(g[1] for g in geometry)

    def _taps(self):
        """For every kernel tap: (tap index, input slices, output slices) of the
        input points whose output o = i*s + t*d - crop lies in [0, L)."""
        for tap in itertools.product(*[range(k) for k in self.k]):
            in_slices, out_slices = [], []
            for a in range(self.rank):
                s, offset = self.s[a], tap[a] * self.d[a] - self.crop[a]
                # i such that 0 <= i*s + offset < L
                last = self.out[a] - 1 - offset  # i*s <= last
                i0 = max(0, -(offset // s))
                i1 = min(self.n[a], last // s + 1) if last >= 0 else 0
                if i1 <= i0:
                    break
                in_slices.append(slice(i0, i1))
                out_slices.append(slice(i0 * s + offset, (i1 - 1) * s + offset + 1, s))
            else:
                yield tap, tuple(in_slices), tuple(out_slices)

    def pre_activation(self, x, w, b):
        """z = conv_transpose(x, w) + b; x (N, Cin, n...), w (Cin, Cout/G, k...)."""
        batch = x.shape[0]
        g, cin_g, cout_g = self.groups, self.cin // self.groups, self.cout // self.groups
        z = np.zeros((batch, self.cout) + self.out)
        for tap, si, so in self._taps():
            for group in range(g):
                xg = x[(slice(None), slice(group * cin_g, (group + 1) * cin_g)) + si]
                wg = w[(slice(group * cin_g, (group + 1) * cin_g), slice(None)) + tap]
                z[(slice(None), slice(group * cout_g, (group + 1) * cout_g)) + so] += \
                    np.einsum("nc...,co->no...", xg, wg)
        if b is not None:
            z += b.reshape((1, -1) + (1,) * self.rank)
        return z

    def forward(self, x, w, b=None):
        return ACTIVATIONS[self.activation][0](self.pre_activation(x, w, b))

    def backward(self, x, w, b, gy):
        """(dx, dw, db) for dL/dy = gy: the adjoint of forward, tap by tap."""
        dz = gy * ACTIVATIONS[self.activation][1](self.pre_activation(x, w, b))
        g, cin_g, cout_g = self.groups, self.cin // self.groups, self.cout // self.groups
        dx, dw = np.zeros(x.shape), np.zeros(w.shape)
        for tap, si, so in self._taps():
            for group in range(g):
                ci = slice(group * cin_g, (group + 1) * cin_g)
                co = slice(group * cout_g, (group + 1) * cout_g)
                dzg = dz[(slice(None), co) + so]
                dx[(slice(None), ci) + si] += np.einsum("no...,co->nc...", dzg, w[(ci, slice(None)) + tap])
                summed = [0] + list(range(2, dzg.ndim))  # batch and spatial axes
                dw[(ci, slice(None)) + tap] += np.tensordot(x[(slice(None), ci) + si], dzg,
                                                            axes=(summed, summed))
        db = dz.sum(axis=tuple(a for a in range(dz.ndim) if a != 1)) if b is not None else None
        return dx, dw, db


def to_channels_last(a):
    return np.moveaxis(a, 1, -1)


def to_channels_first(a):
    return np.moveaxis(a, -1, 1)


def torch_to_keras_kernel(w):
    """(in, out/G, k...) -> (k..., out/G, in)."""
    return np.ascontiguousarray(np.transpose(w, tuple(range(2, w.ndim)) + (1, 0)))


def keras_to_torch_kernel(w):
    """(k..., out/G, in) -> (in, out/G, k...)."""
    rank = w.ndim - 2
    return np.ascontiguousarray(np.transpose(w, (rank + 1, rank) + tuple(range(rank))))
