"""The Module system: registration and PyTorch's names, containers, modes, freezing, hooks, scopes,
repr, and state dicts (errors, and safetensors round trips through torch)."""

import copy
import re
from collections import OrderedDict

import numpy as np
import pytest
from nn_helpers import assert_close, copy_weights, requires_torch, to_torch, torch

import autograd_core as ag
import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 6), nn.Linear(6, 6)])
        self.norm = nn.LayerNorm(6)
        self.register_buffer("calls", ag.zeros(1))
        self.register_buffer("cache", ag.zeros(2), persistent=False)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).tanh()
        return self.norm(x)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


def _graph_nodes(root):
    nodes, stack, seen = [], [root.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "scope"):
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(parent for parent, _ in node.next_functions)
    return nodes


# ---- Parameter ---------------------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    data = ag.tensor([1.0, 2.0])
    param = nn.Parameter(data)
    assert isinstance(param, ag.Tensor) and param.requires_grad and param.is_leaf
    assert np.asarray(param) is np.asarray(data)  # shares the array, as PyTorch shares storage
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert repr(param) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    with pytest.raises(TypeError, match="only floating tensors can require grad"):
        nn.Parameter(np.array([1, 2]))


# ---- registration and names ------------------------------------------------------------------


def test_named_parameters_buffers_and_modules_use_dotted_names():
    model = Model()
    assert [name for name, _ in model.named_parameters()] == [
        "encoder.layers.0.weight",
        "encoder.layers.0.bias",
        "encoder.layers.1.weight",
        "encoder.layers.1.bias",
        "encoder.norm.weight",
        "encoder.norm.bias",
        "head.weight",
        "head.bias",
    ]
    assert [name for name, _ in model.named_buffers()] == ["encoder.calls", "encoder.cache"]
    assert [name for name, _ in model.named_modules()] == [
        "",
        "encoder",
        "encoder.layers",
        "encoder.layers.0",
        "encoder.layers.1",
        "encoder.norm",
        "head",
    ]
    assert [name for name, _ in model.named_children()] == ["encoder", "head"]
    assert list(model.children()) == [model.encoder, model.head]
    assert len(list(model.modules())) == 7
    assert [name for name, _ in model.encoder.named_parameters(recurse=False)] == []
    # each module's parameters, then its persistent buffers, then its children (as PyTorch)
    assert list(model.state_dict()) == [
        "encoder.calls",
        "encoder.layers.0.weight",
        "encoder.layers.0.bias",
        "encoder.layers.1.weight",
        "encoder.layers.1.bias",
        "encoder.norm.weight",
        "encoder.norm.bias",
        "head.weight",
        "head.bias",
    ]


@requires_torch
def test_names_and_state_dict_order_match_torch():
    class TorchEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 6), torch.nn.Linear(6, 6)])
            self.norm = torch.nn.LayerNorm(6)
            self.register_buffer("calls", torch.zeros(1))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

    class TorchModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = TorchEncoder()
            self.head = torch.nn.Linear(6, 2)

    ours, theirs = Model(), TorchModel()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_assignment_rules():
    module = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign a Tensor as parameter 'weight'"):
        module.weight = ag.zeros(2, 2)
    module.bias = None
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    module.extra = nn.ReLU()
    assert "extra" in dict(module.named_children())
    del module.extra
    assert "extra" not in dict(module.named_children())
    module.scale = 2.0  # plain attributes stay plain
    assert list(module.state_dict()) == ["weight"]

    class Early(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(ag.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module\.__init__"):
        Early()
    with pytest.raises(TypeError, match="cannot register a Tensor as parameter"):
        nn.Module().register_parameter("w", ag.zeros(1))
    with pytest.raises(ValueError, match=r"must be non-empty and contain no '\.'"):
        nn.Module().register_buffer("a.b", ag.zeros(1))


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Module: subclasses of Module must define forward"):
        nn.Module()(ag.zeros(1))


# ---- modes, gradients, freezing ------------------------------------------------------------------


def test_train_and_eval_reach_every_submodule():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="mode must be a bool"):
        model.train("no")


def test_zero_grad_to_none_or_zeros():
    model = nn.Linear(3, 2)
    model(ag.randn(4, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(np.asarray(p.grad) == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_frozen_layers_get_no_gradient_and_stay_unchanged(optimizer):
    optim = pytest.importorskip("optim")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    frozen = [np.asarray(p).copy() for p in model[0].parameters()]
    trained = [np.asarray(p).copy() for p in model[2].parameters()]
    opt = getattr(optim, optimizer)(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(ag.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    assert all(p.grad is None for p in model[0].parameters())
    for param, before in zip(model[0].parameters(), frozen):
        np.testing.assert_array_equal(np.asarray(param), before)
    assert all(not np.array_equal(np.asarray(p), before) for p, before in zip(model[2].parameters(), trained))
    model.requires_grad_(True)
    assert all(p.requires_grad for p in model.parameters())


def test_astype_casts_parameters_and_float_buffers_in_place():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    assert model.double() is model and model[0].weight is weight
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert model[1].running_mean.dtype == np.float64 and model[1].num_batches_tracked.dtype == np.int64
    assert model.float()[0].weight.dtype == np.float32


def test_deepcopy_gives_an_independent_model():
    model = nn.MLP([2, 3, 2], norm="batch")
    clone = copy.deepcopy(model)
    with ag.no_grad():
        clone[0].linear.weight.fill_(0.0)
    assert not np.all(np.asarray(model[0].linear.weight) == 0)
    assert clone[0].linear.weight.requires_grad and isinstance(clone[0].linear.weight, nn.Parameter)


# ---- hooks and apply ----------------------------------------------------------------------------


def test_forward_hook_sees_and_may_replace_the_output():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.append((module, inputs, output)))
    x = ag.randn(3, 2)
    y = layer(x)
    assert seen[0][0] is layer and seen[0][1][0] is x and seen[0][2] is y
    replacing = layer.register_forward_hook(lambda module, inputs, output: output * 0)
    assert np.all(np.asarray(layer(x)) == 0)
    handle.remove()
    replacing.remove()
    layer(x)
    assert len(seen) == 2


def test_apply_visits_children_first_and_returns_the_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "ReLU", "Sequential", "Sequential"]

    def zero_linear(module):
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.weight)

    model.apply(zero_linear)
    assert np.all(np.asarray(model[0].weight) == 0)


# ---- containers ---------------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_iteration():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert [name for name, _ in head.named_children()] == ["1", "2"]  # slices keep the names, as PyTorch
    x = ag.randn(4, 2)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(layers[2](layers[1](layers[0](x)))))
    model[1] = nn.Tanh()
    assert isinstance(model[1], nn.Tanh)
    model.append(nn.Sigmoid())
    assert len(model) == 4
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [name for name, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    with pytest.raises(IndexError, match="Sequential: index 4 is out of range for 4 modules"):
        model[4]
    with pytest.raises(TypeError, match="Sequential: expected Modules, got function"):
        nn.Sequential(lambda x: x)


def test_module_list_registers_and_renumbers():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(blocks) == 3 and len(list(blocks.parameters())) == 6
    blocks.insert(0, nn.ReLU())
    assert isinstance(blocks[0], nn.ReLU) and [n for n, _ in blocks.named_children()] == ["0", "1", "2", "3"]
    del blocks[0]
    assert [n for n, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]
    blocks.extend([nn.Tanh()]).append(nn.Sigmoid())
    assert len(blocks) == 5 and isinstance(blocks[-1], nn.Sigmoid)
    assert isinstance(blocks[1:3], nn.ModuleList) and len(blocks[1:3]) == 2


def test_module_dict():
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert list(heads) == ["a", "b"] and "a" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    heads["c"] = nn.ReLU()
    assert isinstance(heads.pop("c"), nn.ReLU) and "c" not in heads
    with pytest.raises(KeyError, match="ModuleDict: no module named 'z'"):
        heads["z"]


# ---- scopes ------------------------------------------------------------------------------------


def test_every_node_carries_the_dotted_path_of_its_modules():
    model = Model()
    out = model(ag.randn(3, 4))
    scopes = {node.scope for node in _graph_nodes(out)}
    assert scopes == {
        ("Model", "encoder", "encoder.layers.0"),
        ("Model", "encoder"),
        ("Model", "encoder", "encoder.norm"),
        ("Model", "head"),
        ("Model", "encoder", "encoder.layers.1"),
    }
    assert (ag.randn(2, requires_grad=True) * 2).grad_fn.scope == ()


def test_scope_paths_follow_later_registration():
    block = nn.Sequential(nn.Linear(2, 2))
    assert block(ag.randn(1, 2)).grad_fn.scope == ("Sequential", "0")
    outer = nn.Sequential(nn.Identity(), block)
    assert outer(ag.randn(1, 2)).grad_fn.scope == ("Sequential", "1", "1.0")


# ---- repr --------------------------------------------------------------------------------------


def test_repr_of_a_small_model_is_pytorchs():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
    expected = (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=3, bias=True)\n"
        "    (1): Tanh()\n"
        "  )\n"
        "  (3): Linear(in_features=3, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(model) == expected
    if torch is not None:
        tnn = torch.nn
        assert (
            repr(
                tnn.Sequential(
                    tnn.Linear(2, 3), tnn.ReLU(), tnn.Sequential(tnn.Linear(3, 3), tnn.Tanh()), tnn.Linear(3, 1)
                )
            )
            == expected
        )


# ---- state dicts -------------------------------------------------------------------------------


def _ours():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.PReLU(), nn.LayerNorm(8), nn.Linear(8, 3))


def _theirs():
    tnn = torch.nn
    return tnn.Sequential(tnn.Linear(4, 8), tnn.BatchNorm1d(8), tnn.PReLU(), tnn.LayerNorm(8), tnn.Linear(8, 3))


@requires_torch
def test_state_dict_keys_match_torch():
    assert list(_ours().state_dict()) == list(_theirs().state_dict())
    ours = nn.Sequential(nn.Embedding(10, 4), nn.PReLU(4), nn.LayerNorm(4))
    theirs = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.PReLU(4), torch.nn.LayerNorm(4))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, value), torch_value in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert value.shape == tuple(torch_value.shape), name


def _train_a_step(model):
    """One forward in training mode, so BatchNorm's running statistics are not their initial values."""
    model.train()
    model(ag.randn(16, 4) * 3 + 1)
    model.eval()


@requires_torch
def test_safetensors_round_trip_into_torch(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = _ours()
    _train_a_step(model)
    path = tmp_path / "model.safetensors"
    ag.save(model.state_dict(), path)
    torch_model = _theirs()
    torch_model.load_state_dict(safetensors_torch.load_file(str(path)))
    torch_model.eval()
    x = ag.randn(5, 4)
    assert_close(model(x), torch_model(to_torch(x)), rtol=1e-5, atol=1e-6)
    assert torch_model[1].num_batches_tracked.item() == 1


@requires_torch
def test_safetensors_round_trip_from_torch(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch_model = _theirs()
    torch_model(torch.randn(16, 4) * 2 - 1)  # training-mode forward: running statistics move
    torch_model.eval()
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(torch_model.state_dict(), str(path))
    model = _ours()
    model.load_state_dict(ag.load(path))
    model.eval()
    x = ag.randn(5, 4)
    assert_close(model(x), torch_model(to_torch(x)), rtol=1e-5, atol=1e-6)


@requires_torch
def test_copy_weights_helper_is_strict():
    # copy_weights (used by the layer tests) relies on the keys matching; a mismatch must fail loudly.
    with pytest.raises(RuntimeError):
        copy_weights(nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2))


def test_load_state_dict_lists_every_problem_in_one_error():
    model = _ours()
    state = model.state_dict()
    before = {name: np.asarray(value).copy() for name, value in state.items()}
    bad = {name: ag.zeros_like(value) for name, value in state.items()}
    del bad["1.running_mean"], bad["4.bias"]
    bad["0.weight"] = ag.zeros(8, 5)
    bad["extra.weight"] = ag.zeros(1)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(bad)
    message = str(error.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert "missing keys: 1.running_mean, 4.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "0.weight: checkpoint shape (8, 5), model shape (8, 4)" in message
    for name, value in model.state_dict().items():  # nothing was copied
        np.testing.assert_array_equal(np.asarray(value), before[name])


def test_load_state_dict_non_strict_and_shape_mismatch():
    model = nn.Linear(3, 2)
    result = model.load_state_dict({"weight": np.ones((2, 3)), "other": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert np.all(np.asarray(model.weight) == 1) and model.weight.dtype == np.float32
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: checkpoint shape \(3, 2\)"):
        model.load_state_dict({"weight": np.ones((3, 2))}, strict=False)
    with pytest.raises(TypeError, match="expected a dict of name -> tensor"):
        model.load_state_dict([1, 2])


def test_state_dict_values_share_memory_and_bump_versions_on_load():
    model = nn.Linear(2, 2)
    state = model.state_dict()
    assert np.asarray(state["weight"]) is np.asarray(model.weight) and not state["weight"].requires_grad
    loss = (model.weight * model.weight).sum()  # saves the weight for backward (weight * 2 would not)
    model.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.zeros(2)})
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def _bits(model):
    return {name: (value.dtype, np.asarray(value).tobytes()) for name, value in model.state_dict().items()}


@pytest.mark.parametrize(
    "bad_value, complaint",
    [
        (np.array([None, None]), "dtype object (None or other objects)"),
        (np.array(["1.0", "x"]), "dtype <U3"),
        ([1.0, "x"], "dtype <U32"),
        (np.array([1 + 2j, 0j]), "dtype complex128"),
        ([[1.0], [2.0, 3.0]], "cannot be read as an array"),
    ],
    ids=["none-objects", "strings", "mixed-list", "complex", "ragged"],
)
def test_load_state_dict_refuses_values_that_are_not_numbers_and_changes_nothing(bad_value, complaint):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = _bits(model)
    good = {name: np.full(value.shape, 7.0) for name, value in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="values that are not real numbers for 1.bias: .*" + re.escape(complaint)):
        model.load_state_dict({**good, "1.bias": bad_value})  # the last entry: all others were fine
    assert _bits(model) == before


def test_load_state_dict_accepts_inf_and_nan_as_torch_does():
    model = nn.Linear(2, 1)
    model.load_state_dict({"weight": np.array([[np.inf, np.nan]]), "bias": np.array([-np.inf])})
    assert np.isposinf(np.asarray(model.weight)[0, 0]) and np.isnan(np.asarray(model.weight)[0, 1])
    assert np.isneginf(np.asarray(model.bias)[0])


# ---- FunctionModule ----------------------------------------------------------------------------


class Scale(nn.FunctionModule):
    """factor * x + shift, with a required factor; a shift of None is stored as the factor."""

    function = staticmethod(lambda x, factor, shift: x * factor + shift)
    defaults = {"factor": nn.module.REQUIRED, "shift": None}  # noqa: RUF012 -- a FunctionModule's table
    aliases = {"scale": "factor"}  # noqa: RUF012
    check_at_construction = False

    def normalise(self, values):
        if values["shift"] is None:
            values["shift"] = values["factor"]


def test_function_module_binds_required_arguments_normalises_and_keeps_attributes():
    module = Scale(2.0)
    assert (module.factor, module.shift, module.scale) == (2.0, 2.0, 2.0)
    assert module.hyperparameters == {"factor": 2.0, "shift": 2.0}
    np.testing.assert_array_equal(np.asarray(module(ag.tensor([1.0, 3.0]))), [4.0, 8.0])
    module.scale = 3.0  # through the alias
    module.shift = 0.0
    np.testing.assert_array_equal(np.asarray(module(ag.tensor([1.0, 3.0]))), [3.0, 9.0])
    assert repr(module) == "Scale(factor=3.0, shift=0.0)"
    assert Scale(scale=1.0, shift=5.0).hyperparameters == {"factor": 1.0, "shift": 5.0}
    assert module.state_dict() == {} and list(module.parameters()) == []
    with pytest.raises(TypeError, match="Scale: missing required argument 'factor'"):
        Scale(shift=1.0)


def test_function_module_hyperparameters_may_not_hide_module_attributes():
    with pytest.raises(TypeError, match=r"Bad: hyperparameter names \['training', 'eval'\] clash"):
        nn.module.function_module("Bad", lambda x, training, eval: x, "doc", training=True, eval=False)
