"""micrograd: one Python object per scalar, so only the workloads that are small in scalars.

The demo is micrograd's own MLP class with its weights overwritten by the
shared initial values; the op chain runs on each of the input's scalars.
micrograd's topological sort recurses once per graph level, so deep graphs
need a raised recursion limit.
"""

import sys

import numpy as np

from autograd_core.benchmarks.engines import Engine
from autograd_core.benchmarks.engines.common import chain, installed_version


def load():
    return installed_version("micrograd")


def micrograd_demo(problem):
    from micrograd.engine import Value
    from micrograd.nn import MLP

    layers, lr, alpha = problem["layers"], problem["lr"], problem["alpha"]
    sizes = [layers[0][0].shape[1]] + [weight.shape[0] for weight, _ in layers]
    model = MLP(sizes[0], sizes[1:])
    for layer, (weight, bias) in zip(model.layers, layers):
        for neuron, weight_row, bias_value in zip(layer.neurons, weight.tolist(), bias.tolist()):
            for w, value in zip(neuron.w, weight_row):
                w.data = value
            neuron.b.data = bias_value
    inputs = [list(map(Value, row)) for row in problem["x"].tolist()]
    labels = problem["y"].tolist()

    def step():
        model.zero_grad()
        scores = [model(row) for row in inputs]
        hinge = [(1 + -label * score).relu() for label, score in zip(labels, scores)]
        loss = sum(hinge) * (1.0 / len(hinge)) + alpha * sum(p * p for p in model.parameters())
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return loss.data

    def grads():
        return [
            array
            for layer in model.layers
            for array in (
                np.array([[w.grad for w in neuron.w] for neuron in layer.neurons]),
                np.array([neuron.b.grad for neuron in layer.neurons]),
            )
        ]

    return step, grads


def op_chain(problem):
    from micrograd.engine import Value

    # micrograd computes in Python floats; numpy scalars would slow every op down.
    n_ops, scale, shift = problem["n_ops"], float(problem["scale"]), float(problem["shift"])
    # Each chain op adds a graph level (plus its constant's); leave room for the recursion.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * n_ops + 1000))
    inputs = [Value(v) for v in problem["x"].tolist()]

    def step():
        for v in inputs:
            v.grad = 0
        loss = sum(chain(v, n_ops, scale, shift) for v in inputs)
        loss.backward()
        return loss.data

    return step, lambda: [np.array([v.grad for v in inputs])]


ENGINES = [
    Engine(
        key="micrograd",
        label="micrograd",
        load=load,
        workloads=dict(micrograd_demo=micrograd_demo, op_chain=op_chain),
    )
]
