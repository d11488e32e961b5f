# SPDX-License-Identifier: Apache-2.0
"""The committed framework goldens (tests/conformance/data) through the NumPy
functions: every forward case through tconv.conv_transpose, every gradient
case through tconv.conv_transpose_backward, on the native CPU device, with the
tolerances of tests/conformance/README.md."""

import json
import math

import numpy as np
import pytest

import tconv
from conftest import REPO, cannot_run

DATA = REPO / "tests" / "conformance" / "data"
CASES = sorted(p.stem for p in DATA.glob("*.json")) if DATA.is_dir() else []
GRAD_RTOL = {"float32": 2e-4, "float64": 1e-10}
FORWARD_RTOL = {"float32": 1e-5, "float64": 1e-12}


def load_case(name):
    case = json.loads((DATA / f"{name}.json").read_text())
    arrays = {}
    for role, file in case["files"].items():
        if file is not None:
            path = DATA / file
            if not path.exists():
                pytest.skip(f"{file} is not in this checkout (case being added)")
            arrays[role] = np.load(path)
    return case, arrays


def layer_options(case):
    rank = case["spatial_rank"]
    padding = case["padding"]
    if padding == "explicit":
        padding = tuple(case["pads_begin"]) + tuple(case["pads_end"])
    options = dict(strides=tuple(case["strides"]), padding=padding,
                   output_padding=case["output_padding"], dilation_rate=tuple(case["dilation"]),
                   groups=case["groups"], data_format=case["data_format"],
                   kernel_layout=case["kernel_layout"], activation=case["activation"],
                   activation_alpha=case["activation_alpha"], output_shape=case["output_shape"],
                   device="cpu")
    assert len(options["strides"]) == rank
    return options


def forward_bound(case, arrays):
    """B of the README: a bound of the sum of |terms| behind one output."""
    x, w = arrays["input"], arrays["kernel"]
    taps = 1
    for k, s, d in zip(case["kernel_size"], case["strides"], case["dilation"]):
        taps *= math.ceil(k / (s / math.gcd(s, d)))
    b = np.abs(arrays["bias"]).max() if "bias" in arrays else 0.0
    return np.abs(x).max() * np.abs(w).max() * (case["in_channels"] // case["groups"]) * taps + b


def test_cases_present():
    if not CASES:
        cannot_run(f"no conformance data in {DATA}")
    assert any(not n.startswith("grad_") for n in CASES)


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("grad_")])
def test_forward_golden(name):
    case, arrays = load_case(name)
    options = layer_options(case)
    x = arrays["input"]
    if case["expect_error"]:
        with pytest.raises(tconv.InvalidArgumentError):
            tconv.conv_transpose(x, arrays["kernel"], arrays.get("bias"), **options)
        return
    y = tconv.conv_transpose(x, arrays["kernel"], arrays.get("bias"), **options)
    golden = arrays["output"]
    assert y.dtype == golden.dtype and y.shape == golden.shape
    rtol = case.get("tolerance") or FORWARD_RTOL[case["dtype"]]
    scale = max(1.0, float(np.abs(golden).max(initial=0)), float(forward_bound(case, arrays)))
    error = float(np.abs(y.astype(np.float64) - golden).max(initial=0))
    assert error <= rtol * scale, f"max |error| {error:g} > {rtol:g} * {scale:g}"


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("grad_")])
def test_gradient_golden(name):
    case, arrays = load_case(name)
    options = layer_options(case)
    grads = tconv.conv_transpose_backward(arrays["input"], arrays["kernel"], arrays["grad_output"],
                                          arrays.get("bias"), **options)
    rtol = GRAD_RTOL[case["dtype"]]
    for role, got in zip(("grad_input", "grad_kernel", "grad_bias"), grads):
        if role not in arrays:
            assert got is None
            continue
        golden = arrays[role]
        assert got.shape == golden.shape and got.dtype == golden.dtype, role
        error = float(np.abs(got.astype(np.float64) - golden).max(initial=0))
        scale = max(1.0, float(np.abs(golden).max(initial=0)))
        assert error <= rtol * scale, f"{role}: max |error| {error:g} > {rtol:g} * {scale:g}"
