"""Recurrent layers with PyTorch's signatures, parameter names, initialisation and return values:
`RNNCell`, `LSTMCell`, `GRUCell` (one step) and `RNN`, `LSTM`, `GRU` (whole sequences, stacked
layers, both directions, padded or packed batches).

A cell module's step is one node of the graph, a fused cell op of `autograd_core.rnn_ops`. A sequence
layer computes the input gates x W_ih^T + b_ih of all its steps in one GEMM (one `linear` node per layer
and direction), then runs all its steps as one node, a whole-sequence op (`rnn_layer_hh`,
`lstm_layer_hh`, `gru_layer_hh`) whose forward and backward loop over the steps in numpy. An LSTM with
proj_size keeps one node per step instead (the hidden-side cell op and a projection node): the layer ops
have no projection.

Variable-length batches arrive as a `PackedSequence` (see `nn.utils.rnn`): at step t only the first
batch_sizes[t] sequences run, so each sequence's final state is the state after its own last step,
and the output is a PackedSequence again.
"""

import math
import warnings

import numpy as np

import autograd_core as ag
from autograd_core import fused_ops, rnn_ops

from . import functional as F
from . import init
from .module import Module, Parameter, check_size
from .utils.rnn import PackedSequence

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "RNNBase", "RNNCellBase"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _floats(*shape):
    return np.zeros(shape, dtype=ag.get_default_dtype())


def _reset_uniform(module):
    """PyTorch's init for every recurrent weight and bias: U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _cell_step(mode, x, state, w_ih, w_hh, b_ih, b_hh):
    """One step of `mode` on x (B, in) from `state`, (h,) or (h, c) for an LSTM: one fused cell node."""
    if mode == "LSTM":
        return rnn_ops.lstm_cell(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh)
    if mode == "GRU":
        return (rnn_ops.gru_cell(x, state[0], w_ih, w_hh, b_ih, b_hh),)
    return (rnn_ops.rnn_cell(x, state[0], w_ih, w_hh, b_ih, b_hh, nonlinearity=mode[4:].lower()),)


def _sequence_layer(mode, x_gates, initial, w_hh, b_hh, batch_sizes, reverse):
    """One layer in one direction from its input gates x W_ih^T + b_ih ((L, B, G*H), or packed (N, G*H) with
    `batch_sizes`): one whole-sequence node. Returns (the h of every step, *final states)."""
    if mode == "LSTM":
        return rnn_ops.lstm_layer_hh(x_gates, initial[0], initial[1], w_hh, b_hh, batch_sizes, reverse)
    if mode == "GRU":
        return rnn_ops.gru_layer_hh(x_gates, initial[0], w_hh, b_hh, batch_sizes, reverse)
    nonlinearity = mode[4:].lower()
    return rnn_ops.rnn_layer_hh(x_gates, initial[0], w_hh, b_hh, batch_sizes, reverse, nonlinearity)


def _sequence_step(mode, x_gates, state, w_hh, b_hh, w_hr):
    """One step of a sequence layer run step by step (an LSTM with projections) from its input gates
    x W_ih^T + b_ih (B, G*H): the hidden-side cell node, and with w_hr not None the projection of h."""
    if mode == "LSTM":
        h, c = rnn_ops.lstm_cell_hh(x_gates, state[0], state[1], w_hh, b_hh)
        return (h if w_hr is None else fused_ops.linear(h, w_hr), c)
    if mode == "GRU":
        return (rnn_ops.gru_cell_hh(x_gates, state[0], w_hh, b_hh),)
    return (rnn_ops.rnn_cell_hh(x_gates, state[0], w_hh, b_hh, nonlinearity=mode[4:].lower()),)


# ---- cells ------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """The parameters of one cell: weight_ih (G*hidden, input), weight_hh (G*hidden, hidden),
    bias_ih, bias_hh (G*hidden,), G the number of gates of `mode`."""

    mode: str | None = None

    def __init__(self, input_size, hidden_size, bias=True, mode=None):
        super().__init__()
        name = type(self).__name__
        check_size(name, "input_size", input_size)
        check_size(name, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.mode = mode or type(self).mode
        rows = GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(_floats(rows, input_size))
        self.weight_hh = Parameter(_floats(rows, hidden_size))
        self.register_parameter("bias_ih", Parameter(_floats(rows)) if bias else None)
        self.register_parameter("bias_hh", Parameter(_floats(rows)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def _run(self, input, hx, states):
        """The new state tuple for input (B, in) or unbatched (in,); `hx` the state(s) or None (zeros)."""
        name = type(self).__name__
        input = ag.as_tensor(input)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), got {input.shape}"
            )
        batched = input.ndim == 2
        x = input if batched else input.reshape(1, self.input_size)
        if hx is None:
            state = tuple(ag.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) for _ in range(states))
        else:
            state = tuple(ag.as_tensor(s) for s in (hx if states > 1 else (hx,)))
            expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
            for s in state:
                if s.shape != expected:
                    raise ValueError(
                        f"{name}: hidden state of shape {s.shape} does not match input of shape "
                        f"{input.shape} (expected {expected})"
                    )
            state = state if batched else tuple(s.reshape(1, self.hidden_size) for s in state)
        new = _cell_step(self.mode, x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return new if batched else tuple(s.reshape(self.hidden_size) for s in new)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        return text if self.bias else text + ", bias=False"


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act "tanh" or "relu"; forward(input, hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in rnn_ops.NONLINEARITIES:
            raise ValueError(
                f"RNNCell: nonlinearity must be one of {list(rnn_ops.NONLINEARITIES)}, got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, mode="RNN_" + nonlinearity.upper())
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._run(input, hx, 1)[0]

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); forward(input, hx=None) with hx = (h, c) -> (h', c')."""

    mode = "LSTM"

    def forward(self, input, hx=None):
        return self._run(input, hx, 2)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; n = tanh(W_in x + b_in + r (W_hn h + b_hn))); forward(input, hx=None) -> h'."""

    mode = "GRU"

    def forward(self, input, hx=None):
        return self._run(input, hx, 1)[0]


# ---- the time loop --------------------------------------------------------------------------------


def _scan(mode, steps, batch_sizes, initial, weights, reverse):
    """Run one layer in one direction step by step (an LSTM with projections) over `steps` (a list of
    (batch_sizes[t], G*H) input gates) with `weights` (w_hh, b_hh, w_hr). `initial` is the initial state
    tuple, each (B, ·). Returns (per-step outputs, final state tuple (B, ·) each), the final state of each
    sequence being the state after its own last step."""
    outputs = [None] * len(steps)
    if reverse:  # the shortest sequences start last: rows join the state as the batch grows
        state = tuple(s[: batch_sizes[-1]] for s in initial) if batch_sizes[-1] < initial[0].shape[0] else initial
        for t in reversed(range(len(steps))):
            rows = state[0].shape[0]
            if batch_sizes[t] > rows:
                state = tuple(ag.concatenate([s, s0[rows : batch_sizes[t]]]) for s, s0 in zip(state, initial))
            state = _sequence_step(mode, steps[t], state, *weights)
            outputs[t] = state[0]
        return outputs, state
    state, finished = initial, []
    for t, x in enumerate(steps):
        rows = state[0].shape[0]
        if batch_sizes[t] < rows:  # sequences that ended: their state is final
            finished.append(tuple(s[batch_sizes[t] :] for s in state))
            state = tuple(s[: batch_sizes[t]] for s in state)
        state = _sequence_step(mode, x, state, *weights)
        outputs[t] = state[0]
    if finished:  # sequences that ended later come first (they are sorted by decreasing length)
        state = tuple(ag.concatenate([s, *(f[k] for f in reversed(finished))]) for k, s in enumerate(state))
    return outputs, state


# ---- the sequence modules ---------------------------------------------------------------------------


class RNNBase(Module):
    """Stacked, optionally bidirectional recurrent layers of one `mode` ("RNN_TANH", "RNN_RELU", "LSTM",
    "GRU"), with PyTorch's parameters: for layer k and direction suffix "" or "_reverse",
    weight_ih_l{k}{suffix} (G*hidden, in_k), weight_hh_l{k}{suffix} (G*hidden, out), bias_ih_l{k}{suffix},
    bias_hh_l{k}{suffix} (G*hidden,), and for an LSTM with proj_size > 0 weight_hr_l{k}{suffix}
    (proj_size, hidden); out = proj_size or hidden_size, in_0 = input_size, in_k = out * directions.

    forward(input, hx=None): input (L, B, input_size) ((B, L, input_size) with batch_first), unbatched
    (L, input_size), or a PackedSequence; returns (output, h_n) (LSTM: (output, (h_n, c_n))), output
    (L, B, directions * out) (or packed), h_n (num_layers * directions, B, out), c_n (…, hidden).
    """

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
    ):
        super().__init__()
        name = type(self).__name__
        for size_name, size in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            check_size(name, size_name, size)
        F.check_arguments(name, {"dropout": dropout})
        if not isinstance(proj_size, (int, np.integer)) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a non-negative integer, got {proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size {proj_size} has to be smaller than hidden_size {hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self._register_weights()
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def output_size(self):
        """The size of h: proj_size for a projected LSTM, else hidden_size."""
        return self.proj_size or self.hidden_size

    def _register_weights(self):
        rows = GATES[self.mode] * self.hidden_size
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.output_size * self.num_directions
            for suffix in ("", "_reverse")[: self.num_directions]:
                shapes = {"weight_ih": (rows, layer_input), "weight_hh": (rows, self.output_size)}
                if self.bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, self.hidden_size)
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    self.register_parameter(name, Parameter(_floats(*shape)))
                    self._flat_weights_names.append(name)

    def reset_parameters(self):
        _reset_uniform(self)

    @property
    def all_weights(self):
        """The parameters per layer and direction, in state-dict order, as PyTorch's `all_weights`."""
        per_direction = len(self._flat_weights_names) // (self.num_layers * self.num_directions)
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[k : k + per_direction]] for k in range(0, len(names), per_direction)]

    def flatten_parameters(self):
        """Nothing to do (PyTorch packs the weights for cuDNN here); kept so that PyTorch code runs as is."""

    def _weights(self, layer, direction):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction; None for those the layer lacks."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(
            getattr(self, kind + suffix, None) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        )

    def _state_sizes(self):
        return (self.output_size, self.hidden_size) if self.mode == "LSTM" else (self.output_size,)

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        sequence, batch_sizes, batched = self._sequence(input, packed)
        batch = int(batch_sizes[0]) if len(batch_sizes) else 0
        states = self._initial_states(hx, batch, batched, sequence.dtype)
        if packed and input.sorted_indices is not None:
            states = tuple(s[:, np.asarray(input.sorted_indices)] for s in states)
        layer_input, finals = sequence, []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout and self.training:
                layer_input = F.dropout(layer_input, self.dropout, True)
            layer_input, layer_finals = self._layer(layer, layer_input, batch_sizes, states, packed)
            finals += layer_finals
        final_states = tuple(ag.stack([f[k] for f in finals], axis=0) for k in range(len(states)))
        if packed and input.unsorted_indices is not None:
            final_states = tuple(s[:, np.asarray(input.unsorted_indices)] for s in final_states)
        output = self._output(layer_input, input, packed, batched)
        if not batched:
            final_states = tuple(s.reshape(s.shape[0], s.shape[2]) for s in final_states)
        return output, (final_states if self.mode == "LSTM" else final_states[0])

    def _layer(self, layer, layer_input, batch_sizes, states, packed):
        """One layer, both directions: (its output sequence, the final state tuple of each direction). The
        input gates of all the steps come from one GEMM per direction."""
        outputs, finals = [], []
        for direction in range(self.num_directions):
            w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
            x_gates = fused_ops.linear(layer_input, w_ih, b_ih)
            initial = tuple(s[layer * self.num_directions + direction] for s in states)
            if w_hr is None:
                sizes = tuple(int(n) for n in batch_sizes) if packed else None
                output, *final = _sequence_layer(self.mode, x_gates, initial, w_hh, b_hh, sizes, direction == 1)
            else:
                steps = x_gates.split([int(n) for n in batch_sizes], 0) if packed else x_gates.unbind(0)
                per_step, final = _scan(self.mode, steps, batch_sizes, initial, (w_hh, b_hh, w_hr), direction == 1)
                output = ag.concatenate(per_step, axis=0) if packed else ag.stack(per_step, axis=0)
            outputs.append(output)
            finals.append(tuple(final))
        return (outputs[0] if len(outputs) == 1 else ag.concatenate(outputs, axis=-1)), finals

    def _sequence(self, input, packed):
        """(time-major sequence (L, B, in) or packed data (N, in), batch sizes per step, whether batched)."""
        name = type(self).__name__
        if packed:
            data, batch_sizes = input.data, np.asarray(input.batch_sizes)
            expected, batched = 2, True
        else:
            data = ag.as_tensor(input)
            expected, batched = (3, True) if data.ndim == 3 else (2, False)
        if data.ndim != expected or data.shape[-1] != self.input_size:
            what = "packed data (N, input_size)" if packed else "input (L, N, input_size) or (L, input_size)"
            raise ValueError(f"{name}: expected {what} with input_size={self.input_size}, got shape {data.shape}")
        if packed:
            return data, batch_sizes, True
        if not batched:
            data = data.reshape(data.shape[0], 1, self.input_size)
        elif self.batch_first:
            data = data.swapaxes(0, 1)
        return data, np.full(data.shape[0], data.shape[1], dtype=np.int64), batched

    def _initial_states(self, hx, batch, batched, dtype):
        """The initial state tuple, each (num_layers * directions, batch, size): hx, checked, or zeros."""
        name = type(self).__name__
        layers = self.num_layers * self.num_directions
        sizes = self._state_sizes()
        if hx is None:
            return tuple(ag.zeros(layers, batch, size, dtype=dtype) for size in sizes)
        if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{name}: expected hx = (h_0, c_0), a pair of tensors, got {type(hx).__name__}")
        if self.mode != "LSTM" and isinstance(hx, (tuple, list)):
            raise TypeError(f"{name}: expected hx to be one tensor, got a {type(hx).__name__}")
        given = tuple(ag.as_tensor(h) for h in hx) if self.mode == "LSTM" else (ag.as_tensor(hx),)
        for k, (state, size) in enumerate(zip(given, sizes)):
            expected = (layers, batch, size) if batched else (layers, size)
            if state.shape != expected:
                what = ("h_0", "c_0")[k] if self.mode == "LSTM" else "hx"
                raise ValueError(
                    f"{name}: expected {what} of shape {expected} (num_layers * num_directions, "
                    f"batch, {'hidden_size' if k else 'output size'}), got {state.shape}"
                )
        return given if batched else tuple(s.reshape(layers, 1, s.shape[1]) for s in given)

    def _output(self, output, input, packed, batched):
        if packed:
            return PackedSequence(output, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        if not batched:
            return output.reshape(output.shape[0], output.shape[2])
        return output.swapaxes(0, 1) if self.batch_first else output

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {
            "proj_size": 0,
            "num_layers": 1,
            "bias": True,
            "batch_first": False,
            "dropout": 0.0,
            "bidirectional": False,
        }
        for key, default in defaults.items():
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        return text


class RNN(RNNBase):
    """Elman RNN, h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act "tanh" or "relu"; see RNNBase."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
    ):
        if nonlinearity not in rnn_ops.NONLINEARITIES:
            raise ValueError(f"RNN: nonlinearity must be one of {list(rnn_ops.NONLINEARITIES)}, got {nonlinearity!r}")
        super().__init__(
            "RNN_" + nonlinearity.upper(),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM (gates i, f, g, o), optionally with projections (proj_size); forward returns
    (output, (h_n, c_n)); see RNNBase."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
    ):
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size
        )


class GRU(RNNBase):
    """GRU (gates r, z, n; n = tanh(W_in x + b_in + r (W_hn h + b_hn))); see RNNBase."""

    def __init__(
        self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False
    ):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
