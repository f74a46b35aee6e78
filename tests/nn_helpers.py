"""Shared by the nn test modules: the optional torch oracle and comparisons against it."""

import numpy as np
import pytest

import autograd_core as ag

try:
    import torch
except ImportError:  # the torch comparisons skip; everything else still runs
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")


def to_torch(x, requires_grad=False):
    array = np.array(np.asarray(x) if isinstance(x, ag.Tensor) else x)
    return torch.tensor(array, requires_grad=requires_grad)


def copy_weights(module, torch_module):
    """Load our module's state dict into the equivalent torch module (strictly: the names must match)."""
    torch_module.load_state_dict({name: to_torch(value) for name, value in module.state_dict().items()})
    return torch_module


def assert_close(ours, theirs, rtol=1e-6, atol=1e-6):
    ours = np.asarray(ours)
    theirs = theirs.detach().numpy() if torch is not None and isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"shapes differ: {ours.shape} vs {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def compare_with_torch(ours_fn, torch_fn, arrays, differentiable=None, rtol=1e-6, atol=1e-6, seed=0):
    """Run `ours_fn` and `torch_fn` on the same float64 inputs; compare the outputs and, after a backward
    of the same random output gradient, the gradients of every input listed in `differentiable`
    (default: every floating input)."""
    if differentiable is None:
        differentiable = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
    ours_inputs = [ag.tensor(a, requires_grad=i in differentiable) for i, a in enumerate(arrays)]
    torch_inputs = [to_torch(a, requires_grad=i in differentiable) for i, a in enumerate(arrays)]
    ours, theirs = ours_fn(*ours_inputs), torch_fn(*torch_inputs)
    assert_close(ours, theirs, rtol, atol)
    seed_grad = np.random.default_rng(seed).standard_normal(theirs.shape)
    ours.backward(seed_grad)
    theirs.backward(torch.tensor(seed_grad, dtype=theirs.dtype))
    for i in differentiable:
        assert ours_inputs[i].grad is not None, f"input {i} got no gradient"
        assert_close(ours_inputs[i].grad, torch_inputs[i].grad, rtol, atol)
    return ours
