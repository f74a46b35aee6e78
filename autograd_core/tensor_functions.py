"""Module-level API: constructors, random numbers, and every Tensor op as a function (`ag.exp(x)`)."""

from __future__ import annotations

import random as _python_random
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .ops import REGISTRY as OPS
from .tensor import (
    Axis,
    Number,
    Operand,
    Tensor,
    TensorLike,
    ValuesIndices,
    _normalize_axis,
    apply,
    get_default_dtype,
    is_floating,
    to_array,
)


def tensor(data: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (scalar, nested list, numpy array or Tensor)."""
    array = to_array(data, dtype)
    if requires_grad and not is_floating(array.dtype):
        raise TypeError(f"tensor: only floating tensors can require grad, got dtype {array.dtype}")
    return Tensor(array, requires_grad=bool(requires_grad))


def as_tensor(x: TensorLike) -> Tensor:
    """`x` itself when it is a Tensor, else `tensor(x)`."""
    return x if isinstance(x, Tensor) else tensor(x)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the numpy `array` (no copy; edits show on both sides), as PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: expected a bool, integer or floating array, got dtype {array.dtype}")
    return Tensor(array)


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


def zeros(*shape: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))`, of the default dtype unless `dtype` is given."""
    return _leaf(np.zeros(_shape(shape, "zeros"), _float_dtype(dtype)), requires_grad, "zeros")


def ones(*shape: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, shaped as for `zeros`."""
    return _leaf(np.ones(_shape(shape, "ones"), _float_dtype(dtype)), requires_grad, "ones")


def full(
    shape: int | Sequence[int], fill_value: Number, dtype: DTypeLike | None = None, requires_grad: bool = False
) -> Tensor:
    """A tensor filled with `fill_value` (a float fill gives the default dtype; otherwise numpy's)."""
    shape = _shape((shape,), "full")
    if dtype is None:
        dtype = _float_dtype(None) if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _leaf(np.full(shape, fill_value, dtype), requires_grad, "full")


def zeros_like(t: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape of `t`, and its dtype unless `dtype` is given."""
    return _leaf(np.zeros(np.shape(as_tensor(t)._data), dtype or as_tensor(t).dtype), requires_grad, "zeros_like")


def ones_like(t: TensorLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape of `t`, and its dtype unless `dtype` is given."""
    return _leaf(np.ones(np.shape(as_tensor(t)._data), dtype or as_tensor(t).dtype), requires_grad, "ones_like")


def arange(
    start: Number,
    stop: Number | None = None,
    step: Number = 1,
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers when every argument is an int (as PyTorch), otherwise the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.int64) if integral else _float_dtype(None)
    return _leaf(np.arange(start, stop, step).astype(dtype), requires_grad, "arange")


def eye(n: int, m: int | None = None, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """The `n` x `m` identity matrix (square when `m` is None)."""
    for name, value in (("n", n), ("m", n if m is None else m)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"eye: {name} must be a non-negative int, got {value!r}")
    return _leaf(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, "eye")


# ---- random numbers: one generator that every random source of the project draws from ----------

_generator = np.random.default_rng()


def default_generator() -> np.random.Generator:
    """The numpy Generator behind rand/randn/randint, dropout masks, initializers and shuffling."""
    return _generator


def manual_seed(seed: int) -> None:
    """Seed every random source the project uses: this generator, numpy's and Python's global ones."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeding the legacy global state is the point: user code draws from it)
    _python_random.seed(seed)


def rand(*shape: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1), from `default_generator()`."""
    dtype = _float_dtype(dtype)
    return _leaf(_generator.random(_shape(shape, "rand"), dtype=np.float64).astype(dtype), requires_grad, "rand")


def randn(*shape: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples, from `default_generator()`."""
    dtype = _float_dtype(dtype)
    return _leaf(_generator.standard_normal(_shape(shape, "randn")).astype(dtype), requires_grad, "randn")


def randint(low: int, high: int | None = None, size: int | Sequence[int] = (), dtype: DTypeLike = np.int64) -> Tensor:
    """Integers uniform in [low, high) (in [0, low) when `high` is None), from `default_generator()`."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(_generator.integers(low, high, size=size, dtype=dtype))


# ---- ops that take several tensors ------------------------------------------------------------


def _tensor_list(tensors: Iterable[TensorLike], who: str) -> list[Tensor]:
    converted = [as_tensor(t) for t in tensors]
    if not converted:
        raise ValueError(f"{who}: expected a non-empty sequence of tensors")
    return converted


def concatenate(tensors: Iterable[TensorLike], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """The tensors joined along an existing axis; their shapes must agree elsewhere. Also `cat`."""
    parts = _tensor_list(tensors, "concatenate")
    ndim = parts[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    axis = _normalize_axis(axis if dim is None else dim, ndim, "concatenate")[0]
    shapes = [t.shape for t in parts]
    if any(len(s) != ndim or s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :] for s in shapes):
        raise ValueError(f"concatenate: shapes {', '.join(map(str, shapes))} differ outside axis {axis}")
    return apply(OPS["concatenate"], *parts, axis=axis)


cat = concatenate


def stack(tensors: Iterable[TensorLike], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """The tensors, all of one shape, joined along a new axis."""
    parts = _tensor_list(tensors, "stack")
    shapes = [t.shape for t in parts]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: all tensors must have the same shape, got {', '.join(map(str, shapes))}")
    axis = _normalize_axis(axis if dim is None else dim, parts[0].ndim + 1, "stack")[0]
    return apply(OPS["stack"], *parts, axis=axis)


def split(
    t: TensorLike, split_size_or_sections: int | Sequence[int], dim: int = 0, *, axis: int | None = None
) -> tuple[Tensor, ...]:
    """As PyTorch: an int gives chunks of that size (the last may be smaller); a list gives the sizes."""
    return as_tensor(t).split(split_size_or_sections, dim, axis=axis)


def where(condition: TensorLike, x: Operand, y: Operand) -> Tensor:
    """Elementwise `x` where `condition` else `y`; differentiable in x and y."""
    condition = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    return apply(OPS["where"], condition.astype(bool, copy=False), x, y)


def maximum(x: Operand, y: Operand) -> Tensor:
    """The elementwise maximum (gradient split between ties)."""
    return apply(OPS["maximum"], x, y)


def minimum(x: Operand, y: Operand) -> Tensor:
    """The elementwise minimum (gradient split between ties)."""
    return apply(OPS["minimum"], x, y)


def matmul(input: TensorLike, other: Operand) -> Tensor:
    """`input @ other`, numpy's matmul with broadcast batch dimensions (PyTorch's keyword names)."""
    return as_tensor(input) @ other


def pow(x: Operand, exponent: Operand) -> Tensor:
    """`x ** exponent`, elementwise."""
    return apply(OPS["pow"], x, exponent)


# ---- every Tensor op as a function: `ag.exp(x)` is `x.exp()` ------------------------------------


def exp(x: TensorLike) -> Tensor:
    """`x.exp()` as a function: see `Tensor.exp`."""
    return as_tensor(x).exp()


def log(x: TensorLike) -> Tensor:
    """`x.log()` as a function: see `Tensor.log`."""
    return as_tensor(x).log()


def log1p(x: TensorLike) -> Tensor:
    """`x.log1p()` as a function: see `Tensor.log1p`."""
    return as_tensor(x).log1p()


def expm1(x: TensorLike) -> Tensor:
    """`x.expm1()` as a function: see `Tensor.expm1`."""
    return as_tensor(x).expm1()


def sqrt(x: TensorLike) -> Tensor:
    """`x.sqrt()` as a function: see `Tensor.sqrt`."""
    return as_tensor(x).sqrt()


def abs(x: TensorLike) -> Tensor:
    """`x.abs()` as a function: see `Tensor.abs`."""
    return as_tensor(x).abs()


def sign(x: TensorLike) -> Tensor:
    """`x.sign()` as a function: see `Tensor.sign`."""
    return as_tensor(x).sign()


def sin(x: TensorLike) -> Tensor:
    """`x.sin()` as a function: see `Tensor.sin`."""
    return as_tensor(x).sin()


def cos(x: TensorLike) -> Tensor:
    """`x.cos()` as a function: see `Tensor.cos`."""
    return as_tensor(x).cos()


def tanh(x: TensorLike) -> Tensor:
    """`x.tanh()` as a function: see `Tensor.tanh`."""
    return as_tensor(x).tanh()


def sigmoid(x: TensorLike) -> Tensor:
    """`x.sigmoid()` as a function: see `Tensor.sigmoid`."""
    return as_tensor(x).sigmoid()


def relu(x: TensorLike) -> Tensor:
    """`x.relu()` as a function: see `Tensor.relu`."""
    return as_tensor(x).relu()


def clip(x: TensorLike, min: Operand | None = None, max: Operand | None = None) -> Tensor:
    """`x.clip(...)` as a function: see `Tensor.clip`."""
    return as_tensor(x).clip(min, max)


clamp = clip


def sum(
    x: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`x.sum(...)` as a function: see `Tensor.sum`."""
    return as_tensor(x).sum(axis, keepdims, dim=dim, keepdim=keepdim)


def mean(
    x: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`x.mean(...)` as a function: see `Tensor.mean`."""
    return as_tensor(x).mean(axis, keepdims, dim=dim, keepdim=keepdim)


def var(
    x: TensorLike,
    axis: Axis = None,
    ddof: int = 0,
    keepdims: bool = False,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    correction: int | None = None,
) -> Tensor:
    """`x.var(...)` as a function: see `Tensor.var`."""
    return as_tensor(x).var(axis, ddof, keepdims, dim=dim, keepdim=keepdim, correction=correction)


def std(
    x: TensorLike,
    axis: Axis = None,
    ddof: int = 0,
    keepdims: bool = False,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    correction: int | None = None,
) -> Tensor:
    """`x.std(...)` as a function: see `Tensor.std`."""
    return as_tensor(x).std(axis, ddof, keepdims, dim=dim, keepdim=keepdim, correction=correction)


def max(
    x: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Any:
    """`x.max(...)` as a function: see `Tensor.max`."""
    return as_tensor(x).max(axis, keepdims, dim=dim, keepdim=keepdim)


def min(
    x: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Any:
    """`x.min(...)` as a function: see `Tensor.min`."""
    return as_tensor(x).min(axis, keepdims, dim=dim, keepdim=keepdim)


def prod(
    x: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`x.prod(...)` as a function: see `Tensor.prod`."""
    return as_tensor(x).prod(axis, keepdims, dim=dim, keepdim=keepdim)


def logsumexp(
    x: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`x.logsumexp(...)` as a function: see `Tensor.logsumexp`."""
    return as_tensor(x).logsumexp(axis, keepdims, dim=dim, keepdim=keepdim)


def norm(
    x: TensorLike,
    p: Number | str = 2,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
) -> Tensor:
    """`x.norm(...)` as a function: see `Tensor.norm`."""
    return as_tensor(x).norm(p, axis, keepdims, dim=dim, keepdim=keepdim)


def argmax(
    x: TensorLike,
    axis: int | None = None,
    keepdims: bool = False,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """`x.argmax(...)` as a function: see `Tensor.argmax`."""
    return as_tensor(x).argmax(axis, keepdims, dim=dim, keepdim=keepdim)


def argmin(
    x: TensorLike,
    axis: int | None = None,
    keepdims: bool = False,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """`x.argmin(...)` as a function: see `Tensor.argmin`."""
    return as_tensor(x).argmin(axis, keepdims, dim=dim, keepdim=keepdim)


def sort(
    x: TensorLike, dim: int = -1, descending: bool = False, stable: bool = False, *, axis: int | None = None
) -> ValuesIndices:
    """`x.sort(...)` as a function: see `Tensor.sort`."""
    return as_tensor(x).sort(dim, descending, stable, axis=axis)


def argsort(x: TensorLike, dim: int = -1, descending: bool = False, *, axis: int | None = None) -> Tensor:
    """`x.argsort(...)` as a function: see `Tensor.argsort`."""
    return as_tensor(x).argsort(dim, descending, axis=axis)


def topk(
    x: TensorLike, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, axis: int | None = None
) -> ValuesIndices:
    """`x.topk(...)` as a function: see `Tensor.topk`."""
    return as_tensor(x).topk(k, dim, largest, sorted, axis=axis)


def chunk(x: TensorLike, chunks: int, dim: int = 0, *, axis: int | None = None) -> tuple[Tensor, ...]:
    """`x.chunk(...)` as a function: see `Tensor.chunk`."""
    return as_tensor(x).chunk(chunks, dim, axis=axis)


def unbind(x: TensorLike, dim: int = 0, *, axis: int | None = None) -> tuple[Tensor, ...]:
    """`x.unbind(...)` as a function: see `Tensor.unbind`."""
    return as_tensor(x).unbind(dim, axis=axis)


def softmax(x: TensorLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """`x.softmax(...)` as a function: see `Tensor.softmax`."""
    return as_tensor(x).softmax(axis, dim=dim)


def log_softmax(x: TensorLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """`x.log_softmax(...)` as a function: see `Tensor.log_softmax`."""
    return as_tensor(x).log_softmax(axis, dim=dim)


def reshape(x: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """`x.reshape(...)` as a function: see `Tensor.reshape`."""
    return as_tensor(x).reshape(*shape)


def flatten(x: TensorLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """`x.flatten(...)` as a function: see `Tensor.flatten`."""
    return as_tensor(x).flatten(start_dim, end_dim)


def transpose(x: TensorLike, *axes: int | Sequence[int]) -> Tensor:
    """`x.transpose(...)` as a function: see `Tensor.transpose`."""
    return as_tensor(x).transpose(*axes)


def permute(x: TensorLike, *dims: int | Sequence[int]) -> Tensor:
    """`x.permute(...)` as a function: see `Tensor.permute`."""
    return as_tensor(x).permute(*dims)


def swapaxes(x: TensorLike, axis1: int, axis2: int) -> Tensor:
    """`x.swapaxes(...)` as a function: see `Tensor.swapaxes`."""
    return as_tensor(x).swapaxes(axis1, axis2)


def squeeze(x: TensorLike, axis: Axis = None, *, dim: Axis = None) -> Tensor:
    """`x.squeeze(...)` as a function: see `Tensor.squeeze`."""
    return as_tensor(x).squeeze(axis, dim=dim)


def unsqueeze(x: TensorLike, axis: int) -> Tensor:
    """`x.unsqueeze(...)` as a function: see `Tensor.unsqueeze`."""
    return as_tensor(x).unsqueeze(axis)


expand_dims = unsqueeze


def broadcast_to(x: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """`x.broadcast_to(...)` as a function: see `Tensor.broadcast_to`."""
    return as_tensor(x).broadcast_to(*shape)


def repeat(x: TensorLike, *sizes: int | Sequence[int]) -> Tensor:
    """`x.repeat(*sizes)` as a function (PyTorch's tiling): see `Tensor.repeat`."""
    return as_tensor(x).repeat(*sizes)


def tile(x: TensorLike, *reps: int | Sequence[int]) -> Tensor:
    """`x.tile(...)` as a function: see `Tensor.tile`."""
    return as_tensor(x).tile(*reps)


def pad(x: TensorLike, pad_width: int | Sequence[int] | Sequence[Sequence[int]], value: Number = 0.0) -> Tensor:
    """`x.pad(...)` as a function: see `Tensor.pad`."""
    return as_tensor(x).pad(pad_width, value)
