"""Synthetic sequence tasks for recurrent networks, whose answer depends on inputs far back in time.

Every generator returns numpy arrays `(X, y)` with the samples first: X float32 of shape
(n, length, features), ready for a recurrent layer built with `batch_first=True`, and y float32
targets. `seed=` makes them deterministic; with `seed=None` they draw from `ag.default_generator.rng`
(see `ag.manual_seed`).
"""

import numpy as np
from numpy.typing import NDArray

from .data import _check_int, make_generator

__all__ = ["make_adding_problem"]


def make_adding_problem(
    n: int, length: int, seed: int | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The adding problem (Hochreiter & Schmidhuber, 1997): add the two marked numbers of a sequence.

    Each of the `n` sequences has `length` steps of two features: a value drawn from U(0, 1), and a
    marker that is 1 at exactly two steps and 0 elsewhere, one marked step drawn uniformly from the
    first half (steps 0 .. length // 2 - 1) and one from the second half. The target is the sum of
    the two marked values, so a network that answers at the last step must remember the first marked
    value for up to `length - 1` steps. Always predicting the mean, 1, gives a mean squared error of
    Var(u1 + u2) = 1/6 ~ 0.167: the baseline a model that learned nothing reaches.

    Returns `(X, y)`: X float32 (n, length, 2), values in X[..., 0] and markers in X[..., 1];
    y float32 (n,).
    """
    n = _check_int(n, "n", "make_adding_problem", minimum=1)
    length = _check_int(length, "length", "make_adding_problem", minimum=2)
    rng = make_generator(seed, "make_adding_problem")
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    marked = np.stack([rng.integers(0, half, size=n), rng.integers(half, length, size=n)], axis=1)
    markers = np.zeros((n, length))
    np.put_along_axis(markers, marked, 1.0, axis=1)
    X = np.stack([values, markers], axis=-1).astype(np.float32)
    y = np.take_along_axis(values, marked, axis=1).sum(axis=1).astype(np.float32)
    return X, y
