"""The Tensor API of API.md section 1: construction, dtypes, methods, operators, shapes, indexing."""

import numpy as np
import pytest

import autograd_core as ag


def test_dtypes_follow_the_contract():
    assert ag.tensor(1.5).dtype == np.float32
    assert ag.tensor([1.0, 2.0]).dtype == np.float32
    assert ag.tensor([1, 2]).dtype == np.int64
    assert ag.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert ag.tensor([True]).dtype == np.bool_
    ag.set_default_dtype(np.float64)
    assert ag.tensor([1.0]).dtype == np.float64 and ag.zeros(2).dtype == np.float64
    assert ag.get_default_dtype() == ag.float64


def test_requires_grad_on_integers_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        ag.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        ag.tensor([1, 2]).requires_grad_()


def test_tensor_copies_its_data():
    source = np.ones(3)
    t = ag.tensor(source)
    source[0] = 5
    assert np.asarray(t)[0] == 1


def test_constructors():
    assert ag.zeros(2, 3).shape == (2, 3) and ag.zeros((2, 3)).shape == (2, 3)
    assert np.all(np.asarray(ag.ones(2)) == 1)
    assert np.all(np.asarray(ag.full((2, 2), 7.0)) == 7) and ag.full((2, 2), 7.0).dtype == np.float32
    t = ag.tensor([[1.0, 2.0]], dtype=np.float64)
    assert ag.zeros_like(t).dtype == np.float64 and ag.ones_like(t).shape == (1, 2)
    np.testing.assert_array_equal(np.asarray(ag.arange(4)), [0, 1, 2, 3])
    assert ag.arange(4).dtype == np.int64 and ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(ag.eye(2)), np.eye(2))
    assert ag.zeros(2, requires_grad=True).requires_grad


def test_manual_seed_makes_random_constructors_reproducible():
    ag.manual_seed(7)
    a = (np.asarray(ag.rand(3)), np.asarray(ag.randn(2, 2)), np.asarray(ag.randint(0, 10, (5,))))
    ag.manual_seed(7)
    b = (np.asarray(ag.rand(3)), np.asarray(ag.randn(2, 2)), np.asarray(ag.randint(0, 10, (5,))))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert np.all((a[0] >= 0) & (a[0] < 1)) and a[2].dtype == np.int64


def test_attributes_and_conversions():
    t = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.numel() == 4 and len(t) == 2
    assert t.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert ag.tensor(3.5).item() == 3.5 and float(ag.tensor([2.0])) == 2.0
    assert np.asarray(t) is np.asarray(t) and t.numpy() is np.asarray(t)
    assert t.double().dtype == np.float64 and t.double().float().dtype == np.float32
    assert t.astype(np.int64).dtype == np.int64
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]


def test_numpy_of_a_tensor_that_requires_grad_raises():
    t = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy()[0] == 1.0


def test_item_of_a_tensor_with_several_elements_raises():
    with pytest.raises(ValueError, match=r"item: only one-element tensors .* shape \(2,\)"):
        ag.tensor([1.0, 2.0]).item()


def test_repr_names_the_grad_fn():
    x = ag.tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], grad_fn=<mul>)"


def test_operators_and_reflected_forms():
    t = ag.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose(np.asarray(2 * t), [2, 4, 8])
    np.testing.assert_allclose(np.asarray(1 / t), [1, 0.5, 0.25])
    np.testing.assert_allclose(np.asarray(1 - t), [0, -1, -3])
    np.testing.assert_allclose(np.asarray(2**t), [2, 4, 16])
    np.testing.assert_allclose(np.asarray(t**2), [1, 4, 16])
    np.testing.assert_allclose(np.asarray(np.ones(3) + t), [2, 3, 5])
    assert isinstance(np.ones(3) * t, ag.Tensor)
    np.testing.assert_allclose(np.asarray(-t), [-1, -2, -4])
    np.testing.assert_allclose(np.asarray(abs(ag.tensor([-1.0]))), [1.0])


def test_comparisons_return_bool_tensors_without_grad():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x < 2, [1, 0, 0]),
        (x <= 2, [1, 1, 0]),
        (x > 2, [0, 0, 1]),
        (x >= 2, [0, 1, 1]),
        (x == 2, [0, 1, 0]),
        (x != 2, [1, 0, 1]),
    ]:
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(np.asarray(result), np.array(expected, bool))
    np.testing.assert_array_equal(np.asarray((x > 1) & (x < 3)), [False, True, False])
    np.testing.assert_array_equal(np.asarray(~(x > 1)), [True, False, False])


def test_tensors_hash_by_identity():
    a, b = ag.tensor([1.0]), ag.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_elementwise_functions_exist_as_methods_and_functions():
    x = ag.tensor([0.5, 1.5])
    for name in ["exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu"]:
        np.testing.assert_allclose(np.asarray(getattr(ag, name)(x)), np.asarray(getattr(x, name)()))
    np.testing.assert_allclose(np.asarray(ag.clip(x, 0.6, 1.0)), [0.6, 1.0])
    np.testing.assert_allclose(np.asarray(x.clamp(max=1.0)), [0.5, 1.0])
    np.testing.assert_allclose(np.asarray(ag.maximum(x, 1.0)), [1.0, 1.5])
    np.testing.assert_allclose(np.asarray(ag.minimum(x, 1.0)), [0.5, 1.0])
    np.testing.assert_allclose(np.asarray(ag.where(x > 1, x, -x)), [-0.5, 1.5])
    np.testing.assert_allclose(np.asarray(ag.pow(x, 2)), np.asarray(x) ** 2)
    np.testing.assert_allclose(np.asarray(ag.sigmoid(ag.tensor([-1000.0, 1000.0]))), [0.0, 1.0])


def test_reductions_with_axis_aliases():
    x = ag.tensor(np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    np.testing.assert_allclose(np.asarray(x.sum(axis=1)), np.asarray(x).sum(axis=1))
    np.testing.assert_allclose(
        np.asarray(x.sum(dim=(0, 2), keepdim=True)), np.asarray(x).sum(axis=(0, 2), keepdims=True)
    )
    np.testing.assert_allclose(np.asarray(x.mean(-1)), np.asarray(x).mean(-1))
    np.testing.assert_allclose(np.asarray(x.var(axis=1, correction=1)), np.asarray(x).var(axis=1, ddof=1))
    np.testing.assert_allclose(
        np.asarray(x.std()), np.asarray(x).std(ddof=1)
    )  # Bessel-corrected by default, as PyTorch
    np.testing.assert_allclose(np.asarray(x.max(axis=2).values), np.asarray(x).max(axis=2))
    np.testing.assert_allclose(np.asarray(x.min()), 0.0)
    np.testing.assert_allclose(np.asarray((x / 20 + 0.5).prod(axis=0)), (np.asarray(x) / 20 + 0.5).prod(axis=0))
    np.testing.assert_allclose(np.asarray(x.logsumexp(axis=1)), np.log(np.exp(np.asarray(x)).sum(axis=1)))
    np.testing.assert_allclose(np.asarray(x.norm()), np.linalg.norm(np.asarray(x).ravel()))
    np.testing.assert_allclose(np.asarray(x.norm(p=np.inf)), 23.0)
    np.testing.assert_array_equal(np.asarray(x.argmax(axis=1)), np.asarray(x).argmax(axis=1))
    assert x.argmin().item() == 0 and not x.argmax().requires_grad


def test_logsumexp_is_stable_for_large_inputs():
    x = ag.tensor([1000.0, 1000.0], dtype=np.float64, requires_grad=True)
    out = x.logsumexp()
    assert np.isclose(out.item(), 1000 + np.log(2))
    out.backward()
    np.testing.assert_allclose(np.asarray(x.grad), [0.5, 0.5])


def test_max_gradient_splits_among_ties():
    x = ag.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [0, 0.5, 0.5, 0])


def test_norm_gradient_at_zero_is_zero():
    x = ag.zeros(3, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [0, 0, 0])


def test_prod_gradient_is_exact_at_zeros():
    x = ag.tensor([2.0, 0.0, 3.0], dtype=np.float64, requires_grad=True)
    x.prod().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [0.0, 6.0, 0.0])


def test_shape_ops():
    x = ag.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.view(-1).shape == (24,) and x.reshape((4, 6)).shape == (4, 6)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3) and x.permute(1, 0, 2).shape == (3, 2, 4)
    assert x.swapaxes(0, 1).shape == (3, 2, 4)
    m = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(m.transpose(0, 1)), np.asarray(m).T)  # two axes swap, as in PyTorch
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.expand_dims(1).shape == (2, 1, 3, 4)
    assert ag.zeros(1, 3, 1).squeeze().shape == (3,) and ag.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert ag.zeros(2, 3).squeeze(0).shape == (2, 3)  # a dim that is not 1 stays, as in PyTorch
    assert ag.zeros(3, 1).broadcast_to(2, 3, 4).shape == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(ag.tensor([1, 2]).repeat(2)), [1, 2, 1, 2])  # PyTorch's: tiling
    np.testing.assert_array_equal(np.asarray(m.repeat(2, 1)), np.tile(np.asarray(m), (2, 1)))
    np.testing.assert_array_equal(np.asarray(ag.tensor([1, 2]).repeat_interleave(2)), [1, 1, 2, 2])
    np.testing.assert_array_equal(
        np.asarray(m.repeat_interleave(ag.tensor([1, 2]), dim=0)), np.repeat(np.asarray(m), [1, 2], axis=0)
    )
    np.testing.assert_array_equal(np.asarray(m.tile(2, 1)), np.tile(np.asarray(m), (2, 1)))
    np.testing.assert_array_equal(np.asarray(ag.tensor([1.0, 2.0]).tile(3)), np.tile([1.0, 2.0], 3))
    np.testing.assert_array_equal(np.asarray(m.pad(1)), np.pad(np.asarray(m), 1))
    padded = np.pad(np.asarray(m), ((0, 1), (2, 0)), constant_values=9)
    np.testing.assert_array_equal(np.asarray(m.pad(((0, 1), (2, 0)), value=9.0)), padded)


def test_shape_op_gradients():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), dtype=np.float64, requires_grad=True)
    for f in [
        lambda t: t.repeat(1, 2),
        lambda t: t.repeat_interleave(2, dim=1),
        lambda t: t.tile(2, 2),
        lambda t: t.pad(((1, 0), (0, 2))),
        lambda t: t.flatten(),
        lambda t: t.unsqueeze(1).squeeze(),
        lambda t: t.permute(1, 0),
    ]:
        assert ag.gradcheck(f, [x])


def test_concatenate_stack_split():
    a, b = ag.tensor(np.ones((2, 3)), requires_grad=True), ag.tensor(np.zeros((1, 3)), requires_grad=True)
    c = ag.cat([a, b])
    assert c.shape == (3, 3) and ag.concatenate([a, a], axis=1).shape == (2, 6)
    assert ag.stack([a, a]).shape == (2, 2, 3) and ag.stack([a, a], dim=-1).shape == (2, 3, 2)
    parts = ag.split(ag.tensor(np.arange(5.0)), 2)
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4]]
    assert [p.shape for p in ag.split(c, [1, 2], axis=0)] == [(1, 3), (2, 3)]
    (c * ag.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    np.testing.assert_allclose(np.asarray(b.grad), [[6, 7, 8]])


def test_indexing_forms():
    x = ag.tensor(np.arange(12.0).reshape(3, 4))
    assert x[1].tolist() == [4, 5, 6, 7] and x[1, 2].item() == 6
    assert x[:, 1:3].shape == (3, 2) and x[None].shape == (1, 3, 4) and x[..., 0].shape == (3,)
    assert x[x > 5].tolist() == [6, 7, 8, 9, 10, 11]
    assert x[[0, 2]].shape == (2, 4) and x[ag.tensor([2, 0])].tolist()[0] == [8, 9, 10, 11]
    assert x[np.array([0, 1]), np.array([1, 2])].tolist() == [1, 6]


def test_repeated_integer_indices_accumulate_gradient():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [3.0, 0.0, 1.0])


def test_boolean_mask_gradient():
    x = ag.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x[x > 0] * 2).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 0.0, 2.0])


@pytest.mark.parametrize(
    "shapes",
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 2)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (3, 4)),
        ((5, 2, 3), (1, 3, 4)),
        ((2, 1, 2, 3), (4, 3, 2)),
    ],
)
def test_matmul_follows_numpy(shapes):
    rng = np.random.default_rng(0)
    a, b = (ag.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)
    out = a @ b
    np.testing.assert_allclose(np.asarray(out), np.matmul(np.asarray(a), np.asarray(b)))
    assert ag.gradcheck(lambda p, q: p @ q, [a, b])
    np.testing.assert_allclose(np.asarray(a) @ np.asarray(b), np.asarray(out))  # reflected form


def test_in_place_methods_under_no_grad():
    t = ag.tensor([1.0, 2.0, 3.0])
    t.add_(1).mul_(2).sub_(1).div_(2)
    np.testing.assert_allclose(np.asarray(t), [1.5, 2.5, 3.5])
    t.clamp_(min=2.0)
    np.testing.assert_allclose(np.asarray(t), [2.0, 2.5, 3.5])
    t.copy_(ag.tensor([7.0, 8.0, 9.0]))
    np.testing.assert_allclose(np.asarray(t), [7, 8, 9])
    t[1] = 0.0
    t.fill_(4.0)
    np.testing.assert_allclose(np.asarray(t), [4, 4, 4])
    t.zero_()
    assert t.tolist() == [0, 0, 0]
