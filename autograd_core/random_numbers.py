"""Random numbers as PyTorch draws them: `Generator` objects, one default generator that every random
source of the project draws from (constructors, dropout masks, initializers, shuffling), its state, and
the random constructors with `generator=`.

A `Generator` wraps a numpy `np.random.Generator` (PCG64), reachable as `.rng` for code that wants numpy's
distributions. `ag.manual_seed(n)` reseeds the default generator in place (so references to it stay
valid) together with numpy's and Python's global generators, which user code also draws from.
The streams are numpy's, so a seed gives other numbers than the same seed in PyTorch.
"""

from __future__ import annotations

import json
import numbers
import random as _python_random
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .compiler import traced_random
from .dtypes import CPU, check_device, device
from .tensor import Tensor, TensorLike, get_default_dtype, is_floating, to_array


def _fresh_seed() -> int:
    return int(np.random.default_rng().integers(2**63))


def _seed_value(seed: Any, who: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{who}: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{who}: seed must be a non-negative int, got {seed}")
    return int(seed)


class Generator:
    """An independent stream of random numbers: `g = ag.Generator().manual_seed(0)`, then
    `ag.randn(3, generator=g)`; `get_state()` / `set_state()` save and restore where it is."""

    def __init__(self, device: Any = "cpu") -> None:
        check_device(device, "Generator")
        self._initial_seed = _fresh_seed()
        self.rng = np.random.default_rng(self._initial_seed)

    def manual_seed(self, seed: int) -> Generator:
        self._initial_seed = _seed_value(seed, "Generator.manual_seed")
        self.rng = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(_fresh_seed()).initial_seed()

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> Tensor:
        """The state as a uint8 tensor, as PyTorch's (its bytes are the generator's state, JSON-encoded)."""
        text = json.dumps(self.rng.bit_generator.state, sort_keys=True)
        return Tensor(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        if not isinstance(new_state, Tensor) or new_state.dtype != np.uint8 or new_state.ndim != 1:
            raise TypeError(
                "Generator.set_state: expected the uint8 tensor that get_state returned, got "
                + (
                    f"dtype {new_state.dtype}, shape {new_state.shape}"
                    if isinstance(new_state, Tensor)
                    else type(new_state).__name__
                )
            )
        try:
            state = json.loads(np.asarray(new_state).tobytes().decode())
            bit_generator = np.random.PCG64()
            bit_generator.state = state
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"Generator.set_state: not a state that get_state returned ({error})") from None
        self.rng = np.random.Generator(bit_generator)
        return self

    @property
    def device(self) -> device:
        return CPU

    def __repr__(self) -> str:
        return f"<autograd_core.Generator initial_seed={self._initial_seed}>"


default_generator = Generator()
"""The generator every random source of the project draws from unless given another."""


def manual_seed(seed: int) -> Generator:
    """Seed every random source the project uses: the default generator, numpy's and Python's global
    ones. Returns the default generator, as PyTorch does."""
    seed = _seed_value(seed, "manual_seed")
    default_generator.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeding the legacy global state is the point: user code draws from it)
    _python_random.seed(seed)
    return default_generator


def seed() -> int:
    """Seed the default generator from fresh entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (a uint8 tensor), for `set_rng_state`."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    default_generator.set_state(new_state)


def rng_of(generator: Generator | None, who: str) -> np.random.Generator:
    """The numpy generator to draw from: `generator`'s, or the default one's."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"{who}: generator must be an ag.Generator, got {type(generator).__name__}")
    return generator.rng


# ---- random constructors -------------------------------------------------------------------------------


def _size(size: tuple[Any, ...], who: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in size):
        raise ValueError(f"{who}: size must be non-negative ints, got {size}")
    return tuple(int(n) for n in size)


def _floating(dtype: DTypeLike | None, who: str) -> np.dtype:
    dtype = np.dtype(get_default_dtype() if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating dtype, got {dtype}")
    return dtype


def _leaf(array: np.ndarray, requires_grad: bool, who: str) -> Tensor:
    if requires_grad and not is_floating(array.dtype):
        raise TypeError(f"{who}: only floating tensors can require grad, got dtype {array.dtype}")
    return Tensor(array, requires_grad=bool(requires_grad))


@traced_random
def rand(
    *size: int | Sequence[int],
    generator: Generator | None = None,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1)."""
    check_device(device, "rand")
    dtype = _floating(dtype, "rand")
    values = rng_of(generator, "rand").random(_size(size, "rand"), dtype=np.float64)
    return _leaf(values.astype(dtype), requires_grad, "rand")


@traced_random
def randn(
    *size: int | Sequence[int],
    generator: Generator | None = None,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples."""
    check_device(device, "randn")
    dtype = _floating(dtype, "randn")
    values = rng_of(generator, "randn").standard_normal(_size(size, "randn"))
    return _leaf(values.astype(dtype), requires_grad, "randn")


@traced_random
def randint(
    low: int,
    high: int | None = None,
    size: int | Sequence[int] = (),
    *,
    generator: Generator | None = None,
    dtype: DTypeLike = np.int64,
    device: Any = None,
) -> Tensor:
    """Integers uniform in [low, high) (in [0, low) when `high` is None): `randint(10, (3,))` or
    `randint(0, 10, (3,))` as PyTorch."""
    check_device(device, "randint")
    if high is None:
        low, high = 0, low
    elif isinstance(high, (tuple, list)):  # PyTorch's randint(high, size)
        low, high, size = 0, low, high
    if int(high) <= int(low):
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _size((size,) if isinstance(size, numbers.Integral) else tuple(size), "randint")  # type: ignore[arg-type]
    return Tensor(rng_of(generator, "randint").integers(low, high, size=shape).astype(dtype))


@traced_random
def randperm(n: int, *, generator: Generator | None = None, dtype: DTypeLike = np.int64, device: Any = None) -> Tensor:
    """A random permutation of 0 .. n-1."""
    check_device(device, "randperm")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    return Tensor(rng_of(generator, "randperm").permutation(int(n)).astype(dtype))


@traced_random
def rand_like(input: TensorLike, *, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    shape, own = np.shape(input), np.asarray(input).dtype
    return rand(shape, dtype=dtype or (own if own.kind == "f" else None), requires_grad=requires_grad)


@traced_random
def randn_like(input: TensorLike, *, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    shape, own = np.shape(input), np.asarray(input).dtype
    return randn(shape, dtype=dtype or (own if own.kind == "f" else None), requires_grad=requires_grad)


@traced_random
def normal(
    mean: TensorLike | float = 0.0,
    std: TensorLike | float = 1.0,
    size: Sequence[int] | None = None,
    *,
    generator: Generator | None = None,
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal samples: `normal(mean, std, size)` with numbers, or elementwise with tensor `mean` and/or
    `std` (broadcast together), as PyTorch's `torch.normal`. Not differentiable in mean and std."""
    mean_array, std_array = to_array(mean, None, "normal"), to_array(std, None, "normal")
    if np.any(std_array < 0):
        raise ValueError(f"normal: std must be non-negative, got a minimum of {std_array.min()}")
    if size is not None and (mean_array.ndim or std_array.ndim):
        raise ValueError("normal: give size only with a number mean and std (tensors set the shape)")
    shape = _size(tuple(size), "normal") if size is not None else np.broadcast_shapes(mean_array.shape, std_array.shape)
    floats = [a.dtype for a in (mean_array, std_array) if a.ndim and a.dtype.kind == "f"]
    dtype = _floating(dtype if dtype is not None else (np.result_type(*floats) if floats else None), "normal")
    values = rng_of(generator, "normal").normal(mean_array, std_array, shape)
    return _leaf(values.astype(dtype), requires_grad, "normal")


@traced_random
def bernoulli(input: TensorLike, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability `input` (elementwise, or `p` for every element), else 0, in `input`'s dtype."""
    probabilities = to_array(input, None, "bernoulli")
    if p is not None:
        probabilities = np.full(probabilities.shape, p, dtype=probabilities.dtype)
    if probabilities.size and not (probabilities.min() >= 0 and probabilities.max() <= 1):
        raise ValueError(
            "bernoulli: probabilities must be in [0, 1], got values from "
            f"{probabilities.min()} to {probabilities.max()}"
        )
    draws = rng_of(generator, "bernoulli").random(probabilities.shape) < probabilities
    dtype = probabilities.dtype if probabilities.dtype.kind == "f" else get_default_dtype()
    return Tensor(draws.astype(dtype))


@traced_random
def multinomial(
    input: TensorLike, num_samples: int, replacement: bool = False, *, generator: Generator | None = None
) -> Tensor:
    """Indices drawn with probability proportional to the non-negative weights in `input` (one row, or a
    batch of rows), without replacement unless asked, as PyTorch's `torch.multinomial`."""
    weights = to_array(input, None, "multinomial").astype(np.float64)
    if weights.ndim not in (1, 2):
        raise ValueError(f"multinomial: expected weights of 1 or 2 dimensions, got shape {weights.shape}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    rows = np.atleast_2d(weights)
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise ValueError("multinomial: weights must be finite and non-negative")
    sums = rows.sum(axis=1)
    if np.any(sums <= 0):
        raise ValueError("multinomial: every row of weights must have a positive sum")
    if not replacement and np.any(np.count_nonzero(rows, axis=1) < num_samples):
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from a row with fewer non-zero weights"
        )
    rng = rng_of(generator, "multinomial")
    drawn = np.stack(
        [
            rng.choice(row.size, size=num_samples, replace=bool(replacement), p=row / total)
            for row, total in zip(rows, sums)
        ]
    )
    return Tensor(drawn.reshape(weights.shape[:-1] + (num_samples,)).astype(np.int64))


__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "rand",
    "randn",
    "randint",
    "randperm",
    "rand_like",
    "randn_like",
    "normal",
    "bernoulli",
    "multinomial",
]
