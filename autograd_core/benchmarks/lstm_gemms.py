"""The GEMMs of the `lstm` workload's training step (seq 50, batch 32, 64 -> 128, float32), each shape
timed alone in numpy (its OpenBLAS) and in torch: the floor those GEMMs set under the step.

    .venv/bin/python -m autograd_core.benchmarks.lstm_gemms [--repeats 300]

Prints, per shape, the milliseconds one training step spends in it (median of `repeats` calls times the
calls per step) for each library, and the totals. Threads: THREADS per library.
"""

import argparse
import statistics
import time

import numpy as np

from . import THREADS

SEQ, BATCH, INPUT, HIDDEN = 50, 32, 64, 128


def step_gemms(rng):
    """[(what, calls per step, a, b)]: the operands of every GEMM of the step, a @ b."""
    steps, gates = SEQ * BATCH, 4 * HIDDEN

    def array(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    x, w_ih, w_hh = array(steps, INPUT), array(gates, INPUT), array(gates, HIDDEN)
    dz_all, h_all = array(steps, gates), array(steps, HIDDEN)
    return [
        ("x W_ih^T, 1600x64 @ 64x512", 1, x, w_ih.T),
        ("h W_hh^T, 32x128 @ 128x512", SEQ, array(BATCH, HIDDEN), w_hh.T),
        ("dz W_hh, 32x512 @ 512x128", SEQ, array(BATCH, gates), w_hh),
        ("dW_hh = dZ^T H, 512x1600 @ 1600x128", 1, dz_all.T, h_all),
        ("dW_ih = dZ^T X, 512x1600 @ 1600x64", 1, dz_all.T, x),
        ("dX = dZ W_ih, 1600x512 @ 512x64", 1, dz_all, w_ih),
    ]


def median_seconds(matmul, a, b, repeats):
    """The median time of matmul(a, b), after 10 untimed calls."""
    for _ in range(10):
        matmul(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    import threadpoolctl
    import torch

    torch.set_num_threads(THREADS)
    totals = {"numpy": 0.0, "torch": 0.0}
    with threadpoolctl.threadpool_limits(THREADS):
        for what, calls, a, b in step_gemms(np.random.default_rng(0)):
            # the same memory layouts in torch (a transposed operand stays a transposed view)
            ta, tb = (torch.from_numpy(np.ascontiguousarray(m.T)).T for m in (a, b))
            ms = {
                "numpy": median_seconds(np.matmul, a, b, args.repeats) * calls * 1e3,
                "torch": median_seconds(torch.matmul, ta, tb, args.repeats) * calls * 1e3,
            }
            for library in totals:
                totals[library] += ms[library]
            print(f"{what:38s} x{calls:2d}: numpy {ms['numpy']:6.2f} ms  torch {ms['torch']:6.2f} ms")
    print(f"{'every GEMM of a step':43s}: numpy {totals['numpy']:6.2f} ms  torch {totals['torch']:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
