# SPDX-License-Identifier: Apache-2.0
"""What the Python layer adds over the C API on one layer (default: the bench
suite's gan_g3, float32, channels_last input, bias, cpu:0).

Three ways of running the same forward pass, in interleaved rounds:
  c_api     tconv_plan_execute through ctypes on buffers allocated once, weights
            set once: what a C program calling the library does
  plan      tconv.Plan.execute(x): a new output array per call
  function  tconv.conv_transpose(x, kernel, bias, ...): plan cache lookup,
            weights handed to the plan on every call, a new output array
Prints the median of each and the overheads relative to c_api.

Usage: python python/benchmarks/overhead.py [--repeat 15] [--device cpu:0]
"""

import argparse
import statistics
import time

import numpy as np

import tconv
from tconv import _api

# gan_g3 of bench/bench_suite.c: N, Cin, Cout, input, kernel, strides, padding
GAN_G3 = dict(batch=8, cin=256, cout=128, size=(8, 8, 8), kernel=4, strides=2, padding=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--device", default="cpu:0")
    args = parser.parse_args()
    layer = GAN_G3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer["batch"],) + layer["size"] + (layer["cin"],)).astype(np.float32)
    k = layer["kernel"]
    kernel = (rng.standard_normal((k, k, k, layer["cout"], layer["cin"])) * 0.05).astype(np.float32)
    bias = rng.standard_normal(layer["cout"]).astype(np.float32)
    options = dict(strides=layer["strides"], padding=layer["padding"], device=args.device)

    plan = tconv.Plan(x.shape, kernel.shape, use_bias=True, strides=layer["strides"],
                      padding=layer["padding"], device=args.device)
    plan.set_weights(kernel, bias)
    out = np.empty(plan.output_shape, np.float32)
    handle, execute = plan._live_handle(), _api._lib_handle.tconv_plan_execute
    x_ptr, out_ptr = x.ctypes.data, out.ctypes.data

    def c_api():
        assert execute(handle, x_ptr, out_ptr) == 0

    runs = {
        "c_api": c_api,
        "plan": lambda: plan.execute(x),
        "function": lambda: tconv.conv_transpose(x, kernel, bias, **options),
    }
    for run in runs.values():  # warm up (the function's plan is created here)
        run()
    np.testing.assert_allclose(plan.execute(x), tconv.conv_transpose(x, kernel, bias, **options))
    times = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["c_api"])
    print(f"layer gan_g3 {layer}, float32, device {plan.device}, {args.repeat} interleaved rounds")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:9s} median {median * 1e3:8.2f} ms  ({(median / base - 1) * 100:+5.1f}% vs c_api)")


if __name__ == "__main__":
    main()
