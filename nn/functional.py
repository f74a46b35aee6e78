"""The functional API: layers, activations and losses as functions of tensors.

    import nn.functional as F
    y = F.relu(F.linear(x, w, b))
    loss = F.cross_entropy(y, labels)

The modules of `nn` call these, so a function here is the one place its math
lives. `linear`, `cross_entropy`, `layer_norm` and `batch_norm` are written as
single entry points so that fused kernels can replace their bodies without any
module changing. Everything is built from registry ops, through `autograd_core`'s
public names (`autograd_core.fused_ops` for the fused ops and the activations),
so gradients, second derivatives and the graph's module scopes come for free.
The convolution, pooling and resampling functions are `autograd_core.conv_ops`'s,
re-exported here under PyTorch's names.

Inputs may be Tensors or numpy arrays; targets and indices may be Tensors,
numpy arrays or lists.
"""

import functools
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor, activation_ops, fused_ops
from autograd_core.conv_ops import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    dropout2d,
    fold,
    group_norm,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
    pad,
    unfold,
)

__all__ = [
    "linear",
    "dropout",
    "batch_norm",
    "layer_norm",
    "embedding",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "softplus",
    "silu",
    "swish",
    "gelu",
    "softmax",
    "log_softmax",
    "celu",
    "selu",
    "relu6",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "mish",
    "softsign",
    "logsigmoid",
    "softmin",
    "normalize",
    "one_hot",
    "scaled_dot_product_attention",
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "check_arguments",
    # convolution, pooling, resampling and their normalization and dropout (autograd_core.conv_ops)
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "unfold",
    "fold",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "max_unpool2d",
    "pad",
    "interpolate",
    "group_norm",
    "dropout2d",
]

# An input: a Tensor, or a numpy array used without copying.
TensorLike = Tensor | np.ndarray
# A target, index array or weight: also a (nested) list of numbers.
TargetLike = Tensor | np.ndarray | Sequence[Any]

REDUCTIONS = ("mean", "sum", "none")
GELU_OPS = {"none": "gelu", "tanh": "gelu_tanh"}  # approximate= -> the registry op


def _tensor(x: TargetLike) -> Tensor:
    """`x` as a Tensor, without copying an array; lists follow `ag.tensor` (floats get the default dtype)."""
    if isinstance(x, ag.Tensor):
        return x
    return ag.Tensor(x) if isinstance(x, np.ndarray) else ag.tensor(x)


def _like(value: TargetLike, input: Tensor) -> Tensor:
    """A target or weight as a Tensor; a constant (array, list) takes the floating input's dtype, so that a
    float64 array does not turn a float32 model's loss into float64. Tensors are used as they are."""
    if isinstance(value, ag.Tensor):
        return value
    array = np.asarray(value)
    if input.dtype.kind == "f" and array.dtype.kind in "biuf":
        array = array.astype(input.dtype, copy=False)
    return ag.Tensor(array)


def _array(x: TargetLike) -> np.ndarray:
    return np.asarray(x)


# ---- argument checks: one rule per hyperparameter name, shared by the functions and the modules -------


def _real(who, name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be a real number, got {type(value).__name__} {value!r}")


def _positive(who, name, value):
    _real(who, name, value)
    if not value > 0:
        raise ValueError(f"{who}: {name} must be > 0, got {value!r}")


def _integer(who, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be an int, got {type(value).__name__} {value!r}")


def _choice(choices):
    def check(who, name, value):
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{who}: {name} must be one of {', '.join(map(repr, choices))}; got {value!r}")

    return check


def _unit_interval(who, name, value):
    _real(who, name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{who}: {name} must be in [0, 1], got {value!r}")


def _probability(who, name, value):
    _real(who, name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{who}: {name} must be in [0, 1), got {value!r}")


def _optional_unit_interval(who, name, value):
    if value is not None:
        _unit_interval(who, name, value)


def _optional_integer(who, name, value):
    if value is not None:
        _integer(who, name, value)


def _flag(who, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a bool, got {type(value).__name__} {value!r}")


def _optional_tensor(who, name, value):
    if value is not None and not isinstance(value, (ag.Tensor, np.ndarray, list, tuple)):
        raise TypeError(f"{who}: {name} must be a Tensor, array or None, got {type(value).__name__}")


_ARGUMENT_RULES = {
    "negative_slope": _real,
    "init": _real,
    "alpha": _real,
    "beta": _positive,
    "threshold": _real,
    "axis": _integer,
    "dim": _optional_integer,
    "min_val": _real,
    "max_val": _real,
    "inplace": _flag,
    "is_causal": _flag,
    "enable_gqa": _flag,
    "approximate": _choice(tuple(GELU_OPS)),
    "reduction": _choice(REDUCTIONS),
    "delta": _positive,
    "label_smoothing": _unit_interval,
    "ignore_index": _integer,
    "weight": _optional_tensor,
    "pos_weight": _optional_tensor,
    "p": _probability,
    "dropout": _probability,
    "eps": _positive,
    "momentum": _optional_unit_interval,
    "start_dim": _integer,
    "end_dim": _integer,
}


def check_arguments(who: str, values: Mapping[str, Any]) -> None:
    """Validate hyperparameters by name (TypeError for a wrong type, ValueError for a bad value)."""
    for name, value in values.items():
        _ARGUMENT_RULES[name](who, name, value)


# ---- layers -----------------------------------------------------------------------------------


def linear(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, activation: str | None = None) -> Tensor:
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features); `activation` ("relu",
    "sigmoid" or "tanh") is applied in the same node (one fused kernel on the numba backend)."""
    return fused_ops.linear(_tensor(x), weight, bias, activation)


def dropout(x: TensorLike, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: in training each element is zeroed with probability p and the kept ones are
    scaled by 1/(1-p), so the expected value is unchanged and evaluation needs no rescaling.
    The mask is drawn from `ag.default_generator.rng`."""
    check_arguments("dropout", {"p": p})
    x = _tensor(x)
    if not training or p == 0:
        return x
    keep = ag.rand(x.shape, dtype=np.float64) >= p  # ag.rand: a compiled step draws a fresh mask every call
    return x * (keep.astype(x.dtype) * (1.0 / (1.0 - p)))


def _check_channels(who, name, tensor, channels):
    if tensor is not None and tuple(tensor.shape) != (channels,):
        raise ValueError(
            f"{who}: {name} has shape {tuple(tensor.shape)}, expected ({channels},) for the "
            f"{channels} channels of the input"
        )


def _check_running_statistics(x, running_mean, running_var):
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given, or both be None")
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var)):
        _check_channels("batch_norm", name, tensor, x.shape[1])


def batch_norm(
    x: TensorLike,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: TensorLike | None = None,
    bias: TensorLike | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over axis 1 (channels) of an (N, C, *) input: (N, C), (N, C, L), (N, C, H, W), ...

    Training: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's mean and biased
    variance over the N (and L) axes, and, when running statistics are given, in place

        running_mean <- (1 - momentum) * running_mean + momentum * mean
        running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    (the running variance is the unbiased estimate, n values per channel), as PyTorch.
    Evaluation (`training=False`): the running statistics are used in place of the batch's.
    """
    x = _tensor(x)
    if training:  # the fused op (over (N, C) or (N, C, L): spatial axes are flattened into L) checks its inputs
        flat = x if x.ndim <= 3 else x.reshape(x.shape[0], x.shape[1], -1)
        y = fused_ops.batch_norm(flat, weight, bias, eps).reshape(x.shape)
        _check_running_statistics(x, running_mean, running_var)
        if running_mean is not None and running_var is not None:
            if momentum is None:
                raise ValueError(
                    "batch_norm: momentum=None (a cumulative average) needs the module's batch count; "
                    "BatchNorm1d passes 1 / num_batches_tracked, a direct call passes a number"
                )
            axes, count = (0, *range(2, x.ndim)), x.numel() // x.shape[1]
            with ag.no_grad():
                batch = x.detach()
                running_mean.mul_(1.0 - momentum).add_(batch.mean(axis=axes) * momentum)
                running_var.mul_(1.0 - momentum).add_(
                    batch.var(axis=axes, correction=0) * (momentum * count / (count - 1))
                )
        return y
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {x.shape}")
    channels = x.shape[1]
    for name, tensor in (("weight", weight), ("bias", bias)):
        _check_channels("batch_norm", name, tensor, channels)
    _check_running_statistics(x, running_mean, running_var)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    broadcast = (1, channels) + (1,) * (x.ndim - 2)  # per-channel values against (N, C, *)
    inverse_std = 1.0 / (running_var.detach().reshape(broadcast) + eps).sqrt()
    y = (x - running_mean.detach().reshape(broadcast)) * inverse_std.astype(x.dtype)
    if weight is not None:
        y = y * (weight if x.ndim == 2 else weight.reshape(broadcast))
    if bias is not None:
        y = y + (bias if x.ndim == 2 else bias.reshape(broadcast))
    return y


def layer_norm(
    x: TensorLike,
    normalized_shape: int | Sequence[int],
    weight: TensorLike | None = None,
    bias: TensorLike | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics taken over the trailing
    `normalized_shape` dimensions of each sample (biased variance)."""
    return fused_ops.layer_norm(_tensor(x), normalized_shape, weight, bias, eps)


def embedding(input: TargetLike, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` selected by the integer `input` indices (any shape); the result has shape
    input.shape + (embedding_dim,). The gradient scatters back, summing over repeated indices; the row
    `padding_idx` (negative counts from the end) receives no gradient, as PyTorch's."""
    index = _array(input)
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {index.dtype}")
    rows = weight.shape[0]
    if index.size and (index.min() < 0 or index.max() >= rows):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"embedding: index {bad} is out of range for {rows} embeddings")
    looked_up = weight[index]
    if padding_idx is None:
        return looked_up
    if (
        isinstance(padding_idx, bool)
        or not isinstance(padding_idx, (int, np.integer))
        or not -rows <= padding_idx < rows
    ):
        raise ValueError(f"embedding: padding_idx must be an int in [-{rows}, {rows}), got {padding_idx!r}")
    is_padding = index == padding_idx % rows
    if not is_padding.any():
        return looked_up
    # The padding lookups read a detached copy of the row, so no gradient reaches it through them.
    return ag.where(is_padding[..., None], looked_up.detach(), looked_up)


# ---- activations --------------------------------------------------------------------------------


def sigmoid(x: TensorLike) -> Tensor:
    """1 / (1 + exp(-x))."""
    return fused_ops.activation("sigmoid", x)


def tanh(x: TensorLike) -> Tensor:
    return fused_ops.activation("tanh", x)


def relu(x: TensorLike) -> Tensor:
    """max(x, 0)."""
    return fused_ops.activation("relu", x)


def leaky_relu(x: TensorLike, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    check_arguments("leaky_relu", {"negative_slope": negative_slope})
    return fused_ops.activation("leaky_relu", x, negative_slope=negative_slope)


def prelu(x: TensorLike, weight: Tensor) -> Tensor:
    """x for x > 0, weight * x otherwise, with one learnable slope per channel (axis 1) or one shared."""
    x = _tensor(x)
    if weight.numel() == 1:
        slope = weight.reshape(())
    else:
        if x.ndim < 2 or x.shape[1] != weight.numel():
            raise ValueError(
                f"prelu: {weight.numel()} slopes need an input with {weight.numel()} channels on "
                f"axis 1, got shape {x.shape}"
            )
        slope = weight.reshape((weight.numel(),) + (1,) * (x.ndim - 2))
    return ag.where(x.detach() > 0, x, x * slope)


def elu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    check_arguments("elu", {"alpha": alpha})
    return fused_ops.activation("elu", x, alpha=alpha)


def softplus(x: TensorLike, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    check_arguments("softplus", {"beta": beta, "threshold": threshold})
    return fused_ops.activation("softplus", x, beta=beta, threshold=threshold)


def silu(x: TensorLike) -> Tensor:
    """x * sigmoid(x) (Swish with beta = 1)."""
    return fused_ops.activation("silu", x)


def swish(x: TensorLike, beta: float | Tensor = 1.0) -> Tensor:
    """x * sigmoid(beta * x); `beta` a number or a (learnable) Tensor."""
    x = _tensor(x)
    if isinstance(beta, ag.Tensor):
        return x * sigmoid(x * beta)
    check_arguments("swish", {"beta": beta})
    return silu(x) if beta == 1 else x * sigmoid(x * beta)


def gelu(x: TensorLike, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; approximate="tanh" uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    check_arguments("gelu", {"approximate": approximate})
    return fused_ops.activation(GELU_OPS[approximate], x)


def softmax(x: TensorLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis` (computed with the maximum subtracted)."""
    return _tensor(x).softmax(axis, dim=dim)


def log_softmax(x: TensorLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along `axis`."""
    return _tensor(x).log_softmax(axis, dim=dim)


def _activation(name: str, input: TensorLike, inplace: bool, **attrs: Any) -> Tensor:
    """The registry activation `name` on `input`. With `inplace=True` the result is written into `input`
    and `input` is returned (`activation_ops.activation_`: PyTorch's semantics, including the refusal
    for a leaf that requires grad); the computation itself is out of place either way."""
    check_arguments(name, {"inplace": inplace})
    if inplace:
        return activation_ops.activation_(name, input, **attrs)
    return fused_ops.activation(name, _tensor(input), **attrs)


def celu(input: TensorLike, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise (alpha must not be 0)."""
    activation_ops.check_celu_alpha(alpha)
    return _activation("celu", input, inplace, alpha=alpha)


def selu(input: TensorLike, inplace: bool = False) -> Tensor:
    """scale * (x for x > 0, alpha * (exp(x) - 1) otherwise), with the self-normalizing constants
    alpha ~ 1.6733 and scale ~ 1.0507 (`activation_ops.SELU_ALPHA`, `SELU_SCALE`)."""
    return _activation("selu", input, inplace)


def hardtanh(input: TensorLike, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clip(x, min_val, max_val); the gradient is 1 strictly between the bounds, 0 at and beyond them."""
    activation_ops.check_hardtanh_bounds(min_val, max_val)
    return _activation("hardtanh", input, inplace, min_val=min_val, max_val=max_val)


def relu6(input: TensorLike, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6), as in PyTorch (so the gradient is 0 at 0 and at 6)."""
    check_arguments("relu6", {"inplace": inplace})
    return _activation("hardtanh", input, inplace, min_val=0.0, max_val=6.0)


def hardsigmoid(input: TensorLike, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (gradient 1/6 strictly inside)."""
    return _activation("hardsigmoid", input, inplace)


def hardswish(input: TensorLike, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6; gradient 0 for x <= -3, x / 3 + 1/2 between, 1 for x >= 3 (PyTorch's)."""
    return _activation("hardswish", input, inplace)


def mish(input: TensorLike, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _activation("mish", input, inplace)


def softsign(input: TensorLike) -> Tensor:
    """x / (1 + |x|)."""
    return fused_ops.activation("softsign", _tensor(input))


def logsigmoid(input: TensorLike) -> Tensor:
    """log(sigmoid(x)) = -log(1 + exp(-x)), computed as -logaddexp(0, -x): finite for any x."""
    return fused_ops.activation("logsigmoid", _tensor(input))


def _implicit_softmax_dim(who, ndim, stacklevel):
    """PyTorch's legacy choice of axis when `dim` is not given (0 for 0-, 1- and 3-D inputs, else 1),
    with its deprecation warning."""
    warnings.warn(
        f"{who}: implicit dimension choice is deprecated (as in PyTorch); pass dim=", UserWarning, stacklevel + 1
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: TensorLike, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along `dim`; `dtype` casts the input first. Without `dim`, PyTorch's legacy implicit
    choice (0 for 0-, 1- and 3-D inputs, else 1) with a warning."""
    check_arguments("softmin", {"dim": dim})
    x = _tensor(input)
    if dtype is not None:
        x = x.astype(dtype)
    if dim is None:
        dim = _implicit_softmax_dim("softmin", x.ndim, _stacklevel)
    return (-x).softmax(dim=dim)


def normalize(input: TensorLike, p: float = 2.0, dim: int | Sequence[int] = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps), the p-norm taken along `dim` (p > 0, or math.inf): each slice scaled to
    unit norm, and one whose norm is below eps divided by eps instead (no division by zero)."""
    _real("normalize", "p", p)
    if not p > 0:
        raise ValueError(f"normalize: p must be > 0 (or math.inf), got {p!r}")
    check_arguments("normalize", {"eps": eps})
    x = _tensor(input)
    return x / x.norm(p, dim=dim, keepdim=True).clip(min=eps)


def one_hot(tensor: TargetLike, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape tensor.shape + (num_classes,), 1 at each entry's class index and 0
    elsewhere; num_classes=-1 takes the largest index + 1. Indices must be integers in
    [0, num_classes)."""
    indices = np.asarray(tensor)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected a tensor of integer class indices, got dtype {indices.dtype}")
    _integer("one_hot", "num_classes", num_classes)
    if num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 (inferred) or >= 0, got {num_classes}")
    if indices.size and indices.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {indices.min()}")
    if num_classes == -1:
        if not indices.size:
            raise ValueError("one_hot: cannot infer the number of classes from an empty tensor; pass num_classes")
        num_classes = int(indices.max()) + 1
    if indices.size and indices.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {indices.max()}")
    return ag.Tensor((indices[..., None] == np.arange(num_classes)).astype(np.int64))


# ---- attention ------------------------------------------------------------------------------------


def _check_attention_inputs(who, query, key, value):
    shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"{who}: query, key and value need at least 2 dimensions (..., L or S, E), got {shapes}")
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"{who}: query, key and value must have the same dtype, got {query.dtype}, {key.dtype} and {value.dtype}"
        )
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"{who}: query and key must have the same last axis (the embedding), got {shapes}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{who}: key and value must have the same sequence length (axis -2), got {shapes}")
    try:
        np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(f"{who}: the batch axes (all but the last two) do not broadcast: {shapes}") from None


def _repeat_heads(who, x, heads):
    """x (..., H, S, E) with each of its H heads repeated heads / H times in turn (torch's
    `repeat_interleave(heads // H, dim=-3)`): grouped-query attention's sharing of key/value heads."""
    if x.ndim < 3 or heads % x.shape[-3]:
        raise ValueError(
            f"{who}: enable_gqa needs key and value with a head axis (-3) dividing the query's {heads} heads, "
            f"got shape {x.shape}"
        )
    repeats = heads // x.shape[-3]
    grouped = x.unsqueeze(-3).broadcast_to(x.shape[:-2] + (repeats,) + x.shape[-2:])
    return grouped.reshape(x.shape[:-3] + (heads,) + x.shape[-2:])


def _attention_bias(who, attn_mask, is_causal, query, scores_shape):
    """The additive bias of the attention scores (None when there is none): 0 where attending is allowed
    and -inf elsewhere, from a bool `attn_mask` (True = attend) or the causal pattern, or a float
    `attn_mask` itself (which may require grad)."""
    length, source_length = scores_shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{who}: pass either attn_mask or is_causal=True, not both")
        allowed = np.tril(np.ones((length, source_length), dtype=bool))
        return np.where(allowed, 0.0, -np.inf).astype(query.dtype)
    if attn_mask is None:
        return None
    mask_shape = tuple(np.shape(attn_mask))
    try:
        fits = np.broadcast_shapes(mask_shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{who}: attn_mask of shape {mask_shape} does not broadcast to the scores' {scores_shape}")
    array = np.asarray(attn_mask)
    if array.dtype == np.bool_:
        return np.where(array, 0.0, -np.inf).astype(query.dtype)
    if array.dtype.kind != "f":
        raise TypeError(f"{who}: attn_mask must be bool (True = attend) or floating (added), got dtype {array.dtype}")
    return _like(attn_mask, query)


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax along the last axis, with 0 (and a zero gradient) for rows that are -inf throughout, where
    plain softmax gives nan: PyTorch's attention does the same for fully masked rows."""
    fully_masked = np.all(np.isneginf(np.asarray(scores)), axis=-1, keepdims=True)
    if not fully_masked.any():
        return scores.softmax(dim=-1)
    return ag.where(fully_masked, 0.0, ag.where(fully_masked, 0.0, scores).softmax(dim=-1))


def scaled_dot_product_attention(
    query: TensorLike,
    key: TensorLike,
    value: TensorLike,
    attn_mask: TargetLike | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query @ key^T * scale + bias) @ value over the last two axes, as `torch.nn.functional.
    scaled_dot_product_attention`: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev),
    the leading axes broadcast.

    scale: 1 / sqrt(E) when None. attn_mask: broadcastable to (..., L, S); bool keeps the positions that
    are True, a float mask is added to the scores. is_causal: query i attends to keys 0..i (the
    lower-left triangle of (L, S)); it excludes attn_mask. A query whose keys are all masked gets zeros,
    as in PyTorch 2.x (not nan). dropout_p: dropout on the attention weights, always applied when > 0
    (PyTorch's function has no training flag either). enable_gqa: key and value may have fewer heads
    (axis -3) than query, each shared by a group of query heads.
    """
    who = "scaled_dot_product_attention"
    query, key, value = _tensor(query), _tensor(key), _tensor(value)
    check_arguments(who, {"dropout": dropout_p, "is_causal": is_causal, "enable_gqa": enable_gqa})
    if scale is not None:
        _real(who, "scale", scale)
    if enable_gqa and query.ndim >= 3:
        key, value = _repeat_heads(who, key, query.shape[-3]), _repeat_heads(who, value, query.shape[-3])
    _check_attention_inputs(who, query, key, value)
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.swapaxes(-1, -2)) * factor
    bias = _attention_bias(who, attn_mask, is_causal, query, scores.shape)
    if bias is not None:
        scores = scores + bias
    weights = _safe_softmax(scores)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ value


# ---- losses ------------------------------------------------------------------------------------


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(who, input, target):
    # np.shape reads a Tensor's .shape: its values are not taken (an ag.compile trace would see them leave)
    if tuple(np.shape(target)) != tuple(np.shape(input)):
        raise ValueError(
            f"{who}: target shape {tuple(np.shape(target))} does not match input shape {tuple(np.shape(input))}"
        )


def mse_loss(input: TensorLike, target: TargetLike, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced."""
    check_arguments("mse_loss", {"reduction": reduction})
    _same_shape("mse_loss", input, target)
    input = _tensor(input)
    difference = input - _like(target, input)
    return _reduce(difference * difference, reduction)


def l1_loss(input: TensorLike, target: TargetLike, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    check_arguments("l1_loss", {"reduction": reduction})
    _same_shape("l1_loss", input, target)
    input = _tensor(input)
    return _reduce((input - _like(target, input)).abs(), reduction)


def huber_loss(input: TensorLike, target: TargetLike, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, delta * (|d| - 0.5 delta) elsewhere, d = input - target."""
    check_arguments("huber_loss", {"reduction": reduction, "delta": delta})
    _same_shape("huber_loss", input, target)
    input = _tensor(input)
    difference = input - _like(target, input)
    size = difference.abs()
    loss = ag.where(np.asarray(size) < delta, 0.5 * difference * difference, delta * (size - 0.5 * delta))
    return _reduce(loss, reduction)


def _class_weights(who, weight, classes, dtype):
    """The per-class weights as an array of `dtype`, or None."""
    if weight is None:
        return None
    array = _array(weight)
    if array.shape != (classes,):
        raise ValueError(f"{who}: weight must have shape ({classes},), one entry per class, got {array.shape}")
    return array.astype(dtype, copy=False)


def _class_axis(who, input):
    if input.ndim == 0:
        raise ValueError(f"{who}: input must have a class dimension, got a scalar")
    return 0 if input.ndim == 1 else 1


def _nll(who, log_probs, target, weight, ignore_index, reduction, label_smoothing):
    """Negative log-likelihood of integer class targets, given log-probabilities with classes on axis 1
    (axis 0 for one unbatched sample), optionally blended with label smoothing (as PyTorch):

        loss_i = (1 - eps) * w[t_i] * (-log p[i, t_i]) + (eps / C) * sum_c w[c] * (-log p[i, c])

    Targets equal to `ignore_index` contribute 0; "mean" divides by the summed weight w[t_i] of the
    targets that are not ignored (their count, without weights)."""
    axis = _class_axis(who, log_probs)
    classes = log_probs.shape[axis]
    expected = log_probs.shape[:axis] + log_probs.shape[axis + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"{who}: target shape {target.shape} does not match input shape {log_probs.shape}; "
            f"class-index targets need shape {expected}"
        )
    ignored = target == ignore_index
    classes_of = np.where(ignored, 0, target)
    if classes_of.size and (classes_of.min() < 0 or classes_of.max() >= classes):
        bad = classes_of.min() if classes_of.min() < 0 else classes_of.max()
        raise ValueError(
            f"{who}: target class {bad} is out of range for {classes} classes (valid are 0 to "
            f"{classes - 1}, or ignore_index={ignore_index})"
        )
    class_weights = _class_weights(who, weight, classes, log_probs.dtype)
    grid = np.indices(target.shape, sparse=True)
    picked = log_probs[(classes_of,) if axis == 0 else (grid[0], classes_of, *grid[1:])]
    if class_weights is None and not ignored.any():
        target_weights = None
        loss = -picked
    else:
        target_weights = (~ignored) * (1.0 if class_weights is None else class_weights[classes_of])
        target_weights = np.asarray(target_weights, dtype=log_probs.dtype)
        loss = -picked * target_weights
    if label_smoothing:
        weighted = (
            log_probs
            if class_weights is None
            else log_probs * class_weights.reshape((classes,) + (1,) * (log_probs.ndim - axis - 1))
        )
        smooth = -weighted.sum(axis)
        if ignored.any():
            smooth = smooth * (~ignored).astype(log_probs.dtype)
        loss = (1.0 - label_smoothing) * loss + (label_smoothing / classes) * smooth
    if reduction == "mean" and target_weights is not None:
        return loss.sum() / target_weights.sum()
    return _reduce(loss, reduction)


def _integer_target(who, target):
    array = _array(target)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{who}: class-index targets must be integers, got dtype {array.dtype}")
    return array


def _fused_targets(target: np.ndarray, classes: int, ignore_index: int) -> bool:
    """Whether class indices `target` take cross_entropy's fused path: some, all in [0, classes), none ignored.

    Runs on every call (and in every replay of a compiled step, as a guard), so it makes one pass where
    it can: seen as unsigned, a negative index is a huge one, so one maximum checks both bounds; an
    ignore_index outside [0, classes) cannot occur among such targets (1.6 us for 16 targets, against
    3.3 us for a minimum, a maximum and a search for ignore_index)."""
    if not target.size:
        return False
    unsigned = target.view(target.dtype.str.replace("i", "u")) if target.dtype.kind == "i" else target
    if unsigned.max() >= classes:
        return False
    return not 0 <= ignore_index < classes or not (target == ignore_index).any()


def cross_entropy(
    input: TensorLike,
    target: TargetLike,
    weight: TargetLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy of logits `input` (N, C), (N, C, d1, ...) or (C,) against `target`, which is either
    integer class indices of the input's shape without the class axis, or class probabilities of the
    input's own shape.

    With log p = log_softmax(input) over the class axis: for class indices see `nll_loss` (plus label
    smoothing); for probabilities, loss_i = -sum_c w[c] * q[i, c] * log p[i, c] with
    q = (1 - eps) * target + eps / C, and "mean" averages over the N * d1 * ... samples.
    The gradient with respect to the logits is softmax(input) - q (weighted), so large logits are safe.
    """
    who = "cross_entropy"
    check_arguments(
        who,
        {"weight": weight, "ignore_index": ignore_index, "reduction": reduction, "label_smoothing": label_smoothing},
    )
    input = _tensor(input)
    axis = _class_axis(who, input)
    if (
        input.ndim == 2
        and weight is None
        and np.dtype(target.dtype if isinstance(target, ag.Tensor) else np.asarray(target).dtype).kind in "iu"
        and tuple(np.shape(target)) == input.shape[:1]
        and ag.compiler.branch_on_values(
            target,
            functools.partial(_fused_targets, classes=input.shape[1], ignore_index=ignore_index),
            "cross_entropy (whether its targets take the fused path)",
        )
    ):
        # the common case, as one fused op whose gradient is softmax - onehot (smoothed); anything
        # else (ignored or invalid targets, class weights, more axes) takes the general path below
        return _reduce(fused_ops.softmax_cross_entropy(input, target, label_smoothing), reduction)
    target_array = _array(target)
    if target_array.dtype.kind in "iu":
        return _nll(who, input.log_softmax(axis), target_array, weight, ignore_index, reduction, label_smoothing)
    log_probs = input.log_softmax(axis)
    if target_array.dtype.kind != "f":
        raise TypeError(
            f"{who}: target must hold class indices (integers) or class probabilities (floats), "
            f"got dtype {target_array.dtype}"
        )
    _same_shape(who, input, target)
    classes = input.shape[axis]
    probabilities = _like(target, input)
    if label_smoothing:
        probabilities = probabilities * (1.0 - label_smoothing) + label_smoothing / classes
    class_weights = _class_weights(who, weight, classes, input.dtype)
    if class_weights is not None:
        probabilities = probabilities * class_weights.reshape((classes,) + (1,) * (input.ndim - axis - 1))
    return _reduce(-(log_probs * probabilities).sum(axis), reduction)


def nll_loss(
    input: TensorLike,
    target: TargetLike,
    weight: TargetLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: loss_i = -w[t_i] * input[i, t_i] for log-probabilities `input` (N, C),
    (N, C, d1, ...) or (C,) and integer targets; "mean" divides by the summed weights of the targets
    that are not `ignore_index`."""
    who = "nll_loss"
    check_arguments(who, {"weight": weight, "ignore_index": ignore_index, "reduction": reduction})
    return _nll(who, _tensor(input), _integer_target(who, target), weight, ignore_index, reduction, 0.0)


def _clamped_log(p):
    """max(log p, -100), as PyTorch's BCE, so p = 0 gives a finite loss. Where p = 0 the log is replaced
    by the constant -100 (gradient 0) rather than differentiated (0 * inf = nan)."""
    zero = np.asarray(p) == 0
    return ag.where(zero, -100.0, ag.where(zero, 1.0, p).log()).clamp(min=-100.0)


def binary_cross_entropy(
    input: TensorLike, target: TargetLike, weight: TargetLike | None = None, reduction: str = "mean"
) -> Tensor:
    """-w * (y log p + (1 - y) log(1 - p)) for probabilities p = `input` in [0, 1], each log clamped
    to >= -100 as PyTorch."""
    who = "binary_cross_entropy"
    check_arguments(who, {"weight": weight, "reduction": reduction})
    _same_shape(who, input, target)
    input = _tensor(input)
    target = _like(target, input)
    if input.numel() and not (np.asarray(input).min() >= 0 and np.asarray(input).max() <= 1):
        raise ValueError(
            f"{who}: every element of input must be a probability in [0, 1], got values from "
            f"{np.asarray(input).min()} to {np.asarray(input).max()}"
        )
    loss = -(target * _clamped_log(input) + (1.0 - target) * _clamped_log(1.0 - input))
    if weight is not None:
        loss = loss * _like(weight, input)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: TensorLike,
    target: TargetLike,
    weight: TargetLike | None = None,
    reduction: str = "mean",
    pos_weight: TargetLike | None = None,
) -> Tensor:
    """BCE of sigmoid(input) computed from the logits without forming the sigmoid:

        loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * softplus(-x)

    which is max(x, 0) - x y + log1p(exp(-|x|)) when pos_weight is None. softplus is evaluated as
    logaddexp(0, .), so the loss and its gradient, sigmoid(x) - y, are exact for any logit (1e4 too).
    `pos_weight` weighs the positive term, per class along the last axis."""
    who = "binary_cross_entropy_with_logits"
    check_arguments(who, {"weight": weight, "reduction": reduction, "pos_weight": pos_weight})
    _same_shape(who, input, target)
    input = _tensor(input)
    target = _like(target, input)
    log_term = fused_ops.activation("softplus", -input, beta=1.0, threshold=math.inf)
    if pos_weight is not None:
        log_term = log_term * (1.0 + (_like(pos_weight, input) - 1.0) * target)
    loss = (1.0 - target) * input + log_term
    if weight is not None:
        loss = loss * _like(weight, input)
    return _reduce(loss, reduction)
