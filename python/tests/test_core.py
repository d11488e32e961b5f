# SPDX-License-Identifier: Apache-2.0
"""The NumPy API: version, devices, errors, plans, copies, struct layouts."""

import ctypes
import os
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest

import tconv
from tconv import _lib
from conftest import REPO, cannot_run


def test_version_and_library():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", tconv.__version__)
    assert tconv.__version__.split("+")[0] == tconv.library_version()
    assert os.path.isabs(tconv.library_path())


def test_bundled_plugins_found_without_environment():
    # The wheel's layout: the core finds tconv/lib/tconv/*.so next to itself.
    if os.environ.get("TCONV_LIBRARY"):
        pytest.skip("TCONV_LIBRARY overrides the bundled library")
    for variable in ("TCONV_PLUGINS", "TCONV_PLUGIN_PATH", "LD_LIBRARY_PATH"):
        assert variable not in os.environ, f"{variable} would hide what the package finds alone"
    reports = tconv.plugin_reports()
    loaded = [r for r in reports if r["state"] == "loaded"]
    assert {r["name"] for r in loaded} >= {"cpu"}
    lib_dir = os.path.dirname(tconv.library_path())
    assert all(r["path"].startswith(lib_dir + os.sep) for r in loaded)
    # The OpenCL plugin is handed over by the package (TensorFlow is not loaded here).
    opencl = os.path.join(lib_dir, "opencl", "tconv_backend_opencl.so")
    if os.path.exists(opencl):
        assert opencl in [r["path"] for r in reports]


def test_devices():
    devices = tconv.devices()
    assert devices, "no device"
    cpu = [d for d in devices if d["backend"] == "cpu"]
    assert cpu and cpu[0]["id"] == "cpu:0" and cpu[0]["type"] == "cpu"
    for d in devices:
        assert set(d) >= {"id", "backend", "index", "type", "name", "vendor", "dtypes"}
        assert "float32" in d["dtypes"]


def test_activation_names():
    assert tconv.ACTIVATIONS[0] == "linear"
    assert "relu" in tconv.ACTIVATIONS and "gelu_tanh" in tconv.ACTIVATIONS


def test_invalid_arguments_carry_the_c_message():
    x = np.ones((1, 4, 4, 2), np.float32)
    k = np.ones((3, 3, 5, 2), np.float32)
    with pytest.raises(ValueError) as info:
        tconv.conv_transpose(x, k, strides=(1, 0))
    assert isinstance(info.value, tconv.InvalidArgumentError)
    assert isinstance(info.value, tconv.Error)
    assert info.value.status_name == "invalid_arguments"
    assert "strides[1] = 0: must be >= 1" in str(info.value)
    with pytest.raises(tconv.InvalidArgumentError, match=r"output_padding\[0\] = 2: must be < strides\[0\] = 2"):
        tconv.conv_transpose(x, k, strides=2, output_padding=2, padding="same")
    with pytest.raises(tconv.InvalidArgumentError, match="padding = 'causal'"):
        tconv.conv_transpose(x, k, padding="causal")
    with pytest.raises(tconv.InvalidArgumentError, match="kernel shape"):
        tconv.conv_transpose(x, np.ones((3, 3, 5, 3), np.float32))
    with pytest.raises(tconv.InvalidArgumentError, match="x.ndim = 2"):
        tconv.conv_transpose(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(tconv.InvalidArgumentError, match="activation"):
        tconv.conv_transpose(x, k, activation="no_such_activation")


def test_no_device_error():
    x = np.ones((1, 4, 2), np.float32)
    k = np.ones((3, 5, 2), np.float32)
    with pytest.raises(tconv.NoDeviceError) as info:
        tconv.conv_transpose(x, k, device="nosuchbackend")
    assert isinstance(info.value, RuntimeError) and "nosuchbackend" in str(info.value)


def test_dtype_follows_input():
    rng = np.random.default_rng(0)
    k = rng.standard_normal((3, 2, 2))
    for dtype, expected in ((np.float32, np.float32), (np.float64, np.float64),
                            (np.float16, np.float32), (np.int32, np.float64)):
        x = (rng.standard_normal((1, 5, 2)) * 3).astype(dtype)
        y = tconv.conv_transpose(x, k)
        assert y.dtype == expected and y.shape == (1, 7, 2)


def test_inputs_passed_without_copies(monkeypatch):
    # Arrays that are C-contiguous and of the computed dtype reach the library
    # as they are: as_c_array returns the same object, and the pointer handed
    # to tconv_plan_execute is the array's own buffer.
    x = np.ones((1, 4, 4, 4, 2), np.float32)
    assert tconv._api.as_c_array(x, np.dtype(np.float32), "x") is x
    assert tconv._api.as_c_array(x[..., ::-1], np.dtype(np.float32), "x") is not x
    assert tconv._api.as_c_array(x, np.dtype(np.float64), "x") is not x
    seen = []
    real = tconv._api._ptr
    monkeypatch.setattr(tconv._api, "_ptr", lambda a: seen.append(a) or real(a))
    k = np.ones((2, 2, 2, 3, 2), np.float32)
    tconv.conv_transpose(x, k)
    assert any(a is x for a in seen) and any(a is k for a in seen)


def test_plan_reuse_and_out():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)  # channels_first
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)  # torch layout
    b = rng.standard_normal(4).astype(np.float32)
    plan = tconv.Plan(x.shape, w.shape, use_bias=True, strides=2, padding=1, output_padding=1,
                      data_format="channels_first", kernel_layout="torch", device="cpu")
    assert plan.output_shape == (2, 4, 10, 10) and plan.device == "cpu:0"
    assert "cpu:0" in plan.selection_reason
    assert plan.canonical["crop_begin"] == (0, 1, 1)
    with pytest.raises(tconv.InvalidArgumentError, match="no weights"):
        plan.execute(x)
    plan.set_weights(w, b)
    out = np.empty(plan.output_shape, np.float32)
    y = plan.execute(x, out=out)
    assert y is out
    expected = tconv.conv_transpose(x, w, b, strides=2, padding=1, output_padding=1,
                                    data_format="channels_first", kernel_layout="torch")
    np.testing.assert_array_equal(y, expected)
    with pytest.raises(tconv.InvalidArgumentError, match=r"must be \(2, 4, 10, 10\) and float32"):
        plan.execute(x, out=np.empty(plan.output_shape))
    with pytest.raises(tconv.InvalidArgumentError, match="training"):
        plan.backward(x, y)
    plan.close()
    with pytest.raises(tconv.Error, match="closed"):
        plan.execute(x)


def test_arrays_the_package_allocates_start_on_a_cache_line():
    # Large enough that NumPy's own allocation would start 16 bytes past a
    # 64-byte boundary (a glibc mmap chunk): the CPU backend's non-temporal
    # output stores need 64-byte aligned outputs.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 16, 16, 32, 16)).astype(np.float32)  # channels_last
    w = rng.standard_normal((2, 2, 2, 16, 16)).astype(np.float32)  # keras layout
    plan = tconv.Plan(x.shape, w.shape, strides=2, training=True, device="cpu")
    plan.set_weights(w)
    y = plan.execute(x)
    gx, gk, _ = plan.backward(x, y)
    for arr in (y, gx, gk):
        assert arr.ctypes.data % 64 == 0 and arr.flags.c_contiguous and arr.flags.writeable
    expected = tconv.conv_transpose(x, w, strides=2)
    np.testing.assert_array_equal(y, expected)
    for shape, dtype in (((3, 5), np.float64), ((0, 4), np.float32), ((), np.float32)):
        arr = tconv._api.aligned_empty(shape, dtype)
        assert arr.shape == shape and arr.dtype == dtype
        assert arr.size == 0 or arr.ctypes.data % 64 == 0


def test_plan_backward_subset():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 6, 3))
    w = rng.standard_normal((2, 4, 3))
    plan = tconv.Plan(x.shape, w.shape, dtype="float64", training=True, strides=2)
    plan.set_weights(w)
    gy = rng.standard_normal(plan.output_shape)
    gx, gk, gb = plan.backward(None, gy, grad_kernel=False)
    assert gk is None and gb is None and gx.shape == x.shape
    full = tconv.conv_transpose_backward(x, w, gy, strides=2)
    np.testing.assert_allclose(gx, full[0], rtol=1e-12)
    assert full[2] is None


def test_threads_share_cached_plans():
    # One cached plan per problem, used from several threads with different
    # weights: the weights and the run are one locked step.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 8, 4)).astype(np.float32)
    kernels = [rng.standard_normal((3, 3, 4, 4)).astype(np.float32) for _ in range(4)]
    expected = [tconv.conv_transpose(x, k, strides=2, padding="same") for k in kernels]
    errors = []

    def worker(i):
        for _ in range(20):
            y = tconv.conv_transpose(x, kernels[i], strides=2, padding="same")
            if not np.array_equal(y, expected[i]):
                errors.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_fork_child_makes_its_own_context():
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork")
    x = np.ones((1, 3, 2), np.float32)
    k = np.ones((2, 2, 2), np.float32)
    parent = tconv.conv_transpose(x, k)
    pid = os.fork()
    if pid == 0:  # child: plans of the parent are not reused, a new context is made
        try:
            ok = np.array_equal(tconv.conv_transpose(x, k), parent)
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


STRUCTS = {"tconv_problem_t": _lib.Problem, "tconv_canonical_t": _lib.Canonical,
           "tconv_device_info_t": _lib.DeviceInfo, "tconv_plugin_report_t": _lib.PluginReport}


def test_struct_layouts_match_the_header(tmp_path):
    """The ctypes mirrors have the C structs' size and field offsets."""
    include = REPO / "include"
    if not (include / "tconv" / "tconv_types.h").exists():
        cannot_run(f"{include}/tconv/tconv_types.h not found (run from the repository)")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        cannot_run("no C compiler to read the header's layouts")
    lines = []
    for cname, struct in STRUCTS.items():
        lines.append(f'printf("{cname} size %zu\\n", sizeof({cname}));')
        for field, _ in struct._fields_:
            lines.append(f'printf("{cname} {field} %zu\\n", offsetof({cname}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text("#include <stdio.h>\n#include <stddef.h>\n#include <tconv/tconv_types.h>\n"
                      "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", f"-I{include}", str(source), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cname, field, value = line.split()
        struct = STRUCTS[cname]
        actual = ctypes.sizeof(struct) if field == "size" else getattr(struct, field).offset
        assert actual == int(value), f"{cname}.{field}: ctypes {actual}, C {value}"


def test_unchanged_weights_are_not_packed_again(monkeypatch):
    # The functions hand the weights over only when their bytes changed since
    # the last call on the cached plan; an in-place change is seen.
    calls = []
    real = tconv._api._lib_handle.tconv_plan_set_weights
    monkeypatch.setattr(tconv._api._lib_handle, "tconv_plan_set_weights",
                        lambda *args: calls.append(1) or real(*args))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 5, 5, 3))
    k = rng.standard_normal((3, 3, 2, 3))
    b = rng.standard_normal(2)
    k0, b0 = k.copy(), b.copy()
    first = tconv.conv_transpose(x, k, b, strides=2)
    assert np.array_equal(tconv.conv_transpose(x, k, b, strides=2), first)
    assert np.array_equal(tconv.conv_transpose(x, k.copy(), b.copy(), strides=2), first)
    assert len(calls) == 1
    k[1, 1, 0, 0] += 1.0
    changed = tconv.conv_transpose(x, k, b, strides=2)
    assert len(calls) == 2 and not np.array_equal(changed, first)
    b[1] -= 1.0
    tconv.conv_transpose(x, k, b, strides=2)
    assert len(calls) == 3
    k[...], b[...] = k0, b0
    np.testing.assert_array_equal(tconv.conv_transpose(x, k, b, strides=2), first)


def test_opencl_device_when_present():
    # The bundled OpenCL plugin (PoCL in CI) computes what the CPU does.
    opencl = [d["id"] for d in tconv.devices() if d["backend"] == "opencl"]
    if not opencl:
        cannot_run("no OpenCL device (install pocl-opencl-icd: scripts/install-deps.sh)")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 3, 5, 3)).astype(np.float32)
    k = rng.standard_normal((3, 2, 3, 2, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    options = dict(strides=(2, 1, 2), padding="same", activation="tanh")
    y = tconv.conv_transpose(x, k, b, device=opencl[0], **options)
    np.testing.assert_allclose(y, tconv.conv_transpose(x, k, b, device="cpu", **options),
                               rtol=1e-5, atol=1e-5)
