"""Recurrent cells and layers as fused ops: one time step of an Elman RNN, an LSTM or a GRU is one registry
entry (one graph node): the two gate GEMMs and the elementwise gate math in the forward, the VJP of every
input (x, the hidden state h, the cell state c, both weights, both biases) in the backward. A whole layer
in one direction is one entry too (`rnn_layer_hh`, `lstm_layer_hh`, `gru_layer_hh`, see "whole-sequence
layers" below), which the sequence modules use.

Inputs, as PyTorch's `torch.rnn_tanh_cell` / `lstm_cell` / `gru_cell`: x (B, in), h (B, H_h),
c (B, H) for the LSTM, w_ih (G*H, in), w_hh (G*H, H_h), and optionally b_ih, b_hh (G*H,), with G
the number of gates (1, 4, 3) in PyTorch's order (LSTM i, f, g, o; GRU r, z, n). H_h = H except
for an LSTM with projections, whose module multiplies h by weight_hr after the cell.

Outputs: the RNN cell returns h'. The LSTM and GRU cells, like PyTorch's fused kernels, also
return a workspace their VJP reads instead of recomputing the gates: the LSTM's activated gates
[i, f, g, o] (B, 4H) beside (h', c'), the GRU's [r, z, n, W_hn h + b_hn] (B, 4H) beside h'. The
workspace is an output like the others (its gradient, where one arrives, enters the VJP), so
create_graph and the registry's gradcheck see one consistent function; the entry points
`lstm_cell` and `gru_cell` drop it.

Each cell also has a hidden-side form (`rnn_cell_hh`, `lstm_cell_hh`, `gru_cell_hh`) that takes the
input gates x W_ih^T + b_ih instead of x, w_ih and b_ih: the sequence modules compute those for all
the steps of a layer in one GEMM (one `linear` node), and each step's node does the hidden-side GEMM
and the gate math (see `CellForm`).

Each cell's VJP is one function computing the gradients of the inputs asked for from one shared
gate gradient; it serves the registry formulas (one input at a time, under `F` as every registry
formula) and, on arrays, the op's `fast_backward` (all wanted inputs at once).
"""

import functools
import itertools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from . import backend
from .engine import apply
from .kernels import recurrent as recurrent_kernels
from .ops import ARRAY_F, REGISTRY, S, reads, register
from .tensor import Tensor

__all__ = [
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "rnn_cell_hh",
    "lstm_cell_hh",
    "gru_cell_hh",
    "rnn_layer_hh",
    "lstm_layer_hh",
    "gru_layer_hh",
    "NONLINEARITIES",
]

NONLINEARITIES = ("tanh", "relu")


# ---- forwards ---------------------------------------------------------------------------------


def _sigmoid_(z):
    """sigmoid in place, in the tanh form of `ops.sigmoid` (overflow-free, the same values)."""
    np.multiply(z, 0.5, out=z)
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5


def _gemm(x, weight, bias):
    """x @ weight^T (+ bias) in a fresh array."""
    z = np.matmul(x, weight.T)
    if bias is not None:
        z += bias
    return z


def _input_side(x, w_ih, b_ih):
    """The input gates x W_ih^T + b_ih, to be read only: x itself when w_ih is None (x holds input gates)."""
    return x if w_ih is None else _gemm(x, w_ih, b_ih)


def _blocks(value, count):
    """The `count` equal column blocks of a (B, count*H) array, as views."""
    width = value.shape[1] // count
    return tuple(value[:, k * width : (k + 1) * width] for k in range(count))


def _bias_pair(biases):
    return biases if biases else (None, None)


def rnn_cell_forward(x, h, w_ih, w_hh, *biases, nonlinearity):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu."""
    b_ih, b_hh = _bias_pair(biases)
    z = _gemm(h, w_hh, b_hh)
    z += _input_side(x, w_ih, b_ih)
    return np.tanh(z, out=z) if nonlinearity == "tanh" else np.maximum(z, 0.0, out=z)


class _GateRows(NamedTuple):
    scale: np.ndarray
    """1/2 on the sigmoid gates i, f, o; 1 on the tanh gate g."""
    shift: np.ndarray
    """1/2 on the sigmoid gates; 0 on g."""
    on_tanh: np.ndarray
    """0 on the sigmoid gates; 1 on g: the activations' slope is (1 - y) (y + on_tanh) of the output y."""


@functools.lru_cache(maxsize=32)
def _lstm_gate_rows(hidden, dtype):
    """Per-column constants (4*hidden,) of the LSTM gates [i, f, g, o], read-only."""
    on_tanh = np.zeros(4 * hidden, dtype)
    on_tanh[2 * hidden : 3 * hidden] = 1.0
    rows = _GateRows(0.5 + 0.5 * on_tanh, 0.5 - 0.5 * on_tanh, on_tanh)
    for row in rows:
        row.setflags(write=False)
    return rows


def lstm_cell_forward(x, h, c, w_ih, w_hh, *biases):
    """(h', c', gates): gates = [i, f, g, o] activated, c' = f c + i g, h' = o tanh(c')."""
    b_ih, b_hh = _bias_pair(biases)
    gates = _gemm(h, w_hh, b_hh)
    gates += _input_side(x, w_ih, b_ih)
    # One tanh over all four gates, sigmoid(z) = tanh(z / 2) / 2 + 1/2 on i, f and o (the values of
    # `_sigmoid_`: halving is exact), in whole-row operations (column blocks are strided and slower).
    rows = _lstm_gate_rows(c.shape[1], gates.dtype)
    gates *= rows.scale
    np.tanh(gates, out=gates)
    gates *= rows.scale
    gates += rows.shift
    i, f, g, o = _blocks(gates, 4)
    c_new = f * c
    c_new += np.multiply(i, g, out=np.empty_like(c_new))
    h_new = np.tanh(c_new)
    h_new *= o
    return h_new, c_new, gates


def gru_cell_forward(x, h, w_ih, w_hh, *biases):
    """(h', workspace): r, z = sigmoid(...), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h' = (1 - z) n + z h; workspace = [r, z, n, W_hn h + b_hn]."""
    b_ih, b_hh = _bias_pair(biases)
    from_input, from_hidden = _input_side(x, w_ih, b_ih), _gemm(h, w_hh, b_hh)
    hidden = h.shape[1]
    workspace = np.empty(from_input.shape[:1] + (4 * hidden,), from_input.dtype)
    rz = workspace[:, : 2 * hidden]
    np.add(from_input[:, : 2 * hidden], from_hidden[:, : 2 * hidden], out=rz)
    _sigmoid_(rz)
    n = workspace[:, 2 * hidden : 3 * hidden]
    workspace[:, 3 * hidden :] = from_hidden[:, 2 * hidden :]
    np.multiply(workspace[:, :hidden], from_hidden[:, 2 * hidden :], out=n)
    n += from_input[:, 2 * hidden :]
    np.tanh(n, out=n)
    z = workspace[:, hidden : 2 * hidden]
    return n + z * (h - n), workspace


# ---- the VJPs ---------------------------------------------------------------------------------


def _or_zeros(g, like):
    """An output gradient that did not arrive counts as zeros."""
    return np.zeros(like.shape, like.dtype) if g is None else g


def _parts(F, value, count):
    """The `count` equal column blocks of a (B, count*H) value."""
    width = value.shape[1] // count
    return F.split(value, axis=1, bounds=tuple(k * width for k in range(count + 1)))


def _affine_grads(F, dz_input, dz_hidden, x, h, w_ih, w_hh, n_biases, wanted):
    """The gradients of x, h, w_ih, w_hh and the biases of z_i = x W_ih^T + b_ih, z_h = h W_hh^T + b_hh
    from dz_i, dz_h (one (B, G*H) array each); None where `wanted` is False. Without w_ih, x is z_i."""

    def gemm_t(dz, value):  # dz^T value, summed over the batch
        return F.matmul(F.transpose(dz, axes=(1, 0)), value)

    grads = [
        (dz_input if w_ih is None else F.matmul(dz_input, w_ih)) if wanted[0] else None,
        F.matmul(dz_hidden, w_hh) if wanted[1] else None,
        gemm_t(dz_input, x) if wanted[2] else None,
        gemm_t(dz_hidden, h) if wanted[3] else None,
    ]
    for dz, want in zip((dz_input, dz_hidden), wanted[4 : 4 + n_biases]):
        grads.append(F.sum(dz, axis=(0,), keepdims=False) if want else None)
    return grads


def rnn_cell_backward(F, g, x, h, w_ih, w_hh, biases, out, nonlinearity, wanted):
    """Gradients of (x, h, w_ih, w_hh, *biases); None where `wanted` is False."""
    dz = g * (1.0 - out * out) if nonlinearity == "tanh" else g * (out > 0)
    return _affine_grads(F, dz, dz, x, h, w_ih, w_hh, len(biases), wanted)


def lstm_cell_backward(F, g, x, h, c, w_ih, w_hh, biases, out, wanted):
    """Gradients of (x, h, c, w_ih, w_hh, *biases); None where `wanted` is False."""
    wants_gates = any(wanted[:2] + wanted[3:])
    if F is ARRAY_F:
        dz, grad_c = _lstm_gate_grads_on_arrays(g, c, out, wants_gates, wanted[2])
    else:
        dz, grad_c = _lstm_gate_grads(F, g, c, out, wants_gates, wanted[2])
    if not wants_gates:
        return [None, None, grad_c] + [None] * (len(wanted) - 3)
    grads = _affine_grads(F, dz, dz, x, h, w_ih, w_hh, len(biases), wanted[:2] + wanted[3:])
    return grads[:2] + [grad_c] + grads[2:]


def _lstm_gate_grads(F, g, c, out, wants_gates, wants_c):
    """(the gradient of the gates before activation (B, 4H) or None unless `wants_gates`, the gradient of c
    or None unless `wants_c`); c is read only for the first."""
    h_new, c_new, gates = out
    g_h, g_c = _or_zeros(g[0], h_new), _or_zeros(g[1], c_new)
    i, f, g_gate, o = _parts(F, gates, 4)
    tanh_c = F.tanh(c_new)
    dc = g_c + g_h * o * (1.0 - tanh_c * tanh_c)
    grad_c = dc * f if wants_c else None
    if not wants_gates:
        return None, grad_c
    d_i, d_f, d_g, d_o = dc * g_gate, dc * c, dc * i, g_h * tanh_c
    if g[2] is not None:
        d_i, d_f, d_g, d_o = (d + extra for d, extra in zip((d_i, d_f, d_g, d_o), _parts(F, g[2], 4)))
    dz = F.concatenate(
        d_i * i * (1.0 - i), d_f * f * (1.0 - f), d_g * (1.0 - g_gate * g_gate), d_o * o * (1.0 - o), axis=1
    )
    return dz, grad_c


def _lstm_gate_grads_on_arrays(g, c, out, wants_gates, wants_c):
    """`_lstm_gate_grads` on arrays (the same values up to rounding) with few temporaries: each gate's term
    written into its block of one (B, 4H) array, the activations' slopes applied in whole-row operations."""
    h_new, c_new, gates = out
    g_h, g_c = _or_zeros(g[0], h_new), g[1]
    i, f, g_gate, o = _blocks(gates, 4)
    tanh_c = np.tanh(c_new)
    tanh_slope = np.multiply(tanh_c, tanh_c)
    np.subtract(1.0, tanh_slope, out=tanh_slope)
    dc = np.multiply(g_h, o)
    dc *= tanh_slope
    if g_c is not None:
        dc += g_c
    grad_c = dc * f if wants_c else None
    if not wants_gates:
        return None, grad_c
    dz = np.empty_like(gates)
    d_i, d_f, d_g, d_o = _blocks(dz, 4)
    np.multiply(dc, g_gate, out=d_i)
    np.multiply(dc, c, out=d_f)
    np.multiply(dc, i, out=d_g)
    np.multiply(g_h, tanh_c, out=d_o)
    if g[2] is not None:
        dz += g[2]
    slopes = np.subtract(1.0, gates)
    slopes *= gates + _lstm_gate_rows(c_new.shape[1], gates.dtype).on_tanh
    dz *= slopes
    return dz, grad_c


def gru_cell_backward(F, g, x, h, w_ih, w_hh, biases, out, wanted):
    """Gradients of (x, h, w_ih, w_hh, *biases); None where `wanted` is False."""
    dz_input, dz_hidden, direct_h = _gru_gate_grads(F, g, h, out)
    grads = _affine_grads(F, dz_input, dz_hidden, x, h, w_ih, w_hh, len(biases), wanted)
    if wanted[1]:
        grads[1] = grads[1] + direct_h
    return grads


def _gru_gate_grads(F, g, h, out):
    """(the gradient of the input-side gates before activation, that of the hidden-side ones, the part of
    h's gradient that bypasses W_hh: g_h z), both (B, 3H)."""
    h_new, workspace = out
    g_h = _or_zeros(g[0], h_new)
    r, z, n, hidden_n = _parts(F, workspace, 4)
    d_r, d_z, d_n, d_hidden_n = 0.0, g_h * (h - n), g_h * (1.0 - z), 0.0
    if g[1] is not None:
        g_r, g_z, g_n, d_hidden_n = _parts(F, g[1], 4)
        d_r, d_z, d_n = g_r, d_z + g_z, d_n + g_n
    dn_pre = d_n * (1.0 - n * n)
    dr_pre = (dn_pre * hidden_n + d_r) * r * (1.0 - r)
    dz_pre = d_z * z * (1.0 - z)
    dz_input = F.concatenate(dr_pre, dz_pre, dn_pre, axis=1)
    dz_hidden = F.concatenate(dr_pre, dz_pre, dn_pre * r + d_hidden_n, axis=1)
    return dz_input, dz_hidden, g_h * z


class CellForm:
    """How one registry row lays out its inputs. The full form is (x, *states, w_ih, w_hh[, b_ih, b_hh]);
    the hidden-side form ("_hh" ops) is (x_gates, *states, w_hh[, b_hh]) with x_gates = x W_ih^T + b_ih
    computed beforehand (by the sequence modules, for all the steps at once), so it has no w_ih, no b_ih,
    and x_gates' gradient is the input-side gate gradient itself. Both forms share one backward."""

    __slots__ = ("backward", "n_states", "hidden_side")

    def __init__(self, backward, n_states, hidden_side):
        self.backward, self.n_states, self.hidden_side = backward, n_states, hidden_side

    def positions(self, n_inputs):
        """Where each input of the op sits in the full form."""
        if not self.hidden_side:
            return list(range(n_inputs))
        head = list(range(1 + self.n_states))
        return head + [2 + self.n_states, 4 + self.n_states][: n_inputs - len(head)]

    def full(self, inputs):
        """(x, *states, w_ih, w_hh, biases) in the full form; None for what the hidden-side form lacks."""
        head, n = tuple(inputs[: 1 + self.n_states]), 1 + self.n_states
        if not self.hidden_side:
            return (*head, inputs[n], inputs[n + 1], tuple(inputs[n + 2 :]))
        return (*head, None, inputs[n], (None, inputs[n + 1]) if len(inputs) > n + 1 else ())

    def grads(self, F, g, inputs, out, attrs, wanted):
        """The gradients of the op's inputs; None where `wanted` is False."""
        positions = self.positions(len(inputs))
        full_wanted = [False] * (5 + self.n_states)
        for k, position in enumerate(positions):
            full_wanted[position] = wanted[k]
        grads = self.backward(F, g, *self.full(inputs), out, wanted=full_wanted, **attrs)
        return [grads[position] for position in positions]

    def one(self, F, g, inputs, out, attrs, index):
        """One input's gradient: the registry formula."""
        return self.grads(F, g, inputs, out, attrs, [k == index for k in range(len(inputs))])[index]

    def fast_backward(self, g, inputs, out, attrs, needs):
        return self.grads(ARRAY_F, g, inputs, out, attrs, [need is not None for need in needs])

    def forward(self, full_forward):
        """The op's forward through the full form's forward."""
        if not self.hidden_side:
            return full_forward

        def hidden_side_forward(*inputs, **attrs):
            x, *rest = self.full(inputs)
            return full_forward(x, *rest[:-1], *rest[-1], **attrs)

        return hidden_side_forward


RNN, RNN_HH = CellForm(rnn_cell_backward, 1, False), CellForm(rnn_cell_backward, 1, True)
LSTM, LSTM_HH = CellForm(lstm_cell_backward, 2, False), CellForm(lstm_cell_backward, 2, True)
GRU, GRU_HH = CellForm(gru_cell_backward, 1, False), CellForm(gru_cell_backward, 1, True)


# The registry formulas: explicit signatures, so that `reads` can name each input.
def _rnn_grad(F, g, x, h, w_ih, w_hh, *biases, out, nonlinearity, index):
    return RNN.one(F, g, (x, h, w_ih, w_hh, *biases), out, {"nonlinearity": nonlinearity}, index)


def _rnn_hh_grad(F, g, x_gates, h, w_hh, *b_hh, out, nonlinearity, index):
    return RNN_HH.one(F, g, (x_gates, h, w_hh, *b_hh), out, {"nonlinearity": nonlinearity}, index)


def _lstm_grad(F, g, x, h, c, w_ih, w_hh, *biases, out, index):
    return LSTM.one(F, g, (x, h, c, w_ih, w_hh, *biases), out, {}, index)


def _lstm_hh_grad(F, g, x_gates, h, c, w_hh, *b_hh, out, index):
    return LSTM_HH.one(F, g, (x_gates, h, c, w_hh, *b_hh), out, {}, index)


def _gru_grad(F, g, x, h, w_ih, w_hh, *biases, out, index):
    return GRU.one(F, g, (x, h, w_ih, w_hh, *biases), out, {}, index)


def _gru_hh_grad(F, g, x_gates, h, w_hh, *b_hh, out, index):
    return GRU_HH.one(F, g, (x_gates, h, w_hh, *b_hh), out, {}, index)


# ---- the registry rows --------------------------------------------------------------------------


def _cell_samples(gates, hidden_size=None, with_cell=False, hidden_side=False, **attrs):
    """Samples: batch 3, input 4, hidden 5 (the LSTM also with hidden 2 projected from 5), with and without
    biases; the hidden-side form takes input gates (3, gates*5) instead of x and w_ih."""

    def sample(hidden, state, biased):
        rows = gates * hidden
        state_shapes = ((3, state), (3, hidden)) if with_cell else ((3, state),)
        if hidden_side:
            return S((3, rows), *state_shapes, (rows, state), *(((rows,),) if biased else ()), **attrs)
        return S((3, 4), *state_shapes, (rows, 4), (rows, state), *(((rows,), (rows,)) if biased else ()), **attrs)

    samples = [sample(5, 5, True), sample(5, 5, False)]
    if hidden_size is not None:
        samples.append(sample(5, hidden_size, True))
    return tuple(samples)


def _register(name, form, full_forward, declared_reads, formula, **options):
    op = register(name, form.forward(full_forward), reads(declared_reads, formula), variadic=True, **options)
    op.fast_backward = form.fast_backward


def _rnn_samples(**options):
    return _cell_samples(1, nonlinearity="tanh", **options) + _cell_samples(1, nonlinearity="relu", **options)


_register(
    "rnn_cell",
    RNN,
    rnn_cell_forward,
    ("w_ih out", "w_hh out", "x out", "h out", "out"),
    _rnn_grad,
    samples=_rnn_samples(),
)
_register(
    "rnn_cell_hh",
    RNN_HH,
    rnn_cell_forward,
    ("out", "w_hh out", "h out", "out"),
    _rnn_hh_grad,
    samples=_rnn_samples(hidden_side=True),
)
_register(
    "lstm_cell",
    LSTM,
    lstm_cell_forward,
    ("c w_ih out", "c w_hh out", "out", "x c out", "h c out", "c out"),
    _lstm_grad,
    multi_output=True,
    samples=_cell_samples(4, hidden_size=2, with_cell=True),
)
_register(
    "lstm_cell_hh",
    LSTM_HH,
    lstm_cell_forward,
    ("c out", "c w_hh out", "out", "h c out", "c out"),
    _lstm_hh_grad,
    multi_output=True,
    samples=_cell_samples(4, hidden_size=2, with_cell=True, hidden_side=True),
)
_register(
    "gru_cell",
    GRU,
    gru_cell_forward,
    ("h w_ih out", "h w_hh out", "x h out", "h out", "h out"),
    _gru_grad,
    multi_output=True,
    samples=_cell_samples(3),
)
_register(
    "gru_cell_hh",
    GRU_HH,
    gru_cell_forward,
    ("h out", "h w_hh out", "h out", "h out"),
    _gru_hh_grad,
    multi_output=True,
    samples=_cell_samples(3, hidden_side=True),
)


# ---- whole-sequence layers --------------------------------------------------------------------------
#
# `rnn_layer_hh`, `lstm_layer_hh` and `gru_layer_hh` run one layer in one direction over a whole sequence
# as one node: the hidden-side cell of every step in a numpy loop, from the input gates of all the steps
# (computed beforehand in one GEMM). Steps are rows of packed (N, ·) arrays as in a PackedSequence (see
# `StepPlan`). Outputs: the h of every step (N, H_h), the final states (B, ·) and a workspace the VJP reads
# (the LSTM: the activated gates (N, 4H) and the cell state c of every step (N, H); the GRU: the cell's
# workspace of every step (N, 4H)). The VJP runs the steps backwards, each step's cell VJP as in the cell
# ops, and computes the gradient of W_hh in one GEMM over all the steps.


class StepPlan:
    """Where the steps of one layer and direction sit in its (N, ·) arrays: step t in the rows
    [offset_t, offset_t + batch_sizes[t]) as in a PackedSequence (a padded (T, B, ·) sequence is the case of
    equal batch sizes). Batch sizes never grow with t, so the sequences running at step t are the first
    batch_sizes[t] of the batch. The layer runs the steps in increasing t, or decreasing when `reverse`."""

    __slots__ = ("steps", "rows", "batch", "previous_index", "final_index", "packed_order", "previous_runs")

    def __init__(self, batch_sizes, reverse):
        offsets = np.concatenate(([0], np.cumsum(batch_sizes, dtype=np.intp)))
        order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
        self.steps = tuple((int(offsets[t]), int(batch_sizes[t])) for t in order)
        """(first row, number of rows) of each step, in the order the layer runs them."""
        self.packed_order = order
        """The indices into `steps` in increasing t: `order` again, as step t is steps[T - 1 - t] when reversed."""
        self.rows, self.batch = int(offsets[-1]), max(batch_sizes)
        self.previous_index = np.empty(self.rows, np.intp)
        """For each row, its row in concatenate(the state of every step (N, ·), the initial state (B, ·)) of
        the state its step starts from: its sequence's state at the step before, or the initial state."""
        self.final_index = np.empty(self.batch, np.intp)
        """For each sequence, the row of its last step."""
        last_start, last_rows = 0, 0
        for start, rows in self.steps:
            own = np.arange(rows)
            self.previous_index[start : start + rows] = np.where(own < last_rows, last_start + own, self.rows + own)
            self.final_index[:rows] = start + own
            last_start, last_rows = start, rows
        for index in (self.previous_index, self.final_index):
            index.setflags(write=False)
        # The rows whose previous states are consecutive rows of one source, as (first row, end, source row of
        # the first) with source rows counted as in previous_index: a padded layer has two such runs.
        breaks = np.flatnonzero((np.diff(self.previous_index) != 1) | (self.previous_index[1:] == self.rows)) + 1
        bounds = np.concatenate(([0], breaks, [self.rows]))
        self.previous_runs = tuple((int(a), int(b), int(self.previous_index[a])) for a, b in itertools.pairwise(bounds))

    def times_previous(self, dz, states, initial):
        """dz^T @ (the state each row's step starts from), (N, G*H) by states (N, ·) and initial (B, ·), as one
        GEMM per run of consecutive previous rows (no gathered copy)."""
        total = None
        for first, end, source in self.previous_runs:
            if source >= self.rows:
                previous = initial[source - self.rows : source - self.rows + end - first]
            else:
                previous = states[source : source + end - first]
            term = np.matmul(dz[first:end].T, previous)
            total = term if total is None else np.add(total, term, out=total)
        return total

    def previous(self, states, initial, k):
        """The state (arrays) that step `k` (in running order) starts from: a view where it can be."""
        rows = self.steps[k][1]
        if k == 0:
            return initial[:rows]
        last_start, last_rows = self.steps[k - 1]
        if rows <= last_rows:
            return states[last_start : last_start + rows]
        return np.concatenate((states[last_start : last_start + last_rows], initial[last_rows:rows]))


@functools.lru_cache(maxsize=64)
def step_plan(batch_sizes, reverse):
    """The (cached) `StepPlan` of a tuple of batch sizes and a direction."""
    return StepPlan(batch_sizes, reverse)


def lstm_gates_and_cell(z, x_gates, b_hh, c_prev, c):
    """One LSTM step's elementwise part, numpy: z = h W_hh^T (B, 4H) plus the input gates x_gates and b_hh
    (or None), activated in place as in `lstm_cell_forward`; c = f c_prev + i g written into `c`."""
    rows = _lstm_gate_rows(c.shape[1], z.dtype)
    z += x_gates
    if b_hh is not None:
        z += b_hh
    z *= rows.scale
    np.tanh(z, out=z)
    z *= rows.scale
    z += rows.shift
    i, f, g, _ = _blocks(z, 4)
    np.multiply(f, c_prev, out=c)
    c += i * g


def lstm_layer_forward_loop(x_gates, h0, c0, w_hh, *b_hh, batch_sizes, reverse, gates_and_cell):
    """(h of every step, h_n, c_n, activated gates of every step, c of every step), each step as
    `lstm_cell_forward`, in preallocated arrays; `gates_and_cell` does a step's elementwise part (numpy's
    `lstm_gates_and_cell`, or the compiled one)."""
    plan = step_plan(batch_sizes, reverse)
    # The GEMM writes the gates' rows. Its transpose W_hh h^T, which OpenBLAS splits better between 2 threads
    # (26 against 34 us per step in this loop at batch 32, hidden 128, float32), would need a copy back to
    # this layout costing more (19 us; the elementwise pass reading it transposed did not vectorize).
    w_hh_t = np.ascontiguousarray(w_hh.T)
    dtype = np.result_type(x_gates, h0, c0, w_hh, *b_hh)
    gates = np.empty(x_gates.shape, dtype)
    output = np.empty((plan.rows, h0.shape[1]), dtype)
    cells = np.empty((plan.rows, c0.shape[1]), dtype)
    for k, (start, n) in enumerate(plan.steps):
        rows = slice(start, start + n)
        z, c, h = gates[rows], cells[rows], output[rows]
        np.matmul(plan.previous(output, h0, k), w_hh_t, out=z)
        gates_and_cell(z, x_gates[rows], b_hh[0] if b_hh else None, plan.previous(cells, c0, k), c)
        np.tanh(c, out=h)
        h *= z[:, 3 * c.shape[1] :]
    return output, output[plan.final_index], cells[plan.final_index], gates, cells


def lstm_layer_forward_numpy(x_gates, h0, c0, w_hh, *b_hh, batch_sizes, reverse):
    """`lstm_layer_forward_loop` with numpy's step."""
    return lstm_layer_forward_loop(
        x_gates, h0, c0, w_hh, *b_hh, batch_sizes=batch_sizes, reverse=reverse, gates_and_cell=lstm_gates_and_cell
    )


lstm_layer_forward = backend.kernel(
    "lstm_layer_forward",
    lstm_layer_forward_numpy,
    recurrent_kernels.numba_lstm_layer_forward(lstm_layer_forward_loop, lstm_layer_forward_numpy),
)


def _hidden_layer_forward(step_forward, x_gates, h0, w_hh, b_hh, plan, workspace_width, **attrs):
    """(h of every step, h_n[, the step workspaces]) of the RNN or GRU: `step_forward`, the cell's forward,
    over the steps; W_hh goes in transposed and contiguous for the GEMM."""
    w_hh_for_gemm = np.ascontiguousarray(w_hh.T).T
    biases = (None, b_hh[0]) if b_hh else ()
    output = np.empty((plan.rows, h0.shape[1]), np.result_type(x_gates, h0))
    workspace = np.empty((plan.rows, workspace_width), output.dtype) if workspace_width else None
    for k, (start, n) in enumerate(plan.steps):
        rows = slice(start, start + n)
        step = step_forward(x_gates[rows], plan.previous(output, h0, k), None, w_hh_for_gemm, *biases, **attrs)
        if workspace is None:
            output[rows] = step
        else:
            output[rows], workspace[rows] = step
    final = output[plan.final_index]
    return (output, final) if workspace is None else (output, final, workspace)


def rnn_layer_forward(x_gates, h0, w_hh, *b_hh, batch_sizes, reverse, nonlinearity):
    """(h of every step, h_n), each step as `rnn_cell_forward`."""
    plan = step_plan(batch_sizes, reverse)
    return _hidden_layer_forward(rnn_cell_forward, x_gates, h0, w_hh, b_hh, plan, 0, nonlinearity=nonlinearity)


def gru_layer_forward(x_gates, h0, w_hh, *b_hh, batch_sizes, reverse):
    """(h of every step, h_n, the workspace of every step), each step as `gru_cell_forward`."""
    plan = step_plan(batch_sizes, reverse)
    return _hidden_layer_forward(gru_cell_forward, x_gates, h0, w_hh, b_hh, plan, 4 * h0.shape[1])


class LayerForm:
    """The layout of one whole-sequence op: inputs (x_gates, *initial states, w_hh[, b_hh]), outputs
    (h of every step, *final states, *workspace); the subclasses say where each cell's states and
    workspace sit and which cell VJP a step runs. One backward serves the registry formulas and, on
    arrays, the op's `fast_backward`."""

    n_states = 1
    reads_previous: tuple[bool, ...] = (False,)
    """Which states' values at the step before the cell VJP reads (besides h for the gradient of W_hh)."""

    def sequences(self, out):
        """The value of each state at every step (N, ·)."""
        return (out[0],)

    def sequence_grads(self, g):
        """The gradients arriving at those directly."""
        return (g[0],)

    def step_out(self, F, out, rows):
        """The cell op's output at one step."""
        raise NotImplementedError

    def step_grad(self, F, g, state_grads, rows):
        """The cell op's output gradient at one step, given the gradients of its new states."""
        raise NotImplementedError

    def gate_grads(self, F, g, previous, out, attrs):
        """(the gradient of the input-side gates before activation, that of the hidden-side ones, the
        gradient of each previous state that bypasses W_hh, or None) at one step."""
        raise NotImplementedError

    def grads(self, F, g, inputs, out, attrs, wanted):
        """The gradients of the op's inputs; None where `wanted` is False."""
        n_states = self.n_states
        states0, w_hh = inputs[1 : 1 + n_states], inputs[1 + n_states]
        plan = step_plan(attrs["batch_sizes"], attrs["reverse"])
        cell_attrs = {k: v for k, v in attrs.items() if k not in ("batch_sizes", "reverse")}
        sequences = self.sequences(out)
        # What reaches each state of each step: directly, and through the final states.
        arriving = []
        for sequence, direct, final in zip(sequences, self.sequence_grads(g), g[1 : 1 + n_states]):
            if final is not None:
                scattered = F.scatter_add(final, index=(plan.final_index,), shape=tuple(sequence.shape))
                direct = scattered if direct is None else direct + scattered
            arriving.append(direct)
        wants_weight = any(wanted[1 + n_states :])
        # The state each row's step starts from, where read: on arrays, per step as views (and W_hh's
        # gradient by `times_previous`), with F gathered for all the steps.
        on_arrays = F is ARRAY_F
        previous = [
            F.getitem(F.concatenate(sequence, state0, axis=0), index=(plan.previous_index,))
            if (reads or (k == 0 and wanted[1 + n_states])) and not on_arrays
            else None
            for k, (sequence, state0, reads) in enumerate(zip(sequences, states0, self.reads_previous))
        ]
        carried = [None] * n_states
        initial_parts = [[] for _ in range(n_states)]
        dz_input, dz_hidden = [None] * len(plan.steps), [None] * len(plan.steps)
        for k in reversed(range(len(plan.steps))):
            start, n = plan.steps[k]
            rows = (slice(start, start + n),)
            state_grads = [
                _with_carried(F, None if a is None else F.getitem(a, index=rows), c, n, parts)
                for a, c, parts in zip(arriving, carried, initial_parts)
            ]
            if on_arrays:
                step_previous = [
                    plan.previous(sequence, state0, k) if reads else None
                    for sequence, state0, reads in zip(sequences, states0, self.reads_previous)
                ]
            else:
                step_previous = [None if p is None else F.getitem(p, index=rows) for p in previous]
            step_g = self.step_grad(F, g, state_grads, rows)
            dz_input[k], dz_hidden[k], direct = self.gate_grads(
                F, step_g, step_previous, self.step_out(F, out, rows), cell_attrs
            )
            through_w = F.matmul(dz_hidden[k], w_hh)
            carried = [through_w if direct[0] is None else through_w + direct[0], *direct[1:]]
        grads = [None] * len(inputs)
        if wanted[0]:
            grads[0] = F.concatenate(*(dz_input[k] for k in plan.packed_order), axis=0)
        for s in range(n_states):
            if wanted[1 + s]:
                parts = sorted(initial_parts[s] + [(0, carried[s])], key=lambda part: part[0])
                grads[1 + s] = F.concatenate(*(part for _, part in parts), axis=0)
        if wants_weight:
            dz = F.concatenate(*(dz_hidden[k] for k in plan.packed_order), axis=0)
            if wanted[1 + n_states] and on_arrays:
                grads[1 + n_states] = plan.times_previous(dz, sequences[0], states0[0])
            elif wanted[1 + n_states]:
                grads[1 + n_states] = F.matmul(F.transpose(dz, axes=(1, 0)), previous[0])
            if len(inputs) > 2 + n_states and wanted[2 + n_states]:
                grads[2 + n_states] = F.sum(dz, axis=(0,), keepdims=False)
        return grads

    def one(self, F, g, inputs, out, attrs, index):
        """One input's gradient: the registry formula."""
        return self.grads(F, g, inputs, out, attrs, [k == index for k in range(len(inputs))])[index]

    def fast_backward(self, g, inputs, out, attrs, needs):
        return self.grads(ARRAY_F, g, inputs, out, attrs, [need is not None for need in needs])


def _with_carried(F, arriving, carried, rows, initial_parts):
    """The gradient of the `rows` new states of a step: what arrives there directly (or None) plus what
    the step after carried back to them (or None). Carried rows beyond `rows` (sequences that start at this
    step, in a reverse layer) belong to the initial state: they go to `initial_parts` as (first row, rows)."""
    if carried is None:
        return arriving
    carried_rows = carried.shape[0]
    if carried_rows > rows:
        initial_parts.append((rows, F.getitem(carried, index=(slice(rows, carried_rows),))))
        carried, carried_rows = F.getitem(carried, index=(slice(0, rows),)), rows
    if carried_rows == rows:
        return carried if arriving is None else arriving + carried
    # Fewer rows carried: the sequences that end at this step get only what arrives.
    head = carried if arriving is None else F.getitem(arriving, index=(slice(0, carried_rows),)) + carried
    if arriving is None:
        tail = np.zeros((rows - carried_rows, carried.shape[1]), carried.dtype)
    else:
        tail = F.getitem(arriving, index=(slice(carried_rows, rows),))
    return F.concatenate(head, tail, axis=0)


class _RnnLayer(LayerForm):
    def step_out(self, F, out, rows):
        return F.getitem(out[0], index=rows)

    def step_grad(self, F, g, state_grads, rows):
        return state_grads[0]

    def gate_grads(self, F, g, previous, out, attrs):
        g = _or_zeros(g, out)
        dz = g * (1.0 - out * out) if attrs["nonlinearity"] == "tanh" else g * (out > 0)
        return dz, dz, [None]


class _LstmLayer(LayerForm):
    n_states = 2
    reads_previous = (False, True)

    def sequences(self, out):
        return out[0], out[4]

    def sequence_grads(self, g):
        return g[0], g[4]

    def step_out(self, F, out, rows):
        return tuple(F.getitem(out[k], index=rows) for k in (0, 4, 3))

    def step_grad(self, F, g, state_grads, rows):
        return (*state_grads, None if g[3] is None else F.getitem(g[3], index=rows))

    def gate_grads(self, F, g, previous, out, attrs):
        if F is ARRAY_F:
            dz, grad_c = _lstm_gate_grads_on_arrays(g, previous[1], out, True, True)
        else:
            dz, grad_c = _lstm_gate_grads(F, g, previous[1], out, True, True)
        return dz, dz, [None, grad_c]


class _GruLayer(LayerForm):
    reads_previous = (True,)

    def step_out(self, F, out, rows):
        return F.getitem(out[0], index=rows), F.getitem(out[2], index=rows)

    def step_grad(self, F, g, state_grads, rows):
        return state_grads[0], None if g[2] is None else F.getitem(g[2], index=rows)

    def gate_grads(self, F, g, previous, out, attrs):
        dz_input, dz_hidden, direct_h = _gru_gate_grads(F, g, previous[0], out)
        return dz_input, dz_hidden, [direct_h]


def lstm_gate_grads_step(dh, grad_h, dc, grad_c, gates, c_prev, tanh_c, grad_gates, dz):
    """One LSTM step's elementwise backward, numpy, as `_lstm_gate_grads_on_arrays`: adds what arrives
    (grad_h, grad_c, each (B, H)) to the carried gradients dh and dc of the step's new h and c; writes the
    gradient of the gates before activation into dz (B, 4H), with grad_gates that of the activated gates
    (or None); leaves in dc the gradient of c_prev (dc f). tanh_c = tanh(c') of the step."""
    dh += grad_h
    hidden = dh.shape[1]
    i, f, g, o = _blocks(gates, 4)
    dc_per_dh = np.multiply(tanh_c, tanh_c)
    np.subtract(1.0, dc_per_dh, out=dc_per_dh)
    dc_per_dh *= o
    dc_per_dh *= dh
    dc += dc_per_dh
    if grad_c is not None:
        dc += grad_c
    d_i, d_f, d_g, d_o = _blocks(dz, 4)
    np.multiply(dc, g, out=d_i)
    np.multiply(dc, c_prev, out=d_f)
    np.multiply(dc, i, out=d_g)
    np.multiply(dh, tanh_c, out=d_o)
    dc *= f
    if grad_gates is not None:
        dz += grad_gates
    slopes = np.subtract(1.0, gates)
    slopes *= gates + _lstm_gate_rows(hidden, gates.dtype).on_tanh
    dz *= slopes


def _arrived(g, final, plan, like):
    """The gradient reaching every step's state (N, ·), in a fresh array: `g` (or zeros) plus the final
    state's gradient `final` at each sequence's last step."""
    total = np.zeros(like.shape, like.dtype) if g is None else np.array(g, like.dtype)
    if final is not None:
        total[plan.final_index] += final
    return total


def lstm_layer_backward_loop(g, inputs, out, attrs, needs, gate_grads_step):
    """The gradients of `lstm_layer_hh`'s inputs on arrays, as `LSTM_LAYER.grads` gives them: the steps in
    reverse, `gate_grads_step` (numpy's `lstm_gate_grads_step` or the compiled one) writing each step's
    gate gradient into one (N, 4H) array (the gradient of x_gates), tanh(c) computed for all the steps at
    once beforehand; the gradient of W_hh in one GEMM per run of consecutive previous states (one or two
    for a padded batch)."""
    output, _, _, gates, cells = out
    _, h0, c0, w_hh = inputs[:4]
    plan = step_plan(attrs["batch_sizes"], attrs["reverse"])
    # Contiguous gradients: a broadcast one (that of a sum) made the compiled step 3.5 times slower.
    contiguous = g[0] is not None and g[1] is None and g[0].flags.c_contiguous
    grad_h = g[0] if contiguous else _arrived(g[0], g[1], plan, output)
    grad_gates = None if g[3] is None else np.ascontiguousarray(g[3])
    grad_c = None if g[2] is None and g[4] is None else _arrived(g[4], g[2], plan, cells)
    tanh_c = np.tanh(cells)
    dz = np.empty_like(gates)
    # The carried rows of a step are those of the states it starts from; the rest hold 0 (sequences that
    # end at this step, in a forward layer) or the finished gradient of an initial state (in a reverse
    # layer, sequences that start after this step), so that after the loop they hold those of h0 and c0.
    carried_h = np.zeros((plan.batch, output.shape[1]), gates.dtype)
    carried_c = np.zeros((plan.batch, cells.shape[1]), gates.dtype)
    for k in reversed(range(len(plan.steps))):
        start, n = plan.steps[k]
        rows = slice(start, start + n)
        gate_grads_step(
            carried_h[:n],
            grad_h[rows],
            carried_c[:n],
            None if grad_c is None else grad_c[rows],
            gates[rows],
            plan.previous(cells, c0, k),
            tanh_c[rows],
            None if grad_gates is None else grad_gates[rows],
            dz[rows],
        )
        # W_hh^T dz^T (then copied back) is 8 us faster timed alone but measured 2 us slower in this loop.
        np.matmul(dz[rows], w_hh, out=carried_h[:n])
    grads = [dz, carried_h, carried_c, None, None]
    if needs[3] is not None:
        grads[3] = plan.times_previous(dz, output, h0)
    if len(inputs) > 4 and needs[4] is not None:
        grads[4] = dz.sum(axis=0)
    return [grad if need is not None else None for grad, need in zip(grads, needs)]


def lstm_layer_backward_numpy(g, inputs, out, attrs, needs):
    """`lstm_layer_backward_loop` with numpy's step."""
    return lstm_layer_backward_loop(g, inputs, out, attrs, needs, lstm_gate_grads_step)


lstm_layer_fast_backward = backend.kernel(
    "lstm_layer_backward",
    lstm_layer_backward_numpy,
    recurrent_kernels.numba_lstm_layer_backward(lstm_layer_backward_loop, lstm_layer_backward_numpy),
)


RNN_LAYER, LSTM_LAYER, GRU_LAYER = _RnnLayer(), _LstmLayer(), _GruLayer()


def _rnn_layer_grad(F, g, x_gates, h0, w_hh, *b_hh, out, batch_sizes, reverse, nonlinearity, index):
    attrs = {"batch_sizes": batch_sizes, "reverse": reverse, "nonlinearity": nonlinearity}
    return RNN_LAYER.one(F, g, (x_gates, h0, w_hh, *b_hh), out, attrs, index)


def _lstm_layer_grad(F, g, x_gates, h0, c0, w_hh, *b_hh, out, batch_sizes, reverse, index):
    attrs = {"batch_sizes": batch_sizes, "reverse": reverse}
    return LSTM_LAYER.one(F, g, (x_gates, h0, c0, w_hh, *b_hh), out, attrs, index)


def _gru_layer_grad(F, g, x_gates, h0, w_hh, *b_hh, out, batch_sizes, reverse, index):
    attrs = {"batch_sizes": batch_sizes, "reverse": reverse}
    return GRU_LAYER.one(F, g, (x_gates, h0, w_hh, *b_hh), out, attrs, index)


def _layer_samples(gates, with_cell=False, **attrs):
    """Samples: hidden 3, batch 3, a padded sequence of 3 steps and a packed one of lengths (4, 3, 1), both
    directions, with a bias, and one without."""
    hidden = 3
    rows = gates * hidden
    states = ((3, hidden), (3, hidden)) if with_cell else ((3, hidden),)
    samples = []
    for batch_sizes in ((3, 3, 3), (3, 2, 2, 1)):
        for reverse in (False, True):
            steps = sum(batch_sizes)
            shapes = ((steps, rows), *states, (rows, hidden), (rows,))
            samples.append(S(*shapes, batch_sizes=batch_sizes, reverse=reverse, **attrs))
    samples.append(S((6, rows), *states, (rows, hidden), batch_sizes=(3, 2, 1), reverse=False, **attrs))
    return tuple(samples)


def _register_layer(name, form, forward, declared_reads, formula, samples):
    op = register(name, forward, reads(declared_reads, formula), variadic=True, multi_output=True, samples=samples)
    op.fast_backward = form.fast_backward


_register_layer(
    "rnn_layer_hh",
    RNN_LAYER,
    rnn_layer_forward,
    ("w_hh out", "w_hh out", "h0 w_hh out", "w_hh out"),
    _rnn_layer_grad,
    _layer_samples(1, nonlinearity="tanh")[::2] + _layer_samples(1, nonlinearity="relu")[1::2],
)
_register_layer(
    "lstm_layer_hh",
    LSTM_LAYER,
    lstm_layer_forward,
    ("c0 w_hh out", "c0 w_hh out", "c0 w_hh out", "h0 c0 w_hh out", "c0 w_hh out"),
    _lstm_layer_grad,
    _layer_samples(4, with_cell=True),
)
REGISTRY["lstm_layer_hh"].fast_backward = lstm_layer_fast_backward
_register_layer(
    "gru_layer_hh",
    GRU_LAYER,
    gru_layer_forward,
    ("h0 w_hh out",),
    _gru_layer_grad,
    _layer_samples(3),
)


# ---- checked entry points -----------------------------------------------------------------------


def _shape(value):
    return tuple(np.shape(value._data if isinstance(value, Tensor) else value))


def _check_cell(who, gates, x, states, w_ih, w_hh, b_ih, b_hh):
    """Raise a ValueError naming `who` and the shapes unless they fit together (see the module docstring);
    without w_ih, x holds the input gates (batch, gates*hidden). Returns the op's bias inputs."""
    w_hh_shape = _shape(w_hh)
    if len(w_hh_shape) != 2 or w_hh_shape[0] % gates:
        raise ValueError(f"{who}: expected weight_hh of shape ({gates}*hidden_size, hidden_size), got {w_hh_shape}")
    rows, x_shape = w_hh_shape[0], _shape(x)
    if w_ih is None:
        if len(x_shape) != 2 or x_shape[1] != rows:
            raise ValueError(
                f"{who}: input gates of shape {x_shape} do not match weight_hh of shape {w_hh_shape} "
                f"(expected (batch, {rows}))"
            )
    else:
        w_ih_shape = _shape(w_ih)
        if len(w_ih_shape) != 2 or w_ih_shape[0] != rows:
            raise ValueError(
                f"{who}: weight_ih of shape {w_ih_shape} does not match weight_hh of shape "
                f"{w_hh_shape} (expected ({rows}, input_size))"
            )
        if len(x_shape) != 2 or x_shape[1] != w_ih_shape[1]:
            raise ValueError(
                f"{who}: input of shape {x_shape} does not match weight_ih of shape {w_ih_shape} "
                f"(expected (batch, {w_ih_shape[1]}))"
            )
    expected_states = ((x_shape[0], w_hh_shape[1]), (x_shape[0], rows // gates))
    for name, state, expected in zip(("hidden state", "cell state"), states, expected_states):
        if _shape(state) != expected:
            raise ValueError(
                f"{who}: {name} of shape {_shape(state)} does not match input of shape {x_shape} "
                f"and weight_hh of shape {w_hh_shape} (expected {expected})"
            )
    if w_ih is not None and (b_ih is None) != (b_hh is None):
        raise ValueError(f"{who}: give both biases or neither")
    for name, bias in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if bias is not None and _shape(bias) != (rows,):
            raise ValueError(
                f"{who}: {name} of shape {_shape(bias)} does not match weight_hh of shape "
                f"{w_hh_shape} (expected ({rows},))"
            )
    return tuple(b for b in (b_ih, b_hh) if b is not None)


def _checked_nonlinearity(who, nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{who}: nonlinearity must be one of {list(NONLINEARITIES)}, got {nonlinearity!r}")
    return nonlinearity


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One Elman RNN step, one node: act(x W_ih^T + b_ih + h W_hh^T + b_hh), act "tanh" or "relu".
    x (B, in), h (B, H), w_ih (H, in), w_hh (H, H), biases (H,) or None."""
    nonlinearity = _checked_nonlinearity("rnn_cell", nonlinearity)
    biases = _check_cell("rnn_cell", 1, x, (h,), w_ih, w_hh, b_ih, b_hh)
    return apply(REGISTRY["rnn_cell"], x, h, w_ih, w_hh, *biases, nonlinearity=nonlinearity)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, one node: returns (h', c'). x (B, in), h (B, H_h), c (B, H), w_ih (4H, in),
    w_hh (4H, H_h), biases (4H,) or None; gates in PyTorch's order i, f, g, o."""
    biases = _check_cell("lstm_cell", 4, x, (h, c), w_ih, w_hh, b_ih, b_hh)
    h_new, c_new, _ = apply(REGISTRY["lstm_cell"], x, h, c, w_ih, w_hh, *biases)
    return h_new, c_new


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step, one node: returns h'. x (B, in), h (B, H), w_ih (3H, in), w_hh (3H, H), biases (3H,)
    or None; gates in PyTorch's order r, z, n, with n = tanh(W_in x + b_in + r (W_hn h + b_hn))."""
    biases = _check_cell("gru_cell", 3, x, (h,), w_ih, w_hh, b_ih, b_hh)
    return apply(REGISTRY["gru_cell"], x, h, w_ih, w_hh, *biases)[0]


# The hidden-side forms: x_gates = x W_ih^T + b_ih (B, G*H), computed beforehand for a whole sequence.


def rnn_cell_hh(x_gates, h, w_hh, b_hh=None, nonlinearity="tanh"):
    """`rnn_cell` given the input gates x_gates = x W_ih^T + b_ih: act(x_gates + h W_hh^T + b_hh)."""
    nonlinearity = _checked_nonlinearity("rnn_cell_hh", nonlinearity)
    bias = _check_cell("rnn_cell_hh", 1, x_gates, (h,), None, w_hh, None, b_hh)
    return apply(REGISTRY["rnn_cell_hh"], x_gates, h, w_hh, *bias, nonlinearity=nonlinearity)


def lstm_cell_hh(x_gates, h, c, w_hh, b_hh=None):
    """`lstm_cell` given the input gates x_gates = x W_ih^T + b_ih: returns (h', c')."""
    bias = _check_cell("lstm_cell_hh", 4, x_gates, (h, c), None, w_hh, None, b_hh)
    h_new, c_new, _ = apply(REGISTRY["lstm_cell_hh"], x_gates, h, c, w_hh, *bias)
    return h_new, c_new


def gru_cell_hh(x_gates, h, w_hh, b_hh=None):
    """`gru_cell` given the input gates x_gates = x W_ih^T + b_ih (r, z, n): returns h'."""
    bias = _check_cell("gru_cell_hh", 3, x_gates, (h,), None, w_hh, None, b_hh)
    return apply(REGISTRY["gru_cell_hh"], x_gates, h, w_hh, *bias)[0]


# The whole-sequence layers: x_gates = x W_ih^T + b_ih of every step, (T, B, G*H) padded, or (N, G*H) packed
# with the batch size of each step in `batch_sizes`.


def _run_layer(who, gates, x_gates, states, w_hh, b_hh, batch_sizes, reverse, **attrs):
    """Check the shapes, run the layer op `who`, return (h of every step in x_gates' layout, *final states)."""
    x_shape = _shape(x_gates)
    padded = batch_sizes is None
    if padded:
        if len(x_shape) != 3:
            raise ValueError(f"{who}: expected input gates of shape (steps, batch, gates*hidden), got {x_shape}")
        batch_sizes = (x_shape[1],) * x_shape[0]
        x_gates = x_gates.reshape(x_shape[0] * x_shape[1], x_shape[2])
    else:
        batch_sizes = tuple(int(n) for n in batch_sizes)
        if len(x_shape) != 2 or sum(batch_sizes) != x_shape[0]:
            raise ValueError(
                f"{who}: expected packed input gates of shape ({sum(batch_sizes)}, gates*hidden) for batch sizes "
                f"{list(batch_sizes)}, got {x_shape}"
            )
        if (
            any(later > earlier for earlier, later in itertools.pairwise(batch_sizes))
            or min(batch_sizes, default=1) < 1
        ):
            raise ValueError(f"{who}: batch sizes must be positive and non-increasing, got {list(batch_sizes)}")
    if not batch_sizes:
        raise ValueError(f"{who}: expected at least one step, got input gates of shape {x_shape}")
    step_shape = (batch_sizes[0], _shape(x_gates)[1])
    bias = _check_cell(who, gates, np.empty(step_shape), states, None, w_hh, None, b_hh)
    output, *rest = apply(
        REGISTRY[who], x_gates, *states, w_hh, *bias, batch_sizes=batch_sizes, reverse=reverse, **attrs
    )
    if padded:
        output = output.reshape(x_shape[0], x_shape[1], output.shape[1])
    return (output, *rest[: len(states)])


def rnn_layer_hh(
    x_gates: Tensor,
    h0: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None = None,
    batch_sizes: Sequence[int] | None = None,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor]:
    """A whole Elman RNN layer in one direction, one node: the h of every step and h_n, each step as
    `rnn_cell_hh`; x_gates (T, B, H), or packed (N, H) with `batch_sizes`; h0 (B, H)."""
    nonlinearity = _checked_nonlinearity("rnn_layer_hh", nonlinearity)
    return _run_layer("rnn_layer_hh", 1, x_gates, (h0,), w_hh, b_hh, batch_sizes, reverse, nonlinearity=nonlinearity)


def lstm_layer_hh(
    x_gates: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None = None,
    batch_sizes: Sequence[int] | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """A whole LSTM layer in one direction, one node: (the h of every step, h_n, c_n), each step as
    `lstm_cell_hh`; x_gates (T, B, 4H), or packed (N, 4H) with `batch_sizes`; h0, c0 (B, H)."""
    return _run_layer("lstm_layer_hh", 4, x_gates, (h0, c0), w_hh, b_hh, batch_sizes, reverse)


def gru_layer_hh(
    x_gates: Tensor,
    h0: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None = None,
    batch_sizes: Sequence[int] | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """A whole GRU layer in one direction, one node: (the h of every step, h_n), each step as
    `gru_cell_hh`; x_gates (T, B, 3H), or packed (N, 3H) with `batch_sizes`; h0 (B, H)."""
    return _run_layer("gru_layer_hh", 3, x_gates, (h0,), w_hh, b_hh, batch_sizes, reverse)
