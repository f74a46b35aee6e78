"""Module-level API: constructors, random numbers, and every Tensor op as a function (`ag.exp(x)`)."""
import functools
import random as _python_random

import numpy as np

from .ops import REGISTRY as OPS
from .tensor import (
    Tensor,
    _normalize_axis,
    apply,
    get_default_dtype,
    is_floating,
    to_array,
)


def tensor(data, dtype=None, requires_grad=False):
    """A new leaf tensor holding a copy of `data` (scalar, nested list, numpy array or Tensor)."""
    array = to_array(data, dtype)
    if requires_grad and not is_floating(array.dtype):
        raise TypeError(f"tensor: only floating tensors can require grad, got dtype {array.dtype}")
    return Tensor(array, requires_grad=bool(requires_grad))


def as_tensor(x):
    return x if isinstance(x, Tensor) else tensor(x)


def _shape(shape, who):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"{who}: shape must be non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _float_dtype(dtype):
    return np.dtype(get_default_dtype() if dtype is None else dtype)


def _leaf(array, requires_grad, who):
    if requires_grad and not is_floating(array.dtype):
        raise TypeError(f"{who}: only floating tensors can require grad, got dtype {array.dtype}")
    return Tensor(array, requires_grad=bool(requires_grad))


def zeros(*shape, dtype=None, requires_grad=False):
    return _leaf(np.zeros(_shape(shape, "zeros"), _float_dtype(dtype)), requires_grad, "zeros")


def ones(*shape, dtype=None, requires_grad=False):
    return _leaf(np.ones(_shape(shape, "ones"), _float_dtype(dtype)), requires_grad, "ones")


def full(shape, fill_value, dtype=None, requires_grad=False):
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,), "full")
    if dtype is None:
        dtype = _float_dtype(None) if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _leaf(np.full(shape, fill_value, dtype), requires_grad, "full")


def zeros_like(t, dtype=None, requires_grad=False):
    return _leaf(np.zeros(np.shape(as_tensor(t).data), dtype or as_tensor(t).dtype), requires_grad, "zeros_like")


def ones_like(t, dtype=None, requires_grad=False):
    return _leaf(np.ones(np.shape(as_tensor(t).data), dtype or as_tensor(t).dtype), requires_grad, "ones_like")


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """Integers when every argument is an int (as PyTorch), otherwise the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.int64) if integral else _float_dtype(None)
    return _leaf(np.arange(start, stop, step).astype(dtype), requires_grad, "arange")


def eye(n, m=None, dtype=None, requires_grad=False):
    for name, value in (("n", n), ("m", n if m is None else m)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"eye: {name} must be a non-negative int, got {value!r}")
    return _leaf(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, "eye")


# ---- random numbers: one generator that every random source of the project draws from ----------

_generator = np.random.default_rng()


def default_generator():
    """The numpy Generator behind rand/randn/randint, dropout masks, initializers and shuffling."""
    return _generator


def manual_seed(seed):
    """Seed every random source the project uses: this generator, numpy's and Python's global ones."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)
    _python_random.seed(seed)


def rand(*shape, dtype=None, requires_grad=False):
    dtype = _float_dtype(dtype)
    return _leaf(_generator.random(_shape(shape, "rand"), dtype=np.float64).astype(dtype), requires_grad, "rand")


def randn(*shape, dtype=None, requires_grad=False):
    dtype = _float_dtype(dtype)
    return _leaf(_generator.standard_normal(_shape(shape, "randn")).astype(dtype), requires_grad, "randn")


def randint(low, high=None, size=(), dtype=np.int64):
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(_generator.integers(low, high, size=size, dtype=dtype))


# ---- ops that take several tensors ------------------------------------------------------------

def _tensor_list(tensors, who):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{who}: expected a non-empty sequence of tensors")
    return [as_tensor(t) for t in tensors]


def concatenate(tensors, axis=0, *, dim=None):
    tensors = _tensor_list(tensors, "concatenate")
    axis = axis if dim is None else dim
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    axis = _normalize_axis(axis, ndim, "concatenate")[0]
    shapes = [t.shape for t in tensors]
    if any(len(s) != ndim or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:] for s in shapes):
        raise ValueError(f"concatenate: shapes {', '.join(map(str, shapes))} differ outside axis {axis}")
    return apply(OPS["concatenate"], *tensors, axis=axis)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    tensors = _tensor_list(tensors, "stack")
    shapes = [t.shape for t in tensors]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: all tensors must have the same shape, got {', '.join(map(str, shapes))}")
    axis = _normalize_axis(axis if dim is None else dim, tensors[0].ndim + 1, "stack")[0]
    return apply(OPS["stack"], *tensors, axis=axis)


def split(t, split_size_or_sections, dim=0, *, axis=None):
    """As PyTorch: an int gives chunks of that size (the last may be smaller); a list gives the sizes."""
    return as_tensor(t).split(split_size_or_sections, dim, axis=axis)


def where(condition, x, y):
    """Elementwise `x` where `condition` else `y`; differentiable in x and y."""
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return apply(OPS["where"], condition.astype(bool, copy=False), x, y)


def maximum(x, y):
    return apply(OPS["maximum"], x, y)


def minimum(x, y):
    return apply(OPS["minimum"], x, y)


def matmul(x, y):
    return as_tensor(x) @ y


def pow(x, exponent):
    return apply(OPS["pow"], x, exponent)


def _method_as_function(name):
    method = getattr(Tensor, name)

    @functools.wraps(method)
    def function(x, *args, **kwargs):
        return method(as_tensor(x), *args, **kwargs)

    return function


# `ag.exp(x)` is `x.exp()`, for every Tensor method that is an op (exported by the package's __init__).
OP_FUNCTIONS = {name: _method_as_function(name) for name in ("exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu",
              "clip", "clamp", "sum", "mean", "var", "std", "max", "min", "prod", "logsumexp", "norm", "argmax",
              "argmin", "sort", "argsort", "topk", "chunk", "unbind", "softmax", "log_softmax", "reshape", "flatten", "transpose", "permute", "swapaxes",
              "squeeze", "unsqueeze", "expand_dims", "broadcast_to", "repeat", "tile", "pad")}
