"""Everyday math as PyTorch spells it: registry rows for the differentiable ops, and each op as a function
(`ag.log2(x)` is `x.log2()`; the Tensor methods live in `tensor.py`).

The rows, each a forward on arrays and one VJP per input with the values it reads (see `ops`):

    elementwise   log2 log10 exp2 rsqrt tan asin acos atan sinh cosh asinh acosh atanh square reciprocal
                  erfc frac nan_to_num, and atan2 hypot xlogy copysign logaddexp logaddexp2 lerp
    rounding      round floor ceil trunc: a zero gradient, as PyTorch
    division      remainder (the sign of the divisor, as Python and PyTorch) and fmod (the sign of the
                  dividend), both differentiable in both operands; floor_divide and trunc_divide (`//` and
                  `div(rounding_mode=...)`), whose gradient is zero. On integers they stay integer and a
                  zero divisor raises ZeroDivisionError; on floats a zero divisor gives inf or nan, as IEEE.
    cumulative    cumsum cumprod logcumsumexp, and cummax cummin with PyTorch's (values, indices)

`erf` was already a row of `ops`; it is exposed here as a function. The non-differentiable ops (isnan and
its family, isclose, any/all, bitwise, logical and shift ops) are not rows: they are Tensor methods that
return bool or integer tensors, exposed here as functions.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from .ops import (
    BROADCAST_PAIRS,
    UNARY,
    ErrorCase,
    S,
    along,
    picked_grad,
    reads,
    register,
)
from .tensor import Axis, Number, Operand, Tensor, TensorLike, ValuesIndices
from .tensor_functions import as_tensor

LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
POSITIVE = (0.5, 2.0)
INSIDE_UNIT = (-0.9, 0.9)


def _is_integer(a):
    return np.asarray(a).dtype.kind in "biu"


# ---- forwards that are more than one numpy call -----------------------------------------------------

_erfc_object = np.frompyfunc(math.erfc, 1, 1)


def erfc_forward(x):
    # 1 - erf(x) would lose every digit for large x; math.erfc is exact there.
    return np.asarray(_erfc_object(x), dtype=np.result_type(x, np.float32))


def _keep_integers(rounding):
    """A rounding forward that returns integer inputs unchanged (numpy would make them float)."""

    def forward(x, **attrs):
        return np.array(x) if _is_integer(x) else rounding(x, **attrs)

    return forward


def _check_integer_divisor(who, x, y):
    if _is_integer(x) and _is_integer(y) and np.any(np.asarray(y) == 0):
        raise ZeroDivisionError(f"{who}: integer division by zero")


def _float_division(ufunc):
    """`ufunc(x, y)` for remainder-like ops: ZeroDivisionError for an integer zero divisor, IEEE inf/nan
    without a warning for a float one (as PyTorch)."""

    def forward(x, y):
        _check_integer_divisor(ufunc.__name__, x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ufunc(x, y)

    forward.__name__ = ufunc.__name__
    return forward


remainder_forward = _float_division(np.remainder)
fmod_forward = _float_division(np.fmod)
floor_divide_forward = _float_division(np.floor_divide)


def trunc_divide_forward(x, y):
    """x / y rounded toward zero (C's integer division; `div(rounding_mode="trunc")`)."""
    _check_integer_divisor("trunc_divide", x, y)
    if _is_integer(x) and _is_integer(y):
        quotient = np.floor_divide(x, y)
        # floor and trunc differ by one where the signs differ and the division is not exact
        return quotient + ((quotient < 0) & (quotient * y != x))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.trunc(np.true_divide(x, y))


def lerp_forward(x, end, weight):
    # PyTorch's two-sided form: exact at weight 0 and at weight 1
    difference = end - x
    return np.where(np.abs(weight) < 0.5, x + weight * difference, end - difference * (1 - weight))


def xlogy_forward(x, y):
    """x * log(y), with 0 where x == 0 unless y is nan (scipy's and PyTorch's convention)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log(y))


def copysign_grad(F, g, x, out):
    # d|x|sign(y)/dx = out / x, and 0 at x == 0 (PyTorch's choice)
    zero = x == 0
    return F.where(zero, 0.0, g * out / F.where(zero, 1.0, x))


def zero_grad(F, g, *inputs, **_):
    """The gradient of a piecewise constant op (rounding, integer division): zero, as PyTorch."""
    return g * 0.0


# ---- cumulative ops ----------------------------------------------------------------------------------


def reverse(F, x, axis):
    """`x` flipped along `axis`."""
    return F.getitem(x, index=along(axis, x.ndim, slice(None, None, -1)))


def reverse_cumsum(F, x, axis):
    """Sums from each position to the end of `axis`: the adjoint of cumsum."""
    return reverse(F, F.cumsum(reverse(F, x, axis), axis=axis), axis)


def cumprod_grad(F, g, x, out, axis):
    """d out_j / d x_i = prod of x_k for k <= j, k != i (j >= i), exact at zeros, as PyTorch's.

    Before the first zero z of a slice, that is out_j / x_i, and out_j is 0 from z on, so the sum over j
    is a reverse cumsum of g * out divided by x_i. At z, it is the running product with x_z replaced by
    1. After z, every product holds x_z = 0. Where the input has zeros, the zero pattern is a constant of
    the formula, so its own derivative (create_graph) is exact away from the zeros."""
    values = np.asarray(x)
    is_zero = values == 0
    if not is_zero.any():
        return reverse_cumsum(F, g * out, axis) / x
    n = values.shape[axis]
    positions = np.arange(n).reshape((n,) + (1,) * (values.ndim - axis - 1))
    first_zero = np.where(is_zero.any(axis=axis, keepdims=True), is_zero.argmax(axis=axis, keepdims=True), n)
    before, at = positions < first_zero, positions == first_zero
    grad_before = reverse_cumsum(F, g * out, axis) / F.where(before, x, 1.0)
    grad_at = reverse_cumsum(F, g * F.cumprod(F.where(at, 1.0, x), axis=axis), axis)
    return F.where(before, grad_before, F.where(at, grad_at, 0.0))


def logcumsumexp_grad(F, g, x, out, axis):
    """sum over j >= i of g_j exp(x_i - out_j), in log space with the positive and negative parts of g
    apart (PyTorch's method), so that neither exp(x) nor exp(-out) overflows. Masked logs use the
    dtype's lowest finite value rather than -inf, so no inf - inf appears."""
    lowest = np.finfo(x.dtype).min
    nonzero = g != 0
    log_abs_g = F.log(F.abs(F.where(nonzero, g, 1.0)))

    def part(mask):
        log_weights = F.where(mask, log_abs_g, lowest) - out
        return F.exp(reverse(F, F.logcumsumexp(reverse(F, log_weights, axis), axis=axis), axis) + x)

    # lowest + lowest overflows to -inf, whose exp is the 0 wanted: not worth a warning
    with np.errstate(over="ignore"):
        return part(g > 0) - part(g < 0)


def cumulative_extreme(accumulate, x, axis):
    """(values, indices) of the running max or min along `axis`: the index of the last element that set
    the current extreme (ties move it on), and a nan stays the extreme from where it appears, as PyTorch."""
    values = accumulate(x, axis=axis)
    n = x.shape[axis]
    positions = np.arange(n).reshape((n,) + (1,) * (x.ndim - axis - 1))
    sets_extreme = (x == values) | (x != x)
    indices = np.maximum.accumulate(np.where(sets_extreme, positions, 0), axis=axis)
    return values, indices


# ---- the rows ------------------------------------------------------------------------------------------


def _unary(name, forward, needs, formula, domain=(-2.0, 2.0), samples=UNARY):
    register(name, forward, reads(needs, formula), samples=samples, domain=domain)


_unary("log2", np.log2, "x", lambda F, g, x, **_: g / (x * LN2), POSITIVE)
_unary("log10", np.log10, "x", lambda F, g, x, **_: g / (x * LN10), POSITIVE)
_unary("exp2", np.exp2, "out", lambda F, g, x, out: g * out * LN2)
_unary("rsqrt", lambda x: 1.0 / np.sqrt(x), "out", lambda F, g, x, out: -0.5 * g * out * out * out, POSITIVE)
_unary("reciprocal", lambda x: 1.0 / x, "out", lambda F, g, x, out: -g * out * out, POSITIVE)
_unary("square", np.square, "x", lambda F, g, x, **_: 2.0 * g * x)
_unary("tan", np.tan, "out", lambda F, g, x, out: g * (1.0 + out * out), (-1.0, 1.0))
_unary("asin", np.arcsin, "x", lambda F, g, x, **_: g / F.sqrt(1.0 - x * x), INSIDE_UNIT)
_unary("acos", np.arccos, "x", lambda F, g, x, **_: -g / F.sqrt(1.0 - x * x), INSIDE_UNIT)
_unary("atan", np.arctan, "x", lambda F, g, x, **_: g / (1.0 + x * x))
_unary("sinh", np.sinh, "x", lambda F, g, x, **_: g * F.cosh(x))
_unary("cosh", np.cosh, "x", lambda F, g, x, **_: g * F.sinh(x))
_unary("asinh", np.arcsinh, "x", lambda F, g, x, **_: g / F.sqrt(x * x + 1.0))
_unary("acosh", np.arccosh, "x", lambda F, g, x, **_: g / F.sqrt(x * x - 1.0), (1.2, 3.0))
_unary("atanh", np.arctanh, "x", lambda F, g, x, **_: g / (1.0 - x * x), INSIDE_UNIT)
_unary("erfc", erfc_forward, "x", lambda F, g, x, **_: -TWO_OVER_SQRT_PI * g * F.exp(-x * x))
_unary("frac", lambda x: x - np.trunc(x), "", lambda F, g, x, **_: g)
_unary("floor", _keep_integers(np.floor), "", zero_grad)
_unary("ceil", _keep_integers(np.ceil), "", zero_grad)
_unary("trunc", _keep_integers(np.trunc), "", zero_grad)
_unary(
    "round",
    _keep_integers(lambda x, decimals: np.round(x, decimals)),  # half to even, as PyTorch
    "",
    zero_grad,
    samples=(S((3, 4), decimals=0), S((5,), decimals=2), S((), decimals=-1)),
)
_unary(
    "nan_to_num",
    lambda x, nan, posinf, neginf: np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf),
    "x",
    # the replaced values are constants: no gradient reaches a nan or an infinity
    lambda F, g, x, out, **_: F.where(np.isfinite(np.asarray(x)), g, 0.0),
    samples=(S((3, 4), nan=0.0, posinf=None, neginf=None), S((5,), nan=1.5, posinf=3.0, neginf=-3.0)),
)

register(
    "atan2",
    np.arctan2,
    reads("x y", lambda F, g, x, y, **_: g * y / (x * x + y * y)),
    reads("x y", lambda F, g, x, y, **_: -g * x / (x * x + y * y)),
    samples=BROADCAST_PAIRS,
)
register(
    "hypot",
    np.hypot,
    reads("x out", lambda F, g, x, y, out: g * x / out),
    reads("y out", lambda F, g, x, y, out: g * y / out),
    samples=BROADCAST_PAIRS,
)
register(
    "xlogy",
    xlogy_forward,
    # PyTorch's: g log y, except 0 where x == 0 and y <= 0 (where log y is not finite)
    reads("x y", lambda F, g, x, y, **_: F.where((x == 0) & (y <= 0), 0.0, F.xlogy(g, y))),
    reads("x y", lambda F, g, x, y, **_: g * x / y),
    samples=BROADCAST_PAIRS + (S(np.array([0.0, 1.0, 0.0]), (3,)),),
    domain=POSITIVE,
)
register(
    "copysign",
    np.copysign,
    reads("x out", lambda F, g, x, y, out: copysign_grad(F, g, x, out)),
    reads("", zero_grad),
    samples=BROADCAST_PAIRS,
)
register(
    "logaddexp",
    np.logaddexp,
    reads("x out", lambda F, g, x, y, out: g * F.exp(x - out)),
    reads("y out", lambda F, g, x, y, out: g * F.exp(y - out)),
    samples=BROADCAST_PAIRS,
)
register(
    "logaddexp2",
    np.logaddexp2,
    reads("x out", lambda F, g, x, y, out: g * F.exp2(x - out)),
    reads("y out", lambda F, g, x, y, out: g * F.exp2(y - out)),
    samples=BROADCAST_PAIRS,
)
register(
    "lerp",
    lerp_forward,
    reads("weight", lambda F, g, x, end, weight, **_: g * (1.0 - weight)),
    reads("weight", lambda F, g, x, end, weight, **_: g * weight),
    reads("x end", lambda F, g, x, end, weight, **_: g * (end - x)),
    samples=(S((3, 4), (3, 4), (3, 4)), S((3, 1), (4,), ()), S((2, 3), (2, 3), np.array(0.3))),
)
register(
    "remainder",
    remainder_forward,
    reads("", lambda F, g, x, y, **_: g),
    reads("x y", lambda F, g, x, y, **_: -g * F.floor_divide(x, y)),
    samples=BROADCAST_PAIRS,
    errors=(
        ErrorCase(S(np.array([5, 3]), np.array([2, 0])), ZeroDivisionError, "remainder: integer division by zero"),
    ),
)
register(
    "fmod",
    fmod_forward,
    reads("", lambda F, g, x, y, **_: g),
    reads("x y", lambda F, g, x, y, **_: -g * F.trunc_divide(x, y)),
    samples=BROADCAST_PAIRS,
    errors=(ErrorCase(S(np.array([5]), np.array(0)), ZeroDivisionError, "fmod: integer division by zero"),),
)
register(
    "floor_divide",
    floor_divide_forward,
    reads("", zero_grad),
    reads("", zero_grad),
    samples=BROADCAST_PAIRS,
    errors=(ErrorCase(S(np.array([5]), np.array([0])), ZeroDivisionError, "floor_divide: integer division by zero"),),
)
register(
    "trunc_divide",
    trunc_divide_forward,
    reads("", zero_grad),
    reads("", zero_grad),
    samples=BROADCAST_PAIRS,
    errors=(ErrorCase(S(np.array([5]), np.array([0])), ZeroDivisionError, "trunc_divide: integer division by zero"),),
)

CUMULATIVE = (S((3, 4), axis=1), S((3, 4), axis=0), S((2, 3, 4), axis=2), S((5,), axis=0))
DIM_OUT_OF_RANGE = (ErrorCase(S((3, 4), axis=2), IndexError, "axis 2 is out of bounds for array of dimension 2"),)

register(
    "cumsum",
    lambda x, axis: np.cumsum(x, axis=axis),
    reads("", lambda F, g, x, out, axis: reverse_cumsum(F, g, axis)),
    samples=CUMULATIVE,
    errors=DIM_OUT_OF_RANGE,
)
register(
    "cumprod",
    lambda x, axis: np.cumprod(x, axis=axis),
    reads("x out", cumprod_grad),
    samples=CUMULATIVE,
    errors=DIM_OUT_OF_RANGE,
)
register(
    "logcumsumexp",
    lambda x, axis: np.logaddexp.accumulate(x, axis=axis),  # pairwise logaddexp: never overflows
    reads("x out", logcumsumexp_grad),
    samples=CUMULATIVE,
    errors=DIM_OUT_OF_RANGE,
)
register(
    "cummax",
    lambda x, axis: cumulative_extreme(np.maximum.accumulate, x, axis),
    reads("out", lambda F, g, x, out, axis: picked_grad(F, g, x, out, axis, True)),
    multi_output=True,
    samples=CUMULATIVE,
)
register(
    "cummin",
    lambda x, axis: cumulative_extreme(np.minimum.accumulate, x, axis),
    reads("out", lambda F, g, x, out, axis: picked_grad(F, g, x, out, axis, True)),
    multi_output=True,
    samples=CUMULATIVE,
)


# ---- every op as a function: `ag.log2(x)` is `x.log2()` ------------------------------------------------


def log2(input: TensorLike) -> Tensor:
    """`input.log2()` as a function: see `Tensor.log2`."""
    return as_tensor(input).log2()


def log10(input: TensorLike) -> Tensor:
    """`input.log10()` as a function: see `Tensor.log10`."""
    return as_tensor(input).log10()


def exp2(input: TensorLike) -> Tensor:
    """`input.exp2()` as a function: see `Tensor.exp2`."""
    return as_tensor(input).exp2()


def rsqrt(input: TensorLike) -> Tensor:
    """`input.rsqrt()` as a function: see `Tensor.rsqrt`."""
    return as_tensor(input).rsqrt()


def reciprocal(input: TensorLike) -> Tensor:
    """`input.reciprocal()` as a function: see `Tensor.reciprocal`."""
    return as_tensor(input).reciprocal()


def square(input: TensorLike) -> Tensor:
    """`input.square()` as a function: see `Tensor.square`."""
    return as_tensor(input).square()


def tan(input: TensorLike) -> Tensor:
    """`input.tan()` as a function: see `Tensor.tan`."""
    return as_tensor(input).tan()


def asin(input: TensorLike) -> Tensor:
    """`input.asin()` as a function: see `Tensor.asin`."""
    return as_tensor(input).asin()


def acos(input: TensorLike) -> Tensor:
    """`input.acos()` as a function: see `Tensor.acos`."""
    return as_tensor(input).acos()


def atan(input: TensorLike) -> Tensor:
    """`input.atan()` as a function: see `Tensor.atan`."""
    return as_tensor(input).atan()


def sinh(input: TensorLike) -> Tensor:
    """`input.sinh()` as a function: see `Tensor.sinh`."""
    return as_tensor(input).sinh()


def cosh(input: TensorLike) -> Tensor:
    """`input.cosh()` as a function: see `Tensor.cosh`."""
    return as_tensor(input).cosh()


def asinh(input: TensorLike) -> Tensor:
    """`input.asinh()` as a function: see `Tensor.asinh`."""
    return as_tensor(input).asinh()


def acosh(input: TensorLike) -> Tensor:
    """`input.acosh()` as a function: see `Tensor.acosh`."""
    return as_tensor(input).acosh()


def atanh(input: TensorLike) -> Tensor:
    """`input.atanh()` as a function: see `Tensor.atanh`."""
    return as_tensor(input).atanh()


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def erf(input: TensorLike) -> Tensor:
    """`input.erf()` as a function: see `Tensor.erf`."""
    return as_tensor(input).erf()


def erfc(input: TensorLike) -> Tensor:
    """`input.erfc()` as a function: see `Tensor.erfc`."""
    return as_tensor(input).erfc()


def frac(input: TensorLike) -> Tensor:
    """`input.frac()` as a function: see `Tensor.frac`."""
    return as_tensor(input).frac()


def nan_to_num(input: TensorLike, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """`input.nan_to_num(...)` as a function: see `Tensor.nan_to_num`."""
    return as_tensor(input).nan_to_num(nan, posinf, neginf)


def clamp_min(input: TensorLike, min: Number) -> Tensor:
    """`input.clamp_min(min)` as a function: see `Tensor.clamp_min`."""
    return as_tensor(input).clamp_min(min)


def clamp_max(input: TensorLike, max: Number) -> Tensor:
    """`input.clamp_max(max)` as a function: see `Tensor.clamp_max`."""
    return as_tensor(input).clamp_max(max)


def atan2(input: TensorLike, other: Operand) -> Tensor:
    """`input.atan2(other)` as a function: see `Tensor.atan2`."""
    return as_tensor(input).atan2(other)


arctan2 = atan2


def hypot(input: TensorLike, other: Operand) -> Tensor:
    """`input.hypot(other)` as a function: see `Tensor.hypot`."""
    return as_tensor(input).hypot(other)


def xlogy(input: TensorLike, other: Operand) -> Tensor:
    """`input.xlogy(other)` as a function: see `Tensor.xlogy`."""
    return as_tensor(input).xlogy(other)


def copysign(input: TensorLike, other: Operand) -> Tensor:
    """`input.copysign(other)` as a function: see `Tensor.copysign`."""
    return as_tensor(input).copysign(other)


def logaddexp(input: TensorLike, other: Operand) -> Tensor:
    """`input.logaddexp(other)` as a function: see `Tensor.logaddexp`."""
    return as_tensor(input).logaddexp(other)


def logaddexp2(input: TensorLike, other: Operand) -> Tensor:
    """`input.logaddexp2(other)` as a function: see `Tensor.logaddexp2`."""
    return as_tensor(input).logaddexp2(other)


def lerp(input: TensorLike, end: Operand, weight: Operand) -> Tensor:
    """`input.lerp(end, weight)` as a function: see `Tensor.lerp`."""
    return as_tensor(input).lerp(end, weight)


def round(input: TensorLike, *, decimals: int = 0) -> Tensor:
    """`input.round(decimals=...)` as a function: see `Tensor.round`."""
    return as_tensor(input).round(decimals=decimals)


def floor(input: TensorLike) -> Tensor:
    """`input.floor()` as a function: see `Tensor.floor`."""
    return as_tensor(input).floor()


def ceil(input: TensorLike) -> Tensor:
    """`input.ceil()` as a function: see `Tensor.ceil`."""
    return as_tensor(input).ceil()


def trunc(input: TensorLike) -> Tensor:
    """`input.trunc()` as a function: see `Tensor.trunc`."""
    return as_tensor(input).trunc()


fix = trunc


def div(input: TensorLike, other: Operand, *, rounding_mode: str | None = None) -> Tensor:
    """`input.div(other, rounding_mode=...)` as a function: see `Tensor.div`."""
    return as_tensor(input).div(other, rounding_mode=rounding_mode)


divide = div


def true_divide(input: TensorLike, other: Operand) -> Tensor:
    """`input / other` as a function."""
    return as_tensor(input).true_divide(other)


def floor_divide(input: TensorLike, other: Operand) -> Tensor:
    """`input // other` as a function: see `Tensor.floor_divide`."""
    return as_tensor(input).floor_divide(other)


def remainder(input: TensorLike, other: Operand) -> Tensor:
    """`input % other` as a function: see `Tensor.remainder`."""
    return as_tensor(input).remainder(other)


def fmod(input: TensorLike, other: Operand) -> Tensor:
    """`input.fmod(other)` as a function: see `Tensor.fmod`."""
    return as_tensor(input).fmod(other)


def cumsum(input: TensorLike, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """`input.cumsum(dim)` as a function: see `Tensor.cumsum`."""
    return as_tensor(input).cumsum(dim, dtype=dtype)


def cumprod(input: TensorLike, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """`input.cumprod(dim)` as a function: see `Tensor.cumprod`."""
    return as_tensor(input).cumprod(dim, dtype=dtype)


def logcumsumexp(input: TensorLike, dim: int) -> Tensor:
    """`input.logcumsumexp(dim)` as a function: see `Tensor.logcumsumexp`."""
    return as_tensor(input).logcumsumexp(dim)


def cummax(input: TensorLike, dim: int) -> ValuesIndices:
    """`input.cummax(dim)` as a function: see `Tensor.cummax`."""
    return as_tensor(input).cummax(dim)


def cummin(input: TensorLike, dim: int) -> ValuesIndices:
    """`input.cummin(dim)` as a function: see `Tensor.cummin`."""
    return as_tensor(input).cummin(dim)


def isnan(input: TensorLike) -> Tensor:
    """`input.isnan()` as a function: a bool tensor."""
    return as_tensor(input).isnan()


def isinf(input: TensorLike) -> Tensor:
    """`input.isinf()` as a function: a bool tensor."""
    return as_tensor(input).isinf()


def isposinf(input: TensorLike) -> Tensor:
    """`input.isposinf()` as a function: a bool tensor."""
    return as_tensor(input).isposinf()


def isneginf(input: TensorLike) -> Tensor:
    """`input.isneginf()` as a function: a bool tensor."""
    return as_tensor(input).isneginf()


def isfinite(input: TensorLike) -> Tensor:
    """`input.isfinite()` as a function: a bool tensor."""
    return as_tensor(input).isfinite()


def isclose(
    input: TensorLike, other: Operand, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """`input.isclose(other, ...)` as a function: see `Tensor.isclose`."""
    return as_tensor(input).isclose(other, rtol, atol, equal_nan)


def allclose(
    input: TensorLike, other: Operand, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """`input.allclose(other, ...)` as a function: see `Tensor.allclose`."""
    return as_tensor(input).allclose(other, rtol, atol, equal_nan)


def equal(input: TensorLike, other: TensorLike) -> bool:
    """`input.equal(other)` as a function: see `Tensor.equal`."""
    return as_tensor(input).equal(as_tensor(other))


def any(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`input.any(dim)` as a function: see `Tensor.any`."""
    return as_tensor(input).any(axis, keepdims, dim=dim, keepdim=keepdim)


def all(
    input: TensorLike, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """`input.all(dim)` as a function: see `Tensor.all`."""
    return as_tensor(input).all(axis, keepdims, dim=dim, keepdim=keepdim)


def logical_and(input: TensorLike, other: Operand) -> Tensor:
    """`input.logical_and(other)` as a function: a bool tensor, for any dtype."""
    return as_tensor(input).logical_and(other)


def logical_or(input: TensorLike, other: Operand) -> Tensor:
    """`input.logical_or(other)` as a function: a bool tensor, for any dtype."""
    return as_tensor(input).logical_or(other)


def logical_xor(input: TensorLike, other: Operand) -> Tensor:
    """`input.logical_xor(other)` as a function: a bool tensor, for any dtype."""
    return as_tensor(input).logical_xor(other)


def logical_not(input: TensorLike) -> Tensor:
    """`input.logical_not()` as a function: a bool tensor, for any dtype."""
    return as_tensor(input).logical_not()


def bitwise_and(input: TensorLike, other: Operand) -> Tensor:
    """`input & other` as a function: bitwise on integers, logical on bools."""
    return as_tensor(input).bitwise_and(other)


def bitwise_or(input: TensorLike, other: Operand) -> Tensor:
    """`input | other` as a function: bitwise on integers, logical on bools."""
    return as_tensor(input).bitwise_or(other)


def bitwise_xor(input: TensorLike, other: Operand) -> Tensor:
    """`input ^ other` as a function: bitwise on integers, logical on bools."""
    return as_tensor(input).bitwise_xor(other)


def bitwise_not(input: TensorLike) -> Tensor:
    """`~input` as a function: bitwise on integers, logical on bools."""
    return as_tensor(input).bitwise_not()


def bitwise_left_shift(input: TensorLike, other: Operand) -> Tensor:
    """`input << other` as a function: see `Tensor.bitwise_left_shift`."""
    return as_tensor(input).bitwise_left_shift(other)


def bitwise_right_shift(input: TensorLike, other: Operand) -> Tensor:
    """`input >> other` as a function: see `Tensor.bitwise_right_shift`."""
    return as_tensor(input).bitwise_right_shift(other)


__all__ = [
    "log2",
    "log10",
    "exp2",
    "rsqrt",
    "reciprocal",
    "square",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "arcsin",
    "arccos",
    "arctan",
    "arcsinh",
    "arccosh",
    "arctanh",
    "erf",
    "erfc",
    "frac",
    "nan_to_num",
    "clamp_min",
    "clamp_max",
    "atan2",
    "arctan2",
    "hypot",
    "xlogy",
    "copysign",
    "logaddexp",
    "logaddexp2",
    "lerp",
    "round",
    "floor",
    "ceil",
    "trunc",
    "fix",
    "div",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "cumsum",
    "cumprod",
    "logcumsumexp",
    "cummax",
    "cummin",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "isfinite",
    "isclose",
    "allclose",
    "equal",
    "any",
    "all",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
]
