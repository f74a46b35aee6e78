"""Fused ops: a linear layer with its activation, softmax cross-entropy, layer norm and batch norm,
each one registry entry (one graph node) instead of a chain of simple ops, and the binding of every
Numba kernel to the registry.

Each fused op lives here whole: its numpy reference forward (the composition of the simple ops),
its VJP formulas (the composition's, written with `F` as every registry formula is, so
create_graph and the registry tests work as for any op), its registry row, and its checked entry
point. `kernels/` holds only the compiled code; under the numba backend it replaces the forward
and `fast_backward` of these ops, and of the activations, softmax, log-softmax and scatter-add,
as the kernel policy allows (`_bind_kernels`, `backend.choose`).

The public entry points (`__all__`) are what `nn` builds on: `linear`, `softmax_cross_entropy`,
`layer_norm` and `batch_norm` check their arguments, with an error naming the op and the shapes,
and apply the op; `activation` applies a registry activation by name.
"""

import importlib
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backend
from .engine import apply
from .kernels import BACKWARD_KERNELS, FORWARD_KERNELS, REFERENCE_F
from .kernels.optim import adam_update, sgd_update
from .ops import REGISTRY, S, reads, reduced_count, register
from .tensor import Operand, Tensor, TensorLike, computed_array

__all__ = ["linear", "softmax_cross_entropy", "layer_norm", "batch_norm", "activation", "sgd_update", "adam_update"]


def _shape(value):
    return tuple(np.shape(value._data if isinstance(value, Tensor) else value))


def _dtype(x):
    return (x._data if isinstance(x, Tensor) else np.asarray(x)).dtype


# ---- linear: y = f(x W^T + b) -------------------------------------------------------------------

# The activations `linear` fuses: those whose derivative is a function of the output (the node keeps y).
LINEAR_ACTIVATIONS = (None, "relu", "sigmoid", "tanh")


def linear_reference(x, weight, bias=None, *, activation=None):
    """f(x @ W^T + b), as the composition of the registry ops; x is (..., in), W (out, in), b (out,)."""
    z = np.matmul(x, weight.T)
    if bias is not None:
        z = z + bias
    return z if activation is None else getattr(REFERENCE_F, activation)(z)


def _activation_vjp(F, g, out, activation):
    """g * f'(z) for y = f(z): the activation's registry formula, which reads only its output y."""
    return g if activation is None else REGISTRY[activation].grads[0](F, g, None, out=out)


def _linear_grad(F, g, x, weight, *bias, out, activation, index):
    """z = x W^T + b, y = f(z):  dz = g f'(z);  dx = dz W;  dW = dz^T x (over all leading axes);  db = dz."""
    dz = _activation_vjp(F, g, out, activation)
    if index == 0:
        return F.matmul(dz, weight)
    if index == 1:
        dz_rows = F.reshape(dz, shape=(-1, weight.shape[0]))
        return F.matmul(F.transpose(dz_rows, axes=(1, 0)), F.reshape(x, shape=(-1, weight.shape[1])))
    return dz  # the engine sums it over the leading axes, down to the bias shape


register(
    "linear",
    linear_reference,
    reads(("weight out", "x out", "out"), _linear_grad),
    variadic=True,
    samples=(
        S((3, 4), (5, 4), (5,), activation=None),
        S((3, 4), (5, 4), (5,), activation="relu"),
        S((2, 3, 4), (5, 4), (5,), activation="tanh"),
        S((4,), (3, 4), activation="sigmoid"),
    ),
)


def linear(x: Operand, weight: Operand, bias: Operand | None = None, activation: str | None = None) -> Tensor:
    """activation(x @ weight^T + bias) as one node: x (..., in), weight (out, in), bias (out,) or None.

    `activation` is None, "relu", "sigmoid" or "tanh": the activations whose derivative is a
    function of the output, which the layer fuses; apply any other as its own op afterwards.
    """
    if activation not in LINEAR_ACTIVATIONS:
        raise ValueError(f"linear: activation must be one of {list(LINEAR_ACTIVATIONS)}, got {activation!r}")
    x_shape, weight_shape = _shape(x), _shape(weight)
    if len(weight_shape) != 2 or len(x_shape) == 0 or x_shape[-1] != weight_shape[1]:
        raise ValueError(
            f"linear: input of shape {x_shape} does not match weight of shape {weight_shape} "
            "(expected weight (out_features, in_features) with in_features = the input's last dimension)"
        )
    if bias is None:
        return apply(REGISTRY["linear"], x, weight, activation=activation)
    if _shape(bias) != weight_shape[:1]:
        raise ValueError(
            f"linear: bias of shape {_shape(bias)} does not match weight of shape {weight_shape} "
            f"(expected ({weight_shape[0]},))"
        )
    return apply(REGISTRY["linear"], x, weight, bias, activation=activation)


# ---- softmax cross-entropy ----------------------------------------------------------------------


def smoothed_targets(targets, classes, label_smoothing, dtype):
    """q = (1 - eps) onehot(targets) + eps / classes, one row per sample."""
    q = np.full((targets.shape[0], classes), label_smoothing / classes, dtype=dtype)
    q[np.arange(targets.shape[0]), targets] += 1.0 - label_smoothing
    return q


def cross_entropy_reference(logits, targets, *, label_smoothing):
    """Per-sample losses -sum_j q_j log_softmax(logits)_j for logits (N, C) and integer targets (N,)."""
    log_probs = REFERENCE_F.log_softmax(logits, axis=1)
    picked = np.take_along_axis(log_probs, targets[:, None], axis=1)[:, 0]
    return -(1.0 - label_smoothing) * picked - label_smoothing * np.mean(log_probs, axis=1)


def _cross_entropy_grad(F, g, logits, targets, out, label_smoothing):
    """d loss_i / d logits_i = softmax(logits_i) - q_i, q the smoothed one-hot targets."""
    target_array = targets._data if isinstance(targets, Tensor) else targets  # a Tensor under create_graph
    # computed_array: a compiled step (ag.compile) builds q from each call's targets
    q = computed_array(smoothed_targets, target_array, logits.shape[1], label_smoothing, logits.dtype)
    return F.reshape(g, shape=(-1, 1)) * (F.softmax(logits, axis=1) - q)


register(
    "softmax_cross_entropy",
    cross_entropy_reference,
    reads("logits targets", _cross_entropy_grad),
    None,
    samples=(
        S((4, 5), np.array([0, 3, 1, 4]), label_smoothing=0.0),
        S((3, 6), np.array([5, 5, 0]), label_smoothing=0.1),
    ),
)


def softmax_cross_entropy(logits: Operand, targets: TensorLike, label_smoothing: float = 0.0) -> Tensor:
    """Per-sample losses -sum_j q_j log_softmax(logits)_j, q = (1 - label_smoothing) onehot(targets)
    + label_smoothing / C; logits (N, C), targets (N,) integer class indices."""
    targets = np.asarray(targets._data if isinstance(targets, Tensor) else targets)
    logits_shape = _shape(logits)
    if len(logits_shape) != 2:
        raise ValueError(f"softmax_cross_entropy: logits must be (N, C), got shape {logits_shape}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: targets must be integer class indices, got dtype {targets.dtype}")
    if targets.shape != logits_shape[:1]:
        raise ValueError(
            f"softmax_cross_entropy: targets of shape {targets.shape} do not match logits of shape "
            f"{logits_shape} (expected ({logits_shape[0]},))"
        )
    if targets.size and (targets.min() < 0 or targets.max() >= logits_shape[1]):
        raise ValueError(
            f"softmax_cross_entropy: targets must lie in [0, {logits_shape[1]}), got values from "
            f"{targets.min()} to {targets.max()}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"softmax_cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    return apply(REGISTRY["softmax_cross_entropy"], logits, targets, label_smoothing=float(label_smoothing))


# ---- layer norm and batch norm ------------------------------------------------------------------


def normalize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance."""
    centered = x - np.mean(x, axis=axes, keepdims=True)
    return centered / np.sqrt(np.mean(centered * centered, axis=axes, keepdims=True) + eps)


def affine(xhat, parameters, shape):
    """xhat * weight + bias; `parameters` is (), (weight,) or (weight, bias), reshaped to `shape`."""
    for i, p in enumerate(parameters):
        xhat = xhat * p.reshape(shape) if i == 0 else xhat + p.reshape(shape)
    return xhat


def layer_norm_axes(ndim, normalized_shape):
    return tuple(range(ndim - len(normalized_shape), ndim))


def batch_norm_axes(ndim):
    return (0,) + tuple(range(2, ndim))


def channel_shape(ndim, channels):
    """Where batch norm's parameters broadcast: (C, 1, ...) against (N, C, ...)."""
    return (channels,) + (1,) * (ndim - 2)


def layer_norm_reference(x, *parameters, normalized_shape, eps):
    """Layer norm over the trailing `normalized_shape` axes (the math: kernels/norm.py)."""
    return affine(normalize(x, layer_norm_axes(x.ndim, normalized_shape), eps), parameters, normalized_shape)


def batch_norm_reference(x, *parameters, eps):
    """Batch norm with the batch's statistics, over every axis but the channels (axis 1)."""
    return affine(normalize(x, batch_norm_axes(x.ndim), eps), parameters, channel_shape(x.ndim, x.shape[1]))


def _normalization_grad(F, g, x, parameters, axes, parameter_shape, eps, index):
    """The VJP of affine(normalize(x, axes, eps), parameters): see kernels/norm.py for the math."""
    mean = F.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    rstd = 1.0 / F.sqrt(F.mean(centered * centered, axis=axes, keepdims=True) + eps)
    xhat = centered * rstd
    if index == 0:
        dxhat = g * F.reshape(parameters[0], shape=parameter_shape) if parameters else g
        return rstd * (
            dxhat - F.mean(dxhat, axis=axes, keepdims=True) - xhat * F.mean(dxhat * xhat, axis=axes, keepdims=True)
        )
    # weight: sum of g xhat, bias: sum of g, over the axes the parameter is broadcast along
    offset = x.ndim - len(parameter_shape)
    broadcast_axes = tuple(i for i in range(x.ndim) if i < offset or parameter_shape[i - offset] == 1)
    summed = F.sum(g * xhat if index == 1 else g, axis=broadcast_axes, keepdims=False)
    return F.reshape(summed, shape=parameters[index - 1].shape)


def _layer_norm_grad(F, g, x, *parameters, out, normalized_shape, eps, index):
    return _normalization_grad(
        F, g, x, parameters, layer_norm_axes(x.ndim, normalized_shape), normalized_shape, eps, index
    )


def _batch_norm_grad(F, g, x, *parameters, out, eps, index):
    return _normalization_grad(
        F, g, x, parameters, batch_norm_axes(x.ndim), channel_shape(x.ndim, x.shape[1]), eps, index
    )


register(
    "layer_norm",
    layer_norm_reference,
    reads(("x parameters", "x"), _layer_norm_grad),
    variadic=True,
    samples=(
        S((3, 4), (4,), (4,), normalized_shape=(4,), eps=1e-5),
        S((2, 3, 4), normalized_shape=(3, 4), eps=1e-5),
        S((2, 5), (5,), normalized_shape=(5,), eps=1e-3),
    ),
)

register(
    "batch_norm",
    batch_norm_reference,
    reads(("x parameters", "x"), _batch_norm_grad),
    variadic=True,
    samples=(S((6, 3), (3,), (3,), eps=1e-5), S((4, 3, 2), (3,), (3,), eps=1e-5), S((5, 2), eps=1e-5)),
)


def _normalization_parameters(who, weight, bias, expected_shape, dtype):
    """The op's trailing inputs: (), (weight,) or (weight, bias); ones stand in for a missing weight."""
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and _shape(value) != expected_shape:
            raise ValueError(
                f"{who}: {name} of shape {_shape(value)} does not match the expected shape {expected_shape}"
            )
    if bias is None:
        return () if weight is None else (weight,)
    return (np.ones(expected_shape, dtype) if weight is None else weight, bias)


def layer_norm(
    x: Operand,
    normalized_shape: int | Sequence[int],
    weight: Operand | None = None,
    bias: Operand | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing `normalized_shape` axes, then scale by weight and shift by bias."""
    axes_shape = (
        (normalized_shape,) if isinstance(normalized_shape, (int, numbers.Integral)) else tuple(normalized_shape)
    )
    x_shape = _shape(x)
    if not axes_shape or x_shape[len(x_shape) - len(axes_shape) :] != axes_shape:
        raise ValueError(f"layer_norm: input of shape {x_shape} does not end with normalized_shape {axes_shape}")
    parameters = _normalization_parameters("layer_norm", weight, bias, axes_shape, _dtype(x))
    return apply(
        REGISTRY["layer_norm"], x, *parameters, normalized_shape=tuple(int(n) for n in axes_shape), eps=float(eps)
    )


def batch_norm(x: Operand, weight: Operand | None = None, bias: Operand | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (axis 1) of x (N, C) or (N, C, L) with the batch statistics, then scale
    by weight and shift by bias (training mode; the running statistics are the module's)."""
    x_shape = _shape(x)
    if len(x_shape) not in (2, 3):
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, L), got {x_shape}")
    if reduced_count(x_shape, batch_norm_axes(len(x_shape))) < 2:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of shape {x_shape}"
        )
    parameters = _normalization_parameters("batch_norm", weight, bias, x_shape[1:2], _dtype(x))
    return apply(REGISTRY["batch_norm"], x, *parameters, eps=float(eps))


# ---- activations --------------------------------------------------------------------------------


def activation(name: str, x: Operand, **attrs: Any) -> Tensor:
    """The registry's elementwise activation `name` (a row of ops.py: relu, leaky_relu, elu, sigmoid, tanh,
    softplus, silu, erf, gelu, gelu_tanh...) applied to x with its attributes (leaky_relu: negative_slope;
    elu: alpha; softplus: beta, threshold). Adding an activation to the registry makes it available here."""
    op = REGISTRY.get(name)
    if op is None:
        raise ValueError(f"activation: no registry op named {name!r}")
    return apply(op, x, **attrs)


# ---- the compiled kernels and the backend switch ------------------------------------------------

# Importing the kernel modules registers their kernels beside the registry's references (after the rows above).
for _module in ("elementwise", "linear", "norm", "reduce", "scatter", "softmax"):
    importlib.import_module(f".kernels.{_module}", __package__)


def _bind_kernels(backend_name):
    """Point the accelerated registry ops at their kernels, which ask the policy per call, or, under the
    numpy backend, straight at their numpy references: the forward, and the registry's VJP formulas
    (through the kernel while tracing, which records the call and runs the same numpy code)."""
    through_kernels = backend_name == "numba" or backend.is_tracing()
    for name, kernel in FORWARD_KERNELS.items():
        REGISTRY[name].set_forward(kernel if through_kernels else kernel.numpy)
    for name, kernel in BACKWARD_KERNELS.items():
        REGISTRY[name].fast_backward = kernel if through_kernels else None


backend.on_change(_bind_kernels)
