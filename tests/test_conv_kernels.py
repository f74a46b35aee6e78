"""The scatter-add loop's own index checks, on the path max pooling's backward takes (one index array);
the direct convolution loops against the im2col references, and the policy's choice between them."""

import numpy as np
import pytest

from autograd_core import backend, conv_ops
from autograd_core.kernels import FORWARD_KERNELS
from autograd_core.kernels import conv as conv_kernels


@pytest.mark.parametrize("rows", [np.array([0, -4]), np.array([3]), np.array([[0, 1], [2, 3]])])
def test_scatter_add_loop_rejects_rows_out_of_range(numba_backend, rows):
    g = np.ones(rows.shape, np.float32)
    with pytest.raises(ValueError, match="out of range"):
        FORWARD_KERNELS["scatter_add"].numba()(g, (rows,), (3,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_add_loop_takes_negative_and_strided_rows(numba_backend, dtype):
    rows = np.array([[-1, 0, 2, -3], [1, 1, 0, 2]])[:, ::2]  # not C-contiguous
    g = np.arange(4, dtype=dtype).reshape(2, 2)
    with backend.trace() as t:
        out = FORWARD_KERNELS["scatter_add"].numba()(g, (rows,), (3,))
    assert t.calls == [("scatter_add_forward", backend.NUMBA, np.dtype(dtype).name)]
    np.testing.assert_array_equal(out, FORWARD_KERNELS["scatter_add"].numpy(g, (rows,), (3,)))


# ---- the direct convolution loops (stride 1) -----------------------------------------------------------


@pytest.fixture
def direct_everywhere(numba_backend, monkeypatch):
    """Every stride-1 convolution the loops can take goes to them, whatever its depth and kernel size."""
    monkeypatch.setattr(conv_kernels, "DIRECT_MAX_DEPTH", 10**9)
    monkeypatch.setattr(conv_kernels, "WEIGHT_GRAD_MIN_TAPS", 1)


def _geometry(spatial, padding, groups):
    return {"stride": (1,) * spatial, "padding": padding, "dilation": (1,) * spatial, "groups": groups}


# (input shape, weight shape, padding, groups)
DIRECT_CASES = {
    "asymmetric padding": ((2, 3, 7, 6), (4, 3, 3, 2), ((1, 0), (2, 1)), 1),
    "1-D, 2 groups": ((3, 4, 9), (6, 2, 5), ((2, 2),), 2),
    "depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), ((1, 1), (1, 1)), 4),
    "widest kernel": ((2, 2, 4, 8), (3, 2, 1, 7), ((0, 0), (3, 3)), 1),
    "LeNet-like": ((3, 1, 12, 12), (6, 1, 5, 5), ((0, 0), (0, 0)), 1),
    "one position, odd outputs": ((1, 2, 3, 3), (5, 2, 3, 3), ((0, 0), (0, 0)), 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", DIRECT_CASES.values(), ids=DIRECT_CASES.keys())
def test_direct_loops_match_the_references(direct_everywhere, dtype, case):
    """The forward, the weight gradient and the transposed convolution (with and without bias) of the
    direct loops equal the im2col references."""
    x_shape, w_shape, padding, groups = case
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    geometry = _geometry(len(x_shape) - 2, padding, groups)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    with backend.trace() as t:
        y = conv_ops.conv_forward.numba()(x, w, bias, **geometry)
        g = rng.standard_normal(y.shape).astype(dtype)
        dw = conv_ops.conv_weight_grad_forward.numba()(x, g, w_shape[2:], **geometry)
        transposed = {"output_size": x_shape[2:], **geometry}
        dx = conv_ops.conv_transpose_forward.numba()(g, w, **transposed)
        out_bias = bias[: w_shape[1] * groups]
        shifted = conv_ops.conv_transpose_forward.numba()(g, w, out_bias, **transposed)
    assert {c.implementation for c in t.calls} == {backend.NUMBA}, t.calls
    np.testing.assert_allclose(y, conv_ops.conv_reference(x, w, bias, **geometry), **tolerance)
    np.testing.assert_allclose(dw, conv_ops.conv_weight_grad_reference(x, g, w_shape[2:], **geometry), **tolerance)
    np.testing.assert_allclose(dx, conv_ops.conv_transpose_reference(g, w, **transposed), **tolerance)
    np.testing.assert_allclose(shifted, conv_ops.conv_transpose_reference(g, w, out_bias, **transposed), **tolerance)
    assert y.dtype == dw.dtype == dx.dtype == dtype
    assert y.flags.c_contiguous and dx.flags.c_contiguous


def test_kept_planes_hold_nothing_of_earlier_calls(numba_backend):
    """The padded planes are kept per thread between calls: another input, another padding of the same
    input shape and another dtype each give the reference's values."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((2, 1, 5, 5))
    forward = conv_ops.conv_forward.numba()
    for padding in (((2, 2), (2, 2)), ((0, 0), (0, 0)), ((4, 0), (1, 3))):
        for dtype in (np.float64, np.float32):
            for _ in range(2):
                x = rng.standard_normal((2, 1, 6, 7)).astype(dtype)
                geometry = _geometry(2, padding, 1)
                expected = conv_ops.conv_reference(x, w.astype(dtype), **geometry)
                np.testing.assert_allclose(forward(x, w.astype(dtype), **geometry), expected, rtol=1e-5, atol=1e-5)


def test_the_policy_says_when_im2col_runs(numba_backend):
    """Strides, dilations, wide kernels, deep convolutions and small weight-gradient kernels run the
    im2col references (with the same values), and the trace says why."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 20, 9, 9)).astype(np.float32)
    cases = [
        ((3, 20, 3, 3), {"stride": (2, 2)}, "stride (2, 2) (the direct loops take stride 1)"),
        ((3, 20, 3, 3), {"dilation": (1, 2)}, "dilation (1, 2) (the direct loops take dilation 1)"),
        ((10, 2, 1, 9), {"groups": 10}, "kernel width 9 (the loops take up to 7)"),
        ((3, 20, 5, 5), {}, "depth 500 (channels per group x taps): im2col and a GEMM win past 400"),
    ]
    for w_shape, changes, reason in cases:
        w = rng.standard_normal(w_shape).astype(np.float32)
        geometry = {**_geometry(2, ((0, 0), (0, 0)), 1), **changes}
        with backend.trace() as t:
            y = conv_ops.conv_forward.numba()(x, w, **geometry)
        assert t.calls == [("conv", backend.NUMPY, reason)]
        np.testing.assert_allclose(y, conv_ops.conv_reference(x, w, **geometry), rtol=1e-6)
    geometry = _geometry(2, ((1, 1), (1, 1)), 1)
    g = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    with backend.trace() as t:
        conv_ops.conv_weight_grad_forward.numba()(x[:, :4], g, (3, 3), **geometry)
    assert t.calls == [("conv_weight_grad", backend.NUMPY, "9 taps: im2col and a GEMM win below 25")]


def test_transposed_convolution_with_extra_output_positions_runs_im2col(numba_backend):
    """An output_size beyond the windows' reach (positions no window covers) is the reference's case."""
    rng = np.random.default_rng(3)
    g, w = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 1, 3, 3))
    geometry = _geometry(2, ((0, 0), (0, 0)), 1)
    with backend.trace() as t:
        out = conv_ops.conv_transpose_forward.numba()(g, w, output_size=(6, 5), **geometry)
    assert t.calls[0] == ("conv_transpose", backend.NUMPY, "an output_size (6, 5) with extra positions")
    np.testing.assert_allclose(out, conv_ops.conv_transpose_reference(g, w, output_size=(6, 5), **geometry))
