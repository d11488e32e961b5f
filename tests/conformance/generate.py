#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes tconv's conformance cases: golden outputs of the real frameworks.

Run by hand (never by the build or CI), in a virtualenv with tensorflow-cpu
(Keras 3), torch and onnx; see README.md beside this file. For every case it
writes <name>.json (the problem, as the tconv_problem_t fields that reproduce
it) and the .npy arrays it names into data/. Generation is deterministic: each
case draws its numbers from a generator seeded by the case's name.

Before a case is written, its golden output is checked against canon(), an
independent NumPy model of the canonical form (docs/semantics.md): a case
whose recorded fields do not reproduce the framework's output stops the run,
so a wrong description never reaches the committed data.
"""
import argparse
import json
import os
import re
import shutil
import sys
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

# gradient_cases.py does `import generate`: run as a script, this module is
# __main__, and that import must find it rather than load a second copy.
sys.modules.setdefault("generate", sys.modules[__name__])

HERE = Path(__file__).resolve().parent
FORWARD_ROLES = ("input", "kernel", "bias", "output")
ACTIVATIONS = [
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid",
    "hard_silu", "tanh", "softplus", "softsign", "silu", "gelu", "exponential",
    "log_sigmoid", "mish", "celu", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink",
    "sparse_plus", "squareplus", "gelu_tanh",
]
# Keras's keyword for the one parameter of an activation, where it has one.
ALPHA_KEYWORD = {"leaky_relu": "negative_slope", "elu": "alpha", "celu": "alpha",
                 "hard_shrink": "threshold", "soft_shrink": "threshold", "squareplus": "b"}
DEFAULT_ALPHA = {"leaky_relu": 0.2, "elu": 1.0, "celu": 1.0, "hard_shrink": 0.5,
                 "soft_shrink": 0.5, "squareplus": 4.0}


class FrameworkRefused(Exception):
    """A framework failed on arguments it accepted (not a validation error)."""


REFUSED = []  # messages of FrameworkRefused, printed at the end


# Activations that Keras (TF backend) computes in float64 with float32 accuracy.
KERAS_F64_AT_F32_PRECISION = {
    "leaky_relu": "tf.nn.leaky_relu takes negative_slope as a float32 attribute",
    "gelu": "tf.nn.gelu (erf form) in float64 is only float32-accurate on the TF CPU backend",
    "gelu_tanh": "tf.nn.gelu(approximate=True) in float64 is only float32-accurate on the TF "
                 "CPU backend",
}


def rng_for(name):
    """A generator seeded by the case name, so cases are independent of order."""
    return np.random.default_rng(zlib.crc32(name.encode()))


# --------------------------------------------------------------------------
# Independent model of what tconv computes (float64, channels_first, torch
# kernel layout), used only to check that a case's description is right.

def apply_activation(z, name, alpha):
    a = DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha
    from math import erf, sqrt
    sp = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    hs = lambda v: np.clip(v / 6.0 + 0.5, 0.0, 1.0)  # noqa: E731
    table = {
        "linear": lambda v: v,
        "relu": lambda v: np.maximum(v, 0),
        "relu6": lambda v: np.clip(v, 0, 6),
        "leaky_relu": lambda v: np.where(v >= 0, v, a * v),
        "elu": lambda v: np.where(v > 0, v, a * np.expm1(v)),
        "selu": lambda v: 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772 * np.expm1(v)),
        "sigmoid": sig,
        "hard_sigmoid": hs,
        "hard_silu": lambda v: v * hs(v),
        "tanh": np.tanh,
        "softplus": sp,
        "softsign": lambda v: v / (1 + np.abs(v)),
        "silu": lambda v: v * sig(v),
        "gelu": lambda v: 0.5 * v * (1 + np.vectorize(erf)(v / sqrt(2.0))),
        "exponential": np.exp,
        "log_sigmoid": lambda v: -sp(-v),
        "mish": lambda v: v * np.tanh(sp(v)),
        "celu": lambda v: np.maximum(v, 0) + np.minimum(0, a * np.expm1(v / a)),
        "hard_tanh": lambda v: np.clip(v, -1, 1),
        "hard_shrink": lambda v: np.where(np.abs(v) > a, v, 0.0),
        "soft_shrink": lambda v: v - np.clip(v, -a, a),
        "tanh_shrink": lambda v: v - np.tanh(v),
        "sparse_plus": lambda v: np.where(v <= -1, 0.0, np.where(v >= 1, v, (v + 1) ** 2 / 4)),
        "squareplus": lambda v: (v + np.sqrt(v * v + a)) / 2,
        "gelu_tanh": lambda v: 0.5 * v * (1 + np.tanh(0.7978845608028654 * (v + 0.044715 * v ** 3))),
    }
    return table[name](z)


def resolve_axis(c, i):
    """Begin crop and output length of spatial axis i (the rules of semantics.md)."""
    n, k, s, d = c["input_size"][i], c["kernel_size"][i], c["strides"][i], c["dilation"][i]
    ek = (k - 1) * d + 1
    op = c["output_padding"][i] if c["output_padding"] is not None else None
    mode = c["padding"]
    if mode == "valid":
        if op is None:
            return 0, n * s + max(ek - s, 0)
        return 0, (n - 1) * s + ek + op
    if mode == "same":
        length = n * s if op is None else (n - 1) * s + ek - 2 * (ek // 2) + op
        return max(0, (n - 1) * s + ek - length) // 2, length
    op = op or 0
    if c["output_shape"] is not None or mode in ("same_upper", "same_lower"):
        length = c["output_shape"][i] if c["output_shape"] is not None else n * s
        total = s * (n - 1) + op + ek - length
        pb = total // 2 if mode == "same_upper" else total - total // 2
        return pb, length
    pb, pe = c["pads_begin"][i], c["pads_end"][i]
    return pb, (n - 1) * s + ek - pb - pe + op


def canon(c, x, w, b):
    """The canonical transposed convolution of case c, in float64."""
    r = c["spatial_rank"]
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    if c["data_format"] == "channels_last":
        x = np.moveaxis(x, -1, 1)
    if c["kernel_layout"] == "keras":  # (k..., Cout/G, Cin) -> (Cin, Cout/G, k...)
        w = np.transpose(w, (r + 1, r) + tuple(range(r)))
    g = c["groups"]
    nb, cin = x.shape[:2]
    cog = w.shape[1]
    crops, lengths = zip(*(resolve_axis(c, i) for i in range(r)))
    y = np.zeros((nb, cog * g) + tuple(lengths))
    for idx in np.ndindex(*x.shape[2:]):
        for t in np.ndindex(*w.shape[2:]):
            o = [idx[i] * c["strides"][i] + t[i] * c["dilation"][i] - crops[i] for i in range(r)]
            if any(o[i] < 0 or o[i] >= lengths[i] for i in range(r)):
                continue
            for gi in range(g):
                xs = x[(slice(None), slice(gi * cin // g, (gi + 1) * cin // g)) + idx]
                ws = w[(slice(gi * cin // g, (gi + 1) * cin // g), slice(None)) + t]
                y[(slice(None), slice(gi * cog, (gi + 1) * cog)) + tuple(o)] += xs @ ws
    if b is not None:
        y += np.asarray(b, np.float64).reshape((1, -1) + (1,) * r)
    y = apply_activation(y, c["activation"], c.get("activation_alpha"))
    if c["data_format"] == "channels_last":
        y = np.moveaxis(y, 1, -1)
    return y


# --------------------------------------------------------------------------
# Writing cases

class Writer:
    def __init__(self, out, versions):
        self.out = out
        self.versions = versions
        self.names = set()
        self.counts = {}

    def write(self, case, arrays):
        """case: the JSON fields; arrays: role -> ndarray (input, kernel, bias, output)."""
        case = dict(case)
        if not case.get("expect_error"):
            self.check(case, arrays)
        self.save(case, arrays, FORWARD_ROLES,
                  case["framework"] + (" (error)" if case.get("expect_error") else ""))

    def save(self, case, arrays, roles, count_key):
        """Writes the arrays of `roles` (None: absent) and the JSON, counted under count_key."""
        name = case["name"]
        if name in self.names:
            raise SystemExit(f"duplicate case name {name}")
        self.names.add(name)
        files = {}
        for role in roles:
            a = arrays.get(role)
            if a is None:
                files[role] = None
                continue
            dt = np.float64 if case["dtype"] == "float64" else np.float32
            a = np.ascontiguousarray(np.asarray(a), dtype=np.dtype(dt).newbyteorder("<"))
            fname = f"{name}.{role}.npy"
            np.save(self.out / fname, a)
            files[role] = fname
        case = dict(case)
        case["files"] = files
        case["framework_version"] = self.versions[case["framework"]]
        with open(self.out / f"{name}.json", "w") as f:
            json.dump(case, f, indent=1, sort_keys=True)
            f.write("\n")
        self.counts[count_key] = self.counts.get(count_key, 0) + 1

    def check(self, case, arrays):
        want = canon(case, arrays["input"], arrays["kernel"], arrays.get("bias"))
        got = np.asarray(arrays["output"], np.float64)
        if want.shape != got.shape:
            raise SystemExit(f"{case['name']}: framework gives shape {got.shape}, "
                             f"the description gives {want.shape}")
        err = np.max(np.abs(want - got)) if got.size else 0.0
        scale = max(1.0, np.max(np.abs(want)))
        tol = (1e-4 if case["dtype"] == "float32" else 1e-10) * scale
        if (err > tol and case["framework"] == "keras" and case["dtype"] == "float64"
                and case["activation"] in KERAS_F64_AT_F32_PRECISION and err < 1e-6 * scale):
            case["tolerance"] = 1e-7
            case["note"] = (f"{KERAS_F64_AT_F32_PRECISION[case['activation']]}: in float64 this "
                            f"case's output is off by {err:.2g} from the exact activation, so "
                            "it is checked with the relative tolerance 1e-7")
        elif err > tol:
            message = f"{case['name']}: framework and description differ by {err}"
            if not os.environ.get("GEN_LENIENT"):
                raise SystemExit(message)
            print("MISMATCH", message)


def base_case(framework, name, rank, dtype, x_shape_cf, w, s, d, padding, df, layout,
              use_bias, activation="linear", alpha=None, groups=1, op=None,
              pads_begin=None, pads_end=None, output_shape=None, note=None):
    """JSON fields common to every case. x_shape_cf is (N, Cin, spatial...)."""
    k = list(w.shape[:rank]) if layout == "keras" else list(w.shape[2:])
    cout = w.shape[rank] * groups if layout == "keras" else w.shape[1] * groups
    c = {
        "framework": framework, "name": name, "spatial_rank": rank, "dtype": dtype,
        "batch": int(x_shape_cf[0]), "in_channels": int(x_shape_cf[1]),
        "out_channels": int(cout), "input_size": [int(v) for v in x_shape_cf[2:]],
        "kernel_size": [int(v) for v in k], "strides": list(s), "dilation": list(d),
        "padding": padding,
        "pads_begin": list(pads_begin) if pads_begin is not None else [0] * rank,
        "pads_end": list(pads_end) if pads_end is not None else [0] * rank,
        "output_padding": list(op) if op is not None else None,
        "output_shape": list(output_shape) if output_shape is not None else None,
        "groups": groups, "data_format": df, "kernel_layout": layout,
        "use_bias": bool(use_bias), "activation": activation,
        "activation_alpha": alpha, "expect_error": False,
    }
    if note:
        c["note"] = note
    return c


def tup(v, r):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * r


# --------------------------------------------------------------------------
# Keras 3

def keras_activation(name, alpha):
    import keras
    if name == "gelu_tanh":
        return lambda v: keras.activations.gelu(v, approximate=True), "gelu(approximate=True)"
    if alpha is not None:
        kw = {ALPHA_KEYWORD[name]: alpha}
        fn = getattr(keras.activations, name)
        return (lambda v: fn(v, **kw)), f"{name}({ALPHA_KEYWORD[name]}={alpha})"
    return name, name


def to_numpy(tensor):
    import keras
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def keras_layer_class(rank):
    import keras
    return {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
            3: keras.layers.Conv3DTranspose}[rank]


def keras_run(rank, kwargs, x, weights, df):
    """Builds the layer, loads weights, returns (output, layer weights, note).

    channels_first is also computed by the same layer in channels_last with the
    input and output transposed. The transposed result is the golden one when
    TF cannot run channels_first, or when the two disagree: Keras 3's TF
    backend turns ops.add(outputs, bias) into tf.nn.bias_add and picks NHWC
    whenever the LAST axis happens to have `filters` elements, so a
    channels_first output whose last spatial length equals `filters` gets its
    bias added along the wrong axis."""
    cls = keras_layer_class(rank)
    if df == "channels_last":
        layer = cls(data_format=df, **kwargs)
        layer.build(x.shape)
        layer.set_weights(weights)
        return to_numpy(layer(x)), layer.get_weights(), None
    layer = cls(data_format="channels_last", **kwargs)
    xl = np.moveaxis(x, 1, -1)
    layer.build(xl.shape)
    layer.set_weights(weights)
    y_last = np.moveaxis(to_numpy(layer(xl)), -1, 1)
    got_weights = layer.get_weights()
    layer = cls(data_format=df, **kwargs)
    try:
        layer.build(x.shape)
        layer.set_weights(weights)
        y_first = to_numpy(layer(x))
    except Exception as e:  # noqa: BLE001 - TF on CPU lacks some channels_first kernels
        first_line = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(str(e).split()))
        first_line = first_line[first_line.find("{{"):][:200].strip()
        return y_last, got_weights, (
            "Keras channels_first raised on the TF CPU backend (" + first_line + "); "
            "golden output computed by the same layer in channels_last with the input "
            "and output transposed")
    if y_first.shape == y_last.shape and y_last.size == 0:
        return y_first, got_weights, None
    scale = max(1.0, float(np.max(np.abs(y_last)))) if y_last.size else 1.0
    if y_first.shape != y_last.shape or np.max(np.abs(y_first - y_last)) > 1e-5 * scale:
        diff = (float(np.max(np.abs(y_first - y_last))) if y_first.shape == y_last.shape
                else f"shape {y_first.shape}")
        return y_last, got_weights, (
            f"Keras channels_first output differs from channels_last (max diff {diff:.3g}): "
            "keras.ops.add on the TF backend adds the (1, filters, 1, ...) bias with "
            "tf.nn.bias_add in NHWC when the last axis length equals filters; golden output "
            "computed by the same layer in channels_last with the input and output transposed")
    return y_first, got_weights, None


def keras_case(wr, name, rank, *, filters, cin, batch, n, k, s=1, d=1, padding="valid",
               op=None, df="channels_last", use_bias=True, act="linear", alpha=None,
               dtype="float32"):
    rng = rng_for(name)
    n, k, s, d = tup(n, rank), tup(k, rank), tup(s, rank), tup(d, rank)
    op = tup(op, rank) if op is not None else None
    npdt = np.float64 if dtype == "float64" else np.float32
    for attempt in range(20):
        x_cf = rng.uniform(-1, 1, (batch, cin) + n).astype(npdt)
        x = x_cf if df == "channels_first" else np.moveaxis(x_cf, 1, -1).copy()
        w = rng.uniform(-1, 1, k + (filters, cin)).astype(npdt)
        b = rng.uniform(-1, 1, (filters,)).astype(npdt)
        weights = [w, b] if use_bias else [w]
        fn, shown = keras_activation(act, alpha)
        kwargs = dict(filters=filters, kernel_size=k, strides=s, padding=padding,
                      output_padding=op, dilation_rate=d, activation=fn, use_bias=use_bias,
                      dtype=dtype)
        try:
            y, got_weights, note = keras_run(rank, kwargs, x, weights, df)
        except Exception as e:  # noqa: BLE001 - recorded, see FrameworkRefused
            raise FrameworkRefused(f"{name}: Keras raised " + str(e).strip().splitlines()[-1][:300]
                                   if "Exception encountered" not in str(e) else
                                   f"{name}: Keras raised " + " ".join(str(e).split())[:400])
        c = base_case("keras", name, rank, dtype, x_cf.shape, got_weights[0], s, d, padding,
                      df, "keras", use_bias, act, alpha, op=op, note=note)
        if act != "linear" and shown != act:
            c["keras_activation"] = shown
        bias = got_weights[1] if use_bias else None
        if y.size == 0:
            raise FrameworkRefused(f"{name}: Keras returned an empty output {y.shape} for "
                                   f"n={n} k={k} s={s} d={d} padding={padding} op={op}")
        if act == "hard_shrink":  # discontinuous: keep values away from +-threshold
            pre = canon(dict(c, activation="linear"), x, got_weights[0], bias)
            a = DEFAULT_ALPHA[act] if alpha is None else alpha
            if np.min(np.abs(np.abs(pre) - a)) < 1e-3:
                continue
        wr.write(c, {"input": x, "kernel": got_weights[0], "bias": bias, "output": y})
        return
    raise SystemExit(f"{name}: no draw kept hard_shrink away from its threshold")


def keras_try(wr, name, rank, **kw):
    """keras_case, but a framework failure is recorded instead of stopping the run."""
    try:
        keras_case(wr, name, rank, **kw)
        return True
    except FrameworkRefused as e:
        REFUSED.append(str(e))
        return False


def keras_drawn(wr, name, rank, draw):
    """A random case: draw() gives the keyword arguments; drawn again (a few times)
    while Keras fails on what it drew, so the grid keeps its size."""
    for _ in range(10):
        if keras_try(wr, name, rank, **draw()):
            return
    raise SystemExit(f"{name}: Keras failed on every draw: {REFUSED[-1]}")


def keras_cases(wr):
    rng = np.random.default_rng(20240601)
    ri = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    acts = list(ACTIVATIONS)
    # Rank 3 grid: padding x output_padding None/given, random strides and kernels.
    for padding in ("valid", "same"):
        for op_mode in ("none", "given"):
            for i in range(10):
                def draw():
                    s = tuple(ri(1, 3) for _ in range(3))
                    return dict(filters=ri(1, 3), cin=ri(1, 3), batch=ri(1, 2),
                                n=tuple(ri(1, 4) for _ in range(3)),
                                k=tuple(ri(1, 5) for _ in range(3)), s=s, padding=padding,
                                op=tuple(ri(0, sv - 1) for sv in s) if op_mode == "given" else None,
                                df="channels_first" if i % 4 == 3 else "channels_last",
                                use_bias=i % 3 != 2, act=acts[(i * 5 + len(padding)) % len(acts)])
                keras_drawn(wr, f"keras3d_{padding}_op{op_mode}_{i}", 3, draw)
    # Kernel smaller than stride (Keras and PyTorch disagree under valid).
    small = [((1, 1, 1), (2, 2, 2)), ((1, 1, 1), (3, 3, 3)), ((2, 2, 2), (3, 3, 3)),
             ((1, 2, 3), (2, 3, 1))]
    for j, (k, s) in enumerate(small):
        for padding in ("valid", "same"):
            for op in (None, tuple(sv - 1 for sv in s)):
                tag = "opnone" if op is None else "opgiven"
                keras_try(wr, f"keras3d_ksmall_{padding}_{tag}_{j}", 3, filters=2, cin=2,
                          batch=2, n=(2, 3, 2), k=k, s=s, padding=padding, op=op)
    # Dilation (stride 1, as Keras requires).
    for j in range(8):
        def draw():
            return dict(filters=2, cin=ri(1, 3), batch=1 + j % 2,
                        n=tuple(ri(1, 4) for _ in range(3)), k=tuple(ri(1, 4) for _ in range(3)),
                        d=tuple(ri(1, 3) for _ in range(3)), padding=("valid", "same")[j % 2],
                        op=(0, 0, 0) if j % 4 >= 2 else None,
                        act=("linear", "relu", "tanh", "gelu")[j % 4],
                        df="channels_first" if j == 5 else "channels_last")
        keras_drawn(wr, f"keras3d_dilation_{j}", 3, draw)
    # Every element-wise activation (float32 and float64), then non-default parameters.
    for dtype in ("float32", "float64"):
        for j, act in enumerate(ACTIVATIONS):
            keras_try(wr, f"keras3d_act_{act}_{dtype}", 3, filters=3, cin=2, batch=2,
                      n=(2, 3, 2), k=(2, 3, 2), s=(2, 1, 2), padding=("same", "valid")[j % 2],
                      op=(1, 0, 1) if j % 4 == 0 else None, act=act, dtype=dtype)
    for act, alpha in (("leaky_relu", 0.1), ("elu", 0.5), ("celu", 2.0), ("hard_shrink", 0.3),
                       ("soft_shrink", 0.25), ("squareplus", 1.0)):
        keras_try(wr, f"keras3d_act_{act}_alpha", 3, filters=2, cin=2, batch=1, n=(2, 2, 3),
                  k=3, s=2, padding="same", act=act, alpha=alpha)
    # float64 grid, channels_first included.
    for j in range(12):
        def draw():
            s = tuple(ri(1, 3) for _ in range(3))
            return dict(filters=ri(1, 3), cin=ri(1, 3), batch=ri(1, 2),
                        n=tuple(ri(1, 3) for _ in range(3)), k=tuple(ri(1, 5) for _ in range(3)),
                        s=s, padding=("valid", "same")[j % 2],
                        op=tuple(ri(0, sv - 1) for sv in s) if j % 3 == 0 else None,
                        df="channels_first" if j % 4 == 1 else "channels_last",
                        use_bias=j % 5 != 4, act=("linear", "relu", "sigmoid", "elu")[j % 4],
                        dtype="float64")
        keras_drawn(wr, f"keras3d_f64_{j}", 3, draw)
    # Ranks 1 and 2.
    for rank in (1, 2):
        rr = lambda lo, hi: tuple(ri(lo, hi) for _ in range(rank))  # noqa: E731
        cls = f"keras{rank}d"
        for j in range(24):
            def draw():
                s = rr(1, 3)
                return dict(filters=ri(1, 4), cin=ri(1, 4), batch=ri(1, 2), n=rr(1, 5),
                            k=rr(1, 5), s=s, padding=("valid", "same")[(j // 2) % 2],
                            op=tuple(ri(0, sv - 1) for sv in s) if j % 2 else None,
                            df="channels_first" if j % 5 == 4 else "channels_last",
                            use_bias=j % 3 != 1, act=acts[(7 * j + rank) % len(acts)],
                            dtype="float64" if j % 6 == 5 else "float32")
            keras_drawn(wr, f"{cls}_{j}", rank, draw)
        for j, (k, s) in enumerate(((1, 2), (1, 3), (2, 3), (3, 3))):
            for padding in ("valid", "same"):
                keras_try(wr, f"{cls}_ksmall_{padding}_{j}", rank, filters=2, cin=1, batch=1,
                          n=3, k=k, s=s, padding=padding)
        for j in range(4):
            def draw():
                return dict(filters=2, cin=2, batch=2, n=rr(1, 4), k=rr(2, 4), d=rr(2, 3),
                            padding=("valid", "same")[j % 2], op=0 if j >= 2 else None,
                            act="relu")
            keras_drawn(wr, f"{cls}_dilation_{j}", rank, draw)


def keras_torch_backend_cases(wr):
    """Keras 'same' with output_padding where the effective kernel is even and
    output_padding is 0 on that axis: Keras asks for (n-1)*s + op, which the TF
    backend refuses (TF's SAME needs ceil(L/s) == n), so these run on Keras's
    torch backend (this process has KERAS_BACKEND=torch)."""
    specs = [  # rank, n, k, s, d, op
        (1, 3, 2, 1, 1, 0), (1, 3, 2, 2, 1, 0), (1, 3, 4, 1, 1, 0), (1, 4, 3, 1, 3, 0),
        (2, (3, 2), (2, 3), (2, 1), 1, (0, 0)), (2, (2, 3), (4, 2), (3, 2), 1, (0, 1)),
        (3, (2, 3, 2), (2, 3, 4), (2, 2, 1), 1, (0, 1, 0)),
        (3, (2, 2, 3), (4, 2, 2), (1, 1, 1), 1, (0, 0, 0)),
        (3, (3, 2, 2), (2, 2, 3), (1, 1, 1), (3, 1, 2), (0, 0, 0)),
        (3, (2, 3, 2), (2, 4, 2), (3, 2, 3), 1, (0, 0, 2)),
    ]
    note = ("Keras 3 on its torch backend: on the TF backend this layer fails at call time "
            "(same + output_padding 0 with an even effective kernel gives a length TF's SAME "
            "conv3d_transpose refuses); the torch backend agrees with the TF backend on every "
            "other Keras case here")
    for j, (rank, n, k, s, d, op) in enumerate(specs):
        for dtype in ("float32", "float64") if j % 3 == 0 else ("float32",):
            name = f"keras{rank}d_torchbackend_same_op_{j}_{dtype}"
            keras_case(wr, name, rank, filters=2, cin=2, batch=1 + j % 2, n=n, k=k, s=s, d=d,
                       padding="same", op=op, use_bias=True,
                       df="channels_first" if j % 4 == 3 else "channels_last",
                       act=("linear", "relu", "tanh")[j % 3], dtype=dtype)
            with open(wr.out / f"{name}.json") as f:
                c = json.load(f)
            c["note"] = note + ("; " + c["note"] if c.get("note") else "")
            with open(wr.out / f"{name}.json", "w") as f:
                json.dump(c, f, indent=1, sort_keys=True)
                f.write("\n")


def keras_error_cases(wr):
    """Arguments Keras refuses, with its message: tconv must refuse them too."""
    import keras
    specs = [
        ("filters0", dict(filters=0, kernel_size=3)),
        ("kernel0", dict(filters=2, kernel_size=(3, 0, 3))),
        ("strides0", dict(filters=2, kernel_size=3, strides=(1, 0, 1))),
        ("stride_and_dilation_same_axis", dict(filters=2, kernel_size=3, strides=2,
                                                dilation_rate=2)),
        ("stride_and_dilation_across_axes", dict(filters=2, kernel_size=3, strides=(2, 1, 1),
                                                 dilation_rate=(1, 1, 2))),
        ("output_padding_eq_strides", dict(filters=2, kernel_size=3, strides=2,
                                           output_padding=(1, 2, 1))),
        ("output_padding_gt_strides", dict(filters=2, kernel_size=3, strides=(2, 3, 2),
                                           output_padding=(0, 4, 0))),
        ("output_padding_stride1", dict(filters=2, kernel_size=3, strides=1,
                                        output_padding=1)),
        ("padding_causal", dict(filters=2, kernel_size=3, padding="causal")),
        ("padding_foo", dict(filters=2, kernel_size=3, padding="foo")),
    ]
    for tag, kw in specs:
        name = f"keras3d_error_{tag}"
        try:
            keras.layers.Conv3DTranspose(**kw)
            raise SystemExit(f"{name}: Keras accepted {kw}")
        except ValueError as e:
            message = str(e)
        k = tup(kw["kernel_size"], 3)
        s = tup(kw.get("strides", 1), 3)
        d = tup(kw.get("dilation_rate", 1), 3)
        op = kw.get("output_padding")
        c = base_case("keras", name, 3, "float32", (1, 2, 2, 2, 2),
                      np.zeros(k + (kw["filters"], 2), np.float32), s, d,
                      kw.get("padding", "valid"), "channels_last", "keras", False,
                      op=tup(op, 3) if op is not None else None)
        c["expect_error"] = True
        c["keras_message"] = message
        wr.write(c, {"input": np.zeros((1, 2, 2, 2, 2), np.float32),
                     "kernel": np.zeros(k + (kw["filters"], 2), np.float32)})


# --------------------------------------------------------------------------
# tf.nn.conv3d_transpose with an explicit output_shape

def tf_cases(wr):
    import tensorflow as tf
    specs = [  # n, k, s, padding, which output length of the allowed range
        ((2, 3, 2), (3, 3, 3), (2, 2, 2), "SAME", "max"),
        ((2, 3, 2), (3, 3, 3), (2, 2, 2), "SAME", "min"),
        ((3, 2, 2), (2, 4, 3), (3, 2, 1), "SAME", "mid"),
        ((2, 2, 3), (1, 2, 1), (3, 3, 2), "SAME", "max"),
        ((2, 2, 3), (1, 2, 1), (3, 3, 2), "SAME", "min"),
        ((2, 3, 2), (5, 4, 3), (2, 3, 1), "SAME", "min"),
        ((2, 3, 2), (3, 3, 3), (2, 2, 2), "VALID", "max"),
        ((2, 3, 2), (3, 3, 3), (2, 2, 2), "VALID", "min"),
        ((3, 2, 2), (2, 4, 3), (3, 2, 1), "VALID", "mid"),
        ((2, 2, 3), (1, 2, 1), (3, 3, 2), "VALID", "max"),
        ((1, 2, 2), (4, 1, 2), (1, 3, 3), "VALID", "max"),
        ((2, 2, 2), (2, 3, 2), (2, 2, 3), "SAME", "max"),
    ]
    for j, (n, k, s, pad, which) in enumerate(specs):
        for dtype in ("float32",) if j % 3 else ("float32", "float64"):
            name = f"tf_conv3d_transpose_{pad.lower()}_{j}_{dtype}"
            rng = rng_for(name)
            npdt = np.float64 if dtype == "float64" else np.float32
            cin, cout, batch = 2, 3, 1 + j % 2
            x = rng.uniform(-1, 1, (batch,) + n + (cin,)).astype(npdt)
            w = rng.uniform(-1, 1, k + (cout, cin)).astype(npdt)
            lengths = []
            for i in range(3):  # the range TF accepts: forward conv of L gives n
                if pad == "SAME":
                    lo, hi = (n[i] - 1) * s[i] + 1, n[i] * s[i]
                else:
                    lo, hi = (n[i] - 1) * s[i] + k[i], (n[i] - 1) * s[i] + k[i] + s[i] - 1
                lengths.append({"min": lo, "max": hi, "mid": (lo + hi) // 2}[which])
            y = tf.nn.conv3d_transpose(x, w, [batch] + lengths + [cout], strides=(1,) + s + (1,),
                                       padding=pad).numpy()
            # TF's placement: padding_needed = max(0, (n-1)*s + k - L), the smaller half first
            # (SAME); VALID crops nothing. Expressed as explicit crops plus output_padding.
            pb, pe, op = [], [], []
            for i in range(3):
                full = (n[i] - 1) * s[i] + k[i]
                need = max(0, full - lengths[i]) if pad == "SAME" else 0
                pb.append(need // 2)
                pe.append(need - need // 2)
                op.append(lengths[i] - (full - need))
            note = (f"tf.nn.conv3d_transpose(padding={pad}, output_shape={lengths}); TF's crop "
                    "placement expressed as explicit pads_begin/pads_end plus output_padding "
                    "(trailing zeros)")
            c = base_case("tensorflow", name, 3, dtype, (batch, cin) + n, w, s, (1, 1, 1),
                          "explicit", "channels_last", "keras", False, op=op, pads_begin=pb,
                          pads_end=pe, note=note)
            c["tf_padding"] = pad
            c["tf_output_shape"] = lengths
            wr.write(c, {"input": x, "kernel": w, "output": y})


# --------------------------------------------------------------------------
# PyTorch

TORCH_ACTIVATIONS = {  # tconv name -> torch.nn.functional call
    "relu": "relu", "relu6": "relu6", "leaky_relu": "leaky_relu(negative_slope=0.2)",
    "elu": "elu", "selu": "selu", "sigmoid": "sigmoid", "hard_sigmoid": "hardsigmoid",
    "hard_silu": "hardswish", "tanh": "tanh", "softplus": "softplus", "softsign": "softsign",
    "silu": "silu", "gelu": "gelu", "log_sigmoid": "logsigmoid", "mish": "mish", "celu": "celu",
    "hard_tanh": "hardtanh", "hard_shrink": "hardshrink", "soft_shrink": "softshrink",
    "tanh_shrink": "tanhshrink", "gelu_tanh": "gelu(approximate='tanh')",
}


def torch_activation(name):
    import torch.nn.functional as F
    spec = TORCH_ACTIVATIONS[name]
    if name == "leaky_relu":
        return lambda t: F.leaky_relu(t, 0.2)
    if name == "gelu_tanh":
        return lambda t: F.gelu(t, approximate="tanh")
    return getattr(F, spec)


def torch_case(wr, name, rank, *, cin, cout, groups, batch, n, k, s, d, p, op, bias,
               dtype, act="linear"):
    import torch
    rng = rng_for(name)
    cls = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d,
           3: torch.nn.ConvTranspose3d}[rank]
    tdt = torch.float64 if dtype == "float64" else torch.float32
    npdt = np.float64 if dtype == "float64" else np.float32
    m = cls(cin, cout, k, stride=s, padding=p, output_padding=op, groups=groups,
            bias=bias, dilation=d, dtype=tdt)
    w = rng.uniform(-1, 1, tuple(m.weight.shape)).astype(npdt)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(w))
        if bias:
            m.bias.copy_(torch.from_numpy(rng.uniform(-1, 1, (cout,)).astype(npdt)))
    x = rng.uniform(-1, 1, (batch, cin) + tuple(n)).astype(npdt)
    with torch.no_grad():
        y = m(torch.from_numpy(x))
        if act != "linear":
            y = torch_activation(act)(y)
    c = base_case("torch", name, rank, dtype, x.shape, m.weight.detach().numpy(), s, d,
                  "explicit", "channels_first", "torch", bias, act, groups=groups, op=op,
                  pads_begin=p, pads_end=p)
    if act != "linear":
        c["torch_activation"] = "torch.nn.functional." + TORCH_ACTIVATIONS[act]
    wr.write(c, {"input": x, "kernel": m.weight.detach().numpy(),
                 "bias": m.bias.detach().numpy() if bias else None, "output": y.numpy()})


def draw_torch_layer(rng, rank, groups, size_max, dilation_max):
    """A random ConvTranspose layer torch accepts: channels (multiples of
    groups), sizes and kernels up to size_max, strides up to 3, dilations up
    to dilation_max, output_padding < max(stride, dilation), symmetric
    padding that keeps the output length >= 1, and a batch of 1 or 2."""
    rr = lambda lo, hi: [int(v) for v in rng.integers(lo, hi + 1, rank)]  # noqa: E731
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    n, k, s, d = rr(1, size_max), rr(1, size_max), rr(1, 3), rr(1, dilation_max)
    op = [int(rng.integers(0, max(sv, dv))) for sv, dv in zip(s, d)]
    p = []
    for i in range(rank):
        full = (n[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 + op[i]
        p.append(int(rng.integers(0, (full - 1) // 2 + 1)))
    return dict(cin=cin, cout=cout, groups=groups, batch=int(rng.integers(1, 3)), n=n, k=k,
                s=s, d=d, p=p, op=op)


def torch_cases(wr):
    rng = np.random.default_rng(777)
    for rank, count in ((3, 36), (2, 14), (1, 14)):
        for j in range(count):
            layer = draw_torch_layer(rng, rank, (1, 2, 3, 1)[j % 4], 4, 3)
            torch_case(wr, f"torch{rank}d_{j}", rank, bias=j % 3 != 2,
                       dtype="float64" if j % 2 else "float32", **layer)
    # output_padding >= stride, allowed because it is < dilation.
    for j, (s, d, op) in enumerate((((1, 1, 1), (3, 2, 2), (2, 1, 1)),
                                    ((2, 1, 2), (3, 3, 1), (2, 2, 1)),
                                    ((1, 2, 3), (2, 3, 1), (1, 2, 2)))):
        for dtype in ("float32", "float64"):
            torch_case(wr, f"torch3d_op_ge_stride_{j}_{dtype}", 3, cin=2, cout=4, groups=2,
                       batch=2, n=(2, 3, 2), k=(2, 3, 2), s=s, d=d, p=(0, 1, 0), op=op,
                       bias=True, dtype=dtype)
    # Activations applied by torch.nn.functional (cross-checks the formulas in float64).
    for j, act in enumerate(TORCH_ACTIVATIONS):
        torch_case(wr, f"torch3d_act_{act}", 3, cin=2, cout=2, groups=1, batch=1,
                   n=(2, 2, 2), k=(3, 2, 2), s=(2, 2, 1), d=(1, 1, 2), p=(1, 0, 0),
                   op=(1, 0, 0), bias=True, dtype="float64", act=act)


def torch_error_cases(wr):
    """Arguments PyTorch refuses that every tconv front end must refuse too."""
    import torch
    specs = [
        ("groups_not_dividing_in", dict(in_channels=3, out_channels=2, groups=2,
                                        kernel_size=2), (1, 3, 2, 2, 2)),
        ("output_too_small", dict(in_channels=1, out_channels=1, kernel_size=1,
                                  padding=1), (1, 1, 1, 1, 1)),
        ("negative_padding", dict(in_channels=1, out_channels=1, kernel_size=2,
                                  padding=-1), (1, 1, 2, 2, 2)),
        ("stride0", dict(in_channels=1, out_channels=1, kernel_size=2, stride=(1, 0, 1)),
         (1, 1, 2, 2, 2)),
        ("dilation0", dict(in_channels=1, out_channels=1, kernel_size=2,
                           dilation=(1, 1, 0)), (1, 1, 2, 2, 2)),
    ]
    for tag, kw, xshape in specs:
        name = f"torch3d_error_{tag}"
        try:
            m = torch.nn.ConvTranspose3d(**kw)
            m(torch.zeros(xshape))
            raise SystemExit(f"{name}: PyTorch accepted {kw}")
        except (ValueError, RuntimeError) as e:
            message = str(e).strip().splitlines()[0]
        g = kw.get("groups", 1)
        k = tup(kw["kernel_size"], 3)
        wshape = (kw["in_channels"], kw["out_channels"] // g) + k
        p = tup(kw.get("padding", 0), 3)
        c = base_case("torch", name, 3, "float32", xshape, np.zeros(wshape, np.float32),
                      tup(kw.get("stride", 1), 3), tup(kw.get("dilation", 1), 3), "explicit",
                      "channels_first", "torch", False, groups=g, op=(0, 0, 0),
                      pads_begin=p, pads_end=p)
        c["expect_error"] = True
        c["framework_message"] = message
        wr.write(c, {"input": np.zeros(xshape, np.float32),
                     "kernel": np.zeros(wshape, np.float32)})


# --------------------------------------------------------------------------
# ONNX

def onnx_node_case(wr, name, node, inputs, output, note):
    """One ConvTranspose node with its inputs (X, W[, B]) and expected output Y."""
    from onnx import helper
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    rank = x.ndim - 2
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    pads = list(attrs.get("pads", [0] * (2 * rank)))
    padding = {"NOTSET": "explicit", "VALID": "explicit", "SAME_UPPER": "same_upper",
               "SAME_LOWER": "same_lower"}[auto_pad]
    if auto_pad != "NOTSET":
        pads = [0] * (2 * rank)
    dtype = "float64" if x.dtype == np.float64 else "float32"
    c = base_case("onnx", name, rank, dtype, x.shape, w,
                  list(attrs.get("strides", [1] * rank)),
                  list(attrs.get("dilations", [1] * rank)), padding, "channels_first",
                  "torch", b is not None, groups=int(attrs.get("group", 1)),
                  op=list(attrs.get("output_padding", [0] * rank)), pads_begin=pads[:rank],
                  pads_end=pads[rank:], output_shape=attrs.get("output_shape"), note=note)
    c["onnx_attributes"] = {k: (v.decode() if isinstance(v, bytes) else
                                list(v) if isinstance(v, (list, tuple)) else v)
                            for k, v in attrs.items()}
    wr.write(c, {"input": x, "kernel": w, "bias": b, "output": output})


def onnx_backend_cases(wr):
    """The ONNX backend node tests for ConvTranspose. The onnx wheel ships the test
    generators (onnx/backend/test/case/node/convtranspose.py) but not their data
    directories, so each generator is run with `expect` captured: the same node,
    inputs and outputs the data directories are written from. The shipped
    pytorch-converted / pytorch-operator model directories are read as files."""
    import onnx
    from onnx import numpy_helper
    import onnx.backend.test.case.node.convtranspose as ct

    captured = []
    ct.expect = lambda node, inputs, outputs, name, **kw: captured.append(
        (node, inputs, outputs, name))
    for attr in sorted(dir(ct.ConvTranspose)):
        if attr.startswith("export"):
            getattr(ct.ConvTranspose, attr)()
    for node, inputs, outputs, name in captured:
        onnx_node_case(wr, "onnx_" + name, node, inputs, outputs[0],
                       "ONNX backend node test " + name)

    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    for d in sorted(list(data.glob("pytorch-converted/test_ConvTranspose*")) +
                    list(data.glob("pytorch-operator/test_operator_convtranspose*"))):
        model = onnx.load(str(d / "model.onnx"))
        nodes = [nd for nd in model.graph.node if nd.op_type == "ConvTranspose"]
        if len(nodes) != 1 or len(model.graph.node) != 1:
            print(f"skipping {d.name}: not a single ConvTranspose node", file=sys.stderr)
            continue
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
        tds = d / "test_data_set_0"
        fed = {}
        for i, gname in enumerate(graph_inputs):
            t = onnx.TensorProto()
            t.ParseFromString((tds / f"input_{i}.pb").read_bytes())
            fed[gname] = numpy_helper.to_array(t)
        t = onnx.TensorProto()
        t.ParseFromString((tds / "output_0.pb").read_bytes())
        vals = {**inits, **fed}
        onnx_node_case(wr, "onnx_" + d.name, nodes[0], [vals[nm] for nm in nodes[0].input],
                       numpy_helper.to_array(t),
                       f"ONNX backend model test {d.parent.name}/{d.name}")


def onnx_reference_cases(wr):
    """3-D ConvTranspose through onnx.reference.ReferenceEvaluator. Its group>1 path
    assumes one output channel per group and no bias, so groups stay 1 here."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator
    specs = [  # name, n, k, attrs, with bias
        ("stride_pads", (2, 3, 2), (3, 2, 3), dict(strides=[2, 3, 1], pads=[1, 0, 1, 0, 1, 2]), True),
        ("stride_pads_outpad", (2, 2, 3), (3, 3, 2), dict(strides=[3, 2, 2], pads=[1, 1, 0, 0, 1, 1],
                                                          output_padding=[2, 1, 0]), True),
        ("dilation_stride", (2, 3, 2), (2, 2, 3), dict(strides=[2, 1, 2], dilations=[2, 3, 1],
                                                       pads=[0, 1, 0, 1, 0, 0]), False),
        ("same_upper", (2, 3, 2), (3, 3, 3), dict(strides=[2, 2, 2], auto_pad="SAME_UPPER"), True),
        ("same_lower", (2, 3, 2), (3, 3, 3), dict(strides=[2, 2, 2], auto_pad="SAME_LOWER"), True),
        ("same_upper_even_k", (3, 2, 2), (2, 4, 2), dict(strides=[1, 2, 3], auto_pad="SAME_UPPER"), False),
        ("same_lower_even_k", (3, 2, 2), (2, 4, 2), dict(strides=[1, 2, 3], auto_pad="SAME_LOWER"), False),
        ("same_upper_k_lt_s", (2, 2, 3), (1, 2, 1), dict(strides=[3, 3, 2], auto_pad="SAME_UPPER"), True),
        ("same_lower_k_lt_s", (2, 2, 3), (1, 2, 1), dict(strides=[3, 3, 2], auto_pad="SAME_LOWER"), True),
        ("same_upper_outpad", (2, 2, 2), (3, 2, 3), dict(strides=[2, 2, 3], output_padding=[1, 0, 2],
                                                         auto_pad="SAME_UPPER"), True),
        ("same_upper_output_shape", (2, 3, 2), (3, 3, 3), dict(strides=[2, 2, 2], auto_pad="SAME_UPPER",
                                                               output_shape=[4, 8, 5]), True),
        ("same_lower_output_shape", (2, 3, 2), (3, 3, 3), dict(strides=[2, 2, 2], auto_pad="SAME_LOWER",
                                                               output_shape=[4, 8, 5]), True),
        ("same_upper_output_shape_grow", (2, 2, 2), (2, 1, 2), dict(strides=[3, 3, 2], auto_pad="SAME_UPPER",
                                                                    output_shape=[7, 8, 4]), False),
        ("output_shape_notset", (2, 2, 2), (3, 3, 2), dict(strides=[2, 3, 2], output_shape=[6, 7, 5]), True),
        ("valid", (2, 2, 2), (2, 3, 2), dict(strides=[2, 1, 3], auto_pad="VALID"), True),
    ]
    for tag, n, k, attrs, with_bias in specs:
        for dtype in ("float32", "float64"):
            name = f"onnxref3d_{tag}_{dtype}"
            rng = rng_for(name)
            npdt = np.float64 if dtype == "float64" else np.float32
            tp = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
            cin, cout, batch = 2, 3, 2
            x = rng.uniform(-1, 1, (batch, cin) + n).astype(npdt)
            w = rng.uniform(-1, 1, (cin, cout) + k).astype(npdt)
            b = rng.uniform(-1, 1, (cout,)).astype(npdt) if with_bias else None
            ins = ["X", "W"] + (["B"] if with_bias else [])
            node = helper.make_node("ConvTranspose", ins, ["Y"], **attrs)
            graph = helper.make_graph(
                [node], "g", [helper.make_tensor_value_info(nm, tp, None) for nm in ins],
                [helper.make_tensor_value_info("Y", tp, None)])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
            feeds = {"X": x, "W": w, **({"B": b} if with_bias else {})}
            y = ReferenceEvaluator(model).run(None, feeds)[0]
            onnx_node_case(wr, name, node, [x, w] + ([b] if with_bias else []), y,
                           "onnx.reference.ReferenceEvaluator")


# --------------------------------------------------------------------------

def versions():
    import keras
    import onnx
    import tensorflow as tf
    import torch
    if keras.backend.backend() == "torch":
        return {"keras": f"keras {keras.__version__} (torch backend, torch {torch.__version__})"}
    return {"keras": f"keras {keras.__version__} (tensorflow {tf.__version__})",
            "tensorflow": f"tensorflow {tf.__version__}", "torch": f"torch {torch.__version__}",
            "onnx": f"onnx {onnx.__version__}"}


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Keras's messages print Python sets: fix their order across runs.
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  dict(os.environ, PYTHONHASHSEED="0"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "data"), help="output directory (emptied)")
    ap.add_argument("--part", default="all",
                    choices=("all", "keras-torch-backend", "keras-torch-backend-gradients"),
                    help="internal: the part a child process with KERAS_BACKEND=torch writes")
    ap.add_argument("--specs", help="internal: the gradient specs the TF backend refused")
    args = ap.parse_args()
    out = Path(args.out)
    if args.part == "keras-torch-backend-gradients":
        import keras
        import gradient_cases
        keras.utils.set_random_seed(1234)
        wr = Writer(out, versions())
        gradient_cases.keras_torch_backend_gradient_cases(wr, args.specs)
        for k, v in sorted(wr.counts.items()):
            print(f"{k} on Keras's torch backend: {v} cases")
        return
    if args.part == "keras-torch-backend":
        import keras
        keras.utils.set_random_seed(1234)
        wr = Writer(out, versions())
        keras_torch_backend_cases(wr)
        return
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    import subprocess
    subprocess.run([sys.executable, __file__, "--out", str(out), "--part", "keras-torch-backend"],
                   env=dict(os.environ, KERAS_BACKEND="torch"), check=True)
    import keras
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(1234)
    wr = Writer(out, versions())
    keras_cases(wr)
    keras_error_cases(wr)
    tf_cases(wr)
    torch_cases(wr)
    torch_error_cases(wr)
    onnx_backend_cases(wr)
    onnx_reference_cases(wr)
    import gradient_cases
    import tempfile
    gradient_cases.torch_gradient_cases(wr)
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "keras-gradient-specs-tf-refused.json"
        if gradient_cases.keras_gradient_cases(wr, specs):
            gradient_cases.run_torch_backend_part(out, specs)
    import torch
    lines = [f"{k}: {v}" for k, v in sorted(wr.versions.items())]
    lines.append(f"keras torch-backend cases: keras {keras.__version__} (torch {torch.__version__})")
    (out / "VERSIONS.txt").write_text("\n".join(lines) + "\n")
    for k, v in sorted(wr.counts.items()):
        print(f"{k}: {v} cases")
    for message in REFUSED:
        print("framework failed (case not written):", message)


if __name__ == "__main__":
    main()
