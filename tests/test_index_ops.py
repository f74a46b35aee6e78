"""Indexing and shape ops as PyTorch spells them (autograd_core/index_ops.py, Tensor.__getitem__ and
__setitem__): values and gradients against torch in float64 on a table of calls, the index placement
rules on a table of index expressions, the errors, and the values that hold without torch.

The registry rows themselves are gradchecked, gradgradchecked and compared with torch by
tests/test_ops_registry.py; here the public functions and methods are checked end to end."""

import re
import warnings

import numpy as np
import pytest

import autograd_core as ag

try:
    import torch
except ImportError:  # torch is an optional oracle: without it the comparisons skip, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4, 5))
V = RNG.standard_normal(4)
W = RNG.standard_normal(3)
IDX = np.array([[0, 3, 3], [1, 0, 2], [2, 2, 2]])  # (3, 3): index along dim 1 of a (3, 4) tensor
ROWS = np.array([[0, 1, 2, 2], [2, 0, 0, 1]])  # (2, 4): index along dim 0 of a (3, 4) tensor


def _outputs(result):
    return result if isinstance(result, (tuple, list)) else (result,)


def compare_with_torch(fn, *arrays, grad=True):
    """fn(m, *tensors) run with m = ag and m = torch on the same inputs (float arrays require grad):
    equal values, then, after one backward with the same random upstream gradients, equal gradients."""
    ours = [ag.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's deprecation notes (scatter's reduce=)
        outs, expected = _outputs(fn(ag, *ours)), _outputs(fn(torch, *theirs))
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        assert o.shape == tuple(e.shape)
        np.testing.assert_allclose(np.asarray(o), e.detach().numpy(), rtol=1e-12, atol=1e-12)
    if not grad:
        return
    seeds = [RNG.standard_normal(o.shape) for o in outs if o.dtype.kind == "f"]
    ag.engine.backward([o for o in outs if o.dtype.kind == "f"], [ag.tensor(s) for s in seeds])
    torch.autograd.backward([e for e in expected if e.is_floating_point()], [torch.tensor(s) for s in seeds])
    for x, t in zip(ours, theirs):
        if x.requires_grad:
            reference = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(
                np.asarray(x.grad) if x.grad is not None else 0 * reference, reference, rtol=1e-10, atol=1e-12
            )


def const(m, array):
    """An index or mask constant in library m (ag or torch)."""
    return m.tensor(np.asarray(array))


CALLS = {
    # gather / scatter family
    "gather dim 1": (lambda m, x: m.gather(x, 1, const(m, IDX)), A),
    "gather dim 0, keywords": (lambda m, x: x.gather(dim=0, index=const(m, ROWS)), A),
    "gather smaller index": (lambda m, x: m.gather(x, -1, const(m, [[1, 0], [3, 3]])), A),
    "scatter src": (lambda m, x, s: m.scatter(x, 0, const(m, [[0, 1, 2, 1], [2, 0, 1, 0]]), s), A, A[:2] * 3),
    "scatter value": (lambda m, x: x.scatter(1, const(m, [[0], [3], [1]]), 2.5), A),
    "scatter value keyword": (lambda m, x: m.scatter(x, 1, const(m, [[0], [3], [1]]), value=-1.0), A),
    "scatter_add": (lambda m, x, s: m.scatter_add(x, 1, const(m, IDX), s), A, A[:, :3]),
    "scatter_add dim 0": (lambda m, x, s: x.scatter_add(0, const(m, ROWS), s), A, A[:2] + 1),
    **{
        f"scatter_reduce {reduce} include_self={include_self}": (
            lambda m, x, s, reduce=reduce, include_self=include_self: m.scatter_reduce(
                x, 1, const(m, IDX), s, reduce, include_self=include_self
            ),
            A,
            A[:, :3] * 2,
        )
        for reduce in ("sum", "mean", "amax", "amin", "prod")
        for include_self in (True, False)
    },
    "scatter_reduce prod with zeros": (
        lambda m, x, s: x.scatter_reduce(1, const(m, [[0, 0, 1], [1, 1, 1], [2, 3, 2]]), s, "prod"),
        np.array([[0.0, 2.0, 0.5, 1.0], [1.5, 0.0, 2.0, 3.0], [0.0, 1.0, 2.0, 0.0]]),
        np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.5, 2.0]]),
    ),
    "scatter_reduce prod with zeros, include_self=False": (
        lambda m, x, s: m.scatter_reduce(
            x, 1, const(m, [[0, 0, 1], [1, 1, 1], [2, 3, 2]]), s, "prod", include_self=False
        ),
        np.array([[0.0, 2.0, 0.5, 1.0], [1.5, 0.0, 2.0, 3.0], [0.0, 1.0, 2.0, 0.0]]),
        np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.5, 2.0]]),
    ),
    "index_select": (lambda m, x: m.index_select(x, 1, const(m, [3, 0, 3])), A),
    "index_select dim 0 method": (lambda m, x: x.index_select(0, const(m, [2, 2])), B),
    "index_add": (lambda m, x, s: m.index_add(x, 0, const(m, [2, 0, 2]), s), A, A + 1),
    "index_add alpha": (lambda m, x, s: x.index_add(1, const(m, [1, 3]), s, alpha=-2.0), A, A[:, :2]),
    "index_copy": (lambda m, x, s: m.index_copy(x, 1, const(m, [3, 0]), s), A, A[:, :2] * 5),
    "masked_fill number": (lambda m, x: m.masked_fill(x, const(m, A > 0), 0.5), A),
    "masked_fill 0-d tensor value": (lambda m, x, v: x.masked_fill(const(m, A > 0), v), A, np.array(3.0)),
    "masked_fill broadcast mask": (lambda m, x: x.masked_fill(const(m, [True, False, False, True]), -1.0), A),
    "masked_fill broadcasts input": (lambda m, x: m.masked_fill(x, const(m, [[True], [False]]), 0.0), V),
    "masked_fill_ on a clone": (lambda m, x: x.clone().masked_fill_(const(m, A < 0), 7.0) * 2, A),
    "masked_select": (lambda m, x: m.masked_select(x, const(m, A > 0)), A),
    "masked_select broadcast": (lambda m, x: x.masked_select(const(m, [[True], [False], [True]])), V),
    "take_along_dim flat": (lambda m, x: m.take_along_dim(x, const(m, [0, 11, 5, 5])), A),
    "take_along_dim dim": (lambda m, x: m.take_along_dim(x, const(m, np.argsort(A, axis=1)), dim=1), A),
    "take_along_dim broadcast": (lambda m, x: x.take_along_dim(const(m, [[0, 2]]), 1), A),
    # flips, rolls, diagonals, triangles
    "flip": (lambda m, x: m.flip(x, (0, 2)), B),
    "flip method varargs": (lambda m, x: x.flip(-1), B),
    "fliplr": (lambda m, x: m.fliplr(x), A),
    "flipud": (lambda m, x: x.flipud(), A),
    "roll flat": (lambda m, x: m.roll(x, 5), A),
    "roll dims": (lambda m, x: x.roll((1, -2), (0, 2)), B),
    "roll keywords": (lambda m, x: m.roll(x, shifts=2, dims=1), A),
    "diag of a vector": (lambda m, x: m.diag(x), V),
    "diag of a vector, offset": (lambda m, x: x.diag(-2), V),
    "diag of a matrix": (lambda m, x: m.diag(x, 1), A),
    "diagonal": (lambda m, x: m.diagonal(x, 0, 0, 2), B),
    "diagonal keywords": (lambda m, x: x.diagonal(offset=-1, dim1=1, dim2=-1), B),
    "diag_embed": (lambda m, x: m.diag_embed(x), A),
    "diag_embed offset dims": (lambda m, x: x.diag_embed(offset=1, dim1=0, dim2=2), A),
    "tril": (lambda m, x: m.tril(x), B),
    "triu diagonal": (lambda m, x: x.triu(diagonal=1), A),
    "tril negative": (lambda m, x: x.tril(-1), A),
    # shapes
    "unflatten": (lambda m, x: m.unflatten(x, 2, (5, 1)), B),
    "unflatten -1": (lambda m, x: x.unflatten(1, (2, -1)), A),
    "meshgrid ij": (lambda m, a, b, c: m.meshgrid(a, b, c, indexing="ij"), V, W, V[:2]),
    "meshgrid xy": (lambda m, a, b, c: m.meshgrid([a, b, c], indexing="xy"), V, W, V[:2]),
    "expand": (lambda m, x: x.expand(2, 3, -1), A[:, :1]),
    "expand tuple": (lambda m, x: x.expand((3, 4)), V),
    "expand_as": (lambda m, x, y: x.expand_as(y), W[:, None], A),
    "view_as": (lambda m, x, y: x.view_as(y), A, A.reshape(2, 6)),
    "reshape_as": (lambda m, x, y: x.reshape_as(y), B, B.reshape(5, 12)),
    "movedim": (lambda m, x: m.movedim(x, 0, -1), B),
    "movedim several": (lambda m, x: x.movedim((0, 1), (2, 0)), B),
    "moveaxis": (lambda m, x: m.moveaxis(x, -1, 1), B),
    "narrow": (lambda m, x: m.narrow(x, 1, 1, 2), A),
    "narrow negative start": (lambda m, x: x.narrow(-1, -3, 3), B),
    "select": (lambda m, x: m.select(x, 1, -1), B),
    "select method": (lambda m, x: x.select(0, 2), A),
    "repeat": (lambda m, x: x.repeat(2, 1), A),
    "repeat adds dims": (lambda m, x: x.repeat(2, 1, 3), A),
    "repeat_interleave int": (lambda m, x: m.repeat_interleave(x, 2), A),
    "repeat_interleave dim": (lambda m, x: x.repeat_interleave(3, dim=1), A),
    "repeat_interleave tensor": (lambda m, x: m.repeat_interleave(x, const(m, [1, 0, 2]), dim=0), A),
    "repeat_interleave output_size": (lambda m, x: x.repeat_interleave(const(m, [2, 1, 0, 1]), 1, output_size=4), A),
    # einsum and products
    "einsum matmul": (lambda m, x, y: m.einsum("ij,jk->ik", x, y), A, A.T),
    "einsum list of operands": (lambda m, x, y: m.einsum("ij,kj->ik", [x, y]), A, A),
    "einsum implicit output": (lambda m, x, y: m.einsum("ij,jk", x, y), A, A.T),
    "einsum implicit order": (lambda m, x: m.einsum("ba", x), A),
    "einsum trace": (lambda m, x: m.einsum("ii", x), A[:, :3]),
    "einsum diagonal": (lambda m, x: m.einsum("ii->i", x), A[:, :3]),
    "einsum batch diagonal": (lambda m, x: m.einsum("...ii->...i", x), B[:, :4, :4]),
    "einsum ellipsis": (lambda m, x, y: m.einsum("...ij,...jk->...ik", x, y), B, B.transpose(0, 2, 1)),
    "einsum ellipsis broadcast": (lambda m, x, y: m.einsum("...ij,...jk", x, y), B[:1], B.transpose(0, 2, 1)),
    "einsum spaces, three operands": (lambda m, x, y, z: m.einsum("i j, j, k -> i k", x, y, z), A, V, W),
    "einsum dot": (lambda m, x: m.einsum("i,i", x, x), V),
    "einsum sum out": (lambda m, x: m.einsum("ijk->j", x), B),
    "mm": (lambda m, x, y: m.mm(x, y), A, A.T),
    "bmm": (lambda m, x, y: x.bmm(y), B, B.transpose(0, 2, 1)),
    "dot": (lambda m, x, y: m.dot(x, y), V, V * 2),
    "outer": (lambda m, x, y: x.outer(y), V, W),
    "inner": (lambda m, x, y: m.inner(x, y), B, B[0, :2]),
    "inner scalar": (lambda m, x, y: m.inner(x, y), np.array(2.0), A),
    "matmul keywords": (lambda m, x, y: m.matmul(input=x, other=y), B, B[0].T),
    "matmul method": (lambda m, x, y: x.matmul(y), V, A.T),
}


@needs_torch
@pytest.mark.parametrize("name", list(CALLS))
def test_matches_torch(name):
    fn, *arrays = CALLS[name]
    compare_with_torch(fn, *arrays)


NO_GRADIENT_CALLS = {  # torch has no gradient for these (integer outputs, a reduction it leaves out, a larger src)
    "scatter larger src": (lambda m, x: x.scatter(1, const(m, [[0, 1], [3, 2], [1, 0]]), x[:, :3] * 2), A),
    "scatter reduce=add": (lambda m, x: x.scatter(1, const(m, IDX), x[:, :3], reduce="add"), A),
    "scatter reduce=multiply value": (lambda m, x: x.scatter(1, const(m, IDX), 2.0, reduce="multiply"), A),
    "nonzero": (lambda m, x: m.nonzero(x), np.array([[0, 1, 2], [3, 0, 0]])),
    "nonzero as_tuple": (lambda m, x: x.nonzero(as_tuple=True), np.array([[0, 1, 2], [3, 0, 0]])),
    "nonzero 0-d": (lambda m, x: m.nonzero(x), np.array(5)),
    "argwhere": (lambda m, x: m.argwhere(x), np.array([[True, False], [False, True]])),
    "repeat_interleave counts only": (lambda m, x: m.repeat_interleave(x), np.array([2, 0, 3])),
}


@needs_torch
@pytest.mark.parametrize("name", list(NO_GRADIENT_CALLS))
def test_matches_torch_values(name):
    fn, *arrays = NO_GRADIENT_CALLS[name]
    compare_with_torch(fn, *arrays, grad=False)


# ---- indexing: PyTorch's placement of the advanced-index dimensions -----------------------------------------

I2 = np.array([0, 2, 2])  # repeated on purpose: the gradient must accumulate
J2 = np.array([1, 3])
COL = np.array([[0], [2]])
ROW = np.array([[1, 4, 0]])
MASK_B = B > 0
INDEXES = {
    "int": 0,
    "negative int": -1,
    "two ints": (0, 1),
    "slice": slice(1, 3),
    "slice then int": (slice(None), 2),
    "ellipsis int": (Ellipsis, 1),
    "None int": (None, 0),
    "int None slice int": (0, None, slice(None), 1),
    "array": I2,
    "int, slice, array": (0, slice(None), J2),
    "array, int, array": (I2, 0, I2),
    "slice, array, int": (slice(None), J2, 0),
    "array, slice, int": (I2, slice(None), 0),
    "int, array, array": (0, J2, J2),
    "array, None, array": (I2, None, I2),
    "ellipsis array": (Ellipsis, J2),
    "array, ellipsis, array": (I2, Ellipsis, I2),
    "slice, array, array": (slice(None), J2, J2),
    "array, slice, array": (I2, slice(1, 3), I2),
    "2-D array": (COL,),
    "int, 2-D array": (0, COL),
    "slice, int, 2-D array": (slice(None), 0, COL),
    "broadcast arrays with a slice between": (COL, slice(None), ROW),
    "int, broadcast arrays": (1, J2[:, None], ROW),
    "full mask": MASK_B,
    "2-D mask": (MASK_B[:, :, 0],),
    "int, 2-D mask": (0, MASK_B[0]),
    "mask, int": (MASK_B[:, 0, 0], 0),
    "slice, mask, int": (slice(None), MASK_B[0, :, 0], 0),
    "int, slice, mask": (0, slice(None), MASK_B[0, 0]),
    "True": True,
    "int, True": (0, True),
    "array, True": (I2, True),
    "False": (False,),
    "0-d integer tensor is an int": (np.array(1), slice(None), J2),
    "list": [0, 2],
    "list with negatives": [-1, 0, -1],
    "negative array entries": (slice(None), np.array([-1, 0])),
    "empty list": [],
    "int, slice, list": (1, slice(None), [4, 0]),
    "tuple inside the index": ((0, 2),),
}


def _torch_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    converted = tuple(
        torch.as_tensor(np.asarray(p, dtype=np.int64) if isinstance(p, list) else p)
        if isinstance(p, (np.ndarray, list))
        else p
        for p in parts
    )
    return converted if isinstance(index, tuple) else converted[0]


def _ours_index(index):
    """Arrays as ag tensors (lists and arrays are covered by the table's other entries)."""
    parts = index if isinstance(index, tuple) else (index,)
    converted = tuple(ag.tensor(p) if isinstance(p, np.ndarray) and p.ndim > 1 else p for p in parts)
    return converted if isinstance(index, tuple) else converted[0]


@needs_torch
@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem_matches_torch(name):
    index = INDEXES[name]
    compare_with_torch(lambda m, x: x[_ours_index(index) if m is ag else _torch_index(index)], B)


SET_INDEXES = {  # no repeated position: PyTorch leaves open which of several writes wins
    name: INDEXES[name]
    for name in (
        "int",
        "slice then int",
        "int None slice int",
        "int, slice, array",
        "slice, array, int",
        "array, slice, int",
        "int, array, array",
        "ellipsis array",
        "slice, array, array",
        "int, 2-D array",
        "broadcast arrays with a slice between",
        "int, broadcast arrays",
        "full mask",
        "int, 2-D mask",
        "int, slice, mask",
        "0-d integer tensor is an int",
        "int, slice, list",
        "array, True",
    )
}


def _assign(m, x, v, index):
    out = x * 1.0  # a non-leaf, so the assignment is recorded
    out[_ours_index(index) if m is ag else _torch_index(index)] = v
    return out


@needs_torch
@pytest.mark.parametrize("name", list(SET_INDEXES))
def test_setitem_matches_torch(name):
    index = SET_INDEXES[name]
    shape = torch.zeros(B.shape)[_torch_index(index)].shape
    compare_with_torch(lambda m, x, v: _assign(m, x, v, index), B, RNG.standard_normal(tuple(shape)))


@needs_torch
@pytest.mark.parametrize("value_shape", [(), (2,), (4, 1)])
def test_setitem_broadcasts_the_value_as_torch(value_shape):
    index = (0, slice(None), J2)  # PyTorch's result is (4, 2); numpy's would be (2, 4)
    compare_with_torch(lambda m, x, v: _assign(m, x, v, index), B, RNG.standard_normal(value_shape))


def test_placement_without_torch():
    x = ag.zeros(3, 4, 5)
    assert x[0, :, [0, 2]].shape == (4, 2)  # numpy gives (2, 4)
    assert x[[0, 2], 0, [0, 2]].shape == (2,)
    assert x[:, [0, 2], 0].shape == (3, 2)
    assert x[[0, 2], :, 0].shape == (2, 4)
    assert x[[0, 1], :, [1, 2]].shape == (2, 4)  # separated advanced indices go first, as in PyTorch
    assert x[ag.tensor(1), :, [0, 2]].shape == (4, 2)
    y = ag.tensor(np.arange(60.0).reshape(3, 4, 5))
    np.testing.assert_array_equal(np.asarray(y[0, :, [0, 2]]), np.arange(60.0).reshape(3, 4, 5)[0][:, [0, 2]])


def test_getitem_gradient_accumulates_repeated_positions_after_a_move():
    x = ag.tensor(np.zeros((2, 3, 4)), requires_grad=True)
    x[1, :, [3, 3, 0]].sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[1, :, 3], expected[1, :, 0] = 2.0, 1.0
    np.testing.assert_array_equal(np.asarray(x.grad), expected)


def test_setitem_places_the_value_as_torch_without_torch():
    x = ag.zeros(2, 3, 4)
    x[0, :, [1, 3]] = ag.tensor(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(np.asarray(x)[0][:, [1, 3]], np.arange(6.0).reshape(3, 2))


def test_basic_indexing_is_a_view_and_advanced_indexing_a_copy():
    x = ag.zeros(3, 4)
    view, copy = x[1:, 0], x[[1, 2], 0]
    x.add_(1.0)
    assert view.tolist() == [1.0, 1.0] and copy.tolist() == [0.0, 0.0]


def test_indexing_errors():
    x = ag.zeros(3, 4)
    with pytest.raises(IndexError, match="getitem"):
        x[0, [5]]
    with pytest.raises(IndexError, match="getitem"):
        x[0, 0, 0]
    with pytest.raises(TypeError, match="getitem: an index is made of ints, slices"):
        x[1.5]
    with pytest.raises(TypeError, match="getitem: index arrays must be integer or boolean, got dtype float"):
        x[[0.5, 1.0]]


# ---- values that hold without torch --------------------------------------------------------------------------


def test_repeat_tiles_as_pytorch_and_repeat_interleave_repeats_elements():
    t = ag.tensor([1, 2])
    assert t.repeat(2).tolist() == [1, 2, 1, 2]
    assert ag.repeat(t, 2, 2).tolist() == [[1, 2, 1, 2], [1, 2, 1, 2]]
    assert t.repeat_interleave(2).tolist() == [1, 1, 2, 2]
    assert ag.repeat_interleave(ag.tensor([[1, 2], [3, 4]]), ag.tensor([1, 2]), dim=0).tolist() == [
        [1, 2],
        [3, 4],
        [3, 4],
    ]


def test_gradients_by_gradcheck_and_gradgradcheck():
    x = ag.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = ag.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    for fn in (
        lambda a, b: ag.einsum("ii,ij->j", b, a),
        lambda a, b: a.scatter_reduce(1, IDX, b, "amax", include_self=False),
        lambda a, b: a.scatter_reduce(1, IDX, b, "mean"),
        lambda a, b: a.scatter_reduce(1, IDX, b, "prod", include_self=False),
        lambda a, b: ag.diag(ag.diag(b, 1)) + a.tril().sum(),
        lambda a, b: a[0, :, None][[1, 1, 2]] * b.repeat(1, 2)[:, :1],
    ):
        assert ag.gradcheck(fn, [x, y])
        assert ag.gradgradcheck(fn, [x, y])


def test_in_place_ops_record_the_graph():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1.0
    y.masked_fill_(ag.tensor([[True, False, False], [False, False, True]]), 0.0)
    y.scatter_add_(1, ag.tensor([[0], [0]]), x[:, :1])
    y.index_add_(0, ag.tensor([1]), x[:1] * 2)
    y.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [[3.0, 3.0, 3.0], [2.0, 1.0, 0.0]])
    with pytest.raises(RuntimeError, match="scatter_"):
        x.scatter_(0, ag.tensor([[0]]), 1.0)


def test_in_place_variants_without_grad():
    t = ag.zeros(2, 3)
    assert t.scatter_(1, ag.tensor([[2], [0]]), 5.0) is t
    t.index_copy_(0, ag.tensor([1]), ag.ones(1, 3))
    t.scatter_reduce_(1, ag.tensor([[0, 0]]), ag.tensor([[4.0, 6.0]]), "amax")
    assert t.tolist() == [[6.0, 0.0, 5.0], [1.0, 1.0, 1.0]]


def test_expand_is_a_view_sharing_memory():
    x = ag.zeros(3, 1)
    e = x.expand(2, -1, 4)
    assert e.shape == (2, 3, 4) and np.shares_memory(np.asarray(e), np.asarray(x))
    x.add_(1.0)
    assert float(e.sum()) == 24.0


def test_meshgrid_warns_without_indexing_and_uses_ij():
    with pytest.warns(UserWarning, match="meshgrid: pass the indexing argument"):
        a, b = ag.meshgrid(ag.tensor([1, 2, 3]), ag.tensor([4, 5]))
    assert a.shape == b.shape == (3, 2) and a[:, 0].tolist() == [1, 2, 3]


# ---- errors ---------------------------------------------------------------------------------------------------

Z = ag.zeros(3, 4)
ERRORS = {
    "gather rank": (lambda: Z.gather(1, ag.tensor([0, 1])), ValueError, "gather: index must have as many dimensions"),
    "gather bound": (lambda: Z.gather(1, ag.tensor([[4]])), IndexError, "gather: index 4 is out of bounds for dim"),
    "gather negative": (lambda: Z.gather(1, ag.tensor([[-1]])), IndexError, "gather: index -1 is out of bounds"),
    "gather larger": (lambda: Z.gather(1, ag.tensor(np.zeros((4, 1), np.int64))), ValueError, "larger than input"),
    "gather float index": (lambda: Z.gather(1, ag.tensor([[0.0]])), TypeError, "gather: index must be an integer"),
    "gather dim": (lambda: Z.gather(2, ag.tensor([[0]])), ValueError, "gather: dim 2 is out of range"),
    "scatter both": (lambda: Z.scatter(0, ag.tensor([[0]]), Z, value=1.0), TypeError, "exactly one of src"),
    "scatter small src": (lambda: Z.scatter(0, ag.tensor([[0, 1]]), ag.zeros(1, 1)), ValueError, "larger than src"),
    "scatter reduce": (lambda: Z.scatter(0, ag.tensor([[0]]), Z, reduce="max"), ValueError, "'add' or 'multiply'"),
    "scatter_reduce mode": (
        lambda: Z.scatter_reduce(0, ag.tensor([[0]]), Z, "max"),
        ValueError,
        "scatter_reduce: reduce must be one of",
    ),
    "index_select 2-D index": (lambda: Z.index_select(0, ag.tensor([[0]])), ValueError, "0-d or 1-D"),
    "index_add source": (lambda: Z.index_add(0, ag.tensor([0]), ag.zeros(2, 4)), ValueError, "must have shape (1, 4)"),
    "masked_fill int mask": (lambda: Z.masked_fill(ag.tensor([1, 0, 0, 1]), 0.0), TypeError, "mask must be a bool"),
    "masked_fill value": (lambda: Z.masked_fill(Z > 0, ag.zeros(2)), ValueError, "0-d tensor"),
    "masked_fill_ broadcast": (lambda: ag.zeros(4).masked_fill_(Z > 0, 1.0), ValueError, "does not broadcast"),
    "masked_select shapes": (lambda: Z.masked_select(ag.zeros(2) > 0), ValueError, "cannot be broadcast"),
    "take_along_dim rank": (lambda: Z.take_along_dim(ag.tensor([0]), 1), ValueError, "same number of dimensions"),
    "flip repeated": (lambda: Z.flip((0, -2)), ValueError, "flip: dims (0, -2) name the same dimension"),
    "fliplr 1-D": (lambda: ag.zeros(3).fliplr(), ValueError, "fliplr: input must have at least 2"),
    "roll lengths": (lambda: Z.roll((1, 2), 0), ValueError, "roll: shifts (1, 2) and dims 0"),
    "roll no dims": (lambda: Z.roll((1, 2)), ValueError, "roll: without dims"),
    "diag 3-D": (lambda: ag.zeros(2, 2, 2).diag(), ValueError, "diag: input must be 1-D or 2-D"),
    "diagonal dims": (lambda: Z.diagonal(0, 1, -1), ValueError, "diagonal: dim1 and dim2 must differ"),
    "tril 1-D": (lambda: ag.zeros(3).tril(), ValueError, "tril: input must have at least 2"),
    "unflatten sizes": (lambda: Z.unflatten(1, (3, -1)), ValueError, "unflatten: sizes (3, -1) cannot split"),
    "unflatten product": (lambda: Z.unflatten(1, (2, 3)), ValueError, "multiply to 6"),
    "meshgrid indexing": (lambda: ag.meshgrid(ag.zeros(2), indexing="ji"), ValueError, "'ij' or 'xy'"),
    "meshgrid 2-D": (lambda: ag.meshgrid(Z, indexing="ij"), ValueError, "0-d or 1-D tensors"),
    "expand mismatch": (lambda: Z.expand(3, 5), ValueError, "expand: the size 4 of dimension 1"),
    "expand fewer": (lambda: Z.expand(4), ValueError, "fewer than the 2 dims"),
    "expand leading -1": (lambda: Z.expand(-1, 3, 4), ValueError, "new leading dimension 0"),
    "movedim lengths": (lambda: Z.movedim((0, 1), 0), ValueError, "same length"),
    "narrow too long": (lambda: Z.narrow(1, 2, 3), ValueError, "narrow: start 2 + length 3 exceeds"),
    "narrow start": (lambda: Z.narrow(1, 5, 0), IndexError, "narrow: start 5 is out of range"),
    "select index": (lambda: Z.select(0, 3), IndexError, "select: index 3 is out of range"),
    "repeat fewer": (lambda: Z.repeat(2), ValueError, "repeat: got 1 repeat sizes (2,) for a tensor of shape (3, 4)"),
    "repeat_interleave counts": (lambda: Z.repeat_interleave(ag.tensor([1, 2]), 0), ValueError, "one int or 3"),
    "repeat_interleave output_size": (
        lambda: Z.repeat_interleave(2, 0, output_size=5),
        ValueError,
        "output_size 5 differs from the repeated length 6",
    ),
    "einsum operands": (lambda: ag.einsum("ij,jk", Z), ValueError, "einsum: the equation 'ij,jk' has 2 operand(s)"),
    "einsum rank": (lambda: ag.einsum("ijk", Z), ValueError, "einsum: operand 0 has 2 dimensions"),
    "einsum sizes": (lambda: ag.einsum("ij,ij", Z, ag.zeros(3, 5)), ValueError, "subscript 'j' has size 4"),
    "einsum repeated sizes": (lambda: ag.einsum("ii", Z), ValueError, "subscript 'i' is repeated in operand 0"),
    "einsum output": (lambda: ag.einsum("ij->ik", Z), ValueError, "output subscripts 'ik'"),
    "einsum characters": (lambda: ag.einsum("i1", Z), ValueError, "subscripts must be letters"),
    "mm rank": (lambda: ag.mm(ag.zeros(3), Z), ValueError, "mm: input must be a 2-D tensor, got shape (3,)"),
    "mm shapes": (lambda: ag.mm(Z, Z), ValueError, "matmul: shapes (3, 4) and (3, 4) are not aligned"),
    "bmm batch": (lambda: ag.bmm(ag.zeros(2, 3, 4), ag.zeros(3, 4, 5)), ValueError, "bmm: batch sizes differ"),
    "dot lengths": (lambda: ag.dot(ag.zeros(3), ag.zeros(4)), ValueError, "dot: the tensors must have the same length"),
    "outer rank": (lambda: ag.outer(Z, ag.zeros(3)), ValueError, "outer: input must be a 1-D tensor"),
    "inner sizes": (lambda: ag.inner(Z, ag.zeros(3)), ValueError, "inner: the last dimensions differ"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(name):
    fn, exception, match = ERRORS[name]
    with pytest.raises(exception, match=re.escape(match)):
        fn()


def test_pytorch_keyword_names():
    x = ag.tensor(A)
    index = ag.tensor(IDX)
    calls = [
        ag.gather(input=x, dim=1, index=index),
        ag.scatter(input=x, dim=1, index=index, src=x),
        ag.scatter_add(input=x, dim=1, index=index, src=x),
        ag.scatter_reduce(input=x, dim=1, index=index, src=x, reduce="amax", include_self=False),
        ag.index_select(input=x, dim=0, index=ag.tensor([1])),
        ag.index_add(input=x, dim=0, index=ag.tensor([1]), source=x[:1], alpha=2),
        ag.masked_fill(input=x, mask=x > 0, value=1.0),
        ag.masked_select(input=x, mask=x > 0),
        ag.take_along_dim(input=x, indices=index, dim=1),
        ag.flip(input=x, dims=(0,)),
        ag.roll(input=x, shifts=1, dims=0),
        ag.diag(input=x, diagonal=1),
        ag.diagonal(input=x, offset=0, dim1=1, dim2=0),
        ag.tril(input=x, diagonal=-1),
        ag.unflatten(input=x, dim=1, sizes=(2, 2)),
        ag.movedim(input=x, source=0, destination=1),
        ag.narrow(input=x, dim=0, start=1, length=1),
        ag.select(input=x, dim=1, index=0),
        ag.repeat_interleave(input=x, repeats=2, dim=0, output_size=6),
        ag.mm(input=x, mat2=x.T),
        ag.dot(input=x[0], tensor=x[1]),
        ag.outer(input=x[0], vec2=x[1]),
        ag.inner(input=x, other=x),
        ag.matmul(input=x, other=x.T),
    ]
    assert all(isinstance(result, ag.Tensor) for result in calls)
    np.testing.assert_array_equal(np.asarray(calls[0]), np.take_along_axis(A, IDX, axis=1))
    np.testing.assert_array_equal(np.asarray(calls[-1]), A @ A.T)
