"""Startup costs of autograd-core, each measured in a fresh process.

- `import autograd_core`, timed inside the process (interpreter start excluded);
- the first training step of a workload (mlp_small unless told; the second
  step too, for scale) on each engine asked for (eager autograd-core, and the
  step under `ag.compile`, whose first call traces and compiles it) with a cold
  Numba cache (NUMBA_CACHE_DIR pointing at a new, empty folder) and with a warm
  one (a second process on the same folder), so JIT compilation and its disk
  cache show up as what they cost a user.

    python -m autograd_core.benchmarks.startup [--runs N] [--pairs N] [--workload NAME] [--engines KEY ...]
        prints the JSON
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

from autograd_core.benchmarks import child_environment
from autograd_core.benchmarks.workloads import WORKLOADS

_IMPORT_PROBE = "import time; t = time.perf_counter(); import autograd_core; print(time.perf_counter() - t)"
_FIRST_STEP_PROBE = "from autograd_core.benchmarks.startup import first_step_probe; first_step_probe({!r}, {!r})"

ENGINES = ("autograd_core", "autograd_core_compiled")
"""The engines whose first step can be measured: eager autograd-core and its `ag.compile` row."""


def measure_startup(runs=7, pairs=3, workload="mlp_small", engines=ENGINES):
    """Medians over `runs` import-only processes and, per engine, `pairs` cold/warm first-step process pairs
    of `workload` (each pair on a Numba cache folder of its own). An engine whose probe fails gets
    `error` (the probe's last line of output) instead of timings; the others are still measured."""
    import_s = [float(_run_python(_IMPORT_PROBE)) for _ in range(runs)]
    first_steps = {}
    for engine in engines:
        try:
            first_steps[engine] = _first_steps(workload, engine, pairs)
        except RuntimeError as error:
            first_steps[engine] = dict(error=str(error).strip().splitlines()[-1])
    backend = next((entry["backend"] for entry in first_steps.values() if "backend" in entry), None)
    return dict(workload=workload, backend=backend, import_s=_stats(import_s), engines=first_steps)


def _first_steps(workload, engine, pairs):
    """First- and second-step times of `pairs` cold/warm process pairs, and the backend they ran on."""
    probe = _FIRST_STEP_PROBE.format(workload, engine)
    cold, warm, second = [], [], []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
            first_run = json.loads(_run_python(probe, NUMBA_CACHE_DIR=cache_dir))
            again = json.loads(_run_python(probe, NUMBA_CACHE_DIR=cache_dir))
        cold.append(first_run["first_step_s"])
        warm.append(again["first_step_s"])
        second += [first_run["second_step_s"], again["second_step_s"]]
    return dict(
        backend=first_run["backend"],
        first_step_s=dict(cold=_stats(cold), warm=_stats(warm)),
        second_step_s=_stats(second),
    )


def first_step_probe(workload_name="mlp_small", engine_key="autograd_core"):
    """In a fresh process: import autograd-core, build the workload on the engine, time its first two steps;
    print JSON."""
    import time

    start = time.perf_counter()
    import autograd_core as ag

    import_s = time.perf_counter() - start
    from autograd_core.benchmarks.engines import all_engines
    from autograd_core.benchmarks.workloads import make_problem

    workload = WORKLOADS[workload_name]
    step, _ = all_engines()[engine_key].workloads[workload.kind](make_problem(workload))
    times = []
    for _ in range(2):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps(dict(backend=ag.backend.get(), import_s=import_s, first_step_s=times[0], second_step_s=times[1])))


def _run_python(code, **extra_env):
    """Run `code` in a fresh interpreter importing this autograd_core; return its last line of output."""
    completed = subprocess.run(
        [sys.executable, "-c", code], env=child_environment(**extra_env), capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"startup probe failed (exit {completed.returncode}) running {code!r}:\n{completed.stderr[-2000:]}"
        )
    return completed.stdout.strip().splitlines()[-1]


def _stats(values):
    return dict(median=statistics.median(values), min=min(values), max=max(values), n=len(values))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograd_core.benchmarks.startup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=7, help="import-only processes (default %(default)s)")
    parser.add_argument("--pairs", type=int, default=3, help="cold/warm process pairs (default %(default)s)")
    parser.add_argument(
        "--workload", choices=list(WORKLOADS), default="mlp_small", help="whose first step (default %(default)s)"
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=ENGINES,
        default=list(ENGINES),
        metavar="ENGINE",
        help=f"whose first step (default all: {', '.join(ENGINES)})",
    )
    args = parser.parse_args(argv)
    print(json.dumps(measure_startup(args.runs, args.pairs, args.workload, args.engines), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
