"""The activations added after the first set (celu, selu, relu6, hardtanh, hardsigmoid, hardswish, mish,
softsign, logsigmoid, softmin), normalize and one_hot: values and gradients against torch in float64 on
several shapes, PyTorch's gradient at each kink, in-place forms, modules and their reprs, gradcheck of the
composed functions, and errors."""

import math
import re

import numpy as np
import pytest
from nn_helpers import compare_with_torch, requires_torch, to_torch, torch

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core import activation_ops

SHAPES = [(7,), (3, 4), (2, 3, 5), ()]

# (name, our function, torch's, keyword arguments): torch's is looked up by name when torch is present
FUNCTIONS = [
    ("celu", F.celu, "celu", {}),
    ("celu-alpha", F.celu, "celu", {"alpha": 0.7}),
    ("celu-negative-alpha", F.celu, "celu", {"alpha": -1.5}),
    ("selu", F.selu, "selu", {}),
    ("relu6", F.relu6, "relu6", {}),
    ("hardtanh", F.hardtanh, "hardtanh", {}),
    ("hardtanh-bounds", F.hardtanh, "hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    ("hardsigmoid", F.hardsigmoid, "hardsigmoid", {}),
    ("hardswish", F.hardswish, "hardswish", {}),
    ("mish", F.mish, "mish", {}),
    ("softsign", F.softsign, "softsign", {}),
    ("logsigmoid", F.logsigmoid, "logsigmoid", {}),
    ("softmin", F.softmin, "softmin", {"dim": -1}),
]


def _input(shape, seed=0, scale=5.0):
    # spread over every kink (0, +-1, +-3, 6) and both tails
    return np.random.default_rng(seed).uniform(-scale, scale, size=shape) * (1.5 if shape else 1.0)


def _torch_function(name):
    return getattr(torch.nn.functional, name)


def _torch_tolerance(name, kwargs=None):
    """How closely torch's float64 results can be expected to agree with ours. Two of torch's kernels pass
    a constant through float32 even in float64: hardsigmoid's gradient is scaled by 1/6 rounded to float32
    (0.16666667163...), and celu's gradient for alpha != 1 is off by up to ~2e-7 relative from the exact
    exp(x / alpha) (ours; see test_celu_gradient_is_exact). Everything else agrees to rounding."""
    if name == "hardsigmoid" or (name == "celu" and (kwargs or {}).get("alpha", 1.0) != 1.0):
        return {"rtol": 1e-6, "atol": 1e-12}
    return {"rtol": 1e-10, "atol": 1e-12}


@requires_torch
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, ours, theirs, kwargs", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_values_and_gradients_match_torch(name, ours, theirs, kwargs, shape):
    compare_with_torch(
        lambda x: ours(x, **kwargs),
        lambda x: _torch_function(theirs)(x, **kwargs),
        [_input(shape, seed=len(shape))],
        **_torch_tolerance(theirs, kwargs),
    )


def test_celu_gradient_is_exact():
    array = _input((20,), seed=9)
    for alpha in (0.7, 1.0, 2.5, -1.5):
        x = ag.tensor(array, requires_grad=True)
        F.celu(x, alpha).sum().backward()
        expected = np.where(array > 0, 1.0, np.exp(np.minimum(array, 0) / alpha))
        np.testing.assert_allclose(np.asarray(x.grad), expected, rtol=1e-15)


# Each function at exactly its kinks (and just beside them), where the choice of one-sided gradient shows.
KINKS = {
    "relu6": (F.relu6, {}, [0.0, 6.0, -1e-300, 6.000000000000001, 3.0]),
    "hardtanh": (F.hardtanh, {}, [-1.0, 1.0, 0.0, -1.0000000000000002, 0.9999999999999999]),
    "hardtanh-bounds": (F.hardtanh, {"min_val": -3.0, "max_val": 2.5}, [-3.0, 2.5, 0.0]),
    "hardtanh-equal-bounds": (F.hardtanh, {"min_val": 0.5, "max_val": 0.5}, [0.5, 0.0, 1.0]),
    "hardsigmoid": (F.hardsigmoid, {}, [-3.0, 3.0, 0.0, -2.9999999999999996, 2.9999999999999996]),
    "hardswish": (F.hardswish, {}, [-3.0, 3.0, 0.0, -2.9999999999999996, 2.9999999999999996]),
    "celu": (F.celu, {"alpha": 2.0}, [0.0, -0.0, 1e-300]),
    "selu": (F.selu, {}, [0.0, -0.0, 1e-300]),
    "mish": (F.mish, {}, [0.0]),
    "softsign": (F.softsign, {}, [0.0, -0.0]),
    "logsigmoid": (F.logsigmoid, {}, [0.0]),
}


@requires_torch
@pytest.mark.parametrize("name", list(KINKS))
def test_gradients_at_the_kinks_equal_torchs(name):
    function, kwargs, points = KINKS[name]
    torch_name = name.split("-")[0]
    x = ag.tensor(np.array(points), requires_grad=True)
    function(x, **kwargs).sum().backward()
    reference = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    _torch_function(torch_name)(reference, **kwargs).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), reference.grad.numpy(), **_torch_tolerance(torch_name, kwargs))


def test_kink_gradients_are_pytorchs_one_sided_choices():
    """The same choices written out, so they hold without torch too."""

    def grad(function, points, **kwargs):
        x = ag.tensor(np.array(points), requires_grad=True)
        function(x, **kwargs).sum().backward()
        return np.asarray(x.grad)

    np.testing.assert_array_equal(grad(F.relu6, [0.0, 6.0, 3.0]), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad(F.hardtanh, [-1.0, 1.0, 0.0]), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad(F.hardsigmoid, [-3.0, 3.0, 0.0]), [0.0, 0.0, 1.0 / 6.0])
    np.testing.assert_array_equal(grad(F.hardswish, [-3.0, 3.0, 0.0, -1.5]), [0.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(
        grad(F.selu, [0.0, 1.0]), [activation_ops.SELU_SCALE * activation_ops.SELU_ALPHA, 1.0507009873554805]
    )
    np.testing.assert_array_equal(grad(F.celu, [0.0], alpha=3.0), [1.0])


@requires_torch
@pytest.mark.parametrize("name", ["logsigmoid", "softsign", "mish", "selu", "celu", "hardswish"])
def test_large_inputs_stay_finite_and_match_torch(name):
    points = [-1000.0, -40.0, -20.5, 20.5, 40.0, 1000.0]
    x = ag.tensor(np.array(points), requires_grad=True)
    y = getattr(F, name)(x)
    y.sum().backward()
    reference = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    expected = _torch_function(name)(reference)
    expected.sum().backward()
    assert np.all(np.isfinite(np.asarray(y.detach()))) and np.all(np.isfinite(np.asarray(x.grad)))
    np.testing.assert_allclose(np.asarray(y.detach()), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(x.grad), reference.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_logsigmoid_is_exact_far_in_the_tails():
    y = F.logsigmoid(ag.tensor(np.array([-800.0, 800.0, 0.0])))
    np.testing.assert_allclose(np.asarray(y), [-800.0, -math.exp(-800.0), -math.log(2.0)], rtol=1e-15)


# ---- composed functions: gradcheck and gradgradcheck ---------------------------------------------------

COMPOSED = [
    ("softmin-dim0", lambda x: F.softmin(x, dim=0)),
    ("softmin-dim-1", lambda x: F.softmin(x, dim=-1)),
    ("normalize", lambda x: F.normalize(x)),
    ("normalize-p1-dim0", lambda x: F.normalize(x, p=1.0, dim=0)),
    ("normalize-p3-dims", lambda x: F.normalize(x, p=3.0, dim=(1, 2))),
    ("normalize-inf", lambda x: F.normalize(x, p=math.inf, dim=-1)),
]


@pytest.mark.parametrize("name, function", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_composed_functions_gradcheck(name, function):
    x = ag.tensor(_input((2, 3, 4), seed=3), requires_grad=True)
    assert ag.gradcheck(function, (x,))
    assert ag.gradgradcheck(function, (x,))


@requires_torch
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"p": 1.0, "dim": 0}, {"p": 3.0, "dim": (1, 2)}, {"p": math.inf, "dim": -1}, {"dim": 2, "eps": 0.5}],
    ids=str,
)
def test_normalize_matches_torch(kwargs):
    array = _input((2, 3, 4), seed=4)
    array[0, :, 1] = 0.0  # a zero slice: divided by eps, zero gradient through the norm
    compare_with_torch(
        lambda x: F.normalize(x, **kwargs),
        lambda x: torch.nn.functional.normalize(x, **kwargs),
        [array],
        rtol=1e-10,
        atol=1e-12,
    )


def test_normalize_gives_unit_rows_and_leaves_zero_rows_zero():
    y = F.normalize(ag.tensor([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(np.asarray(y), [[0.6, 0.8], [0.0, 0.0]])
    assert y.dtype == np.float32


@requires_torch
def test_softmin_without_dim_uses_torchs_implicit_choice_with_a_warning():
    for shape in [(4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        array = _input(shape)
        with pytest.warns(UserWarning, match="softmin: implicit dimension choice is deprecated"):
            ours = F.softmin(ag.tensor(array))
        with pytest.warns(UserWarning):
            expected = torch.nn.functional.softmin(to_torch(array))
        np.testing.assert_allclose(np.asarray(ours), expected.numpy(), rtol=1e-12)


def test_softmin_casts_to_dtype_first():
    y = F.softmin(ag.tensor([1.0, 2.0, 3.0]), dim=0, dtype=np.float64)
    assert y.dtype == np.float64
    e = np.exp(-np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(np.asarray(y), e / e.sum(), rtol=1e-15)


# ---- one_hot ----------------------------------------------------------------------------------------


def test_one_hot_values_shape_and_dtype():
    y = F.one_hot(ag.tensor([[0, 2], [1, 2]]), num_classes=4)
    assert y.dtype == np.int64 and y.shape == (2, 2, 4)
    np.testing.assert_array_equal(np.asarray(y), np.eye(4, dtype=np.int64)[[[0, 2], [1, 2]]])
    inferred = F.one_hot(ag.tensor([3, 0, 1]))
    np.testing.assert_array_equal(np.asarray(inferred), np.eye(4, dtype=np.int64)[[3, 0, 1]])
    np.testing.assert_array_equal(np.asarray(F.one_hot(ag.tensor(2), 3)), [0, 0, 1])
    assert F.one_hot(np.zeros(0, dtype=np.int64), 3).shape == (0, 3)
    np.testing.assert_array_equal(np.asarray(F.one_hot(np.array([1, 0], dtype=np.int32), 2)), [[0, 1], [1, 0]])


@requires_torch
def test_one_hot_matches_torch():
    labels = np.array([[4, 0, 2], [1, 1, 3]])
    for num_classes in (-1, 5, 7):
        expected = torch.nn.functional.one_hot(torch.as_tensor(labels), num_classes)
        ours = F.one_hot(ag.tensor(labels), num_classes)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(np.asarray(ours), expected.numpy())


@pytest.mark.parametrize(
    "labels, num_classes, error, message",
    [
        (np.array([0, -1]), 3, ValueError, "one_hot: class values must be non-negative, got -1"),
        (np.array([0, 3]), 3, ValueError, "one_hot: class values must be smaller than num_classes=3, got 3"),
        (np.array([1]), 0, ValueError, "one_hot: class values must be smaller than num_classes=0"),
        (np.array([0.0, 1.0]), 2, TypeError, "one_hot: expected a tensor of integer class indices, got dtype float64"),
        (np.zeros(0, dtype=np.int64), -1, ValueError, "one_hot: cannot infer the number of classes from an empty"),
        (np.array([0, 1]), -2, ValueError, "one_hot: num_classes must be -1 (inferred) or >= 0, got -2"),
        (np.array([0, 1]), 2.0, TypeError, "one_hot: num_classes must be an int"),
    ],
)
def test_one_hot_errors(labels, num_classes, error, message):
    with pytest.raises(error, match=re.escape(message)):
        F.one_hot(labels, num_classes)


# ---- in place ---------------------------------------------------------------------------------------

INPLACE = [
    ("celu", {"alpha": 0.5}),
    ("selu", {}),
    ("relu6", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("mish", {}),
]


@requires_torch
@pytest.mark.parametrize("name, kwargs", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_writes_into_the_input_and_backpropagates_as_torch(name, kwargs):
    array = _input((3, 4), seed=5)
    x = ag.tensor(array, requires_grad=True)
    hidden = x * 2.0
    result = getattr(F, name)(hidden, inplace=True, **kwargs)
    assert result is hidden
    (result * result).sum().backward()
    reference = to_torch(array, requires_grad=True)
    torch_hidden = reference * 2.0
    torch_result = _torch_function(name)(torch_hidden, inplace=True, **kwargs)
    (torch_result * torch_result).sum().backward()
    np.testing.assert_allclose(np.asarray(hidden.detach()), torch_hidden.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(x.grad), reference.grad.numpy(), **_torch_tolerance(name, kwargs))


def test_inplace_without_grad_edits_the_array():
    array = np.array([-8.0, -1.0, 2.0, 9.0])
    x = ag.tensor(array.copy())
    assert F.relu6(x, inplace=True) is x
    np.testing.assert_array_equal(np.asarray(x), [0.0, 0.0, 2.0, 6.0])
    assert F.hardtanh(x, inplace=False) is not x


def test_inplace_errors():
    leaf = ag.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="hardswish_: a leaf tensor that requires grad cannot be modified in place"):
        F.hardswish(leaf, inplace=True)
    with pytest.raises(TypeError, match="selu_: in-place needs a floating tensor"):
        F.selu(ag.tensor([1, 2]), inplace=True)
    with pytest.raises(TypeError, match="mish: inplace must be a bool"):
        F.mish(ag.tensor([1.0]), inplace="yes")
    with pytest.raises(TypeError, match="relu6: inplace must be a bool"):
        F.relu6(ag.tensor([1.0]), inplace=None)
    with ag.no_grad():  # outside grad recording a leaf may be edited, as in PyTorch
        F.relu6(leaf, inplace=True)
    np.testing.assert_array_equal(np.asarray(leaf.detach()), [1.0, 0.0])


# ---- the torch-level functions --------------------------------------------------------------------------


@requires_torch
def test_celu_selu_and_their_inplace_forms_match_torch():
    array = _input((2, 5), seed=6)
    compare_with_torch(lambda x: activation_ops.celu(x, 1.5), lambda x: torch.celu(x, 1.5), [array], rtol=1e-12)
    compare_with_torch(activation_ops.selu, torch.selu, [array], rtol=1e-12)
    x = ag.tensor(array.copy())
    assert activation_ops.selu_(x) is x
    np.testing.assert_allclose(np.asarray(x), torch.selu(to_torch(array)).numpy(), rtol=1e-12)
    x = ag.tensor(array.copy())
    assert activation_ops.celu_(x, alpha=0.5) is x
    np.testing.assert_allclose(np.asarray(x), torch.celu(to_torch(array), 0.5).numpy(), rtol=1e-12)


def test_activations_keep_float32_and_promote_integers_to_the_default_dtype():
    x32 = ag.tensor(np.linspace(-4, 4, 6, dtype=np.float32))
    for name, function, _, kwargs in FUNCTIONS:
        assert function(x32, **kwargs).dtype == np.float32, name
    assert F.hardswish(ag.tensor([1, -4, 5])).dtype == np.float32
    np.testing.assert_allclose(np.asarray(F.relu6(ag.tensor([-1, 3, 8]))), [0.0, 3.0, 6.0])


# ---- modules ------------------------------------------------------------------------------------------

MODULES = [
    ("CELU", lambda m: m.CELU(), "CELU(alpha=1.0)"),
    ("CELU-args", lambda m: m.CELU(0.5, True), "CELU(alpha=0.5, inplace=True)"),
    ("SELU", lambda m: m.SELU(), "SELU()"),
    ("SELU-inplace", lambda m: m.SELU(inplace=True), "SELU(inplace=True)"),
    ("ReLU6", lambda m: m.ReLU6(), "ReLU6()"),
    ("ReLU6-inplace", lambda m: m.ReLU6(True), "ReLU6(inplace=True)"),
    ("Hardtanh", lambda m: m.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    ("Hardtanh-args", lambda m: m.Hardtanh(-2, 3.5), "Hardtanh(min_val=-2, max_val=3.5)"),
    ("Hardsigmoid", lambda m: m.Hardsigmoid(), "Hardsigmoid()"),
    ("Hardsigmoid-inplace", lambda m: m.Hardsigmoid(inplace=True), "Hardsigmoid()"),
    ("Hardswish", lambda m: m.Hardswish(), "Hardswish()"),
    ("Mish", lambda m: m.Mish(), "Mish()"),
    ("Mish-inplace", lambda m: m.Mish(inplace=True), "Mish(inplace=True)"),
    ("Softsign", lambda m: m.Softsign(), "Softsign()"),
    ("LogSigmoid", lambda m: m.LogSigmoid(), "LogSigmoid()"),
    ("Softmin", lambda m: m.Softmin(1), "Softmin(dim=1)"),
    ("Softmin-dim", lambda m: m.Softmin(dim=-1), "Softmin(dim=-1)"),
    ("Softmax", lambda m: m.Softmax(dim=-1), "Softmax(dim=-1)"),
    ("LogSoftmax", lambda m: m.LogSoftmax(1), "LogSoftmax(dim=1)"),
]


@pytest.mark.parametrize("name, build, expected", MODULES, ids=[m[0] for m in MODULES])
def test_module_reprs_are_pytorchs(name, build, expected):
    assert repr(build(nn)) == expected
    if torch is not None:
        assert repr(build(torch.nn)) == expected


def test_softmax_default_and_softmin_default_reprs():
    assert repr(nn.Softmax()) == "Softmax(dim=-1)"  # the library's default axis (PyTorch's is None)
    assert repr(nn.Softmin()) == "Softmin(dim=None)"
    assert nn.Softmax(axis=0).dim == 0  # the old spelling still builds it


@requires_torch
@pytest.mark.parametrize("name, build, expected", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(name, build, expected):
    array = _input((2, 3, 4), seed=7)
    # in-place modules run on a non-leaf (x * 1), as they must in both libraries
    compare_with_torch(
        lambda x: build(nn)(x * 1.0),
        lambda x: build(torch.nn)(x * 1.0),
        [array],
        **_torch_tolerance(name.split("-")[0].lower(), {"alpha": 0.5} if name == "CELU-args" else None),
    )


def test_module_hyperparameters_are_attributes_and_stay_out_of_the_state_dict():
    module = nn.Hardtanh(-2.0, 3.0, inplace=True)
    assert (module.min_val, module.max_val, module.inplace) == (-2.0, 3.0, True)
    assert module.state_dict() == {}
    assert nn.CELU(alpha=0.3).alpha == 0.3
    assert nn.Softmin(dim=2).dim == 2


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nn.Hardtanh(2.0, 1.0), ValueError, "hardtanh: min_val must not exceed max_val"),
        (lambda: nn.Hardtanh(min_val="0"), TypeError, "Hardtanh: min_val must be a real number"),
        (lambda: nn.CELU(alpha=0.0), ValueError, "celu: alpha must not be 0"),
        (lambda: nn.CELU(alpha="1"), TypeError, "CELU: alpha must be a real number"),
        (lambda: nn.ReLU6(inplace=1), TypeError, "ReLU6: inplace must be a bool"),
        (lambda: nn.Softmin(dim=1.0), TypeError, "Softmin: dim must be an int"),
        (lambda: nn.Mish(True, True), TypeError, "Mish: takes at most 1 positional"),
        (lambda: nn.Softsign(inplace=True), TypeError, "Softsign: unexpected argument 'inplace'"),
    ],
)
def test_bad_module_arguments_raise_clear_errors(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build()(ag.tensor([1.0, -1.0]) * 1.0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: F.celu(x, alpha=0), ValueError, "celu: alpha must not be 0"),
        (lambda x: F.hardtanh(x, 1.0, -1.0), ValueError, "hardtanh: min_val must not exceed max_val"),
        (lambda x: F.hardtanh(x, None), TypeError, "hardtanh: min_val must be a real number"),
        (lambda x: F.normalize(x, p=0), ValueError, "normalize: p must be > 0"),
        (lambda x: F.normalize(x, eps=-1.0), ValueError, "normalize: eps must be > 0"),
        (lambda x: F.softmin(x, dim="0"), TypeError, "softmin: dim must be an int"),
        (lambda x: activation_ops.celu(x, alpha=0.0), ValueError, "celu: alpha must not be 0"),
        (lambda x: activation_ops.selu([1.0]), TypeError, "selu: expected a Tensor or numpy array, got list"),
    ],
)
def test_bad_function_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(ag.tensor([1.0, -1.0]))


def test_get_activation_knows_the_new_names():
    for name, expected in [
        ("celu", nn.CELU),
        ("selu", nn.SELU),
        ("relu6", nn.ReLU6),
        ("hardtanh", nn.Hardtanh),
        ("hardsigmoid", nn.Hardsigmoid),
        ("hardswish", nn.Hardswish),
        ("mish", nn.Mish),
        ("softsign", nn.Softsign),
        ("logsigmoid", nn.LogSigmoid),
    ]:
        assert type(nn.get_activation(name)) is expected
    model = nn.MLP([3, 4, 2], activation="hardswish")
    assert any(isinstance(m, nn.Hardswish) for m in model.modules())
