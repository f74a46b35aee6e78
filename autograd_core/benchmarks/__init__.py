"""Benchmarks: autograd-core measured side by side with its peers (`autograd-core bench`, or
`python -m autograd_core.benchmarks.runner`), and the measurements behind the kernel policy
(`kernels`, `optim_step`, `startup`, `distributed`, `lstm_gemms`).

Importing this package changes nothing in the process: every thread pool is
pinned to THREADS threads only while the runner runs (`runner.ThreadPinning`).
"""

import os
from pathlib import Path

THREADS = 2
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)

# The folder holding the autograd_core package (a checkout's root, or site-packages).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def child_environment(**extra):
    """os.environ plus `extra`, with PACKAGE_ROOT first on PYTHONPATH: a child Python process imports the
    same autograd_core as this one."""
    path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}
