"""Convolution, pooling, padding, resampling and the channel norms: values and gradients against PyTorch
(float64, same inputs and weights), the Numba kernels against their numpy references and the policy's
choice between them, the layers' parameters, init and state dicts, and the errors for bad input. The
registry ops themselves (conv, conv_transpose, conv_weight_grad, unfold, fold, take, put) are checked by
tests/test_ops_registry.py like every other op."""

import math

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import backend, conv_ops
from nn import conv


def _torch():
    return pytest.importorskip("torch")


# ---- the functions against torch.nn.functional, values and every gradient ------------------------------


def _compare(ours, theirs, *arrays, grads=True, rtol=1e-10, atol=1e-12):
    """Run ours on Tensors and theirs on torch tensors of the same float64 arrays; compare the outputs and,
    after a backward pass with one random seed, the gradient of every input."""
    torch = _torch()
    inputs = [ag.tensor(a, requires_grad=grads) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=grads) for a in arrays]
    out, expected = ours(*inputs), theirs(*torch_inputs)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=rtol, atol=atol)
    if not grads:
        return
    seed = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(seed)
    expected.backward(torch.as_tensor(seed))
    for x, tx in zip(inputs, torch_inputs):
        np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-9, atol=1e-11)


def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


CONV2D_CASES = [
    ((2, 3, 8, 7), (4, 3, 3, 3), {}),
    ((2, 3, 8, 7), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((1, 4, 9, 9), (6, 2, 3, 3), {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1), "groups": 2}),
    ((2, 4, 6, 6), (4, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise
    ((2, 2, 7, 6), (3, 2, 4, 3), {"padding": "same"}),  # even kernel: the extra padding goes after
    ((2, 2, 7, 6), (3, 2, 3, 3), {"padding": "same", "dilation": 2}),
    ((2, 2, 7, 6), (3, 2, 3, 3), {"padding": "valid", "stride": 3}),
    ((1, 1, 5, 5), (1, 1, 5, 5), {}),  # kernel as large as the input
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV2D_CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_matches_torch(x_shape, w_shape, kwargs, with_bias):
    torch = _torch()
    arrays = _arrays(x_shape, w_shape, w_shape[:1])[: 3 if with_bias else 2]
    _compare(lambda *a: conv_ops.conv2d(*a, **kwargs), lambda *a: torch.nn.functional.conv2d(*a, **kwargs), *arrays)


CONV1D_CASES = [
    ((2, 3, 10), (4, 3, 3), {}),
    ((2, 4, 11), (6, 2, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
    ((3, 3, 9), (3, 1, 4), {"padding": "same", "groups": 3}),
    ((2, 2, 9), (5, 2, 2), {"stride": 3}),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D_CASES)
def test_conv1d_matches_torch(x_shape, w_shape, kwargs):
    torch = _torch()
    _compare(
        lambda *a: conv_ops.conv1d(*a, **kwargs),
        lambda *a: torch.nn.functional.conv1d(*a, **kwargs),
        *_arrays(x_shape, w_shape, w_shape[:1]),
    )


def test_conv_accepts_an_unbatched_input():
    torch = _torch()
    _compare(
        lambda x, w: conv_ops.conv2d(x, w, padding=1),
        lambda x, w: torch.nn.functional.conv2d(x, w, padding=1),
        *_arrays((3, 5, 5), (2, 3, 3, 3)),
    )


CONV_TRANSPOSE_CASES = [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 4, 3, 4), (4, 3, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ((1, 2, 4, 4), (2, 3, 2, 3), {"stride": (2, 3), "padding": (0, 1), "dilation": (2, 1), "output_padding": (1, 2)}),
    ((1, 2, 3, 3), (2, 1, 3, 3), {"stride": 1, "padding": 0, "output_padding": 1, "dilation": 2}),  # padding < dilation
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_TRANSPOSE_CASES)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, kwargs):
    torch = _torch()
    bias_shape = (w_shape[1] * kwargs.get("groups", 1),)
    _compare(
        lambda *a: conv_ops.conv_transpose2d(*a, **kwargs),
        lambda *a: torch.nn.functional.conv_transpose2d(*a, **kwargs),
        *_arrays(x_shape, w_shape, bias_shape),
    )


def test_conv_transpose1d_matches_torch():
    torch = _torch()
    kwargs = {"stride": 3, "padding": 1, "output_padding": 2, "groups": 2, "dilation": 2}
    _compare(
        lambda *a: conv_ops.conv_transpose1d(*a, **kwargs),
        lambda *a: torch.nn.functional.conv_transpose1d(*a, **kwargs),
        *_arrays((2, 4, 5), (4, 3, 3), (6,)),
    )


def test_conv_transpose_is_the_input_gradient_of_conv():
    x, w, g = _arrays((2, 4, 8, 6), (6, 2, 3, 2), (2, 6, 4, 4))
    x = ag.tensor(x, requires_grad=True)
    y = conv_ops.conv2d(x, w, stride=2, padding=1, groups=2)
    y.backward(g)
    expected = conv_ops.conv_transpose2d(g, w, stride=2, padding=1, groups=2, output_padding=(1, 0))
    np.testing.assert_allclose(np.asarray(x.grad), np.asarray(expected), rtol=1e-12)


MAX_POOL2D_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (3, 2), "stride": (2, 1), "dilation": (1, 2)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "padding": 1},  # overlapping windows: gradients accumulate
]


@pytest.mark.parametrize("kwargs", MAX_POOL2D_CASES)
def test_max_pool2d_matches_torch(kwargs):
    torch = _torch()
    _compare(
        lambda x: conv_ops.max_pool2d(x, **kwargs),
        lambda x: torch.nn.functional.max_pool2d(x, **kwargs),
        *_arrays((2, 3, 9, 8)),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 3},
        {"kernel_size": 4, "stride": 2, "padding": 2, "dilation": 2},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    ],
)
def test_max_pool1d_matches_torch(kwargs):
    torch = _torch()
    _compare(
        lambda x: conv_ops.max_pool1d(x, **kwargs),
        lambda x: torch.nn.functional.max_pool1d(x, **kwargs),
        *_arrays((2, 3, 12)),
    )


def test_max_pool_routes_the_gradient_to_the_first_of_tied_maxima():
    torch = _torch()
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 0.0], [5.0, 5.0, 1.0, 1.0], [5.0, 5.0, 1.0, 1.0]]]])
    _compare(lambda t: conv_ops.max_pool2d(t, 2), lambda t: torch.nn.functional.max_pool2d(t, 2), x)
    _compare(lambda t: conv_ops.max_pool2d(t, 3, 1, 1), lambda t: torch.nn.functional.max_pool2d(t, 3, 1, 1), x)


def test_max_pool_return_indices_match_torch_and_unpool_inverts_them():
    torch = _torch()
    x = _arrays((2, 3, 7, 6))[0]
    y, indices = conv_ops.max_pool2d(ag.tensor(x), 3, 2, padding=1, return_indices=True)
    _ty, tindices = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, padding=1, return_indices=True)
    np.testing.assert_array_equal(np.asarray(indices), tindices.numpy())
    _compare(
        lambda t: conv_ops.max_unpool2d(t, indices, 3, 2, padding=1, output_size=(7, 6)),
        lambda t: torch.nn.functional.max_unpool2d(t, tindices, 3, 2, padding=1, output_size=(7, 6)),
        np.asarray(y),
    )


def test_max_pool1d_return_indices_match_torch():
    torch = _torch()
    x = _arrays((2, 3, 9))[0]
    _, indices = conv_ops.max_pool1d(x, 3, 2, padding=1, return_indices=True)
    _, expected = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, padding=1, return_indices=True)
    np.testing.assert_array_equal(np.asarray(indices), expected.numpy())


@pytest.mark.parametrize(
    "shape, kernel_size, stride, padding, dilation, ceil_mode",
    [
        ((2, 3, 9, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),  # the 2 x 2 loop
        ((2, 3, 8, 11), (2, 2), (2, 2), (0, 0), (1, 1), False),  # the 2 x 2 loop, odd width
        ((2, 3, 9, 8), (2, 2), (2, 2), (0, 0), (1, 1), True),  # ceil mode: a last window past the input
        ((2, 3, 9, 8), (2, 2), (2, 2), (1, 1), (1, 1), False),  # padding: the general loop
        ((2, 3, 9, 8), (3, 3), (2, 1), (1, 1), (1, 2), True),
        ((1, 2, 11), (4,), (3,), (2,), (2,), True),
    ],
)
def test_max_positions_kernel_matches_its_numpy_reference(
    numba_backend, shape, kernel_size, stride, padding, dilation, ceil_mode
):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, shape).astype(np.float32)  # many ties
    x.reshape(-1)[rng.choice(x.size, 6)] = np.nan
    x.reshape(-1)[rng.choice(x.size, 6)] = -np.inf
    x[0, 0] = -np.inf  # whole windows of -inf, some of them reaching into the padding
    *_, pairs, dilation, out_size = conv_ops._pool_geometry(
        "test", len(kernel_size), shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    for dtype in (np.float32, np.float64):
        expected = conv_ops.max_positions_reference(x.astype(dtype), kernel_size, stride, pairs, dilation, out_size)
        with backend.trace() as t:
            positions = conv_ops.max_positions(x.astype(dtype), kernel_size, stride, pairs, dilation, out_size)
        assert t.calls == [("max_pool_positions", backend.NUMBA, np.dtype(dtype).name)]
        np.testing.assert_array_equal(positions, expected)


def test_max_positions_2x2_loop_takes_the_last_nan_and_strided_inputs(numba_backend):
    x = np.zeros((2, 2, 6, 4))
    x[0, 0, 0, :2] = [np.nan, np.nan]  # the last NaN of the window wins
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 2:4, 0:2] = [[1, 3], [3, 2]]  # ties: the first in scan order wins
    x[1, 0, 4:6, 2:4] = [[-np.inf, -np.inf], [-np.inf, -np.inf]]
    geometry = ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (3, 2))
    for dtype in (np.float32, np.float64):
        strided = np.repeat(x.astype(dtype), 2, axis=3)[..., ::2]  # not C-contiguous
        positions = conv_ops.max_positions(strided, *geometry)
        np.testing.assert_array_equal(positions, conv_ops.max_positions_reference(x.astype(dtype), *geometry))
        assert positions[0, 0, 0, 0] == 5 and positions[0, 1, 1, 0] == 9 and positions[1, 0, 2, 1] == 18


@pytest.mark.parametrize(
    "columns_shape, padded_shape, stride, dilation",
    [
        ((2, 3, 5, 5, 8, 8), (2, 3, 12, 12), (1, 1), (1, 1)),
        ((1, 2, 2, 3, 3, 4), (1, 2, 8, 9), (2, 2), (2, 1)),
        ((2, 2, 3, 4), (2, 2, 14), (3,), (2,)),
    ],
)
def test_add_windows_kernel_matches_its_numpy_reference(numba_backend, columns_shape, padded_shape, stride, dilation):
    columns = np.random.default_rng(0).standard_normal(columns_shape)
    for dtype in (np.float32, np.float64):
        with backend.trace() as t:
            added = conv_ops.add_windows(columns.astype(dtype), padded_shape, stride, dilation)
        assert t.calls == [("add_windows", backend.NUMBA, np.dtype(dtype).name)]
        np.testing.assert_allclose(
            added, conv_ops.add_windows_reference(columns.astype(dtype), padded_shape, stride, dilation), rtol=1e-6
        )


def test_a_convnet_step_runs_its_kernels_compiled(numba_backend):
    """At stride 1 the convolution and its input gradient run the direct loops (a 3 x 3 weight gradient:
    im2col, by the policy); at stride 2 the input gradient is col2im's loop."""
    x, w = (ag.tensor(a, dtype=np.float32) for a in _arrays((2, 1, 10, 10), (3, 1, 3, 3)))
    w.requires_grad = True
    with backend.trace() as t:
        conv_ops.max_pool2d(conv_ops.conv2d(x, w), 2).sum().backward()
    assert t.implementations("max_pool_positions") == {backend.NUMBA}
    assert t.implementations("conv") == {backend.NUMBA}
    assert t.implementations("conv_transpose") == set()  # the input needs no gradient
    assert [c.reason for c in t.calls if c.kernel == "conv_weight_grad"] == ["9 taps: im2col and a GEMM win below 25"]
    x.requires_grad = True
    with backend.trace() as t:
        conv_ops.max_pool2d(conv_ops.conv2d(x, w), 2).sum().backward()
    assert t.calls.count(("conv_transpose", backend.NUMBA, "float32")) == 1
    assert x.grad.dtype == np.float32
    with backend.trace() as t:
        conv_ops.conv2d(x, w, stride=2).sum().backward()
    assert t.calls.count(("add_windows", backend.NUMBA, "float32")) == 1
    assert ("conv", backend.NUMPY, "stride (2, 2) (the direct loops take stride 1)") in t.calls


def test_the_policy_says_why_a_kernel_ran_numpy(numba_backend):
    """Integer inputs, three spatial axes and (for col2im, whose loop does not bounds-check) windows
    reaching past the output run the numpy references, and the trace names the reason."""
    geometry = {"stride": (1, 1), "padding": ((0, 0), (0, 0)), "dilation": (1, 1), "out_size": (2, 2)}
    with backend.trace() as t:
        positions = conv_ops.max_positions(np.arange(9).reshape(1, 1, 3, 3), (2, 2), **geometry)
        conv_ops.max_positions(np.zeros((1, 1, 3, 3, 3)), (2, 2, 2), (1, 1, 1), ((0, 0),) * 3, (1, 1, 1), (2, 2, 2))
        with pytest.raises(ValueError):
            conv_ops.add_windows(np.ones((1, 1, 2, 2, 3, 3)), (1, 1, 3, 3), (1, 1), (1, 1))
    np.testing.assert_array_equal(positions, [[[[4, 5], [7, 8]]]])
    assert [(c.kernel, c.implementation) for c in t.calls] == [
        ("max_pool_positions", backend.NUMPY),
        ("max_pool_positions", backend.NUMPY),
        ("add_windows", backend.NUMPY),
    ]
    assert t.calls[0].reason.startswith("int64 inputs are not in the table (compiled for float32, float64")
    assert t.calls[1].reason == "more than 2 spatial axes (the loops take 1 or 2)"
    assert t.calls[2].reason == "windows reaching (4, 4), past the output (3, 3)"


AVG_POOL2D_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": (3, 2), "stride": 2, "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": 2, "padding": (1, 1), "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 3, "stride": 1, "padding": 1, "divisor_override": 4},
]


@pytest.mark.parametrize("kwargs", AVG_POOL2D_CASES)
def test_avg_pool2d_matches_torch(kwargs):
    torch = _torch()
    _compare(
        lambda x: conv_ops.avg_pool2d(x, **kwargs),
        lambda x: torch.nn.functional.avg_pool2d(x, **kwargs),
        *_arrays((2, 3, 9, 8)),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 3},
        {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True},
        {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True, "count_include_pad": False},
    ],
)
def test_avg_pool1d_matches_torch(kwargs):
    torch = _torch()
    _compare(
        lambda x: conv_ops.avg_pool1d(x, **kwargs),
        lambda x: torch.nn.functional.avg_pool1d(x, **kwargs),
        *_arrays((2, 3, 12)),
    )


@pytest.mark.parametrize("output_size", [1, 3, (4, 2), (None, 3), (7, 5)])
def test_adaptive_avg_pool2d_matches_torch(output_size):
    torch = _torch()
    _compare(
        lambda x: conv_ops.adaptive_avg_pool2d(x, output_size),
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, output_size),
        *_arrays((2, 3, 7, 5)),
    )


@pytest.mark.parametrize("output_size", [1, 4, 9])
def test_adaptive_avg_pool1d_matches_torch(output_size):
    torch = _torch()
    _compare(
        lambda x: conv_ops.adaptive_avg_pool1d(x, output_size),
        lambda x: torch.nn.functional.adaptive_avg_pool1d(x, output_size),
        *_arrays((2, 3, 9)),
    )


@pytest.mark.parametrize("output_size", [1, 3, (4, 2), (7, 5)])
def test_adaptive_max_pool2d_matches_torch(output_size):
    torch = _torch()
    _compare(
        lambda x: conv_ops.adaptive_max_pool2d(x, output_size),
        lambda x: torch.nn.functional.adaptive_max_pool2d(x, output_size),
        *_arrays((2, 3, 7, 5)),
    )
    _, indices = conv_ops.adaptive_max_pool2d(_arrays((2, 3, 7, 5))[0], output_size, return_indices=True)
    _, expected = torch.nn.functional.adaptive_max_pool2d(
        torch.tensor(_arrays((2, 3, 7, 5))[0]), output_size, return_indices=True
    )
    np.testing.assert_array_equal(np.asarray(indices), expected.numpy())


def test_adaptive_max_pool1d_matches_torch():
    torch = _torch()
    _compare(
        lambda x: conv_ops.adaptive_max_pool1d(x, 4),
        lambda x: torch.nn.functional.adaptive_max_pool1d(x, 4),
        *_arrays((2, 3, 10)),
    )


PAD_CASES = [
    ((2, 3, 4, 5), (1, 2), "constant", 0.0),
    ((2, 3, 4, 5), (1, 2, 2, 0), "constant", 1.5),
    ((2, 3, 4, 5), (-1, 2, 0, -2), "constant", 0.0),
    ((2, 3, 4, 5), (1, 0, 0, 1, 1, 1), "constant", 0.0),
    ((2, 3, 4, 5), (2, 4, 3, 1), "reflect", None),
    ((2, 3, 6), (5, 3), "reflect", None),
    ((2, 3, 4, 5), (2, 4, 3, 1), "replicate", None),
    ((2, 3, 4, 5), (5, 1, 3, 4), "circular", None),
    ((2, 3, 4, 5), (-1, 2, 1, -2), "circular", None),
    ((2, 3, 4, 5), (-1, 2, 1, -2), "replicate", None),
]


@pytest.mark.parametrize("shape, pad, mode, value", PAD_CASES)
def test_pad_matches_torch(shape, pad, mode, value):
    torch = _torch()
    _compare(
        lambda x: conv_ops.pad(x, pad, mode, value),
        lambda x: torch.nn.functional.pad(x, pad, mode, value),
        *_arrays(shape),
    )


INTERPOLATE_CASES = [
    ((2, 3, 5, 4), {"size": (7, 9)}),
    ((2, 3, 5, 4), {"scale_factor": 2}),
    ((2, 3, 6, 9), {"size": (4, 5)}),
    ((2, 3, 5, 4), {"scale_factor": (1.5, 0.75)}),
    ((2, 3, 5), {"scale_factor": 3}),
    ((2, 3, 5, 4), {"size": (7, 9), "mode": "bilinear"}),
    ((2, 3, 5, 4), {"size": (7, 9), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 6, 9), {"size": (4, 5), "mode": "bilinear"}),
    ((2, 3, 5, 4), {"scale_factor": 1.7, "mode": "bilinear"}),
    ((2, 3, 5, 4), {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}),
    ((2, 3, 5, 4), {"size": (1, 1), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5), {"size": 8, "mode": "linear"}),
    ((2, 3, 8), {"scale_factor": 0.5, "mode": "linear", "align_corners": True}),
    ((2, 3, 5, 4), {"size": (7, 9), "mode": "nearest-exact"}),
    ((2, 3, 6, 9), {"scale_factor": 0.6, "mode": "nearest-exact"}),
    ((2, 3, 7, 9), {"size": (3, 4), "mode": "area"}),
    ((2, 3, 7), {"scale_factor": 0.5, "mode": "area"}),
    ((1, 2, 3, 4, 5), {"size": (4, 2, 7)}),
]


@pytest.mark.parametrize("shape, kwargs", INTERPOLATE_CASES)
def test_interpolate_matches_torch(shape, kwargs):
    torch = _torch()
    _compare(
        lambda x: conv_ops.interpolate(x, **kwargs),
        lambda x: torch.nn.functional.interpolate(x, **kwargs),
        *_arrays(shape),
    )


@pytest.mark.parametrize(
    "kwargs", [{"kernel_size": 2}, {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": (1, 2)}]
)
def test_unfold_and_fold_match_torch(kwargs):
    torch = _torch()
    x = _arrays((2, 3, 6, 7))[0]
    _compare(lambda t: conv_ops.unfold(t, **kwargs), lambda t: torch.nn.functional.unfold(t, **kwargs), x)
    columns = torch.nn.functional.unfold(torch.tensor(x), **kwargs).numpy()
    _compare(
        lambda t: conv_ops.fold(t, (6, 7), **kwargs), lambda t: torch.nn.functional.fold(t, (6, 7), **kwargs), columns
    )


@pytest.mark.parametrize("groups, with_affine", [(1, True), (2, True), (6, False)])
def test_group_norm_matches_torch(groups, with_affine):
    torch = _torch()
    arrays = _arrays((3, 6, 4, 5), (6,), (6,))
    _compare(
        lambda x, *p: conv_ops.group_norm(x, groups, *p),
        lambda x, *p: torch.nn.functional.group_norm(x, groups, *p),
        *arrays[: 3 if with_affine else 1],
        rtol=1e-9,
    )


# ---- gradcheck of the functions on small float64 inputs ---------------------------------------------

GRADCHECK_CASES = [
    pytest.param(
        lambda x, w, b: conv_ops.conv2d(x, w, b, stride=2, padding="valid"),
        [(1, 2, 5, 4), (2, 2, 2, 2), (2,)],
        id="conv2d",
    ),
    pytest.param(lambda x, w: conv_ops.conv1d(x, w, padding="same", groups=2), [(2, 2, 5), (4, 1, 4)], id="conv1d"),
    pytest.param(
        lambda x, w: conv_ops.conv_transpose2d(x, w, stride=2, output_padding=1),
        [(1, 2, 2, 3), (2, 1, 2, 2)],
        id="conv_transpose2d",
    ),
    pytest.param(lambda x: conv_ops.max_pool2d(x, 2, padding=1), [(1, 2, 3, 4)], id="max_pool2d"),
    pytest.param(
        lambda x: conv_ops.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(1, 2, 4, 5)],
        id="avg_pool2d",
    ),
    pytest.param(lambda x: conv_ops.adaptive_avg_pool2d(x, (2, 3)), [(1, 2, 5, 4)], id="adaptive_avg_pool2d"),
    pytest.param(lambda x: conv_ops.pad(x, (2, 1, 1, 2), "reflect"), [(1, 2, 3, 4)], id="pad_reflect"),
    pytest.param(lambda x: conv_ops.interpolate(x, size=(3, 5), mode="bilinear"), [(1, 1, 2, 3)], id="bilinear"),
    pytest.param(lambda x, w, b: conv_ops.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)], id="group_norm"),
]


@pytest.mark.parametrize("fn, shapes", GRADCHECK_CASES)
def test_functions_pass_gradcheck(fn, shapes):
    inputs = [ag.tensor(a, requires_grad=True) for a in _arrays(*shapes, seed=3)]
    assert ag.gradcheck(fn, inputs)


def test_conv2d_second_derivatives_pass_gradgradcheck():
    inputs = [ag.tensor(a, requires_grad=True) for a in _arrays((1, 2, 4, 4), (2, 1, 2, 2), seed=4)]
    assert ag.gradgradcheck(lambda x, w: conv_ops.conv2d(x, w, stride=2, padding=1, groups=2) ** 2, inputs)


# ---- layers ---------------------------------------------------------------------------------------------


def _copy_into_torch(module, torch_module):
    torch = _torch()
    state = {name: torch.tensor(np.asarray(value)) for name, value in module.state_dict().items()}
    torch_module.double().load_state_dict(state)
    return torch_module


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv2d_layer_padding_modes_match_torch(padding_mode, padding):
    torch = _torch()
    ag.set_default_dtype(np.float64)
    layer = conv.Conv2d(3, 4, (3, 4), padding=padding, padding_mode=padding_mode)
    twin = _copy_into_torch(layer, torch.nn.Conv2d(3, 4, (3, 4), padding=padding, padding_mode=padding_mode))
    x = _arrays((2, 3, 6, 7))[0]
    _compare_layers(layer, twin, x)


def _compare_layers(layer, twin, x, *extra):
    """Outputs and the gradients of the input and of every parameter, by name."""
    torch = _torch()
    ours_x, their_x = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(ours_x, *extra), twin(their_x, *extra)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(seed)
    expected.backward(torch.as_tensor(seed))
    np.testing.assert_allclose(np.asarray(ours_x.grad), their_x.grad.numpy(), rtol=1e-9, atol=1e-11)
    theirs = dict(twin.named_parameters())
    for name, parameter in layer.named_parameters():
        np.testing.assert_allclose(np.asarray(parameter.grad), theirs[name].grad.numpy(), rtol=1e-9, atol=1e-11)


def test_conv1d_layer_matches_torch():
    torch = _torch()
    ag.set_default_dtype(np.float64)
    layer = conv.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, padding_mode="circular")
    twin = _copy_into_torch(
        layer, torch.nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, padding_mode="circular")
    )
    _compare_layers(layer, twin, _arrays((2, 4, 11))[0])


@pytest.mark.parametrize("output_size", [None, (9, 10)])
def test_conv_transpose2d_layer_matches_torch(output_size):
    torch = _torch()
    ag.set_default_dtype(np.float64)
    layer = conv.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    twin = _copy_into_torch(layer, torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2))
    _compare_layers(layer, twin, _arrays((2, 4, 5, 5))[0], *([] if output_size is None else [output_size]))


def test_conv_transpose1d_layer_matches_torch():
    torch = _torch()
    ag.set_default_dtype(np.float64)
    layer = conv.ConvTranspose1d(3, 2, 4, stride=3, output_padding=1, bias=False)
    twin = _copy_into_torch(layer, torch.nn.ConvTranspose1d(3, 2, 4, stride=3, output_padding=1, bias=False))
    _compare_layers(layer, twin, _arrays((2, 3, 6))[0])


@pytest.mark.parametrize(
    "layer_class, args, weight_shape, fan_in",
    [
        (conv.Conv2d, (6, 8, (3, 5), 1, 0, 1, 2), (8, 3, 3, 5), 45),
        (conv.Conv1d, (4, 8, 7), (8, 4, 7), 28),
        (conv.ConvTranspose2d, (6, 8, 3, 1, 0, 0, 2), (6, 4, 3, 3), 36),
    ],
)
def test_conv_layers_have_torch_shapes_names_and_init(layer_class, args, weight_shape, fan_in):
    ag.manual_seed(0)
    layer = layer_class(*args)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == weight_shape and layer.bias.shape == (8,)
    # kaiming_uniform(a=sqrt(5)) and the bias both draw from U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(np.asarray(layer.bias)).max() <= bound
    assert 0.8 * bound < np.abs(np.asarray(layer.weight)).max() <= bound
    assert np.asarray(layer.weight).std() == pytest.approx(bound / math.sqrt(3), rel=0.25)


def test_conv_layer_without_bias_has_no_bias_parameter():
    layer = conv.Conv2d(2, 3, 3, bias=False)
    assert layer.bias is None and [name for name, _ in layer.named_parameters()] == ["weight"]


def test_conv_layer_state_dict_loads_into_torch_and_back():
    torch = _torch()
    layer = conv.Conv2d(3, 5, 3, stride=2)
    twin = torch.nn.Conv2d(3, 5, 3, stride=2)
    twin.load_state_dict({name: torch.tensor(np.asarray(value)) for name, value in layer.state_dict().items()})
    fresh = conv.Conv2d(3, 5, 3, stride=2)
    fresh.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()})
    np.testing.assert_array_equal(np.asarray(fresh.weight), np.asarray(layer.weight))


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        lambda nn: nn.MaxPool1d(2),
        lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        lambda nn: nn.AvgPool1d(3, 2, 1),
        lambda nn: nn.AdaptiveAvgPool2d((2, 3)),
        lambda nn: nn.AdaptiveMaxPool2d(3),
        lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"),
        lambda nn: nn.Upsample(size=(5, 7)),
    ],
)
def test_pooling_and_upsampling_layers_match_torch(make):
    torch = _torch()
    layer, twin = make(conv), make(torch.nn)
    x = _arrays((2, 3, 6, 7))[0] if "1d" not in type(twin).__name__ else _arrays((2, 3, 9))[0]
    _compare_layers(layer, twin, x)


def test_max_pool_layer_with_indices_and_unpool_layer_match_torch():
    torch = _torch()
    x = _arrays((1, 2, 6, 6))[0]
    y, indices = conv.MaxPool2d(2, return_indices=True)(ag.tensor(x))
    _, expected = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(np.asarray(indices), expected.numpy())
    np.testing.assert_allclose(
        np.asarray(conv.MaxUnpool2d(2)(y, indices, (7, 7))),
        torch.nn.MaxUnpool2d(2)(torch.tensor(np.asarray(y)), expected, (7, 7)).numpy(),
    )


@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False}])
def test_batch_norm2d_training_eval_and_running_stats_match_torch(kwargs):
    torch = _torch()
    ag.set_default_dtype(np.float64)
    layer = conv.BatchNorm2d(3, **kwargs)
    twin = _copy_into_torch(layer, torch.nn.BatchNorm2d(3, **kwargs))
    with torch.no_grad():
        for p in twin.parameters():
            p.uniform_(0.5, 1.5)
    layer.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()})
    for step in range(2):
        _compare_layers(layer, twin, _arrays((4, 3, 5, 6), seed=step)[0] * 2 + 1)
    for name, value in twin.state_dict().items():
        np.testing.assert_allclose(np.asarray(layer.state_dict()[name]), value.numpy(), rtol=1e-12)
    layer.eval(), twin.eval()
    _compare_layers(layer, twin, _arrays((2, 3, 4, 4), seed=5)[0])


def test_group_norm_layer_matches_torch():
    torch = _torch()
    ag.set_default_dtype(np.float64)
    layer = conv.GroupNorm(3, 6)
    twin = _copy_into_torch(layer, torch.nn.GroupNorm(3, 6))
    with torch.no_grad():
        for p in twin.parameters():
            p.uniform_(0.5, 1.5)
    layer.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()})
    _compare_layers(layer, twin, _arrays((2, 6, 3, 4))[0])


def test_dropout2d_zeros_whole_channels_and_scales_the_rest():
    x = ag.tensor(np.ones((20, 8, 3, 3)), requires_grad=True)
    layer = conv.Dropout2d(0.25)
    y = layer(x)
    per_channel = np.asarray(y).reshape(20, 8, 9)
    assert set(np.unique(per_channel)) <= {0.0, 1 / 0.75}
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # whole channels
    assert 0.1 < (per_channel[:, :, 0] == 0).mean() < 0.4
    y.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), np.asarray(y))
    layer.eval()
    assert layer(x) is x


def test_float32_layers_keep_float32_values_and_gradients():
    x = ag.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32), requires_grad=True)
    layers = [
        conv.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
        conv.BatchNorm2d(4),
        conv.GroupNorm(2, 4),
        conv.MaxPool2d(2, ceil_mode=True),
        conv.AvgPool2d(2, padding=1, count_include_pad=False),
        conv.ConvTranspose2d(4, 2, 3, stride=2),
        conv.Upsample(scale_factor=1.5, mode="bilinear"),
        conv.AdaptiveAvgPool2d(3),
        conv.AdaptiveMaxPool2d(2),
    ]
    y = x
    for layer in layers:
        y = layer(y)
        assert y.dtype == np.float32, type(layer).__name__
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for layer in layers for p in layer.parameters())


def test_a_small_convnet_trains():
    import nn
    from optim import SGD

    ag.manual_seed(0)
    model = nn.Sequential(
        conv.Conv2d(1, 4, 3, padding=1),
        conv.BatchNorm2d(4),
        nn.ReLU(),
        conv.MaxPool2d(2),
        conv.Conv2d(4, 8, 3),
        nn.ReLU(),
        conv.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    labels = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(60):
        loss = nn.CrossEntropyLoss()(model(ag.tensor(x)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# ---- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: conv.Conv2d(3, 8, 3)(np.zeros((2, 1, 8, 8))),
            r"Conv2d: expected an input with 3 channels .*got input of shape \(2, 1, 8, 8\)",
        ),
        (lambda: conv.Conv2d(3, 8, 3)(np.zeros((3, 8))), r"Conv2d: expected a 4-D input \(N, C, H, W\).*\(3, 8\)"),
        (
            lambda: conv.Conv2d(3, 8, 5)(np.zeros((1, 3, 4, 4))),
            (
                r"Conv2d: the kernel \(5, 5\).*larger than the padded "
                r"input \(4, 4\)"
            ),
        ),
        (lambda: conv.Conv2d(3, 8, 3, stride=0), "Conv2d: stride must be positive"),
        (lambda: conv.Conv2d(3, 8, 3, dilation=(1, -1)), "Conv2d: dilation must be positive"),
        (lambda: conv.Conv2d(3, 8, 3, groups=0), "Conv2d: groups must be positive"),
        (lambda: conv.Conv2d(3, 8, 3, groups=2), "Conv2d: in_channels 3 is not divisible by groups=2"),
        (lambda: conv.Conv2d(4, 6, 3, groups=4), "Conv2d: out_channels 6 is not divisible by groups=4"),
        (lambda: conv.Conv2d(4, 6, 3, stride=2, padding="same"), "Conv2d: padding='same' needs stride 1"),
        (lambda: conv.Conv2d(4, 6, 3, padding="full"), "Conv2d: padding must be"),
        (lambda: conv.Conv2d(4, 6, 3, padding_mode="mirror"), "Conv2d: padding_mode must be one of"),
        (
            lambda: conv_ops.conv2d(np.zeros((1, 6, 5, 5)), np.zeros((4, 2, 3, 3)), groups=3),
            r"conv2d: out_channels 4 \(weight of shape \(4, 2, 3, 3\)\) is not divisible by groups=3",
        ),
        (lambda: conv_ops.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((6, 4, 3))), r"conv2d: weight must be 4-D"),
        (
            lambda: conv_ops.conv1d(np.zeros((1, 4, 5)), np.zeros((6, 4, 3)), np.zeros(5)),
            r"conv1d: bias of shape \(5,\) does not match the 6 output channels",
        ),
        (
            lambda: conv_ops.conv_transpose2d(np.zeros((1, 3, 4, 4)), np.zeros((2, 3, 3, 3))),
            r"conv_transpose2d: expected an input with 2 channels",
        ),
        (
            lambda: conv_ops.conv_transpose2d(
                np.zeros((1, 2, 4, 4)), np.zeros((2, 3, 3, 3)), stride=2, output_padding=2
            ),
            "conv_transpose2d: output_padding",
        ),
        (lambda: conv_ops.max_pool2d(np.zeros((1, 1, 4, 4)), 3, padding=2), "max_pool2d: padding .* at most half"),
        (lambda: conv_ops.max_pool2d(np.zeros((1, 1, 2, 2)), 3), r"max_pool2d: the kernel \(3, 3\)"),
        (lambda: conv_ops.avg_pool2d(np.zeros((1, 1, 4, 4)), 2, stride=0), "avg_pool2d: stride must be positive"),
        (lambda: conv_ops.pad(np.zeros((1, 1, 3, 3)), (3, 0), "reflect"), "pad: reflect padding"),
        (lambda: conv_ops.pad(np.zeros((1, 1, 3, 3)), (1,)), "pad: pad must be"),
        (lambda: conv_ops.pad(np.zeros((1, 1, 3, 3)), (1, 1), "wrap"), "pad: mode must be"),
        (lambda: conv_ops.interpolate(np.zeros((1, 1, 3, 3)), size=4, mode="linear"), "interpolate: mode 'linear'"),
        (
            lambda: conv_ops.interpolate(np.zeros((1, 1, 3, 3)), size=4, align_corners=True),
            "interpolate: align_corners",
        ),
        (lambda: conv_ops.interpolate(np.zeros((1, 1, 3, 3))), "interpolate: give exactly one"),
        (lambda: conv.GroupNorm(4, 6), "GroupNorm: num_channels 6 is not divisible"),
        (lambda: conv.BatchNorm2d(3)(np.zeros((2, 3, 4))), r"BatchNorm2d: expected a 4-D input \(N, 3, H, W\)"),
        (lambda: conv.BatchNorm2d(3)(np.zeros((2, 4, 5, 5))), r"BatchNorm2d: .*got shape \(2, 4, 5, 5\)"),
        (lambda: conv.GroupNorm(2, 4)(np.zeros((2, 6, 5))), r"GroupNorm: expected an input \(N, 4, \*\)"),
        (
            lambda: conv.MaxUnpool2d(2)(np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16)),
            r"max_unpool2d: indices must lie",
        ),
        (lambda: conv.Dropout2d(0.5)(np.zeros((2, 3))), r"dropout2d: expected a 4-D input"),
        (lambda: conv_ops.adaptive_avg_pool2d(np.zeros((1, 1, 4, 4)), (0, 2)), "adaptive_avg_pool2d: output_size must"),
        (lambda: conv_ops.avg_pool2d(np.zeros((1, 1, 4, 4)), 2, divisor_override=0), "avg_pool2d: divisor_override"),
        (lambda: conv_ops.fold(np.zeros((1, 12, 5)), (4, 5), 2), r"fold: expected columns \(N, C \* 4, 12\)"),
    ],
)
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize(
    "make, attributes",
    [
        (
            lambda nn: nn.MaxPool2d(3),
            {"kernel_size": 3, "stride": 3, "padding": 0, "dilation": 1, "return_indices": False, "ceil_mode": False},
        ),
        (lambda nn: nn.MaxPool1d(3, 2, 1), {"kernel_size": 3, "stride": 2, "padding": 1}),
        (
            lambda nn: nn.AvgPool2d(2, count_include_pad=False),
            {"kernel_size": 2, "stride": 2, "ceil_mode": False, "count_include_pad": False, "divisor_override": None},
        ),
        (lambda nn: nn.AdaptiveMaxPool2d((2, 3), True), {"output_size": (2, 3), "return_indices": True}),
        (lambda nn: nn.Unfold(2, stride=2), {"kernel_size": 2, "dilation": 1, "padding": 0, "stride": 2}),
        (lambda nn: nn.Fold((4, 5), 2), {"output_size": (4, 5), "kernel_size": 2}),
        (lambda nn: nn.Upsample(size=(5, 7), mode="bilinear"), {"size": (5, 7), "mode": "bilinear"}),
    ],
)
def test_layer_arguments_are_attributes_as_in_pytorch(make, attributes):
    layer = make(conv)
    assert {name: getattr(layer, name) for name in attributes} == attributes
    assert layer.state_dict() == {}
    torch = _torch()
    twin = make(torch.nn)
    assert {name: getattr(twin, name) for name in attributes} == attributes


def test_assigning_a_pooling_attribute_changes_forward_and_repr():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    layer = conv.MaxPool2d(2)
    layer.stride = 1
    assert repr(layer) == (
        "MaxPool2d(kernel_size=2, stride=1, padding=0, dilation=1, return_indices=False, ceil_mode=False)"
    )
    np.testing.assert_array_equal(np.asarray(layer(ag.tensor(x))), [[[[5, 6, 7], [9, 10, 11], [13, 14, 15]]]])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: conv.MaxPool2d(), r"MaxPool2d: missing required argument 'kernel_size'"),
        (lambda: conv.Fold(kernel_size=2), r"Fold: missing required argument 'output_size'"),
        (lambda: conv.Fold(), r"Fold: missing required argument 'output_size', 'kernel_size'"),
        (lambda: conv.AvgPool1d(2, 2, 0, False, True, None), r"AvgPool1d: takes at most 5 positional arguments"),
        (lambda: conv.MaxPool2d(2, kernel=3), r"MaxPool2d: unexpected argument 'kernel'"),
        (lambda: conv.MaxPool2d(2, kernel_size=3), r"MaxPool2d: got multiple values for argument 'kernel_size'"),
    ],
)
def test_layer_construction_errors_name_the_layer_and_argument(make, message):
    with pytest.raises(TypeError, match=message):
        make()
