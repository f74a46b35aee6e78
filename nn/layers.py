"""Layers: Linear, MLP, Dropout, BatchNorm1d, LayerNorm, Embedding, Residual, Identity, Flatten.

Parameter names, shapes, buffers and default initialisation follow PyTorch,
so state dicts are interchangeable with the equivalent `torch.nn` layers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import functional as F
from . import init
from .activations import ReLU, Sigmoid, Tanh, get_activation
from .module import Module, Parameter, Sequential, check_size


def _floats(*shape):
    return np.zeros(shape, dtype=ag.get_default_dtype())


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed head)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class Linear(Module):
    """y = x @ weight.T + bias, weight of shape (out_features, in_features).

    PyTorch's default init: weight ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and
    bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    bias: Parameter | None

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        check_size("Linear", "in_features", in_features)
        check_size("Linear", "out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_floats(out_features, in_features))
        self.register_parameter("bias", Parameter(_floats(out_features)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the kept ones by
    1/(1-p); the identity in eval mode. Masks come from `ag.default_generator.rng`."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        F.check_arguments("Dropout", {"p": p})
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalization of (N, C) or (N, C, L) inputs over everything but the channel axis 1
    (see `functional.batch_norm` for the formulas).

    In training the batch's statistics normalize and update the running ones (`momentum=None` gives a
    cumulative average, 1/num_batches_tracked); in eval mode the running statistics normalize. Buffers
    `running_mean`, `running_var`, `num_batches_tracked` (int64) are in the state dict, as PyTorch's.
    """

    weight: Parameter | None
    bias: Parameter | None
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        check_size("BatchNorm1d", "num_features", num_features)
        F.check_arguments("BatchNorm1d", {"eps": eps, "momentum": momentum})
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=ag.get_default_dtype()))
            self.bias = Parameter(_floats(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", ag.Tensor(_floats(num_features)))
            self.register_buffer("running_var", ag.Tensor(np.ones(num_features, dtype=ag.get_default_dtype())))
            self.register_buffer("num_batches_tracked", ag.Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x: Tensor) -> Tensor:
        momentum = self.momentum
        if self.training and self.num_batches_tracked is not None:
            with ag.no_grad():
                self.num_batches_tracked.add_(1)
            if momentum is None:
                momentum = 1.0 / self.num_batches_tracked.item()
        # Without running statistics (track_running_stats=False) the batch's are used in eval mode too.
        use_batch_statistics = self.training or self.running_mean is None
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_batch_statistics, momentum, self.eps
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class LayerNorm(Module):
    """Normalization of each sample over its trailing `normalized_shape` dimensions, then an elementwise
    affine map (weight ones, bias zeros) when `elementwise_affine`."""

    weight: Parameter | None
    bias: Parameter | None

    def __init__(
        self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        for size in shape:
            check_size("LayerNorm", "normalized_shape entries", size)
        F.check_arguments("LayerNorm", {"eps": eps})
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=ag.get_default_dtype()))
            self.bias = Parameter(_floats(*self.normalized_shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of `weight` (num_embeddings, embedding_dim),
    initialised N(0, 1) as PyTorch. Repeated indices accumulate their gradients.

    padding_idx: a row (negative counts from the end, stored as its non-negative index) initialised to
    zeros whose lookups pass no gradient to it, as PyTorch's: it stays what it is while the rest train.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        check_size("Embedding", "num_embeddings", num_embeddings)
        check_size("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        self.weight = Parameter(_floats(num_embeddings, embedding_dim))
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with ag.no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, indices: Tensor | np.ndarray | Sequence[int]) -> Tensor:
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


def _padding_index(padding_idx: int | None, num_embeddings: int) -> int | None:
    """Embedding's padding_idx as a row index in [0, num_embeddings), or None."""
    if padding_idx is None:
        return None
    if not isinstance(padding_idx, (int, np.integer)) or isinstance(padding_idx, bool):
        raise TypeError(
            f"Embedding: padding_idx must be an int or None, got {type(padding_idx).__name__} {padding_idx!r}"
        )
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"Embedding: padding_idx must be in [-{num_embeddings}, {num_embeddings}) for {num_embeddings} "
            f"embeddings, got {padding_idx}"
        )
    return int(padding_idx) % num_embeddings


class Residual(Module):
    """x + module(x): a skip connection around `module` (whose output must have x's shape)."""

    def __init__(self, module: Module) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Residual: expected a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        out = self.module(x)
        if out.shape != x.shape:
            raise ValueError(
                f"Residual: the wrapped {type(self.module).__name__} maps shape {x.shape} to "
                f"{out.shape}; a residual connection needs them equal"
            )
        return x + out


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        F.check_arguments("Flatten", {"start_dim": start_dim, "end_dim": end_dim})
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


_NORMS = {"batch": BatchNorm1d, "layer": LayerNorm}


# The activation modules that `F.linear` can fuse into the layer, as its activation names.
_LINEAR_FUSABLE = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh"}


class MLPBlock(Module):
    """One hidden layer of an MLP: linear -> norm (optional) -> activation -> dropout (optional), plus the
    input when `residual` (the block then computes x + dropout(activation(norm(linear(x)))))."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str,
        dropout: float,
        norm: str | None,
        residual: bool,
    ) -> None:
        super().__init__()
        self.linear = Linear(in_features, out_features)
        if norm is not None:
            self.norm = _NORMS[norm](out_features)
        self.activation = get_activation(activation)
        if dropout:
            self.dropout = Dropout(dropout)
        self.residual = residual

    def _fused_activation(self):
        """The activation to run inside the linear layer's node, or None to call the modules one by one:
        when a norm sits in between, when the modules are not a plain Linear and a fusable activation,
        or when either has hooks (the fused path bypasses both modules' calls, so their hooks would not run)."""
        if "norm" in self._modules or type(self.linear) is not Linear:
            return None
        name = _LINEAR_FUSABLE.get(type(self.activation))
        if name is None or self.linear._forward_hooks or self.activation._forward_hooks:
            return None
        return name

    def forward(self, x: Tensor) -> Tensor:
        activation = self._fused_activation()
        if activation is not None:
            y = F.linear(x, self.linear.weight, self.linear.bias, activation=activation)
        else:
            y = self.linear(x)
            for module in (self._modules.get("norm"), self.activation):
                if module is not None:
                    y = module(y)
        if "dropout" in self._modules:
            y = self.dropout(y)
        return x + y if self.residual else y

    def extra_repr(self) -> str:
        return "residual=True" if self.residual else ""


class MLP(Sequential):
    """A multilayer perceptron through the widths `sizes` = [in, hidden..., out].

    Layout (a Sequential, so `mlp[0]` is the first block): children "0" .. "n-2" are the hidden
    `MLPBlock`s, each linear -> norm -> activation -> dropout, and the last child is the output `Linear`
    (no activation: losses take logits). State-dict names are therefore

        {i}.linear.weight, {i}.linear.bias           hidden block i
        {i}.norm.weight, {i}.norm.bias (+ running_mean, running_var, num_batches_tracked for "batch")
        {i}.activation.weight                         for "prelu"
        {n-1}.weight, {n-1}.bias                      output layer

    and do not depend on `residual`, which adds a block's input to its output wherever the block's
    input and output widths match. `norm` is None, "batch" (BatchNorm1d) or "layer" (LayerNorm);
    `dropout` is the probability of each hidden block's Dropout (none when 0); `activation` is a name
    accepted by `nn.get_activation`.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        dropout: float = 0.0,
        norm: str | None = None,
        residual: bool = False,
    ) -> None:
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"MLP: sizes must be a sequence of ints [in, hidden..., out], got {type(sizes).__name__}")
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output width, got {sizes}")
        for i, size in enumerate(sizes):
            check_size("MLP", f"sizes[{i}]", size)
        get_activation(activation)  # an unknown name fails here, before any layer is built
        F.check_arguments("MLP", {"dropout": dropout})
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"MLP: norm must be None, 'batch' or 'layer'; got {norm!r}")
        if not isinstance(residual, bool):
            raise TypeError(f"MLP: residual must be a bool, got {type(residual).__name__}")
        blocks = [
            MLPBlock(n_in, n_out, activation, dropout, norm, residual and n_in == n_out)
            for n_in, n_out in itertools.pairwise(sizes[:-1])
        ]
        super().__init__(*blocks, Linear(sizes[-2], sizes[-1]))
        self.sizes = sizes
