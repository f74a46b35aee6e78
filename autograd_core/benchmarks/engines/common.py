"""Pieces several adapters share: the op chain and the MLP written once for any array
library with `@`, `.T` and broadcasting, the flat parameter order, Adam on numpy arrays."""

import importlib
import importlib.metadata

import numpy as np

from autograd_core.benchmarks.workloads import ADAM_BETAS, ADAM_EPS


def installed_version(module_name):
    """Import the module (ImportError when it is missing) and return its distribution's version."""
    importlib.import_module(module_name)
    return importlib.metadata.version(module_name)


def chain(x, n_ops, scale, shift):
    """The op_chain workload's forward: alternately `x * scale` and `x + shift`, n_ops ops in all."""
    for i in range(n_ops):
        x = x * scale if i % 2 == 0 else x + shift
    return x


def flat_params(layers):
    """[(W1, b1), (W2, b2), ...] -> [W1, b1, W2, b2, ...], the gradient order of the MLP workloads."""
    return [array for layer in layers for array in layer]


def mlp_apply(params, x, relu):
    """ReLU MLP on flat params [W1, b1, ...] with W as (out, in); no activation after the last layer."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < n_layers - 1:
            h = relu(h)
    return h


class NumpyAdam:
    """PyTorch's Adam on numpy arrays, updated in place.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(self, params, lr, betas=ADAM_BETAS, eps=ADAM_EPS):
        self.params = params
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.t)
        root_bias2 = np.sqrt(1 - beta2**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            denom = np.sqrt(v)
            denom /= root_bias2
            denom += self.eps
            p -= step_size * m / denom
