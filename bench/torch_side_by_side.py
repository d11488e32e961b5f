# SPDX-License-Identifier: Apache-2.0
"""tconv next to PyTorch on the benchmark suite's layers: forward pass and
training step (forward + dL/dx + dL/dw + dL/db), float32, channels-last, bias.

What a user would pick instead of tconv is PyTorch from PyPI (its bundled
oneDNN, `channels_last_3d`). Both run in this process on the same arrays, in
interleaved rounds (torch, tconv, torch, ...) so that a noisy machine hits both
alike; the table gives medians and the ratio torch / tconv (> 1: tconv is
faster). The outputs and gradients are compared once before timing.

The layers are read from bench/bench_suite.c (the C suite's table), so the two
benchmarks cannot drift apart.

Usage (a venv with torch and the tconv package, e.g. the one
scripts/test-python.sh makes):
  python bench/torch_side_by_side.py [--layers a,b] [--pass forward|training|all]
                                     [--repeat 7] [--device cpu:0] [--threads N] [--json FILE]
"""

import argparse
import ctypes
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import tconv
from tconv import _api

SUITE_SOURCE = Path(__file__).resolve().parent / "bench_suite.c"
# {"name", "origin", N, Cin, Cout, {D, H, W}, {kd, kh, kw}, {sd, sh, sw}, p, op, dilation},
LAYER_LINE = re.compile(
    r'\{"(\w+)",\s*"[^"]*",\s*(\d+),\s*(\d+),\s*(\d+),\s*\{(\d+),\s*(\d+),\s*(\d+)\},\s*'
    r'\{(\d+),\s*(\d+),\s*(\d+)\},\s*\{(\d+),\s*(\d+),\s*(\d+)\},\s*(\d+),\s*(\d+),\s*(\d+)\}')


def suite_layers():
    """The layers of bench/bench_suite.c, in its order."""
    layers = []
    for match in LAYER_LINE.finditer(SUITE_SOURCE.read_text()):
        v = match.groups()
        n = [int(x) for x in v[1:]]
        layers.append(dict(name=v[0], batch=n[0], cin=n[1], cout=n[2], size=tuple(n[3:6]),
                           kernel=tuple(n[6:9]), strides=tuple(n[9:12]), padding=n[12],
                           output_padding=n[13], dilation=n[14]))
    if not layers:
        sys.exit(f"torch_side_by_side: no layer table found in {SUITE_SOURCE}")
    return layers


def flops(layer):
    f = 2.0 * layer["batch"] * layer["cin"] * layer["cout"]
    for s, k in zip(layer["size"], layer["kernel"]):
        f *= s * k
    return f


class Layer:
    """One suite layer's data, a PyTorch step and a tconv step on it."""

    def __init__(self, layer, device):
        rng = np.random.default_rng(0)
        n, cin, cout = layer["batch"], layer["cin"], layer["cout"]
        self.layer = layer
        # tconv: channels_last input (N, D, H, W, C), PyTorch's kernel layout
        # (Cin, Cout, kd, kh, kw), so that both read the very same arrays.
        x = rng.standard_normal((n,) + layer["size"] + (cin,), dtype=np.float32)
        w = (rng.standard_normal((cin, cout) + layer["kernel"], dtype=np.float32)
             / np.sqrt(cin * np.prod(layer["kernel"]))).astype(np.float32)
        b = rng.standard_normal(cout, dtype=np.float32)
        common = dict(strides=layer["strides"], padding=layer["padding"],
                      output_padding=layer["output_padding"], dilation_rate=layer["dilation"],
                      data_format="channels_last", kernel_layout="torch", device=device)
        self.forward_plan = tconv.Plan(x.shape, w.shape, use_bias=True, **common)
        self.training_plan = tconv.Plan(x.shape, w.shape, use_bias=True, training=True, **common)
        for plan in (self.forward_plan, self.training_plan):
            plan.set_weights(w, b)
        self.device = self.forward_plan.device
        shape = self.forward_plan.output_shape
        self.x, self.w, self.b = x, w, b
        # Outputs start on a cache line, as the package allocates them and as
        # PyTorch allocates its own (tconv stores large outputs around the
        # caches only there).
        self.y = _api.aligned_empty(shape, np.float32)
        self.dy = rng.standard_normal(shape, dtype=np.float32)
        self.dx = _api.aligned_empty(x.shape, np.float32)
        self.dw = _api.aligned_empty(w.shape, np.float32)
        self.db = np.empty_like(b)
        # PyTorch on the same memory: NDHWC arrays seen as NCDHW tensors in
        # channels_last_3d format.
        self.tx = torch.from_numpy(x).permute(0, 4, 1, 2, 3)
        self.tdy = torch.from_numpy(self.dy).permute(0, 4, 1, 2, 3)
        assert self.tx.is_contiguous(memory_format=torch.channels_last_3d)
        self.tw = torch.from_numpy(w)
        self.tb = torch.from_numpy(b)
        self.torch_args = dict(stride=layer["strides"], padding=layer["padding"],
                               output_padding=layer["output_padding"],
                               dilation=layer["dilation"])
        self.lib = _api._lib_handle
        self.ptr = {name: ctypes.c_void_p(arr.ctypes.data) for name, arr in (
            ("x", x), ("y", self.y), ("dy", self.dy), ("dx", self.dx), ("dw", self.dw),
            ("db", self.db))}

    # tconv through the C API on buffers allocated once (as a C program would).
    def tconv_forward(self):
        p = self.ptr
        if self.lib.tconv_plan_execute(self.forward_plan._live_handle(), p["x"], p["y"]) != 0:
            raise RuntimeError(tconv.last_error() if hasattr(tconv, "last_error") else "execute")

    def tconv_training(self):
        p, handle = self.ptr, self.training_plan._live_handle()
        if self.lib.tconv_plan_execute(handle, p["x"], p["y"]) != 0:
            raise RuntimeError("tconv_plan_execute failed")
        if self.lib.tconv_plan_execute_backward(handle, p["x"], p["dy"], p["dx"], p["dw"],
                                                p["db"]) != 0:
            raise RuntimeError("tconv_plan_execute_backward failed")

    # PyTorch: the functional layer, autograd for the training step.
    def torch_forward(self):
        with torch.no_grad():
            return F.conv_transpose3d(self.tx, self.tw, self.tb, **self.torch_args)

    def torch_training(self):
        x = self.tx.detach().requires_grad_()
        w = self.tw.detach().requires_grad_()
        b = self.tb.detach().requires_grad_()
        y = F.conv_transpose3d(x, w, b, **self.torch_args)
        y.backward(self.tdy)
        return y, x.grad, w.grad, b.grad

    def check(self):
        """Worst relative difference of tconv to PyTorch (output, dx, dw, db)."""
        self.tconv_training()
        ty, tdx, tdw, tdb = self.torch_training()
        worst = 0.0
        for ours, theirs in ((self.y, ty.permute(0, 2, 3, 4, 1)), (self.dx, tdx.permute(0, 2, 3, 4, 1)),
                             (self.dw, tdw), (self.db, tdb)):
            theirs = theirs.detach().contiguous().numpy()
            scale = max(float(np.abs(theirs).max()), 1e-30)
            worst = max(worst, float(np.abs(ours - theirs).max()) / scale)
        return worst


# Untimed wait after each run: PyTorch's OpenMP threads spin for several ms
# after an operation before they sleep (libgomp's default wait policy) and,
# on a machine with few cores, take them from whatever runs next; tconv-bench
# waits the same after oneDNN (bench/onednn_timer.c).
SETTLE_SECONDS = 0.03


def settle():
    if os.environ.get("OMP_WAIT_POLICY", "").lower() != "passive":
        time.sleep(SETTLE_SECONDS)


def median_ms(samples):
    return statistics.median(samples) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", help="comma list of suite layers (default: all)")
    parser.add_argument("--pass", dest="passes", default="all",
                        choices=("forward", "training", "all"))
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds per layer")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu:0", help="tconv device selector")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads of both libraries (default: every core)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    os.environ.setdefault("TCONV_NUM_THREADS", str(args.threads))
    layers = suite_layers()
    if args.layers:
        known = {l["name"]: l for l in layers}
        wanted = args.layers.split(",")
        unknown = [w for w in wanted if w not in known]
        if unknown:
            sys.exit(f"--layers: unknown layer(s) {', '.join(unknown)} (known: {', '.join(known)})")
        layers = [known[w] for w in wanted]
    passes = ["forward", "training"] if args.passes == "all" else [args.passes]

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads, "
          f"{torch.backends.mkldnn.is_available() and 'oneDNN' or 'native'}), "
          f"tconv {tconv.library_version() if hasattr(tconv, 'library_version') else '?'}, "
          f"{args.repeat} interleaved rounds, medians in ms; ratio = torch / tconv")
    header = f"{'layer':13s} {'pass':9s} {'torch':>9s} {'tconv':>9s} {'ratio':>6s} {'tconv GF/s':>10s}"
    print(header)
    results = []
    for spec in layers:
        layer = Layer(spec, args.device)
        difference = layer.check()
        for pass_name in passes:
            runs = {"torch": getattr(layer, f"torch_{pass_name}"),
                    "tconv": getattr(layer, f"tconv_{pass_name}")}
            times = {name: [] for name in runs}
            for _ in range(args.warmup):
                for run in runs.values():
                    run()
            for _ in range(args.repeat):
                for name, run in runs.items():
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
                    settle()
            torch_ms, tconv_ms = median_ms(times["torch"]), median_ms(times["tconv"])
            work = flops(spec) * (3 if pass_name == "training" else 1)
            row = dict(layer=spec["name"], pass_name=pass_name, device=layer.device,
                       torch_ms=torch_ms, tconv_ms=tconv_ms, ratio=torch_ms / tconv_ms,
                       tconv_gflops=work / (tconv_ms * 1e-3) / 1e9,
                       max_relative_difference=difference)
            results.append(row)
            print(f"{spec['name']:13s} {pass_name:9s} {torch_ms:9.2f} {tconv_ms:9.2f} "
                  f"{row['ratio']:6.2f} {row['tconv_gflops']:10.1f}", flush=True)
    for pass_name in passes:
        ratios = [r["ratio"] for r in results if r["pass_name"] == pass_name]
        geomean = float(np.exp(np.mean(np.log(ratios))))
        slower = [r["layer"] for r in results if r["pass_name"] == pass_name and r["ratio"] < 1]
        print(f"{pass_name}: geometric mean of torch / tconv {geomean:.2f}; tconv slower on: "
              f"{', '.join(slower) or 'none'}")
    worst = max(r["max_relative_difference"] for r in results)
    print(f"largest difference to PyTorch (relative to the largest value): {worst:.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(
            torch=torch.__version__, threads=args.threads, repeat=args.repeat,
            results=results), indent=1) + "\n")


if __name__ == "__main__":
    main()
