"""Code copied from PyTorch does what it does there: `.data`, augmented assignment in place, the defaults,
type promotion, dtype objects and the constructors (API.md section 1). Each test pins a habit that once
gave a silently different result here."""

import numpy as np
import pytest

import autograd_core as ag

try:
    import torch
except ImportError:  # torch is an optional oracle: without it the comparisons skip, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


# ---- .data ----------------------------------------------------------------------------------------------


def test_data_is_a_detached_tensor_sharing_memory():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    view = p.data
    assert isinstance(view, ag.Tensor) and not view.requires_grad and view.grad_fn is None
    assert np.shares_memory(np.asarray(view), np.asarray(p))
    view[0] = 5.0
    assert p.tolist() == [5.0, 2.0]


def test_data_update_idioms_change_the_parameter_in_place():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    array = np.asarray(p)
    p.data += -0.1 * p.grad
    p.data.mul_(2.0)
    assert np.asarray(p) is array
    np.testing.assert_allclose(np.asarray(p), [1.6, 3.2], rtol=1e-6)
    assert p.requires_grad and p.is_leaf


def test_edits_through_data_are_invisible_to_autograd_as_in_pytorch():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (p * p).sum()
    p.data.mul_(10.0)  # PyTorch's `.data` has its own version counter: no in-place error at backward
    y.backward()
    np.testing.assert_allclose(np.asarray(p.grad), [20.0, 40.0])


def test_assigning_data_replaces_values_shape_and_dtype_keeping_the_object():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    p.data = ag.tensor([[1.0, 2.0, 3.0]], dtype=np.float64)
    assert p.shape == (1, 3) and p.dtype == np.float64 and p.requires_grad
    with pytest.raises(TypeError, match=r"Tensor\.data: expected a Tensor, got ndarray"):
        p.data = np.zeros(2)


def test_from_numpy_shares_memory():
    array = np.arange(3.0)
    t = ag.from_numpy(array)
    array[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0]
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy\.ndarray, got list"):
        ag.from_numpy([1.0])


# ---- augmented assignment ---------------------------------------------------------------------------------


def test_the_polynomial_fit_idiom_trains():
    """PyTorch's "learning PyTorch with examples" update: `w -= lr * w.grad` under no_grad."""
    x = ag.tensor(np.linspace(-1, 1, 50))
    y = 0.5 + 2.0 * x
    a, b = ag.tensor(0.0, requires_grad=True), ag.tensor(0.0, requires_grad=True)
    losses = []
    for _ in range(200):
        loss = ((a + b * x - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with ag.no_grad():
            a -= 1e-2 * a.grad
            b -= 1e-2 * b.grad
            a.grad = None
            b.grad = None
    assert losses[-1] < 1e-6 * losses[0]
    assert a.item() == pytest.approx(0.5, abs=1e-4) and b.item() == pytest.approx(2.0, abs=1e-4)


@pytest.mark.parametrize(
    "update, expected",
    [
        (lambda t: t.__iadd__(2.0), [3.0, 4.0]),
        (lambda t: t.__isub__(ag.tensor([1.0, 1.0])), [0.0, 1.0]),
        (lambda t: t.__imul__(3.0), [3.0, 6.0]),
        (lambda t: t.__itruediv__(2.0), [0.5, 1.0]),
    ],
)
def test_augmented_assignment_is_in_place_and_bumps_the_version(update, expected):
    t = ag.tensor([1.0, 2.0])
    array, version = np.asarray(t), t._version_counter[0]
    assert update(t) is t
    assert np.asarray(t) is array and t.tolist() == expected
    assert t._version_counter[0] == version + 1


def test_in_place_matmul_keeps_the_object():
    t = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    same = t
    t @= ag.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert t is same and t.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    with pytest.raises(ValueError, match="matmul_: cannot update a tensor of shape \\(2, 2\\)"):
        t @= ag.ones(2, 3)


def test_augmented_assignment_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        w += 1.0


def test_augmented_assignment_is_recorded_on_a_non_leaf():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    y *= x  # y = 2x^2, d/dx = 4x
    y += x
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [5.0, 9.0])


def test_augmented_assignment_of_a_tensor_by_itself_is_refused_at_backward_as_pytorch():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    y *= y  # mul saved its operand y, which this very update overwrites
    with pytest.raises(RuntimeError, match=r"mul: an input .* was modified by an in-place operation"):
        y.sum().backward()


def test_augmented_assignment_refuses_a_widening_cast_as_pytorch():
    t = ag.tensor([1, 2])
    with pytest.raises(TypeError, match="div_: cannot update a tensor of shape \\(2,\\) and dtype int64"):
        t /= 2


# ---- var and std: PyTorch's default correction and edge points -------------------------------------------


def test_var_and_std_default_to_bessels_correction():
    x = ag.tensor([[1.0, 2.0, 4.0], [0.0, 3.0, 9.0]], dtype=np.float64)
    array = np.asarray(x)
    np.testing.assert_allclose(np.asarray(x.var()), array.var(ddof=1))
    np.testing.assert_allclose(np.asarray(x.std(dim=1)), array.std(axis=1, ddof=1))
    np.testing.assert_allclose(np.asarray(ag.var(x, 0, False)), array.var(axis=0))
    np.testing.assert_allclose(np.asarray(x.var(1, unbiased=True, keepdim=True)), array.var(1, ddof=1, keepdims=True))
    np.testing.assert_allclose(np.asarray(x.std(correction=2)), array.std(ddof=2))
    np.testing.assert_allclose(np.asarray(x.var(ddof=0)), array.var())


@needs_torch
@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize(
    "values, kwargs",
    [
        ([[1.0, 2.0, 4.0], [0.0, 3.0, 9.0]], {}),
        ([[1.0, 2.0, 4.0], [0.0, 3.0, 9.0]], {"dim": 1, "correction": 0, "keepdim": True}),
        ([2.0, 2.0, 2.0], {}),  # a constant: std's gradient is 0 in PyTorch, not 0/0
        ([2.0], {}),  # N - correction = 0: nan value and gradient, not an error
        ([1.0, 3.0, 4.0], {"correction": 2}),
    ],
)
def test_var_and_std_values_and_gradients_match_torch(name, values, kwargs):
    ours = ag.tensor(values, dtype=np.float64, requires_grad=True)
    theirs = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    out, expected = getattr(ours, name)(**kwargs), getattr(theirs, name)(**kwargs)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy())
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy())


def test_var_arguments_are_checked():
    x = ag.ones(3)
    with pytest.raises(TypeError, match="var: give at most one of unbiased, correction and ddof"):
        x.var(unbiased=True, correction=1)
    with pytest.raises(TypeError, match="std: unbiased must be a bool"):
        x.std(0, 1)
    with pytest.raises(ValueError, match="var: correction must be a non-negative int, got -1"):
        x.var(correction=-1)


# ---- type promotion ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "compute",
    [
        lambda ints, floats, f64_scalar: ints * 1.5,
        lambda ints, floats, f64_scalar: ints / 2,
        lambda ints, floats, f64_scalar: ints.exp(),
        lambda ints, floats, f64_scalar: ints.sqrt(),
        lambda ints, floats, f64_scalar: ints.sigmoid(),
        lambda ints, floats, f64_scalar: ints + floats,
        lambda ints, floats, f64_scalar: floats * f64_scalar,
        lambda ints, floats, f64_scalar: floats * 2.0,
        lambda ints, floats, f64_scalar: 2.0**floats,
        lambda ints, floats, f64_scalar: ints.float().mean(),
        lambda ints, floats, f64_scalar: (ints > 1) * 0.5,
    ],
)
def test_a_float32_program_never_drifts_into_float64(compute):
    ints, floats = ag.tensor([1, 2, 3]), ag.tensor([0.5, 1.0, 1.5])
    f64_scalar = ag.tensor(2.0, dtype=np.float64)  # a 0-d tensor does not widen a tensor with dimensions
    assert compute(ints, floats, f64_scalar).dtype == np.float32
    if torch is not None:
        expected = compute(
            torch.tensor([1, 2, 3]), torch.tensor([0.5, 1.0, 1.5]), torch.tensor(2.0, dtype=torch.float64)
        )
        assert expected.dtype == torch.float32


def test_promotion_keeps_what_pytorch_keeps():
    ints = ag.tensor([1, 2, 3])
    assert (ints * 2).dtype == np.int64 and (ints + ag.tensor([True, False, True])).dtype == np.int64
    assert (ag.ones(2, dtype=np.float64) * ag.ones(2)).dtype == np.float64  # dimensioned tensors promote
    assert (ag.ones(2, dtype=np.float64) * 2.0).dtype == np.float64
    assert ag.ones(2).double().dtype == np.float64  # an explicit dtype is the caller's choice
    assert ag.where(ints > 1, ints, 0.5).dtype == np.float32
    ag.set_default_dtype(np.float64)
    assert (ints / 2).dtype == np.float64  # integers meet floats in the default dtype


def test_gradients_flow_through_promoted_ops():
    w = ag.tensor([0.5, -1.0], requires_grad=True)
    loss = (w * ag.tensor([2, 3])).sum() + (w * ag.tensor(1.0, dtype=np.float64)).sum()
    assert loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(np.asarray(w.grad), [3.0, 4.0])


@pytest.mark.parametrize("name, value", [("softmax", 1.0), ("log_softmax", 0.0)])
def test_softmax_of_a_0d_tensor_is_pytorchs(name, value):
    x = ag.tensor(2.0, requires_grad=True)
    out = getattr(x, name)(0)
    assert out.shape == () and out.item() == value
    out.backward()
    assert x.grad.item() == 0.0
    with pytest.raises(ValueError, match=f"{name}: axis 1 is out of range for a tensor with 0 dimensions"):
        getattr(x, name)(dim=1)
