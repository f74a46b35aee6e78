"""Custom differentiable ops, as in PyTorch: subclass `Function` with static `forward(ctx, *args)` and
`backward(ctx, *grads)`, and call `MyOp.apply(*args)`."""
import numpy as np

from . import engine
from .ops import ARRAY_F
from .tensor import Tensor


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


class _CustomOp:
    """Adapts a `Function` subclass to the engine's op interface."""

    uses_input_values = False  # the ctx checks the versions of what it saved
    saves_output = False
    is_view = False

    def __init__(self, function):
        self.function = function
        self.name = function.__name__

    def backward(self, F, g, inputs, out, attrs, needs):
        ctx, shapes = attrs["ctx"], attrs["shapes"]
        fast = F is ARRAY_F
        if shapes is None:
            grads_out = (g,)
        else:  # several outputs were packed into one flat array: unpack the gradient the same way
            bounds = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
            grads_out = tuple(F.reshape(F.getitem(g, index=(slice(int(a), int(b)),)), shape=s)
                              for a, b, s in zip(bounds[:-1], bounds[1:], shapes))
        grads = self.function.backward(ctx, *(Tensor(x) if fast else x for x in grads_out))
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
        with engine.no_grad():
            result = cls.forward(ctx, *args)
        several = isinstance(result, tuple)
        outputs = [r if isinstance(r, Tensor) else Tensor(np.asarray(r)) for r in (result if several else (result,))]
        if not (engine.is_grad_enabled() and any(needs)):
            return tuple(outputs) if several else outputs[0]
        if cls.__dict__.get("_op") is None:
            cls._op = _CustomOp(cls)
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        if not several:
            return engine.record(cls._op, args, arrays, np.asarray(outputs[0].data), {"ctx": ctx, "shapes": None})
        dtypes = {o.dtype for o in outputs}
        if len(dtypes) != 1 or not np.dtype(dtypes.pop()).kind == "f":
            raise TypeError(f"{cls.__name__}.forward: several outputs must share one floating dtype, got "
                            f"{[str(o.dtype) for o in outputs]}")
        shapes = [o.shape for o in outputs]
        packed = engine.record(cls._op, args, arrays, np.concatenate([o.data.ravel() for o in outputs]),
                               {"ctx": ctx, "shapes": shapes})
        bounds = np.cumsum([0] + [o.data.size for o in outputs])
        return tuple(packed[int(a):int(b)].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes))
