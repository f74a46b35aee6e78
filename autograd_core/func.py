"""Functional transforms built on `ag.grad`: grad, value_and_grad, vjp, jvp, jacobian, hessian.

They compose: an input that already requires grad (an outer transform's variable) stays connected, and
the inner transform then records its backward (create_graph) so the outer one can differentiate it.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine
from .tensor import Tensor, is_floating
from .tensor_functions import stack, tensor


def _variables(args, argnums, who):
    """Make the differentiated arguments leaves that require grad; report whether any was already in a graph."""
    argnums_tuple = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in argnums_tuple:
        if not -len(args) <= i < len(args):
            raise ValueError(f"{who}: argnums {argnums} out of range for {len(args)} positional arguments")
    args = list(args)
    nested = False
    for i in argnums_tuple:
        x = args[i]
        if isinstance(x, Tensor) and x.requires_grad:
            nested = True
            continue
        x = x.detach() if isinstance(x, Tensor) else tensor(x)
        if not is_floating(x.dtype):
            raise TypeError(f"{who}: argument {i} must be floating to be differentiated, got dtype {x.dtype}")
        args[i] = Tensor(x._data, requires_grad=True)
    return args, [args[i] for i in argnums_tuple], nested


def _zeros_where_unused(grads, variables):
    return tuple(g if g is not None else Tensor(np.zeros_like(x._data)) for g, x in zip(grads, variables))


def _gradients(output, variables, nested, who, grad_output=None, retain_graph=None):
    if not isinstance(output, Tensor):
        raise TypeError(f"{who}: the function must return a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        return tuple(Tensor(np.zeros_like(x._data)) for x in variables)
    grads = engine.grad(
        output, variables, grad_outputs=grad_output, retain_graph=retain_graph, create_graph=nested, allow_unused=True
    )
    return _zeros_where_unused(grads, variables)


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """`f(*args) -> (value, grad)` (and aux when has_aux): the gradient of the scalar value w.r.t. argnums."""

    def transformed(*args, **kwargs):
        args, variables, nested = _variables(args, argnums, "grad")
        with engine.enable_grad():
            result = f(*args, **kwargs)
        if has_aux and not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                f"grad: with has_aux=True the function must return a pair (output, aux), got {type(result).__name__}"
            )
        value, aux = result if has_aux else (result, None)
        if not isinstance(value, Tensor) or value._data.size != 1:
            raise ValueError(
                f"grad: the function must return a scalar Tensor, got {getattr(value, 'shape', type(value).__name__)}"
            )
        grads = _gradients(value, variables, nested, "grad")
        if not nested:
            value, grads = value.detach(), tuple(g.detach() for g in grads)
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((value, grads), aux) if has_aux else (value, grads)

    return transformed


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """The gradient function of scalar-valued `f`; composable: `grad(grad(f))`."""
    both = value_and_grad(f, argnums, has_aux)

    def transformed(*args, **kwargs):
        if has_aux:
            (_, grads), aux = both(*args, **kwargs)
            return grads, aux
        return both(*args, **kwargs)[1]

    return transformed


def vjp(f: Callable[..., Tensor], *primals: Any) -> tuple[Tensor, Callable[[Any], tuple[Tensor, ...]]]:
    """`(f(*primals), vjp_fn)`; `vjp_fn(cotangent)` returns a tuple with one gradient per primal."""
    args, variables, nested = _variables(primals, tuple(range(len(primals))), "vjp")
    with engine.enable_grad():
        out = f(*args)

    def vjp_fn(cotangent):
        cotangent = cotangent if isinstance(cotangent, Tensor) else tensor(np.asarray(cotangent, dtype=out.dtype))
        if cotangent.shape != out.shape:
            raise ValueError(f"vjp: cotangent has shape {cotangent.shape}, the output has shape {out.shape}")
        return _gradients(out, variables, nested or cotangent.requires_grad, "vjp", cotangent, retain_graph=True)

    return (out if nested else out.detach()), vjp_fn


def jvp(f: Callable[..., Tensor], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """Forward-mode product `(f(*primals), J @ tangents)`, by differentiating a VJP with respect to its
    cotangent (the VJP is linear in the cotangent, so its transpose is the JVP)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    args, variables, nested = _variables(primals, tuple(range(len(primals))), "jvp")
    for x, t in zip(variables, tangents):
        if np.shape(t._data if isinstance(t, Tensor) else t) != x.shape:
            raise ValueError(f"jvp: tangent shape {np.shape(t)} does not match primal shape {x.shape}")
    with engine.enable_grad():
        out = f(*args)
        if not out.requires_grad:
            return out, Tensor(np.zeros_like(out._data))
        cotangent = Tensor(np.zeros_like(out._data), requires_grad=True)
        grads = engine.grad(out, variables, grad_outputs=cotangent, create_graph=True, allow_unused=True)
        pairing = [(g * t).sum() for g, t in zip(grads, tangents) if g is not None]
        total = pairing[0]
        for term in pairing[1:]:
            total = total + term
    (tangent_out,) = _gradients(total, [cotangent], nested, "jvp")
    return (out if nested else out.detach()), tangent_out


def jacobian(f: Callable[..., Tensor], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian of `f` w.r.t. argnums, shaped output.shape + input.shape (a tuple for several argnums)."""

    def transformed(*args):
        args, variables, nested = _variables(args, argnums, "jacobian")
        with engine.enable_grad():
            out = f(*args)
        if not isinstance(out, Tensor):
            raise TypeError(f"jacobian: the function must return a Tensor, got {type(out).__name__}")
        rows = []
        for k in range(out._data.size):
            seed = np.zeros(out.shape, dtype=out.dtype)
            seed.flat[k] = 1.0
            rows.append(_gradients(out, variables, nested, "jacobian", seed, retain_graph=True))
        blocks = []
        for j, x in enumerate(variables):
            if rows:
                block = stack([r[j] for r in rows]).reshape(out.shape + x.shape)
            else:
                block = Tensor(np.zeros(out.shape + x.shape, dtype=x.dtype))
            blocks.append(block if nested else block.detach())
        return blocks[0] if isinstance(argnums, int) else tuple(blocks)

    return transformed


def hessian(f: Callable[..., Tensor], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued `f`: the Jacobian of its gradient."""
    return jacobian(grad(f, argnums), argnums)
