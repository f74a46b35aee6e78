"""The Numba kernels against their numpy references: every kernel, float32 and float64, contiguous
and strided inputs, broadcast gradients, sizes 0-d, 1, odd and large; the accelerated registry ops
gradchecked under the numba backend; the backend switch; lazy import of numba."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import registry_inputs

import autograd_core as ag
from autograd_core import backend, fused_ops
from autograd_core.engine import apply
from autograd_core.kernels import BACKWARD_KERNELS, FORWARD_KERNELS, REFERENCE_F, elementwise, norm, softmax
from autograd_core.ops import ARRAY_F, REGISTRY

pytest.importorskip("numba")

DTYPES = (np.float32, np.float64)
# The compiled loops compute in float64 and round once; the float32 references round at every
# numpy call, so float32 comparisons allow a few float32 ulps of the result's scale.
TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-11, atol=1e-13)}


def assert_matches(actual, expected, dtype):
    """Same shape, and equal to the dtype's tolerance (relative to the values' scale for float32)."""
    expected = np.asarray(expected)
    assert np.shape(actual) == expected.shape
    tolerance = dict(TOLERANCE[np.dtype(dtype)])
    finite = np.isfinite(expected)
    scale = np.max(np.abs(expected[finite]), initial=1.0) if np.dtype(dtype) == np.float32 else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tolerance["rtol"], atol=tolerance["atol"] * scale, equal_nan=True)


@pytest.fixture(autouse=True)
def numba_backend():
    """Run under the numba backend (the kernels ask it before running compiled code); the previous
    backend comes back afterwards."""
    previous = backend.get()
    backend.set("numba")
    yield
    backend.set(previous)


def layouts(shape, dtype, seed=0, scale=3.0):
    """The same kind of values as a contiguous array, a transposed view and a strided slice."""
    rng = np.random.default_rng(seed)
    contiguous = (rng.standard_normal(shape) * scale).astype(dtype)
    if not shape:
        return {"contiguous": contiguous}
    transposed = np.ascontiguousarray((rng.standard_normal(shape[::-1]) * scale).astype(dtype)).T
    strided = (rng.standard_normal(shape[:-1] + (2 * shape[-1],)) * scale).astype(dtype)[..., ::2]
    return {"contiguous": contiguous, "transposed": transposed, "strided": strided}


# ---- activations: forward y = f(x) and backward g * f'(x) ------------------------------------

ACTIVATION_ATTRS = {
    "leaky_relu": dict(negative_slope=0.1),
    "elu": dict(alpha=0.7),
    "softplus": dict(beta=1.5, threshold=4.0),
}
SHAPES = {"0-d": (), "one": (1,), "odd": (37,), "matrix": (7, 13), "large": (3, 40_001)}
SPECIAL_VALUES = np.array([0.0, -0.0, 1e-9, -1e-9, 0.04, -0.06, 30.0, -30.0, np.inf, -np.inf, np.nan])


def _activation_case(name):
    kind, attr_names = elementwise.ACTIVATION_KINDS[name]
    attrs = ACTIVATION_ATTRS.get(name, {})
    return elementwise.compiled(kind), elementwise.parameter_reader(attr_names)(attrs), attrs


def _reference_forward(name, x, attrs):
    return getattr(REFERENCE_F, name)(x, **attrs)


@pytest.mark.parametrize("name", elementwise.ACTIVATION_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_activation_forward_loop_matches_reference(name, dtype, shape):
    loops, parameters, attrs = _activation_case(name)
    for x in layouts(shape, dtype).values():
        out = np.empty(x.size, dtype)
        loops.forward(x.reshape(-1), out, *parameters)
        assert_matches(out.reshape(x.shape), _reference_forward(name, x, attrs), dtype)


@pytest.mark.parametrize("name", elementwise.ACTIVATION_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_forward_loop_on_special_values(name, dtype):
    loops, parameters, attrs = _activation_case(name)
    x = SPECIAL_VALUES.astype(dtype)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        loops.forward(x, out, *parameters)
        expected = _reference_forward(name, x, attrs)
    assert_matches(out, expected, dtype)


@pytest.mark.parametrize("name", elementwise.ACTIVATION_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_activation_backward_loop_matches_formula(name, dtype, shape):
    """g * f'(x) from the compiled loop equals the registry's VJP formula, for every layout of x
    and g, including a gradient broadcast from a scalar (stride 0, as sum's backward makes it)."""
    loops, parameters, attrs = _activation_case(name)
    op = REGISTRY[name]
    for x, g in zip(layouts(shape, dtype).values(), layouts(shape, dtype, seed=1).values()):
        y = _reference_forward(name, x, attrs)
        for gradient in (g, np.broadcast_to(np.asarray(0.7, dtype), x.shape)):
            expected = op.grads[0](REFERENCE_F, gradient, x, out=y, **attrs)
            dx = np.empty(x.size, dtype)
            loops.backward(
                gradient.reshape(-1), (x if 0 in op.reads_of(0)[0] else y).reshape(-1), y.reshape(-1), dx, *parameters
            )
            assert_matches(dx.reshape(x.shape), expected, dtype)


@pytest.mark.parametrize("name", elementwise.ACTIVATION_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_kernels_as_wired(name, dtype):
    """The kernels the registry ops call under numba: compiled for the dtypes of the table, the
    reference for the others, and the reference for dtypes no loop is compiled for."""
    attrs = ACTIVATION_ATTRS.get(name, {})
    for x in layouts((5, 9), dtype).values():
        y = _reference_forward(name, x, attrs)
        if name in FORWARD_KERNELS:
            assert_matches(FORWARD_KERNELS[name].numba()(x, **attrs), y, dtype)
        if name in BACKWARD_KERNELS:
            g = np.full(x.shape, 0.3, dtype)
            out = y if REGISTRY[name].reads_of(0)[1] else None
            (dx,) = BACKWARD_KERNELS[name].numba()(g, (x,), out, attrs, [True])
            expected = REGISTRY[name].grads[0](REFERENCE_F, g, x, out=y, **attrs)
            assert_matches(dx, expected, dtype)


@pytest.mark.parametrize("name", [n for n in elementwise.ACTIVATION_KINDS if n in FORWARD_KERNELS])
def test_activation_forward_falls_back_for_other_dtypes(name):
    attrs = ACTIVATION_ATTRS.get(name, {})
    for x in (np.array([-1.5, 0.0, 2.0], np.float16), np.array([-2, 0, 3])):
        out = FORWARD_KERNELS[name].numba()(x, **attrs)
        expected = FORWARD_KERNELS[name].numpy(x, **attrs)
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


# ---- softmax, log-softmax, softmax cross-entropy ----------------------------------------------

SOFTMAX_CASES = [((5, 7), 1), ((5, 7), 0), ((2, 3, 4), 1), ((1, 1), 1), ((3, 1001), -1)]


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", SOFTMAX_CASES)
def test_softmax_loops_and_kernels(log, dtype, shape, axis):
    name = "log_softmax" if log else "softmax"
    loops = softmax.compiled(log)
    axis = axis % len(shape)
    for x in layouts(shape, dtype).values():
        y = FORWARD_KERNELS[name].numpy(x, axis=axis)
        g = layouts(shape, dtype, seed=2)["strided"]
        expected_dx = REGISTRY[name].grads[0](REFERENCE_F, g, x, out=y, axis=axis)
        # the wired kernels (which hand float32 forwards to numpy) ...
        assert_matches(FORWARD_KERNELS[name].numba()(x, axis=axis), y, dtype)
        (dx,) = BACKWARD_KERNELS[name].numba()(g, (x,), y, dict(axis=axis), [True])
        assert_matches(dx, expected_dx, dtype)
        # ... and the compiled row loops themselves, for both dtypes
        rows = np.ascontiguousarray(np.moveaxis(x, axis, -1)).reshape(-1, shape[axis])
        out = np.empty_like(rows)
        loops.softmax_rows(rows, out)
        assert_matches(np.moveaxis(out.reshape(np.moveaxis(x, axis, -1).shape), -1, axis), y, dtype)
        g_rows = np.ascontiguousarray(np.moveaxis(g, axis, -1)).reshape(rows.shape)
        y_rows = np.ascontiguousarray(np.moveaxis(y, axis, -1)).reshape(rows.shape)
        loops.softmax_grad_rows(g_rows, y_rows, out)
        assert_matches(np.moveaxis(out.reshape(np.moveaxis(x, axis, -1).shape), -1, axis), expected_dx, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("rows, classes", [(1, 1), (7, 5), (301, 10)])
def test_cross_entropy_kernels(dtype, label_smoothing, rows, classes):
    rng = np.random.default_rng(rows)
    targets = rng.integers(0, classes, rows)
    attrs = dict(label_smoothing=label_smoothing)
    for logits in layouts((rows, classes), dtype).values():
        losses = FORWARD_KERNELS["softmax_cross_entropy"].numba()(logits, targets, **attrs)
        assert_matches(losses, fused_ops.cross_entropy_reference(logits, targets, **attrs), dtype)
        for g in (rng.standard_normal(rows).astype(dtype), np.broadcast_to(np.asarray(1.0 / rows, dtype), (rows,))):
            dlogits, dtargets = BACKWARD_KERNELS["softmax_cross_entropy"].numba()(
                g, (logits, targets), None, attrs, [True, None]
            )
            expected, _ = BACKWARD_KERNELS["softmax_cross_entropy"].numpy(
                g, (logits, targets), None, attrs, [True, None]
            )
            assert dtargets is None
            assert_matches(dlogits, expected, dtype)


def test_cross_entropy_is_finite_for_huge_logits(numba_backend):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]])
    losses = FORWARD_KERNELS["softmax_cross_entropy"].numba()(logits, np.array([0, 1]), label_smoothing=0.1)
    np.testing.assert_allclose(losses, [0.1 / 3 * (0 + 2e4 + 1e4), 0.9 * 2e4 + 0.1 / 3 * (2e4 + 2e4 + 0)])


# ---- layer norm and batch norm -----------------------------------------------------------------

NORM_CASES = [
    ("layer_norm", (3, 5), dict(normalized_shape=(5,), eps=1e-5), 2),
    ("layer_norm", (2, 3, 4), dict(normalized_shape=(3, 4), eps=1e-5), 2),
    ("layer_norm", (4, 6), dict(normalized_shape=(6,), eps=1e-3), 0),
    ("layer_norm", (1, 1), dict(normalized_shape=(1,), eps=1e-5), 1),
    ("layer_norm", (300, 129), dict(normalized_shape=(129,), eps=1e-5), 2),
    ("batch_norm", (6, 3), dict(eps=1e-5), 2),
    ("batch_norm", (4, 3, 5), dict(eps=1e-5), 2),
    ("batch_norm", (2, 1), dict(eps=1e-3), 1),
    ("batch_norm", (257, 65), dict(eps=1e-5), 0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, attrs, n_parameters", NORM_CASES)
def test_normalization_kernels(dtype, name, shape, attrs, n_parameters):
    rng = np.random.default_rng(0)
    parameter_shape = attrs.get("normalized_shape", shape[1:2])
    parameters = tuple(rng.uniform(0.5, 2.0, parameter_shape).astype(dtype) for _ in range(n_parameters))
    for x, g in zip(layouts(shape, dtype).values(), layouts(shape, dtype, seed=3).values()):
        assert_matches(
            FORWARD_KERNELS[name].numba()(x, *parameters, **attrs),
            FORWARD_KERNELS[name].numpy(x, *parameters, **attrs),
            dtype,
        )
        needs = [True] * (1 + n_parameters)
        grads = BACKWARD_KERNELS[name].numba()(g, (x,) + parameters, None, attrs, needs)
        expected = BACKWARD_KERNELS[name].numpy(g, (x,) + parameters, None, attrs, needs)
        for ours, reference, like in zip(grads, expected, (x,) + parameters):
            reference = (
                reference
                if reference.shape == like.shape
                else np.sum(reference, axis=tuple(range(reference.ndim - like.ndim)))
            )  # the engine's unbroadcast
            assert ours.dtype == np.dtype(dtype)
            assert_matches(ours, reference, dtype)


# ---- the fused linear layer ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", fused_ops.LINEAR_ACTIVATIONS)
@pytest.mark.parametrize("x_shape, with_bias", [((3, 4), True), ((2, 3, 4), True), ((4,), False), ((5, 4), False)])
def test_linear_kernels(dtype, activation, x_shape, with_bias):
    rng = np.random.default_rng(0)
    weights = {
        "contiguous": rng.standard_normal((6, 4)).astype(dtype),
        "transposed": np.ascontiguousarray(rng.standard_normal((4, 6)).astype(dtype)).T,
    }
    bias = (rng.standard_normal(6).astype(dtype),) if with_bias else ()
    attrs = dict(activation=activation)
    for x, weight in zip(layouts(x_shape, dtype, scale=1.0).values(), list(weights.values()) * 2):
        inputs = (x, weight) + bias
        y = fused_ops.linear_reference(*inputs, **attrs)
        assert_matches(FORWARD_KERNELS["linear"].numba()(*inputs, **attrs), y, dtype)
        g = rng.standard_normal(y.shape).astype(dtype)
        needs = [True] * len(inputs)
        grads = BACKWARD_KERNELS["linear"].numba()(g, inputs, y, attrs, needs)
        expected = BACKWARD_KERNELS["linear"].numpy(g, inputs, y, attrs, needs)
        for ours, reference, like in zip(grads, expected, inputs):
            reference = (
                reference
                if reference.shape == like.shape
                else np.sum(reference, axis=tuple(range(reference.ndim - like.ndim)))
            )
            assert_matches(ours, reference, dtype)


def test_linear_backward_skips_unneeded_gradients():
    x, w, b = np.ones((2, 3)), np.ones((4, 3)), np.ones(4)
    y = fused_ops.linear_reference(x, w, b, activation="relu")
    dx, dw, db = BACKWARD_KERNELS["linear"].numba()(
        np.ones_like(y), (x, w, b), y, dict(activation="relu"), [None, True, None]
    )
    assert dx is None and db is None and dw.shape == (4, 3)


# ---- scatter-add: integer-array indexing backward ------------------------------------------------

SCATTER_CASES = {
    "repeated rows": ((np.array([0, 2, 0, 0]),), (4, 3)),
    "rows and columns": ((np.array([0, 1, 1, 3]), np.array([2, 0, 0, 1])), (4, 3)),
    "negative": ((np.array([-1, 0, -1]),), (5,)),
    "int and array": ((1, np.array([2, 2, 0])), (3, 4, 2)),
    "index matrix": ((np.array([[1, 1], [0, 2]]),), (3, 2)),
    "empty": ((np.array([], dtype=np.int64),), (3, 2)),
    "slice (reference)": ((slice(1, 3),), (4, 3)),
    "mask (reference)": ((np.array([True, False, True, True]),), (4,)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index, shape", SCATTER_CASES.values(), ids=SCATTER_CASES.keys())
def test_scatter_add_matches_reference(dtype, index, shape):
    g_shape = np.zeros(shape)[index].shape
    g = np.random.default_rng(0).standard_normal(g_shape).astype(dtype)
    out = FORWARD_KERNELS["scatter_add"].numba()(g, index, shape)
    assert out.dtype == np.dtype(dtype)
    assert_matches(out, FORWARD_KERNELS["scatter_add"].numpy(g, index, shape), dtype)


def test_scatter_add_accumulates_large_repeated_index():
    rows = np.random.default_rng(0).integers(0, 50, 100_000)
    g = np.ones((rows.size, 8))
    out = FORWARD_KERNELS["scatter_add"].numba()(g, (rows,), (50, 8))
    np.testing.assert_array_equal(out[:, 0], np.bincount(rows, minlength=50))


def test_scatter_add_rejects_out_of_range_index():
    with pytest.raises(ValueError):
        FORWARD_KERNELS["scatter_add"].numba()(np.ones(2), (np.array([0, 5]),), (3,))


# ---- the registry ops under the numba backend --------------------------------------------------

ACCELERATED = sorted(set(FORWARD_KERNELS) | set(BACKWARD_KERNELS) | {"getitem"})  # getitem's VJP is scatter_add
CASES = [
    pytest.param(REGISTRY[name], i, sample, id=f"{name}-{i}")
    for name in ACCELERATED
    for i, sample in enumerate(REGISTRY[name].samples)
]


def _run(op, sample):
    return lambda *xs: apply(op, *xs, **sample.attrs)


@pytest.mark.parametrize("op, i, sample", CASES)
def test_gradcheck_under_numba(numba_backend, op, i, sample):
    assert ag.gradcheck(_run(op, sample), registry_inputs(op, sample, seed=i))


@pytest.mark.parametrize("op, i, sample", [c for c in CASES if c.values[0].twice_differentiable])
def test_gradgradcheck_under_numba(numba_backend, op, i, sample):
    assert ag.gradgradcheck(_run(op, sample), registry_inputs(op, sample, seed=i))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op, i, sample", CASES)
def test_backends_agree(op, i, sample, dtype):
    """Values and gradients of every accelerated registry sample, numba backend against numpy."""
    results = {}
    previous = backend.get()
    try:
        for name in ("numpy", "numba"):
            backend.set(name)
            inputs = registry_inputs(op, sample, seed=i, dtype=dtype)
            out = apply(op, *inputs, **sample.attrs)
            out.backward(np.random.default_rng(7).standard_normal(out.shape).astype(out.dtype))
            results[name] = [np.asarray(out)] + [np.asarray(x.grad) for x in inputs if isinstance(x, ag.Tensor)]
    finally:
        backend.set(previous)
    for ours, reference in zip(results["numba"], results["numpy"]):
        assert_matches(ours, reference, dtype)


def test_backend_switch_binds_every_kernel():
    previous = backend.get()
    try:
        backend.set("numpy")
        for name, kernel in FORWARD_KERNELS.items():
            assert REGISTRY[name].forward is kernel.numpy
            assert getattr(ARRAY_F, name) is kernel.numpy
        assert all(REGISTRY[name].fast_backward is None for name in BACKWARD_KERNELS)
        backend.set("numba")
        for name, kernel in FORWARD_KERNELS.items():
            assert REGISTRY[name].forward is kernel and getattr(ARRAY_F, name) is kernel
        assert all(REGISTRY[name].fast_backward is kernel for name, kernel in BACKWARD_KERNELS.items())
    finally:
        backend.set(previous)


def test_float32_exp_bound_kernels_hand_over_to_numpy():
    """Where the policy says float64 only, a float32 call returns exactly the numpy reference."""
    x = np.linspace(-3, 3, 11, dtype=np.float32)
    for name in elementwise.ACTIVATION_KINDS:
        rule = backend.POLICY.get(f"{name}_forward")
        if rule is not None and rule.dtypes == backend.FLOAT64_ONLY:
            np.testing.assert_array_equal(FORWARD_KERNELS[name].numba()(x), FORWARD_KERNELS[name].numpy(x))


def test_import_does_not_load_numba():
    code = "import sys, autograd_core, autograd_core.fused_ops; assert 'numba' not in sys.modules, 'numba was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_norm_layouts_round_trip():
    x = np.arange(24.0).reshape(2, 3, 4)
    for name, attrs in (("layer_norm", dict(normalized_shape=(3, 4))), ("batch_norm", {})):
        matrix = norm._matrix(name, x, attrs)
        assert matrix.flags.c_contiguous and matrix.ndim == 2
        np.testing.assert_array_equal(norm._from_matrix(name, matrix, x.shape), x)


# ---- the full sum (kernels/reduce.py) -----------------------------------------------------------

SUM_SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 1001), (0, 4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SUM_SHAPES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_full_reduction_is_the_rounded_float64_value(name, dtype, shape, keepdims):
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    kernel = FORWARD_KERNELS[name]
    for axis in (None, tuple(range(x.ndim))):
        with backend.trace() as trace, np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy's mean of an empty array
            out = kernel(x, axis=axis, keepdims=keepdims)
            expected = getattr(np, name)(x.astype(np.float64), keepdims=keepdims).astype(dtype)
            reference = getattr(np, name)(x, axis=axis, keepdims=keepdims)
        compiled = name == "sum" or x.size > 0  # the mean of nothing is numpy's nan, with its warning
        assert trace.implementations(f"{name}_forward") == {backend.NUMBA if compiled else backend.NUMPY}
        assert np.asarray(out).dtype == np.dtype(dtype) and np.shape(out) == expected.shape
        np.testing.assert_allclose(out, expected, rtol=1e-15 if dtype == np.float64 else 0, atol=0)
        assert_matches(out, reference, dtype)


def test_full_sum_beats_float32_pairwise_summation():
    # 2^24 + many ones: float32 accumulation loses the ones, float64 keeps them until the final rounding
    x = np.concatenate([np.float32([2**24]), np.ones(4096, np.float32), np.float32([-(2**24)])])
    assert FORWARD_KERNELS["sum"](x, axis=None, keepdims=False) == np.float32(4096)


def test_full_sum_threads_agree_and_propagate_nan_and_inf():
    from autograd_core.kernels import reduce

    x = np.random.default_rng(4).standard_normal(1 << 18).astype(np.float32)
    serial, threaded = reduce.sum_all(x, backend.NUMBA), reduce.full_reduction("sum", True)(x)
    np.testing.assert_allclose(threaded, serial, rtol=1e-7)
    np.testing.assert_allclose(serial, x.astype(np.float64).sum(), rtol=1e-7)
    for special, expected in ((np.nan, np.nan), (np.inf, np.inf)):
        y = x.copy()
        y[12345] = special
        np.testing.assert_array_equal(reduce.full_reduction("sum", True)(y), np.float32(expected))
        np.testing.assert_array_equal(reduce.sum_all(y, backend.NUMBA), np.float32(expected))


@pytest.mark.parametrize(
    "x, axis, why",
    [
        (np.ones((3, 4), np.float32), (1,), "a reduction over some axes only"),
        (np.ones((4, 3), np.float32).T, None, "contiguous"),
        (np.ones((3, 4), np.int64), None, "int64"),
    ],
    ids=["partial", "strided", "int"],
)
def test_full_sum_hands_over_to_numpy(x, axis, why):
    with backend.trace() as trace:
        out = FORWARD_KERNELS["sum"](x, axis=axis, keepdims=False)
    np.testing.assert_array_equal(out, np.sum(x, axis=axis))
    assert trace.implementations("sum_forward") == {backend.NUMPY}
    assert why in trace.calls[0].reason
