"""Small datasets for examples and tests: the real 8x8 digits, 2-D toy problems, and sequence tasks for
recurrent networks (`make_adding_problem`, from `sequence_tasks`).

Every function returns numpy arrays `(X, y)`: X float32 of shape
(n_samples, n_features), y int64 class labels. Wrap them yourself, e.g.
`ag.data.TensorDataset(X, y)`.

The generators follow scikit-learn's conventions (class sizes, geometry,
samples shuffled, Gaussian noise of standard deviation `noise` added to every
coordinate) but use numpy only; `seed=` makes them deterministic, and with
`seed=None` they draw from `ag.default_generator.rng` (see `ag.manual_seed`).
"""

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .data import _check_int, make_generator
from .sequence_tasks import make_adding_problem

__all__ = ["load_digits", "make_moons", "make_circles", "make_spirals", "make_adding_problem"]

# What every function returns: features X (float32) and class labels y (int64).
_Labelled = tuple[NDArray[np.float32], NDArray[np.int64]]

# How far each spiral arm winds, in full turns, between radius 0 and 1.
_SPIRAL_TURNS = 1.5


def load_digits() -> _Labelled:
    """The 1797 8x8 handwritten digits shipped inside scikit-learn (no download).

    Returns `(X, y)`: X float32 of shape (1797, 64), the pixel intensities
    0..16 divided by 16 so they lie in [0, 1], rows being the images
    flattened row-major; y int64 of shape (1797,), the digits 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    digits = sklearn_load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


def make_moons(n_samples: int = 100, noise: float = 0.0, seed: int | None = None) -> _Labelled:
    """Two interleaving half circles of radius 1.

    Class 0 (n // 2 points): (cos t, sin t), t evenly spaced in [0, pi].
    Class 1 (the rest): (1 - cos t, 1/2 - sin t), the same arc mirrored and shifted.
    """
    n_samples = _check_int(n_samples, "n_samples", "make_moons", minimum=1)
    noise = _check_noise(noise, "make_moons")
    n_outer, n_inner = _class_sizes(n_samples, 2)
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n_inner)
    arcs = [
        np.stack([np.cos(outer), np.sin(outer)], axis=1),
        np.stack([1 - np.cos(inner), 0.5 - np.sin(inner)], axis=1),
    ]
    return _labelled(arcs, noise, make_generator(seed, "make_moons"))


def make_circles(n_samples: int = 100, noise: float = 0.0, factor: float = 0.5, seed: int | None = None) -> _Labelled:
    """Two concentric circles: class 0 of radius 1, class 1 of radius `factor` (0 <= factor < 1).

    Each circle's points sit at evenly spaced angles 2*pi*i/m (i < m), as in scikit-learn.
    """
    n_samples = _check_int(n_samples, "n_samples", "make_circles", minimum=1)
    noise = _check_noise(noise, "make_circles")
    factor = _check_real(factor, "factor", "make_circles")
    if not 0 <= factor < 1:
        raise ValueError(f"make_circles: factor must lie in [0, 1), got {factor}")
    circles = []
    for radius, size in zip((1.0, factor), _class_sizes(n_samples, 2)):
        angle = np.linspace(0, 2 * np.pi, size, endpoint=False)
        circles.append(radius * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    return _labelled(circles, noise, make_generator(seed, "make_circles"))


def make_spirals(n_samples: int = 100, n_classes: int = 2, noise: float = 0.0, seed: int | None = None) -> _Labelled:
    """`n_classes` interleaved spiral arms, one class each, rotated evenly about the origin.

    Arm c has m_c points at radii r_i = (i + 1) / m_c (i < m_c), in (0, 1], and angles
        theta_i = 2*pi * (c / n_classes + TURNS * r_i),   TURNS = 1.5,
    i.e. the point r_i * (cos theta_i, sin theta_i): the arms wind outward in
    step, so no straight line separates them. Class sizes differ by at most one.
    """
    n_samples = _check_int(n_samples, "n_samples", "make_spirals", minimum=1)
    n_classes = _check_int(n_classes, "n_classes", "make_spirals", minimum=2)
    if n_classes > n_samples:
        raise ValueError(
            f"make_spirals: n_classes={n_classes} exceeds n_samples={n_samples}; every class needs at least one sample"
        )
    noise = _check_noise(noise, "make_spirals")
    arms = []
    for arm, size in enumerate(_class_sizes(n_samples, n_classes)):
        radius = np.arange(1, size + 1) / size
        angle = 2 * np.pi * (arm / n_classes + _SPIRAL_TURNS * radius)
        arms.append(radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    return _labelled(arms, noise, make_generator(seed, "make_spirals"))


def _check_real(value: object, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def _check_noise(noise: object, where: str) -> float:
    noise = _check_real(noise, "noise", where)
    if not 0 <= noise < np.inf:
        raise ValueError(f"{where}: noise must be finite and >= 0, got {noise}")
    return noise


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    """Sizes differing by at most one, the extra samples going to the last classes (scikit-learn's split)."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (c >= n_classes - extra) for c in range(n_classes)]


def _labelled(class_points: Sequence[NDArray[np.floating]], noise: float, rng: np.random.Generator) -> _Labelled:
    """Stack per-class point arrays into shuffled `(X, y)`, then add Gaussian noise of std `noise`."""
    X = np.concatenate(class_points)
    y = np.repeat(np.arange(len(class_points)), [len(points) for points in class_points])
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X.astype(np.float32), y.astype(np.int64)
