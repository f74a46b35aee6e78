"""Data-parallel training speed: time per epoch of the MLP 784-256-256-10 on 1 and 2 processes.

    .venv/bin/python -m autograd_core.benchmarks.distributed [--processes 1 2] [--epochs 5] [--samples 6144]

Workload: synthetic digits-like data (784 features, 10 classes from a random
linear teacher), float32, SGD with momentum, a global batch of 128 samples,
shuffled. One process trains the plain model; N processes run under
`mpiexec -n N` through `nn.parallel.distribute` (as `nn.utils.fit` does):
DistributedDataParallel and a DistributedSampler, 128 / N samples per rank
per step, so every configuration takes the same number of steps of the same
global batch size. Every process gets one BLAS/OpenMP/Numba thread.

Reported per configuration (medians over the epochs after a warm-up epoch):

- epoch: wall time of one epoch on rank 0, between barriers;
- CPU per rank: the CPU time rank 0 spent in that epoch. Less sensitive to
  other processes than wall time; MPI's busy-waiting in a collective counts;
- all-reduce in training: time per step inside the gradient all-reduce of
  DDP; it includes waiting for the slower rank to arrive;
- all-reduce alone: one all-reduce of a buffer of the model's size
  (269,322 float32 + 6 counts) right after a barrier: the cost of the
  communication itself.

The speed-up can reach N only when N idle cores are available: on a machine
shared with other work the numbers say what they were measured under.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from autograd_core import distributed
from autograd_core.benchmarks import child_environment

SIZES = [784, 256, 256, 10]
GLOBAL_BATCH = 128


def _training_run(samples):
    """(model, plain model, optimizer, loader, loss function): the MLP on synthetic digits-like data,
    distributed over this job's ranks."""
    import autograd_core as ag
    import nn
    import optim
    from autograd_core.data import DataLoader, TensorDataset
    from nn.parallel import distribute

    rng = np.random.default_rng(0)
    X = rng.normal(size=(samples, SIZES[0])).astype(np.float32)
    y = np.argmax(X @ rng.normal(size=(SIZES[0], SIZES[-1])), axis=1)
    ag.manual_seed(0)
    plain = nn.MLP(SIZES)
    optimizer = optim.SGD(plain.parameters(), lr=0.01, momentum=0.9)
    model, loader = distribute(plain, DataLoader(TensorDataset(X, y), batch_size=GLOBAL_BATCH, shuffle=True, seed=0))
    return model, plain, optimizer, loader, nn.CrossEntropyLoss()


def _timed_epochs(epochs, model, optimizer, loader, loss_fn):
    """Per timed epoch: wall seconds, CPU seconds and all-reduce seconds per step; and the last batch's loss
    of every epoch (epoch 0 included: it warms up, Numba compiles and caches fill)."""
    in_all_reduce = []
    untimed = distributed.all_reduce_array

    def timing(array, op="sum"):
        start = time.perf_counter()
        untimed(array, op)
        in_all_reduce.append(time.perf_counter() - start)

    distributed.all_reduce_array = timing
    epoch_seconds, cpu_seconds, all_reduce_per_step, losses = [], [], [], []
    try:
        for epoch in range(epochs + 1):
            if hasattr(loader.sampler, "set_epoch"):
                loader.sampler.set_epoch(epoch)
            in_all_reduce.clear()
            distributed.barrier()
            start, cpu_start = time.perf_counter(), time.process_time()
            for inputs, targets in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                optimizer.step()
            distributed.barrier()
            if epoch:
                epoch_seconds.append(time.perf_counter() - start)
                cpu_seconds.append(time.process_time() - cpu_start)
                all_reduce_per_step.append(sum(in_all_reduce) / len(loader))
            losses.append(loss.item())
    finally:
        distributed.all_reduce_array = untimed
    return epoch_seconds, cpu_seconds, all_reduce_per_step, losses


def _all_reduce_alone(size, rounds=50):
    """Seconds of each of `rounds` all-reduces of `size` float32, each right after a barrier."""
    buffer = np.ones(size, dtype=np.float32)
    seconds = []
    for _ in range(rounds):
        distributed.barrier()
        start = time.perf_counter()
        distributed.all_reduce_array(buffer)
        seconds.append(time.perf_counter() - start)
    return seconds


def _ranks_identical(model):
    """Whether every rank holds the same weights: the largest and smallest value of each across ranks."""
    import autograd_core as ag

    flat = ag.tensor(np.concatenate([np.asarray(p).ravel() for p in model.parameters()]))
    highest, lowest = flat.clone(), flat.clone()
    distributed.all_reduce(highest, "max")
    distributed.all_reduce(lowest, "min")
    return bool(np.array_equal(np.asarray(highest), np.asarray(lowest)))


def worker(epochs, samples):
    """One rank's measurement; rank 0 prints the report as one line of JSON."""
    model, plain, optimizer, loader, loss_fn = _training_run(samples)
    epoch_seconds, cpu_seconds, all_reduce_per_step, losses = _timed_epochs(epochs, model, optimizer, loader, loss_fn)
    parameters = sum(p.numel() for p in plain.parameters())
    alone = _all_reduce_alone(parameters + len(list(plain.parameters())))
    identical = _ranks_identical(plain)
    world_size = distributed.world_size()
    if distributed.rank() == 0:
        print(
            json.dumps(
                {
                    "processes": world_size,
                    "steps_per_epoch": len(loader),
                    "parameters": parameters,
                    "epoch_s": statistics.median(epoch_seconds),
                    "cpu_s": statistics.median(cpu_seconds),
                    "all_reduce_in_training_ms": 1e3 * statistics.median(all_reduce_per_step)
                    if world_size > 1
                    else 0.0,
                    "all_reduce_alone_ms": 1e3 * statistics.median(alone) if world_size > 1 else 0.0,
                    "first_loss": losses[0],
                    "last_loss": losses[-1],
                    "ranks_identical": identical,
                }
            ),
            flush=True,
        )


def launch(processes, epochs, samples):
    """Run the worker on `processes` ranks (plainly for one) and return rank 0's report."""
    env = child_environment(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "autograd_core.benchmarks.distributed",
        "--worker",
        "--epochs",
        str(epochs),
        "--samples",
        str(samples),
    ]
    if processes > 1:
        beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        command = [beside_python if os.path.exists(beside_python) else "mpiexec", "-n", str(processes)] + command
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(
            f"autograd_core.benchmarks.distributed: {' '.join(command)} failed:\n{result.stdout}{result.stderr}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=6144)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.epochs, args.samples)
        return

    reports = [launch(n, args.epochs, args.samples) for n in args.processes]
    base = reports[0]["epoch_s"]
    print(
        f"MLP {'-'.join(map(str, SIZES))} ({reports[0]['parameters']:,} parameters), float32, global batch "
        f"{GLOBAL_BATCH}, {args.samples} samples ({reports[0]['steps_per_epoch']} steps per epoch), "
        f"median of {args.epochs} epochs, 1 thread per process"
    )
    print(
        f"{'processes':>9} {'epoch (s)':>10} {'speed-up':>9} {'CPU per rank (s)':>17} "
        f"{'all-reduce/step in training (ms)':>33} {'all-reduce alone (ms)':>22} "
        f"{'last-batch loss, epoch 0 -> last':>33} {'ranks identical':>16}"
    )
    for r in reports:
        print(
            f"{r['processes']:>9} {r['epoch_s']:>10.3f} {base / r['epoch_s']:>9.2f} {r['cpu_s']:>17.3f} "
            f"{r['all_reduce_in_training_ms']:>33.3f} {r['all_reduce_alone_ms']:>22.3f} "
            f"{r['first_loss']:>20.3f} -> {r['last_loss']:<9.3f} {r['ranks_identical']!s:>16}"
        )


if __name__ == "__main__":
    main()
