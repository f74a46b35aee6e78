"""Module-level API: constructors, random numbers, and every Tensor op as a function (`ag.exp(x)`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .dtypes import check_device
from .ops import REGISTRY as OPS
from .tensor import (
    Axis,
    Number,
    Operand,
    Tensor,
    TensorLike,
    ValuesIndices,
    _normalize_axis,
    _times_alpha,
    apply,
    get_default_dtype,
    is_floating,
    to_array,
)


def tensor(data: TensorLike, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (scalar, nested list, numpy array or Tensor)."""
    check_device(device, "tensor")
    array = to_array(data, dtype)
    if requires_grad and not is_floating(array.dtype):
        raise TypeError(f"tensor: only floating tensors can require grad, got dtype {array.dtype}")
    return Tensor(array, requires_grad=bool(requires_grad))


def as_tensor(data: TensorLike, dtype: DTypeLike | None = None, device: Any = None) -> Tensor:
    """`data` itself when it is a Tensor of that dtype (or no dtype is asked), else `tensor(data, dtype)`;
    a numpy array of the right dtype is shared, not copied, as PyTorch's `as_tensor`."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype) and data.dtype.kind in "biuf":
        return Tensor(data)
    return tensor(data, dtype)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


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


def zeros(
    *shape: int | Sequence[int], dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))`, of the default dtype unless `dtype` is given."""
    check_device(device, "zeros")
    return _leaf(np.zeros(_shape(shape, "zeros"), _float_dtype(dtype)), requires_grad, "zeros")


def ones(
    *shape: int | Sequence[int], dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ones, shaped as for `zeros`."""
    check_device(device, "ones")
    return _leaf(np.ones(_shape(shape, "ones"), _float_dtype(dtype)), requires_grad, "ones")


def full(
    size: int | Sequence[int],
    fill_value: Number,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor filled with `fill_value` (a float fill gives the default dtype, an int int64, a bool bool)."""
    check_device(device, "full")
    shape = _shape((size,), "full")
    if dtype is None:
        dtype = _float_dtype(None) if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _leaf(np.full(shape, fill_value, dtype), requires_grad, "full")


def empty(
    *size: int | Sequence[int], dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor of the given size. Zero-filled: PyTorch leaves it uninitialised, which buys nothing here."""
    check_device(device, "empty")
    return _leaf(np.zeros(_shape(size, "empty"), _float_dtype(dtype)), requires_grad, "empty")


def _like(who, input, fill, dtype, device, requires_grad):
    check_device(device, who)
    template = as_tensor(input)
    return _leaf(np.full(template.shape, fill, dtype or template.dtype), requires_grad, who)


def zeros_like(
    input: TensorLike, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Zeros with the shape of `input`, and its dtype unless `dtype` is given."""
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(
    input: TensorLike, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Ones with the shape of `input`, and its dtype unless `dtype` is given."""
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(
    input: TensorLike, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor shaped as `input` (zero-filled, see `empty`)."""
    return _like("empty_like", input, 0, dtype, device, requires_grad)


def full_like(
    input: TensorLike,
    fill_value: Number,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`fill_value` in the shape of `input`, and its dtype unless `dtype` is given."""
    return _like("full_like", input, fill_value, dtype, device, requires_grad)


def arange(
    start: Number,
    stop: Number | None = None,
    step: Number = 1,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers when every argument is an int (as PyTorch), otherwise the default float dtype."""
    check_device(device, "arange")
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.int64) if integral else _float_dtype(None)
    return _leaf(np.arange(start, stop, step).astype(dtype), requires_grad, "arange")


def _steps(steps, who):
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"{who}: steps must be a non-negative int, got {steps!r}")
    return int(steps)


def linspace(
    start: Number,
    end: Number,
    steps: int,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`steps` evenly spaced values from `start` to `end`, both included (the default float dtype)."""
    check_device(device, "linspace")
    values = np.linspace(start, end, _steps(steps, "linspace"))
    return _leaf(values.astype(_float_dtype(dtype)), requires_grad, "linspace")


def logspace(
    start: Number,
    end: Number,
    steps: int,
    base: float = 10.0,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`base ** linspace(start, end, steps)`."""
    check_device(device, "logspace")
    values = np.logspace(start, end, _steps(steps, "logspace"), base=base)
    return _leaf(values.astype(_float_dtype(dtype)), requires_grad, "logspace")


def eye(
    n: int, m: int | None = None, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """The `n` x `m` identity matrix (square when `m` is None)."""
    check_device(device, "eye")
    for name, value in (("n", n), ("m", n if m is None else m)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"eye: {name} must be a non-negative int, got {value!r}")
    return _leaf(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, "eye")


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


def where(condition: TensorLike, input: Operand, other: Operand) -> Tensor:
    """Elementwise `input` where `condition` else `other`; differentiable in both."""
    condition = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    return apply(OPS["where"], condition.astype(bool, copy=False), input, other)


def maximum(input: Operand, other: Operand) -> Tensor:
    """The elementwise maximum (gradient split between ties)."""
    return apply(OPS["maximum"], input, other)


def minimum(input: Operand, other: Operand) -> Tensor:
    """The elementwise minimum (gradient split between ties)."""
    return apply(OPS["minimum"], input, other)


def matmul(input: TensorLike, other: Operand) -> Tensor:
    """`input @ other`, numpy's matmul with broadcast batch dimensions (PyTorch's keyword names)."""
    return as_tensor(input) @ other


def add(input: Operand, other: Operand, *, alpha: Number = 1) -> Tensor:
    """`input + alpha * other`."""
    return apply(OPS["add"], input, _times_alpha(other, alpha))


def sub(input: Operand, other: Operand, *, alpha: Number = 1) -> Tensor:
    """`input - alpha * other`."""
    return apply(OPS["sub"], input, _times_alpha(other, alpha))


def mul(input: Operand, other: Operand) -> Tensor:
    return apply(OPS["mul"], input, other)


def neg(input: Operand) -> Tensor:
    return apply(OPS["neg"], input)


def pow(input: Operand, exponent: Operand) -> Tensor:
    """`input ** exponent`, elementwise."""
    return apply(OPS["pow"], input, exponent)


# ---- every Tensor op as a function: `ag.exp(x)` is `x.exp()` ------------------------------------


def exp(input: TensorLike) -> Tensor:
    """`input.exp()` as a function: see `Tensor.exp`."""
    return as_tensor(input).exp()


def log(input: TensorLike) -> Tensor:
    """`input.log()` as a function: see `Tensor.log`."""
    return as_tensor(input).log()


def log1p(input: TensorLike) -> Tensor:
    """`input.log1p()` as a function: see `Tensor.log1p`."""
    return as_tensor(input).log1p()


def expm1(input: TensorLike) -> Tensor:
    """`input.expm1()` as a function: see `Tensor.expm1`."""
    return as_tensor(input).expm1()


def sqrt(input: TensorLike) -> Tensor:
    """`input.sqrt()` as a function: see `Tensor.sqrt`."""
    return as_tensor(input).sqrt()


def abs(input: TensorLike) -> Tensor:
    """`input.abs()` as a function: see `Tensor.abs`."""
    return as_tensor(input).abs()


def sign(input: TensorLike) -> Tensor:
    """`input.sign()` as a function: see `Tensor.sign`."""
    return as_tensor(input).sign()


def sin(input: TensorLike) -> Tensor:
    """`input.sin()` as a function: see `Tensor.sin`."""
    return as_tensor(input).sin()


def cos(input: TensorLike) -> Tensor:
    """`input.cos()` as a function: see `Tensor.cos`."""
    return as_tensor(input).cos()


def tanh(input: TensorLike) -> Tensor:
    """`input.tanh()` as a function: see `Tensor.tanh`."""
    return as_tensor(input).tanh()


def sigmoid(input: TensorLike) -> Tensor:
    """`input.sigmoid()` as a function: see `Tensor.sigmoid`."""
    return as_tensor(input).sigmoid()


def relu(input: TensorLike) -> Tensor:
    """`input.relu()` as a function: see `Tensor.relu`."""
    return as_tensor(input).relu()


def clip(input: TensorLike, min: Operand | None = None, max: Operand | None = None) -> Tensor:
    """`input.clip(...)` as a function: see `Tensor.clip`."""
    return as_tensor(input).clip(min, max)


clamp = clip


def sum(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`input.sum(...)` as a function: see `Tensor.sum`."""
    return as_tensor(input).sum(axis, keepdims, dim=dim, keepdim=keepdim)


def mean(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`input.mean(...)` as a function: see `Tensor.mean`."""
    return as_tensor(input).mean(axis, keepdims, dim=dim, keepdim=keepdim)


def var(
    input: TensorLike,
    axis: Axis = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    correction: int | None = None,
    ddof: int | None = None,
) -> Tensor:
    """`input.var(...)` as a function: see `Tensor.var` (PyTorch's default `correction=1`)."""
    return as_tensor(input).var(axis, unbiased, keepdims, dim=dim, keepdim=keepdim, correction=correction, ddof=ddof)


def std(
    input: TensorLike,
    axis: Axis = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    correction: int | None = None,
    ddof: int | None = None,
) -> Tensor:
    """`input.std(...)` as a function: see `Tensor.std` (PyTorch's default `correction=1`)."""
    return as_tensor(input).std(axis, unbiased, keepdims, dim=dim, keepdim=keepdim, correction=correction, ddof=ddof)


def max(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Any:
    """`input.max(...)` as a function: see `Tensor.max`."""
    return as_tensor(input).max(axis, keepdims, dim=dim, keepdim=keepdim)


def min(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Any:
    """`input.min(...)` as a function: see `Tensor.min`."""
    return as_tensor(input).min(axis, keepdims, dim=dim, keepdim=keepdim)


def prod(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`input.prod(...)` as a function: see `Tensor.prod`."""
    return as_tensor(input).prod(axis, keepdims, dim=dim, keepdim=keepdim)


def logsumexp(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`input.logsumexp(...)` as a function: see `Tensor.logsumexp`."""
    return as_tensor(input).logsumexp(axis, keepdims, dim=dim, keepdim=keepdim)


def norm(
    input: TensorLike,
    p: Number | str = 2,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
) -> Tensor:
    """`input.norm(...)` as a function: see `Tensor.norm`."""
    return as_tensor(input).norm(p, axis, keepdims, dim=dim, keepdim=keepdim)


def argmax(
    input: TensorLike,
    axis: int | None = None,
    keepdims: bool = False,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """`input.argmax(...)` as a function: see `Tensor.argmax`."""
    return as_tensor(input).argmax(axis, keepdims, dim=dim, keepdim=keepdim)


def argmin(
    input: TensorLike,
    axis: int | None = None,
    keepdims: bool = False,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """`input.argmin(...)` as a function: see `Tensor.argmin`."""
    return as_tensor(input).argmin(axis, keepdims, dim=dim, keepdim=keepdim)


def sort(
    input: TensorLike, dim: int = -1, descending: bool = False, stable: bool = False, *, axis: int | None = None
) -> ValuesIndices:
    """`input.sort(...)` as a function: see `Tensor.sort`."""
    return as_tensor(input).sort(dim, descending, stable, axis=axis)


def argsort(input: TensorLike, dim: int = -1, descending: bool = False, *, axis: int | None = None) -> Tensor:
    """`input.argsort(...)` as a function: see `Tensor.argsort`."""
    return as_tensor(input).argsort(dim, descending, axis=axis)


def topk(
    input: TensorLike, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, axis: int | None = None
) -> ValuesIndices:
    """`input.topk(...)` as a function: see `Tensor.topk`."""
    return as_tensor(input).topk(k, dim, largest, sorted, axis=axis)


def chunk(input: TensorLike, chunks: int, dim: int = 0, *, axis: int | None = None) -> tuple[Tensor, ...]:
    """`input.chunk(...)` as a function: see `Tensor.chunk`."""
    return as_tensor(input).chunk(chunks, dim, axis=axis)


def unbind(input: TensorLike, dim: int = 0, *, axis: int | None = None) -> tuple[Tensor, ...]:
    """`input.unbind(...)` as a function: see `Tensor.unbind`."""
    return as_tensor(input).unbind(dim, axis=axis)


def softmax(input: TensorLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """`input.softmax(...)` as a function: see `Tensor.softmax`."""
    return as_tensor(input).softmax(axis, dim=dim)


def log_softmax(input: TensorLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """`input.log_softmax(...)` as a function: see `Tensor.log_softmax`."""
    return as_tensor(input).log_softmax(axis, dim=dim)


def reshape(input: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """`input.reshape(...)` as a function: see `Tensor.reshape`."""
    return as_tensor(input).reshape(*shape)


def flatten(input: TensorLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """`input.flatten(...)` as a function: see `Tensor.flatten`."""
    return as_tensor(input).flatten(start_dim, end_dim)


def transpose(input: TensorLike, *axes: int | Sequence[int]) -> Tensor:
    """`input.transpose(...)` as a function: see `Tensor.transpose`."""
    return as_tensor(input).transpose(*axes)


def permute(input: TensorLike, *dims: int | Sequence[int]) -> Tensor:
    """`input.permute(...)` as a function: see `Tensor.permute`."""
    return as_tensor(input).permute(*dims)


def swapaxes(input: TensorLike, axis1: int, axis2: int) -> Tensor:
    """`input.swapaxes(...)` as a function: see `Tensor.swapaxes`."""
    return as_tensor(input).swapaxes(axis1, axis2)


def squeeze(input: TensorLike, axis: Axis = None, *, dim: Axis = None) -> Tensor:
    """`input.squeeze(...)` as a function: see `Tensor.squeeze`."""
    return as_tensor(input).squeeze(axis, dim=dim)


def unsqueeze(input: TensorLike, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """`input.unsqueeze(...)` as a function: see `Tensor.unsqueeze`."""
    return as_tensor(input).unsqueeze(axis, dim=dim)


expand_dims = unsqueeze


def broadcast_to(input: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """`input.broadcast_to(...)` as a function: see `Tensor.broadcast_to`."""
    return as_tensor(input).broadcast_to(*shape)


def repeat(input: TensorLike, *sizes: int | Sequence[int]) -> Tensor:
    """`input.repeat(*sizes)` as a function (PyTorch's tiling): see `Tensor.repeat`."""
    return as_tensor(input).repeat(*sizes)


def tile(x: TensorLike, *reps: int | Sequence[int]) -> Tensor:
    """`input.tile(...)` as a function: see `Tensor.tile`."""
    return as_tensor(x).tile(*reps)


def pad(input: TensorLike, pad_width: int | Sequence[int] | Sequence[Sequence[int]], value: Number = 0.0) -> Tensor:
    """`input.pad(...)` as a function: see `Tensor.pad`."""
    return as_tensor(input).pad(pad_width, value)
