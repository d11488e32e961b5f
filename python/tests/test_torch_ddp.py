# SPDX-License-Identifier: Apache-2.0
"""tconv.torch.ConvTranspose3d under DistributedDataParallel (gloo, 2
processes on this machine): the parameters after a few SGD steps equal those
of one process training on the whole batch."""

import os
import socket
import sys
import time

import pytest

from conftest import require

torch = require("torch")
require("tconv.torch")
dist = require("torch.distributed")
mp = require("torch.multiprocessing")

STEPS = 3
BATCH = 4  # per step, split over the processes


def make_model():
    import tconv.torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        tconv.torch.ConvTranspose3d(2, 3, 3, stride=2, padding=1, output_padding=1,
                                    dtype=torch.float64),
        torch.nn.ReLU(),
        tconv.torch.ConvTranspose3d(3, 1, 2, stride=1, dtype=torch.float64),
    )


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, BATCH, 2, 3, 3, 3, generator=g, dtype=torch.float64)
    target = torch.randn(STEPS, BATCH, 1, 7, 7, 7, generator=g, dtype=torch.float64)
    return x, target


def train(model, x, target):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x[step]), target[step])
        loss.backward()
        optimizer.step()


def worker(rank, world, port, out_path):
    os.environ["TCONV_NUM_THREADS"] = "1"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=__import__("datetime").timedelta(seconds=60))
    try:
        model = torch.nn.parallel.DistributedDataParallel(make_model())
        x, target = data()
        shard = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
        train(model, x[:, shard], target[:, shard])
        if rank == 0:
            torch.save(model.module.state_dict(), out_path)
    finally:
        dist.destroy_process_group()
    # Done and saved: skip the interpreter's shutdown, which takes ~15 s after
    # gloo here (torch's, with or without tconv), so the test stays short.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo over loopback on Linux")
def test_ddp_two_processes_equal_one_process(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.fail("torch.distributed with gloo is not available")
    out_path = str(tmp_path / "ddp.pt")
    context = mp.start_processes(worker, args=(2, free_port(), out_path), nprocs=2, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + 300
    while not context.join(timeout=5):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the DDP processes did not finish within 300 s")
    ddp_state = torch.load(out_path)
    single = make_model()
    x, target = data()
    train(single, x, target)
    for key, value in single.state_dict().items():
        torch.testing.assert_close(ddp_state[key], value, rtol=1e-12, atol=1e-12, msg=key)
    initial = make_model().state_dict()
    assert any(not torch.equal(initial[k], v) for k, v in single.state_dict().items())
