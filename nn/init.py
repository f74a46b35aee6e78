"""Parameter initializers, with PyTorch's names, fan computations and gains.

Each one fills a tensor in place (under `no_grad`, through `copy_`, so the
version counter records the edit) and returns it. Random values come from
`ag.default_generator` (or their `generator=`), so `ag.manual_seed` makes them reproducible; they are
drawn in float64 and cast to the tensor's dtype.

Fans of a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
fan_out = out * prod(kernel).
"""

import math
import numbers
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

import autograd_core as ag
from autograd_core import Tensor

_FanMode = Literal["fan_in", "fan_out"]

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "zeros_",
    "ones_",
    "constant_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]

_UNIT_GAIN = (
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through `nonlinearity`: 1 for linear layers and
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope `param`,
    default 0.01), 3/4 for selu."""
    if nonlinearity in _UNIT_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if not isinstance(slope, numbers.Real) or isinstance(slope, bool):
            raise ValueError(f"calculate_gain: negative slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; valid are "
        f"{', '.join(_UNIT_GAIN + ('tanh', 'relu', 'leaky_relu', 'selu'))}"
    )


def _check_tensor(who: str, tensor: object) -> None:
    if not isinstance(tensor, ag.Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(tensor).__name__}")


def _fill(tensor: Tensor, values: ArrayLike) -> Tensor:
    ag.compiler.report("nn.init fills a tensor with values drawn in Python")
    with ag.no_grad():
        tensor.copy_(np.asarray(values).astype(tensor.dtype, copy=False))
    return tensor


def _fans(who: str, tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"{who}: fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(who: str, tensor: Tensor, mode: _FanMode) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(who, tensor)
    return fan_in if mode == "fan_in" else fan_out


def _rng(generator: ag.Generator | None, who: str) -> np.random.Generator:
    """The numpy generator to draw from: `generator`'s (PyTorch's `generator=`), or the default one's."""
    if generator is None:
        return ag.default_generator.rng
    if not isinstance(generator, ag.Generator):
        raise TypeError(f"{who}: generator must be an ag.Generator or None, got {type(generator).__name__}")
    return generator.rng


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: ag.Generator | None = None) -> Tensor:
    """Fill with values drawn from U(a, b)."""
    _check_tensor("uniform_", tensor)
    if not a <= b:
        raise ValueError(f"uniform_: the lower bound a={a} must not exceed the upper bound b={b}")
    return _fill(tensor, _rng(generator, "uniform_").uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: ag.Generator | None = None) -> Tensor:
    """Fill with values drawn from N(mean, std^2)."""
    _check_tensor("normal_", tensor)
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, _rng(generator, "normal_").normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`."""
    _check_tensor("constant_", tensor)
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: ag.Generator | None = None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _check_tensor("xavier_uniform_", tensor)
    _rng(generator, "xavier_uniform_")  # checked here, so an error names this initializer
    fan_in, fan_out = _fans("xavier_uniform_", tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: ag.Generator | None = None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check_tensor("xavier_normal_", tensor)
    _rng(generator, "xavier_normal_")  # checked here, so an error names this initializer
    fan_in, fan_out = _fans("xavier_normal_", tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: _FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: ag.Generator | None = None,
) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a) (He et
    al., 2015). With a = sqrt(5) this is PyTorch's default Linear weight init, bound = 1 / sqrt(fan_in)."""
    _check_tensor("kaiming_uniform_", tensor)
    _rng(generator, "kaiming_uniform_")  # checked here, so an error names this initializer
    fan = _fan("kaiming_uniform_", tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: _FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: ag.Generator | None = None,
) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    _check_tensor("kaiming_normal_", tensor)
    _rng(generator, "kaiming_normal_")  # checked here, so an error names this initializer
    fan = _fan("kaiming_normal_", tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: ag.Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times `gain` (Saxe et al., 2013): the tensor viewed as (rows, rest),
    from the QR decomposition of a Gaussian matrix, with the signs of R's diagonal folded into Q so the
    result is uniformly distributed."""
    _check_tensor("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    rows = tensor.shape[0]
    columns = tensor.numel() // rows
    flat = _rng(generator, "orthogonal_").standard_normal((rows, columns))
    if rows < columns:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < columns:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
