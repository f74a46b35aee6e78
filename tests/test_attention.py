"""scaled_dot_product_attention and MultiheadAttention: values and gradients against torch in float64
(masks, causal, scale, grouped-query heads, broadcast batch axes, fully masked rows), MultiheadAttention
loaded from torch's state dicts in every configuration, torch's init and parameter names, gradcheck,
dropout, and errors."""

import math
import re

import numpy as np
import pytest
from nn_helpers import requires_torch, to_torch, torch

import autograd_core as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(0)


def _random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _compare(ours_fn, torch_fn, arrays, grad_of, rtol=1e-10, atol=1e-12):
    """Values of ours_fn and torch_fn on the same float64 arrays, and the gradients of the inputs listed in
    `grad_of` after a backward of one random output gradient."""
    ours_inputs = [ag.tensor(a, requires_grad=i in grad_of) if a.dtype.kind == "f" else a for i, a in enumerate(arrays)]
    torch_inputs = [to_torch(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    ours, theirs = ours_fn(*ours_inputs), torch_fn(*torch_inputs)
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), rtol=rtol, atol=atol)
    seed = np.random.default_rng(1).standard_normal(theirs.shape)
    ours.backward(seed)
    theirs.backward(torch.tensor(seed))
    for i in grad_of:
        np.testing.assert_allclose(np.asarray(ours_inputs[i].grad), torch_inputs[i].grad.numpy(), rtol=rtol, atol=atol)


# ---- scaled_dot_product_attention -----------------------------------------------------------------------

# (name, query shape, key shape, value shape, keyword arguments, mask or None)
SDPA_CASES = [
    ("unbatched", (3, 4), (5, 4), (5, 6), {}, None),
    ("batched", (2, 3, 4), (2, 5, 4), (2, 5, 2), {}, None),
    ("heads", (2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5), {}, None),
    ("broadcast-batch", (2, 3, 4, 8), (1, 3, 6, 8), (2, 1, 6, 8), {}, None),
    ("scale", (2, 4, 3), (2, 4, 3), (2, 4, 3), {"scale": 0.3}, None),
    ("causal-square", (2, 4, 3), (2, 4, 3), (2, 4, 5), {"is_causal": True}, None),
    ("causal-long-query", (2, 6, 3), (2, 4, 3), (2, 4, 5), {"is_causal": True}, None),
    ("causal-short-query", (2, 3, 3), (2, 5, 3), (2, 5, 5), {"is_causal": True}, None),
    ("bool-mask", (2, 3, 4), (2, 5, 4), (2, 5, 4), {}, "bool"),
    ("float-mask", (2, 3, 4), (2, 5, 4), (2, 5, 4), {}, "float"),
    ("gqa", (2, 4, 3, 8), (2, 2, 5, 8), (2, 2, 5, 6), {"enable_gqa": True}, None),
    ("gqa-one-kv-head", (3, 3, 8), (1, 5, 8), (1, 5, 6), {"enable_gqa": True}, None),
]


def _mask(kind, query_shape, key_shape, seed=2):
    shape = (query_shape[-2], key_shape[-2])
    if kind == "bool":
        mask = np.random.default_rng(seed).random(shape) > 0.4
        mask[:, 0] = True  # no row fully masked (checked on its own below)
        return mask
    return np.random.default_rng(seed).standard_normal(shape)


@requires_torch
@pytest.mark.parametrize("name, q, k, v, kwargs, mask", SDPA_CASES, ids=[c[0] for c in SDPA_CASES])
def test_sdpa_matches_torch(name, q, k, v, kwargs, mask):
    arrays = [_random(*q, seed=3), _random(*k, seed=4), _random(*v, seed=5)]
    if mask is None:
        _compare(
            lambda *t: F.scaled_dot_product_attention(*t, **kwargs),
            lambda *t: torch.nn.functional.scaled_dot_product_attention(*t, **kwargs),
            arrays,
            grad_of=(0, 1, 2),
        )
    else:  # a float mask is differentiable as well
        arrays.append(_mask(mask, q, k))
        _compare(
            lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kwargs),
            lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m, **kwargs),
            arrays,
            grad_of=(0, 1, 2, 3) if mask == "float" else (0, 1, 2),
        )


@requires_torch
def test_sdpa_broadcasts_a_batched_mask_as_torch():
    q, k, v = _random(2, 3, 4, 5, seed=6), _random(2, 3, 6, 5, seed=7), _random(2, 3, 6, 5, seed=8)
    mask = np.random.default_rng(9).random((2, 1, 4, 6)) > 0.3
    mask[..., 0] = True
    _compare(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=torch.as_tensor(mask)),
        [q, k, v],
        grad_of=(0, 1, 2),
    )


@requires_torch
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_row_gives_zeros_and_zero_gradient_as_torch(kind):
    q, k, v = _random(2, 3, 4, seed=10), _random(2, 5, 4, seed=11), _random(2, 5, 6, seed=12)
    keep = np.ones((3, 5), dtype=bool)
    keep[1] = False
    mask = keep if kind == "bool" else np.where(keep, 0.0, -np.inf)
    query = ag.tensor(q, requires_grad=True)
    out = F.scaled_dot_product_attention(query, ag.tensor(k), ag.tensor(v), attn_mask=mask)
    np.testing.assert_array_equal(np.asarray(out.detach())[:, 1], 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(np.asarray(query.grad)[:, 1], 0.0)
    _compare(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=torch.as_tensor(mask)),
        [q, k, v],
        grad_of=(0, 1, 2),
    )


def test_sdpa_is_softmax_of_scaled_scores_times_value():
    q, k, v = _random(3, 4, seed=13), _random(5, 4, seed=14), _random(5, 2, seed=15)
    scores = q @ k.T / math.sqrt(4)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    out = F.scaled_dot_product_attention(ag.tensor(q), ag.tensor(k), ag.tensor(v))
    np.testing.assert_allclose(np.asarray(out), weights @ v, rtol=1e-12)
    causal = F.scaled_dot_product_attention(ag.tensor(q), ag.tensor(k), ag.tensor(v), is_causal=True)
    np.testing.assert_allclose(np.asarray(causal)[0], v[0], rtol=1e-12)  # the first query sees the first key only


@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_sdpa_gradcheck(mask):
    q, k, v = (ag.tensor(_random(2, 3, 4, seed=s), requires_grad=True) for s in (16, 17, 18))
    inputs = [q, k, v]
    if mask is not None:
        attn_mask = _mask(mask, (3, 4), (3, 4), seed=19)
        if mask == "float":
            inputs.append(ag.tensor(attn_mask, requires_grad=True))
    assert ag.gradcheck(
        lambda q, k, v, *m: F.scaled_dot_product_attention(
            q, k, v, attn_mask=m[0] if m else (attn_mask if mask else None)
        ),
        inputs,
    )


def test_sdpa_dropout_drops_weights_and_scales_the_rest():
    q, k = ag.tensor(_random(2, 6, 4, seed=20)), ag.tensor(_random(2, 8, 4, seed=21))
    identity = ag.tensor(np.eye(8))  # value = I: the output is the attention weights themselves
    weights = np.asarray(F.scaled_dot_product_attention(q, k, identity))
    ag.manual_seed(3)
    dropped = np.asarray(F.scaled_dot_product_attention(q, k, identity, dropout_p=0.5))
    zeroed = dropped == 0
    assert 0 < zeroed.sum() < zeroed.size
    np.testing.assert_allclose(dropped[~zeroed], 2.0 * weights[~zeroed], rtol=1e-12)
    ag.manual_seed(3)
    np.testing.assert_array_equal(np.asarray(F.scaled_dot_product_attention(q, k, identity, dropout_p=0.5)), dropped)


def test_sdpa_keeps_float32():
    q = ag.tensor(_random(2, 3, 4).astype(np.float32))
    mask = np.ones((3, 3), dtype=bool)
    assert F.scaled_dot_product_attention(q, q, q, attn_mask=mask).dtype == np.float32
    assert F.scaled_dot_product_attention(q, q, q, is_causal=True).dtype == np.float32


SDPA = "scaled_dot_product_attention"


@pytest.mark.parametrize(
    "shapes, kwargs, error, message",
    [
        (
            ((3, 4), (5, 4), (5, 4)),
            {"attn_mask": np.ones((3, 5), bool), "is_causal": True},
            ValueError,
            f"{SDPA}: pass either attn_mask or is_causal=True, not both",
        ),
        (((3, 4), (5, 3), (5, 4)), {}, ValueError, f"{SDPA}: query and key must have the same last axis"),
        (((3, 4), (5, 4), (6, 4)), {}, ValueError, f"{SDPA}: key and value must have the same sequence length"),
        (((2, 3, 4), (3, 5, 4), (3, 5, 4)), {}, ValueError, f"{SDPA}: the batch axes (all but the last two) do not"),
        (((4,), (5, 4), (5, 4)), {}, ValueError, f"{SDPA}: query, key and value need at least 2 dimensions"),
        (
            ((3, 4), (5, 4), (5, 4)),
            {"attn_mask": np.ones((3, 4), bool)},
            ValueError,
            f"{SDPA}: attn_mask of shape (3, 4) does not broadcast to the scores' (3, 5)",
        ),
        (
            ((3, 4), (5, 4), (5, 4)),
            {"attn_mask": np.ones((3, 5), np.int64)},
            TypeError,
            f"{SDPA}: attn_mask must be bool (True = attend) or floating",
        ),
        (((3, 4), (5, 4), (5, 4)), {"dropout_p": 1.0}, ValueError, f"{SDPA}: dropout must be in [0, 1)"),
        (((3, 4), (5, 4), (5, 4)), {"scale": "1"}, TypeError, f"{SDPA}: scale must be a real number"),
        (((3, 4), (5, 4), (5, 4)), {"is_causal": 1}, TypeError, f"{SDPA}: is_causal must be a bool"),
        (
            ((2, 3, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)),
            {"enable_gqa": True},
            ValueError,
            f"{SDPA}: enable_gqa needs key and value with a head axis (-3) dividing the query's 3 heads",
        ),
    ],
)
def test_sdpa_errors(shapes, kwargs, error, message):
    q, k, v = (ag.tensor(np.zeros(s)) for s in shapes)
    with pytest.raises(error, match=re.escape(message)):
        F.scaled_dot_product_attention(q, k, v, **kwargs)


def test_sdpa_rejects_mixed_dtypes():
    q = ag.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match=re.escape(f"{SDPA}: query, key and value must have the same dtype")):
        F.scaled_dot_product_attention(q, q, ag.tensor(np.zeros((3, 4))))


# ---- MultiheadAttention ------------------------------------------------------------------------------------

L, S, N = 3, 4, 2
PADDING = np.array([[False, False, True, False], [True, False, False, False]])

# (name, constructor arguments, forward arguments, batched)
MHA_CASES = [
    ("default", {}, {}, True),
    ("batch-first", {"batch_first": True}, {}, True),
    ("unbatched", {}, {}, False),
    ("unbatched-padding-per-head-mask", {}, {"key_padding_mask": PADDING[0], "attn_mask": "float-3d"}, False),
    ("kdim-vdim", {"embed_dim": 6, "num_heads": 3, "kdim": 5, "vdim": 2}, {}, True),
    ("no-bias", {"bias": False}, {}, True),
    ("key-padding", {}, {"key_padding_mask": PADDING}, True),
    ("float-key-padding", {}, {"key_padding_mask": "float-padding"}, True),
    ("attn-mask-float", {}, {"attn_mask": "float"}, True),
    ("attn-mask-bool-per-head", {}, {"attn_mask": "bool-3d"}, True),
    ("both-masks", {"batch_first": True}, {"key_padding_mask": PADDING, "attn_mask": "bool"}, True),
    ("per-head-weights", {}, {"average_attn_weights": False}, True),
    ("no-weights", {}, {"need_weights": False}, True),
    ("no-weights-masks", {}, {"need_weights": False, "key_padding_mask": PADDING, "attn_mask": "float"}, True),
    ("no-weights-per-head-mask", {}, {"need_weights": False, "attn_mask": "bool-3d"}, True),
    ("causal-hint", {}, {"need_weights": False, "attn_mask": "causal", "is_causal": True}, True),
    ("causal-hint-weights", {}, {"attn_mask": "causal", "is_causal": True}, True),
    (
        "bias-kv-zero-attn",
        {"add_bias_kv": True, "add_zero_attn": True},
        {"key_padding_mask": PADDING, "attn_mask": "float"},
        True,
    ),
    ("bias-kv-unbatched", {"add_bias_kv": True}, {}, False),
    ("zero-attn-no-weights", {"add_zero_attn": True}, {"need_weights": False}, True),
]


def _forward_arguments(arguments, heads, batched):
    """The forward's masks, made concrete: bool masks mark disallowed pairs (MultiheadAttention's sense)."""
    rng = np.random.default_rng(22)
    batch = N if batched else 1
    made = {
        "float": lambda: rng.standard_normal((L, S)),
        "bool": lambda: np.triu(np.ones((L, S), bool), 2),
        "causal": lambda: np.triu(np.ones((L, S), bool), 1),
        "bool-3d": lambda: np.arange(batch * heads * L * S).reshape(batch * heads, L, S) % 3 == 1,
        "float-3d": lambda: rng.standard_normal((batch * heads, L, S)),
        "float-padding": lambda: rng.standard_normal((N, S)),
    }
    return {name: made[value]() if isinstance(value, str) else value for name, value in arguments.items()}


def _inputs(module_arguments, batched):
    embed = module_arguments.get("embed_dim", 4)
    kdim, vdim = module_arguments.get("kdim", embed), module_arguments.get("vdim", embed)

    def shape(length, width):
        if not batched:
            return (length, width)
        return (N, length, width) if module_arguments.get("batch_first") else (length, N, width)

    return [_random(*shape(L, embed), seed=23), _random(*shape(S, kdim), seed=24), _random(*shape(S, vdim), seed=25)]


def _twins(module_arguments):
    arguments = {"embed_dim": 4, "num_heads": 2, **module_arguments}
    theirs = torch.nn.MultiheadAttention(**arguments).double()
    ours = nn.MultiheadAttention(**arguments).double()
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


@requires_torch
@pytest.mark.parametrize("name, module_arguments, forward_arguments, batched", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multihead_attention_from_a_torch_state_dict_gives_torchs_outputs_and_gradients(
    name, module_arguments, forward_arguments, batched
):
    torch.manual_seed(0)
    ours, theirs = _twins(module_arguments)
    forward = _forward_arguments(forward_arguments, theirs.num_heads, batched)
    arrays = _inputs(module_arguments, batched)
    ours_inputs = [ag.tensor(a, requires_grad=True) for a in arrays]
    torch_inputs = [to_torch(a, requires_grad=True) for a in arrays]
    out, weights = ours(*ours_inputs, **forward)
    torch_out, torch_weights = theirs(
        *torch_inputs,
        **{k: torch.as_tensor(v) for k, v in forward.items() if isinstance(v, np.ndarray)},
        **{k: v for k, v in forward.items() if not isinstance(v, np.ndarray)},
    )
    np.testing.assert_allclose(np.asarray(out.detach()), torch_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    if torch_weights is None:
        assert weights is None
    else:
        np.testing.assert_allclose(np.asarray(weights.detach()), torch_weights.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed = np.random.default_rng(26).standard_normal(torch_out.shape)
    out.backward(seed)
    torch_out.backward(torch.tensor(seed))
    for ours_input, torch_input in zip(ours_inputs, torch_inputs):
        np.testing.assert_allclose(np.asarray(ours_input.grad), torch_input.grad.numpy(), rtol=1e-10, atol=1e-12)
    torch_parameters = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(torch_parameters)
    for parameter_name, parameter in ours.named_parameters():
        np.testing.assert_allclose(
            np.asarray(parameter.grad), torch_parameters[parameter_name].grad.numpy(), rtol=1e-10, atol=1e-12
        )


@requires_torch
def test_multihead_attention_state_dict_loads_into_torch():
    ours = nn.MultiheadAttention(6, 3, kdim=2, add_bias_kv=True).double()
    theirs = torch.nn.MultiheadAttention(6, 3, kdim=2, add_bias_kv=True).double()
    theirs.load_state_dict({name: to_torch(value) for name, value in ours.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())


@requires_torch
def test_multihead_attention_fully_masked_query_matches_torch_on_both_paths():
    """Torch's explicit path (need_weights=True) gives nan for a query whose keys are all masked, its
    scaled_dot_product_attention path (need_weights=False) zeros; we follow each."""
    ours, theirs = _twins({})
    arrays = _inputs({}, True)
    mask = np.zeros((L, S), bool)
    mask[1] = True
    for need_weights in (True, False):
        out, _ = ours(*(ag.tensor(a) for a in arrays), attn_mask=mask, need_weights=need_weights)
        torch_out, _ = theirs(
            *(to_torch(a) for a in arrays), attn_mask=torch.as_tensor(mask), need_weights=need_weights
        )
        np.testing.assert_allclose(np.asarray(out), torch_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert np.isnan(np.asarray(out)[1]).all() == need_weights


def test_multihead_attention_parameters_and_init_are_torchs():
    module = nn.MultiheadAttention(8, 2)
    assert [(n, p.shape) for n, p in module.named_parameters()] == [
        ("in_proj_weight", (24, 8)),
        ("in_proj_bias", (24,)),
        ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,)),
    ]
    bound = math.sqrt(6.0 / (8 + 24))  # xavier_uniform over the packed (3E, E) weight, as torch
    weight = np.asarray(module.in_proj_weight.detach())
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound
    np.testing.assert_array_equal(np.asarray(module.in_proj_bias.detach()), 0.0)
    np.testing.assert_array_equal(np.asarray(module.out_proj.bias.detach()), 0.0)
    assert np.abs(np.asarray(module.out_proj.weight.detach())).max() <= 1.0 / math.sqrt(8)  # Linear's init
    assert module.in_proj_weight.dtype == np.float32
    separate = nn.MultiheadAttention(6, 3, bias=False, add_bias_kv=True, kdim=4, vdim=2)
    assert [(n, p.shape) for n, p in separate.named_parameters()] == [
        ("q_proj_weight", (6, 6)),
        ("k_proj_weight", (6, 4)),
        ("v_proj_weight", (6, 2)),
        ("bias_k", (1, 1, 6)),
        ("bias_v", (1, 1, 6)),
        ("out_proj.weight", (6, 6)),
    ]
    assert separate.in_proj_weight is None and separate.in_proj_bias is None
    assert (separate.head_dim, separate.kdim, separate.vdim, separate._qkv_same_embed_dim) == (2, 4, 2, False)
    assert repr(module) == ("MultiheadAttention(\n  (out_proj): Linear(in_features=8, out_features=8, bias=True)\n)")


def test_multihead_attention_gradcheck():
    module = nn.MultiheadAttention(4, 2, add_bias_kv=True, batch_first=True).double()
    query, key = (ag.tensor(_random(2, n, 4, seed=n), requires_grad=True) for n in (3, 5))
    mask = np.zeros((3, 5), bool)
    mask[0, 1:] = True
    assert ag.gradcheck(
        lambda q, k, *params: module(q, k, k, attn_mask=mask, key_padding_mask=np.eye(2, 5, dtype=bool))[0],
        (query, key, *module.parameters()),
    )


def test_multihead_attention_dropout_only_in_training():
    module = nn.MultiheadAttention(4, 2, dropout=0.5).double()
    x = ag.tensor(_random(3, 2, 4, seed=27))
    module.eval()
    first, weights = module(x, x, x)
    np.testing.assert_array_equal(np.asarray(module(x, x, x)[0]), np.asarray(first))
    np.testing.assert_allclose(np.asarray(weights).sum(axis=-1), 1.0, rtol=1e-12)
    module.train()
    _, dropped = module(x, x, x, average_attn_weights=False)
    assert (np.asarray(dropped) == 0).any()


MHA = "MultiheadAttention"


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nn.MultiheadAttention(6, 4), ValueError, f"{MHA}: embed_dim (6) must be divisible by num_heads (4)"),
        (lambda: nn.MultiheadAttention(0, 1), ValueError, f"{MHA}: embed_dim must be positive"),
        (lambda: nn.MultiheadAttention(4, 2.0), TypeError, f"{MHA}: num_heads must be an int"),
        (lambda: nn.MultiheadAttention(4, 2, dropout=1.0), ValueError, f"{MHA}: dropout must be in [0, 1)"),
        (lambda: nn.MultiheadAttention(4, 2, kdim=0), ValueError, f"{MHA}: kdim must be positive"),
    ],
)
def test_multihead_attention_constructor_errors(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build()


@pytest.mark.parametrize(
    "shapes, kwargs, error, message",
    [
        (((3, 2, 4), (4, 2, 4), (4, 4)), {}, ValueError, f"{MHA}: expected query, key and value all 3-D"),
        (((3, 2, 4), (4, 2, 5), (4, 2, 4)), {}, ValueError, f"{MHA}: expected last axes (embed_dim, kdim, vdim)"),
        (((3, 2, 4), (4, 2, 4), (5, 2, 4)), {}, ValueError, f"{MHA}: key and value must have the same sequence"),
        (((3, 2, 4), (4, 3, 4), (4, 3, 4)), {}, ValueError, f"{MHA}: query and key have different batch sizes"),
        (
            ((3, 2, 4), (4, 2, 4), (4, 2, 4)),
            {"key_padding_mask": np.zeros((4, 2), bool)},
            ValueError,
            f"{MHA}: key_padding_mask must have shape (2, 4)",
        ),
        (
            ((3, 2, 4), (4, 2, 4), (4, 2, 4)),
            {"attn_mask": np.zeros((3, 3), bool)},
            ValueError,
            f"{MHA}: attn_mask must have shape (3, 4) or (4, 3, 4)",
        ),
        (
            ((3, 2, 4), (4, 2, 4), (4, 2, 4)),
            {"attn_mask": np.zeros((3, 4), np.int32)},
            TypeError,
            f"{MHA}: attn_mask must be bool (True = masked) or floating",
        ),
        (
            ((3, 2, 4), (4, 2, 4), (4, 2, 4)),
            {"is_causal": True},
            ValueError,
            f"{MHA}: is_causal=True is a hint that attn_mask is causal; pass the mask too",
        ),
    ],
)
def test_multihead_attention_forward_errors(shapes, kwargs, error, message):
    module = nn.MultiheadAttention(4, 2)
    inputs = [ag.tensor(np.zeros(s, np.float32)) for s in shapes]
    with pytest.raises(error, match=re.escape(message)):
        module(*inputs, **kwargs)
