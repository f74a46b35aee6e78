"""Startup costs of autograd-core, each measured in a fresh process.

- `import autograd_core`, timed inside the process (interpreter start excluded);
- the first training step of a workload (mlp_small unless told; the second
  step too, for scale) with a cold
  Numba cache (NUMBA_CACHE_DIR pointing at a new, empty folder) and with a warm
  one (a second process on the same folder), so JIT compilation and its disk
  cache show up as what they cost a user.

    python -m autograd_core.benchmarks.startup [--runs N] [--pairs N] [--workload NAME]     prints the JSON
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
_FIRST_STEP_PROBE = "from autograd_core.benchmarks.startup import first_step_probe; first_step_probe({!r})"


def measure_startup(runs=7, pairs=3, workload="mlp_small"):
    """Medians over `runs` import-only processes and `pairs` cold/warm first-step process pairs of `workload`."""
    import_s = [float(_run_python(_IMPORT_PROBE)) for _ in range(runs)]
    probe = _FIRST_STEP_PROBE.format(workload)
    cold, warm, second = [], [], []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
            first_run = json.loads(_run_python(probe, NUMBA_CACHE_DIR=cache_dir))
            again = json.loads(_run_python(probe, NUMBA_CACHE_DIR=cache_dir))
        cold.append(first_run["first_step_s"])
        warm.append(again["first_step_s"])
        second += [first_run["second_step_s"], again["second_step_s"]]
    return dict(
        workload=workload,
        backend=first_run["backend"],
        import_s=_stats(import_s),
        first_step_s=dict(cold=_stats(cold), warm=_stats(warm)),
        second_step_s=_stats(second),
    )


def first_step_probe(workload_name="mlp_small"):
    """In a fresh process: import autograd-core, build the workload, time its first two steps; print JSON."""
    import time

    start = time.perf_counter()
    import autograd_core as ag

    import_s = time.perf_counter() - start
    from autograd_core.benchmarks.engines.autograd_core_eager import ENGINES
    from autograd_core.benchmarks.workloads import make_problem

    workload = WORKLOADS[workload_name]
    step, _ = ENGINES[0].workloads[workload.kind](make_problem(workload))
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
    args = parser.parse_args(argv)
    print(json.dumps(measure_startup(args.runs, args.pairs, args.workload), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
