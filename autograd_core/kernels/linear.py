"""The fused linear layer y = f(x @ W^T + b): numpy reference and Numba implementation.

The matrix products stay BLAS calls (numpy's matmul, multithreaded and vectorized); what the
Numba path fuses is the memory-bound work around them. Forward: the bias add and the activation
run in place on the GEMM output, one pass instead of two or three numpy passes with temporaries.
Backward: dz = g * f'(z) (from the output y) and the bias gradient (the column sums of dz) come
out of one pass, then dx = dz W and dW = dz^T x are two more GEMMs.

Only activations whose derivative is a function of the output fuse (relu, sigmoid, tanh): the
node saves x, W, b and y, not z; others (gelu, silu...) are applied as their own op after the
layer.
"""
import numpy as np

from .. import backend
from . import BACKWARD_KERNELS, FORWARD_KERNELS, REFERENCE_F, elementwise, floating, loop_for, reference_backward

# activation name -> its kind in the elementwise kernels
ACTIVATIONS = {None: elementwise.IDENTITY, "relu": elementwise.RELU, "sigmoid": elementwise.SIGMOID,
               "tanh": elementwise.TANH}


def linear_reference(x, weight, bias=None, *, activation=None):
    """f(x @ W^T + b), as the composition of the registry ops; x is (..., in), W (out, in), b (out,)."""
    z = np.matmul(x, weight.T)
    if bias is not None:
        z = z + bias
    return z if activation is None else getattr(REFERENCE_F, activation)(z)


def _as_rows(a):
    """(..., n) -> (rows, n): a view where the layout allows."""
    return a.reshape(-1, a.shape[-1])


def _numba_linear():
    def linear(x, weight, bias=None, *, activation=None):
        if not floating(*((x, weight) if bias is None else (x, weight, bias))):
            return linear_reference(x, weight, bias, activation=activation)
        z = np.matmul(_as_rows(x), weight.T)  # a fresh C-contiguous (rows, out): the epilogue writes in place
        kind = ACTIVATIONS[activation]
        if bias is not None or kind != elementwise.IDENTITY:
            bias = np.zeros(weight.shape[0], z.dtype) if bias is None else bias
            loop_for(elementwise.compiled(kind), "bias_activation", z.size)(z, bias, 0.0, 0.0)
        return z.reshape(x.shape[:-1] + weight.shape[:1])
    return linear


def _numba_linear_backward():
    reference = reference_backward("linear")

    def backward(g, inputs, out, attrs, needs):
        if not floating(g, *(a for a in inputs if type(a) is np.ndarray)):  # the node keeps what the wanted grads read
            return reference(g, inputs, out, attrs, needs)
        x, weight = inputs[0], inputs[1]
        g_rows = _as_rows(g)
        kind = ACTIVATIONS[attrs["activation"]]
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


FORWARD_KERNELS["linear"] = backend.kernel("linear_forward", linear_reference, _numba_linear)
BACKWARD_KERNELS["linear"] = backend.kernel("linear_backward", reference_backward("linear"),
                                            _numba_linear_backward)
