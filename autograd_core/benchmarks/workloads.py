"""The workloads, as data, and the one place their inputs are generated.

Every engine starts from the same arrays (`make_problem`), so their losses can
be compared before any of them is timed. Problem dicts by kind, and the order
of the gradients an adapter's `grads()` returns:

- "mlp": `layers` [(W (out, in), b (out,)), ...] with PyTorch's default
  Linear init, `x` (batch, in) float32, `y` (batch,) int64 class labels, `lr`.
  Step: ReLU MLP (no activation after the last layer), mean softmax
  cross-entropy, one Adam step (betas 0.9/0.999, eps 1e-8).
  Gradients: W1, b1, W2, b2, ... of that step (before the update).
- "micrograd_demo": `layers` as above but initialised as micrograd does
  (weights U(-1, 1), zero bias), `x` (n, 2) moons points, `y` (n,) in {-1, +1},
  `lr`, `alpha`. Step: loss = mean(relu(1 - y * score)) + alpha * sum(p**2) over
  every parameter, then plain SGD `p -= lr * grad`. Gradients as "mlp".
- "elementwise": `x` (n,). Loss = sum(sigmoid(x) * tanh(x) + relu(x)).
  Gradients: dloss/dx.
- "op_chain": `x` (width,), `n_ops`, `scale`, `shift` (float32 scalars, so that
  no engine promotes the chain to float64). The chain alternates
  `x = x * scale` and `x = x + shift`, `n_ops` ops in all; loss = sum(x).
  Gradients: dloss/dx.
- "matmul": `a`, `b` (n, n) uniform in [0, 1) (positive, so the float32 sum of
  the product has no cancellation and every engine agrees to 1e-6).
  Loss = sum(a @ b). Gradients: dloss/da, dloss/db.
- "lenet": `params` [conv1.weight (6, 1, 5, 5), conv1.bias, conv2.weight
  (16, 6, 5, 5), conv2.bias, fc1.weight (120, 256), fc1.bias, fc2 (84, 120),
  fc3 (10, 84) weights and biases] with PyTorch's default Conv2d/Linear init,
  `x` (batch, 1, 28, 28) float32, `y` (batch,) int64, `lr`. Step: LeNet-5,
  conv(6, 5)-relu-maxpool2-conv(16, 5)-relu-maxpool2-flatten-fc120-relu-fc84-relu-fc10,
  mean softmax cross-entropy, one plain SGD step. Gradients: `params`' order.
- "lstm": `params` [weight_ih_l0 (4H, I), weight_hh_l0 (4H, H), bias_ih_l0 (4H,),
  bias_hh_l0 (4H,)] with PyTorch's LSTM init, `x` (seq, batch, I) float32, `lr`.
  Step: one-layer LSTM from zero states, loss = sum of every output, one Adam
  step. Gradients: `params`' order.

The numpy-by-hand engine is the float64 reference for the kinds it implements;
for "lenet" and "lstm", which it does not, the reference is torch eager in
float64 (`FLOAT64_REFERENCE`).
"""

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    params: dict
    description: str
    ops_per_step: int = 0
    """When nonzero, the time is reported per op (microseconds) instead of per step (milliseconds)."""
    loss_rtol: float = 1e-4
    """How far (relative) a float32 engine's loss may be from the float64 reference's."""

    @property
    def unit(self):
        return "us/op" if self.ops_per_step else "ms/step"

    def in_unit(self, seconds_per_step):
        """Convert a time per step to this workload's reporting unit."""
        if self.ops_per_step:
            return seconds_per_step / self.ops_per_step * 1e6
        return seconds_per_step * 1e3


WORKLOADS = {
    w.name: w
    for w in (
        Workload(
            "mlp_large",
            "mlp",
            dict(sizes=(784, 256, 256, 10), batch=128),
            "MLP 784-256-256-10, batch 128, cross-entropy + Adam step",
        ),
        Workload(
            "mlp_small",
            "mlp",
            dict(sizes=(784, 64, 64, 10), batch=16),
            "MLP 784-64-64-10, batch 16, cross-entropy + Adam step (overhead regime)",
        ),
        Workload(
            "elementwise_1e4", "elementwise", dict(n=10_000), "sum(sigmoid(x)*tanh(x) + relu(x)) fwd+bwd, 1e4 elements"
        ),
        Workload(
            "elementwise_1e6",
            "elementwise",
            dict(n=1_000_000),
            "sum(sigmoid(x)*tanh(x) + relu(x)) fwd+bwd, 1e6 elements",
        ),
        # 2,000 float32 roundings in a row can drift by up to 2000 * 2**-24 = 1.2e-4 relative.
        Workload(
            "op_chain",
            "op_chain",
            dict(n_ops=2000, width=4),
            "2,000 alternating x*1.0001 / x+0.0001 ops on shape (4,), fwd+bwd",
            ops_per_step=2000,
            loss_rtol=3e-4,
        ),
        Workload("matmul_1024", "matmul", dict(n=1024), "(A @ B).sum() fwd+bwd, 1024x1024 float32"),
        Workload(
            "micrograd_demo",
            "micrograd_demo",
            dict(sizes=(2, 16, 16, 1), n_points=100),
            "micrograd's demo: MLP 2-16-16-1 on 100 moons, hinge + L2, SGD step",
        ),
        Workload(
            "lenet5",
            "lenet",
            dict(batch=64, image=28),
            "LeNet-5, batch 64, 1x28x28: conv6-pool-conv16-pool-fc120-fc84-fc10, cross-entropy + SGD step",
        ),
        Workload(
            "lstm",
            "lstm",
            dict(seq=50, batch=32, input_size=64, hidden_size=128),
            "LSTM 64->128, one layer, seq 50, batch 32, loss = sum of outputs, Adam step",
        ),
    )
}

FLOAT64_REFERENCE = {"lenet": "torch", "lstm": "torch"}
"""Workload kind -> the engine whose float64 run is the reference, where it is not the numpy-by-hand engine."""

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def _torch_default_linear(rng, n_in, n_out):
    """PyTorch's nn.Linear init: weight and bias both U(-1/sqrt(in), 1/sqrt(in))."""
    bound = 1.0 / np.sqrt(n_in)
    weight = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
    bias = rng.uniform(-bound, bound, n_out).astype(np.float32)
    return weight, bias


def _micrograd_linear(rng, n_in, n_out):
    """micrograd's Neuron init: weights U(-1, 1), bias 0."""
    return rng.uniform(-1.0, 1.0, (n_out, n_in)).astype(np.float32), np.zeros(n_out, np.float32)


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _lenet_problem(rng, batch, image):
    """LeNet-5's parameters with PyTorch's default init: every weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    after_convs = ((image - 4) // 2 - 4) // 2
    shapes = [(6, 1, 5, 5), (16, 6, 5, 5), (120, 16 * after_convs**2), (84, 120), (10, 84)]
    params = []
    for shape in shapes:
        bound = 1.0 / np.sqrt(np.prod(shape[1:]))
        params += [_uniform(rng, bound, shape), _uniform(rng, bound, shape[0])]
    x = rng.standard_normal((batch, 1, image, image)).astype(np.float32)
    return dict(params=params, x=x, y=rng.integers(0, 10, batch).astype(np.int64), lr=0.01)


def _lstm_problem(rng, seq, batch, input_size, hidden_size):
    """A one-layer LSTM's parameters with PyTorch's init, every one U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = 1.0 / np.sqrt(hidden_size)
    gates = 4 * hidden_size
    shapes = [(gates, input_size), (gates, hidden_size), (gates,), (gates,)]
    params = [_uniform(rng, bound, shape) for shape in shapes]
    return dict(params=params, x=rng.standard_normal((seq, batch, input_size)).astype(np.float32), lr=1e-3)


def _mlp_problem(rng, sizes, batch):
    layers = [_torch_default_linear(rng, n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)]
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return dict(layers=layers, x=x, y=y, lr=1e-3)


def _micrograd_demo_problem(rng, sizes, n_points):
    from sklearn.datasets import make_moons

    layers = [_micrograd_linear(rng, n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)]
    x, labels = make_moons(n_samples=n_points, noise=0.1, random_state=int(rng.integers(2**31)))
    # micrograd's demo decays lr from 1.0; a fixed step keeps every timed step identical in cost.
    return dict(layers=layers, x=x.astype(np.float32), y=(2 * labels - 1).astype(np.float32), lr=0.1, alpha=1e-4)


_PROBLEM_MAKERS = {
    "mlp": _mlp_problem,
    "micrograd_demo": _micrograd_demo_problem,
    "elementwise": lambda rng, n: dict(x=rng.standard_normal(n).astype(np.float32)),
    "op_chain": lambda rng, n_ops, width: dict(
        x=rng.uniform(0.5, 1.5, width).astype(np.float32),
        n_ops=n_ops,
        scale=np.float32(1.0001),
        shift=np.float32(0.0001),
    ),
    "matmul": lambda rng, n: dict(a=rng.random((n, n), np.float32), b=rng.random((n, n), np.float32)),
    "lenet": _lenet_problem,
    "lstm": _lstm_problem,
}


def make_problem(workload, seed=0):
    """The workload's inputs, identical for every engine given the same seed."""
    return _PROBLEM_MAKERS[workload.kind](np.random.default_rng(seed), **workload.params)


def as_float64(problem):
    """The same problem in float64, for the reference losses every engine is checked against."""

    def widen(value):
        if isinstance(value, (np.ndarray, np.floating)) and value.dtype == np.float32:
            return value.astype(np.float64)
        if isinstance(value, (list, tuple)):
            return type(value)(widen(v) for v in value)
        return value

    return {key: widen(value) for key, value in problem.items()}
