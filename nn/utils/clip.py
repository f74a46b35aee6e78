"""Gradient clipping and flat parameter vectors, as `torch.nn.utils`.

Gradients and parameters are edited in place under `no_grad`, as an
optimizer step edits them: clipping is bookkeeping between backward and
step, never part of a graph.
"""

from collections.abc import Iterable

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

# One tensor or several, as torch.nn.utils takes them (e.g. `model.parameters()`).
_Parameters = Tensor | Iterable[Tensor]


def _tensors(parameters: _Parameters, who: str) -> list[Tensor]:
    """`parameters` as a list of Tensors (one Tensor or an iterable of them)."""
    tensors = [parameters] if isinstance(parameters, ag.Tensor) else list(parameters)
    for t in tensors:
        if not isinstance(t, ag.Tensor):
            raise TypeError(f"{who}: expected Tensors, got {type(t).__name__}")
    return tensors


def clip_grad_norm_(
    parameters: _Parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients together so that their total norm is at most `max_norm`; return that norm.

    The total norm is the p-norm of all gradient entries as one vector (max |g|
    for p = inf). When it exceeds max_norm every gradient is multiplied by
    max_norm / (total + 1e-6), as PyTorch. Parameters without a gradient are
    skipped; with none at all the norm is 0.
    """
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (or inf), got {norm_type!r}")
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    grads = [p.grad for p in _tensors(parameters, "clip_grad_norm_") if p.grad is not None]
    if not grads:
        return ag.tensor(0.0)
    dtype = np.result_type(*(g.dtype for g in grads))
    # Tensor ops rather than numpy on the arrays: an ag.compile trace records them, so a compiled step
    # computes the factor again from each call's gradients. The norm of the per-tensor norms is the norm
    # over all entries, without concatenating them.
    with ag.no_grad():
        total = _norm(ag.stack([_norm(g.reshape(-1), norm_type).astype(dtype) for g in grads]), norm_type)
        if error_if_nonfinite and not bool(total.isfinite()):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total.item()}; "
                "pass error_if_nonfinite=False to clip anyway"
            )
        factor = (max_norm / (total + 1e-6)).clip(max=1.0)
        for g in grads:
            g.mul_(factor)
    return total


def _norm(t: Tensor, p: float) -> Tensor:
    """The p-norm of a 1-D tensor (max |t| for p = inf; any p > 0, as np.linalg.norm)."""
    if p == np.inf:
        return t.abs().max()
    if p == 2:
        return (t * t).sum().sqrt()
    return (t.abs() ** p).sum() ** (1.0 / p)


def clip_grad_value_(parameters: _Parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    with ag.no_grad():
        for p in _tensors(parameters, "clip_grad_value_"):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: _Parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable, as PyTorch)."""
    return ag.cat([p.reshape(-1) for p in _tensors(parameters, "parameters_to_vector")])


def vector_to_parameters(vec: Tensor, parameters: _Parameters) -> None:
    """Copy consecutive slices of the 1-D tensor `vec` into the parameters, in place (no gradient flows)."""
    if not isinstance(vec, ag.Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    params = _tensors(parameters, "vector_to_parameters")
    sizes = [p.numel() for p in params]
    if sum(sizes) != vec.shape[0]:
        raise ValueError(
            f"vector_to_parameters: vec has {vec.shape[0]} elements but the parameters hold "
            f"{sum(sizes)} ({', '.join(str(p.shape) for p in params)})"
        )
    offsets = np.cumsum([0] + sizes)
    with ag.no_grad():
        for p, start, stop in zip(params, offsets[:-1], offsets[1:]):
            p.copy_(np.asarray(vec)[start:stop].reshape(p.shape))
