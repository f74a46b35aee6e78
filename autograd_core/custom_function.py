"""Custom differentiable ops, as in PyTorch: subclass `Function` with static `forward(ctx, *args)` and
`backward(ctx, *grads)`, and call `MyOp.apply(*args)`."""
import numpy as np

from .graph import is_grad_enabled, no_grad
from .ops import ARRAY_F, Op
from .tensor import Tensor, record, record_several


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors (version-checked) and which inputs need grads."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._versions = ()

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._versions = tuple((t._vc, t._vc[0]) if isinstance(t, Tensor) else None for t in tensors)

    @property
    def saved_tensors(self):
        for t, version in zip(self._saved, self._versions):
            if version is not None and version[0][0] != version[1]:
                raise RuntimeError(f"saved_tensors: a tensor of shape {t.shape} saved by save_for_backward was "
                                   "modified in place after the forward pass; clone it before modifying it")
        return self._saved


class _CustomOp(Op):
    """Adapts a `Function` subclass to the engine's op interface. The node keeps no input or output
    values (the ctx holds and version-checks what forward saved); with several outputs, one node
    records them all, and outputs that received no gradient get zeros (as PyTorch's default)."""

    def __init__(self, function):
        super().__init__(function.__name__, function.forward, ())
        self.function = function

    def reads_of(self, index, n_inputs=None):
        return frozenset(), False

    def backward(self, F, g, inputs, out, attrs, needs):
        ctx, outputs = attrs["ctx"], attrs["outputs"]
        fast = F is ARRAY_F
        if len(outputs) == 1 and type(g) is not list:
            grads_out = (g,)
        else:
            grads_out = tuple(np.zeros(shape, dtype) if gk is None else gk for gk, (shape, dtype) in zip(g, outputs))
        grads = self.function.backward(ctx, *(Tensor(x) if fast or not isinstance(x, Tensor) else x for x in grads_out))
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(inputs):
            raise RuntimeError(f"{self.name}.backward returned {len(grads)} gradients but forward took "
                               f"{len(inputs)} inputs; return None for inputs without a gradient")
        return [None if need is None or grad is None else (grad.data if fast and isinstance(grad, Tensor) else grad)
                for grad, need in zip(grads, needs)]


class Function:
    """Base class for custom ops with a hand-written backward."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args):
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
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        attrs = {"ctx": ctx, "outputs": tuple((o.shape, o.dtype) for o in outputs)}
        if not several:
            return record(cls._op, args, arrays, np.asarray(outputs[0].data), attrs)
        return record_several(cls._op, args, arrays, tuple(o.data for o in outputs), attrs)
