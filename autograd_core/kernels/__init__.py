"""Kernels: the numpy reference and the Numba implementation of each hot computation, side by side.

A kernel module registers here which registry ops it accelerates: `FORWARD_KERNELS[name]` replaces
the op's forward under the numba backend, `BACKWARD_KERNELS[name]` becomes its `fast_backward`
(`autograd_core.fused_ops` does the binding, on every backend switch). The numpy side of a forward
kernel is the op's reference forward; the numpy side of a backward kernel is `reference_backward`:
the op's VJP formulas evaluated on arrays, so the registry stays the one readable reference.
"""
import numpy as np

from ..ops import REGISTRY, Namespace

FORWARD_KERNELS = {}
BACKWARD_KERNELS = {}

# The dtypes the Numba kernels are compiled for; other dtypes run the numpy reference. Work bound
# by exp or tanh runs numpy for float32 (FLOAT64_ONLY): numpy's float32 exp and tanh are
# vectorized (AVX2), while compiled code calls scalar libm per element (vector math needs an
# SVML-patched LLVM, which llvmlite's wheels are not); for float64 numpy calls scalar libm too, and
# the fused pass wins. Each choice is measured: `python -m autograd_core.benchmarks.kernels --dtype ...`.
FLOAT32, FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
FLOATS, FLOAT64_ONLY = (FLOAT32, FLOAT64), (FLOAT64,)

# Loops over this many elements or more run on Numba's threads. Measured on 2 cores shared with
# other work (`python -m autograd_core.benchmarks.kernels --threads`): a threaded call cost 6-15 ms more up to
# 256K elements (the other core is busy), won or lost by turns at 1M, and won in every kernel at 4M;
# a quiet machine with more cores would want a lower threshold.
PARALLEL_MIN_SIZE = 1 << 22


def loop_for(loops, name, size):
    """`loops.<name>`, or its threaded variant `loops.<name>_parallel` from PARALLEL_MIN_SIZE elements on."""
    return getattr(loops, name + "_parallel" if size >= PARALLEL_MIN_SIZE else name)


class _ReferenceNamespace(Namespace):
    """`F` holding every op's numpy reference forward, whatever the backend."""

    def __getattr__(self, name):
        kernel = FORWARD_KERNELS.get(name)
        return kernel.numpy if kernel is not None else REGISTRY[name].forward


REFERENCE_F = _ReferenceNamespace()


def reference_backward(op_name):
    """The registry's VJP formulas of `op_name` on arrays, in `fast_backward`'s signature."""
    def backward(g, inputs, out, attrs, needs):
        return REGISTRY[op_name].backward(REFERENCE_F, g, inputs, out, attrs, needs)
    backward.__name__ = f"{op_name}_reference_backward"
    return backward


def floating(*arrays, dtypes=FLOATS, contiguous=False):
    """True when the arrays are numpy arrays of one dtype, one of `dtypes` (and C-contiguous when
    `contiguous`: elementwise loops ask for it, because a compiled loop over the stride-0 gradient
    that `sum` passes back (np.broadcast_to) measured 6.5 ms at 1e6 elements against numpy's 1.1 ms;
    such inputs run the numpy reference, which handles strides and broadcasts well).

    Compares dtypes by identity where it can (numpy keeps one object per builtin dtype; `in` tries
    identity first): this runs on every kernel call, and `==` on dtypes is slow.
    """
    dtype = getattr(arrays[0], "dtype", None)
    if dtype not in dtypes:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype is not dtype or contiguous and not a.flags.c_contiguous:
            return False
    return True
