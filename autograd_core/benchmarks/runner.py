"""Measure autograd-core against its peers, side by side in one run.

    python -m autograd_core.benchmarks.runner [--quick] [--only WORKLOAD ...] [--engines ENGINE ...]
                                [--repeats N] [--out DIR] [--startup]

Method, per workload:
1. Every engine gets its own copy of the same inputs (`workloads.make_problem`).
2. Loss check: each engine runs a few steps from those inputs; its losses and
   gradients, step by step, must match the hand-written numpy reference run in
   float64 (float32 tolerance), or for the kinds it does not implement (conv,
   LSTM) torch eager run in float64 (`workloads.FLOAT64_REFERENCE`). An engine that fails is reported and not timed.
   These first steps are also the warm-up; the first call's time is reported
   separately (for jax, Numba and ag.compile it is mostly compilation).
3. Timing: rounds of one block per engine, interleaved (A, B, C, A, B, C, ...)
   so that load from other processes hits every engine alike. A block repeats
   the step enough times to last `min_block_s`; each block gives one sample of
   the time per step. Garbage is collected between blocks, outside the timer.
   Reported: median, interquartile range and number of samples.

While `run` runs, every thread pool is pinned to THREADS threads (`ThreadPinning`):
through the environment for the libraries the engines load then (torch, jax),
and through threadpoolctl, Numba and CPU affinity for those already loaded.
All of it is undone when `run` returns; importing the runner changes nothing.
"""

import argparse
import copy
import datetime
import gc
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from autograd_core.benchmarks import THREAD_ENV_VARS, THREADS, report, startup
from autograd_core.benchmarks.engines import all_engines
from autograd_core.benchmarks.engines.numpy_by_hand import ENGINES as NUMPY_REFERENCE
from autograd_core.benchmarks.workloads import FLOAT64_REFERENCE, WORKLOADS, as_float64, make_problem

# Relative to the working directory: in a checkout, the ignored benchmarks/out/.
DEFAULT_OUT = Path("benchmarks") / "out"

# The issues' goals: workload -> [(engine, the engine it is compared with, the largest allowed ratio of
# the first's median time to the second's), ...]. A verdict is n/a when either engine was not timed.
TARGETS = {
    "mlp_large": [("autograd_core", "torch", 0.70), ("autograd_core_compiled", "torch", 0.60)],
    "mlp_small": [
        ("autograd_core", "torch", 0.35),
        ("autograd_core_compiled", "torch", 0.30),
        ("autograd_core_compiled", "jax", 1.00),
    ],
    "op_chain": [("autograd_core", "torch", 0.30)],
    "elementwise_1e6": [("autograd_core", "torch", 0.80), ("autograd_core_compiled", "torch", 0.40)],
    "elementwise_1e4": [("autograd_core", "torch", 0.50), ("autograd_core_compiled", "torch", 0.30)],
    "matmul_1024": [("autograd_core", "numpy", 1.02)],
    "micrograd_demo": [("autograd_core", "torch", 1.00)],
    "lenet5": [("autograd_core", "torch", 1.00)],
    "lstm": [("autograd_core", "torch", 1.00)],
}
# A workload's first step in a fresh process (`--startup`): (workload, engine, Numba cache) -> the most
# seconds allowed.
STARTUP_TARGETS = {
    ("mlp_small", "autograd_core_compiled", "cold"): 5.0,
    ("mlp_small", "autograd_core_compiled", "warm"): 0.5,
}

CHECK_STEPS = 3
LOSS_ATOL = 1e-6
GRAD_RTOL = 1e-3
"""Gradients are compared by norm: |g - g_ref| <= GRAD_RTOL * |g_ref| (+ a float32 floor)."""


@dataclass(frozen=True)
class Timing:
    repeats: int
    min_block_s: float
    """Each timed block repeats the step until it lasts at least this long."""
    warmup_s: float
    """Extra untimed steps after the loss check, for caches and allocators to settle."""


FULL = Timing(repeats=15, min_block_s=0.1, warmup_s=0.3)
QUICK = Timing(repeats=3, min_block_s=0.01, warmup_s=0.0)
MAX_STEPS_PER_BLOCK = 10_000


def parse_args(argv=None, prog="python -m autograd_core.benchmarks.runner"):
    engine_keys = list(all_engines())
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder for results.json, results.md, results.png (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats", type=int, help=f"timed blocks per engine (default {FULL.repeats}, {QUICK.repeats} with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: few, short blocks")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(WORKLOADS),
        metavar="WORKLOAD",
        help=f"workloads to run (default all: {', '.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=engine_keys,
        metavar="ENGINE",
        help=f"engines to measure (default all: {', '.join(engine_keys)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the shared inputs")
    parser.add_argument(
        "--startup",
        action="store_true",
        help="also measure `import autograd_core` and the first mlp_small step, eager and under ag.compile, in "
        "fresh processes, with a cold and a warm Numba cache",
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def main(argv=None, prog="python -m autograd_core.benchmarks.runner"):
    args = parse_args(argv, prog)
    timing = QUICK if args.quick else FULL
    if args.repeats is not None:
        timing = replace(timing, repeats=args.repeats)
    results = run(args.only or list(WORKLOADS), args.engines or list(all_engines()), timing, args.seed)
    if args.startup:
        print("measuring startup in fresh processes ...", file=sys.stderr)
        with ThreadPinning():  # the fresh processes inherit the pinned environment
            results["startup"] = startup.measure_startup(runs=3 if args.quick else 7, pairs=1 if args.quick else 3)
        results["startup"]["targets"] = startup_verdicts(results["startup"])
    results["meta"]["argv"] = list(sys.argv[1:] if argv is None else argv)
    paths = report.write(results, args.out)
    print(report.markdown(results))
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def run(workload_names, engine_keys, timing, seed=0):
    """Measure the named workloads on the named engines; returns the results as plain data."""
    known = all_engines()
    engines = {key: known[key] for key in engine_keys}
    load_before = os.getloadavg()
    with ThreadPinning() as pinning:
        engine_info = {key: _load(engine) for key, engine in engines.items()}
        loaded = {key: engines[key] for key, info in engine_info.items() if info["status"] == "ok"}
        measured = {}
        for name in workload_names:
            print(f"{name} ...", file=sys.stderr)
            measured[name] = _measure_workload(WORKLOADS[name], loaded, engine_info, timing, seed)
        threads = _thread_report(pinning)
    results = dict(
        meta=dict(
            created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            timing=asdict(timing),
            seed=seed,
            threads=THREADS,
            check=dict(
                steps=CHECK_STEPS,
                loss_atol=LOSS_ATOL,
                grad_rtol=GRAD_RTOL,
                reference="numpy by hand, float64 (torch eager, float64, where numpy by hand lacks the kind)",
            ),
            load_average=dict(before=load_before, after=os.getloadavg()),
        ),
        machine=dict(machine_info(), threads=threads),
        engines=engine_info,
        workloads=measured,
    )
    results["targets"] = target_verdicts(results)
    return results


def _load(engine):
    info = dict(label=engine.label, compiled=engine.compiled, version=None, status="ok")
    try:
        info["version"] = engine.load()
    except ImportError as error:
        info.update(status="not installed", error=str(error))
    return info


def _measure_workload(workload, engines, engine_info, timing, seed):
    problem = make_problem(workload, seed)
    entry = dict(
        description=workload.description,
        kind=workload.kind,
        params=workload.params,
        unit=workload.unit,
        reference=reference_name(workload),
        loss_rtol=workload.loss_rtol,
        results={},
    )
    try:
        expected = reference(workload, problem)
    except ImportError as error:  # the torch reference of a conv/LSTM workload without torch: nothing is checkable
        message = f"no float64 reference ({entry['reference']}): {error}"
        print(f"  {message}; not timed", file=sys.stderr)
        entry["results"] = {key: dict(status="error", error=message) for key in engine_info}
        return entry
    entry["reference_losses"] = expected["losses"]
    if workload.kind == "matmul":
        entry["blas"] = _blas_reference(problem["a"], problem["b"], timing.repeats)

    timed = {}
    for key, info in engine_info.items():
        if info["status"] != "ok":
            entry["results"][key] = dict(status=info["status"])
        elif workload.kind not in engines[key].workloads:
            entry["results"][key] = dict(status="unsupported")
        else:
            entry["results"][key], prepared = _prepare(engines[key], workload, problem, expected, timing)
            if prepared is not None:
                timed[key] = prepared

    samples = {key: [] for key in timed}
    for _ in range(timing.repeats):
        for key, (step, steps_per_block) in timed.items():
            engines[key].activate()
            gc.collect()
            start = time.perf_counter()
            for _ in range(steps_per_block):
                step()
            samples[key].append((time.perf_counter() - start) / steps_per_block)
    for key, times in samples.items():
        result = entry["results"][key]
        result.update(_summary(times), steps_per_block=timed[key][1])
        if engines[key].compiled:
            result["compile_s"] = max(result["first_call_s"] - result["median_s"], 0.0)
    return entry


def reference_name(workload):
    engine = FLOAT64_REFERENCE.get(workload.kind)
    return "numpy by hand, float64" if engine is None else f"{engine}, float64"


def reference(workload, problem):
    """Losses and gradients of the first CHECK_STEPS steps, in float64: by hand in numpy, or by
    the FLOAT64_REFERENCE engine (ImportError when it is not installed)."""
    engine_key = FLOAT64_REFERENCE.get(workload.kind)
    if engine_key is None:
        builder = NUMPY_REFERENCE[0].workloads[workload.kind]
    else:
        engine = all_engines()[engine_key]
        engine.load()
        builder = engine.workloads[workload.kind]
    losses, step_grads, _ = check_steps(*builder(as_float64(problem)))
    return dict(losses=losses, grads=step_grads)


def check_steps(step, grads):
    """Run CHECK_STEPS steps: (losses, the gradients after each step as float64 copies, first call's seconds).

    Every step's gradients, not only the first's: a compiled engine traces its first call eagerly, and
    only the later ones run the compiled program."""
    losses, step_grads = [], []
    for i in range(CHECK_STEPS):
        start = time.perf_counter()
        losses.append(step())
        if i == 0:
            first_call_s = time.perf_counter() - start
        # copies: an engine may reuse its gradient buffers on the next step
        step_grads.append([np.array(g, dtype=np.float64) for g in grads()])
    return losses, step_grads, first_call_s


def checked_step(engine, workload, problem, reference):
    """Build the engine's step on its own copy of the problem and check its first CHECK_STEPS steps.

    Returns (step, first_call_s, check) with `check` as `loss_check` gives it.
    """
    engine.activate()
    step, grads = engine.workloads[workload.kind](copy.deepcopy(problem))
    losses, step_grads, first_call_s = check_steps(step, grads)
    return step, first_call_s, loss_check(losses, step_grads, reference, workload.loss_rtol)


def _prepare(engine, workload, problem, reference, timing):
    """Check the engine's step against the reference and warm it up.

    Returns (result, (step, steps_per_block)); the second is None when the engine is not to be timed.
    """
    try:
        step, first_call_s, check = checked_step(engine, workload, problem, reference)
        result = dict(status="ok" if check["ok"] else "loss mismatch", first_call_s=first_call_s, loss_check=check)
        if not check["ok"]:
            print(f"  {engine.key}: LOSS MISMATCH, not timed: {check['detail']}", file=sys.stderr)
            return result, None
        return result, (step, _steps_per_block(step, timing))
    except Exception as error:  # a broken engine is reported; the others still get measured
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        print(f"  {engine.key}: ERROR, not timed: {message}", file=sys.stderr)
        return dict(status="error", error=message), None


def loss_check(losses, step_grads, reference, loss_rtol):
    """Compare an engine's losses and gradients with the reference's, step by step (`step_grads`: one
    list of gradient arrays per step).

    Losses: |l - l_ref| <= loss_rtol |l_ref| + LOSS_ATOL.
    Gradients, per array: |g - g_ref|_2 <= GRAD_RTOL |g_ref|_2 + LOSS_ATOL sqrt(size).
    """
    ref_losses = reference["losses"]
    loss_errors = [abs(loss - ref) for loss, ref in zip(losses, ref_losses)]
    problems = [
        f"step {i + 1} loss {loss!r} != reference {ref!r}"
        for i, (loss, ref, error) in enumerate(zip(losses, ref_losses, loss_errors))
        if not error <= loss_rtol * abs(ref) + LOSS_ATOL
    ]
    grad_errors = []
    for s, (grads, ref_grads) in enumerate(zip(step_grads, reference["grads"]), start=1):
        if len(grads) != len(ref_grads):
            problems.append(f"step {s}: {len(grads)} gradients, reference has {len(ref_grads)}")
        for i, (grad, ref) in enumerate(zip(grads, ref_grads)):
            if grad.shape != ref.shape:
                problems.append(f"step {s} gradient {i} has shape {grad.shape}, reference {ref.shape}")
                continue
            ref_norm = float(np.linalg.norm(ref))
            error = float(np.linalg.norm(grad - ref))
            grad_errors.append(error / ref_norm if ref_norm else error)
            if not error <= GRAD_RTOL * ref_norm + LOSS_ATOL * math.sqrt(ref.size):
                problems.append(f"step {s} gradient {i} off by {error:.3g} (norm {ref_norm:.3g})")
    return dict(
        ok=not problems,
        losses=[float(loss) for loss in losses],
        max_loss_rel_error=max(e / max(abs(r), LOSS_ATOL) for e, r in zip(loss_errors, ref_losses)),
        max_grad_rel_error=max(grad_errors, default=None),
        detail="; ".join(problems),
    )


def _steps_per_block(step, timing):
    """Warm up for timing.warmup_s, then size a block to last timing.min_block_s."""
    deadline = time.perf_counter() + timing.warmup_s
    while time.perf_counter() < deadline:
        step()
    start = time.perf_counter()
    step()
    step_s = time.perf_counter() - start
    return int(min(MAX_STEPS_PER_BLOCK, max(1, math.ceil(timing.min_block_s / max(step_s, 1e-9)))))


def _summary(times):
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return dict(median_s=float(median), q1_s=float(q1), q3_s=float(q3), iqr_s=float(q3 - q1), n=len(times))


def _blas_reference(a, b, repeats):
    """The machine's raw float32 matmul speed: numpy's `a @ b` alone, median of `repeats`."""
    a @ b  # warm-up
    times = []
    for _ in range(max(repeats, 5)):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
    print(
        f"  raw BLAS (numpy float32 matmul {a.shape} @ {b.shape}): {flops / median / 1e9:.1f} GFLOP/s", file=sys.stderr
    )
    return dict(matmul_s=median, gflops=flops / median / 1e9)


def target_verdicts(results):
    """Workload -> one verdict per target of TARGETS on a workload that ran."""
    verdicts = {}
    for name, targets in TARGETS.items():
        if name not in results["workloads"]:
            continue
        verdicts[name] = []
        for engine, baseline, max_ratio in targets:
            value = report.ratio(results, name, engine, baseline)
            verdicts[name].append(
                dict(
                    engine=engine,
                    baseline=baseline,
                    max_ratio=max_ratio,
                    ratio=value,
                    verdict=verdict(value, max_ratio),
                )
            )
    return verdicts


def startup_verdicts(measured):
    """One verdict per STARTUP_TARGETS entry on the workload `startup.measure_startup` measured."""
    verdicts = []
    for (workload, engine, cache), max_s in STARTUP_TARGETS.items():
        if workload != measured["workload"]:
            continue
        entry = measured["engines"].get(engine)
        seconds = entry["first_step_s"][cache]["median"] if entry and "first_step_s" in entry else None
        verdicts.append(dict(engine=engine, cache=cache, max_s=max_s, seconds=seconds, verdict=verdict(seconds, max_s)))
    return verdicts


def verdict(value, limit):
    """PASS when the measured `value` is at most `limit`, MISS when above, n/a when it was not measured."""
    if value is None:
        return "n/a"
    return "PASS" if value <= limit else "MISS"


class ThreadPinning:
    """Pins every thread pool to THREADS threads while it is entered; undoes all of it on exit.

    Sets the THREAD_ENV_VARS for libraries loaded inside (an engine's `load` imports torch or jax),
    restricts the process to THREADS CPUs when the machine has more (the only reliable limit for
    XLA's pool), caps loaded BLAS/OpenMP pools with threadpoolctl and Numba's with set_num_threads.
    """

    def __enter__(self):
        self.environment = {var: os.environ.get(var) for var in THREAD_ENV_VARS}
        os.environ.update({var: str(THREADS) for var in THREAD_ENV_VARS})
        self.affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        if self.affinity and len(self.affinity) > THREADS:
            os.sched_setaffinity(0, self.affinity[:THREADS])
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self.limits = None
        else:
            self.limits = threadpool_limits(limits=THREADS)
        numba = sys.modules.get("numba")
        self.numba_threads = None if numba is None else numba.get_num_threads()
        if numba is not None:
            numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
        return self

    def __exit__(self, *exc_info):
        if self.numba_threads is not None:
            sys.modules["numba"].set_num_threads(self.numba_threads)
        if self.limits is not None:
            self.limits.restore_original_limits()
        if self.affinity and len(self.affinity) > THREADS:
            os.sched_setaffinity(0, self.affinity)
        for var, value in self.environment.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _thread_report(pinning):
    threads = dict(pinned=THREADS, env={var: os.environ.get(var) for var in THREAD_ENV_VARS})
    if pinning.affinity is not None:
        threads["cpus_used"] = min(len(pinning.affinity), THREADS)
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        threads["threadpools"] = [
            {k: pool.get(k) for k in ("internal_api", "num_threads", "version", "prefix")} for pool in threadpool_info()
        ]
    if "torch" in sys.modules:
        threads["torch"] = sys.modules["torch"].get_num_threads()
    if "numba" in sys.modules:
        threads["numba"] = sys.modules["numba"].get_num_threads()
    return threads


def machine_info():
    info = dict(
        cpu=_cpu_model(),
        logical_cpus=os.cpu_count(),
        python=platform.python_version(),
        platform=platform.platform(),
        numpy=np.__version__,
    )
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except (TypeError, KeyError):  # numpy older than 1.25 prints its config instead of returning it
        info["blas"] = None
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
