"""HIPS autograd: numpy code traced through `autograd.value_and_grad` on every call.

The optimizer is the shared numpy Adam (autograd ships none), updating the
parameter arrays in place.
"""

from autograd_core.benchmarks.engines import Engine
from autograd_core.benchmarks.engines.common import (
    NumpyAdam,
    chain,
    flat_params,
    installed_version,
    mlp_apply,
)


def load():
    return installed_version("autograd")


def _relu(h):
    import autograd.numpy as anp

    return anp.maximum(h, 0)


def mlp(problem):
    import autograd.numpy as anp
    from autograd import value_and_grad

    params = flat_params(problem["layers"])
    x, y = problem["x"], problem["y"]
    rows = anp.arange(len(y))
    adam = NumpyAdam(params, problem["lr"])

    def loss_fn(params):
        logits = mlp_apply(params, x, _relu)
        shift = anp.max(logits, axis=1, keepdims=True)
        log_sum_exp = anp.log(anp.sum(anp.exp(logits - shift), axis=1)) + shift[:, 0]
        return anp.mean(log_sum_exp - logits[rows, y])

    loss_and_grads = value_and_grad(loss_fn)
    last = {}

    def step():
        loss, last["grads"] = loss_and_grads(params)
        adam.step(last["grads"])
        return float(loss)

    return step, lambda: last["grads"]


def micrograd_demo(problem):
    import autograd.numpy as anp
    from autograd import value_and_grad

    params = flat_params(problem["layers"])
    x, y, lr, alpha = problem["x"], problem["y"], problem["lr"], problem["alpha"]

    def loss_fn(params):
        score = mlp_apply(params, x, _relu)[:, 0]
        return anp.mean(anp.maximum(1 - y * score, 0)) + alpha * sum(anp.sum(p * p) for p in params)

    loss_and_grads = value_and_grad(loss_fn)
    last = {}

    def step():
        loss, last["grads"] = loss_and_grads(params)
        for p, g in zip(params, last["grads"]):
            p -= lr * g
        return float(loss)

    return step, lambda: last["grads"]


def _loss_and_grads(loss_fn, arrays):
    """step/grads for a workload that is one loss of `arrays` differentiated in all of them."""
    from autograd import value_and_grad

    loss_and_grads = value_and_grad(lambda arrays: loss_fn(*arrays))
    last = {}

    def step():
        loss, last["grads"] = loss_and_grads(arrays)
        return float(loss)

    return step, lambda: last["grads"]


def elementwise(problem):
    import autograd.numpy as anp

    def loss_fn(x):
        return anp.sum(1 / (1 + anp.exp(-x)) * anp.tanh(x) + anp.maximum(x, 0))

    return _loss_and_grads(loss_fn, [problem["x"]])


def op_chain(problem):
    n_ops, scale, shift = problem["n_ops"], problem["scale"], problem["shift"]
    return _loss_and_grads(lambda x: chain(x, n_ops, scale, shift).sum(), [problem["x"]])


def matmul(problem):
    return _loss_and_grads(lambda a, b: (a @ b).sum(), [problem["a"], problem["b"]])


ENGINES = [
    Engine(
        key="hips_autograd",
        label="HIPS autograd",
        load=load,
        workloads=dict(
            mlp=mlp, micrograd_demo=micrograd_demo, elementwise=elementwise, op_chain=op_chain, matmul=matmul
        ),
    )
]
