"""Every op in the registry, on every sample it lists: gradcheck, gradgradcheck, broadcasting, the
honesty of its `reads` declarations, its error cases, and values and gradients against PyTorch.
Adding an op to the table adds it here. Ops with several outputs are checked on every output."""

import itertools
import re

import numpy as np
import pytest
from activation_torch_references import activation_references
from conv_torch_references import conv_references
from helpers import registry_inputs
from index_torch_references import index_references
from math_torch_references import math_references
from rnn_torch_references import rnn_references

import autograd_core as ag
from autograd_core import engine
from autograd_core.engine import apply
from autograd_core.graph import SavedShape
from autograd_core.kernels import REFERENCE_F
from autograd_core.ops import REGISTRY

CASES = [
    pytest.param(op, i, sample, id=f"{name}-{i}")
    for name, op in REGISTRY.items()
    for i, sample in enumerate(op.samples)
]
ERROR_CASES = [
    pytest.param(op, case, id=f"{name}-{i}") for name, op in REGISTRY.items() for i, case in enumerate(op.errors)
]


def run(op, sample):
    return lambda *xs: apply(op, *xs, **sample.attrs)


def float_outputs(result):
    """The differentiable outputs of an op: the one output, or the floating ones of several."""
    outputs = result if isinstance(result, tuple) else (result,)
    return [o for o in outputs if o.dtype.kind == "f"]


def backward_with_seeds(result, seed_for):
    outputs = float_outputs(result)
    seeds = [seed_for(k, o) for k, o in enumerate(outputs)]
    engine.backward(outputs, seeds)
    return seeds


def test_every_op_has_samples():
    assert [name for name, op in REGISTRY.items() if not op.samples] == []


@pytest.mark.parametrize("op, i, sample", CASES)
def test_gradcheck(op, i, sample):
    assert ag.gradcheck(run(op, sample), registry_inputs(op, sample, seed=i))


@pytest.mark.parametrize("op, i, sample", [c for c in CASES if c.values[0].twice_differentiable])
def test_gradgradcheck(op, i, sample):
    assert ag.gradgradcheck(run(op, sample), registry_inputs(op, sample, seed=i))


@pytest.mark.parametrize("op, i, sample", CASES)
def test_gradient_shapes_and_dtypes_match_inputs(op, i, sample):
    inputs = registry_inputs(op, sample, seed=i, dtype=np.float32)
    backward_with_seeds(run(op, sample)(*inputs), lambda k, o: np.ones(o.shape, o.dtype))
    for x in inputs:
        if isinstance(x, ag.Tensor) and x.requires_grad and x.grad is not None:
            assert x.grad.shape == x.shape
            assert x.grad.dtype == x.dtype


class ValueHidden:
    """An undeclared output value: any access, even its shape, fails (the engine passes None there)."""

    def __getattr__(self, name):
        raise AssertionError(f"read undeclared output attribute {name!r}")

    def __array__(self, *args, **kwargs):
        raise AssertionError("read an undeclared output value")


def _hidden(value):
    if isinstance(value, np.ndarray):
        return SavedShape(value.shape, value.dtype)
    return value


@pytest.mark.parametrize("op, i, sample", CASES)
def test_reads_declarations_are_honest(op, i, sample):
    """Each input's VJP, run with every value its declaration leaves out replaced by a stand-in that
    refuses value access, gives the gradient it gives with every value: a wrong declaration fails."""
    inputs = registry_inputs(op, sample, seed=i)
    arrays = [np.asarray(x) if isinstance(x, ag.Tensor) else x for x in inputs]
    out = op.forward(*arrays, **sample.attrs)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(i)
    g = [rng.standard_normal(o.shape) if o.dtype.kind == "f" else None for o in outs]
    g = tuple(g) if isinstance(out, tuple) else g[0]
    for index, x in enumerate(inputs):
        if not isinstance(x, ag.Tensor):
            continue
        needs = [None] * len(inputs)
        needs[index] = True
        full = op.backward(REFERENCE_F, g, arrays, out, sample.attrs, needs)[index]
        read_inputs, reads_out = op.reads_of(index, len(inputs))
        partial_inputs = [a if k in read_inputs else _hidden(a) for k, a in enumerate(arrays)]
        partial = op.backward(REFERENCE_F, g, partial_inputs, out if reads_out else ValueHidden(), sample.attrs, needs)
        np.testing.assert_array_equal(np.asarray(partial[index]), np.asarray(full))


@pytest.mark.parametrize("op, case", ERROR_CASES)
def test_error_cases_raise_the_declared_error(op, case):
    inputs = registry_inputs(op, case.sample)
    with pytest.raises(case.exception, match=re.escape(case.match)):
        apply(op, *inputs, **case.sample.attrs)


def test_error_cases_exist_for_the_basic_families():
    assert {"add", "mul", "matmul", "reshape", "getitem"} <= {name for name, op in REGISTRY.items() if op.errors}


# ---- PyTorch parity: values and gradients of every registry sample ---------------------------

try:
    import torch
except ImportError:  # torch is an optional oracle: without it the comparisons skip, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def _flat_positions(shape, index):
    """Which flat positions a numpy index selects: lets torch follow numpy indexing exactly
    (negative steps, None, Ellipsis, masks) through a gather or scatter on the flattened tensor."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    return torch.as_tensor(np.ascontiguousarray(positions).ravel()), positions.shape


def _torch_getitem(x, index):
    positions, shape = _flat_positions(x.shape, index)
    return x.reshape(-1)[positions].reshape(shape)


def _torch_scatter_add(g, index, shape):
    positions, _ = _flat_positions(shape, index)
    return torch.zeros(int(np.prod(shape)), dtype=g.dtype).index_add(0, positions, g.reshape(-1)).reshape(shape)


def _torch_setitem(x, v, index):
    positions, shape = _flat_positions(x.shape, index)
    return x.reshape(-1).index_put((positions,), v.broadcast_to(shape).reshape(-1)).reshape(x.shape)


def _reduce_dims(axis):
    return tuple(axis) if axis is not None else None


def _torch_sum_like(fn):
    def reduce(x, axis, keepdims, **kw):
        if axis is None:
            out = fn(x, **kw)
            return out.reshape((1,) * x.ndim) if keepdims else out
        return fn(x, dim=_reduce_dims(axis), keepdim=keepdims, **kw)

    return reduce


def _torch_extreme(fn):
    def reduce(x, axis, keepdims):
        if axis is None:
            out = fn(x)
            return out.reshape((1,) * x.ndim) if keepdims else out
        return fn(x, dim=_reduce_dims(axis), keepdim=keepdims)

    return reduce


def torch_references():
    """{op name: the PyTorch function computing the same values}, for every op in the registry."""
    return {
        "add": lambda x, y: x + y,
        "sub": lambda x, y: x - y,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
        "pow": lambda x, y: torch.pow(x, y),
        "maximum": torch.maximum,
        "minimum": torch.minimum,
        "where": lambda c, x, y: torch.where(c, x, y),
        "matmul": torch.matmul,
        "neg": torch.neg,
        "exp": torch.exp,
        "log": torch.log,
        "log1p": torch.log1p,
        "expm1": torch.expm1,
        "sqrt": torch.sqrt,
        "abs": torch.abs,
        "sign": torch.sign,
        "sin": torch.sin,
        "cos": torch.cos,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "leaky_relu": lambda x, negative_slope: torch.nn.functional.leaky_relu(x, negative_slope),
        "elu": lambda x, alpha: torch.nn.functional.elu(x, alpha),
        "softplus": lambda x, beta, threshold: torch.nn.functional.softplus(x, beta, threshold),
        "silu": torch.nn.functional.silu,
        "erf": torch.erf,
        "gelu": lambda x: torch.nn.functional.gelu(x),
        "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
        "clip": lambda x, min, max: torch.clamp(x, min, max),
        "sum": _torch_sum_like(torch.sum),
        "mean": _torch_sum_like(torch.mean),
        "var": lambda x, axis, correction, keepdims: _torch_sum_like(torch.var)(
            x, axis, keepdims, correction=correction
        ),
        "std": lambda x, axis, correction, keepdims: _torch_sum_like(torch.std)(
            x, axis, keepdims, correction=correction
        ),
        "max": _torch_extreme(torch.amax),
        "min": _torch_extreme(torch.amin),
        "max_dim": lambda x, axis, keepdims: torch.max(x, dim=axis, keepdim=keepdims),
        "min_dim": lambda x, axis, keepdims: torch.min(x, dim=axis, keepdim=keepdims),
        "sort": lambda x, axis, descending: torch.sort(x, dim=axis, descending=descending, stable=True),
        "topk": lambda x, k, axis, largest: torch.topk(x, k, dim=axis, largest=largest, sorted=True),
        "split": lambda x, axis, bounds: torch.split(x, [b - a for a, b in itertools.pairwise(bounds)], dim=axis),
        "unbind": lambda x, axis: torch.unbind(x, axis),
        "prod": lambda x, axis, keepdims: x.prod() if axis is None else _prod_over(x, axis, keepdims),
        "logsumexp": lambda x, axis, keepdims: torch.logsumexp(
            x, dim=_reduce_dims(axis) or tuple(range(x.ndim)), keepdim=keepdims
        ),
        "norm": lambda x, p, axis, keepdims: torch.linalg.vector_norm(
            x, ord=p, dim=_reduce_dims(axis), keepdim=keepdims
        ),
        "softmax": lambda x, axis: torch.softmax(x, axis),
        "log_softmax": lambda x, axis: torch.log_softmax(x, axis),
        "reshape": lambda x, shape: x.reshape(shape),
        "transpose": lambda x, axes: x.permute(axes),
        "swapaxes": lambda x, axis1, axis2: x.transpose(axis1, axis2),
        "broadcast_to": lambda x, shape: x.broadcast_to(shape),
        "getitem": lambda x, index: _torch_getitem(x, index),
        "scatter_add": _torch_scatter_add,
        "setitem": _torch_setitem,
        "concatenate": lambda *xs, axis: torch.cat(xs, axis),
        "stack": lambda *xs, axis: torch.stack(xs, axis),
        "pad": lambda x, pad_width, value: torch.nn.functional.pad(
            x, tuple(w for pair in reversed(pad_width) for w in pair), value=value
        ),
        "astype": lambda x, dtype: x.to(getattr(torch, np.dtype(dtype).name)),
        "clone": torch.clone,
        "fill": lambda x, value: torch.full_like(x, value) + 0 * x,
        "copy": lambda x, src: 0 * x + src.broadcast_to(x.shape),
        "linear": lambda x, w, b=None, activation=None: (
            lambda z: z if activation is None else getattr(torch, activation)(z)
        )(torch.nn.functional.linear(x, w, b)),
        "softmax_cross_entropy": lambda logits, targets, label_smoothing: torch.nn.functional.cross_entropy(
            logits, targets, reduction="none", label_smoothing=label_smoothing
        ),
        "layer_norm": lambda x, *p, normalized_shape, eps: torch.nn.functional.layer_norm(
            x, normalized_shape, *p, eps=eps
        ),
        "batch_norm": lambda x, *p, eps: torch.nn.functional.batch_norm(x, None, None, *p, training=True, eps=eps),
        **conv_references(torch),
        **rnn_references(torch),
        **activation_references(torch),
        **math_references(torch),
        **index_references(torch),
    }


TORCH = torch_references() if torch is not None else {}


def _prod_over(x, axis, keepdims):
    for a in sorted(axis, reverse=True):
        x = x.prod(dim=a, keepdim=keepdims)
    return x


@needs_torch
def test_every_op_has_a_torch_reference():
    assert sorted(set(REGISTRY) - set(TORCH)) == []


@needs_torch
@pytest.mark.parametrize("op, i, sample", CASES)
def test_matches_torch(op, i, sample):
    inputs = registry_inputs(op, sample, seed=i)
    result = apply(op, *inputs, **sample.attrs)
    rng = np.random.default_rng(100 + i)
    seeds = backward_with_seeds(result, lambda k, o: rng.standard_normal(o.shape))
    torch_inputs = [
        torch.tensor(np.asarray(x), requires_grad=True) if isinstance(x, ag.Tensor) else torch.as_tensor(x)
        for x in inputs
    ]
    expected = TORCH[op.name](*torch_inputs, **sample.attrs)
    outputs, expected_outputs = (result, expected) if isinstance(result, tuple) else ((result,), (expected,))
    assert len(outputs) == len(expected_outputs)
    for ours, theirs in zip(outputs, expected_outputs):
        np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    torch.autograd.backward([t for t in expected_outputs if t.is_floating_point()], [torch.as_tensor(s) for s in seeds])
    for ours, theirs in zip(inputs, torch_inputs):
        if isinstance(ours, ag.Tensor):
            reference = theirs.grad.numpy() if theirs.grad is not None else np.zeros(ours.shape)
            np.testing.assert_allclose(
                np.asarray(ours.grad) if ours.grad is not None else 0 * reference, reference, rtol=1e-9, atol=1e-12
            )
