"""Softmax, log-softmax and softmax cross-entropy, row by row, compiled (the numpy references are the
ops' forwards in `ops.py` and `fused_ops.py`).

For a row x with m = max x and lse = m + log sum_j e^(x_j - m):
    softmax(x)_j = e^(x_j - lse),   log_softmax(x)_j = x_j - lse.
Cross-entropy with integer target t and label smoothing eps over C classes takes the target
distribution q = (1 - eps) onehot(t) + eps / C, so
    loss = -sum_j q_j log_softmax(x)_j = lse - (1 - eps) x_t - eps mean(x),
    dloss/dx = softmax(x) - q.
numpy makes a temporary for each of max, x - m, exp, sum, log and the final expression; the
compiled loops keep one row in cache and make two or three passes over it, writing only the
result. The cross-entropy backward recomputes the row's exponentials from x rather than having
the forward save them: the graph node keeps the op's inputs and output only.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np

from .. import backend
from . import FORWARD_KERNELS, loop_for, reference_backward, register_kernels

prange = range  # numba.prange in the compiled loops (backend.jit)

SUMS = {"reassoc", "contract"}  # lets LLVM vectorize the row sums (see backend.jit)
EMPTY = "a 0-d or empty input"


# ---- compiled loops: one row per iteration ------------------------------------------------

LOG = False  # in a compiled softmax loop: True for log-softmax (see `compiled`)


def _row_max(row):
    peak = -math.inf
    for value in row:
        peak = max(peak, value)
    return peak


def _log_sum_exp(row):
    peak = _row_max(row)
    total = 0.0
    for value in row:
        total += math.exp(value - peak)
    return peak + math.log(total)


def _softmax_rows(x, out):
    for i in prange(x.shape[0]):
        if LOG:
            lse = _log_sum_exp(x[i])
            for j in range(x.shape[1]):
                out[i, j] = x[i, j] - lse
        else:  # one exp per element: keep e^(x - m), then scale by 1 / sum
            peak = _row_max(x[i])
            total = 0.0
            for j in range(x.shape[1]):
                e = math.exp(x[i, j] - peak)
                out[i, j] = e
                total += e
            scale = 1.0 / total
            for j in range(x.shape[1]):
                out[i, j] *= scale


def _softmax_grad_rows(g, y, dx):
    """softmax: dx = y (g - sum g y); log-softmax: dx = g - e^y sum g."""
    for i in prange(g.shape[0]):
        total = 0.0
        for j in range(g.shape[1]):
            total += g[i, j] if LOG else g[i, j] * y[i, j]
        for j in range(g.shape[1]):
            dx[i, j] = g[i, j] - math.exp(y[i, j]) * total if LOG else y[i, j] * (g[i, j] - total)


def _cross_entropy_rows(logits, targets, label_smoothing, losses):
    for i in prange(logits.shape[0]):
        total = 0.0
        for value in logits[i]:
            total += value
        losses[i] = (
            _log_sum_exp(logits[i])
            - (1.0 - label_smoothing) * logits[i, targets[i]]
            - label_smoothing * total / logits.shape[1]
        )


def _cross_entropy_grad_rows(g, logits, targets, label_smoothing, dlogits):
    uniform = label_smoothing / logits.shape[1]
    for i in prange(logits.shape[0]):
        peak = _row_max(logits[i])
        total = 0.0
        for j in range(logits.shape[1]):
            e = math.exp(logits[i, j] - peak)
            dlogits[i, j] = e
            total += e
        scale = g[i] / total
        for j in range(logits.shape[1]):
            dlogits[i, j] = dlogits[i, j] * scale - g[i] * uniform
        dlogits[i, targets[i]] -= g[i] * (1.0 - label_smoothing)


@functools.cache
def compiled(log=False):
    """The loops, serial and threaded; `log` selects log-softmax in the softmax ones."""
    backend.jitable(_row_max, _log_sum_exp)
    loops = {}
    for fn in (_softmax_rows, _softmax_grad_rows, _cross_entropy_rows, _cross_entropy_grad_rows):
        name = fn.__name__.lstrip("_")
        loops[name] = backend.jit(fn, fastmath=SUMS, constants={"LOG": log})
        loops[name + "_parallel"] = backend.jit(fn, parallel=True, fastmath=SUMS, constants={"LOG": log})
    return SimpleNamespace(**loops)


def _rows(a, axis):
    """`a` with `axis` moved last, as C-contiguous rows (a view when it already is)."""
    moved = np.ascontiguousarray(a if axis == a.ndim - 1 else np.moveaxis(a, axis, -1))
    return moved, moved.reshape(-1, moved.shape[-1])


def _unmoved(a, axis):
    """The inverse of `_rows`' move, for an array in the moved layout."""
    return a if axis == a.ndim - 1 else np.moveaxis(a, -1, axis)


# ---- the registry ops' kernels ------------------------------------------------------------------


def _numba_softmax(log):
    loops = compiled(log)
    kernel_name = "log_softmax_forward" if log else "softmax_forward"
    reference = FORWARD_KERNELS["log_softmax" if log else "softmax"].numpy

    def softmax(x, axis):
        chosen = backend.choose(kernel_name, (x,), x.size, EMPTY if x.ndim == 0 or x.size == 0 else None)
        if chosen is backend.NUMPY:
            return reference(x, axis=axis)
        moved, rows = _rows(x, axis)
        out = np.empty(moved.shape, x.dtype)
        loop_for(loops, "softmax_rows", chosen)(rows, out.reshape(rows.shape))
        return _unmoved(out, axis)

    return softmax


def _numba_softmax_backward(log):
    loops = compiled(log)
    kernel_name = "log_softmax_backward" if log else "softmax_backward"
    reference = reference_backward("log_softmax" if log else "softmax")

    def backward(g, inputs, out, attrs, needs):
        chosen = backend.choose(kernel_name, (g, out), out.size, EMPTY if out.ndim == 0 or out.size == 0 else None)
        if chosen is backend.NUMPY:
            return reference(g, inputs, out, attrs, needs)
        axis = attrs["axis"]
        _, g_rows = _rows(g, axis)
        moved, y_rows = _rows(out, axis)
        dx = np.empty(moved.shape, out.dtype)
        loop_for(loops, "softmax_grad_rows", chosen)(g_rows, y_rows, dx.reshape(y_rows.shape))
        return (_unmoved(dx, axis),)

    return backward


def _numba_cross_entropy():
    loops = compiled()
    reference = FORWARD_KERNELS["softmax_cross_entropy"].numpy

    def cross_entropy(logits, targets, *, label_smoothing):
        chosen = backend.choose("softmax_cross_entropy_forward", (logits,), logits.size)
        if chosen is backend.NUMPY:
            return reference(logits, targets, label_smoothing=label_smoothing)
        losses = np.empty(logits.shape[0], logits.dtype)
        loop_for(loops, "cross_entropy_rows", chosen)(
            np.ascontiguousarray(logits), targets, float(label_smoothing), losses
        )
        return losses

    return cross_entropy


def _numba_cross_entropy_backward():
    loops = compiled()
    reference = reference_backward("softmax_cross_entropy")

    def backward(g, inputs, out, attrs, needs):
        logits, targets = inputs
        chosen = backend.choose(
            "softmax_cross_entropy_backward",
            (g, logits),
            logits.size,
            "no gradient wanted for the logits" if needs[0] is None else None,
        )
        if chosen is backend.NUMPY:
            return reference(g, inputs, out, attrs, needs)
        dlogits = np.empty(logits.shape, logits.dtype)
        loop_for(loops, "cross_entropy_grad_rows", chosen)(
            g, np.ascontiguousarray(logits), targets, float(attrs["label_smoothing"]), dlogits
        )
        return dlogits, None

    return backward


for _log, _name in ((False, "softmax"), (True, "log_softmax")):
    register_kernels(_name, functools.partial(_numba_softmax, _log), functools.partial(_numba_softmax_backward, _log))
register_kernels("softmax_cross_entropy", _numba_cross_entropy, _numba_cross_entropy_backward)
