import importlib.util
import os

import pytest

import autograd_core as ag
from autograd_core import backend


@pytest.fixture(autouse=True)
def _isolate_global_state():
    """Every test starts with the default dtype, grad mode on and a fixed seed."""
    dtype = ag.get_default_dtype()
    ag.manual_seed(0)
    yield
    ag.set_default_dtype(dtype)
    assert ag.is_grad_enabled(), "a test left grad mode disabled"


@pytest.fixture
def numba_backend():
    """The numba backend for one test (the previous one afterwards); test modules that want it for every
    test define an autouse fixture of this name."""
    pytest.importorskip("numba")
    previous = backend.get()
    backend.set("numba")
    yield
    backend.set(previous)


# ---- AUTOGRAD_CORE_HIDE_TORCH=1: run the suite as if PyTorch were not installed ---------------------------


def _hide_torch_in_this_process_and_its_children():
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "without_torch")
    spec = importlib.util.spec_from_file_location("_without_torch", os.path.join(folder, "sitecustomize.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # hides torch here, since the variable is set
    if folder not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))


if os.environ.get("AUTOGRAD_CORE_HIDE_TORCH") == "1":
    _hide_torch_in_this_process_and_its_children()
