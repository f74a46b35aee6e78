"""Convolution, pooling, padding and resampling: registry ops, their numpy references, checked entry points.

Layouts are PyTorch's: inputs (N, C, *spatial) with one spatial axis (NCL) or two (NCHW); the ops are
written for any number of spatial axes. Conv weights are (C_out, C_in / groups, *kernel), transposed-conv
weights (C_in, C_out / groups, *kernel). In the ops, `padding` is one (before, after) pair per spatial
axis, so that "same" padding with an even kernel and ceil-mode pooling (both asymmetric) need nothing else.

Every convolution is one matrix product per layer over the input's sliding windows. `_columns` lays the
windows out as (N, groups, C_in / groups * K, L) (K kernel taps, L output positions: a strided view,
copied once by the reshape), and `_add_columns`, its adjoint, adds such columns back into an input-shaped
array (col2im: the `add_windows` kernel, a Numba loop where the kernel policy allows it, `backend.choose`
with the POLICY row "add_windows"; its numpy reference makes one slice-add per kernel tap, which beats
np.add.at). The three ops

    conv(x, w)               y[n, o, p] = sum over c, k of w[o, c, k] x[n, c, p * stride + k * dilation]
    conv_transpose(y, w)     the adjoint of conv in x: the input gradient of conv
    conv_weight_grad(x, y)   the adjoint of conv in w: the weight gradient of conv

are linear in each argument and each other's VJPs, so the backward pass is made of differentiable ops
and create_graph works. Those above are their numpy references; under the numba backend each is a
kernel (`conv_forward`, `conv_transpose_forward`, `conv_weight_grad_forward`) that runs stride-1
convolutions as direct loops where they win (kernels/conv.py, the POLICY rows "conv",
"conv_transpose" and "conv_weight_grad"). `unfold` / `fold` are the same adjoint pair for the bare windows, and `take`
(a gather at flat positions, torch.take) carries max pooling: the entry point finds each window's
maximum (the `max_positions` kernel: Numba, or its numpy reference, as the POLICY row
"max_pool_positions" says) and the op routes the gradient there; `put`, its adjoint for distinct
positions, carries max unpooling.

Pooling, padding and resampling otherwise compose registry ops: average pooling is unfold, a sum and a
division; adaptive average pooling two matmuls with constant averaging matrices; reflect, replicate and
circular padding and nearest interpolation an integer-array getitem (whose VJP accumulates repeated
positions); linear interpolation two gathers and a weighted sum per axis; group norm the fused layer norm
over each group's channels and positions.
"""

import itertools
import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import backend
from .engine import apply
from .fused_ops import layer_norm
from .kernels.conv import (
    numba_add_windows,
    numba_conv,
    numba_conv_transpose,
    numba_conv_weight_grad,
    numba_max_positions,
)
from .ops import REGISTRY, S, reads, register
from .random_numbers import rand
from .tensor import Tensor, computed_array

LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


# ---- window geometry ----------------------------------------------------------------------------


def window_counts(size, kernel_size, stride, padding, dilation):
    """Window positions along each spatial axis: floor((n + before + after - d (k - 1) - 1) / s) + 1."""
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, (lo, hi), d in zip(size, kernel_size, stride, padding, dilation)
    )


def _padded(x, padding, value=0.0):
    """x (N, C, *spatial) with `value` added before and after each spatial axis."""
    if not any(lo or hi for lo, hi in padding):
        return x
    out = np.full(x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding)), value, x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))] = x
    return out


def _windows(padded, kernel_size, stride, dilation, out_size):
    """The (N, C, *out_size, *kernel_size) view of every window of an already padded input: no copy."""
    strides = padded.strides
    return as_strided(
        padded,
        padded.shape[:2] + tuple(out_size) + tuple(kernel_size),
        strides[:2]
        + tuple(t * s for t, s in zip(strides[2:], stride))
        + tuple(t * d for t, d in zip(strides[2:], dilation)),
        writeable=False,
    )


def _columns(x, kernel_size, stride, padding, dilation, groups, out_size):
    """im2col: (N, groups, C / groups * K, L), the windows of x as columns, channel-major then kernel taps."""
    n, channels = x.shape[:2]
    spatial = len(kernel_size)
    view = _windows(_padded(x, padding), kernel_size, stride, dilation, out_size)
    view = view.reshape((n, groups, channels // groups) + tuple(out_size) + tuple(kernel_size))
    taps_first = (0, 1, 2) + tuple(range(3 + spatial, 3 + 2 * spatial)) + tuple(range(3, 3 + spatial))
    return view.transpose(taps_first).reshape(n, groups, -1, math.prod(out_size))


def add_windows_reference(columns, padded_shape, stride, dilation):
    """Zeros of `padded_shape` (N, C, *padded) with each column of `columns` (N, C, *kernel, *out) added at
    its window: one slice-add per kernel tap (faster than np.add.at)."""
    spatial = len(padded_shape) - 2
    kernel_size, out_size = columns.shape[2 : 2 + spatial], columns.shape[2 + spatial :]
    padded = np.zeros(padded_shape, columns.dtype)
    for tap in itertools.product(*map(range, kernel_size)):
        window = tuple(slice(k * d, k * d + s * (o - 1) + 1, s) for k, d, s, o in zip(tap, dilation, stride, out_size))
        padded[(Ellipsis,) + window] += columns[(slice(None), slice(None)) + tap]
    return padded


add_windows = backend.kernel("add_windows", add_windows_reference, numba_add_windows(add_windows_reference))


def _add_columns(columns, input_shape, kernel_size, stride, padding, dilation, out_size):
    """col2im, the adjoint of `_columns`: the sum, over windows, of each column added at its window."""
    n, channels = input_shape[:2]
    columns = columns.reshape((n, channels) + tuple(kernel_size) + tuple(out_size))
    padded_shape = (n, channels) + tuple(m + lo + hi for m, (lo, hi) in zip(input_shape[2:], padding))
    padded = add_windows(columns, padded_shape, stride, dilation)
    return padded[(Ellipsis,) + tuple(slice(lo, lo + m) for m, (lo, _) in zip(input_shape[2:], padding))]


def _per_channel(values, spatial):
    """A per-channel vector shaped to broadcast against (N, C, *spatial)."""
    return values.reshape((-1,) + (1,) * spatial)


# ---- numpy references ---------------------------------------------------------------------------


def conv_reference(x, weight, *bias, stride, padding, dilation, groups):
    kernel_size = weight.shape[2:]
    out_size = window_counts(x.shape[2:], kernel_size, stride, padding, dilation)
    columns = _columns(x, kernel_size, stride, padding, dilation, groups, out_size)
    y = np.matmul(weight.reshape(groups, weight.shape[0] // groups, -1), columns)  # (N, groups, C_out / groups, L)
    y = y.reshape((x.shape[0], weight.shape[0]) + out_size)
    if bias:
        y += _per_channel(bias[0], len(out_size))
    return y


def conv_transpose_reference(x, weight, *bias, stride, padding, dilation, groups, output_size):
    n, channels = x.shape[:2]
    rows = weight.reshape(groups, channels // groups, -1).transpose(0, 2, 1)  # (groups, C_out/groups * K, C_in/groups)
    columns = np.matmul(rows, x.reshape(n, groups, channels // groups, -1))
    out_shape = (n, weight.shape[1] * groups) + tuple(output_size)
    y = _add_columns(columns, out_shape, weight.shape[2:], stride, padding, dilation, x.shape[2:])
    if bias:
        y = y + _per_channel(bias[0], len(output_size))
    return y


def conv_weight_grad_reference(x, g, kernel_size, stride, padding, dilation, groups):
    """sum over n and positions of g[n, o, p] * window(x)[n, c, k, p]: the weight gradient of conv(x, w) = g."""
    n = x.shape[0]
    columns = _columns(x, kernel_size, stride, padding, dilation, groups, g.shape[2:])
    per_sample = np.matmul(g.reshape(n, groups, g.shape[1] // groups, -1), columns.transpose(0, 1, 3, 2))
    return per_sample.sum(axis=0).reshape((g.shape[1], x.shape[1] // groups) + tuple(kernel_size))


conv_forward = backend.kernel("conv", conv_reference, numba_conv(conv_reference))
conv_transpose_forward = backend.kernel(
    "conv_transpose", conv_transpose_reference, numba_conv_transpose(conv_transpose_reference)
)
conv_weight_grad_forward = backend.kernel(
    "conv_weight_grad", conv_weight_grad_reference, numba_conv_weight_grad(conv_weight_grad_reference)
)


def unfold_reference(x, kernel_size, stride, padding, dilation):
    out_size = window_counts(x.shape[2:], kernel_size, stride, padding, dilation)
    return _columns(x, kernel_size, stride, padding, dilation, 1, out_size).reshape(x.shape[0], -1, math.prod(out_size))


def fold_reference(columns, output_size, kernel_size, stride, padding, dilation):
    taps = math.prod(kernel_size)
    out_shape = (columns.shape[0], columns.shape[1] // taps) + tuple(output_size)
    blocks = window_counts(output_size, kernel_size, stride, padding, dilation)
    return np.ascontiguousarray(_add_columns(columns, out_shape, kernel_size, stride, padding, dilation, blocks))


def put_reference(x, positions, shape):
    """Zeros of `shape` with x written at the flat `positions` (a repeated position keeps one of its values)."""
    out = np.zeros(shape, x.dtype)
    np.put(out, positions, x)
    return out


# ---- VJP formulas ---------------------------------------------------------------------------------


def _batch_and_spatial(ndim):
    return (0,) + tuple(range(2, ndim))


def _cropped(F, y, shape):
    """y cut to `shape` at the far end: conv over a transposed conv's output_padding sees extra positions."""
    if tuple(y.shape) == tuple(shape):
        return y
    return F.getitem(y, index=tuple(slice(0, n) for n in shape))


def _conv_grad(F, g, x, weight, *bias, out, stride, padding, dilation, groups, index):
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    if index == 0:
        return F.conv_transpose(g, weight, output_size=x.shape[2:], **geometry)
    if index == 1:
        return F.conv_weight_grad(x, g, kernel_size=weight.shape[2:], **geometry)
    return F.sum(g, axis=_batch_and_spatial(g.ndim), keepdims=False)


def _conv_transpose_grad(F, g, x, weight, *bias, out, stride, padding, dilation, groups, output_size, index):
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    if index == 0:
        return _cropped(F, F.conv(g, weight, **geometry), x.shape)
    if index == 1:
        return F.conv_weight_grad(g, x, kernel_size=weight.shape[2:], **geometry)
    return F.sum(g, axis=_batch_and_spatial(g.ndim), keepdims=False)


def _conv_weight_grad_grad_x(F, gw, x, g, out, kernel_size, **geometry):
    return F.conv_transpose(g, gw, output_size=x.shape[2:], **geometry)


def _conv_weight_grad_grad_g(F, gw, x, g, out, kernel_size, **geometry):
    return _cropped(F, F.conv(x, gw, **geometry), g.shape)


def _unfold_grad(F, g, x, out, kernel_size, stride, padding, dilation):
    return F.fold(
        g, output_size=x.shape[2:], kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


def _fold_grad(F, g, columns, out, output_size, kernel_size, stride, padding, dilation):
    return F.unfold(g, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)


def _take_grad(F, g, x, out, positions):
    flat = F.scatter_add(g, index=(positions,), shape=(math.prod(x.shape),))
    return F.reshape(flat, shape=x.shape)


# ---- the registry entries -------------------------------------------------------------------------


def _geometry(spatial, stride=1, padding=0, dilation=1, groups=1):
    """Attributes of a sample: the same stride, padding and dilation on every spatial axis."""
    return {
        "stride": (stride,) * spatial,
        "padding": ((padding, padding),) * spatial,
        "dilation": (dilation,) * spatial,
        "groups": groups,
    }


# conv and conv_transpose: the input gradient reads the weight, the weight gradient the input, the bias's neither
register(
    "conv",
    conv_forward,
    reads(("weight", "x", ""), _conv_grad),
    variadic=True,
    samples=(
        S((2, 3, 7), (4, 3, 3), (4,), **_geometry(1, stride=2, padding=1)),
        S((1, 4, 5, 6), (4, 2, 2, 3), (4,), **_geometry(2, groups=2, dilation=2)),
        S((2, 2, 5, 5), (3, 2, 3, 3), stride=(2, 1), padding=((1, 0), (1, 2)), dilation=(1, 1), groups=1),
        S((2, 2, 7, 6), (3, 2, 5, 5), (3,), **_geometry(2, padding=1)),  # stride 1: the direct loops
    ),
)
register(
    "conv_transpose",
    conv_transpose_forward,
    reads(("weight", "x", ""), _conv_transpose_grad),
    variadic=True,
    samples=(
        S((2, 4, 4), (4, 3, 3), (3,), output_size=(9,), **_geometry(1, stride=2)),
        S((1, 4, 3, 3), (4, 1, 2, 2), output_size=(5, 4), **_geometry(2, stride=2, padding=1, groups=2)),
        S(
            (1, 2, 3, 2),
            (2, 2, 2, 3),
            output_size=(5, 4),
            stride=(2, 1),
            padding=((0, 1), (1, 1)),
            dilation=(1, 2),
            groups=1,
        ),
        S((2, 3, 5, 4), (3, 2, 5, 5), (2,), output_size=(7, 6), **_geometry(2, padding=1)),
    ),
)
register(
    "conv_weight_grad",
    conv_weight_grad_forward,
    reads("g", _conv_weight_grad_grad_x),
    reads("x", _conv_weight_grad_grad_g),
    samples=(
        S((2, 3, 7), (2, 4, 4), kernel_size=(3,), **_geometry(1, stride=2, padding=1)),
        S((1, 4, 5, 6), (1, 4, 3, 2), kernel_size=(2, 3), **_geometry(2, groups=2, dilation=2)),
        S((2, 2, 7, 6), (2, 3, 5, 4), kernel_size=(5, 5), **_geometry(2, padding=1)),
    ),
)
register(
    "unfold",
    unfold_reference,
    reads("", _unfold_grad),
    samples=(
        S((2, 3, 4, 5), kernel_size=(2, 3), stride=(1, 2), padding=((1, 1), (0, 0)), dilation=(1, 1)),
        S((1, 2, 5, 4), kernel_size=(2, 2), stride=(2, 1), padding=((0, 0), (1, 1)), dilation=(2, 1)),
    ),
)
register(
    "fold",
    fold_reference,
    reads("", _fold_grad),
    samples=(
        S((2, 12, 6), output_size=(4, 5), kernel_size=(2, 2), stride=(2, 2), padding=((0, 0), (1, 1)), dilation=(1, 1)),
        S((1, 4, 10), output_size=(5, 4), kernel_size=(2, 2), stride=(2, 1), padding=((0, 0), (1, 1)), dilation=(2, 1)),
    ),
)
register(
    "take",
    lambda x, positions: np.take(x, positions),
    reads("", _take_grad),
    samples=(S((2, 3, 4), positions=np.array([[0, 5, 23], [5, 5, 11]])), S((6,), positions=np.array(2))),
)
register(
    "put",
    put_reference,
    reads("", lambda F, g, x, out, positions, shape: F.take(g, positions=positions)),
    samples=(
        S((2, 3), positions=np.array([[0, 7, 3], [11, 5, 2]]), shape=(3, 4)),
        S((4,), positions=np.array([5, 0, 2, 7]), shape=(2, 2, 2)),
    ),
)


# ---- argument checks ------------------------------------------------------------------------------


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _reshape(x, shape):
    return x if tuple(x.shape) == tuple(shape) else apply(REGISTRY["reshape"], x, shape=tuple(shape))


def int_tuple(who, name, value, spatial, minimum):
    """`value` (an int, or a sequence of `spatial` ints) as a tuple of ints, each at least `minimum`."""
    values = (value,) * spatial if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(values, (tuple, list))
        or len(values) != spatial
        or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values)
    ):
        raise TypeError(f"{who}: {name} must be an int or a tuple of {spatial} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{who}: {name} must be {'positive' if minimum else 'non-negative'}, got {value!r}")
    return tuple(int(v) for v in values)


def _positive_int(who, name, value):
    return int_tuple(who, name, value, 1, 1)[0]


def _batched(who, x, spatial):
    """x with a batch axis (an unbatched (C, *spatial) input gets one), and whether one was added."""
    x = _tensor(x)
    if x.ndim == spatial + 2:
        return x, False
    if x.ndim == spatial + 1:
        return _reshape(x, (1,) + x.shape), True
    raise ValueError(
        f"{who}: expected a {spatial + 2}-D input {LAYOUTS[spatial]} or an unbatched {spatial + 1}-D "
        f"one, got shape {x.shape}"
    )


def _unbatched(y, added):
    return _reshape(y, y.shape[1:]) if added else y


def _check_fits(who, x_shape, kernel_size, padding, dilation):
    """Each window (kernel size with dilation) must fit in the padded input."""
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], padding))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if any(r > n for r, n in zip(reach, padded)):
        raise ValueError(
            f"{who}: the kernel {tuple(kernel_size)} (dilation {tuple(dilation)}: windows of {reach}) is "
            f"larger than the padded input {padded} (input of shape {tuple(x_shape)})"
        )


def conv_padding(who, padding, kernel_size, stride, dilation):
    """(before, after) per spatial axis from an int, a tuple, "valid" or "same" (extra on the after side)."""
    spatial = len(kernel_size)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * spatial
        if padding != "same":
            raise ValueError(f"{who}: padding must be an int, a tuple, 'valid' or 'same'; got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{who}: padding='same' needs stride 1, got stride {stride}")
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in int_tuple(who, "padding", padding, spatial, 0))


def _check_bias(who, bias, channels):
    if bias is not None and tuple(_tensor(bias).shape) != (channels,):
        raise ValueError(
            f"{who}: bias of shape {tuple(_tensor(bias).shape)} does not match the {channels} output "
            f"channels (expected ({channels},))"
        )


def _check_weight(who, weight, spatial, layout):
    if weight.ndim != spatial + 2:
        raise ValueError(f"{who}: weight must be {spatial + 2}-D {layout}, got shape {weight.shape}")


def _check_groups(who, name, channels, groups, weight):
    if channels % groups:
        raise ValueError(
            f"{who}: {name} {channels} (weight of shape {weight.shape}) is not divisible by groups={groups}"
        )


# ---- convolutions ---------------------------------------------------------------------------------


def convolution(who, spatial, x, weight, bias, stride, padding, dilation, groups):
    """conv1d / conv2d after checking every argument; `who` (the function's or the layer's name) leads the
    error messages."""
    x, added = _batched(who, x, spatial)
    weight = _tensor(weight)
    _check_weight(who, weight, spatial, "(out_channels, in_channels / groups, *kernel_size)")
    stride = int_tuple(who, "stride", stride, spatial, 1)
    dilation = int_tuple(who, "dilation", dilation, spatial, 1)
    groups = _positive_int(who, "groups", groups)
    _check_groups(who, "out_channels", weight.shape[0], groups, weight)
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"{who}: expected an input with {weight.shape[1] * groups} channels (weight of shape "
            f"{weight.shape}, groups={groups}), got input of shape {x.shape}"
        )
    _check_bias(who, bias, weight.shape[0])
    padding = conv_padding(who, padding, weight.shape[2:], stride, dilation)
    _check_fits(who, x.shape, weight.shape[2:], padding, dilation)
    extra = () if bias is None else (bias,)
    y = apply(REGISTRY["conv"], x, weight, *extra, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _unbatched(y, added)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of (N, C_in, L) with weight (C_out, C_in / groups, k), as torch's conv1d.
    `padding`: int, tuple, "valid" (none) or "same" (output length = input length; stride 1)."""
    return convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of (N, C_in, H, W) with weight (C_out, C_in / groups, kH, kW), as torch's conv2d.
    `padding`: int, pair, "valid" (none) or "same" (output size = input size; stride 1)."""
    return convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def transposed_output_size(size, kernel_size, stride, padding, dilation, output_padding):
    """(n - 1) s - 2 p + d (k - 1) + 1 + output_padding along each spatial axis."""
    return tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + 1 + q
        for n, k, s, p, d, q in zip(size, kernel_size, stride, padding, dilation, output_padding)
    )


def transposed_convolution(who, spatial, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """conv_transpose1d / conv_transpose2d after checking every argument; `who` leads the error messages."""
    x, added = _batched(who, x, spatial)
    weight = _tensor(weight)
    _check_weight(who, weight, spatial, "(in_channels, out_channels / groups, *kernel_size)")
    stride = int_tuple(who, "stride", stride, spatial, 1)
    dilation = int_tuple(who, "dilation", dilation, spatial, 1)
    padding = int_tuple(who, "padding", padding, spatial, 0)
    output_padding = int_tuple(who, "output_padding", output_padding, spatial, 0)
    groups = _positive_int(who, "groups", groups)
    _check_groups(who, "in_channels", weight.shape[0], groups, weight)
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{who}: expected an input with {weight.shape[0]} channels (weight of shape {weight.shape}), "
            f"got input of shape {x.shape}"
        )
    if any(q >= max(s, d) for q, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{who}: output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation}"
        )
    _check_bias(who, bias, weight.shape[1] * groups)
    size = transposed_output_size(x.shape[2:], weight.shape[2:], stride, padding, dilation, output_padding)
    if any(n < 1 for n in size):
        raise ValueError(
            f"{who}: input of shape {x.shape} with weight of shape {weight.shape}, stride {stride}, "
            f"padding {padding} gives an empty output of size {size}"
        )
    extra = () if bias is None else (bias,)
    y = apply(
        REGISTRY["conv_transpose"],
        x,
        weight,
        *extra,
        stride=stride,
        padding=tuple((p, p) for p in padding),
        dilation=dilation,
        groups=groups,
        output_size=size,
    )
    return _unbatched(y, added)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transpose (adjoint) of conv1d: (N, C_in, L) with weight (C_in, C_out / groups, k), as torch's."""
    return transposed_convolution(
        "conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transpose (adjoint) of conv2d: (N, C_in, H, W) with weight (C_in, C_out / groups, kH, kW), as torch's."""
    return transposed_convolution(
        "conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding windows of (N, C, H, W) as columns (N, C * kH * kW, L), as torch's unfold (im2col)."""
    x, added = _batched("unfold", input, 2)
    kernel_size = int_tuple("unfold", "kernel_size", kernel_size, 2, 1)
    dilation = int_tuple("unfold", "dilation", dilation, 2, 1)
    padding = tuple((p, p) for p in int_tuple("unfold", "padding", padding, 2, 0))
    stride = int_tuple("unfold", "stride", stride, 2, 1)
    _check_fits("unfold", x.shape, kernel_size, padding, dilation)
    y = apply(REGISTRY["unfold"], x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    return _unbatched(y, added)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold (col2im): columns (N, C * kH * kW, L) summed into (N, C, *output_size)."""
    x = _tensor(input)
    added = x.ndim == 2
    if added:
        x = _reshape(x, (1,) + x.shape)
    output_size = int_tuple("fold", "output_size", output_size, 2, 1)
    kernel_size = int_tuple("fold", "kernel_size", kernel_size, 2, 1)
    dilation = int_tuple("fold", "dilation", dilation, 2, 1)
    padding = tuple((p, p) for p in int_tuple("fold", "padding", padding, 2, 0))
    stride = int_tuple("fold", "stride", stride, 2, 1)
    _check_fits("fold", (1, 1) + output_size, kernel_size, padding, dilation)
    blocks = window_counts(output_size, kernel_size, stride, padding, dilation)
    taps = math.prod(kernel_size)
    if x.ndim != 3 or x.shape[1] % taps or x.shape[2] != math.prod(blocks):
        raise ValueError(
            f"fold: expected columns (N, C * {taps}, {math.prod(blocks)}) for kernel_size {kernel_size} "
            f"and output_size {output_size} ({blocks} blocks), got shape {tuple(_tensor(input).shape)}"
        )
    y = apply(
        REGISTRY["fold"],
        x,
        output_size=output_size,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    return _unbatched(y, added)


# ---- pooling --------------------------------------------------------------------------------------


def _pool_geometry(who, spatial, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
    """Kernel, stride, (before, after) padding, dilation and output size of a pooling, as PyTorch sizes it:
    in ceil mode a last partial window counts if it starts inside the input or its leading padding, and
    the part of it past the padding becomes extra padding after."""
    kernel_size = int_tuple(who, "kernel_size", kernel_size, spatial, 1)
    stride = kernel_size if stride is None else int_tuple(who, "stride", stride, spatial, 1)
    padding = int_tuple(who, "padding", padding, spatial, 0)
    dilation = int_tuple(who, "dilation", dilation, spatial, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{who}: padding {padding} must be at most half the kernel size {kernel_size}")
    _check_fits(who, x_shape, kernel_size, tuple((p, p) for p in padding), dilation)
    out_size = []
    for n, k, s, p, d in zip(x_shape[2:], kernel_size, stride, padding, dilation):
        count = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        out_size.append(count - 1 if ceil_mode and (count - 1) * s >= n + p else count)
    pairs = tuple(
        (p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
        for n, k, s, p, d, o in zip(x_shape[2:], kernel_size, stride, padding, dilation, out_size)
    )
    return kernel_size, stride, padding, pairs, dilation, tuple(out_size)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_positions_reference(x, kernel_size, stride, padding, dilation, out_size):
    """For each window of x (N, C, *spatial), the flat position within its plane of the window's maximum:
    the first in scan order among ties, the last NaN if any (PyTorch's choice: `val > max or isnan(val)`)."""
    spatial = len(kernel_size)
    windows = _windows(_padded(x, padding, _lowest(x.dtype)), kernel_size, stride, dilation, out_size)
    # one vectorized pass per kernel tap over all windows: 3x faster than argmax over a copy of every window
    # (2 x 2 pooling of (64, 6, 24, 24)), and it gives PyTorch's choice among ties and NaNs
    taps = list(itertools.product(*map(range, kernel_size)))
    best = windows[(Ellipsis,) + taps[0]]
    best_tap = np.zeros(best.shape, np.intp)
    for index, tap in enumerate(taps[1:], start=1):
        values = windows[(Ellipsis,) + tap]
        better = values > best
        if x.dtype.kind == "f":
            better |= np.isnan(values)
        best = np.where(better, values, best)
        best_tap = np.where(better, index, best_tap)
    tap_offsets = np.array(taps).T * np.array(dilation).reshape(-1, 1)  # (spatial, K)
    plane_strides = np.cumprod((1,) + x.shape[:1:-1])[::-1][1:]
    positions = 0
    for axis, (s, (before, _), d) in enumerate(zip(stride, padding, dilation)):
        starts = (np.arange(out_size[axis]) * s - before).reshape((-1,) + (1,) * (spatial - 1 - axis))
        coordinate = starts + tap_offsets[axis][best_tap]
        if before:
            # only a window of -inf (or the dtype's minimum) keeps a tap in its leading padding: PyTorch then
            # reports the window's first element inside the input
            coordinate = np.where(coordinate < 0, coordinate % d, coordinate)
        positions = positions + coordinate * plane_strides[axis]
    return positions


max_positions = backend.kernel(
    "max_pool_positions", max_positions_reference, numba_max_positions(max_positions_reference)
)


def _flat_positions(positions, shape):
    """Per-plane flat positions (N, C, *out) in an input of `shape` (N, C, *spatial) as flat positions in it."""
    planes = np.arange(shape[0] * shape[1]).reshape(shape[:2] + (1,) * (positions.ndim - 2))
    return positions + planes * math.prod(shape[2:])


def _pool_result(x, positions, added, return_indices):
    """The maxima at `positions` (computed from x's values: `computed_array`, so that a compiled step
    finds them again on every call), one `take` node, and the positions when asked."""
    flat = computed_array(_flat_positions, positions, x.shape)
    y = _unbatched(apply(REGISTRY["take"], x, positions=flat), added)
    if not return_indices:
        return y
    return y, Tensor(computed_array(_unbatched_array, positions, added))


def _unbatched_array(array, added):
    return array[0] if added else array


def _max_pool(who, spatial, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, added = _batched(who, x, spatial)
    kernel_size, stride, _, pairs, dilation, out_size = _pool_geometry(
        who, spatial, x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    positions = computed_array(max_positions, x._data, kernel_size, stride, pairs, dilation, out_size)
    return _pool_result(x, positions, added, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum of each window of (N, C, L); the gradient goes to the first maximum of each window.
    With return_indices, also the maxima's positions within each input row (for max_unpool)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum of each window of (N, C, H, W); the gradient goes to the first maximum of each window in
    row-major order. With return_indices, also the maxima's flat positions within each H x W plane."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _average_divisors(size, kernel_size, stride, padding, out_size, count_include_pad):
    """Each window's divisor: its size within the padded input, or (count_include_pad=False) within the input."""
    per_axis = []
    for n, k, s, p, o in zip(size, kernel_size, stride, padding, out_size):
        starts = np.arange(o) * s - p
        ends = np.minimum(starts + k, n + p)
        per_axis.append(ends - starts if count_include_pad else np.minimum(ends, n) - np.maximum(starts, 0))
    divisors = per_axis[0]
    for counts in per_axis[1:]:
        divisors = np.multiply.outer(divisors, counts)
    return divisors


def _avg_pool(who, spatial, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, added = _batched(who, x, spatial)
    kernel_size, stride, padding, pairs, dilation, out_size = _pool_geometry(
        who, spatial, x.shape, kernel_size, stride, padding, 1, ceil_mode
    )
    if divisor_override is not None:
        divisors = np.array(_positive_int(who, "divisor_override", divisor_override))
    else:
        divisors = _average_divisors(x.shape[2:], kernel_size, stride, padding, out_size, count_include_pad)
    columns = apply(REGISTRY["unfold"], x, kernel_size=kernel_size, stride=stride, padding=pairs, dilation=dilation)
    windows = _reshape(columns, x.shape[:2] + (math.prod(kernel_size),) + out_size)
    sums = apply(REGISTRY["sum"], windows, axis=(2,), keepdims=False)
    return _unbatched(sums / divisors.astype(x.dtype), added)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of (N, C, L), zero padding counted unless count_include_pad=False."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """The mean of each window of (N, C, H, W): its sum divided by divisor_override, or by the window's size
    (zero padding counted unless count_include_pad=False)."""
    return _avg_pool(
        "avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _adaptive_output_size(who, spatial, x_shape, output_size):
    """An int or tuple (None entries keep the input's size) as a tuple of positive ints."""
    sizes = (output_size,) * spatial if isinstance(output_size, numbers.Integral) else tuple(output_size)
    sizes = tuple(n if o is None else o for o, n in zip(sizes, x_shape[2:])) if len(sizes) == spatial else sizes
    return int_tuple(who, "output_size", sizes, spatial, 1)


def adaptive_ranges(size, out):
    """PyTorch's adaptive windows: output i covers [floor(i n / o), ceil((i + 1) n / o))."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _averaging_matrix(size, out, dtype):
    matrix = np.zeros((out, size), dtype)
    for row, (start, end) in enumerate(zip(*adaptive_ranges(size, out))):
        matrix[row, start:end] = 1.0 / (end - start)
    return matrix


def _adaptive_avg_pool(who, spatial, x, output_size):
    x, added = _batched(who, x, spatial)
    output_size = _adaptive_output_size(who, spatial, x.shape, output_size)
    last = _averaging_matrix(x.shape[-1], output_size[-1], x.dtype)
    y = apply(REGISTRY["matmul"], x, np.ascontiguousarray(last.T))
    if spatial == 2:
        y = apply(REGISTRY["matmul"], _averaging_matrix(x.shape[-2], output_size[0], x.dtype), y)
    return _unbatched(y, added)


def adaptive_avg_pool1d(input, output_size):
    """Average (N, C, L) over `output_size` windows that tile L as evenly as PyTorch's do."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average (N, C, H, W) over output_size windows that tile H and W as evenly as PyTorch's do."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max_positions(x, output_size):
    """Per-plane flat positions of each adaptive window's first maximum (one argmax per output cell)."""
    positions = np.empty(x.shape[:2] + tuple(output_size), np.int64)
    ranges = [list(zip(*adaptive_ranges(n, o))) for n, o in zip(x.shape[2:], output_size)]
    for cell in itertools.product(*(range(o) for o in output_size)):
        bounds = [ranges[axis][i] for axis, i in enumerate(cell)]
        region = x[(Ellipsis,) + tuple(slice(start, end) for start, end in bounds)]
        local = np.unravel_index(np.argmax(region.reshape(x.shape[:2] + (-1,)), axis=-1), region.shape[2:])
        positions[(Ellipsis,) + cell] = np.ravel_multi_index(
            tuple(i + start for i, (start, _) in zip(local, bounds)), x.shape[2:]
        )
    return positions


def _adaptive_max_pool(who, spatial, x, output_size, return_indices):
    x, added = _batched(who, x, spatial)
    output_size = _adaptive_output_size(who, spatial, x.shape, output_size)
    positions = computed_array(_adaptive_max_positions, x._data, output_size)
    return _pool_result(x, positions, added, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """The maximum of (N, C, L) over `output_size` adaptive windows (see adaptive_avg_pool1d)."""
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The maximum of (N, C, H, W) over output_size adaptive windows (see adaptive_avg_pool2d)."""
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: each value of (N, C, h, w) written at its plane position `indices`
    (as max_pool2d returns them) in zeros of (N, C, H, W); H, W default to (h - 1) stride - 2 padding + kernel.
    The gradient of each input value is the output gradient at its position."""
    who = "max_unpool2d"
    x, added = _batched(who, input, 2)
    indices = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    indices = indices.reshape(x.shape) if added and indices.size == x._data.size else indices
    kernel_size = int_tuple(who, "kernel_size", kernel_size, 2, 1)
    stride = kernel_size if stride is None else int_tuple(who, "stride", stride, 2, 1)
    padding = int_tuple(who, "padding", padding, 2, 0)
    if output_size is None:
        size = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[2:], stride, padding, kernel_size))
    else:
        size = int_tuple(who, "output_size", tuple(output_size)[-2:], 2, 1)
    if indices.shape != x.shape or indices.dtype.kind not in "iu":
        raise ValueError(
            f"{who}: indices must be integers of the input's shape {x.shape}, got {indices.dtype} "
            f"of shape {indices.shape}"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= math.prod(size)):
        raise ValueError(
            f"{who}: indices must lie in [0, {math.prod(size)}) for an output of size {size}, got "
            f"values from {indices.min()} to {indices.max()}"
        )
    planes = np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[:2] + (1, 1)) * math.prod(size)
    y = apply(REGISTRY["put"], x, positions=indices + planes, shape=x.shape[:2] + size)
    return _unbatched(y, added)


# ---- padding and resampling -----------------------------------------------------------------------

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _source_positions(size, before, after, mode):
    """Which input position each output position of a padded axis reads. As in PyTorch, negative padding
    first crops the axis, and the other side is then padded from what is left."""
    start, end = max(-before, 0), size - max(-after, 0)
    kept = end - start
    positions = np.arange(-max(before, 0), kept + max(after, 0))
    if mode == "reflect":
        positions = np.abs(positions)
        positions = np.where(positions > kept - 1, 2 * (kept - 1) - positions, positions)
    elif mode == "replicate":
        positions = np.clip(positions, 0, kept - 1)
    else:  # circular
        positions = positions % kept
    return start + positions


def _check_pad_amounts(who, shape, pairs, mode):
    for axis, (before, after) in zip(range(len(shape) - 1, -1, -1), pairs):
        size = shape[axis]
        if size + before + after < 1:
            raise ValueError(
                f"{who}: padding ({before}, {after}) leaves nothing of axis {axis} (size {size}) of "
                f"the input of shape {tuple(shape)}"
            )
        limit = {"reflect": size - 1, "circular": size, "replicate": math.inf if size else 0}.get(mode, math.inf)
        if max(before, after) > limit:
            raise ValueError(
                f"{who}: {mode} padding ({before}, {after}) of axis {axis} needs at most {limit} per "
                f"side for its size {size} (input of shape {tuple(shape)})"
            )


def pad(input, pad, mode="constant", value=None):
    """Pad the trailing axes as torch's pad: `pad` = (before_last, after_last, before_second_last, ...);
    negative amounts crop. Modes: constant (`value`, default 0), reflect (mirror, edge not repeated),
    replicate (edge repeated), circular (wrap around)."""
    x = _tensor(input)
    if (
        not isinstance(pad, (tuple, list))
        or len(pad) % 2
        or any(isinstance(p, bool) or not isinstance(p, numbers.Integral) for p in pad)
    ):
        raise TypeError(f"pad: pad must be a sequence of an even number of ints, got {pad!r}")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {len(pad) // 2} axes of padding for an input of shape {x.shape}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, PAD_MODES))}; got {mode!r}")
    if mode != "constant" and value is not None:
        raise ValueError(f"pad: mode {mode!r} takes no value, got value={value!r}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    _check_pad_amounts("pad", x.shape, pairs, mode)
    axes = range(x.ndim - 1, x.ndim - 1 - len(pairs), -1)
    if mode != "constant":
        return _gather_axes(
            x,
            {axis: _source_positions(x.shape[axis], before, after, mode) for axis, (before, after) in zip(axes, pairs)},
        )
    if any(before < 0 or after < 0 for before, after in pairs):
        crop = [slice(None)] * x.ndim
        for axis, (before, after) in zip(axes, pairs):
            crop[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        x = apply(REGISTRY["getitem"], x, index=tuple(crop))
    widths = [(0, 0)] * x.ndim
    for axis, (before, after) in zip(axes, pairs):
        widths[axis] = (max(before, 0), max(after, 0))
    if not any(before or after for before, after in widths):
        return x
    return apply(REGISTRY["pad"], x, pad_width=tuple(widths), value=0.0 if value is None else value)


def _gather_axes(x, positions):
    """x read at integer `positions` along some trailing axes ({axis: 1-D positions}): one getitem."""
    first = min(positions)
    count = x.ndim - first
    index = [slice(None)] * first
    for i, axis in enumerate(range(first, x.ndim)):
        along = positions.get(axis, np.arange(x.shape[axis]))
        index.append(along.reshape((-1,) + (1,) * (count - 1 - i)))
    return apply(REGISTRY["getitem"], x, index=tuple(index))


# mode -> the input ranks it takes
INTERPOLATE_MODES = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "area": (3, 4), "linear": (3,), "bilinear": (4,)}
LINEAR_MODES = ("linear", "bilinear")


def _interpolation_sizes(x_shape, size, scale_factor, recompute_scale_factor):
    """Output sizes and the scale (input step per output step) of each spatial axis, as PyTorch computes them:
    a given scale_factor sets the scale to 1 / scale_factor unless recompute_scale_factor."""
    spatial = len(x_shape) - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        sizes = int_tuple("interpolate", "size", size, spatial, 1)
        return sizes, [n / o for n, o in zip(x_shape[2:], sizes)]
    factors = (scale_factor,) * spatial if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
    if len(factors) != spatial or any(not isinstance(f, numbers.Real) or not f > 0 for f in factors):
        raise ValueError(
            f"interpolate: scale_factor must be a positive number or {spatial} of them, got {scale_factor!r}"
        )
    sizes = tuple(math.floor(n * f) for n, f in zip(x_shape[2:], factors))
    if any(o < 1 for o in sizes):
        raise ValueError(
            f"interpolate: scale_factor {scale_factor!r} gives an empty output {sizes} for input of "
            f"shape {tuple(x_shape)}"
        )
    if recompute_scale_factor:
        return sizes, [n / o for n, o in zip(x_shape[2:], sizes)]
    return sizes, [1.0 / f for f in factors]


def _nearest_positions(size, out, scale, exact):
    """floor(i * scale), or floor((i + 0.5) * scale) for "nearest-exact", clipped to the input."""
    # PyTorch computes these in float32 (floorf(i * scale)); float64 can land on the other side of an integer
    steps = np.arange(out, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    return np.minimum(np.floor(steps * np.float32(scale)).astype(np.int64), size - 1)


def _linear_weights(size, out, scale, align_corners, dtype):
    """Each output position's two neighbours along an axis and their weights (PyTorch's source positions)."""
    i = np.arange(out, dtype=dtype)
    if align_corners:
        source = i * (dtype.type((size - 1) / (out - 1)) if out > 1 else dtype.type(0))
    else:
        source = np.maximum(dtype.type(scale) * (i + dtype.type(0.5)) - dtype.type(0.5), 0)
    low = np.minimum(source.astype(np.int64), size - 1)
    high = low + (low < size - 1)
    weight_high = np.clip(source - low, 0, 1).astype(dtype)
    return low, high, 1 - weight_high, weight_high


def _interpolate_linear(x, axis, size, out, scale, align_corners):
    low, high, weight_low, weight_high = _linear_weights(size, out, scale, align_corners, x.dtype)
    shape = (-1,) + (1,) * (x.ndim - 1 - axis)
    return _gather_axes(x, {axis: low}) * weight_low.reshape(shape) + _gather_axes(
        x, {axis: high}
    ) * weight_high.reshape(shape)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize the spatial axes of (N, C, L), (N, C, H, W) or (N, C, D, H, W) to `size`, or by `scale_factor`,
    as torch's interpolate: "nearest" reads input position floor(i * scale) (scale = input step per output
    step), "nearest-exact" floor((i + 0.5) * scale); "linear" (3-D input) and "bilinear" (4-D) weigh the
    two nearest input positions per axis, with corners aligned (align_corners=True) or pixel centres
    (default); "area" (3-D, 4-D) is adaptive average pooling to the output size."""
    x = _tensor(input)
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(map(repr, INTERPOLATE_MODES))}; got {mode!r}")
    if x.ndim not in INTERPOLATE_MODES[mode]:
        ranks = " or ".join(f"{n}-D {LAYOUTS[n - 2]}" for n in INTERPOLATE_MODES[mode])
        raise ValueError(f"interpolate: mode {mode!r} expects a {ranks} input, got shape {x.shape}")
    if mode not in LINEAR_MODES and align_corners is not None:
        raise ValueError(f"interpolate: align_corners applies to the linear modes only, not to {mode!r}")
    sizes, scales = _interpolation_sizes(x.shape, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return _adaptive_avg_pool("interpolate", x.ndim - 2, x, sizes)
    if mode not in LINEAR_MODES:
        return _gather_axes(
            x,
            {
                axis: _nearest_positions(x.shape[axis], out, scale, mode == "nearest-exact")
                for axis, out, scale in zip(range(2, x.ndim), sizes, scales)
            },
        )
    for axis in range(x.ndim - 1, 1, -1):  # last axis first: PyTorch's order of the weighted sums
        x = _interpolate_linear(x, axis, x.shape[axis], sizes[axis - 2], scales[axis - 2], bool(align_corners))
    return x


# ---- normalization and dropout over channels -----------------------------------------------------


def _channel_parameter(name, parameter, x_shape):
    """A per-channel weight or bias of group_norm, shaped to broadcast against the input."""
    parameter = _tensor(parameter)
    if parameter.shape != (x_shape[1],):
        raise ValueError(
            f"group_norm: {name} of shape {parameter.shape} does not match the {x_shape[1]} "
            f"channels of the input of shape {x_shape}"
        )
    return _reshape(parameter, (-1,) + (1,) * (len(x_shape) - 2))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each sample's channels in `num_groups` groups, over each group's channels and spatial
    positions (biased variance), then scale and shift each channel by weight and bias."""
    x = _tensor(input)
    num_groups = _positive_int("group_norm", "num_groups", num_groups)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: expected an input (N, C, *) with C divisible by num_groups={num_groups}, got shape {x.shape}"
        )
    grouped = _reshape(x, (x.shape[0], num_groups, -1))
    y = _reshape(layer_norm(grouped, (grouped.shape[-1],), eps=eps), x.shape)
    if weight is not None:
        y = y * _channel_parameter("weight", weight, x.shape)
    if bias is not None:
        y = y + _channel_parameter("bias", bias, x.shape)
    return y


def dropout2d(input, p=0.5, training=True):
    """Zero whole channels of (N, C, H, W) (or unbatched (C, H, W)) with probability p, scaling the kept ones
    by 1 / (1 - p); the identity when not training. Masks come from `ag.default_generator.rng`."""
    x = _tensor(input)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"dropout2d: p must be in [0, 1), got {p!r}")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W) or an unbatched 3-D one, got shape {x.shape}")
    if not training or p == 0:
        return x
    channels = x.shape[: x.ndim - 2] + (1, 1)
    keep = rand(channels, dtype=np.float64) >= p  # rand: a compiled step draws a fresh mask every call
    return x * (keep.astype(x.dtype) * (1.0 / (1.0 - p)))
