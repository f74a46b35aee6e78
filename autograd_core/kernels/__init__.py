"""Kernels: the Numba implementation of each hot computation, and its binding to the registry op.

A kernel module registers which registry ops it accelerates: `FORWARD_KERNELS[name]` replaces the
op's forward under the numba backend, `BACKWARD_KERNELS[name]` becomes its `fast_backward`
(`autograd_core.fused_ops` does the binding, on every backend switch). The numpy side of a forward
kernel is the op's registry forward (`ops.py`, `fused_ops.py`); the numpy side of a backward kernel
is `reference_backward`: the op's VJP formulas evaluated on arrays, so the registry stays the one
readable reference. Whether a call runs the compiled code or hands over to numpy is decided by
`backend.choose` (the policy table `backend.POLICY`), never here.
"""

from collections.abc import Callable
from typing import Any

from .. import backend
from ..ops import REGISTRY, Namespace

FORWARD_KERNELS: dict[str, backend.Kernel] = {}
BACKWARD_KERNELS: dict[str, backend.Kernel] = {}


def loop_for(loops, name, chosen):
    """`loops.<name>`, or its threaded variant `loops.<name>_parallel` when the policy chose threads."""
    return getattr(loops, name + "_parallel" if chosen is backend.NUMBA_PARALLEL else name)


class _ReferenceNamespace(Namespace):
    """`F` holding every op's numpy reference forward, whatever the backend."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        kernel = FORWARD_KERNELS.get(name)
        if kernel is not None:
            return kernel.numpy
        op = REGISTRY.get(name)
        if op is None:  # an AttributeError, as for any object: hasattr() and introspection rely on it
            raise AttributeError(f"REFERENCE_F: no registered op named {name!r}")
        return op.forward


REFERENCE_F = _ReferenceNamespace()


def reference_backward(op_name):
    """The registry's VJP formulas of `op_name` on arrays, in `fast_backward`'s signature."""

    def backward(g, inputs, out, attrs, needs):
        return REGISTRY[op_name].backward(REFERENCE_F, g, inputs, out, attrs, needs)

    backward.__name__ = f"{op_name}_reference_backward"
    return backward


def register_kernels(op_name, numba_forward=None, numba_backward=None):
    """Bind the Numba factories of `op_name`'s forward and backward beside their numpy references."""
    if numba_forward is not None:
        FORWARD_KERNELS[op_name] = backend.kernel(f"{op_name}_forward", REGISTRY[op_name].forward, numba_forward)
    if numba_backward is not None:
        BACKWARD_KERNELS[op_name] = backend.kernel(f"{op_name}_backward", reference_backward(op_name), numba_backward)
