# SPDX-License-Identifier: Apache-2.0
"""Gradient goldens: dL/dx, dL/dw, dL/db of the real frameworks' autograd.

Imported by generate.py (which see for how to run it). A gradient case is a
forward case's description (the same JSON fields) plus "kind": "gradient",
a random dL/dy (grad_output) and the framework's grad_input, grad_kernel and
grad_bias, each in the case's layouts. Sources:

- PyTorch autograd on torch.nn.functional.conv_transpose{1,2,3}d, activation
  applied after by torch.nn.functional; ONNX-style asymmetric crops and
  output_shape as padding 0 followed by slicing (zero-padding the end where
  the output reaches past the full result, the start where it begins before
  it), which autograd differentiates
  exactly; channels_last cases store the same arrays transposed.
- Keras 3 on TensorFlow: tf.GradientTape over the layer call. What TF's CPU
  kernels refuse is computed by the same layer on Keras's torch backend (a
  child process with KERAS_BACKEND=torch) and the case says so.

Every golden is checked, before it is written, against adjoint(): a NumPy
adjoint of the naive forward loop of generate.canon() (float64: must agree to
1e-12 of max(1, max|golden|); float32 goldens to 1e-4), so a golden and its
description cannot disagree.
"""
import json
import math
import re
import subprocess
import sys

import numpy as np

import generate as gen

GRADIENT_ROLES = ("input", "kernel", "bias", "grad_output", "grad_input", "grad_kernel",
                  "grad_bias")
# The cross-check against adjoint(): relative to max(1, max|golden|).
CHECK_RTOL = {"float64": 1e-12, "float32": 1e-4}
# Pre-activations closer than this to a kink of the activation are drawn
# again: at a kink the frameworks' one-sided choices are conventions.
KINK_MARGIN = 1e-3
# TF's Keras activations that are only float32-accurate in float64
# (generate.KERAS_F64_AT_F32_PRECISION); their float64 goldens apply the
# Keras formula with float64 TF ops instead.
KERAS_FORMULA_IN_F64 = ("leaky_relu", "gelu", "gelu_tanh")
# PyTorch activations whose float64 backward is only float32-accurate: their
# float64 goldens differentiate the activation's formula (torch ops) instead.
TORCH_FORMULA_IN_F64 = {
    "hard_sigmoid": ("relu6(x + 3) / 6", "torch.nn.functional.hardsigmoid's backward multiplies "
                     "by 1/6 in float32 (4.97e-9 off in float64)"),
}


# --------------------------------------------------------------------------
# Independent model: the adjoint of generate.canon()'s forward loop.

def activation_derivative(z, name, alpha):
    """act'(z), float64, written from the formulas (not from any framework)."""
    a = gen.DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    erf = np.vectorize(math.erf)
    one = np.ones_like(z)
    zero = np.zeros_like(z)
    table = {
        "linear": lambda v: one,
        "relu": lambda v: np.where(v > 0, one, zero),
        "relu6": lambda v: np.where((v > 0) & (v < 6), one, zero),
        "leaky_relu": lambda v: np.where(v > 0, one, a * one),
        "elu": lambda v: np.where(v > 0, one, a * np.exp(v)),
        "selu": lambda v: 1.0507009873554805 * np.where(v > 0, one,
                                                        1.6732632423543772 * np.exp(v)),
        "sigmoid": lambda v: sig(v) * (1 - sig(v)),
        "hard_sigmoid": lambda v: np.where((v > -3) & (v < 3), one / 6, zero),
        "hard_silu": lambda v: np.where(v <= -3, zero, np.where(v >= 3, one, v / 3 + 0.5)),
        "tanh": lambda v: 1 - np.tanh(v) ** 2,
        "softplus": sig,
        "softsign": lambda v: 1 / (1 + np.abs(v)) ** 2,
        "silu": lambda v: sig(v) * (1 + v * (1 - sig(v))),
        "gelu": lambda v: 0.5 * (1 + erf(v / math.sqrt(2))) + v * np.exp(-v * v / 2) /
        math.sqrt(2 * math.pi),
        "exponential": np.exp,
        "log_sigmoid": lambda v: sig(-v),
        "mish": lambda v: np.tanh(np.logaddexp(0, v)) +
        v * (1 - np.tanh(np.logaddexp(0, v)) ** 2) * sig(v),
        "celu": lambda v: np.where(v > 0, one, np.exp(v / a)),
        "hard_tanh": lambda v: np.where((v > -1) & (v < 1), one, zero),
        "hard_shrink": lambda v: np.where(np.abs(v) > a, one, zero),
        "soft_shrink": lambda v: np.where(np.abs(v) > a, one, zero),
        "tanh_shrink": lambda v: np.tanh(v) ** 2,
        "sparse_plus": lambda v: np.where(v <= -1, zero, np.where(v >= 1, one, (v + 1) / 2)),
        "squareplus": lambda v: (1 + v / np.sqrt(v * v + a)) / 2,
        "gelu_tanh": lambda v: _gelu_tanh_derivative(v),
    }
    return table[name](z)


def _gelu_tanh_derivative(v):
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (v + 0.044715 * v ** 3))
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)


def kinks(name, alpha):
    """Points where act' jumps (or act itself, for hard_shrink)."""
    a = gen.DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha
    return {"relu": [0.0], "relu6": [0.0, 6.0], "leaky_relu": [0.0], "selu": [0.0],
            "elu": [0.0], "hard_sigmoid": [-3.0, 3.0], "hard_silu": [-3.0, 3.0],
            "hard_tanh": [-1.0, 1.0], "hard_shrink": [-a, a], "soft_shrink": [-a, a],
            "sparse_plus": [-1.0, 1.0]}.get(name, [])


def to_canonical(c, x, w, dy=None):
    """float64 arrays in channels_first and the torch kernel layout."""
    r = c["spatial_rank"]
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    dy = None if dy is None else np.asarray(dy, np.float64)
    if c["data_format"] == "channels_last":
        x = np.moveaxis(x, -1, 1)
        dy = None if dy is None else np.moveaxis(dy, -1, 1)
    if c["kernel_layout"] == "keras":  # (k..., Cout/G, Cin) -> (Cin, Cout/G, k...)
        w = np.transpose(w, (r + 1, r) + tuple(range(r)))
    return x, w, dy


def pre_activation(c, x, w, b):
    """z = conv + bias, channels_first (canon() with a linear activation)."""
    z = gen.canon(dict(c, activation="linear"), x, w, b)
    return np.moveaxis(z, -1, 1) if c["data_format"] == "channels_last" else z


def adjoint(c, x, w, b, dy):
    """(grad_input, grad_kernel, grad_bias) of case c, float64, in its layouts:
    dz = dy * act'(z), then for every tap the transpose of canon()'s scatter:
    dx[src] += dz[dst] . w[tap], dw[tap] += x[src] . dz[dst]."""
    r = c["spatial_rank"]
    xc, wc, dyc = to_canonical(c, x, w, dy)
    z = pre_activation(c, x, w, b)
    dz = dyc * activation_derivative(z, c["activation"], c.get("activation_alpha"))
    g = c["groups"]
    cin, cog = xc.shape[1], wc.shape[1]
    cig = cin // g
    crops, lengths = zip(*(gen.resolve_axis(c, i) for i in range(r)))
    if tuple(dz.shape[2:]) != tuple(lengths):
        raise SystemExit(f"{c['name']}: grad_output shape {dy.shape} does not fit the "
                         f"description's output lengths {lengths}")
    gx = np.zeros_like(xc)
    gw = np.zeros_like(wc)
    for idx in np.ndindex(*xc.shape[2:]):
        for t in np.ndindex(*wc.shape[2:]):
            o = tuple(idx[i] * c["strides"][i] + t[i] * c["dilation"][i] - crops[i]
                      for i in range(r))
            if any(o[i] < 0 or o[i] >= lengths[i] for i in range(r)):
                continue
            for gi in range(g):
                ci = slice(gi * cig, (gi + 1) * cig)
                co = slice(gi * cog, (gi + 1) * cog)
                dzo = dz[(slice(None), co) + o]          # (N, Cout/G)
                gx[(slice(None), ci) + idx] += dzo @ wc[(ci, slice(None)) + t].T
                gw[(ci, slice(None)) + t] += xc[(slice(None), ci) + idx].T @ dzo
    gb = dz.sum(axis=(0,) + tuple(range(2, 2 + r))) if b is not None else None
    if c["data_format"] == "channels_last":
        gx = np.moveaxis(gx, 1, -1)
    if c["kernel_layout"] == "keras":  # back to (k..., Cout/G, Cin)
        gw = np.transpose(gw, tuple(range(2, 2 + r)) + (1, 0))
    return gx, gw, gb


def near_kink(c, x, w, b):
    z = pre_activation(c, x, w, b)
    points = kinks(c["activation"], c.get("activation_alpha"))
    return any(np.min(np.abs(z - p)) < KINK_MARGIN for p in points) if z.size else False


def check_and_write(wr, c, arrays):
    """Cross-checks the framework's gradients with adjoint() and writes the case."""
    want = adjoint(c, arrays["input"], arrays["kernel"], arrays.get("bias"),
                   arrays["grad_output"])
    worst = 0.0
    for role, expected in zip(("grad_input", "grad_kernel", "grad_bias"), want):
        got = arrays.get(role)
        if expected is None and got is None:
            continue
        if expected is None or got is None:
            raise SystemExit(f"{c['name']}: {role} given by only one of the framework and "
                             "the model")
        got = np.asarray(got, np.float64)
        if got.shape != expected.shape:
            raise SystemExit(f"{c['name']}: framework {role} shape {got.shape}, the "
                             f"description's {expected.shape}")
        if got.size == 0:
            continue
        scale = max(1.0, float(np.max(np.abs(got))))
        err = float(np.max(np.abs(got - expected))) / scale
        if err > CHECK_RTOL[c["dtype"]]:
            raise SystemExit(f"{c['name']}: framework {role} and the NumPy adjoint differ by "
                             f"{err:.3g} (relative to max(1, max|golden|))")
        worst = max(worst, err)
    c = dict(c, kind="gradient")
    wr.save(c, arrays, GRADIENT_ROLES, c["framework"] + " (gradients)")
    return worst


def npdtype(dtype):
    return np.float64 if dtype == "float64" else np.float32


# --------------------------------------------------------------------------
# PyTorch autograd

def torch_forward(c, xt, wt, bt, slicing):
    """The case's output from torch tensors (channels_first): conv_transpose with
    the case's symmetric padding, or (slicing) padding 0 followed by the
    case's crop and length, zero-padding where they reach past the full
    result, bias added after the crop."""
    import torch
    import torch.nn.functional as F
    r = c["spatial_rank"]
    conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[r]
    kw = dict(stride=tuple(c["strides"]), groups=c["groups"], dilation=tuple(c["dilation"]))
    if not slicing:
        y = conv(xt, wt, bt, padding=tuple(c["pads_begin"]),
                 output_padding=tuple(c["output_padding"]), **kw)
    else:
        full = conv(xt, wt, None, padding=0, output_padding=0, **kw)
        crops, lengths = zip(*(gen.resolve_axis(c, i) for i in range(r)))
        # A negative crop (ONNX output_shape past the full result with
        # SAME_UPPER/LOWER) starts the output before the full result.
        before = [max(0, -crops[i]) for i in range(r)]
        after = [max(0, crops[i] + lengths[i] - full.shape[2 + i]) for i in range(r)]
        pad = []
        for i in reversed(range(r)):  # F.pad lists the last axis first
            pad += [before[i], after[i]]
        full = F.pad(full, pad)
        y = full[(slice(None), slice(None)) +
                 tuple(slice(crops[i] + before[i], crops[i] + before[i] + lengths[i])
                       for i in range(r))]
        if bt is not None:
            y = y + bt.reshape((1, -1) + (1,) * r)
    if c["dtype"] == "float64" and c["activation"] in TORCH_FORMULA_IN_F64:
        return F.relu6(y + 3) / 6  # the formula of TORCH_FORMULA_IN_F64's only entry
    if c["activation"] != "linear":
        y = gen.torch_activation(c["activation"])(y)
    return y


def torch_grad_case(wr, c, rng, slicing=False, how=None):
    """Draws x, w, b (channels_first, torch layout) for description c, runs torch
    autograd with a random dL/dy and writes the case (arrays transposed to
    channels_last when c says so)."""
    import torch
    dt = npdtype(c["dtype"])
    tdt = torch.float64 if c["dtype"] == "float64" else torch.float32
    r = c["spatial_rank"]
    g = c["groups"]
    xshape = (c["batch"], c["in_channels"]) + tuple(c["input_size"])
    wshape = (c["in_channels"], c["out_channels"] // g) + tuple(c["kernel_size"])
    cf = dict(c, data_format="channels_first")
    for _ in range(20):
        x = rng.uniform(-1, 1, xshape).astype(dt)
        w = rng.uniform(-1, 1, wshape).astype(dt)
        b = rng.uniform(-1, 1, (c["out_channels"],)).astype(dt) if c["use_bias"] else None
        if not near_kink(cf, x, w, b):
            break
    else:
        raise SystemExit(f"{c['name']}: no draw kept the pre-activation away from the kinks")
    xt = torch.tensor(x, dtype=tdt, requires_grad=True)
    wt = torch.tensor(w, dtype=tdt, requires_grad=True)
    bt = torch.tensor(b, dtype=tdt, requires_grad=True) if b is not None else None
    y = torch_forward(c, xt, wt, bt, slicing)
    dy = rng.uniform(-1, 1, tuple(y.shape)).astype(dt)
    y.backward(torch.from_numpy(dy))
    gx, gw = xt.grad.numpy(), wt.grad.numpy()
    gb = bt.grad.numpy() if bt is not None else None
    if c["data_format"] == "channels_last":
        x, dy, gx = (np.moveaxis(a, 1, -1) for a in (x, dy, gx))
    conv = f"torch.nn.functional.conv_transpose{r}d"
    c = dict(c, gradient_source=how or (
        f"torch.autograd: {conv}" +
        (" (padding 0, then the crop and length sliced, zero-padded past the full result, bias added after)"
         if slicing else "") +
        (f", then torch.nn.functional.{gen.TORCH_ACTIVATIONS[c['activation']]}"
         if c["activation"] != "linear" else "") +
        ("; arrays stored transposed to channels_last"
         if c["data_format"] == "channels_last" else "")))
    if c["activation"] != "linear":
        c["torch_activation"] = "torch.nn.functional." + gen.TORCH_ACTIVATIONS[c["activation"]]
    if c["dtype"] == "float64" and c["activation"] in TORCH_FORMULA_IN_F64:
        formula, why = TORCH_FORMULA_IN_F64[c["activation"]]
        c["gradient_source"] = c["gradient_source"].replace(
            "torch.nn.functional." + gen.TORCH_ACTIVATIONS[c["activation"]],
            f"its formula {formula} (torch.nn.functional.relu6)")
        c["note"] = (f"{why}: this float64 golden differentiates the formula {formula} with "
                     "torch autograd")
    return check_and_write(wr, c, {"input": x, "kernel": w, "bias": b, "grad_output": dy,
                                   "grad_input": gx, "grad_kernel": gw, "grad_bias": gb})


def torch_description(name, rank, *, cin, cout, groups, batch, n, k, s, d, p, op, bias,
                      dtype, act="linear", df="channels_first", padding="explicit",
                      pads_end=None, output_shape=None, note=None):
    """A case description in torch's terms (kernel layout torch)."""
    w = np.zeros((cin, cout // groups) + tuple(k))
    return gen.base_case("torch", name, rank, dtype, (batch, cin) + tuple(n), w, s, d, padding,
                         df, "torch", bias, act, groups=groups, op=op,
                         pads_begin=p, pads_end=p if pads_end is None else pads_end,
                         output_shape=output_shape, note=note)


def torch_gradient_cases(wr):
    rng = np.random.default_rng(4242)
    # Random grid: groups, dilation with stride, output_padding (< max(s, d)),
    # symmetric padding, bias on/off, float32/float64, every third channels_last.
    for rank, count in ((3, 12), (2, 8), (1, 8)):
        for j in range(count):
            layer = gen.draw_torch_layer(rng, rank, (1, 2, 3, 1)[j % 4], 3, 2)
            name = f"grad_torch{rank}d_{j}"
            c = torch_description(name, rank, bias=j % 3 != 2,
                                  dtype="float64" if j % 2 else "float32",
                                  df="channels_last" if j % 3 == 1 else "channels_first", **layer)
            torch_grad_case(wr, c, gen.rng_for(name))
    # output_padding >= stride (allowed because it is < dilation), both layouts.
    for j, (s, d, op, df) in enumerate((((1, 1, 1), (3, 2, 2), (2, 1, 1), "channels_first"),
                                        ((2, 1, 2), (3, 3, 1), (2, 2, 0), "channels_last"))):
        name = f"grad_torch3d_op_ge_stride_{j}"
        c = torch_description(name, 3, cin=2, cout=4, groups=2, batch=2, n=(2, 2, 2),
                              k=(2, 3, 2), s=s, d=d, p=(0, 1, 0), op=op, bias=True,
                              dtype="float64", df=df)
        torch_grad_case(wr, c, gen.rng_for(name))
    # Activations applied after (float64; a few in float32 and channels_last too).
    acts = list(gen.TORCH_ACTIVATIONS)
    for j, act in enumerate(acts):
        name = f"grad_torch3d_act_{act}"
        c = torch_description(name, 3, cin=2, cout=2, groups=1, batch=1, n=(2, 2, 2),
                              k=(3, 2, 2), s=(2, 2, 1), d=(1, 1, 2), p=(1, 0, 0), op=(1, 0, 0),
                              bias=True, dtype="float64", act=act,
                              df="channels_last" if j % 4 == 1 else "channels_first")
        torch_grad_case(wr, c, gen.rng_for(name))
    for act in ("relu", "gelu", "silu", "tanh"):
        name = f"grad_torch2d_act_{act}_float32"
        c = torch_description(name, 2, cin=3, cout=2, groups=1, batch=2, n=(3, 2), k=(3, 3),
                              s=(2, 1), d=(1, 2), p=(1, 1), op=(1, 0), bias=True,
                              dtype="float32", act=act, df="channels_last")
        torch_grad_case(wr, c, gen.rng_for(name))
    # ONNX-style crops torch cannot express (asymmetric pads, output_shape with
    # auto_pad, output past the full result): padding 0, then sliced.
    onnx_style = [  # tag, n, k, s, d, padding, pads_begin, pads_end, op, output_shape
        ("pads_asym", (2, 3, 2), (3, 2, 3), (2, 3, 1), (1, 1, 1), "explicit",
         (1, 0, 1), (0, 1, 2), (0, 0, 0), None),
        ("pads_asym_outpad", (2, 2, 3), (3, 3, 2), (3, 2, 2), (1, 1, 1), "explicit",
         (1, 1, 0), (0, 1, 1), (2, 1, 0), None),
        ("pads_asym_dilation", (2, 3, 2), (2, 2, 3), (2, 1, 2), (2, 3, 1), "explicit",
         (0, 1, 0), (1, 0, 0), (1, 0, 1), None),
        ("outpad_past_full", (2, 2, 2), (2, 1, 2), (3, 3, 2), (1, 1, 1), "explicit",
         (0, 0, 0), (0, 0, 0), (2, 2, 1), None),
        ("same_upper_output_shape", (2, 3, 2), (3, 3, 3), (2, 2, 2), (1, 1, 1), "same_upper",
         (0, 0, 0), (0, 0, 0), (0, 0, 0), (4, 8, 5)),
        ("same_lower_output_shape_grow", (2, 2, 2), (2, 1, 2), (3, 3, 2), (1, 1, 1),
         "same_lower", (0, 0, 0), (0, 0, 0), (0, 0, 0), (7, 8, 4)),
    ]
    for j, (tag, n, k, s, d, padding, pb, pe, op, shape) in enumerate(onnx_style):
        for dtype in ("float64", "float32") if j % 2 == 0 else ("float64",):
            name = f"grad_torch3d_onnxstyle_{tag}_{dtype}"
            c = torch_description(
                name, 3, cin=2, cout=3, groups=1, batch=2, n=n, k=k, s=s, d=d, p=pb, op=op,
                bias=j != 2, dtype=dtype, padding=padding, pads_end=pe, output_shape=shape,
                act=("linear", "relu", "tanh")[j % 3],
                note="ONNX ConvTranspose semantics (pads / output_shape / auto_pad) expressed "
                     "with torch: padding 0, then the crop sliced, zero-padded past the full result")
            torch_grad_case(wr, c, gen.rng_for(name), slicing=True)


# --------------------------------------------------------------------------
# Keras 3: tf.GradientTape on the TF backend, autograd on the torch backend

def keras_formula_tf(name, alpha):
    """Keras's formula of activation `name` with float64-exact TF ops."""
    import tensorflow as tf
    a = gen.DEFAULT_ALPHA[name] if name == "leaky_relu" and alpha is None else alpha
    if name == "leaky_relu":
        return lambda z: tf.where(z >= 0, z, z * tf.constant(a, z.dtype))
    if name == "gelu":
        return lambda z: 0.5 * z * (1.0 + tf.math.erf(z / tf.constant(math.sqrt(2.0), z.dtype)))
    c = math.sqrt(2.0 / math.pi)
    return lambda z: 0.5 * z * (1.0 + tf.tanh(tf.constant(c, z.dtype) * (z + 0.044715 * z ** 3)))


class TFRefused(Exception):
    """TF cannot give this golden (its CPU kernels refuse the configuration, or
    its gradient is known wrong there): run it on Keras's torch backend."""


def tf_message(e):
    """TF's error as "Op: message", without the function-node wrapper and the
    argument dump Keras appends."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(str(e).split()))
    m = re.search(r"\{\{function_node __wrapped__(?:__MklNative)?(\w+?)_device_[^}]*\}\}\s*"
                  r"(.*?)\s*(?:\[Op:|Arguments received|$)", text)
    return f"{m.group(1)}: {m.group(2)}" if m else text[:300]


def tf_wrong_input_gradient(spec):
    """Why TF's input gradient would be wrong for this spec, or None.

    Comparing tf.GradientTape's input gradient of Conv3DTranspose with the
    brute-force adjoint of the same layer's forward output (every 1-axis
    layer with k <= 5, s <= 3, n <= 3, valid/same, output_padding None or
    given) finds them different exactly for `same` with a kernel 2 or more
    shorter than the stride (k = 1, s = 3 there), on every axis; the
    forward output itself agrees with canon(), and Conv1D/2DTranspose's
    gradients agree everywhere. So such 3-D specs go to the torch backend."""
    if spec["rank"] != 3 or spec["kwargs"]["padding"] != "same":
        return None
    for k, s in zip(spec["k"], spec["kwargs"]["strides"]):
        if s - k >= 2:
            return (f"TF's gradient for the input of conv3d_transpose with padding same, kernel "
                    f"{k} and stride {s} is not the adjoint of its forward output (a TF bug)")
    return None


def keras_layer_grads_tf(spec, x, weights, dy_of):
    """tf.GradientTape over the Keras layer (TF backend). dy_of(shape) draws dL/dy.
    Returns dy, [gx, gw(, gb)], note."""
    import tensorflow as tf
    wrong = tf_wrong_input_gradient(spec)
    if wrong:
        raise TFRefused(wrong)
    act, alpha, dtype = spec["act"], spec["alpha"], spec["dtype"]
    formula = dtype == "float64" and act in KERAS_FORMULA_IN_F64
    fn, _ = gen.keras_activation(act, alpha) if not formula else ("linear", None)
    layer = gen.keras_layer_class(spec["rank"])(data_format=spec["df"], activation=fn,
                                                **spec["kwargs"])
    try:
        layer.build(x.shape)
        layer.set_weights(weights)
        xt = tf.constant(x)
        variables = [layer.kernel.value] + ([layer.bias.value] if spec["use_bias"] else [])
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            if formula:
                y = keras_formula_tf(act, alpha)(y)
        dy = dy_of(tuple(y.shape))
        grads = tape.gradient(y, [xt] + variables, output_gradients=tf.constant(dy))
        grads = [None if gr is None else np.asarray(gr) for gr in grads]
    except Exception as e:  # noqa: BLE001 - TF's CPU kernels refuse some configurations
        raise TFRefused(tf_message(e)) from e
    note = None
    if formula:
        note = (f"{gen.KERAS_F64_AT_F32_PRECISION[act]}: this float64 golden applies Keras's "
                f"{act} formula with float64 TF ops after the layer (activation=None) under "
                "the same GradientTape")
    return dy, grads, note


def keras_layer_grads_torch(spec, x, weights, dy_of):
    """The same on Keras's torch backend: torch autograd through the layer call."""
    import torch
    fn, _ = gen.keras_activation(spec["act"], spec["alpha"])
    layer = gen.keras_layer_class(spec["rank"])(data_format=spec["df"], activation=fn,
                                                **spec["kwargs"])
    layer.build(x.shape)
    layer.set_weights(weights)
    xt = torch.tensor(x, requires_grad=True)
    y = layer(xt)
    dy = dy_of(tuple(y.shape))
    y.backward(torch.from_numpy(dy))
    grads = [xt.grad.numpy(), layer.kernel.value.grad.numpy()]
    if spec["use_bias"]:
        grads.append(layer.bias.value.grad.numpy())
    return dy, grads, None


def keras_grad_case(wr, spec, backend, refusal=None):
    """One Keras gradient case from a spec (a JSON-able dict, so the TF process
    can hand refused specs to the torch-backend process)."""
    name, rank, dtype = spec["name"], spec["rank"], spec["dtype"]
    rng = gen.rng_for(name)
    dt = npdtype(dtype)
    n, k = tuple(spec["n"]), tuple(spec["k"])
    kw = spec["kwargs"]
    cin, filters, batch = spec["cin"], kw["filters"], spec["batch"]
    op = kw["output_padding"]
    for _ in range(20):
        x_cf = rng.uniform(-1, 1, (batch, cin) + n).astype(dt)
        x = x_cf if spec["df"] == "channels_first" else np.moveaxis(x_cf, 1, -1).copy()
        w = rng.uniform(-1, 1, k + (filters, cin)).astype(dt)
        b = rng.uniform(-1, 1, (filters,)).astype(dt)
        c = gen.base_case("keras", name, rank, dtype, x_cf.shape, w, kw["strides"],
                          kw["dilation_rate"], kw["padding"], spec["df"], "keras",
                          spec["use_bias"], spec["act"], spec["alpha"], op=op)
        if not near_kink(c, x, w, b if spec["use_bias"] else None):
            break
    else:
        raise SystemExit(f"{name}: no draw kept the pre-activation away from the kinks")
    weights = [w, b] if spec["use_bias"] else [w]
    dy_of = lambda shape: rng.uniform(-1, 1, shape).astype(dt)  # noqa: E731
    run = keras_layer_grads_tf if backend == "tensorflow" else keras_layer_grads_torch
    dy, grads, note = run(spec, x, weights, dy_of)
    rank_name = {1: "Conv1DTranspose", 2: "Conv2DTranspose", 3: "Conv3DTranspose"}[rank]
    if backend == "tensorflow":
        c["gradient_source"] = f"tf.GradientTape over keras.layers.{rank_name}"
    else:
        c["gradient_source"] = (f"torch.autograd through keras.layers.{rank_name} on Keras's "
                                "torch backend")
        note = f"Keras 3 on its torch backend: the TF backend cannot give this golden ({refusal})"
    if note:
        c["note"] = note
    _, shown = gen.keras_activation(spec["act"], spec["alpha"])
    if spec["act"] != "linear" and shown != spec["act"]:
        c["keras_activation"] = shown
    return check_and_write(wr, c, {
        "input": x, "kernel": w, "bias": b if spec["use_bias"] else None, "grad_output": dy,
        "grad_input": grads[0], "grad_kernel": grads[1],
        "grad_bias": grads[2] if spec["use_bias"] else None})


def keras_spec(name, rank, *, filters, cin, batch, n, k, s=1, d=1, padding="valid", op=None,
               df="channels_last", use_bias=True, act="linear", alpha=None, dtype="float32"):
    t = lambda v: list(gen.tup(v, rank))  # noqa: E731
    return {"name": name, "rank": rank, "cin": cin, "batch": batch, "n": t(n), "k": t(k),
            "df": df, "use_bias": use_bias, "act": act, "alpha": alpha, "dtype": dtype,
            "kwargs": dict(filters=filters, kernel_size=t(k), strides=t(s), padding=padding,
                           output_padding=t(op) if op is not None else None,
                           dilation_rate=t(d), use_bias=use_bias, dtype=dtype)}


def output_lengths(spec):
    c = {"input_size": spec["n"], "kernel_size": spec["k"], "strides": spec["kwargs"]["strides"],
         "dilation": spec["kwargs"]["dilation_rate"], "padding": spec["kwargs"]["padding"],
         "output_padding": spec["kwargs"]["output_padding"]}
    return [gen.resolve_axis(c, i)[1] for i in range(spec["rank"])]


def drawn(draw):
    """draw() again until the layer's output is not empty (Keras returns an
    empty tensor for `same`, output_padding 0, an even kernel and n = 1)."""
    while True:
        spec = draw()
        if min(output_lengths(spec)) >= 1:
            return spec


def keras_gradient_specs():
    rng = np.random.default_rng(20260601)
    ri = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    acts = list(gen.ACTIVATIONS)
    specs = []
    # Rank 3: valid/same x output_padding None/given, random strides and kernels.
    for padding in ("valid", "same"):
        for op_mode in ("none", "given"):
            for i in range(3):
                def draw():
                    s = tuple(ri(1, 3) for _ in range(3))
                    return keras_spec(
                        f"grad_keras3d_{padding}_op{op_mode}_{i}", 3, filters=ri(1, 3),
                        cin=ri(1, 3), batch=ri(1, 2), n=tuple(ri(1, 3) for _ in range(3)),
                        k=tuple(ri(1, 4) for _ in range(3)), s=s, padding=padding,
                        op=tuple(ri(0, sv - 1) for sv in s) if op_mode == "given" else None,
                        use_bias=i != 2, act=("linear", "relu", "sigmoid")[i],
                        dtype=("float32", "float64")[(i + len(padding)) % 2])
                specs.append(drawn(draw))
    # Ranks 1 and 2.
    for rank in (1, 2):
        for j in range(5):
            def draw():
                s = tuple(ri(1, 3) for _ in range(rank))
                return keras_spec(
                    f"grad_keras{rank}d_{j}", rank, filters=ri(1, 3), cin=ri(1, 3),
                    batch=ri(1, 2), n=tuple(ri(1, 4) for _ in range(rank)),
                    k=tuple(ri(1, 4) for _ in range(rank)), s=s, padding=("valid", "same")[j % 2],
                    op=tuple(ri(0, sv - 1) for sv in s) if j >= 2 else None, use_bias=j != 3,
                    act=acts[(5 * j + rank) % len(acts)], dtype=("float64", "float32")[j % 2])
            specs.append(drawn(draw))
    # Dilation (stride 1, as Keras requires), channels_first, and same with
    # output_padding 0 on an even effective kernel.
    for j, (rank, d, padding) in enumerate(((3, (2, 1, 3), "valid"), (3, (1, 2, 2), "same"),
                                            (2, (3, 2), "same"), (1, 2, "valid"))):
        specs.append(keras_spec(f"grad_keras{rank}d_dilation_{j}", rank, filters=2, cin=2,
                                batch=2, n=(2, 3, 2)[:rank], k=(2, 3, 2)[:rank], d=d,
                                padding=padding, op=(0,) * rank if j % 2 else None,
                                act=("linear", "tanh")[j % 2],
                                dtype=("float64", "float32")[j % 2]))
    for j, (rank, s, padding, op) in enumerate(((3, (2, 1, 2), "valid", None),
                                                (3, (2, 2, 1), "same", (1, 1, 0)),
                                                (2, (2, 3), "same", None),
                                                (1, 2, "valid", 1))):
        specs.append(keras_spec(f"grad_keras{rank}d_channels_first_{j}", rank, filters=3,
                                cin=2, batch=2, n=(2, 3, 2)[:rank], k=(3, 2, 2)[:rank], s=s,
                                padding=padding, op=op, df="channels_first", use_bias=j != 1,
                                act=("linear", "relu", "elu", "linear")[j],
                                dtype=("float64", "float32")[j % 2]))
    for j, (rank, n, k, s, op) in enumerate(((3, (2, 3, 2), (2, 3, 4), (2, 2, 1), (0, 1, 0)),
                                             (2, (3, 2), (2, 3), (2, 1), (0, 0)),
                                             (1, 3, 4, 2, 0))):
        specs.append(keras_spec(f"grad_keras{rank}d_same_op_even_k_{j}", rank, filters=2,
                                cin=2, batch=1, n=n, k=k, s=s, padding="same", op=op,
                                act=("linear", "relu", "tanh")[j],
                                dtype=("float64", "float32")[j % 2]))
    # Every element-wise activation in float64, then non-default parameters.
    for j, act in enumerate(gen.ACTIVATIONS):
        if act == "linear":
            continue
        specs.append(keras_spec(f"grad_keras3d_act_{act}", 3, filters=2, cin=2, batch=1,
                                n=(2, 2, 2), k=(2, 3, 2), s=(2, 1, 2),
                                padding=("same", "valid")[j % 2],
                                op=(1, 0, 1) if j % 4 == 0 else None, act=act,
                                dtype="float64"))
    for act, alpha in (("leaky_relu", 0.1), ("elu", 0.5), ("celu", 2.0), ("hard_shrink", 0.3),
                       ("soft_shrink", 0.25), ("squareplus", 1.0)):
        specs.append(keras_spec(f"grad_keras3d_act_{act}_alpha", 3, filters=2, cin=2,
                                batch=1, n=(2, 2, 2), k=3, s=2, padding="same", act=act,
                                alpha=alpha, dtype="float64"))
    return specs


def keras_gradient_cases(wr, specs_path):
    """TF backend; writes the specs TF refused, with TF's message, to specs_path
    for the torch-backend process (keras_torch_backend_gradient_cases)."""
    refused = []
    for spec in keras_gradient_specs():
        try:
            keras_grad_case(wr, spec, "tensorflow")
        except TFRefused as e:
            refused.append(dict(spec, refusal=str(e)))
    with open(specs_path, "w") as f:
        json.dump(refused, f)
    return refused


def keras_torch_backend_gradient_cases(wr, specs_path):
    with open(specs_path) as f:
        specs = json.load(f)
    for spec in specs:
        keras_grad_case(wr, spec, "torch", refusal=spec.pop("refusal"))


def run_torch_backend_part(out, specs_path):
    """Runs this generator again with KERAS_BACKEND=torch for the refused specs."""
    subprocess.run([sys.executable, gen.__file__, "--out", str(out), "--part",
                    "keras-torch-backend-gradients", "--specs", str(specs_path)],
                   env=dict(gen.os.environ, KERAS_BACKEND="torch"), check=True)
