"""The fused linear layer y = f(x @ W^T + b), compiled: the Numba epilogue around BLAS.

The matrix products stay BLAS calls (numpy's matmul, multithreaded and vectorized); what the
Numba path fuses is the memory-bound work around them. Forward: the bias add and the activation
run in place on the GEMM output, one pass instead of two or three numpy passes with temporaries.
Backward: dz = g * f'(z) (from the output y) and the bias gradient (the column sums of dz) come
out of one pass, then dx = dz W and dW = dz^T x are two more GEMMs.

Only activations whose derivative is a function of the output fuse (`fused_ops.LINEAR_ACTIVATIONS`,
whose registry formulas read only `out`): the node keeps y, not z, beside what each wanted gradient
reads. The numpy reference is the op's forward in `fused_ops.py`.
"""

import numpy as np

from .. import backend
from . import FORWARD_KERNELS, elementwise, loop_for, reference_backward, register_kernels


def _kind(activation):
    return elementwise.IDENTITY if activation is None else elementwise.ACTIVATION_KINDS[activation][0]


def _as_rows(a):
    """(..., n) -> (rows, n): a view where the layout allows."""
    return a.reshape(-1, a.shape[-1])


def _numba_linear():
    reference = FORWARD_KERNELS["linear"].numpy

    def linear(x, weight, bias=None, *, activation=None):
        arrays = (x, weight) if bias is None else (x, weight, bias)
        output_size = x.size // (x.shape[-1] or 1) * weight.shape[0]  # the epilogue's: rows x out
        chosen = backend.choose("linear_forward", arrays, output_size)
        if chosen is backend.NUMPY:
            return reference(x, weight, bias, activation=activation)
        z = np.matmul(_as_rows(x), weight.T)  # a fresh C-contiguous (rows, out): the epilogue writes in place
        kind = _kind(activation)
        if bias is not None or kind != elementwise.IDENTITY:
            bias = np.zeros(weight.shape[0], z.dtype) if bias is None else bias
            loop_for(elementwise.compiled(kind), "bias_activation", chosen)(z, bias, 0.0, 0.0)
        return z.reshape(x.shape[:-1] + weight.shape[:1])

    return linear


def _numba_linear_backward():
    reference = reference_backward("linear")

    def backward(g, inputs, out, attrs, needs):
        # the node keeps only what the wanted gradients read: the dropped inputs are shape stand-ins
        if backend.choose("linear_backward", (g, *(a for a in inputs if type(a) is np.ndarray))) is backend.NUMPY:
            return reference(g, inputs, out, attrs, needs)
        x, weight = inputs[0], inputs[1]
        g_rows = _as_rows(g)
        kind = _kind(attrs["activation"])
        if kind == elementwise.IDENTITY:
            dz, bias_grad = g_rows, (g_rows.sum(axis=0) if len(inputs) == 3 and needs[2] is not None else None)
        else:
            dz = np.empty(g_rows.shape, g.dtype)
            bias_grad = np.empty(g_rows.shape[1], np.float64)
            elementwise.compiled(kind).activation_grad_bias(g_rows, _as_rows(out), dz, bias_grad)
        dx = np.matmul(dz, weight).reshape(x.shape) if needs[0] is not None else None
        dw = np.matmul(dz.T, _as_rows(x)) if needs[1] is not None else None
        if len(inputs) == 2:
            return dx, dw
        return dx, dw, (bias_grad.astype(g.dtype, copy=False) if needs[2] is not None else None)

    return backward


register_kernels("linear", _numba_linear, _numba_linear_backward)
