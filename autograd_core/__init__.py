"""autograd-core: reverse-mode automatic differentiation with a dynamic graph.

    import autograd_core as ag
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])
"""
from .tensor import Tensor, get_default_dtype, set_default_dtype
from . import backend, data, datasets, distributed, engine, func, viz
from .engine import (RemovableHandle, detect_anomaly, enable_grad, grad, is_grad_enabled, module_scope, no_grad,
                     set_grad_enabled)
from .custom_function import Function, FunctionCtx
from .tensor_functions import (OP_FUNCTIONS, arange, as_tensor, cat, concatenate, default_generator, eye, full,
                        manual_seed, matmul, maximum, minimum, ones, ones_like, pow, rand, randint, randn,
                        split, stack, tensor, where, zeros, zeros_like)
from . import fused_ops  # noqa: E402  (registers the fused ops and binds the backend's kernels)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .serialization import load, save

globals().update(OP_FUNCTIONS)

__version__ = "0.1.0"
