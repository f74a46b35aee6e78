"""autograd-core through its public API (`ag`, `nn`, `optim`), with the same user code as torch.

Two rows: autograd-core under the backend it picks by itself (AUTOGRAD_CORE_BACKEND, else numba
when importable) and under the numpy reference backend.
"""

from autograd_core.benchmarks.engines import Engine, pytorch_style
from autograd_core.benchmarks.engines.common import installed_version

_default_backend = None
"""Captured on first load, before the numpy row switches the backend."""


def load_under(backend_name):
    """An `Engine.load` for autograd-core under `backend_name` (None: the backend it picks by itself)."""

    def load():
        global _default_backend
        version = installed_version("autograd_core")
        import autograd_core as ag

        if _default_backend is None:
            _default_backend = ag.backend.get()
        return f"{version} (backend: {backend_name or _default_backend})"

    return load


def activate_under(backend_name):
    """An `Engine.activate` that switches autograd-core to `backend_name` (None: the one it picked)."""

    def activate():
        import autograd_core as ag

        ag.backend.set(backend_name or _default_backend)

    return activate


def autograd_core_api():
    """(ag, nn, F, optim), the `import_api` of the PyTorch-style workloads."""
    import autograd_core as ag
    import nn
    import nn.functional as F
    import optim

    return ag, nn, F, optim


_WORKLOADS = pytorch_style.workloads(autograd_core_api)

ENGINES = [
    Engine(
        key="autograd_core",
        label="autograd-core",
        load=load_under(None),
        activate=activate_under(None),
        workloads=_WORKLOADS,
    ),
    Engine(
        key="autograd_core_numpy",
        label="autograd-core [numpy]",
        load=load_under("numpy"),
        activate=activate_under("numpy"),
        workloads=_WORKLOADS,
    ),
]
