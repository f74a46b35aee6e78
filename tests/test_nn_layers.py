"""Layers: values and gradients against torch.nn (weights copied), gradcheck in float64, PyTorch's
initialisation, dropout statistics, batch-norm running statistics, and construction errors."""

import math

import numpy as np
import pytest
from nn_helpers import assert_close, compare_with_torch, copy_weights, requires_torch, torch

import autograd_core as ag
import nn


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _params_match_torch(module, torch_module, rtol=1e-6, atol=1e-8):
    torch_grads = dict(torch_module.named_parameters())
    for name, param in module.named_parameters():
        assert_close(param.grad, torch_grads[name].grad, rtol, atol)


def _gradcheck_module(module, x):
    return ag.gradcheck(lambda x, *params: module(x), (x, *module.parameters()))


# ---- Linear --------------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(shape, bias):
    layer = nn.Linear(3, 2, bias=bias).double()
    torch_layer = copy_weights(layer, torch.nn.Linear(3, 2, bias=bias).double())
    compare_with_torch(layer, torch_layer, [_data(*shape)])
    _params_match_torch(layer, torch_layer)


def test_linear_gradcheck():
    layer = nn.Linear(3, 2).double()
    assert _gradcheck_module(layer, ag.tensor(_data(4, 3), requires_grad=True))


def test_linear_uses_pytorch_default_init():
    layer = nn.Linear(100, 300)
    bound = 1.0 / math.sqrt(100)
    for param in (layer.weight, layer.bias):
        assert param.dtype == np.float32
        assert np.abs(np.asarray(param)).max() <= bound
    # U(-b, b) has standard deviation b / sqrt(3); 30000 draws pin it within 2%.
    assert abs(np.asarray(layer.weight).std() - bound / math.sqrt(3)) < 0.02 * bound / math.sqrt(3)
    assert layer.weight.shape == (300, 100) and layer.bias.shape == (300,)


def test_linear_init_follows_the_seed():
    ag.manual_seed(7)
    first = np.asarray(nn.Linear(4, 3).weight).copy()
    ag.manual_seed(7)
    np.testing.assert_array_equal(np.asarray(nn.Linear(4, 3).weight), first)


def test_linear_rejects_a_mismatched_input():
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) does not match weight of shape \(3, 4\)"):
        nn.Linear(4, 3)(ag.randn(2, 5))


# ---- MLP --------------------------------------------------------------------------------------


def test_mlp_layout_and_state_dict_names():
    mlp = nn.MLP([2, 8, 8, 3], activation="prelu", norm="batch", dropout=0.1, residual=True)
    assert len(mlp) == 3 and isinstance(mlp[2], nn.Linear)
    assert [block.residual for block in mlp[:2]] == [False, True]
    assert list(mlp.state_dict()) == [
        "0.linear.weight",
        "0.linear.bias",
        "0.norm.weight",
        "0.norm.bias",
        "0.norm.running_mean",
        "0.norm.running_var",
        "0.norm.num_batches_tracked",
        "0.activation.weight",
        "1.linear.weight",
        "1.linear.bias",
        "1.norm.weight",
        "1.norm.bias",
        "1.norm.running_mean",
        "1.norm.running_var",
        "1.norm.num_batches_tracked",
        "1.activation.weight",
        "2.weight",
        "2.bias",
    ]
    plain = nn.MLP([2, 8, 8, 3], activation="prelu", norm="batch", dropout=0.1)
    plain.load_state_dict(mlp.state_dict())  # the residual flag does not change the names


def test_mlp_computes_its_documented_formula():
    mlp = nn.MLP([3, 4, 4, 2], activation="tanh", norm="layer", residual=True).double()
    x = _data(5, 3)

    def layer_norm(h):
        return (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)

    def linear(layer, h):
        return h @ np.asarray(layer.weight).T + np.asarray(layer.bias)

    h1 = np.tanh(layer_norm(linear(mlp[0].linear, x)))  # widths 3 -> 4: no residual
    h2 = h1 + np.tanh(layer_norm(linear(mlp[1].linear, h1)))  # 4 -> 4: residual
    np.testing.assert_allclose(np.asarray(mlp(ag.tensor(x))), linear(mlp[2], h2), rtol=1e-12)


@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_mlp_gradcheck(norm):
    mlp = nn.MLP([3, 4, 4, 2], activation="elu", norm=norm, residual=True).double()
    assert _gradcheck_module(mlp, ag.tensor(_data(4, 3), requires_grad=True))


def test_mlp_with_two_sizes_is_one_linear_layer():
    mlp = nn.MLP([5, 2])
    assert len(mlp) == 1 and [name for name, _ in mlp.named_parameters()] == ["0.weight", "0.bias"]


@pytest.mark.parametrize("hooked", ["linear", "activation"])
def test_mlp_block_runs_the_hooks_of_the_modules_its_fused_path_bypasses(hooked):
    """Linear + ReLU run as one fused node; a hook on either module makes the block call both modules
    (so the hook fires, with the module's own output), and the result is the fused path's."""
    mlp = nn.MLP([4, 6, 3], activation="relu").double()
    block, x = mlp[0], ag.tensor(_data(5, 4))
    fused = np.asarray(mlp(x))
    seen = []
    handle = getattr(block, hooked).register_forward_hook(
        lambda module, inputs, output: seen.append(np.asarray(output))
    )
    unfused = np.asarray(mlp(x))
    expected = np.asarray(x) @ np.asarray(block.linear.weight).T + np.asarray(block.linear.bias)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], expected if hooked == "linear" else np.maximum(expected, 0), rtol=1e-12)
    np.testing.assert_allclose(unfused, fused, rtol=1e-12)
    handle.remove()
    mlp(x)
    assert len(seen) == 1


def test_mlp_block_follows_a_replaced_activation():
    mlp = nn.MLP([4, 6, 3], activation="relu").double()
    x = ag.tensor(_data(5, 4))
    mlp[0].activation = nn.Tanh()
    hidden = np.tanh(np.asarray(x) @ np.asarray(mlp[0].linear.weight).T + np.asarray(mlp[0].linear.bias))
    np.testing.assert_allclose(
        np.asarray(mlp(x)), hidden @ np.asarray(mlp[1].weight).T + np.asarray(mlp[1].bias), rtol=1e-12
    )


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nn.MLP([2, 0, 1]), ValueError, r"MLP: sizes\[1\] must be positive, got 0"),
        (lambda: nn.MLP([2, -3, 1]), ValueError, r"MLP: sizes\[1\] must be positive"),
        (lambda: nn.MLP([2, 4.0, 1]), TypeError, r"MLP: sizes\[1\] must be an int"),
        (lambda: nn.MLP([2]), ValueError, "MLP: sizes needs at least an input and an output width"),
        (lambda: nn.MLP(3), TypeError, "MLP: sizes must be a sequence of ints"),
        (lambda: nn.MLP([2, 4, 1], activation="relux"), ValueError, "unknown activation 'relux'; valid names are relu"),
        (lambda: nn.MLP([2, 4, 1], dropout=1.0), ValueError, r"MLP: dropout must be in \[0, 1\)"),
        (lambda: nn.MLP([2, 4, 1], norm="group"), ValueError, "MLP: norm must be None, 'batch' or 'layer'"),
        (lambda: nn.MLP([2, 4, 1], residual="yes"), TypeError, "MLP: residual must be a bool"),
    ],
)
def test_mlp_rejects_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()


# ---- Dropout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_in_training(p):
    dropout = nn.Dropout(p)
    x = ag.ones(1000, 1000, requires_grad=True)
    y = dropout(x)
    kept = np.asarray(y) != 0
    n = kept.size
    # The kept fraction is Binomial(n, 1-p) / n: within 6 standard deviations.
    assert abs(kept.mean() - (1 - p)) < 6 * math.sqrt(p * (1 - p) / n)
    scale = np.float32(1.0 / (1.0 - p))
    assert np.all(np.asarray(y)[kept] == scale)
    y.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), np.where(kept, scale, 0.0))


def test_dropout_is_the_identity_in_eval_mode_and_with_p_zero():
    x = ag.randn(50, 20)
    dropout = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(np.asarray(dropout(x)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(nn.Dropout(0.0)(x)), np.asarray(x))
    assert not np.array_equal(np.asarray(dropout.train()(x)), np.asarray(x))


def test_dropout_masks_follow_the_seed():
    x = ag.ones(100)
    ag.manual_seed(3)
    first = np.asarray(nn.Dropout(0.5)(x))
    ag.manual_seed(3)
    np.testing.assert_array_equal(np.asarray(nn.Dropout(0.5)(x)), first)


# ---- BatchNorm1d ------------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_training_steps_and_eval_match_torch(shape, momentum):
    bn = nn.BatchNorm1d(3, momentum=momentum).double()
    with ag.no_grad():  # non-trivial affine parameters
        bn.weight.copy_(np.array([0.5, 1.5, -1.0]))
        bn.bias.copy_(np.array([0.1, -0.2, 0.3]))
    torch_bn = copy_weights(bn, torch.nn.BatchNorm1d(3, momentum=momentum).double())
    for step in range(4):
        x = _data(*shape, seed=step) * (step + 1) + step  # batches with different statistics
        compare_with_torch(bn, torch_bn, [x])
        _params_match_torch(bn, torch_bn)
        bn.zero_grad()
        torch_bn.zero_grad()
    for name in ("running_mean", "running_var"):
        assert_close(getattr(bn, name), getattr(torch_bn, name), rtol=1e-10, atol=1e-12)
    assert bn.num_batches_tracked.item() == torch_bn.num_batches_tracked.item() == 4
    assert bn.num_batches_tracked.dtype == np.int64
    bn.eval()
    torch_bn.eval()
    compare_with_torch(bn, torch_bn, [_data(*shape, seed=9)])
    _params_match_torch(bn, torch_bn)


@requires_torch
def test_batchnorm_without_affine_or_running_stats_matches_torch():
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False).double()
    torch_bn = torch.nn.BatchNorm1d(4, affine=False, track_running_stats=False).double()
    assert list(bn.state_dict()) == list(torch_bn.state_dict()) == []
    compare_with_torch(bn, torch_bn, [_data(6, 4)])
    bn.eval()
    torch_bn.eval()
    compare_with_torch(bn, torch_bn, [_data(6, 4, seed=1)])  # batch statistics even in eval


@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 2)])
def test_batchnorm_gradcheck(shape):
    bn = nn.BatchNorm1d(3).double()
    assert _gradcheck_module(bn, ag.tensor(_data(*shape), requires_grad=True))
    bn.eval()
    assert _gradcheck_module(bn, ag.tensor(_data(*shape), requires_grad=True))


def test_batchnorm_rejects_bad_inputs():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"batch_norm: weight of shape \(3,\) does not match the expected shape \(4"):
        bn(ag.randn(5, 4))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(3,\), expected \(4,\)"):
        nn.functional.batch_norm(ag.randn(5, 4), bn.running_mean, bn.running_var, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of shape \(N, C\) or \(N, C, L\)"):
        bn(ag.randn(3))
    with pytest.raises(ValueError, match="expected more than 1 value per channel when training"):
        bn(ag.randn(1, 3))
    bn.eval()
    assert bn(ag.randn(1, 3)).shape == (1, 3)  # one sample is fine with running statistics


# ---- LayerNorm ---------------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("shape, normalized", [((4, 5), 5), ((2, 3, 4), (3, 4)), ((6,), (6,))])
def test_layernorm_matches_torch(shape, normalized):
    ln = nn.LayerNorm(normalized).double()
    with ag.no_grad():
        ln.weight.copy_(_data(*ln.normalized_shape, seed=5))
        ln.bias.copy_(_data(*ln.normalized_shape, seed=6))
    torch_ln = copy_weights(ln, torch.nn.LayerNorm(normalized).double())
    compare_with_torch(ln, torch_ln, [_data(*shape)])
    _params_match_torch(ln, torch_ln)


@requires_torch
def test_layernorm_without_affine_matches_torch():
    ln = nn.LayerNorm(4, eps=1e-3, elementwise_affine=False)
    assert list(ln.parameters()) == []
    compare_with_torch(ln, torch.nn.LayerNorm(4, eps=1e-3, elementwise_affine=False), [_data(3, 4)])


def test_layernorm_gradcheck_and_shape_error():
    ln = nn.LayerNorm((2, 3)).double()
    assert _gradcheck_module(ln, ag.tensor(_data(2, 2, 3), requires_grad=True))
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(2, 3, 2\) does not end with normalized_shape"):
        ln(ag.randn(2, 3, 2))


# ---- Embedding ---------------------------------------------------------------------------------


@requires_torch
def test_embedding_matches_torch_and_accumulates_repeated_indices():
    emb = nn.Embedding(6, 3).double()
    torch_emb = copy_weights(emb, torch.nn.Embedding(6, 3).double())
    indices = np.array([[1, 4, 1], [1, 0, 5]])
    y = emb(indices)
    torch_y = torch_emb(torch.tensor(indices))
    assert_close(y, torch_y)
    seed = _data(2, 3, 3)
    y.backward(seed)
    torch_y.backward(torch.tensor(seed))
    assert_close(emb.weight.grad, torch_emb.weight.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(emb.weight.grad)[1], seed[0, 0] + seed[0, 2] + seed[1, 0])


def test_embedding_init_and_errors():
    emb = nn.Embedding(200, 100)
    assert abs(np.asarray(emb.weight).std() - 1.0) < 0.02 and abs(np.asarray(emb.weight).mean()) < 0.02
    with pytest.raises(IndexError, match="embedding: index 200 is out of range for 200 embeddings"):
        emb(np.array([3, 200]))
    with pytest.raises(IndexError, match="embedding: index -1 is out of range"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="embedding: indices must be integers"):
        emb(ag.tensor([1.0, 2.0]))


def test_embedding_gradcheck():
    emb = nn.Embedding(4, 2).double()
    assert ag.gradcheck(lambda weight: emb(np.array([0, 3, 0, 0])), (emb.weight,))


@requires_torch
@pytest.mark.parametrize("padding_idx", [2, -1])
def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient_as_torch(padding_idx):
    emb = nn.Embedding(5, 3, padding_idx=padding_idx).double()
    torch_emb = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    assert emb.padding_idx == torch_emb.padding_idx == padding_idx % 5
    np.testing.assert_array_equal(np.asarray(emb.weight)[padding_idx % 5], np.zeros(3))
    np.asarray(emb.weight)[padding_idx % 5] = [1.0, -2.0, 3.0]  # a non-zero padding row is still looked up, and frozen
    torch_emb = copy_weights(emb, torch_emb)
    indices = np.array([[padding_idx % 5, 1, 4], [padding_idx % 5, 0, 1]])
    y = emb(indices)
    torch_y = torch_emb(torch.tensor(indices))
    assert_close(y, torch_y)
    seed = _data(2, 3, 3)
    y.backward(seed)
    torch_y.backward(torch.tensor(seed))
    assert_close(emb.weight.grad, torch_emb.weight.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(emb.weight.grad)[padding_idx % 5], np.zeros(3))
    assert np.abs(np.asarray(emb.weight.grad)[1]).sum() > 0
    assert repr(emb) == repr(torch_emb) == f"Embedding(5, 3, padding_idx={padding_idx % 5})"


def test_embedding_padding_row_is_frozen_while_the_looked_up_rows_get_their_counts():
    # Not a gradcheck: the padding row's zero gradient is by design, not the derivative of the lookup.
    emb = nn.Embedding(4, 2, padding_idx=0).double()
    emb(ag.tensor(np.array([0, 3, 0, 1]))).sum().backward()
    np.testing.assert_array_equal(np.asarray(emb.weight.grad), [[0, 0], [1, 1], [0, 0], [1, 1]])


@pytest.mark.parametrize(
    "padding_idx, error, message",
    [
        (4, ValueError, r"Embedding: padding_idx must be in \[-4, 4\) for 4 embeddings, got 4"),
        (-5, ValueError, r"Embedding: padding_idx must be in \[-4, 4\) for 4 embeddings, got -5"),
        (1.0, TypeError, "Embedding: padding_idx must be an int or None, got float 1.0"),
    ],
)
def test_embedding_padding_idx_out_of_range_is_refused(padding_idx, error, message):
    with pytest.raises(error, match=message):
        nn.Embedding(4, 2, padding_idx=padding_idx)


# ---- Residual, Identity, Flatten ---------------------------------------------------------------


def test_residual_adds_its_input():
    inner = nn.Linear(3, 3).double()
    block = nn.Residual(inner)
    x = ag.tensor(_data(4, 3), requires_grad=True)
    np.testing.assert_allclose(np.asarray(block(x)), np.asarray(x) + np.asarray(inner(x)), rtol=1e-12)
    assert _gradcheck_module(block, x)
    assert [name for name, _ in block.named_parameters()] == ["module.weight", "module.bias"]
    with pytest.raises(ValueError, match=r"Residual: the wrapped Linear maps shape \(4, 3\) to \(4, 2\)"):
        nn.Residual(nn.Linear(3, 2))(x)


def test_identity_returns_its_input():
    x = ag.randn(2, 3)
    assert nn.Identity()(x) is x


@requires_torch
@pytest.mark.parametrize("start, end", [(1, -1), (0, 1), (1, 2)])
def test_flatten_matches_torch(start, end):
    compare_with_torch(nn.Flatten(start, end), torch.nn.Flatten(start, end), [_data(2, 3, 4, 2)])


# ---- construction errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nn.Linear(0, 3), ValueError, "Linear: in_features must be positive, got 0"),
        (lambda: nn.Linear(3, -2), ValueError, "Linear: out_features must be positive, got -2"),
        (lambda: nn.Linear(2.0, 3), TypeError, "Linear: in_features must be an int, got float"),
        (lambda: nn.Linear(True, 3), TypeError, "Linear: in_features must be an int, got bool"),
        (lambda: nn.Dropout(1.0), ValueError, r"Dropout: p must be in \[0, 1\), got 1.0"),
        (lambda: nn.Dropout(-0.1), ValueError, r"Dropout: p must be in \[0, 1\)"),
        (lambda: nn.Dropout("0.5"), TypeError, "Dropout: p must be a real number"),
        (lambda: nn.BatchNorm1d(0), ValueError, "BatchNorm1d: num_features must be positive"),
        (lambda: nn.BatchNorm1d(3, momentum=1.5), ValueError, r"BatchNorm1d: momentum must be in \[0, 1\]"),
        (lambda: nn.BatchNorm1d(3, eps=0), ValueError, "BatchNorm1d: eps must be > 0"),
        (lambda: nn.LayerNorm((3, 0)), ValueError, "LayerNorm: normalized_shape entries must be positive"),
        (lambda: nn.Embedding(10, 0), ValueError, "Embedding: embedding_dim must be positive"),
        (lambda: nn.Embedding(2.5, 3), TypeError, "Embedding: num_embeddings must be an int"),
        (lambda: nn.Flatten(start_dim=0.5), TypeError, "Flatten: start_dim must be an int"),
        (lambda: nn.Residual(lambda x: x), TypeError, "Residual: expected a Module"),
    ],
)
def test_bad_constructor_arguments_raise_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_layer_reprs_match_pytorch():
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(in_features=2, out_features=3, bias=False)"
    assert repr(nn.BatchNorm1d(3)) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.LayerNorm(3)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.Embedding(4, 3)) == "Embedding(4, 3)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
