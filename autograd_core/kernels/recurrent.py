"""The elementwise part of an LSTM layer's steps, compiled (the numpy references and the loops over the
steps are in `autograd_core/rnn_ops.py`: `lstm_gates_and_cell`, `lstm_gate_grads_step`).

A step of `lstm_layer_hh` is a GEMM and, around it, a dozen small numpy calls on (batch, hidden) blocks,
several of them on strided column blocks of the (batch, 4*hidden) gates: at batch 32 and hidden 128 the
calls cost more than their arithmetic. Here each step's elementwise work is one or two compiled passes:

- forward: z = (h W_hh^T + x_gates + b_hh) scaled (1/2 on the sigmoid gates), numpy's tanh over it, then one
  pass activating the gates and computing c = f c_prev + i g; h = o tanh(c) stays numpy. numpy's tanh is
  vectorized (compiled code would call scalar libm per element) and faster than `vector_math`'s: over the
  (32, 512) float32 gates 4.8 us against 5.9 us for the rational `tanh32` in a compiled loop with 512-bit
  vectors (12.7 us for the exp-based one it replaced, 9.7 us for `sigmoid32`), so one compiled pass for all
  of a step's elementwise work with those (gates written apart from the GEMM's output: written in place the
  loop did not vectorize and took 208 us) measured 25.4 us per step inside the layer loop against 24.1 us
  for these passes (medians of 60 interleaved runs of the benchmark's 50 steps, with the exp-based
  `tanh32`);
- backward: one pass from the carried and arriving gradients to the gate gradient and dc f, the
  activations' slopes computed in it (no tanh: tanh(c) of every step comes precomputed).

The operations and their order are those of the numpy references: in float64 both give the same values;
in float32 the compiled passes round some intermediate results once where numpy rounds twice (Python
float constants compute in float64), so they agree to float32's rounding. Measured on the benchmark's LSTM
training step (seq 50, batch 32, 64 -> 128, float32, one thread, 2 shared cores): 14.9-15.4 ms under the
numba backend against 18.7-19.1 ms under numpy (which also turns off the linear and Adam kernels).
Whether a call runs compiled is `backend.choose` with the POLICY rows "lstm_layer_forward" and
"lstm_layer_backward"; the GEMMs stay BLAS.
"""

import functools
from types import SimpleNamespace

import numpy as np

from .. import backend

WITH_GRAD_C = WITH_GRAD_GATES = False  # compiled in as constants, per variant (see `_gate_grads_loop`)


# The loops index one-dimensional row views (a row of each gate block): measured 2.5 times faster than
# two-dimensional indexing with offsets, which LLVM did not vectorize.


def _add_scaled(z, x_gates, b_hh):
    """z = (z + x_gates + b_hh) * (1/2 on the sigmoid gates i, f, o; 1 on g), in place."""
    rows, width = z.shape
    hidden = width // 4
    for b in range(rows):
        z_row, x_row = z[b], x_gates[b]
        for j in range(2 * hidden):
            z_row[j] = (z_row[j] + x_row[j] + b_hh[j]) * 0.5
        for j in range(2 * hidden, 3 * hidden):
            z_row[j] = (z_row[j] + x_row[j] + b_hh[j]) * 1.0
        for j in range(3 * hidden, width):
            z_row[j] = (z_row[j] + x_row[j] + b_hh[j]) * 0.5


def _activate_and_cell(z, c_prev, c):
    """z holds tanh of the scaled gates: the sigmoid gates become tanh / 2 + 1/2 in place; c = f c_prev + i g."""
    rows, hidden = c.shape
    for b in range(rows):
        z_i, z_f = z[b, :hidden], z[b, hidden : 2 * hidden]
        z_g, z_o = z[b, 2 * hidden : 3 * hidden], z[b, 3 * hidden :]
        c_row, c_prev_row = c[b], c_prev[b]
        for j in range(hidden):
            i, f = z_i[j] * 0.5 + 0.5, z_f[j] * 0.5 + 0.5
            z_i[j], z_f[j], z_o[j] = i, f, z_o[j] * 0.5 + 0.5
            c_row[j] = f * c_prev_row[j] + i * z_g[j]


def _gate_grads_loop(dh, grad_h, dc, grad_c, gates, c_prev, tanh_c, grad_gates, dz):
    """`lstm_gate_grads_step` in one pass (dh itself is left as it is: the caller overwrites it)."""
    rows, hidden = dc.shape
    for b in range(rows):
        g_i, g_f = gates[b, :hidden], gates[b, hidden : 2 * hidden]
        g_g, g_o = gates[b, 2 * hidden : 3 * hidden], gates[b, 3 * hidden :]
        dz_i, dz_f = dz[b, :hidden], dz[b, hidden : 2 * hidden]
        dz_g, dz_o = dz[b, 2 * hidden : 3 * hidden], dz[b, 3 * hidden :]
        a_i, a_f = grad_gates[b, :hidden], grad_gates[b, hidden : 2 * hidden]
        a_g, a_o = grad_gates[b, 2 * hidden : 3 * hidden], grad_gates[b, 3 * hidden :]
        dh_row, grad_h_row, dc_row, grad_c_row = dh[b], grad_h[b], dc[b], grad_c[b]
        c_prev_row, tanh_c_row = c_prev[b], tanh_c[b]
        for j in range(hidden):
            i, f, g, o, t = g_i[j], g_f[j], g_g[j], g_o[j], tanh_c_row[j]
            h_grad = dh_row[j] + grad_h_row[j]
            c_grad = dc_row[j] + (1.0 - t * t) * o * h_grad
            if WITH_GRAD_C:
                c_grad += grad_c_row[j]
            d_i, d_f, d_g, d_o = c_grad * g, c_grad * c_prev_row[j], c_grad * i, h_grad * t
            if WITH_GRAD_GATES:
                d_i, d_f, d_g, d_o = d_i + a_i[j], d_f + a_f[j], d_g + a_g[j], d_o + a_o[j]
            dz_i[j] = d_i * ((1.0 - i) * i)
            dz_f[j] = d_f * ((1.0 - f) * f)
            dz_g[j] = d_g * ((1.0 - g) * (g + 1.0))
            dz_o[j] = d_o * ((1.0 - o) * o)
            dc_row[j] = c_grad * f


@functools.cache
def _forward_loops():
    return SimpleNamespace(add_scaled=backend.jit(_add_scaled), activate_and_cell=backend.jit(_activate_and_cell))


@functools.cache
def _gate_grads(with_grad_c, with_grad_gates):
    """The backward pass compiled for whether a gradient arrives at c and at the activated gates."""
    return backend.jit(_gate_grads_loop, constants={"WITH_GRAD_C": with_grad_c, "WITH_GRAD_GATES": with_grad_gates})


def compiled_gates_and_cell(z, x_gates, b_hh, c_prev, c):
    """`rnn_ops.lstm_gates_and_cell`, compiled around numpy's tanh; no bias counts as zeros (adding 0 is exact)."""
    loops = _forward_loops()
    loops.add_scaled(z, x_gates, np.zeros(z.shape[1], z.dtype) if b_hh is None else b_hh)
    np.tanh(z, out=z)
    loops.activate_and_cell(z, c_prev, c)


def compiled_gate_grads_step(dh, grad_h, dc, grad_c, gates, c_prev, tanh_c, grad_gates, dz):
    """`rnn_ops.lstm_gate_grads_step`, compiled; an absent gradient is passed as dh (never read)."""
    loop = _gate_grads(grad_c is not None, grad_gates is not None)
    loop(
        dh,
        grad_h,
        dc,
        dh if grad_c is None else grad_c,
        gates,
        c_prev,
        tanh_c,
        dz if grad_gates is None else grad_gates,
        dz,
    )


def numba_lstm_layer_forward(loop, reference):
    """The factory of the compiled `lstm_layer_hh` forward: `loop` (the loop over the steps) with the
    compiled step where the policy allows, else `reference`."""

    def factory():
        def forward(x_gates, h0, c0, w_hh, *b_hh, batch_sizes, reverse):
            if backend.choose("lstm_layer_forward", (x_gates, h0, c0, w_hh, *b_hh), x_gates.size) is backend.NUMPY:
                return reference(x_gates, h0, c0, w_hh, *b_hh, batch_sizes=batch_sizes, reverse=reverse)
            return loop(
                x_gates,
                h0,
                c0,
                w_hh,
                *b_hh,
                batch_sizes=batch_sizes,
                reverse=reverse,
                gates_and_cell=compiled_gates_and_cell,
            )

        return forward

    return factory


def numba_lstm_layer_backward(loop, reference):
    """The factory of the compiled `lstm_layer_hh` backward (its `fast_backward`), as the forward's."""

    def factory():
        def backward(g, inputs, out, attrs, needs):
            arrays = [a for a in (*out, *(grad for grad in g if grad is not None)) if type(a) is np.ndarray]
            if backend.choose("lstm_layer_backward", arrays, out[3].size) is backend.NUMPY:
                return reference(g, inputs, out, attrs, needs)
            return loop(g, inputs, out, attrs, needs, compiled_gate_grads_step)

        return backward

    return factory
