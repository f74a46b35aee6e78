import pytest

import autograd_core as ag


@pytest.fixture(autouse=True)
def _isolate_global_state():
    """Every test starts with the default dtype, grad mode on and a fixed seed."""
    dtype = ag.get_default_dtype()
    ag.manual_seed(0)
    yield
    ag.set_default_dtype(dtype)
    assert ag.is_grad_enabled(), "a test left grad mode disabled"
