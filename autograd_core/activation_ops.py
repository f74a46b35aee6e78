"""The remaining elementwise activations as registry rows, and their in-place entry points.

Each row is the forward on arrays and the VJP formula beside it, as in `ops.py`; `nn.functional`
reaches them through `fused_ops.activation(name, x, **attrs)`. The formulas follow PyTorch's
kernels, including the value they give at each kink (hardtanh and relu6: 0 at both bounds;
hardsigmoid: 0 at -3 and 3; hardswish: 0 at -3, 1 at 3; celu and selu: the x <= 0 branch at 0):

    celu(x; alpha)      x for x > 0, alpha (exp(x / alpha) - 1) otherwise
    selu(x)             SCALE * (x for x > 0, ALPHA (exp(x) - 1) otherwise)
    hardtanh(x; lo, hi) clip(x, lo, hi)                   (relu6 is hardtanh(x; 0, 6), as in PyTorch)
    hardsigmoid(x)      clip(x + 3, 0, 6) / 6
    hardswish(x)        x clip(x + 3, 0, 6) / 6
    mish(x)             x tanh(softplus(x))
    softsign(x)         x / (1 + |x|)
    logsigmoid(x)       -softplus(-x) = -log(1 + exp(-x)), as logaddexp: finite for any x

Softmin, normalize and the attention functions compose registry ops (nn.functional).

`celu`, `selu` and their in-place forms `celu_`, `selu_` are PyTorch's `torch.celu` etc.: the
functions of this family that torch has at top level. `activation_` is the in-place path of every
row (`nn.functional`'s `inplace=True`): it computes out of place and copies the result into the
input through `Tensor.copy_`, so the version counter and the graph see an in-place op.
"""

import numbers

import numpy as np

from .engine import apply, is_grad_enabled
from .ops import REGISTRY, ErrorCase, S, reads, register
from .tensor import Tensor, get_default_dtype

__all__ = ["celu", "selu", "celu_", "selu_", "activation_", "SELU_ALPHA", "SELU_SCALE"]

# The constants of Klambauer et al. (2017), to the digits PyTorch uses.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _floating(x):
    """x itself if floating, else x in the default dtype (an integer input to a floating op, as PyTorch)."""
    return x if x.dtype.kind == "f" else x.astype(get_default_dtype())


# ---- forwards ---------------------------------------------------------------------------------


def check_celu_alpha(alpha):
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
        raise TypeError(f"celu: alpha must be a real number, got {type(alpha).__name__} {alpha!r}")
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")


def check_hardtanh_bounds(min_val, max_val):
    for name, value in (("min_val", min_val), ("max_val", max_val)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"hardtanh: {name} must be a real number, got {type(value).__name__} {value!r}")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val must not exceed max_val, got min_val={min_val!r} > max_val={max_val!r}")


def celu_forward(x, alpha):
    check_celu_alpha(alpha)
    x = _floating(x)
    # the exponent only sees x <= 0, so the branch np.where discards cannot overflow
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha))


def selu_forward(x):
    x = _floating(x)
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def hardtanh_forward(x, min_val, max_val):
    check_hardtanh_bounds(min_val, max_val)
    return np.clip(_floating(x), min_val, max_val)


def hardsigmoid_forward(x):
    return np.clip(_floating(x) + 3.0, 0.0, 6.0) / 6.0


def hardswish_forward(x):
    x = _floating(x)
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def mish_forward(x):
    x = _floating(x)
    return x * np.tanh(np.logaddexp(0.0, x))


def softsign_forward(x):
    x = _floating(x)
    return x / (1.0 + np.abs(x))


def logsigmoid_forward(x):
    return -np.logaddexp(0.0, -_floating(x))


# ---- VJP formulas -------------------------------------------------------------------------------


def _celu_grad(F, g, x, out, alpha):
    # exp(x / alpha) for x <= 0; the clip keeps the exponent finite where the other branch is taken
    return g * F.where(x > 0, 1.0, F.exp(F.clip(x, min=None, max=0.0) / alpha))


def _selu_grad(F, g, x, out):
    return g * F.where(x > 0, SELU_SCALE, (SELU_SCALE * SELU_ALPHA) * F.exp(F.clip(x, min=None, max=0.0)))


def _hardswish_grad(F, g, x, out):
    # PyTorch's kernel: 0 for x <= -3, x / 3 + 1/2 for -3 < x < 3, 1 for x >= 3
    return g * F.where(x <= -3.0, 0.0, F.where(x < 3.0, x / 3.0 + 0.5, 1.0))


def _mish_grad(F, g, x, out):
    tanh_softplus = F.tanh(F.softplus(x, beta=1.0, threshold=20.0))
    return g * (tanh_softplus + x * F.sigmoid(x) * (1.0 - tanh_softplus * tanh_softplus))


def _softsign_grad(F, g, x, out):
    denominator = 1.0 + F.abs(x)
    return g / (denominator * denominator)


# ---- the table ------------------------------------------------------------------------------------

UNARY = (S((3, 4)), S(()), S((2, 1, 3)))
# Inputs reaching past every kink (hardtanh's bounds, hardswish's and hardsigmoid's +-3).
WIDE = (-5.0, 5.0)

register(
    "celu",
    celu_forward,
    reads("x", _celu_grad),
    samples=(S((3, 4), alpha=1.0), S((), alpha=0.5), S((2, 1, 3), alpha=2.5)),
    errors=(
        ErrorCase(S((3,), alpha=0.0), ValueError, "celu: alpha must not be 0"),
        ErrorCase(S((3,), alpha="1"), TypeError, "celu: alpha must be a real number"),
    ),
)
register("selu", selu_forward, reads("x", _selu_grad), samples=UNARY)
register(
    "hardtanh",
    hardtanh_forward,
    # PyTorch's gradient: 1 strictly inside (min_val, max_val), 0 at the bounds and outside
    reads("x", lambda F, g, x, out, min_val, max_val: g * ((x > min_val) & (x < max_val))),
    samples=(S((3, 4), min_val=-1.0, max_val=1.0), S((5,), min_val=0.0, max_val=6.0), S((), min_val=-2.0, max_val=3.0)),
    errors=(
        ErrorCase(S((3,), min_val=1.0, max_val=-1.0), ValueError, "hardtanh: min_val must not exceed max_val"),
        ErrorCase(S((3,), min_val=None, max_val=1.0), TypeError, "hardtanh: min_val must be a real number"),
    ),
    domain=WIDE,
)
register(
    "hardsigmoid",
    hardsigmoid_forward,
    reads("x", lambda F, g, x, out: g * ((x > -3.0) & (x < 3.0)) / 6.0),
    samples=UNARY,
    domain=WIDE,
)
register("hardswish", hardswish_forward, reads("x", _hardswish_grad), samples=UNARY, domain=WIDE)
register("mish", mish_forward, reads("x", _mish_grad), samples=UNARY, domain=WIDE)
register("softsign", softsign_forward, reads("x", _softsign_grad), samples=UNARY, domain=WIDE)
register(
    "logsigmoid",
    logsigmoid_forward,
    reads("x", lambda F, g, x, out: g * F.sigmoid(-x)),
    samples=UNARY,
    domain=WIDE,
)


# ---- entry points -----------------------------------------------------------------------------------


def _as_tensor(who, x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, numbers.Number)):
        return Tensor(np.asarray(x))
    raise TypeError(f"{who}: expected a Tensor or numpy array, got {type(x).__name__}")


def activation_(name: str, input: Tensor | np.ndarray, **attrs: object) -> Tensor:
    """Apply the registry activation `name` to `input` in place and return `input` (PyTorch's `relu_`,
    `inplace=True`). The result is computed out of place and copied in with `Tensor.copy_`, so the graph
    records an in-place op (the version counter is bumped; a leaf that requires grad is refused, as in
    PyTorch). An op whose VJP reads its input runs on a clone of it while grad is recorded, as PyTorch
    saves the original value: the copy must not overwrite what backward reads."""
    op = REGISTRY[name]
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}_: in-place needs a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}_: in-place needs a floating tensor (the result is floating), got {input.dtype}")
    recording = is_grad_enabled() and input.requires_grad
    if recording and input.grad_fn is None:
        raise RuntimeError(
            f"{name}_: a leaf tensor that requires grad cannot be modified in place; "
            f"use the out-of-place form (inplace=False), or modify a .clone()"
        )
    reads_input = bool(op.reads_of(0)[0])
    source = input.clone() if recording and reads_input else input
    return input.copy_(apply(op, source, **attrs))


def celu(input: Tensor | np.ndarray, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)), as `torch.celu`."""
    check_celu_alpha(alpha)
    return apply(REGISTRY["celu"], _as_tensor("celu", input), alpha=alpha)


def selu(input: Tensor | np.ndarray) -> Tensor:
    """SCALE (max(0, x) + min(0, ALPHA (exp(x) - 1))), as `torch.selu` (SCALE ~ 1.0507, ALPHA ~ 1.6733)."""
    return apply(REGISTRY["selu"], _as_tensor("selu", input))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """`celu` in place, as `torch.celu_`."""
    check_celu_alpha(alpha)
    return activation_("celu", input, alpha=alpha)


def selu_(input: Tensor) -> Tensor:
    """`selu` in place, as `torch.selu_`."""
    return activation_("selu", input)
