"""Layer norm and batch norm (training statistics), compiled (the numpy references are the ops'
forwards in `fused_ops.py`).

Both normalize x over a set of axes S with n elements, then scale and shift:
    mean = sum_S x / n,   rstd = 1 / sqrt(sum_S (x - mean)^2 / n + eps)   (biased variance),
    xhat = (x - mean) rstd,   y = xhat * weight + bias.
Backward, with dxhat = g * weight:
    dx = rstd (dxhat - mean_S dxhat - xhat mean_S(dxhat xhat)),
    dweight = sum of g xhat and dbias = sum of g over every axis the parameter is broadcast along.
Layer norm takes S = the trailing `normalized_shape` axes, its parameters of that shape; batch
norm takes S = every axis but the channels (axis 1), its parameters one per channel.

The compiled loops see both as a matrix x (M, K) with one parameter per column: layer norm as
(samples, features) with statistics per row, batch norm as (samples, channels) with statistics per
column (an (N, C, L) input is first moved to (N * L, C)). They read x row by row, so the inner
loops run along memory and vectorize either way. numpy makes about ten passes with temporaries;
the loops make three, and the backward recomputes the statistics from x (the graph node keeps the
inputs and the output only).
"""

import functools
import math
from types import SimpleNamespace

import numpy as np

from .. import backend
from . import FORWARD_KERNELS, reference_backward, register_kernels

SUMS = {"reassoc", "contract"}  # lets LLVM vectorize the sums (see backend.jit)
EMPTY = "an empty input"


# ---- compiled loops ---------------------------------------------------------------------------
# Serial (see `backend.POLICY`): batch norm's sums run across the rows.

PER_ROW = True  # in a compiled loop: statistics per row (layer norm) or per column (batch norm)


def _statistics(x, eps, per_row):
    """The mean and rstd of each row (per_row) or each column of x."""
    rows, columns = x.shape
    if per_row:
        mean, squares = np.zeros(rows), np.zeros(rows)
        for i in range(rows):
            total = 0.0
            for k in range(columns):
                total += x[i, k]
            mean[i] = total / columns
            total = 0.0
            for k in range(columns):
                total += (x[i, k] - mean[i]) ** 2
            squares[i] = total
        return mean, 1.0 / np.sqrt(squares / columns + eps)
    mean, squares = np.zeros(columns), np.zeros(columns)
    for i in range(rows):
        for k in range(columns):
            mean[k] += x[i, k]
    mean /= rows
    for i in range(rows):
        for k in range(columns):
            squares[k] += (x[i, k] - mean[k]) ** 2
    return mean, 1.0 / np.sqrt(squares / rows + eps)


def _normalize(x, weight, bias, eps, out):
    mean, rstd = _statistics(x, eps, PER_ROW)
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            s = i if PER_ROW else k
            out[i, k] = (x[i, k] - mean[s]) * rstd[s] * weight[k] + bias[k]


def _normalize_grad(g, x, weight, eps, dx, weight_grad, bias_grad):
    """dx, and into the float64 buffers weight_grad and bias_grad the parameter gradients."""
    mean, rstd = _statistics(x, eps, PER_ROW)
    count = x.shape[1] if PER_ROW else x.shape[0]
    dxhat_sum, dxhat_xhat_sum = np.zeros(mean.size), np.zeros(mean.size)
    weight_grad[:] = 0.0
    bias_grad[:] = 0.0
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            s = i if PER_ROW else k
            xhat = (x[i, k] - mean[s]) * rstd[s]
            dxhat = g[i, k] * weight[k]
            dxhat_sum[s] += dxhat
            dxhat_xhat_sum[s] += dxhat * xhat
            weight_grad[k] += g[i, k] * xhat
            bias_grad[k] += g[i, k]
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            s = i if PER_ROW else k
            xhat = (x[i, k] - mean[s]) * rstd[s]
            dx[i, k] = rstd[s] * (g[i, k] * weight[k] - (dxhat_sum[s] + xhat * dxhat_xhat_sum[s]) / count)


@functools.cache
def compiled(per_row):
    """The loops for layer norm (per_row=True) or batch norm (False)."""
    backend.jitable(_statistics)
    constants = {"PER_ROW": per_row}
    return SimpleNamespace(
        forward=backend.jit(_normalize, fastmath=SUMS, constants=constants),
        backward=backend.jit(_normalize_grad, fastmath=SUMS, constants=constants),
    )


# ---- the registry ops' kernels ------------------------------------------------------------------


def _matrix(op_name, a, attrs):
    """`a` as the C-contiguous matrix the loops take (a view when it already is one)."""
    if op_name == "layer_norm":
        return np.ascontiguousarray(a).reshape(-1, math.prod(attrs["normalized_shape"]))
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)).reshape(-1, a.shape[1])


def _from_matrix(op_name, m, shape):
    """The inverse of `_matrix`, for an array of x's shape."""
    if op_name == "layer_norm":
        return m.reshape(shape)
    return np.moveaxis(m.reshape((shape[0],) + shape[2:] + shape[1:2]), -1, 1)


def _full_parameters(parameters, size, dtype):
    """(weight, bias) as 1-D arrays, ones and zeros standing in for absent ones."""
    weight = parameters[0].reshape(-1) if len(parameters) > 0 else np.ones(size, dtype)
    bias = parameters[1].reshape(-1) if len(parameters) > 1 else np.zeros(size, dtype)
    return weight, bias


def _numba_forward(op_name):
    kernel_name = f"{op_name}_forward"
    reference = FORWARD_KERNELS[op_name].numpy
    loops = compiled(op_name == "layer_norm")

    def forward(x, *parameters, **attrs):
        if backend.choose(kernel_name, (x, *parameters), x.size, EMPTY if x.size == 0 else None) is backend.NUMPY:
            return reference(x, *parameters, **attrs)
        x_matrix = _matrix(op_name, x, attrs)
        weight, bias = _full_parameters(parameters, x_matrix.shape[1], x.dtype)
        out = np.empty(x_matrix.shape, x.dtype)
        loops.forward(x_matrix, weight, bias, float(attrs["eps"]), out)
        return _from_matrix(op_name, out, x.shape)

    return forward


def _numba_backward(op_name):
    kernel_name = f"{op_name}_backward"
    reference = reference_backward(op_name)
    loops = compiled(op_name == "layer_norm")

    def backward(g, inputs, out, attrs, needs):
        x, parameters = inputs[0], inputs[1:]
        if backend.choose(kernel_name, (g, *inputs), x.size, EMPTY if x.size == 0 else None) is backend.NUMPY:
            return reference(g, inputs, out, attrs, needs)
        x_matrix = _matrix(op_name, x, attrs)
        columns = x_matrix.shape[1]
        weight, _ = _full_parameters(parameters, columns, x.dtype)
        weight_grad, bias_grad, dx = np.empty(columns), np.empty(columns), np.empty(x_matrix.shape, x.dtype)
        loops.backward(_matrix(op_name, g, attrs), x_matrix, weight, float(attrs["eps"]), dx, weight_grad, bias_grad)
        grads = [_from_matrix(op_name, dx, x.shape) if needs[0] is not None else None]
        for p, grad, need in zip(parameters, (weight_grad, bias_grad), needs[1:]):
            grads.append(grad.astype(x.dtype).reshape(p.shape) if need is not None else None)
        return grads

    return backward


for _name in ("layer_norm", "batch_norm"):
    register_kernels(_name, functools.partial(_numba_forward, _name), functools.partial(_numba_backward, _name))
