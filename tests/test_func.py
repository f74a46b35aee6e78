"""Functional transforms (API.md section 3), checked against closed forms and torch.func."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import func

try:
    import torch
except ImportError:
    torch = None


def f(x):
    return (x.sin() * x).sum()


def test_grad_of_numpy_input_matches_closed_form():
    x = np.array([0.3, -1.2, 2.0])
    g = func.grad(f)(x)
    np.testing.assert_allclose(np.asarray(g), np.sin(x) + x * np.cos(x))
    assert not g.requires_grad


def test_grad_of_grad_is_the_second_derivative():
    d2 = func.grad(func.grad(lambda x: (x**3).sum()))
    np.testing.assert_allclose(np.asarray(d2(np.array(2.0))), 12.0)
    d3 = func.grad(func.grad(func.grad(lambda x: x.sin().sum())))
    np.testing.assert_allclose(np.asarray(d3(np.array(0.7))), -np.cos(0.7))


def test_argnums_and_has_aux_and_value_and_grad():
    def loss(w, b, x):
        out = (x @ w + b).tanh().sum()
        return out, {"out": out.item()}

    w, b, x = np.ones((3, 2)) * 0.1, np.zeros(2), np.arange(6.0).reshape(2, 3) / 6
    (gw, gb), aux = func.grad(loss, argnums=(0, 1), has_aux=True)(w, b, x)
    assert gw.shape == (3, 2) and gb.shape == (2,)
    (value, gw2), aux2 = func.value_and_grad(loss, has_aux=True)(w, b, x)
    np.testing.assert_allclose(np.asarray(gw2), np.asarray(gw))
    assert value.item() == aux["out"] == aux2["out"]
    t = np.tanh(x @ w + b)
    np.testing.assert_allclose(np.asarray(gb), (1 - t * t).sum(axis=0))


def test_grad_requires_a_scalar_output():
    with pytest.raises(ValueError, match="scalar"):
        func.grad(lambda x: x * 2)(np.ones(3))


def test_vjp_and_jvp_agree_with_the_jacobian():
    def g(x):
        return ag.stack([x[0] * x[1], x[1].exp(), (x * x).sum()])

    x = np.array([0.5, -0.3], dtype=np.float64)
    J = np.asarray(func.jacobian(g)(x))
    expected = np.array([[x[1], x[0]], [0, np.exp(x[1])], [2 * x[0], 2 * x[1]]])
    np.testing.assert_allclose(J, expected)
    out, vjp_fn = func.vjp(g, x)
    (gx,) = vjp_fn(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(np.asarray(gx), np.array([1.0, 2.0, 3.0]) @ expected)
    out2, tangent = func.jvp(g, (x,), (np.array([1.0, -1.0]),))
    np.testing.assert_allclose(np.asarray(tangent), expected @ np.array([1.0, -1.0]))
    np.testing.assert_allclose(np.asarray(out), np.asarray(out2))


def test_hessian_of_a_quadratic_and_of_a_nonlinear_function():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    H = func.hessian(lambda x: 0.5 * (x @ ag.tensor(A) @ x))(np.array([1.0, -1.0]))
    np.testing.assert_allclose(np.asarray(H), A)
    x = np.array([0.2, 0.4, -0.1])
    H = func.hessian(lambda v: v.exp().sum() * v.sum())(x)
    e = np.exp(x)
    np.testing.assert_allclose(np.asarray(H), np.diag(e * x.sum()) + e[:, None] + e[None, :])


def test_jacobian_of_an_elementwise_op_is_diagonal():
    J = func.jacobian(lambda x: x.sigmoid())(np.array([-1.0, 0.0, 2.0]))
    s = 1 / (1 + np.exp(-np.array([-1.0, 0.0, 2.0])))
    np.testing.assert_allclose(np.asarray(J), np.diag(s * (1 - s)))


def test_transforms_compose_with_outer_autograd():
    x = ag.tensor([0.5, 1.0], dtype=np.float64, requires_grad=True)
    g = func.grad(lambda v: (v**3).sum())(x)  # 3x^2, still attached to x
    g.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), 6 * np.asarray(x))


def test_unused_argument_gets_zero_gradient():
    gx, gy = func.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(np.asarray(gx), np.full(2, 2.0))
    np.testing.assert_array_equal(np.asarray(gy), np.zeros(3))


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_matches_torch_func():
    x = np.random.default_rng(0).standard_normal(4)

    def ours(v):
        return (v.tanh() * v.sin()).sum() + (v**2).prod()

    def theirs(v):
        return (v.tanh() * v.sin()).sum() + (v**2).prod()

    xt = torch.tensor(x)
    np.testing.assert_allclose(np.asarray(func.grad(ours)(x)), torch.func.grad(theirs)(xt).numpy())
    np.testing.assert_allclose(np.asarray(func.hessian(ours)(x)), torch.func.hessian(theirs)(xt).numpy())
    tangent = np.arange(4.0)
    np.testing.assert_allclose(
        np.asarray(func.jvp(ours, (x,), (tangent,))[1]),
        torch.func.jvp(theirs, (xt,), (torch.tensor(tangent),))[1].numpy(),
    )
