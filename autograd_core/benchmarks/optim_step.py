"""Time one Adam step over 1,000,000 float32 parameters held in 11 tensors.

The tensors are an MLP 784-256-256-10 plus two wider layers (1024x512,
512x400) and a bias of 678 to reach exactly 1e6. Compared, each a full
`optimizer.step()` on the same gradients:

- optim.Adam under the numba backend (one fused kernel call for the group),
- optim.Adam under the numpy backend (the per-tensor numpy reference),
- torch.optim.Adam with 2 threads, its default CPU path (a loop over tensors)
  and with foreach=True (multi-tensor ops), when torch is installed.

Repeats are interleaved (A, B, C, A, B, C, ...) so that load from other
processes falls on every contender alike; the medians are reported.

    .venv/bin/python -m autograd_core.benchmarks.optim_step [--repeats 41]

`--crossover` instead times fused=False against fused=True for groups of 4 float32 tensors of
growing size, which places the policy's FUSED_MIN_MEAN_SIZE rows (autograd_core/backend.py).
"""

import argparse
import os
import time

import numpy as np

import autograd_core as ag
from autograd_core import backend

SHAPES = [(784, 256), (256,), (256, 256), (256,), (256, 10), (10,), (1024, 512), (512,), (512, 400), (400,), (678,)]


def ours(backend_name, values, grads):
    import optim  # optim sits above autograd_core: imported when a benchmark runs, as in the CLI

    params = [ag.tensor(v.copy(), requires_grad=True) for v in values]
    for p, g in zip(params, grads):
        p.grad = ag.tensor(g)
    opt = optim.Adam(params, lr=1e-3)

    def step():
        backend.set(backend_name)
        start = time.perf_counter()
        opt.step()
        return time.perf_counter() - start

    return step


def theirs(torch, values, grads, foreach):
    params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g)
    opt = torch.optim.Adam(params, lr=1e-3, foreach=foreach)

    def step():
        start = time.perf_counter()
        opt.step()
        return time.perf_counter() - start

    return step


def crossover(repeats):
    """Median microseconds of one step, per-tensor numpy vs fused, as the mean tensor size grows."""
    import optim  # optim sits above autograd_core: imported when a benchmark runs, as in the CLI

    backend.set("numba")
    rng = np.random.default_rng(0)
    for name, options in (("Adam", {}), ("SGD", {"momentum": 0.9})):
        for size in (1024, 4096, 8192, 16384, 32768, 65536, 131072):
            steps = []
            for fused in (False, True):
                params = [ag.tensor(rng.normal(size=size).astype(np.float32), requires_grad=True) for _ in range(4)]
                for p in params:
                    p.grad = ag.tensor(rng.normal(size=size).astype(np.float32))
                steps.append(getattr(optim, name)(params, lr=1e-3, fused=fused, **options).step)
                steps[-1]()  # compile, first touch
            times = [[], []]
            for _ in range(repeats):
                for step, samples in zip(steps, times):
                    start = time.perf_counter()
                    step()
                    samples.append(time.perf_counter() - start)
            numpy_us, fused_us = (float(np.median(t)) * 1e6 for t in times)
            print(
                f"{name:4s} 4 x {size:6d}: per-tensor numpy {numpy_us:8.1f} us, fused {fused_us:8.1f} us"
                f"{'   fused wins' if fused_us < numpy_us else ''}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--crossover", action="store_true", help="numpy vs fused by tensor size")
    args = parser.parse_args()
    if args.crossover:
        return crossover(args.repeats)

    rng = np.random.default_rng(0)
    values = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    grads = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    assert sum(v.size for v in values) == 1_000_000

    contenders = {
        "optim.Adam, numba (fused)": ours("numba", values, grads),
        "optim.Adam, numpy (per tensor)": ours("numpy", values, grads),
    }
    # Idle OpenMP threads sleep instead of spinning: a spinning torch worker would steal a core
    # from the contender timed next (the machine this runs on may have only 2).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        print("torch not installed: torch.optim.Adam not measured")
    else:
        torch.set_num_threads(2)
        contenders["torch.optim.Adam (default, 2 threads)"] = theirs(torch, values, grads, foreach=False)
        contenders["torch.optim.Adam foreach (2 threads)"] = theirs(torch, values, grads, foreach=True)

    previous = backend.get()
    try:
        for step in contenders.values():  # warm-up: JIT compilation, first-touch allocations
            step(), step()
        times = {name: [] for name in contenders}
        for _ in range(args.repeats):
            for name, step in contenders.items():
                times[name].append(step())
    finally:
        backend.set(previous)

    print(
        f"one Adam step, 1,000,000 float32 parameters in {len(SHAPES)} tensors, "
        f"median of {args.repeats} interleaved repeats"
    )
    for name, samples in times.items():
        q1, median, q3 = np.percentile(np.array(samples) * 1e3, [25, 50, 75])
        print(f"  {name:40s} {median:8.3f} ms   (IQR {q1:.3f} - {q3:.3f})")


if __name__ == "__main__":
    main()
