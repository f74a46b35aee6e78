"""Activation modules, and `get_activation(name)` for code that picks an activation by name (MLP, CLI).

The activations without learnable parameters are rows of one table: each is a
`FunctionModule` running its `nn.functional` function with the hyperparameters
given at construction. PReLU and a learnable Swish hold parameters and are
classes of their own.
"""

from collections.abc import Callable

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import functional as F
from .module import FunctionModule, Module, Parameter, check_size, function_module

Sigmoid = function_module("Sigmoid", F.sigmoid, "sigmoid(x) = 1 / (1 + exp(-x)).")
Tanh = function_module("Tanh", F.tanh, "tanh(x).")
ReLU = function_module("ReLU", F.relu, "relu(x) = max(x, 0).")
LeakyReLU = function_module(
    "LeakyReLU", F.leaky_relu, "x for x > 0, negative_slope * x otherwise.", negative_slope=0.01
)
ELU = function_module("ELU", F.elu, "x for x > 0, alpha * (exp(x) - 1) otherwise.", alpha=1.0)
Softplus = function_module(
    "Softplus", F.softplus, "log(1 + exp(beta * x)) / beta; x where beta * x > threshold.", beta=1.0, threshold=20.0
)
SiLU = function_module("SiLU", F.silu, "x * sigmoid(x): Swish with beta = 1.")
GELU = function_module(
    "GELU", F.gelu, "x * Phi(x) (Phi the normal CDF); approximate='tanh' for the tanh form.", approximate="none"
)
Softmax = function_module(
    "Softmax", F.softmax, "exp(x) / sum(exp(x)) along `dim` (`axis=` accepted).", aliases={"axis": "dim"}, dim=-1
)
LogSoftmax = function_module(
    "LogSoftmax", F.log_softmax, "x - logsumexp(x) along `dim` (`axis=` accepted).", aliases={"axis": "dim"}, dim=-1
)
Softmin = function_module(
    "Softmin", F.softmin, "softmax(-x) along `dim` (None: PyTorch's legacy implicit choice, with a warning).", dim=None
)
CELU = function_module("CELU", F.celu, "x for x > 0, alpha * (exp(x / alpha) - 1) otherwise.", alpha=1.0, inplace=False)
SELU = function_module(
    "SELU",
    F.selu,
    "scale * (x for x > 0, alpha * (exp(x) - 1) otherwise), the self-normalizing constants.",
    inplace=False,
)
ReLU6 = function_module("ReLU6", F.relu6, "min(max(x, 0), 6).", inplace=False)
Hardtanh = function_module(
    "Hardtanh", F.hardtanh, "clip(x, min_val, max_val).", min_val=-1.0, max_val=1.0, inplace=False
)
# PyTorch's Hardsigmoid and Hardswish have no extra_repr: `Hardswish()` even with inplace=True
Hardsigmoid = function_module(
    "Hardsigmoid", F.hardsigmoid, "relu6(x + 3) / 6.", show_hyperparameters=False, inplace=False
)
Hardswish = function_module(
    "Hardswish", F.hardswish, "x * relu6(x + 3) / 6.", show_hyperparameters=False, inplace=False
)
Mish = function_module("Mish", F.mish, "x * tanh(softplus(x)).", inplace=False)
Softsign = function_module("Softsign", F.softsign, "x / (1 + |x|).")
LogSigmoid = function_module("LogSigmoid", F.logsigmoid, "log(sigmoid(x)), stable for any x.")


def _repr_without_default_inplace(module: FunctionModule) -> str:
    """PyTorch's repr of an activation with an `inplace` flag: the flag is shown only when True."""
    return ", ".join(
        f"{name}={value!r}" for name, value in module.hyperparameters.items() if name != "inplace" or value
    )


for _module in (CELU, SELU, ReLU6, Hardtanh, Mish):
    _module.extra_repr = _repr_without_default_inplace  # type: ignore[method-assign,assignment]


class PReLU(Module):
    """x for x > 0, a * x otherwise, with a learnable slope `a`: one shared (num_parameters=1) or one per
    channel (axis 1 of the input), initialised to `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        check_size("PReLU", "num_parameters", num_parameters)
        F.check_arguments("PReLU", {"init": init})
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype=ag.get_default_dtype()))

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Swish(Module):
    """x * sigmoid(beta * x). With `learnable=True`, beta is a Parameter (a scalar) trained with the rest
    of the model; otherwise it is fixed (beta = 1 is SiLU)."""

    beta: Parameter | float

    def __init__(self, beta: float = 1.0, learnable: bool = False) -> None:
        super().__init__()
        F.check_arguments("Swish", {"beta": beta})
        if not isinstance(learnable, bool):
            raise TypeError(f"Swish: learnable must be a bool, got {type(learnable).__name__}")
        self.learnable = learnable
        if learnable:
            self.beta = Parameter(np.array(beta, dtype=ag.get_default_dtype()))
        else:
            self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return F.swish(x, self.beta)

    def extra_repr(self) -> str:
        beta = self.beta.item() if isinstance(self.beta, Parameter) else self.beta
        return f"beta={beta!r}, learnable={self.learnable}"


# Names accepted by get_activation (and so by MLP(activation=...) and the CLI): name -> module factory.
ACTIVATION_MODULES: dict[str, Callable[[], Module]] = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "softplus": Softplus,
    "silu": SiLU,
    "swish": Swish,
    "gelu": GELU,
    "gelu_tanh": lambda: GELU(approximate="tanh"),
    "prelu": PReLU,
    "celu": CELU,
    "selu": SELU,
    "relu6": ReLU6,
    "hardtanh": Hardtanh,
    "hardsigmoid": Hardsigmoid,
    "hardswish": Hardswish,
    "mish": Mish,
    "softsign": Softsign,
    "logsigmoid": LogSigmoid,
}


def get_activation(name: str) -> Module:
    """A new activation module for `name` (see ACTIVATION_MODULES); unknown names raise ValueError listing
    the valid ones."""
    if not isinstance(name, str):
        raise TypeError(f"get_activation: expected an activation name (str), got {type(name).__name__}")
    if name not in ACTIVATION_MODULES:
        raise ValueError(f"unknown activation {name!r}; valid names are {', '.join(ACTIVATION_MODULES)}")
    return ACTIVATION_MODULES[name]()
