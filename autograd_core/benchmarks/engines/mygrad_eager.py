"""MyGrad: a numpy-backed dynamic-graph engine; its fused softmax_crossentropy for the MLP loss.

The optimizer is the shared numpy Adam, updating each tensor's `.data` array in place.
"""

import numpy as np

from autograd_core.benchmarks.engines import Engine
from autograd_core.benchmarks.engines.common import (
    NumpyAdam,
    chain,
    flat_params,
    installed_version,
    mlp_apply,
)


def load():
    return installed_version("mygrad")


def _tensors(arrays):
    import mygrad

    return [mygrad.tensor(a) for a in arrays]


def _grads(tensors):
    return [t.grad for t in tensors]


def mlp(problem):
    from mygrad.nnet.activations import relu
    from mygrad.nnet.losses import softmax_crossentropy

    params = _tensors(flat_params(problem["layers"]))
    x, y = problem["x"], problem["y"]
    adam = NumpyAdam([p.data for p in params], problem["lr"])

    def step():
        loss = softmax_crossentropy(mlp_apply(params, x, relu), y)
        loss.backward()
        adam.step(_grads(params))
        return loss.item()

    return step, lambda: _grads(params)


def micrograd_demo(problem):
    import mygrad
    from mygrad.nnet.activations import relu

    params = _tensors(flat_params(problem["layers"]))
    x, y, lr = problem["x"], problem["y"], problem["lr"]
    # mygrad turns Python scalars into float64 arrays, which would promote the loss to float64.
    one, alpha = np.float32(1), np.float32(problem["alpha"])

    def step():
        score = mlp_apply(params, x, relu)[:, 0]
        loss = relu(one - y * score).mean() + alpha * sum(mygrad.sum(p * p) for p in params)
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
        return loss.item()

    return step, lambda: _grads(params)


def _loss_and_grads(loss_fn, arrays):
    """step/grads for a workload that is one loss of `arrays` differentiated in all of them."""
    inputs = _tensors(arrays)

    def step():
        loss = loss_fn(*inputs)
        loss.backward()
        return loss.item()

    return step, lambda: _grads(inputs)


def elementwise(problem):
    import mygrad
    from mygrad.nnet.activations import relu, sigmoid

    return _loss_and_grads(lambda x: (sigmoid(x) * mygrad.tanh(x) + relu(x)).sum(), [problem["x"]])


def op_chain(problem):
    n_ops, scale, shift = problem["n_ops"], problem["scale"], problem["shift"]
    return _loss_and_grads(lambda x: chain(x, n_ops, scale, shift).sum(), [problem["x"]])


def matmul(problem):
    return _loss_and_grads(lambda a, b: (a @ b).sum(), [problem["a"], problem["b"]])


ENGINES = [
    Engine(
        key="mygrad",
        label="mygrad",
        load=load,
        workloads=dict(
            mlp=mlp, micrograd_demo=micrograd_demo, elementwise=elementwise, op_chain=op_chain, matmul=matmul
        ),
    )
]
