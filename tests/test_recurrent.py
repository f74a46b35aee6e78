"""Recurrent cells and layers: the fused cell ops (gradcheck, gradgradcheck, honest `reads`, PyTorch
parity of every output including the workspace), the modules against torch.nn (outputs, final states,
gradients of the input, the initial states and every parameter, weights copied through state dicts
both ways), packed variable-length batches, a 1,000-step backward, and the bad-input errors."""

import re

import numpy as np
import pytest
from helpers import registry_inputs
from rnn_torch_references import rnn_references

import autograd_core as ag
from autograd_core import rnn_ops
from autograd_core.engine import apply
from autograd_core.graph import SavedShape
from autograd_core.kernels import REFERENCE_F
from autograd_core.ops import REGISTRY
from nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence

try:
    import torch
except ImportError:  # torch is an optional oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

CELL_OPS = ("rnn_cell", "lstm_cell", "gru_cell", "rnn_cell_hh", "lstm_cell_hh", "gru_cell_hh")
LAYER_OPS = ("rnn_layer_hh", "lstm_layer_hh", "gru_layer_hh")
CELL_CASES = [
    pytest.param(REGISTRY[name], i, sample, id=f"{name}-{i}")
    for name in CELL_OPS + LAYER_OPS
    for i, sample in enumerate(REGISTRY[name].samples)
]


@pytest.fixture(autouse=True)
def float64_default():
    previous = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    yield
    ag.set_default_dtype(previous)


def run(op, sample):
    return lambda *xs: apply(op, *xs, **sample.attrs)


# ---- the cell ops ----------------------------------------------------------------------------------


@pytest.mark.parametrize("op, i, sample", CELL_CASES)
def test_cell_op_gradcheck(op, i, sample):
    assert ag.gradcheck(run(op, sample), registry_inputs(op, sample, seed=i))


@pytest.mark.parametrize("op, i, sample", CELL_CASES)
def test_cell_op_gradgradcheck(op, i, sample):
    assert ag.gradgradcheck(run(op, sample), registry_inputs(op, sample, seed=i))


@pytest.mark.parametrize("op, i, sample", CELL_CASES)
def test_cell_op_reads_declarations_are_honest(op, i, sample):
    """Each input's formula, with the values its declaration leaves out hidden, gives the same gradient."""
    arrays = [np.asarray(x) for x in registry_inputs(op, sample, seed=i)]
    out = op.forward(*arrays, **sample.attrs)
    rng = np.random.default_rng(i)
    g = tuple(rng.standard_normal(o.shape) for o in out) if op.multi_output else rng.standard_normal(out.shape)
    for index in range(len(arrays)):
        needs = [index == k or None for k in range(len(arrays))]
        full = op.backward(REFERENCE_F, g, arrays, out, sample.attrs, needs)[index]
        kept, keeps_out = op.reads_of(index, len(arrays))
        partial_inputs = [a if k in kept else SavedShape(a.shape, a.dtype) for k, a in enumerate(arrays)]
        partial = op.backward(REFERENCE_F, g, partial_inputs, out if keeps_out else None, sample.attrs, needs)[index]
        np.testing.assert_array_equal(partial, full)


@pytest.mark.parametrize("op, i, sample", CELL_CASES)
def test_cell_op_fast_backward_matches_the_formulas(op, i, sample):
    arrays = [np.asarray(x) for x in registry_inputs(op, sample, seed=i)]
    out = op.forward(*arrays, **sample.attrs)
    rng = np.random.default_rng(i)
    g = [rng.standard_normal(o.shape) for o in out] if op.multi_output else rng.standard_normal(out.shape)
    needs = [True] * len(arrays)
    fast = op.fast_backward(g, arrays, out, sample.attrs, needs)
    reference = [op.grads(REFERENCE_F, g, *arrays, out=out, index=k, **sample.attrs) for k in range(len(arrays))]
    for ours, theirs in zip(fast, reference):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


LSTM_CASES = [case for case in CELL_CASES if case.values[0].name in ("lstm_cell", "lstm_cell_hh")]
LAYER_CASES = [case for case in CELL_CASES if case.values[0].name in LAYER_OPS]


@pytest.mark.parametrize("op, i, sample", LSTM_CASES)
@pytest.mark.parametrize("arriving", [(True, False, False), (True, True, False), (False, True, True)])
def test_lstm_fast_backward_matches_the_formulas_with_missing_output_gradients(op, i, sample, arriving):
    """In a sequence no gradient reaches the workspace and none reaches c' at the last step: the in-place
    array backward counts what did not arrive as zeros, as the formulas do."""
    arrays = [np.asarray(x) for x in registry_inputs(op, sample, seed=i)]
    out = op.forward(*arrays, **sample.attrs)
    rng = np.random.default_rng(i)
    g = [rng.standard_normal(o.shape) if came else None for o, came in zip(out, arriving)]
    fast = op.fast_backward(g, arrays, out, sample.attrs, [True] * len(arrays))
    with_zeros = [np.zeros(o.shape) if grad is None else grad for grad, o in zip(g, out)]
    for k, ours in enumerate(fast):
        theirs = op.grads(REFERENCE_F, with_zeros, *arrays, out=out, index=k, **sample.attrs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("op, i, sample", LAYER_CASES)
@pytest.mark.parametrize("arriving", ["output", "output and finals", "finals only", "all"])
def test_layer_fast_backward_matches_the_formulas_with_missing_output_gradients(op, i, sample, arriving):
    """In a network the gradient reaches the outputs and maybe the final states, never the workspace: the
    array backward counts what did not arrive as zeros, as the formulas do."""
    arrays = [np.asarray(x) for x in registry_inputs(op, sample, seed=i)]
    out = op.forward(*arrays, **sample.attrs)
    n_states = 2 if op.name.startswith("lstm") else 1
    came = {
        "output": [True] + [False] * (len(out) - 1),
        "output and finals": [True] * (1 + n_states) + [False] * (len(out) - 1 - n_states),
        "finals only": [False] + [True] * n_states + [False] * (len(out) - 1 - n_states),
        "all": [True] * len(out),
    }[arriving]
    rng = np.random.default_rng(i)
    g = [rng.standard_normal(o.shape) if arrives else None for o, arrives in zip(out, came)]
    fast = op.fast_backward(g, arrays, out, sample.attrs, [True] * len(arrays))
    with_zeros = [np.zeros(o.shape) if grad is None else grad for grad, o in zip(g, out)]
    for k, ours in enumerate(fast):
        theirs = op.grads(REFERENCE_F, with_zeros, *arrays, out=out, index=k, **sample.attrs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("op, i, sample", [c for c in LAYER_CASES if c.values[0].name == "lstm_layer_hh"])
@pytest.mark.parametrize("arriving", ["output", "all"])
def test_lstm_layer_compiled_steps_match_numpy(op, i, sample, arriving):
    """The numba backend's LSTM steps (kernels/recurrent.py) give numpy's values, forward and backward."""
    arrays = [np.asarray(x) for x in registry_inputs(op, sample, seed=i)]
    rng = np.random.default_rng(i)
    results = {}
    previous = ag.backend.get()
    try:
        for name in ("numpy", "numba"):
            ag.backend.set(name)
            out = op.forward(*arrays, **sample.attrs)
            g = [rng.standard_normal(o.shape) if arriving == "all" or k == 0 else None for k, o in enumerate(out)]
            rng = np.random.default_rng(i)
            results[name] = [*out, *op.fast_backward(g, arrays, out, sample.attrs, [True] * len(arrays))]
    finally:
        ag.backend.set(previous)
    for compiled, reference in zip(results["numba"], results["numpy"]):
        np.testing.assert_allclose(compiled, reference, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("op, i, sample", LAYER_CASES)
def test_layer_op_is_the_hidden_side_cell_over_the_steps(op, i, sample):
    """Every output of a layer op equals the hidden-side cell op run step by step on the packed rows
    (decreasing t when reversed), the final state of each sequence being its state after its last step."""
    arrays = [np.asarray(x) for x in registry_inputs(op, sample, seed=i)]
    out = op.forward(*arrays, **sample.attrs)
    n_states = 2 if op.name.startswith("lstm") else 1
    cell = REGISTRY[op.name.replace("layer", "cell")]
    cell_attrs = {k: v for k, v in sample.attrs.items() if k not in ("batch_sizes", "reverse")}
    sizes = sample.attrs["batch_sizes"]
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    states = [a.copy() for a in arrays[1 : 1 + n_states]]
    steps = range(len(sizes))
    for t in reversed(steps) if sample.attrs["reverse"] else steps:
        n, rows = sizes[t], slice(offsets[t], offsets[t + 1])
        step = cell.forward(arrays[0][rows], *(s[:n] for s in states), *arrays[1 + n_states :], **cell_attrs)
        step = step if isinstance(step, tuple) else (step,)
        for state, new in zip(states, step[:n_states]):
            state[:n] = new
        np.testing.assert_allclose(out[0][rows], step[0], rtol=1e-14, atol=1e-15)
        if op.name.startswith("lstm"):  # the workspace: the activated gates and c
            np.testing.assert_allclose(out[3][rows], step[2], rtol=1e-14, atol=1e-15)
            np.testing.assert_allclose(out[4][rows], step[1], rtol=1e-14, atol=1e-15)
        elif op.name.startswith("gru"):
            np.testing.assert_allclose(out[2][rows], step[1], rtol=1e-14, atol=1e-15)
    for final, state in zip(out[1 : 1 + n_states], states):
        np.testing.assert_allclose(final, state, rtol=1e-14, atol=1e-15)


@needs_torch
@pytest.mark.parametrize("op, i, sample", CELL_CASES)
def test_cell_op_matches_torch(op, i, sample):
    inputs = registry_inputs(op, sample, seed=i)
    result = apply(op, *inputs, **sample.attrs)
    outputs = result if op.multi_output else (result,)
    rng = np.random.default_rng(100 + i)
    seeds = [rng.standard_normal(o.shape) for o in outputs]
    ag.engine.backward(list(outputs), seeds)
    torch_inputs = [torch.tensor(np.asarray(x), requires_grad=True) for x in inputs]
    expected = rnn_references(torch)[op.name](*torch_inputs, **sample.attrs)
    expected = expected if op.multi_output else (expected,)
    torch.autograd.backward(list(expected), [torch.as_tensor(s) for s in seeds])
    for ours, theirs in zip(outputs, expected):
        np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(inputs, torch_inputs):
        np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_one_node_per_cell_step():
    x, h, c = ag.randn(2, 3), ag.randn(2, 4), ag.randn(2, 4)
    cell = LSTMCell(3, 4)
    h_new, c_new = cell(x, (h, c))
    assert h_new.grad_fn is c_new.grad_fn
    assert h_new.grad_fn.name == "lstm_cell"
    assert GRUCell(3, 4)(x, h).grad_fn.name == "gru_cell"
    assert RNNCell(3, 4, nonlinearity="relu")(x, h).grad_fn.name == "rnn_cell"


def node_names(tensor):
    """The names of every node the graph behind `tensor` reaches, with repeats."""
    names, stack, seen = [], [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "op"):
            continue
        seen.add(id(node))
        names.append(node.name)
        stack.extend(function for function, _ in node.next_functions)
    return names


@pytest.mark.parametrize(
    "module, layer",
    [
        (LSTM(3, 4, bidirectional=True), "lstm_layer_hh"),
        (GRU(3, 4, bidirectional=True), "gru_layer_hh"),
        (RNN(3, 4, bidirectional=True), "rnn_layer_hh"),
    ],
)
def test_sequence_module_records_one_input_gemm_and_one_node_per_layer_and_direction(module, layer):
    output, _ = module(ag.randn(7, 2, 3))
    names = node_names(output)
    assert names.count(layer) == 2
    assert names.count("linear") == 2
    assert not [name for name in names if name.endswith("_cell_hh")]


def test_projected_lstm_records_one_node_per_step():
    """With proj_size the layer runs step by step: a cell node and a projection per step."""
    output, _ = LSTM(3, 4, proj_size=2)(ag.randn(7, 2, 3))
    names = node_names(output)
    assert names.count("lstm_cell_hh") == 7
    assert names.count("linear") == 8


# ---- helpers for the torch comparisons ------------------------------------------------------------


def to_torch(module, torch_class, **options):
    """The torch twin of `module`, its weights loaded from our state dict (ours -> torch)."""
    twin = torch_class(**options).double()
    twin.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in module.state_dict().items()})
    return twin


def from_torch(twin, our_class, **options):
    """Our twin of a torch module, its weights loaded from torch's state dict (torch -> ours)."""
    module = our_class(**options)
    state = twin.state_dict()
    assert list(module.state_dict()) == list(state)
    assert all(module.state_dict()[k].shape == tuple(v.shape) for k, v in state.items())
    module.load_state_dict({k: v.detach().numpy().copy() for k, v in state.items()})
    return module


def flat_outputs(result):
    """Every tensor of a module's result (output, h_n[, c_n]) as a flat list; packed output by its data."""
    output, state = result
    output = (
        output.data
        if isinstance(output, PackedSequence) or (torch and isinstance(output, torch.nn.utils.rnn.PackedSequence))
        else output
    )
    return [output] + (list(state) if isinstance(state, tuple) else [state])


def weighted_loss(tensors, weights):
    return sum((t * w).sum() for t, w in zip(tensors, weights))


def compare_with_torch(ours, twin, our_inputs, torch_inputs, leaves, torch_leaves):
    """Run both modules, compare every output, backward a random weighting of all of them, compare the
    gradients of the given leaves (input, initial states) and of every parameter."""
    our_outputs, torch_outputs = flat_outputs(ours(*our_inputs)), flat_outputs(twin(*torch_inputs))
    assert len(our_outputs) == len(torch_outputs)
    rng = np.random.default_rng(7)
    weights = [rng.standard_normal(t.shape) for t in torch_outputs]
    for a, b in zip(our_outputs, torch_outputs):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    weighted_loss(our_outputs, weights).backward()
    weighted_loss(torch_outputs, [torch.tensor(w) for w in weights]).backward()
    for a, b in zip(leaves, torch_leaves):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), rtol=1e-9, atol=1e-12)
    theirs = dict(twin.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(np.asarray(p.grad), theirs[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def leaf_pair(array):
    return ag.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


MODULES = {"RNN": (RNN, "RNN"), "LSTM": (LSTM, "LSTM"), "GRU": (GRU, "GRU")}
CONFIGS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bidirectional": True, "bias": False}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 3, "num_layers": 2}),
    ("LSTM", {"batch_first": True, "bidirectional": True, "proj_size": 2}),
    ("LSTM", {"bias": False}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False, "num_layers": 2}),
]
CONFIG_IDS = [f"{mode}-{'-'.join(f'{k}={v}' for k, v in options.items()) or 'default'}" for mode, options in CONFIGS]


def initial_states(mode, options, batch, rng):
    """Random (h_0[, c_0]) arrays of the shapes the module expects."""
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    out = options.get("proj_size") or 5
    sizes = (out, 5) if mode == "LSTM" else (out,)
    return [rng.standard_normal((layers, batch, size)) for size in sizes]


def hx_argument(mode, states):
    return tuple(states) if mode == "LSTM" else states[0]


# ---- the modules against torch ----------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("with_states", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("mode, options", CONFIGS, ids=CONFIG_IDS)
def test_module_matches_torch(mode, options, with_states):
    ours_class, torch_name = MODULES[mode]
    torch.manual_seed(0)
    twin = getattr(torch.nn, torch_name)(4, 5, **options).double()
    ours = from_torch(twin, ours_class, input_size=4, hidden_size=5, **options)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 4) if options.get("batch_first") else (6, 3, 4))
    our_x, torch_x = leaf_pair(x)
    our_leaves, torch_leaves = [our_x], [torch_x]
    our_inputs, torch_inputs = [our_x], [torch_x]
    if with_states:
        pairs = [leaf_pair(s) for s in initial_states(mode, options, 3, rng)]
        our_leaves += [p[0] for p in pairs]
        torch_leaves += [p[1] for p in pairs]
        our_inputs.append(hx_argument(mode, [p[0] for p in pairs]))
        torch_inputs.append(hx_argument(mode, [p[1] for p in pairs]))
    compare_with_torch(ours, twin, our_inputs, torch_inputs, our_leaves, torch_leaves)


@needs_torch
@pytest.mark.parametrize(
    "mode, options",
    [c for c in CONFIGS if c[1].get("num_layers") == 2 or c[1].get("proj_size")],
    ids=[
        i for i, (_, options) in zip(CONFIG_IDS, CONFIGS) if options.get("num_layers") == 2 or options.get("proj_size")
    ],
)
def test_state_dict_from_ours_loads_into_torch(mode, options):
    ours_class, torch_name = MODULES[mode]
    ag.manual_seed(3)
    ours = ours_class(4, 5, **options)
    twin = to_torch(ours, getattr(torch.nn, torch_name), input_size=4, hidden_size=5, **options)
    x = np.random.default_rng(2).standard_normal((6, 3, 4))
    our_x, torch_x = leaf_pair(x)
    compare_with_torch(ours, twin, [our_x], [torch_x], [our_x], [torch_x])


@needs_torch
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(mode):
    ours_class, torch_name = MODULES[mode]
    options = {"num_layers": 2, "bidirectional": True}
    twin = getattr(torch.nn, torch_name)(4, 5, **options).double()
    ours = from_torch(twin, ours_class, input_size=4, hidden_size=5, **options)
    rng = np.random.default_rng(4)
    our_x, torch_x = leaf_pair(rng.standard_normal((6, 4)))
    pairs = [leaf_pair(s[:, 0]) for s in initial_states(mode, options, 1, rng)]
    compare_with_torch(
        ours,
        twin,
        [our_x, hx_argument(mode, [p[0] for p in pairs])],
        [torch_x, hx_argument(mode, [p[1] for p in pairs])],
        [our_x] + [p[0] for p in pairs],
        [torch_x] + [p[1] for p in pairs],
    )


PACKED_CONFIGS = [
    ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 3, "bidirectional": True, "batch_first": True}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {}),
]


@needs_torch
@pytest.mark.parametrize("enforce_sorted", [True, False], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("mode, options", PACKED_CONFIGS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(PACKED_CONFIGS)])
def test_packed_module_matches_torch(mode, options, enforce_sorted):
    ours_class, torch_name = MODULES[mode]
    batch_first = options.get("batch_first", False)
    twin = getattr(torch.nn, torch_name)(4, 5, **options).double()
    ours = from_torch(twin, ours_class, input_size=4, hidden_size=5, **options)
    lengths = [6, 4, 4, 2, 1] if enforce_sorted else [2, 6, 1, 4, 3]
    rng = np.random.default_rng(5)
    our_x, torch_x = leaf_pair(rng.standard_normal((5, 6, 4) if batch_first else (6, 5, 4)))
    pairs = [leaf_pair(s) for s in initial_states(mode, options, 5, rng)]
    our_packed = pack_padded_sequence(our_x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    torch_packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch_x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted
    )
    assert our_packed.batch_sizes.tolist() == torch_packed.batch_sizes.tolist()
    compare_with_torch(
        ours,
        twin,
        [our_packed, hx_argument(mode, [p[0] for p in pairs])],
        [torch_packed, hx_argument(mode, [p[1] for p in pairs])],
        [our_x] + [p[0] for p in pairs],
        [torch_x] + [p[1] for p in pairs],
    )


@needs_torch
def test_packed_output_unpacks_like_torch():
    twin = torch.nn.LSTM(4, 5, bidirectional=True).double()
    ours = from_torch(twin, LSTM, input_size=4, hidden_size=5, bidirectional=True)
    lengths = [3, 5, 1]
    x = np.random.default_rng(6).standard_normal((5, 3, 4))
    our_out, _ = ours(pack_padded_sequence(ag.tensor(x), lengths, enforce_sorted=False))
    torch_out, _ = twin(torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False))
    for batch_first in (False, True):
        ours_padded, our_lengths = pad_packed_sequence(
            our_out, batch_first=batch_first, padding_value=-1.0, total_length=7
        )
        torch_padded, torch_lengths = torch.nn.utils.rnn.pad_packed_sequence(
            torch_out, batch_first=batch_first, padding_value=-1.0, total_length=7
        )
        np.testing.assert_allclose(np.asarray(ours_padded), torch_padded.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert our_lengths.tolist() == torch_lengths.tolist() == lengths


# ---- the cells against torch ------------------------------------------------------------------------

CELLS = [
    (RNNCell, "RNNCell", {}),
    (RNNCell, "RNNCell", {"nonlinearity": "relu", "bias": False}),
    (LSTMCell, "LSTMCell", {}),
    (LSTMCell, "LSTMCell", {"bias": False}),
    (GRUCell, "GRUCell", {}),
]


@needs_torch
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("our_class, torch_name, options", CELLS, ids=[f"{n}-{i}" for i, (_, n, _) in enumerate(CELLS)])
def test_cell_module_matches_torch(our_class, torch_name, options, batched):
    twin = getattr(torch.nn, torch_name)(4, 5, **options).double()
    ours = from_torch(twin, our_class, input_size=4, hidden_size=5, **options)
    rng = np.random.default_rng(8)
    shape = (3, 4) if batched else (4,)
    our_x, torch_x = leaf_pair(rng.standard_normal(shape))
    pairs = [leaf_pair(rng.standard_normal(shape[:-1] + (5,))) for _ in range(2 if our_class is LSTMCell else 1)]
    our_state = tuple(p[0] for p in pairs) if our_class is LSTMCell else pairs[0][0]
    torch_state = tuple(p[1] for p in pairs) if our_class is LSTMCell else pairs[0][1]
    ours_out, theirs_out = ours(our_x, our_state), twin(torch_x, torch_state)
    ours_out = ours_out if isinstance(ours_out, tuple) else (ours_out,)
    theirs_out = theirs_out if isinstance(theirs_out, tuple) else (theirs_out,)
    weights = [rng.standard_normal(t.shape) for t in theirs_out]
    for a, b in zip(ours_out, theirs_out):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    weighted_loss(ours_out, weights).backward()
    weighted_loss(theirs_out, [torch.tensor(w) for w in weights]).backward()
    for a, b in [(our_x, torch_x)] + pairs:
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(np.asarray(getattr(ours, name).grad), p.grad.numpy(), rtol=1e-9, atol=1e-12)
    zero_state = ours(our_x)
    expected = twin(torch_x)
    for a, b in zip(
        zero_state if isinstance(zero_state, tuple) else (zero_state,),
        expected if isinstance(expected, tuple) else (expected,),
    ):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---- without torch: parameters, init, gradients, long sequences, dropout -----------------------------


def test_parameter_names_shapes_and_init():
    lstm = LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=2)
    shapes = {name: p.shape for name, p in lstm.named_parameters()}
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert shapes["weight_ih_l0"] == (32, 3) and shapes["weight_hh_l0"] == (32, 2)
    assert shapes["weight_ih_l1_reverse"] == (32, 4) and shapes["weight_hr_l1_reverse"] == (2, 8)
    assert len(shapes) == 2 * 2 * 5
    bound = 1 / np.sqrt(8)
    values = np.concatenate([np.asarray(p).ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    assert [len(weights) for weights in lstm.all_weights] == [5, 5, 5, 5]
    assert lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    assert GRUCell(3, 4, bias=False).weight_hh.shape == (12, 4)
    assert [n for n, _ in GRUCell(3, 4, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]


def test_packed_bidirectional_lstm_gradcheck():
    """Numerical gradients through packing, the per-sequence final states, both directions, the projection
    and unpacking, for the input, the initial states and every parameter (perturbed in place)."""
    ag.manual_seed(0)
    lstm = LSTM(2, 3, bidirectional=True, proj_size=2)

    def forward(x, h0, c0, *parameters):
        output, (h_n, c_n) = lstm(pack_padded_sequence(x, [2, 4, 1], batch_first=True, enforce_sorted=False), (h0, c0))
        return pad_packed_sequence(output, batch_first=True, padding_value=0.5)[0], h_n, c_n

    rng = np.random.default_rng(0)
    inputs = [ag.tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((3, 4, 2), (2, 3, 2), (2, 3, 3))]
    assert ag.gradcheck(forward, inputs + list(lstm.parameters()))


@pytest.mark.parametrize(
    "make",
    [lambda: GRU(2, 2, bidirectional=True), lambda: LSTM(2, 3, proj_size=1), lambda: RNN(2, 2, num_layers=2)],
    ids=["GRU", "LSTM", "RNN"],
)
def test_module_gradgradcheck(make):
    """Second derivatives through the hidden-side cell ops, the input GEMM and the packing."""
    module = make()

    def forward(x, *parameters):
        output, _ = module(pack_padded_sequence(x, [3, 1], enforce_sorted=True))
        return output.data

    x = ag.tensor(np.random.default_rng(1).standard_normal((3, 2, 2)), requires_grad=True)
    assert ag.gradgradcheck(forward, [x, *module.parameters()])


def test_thousand_step_sequence_backward():
    ag.manual_seed(0)
    lstm = LSTM(3, 4)
    x = ag.randn(1000, 2, 3, requires_grad=True)
    output, (_, c_n) = lstm(x)
    (output.sum() + c_n.sum()).backward()
    assert x.grad.shape == (1000, 2, 3) and np.all(np.isfinite(np.asarray(x.grad)))
    assert np.abs(np.asarray(x.grad)[0]).sum() > 0  # the first step still receives a gradient
    if torch is not None:
        twin = to_torch(lstm, torch.nn.LSTM, input_size=3, hidden_size=4)
        torch_x = torch.tensor(np.asarray(x), requires_grad=True)
        torch_output, (_, torch_c) = twin(torch_x)
        (torch_output.sum() + torch_c.sum()).backward()
        np.testing.assert_allclose(np.asarray(x.grad), torch_x.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    ag.manual_seed(0)
    gru = GRU(3, 4, num_layers=2, dropout=0.5)
    x = ag.randn(5, 2, 3)
    gru.eval()
    first, second = gru(x)[0], gru(x)[0]
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    gru.train()
    assert not np.allclose(np.asarray(gru(x)[0]), np.asarray(first))
    one_layer = GRU(3, 4)
    np.testing.assert_array_equal(np.asarray(one_layer(x)[0]), np.asarray(one_layer.eval()(x)[0]))


def test_dropout_on_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        LSTM(3, 4, dropout=0.2)


# ---- the padding utilities ----------------------------------------------------------------------------


def test_pad_sequence_and_pack_sequence():
    sequences = [ag.tensor(np.full((n, 2), float(n)), requires_grad=True) for n in (2, 3, 1)]
    padded = pad_sequence(sequences, batch_first=True, padding_value=-1.0)
    assert padded.shape == (3, 3, 2)
    np.testing.assert_array_equal(np.asarray(padded)[0, :, 0], [2.0, 2.0, -1.0])
    np.testing.assert_array_equal(np.asarray(pad_sequence(sequences, padding_side="left"))[:, 2, 0], [0.0, 0.0, 1.0])
    assert pad_sequence(sequences).shape == (3, 3, 2)
    (padded * ag.tensor(np.arange(18.0).reshape(3, 3, 2))).sum().backward()
    np.testing.assert_array_equal(np.asarray(sequences[0].grad), [[0.0, 1.0], [2.0, 3.0]])
    packed = pack_sequence(sequences, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    assert packed.sorted_indices.tolist() == [1, 0, 2] and packed.unsorted_indices.tolist() == [1, 0, 2]
    np.testing.assert_array_equal(np.asarray(packed.data)[:, 0], [3, 2, 1, 3, 2, 3])


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_match_torch(batch_first):
    x = np.random.default_rng(9).standard_normal((4, 5, 2) if batch_first else (5, 4, 2))
    lengths = [3, 5, 1, 4]
    ours = pack_padded_sequence(ag.tensor(x), lengths, batch_first=batch_first, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), lengths, batch_first=batch_first, enforce_sorted=False
    )
    np.testing.assert_array_equal(np.asarray(ours.data), theirs.data.numpy())
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        assert getattr(ours, field).tolist() == getattr(theirs, field).tolist()
    sequences = [np.ones((n, 2)) * n for n in lengths]
    np.testing.assert_array_equal(
        np.asarray(pad_sequence([ag.tensor(s) for s in sequences], batch_first=batch_first, padding_value=2.5)),
        torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(s) for s in sequences], batch_first=batch_first, padding_value=2.5
        ).numpy(),
    )


def test_pack_then_pad_gradcheck():
    def round_trip(x):
        packed = pack_padded_sequence(x, [1, 3], batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(packed, padding_value=3.0, total_length=4)[0] * 2.0

    x = ag.tensor(np.random.default_rng(0).standard_normal((2, 3, 2)), requires_grad=True)
    assert ag.gradcheck(round_trip, [x])


# ---- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lengths, match",
    [
        ([2, 4, 1], "lengths must be sorted in decreasing order when enforce_sorted=True, got [2, 4, 1]"),
        ([5, 4, 6], "every length must lie in [1, 5]"),
        ([5, 0, 0], "every length must lie in [1, 5]"),
        ([5, 4], "expected 3 lengths"),
    ],
)
def test_pack_padded_sequence_rejects_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match.replace("[", r"\[").replace("]", r"\]")):
        pack_padded_sequence(ag.zeros(5, 3, 2), lengths)


def test_pad_packed_sequence_rejects_a_short_total_length():
    packed = pack_padded_sequence(ag.zeros(5, 2, 2), [5, 3])
    with pytest.raises(ValueError, match=r"total_length must be at least .*\(5\), got total_length=4"):
        pad_packed_sequence(packed, total_length=4)


@pytest.mark.parametrize(
    "module, call, match",
    [
        (
            LSTM(3, 4, num_layers=2),
            lambda m: m(ag.zeros(5, 2, 6)),
            r"LSTM: expected input \(L, N, input_size\) or \(L, input_size\) with input_size=3, got shape \(5, 2, 6\)",
        ),
        (
            GRU(3, 4),
            lambda m: m(ag.zeros(5, 2, 3), ag.zeros(2, 2, 4)),
            r"GRU: expected hx of shape \(1, 2, 4\) .* got \(2, 2, 4\)",
        ),
        (
            LSTM(3, 4, proj_size=2),
            lambda m: m(ag.zeros(5, 2, 3), (ag.zeros(1, 2, 4), ag.zeros(1, 2, 4))),
            r"LSTM: expected h_0 of shape \(1, 2, 2\) .* got \(1, 2, 4\)",
        ),
        (
            LSTM(3, 4),
            lambda m: m(ag.zeros(5, 2, 3), (ag.zeros(1, 2, 4), ag.zeros(1, 3, 4))),
            r"LSTM: expected c_0 of shape \(1, 2, 4\) .* got \(1, 3, 4\)",
        ),
        (
            RNN(3, 4),
            lambda m: m(pack_padded_sequence(ag.zeros(5, 2, 2), [5, 3])),
            r"RNN: expected packed data \(N, input_size\) with input_size=3, got shape \(8, 2\)",
        ),
        (
            LSTMCell(3, 4),
            lambda m: m(ag.zeros(2, 5)),
            r"LSTMCell: expected input of shape \(batch, 3\) or \(3,\), got \(2, 5\)",
        ),
        (
            GRUCell(3, 4),
            lambda m: m(ag.zeros(2, 3), ag.zeros(3, 4)),
            r"GRUCell: hidden state of shape \(3, 4\) does not match input of shape \(2, 3\) \(expected \(2, 4\)\)",
        ),
    ],
    ids=[
        "lstm-features",
        "gru-hx",
        "lstm-projected-h0",
        "lstm-c0",
        "rnn-packed-features",
        "lstmcell-features",
        "grucell-hx",
    ],
)
def test_modules_reject_bad_shapes(module, call, match):
    with pytest.raises(ValueError, match=match):
        call(module)


def test_modules_reject_a_hidden_state_of_the_wrong_kind():
    with pytest.raises(TypeError, match=r"LSTM: expected hx = \(h_0, c_0\), a pair of tensors, got Tensor"):
        LSTM(3, 4)(ag.zeros(5, 2, 3), ag.zeros(1, 2, 4))
    with pytest.raises(TypeError, match="GRU: expected hx to be one tensor, got a tuple"):
        GRU(3, 4)(ag.zeros(5, 2, 3), (ag.zeros(1, 2, 4),))


def test_cell_ops_reject_bad_shapes():
    w_ih, w_hh = ag.zeros(8, 3), ag.zeros(8, 2)
    with pytest.raises(ValueError, match=r"lstm_cell: input of shape \(5, 4\) does not match weight_ih of shape"):
        rnn_ops.lstm_cell(ag.zeros(5, 4), ag.zeros(5, 2), ag.zeros(5, 2), w_ih, w_hh)
    with pytest.raises(ValueError, match=r"rnn_cell: bias_ih of shape \(7,\) does not match"):
        rnn_ops.rnn_cell(ag.zeros(5, 3), ag.zeros(5, 2), ag.zeros(2, 3), ag.zeros(2, 2), ag.zeros(7), ag.zeros(2))


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: rnn_ops.lstm_layer_hh(ag.zeros(6, 8), ag.zeros(3, 2), ag.zeros(3, 2), ag.zeros(8, 2)),
            r"lstm_layer_hh: expected input gates of shape (steps, batch, gates*hidden), got (6, 8)",
        ),
        (
            lambda: rnn_ops.gru_layer_hh(ag.zeros(5, 6), ag.zeros(3, 2), ag.zeros(6, 2), batch_sizes=[3, 3]),
            "gru_layer_hh: expected packed input gates of shape (6, gates*hidden) for batch sizes [3, 3], got (5, 6)",
        ),
        (
            lambda: rnn_ops.rnn_layer_hh(ag.zeros(5, 2), ag.zeros(3, 2), ag.zeros(2, 2), batch_sizes=[2, 3]),
            "rnn_layer_hh: batch sizes must be positive and non-increasing, got [2, 3]",
        ),
        (
            lambda: rnn_ops.rnn_layer_hh(ag.zeros(0, 3, 2), ag.zeros(3, 2), ag.zeros(2, 2)),
            "rnn_layer_hh: expected at least one step, got input gates of shape (0, 3, 2)",
        ),
        (
            lambda: rnn_ops.rnn_layer_hh(ag.zeros(4, 3, 2), ag.zeros(3, 2), ag.zeros(2, 2), nonlinearity="gelu"),
            "rnn_layer_hh: nonlinearity must be one of ['tanh', 'relu'], got 'gelu'",
        ),
        (
            lambda: rnn_ops.lstm_layer_hh(ag.zeros(4, 3, 8), ag.zeros(2, 2), ag.zeros(3, 2), ag.zeros(8, 2)),
            "lstm_layer_hh: hidden state of shape (2, 2) does not match input of shape (3, 8)",
        ),
        (
            lambda: rnn_ops.gru_layer_hh(ag.zeros(4, 3, 6), ag.zeros(3, 2), ag.zeros(6, 2), ag.zeros(5)),
            "gru_layer_hh: bias_hh of shape (5,) does not match weight_hh of shape (6, 2)",
        ),
    ],
)
def test_layer_ops_reject_bad_inputs(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call()


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LSTM(3, 4, proj_size=4), ValueError, "proj_size 4 has to be smaller than hidden_size 4"),
        (lambda: GRU(3, 4, proj_size=2), TypeError, "proj_size"),
        (lambda: RNN(3, 4, proj_size=2), TypeError, "proj_size"),
        (lambda: RNN(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity must be one of"),
        (lambda: LSTM(3, 0), ValueError, "hidden_size must be positive"),
        (lambda: LSTM(3, 4, num_layers=2, dropout=1.0), ValueError, r"LSTM: dropout must be in \[0, 1\), got 1.0"),
    ],
)
def test_bad_hyperparameters(make, error, match):
    with pytest.raises(error, match=match):
        make()
