"""PyTorch references of the recurrent cell registry ops (autograd_core/rnn_ops.py), for the TORCH table of
tests/test_ops_registry.py. The LSTM and GRU ops also return the workspace their VJPs read (the LSTM's
activated gates, the GRU's r, z, n and W_hn h + b_hn), so the references compute it in torch ops too; the
hidden-side ops ("_hh") take the input gates x W_ih^T + b_ih in place of x, w_ih and b_ih.

Importable without torch (the table is built only when torch is installed); each reference takes torch
tensors and the op's attributes."""


def rnn_references(torch):
    """{op name: reference} for rnn_cell, lstm_cell, gru_cell and their hidden-side forms."""

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

    return {
        "rnn_cell": rnn_cell,
        "lstm_cell": lstm_cell,
        "gru_cell": gru_cell,
        "rnn_cell_hh": hidden_side(rnn_cell, 1),
        "lstm_cell_hh": hidden_side(lstm_cell, 2),
        "gru_cell_hh": hidden_side(gru_cell, 1),
    }
