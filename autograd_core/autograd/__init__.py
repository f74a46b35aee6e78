"""`torch.autograd`'s names, for code copied from PyTorch: `ag.autograd.grad`, `ag.autograd.backward`,
`ag.autograd.Function`, `ag.autograd.gradcheck`, the grad-mode managers, and `ag.autograd.functional`
(`jacobian`, `hessian`, `vjp`, `jvp` with PyTorch's signatures). Everything here is the library's own
machinery under those names; `ag.func` has the composable (functorch-style) transforms."""

from ..custom_function import Function, FunctionCtx
from ..engine import backward, detect_anomaly, enable_grad, grad, inference_mode, no_grad, set_grad_enabled
from ..gradcheck import gradcheck, gradgradcheck
from . import functional

__all__ = [
    "Function",
    "FunctionCtx",
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "detect_anomaly",
    "gradcheck",
    "gradgradcheck",
    "functional",
]
