"""The no-framework reference: forward and backward written out by hand in numpy.

It is also the runner's loss oracle: run on the float64 copy of a problem, its
losses and gradients are what every engine (this one included, in float32) is
checked against. The code is dtype-generic for that reason.

The backward passes are the plain chain rule an autodiff engine applies, with no
algebraic shortcuts (e.g. matmul's input gradient is `G @ B.T` with G all
ones, not a row sum), so the timings are a fair floor for the same arithmetic.
"""

import numpy as np

from autograd_core.benchmarks.engines import Engine
from autograd_core.benchmarks.engines.common import NumpyAdam, chain, flat_params


def mlp_forward(layers, x):
    """ReLU MLP; returns the output and each layer's input (kept for the backward pass)."""
    inputs = []
    h = x
    for i, (weight, bias) in enumerate(layers):
        inputs.append(h)
        h = h @ weight.T + bias
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h, inputs


def mlp_backward(layers, inputs, grad_out):
    """Gradients [gW1, gb1, gW2, gb2, ...] from the gradient of the MLP's output."""
    grads = []
    grad_z = grad_out
    for i in reversed(range(len(layers))):
        weight, _ = layers[i]
        grads[:0] = [grad_z.T @ inputs[i], grad_z.sum(axis=0)]
        if i > 0:
            # inputs[i] is relu(z) of the layer below: relu'(z) = [relu(z) > 0].
            grad_z = (grad_z @ weight) * (inputs[i] > 0)
    return grads


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy and its gradient: d loss / d logits = (softmax - onehot) / batch."""
    batch = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(batch)
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, labels])
    grad = exp / total
    grad[rows, labels] -= 1
    grad /= batch
    return loss, grad


def mlp(problem):
    layers, x, y = problem["layers"], problem["x"], problem["y"]
    adam = NumpyAdam(flat_params(layers), problem["lr"])
    last = {}

    def step():
        logits, inputs = mlp_forward(layers, x)
        loss, grad_logits = softmax_cross_entropy(logits, y)
        last["grads"] = mlp_backward(layers, inputs, grad_logits)
        adam.step(last["grads"])
        return float(loss)

    return step, lambda: last["grads"]


def micrograd_demo(problem):
    layers, x, y = problem["layers"], problem["x"], problem["y"]
    lr, alpha = problem["lr"], problem["alpha"]
    params = flat_params(layers)
    last = {}

    def step():
        out, inputs = mlp_forward(layers, x)
        margin = 1 - y * out[:, 0]
        loss = np.maximum(margin, 0).mean() + alpha * sum(np.sum(p * p) for p in params)
        grad_score = -y * (margin > 0) / len(y)
        grads = mlp_backward(layers, inputs, grad_score[:, None])
        last["grads"] = [g + 2 * alpha * p for g, p in zip(grads, params)]
        for p, g in zip(params, last["grads"]):
            p -= lr * g
        return float(loss)

    return step, lambda: last["grads"]


def elementwise(problem):
    x = problem["x"]
    last = {}

    def step():
        sig = 1 / (1 + np.exp(-x))
        tanh = np.tanh(x)
        loss = np.sum(sig * tanh + np.maximum(x, 0))
        last["grad"] = sig * (1 - sig) * tanh + sig * (1 - tanh * tanh) + (x > 0)
        return float(loss)

    return step, lambda: [last["grad"]]


def op_chain(problem):
    x0, n_ops, scale, shift = problem["x"], problem["n_ops"], problem["scale"], problem["shift"]
    last = {}

    def step():
        x = chain(x0, n_ops, scale, shift)
        grad = np.ones_like(x)
        # Walking back: each multiply scales the gradient, each add passes it through.
        for i in reversed(range(n_ops)):
            if i % 2 == 0:
                grad = grad * scale
        last["grad"] = grad
        return float(x.sum())

    return step, lambda: [last["grad"]]


def matmul(problem):
    a, b = problem["a"], problem["b"]
    last = {}

    def step():
        product = a @ b
        grad_product = np.ones_like(product)
        last["grads"] = [grad_product @ b.T, a.T @ grad_product]
        return float(product.sum())

    return step, lambda: last["grads"]


ENGINES = [
    Engine(
        key="numpy",
        label="numpy (by hand)",
        load=lambda: np.__version__,
        workloads=dict(
            mlp=mlp, micrograd_demo=micrograd_demo, elementwise=elementwise, op_chain=op_chain, matmul=matmul
        ),
    )
]
