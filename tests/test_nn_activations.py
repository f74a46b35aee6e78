"""Activation modules and functions: values and gradients against torch, gradcheck in float64, reprs,
get_activation, and construction errors."""

import numpy as np
import pytest
from nn_helpers import compare_with_torch, copy_weights, requires_torch, torch

import autograd_core as ag
import nn
import nn.functional as F

# (our module, the torch module built from the same arguments' names, or None where torch has none)
ACTIVATION_CASES = [
    ("Sigmoid", lambda: nn.Sigmoid(), lambda t: t.Sigmoid()),
    ("Tanh", lambda: nn.Tanh(), lambda t: t.Tanh()),
    ("ReLU", lambda: nn.ReLU(), lambda t: t.ReLU()),
    ("LeakyReLU", lambda: nn.LeakyReLU(), lambda t: t.LeakyReLU()),
    ("LeakyReLU-0.2", lambda: nn.LeakyReLU(negative_slope=0.2), lambda t: t.LeakyReLU(negative_slope=0.2)),
    ("ELU", lambda: nn.ELU(), lambda t: t.ELU()),
    ("ELU-0.5", lambda: nn.ELU(alpha=0.5), lambda t: t.ELU(alpha=0.5)),
    ("Softplus", lambda: nn.Softplus(), lambda t: t.Softplus()),
    ("Softplus-2-1", lambda: nn.Softplus(beta=2.0, threshold=1.0), lambda t: t.Softplus(beta=2.0, threshold=1.0)),
    ("SiLU", lambda: nn.SiLU(), lambda t: t.SiLU()),
    ("Swish", lambda: nn.Swish(), lambda t: t.SiLU()),
    ("GELU", lambda: nn.GELU(), lambda t: t.GELU()),
    ("GELU-tanh", lambda: nn.GELU(approximate="tanh"), lambda t: t.GELU(approximate="tanh")),
    ("Softmax", lambda: nn.Softmax(axis=1), lambda t: t.Softmax(dim=1)),
    ("Softmax-dim", lambda: nn.Softmax(dim=0), lambda t: t.Softmax(dim=0)),
    ("LogSoftmax", lambda: nn.LogSoftmax(axis=-1), lambda t: t.LogSoftmax(dim=-1)),
    ("PReLU", lambda: nn.PReLU(), lambda t: t.PReLU()),
    ("PReLU-channels", lambda: nn.PReLU(num_parameters=4, init=0.1), lambda t: t.PReLU(num_parameters=4, init=0.1)),
]
IDS = [case[0] for case in ACTIVATION_CASES]


def _input(shape=(3, 4, 2), seed=0):
    # Values spread over both sides of every kink and beyond Softplus's threshold of 1 (for beta 2).
    return np.random.default_rng(seed).uniform(-3.0, 3.0, size=shape)


@requires_torch
@pytest.mark.parametrize("name, ours, theirs", ACTIVATION_CASES, ids=IDS)
def test_activation_module_matches_torch(name, ours, theirs):
    module = ours().double()
    torch_module = copy_weights(module, theirs(torch.nn).double())
    compare_with_torch(module, torch_module, [_input()])
    for (_, param), torch_param in zip(module.named_parameters(), torch_module.parameters()):
        np.testing.assert_allclose(np.asarray(param.grad), torch_param.grad.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, ours, theirs", ACTIVATION_CASES, ids=IDS)
def test_activation_module_gradcheck(name, ours, theirs):
    module = ours().double()
    x = ag.tensor(_input((2, 4, 2), seed=1), requires_grad=True)
    assert ag.gradcheck(lambda x, *params: module(x), (x, *module.parameters()))


@requires_torch
@pytest.mark.parametrize(
    "ours, theirs, kwargs",
    [
        (F.sigmoid, torch.sigmoid if torch else None, {}),
        (F.tanh, torch.tanh if torch else None, {}),
        (F.relu, lambda x: torch.nn.functional.relu(x), {}),
        (
            F.leaky_relu,
            lambda x, negative_slope: torch.nn.functional.leaky_relu(x, negative_slope),
            {"negative_slope": 0.3},
        ),
        (F.elu, lambda x, alpha: torch.nn.functional.elu(x, alpha), {"alpha": 1.5}),
        (
            F.softplus,
            lambda x, beta, threshold: torch.nn.functional.softplus(x, beta, threshold),
            {"beta": 0.5, "threshold": 1.0},
        ),
        (F.silu, lambda x: torch.nn.functional.silu(x), {}),
        (F.gelu, lambda x, approximate: torch.nn.functional.gelu(x, approximate=approximate), {"approximate": "tanh"}),
        (F.softmax, lambda x, axis: torch.softmax(x, dim=axis), {"axis": 0}),
        (F.log_softmax, lambda x, axis: torch.log_softmax(x, dim=axis), {"axis": 2}),
    ],
    ids=lambda v: getattr(v, "__name__", "") if callable(v) else "",
)
def test_functional_matches_torch(ours, theirs, kwargs):
    compare_with_torch(lambda x: ours(x, **kwargs), lambda x: theirs(x, **kwargs), [_input()])


@requires_torch
def test_swish_with_fixed_beta_matches_its_formula_in_torch():
    compare_with_torch(nn.Swish(beta=1.7), lambda x: x * torch.sigmoid(1.7 * x), [_input()])


def test_learnable_swish_trains_beta():
    swish = nn.Swish(beta=1.5, learnable=True).double()
    assert [name for name, _ in swish.named_parameters()] == ["beta"]
    x = ag.tensor(_input((3, 2)), requires_grad=True)
    assert ag.gradcheck(lambda x, beta: swish(x), (x, swish.beta))
    expected = np.asarray(x) * (1.0 / (1.0 + np.exp(-1.5 * np.asarray(x))))
    np.testing.assert_allclose(np.asarray(swish(x)), expected, rtol=1e-12)


def test_prelu_slope_gets_the_gradient_of_the_negative_side_only():
    prelu = nn.PReLU(num_parameters=2, init=0.5).double()
    x = ag.tensor([[-1.0, 2.0], [3.0, -4.0], [-5.0, 6.0]], dtype=np.float64)
    y = prelu(x)
    np.testing.assert_array_equal(np.asarray(y), [[-0.5, 2.0], [3.0, -2.0], [-2.5, 6.0]])
    y.sum().backward()
    np.testing.assert_array_equal(np.asarray(prelu.weight.grad), [-6.0, -4.0])


def test_activations_keep_float32():
    x = ag.randn(3, 4)
    for case in ACTIVATION_CASES:
        assert case[1]()(x).dtype == np.float32, case[0]


def test_reprs_match_pytorch_style():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.ELU(alpha=0.5)) == "ELU(alpha=0.5)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Swish(2.0)) == "Swish(beta=2.0, learnable=False)"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("relu", nn.ReLU),
        ("sigmoid", nn.Sigmoid),
        ("tanh", nn.Tanh),
        ("leaky_relu", nn.LeakyReLU),
        ("elu", nn.ELU),
        ("softplus", nn.Softplus),
        ("silu", nn.SiLU),
        ("swish", nn.Swish),
        ("gelu", nn.GELU),
        ("gelu_tanh", nn.GELU),
        ("prelu", nn.PReLU),
    ],
)
def test_get_activation_builds_a_fresh_module(name, expected):
    first, second = nn.get_activation(name), nn.get_activation(name)
    assert type(first) is expected and first is not second


def test_get_activation_gelu_tanh_uses_the_tanh_form():
    x = ag.tensor([0.5, -1.0, 2.0], dtype=np.float64)
    np.testing.assert_allclose(np.asarray(nn.get_activation("gelu_tanh")(x)), np.asarray(F.gelu(x, approximate="tanh")))
    assert not np.allclose(
        np.asarray(nn.get_activation("gelu")(x)), np.asarray(F.gelu(x, approximate="tanh")), rtol=1e-6
    )


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'.*relu, sigmoid, tanh, leaky_relu"):
        nn.get_activation("rleu")
    with pytest.raises(TypeError, match="get_activation"):
        nn.get_activation(3)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nn.GELU(approximate="fast"), ValueError, "GELU: approximate must be one of 'none', 'tanh'"),
        (lambda: nn.LeakyReLU("0.1"), TypeError, "LeakyReLU: negative_slope must be a real number"),
        (lambda: nn.Softplus(beta=0), ValueError, "Softplus: beta must be > 0"),
        (lambda: nn.Softmax(axis=1.5), TypeError, "Softmax: dim must be an int"),
        (lambda: nn.ELU(1.0, 2.0), TypeError, "ELU: takes at most 1 positional"),
        (lambda: nn.ReLU(inplace=True), TypeError, "ReLU: unexpected argument 'inplace'"),
        (lambda: nn.PReLU(num_parameters=0), ValueError, "PReLU: num_parameters must be positive"),
        (lambda: nn.PReLU(num_parameters=2.0), TypeError, "PReLU: num_parameters must be an int"),
        (lambda: nn.Swish(beta=-1.0), ValueError, "Swish: beta must be > 0"),
    ],
)
def test_bad_constructor_arguments_raise_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_prelu_with_channels_rejects_a_mismatched_input():
    with pytest.raises(ValueError, match="prelu: 3 slopes need an input with 3 channels on axis 1, got shape"):
        nn.PReLU(3)(ag.randn(2, 4))


@pytest.mark.parametrize(
    "make, attributes",
    [
        (lambda nn: nn.LeakyReLU(0.2), {"negative_slope": 0.2}),
        (lambda nn: nn.ELU(alpha=0.5), {"alpha": 0.5}),
        (lambda nn: nn.Softplus(2.0, 10.0), {"beta": 2.0, "threshold": 10.0}),
        (lambda nn: nn.GELU(approximate="tanh"), {"approximate": "tanh"}),
        (lambda nn: nn.Softmax(dim=1), {"dim": 1}),
        (lambda nn: nn.LogSoftmax(dim=0), {"dim": 0}),
    ],
)
def test_hyperparameters_are_attributes_with_pytorchs_names_and_values(make, attributes):
    module = make(nn)
    assert {name: getattr(module, name) for name in attributes} == attributes
    assert module.state_dict() == {}
    if torch is not None:
        twin = make(torch.nn)
        assert {name: getattr(twin, name) for name in attributes} == attributes


def test_assigning_a_hyperparameter_changes_forward_and_repr():
    x = np.array([[-2.0, 1.0], [3.0, -4.0]])
    leaky = nn.LeakyReLU()
    leaky.negative_slope = 0.5
    np.testing.assert_array_equal(np.asarray(leaky(ag.tensor(x))), [[-1.0, 1.0], [3.0, -2.0]])
    assert repr(leaky) == "LeakyReLU(negative_slope=0.5)"
    assert leaky.hyperparameters == {"negative_slope": 0.5}
    softmax = nn.Softmax(dim=1)
    softmax.dim = 0  # PyTorch's name writes ours
    assert softmax.axis == 0
    np.testing.assert_allclose(np.asarray(softmax(ag.tensor(x))).sum(axis=0), [1.0, 1.0])
    if torch is not None:
        twin = torch.nn.LeakyReLU()
        twin.negative_slope = 0.5
        np.testing.assert_array_equal(twin(torch.tensor(x)).numpy(), np.asarray(leaky(ag.tensor(x))))
