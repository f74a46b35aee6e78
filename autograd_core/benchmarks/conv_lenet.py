"""A LeNet-5 training step (B=64, 1x28x28): conv(6, 5)-relu-maxpool2-conv(16, 5)-relu-maxpool2-fc120-fc84-fc10,
cross-entropy and an SGD update, forward + backward, autograd-core against torch eager in one process.

    .venv/bin/python -m autograd_core.benchmarks.conv_lenet [--rounds 30] [--threads 2]    # 2: THREADS

Prints the median wall and CPU milliseconds per step of each and the ratios; the first steps (Numba compilation,
allocator warm-up) are not timed. Both libraries start from the same weights and batch, and the losses
of the first step are compared before anything is timed.
"""

import argparse
import statistics
import time

import numpy as np

import autograd_core as ag

from . import THREADS

BATCH, LR = 64, 0.01


def lenet(nn):
    from nn import conv

    return nn.Sequential(
        conv.Conv2d(1, 6, 5),
        nn.ReLU(),
        conv.MaxPool2d(2),
        conv.Conv2d(6, 16, 5),
        nn.ReLU(),
        conv.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def torch_lenet(torch, model):
    tnn = torch.nn
    twin = tnn.Sequential(
        tnn.Conv2d(1, 6, 5),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(256, 120),
        tnn.ReLU(),
        tnn.Linear(120, 84),
        tnn.ReLU(),
        tnn.Linear(84, 10),
    )
    twin.load_state_dict({name: torch.tensor(np.asarray(value)) for name, value in model.state_dict().items()})
    return twin


def step(model, criterion, x, y):
    loss = criterion(model(x), y)
    model.zero_grad()
    loss.backward()
    with ag.no_grad():
        for p in model.parameters():
            p -= LR * p.grad
    return loss.item()


def torch_step(torch, model, x, y):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= LR * p.grad
    return loss.item()


def _timed(fn):
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - start_cpu


def median_ms(steps, rounds):
    """Per step function, the median wall and CPU (process) milliseconds, the functions taking turns so that
    load from other processes falls on all alike; on a shared machine the CPU time is the steadier."""
    samples = [[] for _ in steps]
    for _ in range(rounds):
        for times, fn in zip(samples, steps):
            times.append(_timed(fn))
    return [tuple(1e3 * statistics.median(column) for column in zip(*times)) for times in samples]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="threads per library (a loaded machine measures steadier with 1)"
    )
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    import nn  # nn sits above autograd_core: imported when the benchmark runs, as in the CLI

    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)  # numpy's BLAS pool
    rng = np.random.default_rng(0)
    images = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    model, criterion = lenet(nn), nn.CrossEntropyLoss()
    twin = torch_lenet(torch, model)
    x, y = ag.tensor(images), labels
    tx, ty = torch.tensor(images), torch.tensor(labels)
    ours, theirs = step(model, criterion, x, y), torch_step(torch, twin, tx, ty)
    print(f"first-step losses: autograd-core {ours:.6f}, torch {theirs:.6f}")
    for _ in range(3):
        step(model, criterion, x, y), torch_step(torch, twin, tx, ty)
    steps = [lambda: step(model, criterion, x, y), lambda: torch_step(torch, twin, tx, ty)]
    ours, theirs = median_ms(steps, args.rounds)
    print(f"backend {ag.backend.get()}, float32, {args.threads} thread(s), median of {args.rounds} steps (ms):")
    for label, index in (("wall", 0), ("cpu", 1)):
        print(
            f"  {label}: autograd-core {ours[index]:.2f}, torch eager {theirs[index]:.2f}, "
            f"ratio {ours[index] / theirs[index]:.2f}x"
        )


if __name__ == "__main__":
    main()
