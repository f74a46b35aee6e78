"""Benchmarks: autograd-core measured side by side with its peers (`python -m benchmarks.runner`).

Every thread pool is pinned to THREADS threads. Pools size themselves when
their library first loads, so the environment is set here, in the package's
`__init__`, which runs before any benchmark module imports numpy, torch, jax
or numba (the runner also caps, at run time, pools loaded before that).
"""
import os

THREADS = 2
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")

for _var in THREAD_ENV_VARS:
    os.environ[_var] = str(THREADS)
