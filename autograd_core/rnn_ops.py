"""Recurrent cells as fused ops: one time step of an Elman RNN, an LSTM or a GRU is one registry entry
(one graph node): the two gate GEMMs and the elementwise gate math in the forward, the VJP of every
input (x, the hidden state h, the cell state c, both weights, both biases) in the backward.

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
from typing import NamedTuple

import numpy as np

from .engine import apply
from .ops import ARRAY_F, REGISTRY, S, reads, register
from .tensor import Tensor

__all__ = ["rnn_cell", "lstm_cell", "gru_cell", "rnn_cell_hh", "lstm_cell_hh", "gru_cell_hh", "NONLINEARITIES"]

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
    grads = _affine_grads(F, dz_input, dz_hidden, x, h, w_ih, w_hh, len(biases), wanted)
    if wanted[1]:
        grads[1] = grads[1] + g_h * z
    return grads


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
