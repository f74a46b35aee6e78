"""autograd-core: reverse-mode automatic differentiation with a dynamic graph.

    import autograd_core as ag
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])

The package's namespace is `__all__`: the `Tensor`, its constructors, every Tensor op as a function
(`ag.exp(x)` is `x.exp()`), the autograd API (`grad`, `no_grad`, `Function`, `gradcheck`, ...),
saving and loading, and the public submodules.
"""

from . import backend, data, datasets, distributed, engine, func, viz
from .custom_function import Function, FunctionCtx
from .engine import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor, ValuesIndices, get_default_dtype, set_default_dtype
from .tensor_functions import (
    abs,
    arange,
    argmax,
    argmin,
    argsort,
    as_tensor,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    concatenate,
    cos,
    default_generator,
    exp,
    expand_dims,
    expm1,
    eye,
    flatten,
    full,
    log,
    log1p,
    log_softmax,
    logsumexp,
    manual_seed,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    norm,
    ones,
    ones_like,
    pad,
    permute,
    pow,
    prod,
    rand,
    randint,
    randn,
    relu,
    repeat,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    swapaxes,
    tanh,
    tensor,
    tile,
    topk,
    transpose,
    unbind,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)

from . import fused_ops  # registers the fused ops and binds the backend's kernels  # isort: skip
from . import conv_ops  # registers the convolution ops  # isort: skip
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .serialization import load, save

__version__ = "0.1.0"

__all__ = [
    # the tensor and its dtype
    "Tensor", "ValuesIndices", "get_default_dtype", "set_default_dtype",
    # constructors and random numbers
    "tensor", "as_tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye",
    "default_generator", "manual_seed", "rand", "randn", "randint",
    # ops on several tensors
    "concatenate", "cat", "stack", "split", "where", "maximum", "minimum", "matmul", "pow",
    # every Tensor op as a function
    "exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu", "clip", "clamp",
    "sum", "mean", "var", "std", "max", "min", "prod", "logsumexp", "norm", "argmax", "argmin", "sort", "argsort",
    "topk", "chunk", "unbind", "softmax", "log_softmax", "reshape", "flatten", "transpose", "permute", "swapaxes",
    "squeeze", "unsqueeze", "expand_dims", "broadcast_to", "repeat", "tile", "pad",
    # autograd
    "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
    "Function", "FunctionCtx", "gradcheck", "gradgradcheck", "GradcheckError",
    # saving and loading
    "save", "load",
    # public modules
    "backend", "data", "datasets", "distributed", "engine", "func", "viz", "fused_ops", "conv_ops",
]
