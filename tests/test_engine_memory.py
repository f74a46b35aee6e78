"""A node keeps only the values its VJP formulas read for the wanted inputs: memory, the in-place
checks that follow from it (no false alarms, real conflicts still caught), and nodes with several
outputs (max(dim), sort, topk, split, chunk, unbind, custom Functions)."""

import tracemalloc

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.graph import SavedShape

MB = 1 << 20


def test_a_chain_with_constants_keeps_no_copies_of_the_tensor():
    x = ag.tensor(np.ones(MB), dtype=np.float64, requires_grad=True)  # 8 MB
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        u = x
        for _ in range(10):
            u = u * 3.0 + 1.0
        held = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    # u itself is 8 MB; the 19 intermediates died with their last reference (today: 160 MB held)
    assert held < 3 * 8 * MB, f"the graph holds {held / MB:.0f} MB"
    u.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), np.full(MB, 3.0**10))


def _dropped(value):
    """A value the node did not keep: a stand-in with the shape and dtype, no array."""
    return not isinstance(value, np.ndarray) and isinstance(value.shape, tuple) and value.dtype is not None


def test_nodes_keep_only_what_the_wanted_formulas_read():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    c = ag.tensor([3.0, 4.0])
    product = (x * c).grad_fn  # x's gradient reads c: c kept, x only a shape
    assert product.saved[1] is np.asarray(c) and _dropped(product.saved[0])
    assert product.saved[0].shape == (2,) and product.out is None
    total = (x + c).grad_fn
    assert all(_dropped(v) for v in total.saved) and total.version_checks == []
    assert isinstance(total.saved[1], SavedShape) and total.saved[1].ndim == 1  # c has no parent to stand in
    exp = (x * 1.0).exp().grad_fn
    assert _dropped(exp.saved[0]) and exp.out is not None
    with pytest.raises(RuntimeError, match="did not declare it reads"):
        np.asarray(exp.saved[0])
    summed = x.sum().grad_fn
    assert _dropped(summed.saved[0]) and summed.out is None
    scaled = (x * 2.0).grad_fn
    assert scaled.saved[1] == 2.0 and _dropped(scaled.saved[0])


def test_setitem_from_a_slice_of_itself_is_not_a_false_in_place_error():
    torch = pytest.importorskip("torch")
    x = ag.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x * 1.0
    y[1, 1:3] = y[2, 0:2] * 2
    (y * y).sum().backward()
    tx = torch.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    ty = tx * 1.0
    ty[1, 1:3] = ty[2, 0:2] * 2
    (ty * ty).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy())


def test_true_in_place_conflicts_still_raise_naming_the_op():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    loss = (y * 2.0).sum()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"exp: its output .* modified by an in-place operation"):
        loss.backward()
    h = x * 1.0
    loss = (h * h).sum()
    h.mul_(2)
    with pytest.raises(RuntimeError, match=r"mul: an input .* modified by an in-place operation"):
        loss.backward()


def test_in_place_edit_of_a_value_no_formula_reads_is_fine():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    loss = (h + 1.0).sum() + (h * 2.0).sum()  # neither reads h
    h.add_(5)
    loss.backward()
    np.testing.assert_allclose(np.asarray(x.grad), [3.0, 3.0])


def test_create_graph_through_kept_values_gives_second_derivatives():
    x = ag.tensor([0.5, -1.0], dtype=np.float64, requires_grad=True)
    (g,) = ag.grad((x.exp() * x * 3.0).sum(), x, create_graph=True)  # d/dx 3 x e^x = 3 e^x (1 + x)
    (h,) = ag.grad(g.sum(), x)  # 3 e^x (2 + x)
    np.testing.assert_allclose(np.asarray(h), 3 * np.exp(np.asarray(x)) * (2 + np.asarray(x)))


# ---- several outputs, one node ----------------------------------------------------------------


def test_max_with_dim_returns_values_and_indices_like_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 5.0, 5.0], [7.0, 2.0, 0.0]])
    for kwargs in ({"dim": 1}, {"axis": 1}, {"dim": 0, "keepdim": True}):
        x = ag.tensor(data, requires_grad=True)
        result = x.max(**kwargs)
        values, indices = result
        assert result.values is values and result.indices is indices
        assert values.grad_fn is not None and not indices.requires_grad
        (values * ag.tensor([[2.0, 3.0, 4.0]]).reshape(-1)[: values.shape[-1]]).sum().backward()
        tx = torch.tensor(data, requires_grad=True)
        dim = kwargs.get("dim", kwargs.get("axis"))
        expected = tx.max(dim=dim, keepdim=kwargs.get("keepdim", False))
        (expected.values * torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64)[: values.shape[-1]]).sum().backward()
        np.testing.assert_allclose(np.asarray(values), expected.values.detach().numpy())
        np.testing.assert_array_equal(np.asarray(indices), expected.indices.numpy())
        np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy())
    x = ag.tensor(data, requires_grad=True)
    assert isinstance(x.max(1), tuple) and not isinstance(x.max(), tuple)
    assert ag.min(x, 0).indices.tolist() == [0, 1, 1]


def test_max_without_dim_or_over_a_tuple_splits_the_gradient_among_ties():
    x = ag.tensor([[1.0, 5.0, 5.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [[0.0, 0.5, 0.5]])
    y = ag.tensor([[1.0, 5.0, 5.0]], requires_grad=True)
    y.max(dim=(0, 1)).backward()
    np.testing.assert_allclose(np.asarray(y.grad), [[0.0, 0.5, 0.5]])


def test_sort_argsort_and_topk_match_torch():
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(0).standard_normal((3, 5))
    seed = np.random.default_rng(1).standard_normal((3, 5))
    x, tx = ag.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    values, indices = x.sort(dim=1, descending=True)
    expected = tx.sort(dim=1, descending=True)
    np.testing.assert_array_equal(np.asarray(indices), expected.indices.numpy())
    (values * ag.tensor(seed)).sum().backward()
    (expected.values * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy())
    np.testing.assert_array_equal(np.asarray(ag.argsort(x, 0)), torch.argsort(tx, 0).numpy())
    top = ag.topk(x, 2, dim=0, largest=False)
    expected_top = torch.topk(tx, 2, dim=0, largest=False)
    np.testing.assert_allclose(np.asarray(top.values), expected_top.values.detach().numpy())
    np.testing.assert_array_equal(np.asarray(top.indices), expected_top.indices.numpy())
    with pytest.raises(ValueError, match="topk: k must be an int in"):
        x.topk(9)


def test_split_chunk_and_unbind_are_one_node_with_several_outputs():
    x = ag.tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    pieces = ag.split(x, 2)
    assert [p.shape for p in pieces] == [(2, 2), (2, 2), (1, 2)]
    assert pieces[0].grad_fn is pieces[2].grad_fn and [p.output_nr for p in pieces] == [0, 1, 2]
    (pieces[2] * 3.0).sum().backward()  # pieces without a gradient contribute zeros
    np.testing.assert_allclose(np.asarray(x.grad), [[0, 0]] * 4 + [[3, 3]])
    assert [c.shape for c in x.chunk(3, dim=1)] == [(5, 1), (5, 1)]
    rows = x.unbind(1)
    assert [r.shape for r in rows] == [(5,), (5,)]
    x.grad = None
    (rows[0] * rows[1]).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), np.asarray(x)[:, ::-1])


def test_grad_with_respect_to_one_output_of_a_multi_output_node():
    x = ag.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, _ = x.sort()
    first, rest = values.split([1, 2])
    loss = (first * 10.0).sum() + (rest * rest).sum()
    (g_rest, g_x) = ag.grad(loss, [rest, x])
    np.testing.assert_allclose(np.asarray(g_rest), 2 * np.asarray(rest))
    np.testing.assert_allclose(np.asarray(g_x), [6.0, 10.0, 4.0])


def test_hooks_on_one_output_of_a_multi_output_node():
    x = ag.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = x.split(2)
    a.register_hook(lambda g: g * 10)
    b.retain_grad()
    (a.sum() + (b * 2.0).sum()).backward()
    np.testing.assert_allclose(np.asarray(x.grad), [10.0, 10.0, 2.0, 2.0])
    np.testing.assert_allclose(np.asarray(b.grad), [2.0, 2.0])


class SinCos(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ag.tensor(np.sin(np.asarray(x))), ag.tensor(np.cos(np.asarray(x)))

    @staticmethod
    def backward(ctx, g_sin, g_cos):
        (x,) = ctx.saved_tensors
        return g_sin * x.cos() - g_cos * x.sin()


def test_custom_function_with_several_outputs_is_one_node():
    x = ag.tensor([0.3, 1.2], dtype=np.float64, requires_grad=True)
    s, c = SinCos.apply(x)
    assert s.grad_fn is c.grad_fn and (s.output_nr, c.output_nr) == (0, 1)
    s.sum().backward()  # the cosine output gets zeros
    np.testing.assert_allclose(np.asarray(x.grad), np.cos(np.asarray(x)))
    assert ag.gradcheck(lambda t: SinCos.apply(t), [ag.tensor([0.3, 1.2], dtype=np.float64, requires_grad=True)])


# ---- reliability: hooks, custom Functions, empty reductions, errors in the library's words -----


@pytest.mark.parametrize(
    "replacement, message",
    [
        (lambda g: ag.ones(2), r"hook has changed the size of value: expected shape \(3,\), got \(2,\)"),
        (lambda g: "a string", "hook has changed the type of value"),
        (
            lambda g: ag.ones(3, dtype=np.float32),
            "hook has changed the type of value: expected dtype float64, got float32",
        ),
    ],
)
def test_a_leaf_hook_must_keep_the_gradient_size_and_type(replacement, message):
    x = ag.tensor(np.ones(3), dtype=np.float64, requires_grad=True)
    x.register_hook(replacement)
    with pytest.raises(RuntimeError, match=message):
        (x * 2.0).sum().backward()


def test_a_non_leaf_hook_must_keep_the_gradient_size():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: ag.ones(1))  # broadcastable, so it used to be summed silently
    with pytest.raises(RuntimeError, match="hook has changed the size of value"):
        y.sum().backward()


def test_a_hook_that_removes_itself_does_not_skip_the_next_one():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handles = []

    def first(g):
        calls.append("first")
        handles[0].remove()

    handles.append(x.register_hook(first))
    x.register_hook(lambda g: calls.append("second"))
    (x * 1.0).sum().backward()
    assert calls == ["first", "second"]


class MyExp(ag.Function):
    @staticmethod
    def forward(ctx, x):
        out = ag.tensor(np.exp(np.asarray(x)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


def test_saved_outputs_of_a_custom_function_are_attached_under_create_graph():
    x = ag.tensor([0.5, -1.0, 2.0], dtype=np.float64, requires_grad=True)
    hessian = ag.func.hessian(lambda t: (MyExp.apply(t) * t).sum())(x)  # d2/dx2 x e^x = e^x (2 + x), diagonal
    np.testing.assert_allclose(np.asarray(hessian), np.diag(np.exp(np.asarray(x)) * (2 + np.asarray(x))))
    assert ag.gradgradcheck(lambda t: MyExp.apply(t), [x])


class ListBackward(ag.Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, g):
        return [g * 2.0, None]


class WrongShape(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return ag.ones(5)


class WrongCount(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return g, g


def test_custom_function_backward_results_are_checked_and_lists_accepted():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    ListBackward.apply(x, ag.tensor([3.0, 4.0])).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 2.0])
    with pytest.raises(
        RuntimeError, match=r"WrongShape\.backward returned a gradient of shape \(5,\) for input 0 of shape \(2,\)"
    ):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongCount\.backward returned 2 gradients but forward took 1 inputs"):
        WrongCount.apply(x).sum().backward()


def test_backward_through_an_empty_prod_gives_zeros_shaped_gradients():
    x = ag.zeros(0, 3, requires_grad=True)
    x.prod().backward()
    assert x.grad.shape == (0, 3)
    y = ag.zeros(0, 3, requires_grad=True)
    y.prod(dim=0).sum().backward()
    assert y.grad.shape == (0, 3)


@pytest.mark.parametrize(
    "call, kind, message",
    [
        (
            lambda: ag.ones(2, 3) + ag.ones(4),
            ValueError,
            r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast together",
        ),
        (
            lambda: ag.ones(2, 3, 4) @ ag.ones(5, 4, 2),
            ValueError,
            r"matmul: shapes \(2, 3, 4\) and \(5, 4, 2\): batch dimensions \(2,\) and \(5,\) cannot be broadcast",
        ),
        (lambda: ag.ones(3, 4).reshape(5, 2), ValueError, r"reshape: invalid input \(shape \(3, 4\)\): cannot reshape"),
        (lambda: ag.tensor([[1.0, 2.0], [3.0]]), ValueError, "tensor: cannot build a tensor from ragged"),
        (
            lambda: (ag.ones(2, requires_grad=True) * 2.0).backward(gradient=["a", "b"]),
            TypeError,
            "backward: the gradient must be a Tensor, array or number",
        ),
        (lambda: ag.eye(-2), ValueError, "eye: n must be a non-negative int, got -2"),
        (
            lambda: ag.func.grad(lambda t: (t * t).sum(), has_aux=True)(ag.ones(2)),
            TypeError,
            r"grad: with has_aux=True the function must return a pair \(output, aux\)",
        ),
    ],
)
def test_bad_input_gets_a_library_error(call, kind, message):
    with pytest.raises(kind, match=message):
        call()
