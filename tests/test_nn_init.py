"""nn.init: PyTorch's gains and fans, the distributions' bounds and moments, in-place filling that the
version counter sees, reproducibility under ag.manual_seed, and errors."""

import math

import numpy as np
import pytest
from nn_helpers import requires_torch, torch

import autograd_core as ag
import nn
from nn import init


@requires_torch
@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12
    )


def test_calculate_gain_rejects_unknown_nonlinearities():
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def _weight(*shape):
    return nn.Parameter(np.zeros(shape, dtype=np.float32))


def _assert_uniform(values, bound):
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert abs(values.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)
    assert abs(values.mean()) < 0.03 * bound


def _assert_normal(values, std):
    assert abs(values.std() - std) < 0.03 * std
    assert abs(values.mean()) < 0.03 * std


# (initializer, call, the expected bound (uniform) or std (normal) for a (300, 100) weight, kind)
FAN_IN, FAN_OUT = 100, 300
CASES = [
    (
        "xavier_uniform_",
        lambda w: init.xavier_uniform_(w, gain=2.0),
        2.0 * math.sqrt(6 / (FAN_IN + FAN_OUT)),
        "uniform",
    ),
    ("xavier_normal_", lambda w: init.xavier_normal_(w), math.sqrt(2 / (FAN_IN + FAN_OUT)), "normal"),
    (
        "kaiming_uniform_",
        lambda w: init.kaiming_uniform_(w, nonlinearity="relu"),
        math.sqrt(2) * math.sqrt(3 / FAN_IN),
        "uniform",
    ),
    (
        "kaiming_uniform_-fan_out",
        lambda w: init.kaiming_uniform_(w, a=0.1, mode="fan_out"),
        math.sqrt(2 / 1.01) * math.sqrt(3 / FAN_OUT),
        "uniform",
    ),
    ("kaiming_uniform_-sqrt5", lambda w: init.kaiming_uniform_(w, a=math.sqrt(5)), 1 / math.sqrt(FAN_IN), "uniform"),
    ("kaiming_normal_", lambda w: init.kaiming_normal_(w, nonlinearity="relu"), math.sqrt(2 / FAN_IN), "normal"),
    (
        "kaiming_normal_-fan_out",
        lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="tanh"),
        5 / 3 / math.sqrt(FAN_OUT),
        "normal",
    ),
    ("uniform_", lambda w: init.uniform_(w, -0.3, 0.3), 0.3, "uniform"),
    ("normal_", lambda w: init.normal_(w, 0.0, 0.7), 0.7, "normal"),
]


@pytest.mark.parametrize("name, call, expected, kind", CASES, ids=[c[0] for c in CASES])
def test_distribution_has_pytorchs_scale(name, call, expected, kind):
    weight = _weight(FAN_OUT, FAN_IN)
    assert call(weight) is weight
    assert weight.dtype == np.float32
    (_assert_uniform if kind == "uniform" else _assert_normal)(np.asarray(weight), expected)


def test_fans_count_the_receptive_field():
    weight = _weight(20, 10, 3, 3)  # (out, in, kh, kw): fan_in = 90, fan_out = 180
    init.kaiming_normal_(weight, mode="fan_in", nonlinearity="linear")
    _assert_normal(np.asarray(weight), 1 / math.sqrt(90))
    init.xavier_uniform_(weight)
    assert np.abs(np.asarray(weight)).max() <= math.sqrt(6 / 270) * (1 + 1e-6)


def test_normal_with_a_mean():
    weight = init.normal_(_weight(200, 200), mean=3.0, std=0.5)
    assert abs(np.asarray(weight).mean() - 3.0) < 0.01 and abs(np.asarray(weight).std() - 0.5) < 0.01


def test_constants():
    weight = _weight(3, 2)
    np.testing.assert_array_equal(np.asarray(init.ones_(weight)), np.ones((3, 2)))
    np.testing.assert_array_equal(np.asarray(init.constant_(weight, 0.25)), np.full((3, 2), 0.25))
    np.testing.assert_array_equal(np.asarray(init.zeros_(weight)), np.zeros((3, 2)))


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (6, 2, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    weight = init.orthogonal_(nn.Parameter(np.zeros(shape, dtype=np.float64)), gain=2.0)
    flat = np.asarray(weight).reshape(shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-12)


def test_initializers_modify_in_place_under_no_grad_and_bump_the_version():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    # the input requires grad, so the backward reads the weight (the input's gradient is grad @ weight)
    loss = (layer(ag.randn(4, 3, requires_grad=True)) ** 2).sum()
    init.xavier_uniform_(weight)  # allowed on a leaf that requires grad: it runs under no_grad
    assert layer.weight is weight and weight.requires_grad
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_initializers_draw_from_the_seeded_generator():
    weight = _weight(5, 4)
    ag.manual_seed(11)
    first = np.asarray(init.kaiming_uniform_(weight)).copy()
    second = np.asarray(init.kaiming_uniform_(weight)).copy()
    ag.manual_seed(11)
    np.testing.assert_array_equal(np.asarray(init.kaiming_uniform_(weight)), first)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: init.xavier_uniform_(_weight(5)),
            ValueError,
            r"xavier_uniform_: fan in and fan out need a tensor with "
            r"at least 2 dimensions, got shape \(5,\)",
        ),
        (
            lambda: init.kaiming_normal_(_weight(3, 3), mode="fan"),
            ValueError,
            "kaiming_normal_: mode must be 'fan_in' or 'fan_out'",
        ),
        (lambda: init.kaiming_uniform_(_weight(3, 3), nonlinearity="softsign"), ValueError, "unsupported nonlinearity"),
        (lambda: init.orthogonal_(_weight(4)), ValueError, "orthogonal_: only tensors with 2 or more dimensions"),
        (lambda: init.uniform_(np.zeros(3)), TypeError, "uniform_: expected a Tensor, got ndarray"),
        (lambda: init.uniform_(_weight(3), 1.0, 0.0), ValueError, "uniform_: the lower bound a=1.0 must not exceed"),
        (lambda: init.normal_(_weight(3), std=-1.0), ValueError, "normal_: std must be >= 0"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
