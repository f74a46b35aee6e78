"""The code `ag.compile` generates: the float32 exp, tanh and sigmoid of `vector_math` against float64
numpy (special values included), fused loops and threaded sums against eager under the numpy backend,
and the 512-bit vector request following `backend.wide_vectors()`."""

import io

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import backend
from autograd_core.compiler import fusion

numba = pytest.importorskip("numba")
from autograd_core.compiler.vector_math import exp32, sigmoid32, tanh32  # noqa: E402 (needs numba)

SPECIAL = np.float32(
    [0.0, -0.0, 1e-30, -1e-30, 1e-45, 0.624, 0.626, -0.625, 8.99, 9.01, -9.5, 20.0, -20.0]
    + [87.0, 88.72, 88.73, 89.0, -87.3, -87.4, -103.0, -104.0, -110.0, np.inf, -np.inf, np.nan]
)


# Cephes' exp (and the sigmoid on it) are within float32 rounding; the rational tanh of Eigen and XLA
# within 4e-7 (measured over 1e6 uniform values in [-12, 12]: 3.85e-7 at -6.009)
RELATIVE_ERROR = {"exp": 3e-7, "sigmoid": 3e-7, "tanh": 5e-7}


@numba.njit(error_model="numpy")
def _vector_math(x, exp, tanh, sigmoid):
    for i in range(x.size):
        exp[i] = exp32(x[i])
        tanh[i] = tanh32(x[i])
        sigmoid[i] = sigmoid32(x[i])


def test_float32_exp_tanh_sigmoid_match_float64_numpy():
    x = np.concatenate([np.random.default_rng(0).uniform(-100, 100, 100_000).astype(np.float32), SPECIAL])
    outs = [np.empty_like(x) for _ in range(3)]
    _vector_math(x, *outs)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        expected = [np.exp(x64), np.tanh(x64), 1 / (1 + np.exp(-x64))]
        expected = [e.astype(np.float32) for e in expected]  # overflow to inf, underflow to 0, as float32 does
    for name, out, reference in zip(("exp", "tanh", "sigmoid"), outs, expected):
        normal = np.abs(reference) >= np.finfo(np.float32).tiny
        np.testing.assert_allclose(out[normal], reference[normal], rtol=RELATIVE_ERROR[name], err_msg=name)
        np.testing.assert_allclose(out[~normal], reference[~normal], atol=2e-38, err_msg=name)  # subnormals
        np.testing.assert_array_equal(np.isnan(out), np.isnan(x), err_msg=name)


def _elementwise(x):
    y = (x.sigmoid() * x.tanh() + x.relu() - (x * 0.5).exp() / (1 + x * x)).sum()
    y.backward()
    return y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1000, fusion.PARALLEL_MIN_SIZE + 3], ids=["serial", "threads"])
def test_fused_loops_and_threaded_sums_match_the_numpy_backend(dtype, size):
    values = np.random.default_rng(1).uniform(-5, 5, size).astype(dtype)
    results = {}
    for name in ("numpy", "numba"):
        previous = backend.get()
        backend.set(name)
        try:
            step = ag.compile(_elementwise, fullgraph=True) if name == "numba" else _elementwise
            for _ in range(3):  # the trace, then two replays
                x = ag.tensor(values, requires_grad=True)
                loss = step(x)
            results[name] = (loss.detach().numpy(), x.grad.numpy())
        finally:
            backend.set(previous)
    text = step.explain(file=io.StringIO())
    assert "fused loop" in text
    assert ("sum_on_threads" in text) == (size >= fusion.PARALLEL_MIN_SIZE)
    tolerance = dict(rtol=2e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    for compiled, reference in zip(results["numba"], results["numpy"]):
        assert compiled.dtype == reference.dtype
        np.testing.assert_allclose(compiled, reference, **tolerance)


def test_a_program_with_blas_sums_on_one_thread():
    w = ag.randn(8, 8, requires_grad=True)

    def fn(x):
        loss = (x @ w).tanh().sum()
        loss.backward()
        return loss

    step = ag.compile(fn, fullgraph=True)
    for _ in range(2):
        step(ag.randn(fusion.PARALLEL_MIN_SIZE // 8, 8))
    assert "sum_on_threads" not in step.explain(file=io.StringIO())


def test_fused_loops_ask_for_wide_vectors_where_the_cpu_has_them():
    calls = []
    original = fusion.compile_kernel

    def recording(source, constants, parallel):
        calls.append(source)
        return original(source, constants, parallel)

    fusion.compile_kernel = recording
    try:
        step = ag.compile(lambda x: (x.exp() * 2 + 1).sum(), fullgraph=True)
        step(ag.randn(100))
    finally:
        fusion.compile_kernel = original
    [source] = calls
    assert ("prefer_wide_vectors()" in source) == backend.wide_vectors()


def _kept_buffers(step):
    instructions = [i for trace in step.traces for i in trace.program.instructions]
    return [buffer for i in instructions for buffer in getattr(i, "kept", {}).values()]


def test_values_only_the_program_reads_reuse_their_buffers():
    step = ag.compile(_elementwise, fullgraph=True)
    x = ag.randn(1000, requires_grad=True)
    first = step(x).detach().numpy().copy(), x.grad.numpy().copy()
    kept = _kept_buffers(step)
    # the forward loop's outputs (the sum's operand, the exp, sigmoid and tanh the backward reads), never
    # the gradient the backward loop writes, which becomes x.grad
    [forward, backward] = [i for i in step.traces[0].program.instructions if type(i).__name__ == "FusedCall"]
    assert forward.kept.keys() == {v for v, _ in forward.sinks} and not backward.kept
    assert not any(np.shares_memory(x.grad.numpy(), buffer) for buffer in kept)
    assert "into kept buffers" in step.explain(file=io.StringIO())
    replays = []
    for _ in range(3):
        x.grad = None
        replays.append((step(x).numpy().copy(), x.grad.numpy().copy()))
    assert all(any(b is buffer for buffer in _kept_buffers(step)) for b in kept)  # the same buffers, reused
    for loss, grad in replays:  # the replays agree to the bit, and with eager (the trace) to float32 rounding
        np.testing.assert_array_equal(loss, replays[0][0])
        np.testing.assert_array_equal(grad, replays[0][1])
        np.testing.assert_allclose(loss, first[0], rtol=1e-5)
        np.testing.assert_allclose(grad, first[1], rtol=1e-5, atol=1e-6)


def test_what_leaves_the_program_is_fresh_every_call():
    def fn(x):
        y = x.exp() * 2 + 1  # returned, and viewed by a reshape that is returned too
        return y, y.reshape(10, 100), (y * y).sum()

    step = ag.compile(fn, fullgraph=True)
    inputs = [ag.randn(1000) for _ in range(4)]
    results = [step(x) for x in inputs]
    for x, (y, view, total) in zip(inputs, results):  # earlier results are not overwritten by later calls
        expected = fn(x)
        for ours, theirs in zip((y, view, total), expected):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert not any(np.shares_memory(results[0][0].numpy(), r[0].numpy()) for r in results[1:])


def test_calls_from_several_threads_at_once_give_each_its_own_result():
    import threading

    step = ag.compile(lambda x: (x.sigmoid() * x.tanh()).sum(), fullgraph=True)
    inputs = [ag.randn(50_000) for _ in range(8)]
    step(inputs[0])
    assert _kept_buffers(step)
    results = [None] * len(inputs)

    def call(k):
        for _ in range(20):
            results[k] = step(inputs[k]).item()

    threads = [threading.Thread(target=call, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, result in zip(inputs, results):
        assert result == pytest.approx((x.sigmoid() * x.tanh()).sum().item(), rel=1e-5)


@pytest.mark.parametrize("setting, expected", [("0", False), ("1", True)])
def test_wide_vectors_follow_the_environment_variable(monkeypatch, setting, expected):
    monkeypatch.setenv(backend.WIDE_VECTORS_ENV_VAR, setting)
    backend.wide_vectors.cache_clear()
    try:
        assert backend.wide_vectors() is expected
        monkeypatch.setenv(backend.WIDE_VECTORS_ENV_VAR, "yes")
        backend.wide_vectors.cache_clear()
        with pytest.raises(ValueError, match="AUTOGRAD_CORE_WIDE_VECTORS='yes': expected 0 or 1"):
            backend.wide_vectors()
    finally:
        monkeypatch.delenv(backend.WIDE_VECTORS_ENV_VAR)
        backend.wide_vectors.cache_clear()


@pytest.mark.parametrize("wide", [False, True])
def test_hand_written_kernels_ask_for_wide_vectors_through_jit(monkeypatch, wide):
    """`backend.jit(wide=True)` compiles a kernel's `prefer_wide_vectors()` calls to the request where
    `backend.wide_vectors()` says so, else to nothing, as a variant of its own name (its own cache entry)."""
    from autograd_core.kernels import conv as conv_kernels

    monkeypatch.setattr(backend, "wide_vectors", lambda: wide)
    loop = backend.jit(conv_kernels._tap_products, constants={"KERNEL_HEIGHT": 1, "KERNEL_WIDTH": 2}, wide=True)
    assert loop.py_func.__name__.endswith("_wide") is wide
    g = np.arange(6.0).reshape(1, 1, 2, 3)
    src = np.arange(10.0).reshape(1, 10)  # one input channel, planes of 2 x 4 (3 columns + 1) per sample
    dw = np.empty((1, 1, 2))
    loop(g, src, 1, 4, 8, 0.0, np.zeros(8), dw)
    windows = [sum(g[0, 0, r, c] * src[0, r * 4 + c + b] for r in range(2) for c in range(3)) for b in range(2)]
    np.testing.assert_allclose(dw[0, 0], windows)
