"""PyTorch references of the recurrent cell registry ops (autograd_core/rnn_ops.py), for the TORCH table of
tests/test_ops_registry.py. The LSTM and GRU ops also return the workspace their VJPs read (the LSTM's
activated gates, the GRU's r, z, n and W_hn h + b_hn), so the references compute it in torch ops too; the
hidden-side ops ("_hh") take the input gates x W_ih^T + b_ih in place of x, w_ih and b_ih. The whole-sequence
ops ("_layer_hh") are references as loops of the hidden-side cell references over the steps of a packed
sequence, the batch shrinking with the steps as in a PackedSequence.

Importable without torch (the table is built only when torch is installed); each reference takes torch
tensors and the op's attributes."""

import itertools


def rnn_references(torch):
    """{op name: reference} for rnn_cell, lstm_cell, gru_cell, their hidden-side forms and the layers."""

    def rnn_cell(x, h, w_ih, w_hh, *biases, nonlinearity):
        return getattr(torch, f"rnn_{nonlinearity}_cell")(x, h, w_ih, w_hh, *biases)

    def lstm_cell(x, h, c, w_ih, w_hh, *biases):
        """In torch ops: torch.lstm_cell wants h as wide as c, so it cannot check the projected case."""
        z = x @ w_ih.T + h @ w_hh.T + (biases[0] + biases[1] if biases else 0)
        i, f, g, o = z.chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c_new = f * c + i * g
        return o * c_new.tanh(), c_new, torch.cat([i, f, g, o], 1)

    def gru_cell(x, h, w_ih, w_hh, *biases):
        from_input = x @ w_ih.T + (biases[0] if biases else 0)
        from_hidden = h @ w_hh.T + (biases[1] if biases else 0)
        (x_r, x_z, x_n), (h_r, h_z, h_n) = from_input.chunk(3, 1), from_hidden.chunk(3, 1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        return torch.gru_cell(x, h, w_ih, w_hh, *biases), torch.cat([r, z, n, h_n], 1)

    def hidden_side(cell, n_states):
        """`cell` with x = the input gates, w_ih = the identity and b_ih = 0."""

        def reference(x_gates, *rest, **attrs):
            states, w_hh, b_hh = rest[:n_states], rest[n_states], rest[n_states + 1 :]
            identity = torch.eye(x_gates.shape[1], dtype=x_gates.dtype)
            biases = (torch.zeros_like(b_hh[0]), b_hh[0]) if b_hh else ()
            return cell(x_gates, *states, identity, w_hh, *biases, **attrs)

        return reference

    def layer(step, n_states):
        """The whole-sequence op running `step`, a hidden-side cell reference, over the rows of each step
        (step t: rows offsets[t]:offsets[t + 1], the first batch_sizes[t] sequences), in decreasing t when
        `reverse`. Returns (h of every step, *final states, *the cell's workspace of every step), the LSTM's
        workspace being its activated gates and its c of every step."""

        def reference(x_gates, *rest, batch_sizes, reverse, **attrs):
            states0, w_hh, b_hh = rest[:n_states], rest[n_states], rest[n_states + 1 :]
            offsets = [0, *itertools.accumulate(batch_sizes)]
            steps = range(len(batch_sizes))
            state = [list(s) for s in states0]  # one row per sequence: its latest state
            per_step = [None] * len(batch_sizes)
            for t in reversed(steps) if reverse else steps:
                n = batch_sizes[t]
                result = step(
                    x_gates[offsets[t] : offsets[t + 1]], *(torch.stack(s[:n]) for s in state), w_hh, *b_hh, **attrs
                )
                result = result if isinstance(result, tuple) else (result,)
                new_states, workspace = result[:n_states], result[n_states:]
                for rows, new in zip(state, new_states):
                    rows[:n] = list(new)
                per_step[t] = (new_states[0], *workspace, *new_states[1:])
            finals = tuple(torch.stack(s) for s in state)
            sequences = tuple(torch.cat(parts) for parts in zip(*per_step))
            return (sequences[0], *finals, *sequences[1:])

        return reference

    return {
        "rnn_layer_hh": layer(hidden_side(rnn_cell, 1), 1),
        "lstm_layer_hh": layer(hidden_side(lstm_cell, 2), 2),
        "gru_layer_hh": layer(hidden_side(gru_cell, 1), 1),
        "rnn_cell": rnn_cell,
        "lstm_cell": lstm_cell,
        "gru_cell": gru_cell,
        "rnn_cell_hh": hidden_side(rnn_cell, 1),
        "lstm_cell_hh": hidden_side(lstm_cell, 2),
        "gru_cell_hh": hidden_side(gru_cell, 1),
    }
