"""The recorded graph's building blocks and the thread-local grad mode: no Tensor, no engine.

`Node` is the record of one op application; `MultiOutputNode` one of an op with several outputs,
whose consumers reach it through an `OutputEdge` per output. `SavedShape` stands in for an input
value a node did not keep and whose shape and dtype nothing else carries (its VJP formulas read
only those). The grad-mode context
managers set the thread-local `state` that recording reads.

This module imports neither `tensor` nor `engine`: imports go one way,
ops <- graph <- tensor <- engine.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "detect_anomaly",
    "module_scope",
    "Node",
    "MultiOutputNode",
    "OutputEdge",
    "AccumulateGrad",
    "SavedShape",
    "RemovableHandle",
]

_F = TypeVar("_F", bound=Callable[..., Any])

# ---- thread-local state: grad mode, module scope, anomaly mode --------------------------------


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.scope = ()
        self.anomaly = False
        self.tracer = None  # the ag.compile tracer recording this thread's ops, if any


state = _State()


def is_grad_enabled() -> bool:
    """Whether ops record the graph now (False inside `no_grad`)."""
    return state.grad_enabled


class _Setting:
    """A context manager that sets one field of the thread-local state for its block (re-entrant);
    also a decorator."""

    field = "grad_enabled"
    value = True

    def __init__(self) -> None:
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        self.previous.append(getattr(state, self.field))
        setattr(state, self.field, self.value)

    def __exit__(self, *exc: object) -> None:
        setattr(state, self.field, self.previous.pop())

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():  # a fresh manager per call: the decorated function may be re-entered
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # functools.wraps keeps fn's signature

    def _fresh(self) -> _Setting:
        return self.__class__()


class no_grad(_Setting):
    """Disable graph recording: `with ag.no_grad():` or `@ag.no_grad()`."""

    value = False


class inference_mode(no_grad):
    """PyTorch's `inference_mode(mode=True)`: here the same as `no_grad` (there are no inference-only
    tensors to gain from); `inference_mode(False)` leaves grad mode as it is."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.previous.append(state.grad_enabled)
        state.grad_enabled = state.grad_enabled and not self.mode

    def _fresh(self) -> inference_mode:
        return inference_mode(self.mode)


class enable_grad(_Setting):
    """Re-enable graph recording inside a `no_grad` block."""


class detect_anomaly(_Setting):
    """Record where each op was created; a NaN or Inf produced in backward raises, naming the op and
    quoting that forward stack."""

    field = "anomaly"


class set_grad_enabled:
    """Set grad mode now (as a call) or for a block (as a context manager), as PyTorch does."""

    def __init__(self, mode: bool) -> None:
        self.previous = state.grad_enabled
        state.grad_enabled = bool(mode)

    def __enter__(self) -> set_grad_enabled:
        return self

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self.previous


class module_scope:
    """Stamp every node recorded inside with `name` (nn.Module.__call__ pushes its module's path, and
    passes the module, which an `ag.compile` trace guards on).

    A slotted class rather than a generator-based context manager: it runs on every module call."""

    __slots__ = ("name", "module", "previous")

    def __init__(self, name: str, module: Any = None) -> None:
        self.name = name
        self.module = module

    def __enter__(self) -> None:
        self.previous = state.scope
        state.scope = self.previous + (self.name,)
        if state.tracer is not None and self.module is not None:
            state.tracer.saw_module(self.module)

    def __exit__(self, *exc: object) -> None:
        state.scope = self.previous


# ---- values a node did not keep -------------------------------------------------------------------


class SavedShape:
    """Stands in for an input value that no wanted VJP formula reads: its shape, dtype, ndim and size
    stay readable (a formula such as sum's reads x.shape), its values do not."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype

    ndim = property(lambda self: len(self.shape))

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __array__(self, *args, **kwargs):
        raise RuntimeError(
            f"a VJP formula read the values of an input of shape {self.shape} that its op did "
            "not declare it reads; add the input to the formula's `reads(...)` declaration"
        )

    def __repr__(self):
        return f"SavedShape({self.shape}, {self.dtype})"


# ---- nodes -------------------------------------------------------------------------------------

FREED = "freed"  # `Node.saved` after a backward without retain_graph
_creation_order = itertools.count()


class Node:
    """The record of one op application: what backward needs to send gradients to the inputs.

    `parents[i]` is where input i's gradient goes: the Node that made it, the OutputEdge of a
    multi-output node, the leaf Tensor itself, or None (no gradient wanted).
    `saved[i]` is input i's value when a wanted VJP formula reads it, else a stand-in that answers
    shape, dtype, ndim and size but refuses value access: the input's parent (a Node or OutputEdge
    answers for its output; a leaf tensor for itself), or a SavedShape when it has none (Python
    numbers stay as they are). `out` is the output (a tuple for several) when a formula reads it,
    else None. Both become FREED / None after backward unless retain_graph. `version_checks` is a flat list
    [version counter, version at save, ...] of the kept tensors, the output's last.
    `seq` is the creation order: a node's consumers are always created after it.
    """

    __slots__ = (
        "op",
        "parents",
        "saved",
        "out",
        "attrs",
        "shape",
        "dtype",
        "version_checks",
        "hooks",
        "scope",
        "trace",
        "seq",
        "__weakref__",
    )

    def __init__(self, op, parents, saved, out, attrs, shape, dtype, version_checks, scope):
        self.seq = next(_creation_order)
        self.op = op
        self.parents = parents
        self.saved = saved
        self.out = out
        self.attrs = attrs
        self.shape = shape
        self.dtype = dtype
        self.version_checks = version_checks
        self.hooks = None
        self.scope = scope
        self.trace = None

    @property
    def name(self) -> str:
        """The op's name, as `grad_fn` shows it."""
        return self.op.name

    # A node stands in for its output where a consumer did not keep that value (see tensor.record):
    # it answers shape, dtype, ndim and size, and refuses to be read as values.
    ndim = property(lambda self: len(self.shape))
    size = SavedShape.size
    __array__ = SavedShape.__array__

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """(function, output index) per input, as in PyTorch: leaves appear as AccumulateGrad."""
        return tuple(_as_function(p) for p in self.parents)

    def register_prehook(self, hook: Callable[[Any], Any]) -> RemovableHandle:
        """Run `hook(grad)` on the gradient arriving at this node; it may return a replacement."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)
        return RemovableHandle(self.hooks, hook)

    def __repr__(self):
        return f"<{self.name} node, output shape {self.shape}>"


class MultiOutputNode(Node):
    """A node with several outputs: `shape` and `dtype` are tuples with one entry per output, the
    gradient arriving at it is a list with one entry per output (None where none arrived), and
    `edges[k]` is what consumers of output k hold as their parent."""

    __slots__ = ("edges",)

    def __init__(self, *args):
        super().__init__(*args)
        self.edges = tuple(OutputEdge(self, k) for k in range(len(self.shape)))

    def register_prehook(self, hook):
        raise RuntimeError(f"{self.name} has several outputs: register the hook on one output tensor")

    def __repr__(self):
        return f"<{self.name} node, output shapes {self.shape}>"


class OutputEdge:
    """Output `index` of a MultiOutputNode, as its consumers and `ag.grad` targets see it; carries the
    hooks registered on that output tensor."""

    __slots__ = ("node", "index", "hooks")

    def __init__(self, node, index):
        self.node = node
        self.index = index
        self.hooks = None

    shape = property(lambda self: self.node.shape[self.index])
    dtype = property(lambda self: self.node.dtype[self.index])
    ndim, size, __array__ = Node.ndim, SavedShape.size, SavedShape.__array__
    register_prehook = Node.register_prehook


class AccumulateGrad:
    """Stands for a leaf in `next_functions`, as in PyTorch."""

    __slots__ = ("variable",)
    name = "AccumulateGrad"
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)


def _as_function(parent):
    if parent is None or isinstance(parent, Node):
        return parent, 0
    if type(parent) is OutputEdge:
        return parent.node, parent.index
    return AccumulateGrad(parent), 0


class RemovableHandle:
    """What registering a hook returns: `handle.remove()` unregisters it."""

    __slots__ = ("hooks", "hook")

    def __init__(self, hooks: list[Any], hook: Callable[..., Any]) -> None:
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        """Unregister the hook (nothing happens when it is already gone)."""
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
