"""The sequence task generators of autograd_core.sequence_tasks: shapes, the task's definition, seeding,
and clear errors for bad arguments."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.sequence_tasks import make_adding_problem


@pytest.mark.parametrize("length", [2, 3, 30])
def test_adding_problem_shapes_and_dtypes(length):
    X, y = make_adding_problem(50, length, seed=0)
    assert X.shape == (50, length, 2) and X.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.float32


def test_adding_problem_marks_one_step_in_each_half_and_sums_them():
    length = 11
    X, y = make_adding_problem(500, length, seed=1)
    values, markers = X[..., 0], X[..., 1]
    assert set(np.unique(markers).tolist()) == {0.0, 1.0}
    half = length // 2
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1)
    np.testing.assert_allclose(y, (values * markers).sum(axis=1), rtol=1e-6)
    assert values.min() >= 0 and values.max() < 1
    # Every position of each half gets marked sometimes (uniform choice).
    assert np.all(markers.sum(axis=0) > 0)


def test_adding_problem_baseline_is_one_sixth():
    _, y = make_adding_problem(20_000, 20, seed=2)
    assert abs(y.mean() - 1.0) < 0.01
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.005


def test_adding_problem_is_deterministic_for_a_seed_and_follows_the_global_seed():
    a, b, c = (make_adding_problem(20, 10, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    ag.manual_seed(7)
    first = make_adding_problem(20, 10)
    ag.manual_seed(7)
    np.testing.assert_array_equal(first[0], make_adding_problem(20, 10)[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": 0, "length": 10}, ValueError, "make_adding_problem: n must be >= 1, got 0"),
        ({"n": 5, "length": 1}, ValueError, "make_adding_problem: length must be >= 2, got 1"),
        ({"n": 5.0, "length": 10}, TypeError, "make_adding_problem: n must be an int, got float"),
        ({"n": 5, "length": 10, "seed": -1}, ValueError, "make_adding_problem: seed must be non-negative"),
    ],
)
def test_adding_problem_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_adding_problem(**kwargs)
