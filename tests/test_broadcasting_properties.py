"""Property tests: for mutually broadcastable shapes drawn by hypothesis, every broadcasting binary op of
the registry matches numpy forward and its gradients match finite differences."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import autograd_core as ag
from autograd_core.engine import apply
from autograd_core.ops import REGISTRY

BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(BINARY),
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_broadcasting_binary_ops(name, shapes, seed):
    op = REGISTRY[name]
    rng = np.random.default_rng(seed)
    low, high = op.domain
    a, b = (rng.uniform(low, high, size=s) for s in shapes.input_shapes)
    x, y = ag.tensor(a, requires_grad=True), ag.tensor(b, requires_grad=True)
    out = apply(op, x, y)
    np.testing.assert_allclose(np.asarray(out), op.forward(a, b))
    assert out.shape == shapes.result_shape
    assert ag.gradcheck(lambda p, q: apply(op, p, q), [x, y])
