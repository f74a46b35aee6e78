"""Compare analytic gradients with central finite differences, in float64."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """The gradients `gradcheck` compared disagree (the message names the input, element and values)."""


def _outputs(result):
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    return [o for o in outputs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _differentiable(inputs):
    return [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _analytic(fn, inputs, diff):
    """Jacobian blocks J[out][input] of shape (out.size, input.size), one reverse pass per output element."""
    blocks = []
    for out in _outputs(fn(*inputs)):
        rows = [np.zeros((out._data.size, x._data.size)) for _, x in diff]
        for k in range(out._data.size if out.requires_grad else 0):
            seed = np.zeros(out.shape)
            seed.flat[k] = 1.0
            grads = engine.grad(out, [x for _, x in diff], grad_outputs=seed, retain_graph=True, allow_unused=True)
            for block, g in zip(rows, grads):
                if g is not None:
                    block[k] = np.asarray(g._data, dtype=np.float64).ravel()
        blocks.append(rows)
    return blocks


def _numerical(fn, inputs, diff, eps):
    sizes = [o._data.size for o in _outputs(fn(*inputs))]
    blocks = [[np.zeros((n, x._data.size)) for _, x in diff] for n in sizes]
    with engine.no_grad():
        for j, (_, x) in enumerate(diff):
            flat = x._data.reshape(-1)  # a view: perturbing it perturbs the input
            for e in range(flat.size):
                original = flat[e]
                flat[e] = original + eps
                plus = [np.array(o._data, dtype=np.float64).ravel() for o in _outputs(fn(*inputs))]
                flat[e] = original - eps
                minus = [np.array(o._data, dtype=np.float64).ravel() for o in _outputs(fn(*inputs))]
                flat[e] = original
                for b, (p, m) in enumerate(zip(plus, minus)):
                    blocks[b][j][:, e] = (p - m) / (2 * eps)
    return blocks


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """True if the gradients of `fn` at `inputs` match central differences; otherwise raise with the worst
    mismatch (which input, which element, which output element, both values)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = _differentiable(inputs)
    for i, x in diff:
        if x.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {x.dtype}; finite differences need float64 inputs")
        if not x._data.flags.c_contiguous:
            raise ValueError(f"gradcheck: input {i} must be contiguous")
    analytic = _analytic(fn, inputs, diff)
    numerical = _numerical(fn, inputs, diff, eps)
    worst = None
    for b, (a_blocks, n_blocks) in enumerate(zip(analytic, numerical)):
        for j, (a, n) in enumerate(zip(a_blocks, n_blocks)):
            excess = np.abs(a - n) - (atol + rtol * np.abs(n))
            if excess.size and (worst is None or excess.max() > worst[0]):
                k, e = np.unravel_index(np.argmax(excess), excess.shape)
                worst = (excess.max(), b, diff[j], k, e, a[k, e], n[k, e])
    if worst is not None and worst[0] > 0:
        _, b, (i, x), k, e, a, n = worst
        element = tuple(int(v) for v in np.unravel_index(e, x.shape))
        message = (
            f"gradcheck: gradient mismatch for input {i} at element {element} (output {b}, element {int(k)}): "
            f"analytic {float(a)!r}, numerical {float(n)!r} (atol={atol}, rtol={rtol})"
        )
        if raise_exception:
            raise GradcheckError(message)
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """gradcheck of the first derivative: checks second-order gradients with respect to the inputs and the
    incoming gradient (random unless `grad_outputs` is given)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = _outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs)
    grad_outputs = tuple(grad_outputs)
    n = len(inputs)

    def first_derivative(*args):
        xs, seeds = args[:n], args[n:]
        with engine.enable_grad():  # also while gradcheck evaluates finite differences under no_grad
            pairs = [(o, s) for o, s in zip(_outputs(fn(*xs)), seeds) if o.requires_grad]
            if not pairs:
                return ()
            diff = [x for _, x in _differentiable(xs)]
            grads = engine.grad(
                [o for o, _ in pairs], diff, grad_outputs=[s for _, s in pairs], create_graph=True, allow_unused=True
            )
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )
