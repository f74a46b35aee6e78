"""The kernel policy: one predicate (`backend.choose`) decides, `backend.trace()` says what ran and why,
`backend.explain()` prints the table; Numba's disk cache stays out of the source tree."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import backend

pytest.importorskip("numba")

PACKAGE = Path(ag.__file__).parent


@pytest.fixture(autouse=True)
def numba_backend():
    """The numba backend unless a test asks for another (`each_backend`); the previous one afterwards."""
    previous = backend.get()
    backend.set("numba")
    yield
    backend.set(previous)


@pytest.fixture(params=["numba", "numpy"])
def each_backend(request, numba_backend):
    previous = backend.get()
    backend.set(request.param)
    yield request.param
    backend.set(previous)


def readme_training_step(fused=None):
    """One step of the README's digits model: MLP 64-128-10 with dropout, cross-entropy, Adam; float32."""
    ag.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 16, size=(32, 64)).astype(np.float32)
    labels = rng.integers(0, 10, size=32)
    model = nn.MLP([64, 128, 10], activation="relu", dropout=0.2)
    optimizer = optim.Adam(model.parameters(), lr=3e-3, fused=fused)
    with backend.trace() as t:
        loss = nn.CrossEntropyLoss()(model(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return t, loss.item()


def test_readme_step_runs_the_fused_kernels_under_numba(each_backend):
    t, loss = readme_training_step(fused=True if each_backend == "numba" else None)
    fused_kernels = (
        "linear_forward",
        "linear_backward",
        "softmax_cross_entropy_forward",
        "softmax_cross_entropy_backward",
        "adam_update",
    )
    if each_backend == "numba":
        for kernel in fused_kernels:
            assert t.implementations(kernel) == {backend.NUMBA}, (kernel, str(t))
        assert ("linear_forward", "numba", "float32") in t.calls
    else:  # the numpy references and the optimizer's per-tensor update
        for kernel in fused_kernels:
            assert t.implementations(kernel) == {backend.NUMPY}, (kernel, str(t))
        assert {c.reason for c in t.calls} == {"numpy backend"}
    assert np.isfinite(loss)


def test_readme_step_with_the_default_policy_fuses_adam():
    """fused=None: the README model's four tensors average 2402 elements, above the fused minimum."""
    assert backend.FUSED_MIN_MEAN_SIZE["adam_update"] <= 2402
    t, _ = readme_training_step()
    assert ("adam_update", "numba", "float32") in t.calls
    assert "adam_update" in str(t)


def test_trace_prints_one_row_per_choice():
    x = ag.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=np.float32, requires_grad=True)
    with backend.trace() as t:
        ag.relu(x).sum().backward()
        ag.relu(x.T)  # a non-contiguous forward is fine for the elementwise loops
        ag.sigmoid(x)  # float32 sigmoid: exp-bound, numpy wins
    table = str(t).splitlines()
    assert table[0].split() == ["kernel", "ran", "why", "calls"]
    assert any(row.split()[:3] == ["relu_forward", "numba", "float32"] and row.split()[-1] == "2" for row in table)
    # sum's gradient is a broadcast (stride 0): the backward loop asks for contiguous inputs
    assert ("relu_backward", "numpy", "a non-contiguous input (numpy handles strides and broadcasts well)") in t.calls
    assert (
        "sigmoid_forward",
        "numpy",
        "float32 inputs are not in the table (compiled for float64; " + backend.EXP_BOUND + ")",
    ) in t.calls


def test_choose_threads_from_the_policy_size():
    rule = backend.POLICY["relu_forward"]
    big = np.empty(rule.threads_from, np.float32)
    assert backend.choose("relu_forward", (big,), big.size) == backend.NUMBA_PARALLEL
    assert backend.choose("relu_forward", (big[:10],), 10) == backend.NUMBA
    assert backend.choose("relu_forward", (big[:10].astype(np.int64),), 10) == backend.NUMPY


def test_tracing_off_leaves_the_numpy_backend_bound_to_the_references():
    from autograd_core.kernels import FORWARD_KERNELS
    from autograd_core.ops import REGISTRY

    previous = backend.get()
    try:
        backend.set("numpy")
        with backend.trace():
            assert REGISTRY["linear"].forward is FORWARD_KERNELS["linear"]
        assert REGISTRY["linear"].forward is FORWARD_KERNELS["linear"].numpy
        assert REGISTRY["linear"].fast_backward is None
        assert not backend.is_tracing()
    finally:
        backend.set(previous)


def test_explain_lists_every_rule():
    text = backend.explain()
    assert text.splitlines()[0] == f"backend: {backend.get()}"
    for name in backend.POLICY:
        assert any(line.split()[0] == name for line in text.splitlines()[2:])
    assert "adam_update" in text and str(backend.FUSED_MIN_MEAN_SIZE["sgd_update"]) in text


def test_numba_cache_goes_to_the_user_cache_directory(tmp_path):
    """A kernel compiled in a fresh process writes its cache under XDG_CACHE_HOME/autograd-core, never
    beside the package's sources."""
    before = set(PACKAGE.rglob("*.nb[ic]"))
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        AUTOGRAD_CORE_BACKEND="numba",
        PYTHONPATH=str(PACKAGE.parent),
    )
    code = (
        "import autograd_core as ag, numpy as np\n"
        "ag.relu(ag.tensor(np.arange(5.0) - 2, requires_grad=True)).sum().backward()\n"
        "import numba; print(numba.config.CACHE_DIR)"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    cache = tmp_path / "cache" / "autograd-core"
    assert result.stdout.strip() == str(cache)
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))
    assert set(PACKAGE.rglob("*.nb[ic]")) == before  # none new (older versions wrote them there)


def test_numba_cache_dir_set_by_the_user_wins(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "mine"), PYTHONPATH=str(PACKAGE.parent))
    code = "from autograd_core import backend; print(backend.numba_module().config.CACHE_DIR)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(tmp_path / "mine")
