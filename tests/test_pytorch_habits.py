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
    with pytest.raises(ValueError, match=r"matmul_: cannot update a tensor of shape \(2, 2\)"):
        t @= ag.ones(2, 3)


def test_augmented_assignment_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad"):
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
    with pytest.raises(TypeError, match=r"div_: cannot update a tensor of shape \(2,\) and dtype int64"):
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
    with pytest.raises(TypeError, match=r"var: give at most one of unbiased, correction and ddof"):
        x.var(unbiased=True, correction=1)
    with pytest.raises(TypeError, match=r"std: unbiased must be a bool"):
        x.std(0, 1)
    with pytest.raises(ValueError, match=r"var: correction must be a non-negative int, got -1"):
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


# ---- dtypes, the device, conversions -------------------------------------------------------------------


def test_dtype_objects_are_pytorchs_names_for_numpy_dtypes():
    assert ag.float32 == np.float32 and ag.float == ag.float32 and ag.double == ag.float64 == np.float64
    assert ag.long == ag.int64 and ag.int == ag.int32 and ag.half == ag.float16 and ag.bool == np.bool_
    assert ag.tensor([1.0], dtype=ag.float64).dtype == ag.double
    assert ag.zeros(2, dtype=ag.long).dtype == np.int64
    assert ag.get_default_dtype() == ag.float32
    assert "float" not in ag.__all__ and "float32" in ag.__all__  # `import *` must not shadow the builtins


@needs_torch
@pytest.mark.parametrize(
    "name", ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "float", "double", "long"]
)
def test_each_dtype_name_means_what_it_means_in_pytorch(name):
    assert str(getattr(ag, name)) == str(getattr(torch, name)).removeprefix("torch.")


def test_to_converts_dtype_and_accepts_the_cpu():
    x = ag.tensor([1.5, 2.5], requires_grad=True)
    assert x.to("cpu") is x and x.to(ag.float32) is x and x.cpu() is x
    assert x.to("cpu", ag.float64).dtype == np.float64 and x.to(dtype=ag.float64).dtype == np.float64
    assert x.to(ag.tensor([1], dtype=ag.int64)).dtype == np.int64
    assert x.to(ag.float32, copy=True) is not x
    y = x.to(ag.float64)
    (y * y).sum().backward()  # the conversion is differentiable
    np.testing.assert_allclose(np.asarray(x.grad), [3.0, 5.0])
    assert x.device == "cpu" and repr(x.device) == "device(type='cpu')" and x.device == ag.device("cpu")
    with pytest.raises(
        RuntimeError, match=r"to: device: autograd-core runs on the CPU only; expected 'cpu', got 'cuda'"
    ):
        x.to("cuda")
    with pytest.raises(RuntimeError, match=r"zeros: device: .* got 'cuda:0'"):
        ag.zeros(2, device="cuda:0")


def test_size_dim_nelement_and_friends():
    x = ag.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4 and x.dim() == 3 and x.nelement() == 24
    assert x.element_size() == 4 and x.is_floating_point() and not x.long().is_floating_point()
    assert x.half().dtype == np.float16 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert x.type_as(ag.zeros(1, dtype=ag.float64)).dtype == np.float64
    assert x.mT.shape == (2, 4, 3) and x[0].t().shape == (4, 3)
    with pytest.raises(ValueError, match=r"size: axis 3 is out of range for a tensor with 3 dimensions"):
        x.size(3)
    assert x.new_zeros(2, 2).dtype == np.float32 and x.new_ones((1,)).tolist() == [1.0]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_tensor([1, 2]).dtype == np.float32


def test_module_to_casts_parameters_in_place():
    import nn

    model = nn.Linear(2, 3)
    weight = model.weight
    assert model.to("cpu") is model and model.to(ag.float64) is model
    assert model.weight is weight and weight.dtype == np.float64 and model.bias.dtype == np.float64
    assert model.half().weight.dtype == np.float16
    with pytest.raises(TypeError, match=r"Linear.to/astype: only floating dtypes"):
        model.to(ag.int64)
    with pytest.raises(RuntimeError, match=r"CPU only"):
        model.to("cuda")


def test_inference_mode_disables_recording():
    x = ag.tensor([1.0], requires_grad=True)
    with ag.inference_mode():
        assert not (x * 2).requires_grad
    with ag.inference_mode(False):
        assert (x * 2).requires_grad

    @ag.inference_mode()
    def predict(v):
        return v * 2

    assert not predict(x).requires_grad and ag.is_grad_enabled()


def test_a_missing_pytorch_name_says_so():
    with pytest.raises(AttributeError, match=r"If it is PyTorch's torch.cuda, autograd-core does not provide it"):
        ag.cuda  # noqa: B018


def test_keyword_names_are_pytorchs():
    x, y = ag.tensor([[1.0, 2.0]]), ag.tensor([[3.0], [4.0]])
    assert ag.matmul(input=x, other=y).item() == 11.0
    assert ag.add(x, x, alpha=2).tolist() == [[3.0, 6.0]] and ag.sub(input=x, other=x).tolist() == [[0.0, 0.0]]
    assert ag.where(x > 1, input=x, other=0.0).tolist() == [[0.0, 2.0]]
    assert ag.exp(input=ag.zeros(1)).item() == 1.0 and ag.sum(input=x, dim=1).tolist() == [3.0]
    assert ag.maximum(input=x, other=ag.tensor(1.5)).tolist() == [[1.5, 2.0]]
    assert x.unsqueeze(dim=0).shape == (1, 1, 2) and ag.unsqueeze(x, dim=2).shape == (1, 2, 1)
    p = ag.tensor([1.0, 2.0])
    p.add_(ag.tensor([1.0, 1.0]), alpha=-0.5)  # PyTorch's optimizer idiom
    assert p.tolist() == [0.5, 1.5]


# ---- constructors and random numbers ------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize(
    "call",
    [
        "linspace(0, 1, 5)",
        "linspace(-2, 2, 1)",
        "logspace(0, 2, 3)",
        "logspace(0, 3, 4, base=2.0)",
        "full((2, 2), 3)",
        "full((2,), 1.5)",
        "full((2,), True)",
        "full_like(zeros(2, 3), 7.0)",
        "empty(2, 3).shape",
        "arange(5)",
        "arange(0, 1, 0.25)",
        "eye(2, 3)",
        "zeros_like(ones(2, dtype=int64))",
        "ones_like(zeros(3), dtype=float64)",
    ],
)
def test_constructors_match_torch(call):
    ours = eval(call, vars(ag))
    theirs = eval(call, {**vars(torch), "int64": torch.int64, "float64": torch.float64})
    if isinstance(ours, tuple):
        assert ours == tuple(theirs)
        return
    np.testing.assert_allclose(np.asarray(ours), theirs.numpy(), rtol=1e-6)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def test_generators_give_independent_reproducible_streams():
    g1, g2 = ag.Generator().manual_seed(3), ag.Generator().manual_seed(3)
    a = ag.randn(4, generator=g1)
    ag.randn(10)  # the default generator does not disturb g2
    assert a.tolist() == ag.randn(4, generator=g2).tolist() and g1.initial_seed() == 3
    state = g1.get_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    first = ag.rand(3, generator=g1)
    g1.set_state(state)
    assert ag.rand(3, generator=g1).tolist() == first.tolist()
    with pytest.raises(TypeError, match=r"rand: generator must be an ag.Generator, got int"):
        ag.rand(2, generator=0)
    with pytest.raises(ValueError, match=r"Generator.set_state: not a state that get_state returned"):
        g1.set_state(ag.tensor([1, 2, 3], dtype=ag.uint8))


def test_rng_state_round_trips_the_default_generator():
    assert ag.manual_seed(5) is ag.default_generator
    state = ag.get_rng_state()
    first = (ag.randn(3), ag.randint(0, 10, (4,)), ag.randperm(5))
    ag.set_rng_state(state)
    second = (ag.randn(3), ag.randint(0, 10, (4,)), ag.randperm(5))
    for a, b in zip(first, second):
        assert a.tolist() == b.tolist()
    assert ag.initial_seed() == 5


def test_random_constructors_follow_pytorchs_signatures():
    assert sorted(ag.randperm(6).tolist()) == list(range(6)) and ag.randperm(6).dtype == np.int64
    assert ag.randint(10, (3,)).shape == (3,) and ag.randint(3, 5, (2, 2)).dtype == np.int64
    values = ag.normal(2.0, 0.5, (20000,))
    assert (
        values.dtype == np.float32 and abs(values.mean().item() - 2.0) < 0.02 and abs(values.std().item() - 0.5) < 0.02
    )
    means = ag.normal(ag.tensor([0.0, 100.0], dtype=ag.float64), 1e-6)
    assert means.dtype == np.float64 and np.allclose(np.asarray(means), [0.0, 100.0], atol=1e-3)
    coins = ag.bernoulli(ag.full((20000,), 0.25))
    assert set(np.unique(np.asarray(coins))) <= {0.0, 1.0} and abs(coins.mean().item() - 0.25) < 0.02
    assert ag.rand_like(ag.zeros(2, 3, dtype=ag.float64)).dtype == np.float64
    assert ag.randn_like(ag.zeros(4)).shape == (4,)


def test_multinomial_draws_in_proportion_and_without_replacement():
    counts = np.bincount(np.asarray(ag.multinomial(ag.tensor([1.0, 3.0]), 20000, replacement=True)), minlength=2)
    assert abs(counts[1] / 20000 - 0.75) < 0.02
    rows = ag.multinomial(ag.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]), 2)
    assert rows.shape == (2, 2) and rows.dtype == np.int64
    assert sorted(rows[0].tolist()) == [0, 1] and sorted(rows[1].tolist()) == [1, 2]
    with pytest.raises(ValueError, match=r"multinomial: cannot draw 3 samples without replacement"):
        ag.multinomial(ag.tensor([1.0, 1.0, 0.0]), 3)
    with pytest.raises(ValueError, match=r"multinomial: weights must be finite and non-negative"):
        ag.multinomial(ag.tensor([1.0, -1.0]), 1)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: ag.linspace(0, 1, -1), ValueError, "linspace: steps must be a non-negative int, got -1"),
        (lambda: ag.randperm(-1), ValueError, "randperm: n must be a non-negative int"),
        (lambda: ag.normal(0.0, -1.0, (2,)), ValueError, "normal: std must be non-negative"),
        (lambda: ag.bernoulli(ag.tensor([1.5])), ValueError, "bernoulli: probabilities must be in"),
        (lambda: ag.rand(2, dtype=ag.int64), TypeError, "rand: expected a floating dtype, got int64"),
        (lambda: ag.manual_seed(-1), ValueError, "manual_seed: seed must be a non-negative int"),
    ],
)
def test_constructor_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- nn.functional forms PyTorch code calls directly ----------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_takes_any_number_of_spatial_axes(training):
    import nn.functional as F

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 2))
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    ours_stats = [ag.tensor(mean), ag.tensor(var)]
    theirs_stats = [torch.tensor(mean), torch.tensor(var)]
    ours_x = ag.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    ours = F.batch_norm(ours_x, *ours_stats, ag.tensor(weight), ag.tensor(bias), training=training)
    theirs = torch.nn.functional.batch_norm(
        theirs_x, *theirs_stats, torch.tensor(weight), torch.tensor(bias), training=training
    )
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(np.asarray(ours_x.grad), theirs_x.grad.numpy(), rtol=1e-8, atol=1e-10)
    for a, b in zip(ours_stats, theirs_stats):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-12)


def test_functional_embedding_padding_idx_gets_no_gradient():
    import nn.functional as F

    weight = ag.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    out = F.embedding(ag.tensor([[0, 3], [3, 1]]), weight, padding_idx=-1)
    np.testing.assert_array_equal(np.asarray(out), np.arange(12.0).reshape(4, 3)[[[0, 3], [3, 1]]])
    out.sum().backward()
    np.testing.assert_array_equal(np.asarray(weight.grad)[:, 0], [1.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be an int in \[-4, 4\), got 4"):
        F.embedding(ag.tensor([0]), weight, padding_idx=4)


# ---- torch.autograd's names -------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize(
    "name, fn, inputs, extra",
    [
        ("jacobian", lambda x: x.sin() * x, ([0.5, -1.0, 2.0],), ()),
        ("jacobian", lambda a, b: a * b.sum(), ([1.0, 2.0], [3.0, -1.0, 0.5]), ()),
        ("hessian", lambda x: (x**3).sum() + x.prod(), ([0.5, -1.0, 2.0],), ()),
        ("hessian", lambda a, b: (a * a * b).sum(), ([1.0, 2.0], [3.0, -1.0]), ()),
        ("vjp", lambda x: x.exp() * 2, ([0.5, -1.0],), ([1.0, 3.0],)),
        ("jvp", lambda x: x.exp() * 2, ([0.5, -1.0],), ([1.0, 3.0],)),
        ("vjp", lambda x: (x * x).sum(), ([0.5, -1.0],), ()),
    ],
)
def test_autograd_functional_matches_torch(name, fn, inputs, extra):
    def call(lib):
        args = tuple(lib.tensor(v, dtype=lib.float64) for v in inputs)
        more = tuple(lib.tensor(v, dtype=lib.float64) for v in extra)
        return getattr(lib.autograd.functional, name)(fn, args if len(args) > 1 else args[0], *more)

    def flat(value):
        if isinstance(value, (tuple, list)):
            return [leaf for item in value for leaf in flat(item)]
        return [np.asarray(value.detach().numpy() if isinstance(value, torch.Tensor) else value)]

    ours, theirs = flat(call(ag)), flat(call(torch))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_autograd_namespace_holds_pytorchs_names():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ag.autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2.0, 4.0]
    ag.autograd.backward([(x * 3).sum()])
    assert x.grad.tolist() == [3.0, 3.0]
    assert ag.autograd.Function is ag.Function and ag.autograd.gradcheck is ag.gradcheck
    with ag.autograd.no_grad():
        assert not (x * 2).requires_grad


def test_cuda_says_cpu_only_and_missing_methods_say_so():
    import nn

    with pytest.raises(RuntimeError, match="CPU only"):
        ag.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 2).cuda()
    with pytest.raises(AttributeError, match="if it is a method of PyTorch's Tensor, autograd-core does not provide"):
        ag.ones(2).pin_memory_of_the_future()
    assert ag.is_tensor(ag.ones(1)) and not ag.is_tensor(np.ones(1)) and ag.numel(ag.ones(2, 3)) == 6


@needs_torch
def test_a_loss_weight_is_a_buffer_in_the_state_dict_as_pytorchs():
    import nn

    weight = [1.0, 2.0, 0.5]
    ours = nn.CrossEntropyLoss(weight=ag.tensor(weight))
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours.load_state_dict({"weight": ag.tensor([3.0, 1.0, 1.0])})
    logits, target = np.array([[0.2, 1.0, -0.5], [0.1, 0.3, 2.0]]), np.array([0, 2])
    expected = torch.nn.CrossEntropyLoss(weight=torch.tensor([3.0, 1.0, 1.0], dtype=torch.float64))(
        torch.tensor(logits), torch.tensor(target)
    )
    assert ours.to(ag.float64)(ag.tensor(logits), ag.tensor(target)).item() == pytest.approx(expected.item(), rel=1e-12)
    assert ours.weight.dtype == np.float64
    pos = nn.BCEWithLogitsLoss(pos_weight=ag.tensor([2.0]))
    assert list(pos.state_dict()) == list(torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0])).state_dict())
    assert list(nn.CrossEntropyLoss().state_dict()) == []


@pytest.mark.parametrize(
    "initializer",
    ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"],
)
def test_initializers_take_a_generator(initializer):
    import nn

    fill = getattr(nn.init, initializer)
    first = fill(ag.empty(4, 3), generator=ag.Generator().manual_seed(7))
    ag.randn(5)  # the default generator moving does not matter
    second = fill(ag.empty(4, 3), generator=ag.Generator().manual_seed(7))
    assert first.tolist() == second.tolist()
    assert first.tolist() != fill(ag.empty(4, 3), generator=ag.Generator().manual_seed(8)).tolist()
    with pytest.raises(TypeError, match=f"{initializer}: generator must be an ag.Generator or None, got int"):
        fill(ag.empty(4, 3), generator=7)
