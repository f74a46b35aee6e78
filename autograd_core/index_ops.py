"""Indexing and shape ops as PyTorch spells them: the gather/scatter family, masks, flips and rolls,
diagonals and triangles, einsum and the matrix products, and the view-like shape helpers.

The registry rows (registered on import, like `conv_ops`) take numpy arrays and normalised attributes:
`axis` is a non-negative int, `index` a numpy integer array. The public functions below check their
arguments in PyTorch's terms (`dim=`, `index=`, `src=`), raise errors that name the function, and
call the rows; the Tensor methods of the same names (tensor.py) call these functions.

Positions along one axis: `gather`, `scatter` and their kin address element `(i, j, ...)` of an index
tensor at position `index[i, j, ...]` along `axis` and at `i, j, ...` elsewhere (`ops.along_axis_index`
builds that numpy index tuple), so a gather is a getitem and its VJP a `scatter_add`, which accumulates
repeated positions. Ops that only re-address elements (index_select, masked_select, narrow, select,
repeat, repeat_interleave, expand, movedim, meshgrid, diag) compose existing rows: getitem, reshape,
transpose and broadcast_to, whose VJPs are already in the table.

`einsum` runs `np.einsum(..., optimize=True)`; the VJP of each operand is one einsum of the output
gradient with the other operands, with identity matrices for a subscript that an operand repeats
(a trace or a diagonal) and vectors of ones for a subscript that only that operand has.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .compiler import report
from .ops import REGISTRY as OPS
from .ops import ErrorCase, S, along, along_axis_index, reads, register
from .tensor import Number, Tensor, TensorLike, _matmul, apply, computed_array

__all__ = [
    "gather",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "index_select",
    "index_add",
    "index_copy",
    "masked_fill",
    "masked_select",
    "nonzero",
    "argwhere",
    "take_along_dim",
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "diag",
    "diagonal",
    "diag_embed",
    "tril",
    "triu",
    "unflatten",
    "meshgrid",
    "movedim",
    "moveaxis",
    "narrow",
    "select",
    "repeat_interleave",
    "einsum",
    "mm",
    "bmm",
    "dot",
    "outer",
    "inner",
]

# ---- numpy forwards and the helpers of the formulas ---------------------------------------------------


def covered(shape, position):
    """A bool array of `shape`, True at the elements a numpy index `position` addresses."""
    mask = np.zeros(shape, dtype=bool)
    mask[position] = True
    return mask


def scatter_forward(x, src, index, axis):
    out = x.copy()
    out[along_axis_index(index, axis)] = src
    return out


def scatter_counts(shape, index, axis):
    """How many elements of `index` address each position of an array of `shape` (np.add.at counts)."""
    counts = np.zeros(shape, dtype=np.int64)
    np.add.at(counts, along_axis_index(index, axis), 1)
    return counts


REDUCE_UFUNCS = {"sum": np.add, "prod": np.multiply, "mean": np.add, "amax": np.maximum, "amin": np.minimum}


def reduce_identity(reduce, dtype):
    """The value a reduction starts from: 0, 1, or the lowest (highest) value of the dtype for amax (amin)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    return np.iinfo(dtype).min if reduce == "amax" else np.iinfo(dtype).max


def scatter_reduce_forward(x, src, index, axis, reduce, include_self):
    """torch.scatter_reduce: each position of x combined with the src elements addressed to it."""
    position = along_axis_index(index, axis)
    out = x.astype(np.result_type(x, src), copy=True)
    if not include_self:  # positions that receive something start from the reduction's identity
        out[position] = reduce_identity(reduce, out.dtype)
    REDUCE_UFUNCS[reduce].at(out, position, src)
    if reduce == "mean":
        counts = scatter_counts(x.shape, index, axis) + (1 if include_self else 0)
        out = np.where(counts > 0, out / np.maximum(counts, 1), x)
    return out.astype(x.dtype, copy=False)


def scatter_reduce_grad_x(F, g, x, src, out, index, axis, reduce, include_self):
    """sum and mean: x's gradient is g (divided by the count for mean), zero where include_self=False
    let src replace x."""
    if not include_self:
        g = F.where(covered(x.shape, along_axis_index(index, axis)), 0.0, g)
    if reduce == "mean":
        g = g / np.maximum(scatter_counts(x.shape, index, axis) + (1 if include_self else 0), 1)
    return g


def scatter_reduce_grad_src(F, g, x, src, out, index, axis, reduce, include_self):
    if reduce == "mean":
        g = g / np.maximum(scatter_counts(x.shape, index, axis) + (1 if include_self else 0), 1)
    return F.getitem(g, index=along_axis_index(index, axis))


def scatter_prod_grad_x(F, g, x, src, out, index, axis, reduce, include_self):
    """The product of the other factors of x's position: the product with x replaced by 1 (exact when x
    is zero), as PyTorch."""
    if not include_self:
        return F.where(covered(x.shape, along_axis_index(index, axis)), 0.0, g)
    unit_x = F.where(x == 0, 1.0, x)
    others = F.scatter_prod(unit_x, src, index=index, axis=axis, reduce=reduce, include_self=include_self)
    return g * others / unit_x


def scatter_prod_grad_src(F, g, x, src, out, index, axis, reduce, include_self):
    """out / src, except for a src zero that is alone at its position: the product of the others,
    recomputed with that zero replaced by 1 (as PyTorch)."""
    position = along_axis_index(index, axis)
    zero = src == 0
    zeros_at_position = F.getitem(F.scatter_add(zero * 1.0, index=position, shape=x.shape), index=position)
    lone_zero = zero & (zeros_at_position == 1)
    others = F.scatter_prod(
        x, F.where(lone_zero, 1.0, src), index=index, axis=axis, reduce=reduce, include_self=include_self
    )
    return F.where(
        lone_zero, F.getitem(g * others, index=position), F.getitem(g * out, index=position) / F.where(zero, 1.0, src)
    )


def extreme_winners(F, x, src, out, index, axis, include_self):
    """For scatter amax/amin: where x and where src hold the extreme of their position, and how many do
    (the gradient is split evenly among ties, as PyTorch)."""
    position = along_axis_index(index, axis)
    src_wins = src == F.getitem(out, index=position)
    self_wins = (x == out) if include_self else ~covered(x.shape, position)
    ties = self_wins + F.scatter_add(src_wins * 1.0, index=position, shape=x.shape)
    return position, self_wins, src_wins, ties


def scatter_extreme_grad_x(F, g, x, src, out, index, axis, reduce, include_self):
    _, self_wins, _, ties = extreme_winners(F, x, src, out, index, axis, include_self)
    return g * self_wins / ties


def scatter_extreme_grad_src(F, g, x, src, out, index, axis, reduce, include_self):
    position, _, src_wins, ties = extreme_winners(F, x, src, out, index, axis, include_self)
    return F.getitem(g / ties, index=position) * src_wins


def index_add_forward(x, src, index, axis, alpha):
    out = x.copy()
    np.add.at(out, along(axis, x.ndim, index), src * alpha if alpha != 1 else src)
    return out


def index_copy_forward(x, src, index, axis):
    out = x.copy()
    out[along(axis, x.ndim, index)] = src
    return out


def diag_embed_forward(x, offset, axis1, axis2, shape):
    """Zeros of `shape` with x's last axis written on the `offset` diagonal of axes axis1 and axis2 (the
    adjoint of np.diagonal, which puts the diagonal last)."""
    out = np.zeros(shape, dtype=x.dtype)
    planes = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writing to it writes to out
    steps = np.arange(x.shape[-1])
    planes[..., steps + max(-offset, 0), steps + max(offset, 0)] = x
    return out


def einsum_forward(*xs, equation):
    out = np.asarray(np.einsum(equation, *xs, optimize=True))
    if any(np.may_share_memory(out, x) for x in xs):  # a transpose or diagonal comes back as a view
        out = out.copy()
    return out


def _unused_letters(equation):
    used = set(equation)
    return [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]


def einsum_grad(F, g, *xs, out, equation, index):
    """The VJP of operand `index`: an einsum of g with the other operands, out to that operand's
    subscripts. A subscript the operand repeats ("ii") gets a fresh letter tied to the first by an
    identity matrix; one that no other operand nor the output has gets a vector of ones."""
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    target = terms[index]
    size = dict(zip(target, xs[index].shape))
    operands, subscripts = [g], [output]
    for k, (term, x) in enumerate(zip(terms, xs)):
        if k != index:
            operands.append(x)
            subscripts.append(term)
    fresh = iter(_unused_letters(equation))
    result, seen = [], set()
    for letter in target:
        if letter in seen:
            tied = next(fresh)
            operands.append(np.eye(size[letter], dtype=g.dtype))
            subscripts.append(letter + tied)
            result.append(tied)
        else:
            seen.add(letter)
            result.append(letter)
    available = set("".join(subscripts))
    for letter in seen - available:
        operands.append(np.ones(size[letter], dtype=g.dtype))
        subscripts.append(letter)
    return F.einsum(*operands, equation=",".join(subscripts) + "->" + "".join(result))


# ---- the rows -------------------------------------------------------------------------------------------

INDEX_2x3 = np.array([[0, 2, 1], [3, 0, 0]])
INDEX_3x2 = np.array([[0, 1], [2, 0], [1, 1]])

register(
    "gather",
    lambda x, index, axis: x[along_axis_index(index, axis)],
    reads("", lambda F, g, x, out, index, axis: F.scatter_add(g, index=along_axis_index(index, axis), shape=x.shape)),
    samples=(
        S((4, 3), index=INDEX_2x3, axis=0),
        S((3, 4), index=INDEX_3x2, axis=1),
        S((5,), index=np.array([4, 0, 4, 4]), axis=0),
        S((2, 3, 2), index=np.array([[[1], [0]]]), axis=2),
    ),
    errors=(ErrorCase(S((3, 4), index=np.array([[4]]), axis=1), IndexError, "gather: invalid input (shape (3, 4))"),),
)
register(
    "scatter",
    scatter_forward,
    reads(
        "",
        lambda F, g, x, src, out, index, axis: F.where(covered(x.shape, along_axis_index(index, axis)), 0.0, g),
    ),
    reads("", lambda F, g, x, src, out, index, axis: F.getitem(g, index=along_axis_index(index, axis))),
    samples=(
        S((4, 3), (2, 3), index=np.array([[0, 2, 1], [3, 1, 0]]), axis=0),
        S((3, 4), (3, 2), index=np.array([[0, 1], [2, 3], [1, 0]]), axis=1),
        S((3, 4), np.array(2.5), index=INDEX_3x2, axis=1),
    ),
)
SCATTER_SAMPLE_ATTRS = {"index": np.array([[0, 2, 0], [3, 0, 0], [0, 2, 2]]), "axis": 0}
register(
    "scatter_reduce",
    scatter_reduce_forward,
    reads("", scatter_reduce_grad_x),
    reads("", scatter_reduce_grad_src),
    samples=tuple(
        S((4, 3), (3, 3), reduce=reduce, include_self=include_self, **SCATTER_SAMPLE_ATTRS)
        for reduce in ("sum", "mean")
        for include_self in (True, False)
    )
    + (S((3, 4), (3, 2), index=INDEX_3x2, axis=1, reduce="sum", include_self=True),),
)
register(
    "scatter_prod",
    scatter_reduce_forward,
    reads("x src", scatter_prod_grad_x),
    reads("x src out", scatter_prod_grad_src),
    samples=(
        S((4, 3), (3, 3), reduce="prod", include_self=True, **SCATTER_SAMPLE_ATTRS),
        S((4, 3), (3, 3), reduce="prod", include_self=False, **SCATTER_SAMPLE_ATTRS),
        S(
            np.array([[2.0, 0.0], [3.0, 1.5]]),
            (2, 2),
            index=np.array([[1, 0], [1, 1]]),
            axis=1,
            reduce="prod",
            include_self=True,
        ),
        S(
            (2, 2),
            np.array([[0.0, 2.0], [0.0, 0.0]]),
            index=np.array([[1, 1], [0, 0]]),
            axis=1,
            reduce="prod",
            include_self=True,
        ),
    ),
)
register(
    "scatter_extreme",
    scatter_reduce_forward,
    reads("x src out", scatter_extreme_grad_x),
    reads("x src out", scatter_extreme_grad_src),
    samples=tuple(
        S((4, 3), (3, 3), reduce=reduce, include_self=include_self, **SCATTER_SAMPLE_ATTRS)
        for reduce in ("amax", "amin")
        for include_self in (True, False)
    ),
)
register(
    "index_add",
    index_add_forward,
    reads("", lambda F, g, x, src, out, index, axis, alpha: g),
    reads("", lambda F, g, x, src, out, index, axis, alpha: F.getitem(g, index=along(axis, g.ndim, index)) * alpha),
    samples=(
        S((4, 3), (3, 3), index=np.array([2, 0, 2]), axis=0, alpha=1),
        S((2, 5), (2, 2), index=np.array([4, 1]), axis=1, alpha=-1.5),
    ),
)
register(
    "index_copy",
    index_copy_forward,
    reads(
        "",
        lambda F, g, x, src, out, index, axis: F.where(covered(x.shape, along(axis, x.ndim, index)), 0.0, g),
    ),
    reads("", lambda F, g, x, src, out, index, axis: F.getitem(g, index=along(axis, g.ndim, index))),
    samples=(
        S((4, 3), (2, 3), index=np.array([3, 1]), axis=0),
        S((2, 3, 4), (2, 3, 2), index=np.array([0, 2]), axis=2),
    ),
)
register(
    "masked_fill",
    lambda x, value, mask: np.asarray(np.where(mask, value, x)).astype(x.dtype, copy=False),
    reads("", lambda F, g, x, value, out, mask: F.where(mask, 0.0, g)),
    reads("", lambda F, g, x, value, out, mask: F.where(mask, g, 0.0)),  # the engine sums it to value's shape
    samples=(
        S((3, 4), (), mask=np.array([[True, False, False, True]] * 3)),
        S((2, 3), np.array(-1.0), mask=np.array([[True], [False]])),
    ),
)
register(
    "flip",
    lambda x, axes: np.flip(x, axes).copy(),  # a copy, as PyTorch's flip
    reads("", lambda F, g, x, out, axes: F.flip(g, axes=axes)),
    samples=(S((3, 4), axes=(0,)), S((2, 3, 4), axes=(0, 2)), S((), axes=())),
)
register(
    "roll",
    lambda x, shifts, axes: np.roll(x, shifts, axes),
    reads("", lambda F, g, x, out, shifts, axes: F.roll(g, shifts=tuple(-s for s in shifts), axes=axes)),
    samples=(
        S((3, 4), shifts=(1,), axes=(1,)),
        S((2, 3, 4), shifts=(-1, 5), axes=(0, 2)),
        S((3, 2), shifts=(4,), axes=None),
    ),
)
register(
    "diagonal",
    lambda x, offset, axis1, axis2: np.diagonal(x, offset, axis1, axis2).copy(),
    reads(
        "",
        lambda F, g, x, out, offset, axis1, axis2: F.diag_embed(
            g, offset=offset, axis1=axis1, axis2=axis2, shape=x.shape
        ),
    ),
    samples=(
        S((3, 4), offset=0, axis1=0, axis2=1),
        S((4, 3), offset=-1, axis1=0, axis2=1),
        S((2, 3, 4), offset=1, axis1=2, axis2=0),
    ),
)
register(
    "diag_embed",
    diag_embed_forward,
    reads(
        "",
        lambda F, g, x, out, offset, axis1, axis2, shape: F.diagonal(g, offset=offset, axis1=axis1, axis2=axis2),
    ),
    samples=(
        S((3,), offset=0, axis1=0, axis2=1, shape=(3, 3)),
        S((3,), offset=-1, axis1=0, axis2=1, shape=(4, 3)),
        S((2, 3), offset=1, axis1=2, axis2=0, shape=(4, 2, 4)),
    ),
)


def register_triangle(name, triangle):
    """tril or triu: keep one triangle of the last two axes; the VJP keeps the same triangle of g."""
    register(
        name,
        lambda x, k: triangle(x, k),
        reads("", lambda F, g, x, out, k: getattr(F, name)(g, k=k)),
        samples=(S((3, 4), k=0), S((2, 4, 3), k=-1), S((3, 3), k=2)),
    )


register_triangle("tril", np.tril)
register_triangle("triu", np.triu)
register(
    "einsum",
    einsum_forward,
    reads("xs", einsum_grad),
    variadic=True,
    samples=(
        S((3, 4), (4, 2), equation="ij,jk->ik"),
        S((2, 3, 4), (2, 4, 5), equation="bij,bjk->bik"),
        S((3, 3), equation="ii->"),
        S((3, 3, 2), equation="iij->ji"),
        S((3, 4), equation="ij->j"),
        S((3,), (4,), (3, 4), equation="i,j,ij->"),
        S((2, 3), (3,), equation="ij,j->ij"),
    ),
)


# ---- argument checks shared by the public functions ---------------------------------------------------


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _dim(who, dim, ndim, name="dim"):
    """`dim` as a non-negative int for a tensor of `ndim` dimensions (a 0-d tensor accepts 0 and -1)."""
    if not _is_int(dim):
        raise TypeError(f"{who}: {name} must be an int, got {type(dim).__name__}")
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise ValueError(f"{who}: {name} {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % bound


def _dims(who, dims, ndim, name="dims"):
    """A tuple of distinct non-negative dims from an int or a sequence of ints."""
    given = (dims,) if _is_int(dims) else tuple(dims)
    normalized = tuple(_dim(who, d, ndim, name) for d in given)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{who}: {name} {given} name the same dimension more than once")
    return normalized


def _index_array(who, index, name="index"):
    """An integer index (Tensor, numpy array or list) as an int64 numpy array."""
    array = np.asarray(index._data if isinstance(index, Tensor) else index)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{who}: {name} must be an integer tensor, got dtype {array.dtype}")
    if array.dtype == np.int64:
        return array
    return computed_array(np.asarray, array, dtype=np.int64)  # a compiled step converts each call's index


def _mask_array(who, mask):
    array = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if array.dtype != np.bool_:
        raise TypeError(f"{who}: mask must be a bool tensor, got dtype {array.dtype}")
    return array


def _check_bounds(who, index, size, dim):
    """Every entry of `index` addresses one of `size` positions along `dim` (no negative entries, as PyTorch)."""
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"{who}: index {bad} is out of bounds for dimension {dim} with size {size}")


def _broadcast_shape(who, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{who}: shapes {' and '.join(map(str, shapes))} cannot be broadcast together") from None


def _as_tensor(x):
    from .tensor_functions import as_tensor

    return as_tensor(x)


def _along_dim(who, input, dim, index, src=None):
    """(x, axis, index array) for an op that addresses `index[i, j, ...]` along `dim` (gather/scatter),
    after PyTorch's checks: index has input's rank, is no larger than input outside `dim` (nor than src
    anywhere), and stays in bounds."""
    x = _as_tensor(input)
    index = _index_array(who, index)
    axis = _dim(who, dim, x.ndim)
    if index.ndim != x.ndim:
        raise ValueError(
            f"{who}: index must have as many dimensions as input ({x.ndim}), got index of shape {index.shape}"
        )
    for d in range(x.ndim):
        if d != axis and index.shape[d] > x.shape[d]:
            raise ValueError(
                f"{who}: index of shape {index.shape} is larger than input of shape {x.shape} in dimension {d}"
            )
        if src is not None and index.shape[d] > src.shape[d]:
            raise ValueError(
                f"{who}: index of shape {index.shape} is larger than src of shape {src.shape} in dimension {d}"
            )
    _check_bounds(who, index, x.shape[axis] if x.ndim else 1, axis)
    return x, axis, index


def _src_for(who, src, index):
    """src cut to the index's shape (PyTorch reads only src's leading block)."""
    src = _as_tensor(src)
    if src.ndim != index.ndim:
        raise ValueError(f"{who}: src must have as many dimensions as index ({index.ndim}), got shape {src.shape}")
    if src.shape != index.shape and all(i <= s for i, s in zip(index.shape, src.shape)):
        return src[tuple(slice(0, n) for n in index.shape)]
    return src


def _run(row, x, operands, attrs, in_place):
    """Row `row` on x and operands: a new tensor, or x edited in place (x is the row's first input)
    through Tensor._inplace, which records the edit in the graph as PyTorch does."""
    if not in_place:
        return apply(OPS[row], x, *operands, **attrs)
    forward = OPS[row].forward
    return x._inplace(
        row, operands, attrs, lambda a, *arrays: np.copyto(a, forward(a, *arrays, **attrs), casting="unsafe")
    )


# ---- gather / scatter family ------------------------------------------------------------------------------


def gather(input: TensorLike, dim: int, index: TensorLike, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] for dim 0 (and so on), as torch.gather; the gradient
    adds back to the gathered positions, accumulating repeats."""
    x, axis, index = _along_dim("gather", input, dim, index)
    return apply(OPS["gather"], x, index=index, axis=axis)


def _scatter_args(who, input, dim, index, src):
    src_tensor = _as_tensor(src)
    x, axis, index = _along_dim(who, input, dim, index, src_tensor)
    return x, axis, index, _src_for(who, src_tensor, index)


def _scatter(input, dim, index, src, value, reduce, in_place):
    if isinstance(src, (int, float)) and value is None:
        src, value = None, src
    if (src is None) == (value is None):
        raise TypeError("scatter: pass exactly one of src (a tensor) and value (a number)")
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if src is None:
            src = np.full(_index_array("scatter", index).shape, value, dtype=_as_tensor(input).dtype)
        return _scatter_reduce(input, dim, index, src, modes[reduce], True, in_place)
    if src is None:
        if not isinstance(value, (int, float, np.number)):
            raise TypeError(f"scatter: value must be a number, got {type(value).__name__}")
        x, axis, index = _along_dim("scatter", input, dim, index)
        src = np.asarray(value, dtype=x.dtype)
    else:
        x, axis, index, src = _scatter_args("scatter", input, dim, index, src)
    return _run("scatter", x, (src,), {"index": index, "axis": axis}, in_place)


def scatter(
    input: TensorLike,
    dim: int,
    index: TensorLike,
    src: TensorLike | Number | None = None,
    value: Number | None = None,
    *,
    reduce: str | None = None,
) -> Tensor:
    """A copy of input with `src[i][j][k]` (or the number `value`) written at `index[i][j][k]` along
    dim, as torch.scatter. `reduce="add"` / `"multiply"` combine instead of writing (scatter_reduce's
    sum and prod). Which of several src elements addressed to one position wins is unspecified, as in
    PyTorch."""
    return _scatter(input, dim, index, src, value, reduce, in_place=False)


def scatter_(
    input: Tensor,
    dim: int,
    index: TensorLike,
    src: TensorLike | Number | None = None,
    value: Number | None = None,
    *,
    reduce: str | None = None,
) -> Tensor:
    """`scatter` in place."""
    return _scatter(input, dim, index, src, value, reduce, in_place=True)


def scatter_add(input: TensorLike, dim: int, index: TensorLike, src: TensorLike) -> Tensor:
    """input with `src[i][j][k]` added at `index[i][j][k]` along dim (repeats accumulate), as torch."""
    return _scatter_reduce(input, dim, index, src, "sum", True, in_place=False)


def scatter_add_(input: Tensor, dim: int, index: TensorLike, src: TensorLike) -> Tensor:
    """`scatter_add` in place."""
    return _scatter_reduce(input, dim, index, src, "sum", True, in_place=True)


def _scatter_reduce(input, dim, index, src, reduce, include_self, in_place):
    if reduce not in REDUCE_UFUNCS:
        raise ValueError(f"scatter_reduce: reduce must be one of {sorted(REDUCE_UFUNCS)}, got {reduce!r}")
    x, axis, index, src = _scatter_args("scatter_reduce", input, dim, index, src)
    row = {"prod": "scatter_prod", "amax": "scatter_extreme", "amin": "scatter_extreme"}.get(reduce, "scatter_reduce")
    attrs = {"index": index, "axis": axis, "reduce": reduce, "include_self": bool(include_self)}
    return _run(row, x, (src,), attrs, in_place)


def scatter_reduce(
    input: TensorLike, dim: int, index: TensorLike, src: TensorLike, reduce: str, *, include_self: bool = True
) -> Tensor:
    """torch.scatter_reduce: each position addressed by index combines the src elements sent to it (and
    its own value when include_self) by reduce: "sum", "prod", "mean", "amax" or "amin"; gradients as
    PyTorch (ties of amax/amin share evenly; prod exact at zeros)."""
    return _scatter_reduce(input, dim, index, src, reduce, include_self, in_place=False)


def scatter_reduce_(
    input: Tensor, dim: int, index: TensorLike, src: TensorLike, reduce: str, *, include_self: bool = True
) -> Tensor:
    """`scatter_reduce` in place."""
    return _scatter_reduce(input, dim, index, src, reduce, include_self, in_place=True)


def _index_along(who, input, dim, index):
    """(x, axis, 1-D index array) for index_select / index_add / index_copy."""
    x = _as_tensor(input)
    if x.ndim == 0:
        raise ValueError(f"{who}: input must have at least one dimension, got a 0-d tensor")
    axis = _dim(who, dim, x.ndim)
    index = _index_array(who, index)
    if index.ndim > 1:
        raise ValueError(f"{who}: index must be 0-d or 1-D, got shape {index.shape}")
    index = index.reshape(-1)
    _check_bounds(who, index, x.shape[axis], axis)
    return x, axis, index


def index_select(input: TensorLike, dim: int, index: TensorLike) -> Tensor:
    """The slices of input at the positions `index` along dim, in that order (repeats allowed)."""
    x, axis, index = _index_along("index_select", input, dim, index)
    return apply(OPS["getitem"], x, index=along(axis, x.ndim, index))


def _source_along(who, x, axis, index, source):
    source = _as_tensor(source)
    expected = x.shape[:axis] + (len(index),) + x.shape[axis + 1 :]
    if source.shape != expected:
        raise ValueError(
            f"{who}: source must have shape {expected} (input {x.shape} with dim {axis} of the index's length "
            f"{len(index)}), got {source.shape}"
        )
    return source


def _index_update(who, input, dim, index, source, attrs, in_place):
    x, axis, index = _index_along(who, input, dim, index)
    source = _source_along(who, x, axis, index, source)
    return _run(who, x, (source,), {"index": index, "axis": axis, **attrs}, in_place)


def index_add(input: TensorLike, dim: int, index: TensorLike, source: TensorLike, *, alpha: Number = 1) -> Tensor:
    """input with `alpha * source[..., i, ...]` added at position `index[i]` along dim (repeats accumulate)."""
    return _index_update("index_add", input, dim, index, source, {"alpha": alpha}, in_place=False)


def index_add_(input: Tensor, dim: int, index: TensorLike, source: TensorLike, *, alpha: Number = 1) -> Tensor:
    """`index_add` in place."""
    return _index_update("index_add", input, dim, index, source, {"alpha": alpha}, in_place=True)


def index_copy(input: TensorLike, dim: int, index: TensorLike, source: TensorLike) -> Tensor:
    """input with `source[..., i, ...]` written at position `index[i]` along dim."""
    return _index_update("index_copy", input, dim, index, source, {}, in_place=False)


def index_copy_(input: Tensor, dim: int, index: TensorLike, source: TensorLike) -> Tensor:
    """`index_copy` in place."""
    return _index_update("index_copy", input, dim, index, source, {}, in_place=True)


# ---- masks --------------------------------------------------------------------------------------------------


def _fill_value(who, value):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{who}: value must be a number or a 0-d tensor, got a tensor of shape {value.shape}")
        return value
    if not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{who}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return value


def masked_fill(input: TensorLike, mask: TensorLike, value: Number | Tensor) -> Tensor:
    """input with `value` where the bool mask is True (mask and input broadcast together). A 0-d tensor
    value receives the sum of the gradient at the filled positions."""
    x, where = _as_tensor(input), _mask_array("masked_fill", mask)
    shape = _broadcast_shape("masked_fill", x.shape, where.shape)
    return apply(
        OPS["masked_fill"], x.broadcast_to(shape), _fill_value("masked_fill", value), mask=np.broadcast_to(where, shape)
    )


def masked_fill_(input: Tensor, mask: TensorLike, value: Number | Tensor) -> Tensor:
    """masked_fill in place: the mask must broadcast to input's shape."""
    where = _mask_array("masked_fill_", mask)
    if _broadcast_shape("masked_fill_", input.shape, where.shape) != input.shape:
        raise ValueError(
            f"masked_fill_: mask of shape {where.shape} does not broadcast to the input's shape {input.shape}"
        )
    attrs = {"mask": np.broadcast_to(where, input.shape)}
    return _run("masked_fill", input, (_fill_value("masked_fill_", value),), attrs, in_place=True)


def masked_select(input: TensorLike, mask: TensorLike) -> Tensor:
    """The 1-D tensor of input's elements where the bool mask is True (mask and input broadcast together)."""
    x, where = _as_tensor(input), _mask_array("masked_select", mask)
    shape = _broadcast_shape("masked_select", x.shape, where.shape)
    return apply(OPS["getitem"], x.broadcast_to(shape), index=(np.broadcast_to(where, shape),))


def nonzero(input: TensorLike, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the nonzero elements: an int64 (count, ndim) tensor, or with `as_tuple` one 1-D
    tensor per dimension (a 0-d input counts as 1-D, as PyTorch)."""
    report("nonzero: the output's shape depends on the tensor's values")
    values = np.asarray(_as_tensor(input)._data)
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(values)))
    return Tensor(np.argwhere(values).astype(np.int64))


def argwhere(input: TensorLike) -> Tensor:
    """`nonzero(input)`: the (count, ndim) indices of the nonzero elements."""
    result = nonzero(input)
    assert isinstance(result, Tensor)
    return result


def take_along_dim(input: TensorLike, indices: TensorLike, dim: int | None = None) -> Tensor:
    """input's values at `indices` along dim, input and indices broadcast together elsewhere; with dim
    None, both are flattened first (as torch.take_along_dim)."""
    x, index = _as_tensor(input), _index_array("take_along_dim", indices, "indices")
    if dim is None:
        return gather(x.reshape(-1), 0, index.reshape(-1))
    if index.ndim != x.ndim:
        raise ValueError(
            f"take_along_dim: input and indices must have the same number of dimensions, got shapes {x.shape} "
            f"and {index.shape}"
        )
    axis = _dim("take_along_dim", dim, x.ndim)
    rest = _broadcast_shape(
        "take_along_dim",
        x.shape[:axis] + (1,) + x.shape[axis + 1 :],
        index.shape[:axis] + (1,) + index.shape[axis + 1 :],
    )
    x = x.broadcast_to(rest[:axis] + x.shape[axis : axis + 1] + rest[axis + 1 :])
    return gather(x, axis, np.broadcast_to(index, rest[:axis] + index.shape[axis : axis + 1] + rest[axis + 1 :]))


# ---- flips, rolls, diagonals, triangles -------------------------------------------------------------------


def flip(input: TensorLike, dims: int | Sequence[int]) -> Tensor:
    """A copy of input with the order of the elements reversed along each of `dims`."""
    x = _as_tensor(input)
    return apply(OPS["flip"], x, axes=_dims("flip", dims, x.ndim) if x.ndim else ())


def fliplr(input: TensorLike) -> Tensor:
    """Reverse the columns (dim 1) of a tensor with at least two dimensions."""
    x = _as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"fliplr: input must have at least 2 dimensions, got shape {x.shape}")
    return flip(x, 1)


def flipud(input: TensorLike) -> Tensor:
    """Reverse the rows (dim 0) of a tensor with at least one dimension."""
    x = _as_tensor(input)
    if x.ndim < 1:
        raise ValueError("flipud: input must have at least 1 dimension, got a 0-d tensor")
    return flip(x, 0)


def roll(input: TensorLike, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """Elements shifted cyclically by `shifts` along `dims` (by one shift over the flattened tensor
    when dims is None, the shape kept)."""
    x = _as_tensor(input)
    shift_list: tuple[Any, ...] = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if not all(_is_int(s) for s in shift_list):
        raise TypeError(f"roll: shifts must be ints, got {shifts!r}")
    if dims is None:
        if len(shift_list) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return apply(OPS["roll"], x, shifts=(int(shift_list[0]),), axes=None)
    axes = (
        (_dim("roll", dims, x.ndim),)
        if isinstance(dims, (int, np.integer))
        else tuple(_dim("roll", d, x.ndim) for d in dims)
    )
    if len(axes) != len(shift_list):
        raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same length")
    return apply(OPS["roll"], x, shifts=tuple(int(s) for s in shift_list), axes=axes)


def diagonal(input: TensorLike, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The `offset` diagonal of dims dim1 and dim2 (above the main one for offset > 0), as the last
    dimension of the result, the other dimensions kept in order (as torch.diagonal; a copy)."""
    x = _as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"diagonal: input must have at least 2 dimensions, got shape {x.shape}")
    axis1, axis2 = _dim("diagonal", dim1, x.ndim, "dim1"), _dim("diagonal", dim2, x.ndim, "dim2")
    if axis1 == axis2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return apply(OPS["diagonal"], x, offset=int(offset), axis1=axis1, axis2=axis2)


def diag_embed(input: TensorLike, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Zeros with input's last dimension written on the `offset` diagonal of dims dim1 and dim2 of the
    result (which has one dimension more), as torch.diag_embed."""
    x = _as_tensor(input)
    if x.ndim < 1:
        raise ValueError("diag_embed: input must have at least 1 dimension, got a 0-d tensor")
    axis1, axis2 = _dim("diag_embed", dim1, x.ndim + 1, "dim1"), _dim("diag_embed", dim2, x.ndim + 1, "dim2")
    if axis1 == axis2:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
    size, rest = x.shape[-1] + abs(int(offset)), iter(x.shape[:-1])
    shape = tuple(size if d in (axis1, axis2) else next(rest) for d in range(x.ndim + 1))
    return apply(OPS["diag_embed"], x, offset=int(offset), axis1=axis1, axis2=axis2, shape=shape)


def diag(input: TensorLike, diagonal: int = 0) -> Tensor:
    """A 1-D input becomes the square matrix with it on the `diagonal` diagonal; a 2-D input gives that
    diagonal as a 1-D tensor (as torch.diag)."""
    x = _as_tensor(input)
    if x.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x.ndim == 2:
        return apply(OPS["diagonal"], x, offset=int(diagonal), axis1=0, axis2=1)
    raise ValueError(f"diag: input must be 1-D or 2-D, got shape {x.shape}")


def _triangle(who, input, diagonal):
    x = _as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"{who}: input must have at least 2 dimensions, got shape {x.shape}")
    if not _is_int(diagonal):
        raise TypeError(f"{who}: diagonal must be an int, got {type(diagonal).__name__}")
    return apply(OPS[who], x, k=int(diagonal))


def tril(input: TensorLike, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (on and below the `diagonal` diagonal); zeros above."""
    return _triangle("tril", input, diagonal)


def triu(input: TensorLike, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (on and above the `diagonal` diagonal); zeros below."""
    return _triangle("triu", input, diagonal)


# ---- shape helpers ---------------------------------------------------------------------------------------


def unflatten(input: TensorLike, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dimension `dim` split into `sizes` (one of them may be -1, inferred), as torch.unflatten."""
    x = _as_tensor(input)
    axis = _dim("unflatten", dim, x.ndim)
    sizes = tuple(sizes)
    if not sizes or not all(_is_int(n) and n >= -1 for n in sizes) or sizes.count(-1) > 1:
        raise ValueError(f"unflatten: sizes must be non-empty ints >= 0, with at most one -1, got {sizes}")
    known = math.prod(n for n in sizes if n != -1)
    length = x.shape[axis]
    if -1 in sizes:
        if known == 0 or length % known:
            raise ValueError(f"unflatten: sizes {sizes} cannot split dimension {axis} of size {length}")
        sizes = tuple(length // known if n == -1 else n for n in sizes)
    elif known != length:
        raise ValueError(f"unflatten: sizes {sizes} multiply to {known}, not to the size {length} of dimension {axis}")
    return x.reshape(x.shape[:axis] + sizes + x.shape[axis + 1 :])


def meshgrid(*tensors: TensorLike | Sequence[TensorLike], indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D (or 0-d) tensors: with indexing "ij" output k varies along dim k; with
    "xy" the first two dims are swapped (Cartesian). Omitting indexing warns and uses "ij", as PyTorch."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "meshgrid: pass the indexing argument ('ij' or 'xy'); without it 'ij' is used, as in PyTorch",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    parts = [_as_tensor(t) for t in tensors]
    if not parts:
        raise ValueError("meshgrid: expected at least one tensor")
    for k, t in enumerate(parts):
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-D tensors, got shape {t.shape} at position {k}")
    axes = list(range(len(parts)))
    if indexing == "xy" and len(parts) > 1:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(parts)
    for t, axis in zip(parts, axes):
        shape[axis] = t.numel()
    grids = []
    for t, axis in zip(parts, axes):
        line = [1] * len(parts)
        line[axis] = t.numel()
        grids.append(t.reshape(tuple(line)).broadcast_to(tuple(shape)))
    return tuple(grids)


def movedim(input: TensorLike, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """The dims `source` moved to positions `destination`, the others kept in order (a view)."""
    x = _as_tensor(input)
    sources, targets = _dims("movedim", source, x.ndim, "source"), _dims("movedim", destination, x.ndim, "destination")
    if len(sources) != len(targets):
        raise ValueError(f"movedim: source {source!r} and destination {destination!r} must have the same length")
    order = [d for d in range(x.ndim) if d not in sources]
    for target, moved in sorted(zip(targets, sources)):
        order.insert(target, moved)
    return x.permute(*order)


moveaxis = movedim


def narrow(input: TensorLike, dim: int, start: int | Tensor, length: int) -> Tensor:
    """The `length` elements from `start` along dim (a negative start counts from the end), a view."""
    x = _as_tensor(input)
    if x.ndim == 0:
        raise ValueError("narrow: input must have at least 1 dimension, got a 0-d tensor")
    axis = _dim("narrow", dim, x.ndim)
    first: Any = start.item() if isinstance(start, Tensor) else start
    size = x.shape[axis]
    if not _is_int(first) or not -size <= first <= size:
        raise IndexError(f"narrow: start {first!r} is out of range for dimension {axis} of size {size}")
    start = int(first) % size if first < 0 else int(first)
    if not _is_int(length) or length < 0 or start + length > size:
        raise ValueError(f"narrow: start {start} + length {length} exceeds dimension {axis} of size {size}")
    return apply(OPS["getitem"], x, index=along(axis, x.ndim, slice(start, start + int(length))))


def select(input: TensorLike, dim: int, index: int) -> Tensor:
    """The slice at position `index` along dim, that dimension removed (`x.select(0, i)` is `x[i]`)."""
    x = _as_tensor(input)
    if x.ndim == 0:
        raise ValueError("select: input must have at least 1 dimension, got a 0-d tensor")
    axis = _dim("select", dim, x.ndim)
    size = x.shape[axis]
    if not _is_int(index) or not -size <= index < size:
        raise IndexError(f"select: index {index!r} is out of range for dimension {axis} of size {size}")
    return apply(OPS["getitem"], x, index=along(axis, x.ndim, int(index)))


def repeat_interleave(
    input: TensorLike,
    repeats: int | TensorLike | None = None,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> Tensor:
    """Each element (each slice along dim; of the flattened input when dim is None) repeated `repeats`
    times in place: `[1, 2] -> [1, 1, 2, 2]`; repeats is an int or one count per slice. With repeats
    omitted, input holds the counts and the result is the repeated positions (torch's one-argument form)."""
    if repeats is None:
        counts = _index_array("repeat_interleave", input, "repeats")
        return Tensor(np.repeat(np.arange(counts.size), counts.reshape(-1)))
    x = _as_tensor(input)
    if dim is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = _dim("repeat_interleave", dim, x.ndim)
    length = x.shape[axis] if x.ndim else 1
    counts = _index_array("repeat_interleave", repeats, "repeats").reshape(-1)
    if counts.size not in (1, length):
        raise ValueError(
            f"repeat_interleave: repeats must be one int or {length} counts (one per slice), got {counts.size}"
        )
    if np.any(counts < 0):
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {counts.tolist()}")
    positions = np.repeat(np.arange(length), np.broadcast_to(counts, (length,)))
    if output_size is not None and output_size != len(positions):
        raise ValueError(
            f"repeat_interleave: output_size {output_size} differs from the repeated length {len(positions)}"
        )
    return apply(OPS["getitem"], x, index=along(axis, max(x.ndim, 1), positions))


# ---- einsum and the matrix products ---------------------------------------------------------------------


def _einsum_terms(equation, n_operands):
    """(input terms, output term or None) of an einsum equation, spaces removed, checked for form."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != n_operands:
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand(s), but {n_operands} were given")
    for term in terms + ([output] if arrow else []):
        letters = term.replace("...", "", 1)
        if not all(c.isascii() and c.isalpha() for c in letters):
            raise ValueError(
                f"einsum: subscripts must be letters a-z, A-Z with at most one '...' per term, got {term!r} "
                f"in {equation!r}"
            )
    return terms, (output if arrow else None)


def einsum(equation: str, *operands: TensorLike | Sequence[TensorLike]) -> Tensor:
    """Sum of products over subscripts, as torch.einsum: `einsum("ij,jk->ik", a, b)` is `a @ b`;
    operands may also come as one list. Ellipsis, broadcasting of size-1 dimensions, implicit output
    (the letters used once, sorted) and repeated subscripts (traces, diagonals) are supported."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    xs = [_as_tensor(x) for x in operands]
    if not xs:
        raise ValueError("einsum: expected at least one operand")
    terms, output = _einsum_terms(equation, len(xs))
    fresh = _unused_letters(equation)
    n_ellipsis = 0
    for k, (term, x) in enumerate(zip(terms, xs)):
        named = len(term.replace("...", ""))
        if ("..." in term and x.ndim < named) or ("..." not in term and x.ndim != named):
            raise ValueError(f"einsum: operand {k} has {x.ndim} dimensions, but its subscripts {term!r} name {named}")
        n_ellipsis = max(n_ellipsis, x.ndim - named)
    ellipsis_letters = "".join(fresh[:n_ellipsis])
    explicit = []
    for term, x in zip(terms, xs):  # an operand's ellipsis dims take the last of the ellipsis letters
        covered_by_ellipsis = x.ndim - len(term.replace("...", ""))
        explicit.append(term.replace("...", ellipsis_letters[n_ellipsis - covered_by_ellipsis :]))
    if output is None:
        counts = {c: "".join(explicit).count(c) for c in "".join(explicit)}
        output = ellipsis_letters + "".join(
            sorted(c for c, n in counts.items() if n == 1 and c not in ellipsis_letters)
        )
    else:
        output = output.replace("...", ellipsis_letters)
    if len(set(output)) != len(output) or not set(output) <= set("".join(explicit)):
        raise ValueError(
            f"einsum: output subscripts {output!r} must be distinct and appear among the inputs of {equation!r}"
        )
    sizes: dict[str, int] = {}
    for k, (term, x) in enumerate(zip(explicit, xs)):
        for letter, n in zip(term, x.shape):
            if term.count(letter) > 1 and n != x.shape[term.index(letter)]:
                raise ValueError(
                    f"einsum: subscript {letter!r} is repeated in operand {k} with different sizes "
                    f"{x.shape[term.index(letter)]} and {n}"
                )
            if sizes.get(letter, 1) not in (1, n) and n != 1:
                raise ValueError(
                    f"einsum: subscript {letter!r} has size {sizes[letter]} in one operand and {n} in operand {k}"
                )
            if n != 1 or letter not in sizes:
                sizes[letter] = n
    # size-1 dimensions broadcast against the others (a differentiable broadcast: its gradient sums)
    xs = [x.broadcast_to(tuple(sizes[c] for c in term)) for term, x in zip(explicit, xs)]
    return apply(OPS["einsum"], *xs, equation=",".join(explicit) + "->" + output)


def _ranks(who, expected, *named):
    for name, x in named:
        if x.ndim != expected:
            raise ValueError(f"{who}: {name} must be a {expected}-D tensor, got shape {x.shape}")


def mm(input: TensorLike, mat2: TensorLike) -> Tensor:
    """The matrix product of two 2-D tensors (no broadcasting, as torch.mm)."""
    x, y = _as_tensor(input), _as_tensor(mat2)
    _ranks("mm", 2, ("input", x), ("mat2", y))
    return _matmul(x, y)


def bmm(input: TensorLike, mat2: TensorLike) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting, as torch.bmm)."""
    x, y = _as_tensor(input), _as_tensor(mat2)
    _ranks("bmm", 3, ("input", x), ("mat2", y))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: shapes {x.shape} and {y.shape}")
    return _matmul(x, y)


def dot(input: TensorLike, tensor: TensorLike) -> Tensor:
    """The inner product of two 1-D tensors of one length."""
    x, y = _as_tensor(input), _as_tensor(tensor)
    _ranks("dot", 1, ("input", x), ("tensor", y))
    if x.shape != y.shape:
        raise ValueError(f"dot: the tensors must have the same length, got shapes {x.shape} and {y.shape}")
    return _matmul(x, y)


def outer(input: TensorLike, vec2: TensorLike) -> Tensor:
    """The outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    x, y = _as_tensor(input), _as_tensor(vec2)
    _ranks("outer", 1, ("input", x), ("vec2", y))
    return x.reshape(-1, 1) * y


def inner(input: TensorLike, other: TensorLike) -> Tensor:
    """Sum over the last dimension of both: shape input.shape[:-1] + other.shape[:-1] (a product when
    either is 0-d), as torch.inner."""
    x, y = _as_tensor(input), _as_tensor(other)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"inner: the last dimensions differ: shapes {x.shape} and {y.shape}")
    flat = _matmul(x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1]).transpose(0, 1))
    return flat.reshape(x.shape[:-1] + y.shape[:-1])


def expand(input: Tensor, sizes: tuple[Any, ...]) -> Tensor:
    """input broadcast to `sizes` (-1 keeps a dimension's size; new dimensions go in front), a view."""
    given = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)
    if not all(_is_int(n) for n in given):
        raise TypeError(f"expand: sizes must be ints, got {given}")
    if len(given) < input.ndim:
        raise ValueError(
            f"expand: the {len(given)} sizes {given} are fewer than the {input.ndim} dims of {input.shape}"
        )
    lead = len(given) - input.ndim
    shape = []
    for d, n in enumerate(given):
        if d < lead:
            if n < 0:
                raise ValueError(f"expand: size {n} is not allowed for the new leading dimension {d}")
            shape.append(int(n))
            continue
        own = input.shape[d - lead]
        if n == -1:
            n = own
        if own != 1 and n != own:
            raise ValueError(
                f"expand: the size {own} of dimension {d - lead} of {input.shape} must match {n} (or be 1) in {given}"
            )
        shape.append(int(n))
    return input.broadcast_to(tuple(shape))
