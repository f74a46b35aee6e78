"""Custom differentiable ops, as in PyTorch: subclass `Function` with static `forward(ctx, *args)` and
`backward(ctx, *grads)`, and call `MyOp.apply(*args)`."""

from typing import Any

import numpy as np

from .compiler import report
from .graph import is_grad_enabled, no_grad
from .ops import ARRAY_F, Op
from .tensor import Tensor, record


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors (version-checked) and which inputs need grads.

    Under create_graph, saved forward outputs come back attached to the graph (as the node's
    outputs), so a backward that reads them is itself differentiable; saved inputs are the input
    tensors themselves, attached already."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple[Any, ...] = ()
        self._versions: tuple[tuple[list[int], int] | None, ...] = ()
        self._output_index: tuple[int | None, ...] = ()  # per saved tensor: which forward output it is, or None
        # the node's outputs as graph Tensors, while a create_graph backward runs
        self._attached_outputs: tuple[Tensor, ...] | None = None

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep `tensors` for `backward` (as `saved_tensors`); an in-place edit of one before then raises."""
        self._saved = tensors
        self._versions = tuple(
            (t._version_counter, t._version_counter[0]) if isinstance(t, Tensor) else None for t in tensors
        )

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """What `save_for_backward` kept, in order."""
        for t, version in zip(self._saved, self._versions):
            if version is not None and version[0][0] != version[1]:
                raise RuntimeError(
                    f"saved_tensors: a tensor of shape {t.shape} saved by save_for_backward was "
                    "modified in place after the forward pass; clone it before modifying it"
                )
        if self._attached_outputs is None:
            return self._saved
        return tuple(t if k is None else self._attached_outputs[k] for t, k in zip(self._saved, self._output_index))


class _CustomOp(Op):
    """Adapts a `Function` subclass to the engine's op interface. The node keeps no input values (the
    ctx holds and version-checks what forward saved) and keeps its outputs only when forward saved
    one of them; with several outputs, one node records them all, and outputs that received no
    gradient get zeros (as PyTorch's default)."""

    def __init__(self, function):
        super().__init__(function.__name__, function.forward, ())
        self.function = function

    def reads_of(self, index, n_inputs=None):
        return frozenset(), False

    def backward(self, F, g, inputs, out, attrs, needs):
        ctx, outputs = attrs["ctx"], attrs["outputs"]
        fast = F is ARRAY_F
        several = type(g) is list
        grads_out = tuple(
            np.zeros(shape, dtype) if gk is None else gk for gk, (shape, dtype) in zip(g if several else (g,), outputs)
        )
        if not fast and out is not None:
            ctx._attached_outputs = out if several else (out,)
        try:
            grads = self.function.backward(ctx, *(x if isinstance(x, Tensor) else Tensor(x) for x in grads_out))
        finally:
            ctx._attached_outputs = None
        return self._checked(grads, inputs, needs, fast)

    def _checked(self, grads, inputs, needs, fast):
        """The input gradients `backward` returned, as arrays on the fast path, after checking their
        number and shapes."""
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        if len(grads) != len(inputs):
            raise RuntimeError(
                f"{self.name}.backward returned {len(grads)} gradients but forward took "
                f"{len(inputs)} inputs; return None for inputs without a gradient"
            )
        checked = []
        for i, (grad, need, x) in enumerate(zip(grads, needs, inputs)):
            if need is None or grad is None:
                checked.append(None)
                continue
            if np.shape(grad._data if isinstance(grad, Tensor) else grad) != np.shape(x):
                raise RuntimeError(
                    f"{self.name}.backward returned a gradient of shape {np.shape(grad)} for input "
                    f"{i} of shape {np.shape(x)}"
                )
            checked.append(grad._data if fast and isinstance(grad, Tensor) else grad)
        return checked


class Function:
    """Base class for custom ops with a hand-written backward (which returns a gradient per input, as
    a tuple or list, or the one gradient; None for inputs without one)."""

    _op: _CustomOp  # the op recorded for this subclass, made on its first recorded call

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        """The op's value: Tensors or arrays (a tuple for several outputs), computed without recording."""
        raise NotImplementedError("Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Tensor) -> Any:
        """One gradient per forward input (a tuple or list, or the one gradient; None where there is none),
        given one gradient per forward output."""
        raise NotImplementedError("Function subclasses must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run `forward` and, when grad mode is on and an input requires grad, record one graph node
        whose backward is `backward`. Returns a Tensor, or a tuple of them for several outputs."""
        report(f"the custom autograd.Function {cls.__name__} runs Python code")
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            result = cls.forward(ctx, *args)
        several = isinstance(result, tuple)
        outputs = [r if isinstance(r, Tensor) else Tensor(np.asarray(r)) for r in (result if several else (result,))]
        if not (is_grad_enabled() and any(needs)):
            return tuple(outputs) if several else outputs[0]
        if cls.__dict__.get("_op") is None:
            cls._op = _CustomOp(cls)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        attrs = {"ctx": ctx, "outputs": tuple((o.shape, o.dtype) for o in outputs)}
        if several:
            recorded = record(cls._op, args, arrays, tuple(o._data for o in outputs), attrs)
        else:
            recorded = record(cls._op, args, arrays, np.asarray(outputs[0]._data), attrs)
        ctx._output_index = tuple(next((k for k, o in enumerate(outputs) if o is t), None) for t in ctx._saved)
        if any(k is not None for k in ctx._output_index):  # the node keeps the outputs forward saved
            node = next(r.grad_fn for r in (recorded if several else (recorded,)) if r.grad_fn is not None)
            node.out = tuple(o._data for o in outputs) if several else outputs[0]._data
        return recorded
