"""Shared by the test modules (pytest puts tests/ on sys.path)."""

import numpy as np

import autograd_core as ag


def registry_inputs(op, sample, seed=0, dtype=np.float64):
    """Tensors for one registry sample: shapes become random inputs that require grad, arrays stay constants."""
    rng = np.random.default_rng(seed)
    low, high = op.domain
    inputs = []
    for arg in sample.args:
        if isinstance(arg, tuple):
            inputs.append(ag.tensor(rng.uniform(low, high, size=arg).astype(dtype), requires_grad=True))
        else:
            inputs.append(arg)
    return inputs
