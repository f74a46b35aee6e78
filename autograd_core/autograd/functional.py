"""`torch.autograd.functional`: `jacobian(func, inputs)`, `hessian(func, inputs)`, `vjp(func, inputs, v)` and
`jvp(func, inputs, v)`, called as PyTorch calls them (the inputs given directly, a Tensor or a tuple of
them; a tuple in gives a tuple out). Built on `ag.func`'s transforms; `create_graph=True` keeps the
results differentiable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import func
from ..tensor import Tensor

Inputs = Tensor | Sequence[Tensor]


def _as_tuple(inputs: Inputs, who: str) -> tuple[tuple[Tensor, ...], bool]:
    if isinstance(inputs, Tensor):
        return (inputs,), False
    if isinstance(inputs, (tuple, list)) and all(isinstance(x, Tensor) for x in inputs):
        return tuple(inputs), True
    raise TypeError(f"{who}: inputs must be a Tensor or a tuple of Tensors, got {type(inputs).__name__}")


def _prepared(inputs: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    # Without create_graph the results are cut from the inputs' graph, as PyTorch's are.
    return inputs if create_graph else tuple(x.detach() for x in inputs)


def _finish(values: Any, create_graph: bool) -> Any:
    if isinstance(values, tuple):
        return tuple(_finish(v, create_graph) for v in values)
    return values if create_graph or not isinstance(values, Tensor) else values.detach()


def jacobian(func_: Callable[..., Tensor], inputs: Inputs, create_graph: bool = False, strict: bool = False) -> Any:
    """The Jacobian of `func_` at `inputs`, shaped output.shape + input.shape (a tuple per input when
    `inputs` is a tuple). `strict` is accepted for PyTorch's signature; unused inputs give zeros."""
    args, several = _as_tuple(inputs, "jacobian")
    result = func.jacobian(func_, tuple(range(len(args))) if several else 0)(*_prepared(args, create_graph))
    return _finish(result, create_graph)


def hessian(func_: Callable[..., Tensor], inputs: Inputs, create_graph: bool = False, strict: bool = False) -> Any:
    """The Hessian of scalar-valued `func_` at `inputs` (for a tuple of inputs, the tuple of tuples of
    blocks, as PyTorch)."""
    args, several = _as_tuple(inputs, "hessian")
    if not several:
        return _finish(func.hessian(func_, 0)(*_prepared(args, create_graph)), create_graph)
    argnums = tuple(range(len(args)))
    gradient = func.grad(func_, argnums)
    rows = tuple(
        func.jacobian(lambda *xs, i=i: gradient(*xs)[i], argnums)(*_prepared(args, create_graph))
        for i in range(len(args))
    )
    return _finish(rows, create_graph)


def vjp(
    func_: Callable[..., Tensor],
    inputs: Inputs,
    v: Tensor | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Any]:
    """`(func_(inputs), v^T J)`; `v` may be omitted for a scalar output."""
    args, several = _as_tuple(inputs, "vjp")
    output, pullback = func.vjp(func_, *_prepared(args, create_graph))
    if v is None:
        if output.numel() != 1:
            raise RuntimeError(f"vjp: v can be omitted only for a scalar output, got shape {output.shape}")
        v = Tensor(output._data * 0 + 1)
    grads = pullback(v)
    return _finish(output, create_graph), _finish(grads if several else grads[0], create_graph)


def jvp(
    func_: Callable[..., Tensor],
    inputs: Inputs,
    v: Inputs | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Tensor]:
    """`(func_(inputs), J v)`; `v` may be omitted when the input is a single element."""
    args, several = _as_tuple(inputs, "jvp")
    if v is None:
        if several or args[0].numel() != 1:
            raise RuntimeError("jvp: v can be omitted only for a single one-element input")
        v = Tensor(args[0]._data * 0 + 1)
    tangents, _ = _as_tuple(v, "jvp")
    output, product = func.jvp(func_, _prepared(args, create_graph), tangents)
    return _finish(output, create_graph), _finish(product, create_graph)


__all__ = ["jacobian", "hessian", "vjp", "jvp"]
