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
    assert ag.get_default_dtype() is np.float64


def test_requires_grad_on_integers_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        ag.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        ag.tensor([1, 2]).requires_grad_()


def test_tensor_copies_its_data():
    source = np.ones(3)
    t = ag.tensor(source)
    source[0] = 5
    assert t.data[0] == 1


def test_constructors():
    assert ag.zeros(2, 3).shape == (2, 3) and ag.zeros((2, 3)).shape == (2, 3)
    assert np.all(ag.ones(2).data == 1)
    assert np.all(ag.full((2, 2), 7.0).data == 7) and ag.full((2, 2), 7.0).dtype == np.float32
    t = ag.tensor([[1.0, 2.0]], dtype=np.float64)
    assert ag.zeros_like(t).dtype == np.float64 and ag.ones_like(t).shape == (1, 2)
    np.testing.assert_array_equal(ag.arange(4).data, [0, 1, 2, 3])
    assert ag.arange(4).dtype == np.int64 and ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(ag.eye(2).data, np.eye(2))
    assert ag.zeros(2, requires_grad=True).requires_grad


def test_manual_seed_makes_random_constructors_reproducible():
    ag.manual_seed(7)
    a = (ag.rand(3).data, ag.randn(2, 2).data, ag.randint(0, 10, (5,)).data)
    ag.manual_seed(7)
    b = (ag.rand(3).data, ag.randn(2, 2).data, ag.randint(0, 10, (5,)).data)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert np.all((a[0] >= 0) & (a[0] < 1)) and a[2].dtype == np.int64


def test_attributes_and_conversions():
    t = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.numel() == 4 and len(t) == 2
    assert t.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert ag.tensor(3.5).item() == 3.5 and float(ag.tensor([2.0])) == 2.0
    assert np.asarray(t) is t.data and t.numpy() is t.data
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
    np.testing.assert_allclose((2 * t).data, [2, 4, 8])
    np.testing.assert_allclose((1 / t).data, [1, 0.5, 0.25])
    np.testing.assert_allclose((1 - t).data, [0, -1, -3])
    np.testing.assert_allclose((2**t).data, [2, 4, 16])
    np.testing.assert_allclose((t**2).data, [1, 4, 16])
    np.testing.assert_allclose((np.ones(3) + t).data, [2, 3, 5])
    assert isinstance(np.ones(3) * t, ag.Tensor)
    np.testing.assert_allclose((-t).data, [-1, -2, -4])
    np.testing.assert_allclose(abs(ag.tensor([-1.0])).data, [1.0])


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
        np.testing.assert_array_equal(result.data, np.array(expected, bool))
    np.testing.assert_array_equal(((x > 1) & (x < 3)).data, [False, True, False])
    np.testing.assert_array_equal((~(x > 1)).data, [True, False, False])


def test_tensors_hash_by_identity():
    a, b = ag.tensor([1.0]), ag.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_elementwise_functions_exist_as_methods_and_functions():
    x = ag.tensor([0.5, 1.5])
    for name in ["exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu"]:
        np.testing.assert_allclose(getattr(ag, name)(x).data, getattr(x, name)().data)
    np.testing.assert_allclose(ag.clip(x, 0.6, 1.0).data, [0.6, 1.0])
    np.testing.assert_allclose(x.clamp(max=1.0).data, [0.5, 1.0])
    np.testing.assert_allclose(ag.maximum(x, 1.0).data, [1.0, 1.5])
    np.testing.assert_allclose(ag.minimum(x, 1.0).data, [0.5, 1.0])
    np.testing.assert_allclose(ag.where(x > 1, x, -x).data, [-0.5, 1.5])
    np.testing.assert_allclose(ag.pow(x, 2).data, x.data**2)
    np.testing.assert_allclose(ag.sigmoid(ag.tensor([-1000.0, 1000.0])).data, [0.0, 1.0])


def test_reductions_with_axis_aliases():
    x = ag.tensor(np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    np.testing.assert_allclose(x.sum(axis=1).data, x.data.sum(axis=1))
    np.testing.assert_allclose(x.sum(dim=(0, 2), keepdim=True).data, x.data.sum(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(x.mean(-1).data, x.data.mean(-1))
    np.testing.assert_allclose(x.var(axis=1, correction=1).data, x.data.var(axis=1, ddof=1))
    np.testing.assert_allclose(x.std().data, x.data.std())
    np.testing.assert_allclose(x.max(axis=2).values.data, x.data.max(axis=2))
    np.testing.assert_allclose(x.min().data, 0.0)
    np.testing.assert_allclose((x / 20 + 0.5).prod(axis=0).data, (x.data / 20 + 0.5).prod(axis=0))
    np.testing.assert_allclose(x.logsumexp(axis=1).data, np.log(np.exp(x.data).sum(axis=1)))
    np.testing.assert_allclose(x.norm().data, np.linalg.norm(x.data.ravel()))
    np.testing.assert_allclose(x.norm(p=np.inf).data, 23.0)
    np.testing.assert_array_equal(x.argmax(axis=1).data, x.data.argmax(axis=1))
    assert x.argmin().item() == 0 and not x.argmax().requires_grad


def test_logsumexp_is_stable_for_large_inputs():
    x = ag.tensor([1000.0, 1000.0], dtype=np.float64, requires_grad=True)
    out = x.logsumexp()
    assert np.isclose(out.item(), 1000 + np.log(2))
    out.backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5])


def test_max_gradient_splits_among_ties():
    x = ag.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0.5, 0.5, 0])


def test_norm_gradient_at_zero_is_zero():
    x = ag.zeros(3, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 0])


def test_prod_gradient_is_exact_at_zeros():
    x = ag.tensor([2.0, 0.0, 3.0], dtype=np.float64, requires_grad=True)
    x.prod().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 6.0, 0.0])


def test_shape_ops():
    x = ag.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.view(-1).shape == (24,) and x.reshape((4, 6)).shape == (4, 6)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3) and x.permute(1, 0, 2).shape == (3, 2, 4)
    assert x.swapaxes(0, 1).shape == (3, 2, 4)
    m = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(m.transpose(0, 1).data, m.data.T)  # two axes swap, as in PyTorch
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.expand_dims(1).shape == (2, 1, 3, 4)
    assert ag.zeros(1, 3, 1).squeeze().shape == (3,) and ag.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert ag.zeros(2, 3).squeeze(0).shape == (2, 3)  # a dim that is not 1 stays, as in PyTorch
    assert ag.zeros(3, 1).broadcast_to(2, 3, 4).shape == (2, 3, 4)
    np.testing.assert_array_equal(ag.tensor([1, 2]).repeat(2).data, [1, 1, 2, 2])
    np.testing.assert_array_equal(m.repeat([1, 2], axis=0).data, np.repeat(m.data, [1, 2], axis=0))
    np.testing.assert_array_equal(m.tile(2, 1).data, np.tile(m.data, (2, 1)))
    np.testing.assert_array_equal(ag.tensor([1.0, 2.0]).tile(3).data, np.tile([1.0, 2.0], 3))
    np.testing.assert_array_equal(m.pad(1).data, np.pad(m.data, 1))
    padded = np.pad(m.data, ((0, 1), (2, 0)), constant_values=9)
    np.testing.assert_array_equal(m.pad(((0, 1), (2, 0)), value=9.0).data, padded)


def test_shape_op_gradients():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), dtype=np.float64, requires_grad=True)
    for f in [
        lambda t: t.repeat(2, axis=1),
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
    np.testing.assert_allclose(b.grad.data, [[6, 7, 8]])


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
    np.testing.assert_allclose(x.grad.data, [3.0, 0.0, 1.0])


def test_boolean_mask_gradient():
    x = ag.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x[x > 0] * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 2.0])


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
    np.testing.assert_allclose(out.data, np.matmul(a.data, b.data))
    assert ag.gradcheck(lambda p, q: p @ q, [a, b])
    np.testing.assert_allclose((a.data @ b).data, out.data)  # reflected form


def test_in_place_methods_under_no_grad():
    t = ag.tensor([1.0, 2.0, 3.0])
    t.add_(1).mul_(2).sub_(1).div_(2)
    np.testing.assert_allclose(t.data, [1.5, 2.5, 3.5])
    t.clamp_(min=2.0)
    np.testing.assert_allclose(t.data, [2.0, 2.5, 3.5])
    t.copy_(ag.tensor([7.0, 8.0, 9.0]))
    np.testing.assert_allclose(t.data, [7, 8, 9])
    t[1] = 0.0
    t.fill_(4.0)
    np.testing.assert_allclose(t.data, [4, 4, 4])
    t.zero_()
    assert t.tolist() == [0, 0, 0]
