"""Multi-head attention, PyTorch's `nn.MultiheadAttention`: the same constructor, parameter names, init,
forward signature, masks and return values, so a state dict saved from PyTorch loads and gives PyTorch's
outputs.

For each of H heads (head_dim = embed_dim / H), with Q = query W_q^T + b_q, K = key W_k^T + b_k and
V = value W_v^T + b_v split into heads,

    head_h  = softmax(Q_h K_h^T / sqrt(head_dim) + mask) V_h
    output  = concat(head_1, ..., head_H) W_o^T + b_o

Masks are PyTorch's MultiheadAttention masks, whose bool convention is the opposite of
`scaled_dot_product_attention`'s: True means "do not attend". `key_padding_mask` (N, S) hides keys of
each batch entry, `attn_mask` (L, S) or (N * H, L, S) hides (query, key) pairs; a float mask of either
kind is added to the scores.
"""

import math

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter, check_size

__all__ = ["MultiheadAttention"]


def _parameter(*shape: int) -> Parameter:
    return Parameter(np.zeros(shape, dtype=ag.get_default_dtype()))


def _additive_mask(who: str, name: str, mask: object, dtype: np.dtype) -> Tensor | None:
    """A MultiheadAttention mask as a float Tensor to add to the scores: a bool mask becomes -inf where
    True (masked) and 0 elsewhere; a float mask is used as it is (it may require grad)."""
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.dtype == np.bool_:
        return ag.Tensor(np.where(array, -np.inf, 0.0).astype(dtype))
    if array.dtype.kind != "f":
        raise TypeError(f"{who}: {name} must be bool (True = masked) or floating (added), got dtype {array.dtype}")
    return mask if isinstance(mask, Tensor) else ag.Tensor(array.astype(dtype, copy=False))


def _with_zero_columns(mask: Tensor | None, count: int) -> Tensor | None:
    """`mask` with `count` zero (attend) columns appended on the last axis: the keys add_bias_kv and
    add_zero_attn append are never masked."""
    if mask is None or count == 0:
        return mask
    return ag.cat([mask, ag.zeros(mask.shape[:-1] + (count,), dtype=mask.dtype)], dim=-1)


class MultiheadAttention(Module):
    """Attention of a query sequence over a key/value sequence with `num_heads` heads, as PyTorch's.

    Inputs are (L, N, E) for the query and (S, N, kdim), (S, N, vdim) for key and value, or (N, L, E)
    etc. with `batch_first=True`, or unbatched (L, E), (S, kdim), (S, vdim). The output is (L, N, E)
    (resp. (N, L, E), (L, E)), and the attention weights (N, L, S) averaged over the heads, or (N, H, L, S)
    with `average_attn_weights=False` (None with `need_weights=False`).

    Parameters, as PyTorch names and initialises them: `in_proj_weight` (3E, E) holding W_q, W_k, W_v
    (xavier-uniform) when kdim == vdim == E, else `q_proj_weight` (E, E), `k_proj_weight` (E, kdim),
    `v_proj_weight` (E, vdim); `in_proj_bias` (3E,) (zeros) and `out_proj` (Linear(E, E), bias zeros)
    when `bias`; with `add_bias_kv`, `bias_k` and `bias_v` (1, 1, E) (xavier-normal), appended to the keys
    and values of every batch entry. `add_zero_attn` appends a key and a value of zeros after that.
    `dropout` drops attention weights in training.
    """

    in_proj_weight: Parameter | None
    q_proj_weight: Parameter | None
    k_proj_weight: Parameter | None
    v_proj_weight: Parameter | None
    in_proj_bias: Parameter | None
    bias_k: Parameter | None
    bias_v: Parameter | None

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        who = "MultiheadAttention"
        check_size(who, "embed_dim", embed_dim)
        check_size(who, "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"{who}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        for name, size in (("kdim", kdim), ("vdim", vdim)):
            if size is not None:
                check_size(who, name, size)
        F.check_arguments(who, {"dropout": dropout})
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _parameter(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = _parameter(embed_dim, embed_dim)
            self.k_proj_weight = _parameter(embed_dim, self.kdim)
            self.v_proj_weight = _parameter(embed_dim, self.vdim)
        self.register_parameter("in_proj_bias", _parameter(3 * embed_dim) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if add_bias_kv:
            self.bias_k = _parameter(1, 1, embed_dim)
            self.bias_v = _parameter(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's init: xavier-uniform projections, zero biases, xavier-normal bias_k and bias_v
        (out_proj.weight keeps Linear's init)."""
        for weight in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if weight is not None:
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)  # type: ignore[arg-type]
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra)

    def _projection_weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """(W_q, W_k, W_v): slices of in_proj_weight, or the separate weights."""
        if self.in_proj_weight is not None:
            e = self.embed_dim
            return self.in_proj_weight[:e], self.in_proj_weight[e : 2 * e], self.in_proj_weight[2 * e :]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight  # type: ignore[return-value]

    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask):
        """Whether the call is batched, after checking every shape against the module (PyTorch's rules)."""
        who = "MultiheadAttention"
        shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{who}: expected query, key and value all 3-D (batched) or all 2-D (unbatched), got {shapes}"
            )
        batched = query.ndim == 3
        widths = (query.shape[-1], key.shape[-1], value.shape[-1])
        if widths != (self.embed_dim, self.kdim, self.vdim):
            raise ValueError(
                f"{who}: expected last axes (embed_dim, kdim, vdim) = {(self.embed_dim, self.kdim, self.vdim)}, "
                f"got {shapes}"
            )
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{who}: key and value must have the same sequence and batch axes, got {shapes}")
        batch_axis = 0 if self.batch_first else 1
        if batched and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ValueError(f"{who}: query and key have different batch sizes: {shapes}")
        batch = query.shape[batch_axis] if batched else 1
        length, source = (query.shape[1], key.shape[1]) if batched and self.batch_first else (len(query), len(key))
        if key_padding_mask is not None:
            expected = (batch, source) if batched else (source,)
            if tuple(np.shape(key_padding_mask)) != expected:
                raise ValueError(
                    f"{who}: key_padding_mask must have shape {expected} (batch, source length), "
                    f"got {tuple(np.shape(key_padding_mask))}"
                )
        if attn_mask is not None:
            allowed = ((length, source), (batch * self.num_heads, length, source))
            if tuple(np.shape(attn_mask)) not in allowed:
                raise ValueError(
                    f"{who}: attn_mask must have shape {allowed[0]} or {allowed[1]} (batch * num_heads, L, S), "
                    f"got {tuple(np.shape(attn_mask))}"
                )
        return batched

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """(output, attention weights or None). `is_causal` is PyTorch's hint that attn_mask is the causal
        mask: it needs attn_mask, and, as in PyTorch, the causal pattern replaces it when neither
        key_padding_mask nor the weights are asked for."""
        who = "MultiheadAttention"
        query, key, value = F._tensor(query), F._tensor(key), F._tensor(value)
        batched = self._check_inputs(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise ValueError(f"{who}: is_causal=True is a hint that attn_mask is causal; pass the mask too")
        heads, head_dim = self.num_heads, self.head_dim
        # work batch first: (N, L, E)
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.swapaxes(0, 1), key.swapaxes(0, 1), value.swapaxes(0, 1)
        batch, length, source = query.shape[0], query.shape[1], key.shape[1]

        w_q, w_k, w_v = self._projection_weights()
        b_q, b_k, b_v = (None, None, None) if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)
        added_keys = 0
        if self.bias_k is not None and self.bias_v is not None:
            k = ag.cat([k, self.bias_k.broadcast_to((batch, 1, self.embed_dim))], dim=1)
            v = ag.cat([v, self.bias_v.broadcast_to((batch, 1, self.embed_dim))], dim=1)
            added_keys += 1

        def split_heads(x: Tensor) -> Tensor:  # (N, T, E) -> (N, H, T, head_dim)
            return x.reshape(batch, x.shape[1], heads, head_dim).swapaxes(1, 2)

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        if self.add_zero_attn:
            zeros = ag.zeros((batch, heads, 1, head_dim), dtype=k.dtype)
            k, v = ag.cat([k, zeros], dim=2), ag.cat([v, zeros], dim=2)
            added_keys += 1

        # one additive mask broadcasting to (N, H, L, S + added_keys)
        mask = _additive_mask(who, "attn_mask", attn_mask, query.dtype)
        if mask is not None and mask.ndim == 3:
            mask = mask.reshape(batch, heads, length, source)
        padding = _additive_mask(who, "key_padding_mask", key_padding_mask, query.dtype)
        if padding is not None:
            padding = padding.reshape(batch, 1, 1, source)
            mask = padding if mask is None else mask + padding
        mask = _with_zero_columns(mask, added_keys)
        dropout = self.dropout if self.training else 0.0

        if need_weights:
            # PyTorch's explicit path: a fully masked row gives nan here, as there
            scores = (q * math.sqrt(1.0 / head_dim)) @ k.swapaxes(-1, -2)
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(dim=-1)
            if dropout > 0:
                weights = F.dropout(weights, dropout)
            heads_out = weights @ v
            returned_weights: Tensor | None = weights.mean(dim=1) if average_attn_weights else weights
        else:
            causal_only = is_causal and key_padding_mask is None
            heads_out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if causal_only else mask, dropout_p=dropout, is_causal=causal_only
            )
            returned_weights = None

        output = self.out_proj(heads_out.swapaxes(1, 2).reshape(batch, length, self.embed_dim))
        if not batched:
            output = output.squeeze(0)
            returned_weights = None if returned_weights is None else returned_weights.squeeze(0)
        elif not self.batch_first:
            output = output.swapaxes(0, 1)
        return output, returned_weights
