"""The full reductions, compiled: the `sum` and the `mean` of every element of a float array.

numpy sums float32 pairwise in float32; this loop adds in float64 and rounds once at the end (the mean
divides the float64 sum by the count first), so its result is the float64 value rounded to the
input's dtype: as accurate as numpy's or more (the two agree within float32 rounding). It may
reassociate (`fastmath={"reassoc"}` on this loop alone), so LLVM vectorizes it. Measured on a quiet
machine, float32 (ad hoc, median of 300 calls): 1e4 elements 0.86 us against numpy's sum 2.9 us; 1e6
elements 133 us against 178 us on one thread, 43 us on two. Reductions over some axes only, and
means of empty arrays (numpy's nan and warning), stay numpy's.
"""

import functools
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from .. import backend
from . import FORWARD_KERNELS, loop_for, register_kernels

prange = range  # numba.prange in the compiled loop (backend.jit)

PARTIAL = "a reduction over some axes only"
EMPTY_MEAN = "the mean of an empty array (numpy's nan)"


def _sum_loop(x):
    total = 0.0
    for i in prange(x.size):
        total += np.float64(x[i])
    return total


@functools.cache
def compiled():
    """The serial loop and its threaded variant (each compiled on its first call)."""
    return SimpleNamespace(
        sum=backend.jit(_sum_loop, fastmath={"reassoc"}),
        sum_parallel=backend.jit(_sum_loop, parallel=True, fastmath={"reassoc"}),
    )


def sum_all(x: np.ndarray, chosen: str) -> np.ndarray:
    """The sum of every element of the C-contiguous float array `x`, as a 0-d array of its dtype, on
    threads when `chosen` is backend.NUMBA_PARALLEL."""
    return np.asarray(loop_for(compiled(), "sum", chosen)(x.reshape(-1)), x.dtype)


def mean_all(x: np.ndarray, chosen: str) -> np.ndarray:
    """The mean of every element of the C-contiguous, non-empty float array `x`, as `sum_all`."""
    return np.asarray(loop_for(compiled(), "sum", chosen)(x.reshape(-1)) / x.size, x.dtype)


_REDUCTIONS = {"sum": sum_all, "mean": mean_all}


@functools.cache
def full_reduction(op_name: str, threads: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The `sum` or `mean` of every element, on Numba's threads or on the calling thread, as one named
    function: what `ag.compile` calls (its policy for threads is its own: `compiler.fusion`)."""
    reduce_all = _REDUCTIONS[op_name]
    chosen = backend.NUMBA_PARALLEL if threads else backend.NUMBA

    def reduction(x):
        return reduce_all(x, chosen)

    reduction.__name__ = reduction.__qualname__ = f"{op_name}_on_{'threads' if threads else 'one_thread'}"
    return reduction


def _numba_forward(op_name):
    reference = FORWARD_KERNELS[op_name].numpy
    reduce_all = _REDUCTIONS[op_name]

    def forward(x, axis, keepdims):
        full = axis is None or (type(axis) is tuple and len(axis) == np.ndim(x))  # the axes are distinct
        size = getattr(x, "size", 0)
        unsupported = None if full else PARTIAL
        if op_name == "mean" and size == 0:
            unsupported = EMPTY_MEAN
        chosen = backend.choose(f"{op_name}_forward", (x,), size, unsupported)
        if chosen is backend.NUMPY:
            return reference(x, axis=axis, keepdims=keepdims)
        total = reduce_all(x, chosen)
        return total.reshape((1,) * x.ndim) if keepdims else total

    return forward


for _name in _REDUCTIONS:
    register_kernels(_name, functools.partial(_numba_forward, _name))
